package jsonws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// The differential tests hold body (the scanner) to refBody (encoding/json):
// for every input, the same verdict (object or not, too deep or not), the
// same members, and the same answer from lookup, scalar, str, payload,
// clientID and route selection, for a fixed set of paths, for paths made of
// the message's own keys, and for the path or selection expression the
// fuzzer makes up.

// diffPaths are looked up in every input.
var diffPaths = []string{
	"action", "subject", "queue", "id", "data", "text", "n", "a", "b", "s", "k", "ab",
	"a.b", "a.0", "a.1", "a.b.2.c", "a.a.a", "list.1.k", "list.2.1", "obj.a.1", "items.0",
	"data.text", "k.1", "", ".", "a..b", "\ufffd", "\x00\x1f", "\xff", "a\\b", "ünï",
	"\U0001F600", "0", "01", "a.01", "a.-1", "a.99999999999999999999",
}

// diffSelections are evaluated on every input.
var diffSelections = []string{
	"$request.body.action",
	"$request.body.a.b",
	"$request.body.items.0",
	"${request.body.service}/${request.body.action}",
	"x-${request.body.a}-${request.body.id}-${request.body.s}",
}

// checkSame fails t if body and refBody answer anything about data
// differently. extra is one more path, and one more selection expression.
func checkSame(t *testing.T, data []byte, extra string) {
	t.Helper()
	got, gotOK := parseBody(data)
	want, wantOK := parseRefBody(data)
	if gotOK != wantOK || got.deep != want.deep {
		t.Fatalf("%q: object %v deep %v, encoding/json says object %v deep %v", data, gotOK, got.deep, wantOK, want.deep)
	}
	if (got.top == nil) != (want.top == nil) {
		t.Fatalf("%q: members %v, encoding/json says %v", data, got.top != nil, want.top != nil)
	}
	if !bytes.Equal(got.raw, data) {
		t.Fatalf("raw changed: %q, was %q", got.raw, data)
	}
	// The same member names: each decoded name is one encoding/json has,
	// and each name encoding/json has is found with its last value.
	for _, m := range got.top {
		k := string(appendUnquote(nil, data[m.k0:m.k1]))
		if _, ok := want.top[k]; !ok {
			t.Fatalf("%q: member %q is not one encoding/json decodes", data, k)
		}
	}
	paths := append([]string(nil), diffPaths...)
	paths = append(paths, extra)
	for k, v := range want.top {
		if raw, ok := got.lookup([]string{k}); !ok || !bytes.Equal(raw, v) {
			t.Fatalf("%q: member %q = %q %v, encoding/json says %q", data, k, raw, ok, v)
		}
		paths = append(paths, childPaths(k, v, 2)...)
	}
	sort.Strings(paths)
	for _, p := range paths {
		checkPath(t, data, got, want, splitPath(p))
	}
	if id, wid := clientID(got), refClientID(want); !bytes.Equal(id, wid) || (id == nil) != (wid == nil) {
		t.Fatalf("%q: id %q, encoding/json says %q", data, id, wid)
	}
	for _, expr := range append(diffSelections, extra) {
		sel, err := parseSelection(expr)
		if err != nil {
			continue
		}
		if g, w := sel.eval(got), sel.evalRef(want); g != w {
			t.Fatalf("%q: %s selects %q, encoding/json says %q", data, expr, g, w)
		}
		var kb [8]byte
		if k := sel.appendKey(kb[:0], got, nil); string(k) != sel.evalRef(want) {
			t.Fatalf("%q: %s appends key %q", data, expr, k)
		}
	}
}

// childPaths are the paths below a member: each key or index of its value,
// down to depth levels.
func childPaths(prefix string, v json.RawMessage, depth int) []string {
	if depth == 0 || len(v) == 0 {
		return nil
	}
	var out []string
	switch v[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return nil
		}
		for k, c := range m {
			if len(out) > 32 {
				break
			}
			out = append(out, prefix+"."+k)
			out = append(out, childPaths(prefix+"."+k, c, depth-1)...)
		}
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(v, &a) != nil {
			return nil
		}
		for i, c := range a {
			if i > 8 {
				break
			}
			p := fmt.Sprintf("%s.%d", prefix, i)
			out = append(out, p)
			out = append(out, childPaths(p, c, depth-1)...)
		}
		out = append(out, fmt.Sprintf("%s.%d", prefix, len(a)))
	}
	return out
}

func checkPath(t *testing.T, data []byte, got *body, want *refBody, path []string) {
	t.Helper()
	raw, found := got.lookup(path)
	wraw, wfound := want.lookup(path)
	if found != wfound || !bytes.Equal(raw, wraw) {
		t.Fatalf("%q: lookup(%q) = %q %v, encoding/json says %q %v", data, path, raw, found, wraw, wfound)
	}
	ws, wok := want.scalar(path)
	if s, ok := got.scalar(path); s != ws || ok != wok {
		t.Fatalf("%q: scalar(%q) = %q %v, encoding/json says %q %v", data, path, s, ok, ws, wok)
	}
	if s, ok := got.scalarDotted(strings.Join(path, ".")); s != ws || ok != wok {
		t.Fatalf("%q: scalarDotted(%q) = %q %v, encoding/json says %q %v", data, path, s, ok, ws, wok)
	}
	if k := got.appendScalar([]byte("x"), path); string(k) != "x"+ws {
		t.Fatalf("%q: appendScalar(%q) = %q, encoding/json says %q", data, path, k, ws)
	}
	s, ok := got.str(path)
	if ws, wok := want.str(path); s != ws || ok != wok {
		t.Fatalf("%q: str(%q) = %q %v, encoding/json says %q %v", data, path, s, ok, ws, wok)
	}
	p, wp := got.payload(path), want.payload(path)
	if !bytes.Equal(p, wp) || (p == nil) != (wp == nil) {
		t.Fatalf("%q: payload(%q) = %q, encoding/json says %q", data, path, p, wp)
	}
}

func FuzzBodyDifferential(f *testing.F) {
	for _, s := range diffSeeds() {
		f.Add([]byte(s.data), s.path)
	}
	f.Fuzz(func(t *testing.T, data []byte, p string) {
		checkSame(t, data, p)
		// The same message parsed into a recycled body, and cloned.
		b := getBody()
		defer putBody(b)
		b.parse([]byte(`{"stale":1,"action":"old","id":0}`))
		b.parse(data)
		for _, c := range []*body{b, b.clone()} {
			fresh, _ := parseBody(data)
			if c.deep != fresh.deep || len(c.top) != len(fresh.top) || (c.top == nil) != (fresh.top == nil) {
				t.Fatalf("%q: a recycled or cloned body differs from a fresh one", data)
			}
			for _, path := range [][]string{splitPath(p), {"action"}, {"id"}, {"stale"}} {
				x, _ := c.lookup(path)
				y, _ := fresh.lookup(path)
				if !bytes.Equal(x, y) {
					t.Fatalf("%q: lookup(%q) of a recycled or cloned body = %q, fresh %q", data, path, x, y)
				}
			}
		}
	})
}

// FuzzBodyDifferentialGen makes JSON-like documents out of the fuzzer's
// bytes (mostly valid objects full of escapes, odd UTF-8, duplicates and
// numbers, sometimes broken), which random mutation of bytes rarely reaches.
func FuzzBodyDifferentialGen(f *testing.F) {
	for _, s := range []string{"", "\x00", "\x01\x02\x03\x04\x05\x06\x07\x08\x09", "hello, world: a document", strings.Repeat("\x07\x13", 40)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		g := &docGen{src: src}
		g.object(0)
		if g.pick(8) == 0 {
			g.out = append(g.out, g.pickOf(genSpace)...)
		}
		checkSame(t, g.out, g.pickOf(genKeys)+"."+g.pickOf(genKeys))
	})
}

// docGen writes a document chosen by its source bytes.
type docGen struct {
	src []byte
	out []byte
}

func (g *docGen) pick(n int) int {
	if len(g.src) == 0 {
		return 0
	}
	c := g.src[0]
	g.src = g.src[1:]
	return int(c) % n
}

// pickOf picks one of choices, or one of genBroken once in 64 picks.
func (g *docGen) pickOf(choices []string) string {
	if g.pick(64) == 1 { // not 0: what an exhausted source gives
		return genBroken[g.pick(len(genBroken))]
	}
	return choices[g.pick(len(choices))]
}

// The pieces documents are made of. Each choice is sometimes broken
// instead (see docGen.pickOf), so that most documents are valid.
var (
	genSpace = []string{"", "", "", " ", "\n", "\t \r\n"}
	genKeys  = []string{"action", "subject", "data", "id", "a", "b", "s", "items", "0", "1", "",
		`\u0061ction`, `\u0061`, `a\u0000`, `\ud800`, `\udc00\ud800`, `\ud83d\ude00`, "\xff", "\xed\xa0\x80",
		`\"`, `\\`, `\/`, "ünï", "a.b", `\u00FC`}
	genStrings = []string{"", "x", "hello", "chat.lobby", `\n`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\udc00x`,
		`\ud800\ud800\udc00`, `\uD834\uDD1E`, `\u0000`, "\xff", "\xed\xa0\x80", "\xc3", "\xc0\xaf", `\/`, `\"`,
		"é", "\x7f"}
	genNumbers  = []string{"0", "-0", "7", "1.50", "-3e2", "1E+400", "1e-400", "123456789012345678901234567890", "0.1e-5"}
	genLiterals = []string{"true", "false", "null"}
	genBroken   = []string{",", "}", "]", ":", `"`, "{", "[", "x", "\\", "\f", "\x00", "\x01", `\x`, `\'`,
		"01", "1.", ".5", "+1", "-", "1e", "NaN", "tru", "nul", "True", "\xef\xbb\xbf"}
)

func (g *docGen) value(depth int) {
	switch n := g.pick(16); {
	case n < 3 && depth < 6:
		g.object(depth + 1)
	case n < 5 && depth < 6:
		g.array(depth + 1)
	case n < 10:
		g.str(genStrings)
	case n < 13:
		g.out = append(g.out, g.pickOf(genNumbers)...)
	default:
		g.out = append(g.out, g.pickOf(genLiterals)...)
	}
}

func (g *docGen) str(parts []string) {
	g.out = append(g.out, '"')
	for n := g.pick(4); n > 0; n-- {
		g.out = append(g.out, g.pickOf(parts)...)
	}
	g.out = append(g.out, '"')
}

func (g *docGen) object(depth int) {
	g.out = append(g.out, g.pickOf(genSpace)...)
	g.out = append(g.out, '{')
	for i, n := 0, g.pick(6); i < n; i++ {
		if i > 0 {
			g.out = append(g.out, g.pickOf(genSpace)...)
			g.out = append(g.out, ',')
		}
		g.out = append(g.out, g.pickOf(genSpace)...)
		g.str(genKeys)
		g.out = append(g.out, g.pickOf(genSpace)...)
		g.out = append(g.out, ':')
		g.out = append(g.out, g.pickOf(genSpace)...)
		g.value(depth)
	}
	g.out = append(g.out, g.pickOf(genSpace)...)
	g.out = append(g.out, '}')
}

func (g *docGen) array(depth int) {
	g.out = append(g.out, '[')
	for i, n := 0, g.pick(5); i < n; i++ {
		if i > 0 {
			g.out = append(g.out, ',')
		}
		g.out = append(g.out, g.pickOf(genSpace)...)
		g.value(depth)
	}
	g.out = append(g.out, ']')
}

func TestBodyDifferentialSeeds(t *testing.T) {
	for _, s := range diffSeeds() {
		name := s.data
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) { checkSame(t, []byte(s.data), s.path) })
	}
}
