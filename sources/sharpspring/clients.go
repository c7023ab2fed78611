package sharpspring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/snapshots"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// Defaults of ClientPollerConfig.
const (
	DefaultClientSource   = "sharpspring.client"
	DefaultClientInterval = 5 * time.Minute
)

// ClientAPI is what the client poller needs from the SharpSpring client
// (*sharpspring.Client implements it).
type ClientAPI interface {
	GetClients(ctx context.Context) ([]sharpspring.AgencyClient, error)
}

// ClientPollerConfig configures a ClientPoller. Zero values are the
// defaults.
type ClientPollerConfig struct {
	// Name is the source's name and cursor key; default
	// "sharpspring.client".
	Name string
	// Interval between snapshots; default 5m. Each costs one request.
	Interval time.Duration
	// QuotaProbeInterval is the pause after SharpSpring answers 106 (daily
	// method call limit reached), whose reset time is not documented: the
	// next snapshot, after it, is the probe. Default 1h; the pause is never
	// shorter than Interval.
	QuotaProbeInterval time.Duration
	// Now is the clock (event ChangedAt: clients carry no timestamps);
	// default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ClientPoller is a pipeline.Source for SharpSpring agency clients. Each
// poll reads getClients (every active client, one request) and diffs it
// against the last snapshot, kept as one content hash per client in the
// source cursor:
//
//   - a new or changed client is an upsert carrying all its fields
//     (HTML-unescaped), Version "<n>:<hash>" where n counts the client's
//     changes, so a change back to an earlier state is a new event;
//   - a client no longer listed (removed, or no longer active) is Op
//     "delete" with Version "<n>:removed".
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
		return nil, errors.New("sharpspring client poller: api, publisher and store are required")
	}
	cfg.Name = cmp.Or(cfg.Name, DefaultClientSource)
	cfg.Interval = poll.OrDefault(cfg.Interval, DefaultClientInterval)
	cfg.QuotaProbeInterval = poll.OrDefault(cfg.QuotaProbeInterval, DefaultQuotaProbeInterval)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ClientPoller{cfg: cfg, api: api, log: poll.Logger(cfg.Logger, cfg.Name),
		snap: poll.NewSnapshots(snapshots.Differ{Name: cfg.Name, Vendor: "sharpspring", Entity: "client",
			Now: cfg.Now, Publisher: pub, Cursors: store})}, nil
}

// Name implements pipeline.Source.
func (p *ClientPoller) Name() string { return p.cfg.Name }

// Run polls every Interval until ctx ends, then returns nil. Failures are
// logged and retried at the next tick (crmsync's own spent daily quota
// waits for its reset; SharpSpring's 106 waits QuotaProbeInterval).
func (p *ClientPoller) Run(ctx context.Context) error {
	return poll.Every(ctx, func(ctx context.Context) time.Duration {
		wait := p.cfg.Interval
		if _, err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			switch q, ok := pipeline.IsQuota(err); {
			case ok:
				wait = max(time.Until(q.ResetAt), wait)
				p.log.Warn("sharpspring client poll failed; retrying", "in", wait, "err", err)
			case isVendorQuota(err):
				wait = max(p.cfg.QuotaProbeInterval, wait)
				logVendorQuota(p.log, p.cfg.Now(), wait, err)
			default:
				p.log.Warn("sharpspring client poll failed; retrying", "in", wait, "err", err)
			}
		}
		return wait
	})
}

// ClientPollResult counts one poll's events.
type ClientPollResult = poll.SnapshotResult

// Poll takes one snapshot and publishes the differences.
func (p *ClientPoller) Poll(ctx context.Context) (ClientPollResult, error) {
	return p.snap.Poll(ctx, func(ctx context.Context) ([]snapshots.Record, int, error) {
		list, err := p.api.GetClients(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", p.cfg.Name, err)
		}
		return clientRecords(list), len(list), nil
	})
}

// clientRecords turns getClients' answer into snapshot records: one per
// client id (the first listed), every field but id, HTML-unescaped. The
// client poller and the backfill pager both read clients here.
func clientRecords(list []sharpspring.AgencyClient) []snapshots.Record {
	var recs []snapshots.Record
	listed := map[int64]bool{}
	for _, c := range list {
		if c.ID() <= 0 || listed[c.ID()] {
			continue
		}
		listed[c.ID()] = true
		fields := make(map[string]string, len(c))
		for k, v := range c {
			if k != "id" {
				fields[k] = html.UnescapeString(v)
			}
		}
		recs = append(recs, snapshots.Record{ID: strconv.FormatInt(c.ID(), 10), Fields: fields})
	}
	return recs
}
