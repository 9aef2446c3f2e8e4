package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsgate/wsgate/subjects"
)

// route is one compiled RouteConfig.
type route struct {
	key         string
	integration string
	subject     *subjects.Template // publish, request; nil: the event's subject
	room        *roomTemplate      // join, leave
	timeout     time.Duration      // 0: the protocol's
}

// compileRoute checks and compiles one route.
func compileRoute(key string, rc RouteConfig) (*route, error) {
	r := &route{key: key, integration: rc.Integration, timeout: rc.Timeout}
	if r.integration == "" {
		r.integration = integrationPublish
	}
	if key == "" {
		return nil, errors.New("the event name is empty")
	}
	if rc.Timeout < 0 {
		return nil, errors.New("timeout: must not be negative")
	}
	parse := func(field, src string) (*subjects.Template, error) {
		t, err := subjects.ParseTemplate(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if t.IsPattern() {
			return nil, fmt.Errorf("%s: %q holds a wildcard", field, src)
		}
		for _, v := range t.Vars() {
			if !knownVar(v) {
				return nil, fmt.Errorf("%s: unknown placeholder {%s}", field, v)
			}
		}
		return t, nil
	}
	if key == routeConnect && (rc.Integration != integrationRequest || rc.Subject == "") {
		return nil, errors.New("integration: $connect is a request, with a subject")
	}
	var err error
	switch r.integration {
	case integrationPublish, integrationRequest:
		if rc.Room != "" {
			return nil, fmt.Errorf("room: only for join and leave, not %s", r.integration)
		}
		if rc.Subject != "" {
			if r.subject, err = parse("subject", rc.Subject); err != nil {
				return nil, err
			}
		}
	case integrationJoin, integrationLeave:
		if rc.Subject != "" {
			return nil, fmt.Errorf("subject: not for %s (a room is named by room)", r.integration)
		}
		src := rc.Room
		if src == "" {
			src = "{arg0}"
		}
		if r.room, err = parseRoom(src); err != nil {
			return nil, fmt.Errorf("room: %w", err)
		}
	default:
		return nil, fmt.Errorf("integration: %q is not publish, request, join or leave", rc.Integration)
	}
	return r, nil
}

// roomTemplate is a room name with placeholders: unlike a subject
// template, the whole expansion is one name, escaped into one token only
// when it becomes a subject, so a value may hold anything.
type roomTemplate struct {
	parts []string // literal text at even indexes, placeholder names at odd
}

func parseRoom(src string) (*roomTemplate, error) {
	t := &roomTemplate{}
	rest := src
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return nil, fmt.Errorf("%q: '}' without '{'", src)
			}
			t.parts = append(t.parts, rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%q: '{' is not closed", src)
		}
		name := rest[i+1 : i+j]
		if !knownVar(name) {
			return nil, fmt.Errorf("unknown placeholder {%s}", name)
		}
		t.parts = append(t.parts, rest[:i], name)
		rest = rest[i+j+1:]
	}
	return t, nil
}

// expand fills in the placeholders; an unknown value fails.
func (t *roomTemplate) expand(lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i, p := range t.parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		v, ok := lookup(p)
		if !ok {
			return "", fmt.Errorf("%w: room: no value for {%s}", ErrInvalidName, p)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// knownVar reports whether a route template may use the placeholder.
func knownVar(v string) bool {
	switch {
	case v == "connectionId", v == "principal", v == "namespace":
		return true
	case strings.HasPrefix(v, "claims."), strings.HasPrefix(v, "context."):
		return true
	case strings.HasPrefix(v, "arg"):
		n, _, _ := strings.Cut(v[3:], ".")
		_, err := strconv.ParseUint(n, 10, 8)
		return err == nil
	}
	return false
}

// lookup resolves a template placeholder for an emit of c in namespace ns
// with the raw arguments rest.
func (c *conn) lookup(nsTok string, rest []byte, name string) (string, bool) {
	switch {
	case name == "connectionId":
		return c.s.ID(), true
	case name == "principal":
		id := c.s.Principal().ID
		return id, id != ""
	case name == "namespace":
		return nsTok, true
	case strings.HasPrefix(name, "claims."):
		return c.s.Principal().Claim(name[7:])
	case strings.HasPrefix(name, "context."):
		v, ok := c.s.Context()[name[8:]]
		return v, ok
	case strings.HasPrefix(name, "arg"):
		return argValue(rest, name[3:])
	}
	return "", false
}

// argValue is the scalar at path ("0", "1.room": {arg0}, {arg1.room}) of the arguments rest (the
// raw elements after the event name): a string as it is, a number as
// written; anything else is no value.
func argValue(rest []byte, path string) (string, bool) {
	idx, field, _ := strings.Cut(path, ".")
	n, err := strconv.Atoi(idx)
	if err != nil {
		return "", false
	}
	arr := make([]byte, 0, len(rest)+2)
	arr = append(append(append(arr, '['), rest...), ']')
	els := elements(arr, n+1)
	if len(els) <= n {
		return "", false
	}
	v := els[n]
	if field != "" {
		var obj map[string]json.RawMessage
		if json.Unmarshal(v, &obj) != nil {
			return "", false
		}
		for part := range strings.SplitSeq(field, ".") {
			raw, ok := obj[part]
			if !ok {
				return "", false
			}
			v = raw
			obj = nil
			_ = json.Unmarshal(raw, &obj)
		}
	}
	return scalar(v)
}

// scalar is a JSON string's value or a number's text.
func scalar(v []byte) (string, bool) {
	switch c := firstByte(v); {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case c == '-' || c >= '0' && c <= '9':
		return strings.TrimSpace(string(v)), true
	}
	return "", false
}
