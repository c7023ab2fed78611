package leadexec

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
)

// newRecordingReceiver returns a receiver publishing to a recorder, with
// its delivery receipts in SQLite in a temp dir.
func newRecordingReceiver(t testing.TB, cfg Config) (*Receiver, *sourcetest.Recorder) {
	t.Helper()
	state := testenv.State(t)
	rec := &sourcetest.Recorder{}
	return NewReceiver(cfg, rec, state, slog.New(slog.NewTextHandler(io.Discard, nil))), rec
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// hiddenLength hides a body's length from the HTTP client, which then
// sends it chunked, without a Content-Length.
type hiddenLength struct{ io.Reader }

const (
	okLead  = `LeadUID=1&Email=a%40example.com&FirstName=Ann`
	okJSON  = `"LeadUID":"1","Email":"a@example.com"`
	okXML   = `<LeadUID>1</LeadUID><Email>a@example.com</Email>`
	formCT  = "application/x-www-form-urlencoded"
	jsonCT  = "application/json"
	xmlCT   = "application/xml"
	goodTok = "hook-token"
)

// TestHostileDeliveries drives the real receiver over HTTP with requests a
// hostile or broken sender could make. Each is answered 4xx with a message
// saying what is wrong, counted under its reason, and publishes nothing.
func TestHostileDeliveries(t *testing.T) {
	rcv, rec := newRecordingReceiver(t, Config{BasicUser: "le", BasicPassword: "pw", BearerToken: goodTok})
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	good := basic("le", "pw")

	laughs := `<?xml version="1.0"?><!DOCTYPE Lead [<!ENTITY lol "lol">` +
		`<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
		`<Lead>` + okXML + `<Notes>&lol3;</Notes></Lead>`

	cases := []struct {
		name    string
		method  string
		ctype   string
		query   string
		body    string
		auth    string // Authorization header; default good Basic credentials
		chunked bool
		status  int
		reason  string
		msg     string // part of the error message
	}{
		// Authentication.
		{name: "no auth", body: okLead, ctype: formCT, auth: "-", status: 401, reason: "auth", msg: "credentials"},
		{name: "wrong basic password", body: okLead, ctype: formCT, auth: basic("le", "nope"), status: 401, reason: "auth"},
		{name: "wrong basic user", body: okLead, ctype: formCT, auth: basic("x", "pw"), status: 401, reason: "auth"},
		{name: "basic password prefix", body: okLead, ctype: formCT, auth: basic("le", "p"), status: 401, reason: "auth"},
		{name: "wrong bearer", body: okLead, ctype: formCT, auth: "Bearer nope", status: 401, reason: "auth"},
		{name: "empty bearer", body: okLead, ctype: formCT, auth: "Bearer ", status: 401, reason: "auth"},
		{name: "bearer token as basic password", body: okLead, ctype: formCT, auth: basic("le", goodTok), status: 401, reason: "auth"},
		{name: "garbage basic", body: okLead, ctype: formCT, auth: "Basic !!!not-base64", status: 401, reason: "auth"},
		{name: "unknown scheme", body: okLead, ctype: formCT, auth: "Digest username=le", status: 401, reason: "auth"},

		// Size.
		{name: "body over 1 MiB", ctype: formCT, body: okLead + "&Notes=" + strings.Repeat("x", DefaultMaxBody), status: 413, reason: "too_large", msg: "body over"},
		{name: "chunked body over 1 MiB", ctype: formCT, chunked: true, body: okLead + "&Notes=" + strings.Repeat("x", DefaultMaxBody), status: 413, reason: "too_large"},
		{name: "lead too large for the bus", ctype: formCT, body: okLead + "&Notes=" + strings.Repeat("%01", 300_000), status: 413, reason: "too_large", msg: "event bus"},

		// JSON.
		{name: "json deeply nested", ctype: jsonCT, body: strings.Repeat("[", 100_000), status: 400, reason: "malformed", msg: "expected an object"},
		{name: "json deeply nested value", ctype: jsonCT, body: `{` + okJSON + `,"x":` + strings.Repeat("[", 100_000), status: 400, reason: "malformed", msg: "not a single value"},
		{name: "json nested object value", ctype: jsonCT, body: `{` + okJSON + `,"x":{"y":1}}`, status: 400, reason: "malformed", msg: "not a single value"},
		{name: "json array value", ctype: jsonCT, body: `{` + okJSON + `,"x":["a"]}`, status: 400, reason: "malformed", msg: "not a single value"},
		{name: "json duplicate key", ctype: jsonCT, body: `{` + okJSON + `,"Email":"b@example.com"}`, status: 400, reason: "malformed", msg: "given twice"},
		{name: "json duplicate key by escape", ctype: jsonCT, body: `{` + okJSON + `,"Em\u0061il":"b@example.com"}`, status: 400, reason: "malformed", msg: "given twice"},
		{name: "json invalid UTF-8 value", ctype: jsonCT, body: `{` + okJSON + `,"FirstName":"An` + "\xff" + `"}`, status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "json invalid UTF-8 key", ctype: jsonCT, body: `{` + okJSON + `,"First` + "\xc3" + `":"Ann"}`, status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "json empty key", ctype: jsonCT, body: `{` + okJSON + `,"":"x"}`, status: 400, reason: "malformed", msg: "empty name"},
		{name: "json trailing garbage", ctype: jsonCT, body: `{` + okJSON + `} garbage`, status: 400, reason: "malformed"},
		{name: "json second object", ctype: jsonCT, body: `{` + okJSON + `}{}`, status: 400, reason: "malformed", msg: "after the object"},
		{name: "json truncated", ctype: jsonCT, body: `{` + okJSON + `,"x":`, status: 400, reason: "malformed"},
		{name: "json array", ctype: jsonCT, body: `[{` + okJSON + `}]`, status: 400, reason: "malformed", msg: "expected an object"},
		{name: "json string", ctype: jsonCT, body: `"LeadUID=1"`, status: 400, reason: "malformed", msg: "expected an object"},
		{name: "json number", ctype: jsonCT, body: `42`, status: 400, reason: "malformed", msg: "expected an object"},
		{name: "json null", ctype: jsonCT, body: `null`, status: 400, reason: "malformed", msg: "expected an object"},
		{name: "json empty object", ctype: jsonCT, body: `{}`, status: 400, reason: "malformed", msg: "no fields"},
		{name: "json as +json suffix, invalid", ctype: "application/vnd.leadexec+json", body: `{"a":`, status: 400, reason: "malformed"},

		// XML.
		{name: "xml entity expansion bomb", ctype: xmlCT, body: laughs, status: 400, reason: "malformed", msg: "declarations"},
		{name: "xml external entity", ctype: xmlCT, body: `<!DOCTYPE Lead [<!ENTITY x SYSTEM "file:///etc/passwd">]><Lead>` + okXML + `<Notes>&x;</Notes></Lead>`, status: 400, reason: "malformed", msg: "declarations"},
		{name: "xml doctype", ctype: xmlCT, body: `<!DOCTYPE Lead><Lead>` + okXML + `</Lead>`, status: 400, reason: "malformed", msg: "declarations"},
		{name: "xml undefined entity", ctype: xmlCT, body: `<Lead>` + okXML + `<Notes>&lol;</Notes></Lead>`, status: 400, reason: "malformed"},
		{name: "xml deeply nested", ctype: xmlCT, body: `<Lead>` + strings.Repeat("<a>", 50_000) + strings.Repeat("</a>", 50_000) + `</Lead>`, status: 400, reason: "malformed", msg: "not a single value"},
		{name: "xml nested element value", ctype: xmlCT, body: `<Lead>` + okXML + `<Notes><b>x</b></Notes></Lead>`, status: 400, reason: "malformed", msg: "not a single value"},
		{name: "xml cdata then element", ctype: xmlCT, body: `<Lead>` + okXML + `<Notes><![CDATA[x]]><b/></Notes></Lead>`, status: 400, reason: "malformed", msg: "not a single value"},
		{name: "xml duplicate element", ctype: xmlCT, body: `<Lead>` + okXML + `<Email>b@example.com</Email></Lead>`, status: 400, reason: "malformed", msg: "given twice"},
		{name: "xml invalid UTF-8 value", ctype: xmlCT, body: `<Lead>` + okXML + "<FirstName>An\xff</FirstName></Lead>", status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "xml invalid UTF-8 name", ctype: xmlCT, body: `<Lead>` + okXML + "<F\xffN>Ann</F\xffN></Lead>", status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "xml latin-1 declared", ctype: xmlCT, body: `<?xml version="1.0" encoding="ISO-8859-1"?><Lead>` + okXML + `</Lead>`, status: 400, reason: "malformed", msg: "encoding"},
		{name: "xml illegal character reference", ctype: xmlCT, body: `<Lead>` + okXML + `<Notes>&#0;</Notes></Lead>`, status: 400, reason: "malformed"},
		{name: "xml trailing garbage", ctype: xmlCT, body: `<Lead>` + okXML + `</Lead>garbage`, status: 400, reason: "malformed", msg: "outside"},
		{name: "xml second root", ctype: xmlCT, body: `<Lead>` + okXML + `</Lead><Lead><LeadUID>2</LeadUID></Lead>`, status: 400, reason: "malformed", msg: "second root"},
		{name: "xml text beside fields", ctype: xmlCT, body: `<Lead>junk` + okXML + `</Lead>`, status: 400, reason: "malformed", msg: "outside"},
		{name: "xml unclosed", ctype: xmlCT, body: `<Lead>` + okXML, status: 400, reason: "malformed"},
		{name: "xml mismatched tags", ctype: "text/xml", body: `<Lead><LeadUID>1</Email></Lead>`, status: 400, reason: "malformed"},
		{name: "xml no root", ctype: xmlCT, body: `<?xml version="1.0"?><!-- nothing -->`, status: 400, reason: "malformed", msg: "no root"},

		// Form and query string.
		{name: "form invalid UTF-8 value", ctype: formCT, body: okLead + "&LastName=%ff", status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "form invalid UTF-8 name", ctype: formCT, body: okLead + "&Last\xffName=x", status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "form bad escape", ctype: formCT, body: okLead + "&LastName=%zz", status: 400, reason: "malformed", msg: "escape"},
		{name: "form semicolon separator", ctype: formCT, body: okLead + ";LastName=x", status: 400, reason: "malformed", msg: "semicolon"},
		{name: "form duplicate field", ctype: formCT, body: okLead + "&Email=b%40example.com", status: 400, reason: "malformed", msg: "given 2 times"},
		{name: "form empty name", ctype: formCT, body: okLead + "&=x", status: 400, reason: "malformed", msg: "empty name"},
		{name: "form without content type, invalid UTF-8", body: okLead + "&LastName=%c3", status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "query invalid UTF-8", query: okLead + "&LastName=%ff", status: 400, reason: "malformed", msg: "query string"},
		{name: "query bad escape", query: okLead + "&LastName=%zz", status: 400, reason: "malformed", msg: "query string"},
		{name: "query duplicate field", query: okLead + "&LeadUID=2", status: 400, reason: "malformed", msg: "given 2 times"},
		{name: "GET query invalid UTF-8", method: http.MethodGet, query: okLead + "&LastName=%ff", status: 400, reason: "malformed", msg: "UTF-8"},
		{name: "field in query and body", query: "LeadUID=2", ctype: formCT, body: okLead, status: 400, reason: "malformed", msg: "both the query string and the body"},

		// Content type and method.
		{name: "pdf", ctype: "application/pdf", body: "%PDF-1.7", status: 415, reason: "media_type", msg: "not supported"},
		{name: "plain text", ctype: "text/plain", body: okLead, status: 415, reason: "media_type"},
		{name: "multipart", ctype: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"LeadUID\"\r\n\r\n1\r\n--x--\r\n", status: 415, reason: "media_type"},
		{name: "unreadable content type", ctype: "application/", body: `{` + okJSON + `}`, status: 415, reason: "media_type", msg: "cannot be read"},
		{name: "json with a broken parameter, invalid", ctype: "application/json; charset", body: `{` + okJSON + `,}`, status: 400, reason: "malformed"},
		{name: "content type of semicolons", ctype: ";;;", body: okLead, status: 415, reason: "media_type"},
		{name: "put", method: http.MethodPut, ctype: formCT, body: okLead, status: 405, reason: "method"},
		{name: "delete", method: http.MethodDelete, query: okLead, status: 405, reason: "method"},

		// Content.
		{name: "empty body", status: 400, reason: "malformed", msg: "no fields"},
		{name: "whitespace body", ctype: jsonCT, body: " \r\n\t ", status: 400, reason: "malformed", msg: "no fields"},
		{name: "no lead id", ctype: jsonCT, body: `{"Email":"a@example.com","FirstName":"Ann"}`, status: 422, reason: "missing_id", msg: "LeadUID"},
		{name: "blank lead id", ctype: formCT, body: "LeadUID=%20%20&Email=a%40example.com", status: 422, reason: "missing_id", msg: "LeadUID"},
		{name: "null lead id", ctype: jsonCT, body: `{"LeadUID":null,"Email":"a@example.com"}`, status: 422, reason: "missing_id"},
		{name: "no email", ctype: xmlCT, body: `<Lead><LeadUID>1</LeadUID></Lead>`, status: 422, reason: "invalid_email", msg: "Email"},
		{name: "huge bad email", ctype: formCT, body: "LeadUID=1&Email=" + strings.Repeat("x", 100_000), status: 422, reason: "invalid_email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.method == "" {
				tc.method = http.MethodPost
			}
			u := srv.URL + DefaultPath
			if tc.query != "" {
				u += "?" + tc.query
			}
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = hiddenLength{body}
			}
			req, err := http.NewRequest(tc.method, u, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			switch tc.auth {
			case "":
				req.Header.Set("Authorization", good)
			case "-":
			default:
				req.Header.Set("Authorization", tc.auth)
			}
			before, published := rcv.Stats.Rejected()[tc.reason], len(rec.Events())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, raw, tc.status)
			}
			var answer map[string]string
			if err := json.Unmarshal(raw, &answer); err != nil {
				t.Fatalf("answer is not JSON: %q", raw)
			}
			if answer["status"] != "rejected" || answer["error"] == "" || len(answer["error"]) > 600 {
				t.Fatalf("answer = %q", raw)
			}
			if !strings.Contains(answer["error"], tc.msg) {
				t.Fatalf("error %q does not say %q", answer["error"], tc.msg)
			}
			if strings.Contains(string(raw), DefaultSuccessText) {
				t.Fatalf("rejection contains the success text: %s", raw)
			}
			if got := rcv.Stats.Rejected()[tc.reason]; got != before+1 {
				t.Fatalf("rejections for %s = %d, want %d", tc.reason, got, before+1)
			}
			if evs := rec.Events(); len(evs) != published {
				t.Fatalf("published %d events", len(evs)-published)
			}
		})
	}
	if got := rcv.Stats.Accepted.Load(); got != 0 {
		t.Fatalf("accepted = %d", got)
	}

	// The same receiver takes a good delivery in every format: the rows
	// above fail for what they carry, not because nothing is accepted.
	for i, d := range []struct{ ctype, body string }{
		{formCT, okLead},
		{jsonCT, `{` + okJSON + `,"FirstName":"Zoë","Vip":true,"Score":12.5,"Fax":null}`},
		{xmlCT, `<?xml version="1.0" encoding="UTF-8"?><!-- LeadExec --><Lead>` + okXML + `<Notes><![CDATA[a <b> & c]]></Notes><Empty/></Lead>`},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+DefaultPath, strings.NewReader(d.body))
		req.Header.Set("Content-Type", d.ctype)
		req.Header.Set("Authorization", good)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(raw) != DefaultSuccessText {
			t.Fatalf("good %s delivery answered %d %s", d.ctype, resp.StatusCode, raw)
		}
		if n := len(rec.Events()); n != i+1 {
			t.Fatalf("good %s delivery: %d events published, want %d", d.ctype, n, i+1)
		}
	}
	evs := rec.Events()
	if got := evs[1].Fields; got["FirstName"] != "Zoë" || got["Vip"] != "true" || got["Score"] != "12.5" || got["Fax"] != "" {
		t.Fatalf("json fields = %q", got)
	}
	if got := evs[2].Fields; got["Notes"] != "a <b> & c" || got["Empty"] != "" {
		t.Fatalf("xml fields = %q", got)
	}
}

// TestLargestLeadFitsTheBus: a lead just under MaxEventBytes is stored by
// the real bus; a larger one is answered 413 (not 503, which LeadExec would
// retry forever) and publishes nothing.
func TestLargestLeadFitsTheBus(t *testing.T) {
	f := newFixture(t, auth)
	send := func(notes int) (int, string) {
		return f.send(t, delivery{contentType: formCT, body: okLead + "&Notes=" + strings.Repeat("x", notes), user: "le", pass: "pw"})
	}
	if code, body := send(MaxEventBytes - 1000); code != 200 {
		t.Fatalf("lead under the limit answered %d %s", code, body)
	}
	if evs := f.published(t); len(evs) != 1 {
		t.Fatalf("lead under the limit: %d events on the bus", len(evs))
	}
	if code, body := send(MaxEventBytes); code != 413 || !strings.Contains(body, "event bus") {
		t.Fatalf("lead over the limit answered %d %s", code, body)
	}
	if evs := f.published(t); len(evs) != 0 {
		t.Fatalf("lead over the limit: %d events on the bus", len(evs))
	}
}
