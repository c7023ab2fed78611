package sharpspring

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// quotaOf requires a *pipeline.QuotaError wrapping SharpSpring's 106 whose
// ResetAt is probe after the write (within [from, to]), not a guessed reset.
func quotaOf(t *testing.T, err error, probe time.Duration, from, to time.Time) {
	t.Helper()
	var q *pipeline.QuotaError
	var se *sharpspring.Error
	if !errors.As(err, &q) || errors.Is(err, pipeline.ErrPermanent) || !errors.As(err, &se) || se.Code != 106 {
		t.Fatalf("err = %v, want a quota error from a 106", err)
	}
	if q.ResetAt.Before(from.Add(probe)) || q.ResetAt.After(to.Add(probe)) {
		t.Fatalf("ResetAt = %s, want %s after the write (%s..%s)", q.ResetAt, probe, from.Add(probe), to.Add(probe))
	}
}

func TestVendor106PausesForTheProbeInterval(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   time.Duration
		probe time.Duration
	}{{"configured", 7 * time.Minute, 7 * time.Minute}, {"default", 0, time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			s, sim := newSink(t, sharpspringsim.Options{})
			s = NewLeadSinkWithConfig(LeadSinkConfig{QuotaProbeInterval: tc.cfg}, s.c)
			sim.Script("createLeads", sharpspringsim.Fault106)
			from := time.Now()
			out := s.Write(context.Background(), []*pipeline.Record{rec("q1@example.com", nil), rec("q2@example.com", nil)})
			to := time.Now()
			for _, o := range out {
				quotaOf(t, o.Err, tc.probe, from, to)
			}
		})
	}
}

// After a 106, a Write sends nothing more: a route probing a spent daily
// limit spends one request per probe. The next Write goes on normally.
func TestVendor106EndsTheWrite(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	const probe = 5 * time.Minute
	s = NewLeadSinkWithConfig(LeadSinkConfig{QuotaProbeInterval: probe}, s.c)
	id := sim.SeedLead(map[string]string{"emailAddress": "known@example.com", "firstName": "Old"})
	known := func() *pipeline.Record {
		r := rec("known@example.com", map[string]string{"firstName": "New"})
		r.TargetID = strconv.FormatInt(id, 10)
		// A known lead's update carries only changed fields: not its
		// email (an email change is checked with a getLeads first).
		delete(r.Fields, "emailAddress")
		return r
	}
	// One record to update, one to create: two requests when all is well.
	sim.Script("updateLeadsV2", sharpspringsim.Fault106)
	before := sim.Stats().Requests
	from := time.Now()
	out := s.Write(context.Background(), []*pipeline.Record{known(), rec("new@example.com", nil)})
	to := time.Now()
	if n := sim.Stats().Requests - before; n != 1 {
		t.Fatalf("%d requests after a 106, want 1", n)
	}
	for _, o := range out {
		quotaOf(t, o.Err, probe, from, to)
	}
	if _, ok := sim.LeadByEmail("new@example.com"); ok {
		t.Fatal("a lead was created after the 106")
	}

	out = s.Write(context.Background(), []*pipeline.Record{known(), rec("new@example.com", nil)})
	for i, o := range out {
		if o.Err != nil {
			t.Fatalf("outcome %d after the limit lifted: %v", i, o.Err)
		}
	}
	if _, ok := sim.LeadByEmail("new@example.com"); !ok {
		t.Fatal("the new lead was not created once the limit lifted")
	}
}

func TestClientSinkVendor106EndsTheWrite(t *testing.T) {
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1001": "k"}, RateLimitPerSecond: -1})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	c, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1001", SecretKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	const probe = 10 * time.Minute
	s := NewClientSink(ClientSinkConfig{QuotaProbeInterval: probe}, c)
	sim.Script("getClients", sharpspringsim.Fault106)
	before := sim.Stats().Requests
	from := time.Now()
	out := s.Write(context.Background(), []*pipeline.Record{
		clientRec("", map[string]string{"companyName": "A", "salesPhone": "1"}),
		clientRec("", map[string]string{"companyName": "B", "salesPhone": "2"}),
	})
	to := time.Now()
	if n := sim.Stats().Requests - before; n != 1 {
		t.Fatalf("%d requests after a 106, want 1", n)
	}
	for _, o := range out {
		quotaOf(t, o.Err, probe, from, to)
	}
	if n := len(sim.Clients()); n != 0 {
		t.Fatalf("%d clients created after the 106", n)
	}
}
