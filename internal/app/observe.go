package app

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crmsync/crmsync/pipeline"
)

// Status is the instance's state as /status reports it and `crmsync status`
// prints it.
type Status struct {
	Time    time.Time      `json:"time"`
	Sources []SourceStatus `json:"sources"`
	Routes  []RouteStatus  `json:"routes"`
	Quota   []QuotaStatus  `json:"quota"`
	// Rate is each rate-limited account's budget in this process, once it
	// sent a request: live counters, absent when the instance is not
	// running.
	Rate    []RateStatus    `json:"rate,omitempty"`
	Webhook *WebhookStatus  `json:"webhook,omitempty"`
	Vendors []VendorCounter `json:"vendor_requests,omitempty"`
	// SafetyNet is the LeadExec safety net's count, when it runs.
	SafetyNet *SafetyNetStatus `json:"leadexec_safety_net,omitempty"`
	// Instance names this instance; Leases, with state shared by
	// instances, are the cluster's view: which instance runs which source
	// and route now.
	Instance string               `json:"instance,omitempty"`
	Leases   []pipeline.LeaseInfo `json:"leases,omitempty"`
}

// SafetyNetStatus counts what the LeadExec safety net found since start:
// leads LeadExec holds whose webhook delivery never reached crmsync.
type SafetyNetStatus struct {
	Polls            int64 `json:"polls"`
	MissedDeliveries int64 `json:"missed_deliveries"`
}

// SourceStatus is one source's cursor.
type SourceStatus struct {
	Name        string    `json:"name"`
	Cursor      string    `json:"cursor"`
	LastSuccess time.Time `json:"last_success"`
	// Lease, with state shared by instances: "held" when this instance
	// runs the source, "standby" when another does.
	Lease string `json:"lease,omitempty"`
}

// RouteStatus is one route's progress. Backlog and LagSeconds are its live
// events; BackfillBacklog counts its backfill events not yet acknowledged,
// which travel on their own subject and consumer and which the route takes
// only when live events leave room.
type RouteStatus struct {
	Name            string  `json:"name"`
	Position        uint64  `json:"position"`
	Backlog         uint64  `json:"backlog"`
	LagSeconds      float64 `json:"lag_seconds"`
	BackfillBacklog uint64  `json:"backfill_backlog"`
	Events          int64   `json:"events"`
	Upserts         int64   `json:"upserts"`
	Skipped         int64   `json:"skipped"`
	Retries         int64   `json:"retries"`
	// StateRetries counts state failures the route retried instead of
	// stopping.
	StateRetries int64 `json:"state_retries"`
	// ReadBacks counts records read back from the target before a write,
	// because an earlier write of them may have landed unsettled (a
	// restart, a redelivery, a retry after a lost answer): zero in the
	// steady state.
	ReadBacks   int64 `json:"read_backs"`
	DeadLetters int   `json:"dead_letters_open"`
	// Lease, with state shared by instances: "held" when this instance
	// runs the route, "standby" when another does.
	Lease string `json:"lease,omitempty"`
	// Drift counts the route's reconciliation on this instance, when on.
	Drift *DriftStatus `json:"drift,omitempty"`
}

// DriftStatus counts what a route's reconciliation found and repaired since
// the instance started.
type DriftStatus struct {
	Passes int64 `json:"passes"`
	// Fields counts records found with fields that differ from the source,
	// Missing records the target does not have; Repaired those written
	// again after the grace period.
	Fields    int64     `json:"drifted_fields_records"`
	Missing   int64     `json:"missing_records"`
	Repaired  int64     `json:"repaired_records"`
	LastPass  time.Time `json:"last_pass,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// RateStatus is what one account's request rate did since start: the time
// its requests waited for the rate (summed over requests; growing about
// as fast as the clock means the rate is what paces the sync) and the
// requests sent and not yet answered.
type RateStatus struct {
	Account       string  `json:"account"`
	WaitedSeconds float64 `json:"waited_seconds"`
	InFlight      int     `json:"in_flight"`
}

// QuotaStatus is one vendor account's requests today (UTC).
type QuotaStatus struct {
	Account string `json:"account"`
	Used    int    `json:"used"`
	Limit   int    `json:"limit"`
}

// WebhookStatus counts webhook deliveries.
type WebhookStatus struct {
	Accepted   int64            `json:"accepted"`
	Duplicates int64            `json:"duplicates"`
	Rejected   map[string]int64 `json:"rejected"`
}

// VendorCounter is a request or error count of one vendor.
type VendorCounter struct {
	Vendor string `json:"vendor"`
	Method string `json:"method,omitempty"`
	Code   string `json:"code,omitempty"`
	Count  int64  `json:"count"`
}

// Status collects the instance's status. Sources without a stored cursor
// are listed with an empty one.
func (a *App) Status(ctx context.Context) (Status, error) {
	st := Status{Time: time.Now().UTC()}
	for _, s := range a.Sources {
		ss := SourceStatus{Name: s.Name()}
		if l, ok := s.(*pipeline.Leased); ok {
			ss.Lease = "standby"
			if l.Held() {
				ss.Lease = "held"
			}
		}
		if c, at, err := a.State.Cursor(ctx, s.Name()); err == nil {
			ss.Cursor, ss.LastSuccess = c, at
		}
		st.Sources = append(st.Sources, ss)
	}
	for _, ru := range a.Runners {
		rs := RouteStatus{Name: ru.Name(), Events: ru.Stats.Events.Load(), Upserts: ru.Stats.Upserts.Load(),
			Skipped: ru.Stats.Skipped.Load(), Retries: ru.Stats.Retries.Load(), StateRetries: ru.Stats.StateRetries.Load(),
			ReadBacks: ru.Stats.ReadBacks.Load()}
		rs.Position, _ = a.State.RoutePosition(ctx, ru.Name())
		if b, ok := a.Bus.(backlogger); ok {
			rs.Backlog, _ = b.Backlog(ctx, ru.Name())
			rs.BackfillBacklog, _ = b.Backlog(ctx, pipeline.BackfillConsumer(ru.Name()))
		}
		if l, ok := a.Bus.(lagger); ok {
			lag, _ := l.Lag(ctx, ru.Name())
			rs.LagSeconds = lag.Seconds()
		}
		if l := a.routeLeases[ru.Name()]; l != nil {
			rs.Lease = "standby"
			if l.Held() {
				rs.Lease = "held"
			}
		}
		n, err := a.State.CountDeadLetters(ctx, ru.Name())
		if err != nil {
			return st, err
		}
		rs.DeadLetters = n
		if d := a.drift[ru.Name()]; d != nil {
			d.mu.Lock()
			rs.Drift = &DriftStatus{Passes: d.passes.Load(), Fields: d.fields.Load(), Missing: d.missing.Load(),
				Repaired: d.repaired.Load(), LastPass: d.lastPass, LastError: d.lastErr}
			d.mu.Unlock()
		}
		st.Routes = append(st.Routes, rs)
	}
	if ll, ok := a.State.(pipeline.LeaseLister); ok {
		st.Instance = a.instance
		leases, err := ll.ListLeases(ctx)
		if err != nil {
			return st, err
		}
		st.Leases = leases
	}
	if s := a.cfg.SharpSpring; s != nil {
		used, err := a.State.QuotaUsed(ctx, s.Account(), st.Time)
		if err != nil {
			return st, err
		}
		st.Quota = append(st.Quota, QuotaStatus{Account: s.Account(), Used: used, Limit: s.DailyQuota})
	}
	if iv := a.cfg.IVvy; iv != nil {
		used, err := a.State.QuotaUsed(ctx, iv.Account(), st.Time)
		if err != nil {
			return st, err
		}
		st.Quota = append(st.Quota, QuotaStatus{Account: iv.Account(), Used: used})
	}
	for _, b := range a.vendors.budgets {
		if r := b.RateStats(); r != (pipeline.RateStats{}) {
			st.Rate = append(st.Rate, RateStatus{Account: b.Account(), WaitedSeconds: r.Waited.Seconds(), InFlight: r.InFlight})
		}
	}
	st.Webhook, st.SafetyNet = a.Webhook(), a.SafetyNet()
	for _, name := range slices.Sorted(maps.Keys(a.vendors.connected)) {
		acc := a.vendors.connected[name]
		if acc.Stats == nil {
			continue
		}
		reqs, errs := acc.Stats()
		for m, n := range reqs {
			st.Vendors = append(st.Vendors, VendorCounter{Vendor: name, Method: m, Count: n})
		}
		for code, n := range errs {
			st.Vendors = append(st.Vendors, VendorCounter{Vendor: name, Code: code, Count: n})
		}
	}
	return st, nil
}

// Webhook counts the deliveries of every webhook receiver since start; nil
// when the instance serves none.
func (a *App) Webhook() *WebhookStatus {
	ws := a.vendors.webhooks()
	if len(ws) == 0 {
		return nil
	}
	st := &WebhookStatus{Rejected: map[string]int64{}}
	for _, w := range ws {
		n := w.Stats()
		st.Accepted += n.Accepted
		st.Duplicates += n.Duplicates
		for reason, c := range n.Rejected {
			st.Rejected[reason] += c
		}
	}
	return st
}

// SafetyNet counts what the safety nets found since start; nil when none
// runs.
func (a *App) SafetyNet() *SafetyNetStatus {
	var st *SafetyNetStatus
	for _, name := range slices.Sorted(maps.Keys(a.vendors.connected)) {
		if f := a.vendors.connected[name].SafetyNet; f != nil {
			if st == nil {
				st = &SafetyNetStatus{}
			}
			polls, missed := f()
			st.Polls += polls
			st.MissedDeliveries += missed
		}
	}
	return st
}

func (a *App) statusHandler(w http.ResponseWriter, r *http.Request) {
	st, err := a.Status(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st) // the client went away: no one to tell
}

// metricsHandler serves Prometheus metrics, read from the same counters as
// /status at scrape time.
func (a *App) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{a: a})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

var (
	descEvents      = prometheus.NewDesc("crmsync_route_events_total", "Events consumed by the route.", []string{"route"}, nil)
	descUpserts     = prometheus.NewDesc("crmsync_route_upserts_total", "Records written to the route's target.", []string{"route"}, nil)
	descSkipped     = prometheus.NewDesc("crmsync_route_skipped_total", "Records with nothing newer to write (no request).", []string{"route"}, nil)
	descRetries     = prometheus.NewDesc("crmsync_route_retries_total", "Retries of transient failures.", []string{"route"}, nil)
	descStateRetry  = prometheus.NewDesc("crmsync_route_state_retries_total", "State failures the route retried with backoff instead of stopping.", []string{"route"}, nil)
	descReadBacks   = prometheus.NewDesc("crmsync_route_read_backs_total", "Records read back from the target before a write, because an earlier write may have landed unsettled (restart, redelivery, retry after a lost answer).", []string{"route"}, nil)
	descDead        = prometheus.NewDesc("crmsync_route_dead_letters_total", "Records dead-lettered by the route since start.", []string{"route"}, nil)
	descDeadOpen    = prometheus.NewDesc("crmsync_dead_letters_open", "Open dead letters of the route.", []string{"route"}, nil)
	descBatches     = prometheus.NewDesc("crmsync_route_batches_total", "Batches processed.", []string{"route"}, nil)
	descBacklog     = prometheus.NewDesc("crmsync_route_backlog", "Events of the route not yet acknowledged.", []string{"route"}, nil)
	descLag         = prometheus.NewDesc("crmsync_route_lag_seconds", "Age of the oldest unacknowledged event of the route.", []string{"route"}, nil)
	descBfBacklog   = prometheus.NewDesc("crmsync_route_backfill_backlog", "Backfill events of the route not yet acknowledged.", []string{"route"}, nil)
	descRequests    = prometheus.NewDesc("crmsync_vendor_requests_total", "Requests sent to a vendor API.", []string{"vendor", "method"}, nil)
	descErrors      = prometheus.NewDesc("crmsync_vendor_errors_total", "Error answers from a vendor API, by vendor code.", []string{"vendor", "code"}, nil)
	descQuota       = prometheus.NewDesc("crmsync_quota_used", "Requests counted against the account's daily quota today (UTC).", []string{"account"}, nil)
	descQuotaLimit  = prometheus.NewDesc("crmsync_quota_limit", "The account's daily quota.", []string{"account"}, nil)
	descRateWait    = prometheus.NewDesc("crmsync_rate_wait_seconds_total", "Time the account's requests waited for its request rate, summed over requests.", []string{"account"}, nil)
	descInFlight    = prometheus.NewDesc("crmsync_requests_in_flight", "Requests to the account sent and not yet answered.", []string{"account"}, nil)
	descWebhook     = prometheus.NewDesc("crmsync_webhook_deliveries_total", "Webhook deliveries by outcome.", []string{"source", "outcome"}, nil)
	descBatchSizeSu = prometheus.NewDesc("crmsync_route_batch_events_avg", "Average events per batch.", []string{"route"}, nil)
	descDrift       = prometheus.NewDesc("crmsync_drift_records_total",
		"Records reconciliation found differing from their source: reason fields (values differ) or missing (not in the target).",
		[]string{"route", "reason"}, nil)
	descRepaired = prometheus.NewDesc("crmsync_drift_repaired_total",
		"Drifted records reconciliation wrote again after the grace period.", []string{"route"}, nil)
	descLeaseHeld = prometheus.NewDesc("crmsync_lease_held",
		"1 when this instance runs the source or route of the lease now, 0 when another instance does (state shared by instances).", []string{"lease"}, nil)
	descMissed = prometheus.NewDesc("crmsync_leadexec_missed_deliveries_total",
		"Leads the LeadExec safety net found in LeadExec that the webhook never received (published from the lead data API).", nil, nil)
)

type collector struct{ a *App }

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.a.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descEvents, err)
		return
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, ru := range c.a.Runners {
		n := ru.Name()
		counter(descEvents, float64(ru.Stats.Events.Load()), n)
		counter(descUpserts, float64(ru.Stats.Upserts.Load()), n)
		counter(descSkipped, float64(ru.Stats.Skipped.Load()), n)
		counter(descRetries, float64(ru.Stats.Retries.Load()), n)
		counter(descStateRetry, float64(ru.Stats.StateRetries.Load()), n)
		counter(descReadBacks, float64(ru.Stats.ReadBacks.Load()), n)
		counter(descDead, float64(ru.Stats.DeadLetters.Load()), n)
		b := ru.Stats.Batches.Load()
		counter(descBatches, float64(b), n)
		if b > 0 {
			gauge(descBatchSizeSu, float64(ru.Stats.Events.Load())/float64(b), n)
		}
	}
	for _, rs := range st.Routes {
		gauge(descBacklog, float64(rs.Backlog), rs.Name)
		gauge(descLag, rs.LagSeconds, rs.Name)
		gauge(descBfBacklog, float64(rs.BackfillBacklog), rs.Name)
		gauge(descDeadOpen, float64(rs.DeadLetters), rs.Name)
		if d := rs.Drift; d != nil {
			counter(descDrift, float64(d.Fields), rs.Name, "fields")
			counter(descDrift, float64(d.Missing), rs.Name, "missing")
			counter(descRepaired, float64(d.Repaired), rs.Name)
		}
	}
	for _, v := range st.Vendors {
		if v.Method != "" {
			counter(descRequests, float64(v.Count), v.Vendor, v.Method)
		} else {
			counter(descErrors, float64(v.Count), v.Vendor, v.Code)
		}
	}
	for _, q := range st.Quota {
		gauge(descQuota, float64(q.Used), q.Account)
		gauge(descQuotaLimit, float64(q.Limit), q.Account)
	}
	for _, r := range st.Rate {
		counter(descRateWait, r.WaitedSeconds, r.Account)
		gauge(descInFlight, float64(r.InFlight), r.Account)
	}
	for _, name := range slices.Sorted(maps.Keys(c.a.vendors.connected)) {
		for _, w := range c.a.vendors.connected[name].Webhooks {
			n := w.Stats()
			counter(descWebhook, float64(n.Accepted), name, "accepted")
			counter(descWebhook, float64(n.Duplicates), name, "duplicate")
			for reason, k := range n.Rejected {
				counter(descWebhook, float64(k), name, "rejected_"+reason)
			}
		}
	}
	if n := st.SafetyNet; n != nil {
		counter(descMissed, float64(n.MissedDeliveries))
	}
	held := func(h bool) float64 {
		if h {
			return 1
		}
		return 0
	}
	for _, s := range c.a.Sources {
		if l, ok := s.(*pipeline.Leased); ok {
			gauge(descLeaseHeld, held(l.Held()), "source:"+l.Name())
		}
	}
	for name, l := range c.a.routeLeases {
		gauge(descLeaseHeld, held(l.Held()), "route:"+name)
	}
}
