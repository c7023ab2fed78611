package natsbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmsync/crmsync/pipeline"
)

// Config configures the JetStream bus. The zero value of each field is its
// default.
type Config struct {
	// URL of an existing NATS cluster; "" starts an embedded server in
	// StoreDir.
	URL string
	// StoreDir holds the embedded server's JetStream files.
	StoreDir string
	// Listen exposes the embedded server on host:port; "" = in-process only.
	Listen string
	// Stream name; default "CRM".
	Stream string
	// Replicas of the stream on a cluster; default 1.
	Replicas int
	// DuplicateWindow is how long the server remembers message ids to drop
	// repeated publishes; default 1h.
	DuplicateWindow time.Duration
	// BackfillDuplicateWindow is the same for backfill events, which are
	// kept in a stream of their own (Stream + "_BACKFILL"); default 10s. A
	// backfill publishes an account's whole history, some 10,000 records a
	// second, and the server keeps an id per record for the window: an hour
	// would hold them all in memory. A short window loses nothing: a page
	// published again after a crash is skipped by the routes, whose ledger
	// already holds what it carries.
	BackfillDuplicateWindow time.Duration
	// AckWait is how long a delivered message may stay unacknowledged before
	// it is redelivered; default 2m. Routes extend it while a batch is in
	// the sink.
	AckWait time.Duration
}

func (c Config) stream() string {
	if c.Stream == "" {
		return "CRM"
	}
	return c.Stream
}

// backfillStream names the backfill events' stream.
func (c Config) backfillStream() string { return c.stream() + "_BACKFILL" }

func (c Config) backfillDupWindow() time.Duration {
	if c.BackfillDuplicateWindow <= 0 {
		return 10 * time.Second
	}
	return c.BackfillDuplicateWindow
}

// The subjects of the two streams (see pipeline.Subject and
// pipeline.BackfillSubject): crm.<entity>.<vendor> and
// crm.backfill.<entity>.<vendor>. They do not overlap, as JetStream
// requires of two streams.
const (
	liveSubjects     = "crm.*.*"
	backfillSubjects = "crm.backfill.*.*"
	// sharedSubjects is what the change-event stream took before backfill
	// events had a stream of their own.
	sharedSubjects = "crm.>"
	backfillPrefix = "crm.backfill."
)

func (c Config) dupWindow() time.Duration {
	if c.DuplicateWindow <= 0 {
		return time.Hour
	}
	return c.DuplicateWindow
}

func (c Config) ackWait() time.Duration {
	if c.AckWait <= 0 {
		return 2 * time.Minute
	}
	return c.AckWait
}

// Bus is a JetStream-backed pipeline bus. It is safe for concurrent use.
type Bus struct {
	cfg      Config
	srv      *server.Server // nil when connected to an outside cluster or another process's server
	lock     *os.File       // the embedded store's lock, when this process owns it
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	backfill jetstream.Stream // the backfill events' stream; stream itself while SharedBackfill
	// shared says backfill events still go to the change-event stream:
	// one made before they had a stream of their own still holds backfill
	// events a route has not taken (see SharedBackfill).
	shared bool
}

// Open connects to the configured cluster, or starts the embedded server,
// and makes sure the change-event stream exists.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	b := &Bus{cfg: cfg}
	var err error
	switch {
	case cfg.URL != "":
		b.nc, err = nats.Connect(cfg.URL, nats.Name("crmsync"), nats.MaxReconnects(-1))
	default:
		var owner bool
		b.lock, owner, err = storeLock(cfg.StoreDir)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		if !owner {
			// Another crmsync process runs the embedded server: join it.
			var ep endpoint
			if ep, err = readEndpoint(cfg.StoreDir); err != nil {
				return nil, err
			}
			b.nc, err = nats.Connect(ep.URL, nats.Token(ep.Token), nats.Name("crmsync"), nats.MaxReconnects(3))
			break
		}
		token := newToken()
		listen := cfg.Listen
		if listen == "" {
			listen = "127.0.0.1:0"
		}
		b.srv, err = StartEmbedded(EmbeddedOptions{StoreDir: cfg.StoreDir, Listen: listen, Token: token})
		if err != nil {
			b.Close()
			return nil, err
		}
		if err = writeEndpoint(cfg.StoreDir, endpoint{URL: b.srv.ClientURL(), Token: token}); err != nil {
			b.Close()
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		b.nc, err = nats.Connect("", nats.InProcessServer(b.srv), nats.Token(token), nats.Name("crmsync"), nats.MaxReconnects(-1))
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	b.js, err = jetstream.New(b.nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := b.openStreams(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// openStreams makes sure the change-event stream and the backfill stream
// exist. A change-event stream made before backfill events had a stream of
// their own takes every crm.> subject; it is narrowed to live events once
// no route has backfill events left to take in it (its backfill consumers
// are then removed: the routes make them again on the backfill stream).
// Until then both kinds stay in it, as before, and SharedBackfill says so.
func (b *Bus) openStreams(ctx context.Context) error {
	cfg := b.cfg
	if old, err := b.js.Stream(ctx, cfg.stream()); err == nil && slices.Contains(old.CachedInfo().Config.Subjects, sharedSubjects) {
		pending, olds, err := backfillPending(ctx, old)
		if err != nil {
			return fmt.Errorf("stream %s: %w", cfg.stream(), err)
		}
		if pending > 0 {
			b.shared, b.stream, b.backfill = true, old, old
			return nil
		}
		for _, name := range olds {
			if err := old.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("stream %s: remove the drained backfill consumer %s: %w", cfg.stream(), name, err)
			}
		}
	} else if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("stream %s: %w", cfg.stream(), err)
	}
	var err error
	if b.stream, err = b.ensureStream(ctx, cfg.stream(), "crmsync change events", liveSubjects, cfg.dupWindow()); err != nil {
		return err
	}
	b.backfill, err = b.ensureStream(ctx, cfg.backfillStream(), "crmsync backfill events", backfillSubjects, cfg.backfillDupWindow())
	return err
}

// ensureStream creates or updates one of the bus's streams.
func (b *Bus) ensureStream(ctx context.Context, name, description, subjects string, dup time.Duration) (jetstream.Stream, error) {
	s, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: description,
		Subjects:    []string{subjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  dup,
		Replicas:    max(b.cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", name, err)
	}
	return s, nil
}

// backfillPending counts the backfill events the consumers of a stream
// have not taken yet, and names those consumers.
func backfillPending(ctx context.Context, s jetstream.Stream) (pending uint64, names []string, err error) {
	list := s.ListConsumers(ctx)
	for info := range list.Info() {
		filters := append([]string{info.Config.FilterSubject}, info.Config.FilterSubjects...)
		if !slices.ContainsFunc(filters, func(f string) bool { return strings.HasPrefix(f, backfillPrefix) }) {
			continue
		}
		names = append(names, info.Name)
		pending += info.NumPending + uint64(info.NumAckPending)
	}
	return pending, names, list.Err()
}

// SharedBackfill reports whether backfill events still share the
// change-event stream, because it was made before they had a stream of
// their own and routes have backfill events left in it. A start after those
// are taken moves backfill to its own stream.
func (b *Bus) SharedBackfill() bool { return b.shared }

// streamFor returns the stream a consumer of filter reads.
func (b *Bus) streamFor(filter string) jetstream.Stream {
	if strings.HasPrefix(filter, backfillPrefix) {
		return b.backfill
	}
	return b.stream
}

// routeInfo finds a route's consumer (live or backfill) by name and
// returns its state and the stream it reads.
func (b *Bus) routeInfo(ctx context.Context, route string) (*jetstream.ConsumerInfo, jetstream.Stream, error) {
	stream := b.stream
	c, err := stream.Consumer(ctx, durableName(route))
	if errors.Is(err, jetstream.ErrConsumerNotFound) && b.backfill != b.stream {
		stream = b.backfill
		c, err = stream.Consumer(ctx, durableName(route))
	}
	if err != nil {
		return nil, stream, err
	}
	info, err := c.Info(ctx)
	return info, stream, err
}

// JetStream is the bus's JetStream context, for state kept on the same
// cluster (checkpoints/natskv).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// ClientURL is the embedded server's client URL, or "" when this process
// does not run one.
func (b *Bus) ClientURL() string {
	if b.srv == nil {
		return ""
	}
	return b.srv.ClientURL()
}

// Ready reports whether the bus connection is usable.
func (b *Bus) Ready() error {
	if b.nc == nil || !b.nc.IsConnected() {
		return errors.New("nats: not connected")
	}
	return nil
}

// Publish stores ev in the stream and returns once JetStream acknowledged
// it. The event id is the JetStream message id, so a repeated publish within
// the duplicate window is dropped by the server and still reported as
// success.
func (b *Bus) Publish(ctx context.Context, ev pipeline.Event) error {
	data, err := ev.Encode()
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	_, err = b.js.Publish(ctx, ev.Subject(), data, jetstream.WithMsgID(ev.ID))
	if err != nil {
		return fmt.Errorf("publish %s: %w", ev.Subject(), err)
	}
	return nil
}

// publishWindow is how many asynchronous publishes PublishBatch keeps in
// flight; well below the JetStream context's limit of pending acks (4000),
// which the connection's other publishers share.
const publishWindow = 1000

// batchAckTimeout bounds the wait for one window's acks when the caller's
// context has no deadline.
const batchAckTimeout = 30 * time.Second

// PublishBatch stores evs with asynchronous publishes, each carrying its
// event id as the JetStream message id, and returns once JetStream
// acknowledged every one (nil) or one failed (the first error). Events are
// sent in order on one connection, so the stream keeps their order.
func (b *Bus) PublishBatch(ctx context.Context, evs []pipeline.Event) error {
	for start := 0; start < len(evs); start += publishWindow {
		if err := b.publishAsync(ctx, evs[start:min(start+publishWindow, len(evs))]); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bus) publishAsync(ctx context.Context, evs []pipeline.Event) error {
	if _, ok := ctx.Deadline(); !ok {
		// Publish waits at most JetStream's default timeout for one ack;
		// a window of acks gets a bound of its own.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, batchAckTimeout)
		defer cancel()
	}
	acks := make([]jetstream.PubAckFuture, 0, len(evs))
	for _, ev := range evs {
		data, err := ev.Encode()
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		msg := &nats.Msg{Subject: ev.Subject(), Data: data, Header: nats.Header{}}
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.ID))
		if err != nil {
			return fmt.Errorf("publish %s: %w", ev.Subject(), err)
		}
		acks = append(acks, f)
	}
	// Acks that are still outstanding when this returns early are settled
	// by the JetStream context; nothing waits for them.
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish: %w", ctx.Err())
		}
	}
	return nil
}

// Consumer returns the durable consumer of a route, creating it on first
// use. filter is the subject the route reads (see pipeline.Subject).
func (b *Bus) Consumer(ctx context.Context, route, filter string) (pipeline.Consumer, error) {
	c, err := b.streamFor(filter).CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       durableName(route),
		Description:   "crmsync route " + route,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.ackWait(),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
		MaxAckPending: 20000,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer for route %s: %w", route, err)
	}
	return &consumer{c: c}, nil
}

// Backlog reports how many events of the route are not yet acknowledged
// (pending delivery plus delivered and unacknowledged).
func (b *Bus) Backlog(ctx context.Context, route string) (uint64, error) {
	info, _, err := b.routeInfo(ctx, route)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// Close drains the connection and stops the embedded server, if any.
func (b *Bus) Close() error {
	if b.nc != nil {
		_ = b.nc.Drain()
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
		os.Remove(filepath.Join(b.cfg.StoreDir, endpointFile))
	}
	if b.lock != nil {
		b.lock.Close() // releases the flock
	}
	return nil
}

// LastSeq is the stream's last sequence number (0 when empty).
func (b *Bus) LastSeq(ctx context.Context) (uint64, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

type consumer struct{ c jetstream.Consumer }

func (c *consumer) Fetch(ctx context.Context, n int, wait time.Duration) ([]*pipeline.Message, error) {
	if wait < 10*time.Millisecond {
		wait = 10 * time.Millisecond
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
		wait = max(time.Until(d), 10*time.Millisecond)
	}
	batch, err := c.c.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	var out []*pipeline.Message
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			_ = m.Term()
			continue
		}
		ev, err := pipeline.UnmarshalEvent(m.Data())
		if err != nil {
			// A message that is not an event can never be processed; terminate
			// it rather than redeliver it forever.
			_ = m.TermWithReason(err.Error())
			continue
		}
		out = append(out, pipeline.NewMessage(ev, md.Sequence.Stream, int(md.NumDelivered), acker{m}))
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		return out, fmt.Errorf("fetch: %w", err)
	}
	return out, ctx.Err()
}

type acker struct{ m jetstream.Msg }

func (a acker) Ack() error                    { return a.m.Ack() }
func (a acker) Nak(delay time.Duration) error { return a.m.NakWithDelay(delay) }
func (a acker) InProgress() error             { return a.m.InProgress() }

func durableName(route string) string {
	out := []byte("route_")
	for i := 0; i < len(route); i++ {
		ch := route[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-', ch == '_':
			out = append(out, ch)
		default:
			out = append(out, '_')
		}
	}
	return string(out)
}

func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, p, nil
}

// Lag is the age of the oldest event of the route that is not yet
// acknowledged (0 when the route is caught up).
func (b *Bus) Lag(ctx context.Context, route string) (time.Duration, error) {
	info, stream, err := b.routeInfo(ctx, route)
	if err != nil {
		return 0, err
	}
	if info.NumPending == 0 && info.NumAckPending == 0 {
		return 0, nil
	}
	for seq := info.AckFloor.Stream + 1; seq <= info.AckFloor.Stream+64; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted or filtered out; look at the next one
		}
		if !matchSubject(info.Config.FilterSubject, m.Subject) {
			continue
		}
		return time.Since(m.Time), nil
	}
	return 0, nil
}

func matchSubject(filter, subject string) bool {
	return filter == "" || filter == subject || filter == ">"
}
