// Package ivvy writes canonical lead changes into iVvy leads with
// contact?action=addOrUpdateLead, one signed request per lead (iVvy has no
// batch upsert), or as batch?action=run jobs for backfills when configured.
//
// A lead unknown to us is created as a contact lead with an inline contact
// (first name, last name, email, phone, and our canonical id in the
// contact's externalId, with updateIfExists so an existing contact is
// reused). sourceId, typeId, stageId, qualityId and industryId are resolved
// by name from iVvy's lookup lists, from the record's lookup fields or the
// configured defaults. Before a create, the contact is looked up by
// externalId and its lead by contact id, so a create whose answer was lost
// (crash, dropped connection) is found again instead of duplicated. A known
// lead is updated by id; 24216 (deleted in iVvy) falls back to the create
// path once. Per-record outcomes; no retries here (the pipeline retries).
//
// Updating a lead's contact fields needs the contact's id. It comes, in
// order, from this process's memory, the identity map (the contact link,
// mappings.IVvyContactKey, that the sink returns in its outcomes and routes
// from iVvy link from what the poller reads), our externalId on the contact
// (getContactList by externalId, documented: one request), and last the
// lead list (getLeadList by id, undocumented, checked, with a whole-list
// fallback). The create answer carries the lead id only; the contact id is
// not read back after every create but learned by the first update that
// needs it, which most leads never see.
package ivvy

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

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// Record fields besides the ones of mappings.IVvyLeads that the sink reads:
// lookup names (the same keys the poller emits) and the lead name.
const (
	FieldSourceName   = "sourceName"
	FieldTypeName     = "type"
	FieldSubtypeName  = "subtypeName"
	FieldStageName    = "stageName"
	FieldQualityName  = "quality"
	FieldIndustryName = "industryName"
	FieldChannelName  = "channelName"
)

// Defaults name the lookup entries a new lead gets when its record carries
// none. Each is an entry's name as shown in iVvy (compared
// case-insensitively) or its numeric id. Source, Type, Stage, Quality and
// Industry are required by iVvy to create a contact lead; Subtype when the
// type has subtypes.
type Defaults struct {
	Source, Type, Subtype, Stage, Quality, Industry, Channel string
}

// Config configures a LeadSink.
type Config struct {
	Client   *ivvy.Client // required; its Gate is the shared rate limiter
	Defaults Defaults
	// BatchMin, when > 0, sends a step's requests as batch?action=run jobs
	// (≤ 200 per batch) once the step has at least BatchMin of them; meant
	// for backfills. Default 0: one request per call.
	BatchMin int
	// BatchPoll is the wait between batch?action=progress calls; default 1s.
	BatchPoll time.Duration
	// BatchMaxWait bounds the wait for one batch; default 10 minutes.
	BatchMaxWait time.Duration
	// BatchCallbackURL is passed to batch?action=run ("" = none).
	BatchCallbackURL string
	// Identity, when set, gives the contact of a known lead from the
	// contact links kept in the identity map (mappings.IVvyContactKey: the
	// sink returns the link in its outcomes, and routes from iVvy link what
	// the poller reads), so an update of a lead's contact fields needs no
	// lookup request. nil: the contact is looked up in iVvy once per lead
	// and process.
	Identity Identity
	Logger   *slog.Logger
	// CheckWait bounds how long Check retries the lookup lists while iVvy
	// fails transiently (5xx, timeouts, malformed answers, rate limits), so
	// that an instance starting during a short outage starts all the same;
	// default 1 minute. A default that does not exist, or refused
	// credentials, fail at once.
	CheckWait time.Duration
}

// Identity is the part of the identity map the sink reads
// (pipeline.Identity).
type Identity interface {
	VendorKeys(ctx context.Context, vendor, entity, kind string, canonicalIDs []string) (map[string]string, error)
}

// LeadSink is a pipeline.Sink for iVvy leads. It is safe for concurrent use.
type LeadSink struct {
	cfg Config
	c   *ivvy.Client
	log *slog.Logger

	mu       sync.Mutex
	lookups  map[ivvy.LookupList][]ivvy.LookupItem // loaded on first use
	contacts map[int64]int64                       // lead id → contact id, learned from answers
	// filtersRefused: iVvy refused a getLeadList filter (id, contactId)
	// in this process; leads are looked up by reading the list instead.
	filtersRefused bool
}

// leadFiltersRefused reports whether iVvy refused a getLeadList filter in
// this process.
func (s *LeadSink) leadFiltersRefused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.filtersRefused
}

// refuseLeadFilters remembers that iVvy refuses getLeadList filters,
// logging it the first time.
func (s *LeadSink) refuseLeadFilters(err error) {
	s.mu.Lock()
	first := !s.filtersRefused
	s.filtersRefused = true
	s.mu.Unlock()
	if first {
		s.log.Warn("iVvy refuses getLeadList filters; looking leads up by reading the lead list", "answer", err)
	}
}

// leadFilterRefused reports whether err is iVvy refusing a filtered
// getLeadList request (see ivvy.IsRefused). Whether the filter or the
// request is at fault is told by reading the list without it.
func leadFilterRefused(err error) bool {
	var e *ivvy.Error
	return errors.As(err, &e) && e.Action == "getLeadList" && ivvy.IsRefused(err)
}

// NewLeadSink returns a sink writing through cfg.Client.
func NewLeadSink(cfg Config) (*LeadSink, error) {
	if cfg.Client == nil {
		return nil, errors.New("ivvy sink: client is required")
	}
	if cfg.BatchPoll <= 0 {
		cfg.BatchPoll = time.Second
	}
	if cfg.BatchMaxWait <= 0 {
		cfg.BatchMaxWait = 10 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &LeadSink{cfg: cfg, c: cfg.Client, log: log, lookups: map[ivvy.LookupList][]ivvy.LookupItem{}, contacts: map[int64]int64{}}, nil
}

// Check loads the lookup lists and resolves every configured default, so a
// misspelt default stops start-up instead of dead-lettering every new lead.
func (s *LeadSink) Check(ctx context.Context) error {
	var errs []error
	for _, d := range s.defaultRefs() {
		if d.name == "" {
			if d.required {
				errs = append(errs, fmt.Errorf("ivvy.defaults.%s: required to create leads", d.field))
			}
			continue
		}
		if err := s.resolveRetrying(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("ivvy.defaults.%s: %w", d.field, err))
		}
	}
	return errors.Join(errs...)
}

// resolveRetrying resolves one default, retrying transient failures with
// backoff (250ms doubling to 5s) for at most CheckWait.
func (s *LeadSink) resolveRetrying(ctx context.Context, d defaultRef) error {
	patience := s.cfg.CheckWait
	if patience <= 0 {
		patience = time.Minute
	}
	deadline := time.Now().Add(patience)
	wait := 250 * time.Millisecond
	for {
		_, err := s.resolve(ctx, d.list, d.name, s.cfg.Defaults.Type)
		if err == nil || ctx.Err() != nil || errors.Is(err, pipeline.ErrPermanent) ||
			apierr.Classify(err) == apierr.Auth || !apierr.Classify(err).Temporary() || time.Now().Add(wait).After(deadline) {
			return err
		}
		s.log.Warn("ivvy lookup failed; trying again", "list", string(d.list), "err", err, "in", wait)
		if !pipeline.Sleep(ctx, wait) {
			return err
		}
		wait = min(2*wait, 5*time.Second)
	}
}

type defaultRef struct {
	field, name string
	list        ivvy.LookupList
	required    bool
}

func (s *LeadSink) defaultRefs() []defaultRef {
	d := s.cfg.Defaults
	return []defaultRef{
		{"source", d.Source, ivvy.LeadSources, true}, {"type", d.Type, ivvy.LeadTypes, true},
		{"stage", d.Stage, ivvy.LeadStages, true}, {"quality", d.Quality, ivvy.LeadQualities, true},
		{"industry", d.Industry, ivvy.Industries, true}, {"channel", d.Channel, ivvy.LeadChannels, false},
		{"subtype", d.Subtype, subtypes, false},
	}
}

// subtypes is a pseudo list: subtypes live inside the type list.
const subtypes ivvy.LookupList = "subtypes"

// step is where one record is.
type step int

const (
	stepFindContact   step = iota // create path: find our contact by externalId
	stepFindLead                  // find the lead of our contact
	stepOurContact                // update path: the contact of a known lead, by our externalId
	stepContactOfLead             // update path: the contact of a known lead, from the lead list
	stepWrite
	stepDone
)

type item struct {
	rec       *pipeline.Record
	step      step
	leadID    int64
	contactID int64
	ours      bool // the contact carries our id in externalId
	recreated bool // the known id answered 24216 once already
	out       pipeline.Outcome
}

func (it *item) fail(err error) { it.step, it.out = stepDone, pipeline.Outcome{Err: err} }

func (it *item) email() string {
	if e := it.rec.Fields[mappings.IVvyEmail]; e != "" {
		return e
	}
	return it.rec.NaturalKeys[mappings.IVvyEmail]
}

func (it *item) hasContactFields() bool {
	for k := range it.rec.Fields {
		if strings.HasPrefix(k, "contact.") && k != mappings.IVvyContactID {
			return true
		}
	}
	return false
}

// maxRounds bounds the step machine of one Write.
const maxRounds = 8

// Write upserts records and reports one outcome per record, in order.
func (s *LeadSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	items := make([]*item, len(recs))
	var linked []*item // known leads whose contact the identity map may know
	for i, r := range recs {
		it := &item{rec: r, step: stepFindContact}
		if id, err := strconv.ParseInt(r.TargetID, 10, 64); err == nil && id > 0 {
			it.leadID, it.step = id, stepWrite
			if it.hasContactFields() {
				if cid, ok := s.cachedContact(id); ok {
					it.contactID = cid
				} else {
					it.step = stepOurContact
					linked = append(linked, it)
				}
			}
		}
		items[i] = it
	}
	s.linkedContacts(ctx, linked)
	for round := 0; round < maxRounds; round++ {
		by := map[step][]*item{}
		for _, it := range items {
			by[it.step] = append(by[it.step], it)
		}
		if len(by[stepDone]) == len(items) {
			break
		}
		s.findContacts(ctx, by[stepFindContact], stepFindLead, stepWrite)
		s.findContacts(ctx, by[stepOurContact], stepWrite, stepContactOfLead)
		s.findLeads(ctx, by[stepFindLead], stepFindLead)
		s.findLeads(ctx, by[stepContactOfLead], stepContactOfLead)
		s.write(ctx, by[stepWrite])
	}
	out := make([]pipeline.Outcome, len(items))
	for i, it := range items {
		if it.step != stepDone {
			it.fail(pipeline.Permanent("loop", errors.New("ivvy: lead did not settle (deleted and re-created under us?)")))
		}
		out[i] = it.out
	}
	return out
}

// linkedContacts sets the contact of known leads from the identity map. A
// lead whose contact it does not know is looked up (stepOurContact); so is
// every one when the map cannot be read (the lookup is only a saving).
func (s *LeadSink) linkedContacts(ctx context.Context, items []*item) {
	if s.cfg.Identity == nil || len(items) == 0 {
		return
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.rec.Key
	}
	ids, err := s.cfg.Identity.VendorKeys(ctx, "ivvy", "lead", mappings.KindContact, keys)
	if err != nil {
		s.log.Warn("ivvy: reading contact links failed; looking the contacts up in iVvy", "err", err)
		return
	}
	for _, it := range items {
		if cid, err := strconv.ParseInt(ids[it.rec.Key], 10, 64); err == nil && cid > 0 {
			it.contactID, it.step = cid, stepWrite
		}
	}
}

// findContacts looks our contacts up by externalId (a documented filter,
// still checked on every result); an item whose contact is found moves to
// found, the others to missing.
func (s *LeadSink) findContacts(ctx context.Context, items []*item, found, missing step) {
	jobs := make([]ivvy.Job, len(items))
	for i, it := range items {
		jobs[i] = ivvy.Job{Namespace: "contact", Action: "getContactList",
			Params: map[string]any{"perPage": 10, "start": 0, "filter": map[string]any{"externalId": it.rec.Key}}}
	}
	listEach(ctx, s, items, jobs, func(it *item, p ivvy.Page[ivvy.Contact]) {
		it.step = missing
		for _, c := range p.Results {
			if string(c.ExternalID) == it.rec.Key && c.ID > 0 {
				it.contactID, it.ours, it.step = int64(c.ID), true, found
				if it.leadID > 0 {
					s.remember(it.leadID, it.contactID)
				}
				break
			}
		}
	})
}

// listEach runs the list jobs, one per item, and hands each item its page
// of results; an item whose job failed or whose answer is malformed fails.
func listEach[T any](ctx context.Context, s *LeadSink, items []*item, jobs []ivvy.Job, each func(it *item, p ivvy.Page[T])) {
	listEachOr(ctx, s, items, jobs, each, nil)
}

// listEachOr is listEach where a job's failure is first offered to failed
// (when not nil), which reports whether it took the item over.
func listEachOr[T any](ctx context.Context, s *LeadSink, items []*item, jobs []ivvy.Job, each func(it *item, p ivvy.Page[T]),
	failed func(it *item, err error) bool) {
	for i, r := range s.exec(ctx, jobs) {
		it := items[i]
		if r.err != nil && failed != nil && failed(it, r.err) {
			continue
		}
		if r.err != nil {
			it.fail(classify(r.err))
			continue
		}
		var p ivvy.Page[T]
		if err := json.Unmarshal(r.raw, &p); err != nil {
			it.fail(fmt.Errorf("ivvy %s: malformed answer: %w", jobs[i].Action, err))
			continue
		}
		each(it, p)
	}
}

// findLeads finds, for stepFindLead, the lead of a known contact, and for
// stepContactOfLead, the contact of a known lead. It filters getLeadList by
// contactId / id (undocumented filters); when iVvy ignores the filter, it
// scans the whole list for that record. When iVvy refuses the filters (an
// error answer to the filtered request that the whole list does not get),
// the records are found in one read of the whole list, and so for the rest
// of the process.
func (s *LeadSink) findLeads(ctx context.Context, items []*item, st step) {
	if len(items) == 0 {
		return
	}
	filter := func(it *item) (map[string]any, func(ivvy.Lead) bool) {
		if st == stepFindLead {
			return map[string]any{"contactId": it.contactID}, func(l ivvy.Lead) bool { return l.Contact != nil && int64(l.Contact.ID) == it.contactID }
		}
		return map[string]any{"id": it.leadID}, func(l ivvy.Lead) bool { return int64(l.ID) == it.leadID }
	}
	// scanFor finds every item of todo in one read of the whole list;
	// failed is the error an item fails with when the read fails.
	scanFor := func(todo []*item, failed error) {
		matches := make([]func(ivvy.Lead) bool, len(todo))
		for i, it := range todo {
			_, matches[i] = filter(it)
		}
		found, err := s.scanEach(ctx, matches)
		if err != nil {
			if failed == nil {
				failed = err
			}
			for _, it := range todo {
				it.fail(classify(failed))
			}
			return
		}
		if failed != nil {
			s.refuseLeadFilters(failed)
		}
		for i, it := range todo {
			s.settleFound(it, st, found[i])
		}
	}
	if s.leadFiltersRefused() {
		scanFor(items, nil)
		return
	}
	jobs := make([]ivvy.Job, len(items))
	for i, it := range items {
		f, _ := filter(it)
		jobs[i] = ivvy.Job{Namespace: "crm", Action: "getLeadList", Params: map[string]any{"perPage": scanPerPage, "start": 0, "filter": f}}
	}
	var refused []*item
	var refusal error
	listEachOr(ctx, s, items, jobs, func(it *item, p ivvy.Page[ivvy.Lead]) {
		_, match := filter(it)
		found, honoured := pick(p.Results, match)
		if !honoured && !p.Done() {
			var err error
			if found, err = s.scan(ctx, match); err != nil {
				it.fail(classify(err))
				return
			}
		}
		s.settleFound(it, st, found)
	}, func(it *item, err error) bool {
		if !leadFilterRefused(err) {
			return false
		}
		refused, refusal = append(refused, it), err
		return true
	})
	if len(refused) > 0 {
		scanFor(refused, refusal)
	}
}

// settleFound moves an item of findLeads on with the lead found for it
// (nil: none).
func (s *LeadSink) settleFound(it *item, st step, found *ivvy.Lead) {
	switch {
	case found != nil && st == stepFindLead:
		it.leadID = int64(found.ID)
		s.remember(it.leadID, it.contactID)
	case found != nil && found.Contact != nil && found.Contact.ID > 0:
		it.contactID = int64(found.Contact.ID)
		s.remember(it.leadID, it.contactID)
	case st == stepContactOfLead && found == nil && !it.recreated:
		// The lead is gone from iVvy: create it again, through the
		// lookup in case an earlier create of ours exists.
		it.leadID, it.recreated, it.step = 0, true, stepFindContact
		return
	}
	it.step = stepWrite
}

// scanPerPage is the page size asked for when looking leads up.
const scanPerPage = 100

// pick returns the lowest-id lead that matches, and whether every result
// matched (the server honoured the filter).
func pick(leads []ivvy.Lead, match func(ivvy.Lead) bool) (*ivvy.Lead, bool) {
	var best *ivvy.Lead
	honoured := true
	for i := range leads {
		if !match(leads[i]) {
			honoured = false
			continue
		}
		if best == nil || leads[i].ID < best.ID {
			best = &leads[i]
		}
	}
	return best, honoured
}

// scan pages through every lead (one request per page).
func (s *LeadSink) scan(ctx context.Context, match func(ivvy.Lead) bool) (*ivvy.Lead, error) {
	found, err := s.scanEach(ctx, []func(ivvy.Lead) bool{match})
	if err != nil {
		return nil, err
	}
	return found[0], nil
}

// scanEach pages through every lead once (one request per page) and
// returns the lowest-id match of each of matches.
func (s *LeadSink) scanEach(ctx context.Context, matches []func(ivvy.Lead) bool) ([]*ivvy.Lead, error) {
	best := make([]*ivvy.Lead, len(matches))
	for start := 0; ; {
		p, err := s.c.GetLeadList(ctx, ivvy.ListQuery{PerPage: scanPerPage, Start: start})
		if err != nil {
			return nil, err
		}
		for i, match := range matches {
			if l, _ := pick(p.Results, match); l != nil && (best[i] == nil || l.ID < best[i].ID) {
				c := *l
				best[i] = &c
			}
		}
		if p.Done() {
			return best, nil
		}
		start += len(p.Results)
	}
}

func (s *LeadSink) cachedContact(leadID int64) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.contacts[leadID]
	return id, ok
}

func (s *LeadSink) remember(leadID, contactID int64) {
	if leadID <= 0 || contactID <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.contacts) > 100000 {
		clear(s.contacts)
	}
	s.contacts[leadID] = contactID
}

// write sends addOrUpdateLead for every item.
func (s *LeadSink) write(ctx context.Context, items []*item) {
	var ready []*item
	var jobs []ivvy.Job
	for _, it := range items {
		in, err := s.input(ctx, it)
		if err != nil {
			it.fail(err)
			continue
		}
		ready = append(ready, it)
		jobs = append(jobs, ivvy.Job{Namespace: "contact", Action: "addOrUpdateLead", Params: in})
	}
	for i, r := range s.exec(ctx, jobs) {
		it := ready[i]
		err := r.err
		var id int64
		if err == nil {
			id, err = ivvy.JobResult{Namespace: "contact", Action: "addOrUpdateLead", Response: r.raw}.IDOrErr()
		}
		switch {
		case err == nil:
			it.step = stepDone
			it.leadID = id
			s.remember(id, it.contactID)
			it.out = pipeline.Outcome{TargetID: strconv.FormatInt(id, 10), Links: it.links()}
		case ivvy.IsNotFound(err) && it.leadID > 0 && !it.recreated:
			// Deleted in iVvy: create it again (through the lookup, in
			// case an earlier create of ours exists).
			s.log.Info("ivvy lead no longer exists; creating it again", "lead_id", it.leadID, "record", it.rec.Key)
			it.leadID, it.contactID, it.recreated, it.step = 0, 0, true, stepFindContact
		default:
			it.fail(classify(err))
		}
	}
}

func (it *item) links() []pipeline.Key {
	var keys []pipeline.Key
	if e := it.email(); e != "" {
		keys = append(keys, mappings.IVvyEmailKey(e))
	}
	if it.ours || it.leadID > 0 && it.rec.TargetID == "" {
		keys = append(keys, mappings.IVvyExternalKey(it.rec.Key))
	}
	if it.contactID > 0 {
		keys = append(keys, mappings.IVvyContactKey(it.contactID))
	}
	return keys
}

// input builds the addOrUpdateLead body of an item.
func (s *LeadSink) input(ctx context.Context, it *item) (ivvy.LeadInput, error) {
	f := it.rec.Fields
	in := ivvy.LeadInput{ID: it.leadID}
	str := func(k string) *string {
		if v, ok := f[k]; ok {
			return &v
		}
		return nil
	}
	in.Description = str(mappings.IVvyDescription)
	if v := f[mappings.IVvyName]; v != "" {
		in.Name = &v
	}
	for _, k := range slices.Sorted(maps.Keys(f)) {
		id, ok := strings.CutPrefix(k, mappings.IVvyCustomFieldPrefix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			return in, pipeline.Permanent("mapping", fmt.Errorf("ivvy: %q is not a custom field id", k))
		}
		in.CustomFields = append(in.CustomFields, ivvy.LeadCustomField{FieldID: n, FieldValue: f[k]})
	}
	create := it.leadID == 0
	typeName := f[FieldTypeName]
	if typeName == "" && create {
		typeName = s.cfg.Defaults.Type
	}
	for _, l := range []struct {
		field, def string
		list       ivvy.LookupList
		dst        *int64
	}{
		{FieldSourceName, s.cfg.Defaults.Source, ivvy.LeadSources, &in.SourceID},
		{FieldTypeName, s.cfg.Defaults.Type, ivvy.LeadTypes, &in.TypeID},
		{FieldSubtypeName, s.cfg.Defaults.Subtype, subtypes, &in.SubtypeID},
		{FieldStageName, s.cfg.Defaults.Stage, ivvy.LeadStages, &in.StageID},
		{FieldQualityName, s.cfg.Defaults.Quality, ivvy.LeadQualities, &in.QualityID},
		{FieldIndustryName, s.cfg.Defaults.Industry, ivvy.Industries, &in.IndustryID},
		{FieldChannelName, s.cfg.Defaults.Channel, ivvy.LeadChannels, &in.ChannelID},
	} {
		name := f[l.field]
		if name == "" && create {
			name = l.def
		}
		if name == "" {
			continue // an emptied lookup cannot be unset in iVvy: keep the current one
		}
		if l.list == subtypes && !create && f[FieldTypeName] == "" {
			continue // a subtype alone cannot be resolved without the type
		}
		id, err := s.resolve(ctx, l.list, name, typeName)
		if err != nil {
			return in, err
		}
		*l.dst = id
	}
	c := &ivvy.ContactInput{ID: it.contactID, FirstName: str(mappings.IVvyFirstName), LastName: str(mappings.IVvyLastName),
		Email: str(mappings.IVvyEmail), Phone: str(mappings.IVvyPhone)}
	if create {
		if c.Email == nil {
			if e := it.rec.NaturalKeys[mappings.IVvyEmail]; e != "" {
				c.Email = &e
			}
		}
		key := it.rec.Key
		c.ExternalID = &key
		if it.contactID == 0 {
			c.UpdateIfExists = true
			for name, v := range map[string]*string{"first name": c.FirstName, "last name": c.LastName, "email": c.Email} {
				if v == nil || strings.TrimSpace(*v) == "" {
					return in, pipeline.Permanent("23017", fmt.Errorf("ivvy: cannot create the lead's contact without a %s", name))
				}
			}
		}
		if in.Name == nil {
			name := leadName(c)
			in.Name = &name
		}
		in.Contact = c
		return in, nil
	}
	if c.FirstName != nil || c.LastName != nil || c.Email != nil || c.Phone != nil {
		if it.contactID == 0 {
			return in, pipeline.Permanent("contact", errors.New("ivvy: the lead has no contact to update"))
		}
		in.Contact = c
	}
	return in, nil
}

// leadName names a new lead after its contact.
func leadName(c *ivvy.ContactInput) string {
	var parts []string
	for _, p := range []*string{c.FirstName, c.LastName} {
		if p != nil && strings.TrimSpace(*p) != "" {
			parts = append(parts, strings.TrimSpace(*p))
		}
	}
	if len(parts) == 0 && c.Email != nil {
		return *c.Email
	}
	return strings.Join(parts, " ")
}

// resolve turns a lookup name (or numeric id) into its id, reloading the
// list once when the name is unknown. typeName selects the type whose
// subtypes are searched for the subtypes pseudo list.
func (s *LeadSink) resolve(ctx context.Context, list ivvy.LookupList, name, typeName string) (int64, error) {
	for attempt := 0; attempt < 2; attempt++ {
		src := list
		if list == subtypes {
			src = ivvy.LeadTypes
		}
		items, err := s.lookup(ctx, src, attempt == 1)
		if err != nil {
			return 0, classify(err)
		}
		if list == subtypes {
			var t *ivvy.LookupItem
			if t = find(items, typeName); t == nil {
				return 0, pipeline.Permanent("lookup", fmt.Errorf("ivvy: lead type %q does not exist", typeName))
			}
			items = t.Subtypes
		}
		if it := find(items, name); it != nil {
			return int64(it.ID), nil
		}
	}
	return 0, pipeline.Permanent("lookup", fmt.Errorf("ivvy: %s %q does not exist", strings.TrimSuffix(strings.TrimPrefix(string(list), "crm.getLead"), "List"), name))
}

func find(items []ivvy.LookupItem, name string) *ivvy.LookupItem {
	n := strings.TrimSpace(name)
	for i := range items {
		if strings.EqualFold(items[i].Name, n) || strconv.FormatInt(int64(items[i].ID), 10) == n {
			return &items[i]
		}
	}
	return nil
}

func (s *LeadSink) lookup(ctx context.Context, list ivvy.LookupList, reload bool) ([]ivvy.LookupItem, error) {
	s.mu.Lock()
	items, ok := s.lookups[list]
	s.mu.Unlock()
	if ok && !reload {
		return items, nil
	}
	items, err := s.c.Lookup(ctx, list)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.lookups[list] = items
	s.mu.Unlock()
	return items, nil
}

// reply is one call's answer.
type reply struct {
	raw json.RawMessage
	err error
}

// exec runs calls one request each, or as batch jobs when configured and
// there are at least BatchMin of them.
func (s *LeadSink) exec(ctx context.Context, jobs []ivvy.Job) []reply {
	out := make([]reply, len(jobs))
	if s.cfg.BatchMin > 0 && len(jobs) >= s.cfg.BatchMin {
		for start := 0; start < len(jobs); start += ivvy.MaxBatchJobs {
			end := min(start+ivvy.MaxBatchJobs, len(jobs))
			s.batch(ctx, jobs[start:end], out[start:end])
		}
		return out
	}
	for i, j := range jobs {
		body, err := json.Marshal(j.Params)
		if err != nil {
			out[i].err = pipeline.Permanent("encode", err)
			continue
		}
		out[i].raw, out[i].err = s.c.CallRaw(ctx, j.Namespace, j.Action, body)
	}
	return out
}

// batch runs jobs as one batch: run, progress until 100 %, results. A
// failure of the batch itself fails every job of it.
func (s *LeadSink) batch(ctx context.Context, jobs []ivvy.Job, out []reply) {
	failAll := func(err error) {
		for i := range out {
			out[i].err = err
		}
	}
	async, err := s.c.RunBatch(ctx, jobs, s.cfg.BatchCallbackURL)
	if err != nil {
		failAll(err)
		return
	}
	deadline := time.Now().Add(s.cfg.BatchMaxWait)
	for {
		p, err := s.c.BatchProgress(ctx, async)
		if err != nil {
			failAll(err)
			return
		}
		if p >= 100 {
			break
		}
		if time.Now().After(deadline) {
			failAll(fmt.Errorf("ivvy batch %s: not done after %s", async, s.cfg.BatchMaxWait))
			return
		}
		t := time.NewTimer(s.cfg.BatchPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			failAll(ctx.Err())
			return
		case <-t.C:
		}
	}
	res, err := s.c.BatchResults(ctx, async)
	if err != nil {
		failAll(err)
		return
	}
	if len(res) != len(jobs) {
		failAll(fmt.Errorf("ivvy batch %s: %d results for %d jobs", async, len(res), len(jobs)))
		return
	}
	for i, r := range res {
		if err := r.Err(); err != nil {
			out[i].err = err
			continue
		}
		out[i].raw = r.Response
	}
}

// classify turns an iVvy error into the pipeline's classes.
func classify(err error) error {
	var ie *ivvy.Error
	if !errors.As(err, &ie) {
		return err // ctx, gate (quota) and pipeline errors pass through
	}
	// iVvy documents no Retry-After; a rate-limit answer waits two seconds.
	// A stale request (clock resync) is transient.
	return pipeline.FromVendor(err, strconv.Itoa(ie.Code()), 2*time.Second)
}
