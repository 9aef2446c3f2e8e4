// Command worker is the backend of examples/routes: a plain NATS client that
// admits connections, greets each new one through its wsgate.conn.<id>.send
// subject, answers the whoami route and logs what the gateway publishes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS URL of the gateway")
	flag.Parse()
	nc, err := nats.Connect(*url, nats.Name("routes-worker"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()

	// $connect: admit everyone who says who they are (?user=...), refuse
	// the rest with 401. The context is attached to the connection.
	sub(nc, "routes.connect", "routes", func(m *nats.Msg) {
		var ev struct {
			ConnectionID string              `json:"connectionId"`
			Query        map[string][]string `json:"query"`
		}
		_ = json.Unmarshal(m.Data, &ev)
		user := ""
		if u := ev.Query["user"]; len(u) > 0 {
			user = u[0]
		}
		if user == "" {
			respond(m, map[string]any{"statusCode": 401, "body": "add ?user=<name> to the URL"})
			return
		}
		respond(m, map[string]any{"statusCode": 200, "context": map[string]string{"user": user}})
		log.Printf("admitted %s as %q", ev.ConnectionID, user)
	})

	// Once a connection is up, greet it: a push to one connection, through
	// whichever gateway holds it.
	sub(nc, "wsgate.events.connect", "routes", func(m *nats.Msg) {
		id := m.Header.Get("Wsgate-Connection-Id")
		user := m.Header.Get("Wsgate-Context-user")
		b, _ := json.Marshal(map[string]string{"type": "welcome", "user": user})
		_ = nc.Publish("wsgate.conn."+id+".send", b)
	})

	// whoami: a two-way route. The gateway's headers say who is asking.
	sub(nc, "routes.whoami", "routes", func(m *nats.Msg) {
		respond(m, map[string]any{
			"connectionId": m.Header.Get("Wsgate-Connection-Id"),
			"user":         m.Header.Get("Wsgate-Context-user"),
			"protocol":     m.Header.Get("Wsgate-Protocol"),
		})
	})

	for _, s := range []string{"chat.rooms.>", "routes.default", "routes.disconnect"} {
		sub(nc, s, "", func(m *nats.Msg) {
			log.Printf("%s from %s (%s): %s", m.Subject, m.Header.Get("Wsgate-Connection-Id"),
				m.Header.Get("Wsgate-Route"), m.Data)
		})
	}
	log.Printf("worker connected to %s", nc.ConnectedUrl())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	<-ch
}

// sub subscribes, in a queue group when queue is set (run several workers
// and each request goes to one of them).
func sub(nc *nats.Conn, subject, queue string, h nats.MsgHandler) {
	var err error
	if queue != "" {
		_, err = nc.QueueSubscribe(subject, queue, h)
	} else {
		_, err = nc.Subscribe(subject, h)
	}
	if err != nil {
		log.Fatal(fmt.Errorf("subscribe %s: %w", subject, err))
	}
}

func respond(m *nats.Msg, v any) {
	b, _ := json.Marshal(v)
	_ = m.Respond(b)
}
