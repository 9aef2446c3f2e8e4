package jsonws

import (
	"testing"
)

func TestReload(t *testing.T) {
	p, err := New(Config{Routes: map[string]RouteConfig{"say": {Integration: kindPublish, Subject: "chat"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{p: p}
	if c.table()["say"] == nil {
		t.Fatal("no route say")
	}
	kept, err := p.Reload(Config{Routes: map[string]RouteConfig{"shout": {Integration: kindPublish, Subject: "chat"}}})
	if err != nil || kept {
		t.Fatalf("Reload: kept %v, %v", kept, err)
	}
	if c.table()["say"] != nil || c.table()["shout"] == nil {
		t.Error("an open connection does not see the new routes")
	}
	before := p.cur()
	if _, err := p.Reload(Config{Routes: map[string]RouteConfig{"bad": {Integration: "nope"}}}); err == nil {
		t.Error("a bad config was taken")
	}
	if p.cur() != before {
		t.Error("a refused reload changed the routes")
	}
	kept, err = p.Reload(Config{RouteSelectionExpression: "$request.body.kind"})
	if err != nil || !kept {
		t.Fatalf("Reload with another selection: kept %v, %v; want kept", kept, err)
	}
	if got := p.cur().cfg.RouteSelectionExpression; got != before.cfg.RouteSelectionExpression {
		t.Errorf("selection %q, want the old %q", got, before.cfg.RouteSelectionExpression)
	}
}
