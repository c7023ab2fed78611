package sharpspring

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"net/http"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func newClientSink(t *testing.T, opts sharpspringsim.Options, account string) (*ClientSink, *sharpspringsim.Server, *sharpspring.Client) {
	t.Helper()
	opts.Accounts = map[string]string{"1001": "k", "2002": "k"}
	opts.RateLimitPerSecond = -1
	sim := sharpspringsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	c, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: account, SecretKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return NewClientSink(ClientSinkConfig{}, c), sim, c
}

func clientRec(targetID string, fields map[string]string) *pipeline.Record {
	r := &pipeline.Record{Key: "c1", TargetID: targetID, Fields: fields, NaturalKeys: map[string]string{}}
	if n := fields["companyName"]; n != "" {
		r.NaturalKeys["companyName"] = n
	}
	return r
}

func TestClientSinkRoundTrip(t *testing.T) {
	s, sim, _ := newClientSink(t, sharpspringsim.Options{}, "1001")
	ctx := context.Background()
	enc := mappings.SharpSpringClients{}.Encode
	create := enc(mappings.Client{
		mappings.Company: "Acme Co", mappings.Phone: "+1 555 0100", mappings.Country: "us", mappings.City: "Austin",
		mappings.Locale: "en_US", mappings.SalesStartHour: "8", mappings.SalesEndHour: "18",
		mappings.EmailSendLimit: "1000", mappings.ClientStatus: mappings.ClientInactive,
	})
	out := s.Write(ctx, []*pipeline.Record{clientRec("", create)})
	if out[0].Err != nil || out[0].TargetID == "" {
		t.Fatalf("create: %+v", out[0])
	}
	c := sim.Clients()[0]
	if strconv.FormatInt(c.ID, 10) != out[0].TargetID || c.Fields["country"] != "US" || c.Fields["salesEndHour"] != "18" ||
		c.EmailLimit == nil || *c.EmailLimit != 1000 || c.SendingEnabled {
		t.Fatalf("created %+v", c)
	}

	update := enc(mappings.Client{mappings.City: "Dallas", mappings.EmailSendLimit: "2500", mappings.ClientStatus: mappings.ClientActive})
	out = s.Write(ctx, []*pipeline.Record{clientRec(out[0].TargetID, update)})
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	c = sim.Clients()[0]
	if c.Fields["city"] != "Dallas" || *c.EmailLimit != 2500 || !c.SendingEnabled {
		t.Fatalf("updated %+v", c)
	}

	// A create whose answer was lost: the record has no target id yet, but
	// a client of that name exists. It is updated, not created twice.
	out = s.Write(ctx, []*pipeline.Record{clientRec("", enc(mappings.Client{mappings.Company: "ACME Co", mappings.Phone: "+1 555 0199"}))})
	if out[0].Err != nil || out[0].TargetID != strconv.FormatInt(c.ID, 10) || len(sim.Clients()) != 1 || sim.Clients()[0].Fields["salesPhone"] != "+1 555 0199" {
		t.Fatalf("retried create: %+v, %d clients", out[0], len(sim.Clients()))
	}

	// Removed at the source, never written here: nothing to do.
	out = s.Write(ctx, []*pipeline.Record{clientRec("", map[string]string{"accountSending": "disabled"})})
	if out[0].Err != nil || out[0].TargetID != "" {
		t.Fatalf("removal of an unknown client: %+v", out[0])
	}
}

// canonCodec is a ClientCodec whose fields are canonical names: a source
// vendor for route tests.
type canonCodec struct{}

func (canonCodec) Vendor() string { return "canon" }
func (canonCodec) Decode(f map[string]string) (mappings.Client, error) {
	return mappings.Client(f), nil
}
func (canonCodec) Encode(c mappings.Client) map[string]string    { return c }
func (canonCodec) Keys(mappings.Client) []pipeline.Key           { return nil }
func (canonCodec) NaturalKeys(mappings.Client) map[string]string { return nil }

// TestClientErrorsDeadLetterWithTheirCode runs the canon.client →
// sharpspring.client route on the embedded bus and checks the dead letter.
func TestClientErrorsDeadLetterWithTheirCode(t *testing.T) {
	valid := map[string]string{mappings.Company: "Acme", mappings.Phone: "555"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range valid {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name    string
		opts    sharpspringsim.Options
		account string
		fields  map[string]string
		// prepare may create clients and returns the SharpSpring id to link
		// the record to ("" = none).
		prepare func(t *testing.T, sim *sharpspringsim.Server, c *sharpspring.Client) string
		code    string
		message string
	}{
		{name: "206 phone missing", fields: map[string]string{mappings.Company: "Acme"}, code: "206", message: "salesPhone"},
		{name: "215 country", fields: with(mappings.Country, "XX"), code: "215", message: "country"},
		{name: "223 user incomplete", fields: with(mappings.UserEmail, "u@acme.example"), code: "223"},
		{name: "218 user email", fields: with(mappings.UserEmail, "nobody", mappings.UserPassword, "p", mappings.UserDisplayName, "N"), code: "218"},
		{name: "221 user in use", fields: with(mappings.UserEmail, "u@acme.example", mappings.UserPassword, "p", mappings.UserDisplayName, "N"),
			prepare: func(t *testing.T, _ *sharpspringsim.Server, c *sharpspring.Client) string {
				if _, err := c.CreateClient(context.Background(), map[string]any{"companyName": "Other", "salesPhone": "1",
					"userEmail": "u@acme.example", "userPassword": "p", "userDisplayName": "N"}); err != nil {
					t.Fatal(err)
				}
				return ""
			}, code: "221", message: "already in use"},
		{name: "305 not a reseller", opts: sharpspringsim.Options{Resellers: map[string]bool{"2002": true}}, fields: with(), code: "305", message: "reseller"},
		{name: "216 company not found", opts: sharpspringsim.Options{UpdateClientNotFoundCode: 216}, fields: map[string]string{mappings.City: "X"},
			prepare: func(*testing.T, *sharpspringsim.Server, *sharpspring.Client) string { return "42" }, code: "216", message: "Company not found"},
		{name: "307 sub account not found", fields: map[string]string{mappings.EmailSendLimit: "10"},
			prepare: func(_ *testing.T, sim *sharpspringsim.Server, _ *sharpspring.Client) string {
				id := sim.SeedClient("", map[string]string{"companyName": "Closed"})
				sim.SetClientActive(id, false)
				return strconv.FormatInt(id, 10)
			}, code: "307", message: "Sub account not found"},
		{name: "306 another agency's client", fields: map[string]string{mappings.ClientStatus: mappings.ClientInactive},
			prepare: func(_ *testing.T, sim *sharpspringsim.Server, _ *sharpspring.Client) string {
				return strconv.FormatInt(sim.SeedClient("2002", map[string]string{"companyName": "Theirs"}), 10)
			}, code: "306", message: "do not manage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			account := "1001"
			sink, sim, api := newClientSink(t, tc.opts, account)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			bus := testenv.Bus(t)
			store := testenv.State(t)
			ev := pipeline.Event{Vendor: "canon", Entity: "client", ExternalID: "c-1", Fields: tc.fields, ChangedAt: time.Now()}
			if tc.prepare != nil {
				if target := tc.prepare(t, sim, api); target != "" {
					ids, err := store.ResolveAll(ctx, [][]pipeline.Key{{{Vendor: "canon", Entity: "client", Kind: pipeline.KindID, Value: "c-1"}}})
					if err == nil {
						_, err = store.Settle(ctx, pipeline.Settlement{Links: []pipeline.Link{
							{CanonicalID: ids[0], Key: pipeline.Key{Vendor: "sharpspring", Entity: "client", Kind: pipeline.KindID, Value: target}},
						}})
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := ev.Seal(); err != nil {
				t.Fatal(err)
			}
			if err := bus.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
			ru, err := pipeline.NewRunner(pipeline.Route{
				Name: "canon-to-sharpspring-clients", From: "canon.client", To: pipeline.Target{Vendor: "sharpspring", Entity: "client"},
				Mapper: mappings.ClientRoute{From: canonCodec{}, To: mappings.SharpSpringClients{}}, Sink: sink,
				Batch: pipeline.BatchPolicy{Linger: 20 * time.Millisecond},
			}, bus, store)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- ru.Run(ctx) }()
			var dl []pipeline.DeadLetter
			testenv.Eventually(t, "a dead letter", func() bool {
				if dl, err = store.DeadLetters(ctx, pipeline.DeadLetterFilter{}); err != nil {
					t.Fatal(err)
				}
				return len(dl) > 0
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if dl[0].Code != tc.code || !strings.Contains(dl[0].Message, tc.message) {
				t.Fatalf("dead letter code %s message %q, want %s containing %q", dl[0].Code, dl[0].Message, tc.code, tc.message)
			}
			if strings.Contains(dl[0].Message, "secretKey") {
				t.Fatal("credentials in the dead letter")
			}
		})
	}
}

func TestClientSinkHandsBackTransientErrors(t *testing.T) {
	s, sim, _ := newClientSink(t, sharpspringsim.Options{}, "1001")
	sim.Script("createClient", sharpspringsim.Fault107)
	out := s.Write(context.Background(), []*pipeline.Record{clientRec("", map[string]string{"companyName": "A", "salesPhone": "1"})})
	var ra *pipeline.RetryAfterError
	if !errors.As(out[0].Err, &ra) || errors.Is(out[0].Err, pipeline.ErrPermanent) {
		t.Fatalf("107 classified as %v", out[0].Err)
	}
	// Created, but the answer is lost: transient, and the retry finds the
	// client by name instead of creating a second one.
	sim.Script("createClient", sharpspringsim.FaultDropAfterCommit)
	r := clientRec("", map[string]string{"companyName": "A", "salesPhone": "1"})
	out = s.Write(context.Background(), []*pipeline.Record{r})
	if out[0].Err == nil || errors.Is(out[0].Err, pipeline.ErrPermanent) || len(sim.Clients()) != 1 {
		t.Fatalf("dropped answer: %v, %d clients", out[0].Err, len(sim.Clients()))
	}
	out = s.Write(context.Background(), []*pipeline.Record{r})
	if out[0].Err != nil || len(sim.Clients()) != 1 || out[0].TargetID != strconv.FormatInt(sim.Clients()[0].ID, 10) {
		t.Fatalf("retry %+v, %d clients", out[0], len(sim.Clients()))
	}
}

// TestClientWriteWhoseAnswerWasLostIsNotRepeated: a client write that
// SharpSpring applied but never answered (it timed out, or the connection
// dropped) fails as transient and is retried; the retry reads the client
// back and does not write what SharpSpring already holds. A write that
// timed out before it was applied is written again.
func TestClientWriteWhoseAnswerWasLostIsNotRepeated(t *testing.T) {
	cases := []struct {
		name   string
		method string // the call whose answer is lost
		fault  sharpspringsim.Fault
		writes int // requests of method in all, the lost one included
	}{
		{"create timed out after it was applied", "createClient", sharpspringsim.FaultTimeoutAfterCommit, 1},
		{"create dropped after it was applied", "createClient", sharpspringsim.FaultDropAfterCommit, 1},
		{"update timed out after it was applied", "updateClient", sharpspringsim.FaultTimeoutAfterCommit, 1},
		{"update dropped after it was applied", "updateClient", sharpspringsim.FaultDropAfterCommit, 1},
		{"update timed out before it was applied", "updateClient", sharpspringsim.FaultTimeout, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1001": "k"}, RateLimitPerSecond: -1})
			srv := httptest.NewServer(sim)
			t.Cleanup(func() { sim.Close(); srv.Close() })
			c, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1001", SecretKey: "k",
				HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			s := NewClientSink(ClientSinkConfig{}, c)

			r := clientRec("", map[string]string{"companyName": "Lost Answer Co", "salesPhone": "+1 512 555 0100", "city": "Austin"})
			if tc.method == "updateClient" {
				out := s.Write(ctx, []*pipeline.Record{r})
				if out[0].Err != nil {
					t.Fatal(out[0].Err)
				}
				r = clientRec(out[0].TargetID, map[string]string{"city": "Waco"})
				r.NaturalKeys["companyName"] = "Lost Answer Co"
			}
			sim.Script(tc.method, tc.fault)
			out := s.Write(ctx, []*pipeline.Record{r})
			if out[0].Err == nil || errors.Is(out[0].Err, pipeline.ErrPermanent) {
				t.Fatalf("lost answer: %v, want a transient error", out[0].Err)
			}
			// The pipeline retries the record as it was.
			out = s.Write(ctx, []*pipeline.Record{r})
			if out[0].Err != nil {
				t.Fatalf("retry: %v", out[0].Err)
			}
			cs := sim.Clients()
			if len(cs) != 1 || out[0].TargetID != strconv.FormatInt(cs[0].ID, 10) {
				t.Fatalf("retry answered %+v; %d clients", out[0], len(cs))
			}
			want := map[string]string{"companyName": "Lost Answer Co", "salesPhone": "+1 512 555 0100", "city": "Austin"}
			if tc.method == "updateClient" {
				want["city"] = "Waco"
			}
			for k, v := range want {
				if cs[0].Fields[k] != v {
					t.Errorf("%s = %q, want %q", k, cs[0].Fields[k], v)
				}
			}
			st := sim.Stats().ByMethod
			if st[tc.method] != tc.writes {
				t.Errorf("%d %s requests, want %d", st[tc.method], tc.method, tc.writes)
			}
			if tc.method == "createClient" && st["updateClient"] != 0 {
				t.Errorf("the created client was written again: %d updateClient requests", st["updateClient"])
			}
		})
	}
}
