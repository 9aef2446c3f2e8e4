package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
)

// startPprof serves Go's profiler on its own address (WSGATE_PPROF, e.g.
// 127.0.0.1:6060), never on the public port.
func startPprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		log.Info("pprof listening", "addr", addr)
		if err := http.ListenAndServe(addr, mux); err != nil {
			log.Error("pprof", "err", err)
		}
	}()
}
