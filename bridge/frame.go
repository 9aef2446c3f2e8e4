package bridge

import "github.com/wsgate/wsgate/bridge/internal/wire"

// Frame is one complete server-to-client WebSocket frame, ready for the
// wire and immutable once built, so that one Frame can be queued to any
// number of connections: a message fanned out to a thousand clients is
// encoded once. Protocols build frames with TextFrame, BinaryFrame,
// DataFrame or NewFrame (which lets an encoder write a message straight
// into its frame).
type Frame = wire.Frame

// CloseError ends a connection with a WebSocket close code and reason.
// Protocol handlers return one to close with a code of their choosing.
type CloseError = wire.CloseError

// TextFrame builds a text frame holding payload, which must be valid UTF-8
// (RFC 6455 section 5.6); protocols that cannot promise it use BinaryFrame
// or DataFrame.
func TextFrame(payload []byte) *Frame { return wire.TextFrame(payload) }

// BinaryFrame builds a binary frame holding payload.
func BinaryFrame(payload []byte) *Frame { return wire.BinaryFrame(payload) }

// DataFrame builds a text frame when payload is valid UTF-8 and a binary
// frame otherwise.
func DataFrame(payload []byte) *Frame { return wire.DataFrame(payload) }

// NewFrame makes a frame with room for an n-byte payload and returns the
// payload slice for the caller to fill before the frame is sent. text
// selects a text frame; its payload must then be valid UTF-8.
func NewFrame(text bool, n int) (*Frame, []byte) { return wire.NewFrame(text, n) }

// WebSocket close codes (RFC 6455 section 7.4.1) for Session.Close and
// CloseError.
const (
	CloseNormal         = wire.CloseNormal
	CloseGoingAway      = wire.CloseGoingAway
	CloseProtocolError  = wire.CloseProtocolError
	CloseInvalidUTF8    = wire.CloseInvalidUTF8
	CloseUnsupported    = wire.CloseUnsupported
	ClosePolicy         = wire.ClosePolicy
	CloseTooBig         = wire.CloseTooBig
	CloseInternal       = wire.CloseInternal
	CloseTryLater       = wire.CloseTryLater
	CloseServiceRestart = wire.CloseServiceRestart
	closeAbnormal       = wire.CloseAbnormal
)
