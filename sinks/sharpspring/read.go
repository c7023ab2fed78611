package sharpspring

import (
	"context"
	"html"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// Read implements pipeline.TargetReader: the current SharpSpring values of
// records, by id when known, else by email (both also find inactive leads).
// Values are HTML-unescaped, as values entered in the UI come back encoded.
func (s *LeadSink) Read(ctx context.Context, recs []*pipeline.Record) ([]map[string]string, error) {
	out := make([]map[string]string, len(recs))
	var ids []int64
	var emails []string
	for _, r := range recs {
		if id, err := strconv.ParseInt(r.TargetID, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		} else if e := r.NaturalKeys[mappings.SharpSpringEmailField]; e != "" {
			emails = append(emails, e)
		}
	}
	byID := map[int64]sharpspring.Lead{}
	byEmail := map[string]sharpspring.Lead{}
	for start := 0; start < len(ids); start += 500 {
		ls, err := s.c.GetLeads(ctx, sharpspring.GetLeadsQuery{IDs: ids[start:min(start+500, len(ids))]})
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			byID[l.ID()] = l
		}
	}
	for start := 0; start < len(emails); start += 500 {
		ls, err := s.c.GetLeads(ctx, sharpspring.GetLeadsQuery{Emails: emails[start:min(start+500, len(emails))]})
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			byEmail[strings.ToLower(l["emailAddress"])] = l
		}
	}
	for i, r := range recs {
		var l sharpspring.Lead
		if id, err := strconv.ParseInt(r.TargetID, 10, 64); err == nil && id > 0 {
			l = byID[id]
		} else {
			l = byEmail[strings.ToLower(r.NaturalKeys[mappings.SharpSpringEmailField])]
		}
		if l == nil {
			continue
		}
		m := make(map[string]string, len(l))
		for k, v := range l {
			m[k] = html.UnescapeString(v)
		}
		out[i] = m
	}
	return out, nil
}
