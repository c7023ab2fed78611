package app

import (
	"fmt"
	"net/http"
)

func (a *App) handler() http.Handler {
	mux := http.NewServeMux()
	if a.Receiver != nil {
		mux.Handle(a.Receiver.Path(), a.Receiver)
	}
	mux.Handle("/metrics", a.metricsHandler())
	mux.HandleFunc("/status", a.statusHandler)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-a.stopping:
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		default:
		}
		if err := a.readyBus(r.Context()); err != nil {
			http.Error(w, "bus: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := a.State.Ping(r.Context()); err != nil {
			http.Error(w, "state: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
