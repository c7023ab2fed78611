package simkit

import (
	"context"
	"maps"
	"math/rand/v2"
	"sync"
	"time"
)

// Fault is a simulator's own enumeration of faults. Its zero value means
// "no fault"; String names a fault in Injector.Counts.
type Fault interface {
	comparable
	String() string
}

// FaultName is the String of a simulator's Fault: names lists the faults'
// names in the order of their values, from the zero fault; a value out of
// that range is "fault(?)".
func FaultName[F ~int](names []string, f F) string {
	if f < 0 || int(f) >= len(names) {
		return "fault(?)"
	}
	return names[f]
}

// DefaultTimeoutCap is the longest a request is held without an answer.
const DefaultTimeoutCap = 2 * time.Minute

// LatencyKey is the Injector.Counts key counting requests delayed by
// Policy.Latency.
const LatencyKey = "latency"

// Rate is one random fault and its probability per request.
type Rate[F Fault] struct {
	P     float64 // probability per request in [0, 1]
	Fault F
	// Or, when not the zero fault, is drawn instead of Fault at even odds
	// (HTTP 503 for 500, an HTML page for truncated JSON).
	Or F
	// Bursts makes a drawn fault start a burst of Policy.Burst requests.
	Bursts bool
}

// Policy is the random part of an Injector, replaced as a whole by Set. The
// zero value injects nothing.
type Policy[F Fault] struct {
	// Scope limits the random faults and Latency to one key as in Script;
	// "" = every key. Scripted faults ignore it.
	Scope string
	// Rates are drawn in order with one number per request, so at most one
	// fault applies; when they add up to more than 1 the later ones fire
	// less often than their rate.
	Rates []Rate[F]
	// Burst models an outage: once a Rate with Bursts is drawn, the next
	// Burst-1 requests in scope get the same fault without a draw. 0 and 1
	// mean single faults.
	Burst int
	// Latency delays every request in scope, scripted faults included.
	Latency time.Duration
	// TimeoutCap bounds Decision.Hold. Default and maximum
	// DefaultTimeoutCap.
	TimeoutCap time.Duration
	// RetryAfter, when positive, is Decision.RetryAfter in whole seconds,
	// rounded up.
	RetryAfter time.Duration
	// Seed seeds the draws; same seed and request order → same faults.
	Seed int64
}

// Decision is the fault of one request.
type Decision[F Fault] struct {
	Fault    F
	Scripted bool          // Fault was queued by Script
	Latency  time.Duration // delay before anything else
	Hold     time.Duration // how long a request is held unanswered (timeouts)
	// RetryAfter is Policy.RetryAfter in seconds; 0 when it is not set.
	RetryAfter int
}

// Injector decides the fault of each request: the next scripted one, else
// the rest of a burst, else a random draw. It also holds requests (Wait)
// until Close and counts the faults that reached a client. All methods are
// safe for concurrent use.
type Injector[F Fault] struct {
	salt      uint64
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex // guards everything below
	policy  Policy[F]
	rand    *rand.Rand
	scripts Queue[string, F]
	burst   F
	left    int // requests the burst still takes
	counts  map[string]int
}

// NewInjector returns an Injector that injects nothing until Set or
// Script. salt is mixed into every seed, so that simulators given the same
// Seed draw different sequences.
func NewInjector[F Fault](salt uint64) *Injector[F] {
	return &Injector[F]{salt: salt, done: make(chan struct{}), rand: rand.New(rand.NewPCG(0, salt)),
		scripts: Queue[string, F]{}, counts: map[string]int{}}
}

// Set replaces the random faults, reseeds their generator and ends any
// burst in progress.
func (in *Injector[F]) Set(p Policy[F]) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.policy = p
	in.rand = rand.New(rand.NewPCG(uint64(p.Seed), in.salt))
	in.burst, in.left = *new(F), 0
}

// Script queues one-shot faults for the next requests of key, in order,
// after any already queued. A queued zero fault lets one request through
// untouched by the script (random faults may still apply). Scripted faults
// neither start nor use up a burst.
func (in *Injector[F]) Script(key string, faults ...F) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.scripts.Push(key, faults...)
}

// Next decides the fault of one request of key.
func (in *Injector[F]) Next(key string) Decision[F] {
	in.mu.Lock()
	defer in.mu.Unlock()
	var none F
	p := in.policy
	d := Decision[F]{Hold: DefaultTimeoutCap}
	if p.TimeoutCap > 0 && p.TimeoutCap < DefaultTimeoutCap {
		d.Hold = p.TimeoutCap
	}
	if p.RetryAfter > 0 {
		d.RetryAfter = Seconds(p.RetryAfter)
	}
	if f, ok := in.scripts.Pop(key); ok {
		d.Fault, d.Scripted = f, f != none
	}
	if p.Scope != "" && p.Scope != key {
		return d
	}
	d.Latency = p.Latency
	if d.Fault != none {
		return d
	}
	if in.left > 0 {
		in.left--
		d.Fault = in.burst
		return d
	}
	total := 0.0
	for _, r := range p.Rates {
		total += r.P
	}
	if total <= 0 {
		return d
	}
	x := in.rand.Float64()
	for _, r := range p.Rates {
		if x >= r.P {
			x -= r.P
			continue
		}
		d.Fault = r.Fault
		if r.Or != none && in.rand.IntN(2) == 1 {
			d.Fault = r.Or
		}
		if r.Bursts && p.Burst > 1 {
			in.burst, in.left = d.Fault, p.Burst-1
		}
		return d
	}
	return d
}

// Delay holds a request for d.Latency, counted under LatencyKey, then
// counts d.Fault, which is about to reach the client. It reports false
// when the request ended first (the client gave up, or Close): then
// nothing may be applied, and nothing is counted but the latency.
func (in *Injector[F]) Delay(ctx context.Context, d Decision[F]) bool {
	if d.Latency > 0 {
		in.Count(LatencyKey)
		if !in.Wait(ctx, d.Latency) {
			return false
		}
	}
	var none F
	if d.Fault != none {
		in.Count(d.Fault.String())
	}
	return true
}

// Wait blocks for d (0: until released), the end of ctx or Close. It
// reports whether the full duration passed.
func (in *Injector[F]) Wait(ctx context.Context, d time.Duration) bool {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
	case <-in.done:
	}
	return false
}

// Close releases every request held by Wait, now and later. Idempotent.
func (in *Injector[F]) Close() { in.closeOnce.Do(func() { close(in.done) }) }

// Done is closed by Close.
func (in *Injector[F]) Done() <-chan struct{} { return in.done }

// Count adds one to the count of key (a Fault's String or LatencyKey).
func (in *Injector[F]) Count(key string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.counts[key]++
}

// Counts returns a copy of the counts by Fault.String() and LatencyKey.
func (in *Injector[F]) Counts() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return maps.Clone(in.counts)
}

// ResetCounts zeroes Counts; scripts, policy and bursts are kept.
func (in *Injector[F]) ResetCounts() {
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.counts)
}

// Seconds rounds d up to whole seconds, at least 1: a Retry-After value.
func Seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Queue holds one-shot faults per key, oldest first. The zero value is not
// usable; make one with Queue[K, F]{}. It is not safe for concurrent use.
type Queue[K comparable, F any] map[K][]F

// Push appends faults to the queue of key.
func (q Queue[K, F]) Push(key K, faults ...F) {
	if len(faults) > 0 {
		q[key] = append(q[key], faults...)
	}
}

// Pop takes the oldest fault of key; ok is false when none is queued.
func (q Queue[K, F]) Pop(key K) (f F, ok bool) {
	l := q[key]
	if len(l) == 0 {
		return f, false
	}
	if len(l) == 1 {
		delete(q, key)
	} else {
		q[key] = l[1:]
	}
	return l[0], true
}
