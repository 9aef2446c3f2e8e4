//go:build !linux

package bridge

// writeInline is Linux-only; elsewhere writeLoop writes everything.
func (s *Session) writeInline() bool { return false }
