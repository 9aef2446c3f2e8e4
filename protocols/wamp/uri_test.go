package wamp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTopicPatterns(t *testing.T) {
	long := strings.Repeat("a.", 600) + "a"
	for _, tc := range []struct {
		prefix, uri, match string
		want               []string
		err                error
	}{
		{"", "com.myapp.chat", "", []string{"com.myapp.chat"}, nil},
		{"", "com.myapp.chat", "exact", []string{"com.myapp.chat"}, nil},
		{"acme", "com.myapp.chat", "", []string{"acme.com.myapp.chat"}, nil},
		{"", "a.b", "prefix", []string{"a.b", "a.b.>"}, nil},
		{"t1", "a.b", "prefix", []string{"t1.a.b", "t1.a.b.>"}, nil},
		{"", "a..c", "wildcard", []string{"a.*.c"}, nil},
		{"", ".b.", "wildcard", []string{"*.b.*"}, nil},
		{"", "..", "wildcard", []string{"*.*.*"}, nil},
		{"p", "a..c", "wildcard", []string{"p.a.*.c"}, nil},
		{"", "a.b", "wildcard", []string{"a.b"}, nil},
		{"", "héllo.wörld", "", []string{"héllo.wörld"}, nil},
		{"", "a-b_c.D:1", "", []string{"a-b_c.D:1"}, nil},

		// Hostile values: never widened, never cleaned up.
		{"", "", "", nil, errInvalidURI},
		{"", ".", "", nil, errInvalidURI},
		{"", "a..c", "", nil, errInvalidURI},
		{"", "a.", "prefix", nil, errInvalidURI},
		{"", "a.*", "", nil, errInvalidURI},
		{"", "a.>", "", nil, errInvalidURI},
		{"", ">", "prefix", nil, errInvalidURI},
		{"", "a*b", "", nil, errInvalidURI},
		{"", "a.*.c", "wildcard", nil, errInvalidURI},
		{"", "a.>", "wildcard", nil, errInvalidURI},
		{"", "a b", "", nil, errInvalidURI},
		{"", "a\tb", "wildcard", nil, errInvalidURI},
		{"", "a\x00b", "", nil, errInvalidURI},
		{"", "a\nb", "", nil, errInvalidURI},
		{"", "a\xffb", "", nil, errInvalidURI},
		{"", "a#b", "", nil, errInvalidURI},
		{"", "a.#", "wildcard", nil, errInvalidURI},
		{"", "a\u2028b", "", nil, errInvalidURI},
		{"", long, "", nil, errInvalidURI},
		{"", "", "wildcard", nil, errInvalidURI},
		{"", "a.b", "regex", nil, errInvalidArgument},
	} {
		got, err := topicPatterns(tc.prefix, tc.uri, tc.match)
		if !errors.Is(err, tc.err) {
			t.Errorf("%q %q %q: error %v, want %v", tc.prefix, tc.uri, tc.match, err, tc.err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q %q %q: %q, want %q", tc.prefix, tc.uri, tc.match, got, tc.want)
		}
	}
}

func TestURISubjectRoundTrip(t *testing.T) {
	for _, prefix := range []string{"", "tenant1", "a.b"} {
		for _, uri := range []string{"com.myapp.chat", "x", "ü.ñ"} {
			s, err := uriSubject(prefix, uri)
			if err != nil {
				t.Fatal(err)
			}
			if back := subjectURI(prefix, s); back != uri {
				t.Errorf("%q %q: subject %q back to %q", prefix, uri, s, back)
			}
		}
	}
	// A prefix plus a URI past the subject length limit is refused.
	if _, err := uriSubject("p", strings.Repeat("x", 1023)); !errors.Is(err, errInvalidURI) {
		t.Errorf("long: %v", err)
	}
}

func FuzzURI(f *testing.F) {
	for _, s := range []string{"com.a.b", "a..c", ".", "a.>", "a*", "\x00", "a b", "é.ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		for _, match := range []string{"exact", "prefix", "wildcard"} {
			pats, err := topicPatterns("p", uri, match)
			if err != nil {
				continue
			}
			for _, p := range pats {
				// Every pattern stays under the prefix and, but for the
				// prefix policy's tail and the wildcard's empty
				// components, names the URI's own tokens.
				if !strings.HasPrefix(p, "p.") {
					t.Fatalf("%q %s: pattern %q outside the prefix", uri, match, p)
				}
				body := strings.TrimSuffix(strings.TrimPrefix(p, "p."), ".>")
				ut, pt := strings.Split(uri, "."), strings.Split(body, ".")
				if len(ut) != len(pt) {
					t.Fatalf("%q %s: pattern %q has %d tokens, URI %d", uri, match, p, len(pt), len(ut))
				}
				for i := range ut {
					if ut[i] != pt[i] && !(ut[i] == "" && pt[i] == "*" && match == "wildcard") {
						t.Fatalf("%q %s: token %d %q became %q", uri, match, i, ut[i], pt[i])
					}
				}
			}
		}
	})
}
