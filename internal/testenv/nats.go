package testenv

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmsync/crmsync/checkpoints/natskv"
	"github.com/crmsync/crmsync/pipeline/natsbus"
)

// NATS starts an embedded NATS JetStream server on a random loopback port,
// with its store in a new temporary directory, and returns its client URL,
// for instances and stores that share one cluster. The server shuts down
// when the test ends.
func NATS(t testing.TB) string {
	t.Helper()
	srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("testenv: embedded nats: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// JetStream opens a new connection to the NATS server at url, closed when
// the test ends.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("testenv: nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return js
}

// NATSState opens the state kept in NATS key-value buckets
// (checkpoints/natskv) over js, as an instance with state.kind nats does.
func NATSState(t testing.TB, js jetstream.JetStream) *natskv.Store {
	t.Helper()
	s, err := natskv.Open(context.Background(), js, natskv.Config{})
	if err != nil {
		t.Fatalf("testenv: nats state: %v", err)
	}
	return s
}
