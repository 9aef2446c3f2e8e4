package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheckCommand is `wsgate healthcheck`: a container's HEALTHCHECK,
// for images without a shell or curl.
func healthcheckCommand() *command {
	return &command{
		name:     "healthcheck",
		synopsis: "healthcheck [--config FILE] [--listen ADDR] [--timeout D]",
		summary:  "exit 0 if the gateway on this machine is ready (a container's health check)",
		about: `Asks the gateway on this machine whether it is ready: GET /readyz on
gateway.admin.listen if it is set, else on the main port, at 127.0.0.1
unless the gateway listens on one address only. Exits 0 if the answer is
200, 1 otherwise, saying why. The port comes from the configuration as
'wsgate run' reads it (flags, WSGATE_* environment, --config), so in a
container the environment the gateway runs with finds it:
HEALTHCHECK CMD ["wsgate", "healthcheck"]. On a TLS main port it speaks
https without verifying the certificate: it only asks its own process.`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			var s settings
			s.registerConfig(fs)
			fs.StringVar(&s.listen, "listen", "", "the gateway's `address` (env WSGATE_LISTEN; default :8080)")
			timeout := fs.Duration("timeout", 3*time.Second, "give up after `duration`")
			return func(stdout io.Writer) error {
				if fs.NArg() > 0 {
					return usagef("unexpected argument %q", fs.Arg(0))
				}
				c, err := load(&s)
				if err != nil {
					return err
				}
				u, err := readyURL(c)
				if err != nil {
					return err
				}
				return healthcheck(u, *timeout, stdout)
			}
		},
	}
}

// readyURL is where the gateway configured as c answers /readyz.
func readyURL(c *config) (string, error) {
	scheme, addr := "http", c.Listen
	if a := c.Gateway.Admin.Listen; a != "" {
		addr = a // plain HTTP, whatever the main port speaks
	} else if c.TLS.enabled() {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("healthcheck: %q is not host:port", addr)
	}
	if port == "0" {
		return "", fmt.Errorf("healthcheck: %s has port 0: which port the gateway got is not known (give --listen)", addr)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1" // any address: loopback is one of them
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// healthcheck GETs u and succeeds on a 200.
func healthcheck(u string, timeout time.Duration, stdout io.Writer) error {
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// Our own process on this machine, whose certificate names
			// its public host, not 127.0.0.1: nothing to verify.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		},
	}
	resp, err := client.Get(u)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		if msg == "" {
			msg = resp.Status
		}
		return errors.New("not ready: " + u + ": " + msg)
	}
	fmt.Fprintln(stdout, u+":", msg)
	return nil
}
