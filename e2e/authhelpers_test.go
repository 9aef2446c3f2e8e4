package e2e

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// Helpers of the identity, permission and limit tests (auth_test.go,
// limits_test.go).

// newSecret returns a random 32-byte secret in hex: an API key or an admin
// token.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// keyHash is the form of a secret an api_keys or admin config stores:
// "sha256:" and its lower-case hex SHA-256 (what wsgate hash-key prints).
// It is computed here from the documented format rather than with
// auth.HashKey, so that a change of format shows up as a failure.
func keyHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// bearer is an Authorization header with a bearer token.
func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// tryDial attempts a WebSocket handshake and reports the HTTP status (101
// when it succeeded, 0 when there was no HTTP answer at all) and the body of
// a refusal. An accepted connection is closed when the test ends.
func tryDial(t *testing.T, d *websocket.Dialer, url string, hdr http.Header) (status int, body string, conn *websocket.Conn) {
	t.Helper()
	if d == nil {
		d = websocket.DefaultDialer
	}
	c, resp, err := d.Dial(url, hdr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
		return resp.StatusCode, "", c
	}
	if resp == nil {
		return 0, err.Error(), nil
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), nil
}

// refused dials url and checks the handshake is refused with status want.
func refused(t *testing.T, url string, hdr http.Header, want int) string {
	t.Helper()
	status, body, _ := tryDial(t, nil, url, hdr)
	if status != want {
		t.Fatalf("handshake: HTTP %d %q, want %d", status, body, want)
	}
	return body
}

// wantErr reads the next frame and checks it is an error frame with code.
func wantErr(c *client, code string) frame {
	c.t.Helper()
	f := c.next()
	if f.Type != "error" || f.Error != code {
		c.t.Fatalf("got %+v, want an error frame %q", f, code)
	}
	return f
}

// publishOK publishes data to subject with the built-in publish route and
// an id, and waits for the "published" answer.
func publishOK(c *client, subject string, data any) {
	c.t.Helper()
	c.send(map[string]any{"action": "publish", "subject": subject, "data": data, "id": subject})
	f := c.next()
	if f.Type != "published" || f.Subject != subject {
		c.t.Fatalf("publish %s: got %+v, want published", subject, f)
	}
}

// subscribeErr sends a built-in subscribe and checks it is refused with code.
func subscribeErr(c *client, pattern, code string) {
	c.t.Helper()
	c.send(map[string]any{"action": "subscribe", "subject": pattern})
	f := c.next()
	if f.Type != "error" || f.Error != code {
		c.t.Fatalf("subscribe %q: got %+v, want error %q", pattern, f, code)
	}
}

// publishErr sends a built-in publish and checks it is refused with code.
func publishErr(c *client, subject, code string) {
	c.t.Helper()
	// With an id, a publish that wrongly goes through answers "published"
	// at once instead of leaving the test waiting for a frame.
	c.send(map[string]any{"action": "publish", "subject": subject, "data": "x", "id": "refused"})
	f := c.next()
	if f.Type != "error" || f.Error != code {
		c.t.Fatalf("publish %q: got %+v, want error %q", subject, f, code)
	}
}

// workerSub subscribes a worker synchronously and makes the subscription
// live before returning.
func workerSub(t *testing.T, nc *nats.Conn, subject string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub
}

// httpGet makes a GET with hdr through client (nil: the default client)
// and returns the status and body.
func httpGet(t *testing.T, cl *http.Client, url string, hdr http.Header) (int, string) {
	t.Helper()
	if cl == nil {
		cl = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ---- JWT ----

// testIssuer is an identity provider: an RSA and an ECDSA signing key,
// published as a JWKS over plain HTTP (the gateway cannot trust a test CA,
// hence insecure_jwks_over_http).
type testIssuer struct {
	iss   string
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	jwks  *httptest.Server
	other *rsa.PrivateKey // a key the JWKS does not hold
}

const (
	kidRSA = "e2e-rsa"
	kidEC  = "e2e-ec"
)

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	is := &testIssuer{iss: "https://id.e2e.example/"}
	var err error
	if is.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	st := jwkset.NewMemoryStorage()
	ctx := context.Background()
	for _, k := range []struct {
		kid string
		alg jwkset.ALG
		key crypto.PublicKey
	}{{kidRSA, jwkset.AlgRS256, &is.rsa.PublicKey}, {kidEC, jwkset.AlgES256, &is.ec.PublicKey}} {
		j, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.KeyWrite(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	set, err := st.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	is.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
	}))
	t.Cleanup(is.jwks.Close)
	return is
}

// authYAML is an auth: block trusting this issuer, audience "wsgate", no
// leeway, plus extra lines indented as keys of auth: (default_permissions).
func (is *testIssuer) authYAML(extra string) string {
	return `
auth:
  authenticators:
    - type: jwt
      jwt:
        issuer: "` + is.iss + `"
        audience: [wsgate]
        algorithms: [RS256, ES256]
        jwks_url: "` + is.jwks.URL + `/jwks.json"
        insecure_jwks_over_http: true
        jwks_timeout: 2s
        leeway: -1s
` + extra
}

// claims are valid claims for sub: this issuer, audience wsgate, issued
// now, expiring after ttl.
func (is *testIssuer) claims(sub string, ttl time.Duration) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": is.iss,
		"sub": sub,
		"aud": "wsgate",
		"iat": jwt.NewNumericDate(now),
		"exp": jwt.NewNumericDate(now.Add(ttl)),
	}
}

// sign signs claims with the issuer's key for method (RS256 or ES256).
func (is *testIssuer) sign(t *testing.T, method jwt.SigningMethod, c jwt.MapClaims) string {
	t.Helper()
	var key any
	kid := ""
	switch method {
	case jwt.SigningMethodRS256:
		key, kid = is.rsa, kidRSA
	case jwt.SigningMethodES256:
		key, kid = is.ec, kidEC
	default:
		t.Fatalf("no key for %s", method.Alg())
	}
	return signWith(t, method, key, kid, c)
}

// signWith signs claims with any key, naming kid.
func signWith(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ---- TLS ----

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, all written as PEM files.
type testPKI struct {
	pool                 *x509.CertPool
	caFile               string
	serverCert, serverKy string
	client               tls.Certificate
}

// newCA makes a self-signed CA.
func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

// issueCert makes a leaf certificate signed by ca; server certificates are
// for 127.0.0.1.
func issueCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func newTestPKI(t *testing.T, clientCN string) *testPKI {
	t.Helper()
	ca, caKey := newCA(t, "wsgate e2e CA")
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})))
	sc, sk := issueCert(t, ca, caKey, "127.0.0.1", true)
	p.serverCert = writeFile(t, "server.pem", string(sc))
	p.serverKy = writeFile(t, "server-key.pem", string(sk))
	cc, ck := issueCert(t, ca, caKey, clientCN, false)
	var err error
	if p.client, err = tls.X509KeyPair(cc, ck); err != nil {
		t.Fatal(err)
	}
	return p
}

// clientTLS is a client config trusting the CA, presenting certs.
func (p *testPKI) clientTLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: certs}
}

// tlsGateway is a wsgate process serving wss:// on its main port.
type tlsGateway struct {
	Addr, NATSURL string
}

// startTLSGateway runs wsgate with config (which has a tls: block) and
// waits until /readyz answers over https with clientTLS. The harness's
// startGateway checks readiness over plain http, so it cannot start these.
// The process is stopped with SIGTERM when the test ends and must exit 0.
func startTLSGateway(t *testing.T, config string, clientTLS *tls.Config) *tlsGateway {
	t.Helper()
	cfg := writeFile(t, "wsgate.yaml", config)
	cmd := exec.Command(binary, "run", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug",
		"--nats-listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--config", cfg)
	cmd.Env = raceEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &tlsGateway{}
	var (
		mu    sync.Mutex
		logs  strings.Builder
		ready = make(chan struct{})
		done  = make(chan struct{}) // stderr read to the end
	)
	logText := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			logs.WriteString(line + "\n")
			mu.Unlock()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			switch m["msg"] {
			case "embedded NATS started":
				g.NATSURL, _ = m["url"].(string)
			case "wsgate listening":
				g.Addr, _ = m["addr"].(string)
				if !signalled {
					signalled = true
					close(ready)
				}
			}
		}
	}()
	exited := make(chan struct{})
	var exitErr error
	go func() { <-done; exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if exitErr != nil {
				t.Errorf("wsgate exited with %v\n%s", exitErr, logText())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("wsgate did not stop within 20s of SIGTERM\n%s", logText())
		}
		if t.Failed() && os.Getenv("WSGATE_E2E_LOGS") != "" {
			t.Logf("gateway logs:\n%s", logText())
		}
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("wsgate exited during start-up: %v\n%s", exitErr, logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("wsgate not listening after 30s\n%s", logText())
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}, Timeout: 5 * time.Second}
	t.Cleanup(cl.CloseIdleConnections)
	eventually(t, 20*time.Second, func() error {
		resp, err := cl.Get("https://" + g.Addr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz: %d", resp.StatusCode)
		}
		return nil
	})
	return g
}
