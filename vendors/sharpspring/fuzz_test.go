package sharpspring

import (
	"encoding/json"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
)

// Answers shaped as SharpSpring sends them (see client_test.go and
// clients_test.go for where each shape was seen).
var seedAnswers = []string{
	`{"result":{"creates":[{"success":true,"error":null,"id":3944308738}]},"error":[],"id":"x"}`,
	`{"result":{"creates":[{"success":true,"error":null,"id":"1"},{"success":"false","error":{"code":301,"message":"Entry already exists","data":[]}}]},"error":[{"code":301,"message":"Entry already exists","data":[]}],"id":"x"}`,
	`{"result":{"updates":[{"success":false,"error":{"code":"205","message":"Invalid parameters"}},{"success":1,"id":2}]},"error":null,"id":"x"}`,
	`{"result":{"updates":[{"success":false,"error":{"code":302,"message":"No rows affected"}}]},"error":[],"id":"x"}`,
	`{"result":null,"error":{"code":107,"message":"Exceeded per second method call limit","data":[]},"id":"x"}`,
	`{"result":null,"error":{"code":0,"message":"Service temporarily unavailable"},"id":"x"}`,
	`{"result":{"lead":[{"id":"88038560770","emailAddress":"a@example.com","leadScore":"18","phoneNumber":null,"active":true,"x":{"y":[1]}},{"leadStatus":"open"}]},"error":null,"id":"x"}`,
	`{"result":{"getAllcompanyProfileManagedBys":[{"id":"311","companyName":"Acme","zipCode":null}],"hasMore":"false"},"error":[],"id":"x"}`,
	`{"result":{"field":[{"id":"1","systemName":"Favorite_Color_5a0dd86e6e290","label":"Favorite Color","isCustom":"1"}]},"error":[],"id":"x"}`,
	`{"result":{"status":true,"error":[],"userID":null,"id":77},"error":[],"id":"x"}`,
	`{"result":{"status":"1","error":null,"userID":"5","id":"78"},"error":null,"id":"x"}`,
	`{"result":[{"status":true,"id":80}],"error":[],"id":"x"}`,
	`{"result":{"status":false,"error":[{"code":215,"message":"Invalid country code"}],"id":null},"error":[],"id":"x"}`,
	`{"result":{"creates":[{"success":false,"error":{"code":221,"message":"in use"}}]},"error":[{"code":221}],"id":"x"}`,
	`<html>502 Bad Gateway</html>`,
	`{"result":{"creates":[{"success":true,"id":1e400}]}}`,
}

// checkError is the invariant of a refused answer: a *Error whose message
// is UTF-8.
func checkError(t *testing.T, err error) {
	t.Helper()
	testenv.RefusedAnswer[*Error](t, err)
}

// FuzzParseResponse reads any body as every kind of answer: it never
// panics, a malformed answer is a *Error, and an accepted one is
// consistent (as many write results as objects, every failure with its
// error, leads and created clients with an id).
func FuzzParseResponse(f *testing.F) {
	for _, s := range seedAnswers {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		var write map[string]json.RawMessage
		if err := parseResponse("createLeads", body, &write); err != nil {
			checkError(t, err)
		} else {
			for _, key := range []string{"creates", "updates"} {
				res, err := parseWriteResults("createLeads", key, write, int(n))
				if err != nil {
					checkError(t, err)
					continue
				}
				if len(res) != int(n) {
					t.Fatalf("%d results for %d objects", len(res), n)
				}
				for _, r := range res {
					if r.Success == (r.Err != nil) {
						t.Fatalf("result %+v", r)
					}
				}
			}
		}

		var leads struct {
			Lead []map[string]any `json:"lead"`
		}
		if err := parseResponse("getLeads", body, &leads); err != nil {
			checkError(t, err)
		} else {
			for _, l := range decodeLeads(leads.Lead) {
				if l.ID() == 0 {
					t.Fatalf("lead without id kept: %v", l)
				}
			}
		}

		var fields struct {
			Field []Field `json:"field"`
		}
		if err := parseResponse("getFields", body, &fields); err != nil {
			checkError(t, err)
		}

		var raw json.RawMessage
		if err := parseResponse("createClient", body, &raw); err != nil {
			checkError(t, err)
		} else if cc, err := parseCreatedClient(raw); err != nil {
			checkError(t, err)
		} else if cc.ID <= 0 {
			t.Fatalf("created client without id: %+v", cc)
		}

		var upd struct {
			Updates []writeEntry `json:"updates"`
		}
		if err := parseResponse("updateClient", body, &upd); err != nil {
			checkError(t, err)
		} else if err := updateResult("updateClient", upd.Updates); err != nil {
			checkError(t, err)
		}
	})
}

// FuzzParseTime: a timestamp is read or refused, never misread.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-03-08 10:30:00", "0000-00-00 00:00:00", "2026-02-30 25:00:00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s, nil)
		if err == nil && tm.Format(TimeLayout) != s {
			t.Fatalf("%q read as %s", s, tm)
		}
	})
}
