package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// BudgetState is where a shared budget keeps its rate window and daily
// count, so that every process using the same state shares them.
type BudgetState interface {
	RateWindow
	Quota
}

// Budget is one vendor account's request budget: a token bucket shared by
// every source, sink, backfill and replay that uses the account, and a daily
// quota counted in the state database so it survives restarts.
// It is safe for concurrent use.
type Budget struct {
	account string
	limiter *rate.Limiter
	window  *slidingWindow // in-process window, when there is no store
	// answers keeps this process's requests under the rate as the vendor
	// counts them, on arrival (see answerWindow).
	answers *answerWindow
	perSec  int // the window's size
	daily   int
	store   BudgetState
	now     func() time.Time

	// Requests counted but not yet written (budgets without a daily quota).
	pendMu    *sync.Mutex
	pending   int
	pendSince time.Time
}

// BudgetConfig configures a Budget. Zero values mean "no limit".
type BudgetConfig struct {
	Account   string  // vendor account label, e.g. "sharpspring:1001"
	PerSecond float64 // sustained requests per second
	Burst     int     // bucket size; default 1, so no second ever sees more than PerSecond+1
	Daily     int     // requests per UTC day
	// Shared keeps the per-second window in the state, so every crmsync
	// process on it (run, backfill, replay, verify, and every instance on
	// a shared state) stays within the account's rate together. It costs a
	// state write per request; without it the window is per process.
	Shared bool
}

// NewBudget returns the budget of one account.
func NewBudget(cfg BudgetConfig, store BudgetState) *Budget {
	b := &Budget{account: cfg.Account, daily: cfg.Daily, store: store, now: time.Now, pendMu: &sync.Mutex{}}
	if cfg.PerSecond > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = 1
		}
		b.limiter = rate.NewLimiter(rate.Limit(cfg.PerSecond), burst)
		// A token bucket of r/s with burst 1 still lets r+1 requests into
		// some one-second windows; the window caps every second at r.
		// With a store the window lives in it and holds across processes
		// (run, backfill, replay on one state file).
		b.perSec = max(1, int(cfg.PerSecond))
		b.answers = newAnswerWindow(b.perSec, time.Second)
		if store == nil || !cfg.Shared {
			b.window = newSlidingWindow(b.perSec, time.Second+windowMargin)
		}
	}
	return b
}

// WithReserve returns a view of the budget that shares its rate limits but
// leaves reserve requests of the daily quota untouched: backfills use it so
// live sync always has the reserve.
func (b *Budget) WithReserve(reserve int) *Budget {
	v := *b
	if v.daily > 0 {
		v.daily = max(0, v.daily-reserve)
	}
	return &v
}

// Daily is the daily quota this budget may spend (0: unlimited).
func (b *Budget) Daily() int { return b.daily }

// sharedWindow takes a slot of the state's window and returns the time it
// was asked for.
func (b *Budget) sharedWindow(ctx context.Context) (time.Time, error) {
	for {
		now := b.now()
		ok, wait, err := b.store.TakeSlot(ctx, b.account, now, b.perSec, time.Second+windowMargin)
		if err != nil || ok {
			return now, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
}

// Account is the label of the budget's account.
func (b *Budget) Account() string { return b.account }

// Wait blocks until a request may be sent and counts it against the daily
// quota. It returns a *QuotaError when the day's quota is spent. The caller
// calls Answered once the request's answer is in (see gate.Answerer); until
// a second after that, the request holds a place in the budget's window,
// and in a shared window its slot stands at the answer's time.
func (b *Budget) Wait(ctx context.Context) (err error) {
	// The daily count comes first and the rate window last: the window's
	// slot is recorded as the request's sending time, so nothing that takes
	// a round trip may stand between the slot and the request.
	if b.store != nil && b.daily > 0 {
		now := b.now()
		ok, used, err := b.store.TakeQuota(ctx, b.account, now, b.daily)
		if err != nil {
			return err
		}
		if !ok {
			return &QuotaError{Account: b.account, ResetAt: NextUTCMidnight(now),
				Err: fmt.Errorf("%d of %d requests used today", used, b.daily)}
		}
	}
	if b.limiter != nil {
		defer b.answers.waited(time.Now())
		if err := b.answers.take(ctx); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				b.answers.giveBack()
			}
		}()
		if err := b.limiter.Wait(ctx); err != nil {
			return err
		}
		var sent time.Time
		if b.window != nil {
			if err := b.window.wait(ctx); err != nil {
				return err
			}
		} else if sent, err = b.sharedWindow(ctx); err != nil {
			return err
		}
		defer func() {
			if err == nil && !sent.IsZero() {
				b.answers.sending(sent)
			}
		}()
	}
	if b.store != nil && b.daily <= 0 {
		// No quota to enforce: the count is for status and metrics only,
		// so it is written in batches rather than once per request.
		return b.countLater(ctx, b.now())
	}
	return nil
}

// RateStats is what a budget's rate limits did since start.
type RateStats struct {
	// Waited is the time requests spent waiting for the rate: the
	// token bucket and the windows, not the daily quota.
	Waited time.Duration
	// InFlight counts the requests let through and not yet answered.
	InFlight int
}

// RateStats returns what the budget's rate limits did since start; zero
// for a budget without a rate.
func (b *Budget) RateStats() RateStats {
	if b.limiter == nil {
		return RateStats{}
	}
	return b.answers.stats()
}

// Answered tells the budget that a request Wait let through was answered
// (or failed without an answer).
func (b *Budget) Answered() {
	if b.limiter == nil {
		return
	}
	sent, ok := b.answers.answered()
	if !ok {
		return
	}
	// The request's slot in the state's window moves to its answer, so
	// that the other processes on the state count it from there too. Not
	// on the caller's way: the state's writer may be busy. Should the move
	// fail, the slot stays at the sending time, which still bounds the
	// rate by sending times.
	answered := b.now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), answerSlotTimeout)
		defer cancel()
		_ = b.store.AnswerSlot(ctx, b.account, sent, answered)
	}()
}

// answerSlotTimeout bounds moving a slot to its answer: past a second it
// no longer matters.
const answerSlotTimeout = 5 * time.Second

// IsQuota reports whether err is a spent daily quota.
func IsQuota(err error) (*QuotaError, bool) {
	var q *QuotaError
	ok := errors.As(err, &q)
	return q, ok
}

// windowMargin widens the one-second window to absorb the difference
// between when a request leaves and when the vendor counts it.
const windowMargin = 50 * time.Millisecond

// slidingWindow admits at most n events in any window of length span.
type slidingWindow struct {
	mu   sync.Mutex
	n    int
	span time.Duration
	ring []time.Time // admission times, oldest at head
	head int
	now  func() time.Time
}

func newSlidingWindow(n int, span time.Duration) *slidingWindow {
	return &slidingWindow{n: n, span: span, ring: make([]time.Time, 0, n), now: time.Now}
}

func (w *slidingWindow) wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		now := w.now()
		if len(w.ring) < w.n {
			w.ring = append(w.ring, now)
			w.mu.Unlock()
			return nil
		}
		free := w.ring[w.head].Add(w.span)
		if !now.Before(free) {
			w.ring[w.head] = now
			w.head = (w.head + 1) % w.n
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		t := time.NewTimer(free.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// answerWindow admits a request only while fewer than n requests are
// unanswered or were answered within span. A vendor counts a request when
// it arrives, some time between its sending and its answer, so a window of
// sending times is only as good as its margin for the trip; this one holds
// whatever the trip takes. Take any n+1 requests that arrived within one
// span, and the last of them admitted: it was sent after it was admitted
// and arrived at most span after any of the others, so each of the others,
// admitted before it and answered after its own arrival, was unanswered or
// answered within span when the last was admitted: the window was full,
// and the last could not have been admitted.
type answerWindow struct {
	mu      sync.Mutex
	n       int
	span    time.Duration
	open    int           // admitted, not yet answered
	answers []time.Time   // answer times within span, oldest first
	sends   []time.Time   // shared-window slots of unanswered requests, oldest first
	wait    time.Duration // spent in Wait for the rate, every request together
	changed chan struct{}
	now     func() time.Time
}

func newAnswerWindow(n int, span time.Duration) *answerWindow {
	return &answerWindow{n: n, span: span, changed: make(chan struct{}), now: time.Now}
}

// take waits for a place and holds it until answered or giveBack.
func (w *answerWindow) take(ctx context.Context) error {
	for {
		w.mu.Lock()
		now := w.now()
		i := 0
		for i < len(w.answers) && !now.Before(w.answers[i].Add(w.span)) {
			i++
		}
		w.answers = w.answers[i:]
		if w.open+len(w.answers) < w.n {
			w.open++
			w.mu.Unlock()
			return nil
		}
		// Full: wait for the oldest answer to age out, or for an answer.
		var timer *time.Timer
		var aged <-chan time.Time
		if len(w.answers) > 0 {
			timer = time.NewTimer(w.answers[0].Add(w.span).Sub(now))
			aged = timer.C
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-aged:
		case <-changed:
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// waited adds the time since start to the time spent waiting for the rate.
func (w *answerWindow) waited(start time.Time) {
	d := time.Since(start)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wait += d
}

func (w *answerWindow) stats() RateStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return RateStats{Waited: w.wait, InFlight: w.open}
}

// sending records the shared-window slot of a request just admitted.
func (w *answerWindow) sending(slot time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sends = append(w.sends, slot)
}

// answered ends a place's request: the place is free span later. It
// returns the oldest shared-window slot still waiting for an answer:
// answers may come in any order, and moving the oldest slot to this
// answer never leaves a slot earlier than its own request's answer.
func (w *answerWindow) answered() (slot time.Time, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open == 0 {
		return time.Time{}, false
	}
	w.open--
	w.answers = append(w.answers, w.now())
	w.signal()
	if len(w.sends) == 0 {
		return time.Time{}, false
	}
	slot = w.sends[0]
	w.sends = w.sends[1:]
	return slot, true
}

// giveBack frees a place whose request was never sent.
func (w *answerWindow) giveBack() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open > 0 {
		w.open--
		w.signal()
	}
}

func (w *answerWindow) signal() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// unflushedMax is how many requests of a budget without a daily quota are
// counted in memory before they are added to the state database.
const unflushedMax = 50

func (b *Budget) countLater(ctx context.Context, now time.Time) error {
	b.pendMu.Lock()
	b.pending++
	if b.pendSince.IsZero() {
		b.pendSince = now
	}
	n := b.pending
	flush := n >= unflushedMax || now.Sub(b.pendSince) > 5*time.Second || !sameUTCDay(now, b.pendSince)
	if flush {
		b.pending, b.pendSince = 0, time.Time{}
	}
	b.pendMu.Unlock()
	if !flush {
		return nil
	}
	_, err := b.store.AddQuota(ctx, b.account, now, n)
	return err
}

func sameUTCDay(a, b time.Time) bool {
	return a.UTC().Format("2006-01-02") == b.UTC().Format("2006-01-02")
}
