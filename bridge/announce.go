package bridge

import (
	"fmt"

	"github.com/wsgate/wsgate/subjects"
)

// Announce publishes data on subject with the connection's headers plus
// hdr, as Publish does but without the principal's permissions: it is for
// what a protocol itself says about the connection (WAMP's session meta
// events), on subjects its client may well not publish to. The subject
// must still be a valid literal outside the reserved space. It works
// during the connection's Closer.OnClose too.
func (s *Session) Announce(subject string, hdr Header, data []byte) error {
	if err := subjects.ValidateSubject(subject); err != nil {
		return err
	}
	if subjects.IsReserved(subject, s.gw.cfg.ReservedPrefix) {
		return fmt.Errorf("%w: %q", ErrReserved, subject)
	}
	if err := s.gw.publishClient(subject, s.msgHeaders("", hdr), data); err != nil {
		return fmt.Errorf("announce %q: %w", subject, err)
	}
	return nil
}

// Listen subscribes to pattern as Subscribe does but without the
// principal's permissions: it is for what a protocol itself listens to on
// the connection's behalf (WAMP's cancellations of the invocations it
// holds), never for what its client asked to receive. The pattern must
// still be valid and outside the reserved space.
func (s *Session) Listen(pattern string, deliver func(d *Delivery)) (*Subscription, error) {
	if err := subjects.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if subjects.IsReserved(pattern, s.gw.cfg.ReservedPrefix) {
		return nil, fmt.Errorf("%w: %q", ErrReserved, pattern)
	}
	return s.subscribe(pattern, "", deliver, false, 0)
}
