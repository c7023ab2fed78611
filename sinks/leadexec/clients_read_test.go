package leadexec

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// TestClientSinkReadsWhatItWrote: clients written through the sink read
// back through the ASMX methods, by ClientUID and by Username, with every
// value the record carries, so a replay of the same record finds nothing
// to write. Fields are found by SpecialBit, whatever their Descriptor.
// Unknown and ambiguous clients read as nil.
func TestClientSinkReadsWhatItWrote(t *testing.T) {
	defs := append(ownWordsClientFields(), leadexecsim.ClientFieldDef{ClientFieldUID: 77, Descriptor: "Zweite Stadt", SpecialBit: "City"})
	e := newSimEnv(t, leadexecsim.Options{ClientFields: defs})
	s := e.clientSink(&bytes.Buffer{})
	ctx := context.Background()

	acme := mappings.Client{mappings.Company: "Acme & Sons", mappings.Phone: "5125550100", mappings.City: "Austin",
		mappings.Email: "Ops@Acme.example", mappings.State: "TX", mappings.MobilePhone: "5125550199",
		mappings.ClientStatus: mappings.ClientInactive}
	beta := mappings.Client{mappings.Company: "Beta <LLC>", mappings.City: "Waco"}      // username from the company
	anon := &pipeline.Record{Key: "anon", Fields: map[string]string{"City": "Nowhere"}} // username from the key
	out := s.Write(ctx, []*pipeline.Record{clientRecord("acme", "", acme), clientRecord("beta", "", beta), anon})
	for i, o := range out {
		if o.Err != nil || o.TargetID == "" {
			t.Fatalf("write %d: %+v", i, o)
		}
	}
	acmeID, anonID := out[0].TargetID, out[2].TargetID
	// An operator's own client, and two sharing a username.
	hand := e.sim.AddClient(leadexecsim.Client{Username: "hand", Fields: map[int64]string{71: "Hand Made", 73: "Dallas", 75: "note"}})
	e.sim.AddClient(leadexecsim.Client{Username: "crmsync-dup"})
	e.sim.AddClient(leadexecsim.Client{Username: "CRMSYNC-DUP "})

	recs := []*pipeline.Record{
		clientRecord("acme", acmeID, acme),
		clientRecord("acme", "", acme),
		clientRecord("beta", "", beta),
		{Key: "anon", Fields: map[string]string{"City": "Nowhere"}},
		clientRecord("hand", strconv.FormatInt(hand, 10), mappings.Client{mappings.City: "Houston"}),
		clientRecord("gone", "999999", mappings.Client{mappings.City: "X"}),
		clientRecord("nobody", "", mappings.Client{mappings.Company: "Nobody", mappings.City: "X"}),
		clientRecord("dup", "", mappings.Client{mappings.Company: "Dup"}),
	}
	e.sim.ResetCounts()
	got, err := s.Read(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d results for %d records", len(got), len(recs))
	}
	if n := e.sim.RequestCount(leadexecsim.EndpointGetClientList); n != 1 {
		t.Errorf("%d GetClientList calls for one Read, want 1", n)
	}
	// One GetClientData per client found, and one for the unknown id.
	if n := e.sim.RequestCount(leadexecsim.EndpointGetClientData); n != 6 {
		t.Errorf("%d GetClientData calls, want 6", n)
	}
	if n := e.sim.RequestCount(leadexecsim.EndpointEditClient); n != 0 {
		t.Errorf("a Read wrote: %d edits", n)
	}
	for i, r := range recs[:4] {
		if got[i] == nil {
			t.Fatalf("%s (record %d) not found", r.Key, i)
		}
		// Every value equals what the record carries: a replay would write
		// nothing.
		for f, v := range r.Fields {
			if got[i][f] != v {
				t.Errorf("%s (record %d): %s = %q, want %q", r.Key, i, f, got[i][f], v)
			}
		}
	}
	if got[0]["Company"] != "Acme & Sons" || got[0]["Email"] != "Ops@Acme.example" || got[0]["PrimaryPhone"] != "5125550100" {
		t.Errorf("by id: %v", got[0])
	}
	if got[3]["City"] != "Nowhere" {
		t.Errorf("by the derived username: %v", got[3])
	}
	uid, _ := strconv.ParseInt(anonID, 10, 64)
	if c, _ := e.sim.ClientByUID(uid); got[3]["City"] != c.Fields[73] {
		t.Errorf("read %v of client %+v", got[3], c)
	}
	// A client made by hand: LeadExec's values by SpecialBit (the first
	// field of each), nothing without one.
	if h := got[4]; h == nil || h["City"] != "Dallas" || h["Company"] != "Hand Made" || len(h) != 4 {
		t.Errorf("client made by hand: %v", got[4])
	}
	for i, r := range recs[5:] {
		if got[5+i] != nil {
			t.Errorf("%s: %v, want nil", r.Key, got[5+i])
		}
	}

	// An edit in LeadExec shows; fields that cannot be read (Status, a
	// state-id field, a SpecialBit the account lacks) stay the record's.
	a, _ := strconv.ParseInt(acmeID, 10, 64)
	if err := e.sim.SetClientField(a, 73, "Houston"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetClientField(a, 76, "44"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpdateClient(a, func(c *leadexecsim.Client) { c.Status = "Active" }); err != nil {
		t.Fatal(err)
	}
	got, err = s.Read(ctx, recs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if got[0]["City"] != "Houston" || got[0]["State"] != "TX" || got[0]["Status"] != "Inactive" || got[0]["MobilePhone"] != "5125550199" {
		t.Errorf("after an edit in LeadExec: %v", got[0])
	}

	// Records with target ids only: no GetClientList.
	e.sim.ResetCounts()
	if _, err := s.Read(ctx, recs[:1]); err != nil || e.sim.RequestCount(leadexecsim.EndpointGetClientList) != 0 {
		t.Errorf("read by id: %v, %d GetClientList calls", err, e.sim.RequestCount(leadexecsim.EndpointGetClientList))
	}
}

// TestClientSinkReadErrors: a failed GetClientList or GetClientData fails
// the Read; nothing is guessed.
func TestClientSinkReadErrors(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{})
	uid := e.sim.AddClient(leadexecsim.Client{Username: "acme", Fields: map[int64]string{1001: "Acme"}})
	s := e.clientSink(&bytes.Buffer{})
	ctx := context.Background()
	byID := clientRecord("acme", strconv.FormatInt(uid, 10), mappings.Client{mappings.City: "Austin"})
	byName := &pipeline.Record{Key: "acme", Fields: map[string]string{"City": "Austin"}, NaturalKeys: map[string]string{"Username": "acme"}}

	e.sim.FailNext(leadexecsim.EndpointGetClientData, 1, 500)
	if got, err := s.Read(ctx, []*pipeline.Record{byID}); err == nil {
		t.Errorf("GetClientData failed, Read answered %v", got)
	}
	e.sim.FailNext(leadexecsim.EndpointGetClientList, 1, 500)
	if got, err := s.Read(ctx, []*pipeline.Record{byName}); err == nil {
		t.Errorf("GetClientList failed, Read answered %v", got)
	}
	got, err := s.Read(ctx, []*pipeline.Record{byID, byName})
	if err != nil || got[0]["Company"] != "Acme" || got[1]["Company"] != "Acme" {
		t.Fatalf("after the failures: %v, %v", got, err)
	}
}

// TestClientSinkReadAccountWithoutFields: a client of an account without
// client fields exists (GetClientList lists it) though GetClientData
// answers nothing; a ClientUID nobody has does not.
func TestClientSinkReadAccountWithoutFields(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{ClientFields: []leadexecsim.ClientFieldDef{}})
	uid := e.sim.AddClient(leadexecsim.Client{Username: "acme"})
	s := e.clientSink(&bytes.Buffer{})
	got, err := s.Read(context.Background(), []*pipeline.Record{
		{Key: "a", TargetID: strconv.FormatInt(uid, 10), Fields: map[string]string{"City": "Austin"}},
		{Key: "b", TargetID: "999999", Fields: map[string]string{"City": "Austin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || got[0]["City"] != "Austin" || got[1] != nil {
		t.Fatalf("got %v", got)
	}
}
