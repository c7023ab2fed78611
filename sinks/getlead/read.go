package getlead

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// Bounds of a lead search in Read: GET /leads pages of readPerPage, at
// most maxSearchPages of them per search.
const (
	readPerPage    = 50
	maxSearchPages = 4
)

// Read implements pipeline.TargetReader. The classic API cannot read leads
// at all, so Read goes through the V3 API in either mode: the V3 client of
// a V3 sink, else one built from Config.V3 (getlead.api_key). Without a V3
// key it fails with an error wrapping pipeline.ErrNoReader.
//
// A record is found the way Write finds it: by TargetID (GET /leads/{id};
// V3 mode) when known, else by its phone number (countrycode + mobileno,
// natural keys first): GET /leads?search=<national number>, keeping only a
// lead that has the same E.164 number; in V3 mode then by email (search,
// then an exact, case-insensitive match, oldest lead first), as V3's
// by-identifier upsert does. The classic API keys leads by phone only, so
// in classic mode the email finds nothing. A record without a usable
// number and without a TargetID is nil (Write refuses it). Searches are
// bounded (readPerPage × maxSearchPages); requests go one at a time, through
// the client's Gate.
//
// Values come back in record field names (mappings.GetleadLeads): name,
// email, status (the status name; one equal to the record's but for case is
// given as the record spells it), countrycode and mobileno (the lead's
// number equal to the record's, else its first one), and the custom
// (additional) fields; a custom field's stored value that is the record's
// value written as the field's type (V3: a select's label stored as its
// value, a date-time stored as its date) is given as the record spells it.
// The note and company_name cannot be read: notes are append-only and V3
// lists none, and V3 leads have no company. For those two, when
// Config.Ledger is set, Read reports the record's value if the write
// ledger says that value was the last one written (the same check that
// keeps Write from appending a note twice); otherwise they are absent.
func (s *LeadSink) Read(ctx context.Context, recs []*pipeline.Record) ([]map[string]string, error) {
	c, err := s.readClient()
	if err != nil {
		return nil, err
	}
	var ledger map[string]pipeline.LedgerEntry
	if s.cfg.Ledger != nil && len(recs) > 0 {
		keys := make([]string, 0, len(recs))
		for _, r := range recs {
			keys = append(keys, r.Key)
		}
		if ledger, err = s.cfg.Ledger.Ledger(ctx, Vendor, Entity, keys); err != nil {
			return nil, err
		}
	}
	var types map[string]mappings.FieldType
	if s.v3 != nil && len(recs) > 0 {
		// V3 writes convert custom field values to their types.
		if types, err = s.fieldTypes(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]map[string]string, len(recs))
	for i, r := range recs {
		l, err := s.readLead(ctx, c, r)
		if err != nil {
			return nil, err
		}
		if l != nil {
			out[i] = s.leadValues(r, *l, ledger[r.Key], types)
		}
	}
	return out, nil
}

// readClient returns the V3 client reads go through.
func (s *LeadSink) readClient() (*getlead.V3, error) {
	if s.v3 != nil {
		return s.v3, nil
	}
	if s.cfg.V3.APIKey == "" {
		return nil, fmt.Errorf("getlead: the classic API has no way to read leads; getlead.api_key (a V3 ik_ key) is needed to read Getlead leads back: %w",
			pipeline.ErrNoReader)
	}
	c, err := getlead.NewV3(s.cfg.V3)
	if err != nil {
		return nil, fmt.Errorf("getlead.api_key is needed to read Getlead leads back (%v): %w", err, pipeline.ErrNoReader)
	}
	return c, nil
}

// readLead finds a record's lead; nil when Getlead has none.
func (s *LeadSink) readLead(ctx context.Context, c *getlead.V3, r *pipeline.Record) (*getlead.Lead, error) {
	if r.TargetID != "" {
		l, err := c.GetLead(ctx, r.TargetID)
		if getlead.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, s.classify(err)
		}
		return &l, nil
	}
	p, err := s.phone(r)
	if err != nil {
		return nil, nil // Write refuses the record: Getlead cannot have it
	}
	e164 := p.E164()
	l, err := s.search(ctx, c, r, p.National, func(l getlead.Lead) bool {
		for _, ph := range l.Phones {
			if n, err := mappings.NormalizePhone(ph, s.cfg.CountryCode); err == nil && n == e164 {
				return true
			}
		}
		return false
	})
	if err != nil || l != nil || s.cfg.Mode != ModeV3 {
		return l, err
	}
	email := strings.TrimSpace(value(r, mappings.GetleadEmail))
	if email == "" {
		return nil, nil
	}
	return s.search(ctx, c, r, email, func(l getlead.Lead) bool { return strings.EqualFold(strings.TrimSpace(l.Email), email) })
}

// search pages GET /leads?search=term (oldest first) for the first lead
// that matches.
func (s *LeadSink) search(ctx context.Context, c *getlead.V3, r *pipeline.Record, term string, match func(getlead.Lead) bool) (*getlead.Lead, error) {
	q := getlead.ListQuery{PerPage: readPerPage, Search: term, SortBy: "created_at", SortDirection: "asc"}
	for range maxSearchPages {
		pg, err := c.ListLeads(ctx, q)
		if err != nil {
			return nil, s.classify(err)
		}
		for i := range pg.Leads {
			if match(pg.Leads[i]) {
				l := pg.Leads[i]
				return &l, nil
			}
		}
		if pg.NextCursor == "" {
			return nil, nil
		}
		q.Cursor = pg.NextCursor
	}
	return nil, fmt.Errorf("getlead: reading record %s back: its search matched more than %d leads without an exact match; cannot tell whether Getlead has it",
		r.Key, maxSearchPages*readPerPage)
}

// unreadable are record fields Getlead does not show (see Read).
var unreadable = []string{mappings.GetleadNote, mappings.GetleadCompany}

// leadValues turns a V3 lead into record field names (see Read).
func (s *LeadSink) leadValues(r *pipeline.Record, l getlead.Lead, written pipeline.LedgerEntry, types map[string]mappings.FieldType) map[string]string {
	f := make(map[string]string, len(l.CustomFields)+5)
	for k, v := range l.CustomFields {
		if standardFields[k] {
			continue
		}
		f[k] = v
		if rv := r.Fields[k]; rv != v && s.sameValue(types, k, rv, v) {
			f[k] = rv // the record's value, written as the field's type, is the stored one
		}
	}
	f[mappings.GetleadName], f[mappings.GetleadEmail], f[mappings.GetleadStatus] = l.Name, l.Email, l.StatusName
	if !l.UpdatedAt.IsZero() {
		f[pipeline.ReadModified] = l.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	if v := r.Fields[mappings.GetleadStatus]; v != l.StatusName && strings.EqualFold(strings.TrimSpace(v), l.StatusName) {
		f[mappings.GetleadStatus] = v // Getlead matches status names case-insensitively
	}
	want := ""
	if p, err := s.phone(r); err == nil {
		want = p.E164()
	}
	var number *mappings.PhoneNumber
	for _, ph := range l.Phones {
		p, err := mappings.ParsePhone(ph, s.cfg.CountryCode)
		if err != nil {
			continue
		}
		if number == nil || p.E164() == want {
			number = &p
		}
		if p.E164() == want {
			break
		}
	}
	if number != nil {
		f[mappings.GetleadCountryCode], f[mappings.GetleadMobile] = number.CountryCode, number.National
	}
	for _, k := range unreadable {
		if v := r.Fields[k]; v != "" {
			if st, ok := written.Fields[k]; ok && st.Hash == pipeline.ValueHash(v) {
				f[k] = v
			}
		}
	}
	return f
}
