package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestPositionals(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	code := fs.Int("code", 0, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := positionals(fs, []string{"--json", "close", "abc", "--code", "4001", "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pos, []string{"close", "abc", "extra"}) || *code != 4001 || !*asJSON {
		t.Errorf("positionals %q, code %d, json %v", pos, *code, *asJSON)
	}
	if _, err := positionals(fs, []string{"list", "--nope"}); err == nil {
		t.Error("an unknown flag was accepted")
	}
}

func TestConnectionsUsage(t *testing.T) {
	for _, args := range [][]string{{"connections"}, {"connections", "frob"}, {"connections", "get"}, {"connections", "close", "a", "b"}, {"routes", "x"}} {
		if code := dispatch(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("wsgate %q: exit %d, want 2", args, code)
		}
	}
}
