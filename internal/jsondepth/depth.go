// Package jsondepth measures how deeply a JSON text nests, without
// decoding it, for the protocols that refuse deeply nested messages with an
// error that says so (the JSON protocol, WAMP's JSON serializer).
package jsondepth

// Exceeds reports whether data opens more than max arrays and objects at
// once, counting brackets outside strings only. Whether data is JSON at
// all is the caller's business.
func Exceeds(data []byte, max int) bool {
	depth, inStr, esc := 0, false, false
	for _, c := range data {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
