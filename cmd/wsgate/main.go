// Command wsgate is a WebSocket API gateway on NATS: clients speak raw JSON
// (routed like a managed WebSocket API), STOMP or MQTT, and every message
// becomes a NATS message that backend workers handle.
//
//	wsgate [run] [flags]          run the gateway (embedded NATS by default)
//	wsgate validate --config F    check a config file and say what is wrong
//	wsgate bench [flags]          load-test a gateway (see README)
//	wsgate hash-key [KEY]         the sha256:<hex> of an API key or admin token
//	wsgate version
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = run(args)
	case "validate":
		err = validate(args)
	case "bench":
		err = bench(args)
	case "bench-nats-server":
		err = benchNATS(args)
	case "hash-key":
		err = hashKey(args)
	case "version":
		fmt.Println("wsgate", version)
	case "help":
		fmt.Println("usage: wsgate [run|validate|bench|hash-key|version] [flags]; wsgate run -h lists the flags")
	default:
		err = fmt.Errorf("unknown command %q: use run, validate, bench, hash-key or version", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsgate:", err)
		os.Exit(1)
	}
}
