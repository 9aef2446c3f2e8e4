package jsonws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	// github.com/santhosh-tekuri/jsonschema/v6 validates route messages
	// against their schema: it implements drafts 4 to 2020-12 and passes
	// the official JSON Schema test suite, is pure Go with no network
	// access unless given a loader (we give it none), and uses Go's RE2
	// regexp, so a pattern cannot backtrack for ever on a hostile message.
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// A route's schema (RouteConfig.Schema) is a JSON Schema that every
// message the route takes must satisfy before its integration runs. What
// is validated is the whole client message, as the client sent it (not
// the payload a route forwards, not what a request_transform makes of
// it). A schema without $schema is draft 2020-12; format is asserted
// ("format": "email" refuses what is not an address); $ref may point
// within the schema (#/$defs/...) but not to other documents, which are
// never loaded. It is compiled once, when the config is loaded (and on
// every reload).
//
// A message that does not satisfy it gets a bad_request error frame
// naming the first failing place in the message (a JSON pointer) and the
// schema keyword that failed, and is not forwarded; the connection stays
// open. Routes without a schema decode nothing: the check is one nil
// pointer.

// schemaURL names a route's schema inside its compiler; nothing is ever
// loaded from it.
const schemaURL = "wsgate:///route-schema.json"

// maxSchemaMessage bounds the text of a validation error in an error
// frame: it may quote the client's own property names.
const maxSchemaMessage = 512

// errNoLoad refuses $ref to another document.
var errNoLoad = errors.New("jsonws: a schema's $ref may only point within the schema (#/$defs/...): other documents are not loaded")

type noLoader struct{}

func (noLoader) Load(string) (any, error) { return nil, errNoLoad }

// routeSchema is a route's compiled schema.
type routeSchema struct {
	s   *jsonschema.Schema
	doc any // the schema as JSON values, for the API description
}

// compileSchema compiles a schema given in the config (decoded from YAML:
// a mapping or a boolean).
func compileSchema(v any) (*routeSchema, error) {
	switch v.(type) {
	case map[string]any, bool:
	default:
		return nil, fmt.Errorf("must be a JSON Schema object (a mapping) or a boolean, got %s", yamlKind(v))
	}
	// Through JSON, so the values are JSON's: YAML's ints and floats
	// become json.Number, and what has no JSON form (a mapping with
	// non-string keys, .nan) is refused here.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, compileError(err)
	}
	return &routeSchema{s: s, doc: doc}, nil
}

func yamlKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case []any:
		return "a list"
	case int, int64, uint64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// check validates a message read into b and returns its decoded value
// (to share with the route's transforms), or an error for the client.
func (s *routeSchema) check(b *body) (any, error) {
	var v any
	switch {
	case b.top != nil:
		v, _ = decodeValid(b.raw, skipWS(b.raw, 0))
	case json.Valid(b.raw):
		v, _ = decodeValid(b.raw, skipWS(b.raw, 0))
	default:
		return nil, errors.New("the message is not JSON")
	}
	if err := s.s.Validate(v); err != nil {
		return v, schemaError(err)
	}
	return v, nil
}

// schemaError turns a validation error into a short message naming the
// first failing place: the message's JSON pointer and the schema's, which
// ends in the keyword that failed.
func schemaError(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("the message does not match the route's schema: %v", err)
	}
	leaf, n := firstFailure(ve)
	msg := fmt.Sprintf("the message does not match the route's schema: at %s, keyword %s: %s",
		strconvQuote(pointer(leaf.InstanceLocation)), strconvQuote(schemaPointer(leaf)), leaf.ErrorKind.LocalizedString(english))
	if n > 1 {
		msg += fmt.Sprintf(" (and %d more)", n-1)
	}
	return errors.New(truncate(msg, maxSchemaMessage))
}

// compileError says in one line why a schema did not compile.
func compileError(err error) error {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	var le *jsonschema.LoadURLError
	switch {
	case errors.As(err, &sve) && errors.As(sve.Err, &ve):
		leaf, n := firstFailure(ve)
		msg := fmt.Sprintf("not a valid JSON Schema: at %s: %s", strconvQuote(pointer(leaf.InstanceLocation)), leaf.ErrorKind.LocalizedString(english))
		if n > 1 {
			msg += fmt.Sprintf(" (and %d more)", n-1)
		}
		return errors.New(msg)
	case errors.As(err, &le):
		return fmt.Errorf("%q is not loaded: a $ref may only point within the schema (#/$defs/...), and $schema must name a JSON Schema draft", le.URL)
	}
	return errors.New(strings.ReplaceAll(err.Error(), schemaURL, "schema"))
}

// english prints the validator's messages. golang.org/x/text (already
// required by jsonschema) is how it words them.
var english = message.NewPrinter(language.English)

// firstFailure returns the first leaf of a validation error's tree (where
// a keyword failed, not a group of failures) and the number of leaves.
func firstFailure(ve *jsonschema.ValidationError) (first *jsonschema.ValidationError, leaves int) {
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			if leaves++; first == nil {
				first = e
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return first, leaves
}

// schemaPointer is the place in the schema of the keyword that failed, as
// a JSON pointer fragment (#/properties/room/minLength).
func schemaPointer(e *jsonschema.ValidationError) string {
	_, frag, _ := strings.Cut(e.SchemaURL, "#")
	kw := e.ErrorKind.KeywordPath()
	if len(kw) == 0 {
		return "#" + frag
	}
	return "#" + frag + pointer(kw)
}

// pointer is a JSON pointer (RFC 6901) of tokens.
func pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		sb.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return sb.String()
}

func strconvQuote(s string) string {
	b, _ := marshal(truncate(s, 128))
	return string(b)
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "\uFFFD") + "…"
}

// SchemaDoc returns a route's schema as JSON values (maps, slices,
// json.Number, ...), nil when it has none or it is not valid: for the API
// description (cmd/wsgate asyncapi).
func SchemaDoc(rc RouteConfig) any {
	if rc.Schema == nil {
		return nil
	}
	s, err := compileSchema(rc.Schema)
	if err != nil {
		return nil
	}
	return s.doc
}
