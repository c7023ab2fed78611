package app

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/internal/config"
)

// handlers returns what the listeners serve. The webhooks are on
// http.listen; /status, /metrics, /healthz and /readyz are beside them, or,
// when separate (http.admin_listen), on a mux of their own (admin non-nil).
func (a *App) handlers(separate bool) (public, admin *http.ServeMux) {
	public = http.NewServeMux()
	for _, w := range a.vendors.webhooks() {
		public.Handle(w.Path, w.Handler)
	}
	mux := public
	if separate {
		admin = http.NewServeMux()
		mux = admin
	}
	token := a.cfg.HTTP.AdminToken.Value()
	mux.Handle("/metrics", requireBearer(token, a.metricsHandler()))
	mux.Handle("/status", requireBearer(token, http.HandlerFunc(a.statusHandler)))
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
	return public, admin
}

// requireBearer answers 401 to a request without "Authorization: Bearer
// <token>"; an empty token lets every request through.
func requireBearer(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crmsync"`)
			http.Error(w, "unauthorized: send http.admin_token as a Bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newServer is an HTTP server with the configured header limit and
// timeouts, so that neither oversized headers nor clients that are slow or
// silent can hold the process's memory or connections.
func newServer(c config.HTTPConfig, h http.Handler) *http.Server {
	or := func(d config.Duration, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d.Std()
	}
	maxHeader := c.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = config.DefaultMaxHeaderBytes
	}
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    maxHeader,
		ReadHeaderTimeout: or(c.ReadHeaderTimeout, config.DefaultReadHeaderTimeout),
		ReadTimeout:       or(c.ReadTimeout, config.DefaultReadTimeout),
		WriteTimeout:      or(c.WriteTimeout, config.DefaultWriteTimeout),
		IdleTimeout:       or(c.IdleTimeout, config.DefaultIdleTimeout),
	}
}
