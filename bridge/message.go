package bridge

// Header is a NATS message header: canonical names are not enforced, values
// are kept in order. It has the same shape as nats.Header so conversions are
// free, and protocol packages need not import nats.go.
type Header map[string][]string

// Get returns the first value of key, or "".
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key.
func (h Header) Set(key, value string) { h[key] = []string{value} }

// Headers the gateway puts on every message it sends to NATS (the worker
// contract in the README).
const (
	HeaderConnectionID = "Wsgate-Connection-Id"
	HeaderProtocol     = "Wsgate-Protocol"
	HeaderEvent        = "Wsgate-Event"
	HeaderRoute        = "Wsgate-Route"
	HeaderPrincipal    = "Wsgate-Principal"
	HeaderGateway      = "Wsgate-Gateway"
	HeaderSourceIP     = "Wsgate-Source-Ip"
	HeaderCloseCode    = "Wsgate-Close-Code"
	HeaderCloseReason  = "Wsgate-Close-Reason"
	// HeaderContextPrefix starts one header per key of the connection's
	// context (from the $connect reply): Wsgate-Context-<key>.
	HeaderContextPrefix = "Wsgate-Context-"
)

// Event values of HeaderEvent.
const (
	EventConnect    = "CONNECT"
	EventMessage    = "MESSAGE"
	EventDisconnect = "DISCONNECT"
)

// Message is a NATS message as protocol adapters see it.
type Message struct {
	Subject string
	Reply   string
	Header  Header
	Data    []byte
}

// Delivery is one NATS message on its way to the local sessions subscribed
// to it. It remembers each encoding asked of it, so a message is encoded once
// per distinct encoder however many sessions receive it. A Delivery is used by
// one goroutine (the hub dispatcher) and must not be kept after Deliver
// returns; the frames it hands out may be kept.
type Delivery struct {
	Msg *Message

	cache []cachedFrame
	kick  *[]*Session // writers to start once the dispatcher's batch is queued

	// The hub makes a delivery in one allocation: its message and the
	// first encodings (most messages have one or two) live in it.
	msg   Message
	first [2]cachedFrame
}

// Send queues f to s as part of this delivery. Unlike Session.Send, it does
// not wake s's writer at once: the hub wakes every writer after it has
// queued a whole batch of messages, so under load each writer finds several
// frames for one system call, and at low load nothing waits.
func (d *Delivery) Send(s *Session, f *Frame) error {
	if d.kick == nil {
		return s.Send(f)
	}
	start, err := s.enqueueLater(f)
	if start {
		*d.kick = append(*d.kick, s)
	}
	return err
}

type cachedFrame struct {
	key any
	f   *Frame
	err error
}

// Frame returns the frame that encode makes of the message, calling encode
// only the first time a given key is asked for. key must be comparable and
// should name the encoding (a package-level value, or a per-subscription
// pointer when the frame differs per subscription).
func (d *Delivery) Frame(key any, encode func(*Message) (*Frame, error)) (*Frame, error) {
	if c, ok := d.find(key); ok {
		return c.f, c.err
	}
	f, err := encode(d.Msg)
	if len(d.cache) < maxCachedFrames {
		d.cache = append(d.cache, cachedFrame{key: key, f: f, err: err})
	}
	return f, err
}

// Cached returns the frame stored under key, if any. With Keep, it lets a
// hot path skip building an encode closure when the frame exists already.
func (d *Delivery) Cached(key any) (*Frame, bool) {
	c, ok := d.find(key)
	return c.f, ok && c.err == nil
}

func (d *Delivery) find(key any) (cachedFrame, bool) {
	for i := range d.cache {
		if d.cache[i].key == key {
			return d.cache[i], true
		}
	}
	return cachedFrame{}, false
}

// Keep stores f under key for later Frame and Cached calls.
func (d *Delivery) Keep(key any, f *Frame) {
	if len(d.cache) < maxCachedFrames {
		d.cache = append(d.cache, cachedFrame{key: key, f: f})
	}
}

// maxCachedFrames bounds the encodings a Delivery remembers, so that
// per-subscription keys that never repeat cost a short scan, not a long one.
const maxCachedFrames = 16
