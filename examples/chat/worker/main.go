// Command worker is the backend of examples/chat, a plain NATS client: it
// keeps each room's recent history and who is present, answers the pages'
// history request (STOMP SEND with reply-to /temp-queue/..., or a Socket.IO
// emit with an ack, both a NATS request on chat.history), notices
// departures from the gateway's disconnect events, and runs a small bot
// that talks in the rooms like any other member.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// message is what the page sends and shows.
type message struct {
	User   string `json:"user,omitempty"`
	Text   string `json:"text"`
	System bool   `json:"system,omitempty"`
}

const keep = 50 // messages of history per room

var roomName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

type chat struct {
	nc      *nats.Conn
	mu      sync.Mutex
	history map[string][]message         // room → recent messages
	present map[string]map[string]string // room → connection id → name
}

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS URL of the gateway")
	flag.Parse()
	nc, err := nats.Connect(*url, nats.Name("chat-worker"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()
	c := &chat{nc: nc, history: map[string][]message{}, present: map[string]map[string]string{}}
	for subject, h := range map[string]nats.MsgHandler{
		"chat.history":             c.onHistory,
		"chat.rooms.*":             c.onMessage,
		"wsgate.events.disconnect": c.onDisconnect,
	} {
		if _, err := nc.Subscribe(subject, h); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("chat worker on %s", nc.ConnectedUrl())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	<-ch
}

// onHistory answers a page that joins a room, and announces it.
func (c *chat) onHistory(m *nats.Msg) {
	var req struct{ Room, User string }
	if json.Unmarshal(m.Data, &req) != nil || !roomName.MatchString(req.Room) || req.User == "" {
		return
	}
	conn := m.Header.Get("Wsgate-Connection-Id")
	c.mu.Lock()
	if c.present[req.Room] == nil {
		c.present[req.Room] = map[string]string{}
	}
	c.present[req.Room][conn] = req.User
	msgs := slices.Clone(c.history[req.Room])
	if msgs == nil {
		msgs = []message{} // JSON [], not null
	}
	b, _ := json.Marshal(map[string]any{"messages": msgs, "present": c.names(req.Room)})
	c.mu.Unlock()
	_ = m.Respond(b)
	c.say(req.Room, message{System: true, Text: req.User + " joined"})
	c.say(req.Room, message{User: "bot", Text: "welcome, " + req.User + "! I am a NATS worker; say !time"})
	c.announce(req.Room)
}

// onMessage keeps history, and lets the bot answer.
func (c *chat) onMessage(m *nats.Msg) {
	room := strings.TrimPrefix(m.Subject, "chat.rooms.")
	var msg message
	if json.Unmarshal(m.Data, &msg) != nil {
		return
	}
	c.mu.Lock()
	h := append(c.history[room], msg)
	if len(h) > keep {
		h = h[len(h)-keep:]
	}
	c.history[room] = h
	c.mu.Unlock()
	if !msg.System && msg.User != "bot" && strings.TrimSpace(msg.Text) == "!time" {
		c.say(room, message{User: "bot", Text: "it is " + time.Now().UTC().Format(time.Kitchen) + " UTC"})
	}
}

// onDisconnect removes whoever the closed connection was.
func (c *chat) onDisconnect(m *nats.Msg) {
	conn := m.Header.Get("Wsgate-Connection-Id")
	c.mu.Lock()
	var left []string
	for room, p := range c.present {
		if name, ok := p[conn]; ok {
			delete(p, conn)
			left = append(left, room, name)
		}
	}
	c.mu.Unlock()
	for i := 0; i < len(left); i += 2 {
		c.say(left[i], message{System: true, Text: left[i+1] + " left"})
		c.announce(left[i])
	}
}

func (c *chat) say(room string, msg message) {
	b, _ := json.Marshal(msg)
	_ = c.nc.Publish("chat.rooms."+room, b)
}

// announce publishes who is present in room.
func (c *chat) announce(room string) {
	c.mu.Lock()
	b, _ := json.Marshal(c.names(room))
	c.mu.Unlock()
	_ = c.nc.Publish("chat.presence."+room, b)
}

// names lists who is present, once each, sorted. c.mu must be held.
func (c *chat) names(room string) []string {
	var out []string
	for _, n := range c.present[room] {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}
