// Package sharpspring writes canonical lead changes into SharpSpring leads
// in batches: updateLeadsV2 by id or email, 404 → createLeads, 301 → look the
// id up by email → update; 302 ("no rows affected") is success. Per-object
// errors are handled per object; a batch refused as a whole is split to find
// the object at fault.
package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// DefaultQuotaProbeInterval is how long a sink's writes pause after
// SharpSpring answers 106, when the config does not say.
const DefaultQuotaProbeInterval = time.Hour

// LeadSinkConfig configures a LeadSink. The zero value is usable.
type LeadSinkConfig struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// QuotaProbeInterval is how long writes pause when SharpSpring answers
	// 106 (daily method call limit reached): the records fail with a
	// *pipeline.QuotaError whose ResetAt is now + QuotaProbeInterval, so
	// the route pauses and then probes with one request. SharpSpring does
	// not document when its day resets. Default 1h.
	QuotaProbeInterval time.Duration
	// Types are the account's custom lead field types (read from getFields
	// at start-up and on schedule). Every custom field value is converted
	// to its field's type before it is sent; a record with a value that
	// cannot be converted is dead-lettered with the field and the value,
	// and the rest of the batch is written. Nil: values are sent as they
	// are.
	Types *sharpspring.FieldTypes
}

// LeadSink is a pipeline.Sink for SharpSpring leads.
type LeadSink struct {
	c     *sharpspring.Client
	log   *slog.Logger
	probe time.Duration
	types *sharpspring.FieldTypes
}

// NewLeadSink returns a sink that writes through c, with the defaults of
// LeadSinkConfig but the logger.
func NewLeadSink(c *sharpspring.Client, log *slog.Logger) *LeadSink {
	return NewLeadSinkWithConfig(LeadSinkConfig{Logger: log}, c)
}

// NewLeadSinkWithConfig returns a sink configured by cfg that writes
// through c.
func NewLeadSinkWithConfig(cfg LeadSinkConfig, c *sharpspring.Client) *LeadSink {
	log, probe := withDefaults(cfg.Logger, cfg.QuotaProbeInterval)
	return &LeadSink{c: c, log: log, probe: probe, types: cfg.Types}
}

// withDefaults returns a sink's logger and quota probe interval, the
// defaults in place of unset ones.
func withDefaults(log *slog.Logger, probe time.Duration) (*slog.Logger, time.Duration) {
	if log == nil {
		log = slog.Default()
	}
	if probe <= 0 {
		probe = DefaultQuotaProbeInterval
	}
	return log, probe
}

// step is where one record is in the upsert sequence.
type step int

const (
	stepUpdate step = iota
	stepCreate
	stepLookup
	stepDone
)

type item struct {
	rec  *pipeline.Record
	id   int64 // SharpSpring id, 0 if unknown
	step step
	hops int
	out  pipeline.Outcome
}

// maxHops bounds the update→create→lookup→update cycle of one record, so a
// lead deleted and re-created under us cannot loop forever.
const maxHops = 6

// writeState is what one Write has learnt so far.
type writeState struct {
	// quota is the vendor's 106 answer, once one came: no further request
	// is sent by this Write, so that a route probing a spent daily limit
	// spends one request per probe.
	quota error
}

// Write upserts records (at most sharpspring.MaxObjects) and reports one
// outcome per record. Once SharpSpring answers 106, the records not yet
// written fail with a *pipeline.QuotaError without further requests.
func (s *LeadSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	st := &writeState{}
	items := make([]*item, len(recs))
	for i, r := range recs {
		it := &item{rec: r, step: stepCreate}
		if id, err := strconv.ParseInt(r.TargetID, 10, 64); err == nil && id > 0 {
			it.id, it.step = id, stepUpdate
		}
		items[i] = it
		if err := s.convert(r); err != nil {
			it.fail(err)
		}
	}
	// A lead unknown to us is most likely new: create first and fall back
	// to an update on 301. That spends one request per batch of new leads
	// instead of two (update → 404 → create).
	for {
		var upd, cre, look []*item
		for _, it := range items {
			if it.step != stepDone && it.hops >= maxHops {
				it.fail(pipeline.Permanent("loop", errors.New("sharpspring: lead keeps moving between update and create (deleted and re-created?)")))
			}
			switch it.step {
			case stepUpdate:
				upd = append(upd, it)
			case stepCreate:
				cre = append(cre, it)
			case stepLookup:
				look = append(look, it)
			}
		}
		if len(upd)+len(cre)+len(look) == 0 {
			break
		}
		if len(look) > 0 {
			s.lookup(ctx, st, look)
		}
		if len(upd) > 0 {
			upd = s.emailsTaken(ctx, st, upd)
			s.split(ctx, st, upd, s.update)
		}
		if len(cre) > 0 {
			s.split(ctx, st, cre, s.create)
		}
	}
	out := make([]pipeline.Outcome, len(items))
	waiting := 0
	for i, it := range items {
		out[i] = it.out
		if isVendorQuota(it.out.Err) {
			waiting++
		}
	}
	if st.quota != nil {
		logVendorQuota(s.log, "lead", waiting, s.probe, quotaError(st.quota, s.probe))
	}
	return out
}

// convert writes every custom field value of r as its field's SharpSpring
// type (SharpSpring refuses a value of another type). A value that cannot
// be converted is a permanent failure of r naming each such field and
// value; r is then left as it was. Otherwise r's values are replaced by
// their converted form, which is what SharpSpring holds once written and
// so what the route records as written.
func (s *LeadSink) convert(r *pipeline.Record) error {
	if s.types == nil {
		return nil
	}
	var problems []string
	var converted map[string]string
	for f, v := range r.Fields {
		out, err := s.types.Convert(f, v)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if out != v {
			if converted == nil {
				converted = map[string]string{}
			}
			converted[f] = out
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems) // each names its field first
		return pipeline.Permanent(pipeline.CodeFieldType, fmt.Errorf("%s; fix the value at the source or the field's type in SharpSpring, then retry the dead letter",
			strings.Join(problems, "; ")))
	}
	for f, v := range converted {
		r.Fields[f] = v
	}
	return nil
}

// isVendorQuota reports whether err is SharpSpring's own 106 answer (as
// opposed to crmsync's daily budget running out, whose reset is known).
func isVendorQuota(err error) bool {
	if err == nil {
		return false // asked of every record's outcome: no allocation
	}
	var se *sharpspring.Error
	return errors.As(err, &se) && se.Class() == apierr.Quota
}

// quotaError is the pause that follows a 106 from SharpSpring: its daily
// limit's reset time is undocumented, so the route retries (one request, a
// probe) after probe rather than at a guessed reset.
func quotaError(err error, probe time.Duration) *pipeline.QuotaError {
	return &pipeline.QuotaError{Account: "sharpspring", ResetAt: time.Now().Add(probe), Probe: true, Err: err}
}

// logVendorQuota says why writes pause after a 106.
func logVendorQuota(log *slog.Logger, what string, records int, probe time.Duration, q *pipeline.QuotaError) {
	log.Warn("SharpSpring reported its daily method call limit reached (error 106); its reset time is not documented: "+
		"writes pause until probe_at, then one request probes whether the limit has lifted",
		"entity", what, "records", records, "probe_at", q.ResetAt.UTC(), "probe_interval", probe, "err", q.Err)
}

func (it *item) fail(err error) {
	it.step = stepDone
	it.out = pipeline.Outcome{Err: err}
}

func (it *item) succeed() {
	it.step = stepDone
	o := pipeline.Outcome{}
	if it.id > 0 {
		o.TargetID = strconv.FormatInt(it.id, 10)
	}
	if e := it.email(); e != "" {
		o.Links = []pipeline.Key{{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindEmail, Value: strings.ToLower(e)}}
	}
	it.out = o
}

func (it *item) email() string {
	if e := it.rec.Fields[mappings.SharpSpringEmailField]; e != "" {
		return e
	}
	return it.rec.NaturalKeys[mappings.SharpSpringEmailField]
}

// object is the write object: the changed fields, plus the id when known,
// else the natural key.
func (it *item) object() map[string]any {
	fields := it.rec.Fields
	if it.id == 0 {
		fields = make(map[string]string, len(it.rec.Fields)+1)
		for k, v := range it.rec.NaturalKeys {
			fields[k] = v
		}
		for k, v := range it.rec.Fields {
			fields[k] = v
		}
	}
	return sharpspring.LeadObject(it.id, fields)
}

func objects(items []*item) []map[string]any {
	objs := make([]map[string]any, len(items))
	for i, it := range items {
		objs[i] = it.object()
	}
	return objs
}

// split runs call on items; when the request is refused as a whole for a
// permanent reason (a malformed object, 209), it halves the set until the
// object at fault is alone and fails only that one.
func (s *LeadSink) split(ctx context.Context, st *writeState, items []*item, call func(context.Context, []*item) error) {
	for start := 0; start < len(items); start += sharpspring.MaxObjects {
		chunk := items[start:min(start+sharpspring.MaxObjects, len(items))]
		s.splitChunk(ctx, st, chunk, call)
	}
}

func (s *LeadSink) splitChunk(ctx context.Context, st *writeState, items []*item, call func(context.Context, []*item) error) {
	if st.quota != nil {
		s.failAll(items, st.quota)
		return
	}
	err := call(ctx, items)
	if err == nil {
		for _, it := range items {
			var se *sharpspring.Error
			if it.step == stepDone && isVendorQuota(it.out.Err) && errors.As(it.out.Err, &se) {
				st.quota = se // an object answered 106
				break
			}
		}
		return
	}
	if isVendorQuota(err) {
		st.quota = err
	}
	perr := classify(err, s.probe)
	if errors.Is(perr, pipeline.ErrPermanent) && len(items) > 1 {
		mid := len(items) / 2
		s.splitChunk(ctx, st, items[:mid], call)
		s.splitChunk(ctx, st, items[mid:], call)
		return
	}
	for _, it := range items {
		it.fail(perr)
	}
}

// failAll fails items with err, classified.
func (s *LeadSink) failAll(items []*item, err error) {
	perr := classify(err, s.probe)
	for _, it := range items {
		it.fail(perr)
	}
}

func (s *LeadSink) update(ctx context.Context, items []*item) error {
	return send(ctx, items, s.c.UpdateLeadsV2, func(it *item, r sharpspring.ObjectResult) {
		switch {
		case r.Success, r.Err.Code == 302:
			it.succeed()
		case r.Err.Code == 404:
			// Unknown id (deleted in SharpSpring) or unknown email: create.
			it.id, it.step = 0, stepCreate
		default:
			it.fail(classify(r.Err, s.probe))
		}
	})
}

func (s *LeadSink) create(ctx context.Context, items []*item) error {
	return send(ctx, items, s.c.CreateLeads, func(it *item, r sharpspring.ObjectResult) {
		switch {
		case r.Success:
			it.id = r.ID
			it.succeed()
		case r.Err.Code == 301:
			// The email exists (maybe inactive, maybe created by an earlier
			// attempt whose answer was lost): find its id and update.
			it.step = stepLookup
		default:
			it.fail(classify(r.Err, s.probe))
		}
	})
}

// send writes items in one call and hands each item its result, counting
// the hop.
func send(ctx context.Context, items []*item, call func(context.Context, []map[string]any) ([]sharpspring.ObjectResult, error),
	each func(it *item, r sharpspring.ObjectResult)) error {
	res, err := call(ctx, objects(items))
	if err != nil {
		return err
	}
	for i, r := range res {
		it := items[i]
		it.hops++
		each(it, r)
	}
	return nil
}

// emailsTaken fails the updates that would give a lead an email another lead
// already has, and returns the others. SharpSpring answers such an update
// with success but changes nothing except updateTimestamp (its own "API
// bug"), so the record would be settled as written while SharpSpring kept
// the old values. Only updates of a known lead that send an email (a
// changed one, as the route sends only changed fields) are checked, with
// one getLeads for the batch.
func (s *LeadSink) emailsTaken(ctx context.Context, st *writeState, items []*item) []*item {
	var check []*item
	for _, it := range items {
		if it.id > 0 && it.hops == 0 && it.rec.Fields[mappings.SharpSpringEmailField] != "" {
			check = append(check, it)
		}
	}
	if len(check) == 0 || st.quota != nil {
		return items
	}
	emails := make([]string, 0, len(check))
	for _, it := range check {
		emails = append(emails, it.rec.Fields[mappings.SharpSpringEmailField])
	}
	leads, err := s.c.GetLeads(ctx, sharpspring.GetLeadsQuery{Emails: emails, Fields: []string{"id", "emailAddress"}})
	if err != nil {
		if isVendorQuota(err) {
			st.quota = err
		}
		s.failAll(check, err)
		return slices.DeleteFunc(items, func(it *item) bool { return it.step == stepDone })
	}
	owner := make(map[string]int64, len(leads))
	for _, l := range leads {
		owner[strings.ToLower(l["emailAddress"])] = l.ID()
	}
	for _, it := range check {
		e := it.rec.Fields[mappings.SharpSpringEmailField]
		if id := owner[strings.ToLower(e)]; id > 0 && id != it.id {
			it.fail(pipeline.Permanent("email-taken", fmt.Errorf(
				"sharpspring: the new email %q of lead %d already belongs to lead %d; SharpSpring would answer success and change nothing (merge or fix the two leads, then retry the dead letter)",
				e, it.id, id)))
		}
	}
	return slices.DeleteFunc(items, func(it *item) bool { return it.step == stepDone })
}

// lookup finds the ids of leads whose email already exists.
func (s *LeadSink) lookup(ctx context.Context, st *writeState, items []*item) {
	for start := 0; start < len(items); start += 500 {
		chunk := items[start:min(start+500, len(items))]
		if st.quota != nil {
			s.failAll(chunk, st.quota)
			continue
		}
		emails := make([]string, 0, len(chunk))
		for _, it := range chunk {
			emails = append(emails, it.email())
		}
		leads, err := s.c.GetLeads(ctx, sharpspring.GetLeadsQuery{Emails: emails, Fields: []string{"id", "emailAddress"}})
		if err != nil {
			if isVendorQuota(err) {
				st.quota = err
			}
			s.failAll(chunk, err)
			continue
		}
		ids := make(map[string]int64, len(leads))
		for _, l := range leads {
			ids[strings.ToLower(l["emailAddress"])] = l.ID()
		}
		for _, it := range chunk {
			it.hops++
			if id := ids[strings.ToLower(it.email())]; id > 0 {
				it.id, it.step = id, stepUpdate
				continue
			}
			// 301 said it exists, getLeads says it does not: it was deleted
			// in between. Try to create it again.
			it.step = stepCreate
		}
	}
}

// classify turns a SharpSpring error into the pipeline's error classes. A
// 106 becomes a *pipeline.QuotaError that pauses for probe (see quotaError).
func classify(err error, probe time.Duration) error {
	var se *sharpspring.Error
	if !errors.As(err, &se) {
		return err // ctx errors, gate errors (quota) pass through
	}
	if apierr.Classify(err) == apierr.Quota {
		return quotaError(err, probe)
	}
	code := strconv.Itoa(se.Code)
	if se.Code == 0 {
		code = "http-" + strconv.Itoa(se.HTTPStatus)
	}
	return pipeline.FromVendor(err, code, time.Second)
}
