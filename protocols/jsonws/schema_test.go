package jsonws

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// yamlValue decodes src as the config loader would decode a schema: key.
func yamlValue(t testing.TB, src string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

const sayYAML = `
type: object
required: [action, room, text]
properties:
  action: {const: say}
  room: {type: string, minLength: 1, maxLength: 32, pattern: "^[a-z0-9-]+$"}
  text: {type: string, maxLength: 200}
  n: {type: integer, minimum: 0}
  meta:
    type: object
    properties:
      tags: {type: array, items: {type: string}, maxItems: 3}
additionalProperties: false
`

func TestSchemaConfig(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		rc     RouteConfig
		errHas string // "" for valid
	}{
		{"valid", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, sayYAML)}, ""},
		{"boolean true", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: true}, ""},
		{"on $default", routeDefault, RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `{type: object}`)}, ""},
		{"not a schema keyword type", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `{type: 5}`)}, "routes.say.schema: "},
		{"bad regexp", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `{pattern: "(("}`)}, "routes.say.schema: "},
		{"ref to another document", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `{$ref: "https://example.com/s.json"}`)}, "only point within the schema"},
		{"ref to a file", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `{$ref: "file:///etc/passwd"}`)}, "only point within the schema"},
		{"dangling local ref", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `{$ref: "#/$defs/nope"}`)}, "routes.say.schema: "},
		{"a list", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `[1, 2]`)}, "routes.say.schema: must be a JSON Schema object"},
		{"a string", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: "object"}, "got a string"},
		{"non-string keys", "say", RouteConfig{Integration: kindPublish, Subject: "chat", Schema: map[string]any{"properties": map[any]any{1: true}}}, "routes.say.schema: not JSON"},
		{"on $connect", routeConnect, RouteConfig{Integration: kindRequest, Subject: "auth", Schema: true}, "routes.$connect.schema: $connect carries no client message"},
		{"on $disconnect", routeDisconnect, RouteConfig{Integration: kindPublish, Subject: "gone", Schema: true}, "routes.$disconnect.schema:"},
		{"on a target", "say", RouteConfig{Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "chat", Schema: true}}}}, "routes.say.targets[0].schema: a target shares its route's schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Routes: map[string]RouteConfig{tc.key: tc.rc}}.Validate()
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.errHas != "" && err == nil:
				t.Fatal("Validate: no error")
			case tc.errHas != "" && !strings.Contains(err.Error(), tc.errHas):
				t.Fatalf("Validate: %v\nwant it to say %q", err, tc.errHas)
			}
		})
	}
}

func TestSchemaStageRoute(t *testing.T) {
	err := Config{Stages: map[string]StageRoutes{"beta": {Routes: map[string]RouteConfig{
		"say": {Integration: kindPublish, Subject: "chat", Schema: yamlValue(t, `{type: 5}`)},
	}}}}.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "stages.beta.routes.say.schema: ") {
		t.Fatalf("Validate: %v; want an error naming stages.beta.routes.say.schema", err)
	}
}

func TestSchemaCheck(t *testing.T) {
	s, err := compileSchema(yamlValue(t, sayYAML))
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	tooDeep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	tests := []struct {
		name string
		msg  string
		// errHas are what the error must say, in order; nil: valid.
		errHas []string
	}{
		{"valid", `{"action":"say","room":"lobby","text":"hi"}`, nil},
		{"valid with extras", `{"action":"say","room":"a-1","text":"","n":3,"meta":{"tags":["x"]}}`, nil},
		{"white space around", " \t\n{\"action\":\"say\",\"room\":\"r\",\"text\":\"\"}\n ", nil},
		{"escaped names and values", `{"\u0061ction":"s\u0061y","r\u006fom":"l","text":"\ud83d\ude00"}`, nil},
		{"integer written as float", `{"action":"say","room":"r","text":"","n":1.0}`, nil},
		{"integer with exponent", `{"action":"say","room":"r","text":"","n":1e2}`, nil},
		{"missing member", `{"action":"say","room":"lobby"}`, []string{`at ""`, `#/required`, "text"}},
		{"too short", `{"action":"say","room":"","text":"hi"}`, []string{`at "/room"`, `"#/properties/room/minLength"`}},
		{"pattern", `{"action":"say","room":"a.b","text":"hi"}`, []string{`at "/room"`, `#/properties/room/pattern`}},
		{"wrong type", `{"action":"say","room":7,"text":"hi"}`, []string{`at "/room"`, `#/properties/room/type`}},
		{"not an integer", `{"action":"say","room":"r","text":"","n":1.5}`, []string{`at "/n"`, `type`}},
		{"negative", `{"action":"say","room":"r","text":"","n":-1}`, []string{`at "/n"`, `minimum`}},
		{"huge number", `{"action":"say","room":"r","text":"","n":1e400}`, nil},
		{"huge negative number", `{"action":"say","room":"r","text":"","n":-1e400}`, []string{`at "/n"`, `minimum`}},
		{"unknown member", `{"action":"say","room":"r","text":"","evil":1}`, []string{`#/additionalProperties`, "evil"}},
		{"nested", `{"action":"say","room":"r","text":"","meta":{"tags":["a",1]}}`, []string{`at "/meta/tags/1"`, `#/properties/meta/properties/tags/items/type`}},
		{"too many items", `{"action":"say","room":"r","text":"","meta":{"tags":["a","b","c","d"]}}`, []string{`at "/meta/tags"`, `maxItems`}},
		{"duplicate: the last wins", `{"action":"say","room":"r","text":"","n":1,"n":"x"}`, []string{`at "/n"`}},
		{"duplicate: the last wins, valid", `{"action":"say","room":7,"room":"r","text":""}`, nil},
		{"const", `{"action":"shout","room":"r","text":""}`, []string{`at "/action"`, `#/properties/action/const`}},
		{"pointer escapes", `{"action":"say","room":"r","text":"","a/b~c":1}`, []string{"a/b~c"}},
		{"several failures counted", `{"action":"x","room":1,"text":2}`, []string{"(and 2 more)"}},
		{"not JSON", `{"action":"say"`, []string{"not JSON"}},
		{"plain text", `say hello`, []string{"not JSON"}},
		{"empty", ``, []string{"not JSON"}},
		{"array", `[1,2]`, []string{`at ""`, `#/type`}},
		{"null", `null`, []string{`#/type`}},
		{"string", `"say"`, []string{`#/type`}},
		{"deep", deep, []string{`#/required`}},
		{"too deep", tooDeep, []string{"not JSON"}},
		{"invalid UTF-8 in a value", "{\"action\":\"say\",\"room\":\"r\",\"text\":\"\xff\"}", nil},
		{"lone surrogate", `{"action":"say","room":"r","text":"\ud800"}`, nil},
		{"long room", `{"action":"say","room":"` + strings.Repeat("a", 100000) + `","text":""}`, []string{"maxLength"}},
		{"long member name", `{"action":"say","room":"r","text":"","` + strings.Repeat("é", 100000) + `":1}`, []string{"additionalProperties", "…"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := parseBody([]byte(tc.msg))
			_, err := s.check(b)
			if tc.errHas == nil {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("check: valid; want an error saying %q", tc.errHas)
			}
			msg := err.Error()
			if len(msg) > maxSchemaMessage+len("…") {
				t.Errorf("message of %d bytes, more than %d", len(msg), maxSchemaMessage)
			}
			rest := msg
			for _, h := range tc.errHas {
				i := strings.Index(rest, h)
				if i < 0 {
					t.Fatalf("check: %s\nwant it to say %q (in order %q)", msg, h, tc.errHas)
				}
				rest = rest[i+len(h):]
			}
		})
	}
}

// TestSchemaDecodedShared: the value a schema check decodes is the one a
// route's transforms see, decoded once.
func TestSchemaDecodedShared(t *testing.T) {
	s, err := compileSchema(true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := parseBody([]byte(`{"a":[1,"x"]}`))
	doc, err := s.check(b)
	if err != nil {
		t.Fatal(err)
	}
	want := decodeBody(b)
	if !jsonEqual(doc, want) {
		t.Fatalf("check decoded %#v, transforms decode %#v", doc, want)
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := marshal(a)
	y, err2 := marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// FuzzSchemaCheck holds the schema check of a message to the answer of
// the library's own decoder (encoding/json with UseNumber) and validator
// on the same bytes, for a schema that looks at names, types, numbers and
// strings, and never lets it panic or say more than its bound.
func FuzzSchemaCheck(f *testing.F) {
	for _, seed := range []string{
		`{"action":"say","room":"lobby","text":"hi"}`,
		`{"action":"say","room":"","text":"hi"}`,
		`{"action":"say","room":"r","text":"","n":1e400}`,
		`{"action":"say","room":"r","text":"","n":1,"n":"x"}`,
		`{"\u0061ction":"say","room":"r","text":"\ud800"}`,
		"{\"action\":\"say\",\"room\":\"\xff\",\"text\":\"\"}",
		`[1,{"a":null}]`, `"x"`, `-0`, `1.5e-7`, `{`, ``, `nul`,
	} {
		f.Add([]byte(seed))
	}
	s, err := compileSchema(yamlValue(f, sayYAML))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := getBody()
		defer putBody(b)
		b.parse(data)
		_, err := s.check(b)
		if err != nil && len(err.Error()) > maxSchemaMessage+len("…") {
			t.Fatalf("message of %d bytes", len(err.Error()))
		}
		v, derr := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		wantOK := derr == nil && s.s.Validate(v) == nil
		if (err == nil) != wantOK {
			t.Fatalf("check(%q) = %v; the library's decoder and validator say valid=%v (decode error %v)", data, err, wantOK, derr)
		}
	})
}

// bench300Schema describes bench300: types, required members, bounds, a
// pattern and an enum, nested two levels.
const bench300Schema = `
type: object
required: [action, order, customer]
properties:
  action: {const: pay}
  id: {type: integer}
  order:
    type: object
    required: [id, amount, currency, items]
    properties:
      id: {type: string, pattern: "^o-[0-9]+$"}
      amount: {type: integer, minimum: 1}
      currency: {enum: [EUR, USD, GBP]}
      items:
        type: array
        minItems: 1
        items:
          type: object
          required: [sku, qty, price]
          properties:
            sku: {type: string}
            qty: {type: integer, minimum: 1}
            price: {type: integer, minimum: 0}
  customer:
    type: object
    properties:
      id: {type: string}
      tier: {enum: [gold, silver, bronze]}
      country: {type: string, minLength: 2, maxLength: 2}
  note: {type: string, maxLength: 500}
`

// BenchmarkRouteSchema measures what a schema adds to a routed 300-byte
// message (parse and selection included; BenchmarkRouteFeatures/plain is
// the same route without it): decoding the message, then validating it.
//
//	go test -run XXX -bench 'RouteSchema|RouteFeatures/plain' -benchmem -count 3 ./protocols/jsonws/
//
// Figures: README, "Route schemas".
func BenchmarkRouteSchema(b *testing.B) {
	cfg := Config{Routes: map[string]RouteConfig{"pay": {Integration: kindPublish, Subject: "payments",
		Schema: yamlValue(b, bench300Schema)}}}
	benchFeature(b, cfg, func(c *conn, r *route, bd *body) bool {
		_, err := r.schema.check(bd)
		return err == nil
	})
}
