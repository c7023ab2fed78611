package pipeline

import "time"

// BatchPolicy says when a route's batch is sent.
type BatchPolicy struct {
	// MaxObjects per batch; default 500 (SharpSpring's per-request limit).
	MaxObjects int
	// Linger is how long to wait for a batch to fill; default 500ms.
	Linger time.Duration
}

func (p BatchPolicy) maxObjects() int {
	if p.MaxObjects <= 0 {
		return 500
	}
	return p.MaxObjects
}

func (p BatchPolicy) linger() time.Duration {
	if p.Linger <= 0 {
		return 500 * time.Millisecond
	}
	return p.Linger
}
