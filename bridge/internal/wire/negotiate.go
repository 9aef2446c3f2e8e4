package wire

import (
	"strconv"
	"strings"
)

// DeflateMode is how the gateway answers permessage-deflate offers (RFC
// 7692).
type DeflateMode int

// Deflate modes. The server side never takes over its LZ77 window
// (server_no_context_takeover in every answer), so that one compressed frame
// can be sent to every subscriber; the modes differ on the client side.
const (
	// DeflateOff declines every offer.
	DeflateOff DeflateMode = iota
	// DeflateNoContextTakeover also asks every client not to take over its
	// window (client_no_context_takeover, which RFC 7692 section 7.1.1.2
	// lets a server add to any answer), so the gateway keeps no inflate
	// state between a connection's messages.
	DeflateNoContextTakeover
	// DeflateOn lets a client that wants to keep its window across
	// messages do so; the gateway then keeps the last window of that
	// connection's inflated bytes (up to 32 KiB) for as long as it lives.
	DeflateOn
)

// Deflate is the permessage-deflate agreement of one connection.
type Deflate struct {
	// ClientContext: the client takes over its window from message to
	// message, so inflating needs the previous messages' last ClientWindow
	// bytes.
	ClientContext bool
	// ClientWindow is the most the client's window may span, in bytes
	// (1<<client_max_window_bits, 32 KiB when the client named none).
	ClientWindow int
	// ServerWindow is the window the client's inflater has, in bytes
	// (1<<server_max_window_bits). Without context takeover, a DEFLATE
	// distance never reaches back further than the message's own start,
	// so a message no longer than ServerWindow is honoured by any
	// compressor; longer ones are sent uncompressed.
	ServerWindow int
}

// extParam is one parameter of an extension offer.
type extParam struct {
	name, value string
	hasValue    bool
}

// NegotiateDeflate reads the Sec-WebSocket-Extensions values of an upgrade
// request and picks the first permessage-deflate offer the gateway can honour
// in mode (RFC 7692 section 5). It returns the answer for the response's
// Sec-WebSocket-Extensions header and the agreement; ok is false when the
// mode is off or no offer is acceptable, and the connection then runs
// uncompressed. An offer with an unknown, repeated or malformed parameter
// is declined, as section 7 requires, and the next one is tried.
func NegotiateDeflate(headers []string, mode DeflateMode) (answer string, d Deflate, ok bool) {
	if mode == DeflateOff {
		return "", Deflate{}, false
	}
	for _, h := range headers {
		for _, ext := range splitExtensions(h) {
			params, good := parseExtension(ext)
			if !good || len(params) == 0 || params[0].name != "permessage-deflate" || params[0].hasValue {
				continue
			}
			if answer, d, ok := acceptDeflate(params[1:], mode); ok {
				return answer, d, true
			}
		}
	}
	return "", Deflate{}, false
}

// acceptDeflate checks one offer's parameters (RFC 7692 section 7.1) and
// builds the answer.
func acceptDeflate(params []extParam, mode DeflateMode) (string, Deflate, bool) {
	d := Deflate{ClientContext: mode == DeflateOn, ClientWindow: 1 << 15, ServerWindow: 1 << 15}
	seen := map[string]bool{}
	serverBits := ""
	clientNoContext := false
	for _, p := range params {
		if seen[p.name] {
			return "", Deflate{}, false // [RFC 7692 7] a repeated parameter declines the offer
		}
		seen[p.name] = true
		switch p.name {
		case "server_no_context_takeover":
			if p.hasValue {
				return "", Deflate{}, false
			}
		case "client_no_context_takeover":
			if p.hasValue {
				return "", Deflate{}, false
			}
			clientNoContext = true
		case "server_max_window_bits":
			bits, ok := windowBits(p.value)
			if !p.hasValue || !ok {
				return "", Deflate{}, false
			}
			// [RFC 7692 7.1.2.1] accepted by answering with the same or a
			// smaller value; honoured by sending only messages that fit.
			serverBits = p.value
			d.ServerWindow = 1 << bits
		case "client_max_window_bits":
			if p.hasValue {
				bits, ok := windowBits(p.value)
				if !ok {
					return "", Deflate{}, false
				}
				d.ClientWindow = 1 << bits
			}
			// Any client window up to 32 KiB can be inflated, so the
			// answer need not limit it (section 7.1.2.2 lets it omit it).
		default:
			return "", Deflate{}, false
		}
	}
	if clientNoContext {
		d.ClientContext = false
	}
	answer := "permessage-deflate; server_no_context_takeover"
	if !d.ClientContext {
		answer += "; client_no_context_takeover"
	}
	if serverBits != "" {
		answer += "; server_max_window_bits=" + serverBits
	}
	return answer, d, true
}

// windowBits parses a window-bits value: 8 to 15, digits only, no leading
// zero (RFC 7692 sections 7.1.2.1 and 7.1.2.2).
func windowBits(v string) (int, bool) {
	if v == "" || v[0] == '0' || len(v) > 2 {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 || strconv.Itoa(n) != v {
		return 0, false
	}
	return n, true
}

// splitExtensions splits a header value at the commas between extensions,
// leaving commas inside quoted strings alone.
func splitExtensions(h string) []string { return splitUnquoted(h, ',') }

// parseExtension parses `token *( ";" token [ "=" ( token / quoted-string ) ] )`
// (RFC 6455 section 9.1); the first element is the extension's name.
func parseExtension(s string) ([]extParam, bool) {
	var out []extParam
	for _, part := range splitParams(s) {
		part = strings.TrimSpace(part)
		name, value, hasValue := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !isToken(name) {
			return nil, false
		}
		p := extParam{name: name, hasValue: hasValue}
		if hasValue {
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = unquote(value[1 : len(value)-1])
			}
			if !isToken(value) {
				return nil, false
			}
			p.value = value
		}
		out = append(out, p)
	}
	return out, true
}

// splitParams splits at the semicolons outside quoted strings.
func splitParams(s string) []string { return splitUnquoted(s, ';') }

// splitUnquoted splits s at each sep outside a quoted string (with its
// backslash escapes).
func splitUnquoted(s string, sep byte) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
