package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// ReplayOptions select what a replay re-runs.
type ReplayOptions struct {
	Route      string
	FromSeq    uint64    // stream sequence to start at (1 = the beginning)
	Since      time.Time // or: events stored since this time
	Checkpoint string    // or: events after this named checkpoint
	Until      time.Time // optional: only events whose change time is not after this
	EntityID   string    // optional: only this source record
	DryRun     bool
	// OnBatch, if set, is called after each replayed batch.
	OnBatch func(pipeline.ReplayResult)
}

// ReplaySummary adds up a replay.
type ReplaySummary struct {
	Events, Records, Changed, Written, Dead int
	Diffs                                   []pipeline.Diff
}

// Replay re-runs a route's map and sink over a stretch of the stream, up to
// the stream's end when the replay started. Only fields that differ from
// what the target holds now are written; DryRun writes nothing.
func (a *App) Replay(ctx context.Context, bus Bus, o ReplayOptions) (ReplaySummary, error) {
	var sum ReplaySummary
	ru, ok := a.Route(o.Route)
	if !ok {
		return sum, fmt.Errorf("replay: no route %q in the config", o.Route)
	}
	vendor, entity, _ := strings.Cut(ru.From(), ".")
	filter := pipeline.Subject(entity, vendor)
	// Without a known end (Kafka), the replay reads until the stream is idle.
	last := ^uint64(0)
	if ls, ok := bus.(lastSeqer); ok {
		var err error
		if last, err = ls.LastSeq(ctx); err != nil {
			return sum, err
		}
	}
	var err error
	var cons pipeline.Consumer
	switch {
	case o.Checkpoint != "":
		pos, _, err := a.State.Checkpoint(ctx, o.Checkpoint)
		if err != nil {
			return sum, err
		}
		cons, err = replayAfter(ctx, bus, filter, o.Checkpoint, pos)
		if err != nil {
			return sum, err
		}
	case !o.Since.IsZero():
		cons, err = bus.ReplaySince(ctx, filter, o.Since)
	default:
		cons, err = bus.ReplayFrom(ctx, filter, max(o.FromSeq, 1))
	}
	if err != nil {
		return sum, err
	}
	if c, ok := cons.(interface{ Close() error }); ok {
		defer func() { _ = c.Close() }() // one left behind is deleted by the server once idle
	}
	idle := 0
	for idle < 3 {
		msgs, err := cons.Fetch(ctx, 500, 300*time.Millisecond)
		if err != nil && ctx.Err() != nil {
			return sum, ctx.Err()
		}
		if len(msgs) == 0 {
			idle++
			continue
		}
		idle = 0
		var evs []pipeline.Event
		done := false
		for _, m := range msgs {
			_ = m.Ack() // the consumer is this run's own: a lost ack only redelivers to it, after the run
			if m.Seq > last {
				done = true
				continue
			}
			if o.EntityID != "" && m.Event.ExternalID != o.EntityID {
				continue
			}
			if !o.Until.IsZero() && m.Event.ChangedAt.After(o.Until) {
				continue
			}
			evs = append(evs, m.Event)
		}
		if len(evs) > 0 {
			res, err := ru.Replay(ctx, evs, o.DryRun)
			if err != nil {
				return sum, err
			}
			sum.Events += res.Events
			sum.Records += res.Records
			sum.Changed += len(res.Diffs)
			sum.Written += res.Written
			sum.Dead += res.Dead
			sum.Diffs = append(sum.Diffs, res.Diffs...)
			if o.OnBatch != nil {
				o.OnBatch(res)
			}
		}
		if done || msgs[len(msgs)-1].Seq >= last {
			break
		}
	}
	return sum, nil
}

// SaveCheckpoint names the bus's current end, to replay from later: the
// stream sequence on NATS, every topic's partition offsets on Kafka.
func (a *App) SaveCheckpoint(ctx context.Context, bus Bus, name string) (pipeline.Position, error) {
	var pos pipeline.Position
	var err error
	switch b := bus.(type) {
	case lastSeqer:
		pos.Seq, err = b.LastSeq(ctx)
	case endPositioner:
		pos, err = b.EndPosition(ctx)
	default:
		err = fmt.Errorf("this bus has no stream position; replay --since a time instead")
	}
	if err != nil {
		return pos, fmt.Errorf("checkpoint %q: %w", name, err)
	}
	return pos, a.State.SaveCheckpoint(ctx, name, pos)
}

// replayAfter opens a replay of filter that starts after a checkpoint's
// position, on the kind of bus the checkpoint was saved on.
func replayAfter(ctx context.Context, bus Bus, filter, name string, pos pipeline.Position) (pipeline.Consumer, error) {
	r, kafka := bus.(endPositioner)
	switch {
	case len(pos.Offsets) > 0 && !kafka:
		return nil, fmt.Errorf("checkpoint %q holds Kafka offsets, and this instance's bus is not Kafka", name)
	case len(pos.Offsets) == 0 && kafka && pos.Seq > 0:
		return nil, fmt.Errorf("checkpoint %q holds a NATS stream sequence, and this instance's bus is Kafka", name)
	case kafka:
		return r.ReplayAfter(ctx, filter, pos)
	}
	return bus.ReplayFrom(ctx, filter, pos.Seq+1)
}
