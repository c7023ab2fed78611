package getleadsim

import (
	"maps"
	"slices"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// Lead is a snapshot of a stored lead, for test assertions.
type Lead struct {
	ID         string
	Name       string
	Email      string
	Phones     []string // E.164, the key number first
	Company    string
	Status     string // status name
	Source     string
	NotesField string            // V3's single "notes" field
	Custom     map[string]string // additional / custom fields
	Notes      []string          // appended notes' contents, oldest first
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// NameHistory is every name the lead was given, oldest first.
	NameHistory []NameChange
}

func (s *Server) snapshot(l *lead) Lead {
	notes := make([]string, len(l.notes))
	for i, n := range l.notes {
		notes[i] = n.content
	}
	return Lead{
		ID: l.id, Name: l.name, Email: l.email, Phones: append([]string(nil), l.phones...), Company: l.company,
		Status: s.statusName(l.statusID), Source: l.source, NotesField: l.notesField, Custom: maps.Clone(l.custom),
		Notes: notes, CreatedAt: l.created, UpdatedAt: l.updated, NameHistory: slices.Clone(l.names),
	}
}

// Leads returns every lead in creation order.
func (s *Server) Leads() []Lead {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Lead, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.snapshot(s.leads[id]))
	}
	return out
}

// LeadByPhone returns the lead that has the E.164 number.
func (s *Server) LeadByPhone(e164 string) (Lead, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.findByE164(e164); l != nil {
		return s.snapshot(l), true
	}
	return Lead{}, false
}

// LeadSeed is a lead stored by SeedLead.
type LeadSeed struct {
	Name, Email string
	Phones      []string // E.164; at least one
	Status      string   // status name; default the first status
	Custom      map[string]string
	CreatedAt   time.Time // default the clock's now
}

// SeedLead stores a lead without a request (nothing is counted) and returns
// its id. Custom keys become known fields. It panics on a missing or taken
// phone or an unknown status, as those are bugs in the test.
func (s *Server) SeedLead(seed LeadSeed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seedLead(seed)
}

// SeedLeads stores n leads as SeedLead would, under one lock, and returns
// their ids: lead i is seed(i). It is the fast way to fill an account with
// a large history.
func (s *Server) SeedLeads(n int, seed func(i int) LeadSeed) []string {
	return simkit.Fill(&s.mu, n, func(i int) string { return s.seedLead(seed(i)) })
}

// seedLead is SeedLead. Caller holds s.mu.
func (s *Server) seedLead(seed LeadSeed) string {
	if len(seed.Phones) == 0 {
		panic("getleadsim: SeedLead: no phone")
	}
	for _, p := range seed.Phones {
		if !e164Pattern.MatchString(p) || s.findByE164(p) != nil {
			panic("getleadsim: SeedLead: phone " + p + " is malformed or taken")
		}
	}
	at := seed.CreatedAt
	if at.IsZero() {
		at = s.cfg.now()
	}
	l := s.newLead(seed.Phones, at.UTC())
	l.name, l.email = seed.Name, seed.Email
	s.noteEmail(l)
	if seed.Status != "" {
		id, known := s.statusByName(seed.Status)
		if !known {
			panic("getleadsim: SeedLead: unknown status " + seed.Status)
		}
		l.statusID = id
	}
	for k, v := range seed.Custom {
		l.custom[k] = v
		s.addField(k)
	}
	return l.id
}

// AddField makes an additional-field key known (as creating it in the UI).
func (s *Server) AddField(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addField(key)
}

// AddTypedField makes a custom field known with its type and allowed
// values, or changes them (as editing the field in the UI).
func (s *Server) AddTypedField(f Field) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addTypedField(f)
}

// Fields returns the known additional-field keys in creation order.
func (s *Server) Fields() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.fieldOrder...)
}

// Counts returns how many tasks, deals and department assignments exist.
func (s *Server) Counts() (tasks, deals, departments int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tasks), len(s.deals), len(s.depts)
}

// RenameLead changes a lead's name as a user of Getlead's app would (no
// request is counted) and bumps its update time. It reports whether the
// lead exists.
func (s *Server) RenameLead(id, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leads[id]
	if !ok {
		return false
	}
	now := s.cfg.now().UTC()
	s.rename(l, name, "user", now)
	l.updated = now
	return true
}
