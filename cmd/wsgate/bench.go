package main

import benchpkg "github.com/wsgate/wsgate/internal/bench"

// bench is `wsgate bench`: see package bench and the README.
func bench(args []string) error { return benchpkg.Run(args) }

// benchNATS is the hidden `wsgate bench-nats-server`: the comparison server.
func benchNATS(args []string) error { return benchpkg.RunNATSReference(args) }
