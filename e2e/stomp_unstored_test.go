package e2e

import (
	"os"
	"syscall"
	"testing"
)

// TestSTOMPDurableNotStored: a durable SEND that JetStream does not
// acknowledge within stomp.request_timeout (its NATS server hangs) gets an
// ERROR that says so and a close with 1013 (try again later), not a
// protocol error: the frame was fine.
func TestSTOMPDurableNotStored(t *testing.T) {
	long(t)
	nats, url := startNATSServer(t)
	g := startGateway(t, gwOpts{NATSURL: url, Config: `
stomp:
  durable_queues: ["/queue/kept"]
  request_timeout: 1s
`})
	r := dialStompRaw(t, g, "/stomp", "v12.stomp")
	r.connect("accept-version:1.2", "host:/")
	r.send("SEND\ndestination:/queue/kept\nreceipt:1\n\nstored\x00")
	if f := r.expect("RECEIPT"); f.hdr["receipt-id"] != "1" {
		t.Fatalf("receipt %v", f.hdr)
	}

	if err := nats.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nats.cmd.Process.Signal(syscall.SIGCONT) }()
	r.send("SEND\ndestination:/queue/kept\nreceipt:2\n\nnot stored\x00")
	f := r.expectErrorClose("message not stored, try again")
	if f.hdr["receipt-id"] != "2" {
		t.Errorf("ERROR headers %v", f.hdr)
	}
	if code := r.closeCode; code != 1013 {
		t.Errorf("close code %d, want 1013", code)
	}
}

// startNATSServer runs one nats-server process with JetStream (built from
// go.mod's module) and returns it with its client URL.
func startNATSServer(t *testing.T) (*process, string) {
	t.Helper()
	bin := goBuild(t, t.TempDir(), "nats-server", "github.com/nats-io/nats-server/v2")
	addr := freeAddr(t)
	p := startProcess(t, "nats-server", bin, []string{"--addr", "127.0.0.1", "--port", port(t, addr),
		"--jetstream", "--store_dir", t.TempDir()}, os.Interrupt)
	return p, "nats://" + addr
}
