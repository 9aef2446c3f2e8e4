package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// WAMP clients of the wsgate-wamp target speak wamp.2.json; the messages
// they need are few enough to write and read by hand.

// wampJoin sends HELLO and waits for WELCOME.
func (c *conn) wampJoin() error {
	return c.wampExchange(`[1,"realm1",{"roles":{"subscriber":{},"caller":{}}}]`, "[2,")
}

// wampExchange sends a message and reads until one starting with want.
func (c *conn) wampExchange(msg, want string) error {
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return err
	}
	return c.readUntil(func(b []byte) (bool, error) {
		if bytes.HasPrefix(b, []byte("[3,")) || bytes.HasPrefix(b, []byte("[6,")) || bytes.HasPrefix(b, []byte("[8,")) {
			return false, fmt.Errorf("wamp: %s", b)
		}
		return bytes.HasPrefix(b, []byte(want)), nil
	})
}

// wampPayload finds the first argument of an EVENT
// ([36,sub,pub,{details},["<payload>"]]).
func wampPayload(b []byte) ([]byte, bool) {
	if !bytes.HasPrefix(b, []byte("[36,")) {
		return nil, false
	}
	i := bytes.LastIndex(b, []byte(`,["`))
	if i < 0 {
		return nil, false
	}
	return b[i+2:], true
}

// calls measures two-way calls to a NATS worker: --subscribers callers (at
// most 100) each keep one call waiting and send the next when its answer
// comes — a WAMP CALL and its RESULT (wsgate-wamp), or the JSON protocol's
// built-in request route and its reply (wsgate), so that the two are
// measured alike; it reports calls per second, round-trip latency and the
// server's CPU per call.
func (o *Options) calls(t *target) ([]figure, error) {
	if (t.kind != "wamp" && t.kind != kindWAMPMsgpack && t.kind != "json") || t.natsURL == "" {
		return nil, fmt.Errorf("calls needs the wsgate-wamp, wsgate-wamp-msgpack or wsgate target")
	}
	call, answer := wampCall, []byte("[50,")
	isAnswer := func(b []byte) bool { return bytes.HasPrefix(b, answer) }
	msgType := websocket.TextMessage
	switch t.kind {
	case "json":
		call, answer = jsonCall, []byte(`{"type":"reply"`)
	case kindWAMPMsgpack:
		call, isAnswer, msgType = msgpackCall, isMsgpackResult, websocket.BinaryMessage
	}
	nc, err := nats.Connect(t.natsURL, nats.Name("wsgate-bench-worker"))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	// The worker answers with the arguments it got: the payload comes back.
	if _, err := nc.QueueSubscribe("bench.echo", "bench", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	n := min(o.Subscribers, 100)
	conns, _, err := o.openConns(t, n, nil)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)

	var hist histogram
	var done atomic.Uint64
	var failed atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				msg := call(seq, makePayload(o.Size, seq, sent.UnixNano()))
				if err := c.ws.WriteMessage(msgType, msg); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, b, err := c.ws.ReadMessage()
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				if !isAnswer(b) {
					failed.CompareAndSwap(nil, fmt.Errorf("call answered %.200s", b))
					return
				}
				hist.record(time.Since(sent))
				done.Add(1)
			}
		}()
	}
	time.Sleep(time.Second) // warm up
	hist.reset()
	d0, cpu0 := done.Load(), cpuOf(t)
	start := time.Now()
	time.Sleep(o.Duration)
	elapsed := time.Since(start)
	d1, cpu1 := done.Load(), cpuOf(t)
	close(stop)
	closeAll(conns)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil && d1 == 0 {
		return nil, err
	}
	calls := float64(d1 - d0)
	figs := []figure{
		{"calls/s", calls / elapsed.Seconds(), ""},
		{"p50 latency", float64(hist.percentile(0.50).Microseconds()), "µs"},
		{"p99 latency", float64(hist.percentile(0.99).Microseconds()), "µs"},
	}
	if cpu1 > 0 && calls > 0 {
		figs = append(figs, figure{"server CPU/call", float64((cpu1 - cpu0).Nanoseconds()) / calls / 1000, "µs"})
	}
	return figs, nil
}

// wampCall is a WAMP CALL of bench.echo with the payload as its argument.
func wampCall(seq uint64, p []byte) []byte {
	msg := append([]byte("[48,"+strconv.FormatUint(seq, 10)+`,{},"bench.echo",[`), p...)
	return append(msg, "]]"...)
}

// jsonCall is the JSON protocol's built-in request of bench.echo.
func jsonCall(seq uint64, p []byte) []byte {
	msg := append([]byte(`{"action":"request","subject":"bench.echo","id":`+strconv.FormatUint(seq, 10)+`,"data":`), p...)
	return append(msg, '}')
}
