package bridge

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStageOf(t *testing.T) {
	sts, err := newStages(map[string]Stage{
		"test":    {Path: "/test", Variables: map[string]string{"tenant": "t1"}},
		"testing": {Path: "/test/ing"},
		"prod":    {Path: "/prod", Limits: StageLimits{MaxSubscriptions: 2}},
	}, Limits{MessageRate: 5, MaxSubscriptions: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{stages: sts}
	for _, tc := range []struct {
		path, stage, rest string
	}{
		{"/test/ws", "test", "/ws"},
		{"/test", "test", "/"},
		{"/test/", "test", "/"},
		{"/test/ing/mqtt", "testing", "/mqtt"},
		{"/testing/ws", "", "/testing/ws"},
		{"/prod/wamp", "prod", "/wamp"},
		{"/ws", "", "/ws"},
		{"/", "", "/"},
		{"/PROD/ws", "", "/PROD/ws"},
	} {
		r := httptest.NewRequest("GET", tc.path+"?v=1", nil)
		st, r2 := g.stageOf(r)
		name := ""
		if st != nil {
			name = st.name
		}
		if name != tc.stage || r2.URL.Path != tc.rest || r2.URL.RawQuery != "v=1" || r.URL.Path != tc.path {
			t.Errorf("%s: stage %q, path %q; want %q, %q (original now %q)", tc.path, name, r2.URL.Path, tc.stage, tc.rest, r.URL.Path)
		}
	}
	for _, st := range sts {
		want := map[string]Limits{"test": {MessageRate: 5, MaxSubscriptions: 10}, "testing": {MessageRate: 5, MaxSubscriptions: 10},
			"prod": {MessageRate: 5, MaxSubscriptions: 2}}[st.name]
		if st.limits != want {
			t.Errorf("stage %s limits %+v, want %+v", st.name, st.limits, want)
		}
	}
	if st, _ := (&Gateway{}).stageOf(httptest.NewRequest("GET", "/test/ws", nil)); st != nil {
		t.Error("a gateway without stages found one")
	}
}

func TestStageOfHost(t *testing.T) {
	sts, err := newStages(map[string]Stage{
		"test":    {Host: "test.api.example"},
		"prod":    {Path: "/prod"},
		"prodeu":  {Path: "/prod", Host: "eu.api.example"},
		"testing": {Host: "test.api.example", Path: "/ing"},
	}, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{stages: sts}
	for _, tc := range []struct {
		host, path, stage, rest string
	}{
		{"test.api.example", "/ws", "test", "/ws"},
		{"TEST.api.example:8443", "/mqtt", "test", "/mqtt"},
		{"test.api.example", "/ing/ws", "testing", "/ws"},
		{"eu.api.example", "/prod/ws", "prodeu", "/ws"},
		{"us.api.example", "/prod/ws", "prod", "/ws"},
		{"us.api.example", "/ws", "", "/ws"},
		{"test.api.example.evil", "/ws", "", "/ws"},
		{"test.api.example", "/prod/ws", "test", "/prod/ws"}, // its host's stage before any host's
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Host = tc.host
		st, r2 := g.stageOf(r)
		name := ""
		if st != nil {
			name = st.name
		}
		if name != tc.stage || r2.URL.Path != tc.rest {
			t.Errorf("%s%s: stage %q, path %q; want %q, %q", tc.host, tc.path, name, r2.URL.Path, tc.stage, tc.rest)
		}
	}
	if got := g.stageList(); got != "/prod, eu.api.example/prod, test.api.example/, test.api.example/ing" {
		t.Errorf("stageList = %q", got)
	}
	if err := ValidateStages(map[string]Stage{"a": {Host: "h"}, "b": {Host: "H"}, "c": {Host: "h/x"}}); err == nil ||
		!strings.Contains(err.Error(), `stages.b.host: "H" is stage a's too`) || !strings.Contains(err.Error(), `stages.c.host: "h/x" is not a host name`) {
		t.Errorf("ValidateStages = %v", err)
	}
}

func TestValidateStages(t *testing.T) {
	err := ValidateStages(map[string]Stage{
		"a": {}, "b": {Path: "b"}, "c": {Path: "/c/"}, "d": {Path: "/"}, "e": {Path: "/x"}, "f": {Path: "/x"},
		"g": {Path: "/g", Variables: map[string]string{"a-b": "1"}}, "h": {Path: "/h", Limits: StageLimits{MessageRate: -1}},
		"i j": {Path: "/ij"}, "k": {Path: "/a b"},
	})
	for _, want := range []string{"stages.a.path: required", `stages.b.path: "b"`, `stages.c.path: "/c/"`, `stages.d.path: "/"`,
		`stages.f.path: "/x" is stage e's too`, "stages.g.variables.a-b:", "stages.h.limits:", "stages.i j: a stage name is one word", `stages.k.path: "/a b"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateStages = %v, want %q", err, want)
		}
	}
	if err := ValidateStages(map[string]Stage{"test": {Path: "/test", Variables: map[string]string{"tenant": "t"}}}); err != nil {
		t.Error(err)
	}
}
