package getlead

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// maxV3Hops bounds the find → create → (deleted meanwhile) → find cycle of
// one record.
const maxV3Hops = 4

// writeV3 upserts one record through the V3 API.
func (s *LeadSink) writeV3(ctx context.Context, r *pipeline.Record) pipeline.Outcome {
	p, perr := s.phone(r)
	if perr != nil && r.TargetID == "" {
		return pipeline.Outcome{Err: perr}
	}
	std, err := s.v3Standard(ctx, r)
	if err != nil {
		return pipeline.Outcome{Err: err}
	}
	custom, err := s.convertCustom(ctx, r)
	if err != nil {
		return pipeline.Outcome{Err: err}
	}
	_, numberChanged := r.Fields[mappings.GetleadMobile]
	numberChanged = numberChanged && perr == nil
	email := value(r, mappings.GetleadEmail)

	id := r.TargetID
	for hop := 0; ; hop++ {
		if hop == maxV3Hops {
			return pipeline.Outcome{Err: pipeline.Permanent("loop", errors.New("getlead: lead keeps disappearing between lookup and update (deleted and re-created?)"))}
		}
		stdSent, created := false, false
		if id == "" {
			found, err := s.v3Find(ctx, p, email, std)
			if err != nil {
				return pipeline.Outcome{Err: s.classifyWrite(err)}
			}
			if found == "" {
				create := std
				create.PhoneNumbers = []string{p.E164()}
				// A new lead's custom fields are exactly ours: nothing to
				// merge with. Cleared ones are simply not sent.
				create.CustomFields = nonEmpty(custom)
				found, err = s.v3.CreateLead(ctx, create)
				if getlead.IsConflict(err) {
					continue // created by someone else meanwhile: find it
				}
				if err != nil {
					return pipeline.Outcome{Err: s.classifyWrite(err)}
				}
				created = true
			}
			id, stdSent = found, true
		}
		if !created && (len(custom) > 0 || numberChanged) {
			// custom_fields and phone_numbers replace whole sets: read the
			// lead now and send the merged sets.
			cur, err := s.v3.GetLead(ctx, id)
			if getlead.IsNotFound(err) {
				id = ""
				continue
			}
			if err != nil {
				return pipeline.Outcome{Err: s.classify(err)}
			}
			w := getlead.LeadWrite{}
			if !stdSent {
				w = std
			}
			if len(custom) > 0 {
				w.CustomFields = merge(cur.CustomFields, custom)
			}
			if numberChanged {
				w.PhoneNumbers = withNumber(cur.Phones, p.E164())
			}
			err = s.v3.UpdateLead(ctx, id, w)
			if getlead.IsNotFound(err) {
				id = ""
				continue
			}
			if err != nil {
				return pipeline.Outcome{Err: s.classifyWrite(err)}
			}
		} else if !stdSent && !std.IsEmpty() {
			err := s.v3.UpdateLead(ctx, id, std)
			if getlead.IsNotFound(err) {
				id = ""
				continue
			}
			if err != nil {
				return pipeline.Outcome{Err: s.classifyWrite(err)}
			}
		}
		break
	}

	note, err := s.noteToWrite(ctx, r)
	if err != nil {
		return pipeline.Outcome{Err: err}
	}
	if note != "" {
		if _, err := s.v3.AddNote(ctx, id, note, s.cfg.NoteTitle); err != nil {
			return pipeline.Outcome{TargetID: id, Err: s.classifyWrite(err)}
		}
		s.noteWritten(ctx, r, note)
	}
	o := pipeline.Outcome{TargetID: id}
	if perr == nil {
		o.Links = links(p, r)
	}
	return o
}

// v3Find upserts by identifier: the phone, then the email. It returns the
// lead id, or "" when no lead matches either.
func (s *LeadSink) v3Find(ctx context.Context, p mappings.PhoneNumber, email string, std getlead.LeadWrite) (string, error) {
	id, err := s.v3.UpdateByIdentifier(ctx, getlead.Identifier{Phone: p.E164()}, std)
	if !getlead.IsNotFound(err) {
		return id, err
	}
	if email == "" {
		return "", nil
	}
	// Email is the secondary key: the person may be in Getlead under
	// another number. Their numbers are left as they are.
	id, err = s.v3.UpdateByIdentifier(ctx, getlead.Identifier{Email: email}, std)
	if getlead.IsNotFound(err) {
		return "", nil
	}
	return id, err
}

// v3Standard builds the changed standard fields. company_name has no V3
// field and is not sent; a cleared status is not sent either.
func (s *LeadSink) v3Standard(ctx context.Context, r *pipeline.Record) (getlead.LeadWrite, error) {
	var w getlead.LeadWrite
	if v, ok := r.Fields[mappings.GetleadName]; ok {
		w.Name = &v
	}
	if v, ok := r.Fields[mappings.GetleadEmail]; ok {
		w.Email = &v
	}
	if st := r.Fields[mappings.GetleadStatus]; st != "" {
		id, err := s.statusID(ctx, st)
		if err != nil {
			return w, err
		}
		w.StatusID = id
	}
	return w, nil
}

// statusID resolves a status name through /meta, reading it again once when
// the name is unknown (a status added since).
func (s *LeadSink) statusID(ctx context.Context, name string) (string, error) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	for fresh := false; ; fresh = true {
		if s.meta == nil || fresh {
			if err := s.loadMeta(ctx); err != nil {
				return "", s.classify(err)
			}
		}
		if id, ok := s.meta.StatusID(name); ok {
			return id, nil
		}
		if fresh {
			return "", pipeline.Permanent("unknown-status", fmt.Errorf("getlead: status %q is not one of the account's statuses (GET /meta)", name))
		}
	}
}

// merge applies changes to the current custom fields: a value sets, an
// empty value removes the field.
func merge(current, changes map[string]string) map[string]string {
	out := maps.Clone(current)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func nonEmpty(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// withNumber puts e164 first and keeps the lead's other numbers (at most
// five in all): the old number stays, so nothing a user added is lost.
func withNumber(current []string, e164 string) []string {
	out := []string{e164}
	for _, p := range current {
		if p != e164 && len(out) < 5 {
			out = append(out, p)
		}
	}
	return out
}
