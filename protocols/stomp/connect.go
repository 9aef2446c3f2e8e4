package stomp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
)

// authTimeout bounds the authentication of a CONNECT.
const authTimeout = 10 * time.Second

// supportedVersions is the version header of an ERROR refusing a CONNECT
// whose accept-version names none of ours.
const supportedVersions = "1.0,1.1,1.2"

// negotiate picks the highest version in accept-version: "the server will
// respond with the highest version of the protocol that both the client
// and the server support", and a CONNECT without the header is STOMP 1.0
// [STOMP-1.2 "Protocol Negotiation"].
func negotiate(f *Frame) (Version, bool) {
	av, ok := f.Get("accept-version")
	if !ok {
		return V10, true
	}
	var best Version
	for v := range strings.SplitSeq(av, ",") {
		switch strings.TrimSpace(v) {
		case "1.0":
			best = max(best, V10)
		case "1.1":
			best = max(best, V11)
		case "1.2":
			best = max(best, V12)
		}
	}
	return best, best != 0
}

// parseHeartBeat parses a heart-beat header "cx,cy" in milliseconds.
func parseHeartBeat(s string) (cx, cy time.Duration, err error) {
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return 0, 0, fmt.Errorf("heart-beat %q is not two numbers", short(s))
	}
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 31)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 31)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("heart-beat %q is not two numbers", short(s))
	}
	return time.Duration(x) * time.Millisecond, time.Duration(y) * time.Millisecond, nil
}

// agree is a heart-beat interval both sides accept: none if either
// refuses, else the larger of the two [STOMP-1.2 "Heart-beating"].
func agree(a, b time.Duration) time.Duration {
	if a <= 0 || b <= 0 {
		return 0
	}
	return max(a, b)
}

func millis(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// connect handles CONNECT and STOMP.
func (c *conn) connect(f *Frame) error {
	v, ok := negotiate(f)
	if !ok {
		// "If the client and server do not share any common protocol
		// versions, then the server MUST respond with an ERROR frame" with
		// a version header listing its versions [STOMP-1.2 "Protocol
		// Negotiation"].
		e := errorFrame(f, "unsupported protocol version", "supported versions are "+supportedVersions)
		e.Add("version", supportedVersions)
		c.quiet.Store(true)
		c.write(e)
		c.s.Metrics().ProtocolError(Name, "version")
		return &bridge.CloseError{Code: bridge.CloseProtocolError, Reason: "unsupported protocol version"}
	}
	var cx, cy time.Duration
	if hb, ok := f.Get("heart-beat"); ok && v >= V11 {
		var err error
		if cx, cy, err = parseHeartBeat(hb); err != nil {
			return c.fail(f, "invalid heart-beat", bridge.CloseProtocolError, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	_, err := c.s.Authenticate(ctx, &auth.Credentials{Username: f.Value("login"), Password: f.Value("passcode")})
	cancel()
	if err != nil {
		msg := "access refused"
		if errors.Is(err, auth.ErrNoCredentials) {
			msg = "credentials required"
		}
		return c.fail(f, msg, bridge.ClosePolicy, err)
	}
	c.version.Store(uint32(v))
	c.connected = true

	sx, sy := max(c.p.cfg.HeartbeatSend, 0), max(c.p.cfg.HeartbeatReceive, 0)
	c.sendEvery = agree(sx, cy)
	c.recvEvery = agree(cx, sy)
	resp := &Frame{Command: CmdConnected}
	if v >= V11 {
		resp.Add("version", v.String())
		resp.Add("heart-beat", millis(sx)+","+millis(sy))
	}
	resp.Add("server", "wsgate/"+c.p.version)
	resp.Add("session", c.s.ID())
	c.write(resp)
	if c.sendEvery > 0 || c.recvEvery > 0 {
		c.p.hb.Add(c)
	}
	c.goLive()
	return nil
}
