package socketio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestFrames(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 70000} {
		p := bytes.Repeat([]byte{'a'}, n)
		for _, masked := range []bool{false, true} {
			b := appendFrame(nil, opText, p, masked)
			// Read a byte at a time: the reader must not assume more.
			op, got, err := readFrame(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(b)), 16), 1<<20)
			if err != nil || op != opText || !bytes.Equal(got, p) {
				t.Fatalf("%d bytes, masked %v: op %d, %d bytes, %v", n, masked, op, len(got), err)
			}
		}
	}
	// A frame over the limit is refused before its payload is read.
	b := appendFrame(nil, opBinary, make([]byte, 100), false)
	if _, _, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 99); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	// A real client's mask is undone.
	masked := []byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}
	if _, got, err := readFrame(bufio.NewReader(bytes.NewReader(masked)), 10); err != nil || string(got) != "hi" {
		t.Fatalf("masked: %q %v", got, err)
	}
}

// FuzzReadFrame checks that the frame reader never panics, never returns
// more than its limit, and that what it reads encodes back to a frame it
// reads the same.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, opText, []byte("2probe"), true))
	f.Add(appendFrame(nil, opBinary, make([]byte, 300), false))
	f.Add([]byte{0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x01, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, p, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 1024)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		if len(p) > 1024 {
			t.Fatalf("%d bytes over the limit", len(p))
		}
		op2, p2, err := readFrame(bufio.NewReader(bytes.NewReader(appendFrame(nil, op, p, true))), 1024)
		if err != nil || op2 != op || !bytes.Equal(p, p2) {
			t.Fatalf("round trip: %d %q %v", op2, p2, err)
		}
	})
}
