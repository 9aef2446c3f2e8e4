package bridge

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"
)

// An idle TLS connection would keep crypto/tls's read buffers at the size
// its largest record made them (the ClientHello at least: about 3.5 KiB
// with a post-quantum key share, as Go and current browsers send), and
// crypto/tls has no way to give them back. releaseTLSBuffers does it from
// outside, when the connection goes idle and they hold nothing: its
// rawInput (bytes of records not yet decrypted), input (the plaintext of
// the current record, a view into rawInput) and hand (handshake messages)
// become zero values, which crypto/tls treats as empty buffers, as they are.
//
// These are private fields; tlsBuffers finds them by name and type when
// the process starts, and if a Go release renames or retypes any, the
// buffers are simply kept (tlsBuffers.ok is false, and
// TestTLSBuffersReleased fails). Only the session's reader calls
// releaseTLSBuffers, between its Reads of the connection, which are the
// only code that touches these fields after the handshake.
var tlsBuffers = findTLSBuffers()

// tlsBufferOffsets are where crypto/tls.Conn keeps its read buffers.
type tlsBufferOffsets struct {
	rawInput, input, hand uintptr
	ok                    bool // all three found, of the expected types
}

func findTLSBuffers() tlsBufferOffsets {
	t := reflect.TypeFor[tls.Conn]()
	field := func(name string, typ reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		return f.Offset, ok && f.Type == typ && len(f.Index) == 1
	}
	var o tlsBufferOffsets
	var ok1, ok2, ok3 bool
	o.rawInput, ok1 = field("rawInput", reflect.TypeFor[bytes.Buffer]())
	o.input, ok2 = field("input", reflect.TypeFor[bytes.Reader]())
	o.hand, ok3 = field("hand", reflect.TypeFor[bytes.Buffer]())
	o.ok = ok1 && ok2 && ok3
	return o
}

// releaseTLSBuffers lets c's read buffers go if they are empty.
func releaseTLSBuffers(c *tls.Conn) {
	if !tlsBuffers.ok {
		return
	}
	p := unsafe.Pointer(c)
	raw := (*bytes.Buffer)(unsafe.Add(p, tlsBuffers.rawInput))
	in := (*bytes.Reader)(unsafe.Add(p, tlsBuffers.input))
	hand := (*bytes.Buffer)(unsafe.Add(p, tlsBuffers.hand))
	if raw.Len() != 0 || in.Len() != 0 || hand.Len() != 0 {
		return // a partial record or handshake message waits for the rest
	}
	*raw, *in, *hand = bytes.Buffer{}, bytes.Reader{}, bytes.Buffer{}
}
