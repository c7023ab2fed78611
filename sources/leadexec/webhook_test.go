package leadexec

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
)

type fixture struct {
	srv   *httptest.Server
	rcv   *Receiver
	bus   *natsbus.Bus
	cons  pipeline.Consumer
	state *checkpoints.Store
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	state := testenv.State(t)
	bus := testenv.Bus(t)
	cons, err := bus.Consumer(ctx, "test", pipeline.Subject("lead", "leadexec"))
	if err != nil {
		t.Fatal(err)
	}
	rcv := NewReceiver(cfg, bus, state, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, rcv: rcv, bus: bus, cons: cons, state: state}
}

// published drains every event now on the stream.
func (f *fixture) published(t *testing.T) []pipeline.Event {
	t.Helper()
	return testenv.Drain(t, f.cons, 150*time.Millisecond)
}

type delivery struct {
	method, contentType, query, body string
	user, pass, bearer               string
}

func (f *fixture) send(t *testing.T, d delivery) (int, string) {
	t.Helper()
	if d.method == "" {
		d.method = http.MethodPost
	}
	u := f.srv.URL + "/webhooks/leadexec"
	if d.query != "" {
		u += "?" + d.query
	}
	req, _ := http.NewRequest(d.method, u, strings.NewReader(d.body))
	if d.contentType != "" {
		req.Header.Set("Content-Type", d.contentType)
	}
	if d.user != "" {
		req.SetBasicAuth(d.user, d.pass)
	}
	if d.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+d.bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var auth = Config{BasicUser: "le", BasicPassword: "pw", BearerToken: "tok"}

func TestAcceptsEveryDeliveryFormat(t *testing.T) {
	f := newFixture(t, auth)
	form := url.Values{"LeadUID": {"101"}, "Email": {"a@example.com"}, "FirstName": {"Ann"}}.Encode()
	cases := []struct {
		name string
		d    delivery
		id   string
	}{
		{"form", delivery{contentType: "application/x-www-form-urlencoded", body: form}, "101"},
		{"json", delivery{contentType: "application/json; charset=utf-8", body: `{"LeadUID":102,"Email":"b@example.com","FirstName":"Bo"}`}, "102"},
		{"query POST", delivery{query: "LeadUID=103&Email=c%40example.com&FirstName=Cy"}, "103"},
		{"query GET", delivery{method: http.MethodGet, query: "LeadUID=104&Email=d%40example.com"}, "104"},
		{"xml", delivery{contentType: "application/xml", body: `<Lead><LeadUID>105</LeadUID><Email>e@example.com</Email><FirstName>Ed &amp; Co</FirstName></Lead>`}, "105"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.user, tc.d.pass = "le", "pw"
			code, body := f.send(t, tc.d)
			if code != 200 || body != `{"status":"success"}` {
				t.Fatalf("answer = %d %q", code, body)
			}
			evs := f.published(t)
			if len(evs) != 1 || evs[0].ExternalID != tc.id || evs[0].Fields["Email"] == "" {
				t.Fatalf("published %+v", evs)
			}
			if _, ok := evs[0].Fields["LeadUID"]; ok {
				t.Error("the id field is carried as a lead field")
			}
		})
	}
	if got := f.rcv.Stats.Accepted.Load(); got != int64(len(cases)) {
		t.Fatalf("accepted = %d", got)
	}
}

func TestBearerAuth(t *testing.T) {
	f := newFixture(t, auth)
	code, _ := f.send(t, delivery{query: "LeadUID=1&Email=a@example.com", bearer: "tok"})
	if code != 200 {
		t.Fatalf("bearer delivery answered %d", code)
	}
}

func TestHostileAndBadDeliveriesPublishNothing(t *testing.T) {
	f := newFixture(t, Config{BasicUser: "le", BasicPassword: "pw", MaxBody: 4096})
	good := "LeadUID=1&Email=a%40example.com"
	cases := []struct {
		name   string
		d      delivery
		status int
		reason string
	}{
		{"no auth", delivery{query: good}, 401, "auth"},
		{"wrong password", delivery{query: good, user: "le", pass: "nope"}, 401, "auth"},
		{"wrong user", delivery{query: good, user: "x", pass: "pw"}, 401, "auth"},
		{"bearer when basic is configured", delivery{query: good, bearer: "pw"}, 401, "auth"},
		{"oversize", delivery{contentType: "application/x-www-form-urlencoded", body: good + "&Notes=" + strings.Repeat("x", 5000), user: "le", pass: "pw"}, 413, "too_large"},
		{"malformed json", delivery{contentType: "application/json", body: `{"LeadUID":1,`, user: "le", pass: "pw"}, 400, "malformed"},
		{"nested json", delivery{contentType: "application/json", body: `{"LeadUID":1,"Email":"a@example.com","x":{"y":1}}`, user: "le", pass: "pw"}, 400, "malformed"},
		{"duplicate json key", delivery{contentType: "application/json", body: `{"LeadUID":1,"Email":"a@example.com","Email":"b@example.com"}`, user: "le", pass: "pw"}, 400, "malformed"},
		{"trailing json", delivery{contentType: "application/json", body: `{"LeadUID":1,"Email":"a@example.com"} {}`, user: "le", pass: "pw"}, 400, "malformed"},
		{"json array", delivery{contentType: "application/json", body: `[1]`, user: "le", pass: "pw"}, 400, "malformed"},
		{"bad xml", delivery{contentType: "text/xml", body: `<Lead><Email>`, user: "le", pass: "pw"}, 400, "malformed"},
		{"unknown media type", delivery{contentType: "application/pdf", body: "%PDF", user: "le", pass: "pw"}, 415, "media_type"},
		{"missing email", delivery{query: "LeadUID=1&FirstName=Ann", user: "le", pass: "pw"}, 422, "invalid_email"},
		{"bad email", delivery{query: "LeadUID=1&Email=not-an-email", user: "le", pass: "pw"}, 422, "invalid_email"},
		{"missing id", delivery{query: "Email=a%40example.com", user: "le", pass: "pw"}, 422, "missing_id"},
		{"empty", delivery{user: "le", pass: "pw"}, 400, "malformed"},
		{"wrong method", delivery{method: http.MethodPut, query: good, user: "le", pass: "pw"}, 405, "method"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.rcv.Stats.Rejected()[tc.reason]
			code, body := f.send(t, tc.d)
			if code != tc.status {
				t.Fatalf("status = %d (%s), want %d", code, body, tc.status)
			}
			if strings.Contains(body, `"status":"success"`) {
				t.Fatalf("rejection contains the success text: %s", body)
			}
			if !strings.Contains(body, `"error"`) {
				t.Fatalf("rejection has no message: %s", body)
			}
			if got := f.rcv.Stats.Rejected()[tc.reason]; got != before+1 {
				t.Fatalf("rejections for %s = %d, want %d", tc.reason, got, before+1)
			}
		})
	}
	if evs := f.published(t); len(evs) != 0 {
		t.Fatalf("bad deliveries published %d events", len(evs))
	}
}

func TestRetriedDeliveryPublishesNothingNew(t *testing.T) {
	f := newFixture(t, auth)
	body := url.Values{"LeadUID": {"7"}, "Email": {"a@example.com"}, "City": {"Austin"}}.Encode()
	d := delivery{contentType: "application/x-www-form-urlencoded", body: body, user: "le", pass: "pw"}
	for i := 0; i < 3; i++ {
		if code, _ := f.send(t, d); code != 200 {
			t.Fatalf("attempt %d answered %d", i, code)
		}
	}
	if evs := f.published(t); len(evs) != 1 {
		t.Fatalf("three identical deliveries published %d events", len(evs))
	}
	if got := f.rcv.Stats.Duplicates.Load(); got != 2 {
		t.Fatalf("duplicates = %d, want 2", got)
	}
	// The same lead with changed content is an update.
	d.body = url.Values{"LeadUID": {"7"}, "Email": {"a@example.com"}, "City": {"Dallas"}}.Encode()
	f.send(t, d)
	evs := f.published(t)
	if len(evs) != 1 || evs[0].Fields["City"] != "Dallas" {
		t.Fatalf("changed delivery published %+v", evs)
	}
	// Changing back to the first content is a change too, even within the
	// bus's duplicate window.
	d.body = url.Values{"LeadUID": {"7"}, "Email": {"a@example.com"}, "City": {"Austin"}}.Encode()
	f.send(t, d)
	evs = f.published(t)
	if len(evs) != 1 || evs[0].Fields["City"] != "Austin" {
		t.Fatalf("changing back published %+v", evs)
	}
}

// A receiver that is stopping, or whose bus is down, answers 503 (LeadExec
// delivers again) and records nothing.
func TestUnavailableAnswers503AndNothingRecorded(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(*fixture)
	}{
		{"stopping", func(f *fixture) { f.rcv.Stop() }},
		{"bus down", func(f *fixture) { f.bus.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, auth)
			tc.down(f)
			code, _ := f.send(t, delivery{query: "LeadUID=9&Email=a@example.com", user: "le", pass: "pw"})
			if code != 503 {
				t.Fatalf("status = %d, want 503", code)
			}
			if _, err := f.state.Delivery(context.Background(), "leadexec", "lead", "9"); err == nil {
				t.Fatal("a delivery the bus never stored was recorded as received")
			}
		})
	}
}

func TestChangedAtField(t *testing.T) {
	f := newFixture(t, Config{BasicUser: "le", BasicPassword: "pw", ChangedAtField: "DateModified"})
	// 2026-03-08 01:30 PST is before the spring-forward gap; LeadExec writes Pacific time.
	f.send(t, delivery{query: url.Values{"LeadUID": {"1"}, "Email": {"a@example.com"}, "DateModified": {"2026-07-01 10:00:00"}}.Encode(), user: "le", pass: "pw"})
	evs := f.published(t)
	if len(evs) != 1 {
		t.Fatalf("published %d", len(evs))
	}
	if want := time.Date(2026, 7, 1, 17, 0, 0, 0, time.UTC); !evs[0].ChangedAt.Equal(want) {
		t.Fatalf("changed at = %s, want %s (PDT is UTC-7)", evs[0].ChangedAt, want)
	}
	if _, ok := evs[0].Fields["DateModified"]; ok {
		t.Fatal("the change-time field is carried as a lead field")
	}
	for _, bad := range []string{"yesterday", "9999-12-31T23:00:00-05:00", "0000-01-01T00:30:00+01:00"} {
		q := url.Values{"LeadUID": {"2"}, "Email": {"b@example.com"}, "DateModified": {bad}}.Encode()
		if code, _ := f.send(t, delivery{query: q, user: "le", pass: "pw"}); code != 422 {
			t.Fatalf("date %q answered %d, want 422", bad, code)
		}
	}
	if evs := f.published(t); len(evs) != 0 {
		t.Fatalf("refused deliveries published %d events", len(evs))
	}
}
