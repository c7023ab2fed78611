// Package testenv starts the real parts that crmsync's tests run against,
// so that every test package sets them up the same way and none keeps its
// own copy:
//
//   - Bus: an embedded NATS JetStream server on a random loopback port, its
//     store in a temporary directory, behind a ready pipeline/natsbus bus;
//   - State: a SQLite state (checkpoints.Store) in a temporary directory;
//   - NATS, JetStream, NATSState: an embedded NATS server that several
//     connections, instances and NATS key-value states (checkpoints/natskv)
//     share;
//   - Eventually: polling for a condition instead of sleeping and hoping;
//   - Go: an instance running in the background until the test stops it;
//   - Drain: every event a consumer has, acked;
//   - Log: output many goroutines write while the test reads it;
//   - VendorError, RefusedAnswer: what a vendor client made of an answer,
//     checked.
//
// Everything it opens is closed by t.Cleanup.
package testenv

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
)

// Bus starts an embedded NATS JetStream server on a random loopback port,
// with its store in a new temporary directory, and returns a bus connected
// to it with natsbus's defaults. The bus is closed when the test ends.
func Bus(t testing.TB) *natsbus.Bus {
	t.Helper()
	return BusWith(t, natsbus.Config{})
}

// BusWith is Bus with cfg; an empty cfg.StoreDir gets a new temporary
// directory. Reopening a bus on the same StoreDir (after closing it) is a
// restart of the broker: stored events and consumer positions survive.
func BusWith(t testing.TB, cfg natsbus.Config) *natsbus.Bus {
	t.Helper()
	if cfg.StoreDir == "" && cfg.URL == "" {
		cfg.StoreDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := natsbus.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("testenv: embedded nats: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// State opens an empty SQLite state in a new temporary directory. It is
// closed when the test ends.
func State(t testing.TB) *checkpoints.Store {
	t.Helper()
	return StateAt(t, filepath.Join(t.TempDir(), "state.db"))
}

// StateAt opens the SQLite state in file, creating it when missing; a
// second StateAt on the same file after the first is closed is a restart.
// It is closed when the test ends (closing it earlier is harmless).
func StateAt(t testing.TB, file string) *checkpoints.Store {
	t.Helper()
	s, err := checkpoints.Open(context.Background(), file)
	if err != nil {
		t.Fatalf("testenv: state: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// EventuallyTimeout is how long Eventually waits for its condition. It is
// generous because tests share slow machines; a condition that holds
// returns at once.
const EventuallyTimeout = 30 * time.Second

// Eventually polls cond every 5 ms until it holds and fails the test,
// naming what it waited for, when it does not within EventuallyTimeout.
// cond runs on the test's goroutine.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(EventuallyTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", EventuallyTimeout, what)
		}
		<-tick.C
	}
}

// Drain fetches from cons until wait passes with nothing more, acks every
// message (a failed ack fails the test) and returns the events in the
// order they were fetched.
func Drain(t testing.TB, cons pipeline.Consumer, wait time.Duration) []pipeline.Event {
	t.Helper()
	var out []pipeline.Event
	for {
		msgs, err := cons.Fetch(context.Background(), 1000, wait)
		if err != nil {
			t.Fatalf("testenv: fetch: %v", err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			out = append(out, m.Event)
			if err := m.Ack(); err != nil {
				t.Fatalf("testenv: ack: %v", err)
			}
		}
	}
}
