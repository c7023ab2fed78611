package leadexec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/snapshots"
	"github.com/crmsync/crmsync/sources/internal/poll"
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
	cfg  ClientPollerConfig
	api  ClientAPI
	log  *slog.Logger
	snap *poll.Snapshots
}

// NewClientPoller returns a client poller.
func NewClientPoller(cfg ClientPollerConfig, api ClientAPI, pub pipeline.Publisher, store pipeline.Cursors) (*ClientPoller, error) {
	if api == nil || pub == nil || store == nil {
		return nil, errors.New("leadexec client poller: api, publisher and store are required")
	}
	cfg.Name = cmp.Or(cfg.Name, DefaultClientSource)
	cfg.Interval = poll.OrDefault(cfg.Interval, DefaultClientInterval)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ClientPoller{cfg: cfg, api: api, log: poll.Logger(cfg.Logger, cfg.Name),
		snap: poll.NewSnapshots(snapshots.Differ{Name: cfg.Name, Vendor: "leadexec", Entity: "client", ClearEmpty: true,
			Compare: snapshots.CompareNumeric, Now: cfg.Now, Publisher: pub, Cursors: store})}, nil
}

// Name implements pipeline.Source.
func (p *ClientPoller) Name() string { return p.cfg.Name }

// Run polls every Interval until ctx ends, then returns nil. Failures are
// logged and retried at the next tick.
func (p *ClientPoller) Run(ctx context.Context) error {
	return poll.Every(ctx, func(ctx context.Context) time.Duration {
		if _, err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("leadexec client poll failed; retrying", "in", p.cfg.Interval, "err", err)
		}
		return p.cfg.Interval
	})
}

// ClientPollResult counts one poll's events.
type ClientPollResult = poll.SnapshotResult

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
	return p.snap.Poll(ctx, func(ctx context.Context) ([]snapshots.Record, int, error) {
		list, err := p.api.GetClientList(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", p.cfg.Name, err)
		}
		slices.SortFunc(list, func(a, b leadexec.ClientInfo) int { return cmp.Compare(a.ClientUID, b.ClientUID) })
		// Read every client before publishing anything: a failed read
		// leaves the snapshot as it was.
		var recs []snapshots.Record
		seen := map[int64]bool{}
		for _, c := range list {
			if c.ClientUID <= 0 || seen[c.ClientUID] {
				continue
			}
			seen[c.ClientUID] = true
			id := strconv.FormatInt(c.ClientUID, 10)
			fs, err := p.api.GetClientData(ctx, c.ClientUID)
			if err != nil {
				return nil, 0, fmt.Errorf("%s: client %s: %w", p.cfg.Name, id, err)
			}
			recs = append(recs, snapshots.Record{ID: id, Fields: clientEventFields(c, fs)})
		}
		return recs, len(recs), nil
	})
}

// clientEventFields are a client's event fields: ClientFields, Username and
// DateAdded (RFC 3339 UTC). The client poller and the backfill pager both
// read clients here.
func clientEventFields(c leadexec.ClientInfo, fs []leadexec.ClientField) map[string]string {
	fields := ClientFields(fs)
	if u := strings.TrimSpace(c.Username); u != "" {
		fields["Username"] = u
	}
	if !c.DateAdded.IsZero() {
		fields["DateAdded"] = c.DateAdded.UTC().Format(time.RFC3339)
	}
	return fields
}
