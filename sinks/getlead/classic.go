package getlead

import (
	"context"
	"errors"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// writeClassic upserts one record through the classic API.
func (s *LeadSink) writeClassic(ctx context.Context, r *pipeline.Record) pipeline.Outcome {
	p, err := s.phone(r)
	if err != nil {
		return pipeline.Outcome{Err: err}
	}
	ref := getlead.LeadRef{CountryCode: p.CountryCode, Mobile: p.National, Email: value(r, mappings.GetleadEmail)}
	contact := getlead.Contact{CountryCode: p.CountryCode, Mobile: p.National, Source: s.cfg.Source, Fields: map[string]string{}}
	for k, v := range r.Fields {
		if !standardFields[k] || k == mappings.GetleadName || k == mappings.GetleadEmail || k == mappings.GetleadCompany {
			contact.Fields[k] = v
		}
	}
	_, numberChanged := r.Fields[mappings.GetleadMobile]
	_, ccChanged := r.Fields[mappings.GetleadCountryCode]
	created := false
	// A record that changed only its status or note needs no contact post:
	// the lead exists (we wrote it before). A new lead always carries its
	// number as a changed field, so it is posted.
	if len(contact.Fields) > 0 || numberChanged || ccChanged {
		if err := s.classic.CreateLead(ctx, contact); err != nil {
			return pipeline.Outcome{Err: s.classifyWrite(err)}
		}
		created = true
	}
	// followUp runs a status or note call; "Enquiry Not Found." (the lead
	// was deleted in Getlead, or never written) creates it and tries once
	// more.
	followUp := func(call func() error) error {
		err := call()
		if err == nil || !getlead.IsNotFound(err) || created {
			return err
		}
		if err := s.classic.CreateLead(ctx, contact); err != nil {
			return err
		}
		created = true
		return call()
	}
	// A cleared status is not sent: Getlead has no "no status".
	if st := r.Fields[mappings.GetleadStatus]; st != "" {
		if err := followUp(func() error { return s.classic.ChangeStatus(ctx, ref, st) }); err != nil {
			return pipeline.Outcome{Err: s.partlyWritten(err, created)}
		}
	}
	note, err := s.noteToWrite(ctx, r)
	if err != nil {
		return pipeline.Outcome{Err: err}
	}
	if note != "" {
		if err := followUp(func() error { return s.classic.AddNote(ctx, ref, note) }); err != nil {
			return pipeline.Outcome{Err: s.partlyWritten(err, created)}
		}
		s.noteWritten(ctx, r, note)
	}
	return pipeline.Outcome{Links: links(p, r)}
}

// partlyWritten classifies the failure of a status or note call made after
// the record's contact post, which landed when posted is true: the record
// is partly written. A transient failure is then in doubt (nothing is in
// flight any more, so from now on), and the route reads the record back
// before retrying it: the retry must not post the contact again blindly
// over an edit made in Getlead since.
func (s *LeadSink) partlyWritten(err error, posted bool) error {
	c := s.classifyWrite(err)
	var d *pipeline.InDoubtError
	if !posted || errors.Is(c, pipeline.ErrPermanent) || errors.As(c, &d) {
		return c
	}
	return pipeline.InDoubt(c, time.Now())
}
