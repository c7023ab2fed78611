package leadexec

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// Defaults of SafetyNetConfig.
const (
	DefaultSafetyNetSource   = "leadexec.safety_net"
	DefaultSafetyNetInterval = leadexec.DefaultSafetyNetInterval
	DefaultSafetyNetLookback = leadexec.DefaultSafetyNetLookback
	DefaultSafetyNetMinAge   = leadexec.DefaultSafetyNetMinAge
	DefaultSafetyNetPageSize = leadexec.DefaultSafetyNetPageSize
)

// LeadQueryAPI is what the safety net needs from the LeadExec client
// (*leadexec.Client implements it).
type LeadQueryAPI interface {
	QueryLeads(ctx context.Context, leadTypeUID int64, q leadexec.Query) (leadexec.LeadPage, error)
}

// SafetyNetState is what the safety net keeps: its cursor, the delivery
// receipts it checks and adds, and the identity map (a lead crmsync posted
// itself is no missed delivery).
type SafetyNetState interface {
	pipeline.Cursors
	pipeline.Receipts
	Lookup(ctx context.Context, k pipeline.Key) (string, error)
}

// SafetyNetConfig configures a SafetyNet. Zero values are the defaults.
type SafetyNetConfig struct {
	// Name is the source's name and cursor key; default
	// "leadexec.safety_net".
	Name string
	// LeadTypes are the lead type UIDs (LIDs) to query. Required: only
	// lead types whose leads LeadExec delivers to crmsync belong here.
	LeadTypes []int64
	// Interval between polls; default 15m.
	Interval time.Duration
	// Lookback is how far back each poll looks (by DateAdded); default 24h.
	Lookback time.Duration
	// MinAge leaves out leads added less than this long ago, whose delivery
	// may still be on its way (LeadExec retries failed deliveries); default
	// 10m.
	MinAge time.Duration
	// PageSize is the query's Take; default 500.
	PageSize int
	// FieldMap renames lead fields (lead type name → the name the webhook
	// delivery uses), for deliveries whose field mappings rename fields.
	// Fields not in it keep their names.
	FieldMap map[string]string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// SafetyNet is a pipeline.Source that finds leads LeadExec never delivered
// to the webhook receiver. Every Interval it queries the lead data API
// (POST /v1/leads/query/{LeadTypeUID}, paged with Skip/Take) for the leads
// of each lead type added in [now − Lookback, now − MinAge]. A lead is
// published only when crmsync knows nothing of it: the webhook holds no
// delivery receipt for its id (the receipts the webhook keeps in the state
// database, see Receiver) and the identity map does not link the id (the
// lead is not one crmsync posted to LeadExec itself). It is published as
// the webhook would have published it (same fields under the same names,
// so the same mapper reads it and a late webhook delivery of the same
// content is recognised as a duplicate), with the lead's DateAdded as its
// change time, and a receipt is recorded, so each missed lead is published
// once. Each one counts as a missed delivery (Missed).
//
// Poll is serialised; a SafetyNet is safe for concurrent use.
type SafetyNet struct {
	cfg    SafetyNetConfig
	api    LeadQueryAPI
	pub    pipeline.Publisher
	store  SafetyNetState
	log    *slog.Logger
	mu     sync.Mutex
	missed atomic.Int64
	polls  atomic.Int64
}

// NewSafetyNet returns a safety net poller.
func NewSafetyNet(cfg SafetyNetConfig, api LeadQueryAPI, pub pipeline.Publisher, store SafetyNetState) (*SafetyNet, error) {
	if api == nil || pub == nil || store == nil {
		return nil, errors.New("leadexec safety net: api, publisher and store are required")
	}
	if len(cfg.LeadTypes) == 0 {
		return nil, errors.New("leadexec safety net: at least one lead type is required")
	}
	cfg.Name = cmp.Or(cfg.Name, DefaultSafetyNetSource)
	cfg.Interval = poll.OrDefault(cfg.Interval, DefaultSafetyNetInterval)
	cfg.Lookback = poll.OrDefault(cfg.Lookback, DefaultSafetyNetLookback)
	cfg.MinAge = poll.NoneOrDefault(cfg.MinAge, DefaultSafetyNetMinAge)
	cfg.PageSize = poll.OrDefault(cfg.PageSize, DefaultSafetyNetPageSize)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SafetyNet{cfg: cfg, api: api, pub: pub, store: store, log: poll.Logger(cfg.Logger, cfg.Name)}, nil
}

// Name implements pipeline.Source.
func (n *SafetyNet) Name() string { return n.cfg.Name }

// Missed is the number of leads published since start because their
// webhook delivery never arrived.
func (n *SafetyNet) Missed() int64 { return n.missed.Load() }

// Polls is the number of polls completed since start.
func (n *SafetyNet) Polls() int64 { return n.polls.Load() }

// Run polls every Interval until ctx ends, then returns nil. Failures are
// logged and retried at the next tick.
func (n *SafetyNet) Run(ctx context.Context) error {
	return poll.Every(ctx, func(ctx context.Context) time.Duration {
		if _, err := n.Poll(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("leadexec safety net poll failed; retrying", "in", n.cfg.Interval, "err", err)
		}
		return n.cfg.Interval
	})
}

// SafetyNetResult counts one poll.
type SafetyNetResult struct {
	// Checked is the number of leads the query returned.
	Checked int
	// Missed is the number of them published by this poll.
	Missed int
}

// safetyNetCursor is what the safety net stores after a poll, for status:
// it needs no position (the window follows the clock).
type safetyNetCursor struct {
	LastPoll    time.Time `json:"last_poll"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Checked     int       `json:"checked"`
	Missed      int       `json:"missed"`
	MissedTotal int64     `json:"missed_total"`
}

// Poll queries every lead type once and publishes the leads crmsync never
// received.
func (n *SafetyNet) Poll(ctx context.Context) (SafetyNetResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var res SafetyNetResult
	now := n.cfg.Now().UTC()
	end := now.Add(-n.cfg.MinAge)
	start := now.Add(-n.cfg.Lookback)
	if !end.After(start) {
		return res, nil
	}
	var missed []string
	for _, lt := range n.cfg.LeadTypes {
		q := leadexec.Query{StartDate: start, EndDate: end, Take: n.cfg.PageSize}
		for {
			page, err := n.api.QueryLeads(ctx, lt, q)
			if err != nil {
				return res, fmt.Errorf("%s: lead type %d: %w", n.cfg.Name, lt, err)
			}
			for _, l := range page.Leads {
				res.Checked++
				published, err := n.check(ctx, l)
				if err != nil {
					return res, fmt.Errorf("%s: lead %d: %w", n.cfg.Name, l.UID, err)
				}
				if published {
					res.Missed++
					n.missed.Add(1)
					missed = append(missed, strconv.FormatInt(l.UID, 10))
				}
			}
			var more bool
			if q, more = page.Next(q); !more {
				break
			}
		}
	}
	if len(missed) > 0 {
		n.log.Warn("leads LeadExec never delivered to the webhook were published from the lead data API",
			"count", len(missed), "leads", firstN(missed, 20))
	}
	n.polls.Add(1)
	var prev safetyNetCursor
	if s, _, err := n.store.Cursor(ctx, n.cfg.Name); err == nil {
		_ = json.Unmarshal([]byte(s), &prev)
	}
	b, err := json.Marshal(safetyNetCursor{LastPoll: now, Start: start, End: end, Checked: res.Checked, Missed: res.Missed,
		MissedTotal: prev.MissedTotal + int64(res.Missed)})
	if err != nil {
		return res, err
	}
	if err := n.store.SetCursor(ctx, n.cfg.Name, string(b)); err != nil {
		return res, fmt.Errorf("%s: save cursor: %w", n.cfg.Name, err)
	}
	return res, nil
}

// check publishes one lead unless crmsync already knows it, and reports
// whether it did.
func (n *SafetyNet) check(ctx context.Context, l leadexec.Lead) (bool, error) {
	id := strconv.FormatInt(l.UID, 10)
	if _, err := n.store.Delivery(ctx, "leadexec", "lead", id); err == nil {
		return false, nil // the webhook (or an earlier poll) has it
	} else if !errors.Is(err, pipeline.ErrNotFound) {
		return false, err
	}
	if _, err := n.store.Lookup(ctx, pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: id}); err == nil {
		return false, nil // linked already: crmsync posted it, or routed it
	} else if !errors.Is(err, pipeline.ErrNotFound) {
		return false, err
	}
	ev := queryLeadEvent(l, n.cfg.FieldMap, n.cfg.Now)
	fields := ev.Fields
	if err := ev.Seal(); err != nil {
		return false, err
	}
	if err := n.pub.Publish(ctx, ev); err != nil {
		return false, fmt.Errorf("publish: %w", err)
	}
	if err := n.store.RecordDelivery(ctx, ev.Vendor, ev.Entity, ev.ExternalID, pipeline.FieldsHash(fields), ev.ID); err != nil {
		return false, fmt.Errorf("record receipt: %w", err)
	}
	return true, nil
}

// queryLeadEvent turns a lead of the lead data API into the event the
// webhook would have published for it: the lead's fields under the names
// the delivery uses (fieldMap renames), the LeadUID as external id, and
// DateAdded (else now) as its change time. The safety net and the backfill
// pager both build their events here.
func queryLeadEvent(l leadexec.Lead, fieldMap map[string]string, now func() time.Time) pipeline.Event {
	fields := make(map[string]string, len(l.Fields))
	for k, v := range l.Fields {
		if to, ok := fieldMap[k]; ok {
			k = to
		}
		fields[k] = v
	}
	changed := l.DateAdded
	if changed.IsZero() {
		changed = now().UTC()
	}
	return pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: strconv.FormatInt(l.UID, 10), Op: pipeline.OpUpsert,
		Fields: fields, ChangedAt: changed, Origin: pipeline.OriginLive}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Step runs one Poll and returns the leads it published (pipeline.Stepper).
func (n *SafetyNet) Step(ctx context.Context) (int, error) {
	r, err := n.Poll(ctx)
	return r.Missed, err
}

// Publishes is the source of the leads the safety net publishes: LeadExec's
// leads, as the webhook publishes them (pipeline.Stepper).
func (n *SafetyNet) Publishes() string { return "leadexec.lead" }
