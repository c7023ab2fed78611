// Package natsbus is the NATS JetStream implementation of the crmsync bus:
// one stream for all change events, one durable pull consumer per route, and
// an embedded nats-server for single-machine installs.
package natsbus

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure an in-process nats-server.
type EmbeddedOptions struct {
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// Listen is host:port for outside NATS clients; "" serves only this
	// process (no TCP listener). Port 0 picks a free port.
	Listen string
	// Token, if set, is required from every client.
	Token string
}

// StartEmbedded starts a nats-server with JetStream file storage in
// opts.StoreDir and waits until it accepts connections.
func StartEmbedded(opts EmbeddedOptions) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: store dir is required")
	}
	so := &server.Options{
		ServerName:    "crmsync-embedded",
		JetStream:     true,
		StoreDir:      opts.StoreDir,
		NoSigs:        true,
		NoLog:         true,
		DontListen:    opts.Listen == "",
		Host:          "127.0.0.1",
		Port:          -1,
		Authorization: opts.Token,
	}
	if opts.Listen != "" {
		host, port, err := splitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen %q: %w", opts.Listen, err)
		}
		so.Host, so.Port = host, port
		if port == 0 {
			so.Port = -1
		}
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 30s")
	}
	return s, nil
}
