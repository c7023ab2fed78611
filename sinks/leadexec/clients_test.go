package leadexec

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

const testPassword = "portal-password-DO-NOT-LOG"

func (e simEnv) clientSink(logs *bytes.Buffer) *ClientSink {
	cfg := ClientSinkConfig{NewPassword: func() (string, error) { return testPassword, nil }}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return NewClientSink(cfg, e.c)
}

// ownWordsClientFields are client fields of an account that names them in
// its own words; only SpecialBits tie them to the canonical model.
func ownWordsClientFields() []leadexecsim.ClientFieldDef {
	return []leadexecsim.ClientFieldDef{
		{ClientFieldUID: 71, Descriptor: "Firma", SpecialBit: "Company"},
		{ClientFieldUID: 72, Descriptor: "Telefon", SpecialBit: "PrimaryPhone"},
		{ClientFieldUID: 73, Descriptor: "Ort", SpecialBit: "City"},
		{ClientFieldUID: 74, Descriptor: "E-Mail", SpecialBit: "Email"},
		{ClientFieldUID: 75, Descriptor: "Notiz"},
		{ClientFieldUID: 76, Descriptor: "Bundesstaat", SpecialBit: "State", IsState: true},
	}
}

// clientRecord encodes a canonical client as the route would.
func clientRecord(key, targetID string, c mappings.Client) *pipeline.Record {
	codec := mappings.LeadExecClients{}
	return &pipeline.Record{Key: key, TargetID: targetID, Fields: codec.Encode(c), NaturalKeys: codec.NaturalKeys(c)}
}

// TestClientSinkCreateAndEdit: a new client is created with a username and
// a password (never logged), its fields placed by SpecialBit; an edit
// overwrites the fields it carries and leaves the others alone; a create
// whose answer was lost is found by its username and not repeated.
func TestClientSinkCreateAndEdit(t *testing.T) {
	defs := ownWordsClientFields()
	for _, withOthers := range []bool{false, true} {
		name := "first client of the account"
		if withOthers {
			name = "account with clients"
		}
		t.Run(name, func(t *testing.T) {
			e := newSimEnv(t, leadexecsim.Options{ClientFields: defs})
			if withOthers {
				e.sim.AddClient(leadexecsim.Client{Username: "someone-else", Fields: map[int64]string{71: "Other Inc"}})
			}
			logs := &bytes.Buffer{}
			s := e.clientSink(logs)
			ctx := context.Background()

			c := mappings.Client{mappings.Company: "Acme Co", mappings.Phone: "5125550100", mappings.City: "Austin",
				mappings.Email: "Ops@Acme.example", mappings.MobilePhone: "5125550199", mappings.State: "TX"}
			out := s.Write(ctx, []*pipeline.Record{clientRecord("c1", "", c)})
			if out[0].Err != nil || out[0].TargetID == "" {
				t.Fatalf("create: %+v", out[0])
			}
			uid, _ := strconv.ParseInt(out[0].TargetID, 10, 64)
			got, ok := e.sim.ClientByUID(uid)
			if !ok || got.Username != "ops@acme.example" || got.Password != testPassword ||
				got.Fields[71] != "Acme Co" || got.Fields[72] != "5125550100" || got.Fields[73] != "Austin" || got.Fields[74] != "Ops@Acme.example" {
				t.Fatalf("created %+v", got)
			}
			if !strings.Contains(logs.String(), "MobilePhone") || !strings.Contains(logs.String(), "special_bit=State") {
				t.Error("a value without a client field was dropped silently")
			}
			if got.Fields[76] != "" {
				t.Error("a state name was written into a state-id field")
			}

			out = s.Write(ctx, []*pipeline.Record{clientRecord("c1", out[0].TargetID, mappings.Client{mappings.City: "Dallas", mappings.ClientStatus: mappings.ClientInactive})})
			if out[0].Err != nil || out[0].TargetID != strconv.FormatInt(uid, 10) {
				t.Fatalf("edit: %+v", out[0])
			}
			got, _ = e.sim.ClientByUID(uid)
			if got.Fields[73] != "Dallas" || got.Fields[71] != "Acme Co" || got.Status != "Inactive" {
				t.Fatalf("edited %+v", got)
			}

			// A create whose answer is lost: the retry edits the client
			// it made instead of making a second one.
			n := len(e.sim.Clients())
			e.sim.DropAfterCommit(leadexecsim.EndpointEditClient, 1)
			beta := mappings.Client{mappings.Company: "Beta & Sons", mappings.City: "Waco"}
			out = s.Write(ctx, []*pipeline.Record{clientRecord("c2", "", beta)})
			if out[0].Err == nil || errors.Is(out[0].Err, pipeline.ErrPermanent) {
				t.Fatalf("dropped create: %+v, want a transient error", out[0])
			}
			beta[mappings.City] = "Temple"
			out = s.Write(ctx, []*pipeline.Record{clientRecord("c2", "", beta)})
			if out[0].Err != nil || len(e.sim.Clients()) != n+1 {
				t.Fatalf("retried create: %+v, %d clients (want %d)", out[0], len(e.sim.Clients()), n+1)
			}
			uid2, _ := strconv.ParseInt(out[0].TargetID, 10, 64)
			if got, _ := e.sim.ClientByUID(uid2); got.Username != "crmsync-beta-sons" || got.Fields[73] != "Temple" {
				t.Fatalf("retried create made %+v", got)
			}
			for _, o := range out {
				if o.Err != nil && strings.Contains(o.Err.Error(), testPassword) {
					t.Fatal("the password is in an error")
				}
			}
			if strings.Contains(logs.String(), testPassword) {
				t.Fatal("the password appeared in the logs")
			}
		})
	}
}

// TestClientSinkEditKeepsWhatItDoesNotWrite: AddEditClient takes the whole
// client (the simulator resets what is left out), so an edit of one field
// leaves the portal username and password, the time zone, the notes, the
// status and every other field as they were. Client writes need the ASMX
// key only, no OAuth token.
func TestClientSinkEditKeepsWhatItDoesNotWrite(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{})
	uid := e.sim.AddClient(leadexecsim.Client{Username: "acme", Password: "portal-pw", TimeZoneName: "Central Standard Time",
		TimeOffset: -1, Notes: "call before noon", Status: "Pending", OverrideReassign: true,
		Fields: map[int64]string{1001: "Acme Co", 1004: "ops@acme.example", 1011: "Morning"}})
	s := e.clientSink(nil)
	ctx := context.Background()
	id := strconv.FormatInt(uid, 10)
	before, _ := e.sim.ClientByUID(uid)
	if o := s.Write(ctx, []*pipeline.Record{clientRecord("c1", id, mappings.Client{mappings.City: "Austin"})})[0]; o.Err != nil {
		t.Fatal(o.Err)
	}
	got, _ := e.sim.ClientByUID(uid)
	want := before
	want.Fields = maps.Clone(before.Fields)
	want.Fields[1007] = "Austin"
	for fid, v := range got.Fields {
		if v != want.Fields[fid] {
			t.Errorf("field %d = %q, want %q", fid, v, want.Fields[fid])
		}
	}
	for fid, v := range want.Fields {
		if got.Fields[fid] != v {
			t.Errorf("field %d = %q, want %q", fid, got.Fields[fid], v)
		}
	}
	got.Fields, want.Fields = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("edit changed the client:\n got %+v\nwant %+v", got, want)
	}
	if n := e.sim.RequestCount(leadexecsim.EndpointToken); n != 0 {
		t.Fatalf("%d token requests for client writes", n)
	}
}

func TestClientSinkOutcomes(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{})
	s := e.clientSink(nil)
	ctx := context.Background()
	recs := []*pipeline.Record{
		// Removed at the source, never written here.
		clientRecord("gone", "", mappings.Client{mappings.ClientStatus: mappings.ClientInactive}),
		// Its LeadExec client no longer exists.
		clientRecord("deleted", "999999", mappings.Client{mappings.City: "Austin"}),
		// Nothing to send to a known client.
		clientRecord("same", "999998", mappings.Client{}),
	}
	out := s.Write(ctx, recs)
	if out[0].Err != nil || out[0].Skip != SkipNothingToDeactivate {
		t.Errorf("never created: %+v", out[0])
	}
	if !errors.Is(out[1].Err, pipeline.ErrPermanent) {
		t.Errorf("deleted in LeadExec: %+v, want permanent", out[1])
	}
	if out[2].Err != nil || out[2].TargetID != "999998" {
		t.Errorf("nothing to send: %+v", out[2])
	}
	if n := e.sim.RequestCount(leadexecsim.EndpointEditClient); n != 0 {
		t.Errorf("%d edits sent", n)
	}
	e.sim.AddClient(leadexecsim.Client{Username: "crmsync-dup"})
	e.sim.AddClient(leadexecsim.Client{Username: "CRMSYNC-DUP"})
	if o := s.Write(ctx, []*pipeline.Record{clientRecord("d", "", mappings.Client{mappings.Company: "Dup"})})[0]; !errors.Is(o.Err, pipeline.ErrPermanent) {
		t.Errorf("two clients with the username: %+v, want permanent", o)
	}
}
