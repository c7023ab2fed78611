package sharpspringsim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Lead is a snapshot of a stored lead, for test assertions.
type Lead struct {
	ID     int64
	Active bool
	// Fields holds every key getLead over v1.2 returns ("id",
	// "updateTimestamp" in UTC, the standard fields and every custom lead
	// field by systemName), with values in stored form (HTML-encoded where
	// the UI or the API's "<" rule encoded them). nil is JSON null.
	Fields                           map[string]*string
	CreateTimestamp, UpdateTimestamp time.Time // UTC, full clock precision
}

// LoggedRequest is one request as the simulator saw it. The secret key is
// never stored.
type LoggedRequest struct {
	Time       time.Time // from Options.Now, at arrival
	Version    string    // VersionV1, VersionV12, or "" for an unknown path
	AccountID  string    // set once the credentials were valid
	Method     string
	RequestID  string // the envelope id as raw JSON
	Objects    int    // len(params.objects) for write methods
	HTTPStatus int    // 0 when no response was sent (dropped, timed out, client gone)
	Codes      []int  // API-level code, or failed objects' codes in input order
	Fault      Fault
	Notes      []string // why objects were rejected or silently skipped
}

// Stats are counters since New or the last ResetStats.
type Stats struct {
	Requests           int            // requests with valid credentials, including ones answered 107/106
	ByMethod           map[string]int // authenticated requests per method name as sent
	ErrorsByCode       map[int]int    // API-level and object-level codes sent back
	HTTPErrors         map[int]int    // non-200 answers by HTTP status (401, 404, 405, 5xx, 502)
	MaxInFixedSecond   int            // most requests of one account in one UTC second
	MaxInSlidingSecond int            // most requests of one account in any 1 s sliding window
	ObjectsWritten     int            // objects whose create, change or delete was applied
	Rejected107        int            // answers with API error 107 (limiter or injected)
	Rejected106        int            // answers with API error 106 (limiter or injected)
	Dropped            int            // connections closed after commit (FaultDropAfterCommit)
	// FaultsInjected counts the faults that reached a client, scripted or
	// random, by Fault.String() ("http500", "timeout", "malformedJSON", …);
	// LatencyKey counts delayed requests. A fault is counted once its
	// latency has passed: a client that gave up during the delay never saw
	// it.
	FaultsInjected map[string]int
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	return Stats{
		Requests:           st.requests,
		ByMethod:           maps.Clone(st.byMethod),
		ErrorsByCode:       maps.Clone(st.errorsByCode),
		HTTPErrors:         maps.Clone(st.httpStatus),
		MaxInFixedSecond:   st.windows.MaxInFixedSecond(),
		MaxInSlidingSecond: st.windows.MaxInSlidingSecond(),
		ObjectsWritten:     st.objectsWritten,
		Rejected107:        st.rejected107,
		Rejected106:        st.rejected106,
		Dropped:            st.dropped,
		FaultsInjected:     s.faults.Counts(),
	}
}

// ResetStats zeroes Stats and empties RequestLog. Rate-limit counters are
// not reset: the limits keep their windows.
func (s *Server) ResetStats() {
	simkit.ResetStats(&s.mu, s.stats.reset, &s.log, s.faults)
}

// RequestLog returns a copy of the logged requests, oldest first (at most
// the last 100000).
func (s *Server) RequestLog() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log.Entries()
	for i, r := range out {
		r.Codes = slices.Clone(r.Codes)
		r.Notes = slices.Clone(r.Notes)
		out[i] = r
	}
	return out
}

// SeedOption modifies SeedLead.
type SeedOption func(*seedConfig)

type seedConfig struct {
	uiEntered        bool
	inactive         bool
	created, updated time.Time
}

// SeedUIEntered stores values as the web UI does: standard string fields
// (emailAddress excepted) HTML-encoded like PHP htmlspecialchars(ENT_QUOTES)
// and custom fields with numeric entities (&#39;, &#34;).
func SeedUIEntered() SeedOption { return func(c *seedConfig) { c.uiEntered = true } }

// SeedInactive stores the lead with active "0".
func SeedInactive() SeedOption { return func(c *seedConfig) { c.inactive = true } }

// SeedTimestamps sets createTimestamp and updateTimestamp (default: the
// clock's now for both).
func SeedTimestamps(created, updated time.Time) SeedOption {
	return func(c *seedConfig) { c.created, c.updated = created, updated }
}

// SeedLead stores a lead directly, without a request (nothing is counted)
// and returns its id. Keys are standard field names or custom lead field
// systemNames; values are stored as given (no "<" encoding), integers
// normalized, "" on a nullable id/flag field meaning null. leadStatus may be
// any status including contactWithOpp. SeedLead panics on an unknown key,
// an invalid value or an email that already exists, as those are bugs in
// the test.
func (s *Server) SeedLead(fields map[string]string, opts ...SeedOption) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seedLead(fields, opts)
}

// SeedLeads stores n leads as SeedLead would, under one lock, and returns
// their ids: lead i has the fields fields(i) returns and the options
// opts(i) returns (opts may be nil). It is the fast way to fill an account
// with a large history.
func (s *Server) SeedLeads(n int, fields func(i int) map[string]string, opts func(i int) []SeedOption) []int64 {
	return simkit.Fill(&s.mu, n, func(i int) int64 {
		var o []SeedOption
		if opts != nil {
			o = opts(i)
		}
		return s.seedLead(fields(i), o)
	})
}

// EditLead changes a lead as a user of the web UI would, without a request
// (nothing is counted): the values are stored as SeedLead stores them ("" clears)
// and updateTimestamp becomes the clock's now when a value changed. It
// reports whether the lead exists and panics on the keys and values
// SeedLead refuses.
func (s *Server) EditLead(id int64, fields map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.leads[id]
	if l == nil {
		return false
	}
	vals := s.seedValues(fields, seedConfig{})
	if e, ok := vals["emailAddress"]; ok && e != nil && *e != "" {
		if owner, taken := s.emails[strings.ToLower(*e)]; taken && owner != id {
			panic(fmt.Sprintf("sharpspringsim: EditLead: email %q belongs to lead %d", *e, owner))
		}
	}
	if s.applyLead(l, vals) {
		s.touchLead(l, s.cfg.now())
	}
	return true
}

// seedLead is SeedLead. Caller holds s.mu.
func (s *Server) seedLead(fields map[string]string, opts []SeedOption) int64 {
	now := s.cfg.now().UTC()
	cfg := seedConfig{created: now, updated: now}
	for _, o := range opts {
		o(&cfg)
	}
	l := &lead{vals: newLeadValues(), created: cfg.created.UTC(), updated: cfg.updated.UTC()}
	for k, v := range s.seedValues(fields, cfg) {
		l.vals[k] = v
	}
	if cfg.inactive {
		l.vals["active"] = strptr("0")
	}
	if k := l.emailKey(); k != "" {
		if _, taken := s.emails[k]; taken {
			panic(fmt.Sprintf("sharpspringsim: SeedLead: email %q already exists", fields["emailAddress"]))
		}
	}
	s.insertLead(l)
	return l.id
}

// seedValues are the stored values of seeded fields. Caller holds s.mu.
func (s *Server) seedValues(fields map[string]string, cfg seedConfig) map[string]*string {
	vals := make(map[string]*string, len(fields))
	for _, key := range sortedKeys(fields) {
		v := fields[key]
		f := leadFieldByName[key]
		switch {
		case f != nil && f.inLead && f.kind == kindStatus:
			if !writableStatuses[v] && v != statusContactWithOpp {
				panic(fmt.Sprintf("sharpspringsim: SeedLead: invalid leadStatus %q", v))
			}
			vals[key] = strptr(v)
		case f != nil && f.inLead && f.kind == kindString:
			if cfg.uiEntered && key != "emailAddress" {
				v = uiEncodeStandard(v)
			}
			vals[key] = strptr(v)
		case f != nil && f.inLead && f.kind != kindReadOnly:
			if v == "" {
				vals[key] = nil
				continue
			}
			p, problem := normalize(f.kind, f.length, v, true)
			if problem != "" {
				panic(fmt.Sprintf("sharpspringsim: SeedLead: %s: %s", key, problem))
			}
			vals[key] = p
		case s.customField("lead", key) != nil:
			if cfg.uiEntered {
				v = uiEncodeCustom(v)
			}
			vals[key] = strptr(v)
		default:
			panic(fmt.Sprintf("sharpspringsim: SeedLead: unknown or read-only key %q", key))
		}
	}
	return vals
}

// Leads returns a snapshot of every stored lead, inactive ones included,
// ordered by id.
func (s *Server) Leads() []Lead {
	return simkit.Copies(&s.mu, s.leads, s.snapshot)
}

// LeadByEmail returns the lead with that email, compared case-insensitively,
// inactive leads included.
func (s *Server) LeadByEmail(email string) (Lead, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.emails[strings.ToLower(email)]
	if !ok {
		return Lead{}, false
	}
	return s.snapshot(s.leads[id]), true
}

// snapshot copies l. Caller holds s.mu.
func (s *Server) snapshot(l *lead) Lead {
	fields := make(map[string]*string)
	for _, f := range leadFields {
		if !f.inLead {
			continue
		}
		switch f.name {
		case "id":
			fields["id"] = strptr(fmt.Sprint(l.id))
		case "updateTimestamp":
			fields["updateTimestamp"] = strptr(l.updated.UTC().Format(timeLayout))
		default:
			if v := l.vals[f.name]; v != nil {
				fields[f.name] = strptr(*v)
			} else {
				fields[f.name] = nil
			}
		}
	}
	for _, cf := range s.fields {
		if cf.custom && cf.relationship == "lead" {
			fields[cf.systemName] = strptr(*s.leadValue(l, cf.systemName))
		}
	}
	return Lead{ID: l.id, Active: l.active(), Fields: fields, CreateTimestamp: l.created, UpdateTimestamp: l.updated}
}

// CreateField creates a custom field as createFields would (no request is
// counted) and returns its systemName: slug(label) + "_" + 13 hex digits.
// relationship is lead, account or opportunity; dataType one of the known
// types; options are the allowed values of a picklist, radio or checkbox
// field (a checkbox without options is a single tick box). It panics on
// invalid arguments.
func (s *Server) CreateField(relationship, label, dataType string, options ...FieldOption) (systemName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := map[string]any{"relationship": relationship, "label": label, "dataType": dataType}
	if len(options) > 0 {
		list := make([]any, len(options))
		for i, o := range options {
			list[i] = map[string]any{"label": o.Label, "value": o.Value}
		}
		obj["options"] = list
	}
	f, bad := s.fieldFromObject(obj)
	if len(bad) > 0 {
		panic(fmt.Sprintf("sharpspringsim: CreateField: invalid %s: %s", bad[0].Param, bad[0].Message))
	}
	s.addCustomField(f, s.cfg.now())
	return f.systemName
}
