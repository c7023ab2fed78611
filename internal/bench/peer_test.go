package bench

import (
	"errors"
	"strings"
	"testing"
)

// The comparison's rows are the medians of each variant's clean runs: a run
// with a problem is left out and named, and the ratios' verdicts follow the
// targets.
func TestPeerRowsAreRatiosOfMedians(t *testing.T) {
	runs := []peerRun{
		{Variant: "watermill-peer", LeadsPerS: 4000, CPUPerLead: 200, P99ms: 10},
		{Variant: "watermill-peer", LeadsPerS: 5000, CPUPerLead: 180, P99ms: 9},
		{Variant: "watermill-peer", LeadsPerS: 4500, CPUPerLead: 190, P99ms: 11},
		{Variant: "crmsync-run", LeadsPerS: 4600, CPUPerLead: 150, P99ms: 8},
		{Variant: "crmsync-run", LeadsPerS: 1, Problem: "sink holds 19999 leads"},
		{Variant: "crmsync-run", LeadsPerS: 5000, CPUPerLead: 170, P99ms: 7},
		{Variant: "http-floor", LeadsPerS: 20000, CPUPerLead: 40},
	}
	res, err := summarisePeer(PeerResult{Leads: 20000}, runs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Crmsync.Runs != 2 || res.Crmsync.LeadsPerS != 4800 || res.Peer.LeadsPerS != 4500 || res.Peer.CPUPerLead != 190 {
		t.Fatalf("medians: %+v", res)
	}
	rows := res.Rows()
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	if rows[0].Result != "1.07×" || rows[0].Met != Met {
		t.Errorf("rate row: %+v", rows[0])
	}
	if rows[1].Result != "0.84×" || rows[1].Met != Met {
		t.Errorf("CPU row: %+v", rows[1])
	}
	if rows[2].Result != "0.24×" || rows[2].Met != Missed {
		t.Errorf("floor row: %+v", rows[2])
	}
	if !strings.Contains(rows[0].Notes, "sink holds 19999 leads") {
		t.Errorf("the run left out is not named: %s", rows[0].Notes)
	}
}

// Without a clean run of every variant there is no comparison.
func TestPeerWithoutACleanRunOfAVariantFails(t *testing.T) {
	runs := []peerRun{
		{Variant: "watermill-peer", LeadsPerS: 4000, CPUPerLead: 200},
		{Variant: "crmsync-run", Problem: "timed out"},
		{Variant: "http-floor", LeadsPerS: 20000, CPUPerLead: 40},
	}
	if _, err := summarisePeer(PeerResult{}, runs); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
}

// A checkout without the comparison beside it says so.
func TestPeerNotHere(t *testing.T) {
	_, err := Peer(t.Context(), PeerConfig{Dir: t.TempDir()})
	if !errors.Is(err, ErrNoPeer) {
		t.Fatalf("err = %v, want ErrNoPeer", err)
	}
}
