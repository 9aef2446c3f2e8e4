package stomp

import "bytes"

// Decoder reads frames from a byte stream that arrives in pieces of any
// size: several frames in one WebSocket message, or one frame over many.
// Its work is linear in the bytes fed, however they are cut: a header
// block is parsed again only once a new line has come, a frame whose
// header is parsed waits for its body without parsing the header again,
// and a body is searched for its NUL only in the bytes not searched yet.
// (Parsing a pending frame again from its start on every piece would let a
// client that sends a large frame one byte at a time cost the gateway
// time quadratic in the frame's size.)
//
// A piece is only borrowed: Next parses it in place, and Keep copies what
// remains incomplete before the piece's memory is reused. A Decoder with
// nothing pending holds no buffer.
type Decoder struct {
	// Limits bound every frame.
	Limits Limits

	buf      []byte // the bytes being parsed: the borrowed piece, or own
	own      []byte // owned storage of an incomplete frame and later pieces
	borrowed bool   // buf is the caller's piece
	off      int    // start of the unparsed bytes in buf

	// The frame whose header is parsed, waiting for its body.
	cur    *Frame
	bodyAt int // offset of its body in buf
	size   int // its content-length, or -1

	scanned int // buf[off:scanned] holds no end of the header block, or of the body
	lineAt  int // start of the header line in progress, while the header block is incomplete
}

// Feed hands the decoder the next piece of the stream. p is borrowed until
// Keep is called.
func (d *Decoder) Feed(p []byte) {
	if d.off == len(d.buf) { // nothing pending: parse p in place
		d.buf, d.borrowed = p, true
		d.off, d.scanned, d.lineAt = 0, 0, 0
		return
	}
	if d.off > 0 && d.off >= len(d.buf)/2 {
		d.shift()
	}
	d.buf = append(d.buf, p...)
}

// Keep makes the decoder own what is left of the pieces it was fed, so that
// the caller may reuse their memory; with nothing left, it keeps nothing.
func (d *Decoder) Keep() {
	if d.off == len(d.buf) {
		d.buf, d.own, d.borrowed = nil, nil, false
		d.off, d.scanned, d.lineAt = 0, 0, 0
		return
	}
	if d.borrowed {
		d.shift()
	}
}

// Buffered is the number of bytes fed and not yet parsed into frames.
func (d *Decoder) Buffered() int { return len(d.buf) - d.off }

// shift moves the unparsed bytes to the start of owned storage.
func (d *Decoder) shift() {
	rest := d.buf[d.off:]
	if d.borrowed {
		d.own = append(d.own[:0], rest...)
	} else {
		d.own = d.buf[:copy(d.buf, rest)]
	}
	d.buf, d.borrowed = d.own, false
	d.bodyAt -= d.off
	d.scanned -= d.off
	d.lineAt -= d.off
	d.off = 0
}

// Next returns the next complete frame, or nil when more bytes are needed.
// Headers are unescaped as version v says. An error is final.
func (d *Decoder) Next(v Version) (*Frame, error) {
	lim := d.Limits.withDefaults()
	if d.cur == nil {
		if d.scanned > d.off && bytes.IndexByte(d.buf[d.scanned:], '\n') < 0 {
			// No new line: the header block cannot be complete yet.
			switch {
			case len(d.buf)-d.lineAt > lim.MaxLine:
				return nil, ErrHeaderTooLong
			case len(d.buf)-d.off > lim.MaxFrame:
				return nil, ErrFrameTooLarge
			}
			d.scanned = len(d.buf)
			return nil, nil
		}
		b := d.buf[d.off:]
		f, start, bodyAt, size, err := parseHeader(b, v, lim)
		if err != nil {
			return nil, err
		}
		d.off += start
		if f == nil {
			d.scanned = len(d.buf)
			d.lineAt = d.off + bytes.LastIndexByte(b[start:], '\n') + 1
			return nil, nil
		}
		d.cur, d.size = f, size
		d.bodyAt = d.off - start + bodyAt
		d.scanned = d.bodyAt
	}
	end, err := bodyEnd(d.buf, d.off, d.bodyAt, d.size, d.scanned, lim)
	if err != nil {
		return nil, err
	}
	if end < 0 {
		d.scanned = len(d.buf)
		return nil, nil
	}
	f := d.cur
	f.Body = clone(d.buf[d.bodyAt:end])
	d.cur = nil
	d.off = end + 1
	d.scanned, d.lineAt = d.off, d.off
	return f, nil
}
