package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// LeaseInfo is one lease as a cluster-wide view shows it.
type LeaseInfo struct {
	Name   string    `json:"name"`
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// LeaseLister lists the leases held now, for status pages.
type LeaseLister interface {
	ListLeases(ctx context.Context) ([]LeaseInfo, error)
}

// Leases hand out named, expiring leases, so that a singleton (a poller, a
// client poller, the LeadExec safety net) runs on exactly one of several
// instances sharing one state. A state shared by instances implements it.
type Leases interface {
	// TryLease takes the named lease for holder until now+ttl, or renews it
	// when holder already holds it. It returns false, taking nothing, while
	// another holder's lease has not expired.
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder holds it, so that another
	// instance takes over at once instead of after the expiry.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Leased runs a Source only while this instance holds the source's lease.
// An instance that stops releases the lease; one that dies leaves it to
// expire, and another instance's Leased takes over within TTL plus one
// renewal interval, resuming from the source's shared cursor.
type Leased struct {
	Source Source
	Leases Leases
	// Holder names this instance; it must differ between instances.
	Holder string
	// Lease names the lease; default "source:" + the source's name.
	Lease string
	// TTL is how long a lease lasts without renewal; default 15s. It is
	// renewed every TTL/3. A holder that cannot renew stops its source
	// before the lease can have expired elsewhere.
	TTL    time.Duration
	Logger *slog.Logger

	held atomic.Bool
}

// Name is the source's name, which is also the lease's.
func (l *Leased) Name() string { return l.Source.Name() }

// Held reports whether this instance runs the source now.
func (l *Leased) Held() bool { return l.held.Load() }

func (l *Leased) ttl() time.Duration {
	if l.TTL <= 0 {
		return 15 * time.Second
	}
	return l.TTL
}

func (l *Leased) log() *slog.Logger {
	if l.Logger == nil {
		return slog.Default()
	}
	return l.Logger
}

// Run waits for the lease, runs the source while holding it, and goes back
// to waiting when the lease is lost. It returns when ctx ends (nil) or when
// the source fails (its error).
func (l *Leased) Run(ctx context.Context) error {
	name := l.Lease
	if name == "" {
		name = "source:" + l.Name()
	}
	every := l.ttl() / 3
	standby := false
	for ctx.Err() == nil {
		ok, err := l.Leases.TryLease(ctx, name, l.Holder, l.ttl())
		if err != nil && ctx.Err() == nil {
			l.log().Warn("lease check failed; retrying", "source", l.Name(), "err", err)
		}
		if !ok || err != nil {
			if !standby && err == nil {
				l.log().Info("another instance runs this source; standing by", "source", l.Name())
				standby = true
			}
			if !Sleep(ctx, every) {
				return nil
			}
			continue
		}
		standby = false
		l.log().Info("lease taken; running source", "source", l.Name(), "holder", l.Holder)
		lost, err := l.runHeld(ctx, name, every)
		if !lost {
			return err
		}
		l.log().Warn("lease lost; source stopped until it is taken again", "source", l.Name())
	}
	return nil
}

// runHeld runs the source and renews the lease until one of them ends.
// lost says the lease could not be renewed (the source was stopped).
func (l *Leased) runHeld(ctx context.Context, name string, every time.Duration) (lost bool, err error) {
	l.held.Store(true)
	defer l.held.Store(false)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Source.Run(rctx) }()
	t := time.NewTicker(every)
	defer t.Stop()
	release := func() {
		// A fresh, bounded context: the lease is given up also when ctx
		// ended, so that another instance need not wait for the expiry.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := l.Leases.ReleaseLease(c, name, l.Holder); err != nil {
			l.log().Warn("could not release the lease; it expires by itself", "source", l.Name(), "err", err)
		}
	}
	for {
		select {
		case err := <-done:
			release()
			if err != nil {
				return false, fmt.Errorf("%s: %w", l.Name(), err)
			}
			return false, nil
		case <-t.C:
			ok, err := l.Leases.TryLease(ctx, name, l.Holder, l.ttl())
			if ctx.Err() != nil {
				continue // done will report the source's end
			}
			if err == nil && ok {
				continue
			}
			if err != nil {
				l.log().Warn("lease renewal failed; stopping the source", "source", l.Name(), "err", err)
			}
			cancel()
			if err := <-done; err != nil {
				l.log().Warn("source failed while stopping after a lost lease", "source", l.Name(), "err", err)
			}
			return true, nil
		}
	}
}
