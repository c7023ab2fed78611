package leadexec

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// TestUnreadableAnswerIsSettledByReadBack: LeadExec applies the post and
// answers something crmsync cannot read. The lead is found in the lead data
// API by what was sent and settled with its LeadUID; it is not posted again.
func TestUnreadableAnswerIsSettledByReadBack(t *testing.T) {
	for _, v := range []struct {
		version string
		ep      leadexecsim.Endpoint
	}{{V2, leadexecsim.EndpointInsertV2}, {V1, leadexecsim.EndpointInsertV1}} {
		t.Run(v.version, func(t *testing.T) {
			e := newSimEnv(t, leadexecsim.Options{})
			logs := &bytes.Buffer{}
			s := e.leadSink(t, v.version, logs, func(c *LeadSinkConfig) { c.ReadBack = e.c })
			recs := []*pipeline.Record{leadRec(person(41)), leadRec(person(42))}
			e.sim.MalformNext(v.ep, 2)
			out := s.Write(context.Background(), recs)
			leads := e.sim.Leads()
			if len(leads) != 2 {
				t.Fatalf("LeadExec holds %d leads, want 2", len(leads))
			}
			for i, o := range out {
				if o.Err != nil || o.TargetID != strconv.FormatInt(leads[i].UID, 10) {
					t.Fatalf("record %d: %+v, want settled as lead %d", i, o, leads[i].UID)
				}
			}
			if n := e.sim.RequestCount(v.ep); n != len(recs) && v.version == V1 || n != 1 && v.version == V2 {
				t.Fatalf("%d posts", n)
			}
			if e.sim.RequestCount(leadexecsim.EndpointQueryLeads) == 0 || !strings.Contains(logs.String(), "not posted again") {
				t.Fatalf("not settled by a read-back:\n%s", logs.String())
			}
		})
	}
}

// TestUnreadableAnswersAreNotPostedWithoutEnd: a lead whose posts are
// answered with garbage every time and which the lead data API does not
// show is posted MaxInDoubtPosts times, then dead-lettered with the start
// of the answer; without a read-back, the bound holds too.
func TestUnreadableAnswersAreNotPostedWithoutEnd(t *testing.T) {
	for _, readBack := range []bool{true, false} {
		t.Run("read-back "+strconv.FormatBool(readBack), func(t *testing.T) {
			e := newSimEnv(t, leadexecsim.Options{})
			s := e.leadSink(t, V2, nil, func(c *LeadSinkConfig) {
				if readBack {
					c.ReadBack = e.c
				}
			})
			// LeadExec refuses the lead (no PrimaryPhone), but says so in
			// an answer crmsync cannot read.
			rec := leadRec(person(43, "PrimaryPhone", "<absent>"))
			e.sim.MalformNext(leadexecsim.EndpointInsertV2, 10)
			var last pipeline.Outcome
			for range DefaultMaxInDoubtPosts {
				last = s.Write(context.Background(), []*pipeline.Record{rec})[0]
				if last.Err == nil {
					t.Fatalf("settled: %+v", last)
				}
			}
			var pe *pipeline.PermanentError
			if !errors.As(last.Err, &pe) || pe.Code != CodeUnreadableAnswer || !strings.Contains(last.Err.Error(), "<!--") ||
				!strings.Contains(last.Err.Error(), "posted 3 times") {
				t.Fatalf("after %d posts: %v, want a dead letter with the answer", DefaultMaxInDoubtPosts, last.Err)
			}
			if n := e.sim.RequestCount(leadexecsim.EndpointInsertV2); n != DefaultMaxInDoubtPosts {
				t.Fatalf("%d posts, want %d", n, DefaultMaxInDoubtPosts)
			}
			if got := e.sim.RequestCount(leadexecsim.EndpointQueryLeads) > 0; got != readBack {
				t.Fatalf("read-back requests: %v, want %v", got, readBack)
			}
		})
	}
}

// TestUnreachableLeadExecIsNotInDoubt: a post that never reached LeadExec
// (connection refused) is transient however often it happens.
func TestUnreachableLeadExecIsNotInDoubt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c, err := leadexec.New(leadexec.Config{APIURL: url, LeadsURL: url, DataURL: url})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewLeadSink(LeadSinkConfig{Source: testSource()}, c)
	if err != nil {
		t.Fatal(err)
	}
	rec := leadRec(person(44))
	for range DefaultMaxInDoubtPosts + 2 {
		o := s.Write(context.Background(), []*pipeline.Record{rec})[0]
		if o.Err == nil || errors.Is(o.Err, pipeline.ErrPermanent) {
			t.Fatalf("%+v, want transient", o)
		}
	}
}
