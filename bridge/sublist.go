package bridge

import "strings"

// sublist indexes the hub's subscriptions by pattern token by token, so
// that the ones matching a subject are found in time proportional to the
// subject's length, not to the number of patterns: a client's publish is
// handed to local subscribers without a trip through NATS (hub.local).
// It is used under the hub's lock; Match allocates nothing.
type sublist struct {
	root slNode
}

type slNode struct {
	lit  map[string]*slNode
	star *slNode   // a '*' token
	full []*hubSub // patterns ending with '>' after this node's tokens
	here []*hubSub // patterns ending exactly here
}

// insert adds hs under its pattern, which must be valid.
func (l *sublist) insert(hs *hubSub) {
	n := &l.root
	rest := hs.key.pattern
	for {
		tok, more := nextToken(&rest)
		switch {
		case tok == ">":
			n.full = append(n.full, hs)
			return
		case tok == "*":
			if n.star == nil {
				n.star = &slNode{}
			}
			n = n.star
		default:
			if n.lit == nil {
				n.lit = map[string]*slNode{}
			}
			c := n.lit[tok]
			if c == nil {
				c = &slNode{}
				n.lit[tok] = c
			}
			n = c
		}
		if !more {
			n.here = append(n.here, hs)
			return
		}
	}
}

// remove takes hs out, pruning nodes left empty.
func (l *sublist) remove(hs *hubSub) {
	l.root.remove(hs, hs.key.pattern)
}

func (n *slNode) remove(hs *hubSub, rest string) {
	tok, more := nextToken(&rest)
	if tok == ">" {
		n.full = without(n.full, hs)
		return
	}
	c := n.star
	if tok != "*" {
		c = n.lit[tok]
	}
	if c == nil {
		return
	}
	if more {
		c.remove(hs, rest)
	} else {
		c.here = without(c.here, hs)
	}
	if c.empty() {
		if tok == "*" {
			n.star = nil
		} else {
			delete(n.lit, tok)
		}
	}
}

func (n *slNode) empty() bool {
	return len(n.lit) == 0 && n.star == nil && len(n.full) == 0 && len(n.here) == 0
}

func without(s []*hubSub, hs *hubSub) []*hubSub {
	for i, x := range s {
		if x == hs {
			last := len(s) - 1
			s[i] = s[last]
			s[last] = nil
			return s[:last]
		}
	}
	return s
}

// match calls fn with every subscription whose pattern matches subject, a
// valid literal subject; fn returning false stops the walk.
func (l *sublist) match(subject string, fn func(*hubSub) bool) {
	l.root.match(subject, fn)
}

func (n *slNode) match(rest string, fn func(*hubSub) bool) bool {
	// '>' here matches the one or more tokens left.
	for _, hs := range n.full {
		if !fn(hs) {
			return false
		}
	}
	tok, more := nextToken(&rest)
	for _, c := range [2]*slNode{n.lit[tok], n.star} {
		if c == nil {
			continue
		}
		if !more {
			for _, hs := range c.here {
				if !fn(hs) {
					return false
				}
			}
			continue
		}
		if !c.match(rest, fn) {
			return false
		}
	}
	return true
}

// nextToken cuts the first token off *rest, reporting whether more follow.
func nextToken(rest *string) (tok string, more bool) {
	i := strings.IndexByte(*rest, '.')
	if i < 0 {
		tok, *rest = *rest, ""
		return tok, false
	}
	tok, *rest = (*rest)[:i], (*rest)[i+1:]
	return tok, true
}
