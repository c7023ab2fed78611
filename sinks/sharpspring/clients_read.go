package sharpspring

import (
	"context"
	"html"
	"strconv"

	"github.com/crmsync/crmsync/pipeline"
)

// clientReadable are the record fields getClients reports (SharpSpring's
// Client schema besides id). A readable field getClients leaves out (JSON
// null) is empty.
var clientReadable = map[string]bool{
	"companyName": true, "streetAddress": true, "zipCode": true, "country": true, "state": true, "city": true,
}

// Read implements pipeline.TargetReader for agency clients, with one
// getClients call: a record is found by its client id when it has one,
// else by its companyName natural key (trimmed, case-insensitive, as Write
// finds a client it may have created; two clients of that name find
// none). getClients lists active clients only, so a deactivated client,
// another agency's client and an unknown id read as nil (not held).
//
// Values are HTML-unescaped, under the record's field names. getClients
// reports only companyName, streetAddress, zipCode, country, state and
// city; every other field a record carries (salesPhone, locale, the sales
// hours, the user keys, and the pseudo-fields emailLimit and
// accountSending) cannot be read back, so it is returned as the record
// holds it: a replay neither reports it as drift nor writes it again. A
// change made to such a field in SharpSpring cannot be detected.
func (s *ClientSink) Read(ctx context.Context, recs []*pipeline.Record) ([]map[string]string, error) {
	out := make([]map[string]string, len(recs))
	if len(recs) == 0 {
		return out, nil
	}
	list, err := s.api.GetClients(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]int, len(list))
	byName := make(map[string][]int, len(list))
	for i, c := range list {
		if id := c.ID(); id > 0 {
			byID[id] = i
		}
		k := nameKey(c["companyName"])
		byName[k] = append(byName[k], i)
	}
	for i, r := range recs {
		at := -1
		if id, err := strconv.ParseInt(r.TargetID, 10, 64); err == nil && id > 0 {
			if j, ok := byID[id]; ok {
				at = j
			}
		} else if name := nameKey(r.NaturalKeys["companyName"]); name != "" {
			if js := byName[name]; len(js) == 1 {
				at = js[0]
			}
		}
		if at < 0 {
			continue
		}
		c := list[at]
		m := make(map[string]string, len(c)+len(r.Fields))
		for k, v := range c {
			m[k] = html.UnescapeString(v)
		}
		for f, v := range r.Fields {
			if _, ok := m[f]; !ok && !clientReadable[f] {
				m[f] = v // write-only: not readable, reported as the record has it
			}
		}
		out[i] = m
	}
	return out, nil
}
