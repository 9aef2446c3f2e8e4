package jsonws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Transforms and conditions are jq (github.com/itchyny/gojq), one language
// for both: jq is made for exactly this — picking, testing and reshaping
// JSON — is widely known, has a specification and a large test suite, and
// gojq is pure Go with no I/O of its own. A compiled expression cannot read
// files, the environment ($ENV and env are empty), stdin (input) or write
// to stderr (debug, stderr), and cannot load modules. What it may do,
// looping forever or building a huge value, is bounded: each run has a
// deadline that gojq checks at every instruction, and a result is measured
// before it is encoded.

// errTransform marks a transform or condition that failed on a message:
// an error, no output, a timeout or an over-long result.
var errTransform = errors.New("jsonws: transform failed")

// errNoResult marks an expression that gave no result (empty): a failed
// transform, a condition that does not hold.
var errNoResult = fmt.Errorf("%w: no result", errTransform)

// jqExpr is a jq expression compiled at config load.
type jqExpr struct {
	src  string
	code *gojq.Code
}

// compileJQ parses and compiles src; an error gives the line and column
// in src.
func compileJQ(src string) (*jqExpr, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			line, col := lineCol(src, pe.Offset)
			return nil, fmt.Errorf("jq: line %d, column %d: %v", line, col, err)
		}
		return nil, fmt.Errorf("jq: %w", err)
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, fmt.Errorf("jq: %w", err)
	}
	return &jqExpr{src: src, code: code}, nil
}

// lineCol turns a byte offset into a 1-based line and column (in runes).
// gojq reports the offset after the token that failed.
func lineCol(src string, off int) (line, col int) {
	off = min(max(off, 0), len(src))
	before := src[:off]
	line = 1 + strings.Count(before, "\n")
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, max(1, utf8.RuneCountInString(before))
}

// jqLimits bound one run.
type jqLimits struct {
	timeout  time.Duration
	maxBytes int
}

// first runs e on in and returns its first output; later outputs are never
// computed, so an infinite stream (repeat, range(infinite)) costs only its
// first value.
func (e *jqExpr) first(ctx context.Context, in any, lim jqLimits) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, lim.timeout)
	defer cancel()
	iter := e.code.RunWithContext(ctx, in)
	v, ok := iter.Next()
	if !ok {
		return nil, fmt.Errorf("%w: %q gave none", errNoResult, e.src)
	}
	if err, isErr := v.(error); isErr {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %q ran longer than %s", errTransform, e.src, lim.timeout)
		}
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %q: %v", errTransform, e.src, err)
	}
	if !fits(v, lim.maxBytes) {
		return nil, fmt.Errorf("%w: %q made a result of more than %d bytes", errTransform, e.src, lim.maxBytes)
	}
	return v, nil
}

// truthy runs a condition: its first output is true unless it is false or
// null, as jq's if and select say; no output (empty) is false.
func (e *jqExpr) truthy(ctx context.Context, in any, lim jqLimits) (bool, error) {
	v, err := e.first(ctx, in, lim)
	if errors.Is(err, errNoResult) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return v != nil && v != false, nil
}

// encode is a transform's result as bytes to forward: a string's text as
// it is, anything else as JSON.
func encodeResult(v any) []byte {
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	b, _ := gojq.Marshal(v)
	return b
}

// fits reports whether v encodes as JSON in about budget bytes or fewer,
// without encoding it: each value counts at least its punctuation, so a
// huge or deeply nested result is refused after looking at budget values
// at most.
func fits(v any, budget int) bool {
	n := budget
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case string:
			n -= len(v) + 2
		case []any:
			n -= 2
			for _, e := range v {
				if n--; n < 0 || !walk(e) {
					return false
				}
			}
		case map[string]any:
			n -= 2
			for k, e := range v {
				if n -= len(k) + 4; n < 0 || !walk(e) {
					return false
				}
			}
		case *big.Int:
			n -= len(v.String())
		default:
			n -= 8
		}
		return n >= 0
	}
	return walk(v)
}

// jqValue turns a claim or any other Go value into one gojq accepts
// (nil, bool, int, float64, *big.Int, json.Number, string, []any,
// map[string]any).
func jqValue(v any) any {
	switch v := v.(type) {
	case nil, bool, int, float64, *big.Int, json.Number, string:
		return v
	case int64:
		return int(v)
	case int32:
		return int(v)
	case float32:
		return float64(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jqValue(e)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = e
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jqValue(e)
		}
		return out
	case map[string]string:
		return stringMap(v)
	}
	return fmt.Sprint(v)
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// decodeJQ decodes a JSON document for jq, numbers kept exact (as
// json.Number); text that is not JSON is a string.
func decodeJQ(raw []byte) any {
	if len(raw) > 0 && json.Valid(raw) {
		v, _ := decodeValid(raw, skipWS(raw, 0))
		return v
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

// decodeBody is decodeJQ for a client message, which the scanner has
// validated already when it is an object.
func decodeBody(b *body) any {
	if b.top != nil {
		v, _ := decodeValid(b.raw, skipWS(b.raw, 0))
		return v
	}
	return decodeJQ(b.raw)
}

// decodeValid decodes the valid JSON value at d[i] as encoding/json
// decodes into any with UseNumber (duplicate keys: the last wins; strings
// unquoted by appendUnquote), and returns the index after it. It checks
// nothing: d must be valid.
func decodeValid(d []byte, i int) (any, int) {
	switch d[i] {
	case '{':
		m := map[string]any{}
		i = skipWS(d, i+1)
		if d[i] == '}' {
			return m, i + 1
		}
		for {
			end := endString(d, i+1)
			k := validText(d[i+1 : end-1])
			i = skipWS(d, end)
			var v any
			v, i = decodeValid(d, skipWS(d, i+1)) // past the colon
			m[k] = v
			i = skipWS(d, i)
			if d[i] == '}' {
				return m, i + 1
			}
			i = skipWS(d, i+1) // past the comma
		}
	case '[':
		a := []any{}
		i = skipWS(d, i+1)
		if d[i] == ']' {
			return a, i + 1
		}
		for {
			var v any
			v, i = decodeValid(d, i)
			a = append(a, v)
			i = skipWS(d, i)
			if d[i] == ']' {
				return a, i + 1
			}
			i = skipWS(d, i+1)
		}
	case '"':
		end := endString(d, i+1)
		return validText(d[i+1 : end-1]), end
	case 't':
		return true, i + 4
	case 'f':
		return false, i + 5
	case 'n':
		return nil, i + 4
	}
	end := skipValue(d, i)
	return json.Number(d[i:end]), end
}

// validText is the text of the contents of a valid JSON string.
func validText(s []byte) string {
	if plain(s) {
		return string(s)
	}
	return string(appendUnquote(nil, s))
}
