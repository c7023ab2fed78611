package acme

import (
	"context"
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// Target vendor and entity, as in routes, events and the write ledger.
const (
	Vendor = "acme"
	Entity = "lead"
)

// SinkConfig configures a Sink. The zero value of each field but Client
// means its default.
type SinkConfig struct {
	Client *Client // required
	// RateLimitWait is used when a 429 does not say how long to wait;
	// default one minute.
	RateLimitWait time.Duration
	// InDoubtWait is how long after a write's answer was lost Acme is
	// assumed able to still apply it (see pipeline.InDoubtError); default
	// 30s.
	InDoubtWait time.Duration
}

// Sink writes lead records to Acme with the batch upsert, up to MaxBatch
// leads per request, and reads them back. It is a pipeline.Sink and a
// pipeline.TargetReader, safe for concurrent use.
//
// A record goes by its TargetID when it has one, else by its email (its
// natural key), which Acme upserts on: writing a record again, with or
// without its id, updates the same lead. A record whose id Acme no longer
// has (the lead was deleted there) is sent again by email in a second
// request, which creates it anew.
type Sink struct {
	cfg SinkConfig
}

// NewSink returns a sink writing through cfg.Client.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.Client == nil {
		return nil, errors.New("acme sink: the client is required")
	}
	if cfg.RateLimitWait <= 0 {
		cfg.RateLimitWait = time.Minute
	}
	if cfg.InDoubtWait <= 0 {
		cfg.InDoubtWait = 30 * time.Second
	}
	return &Sink{cfg: cfg}, nil
}

// Write implements pipeline.Sink: one outcome per record, in order. A
// lead Acme refuses fails alone, as permanent with Acme's code.
func (s *Sink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := make([]pipeline.Outcome, len(recs))
	for start := 0; start < len(recs); start += MaxBatch {
		end := min(start+MaxBatch, len(recs))
		s.write(ctx, recs[start:end], out[start:end])
	}
	return out
}

// write writes one batch of at most MaxBatch records into out.
func (s *Sink) write(ctx context.Context, recs []*pipeline.Record, out []pipeline.Outcome) {
	items := make([]LeadWrite, len(recs))
	for i, r := range recs {
		items[i] = leadWrite(r, r.TargetID)
	}
	res, err := s.cfg.Client.Upsert(ctx, items)
	if err != nil {
		err = s.classifyWrite(err)
		for i := range out {
			out[i] = pipeline.Outcome{Err: err}
		}
		return
	}
	var again []int // records whose id Acme no longer has
	for i, r := range res {
		if r.Err != nil && items[i].ID != "" && code(r.Err) == "not_found" {
			again = append(again, i)
			continue
		}
		out[i] = s.outcome(recs[i], r)
	}
	if len(again) == 0 {
		return
	}
	byEmail := make([]LeadWrite, len(again))
	for j, i := range again {
		byEmail[j] = leadWrite(recs[i], "")
	}
	res, err = s.cfg.Client.Upsert(ctx, byEmail)
	for j, i := range again {
		if err != nil {
			out[i] = pipeline.Outcome{Err: s.classifyWrite(err)}
			continue
		}
		out[i] = s.outcome(recs[i], res[j])
	}
}

// leadWrite is the batch item of r: by id when id is set, else with the
// record's natural keys (its email).
func leadWrite(r *pipeline.Record, id string) LeadWrite {
	fields := maps.Clone(r.Fields)
	if fields == nil {
		fields = map[string]string{}
	}
	if id == "" {
		for k, v := range r.NaturalKeys {
			if _, set := fields[k]; !set {
				fields[k] = v
			}
		}
	}
	return LeadWrite{ID: id, Fields: fields}
}

func (s *Sink) outcome(r *pipeline.Record, res Result) pipeline.Outcome {
	if res.Err != nil {
		return pipeline.Outcome{Err: s.classify(res.Err)}
	}
	o := pipeline.Outcome{TargetID: res.ID}
	if e := strings.ToLower(strings.TrimSpace(value(r, FieldEmail))); e != "" {
		o.Links = []pipeline.Key{{Vendor: Vendor, Entity: Entity, Kind: pipeline.KindEmail, Value: e}}
	}
	return o
}

// value returns a field of the record: its natural key, else its field.
func value(r *pipeline.Record, k string) string {
	if v := r.NaturalKeys[k]; v != "" {
		return v
	}
	return r.Fields[k]
}

// code is Acme's code of an *Error, "" for any other error.
func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// classify turns an Acme error into the pipeline's error classes: a
// refused key waits (the records are not at fault), a 429 waits as long
// as Acme asked, a refusal is permanent with Acme's code, anything else is
// retried. Errors that are not Acme's (the context, a spent budget) pass
// through.
func (s *Sink) classify(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	wait := e.RetryAfter
	if wait <= 0 {
		wait = s.cfg.RateLimitWait
	}
	code := e.Code
	if code == "" {
		code = "acme-refused"
	}
	return pipeline.FromVendor(err, code, wait)
}

// classifyWrite is classify for a batch request: one whose answer was
// lost may have been applied, and may still be applied until InDoubtWait
// from now.
func (s *Sink) classifyWrite(err error) error {
	c := s.classify(err)
	var e *Error
	if errors.As(err, &e) && e.NoAnswer {
		return pipeline.InDoubt(c, time.Now().Add(s.cfg.InDoubtWait))
	}
	return c
}

// Read implements pipeline.TargetReader: each record's lead by its
// TargetID when set, else by its email, as every Acme field ("" when the
// lead has none); nil for a record Acme does not have.
func (s *Sink) Read(ctx context.Context, recs []*pipeline.Record) ([]map[string]string, error) {
	var ids, emails []string
	for _, r := range recs {
		if r.TargetID != "" {
			ids = append(ids, r.TargetID)
		} else if e := strings.TrimSpace(value(r, FieldEmail)); e != "" {
			emails = append(emails, e)
		}
	}
	byID := map[string]Lead{}
	byEmail := map[string]Lead{}
	for _, q := range []struct {
		keys []string
		get  func(context.Context, []string) ([]Lead, error)
	}{{ids, s.cfg.Client.Get}, {emails, s.cfg.Client.FindByEmail}} {
		for start := 0; start < len(q.keys); start += MaxBatch {
			leads, err := q.get(ctx, q.keys[start:min(start+MaxBatch, len(q.keys))])
			if err != nil {
				return nil, s.classify(err)
			}
			for _, l := range leads {
				byID[l.ID] = l
				if e := l.Fields[FieldEmail]; e != "" {
					byEmail[strings.ToLower(e)] = l
				}
			}
		}
	}
	out := make([]map[string]string, len(recs))
	for i, r := range recs {
		var l Lead
		var ok bool
		if r.TargetID != "" {
			l, ok = byID[r.TargetID]
		} else {
			l, ok = byEmail[strings.ToLower(strings.TrimSpace(value(r, FieldEmail)))]
		}
		if ok {
			out[i] = values(l)
		}
	}
	return out, nil
}

// values are every field of a lead, "" for the ones it has not.
func values(l Lead) map[string]string {
	out := make(map[string]string, len(Fields))
	for _, f := range Fields {
		out[f] = l.Fields[f]
	}
	return out
}
