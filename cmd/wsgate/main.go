// Command wsgate is a WebSocket API gateway on NATS: clients speak raw JSON
// (routed like a managed WebSocket API), STOMP or MQTT, and every message
// becomes a NATS message that backend workers handle.
//
//	wsgate [run] [flags]          run the gateway (embedded NATS by default)
//	wsgate validate [--config F]  check the configuration and say what is wrong
//	wsgate healthcheck            exit 0 if the gateway here is ready (containers)
//	wsgate bench [flags]          load-test a gateway (see README)
//	wsgate hash-key [--wampcra] [KEY] the sha256:<hex> (and wampcra block) of an API key
//	wsgate version                print the version
//	wsgate help [COMMAND]         list the commands, or one command's help
package main

import (
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}
