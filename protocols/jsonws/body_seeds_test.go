package jsonws

import (
	"fmt"
	"strings"
)

type diffSeed struct {
	data string
	path string // a path, or a selection expression
}

// diffSeeds is the differential tests' corpus: the inputs of the body and
// selection tests, and hostile ones.
func diffSeeds() []diffSeed {
	var seeds []diffSeed
	add := func(path string, docs ...string) {
		for _, d := range docs {
			seeds = append(seeds, diffSeed{d, path})
		}
	}
	for _, s := range bodySeeds {
		add(s.path, s.data)
	}
	for _, tc := range selectionCases {
		add(tc.expr, tc.body)
	}
	inner := "{ \"z\" :1e0,\n\t\"a\":[ 1 ,2],\"u\":\"\\u00e9\",\"a\":\"dup\" }"
	add("data", `{"data":`+inner+`}`)
	add("list.1.k", bodyDoc)
	add("obj.a", bodyDoc)

	// TestParseBody's inputs.
	add("a", `{"a":1,"b":"x"}`, `{}`, " \t\r\n{\"a\":1}", "{\"a\":1}\n", `{"a":{"b":[1,2]}}`, `[{"a":1}]`,
		`"a"`, `12`, `true`, `null`, ``, " \n", `{"a":`, `{"a":1}x`, `{"a":1}{"b":2}`, `{'a':1}`, `{a:1}`,
		`{"a":1,}`, "\f{\"a\":1}", "\xef\xbb\xbf{\"a\":1}")

	// Trailing garbage, NUL, BOM and white space around the object.
	add("a", `{"a":1}garbage`, `{"a":1} `, " {\"a\":1} \r\n", "{\"a\":1}\x00", "\x00{}", "{\"a\":1\x00}",
		"\t\n\r {\t\"a\"\n:\r1 }\n", "{\"a\":1}\f", "\v{}", "{\"a\":1}\xef\xbb\xbf", `{"a":1}]`, `{"a":1}}`,
		`{"a":1}[`, `{"a":"x"} {"a":"y"}`, "{\"a\" \f: 1}")

	// Duplicates: the last wins, whatever the spelling of the key.
	add("a", `{"a":1,"a":2}`, `{"a":{"b":1},"a":{"c":2}}`, `{"a":[1],"a":"s","a":null}`)
	add("a.b", `{"a":{"b":1,"b":2}}`, `{"a":{"b":1},"a":{"c":2}}`, `{"a":{"b":{"x":1},"b":[2]}}`)
	add("action", `{"\u0061ction":"x","action":"y"}`, `{"action":"x","\u0061ction":"y"}`,
		`{"actio\u006e":"z"}`, `{"\u0041ction":"no"}`, `{"Action":"no","ACTION":"no"}`)

	// Numbers.
	add("n", `{"n":1e999999}`, `{"n":-123456789012345678901234567890.5e-7}`, `{"n":01}`, `{"n":1.}`,
		`{"n":.5}`, `{"n":+1}`, `{"n":1e}`, `{"n":1e+}`, `{"n":-}`, `{"n":NaN}`, `{"n":Infinity}`, `{"n":-0.0E-0}`,
		`{"n":0x10}`, `{"n":1_000}`, `{"n":00}`, `{"n":-01}`, `{"n":2.5e+3}`, `{"n":`+strings.Repeat("9", 400)+`}`)

	// Strings: escapes, surrogates, invalid UTF-8, control characters.
	add("s", `{"s":"\ud83d\ude00"}`, `{"s":"\uD83D\uDE00"}`, `{"s":"\ud800"}`, `{"s":"\udc00\ud800"}`,
		`{"s":"\ud800\u0041"}`, `{"s":"\ud800\ud800\udc00"}`, `{"s":"\ud800\\"}`, `{"s":"\ud800\u"}`,
		`{"s":"\u0000"}`, `{"s":"\x"}`, `{"s":"\'"}`, `{"s":"\u12"}`, `{"s":"\u12G4"}`, `{"s":"\/\b\f\n\r\t\"\\"}`,
		"{\"s\":\"\xff\xfe\"}", "{\"s\":\"\xed\xa0\x80\"}", "{\"s\":\"\xc3\"}", "{\"s\":\"\xc3\x28\"}",
		"{\"s\":\"\xc0\xaf\"}", "{\"s\":\"\xf4\x90\x80\x80\"}", "{\"s\":\"\x01\"}", "{\"s\":\"\x7f\"}",
		"{\"s\":\"a\tb\"}", "{\"s\":\"a\nb\"}", `{"s":"unterminated}`, `{"s":"\"}`, `{"s":"a\`,
		`{"s":"`+strings.Repeat(`\u00e9`, 40)+`"}`, `{"s":"`+strings.Repeat("\xff", 40)+`"}`)
	add("\ufffd", "{\"\xff\":1}", "{\"\xed\xa0\x80\":1}", `{"\ud800":1}`, `{"\udfff":1}`)
	add("\xff", "{\"\xff\":1}")
	add("a\\b", `{"a\\b":1}`, `{"a\\\\b":1}`)
	add(strings.Repeat("é", 40), `{"`+strings.Repeat(`\u00e9`, 40)+`":"long escaped key"}`)

	// Literals and structure.
	add("t", `{"t":tru}`, `{"t":truex}`, `{"t":nul}`, `{"t":False}`, `{"t":true false}`, `{"t":[true,false,null]}`)
	add("a.0", `{"a":[1,2,]}`, `{"a":[,]}`, `{"a":{,}}`, `{"a" 1}`, `{"a"::1}`, `{,"a":1}`, `{"a":1,,"b":2}`,
		`{"a":[}`, `{"a":]`, `{"a":{]}`, `{"a":[1}]`, `{{}}`, `{"a":"b"`, `{"a":[[]]}`, `{"a":[{}]}`,
		`{"a":[ ]}`, `{"a":[0]}`, `{"a":{"0":"key"}}`, `{1:2}`, `{"a":1 "b":2}`, `{"a":[1 2]}`, `{null:1}`)
	add("items.0", `{"items":["first","second"]}`, `{"items":[{"x":1}]}`, `{"items":"abc"}`)
	add("${request.body.a}/${request.body.b}", `{"a":"x","b":2}`, `{"a":{"b":1},"b":null}`, `{"b":"\u00e9"}`)

	// More members than body.fixed holds.
	var many strings.Builder
	many.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&many, `"k%d":%d,`, i, i)
	}
	many.WriteString(`"action":"x","k3":"again"}`)
	add("k3", many.String())

	// Nesting at and over encoding/json's limit, in and out of strings.
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	add("a", `{"a":`+deep(maxDepth-1)+`}`, `{"a":`+deep(maxDepth)+`}`, deep(maxDepth), deep(maxDepth+1),
		`{"a":`+strings.Repeat(`{"a":`, maxDepth)+`1`+strings.Repeat(`}`, maxDepth)+`}`,
		`{"s":"`+strings.Repeat("[", maxDepth+5)+`"}`, `{"a":1}`+deep(maxDepth+1), `{"a":tru`+deep(maxDepth+1),
		strings.Repeat("[", maxDepth+1), " "+deep(maxDepth+1), "x"+deep(maxDepth+1))
	add(strings.Repeat("a.", 99)+"a", strings.Repeat(`{"a":`, 100)+`"bottom"`+strings.Repeat(`}`, 100))
	add("a.0.0.0", `{"a":[[[["x"]]]]}`, `{"a":[[["x"]]]}`)
	return seeds
}
