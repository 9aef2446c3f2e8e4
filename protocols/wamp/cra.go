package wamp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// WAMP-CRA [WAMP "Challenge-Response Authentication"], salted: the authid
// is an API key's id whose config has a wampcra block (auth.WAMPCRA); the
// CHALLENGE carries the key's salt, iterations and keylen, and the
// client's AUTHENTICATE signature is checked by the authenticator chain,
// which gives the session the key's principal and permissions. An authid
// without such a key gets a challenge all the same, with parameters made
// up from it, and fails at AUTHENTICATE: the challenge does not tell which
// authids exist.

// decoyKey makes the made-up parameters of unknown authids, the same for
// an authid within a process.
var decoyKey = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}()

// challengeCRA answers a HELLO asking for wampcra with a CHALLENGE.
func (c *conn) challengeCRA(m *Hello) error {
	authid := dictString(m.Details, "authid")
	if authid == "" {
		c.s.Metrics().ProtocolError(Name, "unauthorized")
		return c.abort(errAuthFailed, "wampcra needs an authid", bridge.ClosePolicy)
	}
	params, ok := c.s.CRAParams(authid)
	if !ok {
		mac := hmac.New(sha256.New, decoyKey)
		mac.Write([]byte(authid))
		params.Salt = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:16]
		params.Iterations, params.KeyLen = 1000, 32
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	c.session = newID()
	ch, _ := json.Marshal(map[string]any{
		"authid":       authid,
		"authrole":     "user",
		"authmethod":   "wampcra",
		"authprovider": "wsgate",
		"nonce":        base64.StdEncoding.EncodeToString(nonce),
		"timestamp":    time.Now().UTC().Format(time.RFC3339Nano),
		"session":      c.session,
	})
	c.hello, c.challenge = m, string(ch)
	c.state.Store(stateChallenged)
	c.send(&Challenge{AuthMethod: "wampcra", Extra: Dict{
		"challenge":  c.challenge,
		"salt":       params.Salt,
		"iterations": int64(params.Iterations),
		"keylen":     int64(params.KeyLen),
	}})
	return nil
}
