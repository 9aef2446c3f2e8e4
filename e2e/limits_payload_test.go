package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// jsonPublishOf is a built-in publish message of exactly size bytes, and
// the payload it carries to NATS.
func jsonPublishOf(t *testing.T, subject string, size int) (msg []byte, payload int) {
	t.Helper()
	head := `{"action":"publish","subject":"` + subject + `","data":"`
	tail := `"}`
	payload = size - len(head) - len(tail)
	msg = []byte(head + strings.Repeat("j", payload) + tail)
	if len(msg) != size {
		t.Fatalf("message of %d bytes, want %d", len(msg), size)
	}
	return msg, payload
}

// expectBig waits on sub for a message of n bytes sent by protocol.
func expectBig(t *testing.T, sub *nats.Subscription, protocol string, n int) {
	t.Helper()
	m := nextMsg(t, sub)
	if len(m.Data) != n || m.Header.Get("Wsgate-Protocol") != protocol {
		t.Fatalf("got %d bytes from %q, want %d from %s", len(m.Data), m.Header.Get("Wsgate-Protocol"), n, protocol)
	}
}

// TestPayloadAtLimit sends a client message of exactly the configured
// limit over JSON, STOMP and MQTT and expects it at a NATS subscriber: the
// embedded server's max_payload leaves room for the gateway's headers.
func TestPayloadAtLimit(t *testing.T) {
	const limit = 1 << 20
	g := startGateway(t, gwOpts{Config: fmt.Sprintf(`
gateway:
  max_message_bytes: %d
stomp:
  max_frame_bytes: %d
mqtt:
  max_packet_size: %d
`, limit, limit, limit)})
	nc := natsConn(t, g.NATSURL)
	sub, err := nc.SubscribeSync("e2e.big")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	t.Run("json", func(t *testing.T) {
		c := dial(t, g.WS("/"), nil)
		msg, n := jsonPublishOf(t, "e2e.big", limit)
		c.with(t).send(msg)
		expectBig(t, sub, "json", n)
	})

	t.Run("stomp", func(t *testing.T) {
		r := dialStompRaw(t, g, "/stomp", "v12.stomp")
		r.connect("accept-version:1.2", "host:x")
		// A SEND frame of exactly limit bytes, NUL included.
		n := limit
		var frame string
		for range 3 { // content-length's digits depend on n
			head := "SEND\ndestination:/topic/e2e.big\ncontent-length:" + strconv.Itoa(n) + "\n\n"
			n = limit - len(head) - 1
			frame = head + strings.Repeat("s", n) + "\x00"
		}
		if len(frame) != limit {
			t.Fatalf("frame of %d bytes, want %d", len(frame), limit)
		}
		r.send(frame)
		expectBig(t, sub, "stomp", n)
	})

	t.Run("mqtt", func(t *testing.T) {
		r := dialRaw(t, g, mqtt.V311)
		r.connect(&mqtt.Connect{ClientID: "big", CleanStart: true}, mqtt.Properties{})
		if ack := r.expect(mqtt.CONNACK); ack.Reason != 0 {
			t.Fatalf("CONNACK 0x%02x", ack.Reason)
		}
		// A PUBLISH of exactly limit bytes: fixed header (1 + 3 bytes of
		// remaining length), topic (2 + 7), payload.
		n := limit - 1 - 3 - 2 - len("e2e/big")
		b := (&mqtt.Packet{Type: mqtt.PUBLISH, Topic: "e2e/big", Payload: []byte(strings.Repeat("m", n))}).Encode(nil, mqtt.V311)
		if len(b) != limit {
			t.Fatalf("packet of %d bytes, want %d", len(b), limit)
		}
		r.write(b)
		expectBig(t, sub, "mqtt", n)
	})
}

// startNATS runs a nats-server with JetStream and the given max_payload
// in the test process.
func startNATS(t *testing.T, maxPayload int32) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(), MaxPayload: maxPayload,
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}

// TestPayloadExternalNATS checks the gateway against an external NATS whose
// max_payload is smaller than a client message at the limits: a limit the
// config sets is refused at start, naming the key and both numbers; limits
// left at their defaults are lowered to fit, and hold.
func TestPayloadExternalNATS(t *testing.T) {
	const maxPayload = 256 << 10
	const fit = maxPayload - 64<<10 // the header room
	url := startNATS(t, maxPayload)

	t.Run("a set limit that does not fit", func(t *testing.T) {
		f := writeFile(t, "big.yaml", "gateway:\n  max_message_bytes: 1048576\n")
		start := time.Now()
		_, errOut, code := runCLI(t, "run", "--config", f, "--nats-url", url, "--listen", "127.0.0.1:0")
		if time.Since(start) > 10*time.Second {
			t.Errorf("took %s to refuse", time.Since(start).Round(time.Millisecond))
		}
		for _, want := range []string{
			"gateway.max_message_bytes (1048576)", "max_payload is 262144 bytes",
			"at least 1114112", "at most " + strconv.Itoa(fit),
		} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("exit %d, stderr %q: want %q", code, errOut, want)
			}
		}
		if strings.Contains(errOut, "wsgate listening") {
			t.Errorf("started: %q", errOut)
		}
	})

	t.Run("defaults lowered", func(t *testing.T) {
		g := startGateway(t, gwOpts{NATSURL: url})
		lowered := map[string]any{"max_payload": maxPayload, "gateway.max_message_bytes": fit,
			"stomp.max_frame_bytes": fit, "mqtt.max_packet_size": fit}
		if !g.hasLog("client message limits lowered to fit NATS max_payload (set them, or raise max_payload)", lowered) {
			t.Errorf("no warning with %v:\n%s", lowered, g.logText())
		}
		nc := natsConn(t, url)
		sub, err := nc.SubscribeSync("e2e.fit")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		c := dial(t, g.WS("/"), http.Header{})
		msg, n := jsonPublishOf(t, "e2e.fit", fit)
		c.send(msg)
		expectBig(t, sub, "json", n)

		msg, _ = jsonPublishOf(t, "e2e.fit", fit+1)
		c.send(msg)
		if ce := c.closeErr(10 * time.Second); ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("a message over the lowered limit: close %d %q, want 1009", ce.Code, ce.Text)
		}
	})
}
