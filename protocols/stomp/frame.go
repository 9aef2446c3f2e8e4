package stomp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Version is a STOMP protocol version.
type Version uint8

// The versions wsgate speaks.
const (
	V10 Version = iota + 1
	V11
	V12
)

// String is the version as accept-version and version headers write it.
func (v Version) String() string {
	switch v {
	case V10:
		return "1.0"
	case V11:
		return "1.1"
	case V12:
		return "1.2"
	}
	return "?"
}

// Client and server commands [STOMP-1.2 "Client Frames", "Server Frames"].
const (
	CmdConnect     = "CONNECT"
	CmdStomp       = "STOMP"
	CmdSend        = "SEND"
	CmdSubscribe   = "SUBSCRIBE"
	CmdUnsubscribe = "UNSUBSCRIBE"
	CmdAck         = "ACK"
	CmdNack        = "NACK"
	CmdBegin       = "BEGIN"
	CmdCommit      = "COMMIT"
	CmdAbort       = "ABORT"
	CmdDisconnect  = "DISCONNECT"
	CmdConnected   = "CONNECTED"
	CmdMessage     = "MESSAGE"
	CmdReceipt     = "RECEIPT"
	CmdError       = "ERROR"
)

// commands are the commands the parser accepts, as the client and server
// frames of every version.
var commands = map[string]string{
	CmdConnect: CmdConnect, CmdStomp: CmdStomp, CmdSend: CmdSend,
	CmdSubscribe: CmdSubscribe, CmdUnsubscribe: CmdUnsubscribe, CmdAck: CmdAck,
	CmdNack: CmdNack, CmdBegin: CmdBegin, CmdCommit: CmdCommit, CmdAbort: CmdAbort,
	CmdDisconnect: CmdDisconnect, CmdConnected: CmdConnected, CmdMessage: CmdMessage,
	CmdReceipt: CmdReceipt, CmdError: CmdError,
}

// Parse errors. Each wraps ErrFrame, so a caller tells a malformed frame
// from other failures with errors.Is(err, ErrFrame).
var (
	ErrFrame         = errors.New("stomp: malformed frame")
	ErrFrameTooLarge = fmt.Errorf("%w: frame too large", ErrFrame)
	ErrTooManyHeader = fmt.Errorf("%w: too many headers", ErrFrame)
	ErrHeaderTooLong = fmt.Errorf("%w: header line too long", ErrFrame)
	ErrBadCommand    = fmt.Errorf("%w: unknown command", ErrFrame)
	ErrBadHeader     = fmt.Errorf("%w: bad header line", ErrFrame)
	ErrBadEscape     = fmt.Errorf("%w: undefined escape sequence", ErrFrame)
	ErrBadLength     = fmt.Errorf("%w: bad content-length", ErrFrame)
	ErrNoNull        = fmt.Errorf("%w: body not terminated by NUL", ErrFrame)
)

// Limits bound what Parse accepts. The zero value of a field means its
// default.
type Limits struct {
	// MaxFrame is the largest frame, command line to NUL. Default 1 MiB.
	MaxFrame int
	// MaxHeaders is the most header lines a frame may have. Default 64.
	MaxHeaders int
	// MaxLine is the longest command or header line. Default 8 KiB.
	MaxLine int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFrame <= 0 {
		l.MaxFrame = 1 << 20
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = 64
	}
	if l.MaxLine <= 0 {
		l.MaxLine = 8 << 10
	}
	return l
}

// HeaderField is one header line.
type HeaderField struct {
	Name, Value string
}

// Frame is one STOMP frame.
type Frame struct {
	Command string
	Headers []HeaderField
	Body    []byte
}

// Get returns the value of the first header called name. "If a client or a
// server receives repeated frame header entries, only the first header
// entry SHOULD be used as the value of header entry" [STOMP-1.2 "Repeated
// Header Entries"].
func (f *Frame) Get(name string) (string, bool) {
	for _, h := range f.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

// Value is Get without the flag.
func (f *Frame) Value(name string) string {
	v, _ := f.Get(name)
	return v
}

// Add appends a header.
func (f *Frame) Add(name, value string) {
	f.Headers = append(f.Headers, HeaderField{name, value})
}

// escapes reports whether frames of command are escaped in version v:
// "CONNECT and CONNECTED frames do not escape the carriage return, line
// feed or colon octets" [STOMP-1.2 "Value Encoding"], and 1.0 knows no
// escaping at all.
func escapes(v Version, command string) bool {
	return v >= V11 && command != CmdConnect && command != CmdConnected && command != CmdStomp
}

// Parse reads one frame from the start of b. It returns the frame and the
// number of bytes it took. Heart-beat EOLs before a frame are skipped and
// counted in n; b holding only EOLs gives a nil frame with n > 0. A frame
// not yet complete gives (nil, n, nil) with n counting only the EOLs, and
// the caller calls again when more bytes have come (a Decoder does that
// without parsing anything twice). The frame owns its memory: b may be
// reused.
//
// Headers are unescaped as version v says, except in CONNECT frames.
func Parse(b []byte, v Version, lim Limits) (f *Frame, n int, err error) {
	lim = lim.withDefaults()
	f, start, bodyAt, size, err := parseHeader(b, v, lim)
	if err != nil || f == nil {
		return nil, start, err
	}
	end, err := bodyEnd(b, start, bodyAt, size, bodyAt, lim)
	if err != nil || end < 0 {
		return nil, start, err
	}
	f.Body = clone(b[bodyAt:end])
	return f, end + 1, nil
}

// skipEOLs counts the EOLs at the start of b: "The NULL octet can be
// optionally followed by multiple EOLs" [STOMP-1.2 "STOMP Frames"], and
// heart-beats are EOLs. A CR at the very end waits for its LF.
func skipEOLs(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\n' || (b[n] == '\r' && n+1 < len(b) && b[n+1] == '\n')) {
		if b[n] == '\r' {
			n++
		}
		n++
	}
	return n
}

// parseHeader parses the EOLs, command line and header lines at the start
// of b. start is where the frame begins (after the EOLs) and bodyAt where
// its body does; size is its content-length, or -1. A nil frame and nil
// error mean the header block is not complete yet.
func parseHeader(b []byte, v Version, lim Limits) (f *Frame, start, bodyAt, size int, err error) {
	start = skipEOLs(b)
	if start < len(b) && b[start] == '\r' && start+1 == len(b) {
		return nil, start, 0, 0, nil // a CR whose LF has not come yet
	}
	rest := b[start:]
	// Header block: the command line, header lines, an empty line.
	var arr [16][]byte
	lines := arr[:0]
	pos := 0
	for {
		i := bytes.IndexByte(rest[pos:], '\n')
		if i < 0 {
			switch {
			case len(rest)-pos > lim.MaxLine:
				return nil, start, 0, 0, ErrHeaderTooLong
			case len(rest) > lim.MaxFrame:
				return nil, start, 0, 0, ErrFrameTooLarge
			}
			return nil, start, 0, 0, nil
		}
		line := rest[pos : pos+i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) > lim.MaxLine {
			return nil, start, 0, 0, ErrHeaderTooLong
		}
		pos += i + 1
		if pos > lim.MaxFrame {
			return nil, start, 0, 0, ErrFrameTooLarge
		}
		if len(line) == 0 {
			break
		}
		if len(lines) > lim.MaxHeaders { // the command plus MaxHeaders headers
			return nil, start, 0, 0, ErrTooManyHeader
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return nil, start, 0, 0, fmt.Errorf("%w: no command line", ErrFrame)
	}
	cmd, ok := commands[string(lines[0])]
	if !ok {
		return nil, start, 0, 0, fmt.Errorf("%w %q", ErrBadCommand, truncate(lines[0], 32))
	}
	f = &Frame{Command: cmd}
	if len(lines) > 1 {
		f.Headers = make([]HeaderField, 0, len(lines)-1)
	}
	esc := escapes(v, cmd)
	for _, line := range lines[1:] {
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			return nil, start, 0, 0, fmt.Errorf("%w: no colon in %q", ErrBadHeader, truncate(line, 32))
		}
		name, value := line[:i], line[i+1:]
		var hn, hv string
		if esc {
			if hn, err = unescape(name, v); err != nil {
				return nil, start, 0, 0, err
			}
			if hv, err = unescape(value, v); err != nil {
				return nil, start, 0, 0, err
			}
		} else {
			hn, hv = string(name), string(value)
		}
		f.Headers = append(f.Headers, HeaderField{hn, hv})
	}
	size = -1
	if cl, ok := f.Get("content-length"); ok {
		// "If a content-length header is included, this number of octets
		// MUST be read, regardless of whether or not there are NULL octets
		// in the body" [STOMP-1.2 "Standard Headers"]. The length is
		// checked against the limit before anything is allocated.
		if size, err = parseLength(cl); err != nil {
			return nil, start, 0, 0, err
		}
		if size > lim.MaxFrame-pos-1 {
			return nil, start, 0, 0, ErrFrameTooLarge
		}
	}
	return f, start, start + pos, size, nil
}

// bodyEnd finds the NUL that ends the body of the frame at b[start:] whose
// body begins at bodyAt, searching from from (the bytes before it are known
// to hold none). It returns -1 while the body is incomplete.
func bodyEnd(b []byte, start, bodyAt, size, from int, lim Limits) (int, error) {
	if size >= 0 {
		if len(b) < bodyAt+size+1 {
			return -1, nil
		}
		if b[bodyAt+size] != 0 {
			return -1, ErrNoNull
		}
		return bodyAt + size, nil
	}
	// "The body is then followed by the NULL octet" [STOMP-1.2 "STOMP
	// Frames"]: without content-length the body runs to the first NUL.
	from = max(from, bodyAt)
	i := bytes.IndexByte(b[from:], 0)
	if i < 0 {
		if len(b)-start >= lim.MaxFrame {
			return -1, ErrFrameTooLarge
		}
		return -1, nil
	}
	return from + i, nil
}

// parseLength parses a content-length: decimal digits, at most nine.
func parseLength(s string) (int, error) {
	if s == "" || len(s) > 9 {
		return 0, fmt.Errorf("%w %q", ErrBadLength, truncate([]byte(s), 16))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w %q", ErrBadLength, truncate([]byte(s), 16))
		}
	}
	n, _ := strconv.Atoi(s)
	return n, nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Append encodes f for version v at the end of dst. Header names and values
// are escaped as v says (never in CONNECT and CONNECTED frames). Append
// writes no content-length of its own: a frame whose body may hold a NUL
// must carry one among its headers.
func (f *Frame) Append(dst []byte, v Version) []byte {
	dst = append(dst, f.Command...)
	dst = append(dst, '\n')
	esc := escapes(v, f.Command)
	for _, h := range f.Headers {
		dst = appendHeader(dst, h.Name, h.Value, v, esc)
	}
	dst = append(dst, '\n')
	dst = append(dst, f.Body...)
	return append(dst, 0)
}

// appendHeader writes one header line.
func appendHeader(dst []byte, name, value string, v Version, esc bool) []byte {
	if esc {
		dst = appendEscaped(dst, name, v)
		dst = append(dst, ':')
		dst = appendEscaped(dst, value, v)
	} else {
		dst = append(dst, name...)
		dst = append(dst, ':')
		dst = append(dst, value...)
	}
	return append(dst, '\n')
}
