package jsondepth

import (
	"strings"
	"testing"
)

func TestExceeds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want bool
	}{
		{`{"a":1}`, 1, false},
		{`{"a":[1]}`, 1, true},
		{`{"a":[1]}`, 2, false},
		{`[[["x"]]]`, 2, true},
		{`{"s":"[[[[[["}`, 1, false},
		{`{"s":"\"[[[["}`, 1, false},
		{`"\\"[[`, 1, true},
		{strings.Repeat("[", 10001), 10000, true},
		{strings.Repeat("[", 10000), 10000, false},
	} {
		if got := Exceeds([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("Exceeds(%.30q, %d) = %v, want %v", tc.in, tc.max, got, tc.want)
		}
	}
}
