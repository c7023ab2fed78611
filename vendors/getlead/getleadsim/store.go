package getleadsim

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// lead is one stored lead ("enquiry"). Guarded by Server.mu.
type lead struct {
	id         string
	name       string
	email      string
	phones     []string // every number in E.164, the key number first
	company    string
	statusID   int
	source     string
	staff      string
	dob        string
	purpose    string
	department string
	feedback   string
	notesField string            // V3's single "notes" field
	custom     map[string]string // additional / custom fields by key
	notes      []note
	created    time.Time
	updated    time.Time
	// names is every name the lead was given, oldest first, with how
	// (Lead.NameHistory).
	names []NameChange
}

// NameChange is one name a lead was given: when, the name, and by what:
// "classic", "v3" (an API write answered at once), "late" (a
// FaultLateApply write applied after its client gave up) or "user"
// (RenameLead).
type NameChange struct {
	At   time.Time
	Name string
	By   string
}

// rename gives l a name by way of by. Caller holds s.mu.
func (s *Server) rename(l *lead, name, by string, now time.Time) {
	if s.applyingLate {
		by = "late"
	}
	l.name = name
	l.names = append(l.names, NameChange{At: now, Name: name, By: by})
}

type note struct {
	id      string
	title   string
	content string
	at      time.Time
}

type task struct {
	name, description, comment, category, scheduled, assignedTo string
	leadID                                                      string
}

type deal struct {
	name, status, staff, amount, start, end, note string
	leadID                                        string
}

// digitsOf keeps the digits of s.
func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// normalizeCountryCode strips "+" and spaces; ok is false unless 1–3 digits
// remain.
func normalizeCountryCode(s string) (string, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	if len(s) < 1 || len(s) > 3 || digitsOf(s) != s || s[0] == '0' {
		return "", false
	}
	return s, true
}

// nationalNumber reduces a mobile number "with or without country code" to
// its national digits: non-digits and trunk zeros dropped, and the country
// code dropped when the number is longer than 10 digits and starts with it.
// ok is false unless 8–14 digits remain.
func nationalNumber(cc, mobile string) (string, bool) {
	d := strings.TrimLeft(digitsOf(mobile), "0")
	if strings.HasPrefix(strings.TrimSpace(mobile), "+") || strings.HasPrefix(strings.TrimSpace(mobile), "00") {
		d = strings.TrimPrefix(d, cc)
	} else if len(d) > 10 && strings.HasPrefix(d, cc) {
		d = d[len(cc):]
	}
	return d, len(d) >= 8 && len(d) <= 14
}

// findByE164 finds the lead that has the number e164. Caller holds s.mu.
func (s *Server) findByE164(e164 string) *lead {
	if id, ok := s.byPhone[e164]; ok {
		return s.leads[id]
	}
	return nil
}

func (s *Server) findByEmail(email string) *lead {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return nil
	}
	var found *lead
	for _, id := range s.byEmail[email] {
		if l := s.leads[id]; l != nil && strings.ToLower(l.email) == email {
			if found != nil && found != l {
				found = nil // several: the first in list order wins
				break
			}
			found = l
		}
	}
	if found != nil || len(s.byEmail[email]) == 0 {
		return found
	}
	for _, id := range s.order {
		if l := s.leads[id]; strings.ToLower(l.email) == email {
			return l
		}
	}
	return nil
}

// newLead stores a new lead with its numbers (E.164). Caller holds s.mu.
func (s *Server) newLead(phones []string, now time.Time) *lead {
	l := &lead{id: s.newID(now), statusID: 1, custom: map[string]string{}, created: now, updated: now}
	s.leads[l.id] = l
	s.order = append(s.order, l.id)
	s.byCreate.Set(l.id, l.created)
	s.setPhones(l, phones)
	return l
}

// setPhones replaces a lead's numbers. Caller holds s.mu.
func (s *Server) setPhones(l *lead, phones []string) {
	for _, p := range l.phones {
		if s.byPhone[p] == l.id {
			delete(s.byPhone, p)
		}
	}
	l.phones = append([]string(nil), phones...)
	for _, p := range phones {
		s.byPhone[p] = l.id
	}
}

// newID returns a ULID-shaped id (26 Crockford base32 characters): 48 bits
// of milliseconds, then a counter, so ids sort by creation.
func (s *Server) newID(now time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	s.seq++
	var b [26]byte
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = alphabet[ms&31]
		ms >>= 5
	}
	n := s.seq
	for i := 25; i >= 10; i-- {
		b[i] = alphabet[n&31]
		n >>= 5
	}
	return string(b[:])
}

func (s *Server) statusByName(name string) (int, bool) {
	for i, st := range s.cfg.statuses {
		if strings.EqualFold(strings.TrimSpace(name), st) {
			return i + 1, true
		}
	}
	return 0, false
}

func (s *Server) statusName(id int) string {
	if id >= 1 && id <= len(s.cfg.statuses) {
		return s.cfg.statuses[id-1]
	}
	return ""
}

func (s *Server) addTypedField(f Field) {
	s.addField(f.Key)
	f.Options = append([]Option(nil), f.Options...)
	s.fieldDefs[f.Key] = f
}

func (s *Server) addField(key string) {
	if !s.fieldKnown[key] {
		s.fieldKnown[key] = true
		s.fieldOrder = append(s.fieldOrder, key)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// timeJSON is how V3 writes times: UTC, microseconds, "Z".
func timeJSON(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// noteEmail records a lead's email in the byEmail hints. Caller holds s.mu.
func (s *Server) noteEmail(l *lead) {
	e := strings.ToLower(strings.TrimSpace(l.email))
	if e != "" && !slices.Contains(s.byEmail[e], l.id) {
		s.byEmail[e] = append(s.byEmail[e], l.id)
	}
}
