package sharpspring

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// TestEveryKnownAnswerHasItsClass pins the class of each answer
// SharpSpring is known to give: API-level errors in the envelope,
// per-object errors in a write result, HTTP failures over a real server,
// transport failures and answers that cannot be read.
func TestEveryKnownAnswerHasItsClass(t *testing.T) {
	envelope := func(code int, msg string) error {
		raw := `{"result":null,"error":{"code":` + strconv.Itoa(code) + `,"message":` + strconv.Quote(msg) + `,"data":[]},"id":"x"}`
		return parseResponse("getFields", []byte(raw), nil)
	}
	object := func(code int, msg string) error {
		res := map[string]json.RawMessage{"updates": json.RawMessage(
			`[{"success":false,"error":{"code":` + strconv.Itoa(code) + `,"message":` + strconv.Quote(msg) + `,"data":[]}}]`)}
		out, err := parseWriteResults("updateLeadsV2", "updates", res, 1)
		if err != nil {
			return err
		}
		return out[0].Err
	}
	httpStatus := func(status int, body string) error {
		_, err := rawServer(t, status, body).GetFields(context.Background())
		return err
	}
	cases := []struct {
		name string
		err  error
		want apierr.Class
		auth bool
	}{
		{"101 invalid method", envelope(101, "Invalid method"), apierr.Permanent, false},
		{"102 invalid parameters", envelope(102, "Invalid parameters"), apierr.Permanent, false},
		{"103 invalid account id", envelope(103, "Invalid accountID"), apierr.Auth, true},
		{"104 invalid secret key", envelope(104, "Invalid secretKey"), apierr.Auth, true},
		{"105 authentication failed", envelope(105, "User authentication failed."), apierr.Auth, true},
		{"106 daily limit", envelope(106, "Exceeded daily method call limit"), apierr.Quota, false},
		{"107 per-second limit", envelope(107, "Exceeded per second method call limit"), apierr.RateLimited, false},
		{"205 invalid parameters", envelope(205, "Invalid parameters"), apierr.Permanent, false},
		{"999 unknown error", envelope(999, "Unknown error"), apierr.Transient, false},
		{"service temporarily unavailable", envelope(0, "Service temporarily unavailable"), apierr.Transient, false},
		{"object 205", object(205, "Invalid parameters"), apierr.Permanent, false},
		{"object 301 entry exists", object(301, "Entry already exists"), apierr.Permanent, false},
		{"object 302 no changes", object(302, "No changes were made"), apierr.Permanent, false},
		{"object 404 not found", object(404, "Entry not found"), apierr.Permanent, false},
		{"object failed without an error", object(0, ""), apierr.Transient, false},
		{"over the object limit (209)", func() error {
			_, err := (&Client{}).write(context.Background(), "createLeads", "creates", make([]map[string]any, MaxObjects+1))
			return err
		}(), apierr.Permanent, false},
		{"HTTP 400", httpStatus(400, "Bad Request"), apierr.Permanent, false},
		{"HTTP 401", httpStatus(401, "Unable to determine clusterID from provided accountID/secretKey"), apierr.Auth, true},
		{"HTTP 403", httpStatus(403, "Forbidden"), apierr.Permanent, false},
		{"HTTP 404", httpStatus(404, "Not Found"), apierr.Permanent, false},
		{"HTTP 429", httpStatus(429, "slow down"), apierr.RateLimited, false},
		{"HTTP 500", httpStatus(500, "Internal Server Error"), apierr.Transient, false},
		{"HTTP 502", httpStatus(502, "<html>502 Bad Gateway</html>"), apierr.Transient, false},
		{"HTTP 503", httpStatus(503, "unavailable"), apierr.Transient, false},
		{"malformed response", parseResponse("getFields", []byte(`<html>oops</html>`), nil), apierr.Transient, false},
		{"malformed error", parseResponse("getFields", []byte(`{"result":null,"error":{"code":"x"},"id":"x"}`), nil), apierr.Transient, false},
		{"no result", parseResponse("getFields", []byte(`{"result":null,"error":null,"id":"x"}`), &struct{}{}), apierr.Transient, false},
		{"result count mismatch", func() error {
			_, err := parseWriteResults("createLeads", "creates", map[string]json.RawMessage{"creates": json.RawMessage(`[]`)}, 1)
			return err
		}(), apierr.Transient, false},
		{"transport", transportError("getFields", errors.New("connection refused")), apierr.Transient, false},
		{"transport timeout", transportError("getFields", context.DeadlineExceeded), apierr.Transient, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testenv.VendorError[*Error](t, tc.err, tc.want)
			if IsAuth(tc.err) != tc.auth {
				t.Fatalf("IsAuth %v (%v)", IsAuth(tc.err), tc.err)
			}
			// The vendor's code and message travel with the error.
			if e.Code > 0 && !strings.Contains(tc.err.Error(), "error "+strconv.Itoa(e.Code)+": "+e.Message) {
				t.Fatalf("code or message lost: %q", tc.err.Error())
			}
		})
	}
}
