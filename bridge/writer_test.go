package bridge

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestWriterFullSocket: a client that reads nothing for a while makes the
// inline writes find its socket full part way through a frame; writeLoop
// takes over from the very byte where they stopped, and the client reads
// every message whole and in order once it reads again.
func TestWriterFullSocket(t *testing.T) {
	e := newEnv(t, Config{MaxQueuedBytes: 64 << 20})
	c := e.dial("/", nil, nil)
	e.sub(c, "sub full.socket")
	const n, size = 400, 20_000 // 8 MB: far more than the socket buffers
	pad := bytes.Repeat([]byte("x"), size)
	for i := range n {
		if err := e.nc.Publish("full.socket", fmt.Appendf(nil, "%05d%s", i, pad)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the gateway fills the socket
	for i := range n {
		m, err := c.tryRead(10 * time.Second)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want := fmt.Sprintf("msg full.socket %05d%s", i, pad)
		if m != want {
			t.Fatalf("message %d: %d bytes starting %.30q, want %.30q", i, len(m), m, want)
		}
	}
	s := e.session(c)
	checkFor(t, 5*time.Second, func() error {
		if got := s.msgsOut.Load(); got < n+2 { // hello and the sub's ok too
			return fmt.Errorf("msgsOut %d", got)
		}
		return nil
	})
}
