package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// LatencyConfig sizes the latency measurement.
type LatencyConfig struct {
	// Rate of deliveries per second; default 1,000.
	Rate int
	// Duration of the steady load; default 10s.
	Duration time.Duration
	// Linger of the route; default the config's (500ms).
	Linger time.Duration
	Say    func(format string, args ...any)
}

func (c *LatencyConfig) defaults() {
	c.Rate = positiveOr(c.Rate, 1000)
	c.Duration = positiveOr(c.Duration, 10*time.Second)
	c.Say = quietIfNil(c.Say)
}

// LatencyResult is the time from a webhook delivery to the moment
// SharpSpring applied the lead.
type LatencyResult struct {
	Rate     int
	Duration time.Duration
	Leads    int
	P50, P99 time.Duration
	Max      time.Duration
	// SendLag is how far the sender fell behind its schedule at worst;
	// latencies count from the scheduled time, so a lagging sender does
	// not hide queueing.
	SendLag time.Duration
	Linger  time.Duration
	// AnswerP50 and AnswerP99 are the times the webhook took to answer a
	// delivery (LeadExec waits for it; the answer comes once the event is on
	// the bus).
	AnswerP50, AnswerP99, AnswerMax time.Duration
}

// LatencyTarget is the p99 target.
const LatencyTarget = 1500 * time.Millisecond

// AnswerTarget is the webhook answer p99 target.
const AnswerTarget = 50 * time.Millisecond

// Rows are the measurement's two rows: webhook to upsert, and the
// webhook's answer.
func (r LatencyResult) Rows() []Row {
	return []Row{r.Row(), {Name: "latency", Measurement: fmt.Sprintf("webhook answer p50 / p99 at %s leads/s", thousands(float64(r.Rate))),
		Result: fmt.Sprintf("%s / %s", msFine(r.AnswerP50), msFine(r.AnswerP99)), Target: "p99 ≤ " + ms(AnswerTarget),
		Met: verdict(r.AnswerP99 <= AnswerTarget && r.Leads > 0), Notes: fmt.Sprintf("max %s; each answered after the JetStream ack", msFine(r.AnswerMax))}}
}

// msFine is ms to a tenth of a millisecond.
func msFine(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

// Row is the webhook-to-upsert row.
func (r LatencyResult) Row() Row {
	return Row{Name: "latency", Measurement: fmt.Sprintf("webhook-to-upsert latency p50 / p99 at %s leads/s, limits on", thousands(float64(r.Rate))),
		Result: fmt.Sprintf("%s / %s", ms(r.P50), ms(r.P99)), Target: "p99 ≤ 1.5 s", Met: verdict(r.P99 <= LatencyTarget && r.Leads > 0),
		Notes: fmt.Sprintf("%s leads over %s; max %s; route linger %s, batches ≤ 500, client 9 req/s; sender lag ≤ %s",
			thousands(float64(r.Leads)), r.Duration, ms(r.Max), r.Linger, ms(r.SendLag))}
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// Latency delivers leads to LeadExec's webhook at a steady rate for a while
// and measures, per lead, the time from its scheduled delivery to the
// moment the SharpSpring simulator applied it (stamped as the simulator's
// createLeads or updateLeadsV2 answer reports it written). SharpSpring's
// limits are on and the instance runs its default rate and linger, so the
// figure includes the wait for a batch to fill.
func Latency(ctx context.Context, c LatencyConfig) (res LatencyResult, err error) {
	c.defaults()
	dir, err := os.MkdirTemp("", "crmsync-bench-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	stamps := &applyStamps{at: map[string]time.Time{}}
	in, err := newInstance(ctx, dir, instanceOptions{limits: true, ratePerSecond: 9, linger: c.Linger, wrap: stamps.wrap})
	if err != nil {
		return res, err
	}
	defer func() { err = errs(err, in.close()) }()
	res = LatencyResult{Rate: c.Rate, Duration: c.Duration, Linger: in.cfg.Routes[0].Linger.Std()}
	if err := in.start(ctx); err != nil {
		return res, err
	}
	n := int(int64(c.Rate) * int64(c.Duration) / int64(time.Second))
	sent, answers, lag, err := deliverSteady(ctx, in, n, c.Rate)
	if err != nil {
		return res, err
	}
	res.SendLag = lag
	slices.Sort(answers)
	res.AnswerP50, res.AnswerP99, res.AnswerMax = percentile(answers, 50), percentile(answers, 99), answers[len(answers)-1]
	c.Say("latency: %d deliveries sent; waiting for SharpSpring", n)
	if err := poll(ctx, time.Minute, "every lead applied in SharpSpring", func() bool { return stamps.count() >= n }); err != nil {
		return res, fmt.Errorf("%w (%d of %d applied)", err, stamps.count(), n)
	}
	lat := make([]time.Duration, 0, n)
	for i, at := range sent {
		applied, ok := stamps.get(leadEmail(i))
		if !ok {
			return res, fmt.Errorf("lead %d was never applied", i)
		}
		lat = append(lat, applied.Sub(at))
	}
	slices.Sort(lat)
	res.Leads = len(lat)
	res.P50, res.P99, res.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	return res, nil
}

// deliverSteady delivers leads 0..n-1 at rate per second, each at its
// scheduled time, and returns the schedule, the time each delivery took to
// be answered, and how far the sender lagged behind it at worst.
func deliverSteady(ctx context.Context, in *instance, n, rate int) ([]time.Time, []time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interval := time.Second / time.Duration(rate)
	sched := make([]time.Time, n)
	answers := make([]time.Duration, n)
	work := make(chan int, n)
	var mu sync.Mutex
	var lag time.Duration
	var first error
	var wg sync.WaitGroup
	// Enough senders that a slow answer never holds the schedule back.
	for range max(16, rate/10) {
		wg.Go(func() {
			for i := range work {
				if d := time.Since(sched[i]); d > 0 {
					mu.Lock()
					lag = max(lag, d)
					mu.Unlock()
				}
				start := time.Now()
				err := in.deliver(ctx, i, leadFields(i))
				answers[i] = time.Since(start)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
	start := time.Now()
	for i := range sched {
		sched[i] = start.Add(time.Duration(i) * interval)
	}
	t := time.NewTicker(time.Millisecond)
	next := 0
	for next < n && ctx.Err() == nil {
		for due := time.Now(); next < n && !sched[next].After(due); next++ {
			work <- next
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	t.Stop()
	close(work)
	wg.Wait()
	if first != nil {
		return nil, nil, 0, first
	}
	return sched, answers, lag.Round(time.Millisecond), ctx.Err()
}

// applyStamps records when the SharpSpring simulator applied each lead, by
// lower-cased email: it wraps the simulator's handler and reads each write
// request's objects and the per-object results of its answer.
type applyStamps struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *applyStamps) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

func (s *applyStamps) get(email string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[strings.ToLower(email)]
	return t, ok
}

func (s *applyStamps) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		s.stamp(body, tw.buf.Bytes(), time.Now())
	})
}

// stamp records the emails of the objects a createLeads or updateLeadsV2
// call applied.
func (s *applyStamps) stamp(request, answer []byte, now time.Time) {
	var req struct {
		Method string `json:"method"`
		Params struct {
			Objects []map[string]any `json:"objects"`
		} `json:"params"`
	}
	if json.Unmarshal(request, &req) != nil {
		return
	}
	key := map[string]string{"createLeads": "creates", "updateLeadsV2": "updates", "updateLeads": "updates"}[req.Method]
	if key == "" {
		return
	}
	var resp struct {
		Result map[string][]struct {
			Success json.RawMessage `json:"success"`
		} `json:"result"`
	}
	if json.Unmarshal(answer, &resp) != nil {
		return
	}
	results := resp.Result[key]
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, obj := range req.Params.Objects {
		if i >= len(results) {
			break
		}
		switch string(results[i].Success) {
		case "true", `"true"`, "1", `"1"`:
		default:
			continue
		}
		email, _ := obj["emailAddress"].(string)
		email = strings.ToLower(email)
		if _, seen := s.at[email]; !seen && email != "" {
			s.at[email] = now
		}
	}
}

// teeWriter keeps a copy of what a handler wrote.
type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}
