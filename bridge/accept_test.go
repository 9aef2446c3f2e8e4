//go:build linux

package bridge

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// get sends a GET on c and returns the response's status code.
func get(c net.Conn, r *bufio.Reader) (int, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestOutOfFDs: with the process's descriptors used up, a new connection
// is answered 503 and closed, the shortage is logged once, a connection
// already open is served on, and once descriptors are free connections
// are accepted again.
func TestOutOfFDs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	var refused atomic.Int32
	fl := newFDListener(ln, slog.New(slog.NewTextHandler(&logs, nil)), func() { refused.Add(1) })
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(fl) }()
	defer func() {
		_ = srv.Close()
		<-done
	}()

	held, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldR := bufio.NewReader(held)
	if code, err := get(held, heldR); code != 200 {
		t.Fatalf("before: %d, %v", code, err)
	}

	// Leave the process a handful of descriptors, then take them all.
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(ents) + 8)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var fillers []*os.File
	release := func() {
		for _, f := range fillers {
			f.Close()
		}
		fillers = nil
	}
	defer func() {
		release()
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restore RLIMIT_NOFILE: %v", err)
		}
	}()
	for range 100 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		fillers = append(fillers, f)
	}
	if _, err := os.Open(os.DevNull); err == nil {
		t.Fatal("descriptors not used up")
	}

	for i := range 2 {
		// One descriptor for the client's socket; none for the server.
		fillers[len(fillers)-1].Close()
		fillers = fillers[:len(fillers)-1]
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		code, err := get(c, bufio.NewReader(c))
		c.Close()
		if code != http.StatusServiceUnavailable {
			t.Fatalf("connection %d while out of descriptors: %d, %v; want 503", i, code, err)
		}
		f, err := os.Open(os.DevNull) // take the client's descriptor back
		if err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, f)
	}
	if code, err := get(held, heldR); code != 200 {
		t.Errorf("the open connection while out of descriptors: %d, %v", code, err)
	}
	if n := refused.Load(); n != 2 {
		t.Errorf("%d refusals counted, want 2", n)
	}

	release()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if code, err := get(c, bufio.NewReader(c)); code != 200 {
		t.Errorf("after descriptors were freed: %d, %v", code, err)
	}
	out := logs.String()
	if n := strings.Count(out, "out of file descriptors"); n != 1 {
		t.Errorf("shortage logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "accepting connections again"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, out)
	}
}
