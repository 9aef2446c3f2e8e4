// Command client talks to examples/routes: it joins a room, says something,
// asks whoami, and prints everything the gateway sends until interrupted.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"

	"github.com/gorilla/websocket"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/?user=ada", "gateway WebSocket URL")
	flag.Parse()
	c, resp, err := websocket.DefaultDialer.Dial(*url, nil)
	if err != nil {
		if resp != nil {
			log.Fatalf("dial: %v (HTTP %s)", err, resp.Status)
		}
		log.Fatalf("dial: %v", err)
	}
	defer c.Close()
	go func() {
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				log.Printf("closed: %v", err)
				os.Exit(0)
			}
			log.Printf("< %s", msg)
		}
	}()
	for _, m := range []string{
		`{"action":"inbox"}`,
		`{"action":"join","room":"lobby","id":1}`,
		`{"action":"say","room":"lobby","text":"hello from the client"}`,
		`{"action":"whoami","id":2}`,
		`not even JSON: goes to $default`,
	} {
		log.Printf("> %s", m)
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			log.Fatal(err)
		}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	<-ch
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
}
