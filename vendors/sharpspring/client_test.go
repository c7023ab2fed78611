package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

const secret = "s3cret-key-never-shown"

func rawServer(t *testing.T, status int, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Expect") != "" {
			t.Errorf("client sent Expect: %s", r.Header.Get("Expect"))
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1", SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWriteResultShapes(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		check func(t *testing.T, res []ObjectResult, err error)
	}{
		{"success with error []", `{"result":{"creates":[{"success":true,"error":null,"id":3944308738}]},"error":[],"id":"x"}`,
			func(t *testing.T, res []ObjectResult, err error) {
				if err != nil || !res[0].Success || res[0].ID != 3944308738 {
					t.Fatalf("%+v %v", res, err)
				}
			}},
		{"partial failure with error array", `{"result":{"creates":[{"success":true,"error":null,"id":"1"},{"success":"false","error":{"code":301,"message":"Entry already exists","data":[]}}]},"error":[{"code":301,"message":"Entry already exists","data":[]}],"id":"x"}`,
			func(t *testing.T, res []ObjectResult, err error) {
				if err != nil || !res[0].Success || res[0].ID != 1 || res[1].Success || res[1].Err.Code != 301 {
					t.Fatalf("%+v %v", res, err)
				}
			}},
		{"partial failure with error null", `{"result":{"creates":[{"success":false,"error":{"code":"205","message":"Invalid parameters"}},{"success":1,"id":2}]},"error":null,"id":"x"}`,
			func(t *testing.T, res []ObjectResult, err error) {
				if err != nil || res[0].Err.Code != 205 || !res[1].Success {
					t.Fatalf("%+v %v", res, err)
				}
			}},
		{"API-level error", `{"result":null,"error":{"code":107,"message":"Exceeded per second method call limit","data":[]},"id":"x"}`,
			func(t *testing.T, res []ObjectResult, err error) {
				if apierr.Classify(err) != apierr.RateLimited {
					t.Fatalf("%v classified %v", err, apierr.Classify(err))
				}
			}},
		{"result count mismatch", `{"result":{"creates":[]},"error":[],"id":"x"}`,
			func(t *testing.T, res []ObjectResult, err error) {
				if err == nil || apierr.Classify(err) != apierr.Transient {
					t.Fatalf("err = %v", err)
				}
			}},
		{"not JSON", `<html>oops</html>`,
			func(t *testing.T, res []ObjectResult, err error) {
				if err == nil || apierr.Classify(err) != apierr.Transient {
					t.Fatalf("err = %v", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawServer(t, 200, tc.body)
			objs := []map[string]any{{"emailAddress": "a@example.com"}}
			if strings.Contains(tc.name, "partial") {
				objs = append(objs, map[string]any{"emailAddress": "b@example.com"})
			}
			res, err := c.CreateLeads(context.Background(), objs)
			tc.check(t, res, err)
		})
	}
}

func TestHTTPFailuresAreClassifiedAndNeverCarryTheSecret(t *testing.T) {
	cases := []struct {
		status int
		body   string
		class  apierr.Class
		auth   bool
	}{
		{401, "Unable to determine clusterID from provided accountID/secretKey", apierr.Auth, true},
		{502, "<html>502 Bad Gateway</html>", apierr.Transient, false},
		{503, "unavailable", apierr.Transient, false},
		{429, "slow down", apierr.RateLimited, false},
		{200, `{"result":null,"error":{"code":105,"message":"User authentication failed.","data":[]},"id":"x"}`, apierr.Auth, true},
		{200, `{"result":null,"error":{"code":106,"message":"Exceeded daily method call limit","data":[]},"id":"x"}`, apierr.Quota, false},
		{200, `{"result":null,"error":{"code":999,"message":"Unknown error","data":[]},"id":"x"}`, apierr.Transient, false},
		{500, "error at https://api/?accountID=1&secretKey=" + secret, apierr.Transient, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status, tc.class), func(t *testing.T) {
			_, err := rawServer(t, tc.status, tc.body).GetFields(context.Background())
			if err == nil || apierr.Classify(err) != tc.class || IsAuth(err) != tc.auth {
				t.Fatalf("err = %v, class %v, auth %v", err, apierr.Classify(err), IsAuth(err))
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("secret in error: %v", err)
			}
		})
	}
}

func TestNoExpectHeaderOnLongRequests(t *testing.T) {
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": secret}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, _ := New(Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1", SecretKey: secret})
	objs := []map[string]any{{"emailAddress": "long@example.com", "description": strings.Repeat("x", 5000)}}
	res, err := c.CreateLeads(context.Background(), objs)
	if err != nil || !res[0].Success {
		t.Fatalf("a long request failed (Expect: 100-continue → 502?): %v", err)
	}
	if st := sim.Stats(); st.HTTPErrors[502] != 0 {
		t.Fatalf("502s: %v", st.HTTPErrors)
	}
}

func TestGetLeadsReadsStringsAndSkipsPhantoms(t *testing.T) {
	c := rawServer(t, 200, `{"result":{"lead":[{"id":"88038560770","emailAddress":"a@example.com","leadScore":"18","phoneNumber":null},{"leadStatus":"open"}]},"error":null,"id":"x"}`)
	ls, err := c.GetLeads(context.Background(), GetLeadsQuery{Emails: []string{"a@example.com"}})
	if err != nil || len(ls) != 1 || ls[0].ID() != 88038560770 || ls[0]["leadScore"] != "18" {
		t.Fatalf("%v %v", ls, err)
	}
	if _, ok := ls[0]["phoneNumber"]; ok {
		t.Fatal("null read as a value")
	}
}

func TestGateErrorStopsTheRequest(t *testing.T) {
	boom := errors.New("quota spent")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("request sent past the gate") }))
	defer srv.Close()
	c, _ := New(Config{Endpoint: srv.URL + "/", AccountID: "1", SecretKey: "k", Gate: gateFunc(func(context.Context) error { return boom })})
	if _, err := c.GetFields(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

type gateFunc func(context.Context) error

func (f gateFunc) Wait(ctx context.Context) error { return f(ctx) }

func TestLeadObjectNullsOnlyNullableFields(t *testing.T) {
	o := LeadObject(5, map[string]string{"firstName": "", "ownerID": "", "campaignID": "7"})
	if o["firstName"] != "" || o["ownerID"] != nil || o["campaignID"] != "7" || o["id"] != "5" {
		t.Fatalf("%#v", o)
	}
	if _, ok := o["ownerID"]; !ok {
		t.Fatal("an explicit clear was dropped")
	}
}
