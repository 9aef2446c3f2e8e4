package main

import (
	benchpkg "github.com/wsgate/wsgate/internal/bench"
)

// benchCommand is `wsgate bench`: see package bench and the README. Its
// flags belong to package bench, which parses them and prints them for -h.
func benchCommand() *command {
	return &command{
		name:     "bench",
		synopsis: "bench [flags]",
		summary:  "load-test a gateway, side by side with nats-server",
		about: `Starts wsgate and nats-server's own WebSocket listener one after the
other (or measures a running gateway with --url) and runs the same
scenarios against each: fan-out, idle connections, connects, a crowd
joining and leaving one subject, MQTT QoS 1/2. --tls serves them all over
wss:// with a self-signed certificate made for the run.
The flags are listed by the load generator itself, on standard error;
README.md's Performance section has the commands behind its figures.`,
		raw: benchpkg.Run,
	}
}

// benchNATSCommand is the hidden `wsgate bench-nats-server`: the server
// bench compares wsgate with.
func benchNATSCommand() *command {
	return &command{
		name:     "bench-nats-server",
		synopsis: "bench-nats-server [--listen ADDR] [--ws ADDR] [--tls-cert FILE --tls-key FILE]",
		summary:  "nats-server with a WebSocket listener, for bench",
		about:    "Runs nats-server with its WebSocket listener, no auth, TLS only with --tls-cert; prints \"ready\" and stops on SIGTERM.",
		hidden:   true,
		raw:      benchpkg.RunNATSReference,
	}
}
