package stomp

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeSplit feeds b to a Decoder in pieces of the given sizes (cycled),
// reusing each piece's memory after Keep as a connection's read buffer is
// reused, and returns the frames.
func decodeSplit(b []byte, v Version, lim Limits, sizes ...int) ([]*Frame, error) {
	d := Decoder{Limits: lim}
	var out []*Frame
	scratch := make([]byte, 0, 64)
	for i := 0; len(b) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(b))
		piece := append(scratch[:0], b[:n]...)
		b = b[n:]
		d.Feed(piece)
		for {
			f, err := d.Next(v)
			if err != nil {
				return out, err
			}
			if f == nil {
				break
			}
			out = append(out, f)
		}
		d.Keep()
		for j := range piece {
			piece[j] = '#' // the piece's memory is reused
		}
	}
	return out, nil
}

func TestDecoder(t *testing.T) {
	cuts := map[string][]int{"whole": {1 << 20}, "one byte": {1}, "two": {2}, "odd": {3, 1, 7, 2}, "large": {16}}
	for _, tc := range parseCases {
		for name, sizes := range cuts {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				got, err := decodeSplit([]byte(tc.in), tc.v, Limits{}, sizes...)
				if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				if tc.err == nil && !reflect.DeepEqual(got, tc.want) {
					t.Errorf("frames\n got %s\nwant %s", dump(got), dump(tc.want))
				}
			})
		}
	}
}

func TestDecoderLimits(t *testing.T) {
	lim := Limits{MaxFrame: 64, MaxHeaders: 2, MaxLine: 20}
	for _, tc := range []struct {
		name string
		in   string
		err  error
	}{
		{"long line fed slowly", "SEND\n" + strings.Repeat("a", 30), ErrHeaderTooLong},
		{"long body fed slowly", "SEND\n\n" + strings.Repeat("x", 80), ErrFrameTooLarge},
		{"fits", "SEND\na:1\n\n" + strings.Repeat("x", 40) + "\x00", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeSplit([]byte(tc.in), V12, lim, 1)
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
		})
	}
}

// TestDecoderLargeFrameByteByByte feeds a 512 KiB frame one byte at a
// time, with a line break every few bytes of its body. The decoder's work is
// linear in what it is fed: parsing the pending frame again from its start
// on every byte would make this test take minutes.
func TestDecoderLargeFrameByteByByte(t *testing.T) {
	body := bytes.Repeat([]byte("abc\n"), 128<<10)
	in := append([]byte("SEND\ndestination:a\n\n"), body...)
	in = append(in, 0)
	got, err := decodeSplit(in, V12, Limits{}, 1)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Body, body) {
		t.Fatalf("%d frames, %v", len(got), err)
	}
	var d Decoder
	d.Feed([]byte("SEND\n\nx\x00"))
	if f, _ := d.Next(V12); f == nil {
		t.Fatal("no frame")
	}
	d.Keep()
	if d.buf != nil || d.own != nil {
		t.Error("an idle decoder holds a buffer")
	}
}
