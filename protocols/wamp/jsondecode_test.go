package wamp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/wsgate/wsgate/internal/jsondepth"
)

// decodeJSONStd is the decoder jsondecode.go replaced: encoding/json with
// UseNumber, converted by fromJSON. It is the reference of
// FuzzJSONDifferential.
func decodeJSONStd(b []byte, maxDepth int) (any, error) {
	if jsondepth.Exceeds(b, maxDepth) {
		return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, maxDepth)
	}
	if !json.Valid(b) {
		// The Decoder alone took a value followed by a stray ] or }.
		return nil, fmt.Errorf("%w: invalid JSON", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return fromJSON(v)
}

// fromJSON converts encoding/json's output (with UseNumber) to the value
// model: integers become int64 (uint64 above its range), other numbers
// float64, and strings in the binary convention []byte.
func fromJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: number %.32q", ErrMalformed, s)
		}
		return f, nil
	case string:
		if b, ok := binaryFromJSON(x); ok {
			return b, nil
		}
		return x, nil
	case []any:
		for i, e := range x {
			n, err := fromJSON(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			n, err := fromJSON(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	}
	return v, nil // nil, bool
}

func FuzzJSONDifferential(f *testing.F) {
	for _, b := range seeds(f, JSON) {
		f.Add(b)
	}
	for _, s := range []string{
		`[1]]`, `[1]}`, ` [1] `, `"\u0000AAE="`, `"\ud800\u0041"`, "\"\xff\"", `{"a":1,"a":2}`,
		`-0`, `1e400`, `18446744073709551615`, `18446744073709551616`, `-9223372036854775809`,
		`1.5e-7`, `[01]`, `[1.]`, `[.5]`, `[-]`, `["\x"]`, "[\"\t\"]", `{"a" 1}`, `[1,]`, `{}`, `[]`, `nul`,
		`"\u00e9\/"`, `[true,false,null]`, `{"\u0061":[{"b":[]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeJSON(b, 8)
		want, werr := decodeJSONStd(b, 8)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: got error %v, encoding/json %v", b, err, werr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("%q: error of no kind: %v", b, err)
			}
			return
		}
		if !sameValue(got, want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
		}
	})
}

func TestVerbatimArgs(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`[1,"two",{"k":[true,null]},-0.5e3]`, true},
		{" \n[]\t", true},
		{`["é","\n\"\\"]`, true},
		{`[18446744073709551615,1e300]`, true},
		{`["\u00e9\u0000"]`, true},
		{`["\uD83D\uDE00"]`, false}, // a surrogate pair: checking pairs is not worth it
		{`["\ud800"]`, false},       // a lone surrogate becomes U+FFFD
		{`[1e400]`, false},          // beyond float64: one string argument
		{`{"args":[1]}`, false},     // an envelope
		{`"x"`, false},
		{`[1]]`, false},
		{`[1,]`, false},
		{"[\"\xff\"]", false},
		{`[[[[[[[[[1]]]]]]]]]`, false}, // deeper than 8
		{``, false},
	} {
		t.Run(tc.body, func(t *testing.T) {
			raw, ok := verbatimArgs([]byte(tc.body), 8)
			if ok != tc.ok {
				t.Fatalf("verbatimArgs(%q) = %v, want %v", tc.body, ok, tc.ok)
			}
			if ok && string(raw) != string(bytes.TrimSpace([]byte(tc.body))) {
				t.Fatalf("raw %q", raw)
			}
		})
	}
}

// FuzzVerbatimArgs: a body passed verbatim means what decoding it means.
func FuzzVerbatimArgs(f *testing.F) {
	for _, s := range []string{`[1,"a",{"b":[]}]`, `["\u0000AAE="]`, `[1e400]`, `[-0]`, `["\ud800"]`, `[1]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, ok := verbatimArgs(b, 8)
		if !ok {
			return
		}
		args, kwargs := decodeBody(b, 8)
		if kwargs != nil {
			t.Fatalf("%q: verbatim but kwargs %v", b, kwargs)
		}
		v, err := decodeJSONStd(raw, 8)
		if err != nil {
			t.Fatalf("%q: verbatim but encoding/json: %v", b, err)
		}
		if list, _ := v.([]any); !sameValue(list, []any(args)) && !(len(list) == 0 && len(args) == 0) {
			t.Fatalf("%q: verbatim %#v, decoded %#v", b, v, args)
		}
		// What the client reads back from the RESULT is the same.
		enc, err := Encode(JSON, nil, &Result{Request: 1, Details: Dict{}, argsJSON: raw})
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(JSON, enc, Limits{MaxBytes: 1 << 20, MaxDepth: 9})
		if err != nil {
			t.Fatalf("RESULT %q: %v", enc, err)
		}
		if got := m.(*Result).Args; !sameValue([]any(got), []any(args)) && !(len(got) == 0 && len(args) == 0) {
			t.Fatalf("RESULT %q: args %#v, want %#v", enc, got, args)
		}
	})
}

// BenchmarkDecodeJSON decodes the CALL of wsgate bench's calls scenario,
// with this parser and with encoding/json.
func BenchmarkDecodeJSON(b *testing.B) {
	msg := []byte(`[48,123,{},"bench.echo",["000000000000007b0000018c3f1e2d4cxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]]`)
	for _, d := range []struct {
		name string
		fn   func([]byte, int) (any, error)
	}{{"parser", decodeJSON}, {"encoding_json", decodeJSONStd}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.fn(msg, 32); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
