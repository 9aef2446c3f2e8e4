package jsonws

// The walker finds a path below a top-level member by reading the member's
// bytes, which scanTop has validated: it checks nothing, decodes nothing but
// the keys it compares, and allocates nothing for a key of up to 64 bytes.
// Each function takes d, the whole message, and the index of a value.

// skipValue returns the index after the valid JSON value at d[i].
func skipValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		return endString(d, i+1)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				i = endString(d, i+1) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	// A number or a literal runs to white space, a comma or a closer.
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\r', '\n', ',', '}', ']':
			return i
		}
		i++
	}
	return i
}

// endString returns the index after the closing quote of the valid string
// whose contents start at d[i].
func endString(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return i
}

// objectMember finds the member named name of the valid object at d[i]
// (the last one, if the name is repeated, as encoding/json keeps it) and
// returns its value's place.
func objectMember(d []byte, i int, name string) (v0, v1 int, ok bool) {
	if i = skipWS(d, i+1); d[i] == '}' {
		return 0, 0, false
	}
	for {
		k0 := i + 1
		k1 := endString(d, k0) - 1
		i = skipWS(d, skipWS(d, k1+1)+1) // past the colon
		end := skipValue(d, i)
		if keyIs(d[k0:k1], name) {
			v0, v1, ok = i, end, true
		}
		if i = skipWS(d, end); d[i] == '}' {
			return v0, v1, ok
		}
		i = skipWS(d, i+1) // past the comma
	}
}

// arrayElement finds element n of the valid array at d[i].
func arrayElement(d []byte, i int, n int) (v0, v1 int, ok bool) {
	if i = skipWS(d, i+1); d[i] == ']' {
		return 0, 0, false
	}
	for {
		end := skipValue(d, i)
		if n == 0 {
			return i, end, true
		}
		n--
		if i = skipWS(d, end); d[i] == ']' {
			return 0, 0, false
		}
		i = skipWS(d, i+1)
	}
}

// named reports whether the member of d is named name.
func (m *member) named(d []byte, name string) bool {
	if m.ascii {
		return string(d[m.k0:m.k1]) == name
	}
	return keyIs(d[m.k0:m.k1], name)
}

// keyIs reports whether a key's contents, as sent, decode to name.
func keyIs(key []byte, name string) bool {
	if string(key) == name {
		return plain(key)
	}
	if plain(key) {
		return false
	}
	var buf [64]byte
	return string(appendUnquote(buf[:0], key)) == name
}
