package sharpspring

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

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
