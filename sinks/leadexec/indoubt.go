package leadexec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// Posts in doubt.
//
// A post whose answer cannot be read (a 2xx whose body is not the answer
// crmsync expects: LeadExec does not document the V2 receiver's answer) or
// never arrives (a timeout, a dropped connection) may have been applied.
// Posting it again and again is not safe: whether LeadExec refuses the
// repeat as Duplicate_Lead depends on the lead type's duplicate settings,
// and an answer crmsync cannot read once it will likely not read the next
// time either. So such a post is settled, not just retried: the lead is
// looked up in the lead data API (LeadSinkConfig.ReadBack) by what crmsync
// sent, at once and again before each new post; found, its LeadUID becomes
// the record's target id and nothing is posted again. Not found, the lead
// is posted again, at most LeadSinkConfig.MaxInDoubtPosts times in all;
// then it is dead-lettered (CodeUnreadableAnswer) with the start of the
// last answer, for the operator to check in LeadExec.
//
// LeadExec has no lead update, so a lead in LeadExec is never written again
// and no newer value can be overtaken by a late post: the route's in-doubt
// fence (pipeline.InDoubtError) has nothing to hold back here.
//
// The count is kept in memory: a restart starts it again.

// inDoubt reports whether a failed post may have been applied: its answer
// could not be read, or did not arrive.
func inDoubt(err error) bool {
	var e *leadexec.Error
	if !errors.As(err, &e) || errors.Is(err, context.Canceled) {
		return false
	}
	return errors.Is(err, leadexec.ErrMalformed) || (e.Transport && !e.Unsent)
}

func (s *LeadSink) doubtOf(key string) *doubt {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.doubts[key]; d != nil {
		c := *d
		return &c
	}
	return nil
}

func (s *LeadSink) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.doubts, key)
}

// failed is the outcome of a post that failed with err, sent at sent.
func (s *LeadSink) failed(ctx context.Context, p post, sent time.Time, err error) pipeline.Outcome {
	if !inDoubt(err) {
		return pipeline.Outcome{Err: classify(err)}
	}
	s.mu.Lock()
	d := s.doubts[p.rec.Key]
	if d == nil {
		d = &doubt{first: sent}
		s.doubts[p.rec.Key] = d
	}
	d.posts++
	posts, first := d.posts, d.first
	s.mu.Unlock()
	if uid, ok := s.readBack(ctx, p, first); ok {
		return s.settled(p, uid)
	}
	if posts >= s.cfg.MaxInDoubtPosts {
		s.forget(p.rec.Key)
		return pipeline.Outcome{Err: pipeline.Permanent(CodeUnreadableAnswer, fmt.Errorf(
			"leadexec: the lead was posted %d times, every answer unreadable or lost, and the lead data API does not show it; "+
				"check LeadExec before retrying: %w", posts, err))}
	}
	s.log.Warn("leadexec: a post's answer could not be read and the lead is not found in LeadExec; posting it again",
		"record", p.rec.Key, "posts", posts, "max", s.cfg.MaxInDoubtPosts, "err", err)
	return pipeline.Outcome{Err: classify(err)}
}

// settled is the outcome of a lead found in LeadExec by the read-back.
func (s *LeadSink) settled(p post, uid int64) pipeline.Outcome {
	s.forget(p.rec.Key)
	s.log.Info("leadexec: a post whose answer was unreadable is in LeadExec; not posted again", "record", p.rec.Key, "lead", uid)
	return pipeline.Outcome{TargetID: strconv.FormatInt(uid, 10)}
}

// readBack looks the lead up in the lead data API: leads of the posted
// lead type added since the first post (a minute either side, for clocks)
// with the posted email, else phone; a lead matches when its reference
// property is the record's key (V2 sends it), or, without one, when every
// posted field has the posted value.
func (s *LeadSink) readBack(ctx context.Context, p post, since time.Time) (int64, bool) {
	if s.cfg.ReadBack == nil {
		return 0, false
	}
	var field, value string
	for _, std := range []string{"Email", "PrimaryPhone", "MobilePhone"} {
		name := std
		if s.cfg.Fields != nil {
			n, ok := s.cfg.Fields.PostName(std)
			if !ok {
				continue
			}
			name = n
		}
		if v := p.fields[name]; v != "" {
			field, value = name, v
			break
		}
	}
	if field == "" {
		return 0, false
	}
	q := leadexec.Query{StartDate: since.Add(-time.Minute), EndDate: s.cfg.Now().Add(time.Minute), Take: 50,
		Filter: map[string]any{field: map[string]any{"$eq": value}}}
	page, err := s.cfg.ReadBack.QueryLeads(ctx, s.cfg.Source.LID, q)
	if err != nil {
		s.log.Warn("leadexec: reading back a post whose answer was unreadable failed", "record", p.rec.Key, "err", err)
		return 0, false
	}
	for _, l := range page.Leads {
		if sameLead(p, l) {
			return l.UID, true
		}
	}
	return 0, false
}

func sameLead(p post, l leadexec.Lead) bool {
	for k, v := range l.Properties {
		if strings.EqualFold(k, "reference") && v != "" {
			return v == p.rec.Key
		}
	}
	for k, v := range p.fields {
		got, ok := "", false
		for lk, lv := range l.Fields {
			if strings.EqualFold(lk, k) {
				got, ok = lv, true
				break
			}
		}
		if !ok || !strings.EqualFold(strings.TrimSpace(got), strings.TrimSpace(v)) {
			return false
		}
	}
	return true
}
