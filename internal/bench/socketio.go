package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/subjects"
)

// Socket.IO clients of the wsgate-socketio target speak Engine.IO v4 over
// a WebSocket from the start (transports: ["websocket"]) in the main
// namespace. A subscription is a room: the route join puts the client in
// the room named by the subject; a NATS publisher publishes on the room's
// subject, and a WebSocket publisher emits say(<subject>, payload), which
// the route say publishes there. Deliveries are EVENTs whose last
// argument is the payload.

// sioConfig is the gateway's config for the target. The server's ping is
// hourly so that idle clients, which read nothing, stay connected
// whatever --hold says; every other setting is the default.
const sioConfig = `socketio:
  ping_interval: 1h
  routes:
    join: {integration: join}
    say: {subject: "sio-room.{namespace}.{arg0}"}
`

// startSocketIO runs wsgate with sioConfig.
func startSocketIO(dir string, so serverOpts) (*target, error) {
	t, err := startWsgate(dir, sioConfig, so)
	if err != nil {
		return nil, err
	}
	t.name, t.kind, t.wsURL = "wsgate-socketio", "socketio", t.wsURL+"socket.io/?EIO=4&transport=websocket"
	return t, nil
}

// sioRoomSubject is the NATS subject of the room a subscriber joined for
// subject: the main namespace's room, its name escaped into one token.
func sioRoomSubject(subject string) (string, error) {
	tok, err := subjects.EscapeToken(subject)
	if err != nil {
		return "", err
	}
	return "sio-room._." + tok, nil
}

// sioConnect reads the open packet and connects the main namespace.
func (c *conn) sioConnect() error {
	if err := c.sioUntil("0"); err != nil {
		return err
	}
	return c.sioExchange("40", "40")
}

// sioExchange sends a packet and reads until one starting with want,
// answering pings.
func (c *conn) sioExchange(msg, want string) error {
	if err := c.write(websocket.TextMessage, []byte(msg)); err != nil {
		return err
	}
	return c.sioUntil(want)
}

// sioUntil reads until a packet starting with want, answering pings.
func (c *conn) sioUntil(want string) error {
	return c.readUntil(func(b []byte) (bool, error) {
		switch {
		case bytes.HasPrefix(b, []byte("44")):
			return false, fmt.Errorf("socketio: %s", b)
		case string(b) == "2":
			return false, c.write(websocket.TextMessage, []byte("3"))
		}
		return bytes.HasPrefix(b, []byte(want)), nil
	})
}

// sioJoin joins the room subject and waits for the acknowledgement.
func (c *conn) sioJoin(subject string) error {
	return c.sioExchange(`421["join",`+strconv.Quote(subject)+`]`, "431")
}

// sioPayload finds an EVENT's last argument, the payload; a ping is
// answered (pong reports it).
func sioPayload(b []byte) (p []byte, pong bool, ok bool) {
	if string(b) == "2" {
		return nil, true, false
	}
	if !bytes.HasPrefix(b, []byte(`42[`)) || len(b) < 5 || b[len(b)-1] != ']' {
		return nil, false, false
	}
	// The payload is a JSON string (makePayload): the last one.
	end := len(b) - 1
	start := bytes.LastIndex(b[:end-1], []byte(`,"`))
	if start < 0 {
		return nil, false, false
	}
	return b[start+1 : end], false, true
}

// appendSIOEmit appends say(subject, payload).
func appendSIOEmit(dst []byte, subject string, payload []byte) []byte {
	dst = append(dst, `42["say",`...)
	dst = strconv.AppendQuote(dst, subject)
	dst = append(dst, ',')
	dst = append(dst, payload...)
	return append(dst, ']')
}

// sioHTTP is the polling clients' HTTP client: keep-alive connections
// enough for every dialer at once.
var sioHTTP = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second, TLSClientConfig: insecureClientTLS},
}

// dialSIOPolling opens a connection as socket.io-client does by default:
// the Engine.IO handshake and the namespace CONNECT over HTTP long-polling,
// then the upgrade to a WebSocket (2probe, 3probe, 5). The connection
// counts once it is upgraded; from then on it is a WebSocket like dial's.
func dialSIOPolling(ctx context.Context, t *target) (*conn, error) {
	base := "http" + strings.TrimPrefix(strings.Replace(t.wsURL, "transport=websocket", "transport=polling", 1), "ws")
	body, err := sioPoll(ctx, http.MethodGet, base, "")
	if err != nil {
		return nil, err
	}
	var open struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil || open.SID == "" {
		return nil, fmt.Errorf("socketio polling handshake: %q", body)
	}
	url := base + "&sid=" + neturl.QueryEscape(open.SID)
	if body, err = sioPoll(ctx, http.MethodPost, url, "40"); err != nil {
		return nil, err
	} else if body != "ok" {
		return nil, fmt.Errorf("socketio polling POST: %q", body)
	}
	// The CONNECT's answer comes in the first GET or, after a noop, a few
	// later; the server's ping (hourly in the bench) does not come first.
	for tries, connected := 0, false; !connected; tries++ {
		if tries == 10 {
			return nil, fmt.Errorf("socketio polling: no CONNECT answer in %d GETs", tries)
		}
		if body, err = sioPoll(ctx, http.MethodGet, url, ""); err != nil {
			return nil, err
		}
		for _, p := range strings.Split(body, "\x1e") {
			switch {
			case strings.HasPrefix(p, "40"):
				connected = true
			case strings.HasPrefix(p, "44"):
				return nil, fmt.Errorf("socketio: %s", p)
			}
		}
	}
	wsURL := strings.Replace(t.wsURL, "transport=websocket", "transport=websocket&sid="+neturl.QueryEscape(open.SID), 1)
	ws, _, err := dialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, err
	}
	c := &conn{kind: t.kind, ws: ws}
	if err := c.sioExchange("2probe", "3probe"); err != nil {
		ws.Close()
		return nil, fmt.Errorf("socketio upgrade: %w", err)
	}
	if err := c.write(websocket.TextMessage, []byte("5")); err != nil {
		ws.Close()
		return nil, err
	}
	return c, nil
}

// sioPoll makes one polling request and returns its body.
func sioPoll(ctx context.Context, method, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := sioHTTP.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("socketio polling %s: HTTP %d %s", method, resp.StatusCode, b)
	}
	return string(b), nil
}

// startSocketIONode runs the Node socket.io server script in dir
// (server.mjs, see it for what it serves) on a free loopback port.
func startSocketIONode(dir string) (*target, error) {
	if dir == "" {
		d, err := findSocketIONode()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	script := filepath.Join(dir, "server.mjs")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("socketio-node: %w (set --socketio-node-dir to internal/bench/socketio-node of a wsgate checkout)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io", "package.json")); err != nil {
		return nil, fmt.Errorf("socketio-node: socket.io is not installed in %s: run `npm ci --prefix %s` first", dir, dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("socketio-node: %w (install Node.js 18 or later)", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, script, addr)
	if err := startReady(cmd, "socketio-node"); err != nil {
		return nil, err
	}
	return &target{name: "socketio-node", kind: "socketio", wsURL: "ws://" + addr + "/socket.io/?EIO=4&transport=websocket", pid: cmd.Process.Pid, cmd: cmd}, nil
}

// socketIONodeDir is where the Node server lives in a wsgate checkout.
const socketIONodeDir = "internal/bench/socketio-node"

// findSocketIONode looks for socketIONodeDir in the working directory and
// its parents, so that `wsgate bench` finds it anywhere in a checkout.
func findSocketIONode() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, filepath.FromSlash(socketIONodeDir))
		if _, err := os.Stat(filepath.Join(p, "server.mjs")); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("socketio-node: no %s/server.mjs in %s or a parent: run the bench from a wsgate checkout or set --socketio-node-dir", socketIONodeDir, wd)
		}
	}
}
