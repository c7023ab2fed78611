// Package getlead writes canonical lead changes into Getlead CRM, through
// the classic token API or the V3 REST API (Config.Mode).
//
// Records carry Getlead field names (mappings.GetleadLeads): name, email,
// countrycode, mobileno, company_name, status, note and additional-field
// keys. Getlead keys a lead by country code + mobile number, so every record
// must name a usable number (8–14 national digits); one that does not is
// dead-lettered with the reason before any request is made.
//
// Classic: gl-website-contacts creates or updates the lead with the changed
// fields (additional fields as extra parameters), then gl-status-change-api
// runs when the status changed, then gl-note-creation-api when the note
// text changed. A follow-up answered "Enquiry Not Found." (lead deleted in
// Getlead) re-creates the lead once and repeats.
//
// V3: PATCH /leads/by-identifier by phone, then by email, is the upsert; no
// match → POST /leads. custom_fields on PATCH replaces the lead's whole set,
// so when custom fields change the sink READS the lead (GET /leads/{id})
// right before the PATCH and sends the merged full set. Status names are
// resolved to ids through /meta (cached; re-read once on a miss). Custom
// field values are written as their field's type from /meta
// (mappings.FieldType.Convert: dates as YYYY-MM-DD, date-times as
// YYYY-MM-DDTHH:mm:ss in UTC, numbers, booleans as true/false, selects as
// their stored value, found by value or label); a value that cannot be
// converted dead-letters its record, naming the field and the value, and
// the rest of the batch is written. LoadFields reads /meta again (at
// start-up and on a schedule); a field /meta does not list is sent as it
// is. The classic API has no field types: values are sent as they are.
//
// Notes are append-only, so a note is written only when its text changed:
// the route's write ledger drops a "note" field whose hash equals the last
// written one, and, when Config.Ledger is set, the sink checks the ledger
// itself before appending (replays that keep unchanged fields) and records
// the note's hash in the ledger the moment Getlead accepted it, so a crash
// before the route settles the batch does not append it again. The note is
// the last request of a record, so no later failure retries it.
//
// Records of a batch are written concurrently (Config.Concurrency, default
// 4); Write is safe for concurrent use.
package getlead

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// Modes of the sink.
const (
	ModeClassic = "classic"
	ModeV3      = "v3"
)

// Target vendor and entity, as in routes and the write ledger.
const (
	Vendor = "getlead"
	Entity = "lead"
)

// LedgerStore reads and writes the write ledger.
type LedgerStore = pipeline.Ledger

// Config configures a LeadSink. The zero value of each field means its
// default.
type Config struct {
	// Mode is ModeClassic (default) or ModeV3.
	Mode string
	// Classic configures the classic client (ModeClassic): BaseURL, Token
	// (gl_…), Gate.
	Classic getlead.ClassicConfig
	// V3 configures the V3 client (ModeV3): BaseURL, APIKey (ik_…), Gate.
	V3 getlead.V3Config
	// Source is the classic "source" of leads we create; default
	// "crmsync".
	Source string
	// CountryCode applies to a mobile number without one; default
	// mappings.DefaultGetleadCountryCode.
	CountryCode string
	// NoteTitle is the title of V3 notes; default none.
	NoteTitle string
	// Ledger, if set, guards note appends (see the package doc). Pass the
	// route's *checkpoints.Store.
	Ledger LedgerStore
	// Concurrency is how many records are written at once; default 4.
	Concurrency int
	// RateLimitWait is used when a 429 does not say how long to wait;
	// default one minute.
	RateLimitWait time.Duration
	// InDoubtWait is how long after a write's answer was lost (timeout,
	// dropped connection, 504) Getlead is assumed able to still apply it;
	// newer values of the record's fields are held back that long (see
	// pipeline.InDoubtError). Default: the HTTP client's timeout of the
	// configured mode (a request Getlead holds past it is assumed to end
	// within as long again), else 30s.
	InDoubtWait time.Duration
	Logger      *slog.Logger
}

// LeadSink is a pipeline.Sink for Getlead leads.
type LeadSink struct {
	cfg     Config
	classic *getlead.Classic
	v3      *getlead.V3
	log     *slog.Logger

	metaMu sync.Mutex
	meta   *getlead.Meta
	types  map[string]mappings.FieldType // custom fields by key, from meta
}

// NewLeadSink builds the client of the configured mode and returns the sink.
func NewLeadSink(cfg Config) (*LeadSink, error) {
	if cfg.Source == "" {
		cfg.Source = "crmsync"
	}
	if cfg.CountryCode == "" {
		cfg.CountryCode = mappings.DefaultGetleadCountryCode
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.RateLimitWait <= 0 {
		cfg.RateLimitWait = time.Minute
	}
	if cfg.InDoubtWait <= 0 {
		hc := cfg.Classic.HTTPClient
		if cfg.Mode == ModeV3 {
			hc = cfg.V3.HTTPClient
		}
		cfg.InDoubtWait = 30 * time.Second
		if hc != nil && hc.Timeout > 0 {
			cfg.InDoubtWait = hc.Timeout
		}
	}
	s := &LeadSink{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	var err error
	switch cfg.Mode {
	case "", ModeClassic:
		s.cfg.Mode = ModeClassic
		s.classic, err = getlead.NewClassic(cfg.Classic)
	case ModeV3:
		s.v3, err = getlead.NewV3(cfg.V3)
	default:
		err = fmt.Errorf("getlead sink: mode %q is neither %q nor %q", cfg.Mode, ModeClassic, ModeV3)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Write implements pipeline.Sink: one outcome per record, in order.
func (s *LeadSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := make([]pipeline.Outcome, len(recs))
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, r := range recs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if s.cfg.Mode == ModeV3 {
				out[i] = s.writeV3(ctx, r)
			} else {
				out[i] = s.writeClassic(ctx, r)
			}
		}()
	}
	wg.Wait()
	return out
}

// fields of a record that are not additional fields.
var standardFields = map[string]bool{
	mappings.GetleadName: true, mappings.GetleadEmail: true, mappings.GetleadCountryCode: true,
	mappings.GetleadMobile: true, mappings.GetleadCompany: true, mappings.GetleadStatus: true, mappings.GetleadNote: true,
}

// value returns a field from the record's natural keys, else its fields.
func value(r *pipeline.Record, k string) string {
	if v := r.NaturalKeys[k]; v != "" {
		return v
	}
	return r.Fields[k]
}

// phone is the record's Getlead number, validated. The error is permanent
// and says why, so the record dead-letters before reaching Getlead.
func (s *LeadSink) phone(r *pipeline.Record) (mappings.PhoneNumber, error) {
	mobile := strings.TrimSpace(value(r, mappings.GetleadMobile))
	if mobile == "" {
		return mappings.PhoneNumber{}, pipeline.Permanent("invalid-phone",
			errors.New("getlead: the lead has no mobile number; Getlead identifies leads by country code + mobile number"))
	}
	cc := value(r, mappings.GetleadCountryCode)
	if cc == "" {
		cc = s.cfg.CountryCode
	}
	p, err := mappings.ParsePhone(mobile, cc)
	if err != nil {
		return mappings.PhoneNumber{}, pipeline.Permanent("invalid-phone", fmt.Errorf("getlead: %w", err))
	}
	return p, nil
}

// links are the identity keys a written record is known by.
func links(p mappings.PhoneNumber, r *pipeline.Record) []pipeline.Key {
	ks := []pipeline.Key{mappings.GetleadPhoneKey(p.E164())}
	if e, err := mappings.NormalizeEmail(value(r, mappings.GetleadEmail)); err == nil {
		ks = append(ks, pipeline.Key{Vendor: Vendor, Entity: Entity, Kind: pipeline.KindEmail, Value: e})
	}
	return ks
}

// noteToWrite returns the note text to append, or "" when there is none or
// the ledger says this text was already written.
func (s *LeadSink) noteToWrite(ctx context.Context, r *pipeline.Record) (string, error) {
	text, ok := r.Fields[mappings.GetleadNote]
	if !ok || strings.TrimSpace(text) == "" {
		return "", nil // notes cannot be removed; an empty one is not written
	}
	if s.cfg.Ledger == nil {
		return text, nil
	}
	entries, err := s.cfg.Ledger.Ledger(ctx, Vendor, Entity, []string{r.Key})
	if err != nil {
		return "", err
	}
	if st, found := entries[r.Key].Fields[mappings.GetleadNote]; found && st.Hash == pipeline.ValueHash(text) {
		return "", nil
	}
	return text, nil
}

// noteWritten records the appended note's hash in the ledger at once. A
// failure here is logged, not returned: the note is in Getlead, and the
// route records it again when it settles the batch.
func (s *LeadSink) noteWritten(ctx context.Context, r *pipeline.Record, text string) {
	if s.cfg.Ledger == nil {
		return
	}
	stamp := pipeline.FieldStamp{At: r.Stamps[mappings.GetleadNote], Hash: pipeline.ValueHash(text)}
	err := s.cfg.Ledger.PutLedgers(ctx, []pipeline.LedgerPut{{Vendor: Vendor, Entity: Entity, Key: r.Key,
		Update: func(e pipeline.LedgerEntry) (pipeline.LedgerEntry, bool) {
			fields := make(map[string]pipeline.FieldStamp, len(e.Fields)+1)
			hashes := make(map[string]string, len(e.Fields)+1)
			for f, st := range e.Fields {
				fields[f], hashes[f] = st, st.Hash
			}
			fields[mappings.GetleadNote], hashes[mappings.GetleadNote] = stamp, stamp.Hash
			e.Fields, e.ContentHash = fields, pipeline.FieldsHash(hashes)
			return e, true
		}}})
	if err != nil {
		s.log.Warn("getlead: could not record the note in the write ledger; a crash before the batch settles would append it again", "record", r.Key, "err", err)
	}
}

// classify turns a Getlead error into the pipeline's error classes.
func (s *LeadSink) classify(err error) error {
	var ge *getlead.Error
	if !errors.As(err, &ge) {
		return err // ctx errors, gate errors (quota) pass through
	}
	if getlead.IsNotFound(err) || getlead.IsConflict(err) {
		// Left after our own handling, so a race (deleted or taken
		// meanwhile): retry, and the next attempt looks the lead up again.
		return err
	}
	wait := ge.RetryAfter
	if wait <= 0 {
		wait = s.cfg.RateLimitWait
	}
	return pipeline.FromVendor(err, errorCode(ge), wait)
}

// classifyWrite is classify for a request that changes the lead. One
// whose answer was lost may have been applied, or may be applied later
// still; Getlead offers no conditional write to make a late one harmless,
// so it is marked in doubt until Config.InDoubtWait from now, and the
// route holds newer values of the record's fields back until then.
func (s *LeadSink) classifyWrite(err error) error {
	c := s.classify(err)
	if getlead.InDoubt(err) {
		return pipeline.InDoubt(c, time.Now().Add(s.cfg.InDoubtWait))
	}
	return c
}

func errorCode(e *getlead.Error) string {
	switch {
	case e.Message == getlead.MsgCheckParams:
		return "check-parameters"
	case e.Message == getlead.MsgMobileLength:
		return "mobile-length"
	case e.Code != "":
		return e.Code
	case e.HTTPStatus != 0:
		return "http-" + strconv.Itoa(e.HTTPStatus)
	case e.Status != "":
		return e.Status
	}
	return "permanent"
}
