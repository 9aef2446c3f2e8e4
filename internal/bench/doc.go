// Package bench is wsgate's load generator (`wsgate bench`), in the spirit
// of `nats bench`: it opens many WebSocket connections, subscribes them,
// publishes through NATS, and reports deliveries per second, latency
// percentiles, losses, and the server's CPU time and memory read from
// /proc.
//
// By default it starts the servers it measures as child processes: wsgate
// itself, and for comparison nats-server's own WebSocket listener (the
// nats-server module embedded in a hidden `wsgate bench-nats-server`
// command), so both are measured side by side with the same client code in
// one run. The client speaks the wsgate JSON protocol to wsgate and the NATS
// text protocol to nats-server. The socketio-node target is the Node
// socket.io server (socketio-node/server.mjs, its dependencies installed
// with npm ci), started the same way, beside wsgate's Socket.IO protocol.
//
// Fan-out is measured closed-loop: the publisher keeps a window of messages
// in flight and sends the next only when every subscriber has received an
// earlier one, so the figure is the rate the server sustains without loss,
// not how fast its buffers fill. The publisher is a NATS client, or with
// --ws-publisher a WebSocket client in the target's protocol (publish.go).
//
// The pairs scenario measures the per-message path from clients: many
// WebSocket publishers, each on a subject of its own with a few
// subscribers, each closed-loop with a small window of its own.
//
// The crowd scenario (crowd.go) is a live event: many clients join one
// subject as fast as they can while a publisher sends a few messages a
// second, then all leave at once; it reports the join and leave curves and
// whether every client got every message sent after it had joined.
package bench
