package bridge

import (
	"fmt"

	"github.com/wsgate/wsgate/bridge/internal/wire"
)

// Compression modes of Config.Compression (permessage-deflate, RFC 7692).
const (
	// CompressionOff declines every permessage-deflate offer.
	CompressionOff = "off"
	// CompressionOn compresses with server_no_context_takeover and lets a
	// client keep its own window across messages when it asks to: the
	// gateway then keeps up to 32 KiB of that connection's last inflated
	// bytes for as long as it lives.
	CompressionOn = "on"
	// CompressionNoContextTakeover (the default) also answers every offer
	// with client_no_context_takeover, so no connection holds inflate
	// state between messages.
	CompressionNoContextTakeover = "no_context_takeover"
)

// extensionsHeader is Sec-WebSocket-Extensions as RFC 6455 spells it.
// gorilla's Upgrader refuses a response header under the canonical key
// ("Sec-Websocket-Extensions") to protect its own compression, which is
// off here because the bridge reads and writes frames itself; it writes
// any other key as given, so the answer goes under this spelling. A test
// (TestUpgradeDeflateAnswer) fails if a gorilla upgrade ever changes that.
const extensionsHeader = "Sec-WebSocket-Extensions"

// deflateMode maps Config.Compression to the wire's mode.
func deflateMode(s string) (wire.DeflateMode, error) {
	switch s {
	case CompressionOff:
		return wire.DeflateOff, nil
	case CompressionOn:
		return wire.DeflateOn, nil
	case "", CompressionNoContextTakeover:
		return wire.DeflateNoContextTakeover, nil
	}
	return 0, fmt.Errorf("compression: %q is not off, on or no_context_takeover", s)
}

// negotiateDeflate answers the permessage-deflate offers of an upgrade
// request: the Sec-WebSocket-Extensions value for the response, and the
// agreement (nil when the connection runs uncompressed).
func (g *Gateway) negotiateDeflate(offers []string) (string, *wire.Deflate) {
	if len(offers) == 0 {
		return "", nil
	}
	answer, d, ok := wire.NegotiateDeflate(offers, g.deflate)
	if !ok {
		return "", nil
	}
	return answer, &d
}

// setDeflate makes the session compress and inflate as d says. It is
// called before the session is reachable by anyone else.
//
// Session.zmin and zmax are 16-bit so that they fit in the padding after
// Session.virtual: fields that moved the writer and the reader within the
// Session made BenchmarkFanOut 1.6x slower without compression.
func (s *Session) setDeflate(d *wire.Deflate) {
	// ServerWindow is at most 32 KiB; a threshold above it compresses
	// nothing, as its cap does.
	s.zmax = uint16(d.ServerWindow)
	s.zmin = uint16(min(s.gw.cfg.CompressionMinBytes, d.ServerWindow+1))
	s.r.fp.SetDeflate(*d)
}

// deflated returns the frame to queue for f: its compressed twin, made
// once per frame however many sessions it goes to (Frame.Deflated), when
// the session negotiated compression and f is a data frame whose payload is
// at least CompressionMinBytes and fits the client's window; f otherwise.
func (s *Session) deflated(f *Frame) *Frame {
	if f.Op() >= wire.OpClose {
		return f // [RFC 7692 6.1] control frames are never compressed
	}
	if n := f.PayloadLen(); n < int(s.zmin) || n > int(s.zmax) {
		return f
	}
	return f.Deflated()
}
