package wamp

import (
	"bytes"
	"unicode/utf8"
)

// The body convention. A NATS message the gateway makes of a PUBLISH, a
// CALL or a YIELD carries the arguments as JSON:
//
//	no keyword arguments:   the arguments alone, a JSON array: [1,"two"]
//	keyword arguments:      {"args":[1,"two"],"kwargs":{"k":"v"}}
//
// so a plain worker reads the common case as a JSON array. Binary values
// are strings holding a NUL character and the base64 of the bytes, the
// WAMP JSON serializer's own convention, whatever the client's
// serializer: they come back as binary to MessagePack and CBOR clients.
//
// A NATS body the gateway turns into an EVENT, a RESULT, an ERROR's
// arguments or an INVOCATION is read the same way, and leniently:
//
//	empty                       no arguments
//	a JSON array                the arguments
//	a JSON object whose only members are "args" (an array) and/or
//	"kwargs" (an object)        those
//	any other JSON value        one argument, that value
//	anything else               one argument: the body as a string if it
//	                            is UTF-8, else as binary

// maxBodyBytes bounds the NATS bodies decoded as JSON; a larger body is
// passed as one string or binary argument.
const maxBodyBytes = 16 << 20

// encodeBody makes the NATS body of arguments.
func encodeBody(args List, kwargs Dict) ([]byte, error) {
	if args == nil {
		args = List{}
	}
	if len(kwargs) == 0 {
		return appendJSON(nil, args)
	}
	return appendJSON(nil, Dict{"args": args, "kwargs": kwargs})
}

// decodeBody reads the arguments of a NATS body.
func decodeBody(b []byte, maxDepth int) (List, Dict) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, nil
	}
	if len(t) <= maxBodyBytes {
		if v, err := decodeJSON(t, maxDepth); err == nil {
			switch x := v.(type) {
			case []any:
				return x, nil
			case map[string]any:
				if args, kwargs, ok := envelope(x); ok {
					return args, kwargs
				}
			}
			return List{v}, nil
		}
	}
	if utf8.Valid(b) {
		return List{string(b)}, nil
	}
	return List{b}, nil
}

// envelope reads {"args":[...],"kwargs":{...}}.
func envelope(m map[string]any) (List, Dict, bool) {
	if len(m) == 0 || len(m) > 2 {
		return nil, nil, false
	}
	var args List
	var kwargs Dict
	for k, v := range m {
		switch k {
		case "args":
			a, ok := v.([]any)
			if !ok {
				return nil, nil, false
			}
			args = a
		case "kwargs":
			d, ok := v.(map[string]any)
			if !ok {
				return nil, nil, false
			}
			kwargs = d
		default:
			return nil, nil, false
		}
	}
	return args, kwargs, true
}
