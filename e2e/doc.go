// Package e2e runs the built wsgate binary against real clients: gorilla
// WebSocket clients for the JSON protocol, nats.go workers, net/http for the
// connection API. TestMain builds the binary once (with the race detector);
// every test starts its own gateway on free ports with embedded NATS.
package e2e
