package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// rolling measures the reconnect curve of a rolling restart: two gateways
// on one NATS (the nats-server reference), --idle JSON clients on the
// first; the first gets SIGTERM and each client, when its connection
// closes, dials the second at once, as a client behind a balancer would
// land on another gateway. It runs twice: with gateway.lame_duck_window 0
// (every connection closed at once) and with --lame-duck-window, and
// reports when the closes came (after the SIGTERM), when the clients were
// connected again, and the most reconnections the second gateway took in
// any 100 ms: the herd a restart sends to the rest of the deployment.
func (o *Options) rolling(t *target) ([]figure, string, error) {
	if t.name != "wsgate" {
		return nil, "", errors.New("rolling: runs on the wsgate target only (it starts two gateways)")
	}
	var figs []figure
	for _, w := range []time.Duration{0, o.LameDuckWindow} {
		f, err := o.rollingOnce(w)
		if err != nil {
			return figs, "", err
		}
		figs = append(figs, f...)
	}
	return figs, fmt.Sprintf("clients=%d", o.Idle), nil
}

// rollingOnce is one rolling restart with lame_duck_window w.
func (o *Options) rollingOnce(w time.Duration) ([]figure, error) {
	nt, err := startNATSReference(false, serverOpts{})
	if err != nil {
		return nil, err
	}
	defer nt.stop()
	dirs := make([]string, 2)
	for i := range dirs {
		if dirs[i], err = os.MkdirTemp("", "wsgate-bench"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dirs[i])
	}
	// shutdown_timeout must cover the window and the drain after it.
	cfg := fmt.Sprintf("gateway:\n  lame_duck_window: %s\n  shutdown_timeout: %s\n", w, w+20*time.Second)
	a, err := startWsgateOn(dirs[0], cfg, nt.natsURL, o.servers())
	if err != nil {
		return nil, err
	}
	defer a.stop()
	b, err := startWsgateOn(dirs[1], "", nt.natsURL, o.servers())
	if err != nil {
		return nil, err
	}
	defer b.stop()

	conns, _, err := o.openConns(a, o.Idle, nil)
	if err != nil {
		return nil, err
	}
	n := len(conns)
	closed := make([]time.Duration, n)
	back := make([]time.Duration, n)
	var failed int
	var mu sync.Mutex
	var wg sync.WaitGroup
	var start time.Time
	started := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), w+60*time.Second)
	defer cancel()
	// Reconnections are dialled o.Concurrency at a time, as openConns
	// dials; a client that waits for a slot has still closed when it did.
	slots := make(chan struct{}, o.Concurrency)
	for i, c := range conns {
		wg.Go(func() {
			for { // until the gateway closes it
				if _, _, err := c.ws.ReadMessage(); err != nil {
					break
				}
			}
			<-started
			closed[i] = time.Since(start)
			slots <- struct{}{}
			defer func() { <-slots }()
			for {
				nc, err := dial(ctx, b)
				if err == nil {
					back[i] = time.Since(start)
					mu.Lock()
					conns[i] = nc
					mu.Unlock()
					return
				}
				if ctx.Err() != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	start = time.Now()
	close(started)
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil, err
	}
	wg.Wait()
	closeAll(conns)

	if failed > 0 {
		return nil, fmt.Errorf("rolling: %d of %d clients did not get back", failed, n)
	}
	slices.Sort(closed)
	slices.Sort(back)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	peak := 0
	for i, j := 0, 0; i < n; i++ { // the most reconnections in any 100 ms
		for back[i]-back[j] >= 100*time.Millisecond {
			j++
		}
		peak = max(peak, i-j+1)
	}
	name := func(s string) string { return fmt.Sprintf("window %s: %s", w, s) }
	return []figure{
		{name("first close"), ms(closed[0]), "ms"},
		{name("last close"), ms(closed[n-1]), "ms"},
		{name("reconnected p50"), ms(back[n/2]), "ms"},
		{name("reconnected p99"), ms(back[n*99/100]), "ms"},
		{name("all reconnected"), ms(back[n-1]), "ms"},
		{name("peak reconnections per 100 ms"), float64(peak), ""},
	}, nil
}
