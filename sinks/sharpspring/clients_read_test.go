package sharpspring

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestClientSinkReadsWhatItWrote: clients written through the sink read
// back, by id and by company name, with every value the record carries, so
// a replay of the same record finds nothing to write. Unknown, ambiguous
// and deactivated clients read as nil. One getClients per Read.
func TestClientSinkReadsWhatItWrote(t *testing.T) {
	s, sim, _ := newClientSink(t, sharpspringsim.Options{}, "1001")
	ctx := context.Background()
	enc := mappings.SharpSpringClients{}
	acme := mappings.Client{
		mappings.Company: "Acme & Sons", mappings.Phone: "+1 555 0100", mappings.Street: "1 Main St", mappings.City: "Austin",
		mappings.State: "TX", mappings.Zip: "73301", mappings.Country: "us", mappings.Locale: "en_US",
		mappings.SalesStartHour: "8", mappings.SalesEndHour: "18", mappings.EmailSendLimit: "1000",
		mappings.ClientStatus: mappings.ClientInactive,
	}
	rec := func(key, target string, c mappings.Client) *pipeline.Record {
		return &pipeline.Record{Key: key, TargetID: target, Fields: enc.Encode(c), NaturalKeys: enc.NaturalKeys(c)}
	}
	written := rec("acme", "", acme)
	out := s.Write(ctx, []*pipeline.Record{written})
	if out[0].Err != nil || out[0].TargetID == "" {
		t.Fatalf("create: %+v", out[0])
	}
	id := out[0].TargetID
	// Written by hand in SharpSpring, not through the sink.
	other := sim.SeedClient("", map[string]string{"companyName": "Beta LLC", "salesPhone": "1", "city": "Dallas"})
	sim.SeedClient("", map[string]string{"companyName": "Twin", "salesPhone": "1"})
	sim.SeedClient("", map[string]string{"companyName": " twin ", "salesPhone": "1"})
	closed := sim.SeedClient("", map[string]string{"companyName": "Closed Inc", "salesPhone": "1"})
	sim.SetClientActive(closed, false)
	foreign := sim.SeedClient("2002", map[string]string{"companyName": "Theirs", "salesPhone": "1"})

	byID := rec("acme", id, acme)
	recs := []*pipeline.Record{
		byID,
		rec("acme", "", acme), // by name, as a record whose create answer was lost
		rec("acme-ci", "", mappings.Client{mappings.Company: " ACME &amp; SONS ", mappings.City: "Austin"}),
		rec("beta", strconv.FormatInt(other, 10), mappings.Client{mappings.City: "Waco"}),
		rec("nobody", "", mappings.Client{mappings.Company: "Nobody", mappings.City: "X"}),
		rec("gone", "999", mappings.Client{mappings.City: "X"}),
		rec("twin", "", mappings.Client{mappings.Company: "Twin", mappings.City: "X"}),
		rec("closed", strconv.FormatInt(closed, 10), mappings.Client{mappings.City: "X"}),
		rec("closed-by-name", "", mappings.Client{mappings.Company: "Closed Inc"}),
		rec("foreign", strconv.FormatInt(foreign, 10), mappings.Client{mappings.City: "X"}),
		rec("no-key", "", mappings.Client{mappings.City: "X"}),
	}
	calls := sim.Stats().ByMethod["getClients"]
	got, err := s.Read(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.Stats().ByMethod["getClients"] - calls; n != 1 {
		t.Fatalf("%d getClients calls for one Read, want 1", n)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d results for %d records", len(got), len(recs))
	}
	for i, r := range recs[:2] {
		if got[i] == nil {
			t.Fatalf("record %d (%s) not found", i, r.Key)
		}
		if got[i]["id"] != id {
			t.Errorf("record %d: id %q, want %s", i, got[i]["id"], id)
		}
		// Every value equals what the record carries: a replay would
		// write nothing.
		for f, v := range r.Fields {
			if got[i][f] != v {
				t.Errorf("record %d: %s = %q, want %q", i, f, got[i][f], v)
			}
		}
	}
	// Readable fields are SharpSpring's, even those the record does not
	// carry; written-only ones are the record's.
	if got[0]["companyName"] != "Acme & Sons" || got[0]["country"] != "US" || got[0]["streetAddress"] != "1 Main St" {
		t.Errorf("by id: %v", got[0])
	}
	if got[1]["salesPhone"] != "+1 555 0100" || got[1][mappings.SharpSpringClientSendLimit] != "1000" ||
		got[1][mappings.SharpSpringClientSending] != "disabled" || got[1]["locale"] != "en_US" {
		t.Errorf("by name, written-only fields: %v", got[1])
	}
	// The name matches trimmed, case-insensitively and HTML-unescaped.
	if got[2] == nil || got[2]["id"] != id || got[2]["city"] != "Austin" || got[2]["zipCode"] != "73301" {
		t.Errorf("by name, other spelling: %v", got[2])
	}
	// A client written by hand: its values, not the record's.
	if got[3] == nil || got[3]["city"] != "Dallas" || got[3]["companyName"] != "Beta LLC" {
		t.Errorf("client written by hand: %v", got[3])
	}
	for i, r := range recs[4:] {
		if got[4+i] != nil {
			t.Errorf("%s: %v, want nil", r.Key, got[4+i])
		}
	}

	// The client changes in SharpSpring (an HTML-encoded value as the UI
	// stores it, a cleared one): the readable fields show it.
	n, _ := strconv.ParseInt(id, 10, 64)
	sim.SetClientFields(n, map[string]string{"city": "San Antonio &amp; Co", "state": ""})
	got, err = s.Read(ctx, []*pipeline.Record{byID})
	if err != nil {
		t.Fatal(err)
	}
	if got[0]["city"] != "San Antonio & Co" || got[0]["state"] != "" || got[0]["salesPhone"] != "+1 555 0100" {
		t.Errorf("after an edit in SharpSpring: %v", got[0])
	}

	// Nothing to read: no request.
	calls = sim.Stats().ByMethod["getClients"]
	if got, err := s.Read(ctx, nil); err != nil || len(got) != 0 || sim.Stats().ByMethod["getClients"] != calls {
		t.Fatalf("empty read: %v, %v", got, err)
	}
}

// TestClientSinkReadErrors: getClients failing fails the Read (nothing is
// guessed), with SharpSpring's error.
func TestClientSinkReadErrors(t *testing.T) {
	s, _, _ := newClientSink(t, sharpspringsim.Options{Resellers: map[string]bool{"2002": true}}, "1001")
	_, err := s.Read(context.Background(), []*pipeline.Record{{Key: "a", TargetID: "1", Fields: map[string]string{"city": "X"}}})
	if err == nil {
		t.Fatal("a Read by a non-reseller succeeded")
	}
	var se *sharpspring.Error
	if !errors.As(err, &se) || se.Code != 305 {
		t.Fatalf("err = %v, want SharpSpring's 305", err)
	}
}
