package getlead

import (
	"context"
	"errors"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

// TestAWrongClassicTokenKeepsTheRecords: the classic API answers a wrong
// token with HTTP 200 and status "error" (as the simulator plays it, the
// classic API's documents show no other status). The record is kept and
// retried once the credentials are fixed, never dead-lettered.
func TestAWrongClassicTokenKeepsTheRecords(t *testing.T) {
	sim, srv := newSim(t, getleadsim.Options{})
	s, err := NewLeadSink(Config{Mode: "classic", Classic: getlead.ClassicConfig{BaseURL: srv.URL, Token: "gl_not_the_token"},
		Ledger: openState(t)})
	if err != nil {
		t.Fatal(err)
	}
	lead := mappings.Lead{mappings.FirstName: "Asha", mappings.MobilePhone: "+91 98765 43210"}
	out := s.Write(context.Background(), []*pipeline.Record{record("k1", lead, lead)})
	var ra *pipeline.RetryAfterError
	if !errors.As(out[0].Err, &ra) || errors.Is(out[0].Err, pipeline.ErrPermanent) {
		t.Fatalf("outcome %+v: want a retry, not a dead letter", out[0])
	}
	if n := len(sim.Leads()); n != 0 {
		t.Fatalf("Getlead holds %d leads", n)
	}
}
