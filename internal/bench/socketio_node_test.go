package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSocketIONodeNotInstalled: without node_modules the target says how
// to install it.
func TestSocketIONodeNotInstalled(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "server.mjs"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := startSocketIONode(dir)
	if err == nil || !strings.Contains(err.Error(), "npm ci --prefix "+dir) {
		t.Fatalf("got %v, want the npm ci advice", err)
	}
}

// TestFindSocketIONode finds the server from this package's directory.
func TestFindSocketIONode(t *testing.T) {
	dir, err := findSocketIONode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(filepath.ToSlash(dir), socketIONodeDir) {
		t.Fatalf("found %s", dir)
	}
}

// TestSocketIONode runs the Node socket.io server as the bench does: a
// client joins a room over a WebSocket, another over polling upgraded to a
// WebSocket, and a third's say reaches both. It needs
// `npm ci --prefix internal/bench/socketio-node`.
func TestSocketIONode(t *testing.T) {
	if _, err := os.Stat(filepath.Join("socketio-node", "node_modules", "socket.io")); err != nil {
		t.Skip("socket.io not installed: npm ci --prefix internal/bench/socketio-node")
	}
	tg, err := startSocketIONode("socketio-node")
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := dial(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.close()
	polled, err := dialSIOPolling(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer polled.close()
	for _, c := range []*conn{ws, polled} {
		if err := c.subscribe("bench.fanout"); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := dial(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.close()
	want := makePayload(40, 1, 2)
	if err := pub.publish("bench.fanout", want); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*conn{ws, polled} {
		_ = c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		got := make(chan []byte, 1)
		err := c.readPayloads(func(p []byte) {
			got <- append([]byte(nil), p...)
			c.close() // ends readPayloads
		})
		select {
		case p := <-got:
			if string(p) != string(want) {
				t.Errorf("got %s, want %s", p, want)
			}
		default:
			t.Fatalf("no delivery: %v", err)
		}
	}
}
