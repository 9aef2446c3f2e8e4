package bridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/subjects"
)

// The message tap's bounds: a tap is a look at a subject's traffic, never
// a second consumer of it.
const (
	// tapRate is how many messages a second a tap sends at most; the
	// rest are counted and reported as dropped.
	tapRate = 50
	// tapMaxData is how many bytes of a message's payload a tap shows.
	tapMaxData = 2048
	// tapMaxDuration ends a tap the browser forgot.
	tapMaxDuration = 10 * time.Minute
	// maxTaps is how many taps a gateway serves at once.
	maxTaps = 8
	// tapBuffer is how many messages wait for the tap's writer; more
	// are dropped, so NATS never waits for a browser.
	tapBuffer = 64
	// tapKeepAlive is how often a quiet tap sends a comment, so that
	// proxies keep the stream open and a gone browser is noticed.
	tapKeepAlive = 15 * time.Second
)

// ErrTapSubject refuses a subject that cannot be tapped.
var ErrTapSubject = errors.New("bridge: subject cannot be tapped")

// TapMessage is one event of a tap (event: message).
type TapMessage struct {
	Subject string              `json:"subject"`
	Reply   string              `json:"reply,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	// Size is the payload's length; Data is at most tapMaxData bytes of
	// it, as text when it is UTF-8, else base64 (Encoding says which).
	Size      int    `json:"size"`
	Data      string `json:"data"`
	Encoding  string `json:"encoding"`
	Truncated bool   `json:"truncated,omitempty"`
}

// checkTapSubject accepts a subject or pattern that can match no reserved
// subject: a valid one whose first token is a literal (no wildcard could
// reach the gateway's own subjects, $ system subjects or _INBOX replies)
// outside the reserved prefix.
func (g *Gateway) checkTapSubject(subject string) error {
	if err := subjects.ValidatePattern(subject); err != nil {
		return fmt.Errorf("%w: %w", ErrTapSubject, err)
	}
	first, _, _ := strings.Cut(subject, ".")
	switch {
	case first == "*" || first == ">":
		return fmt.Errorf("%w: %q: the first token must not be a wildcard", ErrTapSubject, subject)
	case subjects.IsReserved(subject, g.cfg.ReservedPrefix):
		return fmt.Errorf("%w: %q is reserved", ErrTapSubject, subject)
	}
	return nil
}

// getTap is GET /admin/api/tap?subject=...: the messages on a subject (a
// pattern may have wildcards after its first token) as Server-Sent
// Events, "message" events of TapMessage JSON and "dropped" events of
// {"dropped":n}, at most tapRate a second, until the client goes, the
// gateway shuts down or tapMaxDuration passes ("end" event).
func (g *Gateway) getTap(w http.ResponseWriter, r *http.Request) {
	subject := r.URL.Query().Get("subject")
	if err := g.checkTapSubject(subject); err != nil {
		writeJSONError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "bridge: "))
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeJSONError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	if g.taps.Add(1) > maxTaps {
		g.taps.Add(-1)
		writeJSONError(w, http.StatusTooManyRequests, "too many taps open: at most "+itoa(maxTaps))
		return
	}
	defer g.taps.Add(-1)

	ch := make(chan *nats.Msg, tapBuffer)
	var dropped atomic.Int64
	sub, err := g.nc.Subscribe(subject, func(m *nats.Msg) {
		select {
		case ch <- m:
		default:
			dropped.Add(1)
		}
	})
	if err != nil {
		writeJSONError(w, http.StatusBadGateway, err.Error())
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := g.nc.FlushTimeout(g.cfg.RequestTimeout); err != nil {
		writeJSONError(w, http.StatusBadGateway, err.Error())
		return
	}
	g.log.Info("admin console: tap started", "subject", subject, "remote", r.RemoteAddr)
	defer g.log.Info("admin console: tap ended", "subject", subject, "remote", r.RemoteAddr)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "event: open\ndata: %s\n\n", mustJSON(map[string]string{"subject": subject, "gateway": g.id}))
	fl.Flush()

	end := time.NewTimer(tapMaxDuration)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	quiet := time.Now()
	var sent int // in the current second
	for {
		select {
		case <-r.Context().Done():
			return
		case <-g.tapsQuit:
			fmt.Fprint(w, "event: end\ndata: {\"reason\":\"gateway shutting down\"}\n\n")
			fl.Flush()
			return
		case <-end.C:
			fmt.Fprint(w, "event: end\ndata: {\"reason\":\"tap open too long\"}\n\n")
			fl.Flush()
			return
		case m := <-ch:
			if sent >= tapRate {
				dropped.Add(1)
				continue
			}
			sent++
			fmt.Fprintf(w, "event: message\ndata: %s\n\n", mustJSON(tapMessage(m)))
			fl.Flush()
			quiet = time.Now()
		case now := <-tick.C:
			sent = 0
			if n := dropped.Swap(0); n > 0 {
				fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", n)
				fl.Flush()
				quiet = now
			} else if now.Sub(quiet) >= tapKeepAlive {
				fmt.Fprint(w, ": keep-alive\n\n")
				fl.Flush()
				quiet = now
			}
		}
	}
}

func tapMessage(m *nats.Msg) TapMessage {
	t := TapMessage{Subject: m.Subject, Reply: m.Reply, Size: len(m.Data), Encoding: "text"}
	if len(m.Header) > 0 {
		t.Headers = m.Header
	}
	data := m.Data
	if len(data) > tapMaxData {
		data, t.Truncated = data[:tapMaxData], true
		for n := 1; n < utf8.UTFMax && !utf8.Valid(data); n++ {
			if utf8.Valid(data[:tapMaxData-n]) { // text with a rune cut in two
				data = data[:tapMaxData-n]
			}
		}
	}
	if utf8.Valid(data) {
		t.Data = string(data)
	} else {
		t.Data, t.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
	}
	return t
}

// mustJSON is v as one line of JSON, < and > as they are (a subject's
// wildcard reads better so, and an event stream is no HTML).
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
