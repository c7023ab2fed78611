package ivvy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// maxReadPages bounds paging through the whole lead list in Read (at
// scanPerPage leads a page).
const maxReadPages = 1000

// Read implements pipeline.TargetReader: the current iVvy values of
// records, in the field names records carry (see leadValues), found the
// way Write finds them:
//
//   - by lead id (TargetID) when known;
//   - else through our contact, looked up by externalId = the record's
//     canonical key (as Write does before a create), and its lowest-id
//     lead.
//
// The email (NaturalKeys) does not address a lead: Write never updates a
// lead it finds by email (a record it cannot find by id or externalId gets
// a new lead), so reading one would compare the record with a lead a
// replay does not write to. A record found neither way is nil.
//
// Leads are read with getLeadList filtered by id or contactId, one request
// per record. When more than one lead is wanted, a first unfiltered page
// tells how long the whole list is, and the list is paged through instead
// when that takes no more requests; it is paged through too when iVvy
// ignores the filter (no lead filter is documented), and for the rest of
// the process once iVvy refuses it (an error answer the whole list does
// not get). Pages are scanPerPage
// leads, at most maxReadPages of them. Requests go one at a time through
// the client, and so through its Gate.
func (s *LeadSink) Read(ctx context.Context, recs []*pipeline.Record) ([]map[string]string, error) {
	out := make([]map[string]string, len(recs))
	var wants []leadWant
	var finds []*item
	var findAt []int
	for i, r := range recs {
		if id, err := strconv.ParseInt(r.TargetID, 10, 64); err == nil && id > 0 {
			wants = append(wants, leadWant{rec: i, leadID: id})
		} else if r.Key != "" {
			finds = append(finds, &item{rec: r, step: stepFindContact})
			findAt = append(findAt, i)
		}
	}
	// Write's own lookup: our contact by externalId.
	s.findContacts(ctx, finds, stepFindLead, stepWrite)
	for j, it := range finds {
		switch it.step {
		case stepFindLead: // our contact: its lead is the record
			wants = append(wants, leadWant{rec: findAt[j], contactID: it.contactID})
		case stepDone: // the lookup failed
			return nil, fmt.Errorf("ivvy: looking up the contact of record %s: %w", it.rec.Key, it.out.Err)
		default: // no contact of ours: iVvy does not have the record
		}
	}
	leads, err := s.readLeads(ctx, wants)
	if err != nil {
		return nil, err
	}
	for k, w := range wants {
		if leads[k] != nil {
			out[w.rec] = leadValues(leads[k], recs[w.rec])
		}
	}
	return out, nil
}

// leadWant is one lead Read looks for: by id, or the lowest-id lead of a
// contact.
type leadWant struct {
	rec       int // index in Read's records
	leadID    int64
	contactID int64
}

func (w leadWant) filter() map[string]any {
	if w.leadID > 0 {
		return map[string]any{"id": w.leadID}
	}
	return map[string]any{"contactId": w.contactID}
}

func (w leadWant) match(l ivvy.Lead) bool {
	if w.leadID > 0 {
		return int64(l.ID) == w.leadID
	}
	return l.Contact != nil && int64(l.Contact.ID) == w.contactID
}

// readLeads finds the wanted leads (nil: iVvy has none), in order.
func (s *LeadSink) readLeads(ctx context.Context, wants []leadWant) ([]*ivvy.Lead, error) {
	out := make([]*ivvy.Lead, len(wants))
	if len(wants) == 0 {
		return out, nil
	}
	all := make([]int, len(wants))
	for k := range wants {
		all[k] = k
	}
	if len(wants) > 1 {
		first, err := s.c.GetLeadList(ctx, ivvy.ListQuery{PerPage: scanPerPage})
		if err != nil {
			return nil, classify(err)
		}
		if left, ok := pagesLeft(first); ok && left <= len(wants) && left < maxReadPages {
			return out, s.scanFor(ctx, wants, all, out, &first)
		}
	}
	if s.leadFiltersRefused() {
		return out, s.scanFor(ctx, wants, all, out, nil)
	}
	for n, k := range all {
		w := wants[k]
		p, err := s.c.GetLeadList(ctx, ivvy.ListQuery{PerPage: scanPerPage, Filter: w.filter()})
		if leadFilterRefused(err) {
			// Refused: the whole list, read once, tells whether the filter
			// or the request is at fault.
			if err2 := s.scanFor(ctx, wants, all[n:], out, nil); err2 != nil {
				return nil, classify(err)
			}
			s.refuseLeadFilters(err)
			return out, nil
		}
		if err != nil {
			return nil, classify(err)
		}
		l, honoured := pick(p.Results, w.match)
		if !honoured && !p.Done() {
			// iVvy ignores the filter: page through the list once for this
			// lead and every one not looked up yet.
			return out, s.scanFor(ctx, wants, all[n:], out, nil)
		}
		if l != nil {
			c := *l
			out[k] = &c
		}
	}
	return out, nil
}

// pagesLeft is how many more pages of scanPerPage follow the first page of
// the list; ok is false when that cannot be told.
func pagesLeft(first ivvy.Page[ivvy.Lead]) (int, bool) {
	if first.Done() {
		return 0, true
	}
	per := len(first.Results) // iVvy may clamp perPage
	rest := int(first.Meta.TotalResults) - int(first.Meta.Start) - per
	if per <= 0 || rest < 0 {
		return 0, false
	}
	return (rest + per - 1) / per, true
}

// scanFor pages through every lead (starting after first, when given) and
// sets out[k] for each k of todo to its lowest-id match.
func (s *LeadSink) scanFor(ctx context.Context, wants []leadWant, todo []int, out []*ivvy.Lead, first *ivvy.Page[ivvy.Lead]) error {
	byID := map[int64][]int{}
	byContact := map[int64][]int{}
	for _, k := range todo {
		if w := wants[k]; w.leadID > 0 {
			byID[w.leadID] = append(byID[w.leadID], k)
		} else {
			byContact[w.contactID] = append(byContact[w.contactID], k)
		}
	}
	take := func(p ivvy.Page[ivvy.Lead]) {
		for i := range p.Results {
			l := p.Results[i]
			ks := byID[int64(l.ID)]
			if l.Contact != nil && l.Contact.ID > 0 {
				ks = append(ks[:len(ks):len(ks)], byContact[int64(l.Contact.ID)]...)
			}
			for _, k := range ks {
				if out[k] == nil || l.ID < out[k].ID {
					c := l
					out[k] = &c
				}
			}
		}
	}
	start := 0
	if first != nil {
		take(*first)
		if first.Done() {
			return nil
		}
		start = len(first.Results)
	}
	for range maxReadPages {
		p, err := s.c.GetLeadList(ctx, ivvy.ListQuery{PerPage: scanPerPage, Start: start})
		if err != nil {
			return classify(err)
		}
		take(p)
		if p.Done() {
			return nil
		}
		start += len(p.Results)
	}
	return fmt.Errorf("ivvy: reading leads back: the lead list is longer than %d pages of %d", maxReadPages, scanPerPage)
}

// lookupFields are the record fields Write resolves by name in iVvy's
// lookup lists, case-insensitively.
var lookupFields = []string{FieldSourceName, FieldTypeName, FieldStageName, FieldQualityName, FieldChannelName}

// leadValues flattens a lead into record field names: name, description,
// the contact's contact.* fields (contact leads), company.businessName
// (company leads), customFields.<id> for the custom fields in the answer,
// and the lookup names sourceName, type, stageName, quality, channelName
// (subtypeName and industryName cannot be read: getLeadList carries the
// subtype's id only and no industry). A lookup name that equals the
// record's but for case is given as the record spells it: Write resolves
// names case-insensitively, so both are the same iVvy value.
func leadValues(l *ivvy.Lead, r *pipeline.Record) map[string]string {
	// The same flattening the poller publishes, so a replay compares like
	// with like.
	f := mappings.IVvyLeadFields(*l)
	for _, k := range lookupFields {
		if v, ok := r.Fields[k]; ok && v != f[k] && strings.EqualFold(strings.TrimSpace(v), f[k]) {
			f[k] = v
		}
	}
	return f
}
