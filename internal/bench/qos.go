package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// qos measures MQTT publishing at QoS 1: one publisher keeps Window
// (default 100 here) messages unacknowledged, one subscriber at the same
// QoS acknowledges everything; it reports acknowledged publishes per second
// and the end-to-end latency of the deliveries (--persistent-sub: the
// subscriber has a persistent session, so every message is stored for it).
// At QoS 2 the publisher
// answers PUBREC with PUBREL and its window slot frees at PUBCOMP.
func (o *Options) qos(t *target, qos byte) ([]figure, error) {
	if t.kind != "mqtt" {
		return nil, fmt.Errorf("qos%d needs an MQTT target", qos)
	}
	topic := fmt.Sprintf("bench/qos%d", qos)
	ctx := context.Background()
	var connect []byte // a clean session
	if o.PersistentSub {
		connect = mqttConnect(fmt.Sprintf("bench-qos%d-sub", qos), false)
	}
	sub, err := dialMQTT(ctx, t, connect)
	if err != nil {
		return nil, err
	}
	defer sub.close()
	if err := sub.mqttExchange(mqttPacket(0x82, append(mqttString([]byte{0, 1}, topic), qos)), 0x90); err != nil {
		return nil, err
	}
	pub, err := dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer pub.close()

	// The publisher's socket is written by the publishing loop and, at
	// QoS 2, by its reader's PUBRELs: gorilla/websocket allows one writer.
	var pubMu sync.Mutex
	pubWrite := func(b []byte) error {
		pubMu.Lock()
		defer pubMu.Unlock()
		return pub.ws.WriteMessage(websocket.BinaryMessage, b)
	}
	var hist histogram
	var delivered atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(2)
	subGone := make(chan struct{})
	go func() { // the subscriber acknowledges what it gets
		defer wg.Done()
		defer close(subGone)
		for {
			err := sub.mqttRead(func(typ byte, p []byte) {
				switch typ >> 4 {
				case 3: // PUBLISH
					n := int(p[0])<<8 | int(p[1])
					id := p[2+n : 4+n]
					if _, sent, ok := parsePayload(p[4+n:]); ok {
						hist.record(time.Duration(time.Now().UnixNano() - sent))
					}
					delivered.Add(1)
					ack := byte(0x40) // PUBACK
					if (typ>>1)&3 == 2 {
						ack = 0x50 // PUBREC
					}
					_ = sub.ws.WriteMessage(websocket.BinaryMessage, []byte{ack, 2, id[0], id[1]})
				case 6: // PUBREL
					_ = sub.ws.WriteMessage(websocket.BinaryMessage, []byte{0x70, 2, p[0], p[1]})
				}
			})
			if err != nil {
				return
			}
		}
	}()
	window := o.window("qos")
	tokens := make(chan struct{}, window)
	for range window {
		tokens <- struct{}{}
	}
	var acked atomic.Uint64
	go func() { // the publisher's acknowledgements free the window
		defer wg.Done()
		for {
			err := pub.mqttRead(func(typ byte, p []byte) {
				switch typ >> 4 {
				case 4, 7: // PUBACK, PUBCOMP
					acked.Add(1)
					tokens <- struct{}{}
				case 5: // PUBREC
					_ = pubWrite([]byte{0x62, 2, p[0], p[1]})
				}
			})
			if err != nil {
				return
			}
		}
	}()

	var id uint16
	first := byte(0x30 | qos<<1)
	publish := func(until time.Time) error {
		for time.Now().Before(until) {
			select {
			case <-tokens:
			case <-time.After(5 * time.Second):
				return errors.New("no acknowledgement for 5s")
			}
			id++
			if id == 0 {
				id = 1
			}
			body := mqttString(nil, topic)
			body = append(body, byte(id>>8), byte(id))
			body = append(body, makePayload(o.Size, uint64(id), time.Now().UnixNano())...)
			if err := pubWrite(mqttPacket(first, body)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := publish(time.Now().Add(time.Second)); err != nil {
		return nil, err
	}
	hist.reset()
	a0, cpu0 := acked.Load(), cpuOf(t)
	start := time.Now()
	err = publish(start.Add(o.Duration))
	elapsed := time.Since(start)
	a1, cpu1 := acked.Load(), cpuOf(t)
	d1 := delivered.Load()
	select {
	case <-subGone:
		err = fmt.Errorf("the subscriber was disconnected after %d deliveries (slow consumer?)", d1)
	default:
	}
	sub.close()
	pub.close()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if d1 < a1*9/10 {
		return nil, fmt.Errorf("the subscriber got %d of %d acknowledged messages", d1, a1)
	}
	n := float64(a1 - a0)
	figs := []figure{
		{"acked publishes/s", n / elapsed.Seconds(), ""},
		{"p50 latency", float64(hist.percentile(0.50).Microseconds()), "µs"},
		{"p99 latency", float64(hist.percentile(0.99).Microseconds()), "µs"},
	}
	if cpu1 > 0 && n > 0 {
		figs = append(figs, figure{"server CPU/message", float64((cpu1 - cpu0).Nanoseconds()) / n / 1000, "µs"})
	}
	return figs, nil
}
