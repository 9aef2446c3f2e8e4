package mqtt

// subSet is a connection's subscriptions by filter. Most connections have
// one or a few, kept in a slice (8 bytes each where a map costs a couple of
// hundred even for one entry, on every idle connection); past
// subSetIndexAt an index map is added so that many are still found in
// constant time. Owned by the reader.
type subSet struct {
	all   []*sub
	index map[string]*sub // by filter once len(all) > subSetIndexAt
}

const subSetIndexAt = 8

// get returns the subscription to filter, or nil.
func (s *subSet) get(filter string) *sub {
	if s.index != nil {
		return s.index[filter]
	}
	for _, sb := range s.all {
		if sb.filter == filter {
			return sb
		}
	}
	return nil
}

// put adds sb, whose filter must not be in the set.
func (s *subSet) put(sb *sub) {
	sb.pos = len(s.all)
	s.all = append(s.all, sb)
	switch {
	case s.index != nil:
		s.index[sb.filter] = sb
	case len(s.all) > subSetIndexAt:
		s.index = make(map[string]*sub, len(s.all))
		for _, x := range s.all {
			s.index[x.filter] = x
		}
	}
}

// del removes and returns the subscription to filter, or nil; the last
// subscription takes its place.
func (s *subSet) del(filter string) *sub {
	sb := s.get(filter)
	if sb == nil {
		return nil
	}
	last := len(s.all) - 1
	s.all[sb.pos] = s.all[last]
	s.all[sb.pos].pos = sb.pos
	s.all[last] = nil
	s.all = s.all[:last]
	if s.index != nil {
		delete(s.index, filter)
	}
	return sb
}
