package jsonws

import "strings"

func splitPath(s string) []string { return strings.Split(s, ".") }

func pathString(p []string) string { return strings.Join(p, ".") }
