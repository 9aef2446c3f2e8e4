package bridge

// Batch defers waking the writers of the sessions that a burst of
// messages is queued to, until the burst is all queued (Flush): under load
// each writer then finds several frames for one system call, where
// Session.Send would write each frame at once. A nil *Batch sends at once.
// A Batch is used by one goroutine at a time, and whoever sends through
// it must Flush it before waiting for anything: a writer it holds runs
// only then.
type Batch struct {
	kick []*Session
}

// Send queues f to s, waking s's writer at the next Flush.
func (b *Batch) Send(s *Session, f *Frame) error {
	if b == nil {
		return s.Send(f)
	}
	start, err := s.enqueueLater(f)
	if start {
		b.kick = append(b.kick, s)
	}
	return err
}

// Len is how many writers wait for Flush.
func (b *Batch) Len() int { return len(b.kick) }

// Flush wakes the writers that Send found idle.
func (b *Batch) Flush() {
	if b == nil || len(b.kick) == 0 {
		return
	}
	for _, s := range b.kick {
		s.kickSoon()
	}
	clear(b.kick)
	b.kick = b.kick[:0]
}

// SendDeferred queues f like Send, but a writer it finds idle starts on a
// goroutine of its own instead of writing on the caller's. For a caller
// that handles a burst of messages on one goroutine, one at a time (a
// JetStream consumer's callback): the new goroutine usually runs when the
// caller's goroutine waits for its next message, so the burst leaves in
// one write rather than one each.
func (s *Session) SendDeferred(f *Frame) error {
	start, err := s.enqueueLater(f)
	if start {
		go s.kickSoon()
	}
	return err
}
