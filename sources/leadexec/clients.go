package leadexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// Defaults of ClientPollerConfig.
const (
	DefaultClientSource   = "leadexec.client"
	DefaultClientInterval = leadexec.DefaultClientInterval
)

// ClientAPI is what the client poller needs from the LeadExec client
// (*leadexec.Client implements it).
type ClientAPI interface {
	GetClientList(ctx context.Context) ([]leadexec.ClientInfo, error)
	GetClientData(ctx context.Context, clientUID int64) ([]leadexec.ClientField, error)
}

// ClientPollerConfig configures a ClientPoller. Zero values are the
// defaults.
type ClientPollerConfig struct {
	// Name is the source's name and cursor key; default "leadexec.client".
	Name string
	// Interval between snapshots; default 5m. Each costs one GetClientList
	// and one GetClientData per client.
	Interval time.Duration
	// Now is the clock (event ChangedAt: LeadExec clients carry no change
	// time); default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ClientPoller is a pipeline.Source for LeadExec clients (lead buyers).
// LeadExec has no "modified since" for clients, so each poll reads the
// whole list (GetClientList) and every client's fields (GetClientData) and
// diffs the snapshot against the last one, kept in the source cursor as a
// content hash per client:
//
//   - a new or changed client is an upsert with Version "<n>:<hash>" (n
//     counts the client's changes, so a change back to an earlier state is
//     a new event). Its fields are named by ClientFieldSpecialBit (Company,
//     FirstName, LastName, Email, PrimaryPhone, Address, City, State, Zip,
//     ...; the first client field of each SpecialBit, never matched by its
//     Descriptor), plus Username (the client's portal login, unique in the
//     account: an identity key, see mappings.LeadExecClients.EventKeys)
//     and DateAdded (RFC 3339 UTC, read from LeadExec's Pacific Time). A
//     field that is empty is left out, unless it had a value at the last
//     snapshot: then it is sent empty, a clear;
//   - a client no longer listed is Op "delete" with Version "<n>:removed".
//
// The client's status is not published: GetClientList gives it as a
// number whose meaning LeadExec does not document.
//
// The first poll publishes every client. The cursor is saved after every
// event was published; a poll cut short publishes the same event ids
// again. Poll is serialised; a ClientPoller is safe for concurrent use.
type ClientPoller struct {
	cfg   ClientPollerConfig
	api   ClientAPI
	pub   pipeline.Publisher
	store pipeline.Cursors
	log   *slog.Logger
	mu    sync.Mutex
}

// NewClientPoller returns a client poller.
func NewClientPoller(cfg ClientPollerConfig, api ClientAPI, pub pipeline.Publisher, store pipeline.Cursors) (*ClientPoller, error) {
	if api == nil || pub == nil || store == nil {
		return nil, errors.New("leadexec client poller: api, publisher and store are required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultClientSource
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultClientInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &ClientPoller{cfg: cfg, api: api, pub: pub, store: store, log: cfg.Logger.With("source", cfg.Name)}, nil
}

// Name implements pipeline.Source.
func (p *ClientPoller) Name() string { return p.cfg.Name }

// Run polls every Interval until ctx ends, then returns nil. Failures are
// logged and retried at the next tick.
func (p *ClientPoller) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if _, err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("leadexec client poll failed; retrying", "in", p.cfg.Interval, "err", err)
		}
		t := time.NewTimer(p.cfg.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}

// leClientCursor is the persisted snapshot: per ClientUID its change
// count, content hash ("" once removed) and the fields that had a value.
type leClientCursor struct {
	V       int                       `json:"v"`
	Clients map[string]leClientDigest `json:"clients"`
}

type leClientDigest struct {
	N    int      `json:"n"`
	Hash string   `json:"h,omitempty"`
	Set  []string `json:"set,omitempty"`
}

// ClientPollResult counts one poll's events.
type ClientPollResult struct{ Listed, Created, Changed, Removed int }

// ClientFields turns GetClientData's fields into the event fields of a
// client: each SpecialBit's name (the first field of that SpecialBit) →
// its value. Fields without a SpecialBit are left out, and so are fields
// marked isState: they hold a LeadExec state id, whose numbering is not
// documented, instead of the state's name.
func ClientFields(fs []leadexec.ClientField) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		if f.SpecialBit <= leadexec.SpecialNone || f.IsState {
			continue
		}
		if _, dup := out[f.SpecialBit.String()]; !dup {
			out[f.SpecialBit.String()] = f.FieldValue
		}
	}
	return out
}

// Poll takes one snapshot and publishes the differences.
func (p *ClientPoller) Poll(ctx context.Context) (ClientPollResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var res ClientPollResult
	cur := leClientCursor{V: 1, Clients: map[string]leClientDigest{}}
	s, _, err := p.store.Cursor(ctx, p.cfg.Name)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
	case err != nil:
		return res, fmt.Errorf("%s: read cursor: %w", p.cfg.Name, err)
	default:
		if err := json.Unmarshal([]byte(s), &cur); err != nil || cur.V != 1 {
			return res, fmt.Errorf("%s: cursor is not a client snapshot (v%d): %v", p.cfg.Name, cur.V, err)
		}
		if cur.Clients == nil {
			cur.Clients = map[string]leClientDigest{}
		}
	}
	list, err := p.api.GetClientList(ctx)
	if err != nil {
		return res, fmt.Errorf("%s: %w", p.cfg.Name, err)
	}
	slices.SortFunc(list, func(a, b leadexec.ClientInfo) int { return int(sign(a.ClientUID - b.ClientUID)) })
	// Read every client before publishing anything: a failed read leaves
	// the snapshot as it was.
	snap := make(map[string]map[string]string, len(list))
	var order []string
	for _, c := range list {
		id := strconv.FormatInt(c.ClientUID, 10)
		if c.ClientUID <= 0 || snap[id] != nil {
			continue
		}
		fs, err := p.api.GetClientData(ctx, c.ClientUID)
		if err != nil {
			return res, fmt.Errorf("%s: client %s: %w", p.cfg.Name, id, err)
		}
		fields := ClientFields(fs)
		if u := strings.TrimSpace(c.Username); u != "" {
			fields["Username"] = u
		}
		if !c.DateAdded.IsZero() {
			fields["DateAdded"] = c.DateAdded.UTC().Format(time.RFC3339)
		}
		snap[id] = fields
		order = append(order, id)
	}
	res.Listed = len(order)
	now := p.cfg.Now().UTC()
	next := maps.Clone(cur.Clients)
	var evs []pipeline.Event
	for _, id := range order {
		fields := snap[id]
		h := pipeline.FieldsHash(fields)
		old := cur.Clients[id]
		if old.Hash == h {
			continue
		}
		if old.Hash == "" {
			res.Created++
		} else {
			res.Changed++
		}
		evFields := map[string]string{}
		var set []string
		for k, v := range fields {
			if v != "" {
				evFields[k] = v
				set = append(set, k)
			}
		}
		for _, k := range old.Set {
			if _, ok := evFields[k]; !ok {
				evFields[k] = "" // had a value, has none now: cleared
			}
		}
		slices.Sort(set)
		d := leClientDigest{N: old.N + 1, Hash: h, Set: set}
		next[id] = d
		evs = append(evs, pipeline.Event{
			Vendor: "leadexec", Entity: "client", ExternalID: id, Op: pipeline.OpUpsert,
			Version: strconv.Itoa(d.N) + ":" + h, Fields: evFields, ChangedAt: now,
		})
	}
	for id, old := range cur.Clients {
		if snap[id] != nil || old.Hash == "" {
			continue
		}
		res.Removed++
		d := leClientDigest{N: old.N + 1}
		next[id] = d
		evs = append(evs, pipeline.Event{
			Vendor: "leadexec", Entity: "client", ExternalID: id, Op: pipeline.OpDelete,
			Version: strconv.Itoa(d.N) + ":removed", Fields: map[string]string{}, ChangedAt: now,
		})
	}
	slices.SortFunc(evs, func(a, b pipeline.Event) int {
		x, _ := strconv.ParseInt(a.ExternalID, 10, 64)
		y, _ := strconv.ParseInt(b.ExternalID, 10, 64)
		return int(sign(x - y))
	})
	for i := range evs {
		if err := evs[i].Seal(); err != nil {
			return res, err
		}
		if err := p.pub.Publish(ctx, evs[i]); err != nil {
			return res, fmt.Errorf("%s: publish client %s: %w", p.cfg.Name, evs[i].ExternalID, err)
		}
	}
	cur.Clients = next
	b, err := json.Marshal(cur)
	if err != nil {
		return res, err
	}
	if err := p.store.SetCursor(ctx, p.cfg.Name, string(b)); err != nil {
		return res, fmt.Errorf("%s: save cursor: %w", p.cfg.Name, err)
	}
	return res, nil
}

func sign(n int64) int64 {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
