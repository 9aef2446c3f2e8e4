package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestWAMPNode runs the Autobahn|JS and Wampy.js tests in e2e/js against a
// gateway, with the NATS workers they call.
func TestWAMPNode(t *testing.T) {
	long(t)
	node, dir := nodeModules(t, "js", "wampy")
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	reply := func(subject string, fn func(m *nats.Msg)) {
		sub, err := nc.Subscribe(subject, fn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Unsubscribe() })
	}
	reply("js.wamp.add", func(m *nats.Msg) {
		var args []float64
		_ = json.Unmarshal(m.Data, &args)
		sum := 0.0
		for _, a := range args {
			sum += a
		}
		b, _ := json.Marshal([]float64{sum})
		m.Respond(b)
	})
	reply("js.wamp.echo", func(m *nats.Msg) { m.Respond(m.Data) })
	reply("js.wamp.fail", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("Wamp-Error", "com.example.error.failed")
		r.Data = []byte(`{"args":["nope"],"kwargs":{"code":7}}`)
		m.RespondMsg(r)
	})
	reply("js.wamp.slow", func(*nats.Msg) {})
	reply("js.wamp.count", func(m *nats.Msg) {
		if m.Header.Get("Wamp-Receive-Progress") == "1" {
			for _, p := range []string{"1", "2"} {
				r := nats.NewMsg(m.Reply)
				r.Header.Set("Wamp-Progress", "1")
				r.Data = []byte(p)
				m.RespondMsg(r)
			}
		}
		m.Respond([]byte(`"done"`))
	})
	nc.Flush()
	cmd := exec.Command(node, "--test", "wamp.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WSGATE_URL="+g.WS("/"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test e2e/js/wamp.test.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
