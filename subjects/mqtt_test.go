package subjects

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var mqttTopicCases = []struct {
	topic, subject string
	err            error // nil: maps
}{
	{"a", "a", nil},
	{"foo/bar", "foo.bar", nil},
	{"/foo/bar", "/.foo.bar", nil},
	{"foo/bar/", "foo.bar./", nil},
	{"foo//bar", "foo./.bar", nil},
	{"//foo", "/./.foo", nil},
	{"/", "/./", nil},
	{"//", "/././", nil},
	{"a.b", "a//b", nil},
	{".", "//", nil},
	{"a/.b./c", "a.//b//.c", nil},
	{"héllo/wörld", "héllo.wörld", nil},
	{"$SYS/x", "$SYS.x", nil},
	{"", "", ErrInvalidSubject},
	{"a/+", "", ErrMQTTWildcard},
	{"a/#", "", ErrMQTTWildcard},
	{"a+b", "", ErrMQTTWildcard},
	{"a b", "", ErrMQTTCharacter},
	{"a\tb", "", ErrMQTTCharacter},
	{"a\nb", "", ErrMQTTCharacter},
	{"a\rb", "", ErrMQTTCharacter},
	{"a\fb", "", ErrMQTTCharacter},
	{"a\x7fb", "", ErrMQTTCharacter},
	{"a\x00b", "", ErrMQTTCharacter},
	{"a*", "", ErrMQTTCharacter},
	{"*", "", ErrMQTTCharacter},
	{">", "", ErrMQTTCharacter},
	{"a\xffb", "", ErrInvalidSubject},
	{"a\u2028b", "", ErrInvalidSubject}, // Unicode line separator: ValidateSubject
	{strings.Repeat("a", MaxSubjectLen+1), "", ErrInvalidSubject},
	{strings.Repeat(".", MaxSubjectLen/2+1), "", ErrInvalidSubject}, // doubles
}

func TestMQTTTopicToSubject(t *testing.T) {
	for _, tc := range mqttTopicCases {
		t.Run(tc.topic, func(t *testing.T) {
			got, err := MQTTTopicToSubject(tc.topic)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalidSubject) {
					t.Fatalf("MQTTTopicToSubject(%q) = %q, %v; want error %v", tc.topic, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.subject {
				t.Fatalf("MQTTTopicToSubject(%q) = %q, %v; want %q", tc.topic, got, err, tc.subject)
			}
			if back := MQTTSubjectToTopic(got); back != tc.topic {
				t.Fatalf("MQTTSubjectToTopic(%q) = %q; want %q", got, back, tc.topic)
			}
		})
	}
}

func TestMQTTFilterToPatterns(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   []string
		err    error
	}{
		{"a/b", []string{"a.b"}, nil},
		{"+", []string{"*"}, nil},
		{"#", []string{">"}, nil},
		{"a/#", []string{"a.>", "a"}, nil},
		{"a/+/c", []string{"a.*.c"}, nil},
		{"+/+", []string{"*.*"}, nil},
		{"/#", []string{"/.>", "/"}, nil},
		{"a//#", []string{"a./.>", "a./"}, nil},
		{"a.b/#", []string{"a//b.>", "a//b"}, nil},
		{"a/#/b", nil, ErrMQTTWildcard},
		{"a#", nil, ErrMQTTWildcard},
		{"a/b+", nil, ErrMQTTWildcard},
		{"+a", nil, ErrMQTTWildcard},
		{"a b/#", nil, ErrMQTTCharacter},
		{"a/*", nil, ErrMQTTCharacter},
		{"", nil, ErrInvalidPattern},
		{"\xc3", nil, ErrInvalidPattern},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			got, err := MQTTFilterToPatterns(tc.filter)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalidPattern) {
					t.Fatalf("MQTTFilterToPatterns(%q) = %q, %v; want error %v", tc.filter, got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("MQTTFilterToPatterns(%q) = %q, %v; want %q", tc.filter, got, err, tc.want)
			}
		})
	}
}

// TestMQTTFilterMatches checks MQTT matching through the mapped patterns.
func TestMQTTFilterMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		match         bool
	}{
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a/", true}, // empty level
		{"+/b", "/b", true},
		{"a.b/+", "a.b/c", true},
		{"a/+", "a.b", false},
		{"#", "x/y", true},
	} {
		ps, err := MQTTFilterToPatterns(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		s, err := MQTTTopicToSubject(tc.topic)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(ps, func(p string) bool { return Match(p, s) })
		if got != tc.match {
			t.Errorf("filter %q (%q) topic %q (%q): match %v, want %v", tc.filter, ps, tc.topic, s, got, tc.match)
		}
	}
}

func TestMQTTSubjectToTopic(t *testing.T) {
	for subject, want := range map[string]string{
		"a.b":     "a/b",
		"a//b":    "a.b",
		"/.a":     "/a",
		"a./":     "a/",
		"a/b.c":   "a/b/c", // from a NATS publisher, as nats-server shows it
		"x":       "x",
		"/./././": "///",
	} {
		if got := MQTTSubjectToTopic(subject); got != want {
			t.Errorf("MQTTSubjectToTopic(%q) = %q, want %q", subject, got, want)
		}
	}
}

func FuzzMQTTTopic(f *testing.F) {
	for _, tc := range mqttTopicCases {
		f.Add(tc.topic)
	}
	f.Add("a/#")
	f.Add("+/x/#")
	f.Fuzz(func(t *testing.T, topic string) {
		s, err := MQTTTopicToSubject(topic)
		if err == nil {
			if ValidateSubject(s) != nil {
				t.Fatalf("%q mapped to invalid subject %q", topic, s)
			}
			if back := MQTTSubjectToTopic(s); back != topic {
				t.Fatalf("round trip %q → %q → %q", topic, s, back)
			}
		}
		ps, err := MQTTFilterToPatterns(topic)
		if err == nil {
			for _, p := range ps {
				if ValidatePattern(p) != nil {
					t.Fatalf("filter %q mapped to invalid pattern %q", topic, p)
				}
			}
			if s != "" && !slices.ContainsFunc(ps, func(p string) bool { return Match(p, s) }) {
				t.Fatalf("filter %q (%q) does not match itself as topic (%q)", topic, ps, s)
			}
		}
	})
}
