package jsonws

import (
	"strings"
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

// TestReloadSchema: a reload compiles the new schemas and the routes
// check with them at once; a schema that does not compile refuses the
// reload and the old one stays.
func TestReloadSchema(t *testing.T) {
	route := func(schema string) Config {
		return Config{Routes: map[string]RouteConfig{"say": {Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, schema)}}}
	}
	p, err := New(route(`{type: object, required: [room]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{p: p}
	check := func(msg string) error {
		t.Helper()
		b, _ := parseBody([]byte(msg))
		_, err := c.table()["say"].schema.check(b)
		return err
	}
	if check(`{"room":"a"}`) != nil || check(`{"text":"a"}`) == nil {
		t.Fatal("the first schema does not hold")
	}
	if _, err := p.Reload(route(`{type: object, required: [text]}`)); err != nil {
		t.Fatal(err)
	}
	if check(`{"room":"a"}`) == nil || check(`{"text":"a"}`) != nil {
		t.Fatal("an open connection does not check with the reloaded schema")
	}
	if _, err := p.Reload(route(`{type: object, required: 5}`)); err == nil || !strings.Contains(err.Error(), "routes.say.schema: ") {
		t.Fatalf("Reload of a bad schema: %v", err)
	}
	if check(`{"text":"a"}`) != nil {
		t.Fatal("a refused reload changed the schema")
	}
	if _, err := p.Reload(Config{Routes: map[string]RouteConfig{"say": {Integration: kindPublish, Subject: "chat"}}}); err != nil {
		t.Fatal(err)
	}
	if c.table()["say"].schema != nil {
		t.Fatal("a reload without the schema kept it")
	}
}
