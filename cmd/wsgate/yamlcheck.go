package main

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeYAML decodes the YAML document b into v, a pointer to a struct,
// strictly. Before decoding it walks the document against v's type, by
// its yaml tags, so that every problem is reported in the config file's
// terms: the line and the key path, never a Go type:
//
//	line 1: listne: unknown key (did you mean listen?)
//	line 4: gateway.ping_interval: 30 is not a duration (write 30s)
//
// Every problem is reported, not only the first. A plain 0 is accepted for
// a duration (yaml wants 0s).
func decodeYAML(b []byte, v any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err // syntax: yaml's own message has the line
	}
	if len(doc.Content) == 0 {
		return nil // an empty document is an empty config
	}
	w := &walker{}
	w.check(doc.Content[0], reflect.TypeOf(v).Elem(), "")
	if len(w.errs) > 0 {
		return errors.Join(w.errs...)
	}
	return doc.Decode(v)
}

var durationType = reflect.TypeFor[time.Duration]()

// walker collects what is wrong with a document.
type walker struct {
	errs []error
}

func (w *walker) errorf(n *yaml.Node, path, format string, a ...any) {
	if path == "" {
		path = "config"
	}
	w.errs = append(w.errs, fmt.Errorf("line %d: %s: %s", n.Line, path, fmt.Sprintf(format, a...)))
}

// check checks node n, at key path, against type t.
func (w *walker) check(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // left out: the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		w.duration(n, path)
	case t.Kind() == reflect.Struct:
		if w.want(n, yaml.MappingNode, path) {
			w.dups(n, path)
			w.mapping(n, fieldsOf(t), path)
		}
	case t.Kind() == reflect.Map:
		if w.want(n, yaml.MappingNode, path) {
			w.dups(n, path)
			for _, kv := range pairs(n) {
				w.check(kv[1], t.Elem(), join(path, kv[0].Value))
			}
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if w.want(n, yaml.SequenceNode, path) {
			for i, e := range n.Content {
				w.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case t.Kind() == reflect.Interface:
		// Anything goes (claims: free-form values).
	default:
		if w.want(n, yaml.ScalarNode, path) {
			w.scalar(n, t, path)
		}
	}
}

// want reports whether n is of kind k, and says so if not.
func (w *walker) want(n *yaml.Node, k yaml.Kind, path string) bool {
	if n.Kind == k {
		return true
	}
	w.errorf(n, path, "expected %s, got %s", kindName(k), kindName(n.Kind))
	return false
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "keys (a mapping)"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

// mapping checks the keys of n against a struct's fields.
func (w *walker) mapping(n *yaml.Node, fields map[string]reflect.Type, path string) {
	for _, kv := range pairs(n) {
		k, v := kv[0], kv[1]
		ft, ok := fields[k.Value]
		if !ok {
			msg := "unknown key"
			if s := closest(k.Value, fields); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			w.errorf(k, join(path, k.Value), "%s", msg)
			continue
		}
		w.check(v, ft, join(path, k.Value))
	}
}

// dups reports keys written twice in mapping n (merged keys may be
// overridden: that is what merging is for).
func (w *walker) dups(n *yaml.Node, path string) {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.ShortTag() == "!!merge" {
			continue
		}
		if line, dup := first[k.Value]; dup {
			w.errorf(k, join(path, k.Value), "given twice (first on line %d)", line)
			continue
		}
		first[k.Value] = k.Line
	}
}

// pairs are the key-value pairs of a mapping, merge keys (<<: *base)
// expanded.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() != "!!merge" {
			out = append(out, [2]*yaml.Node{k, v})
			continue
		}
		merged := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			merged = v.Content
		}
		for _, m := range merged {
			if m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			if m.Kind == yaml.MappingNode {
				out = append(out, pairs(m)...)
			}
		}
	}
	return out
}

// fieldsOf maps a struct's yaml keys to their types, inline structs
// included, as the yaml package sees them.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			for k, v := range fieldsOf(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// duration checks a duration: a string time.ParseDuration accepts, or 0.
func (w *walker) duration(n *yaml.Node, path string) {
	if !w.want(n, yaml.ScalarNode, path) {
		return
	}
	if n.Value == "0" {
		n.Tag, n.Value = "!!str", "0s" // yaml itself would refuse a plain 0
		return
	}
	if _, err := time.ParseDuration(n.Value); err == nil && n.ShortTag() == "!!str" {
		return
	}
	if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
		w.errorf(n, path, "%s is not a duration (write %ss)", n.Value, n.Value)
		return
	}
	w.errorf(n, path, "%s is not a duration (like 30s, 1m30s or 250ms)", show(n.Value))
}

// scalar checks a single value against a string, bool or number type.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.String:
		// Any single value is a string.
	case reflect.Bool:
		if tag != "!!bool" && !yaml11Bool[n.Value] {
			w.errorf(n, path, "%s is not true or false", show(n.Value))
		}
	case reflect.Float32, reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			w.errorf(n, path, "%s is not a number", show(n.Value))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var f float64
		if (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil || f != math.Trunc(f) {
			w.errorf(n, path, "%s is not a whole number", show(n.Value))
			return
		}
		z := reflect.New(t).Elem()
		if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
			if f < 0 || f > math.MaxUint64 || z.OverflowUint(uint64(f)) {
				w.errorf(n, path, "%s is out of range", n.Value)
			}
		} else if f < math.MinInt64 || f > math.MaxInt64 || z.OverflowInt(int64(f)) {
			w.errorf(n, path, "%s is out of range", n.Value)
		}
	}
}

// show is a value as an error message shows it: quoted if it has spaces
// or is empty.
func show(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' }) {
		return strconv.Quote(v)
	}
	return v
}

// yaml11Bool are the YAML 1.1 booleans the yaml package still accepts for
// a bool.
var yaml11Bool = map[string]bool{}

func init() {
	for _, b := range strings.Fields("y Y yes Yes YES on On ON n N no No NO off Off OFF") {
		yaml11Bool[b] = true
	}
}

// closest is the known key nearest to key by edit distance, if one is
// near enough to be a typo of it; the first in order on a tie.
func closest(key string, known map[string]reflect.Type) string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", max(2, len(key)/3)+1
	for _, k := range names {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
