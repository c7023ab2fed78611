package sharpspringsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCreateLeadsWireShape(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.call("createLeads", objs(map[string]any{"emailAddress": "a@x.test", "firstName": "Ann", "id": 5}))
	want := `{"result":{"creates":[{"success":true,"error":null,"id":88038560770}]},"error":[],"id":"req-1"}`
	if string(r.Body) != want {
		t.Fatalf("body\n got %s\nwant %s", r.Body, want)
	}
	if st := h.sim.Stats(); st.ObjectsWritten != 1 || st.ByMethod["createLeads"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCreateLeadsDuplicates(t *testing.T) {
	h := newHarness(t, Options{})
	h.mustCreate(map[string]any{"emailAddress": "Dup@X.test"})
	h.sim.SeedLead(map[string]string{"emailAddress": "gone@x.test"}, SeedInactive())

	r := h.call("createLeads", objs(
		map[string]any{"emailAddress": "new@x.test"},
		map[string]any{"emailAddress": "dup@x.TEST"},       // case-insensitive
		map[string]any{"emailAddress": "GONE@x.test"},      // inactive still counts
		map[string]any{"emailAddress": "new@x.test"},       // duplicate within the batch
		map[string]any{"firstName": "no email"},            // missing email
		map[string]any{"emailAddress": "b@x.test", "x": 1}, // unknown key
	))
	res := r.results("creates")
	wantCodes := []int{0, 301, 301, 301, 205, 205}
	var failedCodes []int
	for i, want := range wantCodes {
		got := 0
		if !res[i].Success {
			got = res[i].Error.Code
			failedCodes = append(failedCodes, got)
		}
		if got != want {
			t.Errorf("object %d: code %d, want %d", i, got, want)
		}
	}
	if res[1].Error.Message != "Entry already exists" || string(res[1].Error.Data) != "[]" {
		t.Errorf("301 entry = %+v", res[1].Error)
	}
	if len(res[1].ID) != 0 {
		t.Errorf("failed create carries an id: %s", res[1].ID)
	}
	// Top level: an array of copies of each failed object's error.
	var top []wireError
	if err := json.Unmarshal(r.member("error"), &top); err != nil {
		t.Fatalf("top-level error %s: %v", r.member("error"), err)
	}
	var topCodes []int
	for _, e := range top {
		topCodes = append(topCodes, e.Code)
	}
	if !slices.Equal(topCodes, failedCodes) {
		t.Errorf("top-level codes %v, want %v", topCodes, failedCodes)
	}
	if n := len(h.sim.Leads()); n != 3 {
		t.Errorf("stored leads = %d, want 3", n)
	}
	if st := h.sim.Stats(); st.ErrorsByCode[301] != 3 || st.ErrorsByCode[205] != 2 {
		t.Errorf("ErrorsByCode = %v", st.ErrorsByCode)
	}
}

func TestCreateLeadsOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantTop   string
		wantCode  int
		wantParam bool
	}{
		{"defaults", Options{}, `[{"code":205,`, 205, true},
		{"missing email code", Options{MissingEmailCode: 206}, `[{"code":206,`, 206, true},
		{"other code", Options{MissingEmailCode: 999}, `[{"code":999,`, 999, false},
		{"partial error null", Options{PartialErrorNull: true}, `null`, 205, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			r := h.call("createLeads", objs(map[string]any{"emailAddress": ""}))
			if !strings.HasPrefix(string(r.member("error")), tc.wantTop) {
				t.Errorf("top error = %s, want prefix %s", r.member("error"), tc.wantTop)
			}
			e := r.results("creates")[0].Error
			if e.Code != tc.wantCode {
				t.Errorf("code = %d, want %d", e.Code, tc.wantCode)
			}
			if got := strings.Contains(string(e.Data), `"param":"emailAddress"`); got != tc.wantParam {
				t.Errorf("data = %s", e.Data)
			}
		})
	}
}

func TestReadScalarsAreStrings(t *testing.T) {
	h := newHarness(t, Options{})
	color := h.sim.CreateField("lead", "Favorite Color", "text")
	id := h.mustCreate(map[string]any{
		"emailAddress": "s@x.test", "leadScore": 18, "ownerID": "313361052", "isUnsubscribed": 0, "accountID": 7,
	})[0]
	for _, method := range []string{"getLead", "getLeads", "getLeadsDateRange"} {
		t.Run(method, func(t *testing.T) {
			params := map[string]any{
				"getLead":           map[string]any{"id": strconv.FormatInt(id, 10)},
				"getLeads":          map[string]any{"where": map[string]any{}},
				"getLeadsDateRange": map[string]any{"startDate": "2026-03-10 00:00:00", "endDate": "2026-03-11 00:00:00", "timestamp": "update"},
			}[method]
			r := h.call(method, params)
			if string(r.member("error")) != "null" {
				t.Fatalf("error = %s", r.member("error"))
			}
			list := r.objects("lead")
			if len(list) != 1 {
				t.Fatalf("got %d leads: %s", len(list), r.Body)
			}
			l := list[0]
			for k, v := range l {
				if _, isString := v.(string); !isString && v != nil {
					t.Errorf("%s = %#v (%T), want a string or null", k, v, v)
				}
			}
			wantStrings := map[string]string{
				"id": strconv.FormatInt(id, 10), "leadScore": "18", "ownerID": "313361052", "accountID": "7",
				"isUnsubscribed": "0", "active": "1", "leadStatus": "unqualified", color: "",
				"updateTimestamp": "2026-03-10 12:00:00",
			}
			for k, want := range wantStrings {
				if l[k] != want {
					t.Errorf("%s = %#v, want %q", k, l[k], want)
				}
			}
			for _, k := range []string{"firstName", "companyName", "description", "campaignID"} {
				if v, present := l[k]; !present || v != nil {
					t.Errorf("%s = %#v (present %v), want null", k, v, present)
				}
			}
			_, hasWeighted := l["leadScoreWeighted"]
			if hasWeighted != (method != "getLeadsDateRange") {
				t.Errorf("leadScoreWeighted present = %v", hasWeighted)
			}
		})
	}
}

func TestLeadFieldOrder(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.sim.CreateField("lead", "A", "text")
	b := h.sim.CreateField("lead", "B", "text")
	h.sim.CreateField("account", "Not on leads", "text")
	id := h.mustCreate(map[string]any{"emailAddress": "o@x.test"})[0]
	r := h.call("getLead", map[string]any{"id": id})
	var res struct {
		Lead []json.RawMessage `json:"lead"`
	}
	if err := json.Unmarshal(r.member("result"), &res); err != nil || len(res.Lead) != 1 {
		t.Fatalf("result %s", r.member("result"))
	}
	want := []string{"id", "accountID", "ownerID", "companyName", "title", "firstName", "lastName", "street", "city",
		"country", "state", "zipcode", "emailAddress", "website", "phoneNumber", "officePhoneNumber",
		"phoneNumberExtension", "mobilePhoneNumber", "faxNumber", "description", "campaignID", "leadScore",
		"industry", "active", "isUnsubscribed", "updateTimestamp", "leadScoreWeighted", "leadStatus",
		"persona", "trackingID", a, b}
	if got := keyOrder(t, res.Lead[0]); !slices.Equal(got, want) {
		t.Errorf("key order\n got %v\nwant %v", got, want)
	}
}

func TestUpdateLeadsMatrix(t *testing.T) {
	type check struct {
		email, firstName string
		bumped           bool
	}
	tests := []struct {
		name     string
		v2       bool
		object   func(a, b int64) map[string]any
		wantCode int // 0 = success
		checkA   check
	}{
		{"by id", false, func(a, b int64) map[string]any { return map[string]any{"id": a, "firstName": "New"} },
			0, check{"a@x.test", "New", true}},
		{"by id as string", false, func(a, b int64) map[string]any {
			return map[string]any{"id": strconv.FormatInt(a, 10), "firstName": "New"}
		}, 0, check{"a@x.test", "New", true}},
		{"by id changes email", false, func(a, b int64) map[string]any { return map[string]any{"id": a, "emailAddress": "a2@x.test"} },
			0, check{"a2@x.test", "Old", true}},
		{"by email", false, func(a, b int64) map[string]any { return map[string]any{"emailAddress": "A@X.test", "firstName": "New"} },
			0, check{"A@X.test", "New", true}},
		{"email collision touches only timestamp", false, func(a, b int64) map[string]any {
			return map[string]any{"id": a, "emailAddress": "B@x.test", "firstName": "New"}
		}, 0, check{"a@x.test", "Old", true}},
		{"unknown id silent", false, func(a, b int64) map[string]any { return map[string]any{"id": 1, "firstName": "New"} },
			0, check{"a@x.test", "Old", false}},
		{"unknown email silent", false, func(a, b int64) map[string]any {
			return map[string]any{"emailAddress": "zz@x.test", "firstName": "New"}
		}, 0, check{"a@x.test", "Old", false}},
		{"neither silent", false, func(a, b int64) map[string]any { return map[string]any{"firstName": "New"} },
			0, check{"a@x.test", "Old", false}},
		{"no change 302", false, func(a, b int64) map[string]any { return map[string]any{"id": a, "firstName": "Old"} },
			302, check{"a@x.test", "Old", false}},
		{"only id 302", false, func(a, b int64) map[string]any { return map[string]any{"id": a} },
			302, check{"a@x.test", "Old", false}},
		{"v2 by id", true, func(a, b int64) map[string]any { return map[string]any{"id": a, "firstName": "New"} },
			0, check{"a@x.test", "New", true}},
		{"v2 unknown id 404", true, func(a, b int64) map[string]any { return map[string]any{"id": 1, "firstName": "New"} },
			404, check{"a@x.test", "Old", false}},
		{"v2 unknown email 404", true, func(a, b int64) map[string]any {
			return map[string]any{"emailAddress": "zz@x.test", "firstName": "New"}
		}, 404, check{"a@x.test", "Old", false}},
		{"v2 neither 404", true, func(a, b int64) map[string]any { return map[string]any{"firstName": "New"} },
			404, check{"a@x.test", "Old", false}},
		{"v2 collision still success", true, func(a, b int64) map[string]any {
			return map[string]any{"id": a, "emailAddress": "b@x.test", "firstName": "New"}
		}, 0, check{"a@x.test", "Old", true}},
		{"v2 no change 302", true, func(a, b int64) map[string]any { return map[string]any{"emailAddress": "a@x.test", "firstName": "Old"} },
			302, check{"a@x.test", "Old", false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			ids := h.mustCreate(
				map[string]any{"emailAddress": "a@x.test", "firstName": "Old"},
				map[string]any{"emailAddress": "b@x.test", "firstName": "Bee"},
			)
			a, b := ids[0], ids[1]
			h.clock.Add(time.Minute)
			method := "updateLeads"
			if tc.v2 {
				method = "updateLeadsV2"
			}
			r := h.call(method, objs(tc.object(a, b)))
			res := r.results("updates")
			if len(res) != 1 {
				t.Fatalf("results: %s", r.Body)
			}
			got := 0
			if !res[0].Success {
				got = res[0].Error.Code
			}
			if got != tc.wantCode {
				t.Fatalf("code = %d, want %d (%s)", got, tc.wantCode, r.Body)
			}
			wantTop := "[]"
			if tc.wantCode != 0 {
				wantTop = fmt.Sprintf(`[{"code":%d,"message":%q,"data":[]}]`, tc.wantCode, messageFor(tc.wantCode))
			}
			if string(r.member("error")) != wantTop {
				t.Errorf("top-level error = %s, want %s", r.member("error"), wantTop)
			}
			l := h.getLead(a)
			if l["emailAddress"] != tc.checkA.email || l["firstName"] != tc.checkA.firstName {
				t.Errorf("lead a = %v / %v, want %v", l["emailAddress"], l["firstName"], tc.checkA)
			}
			wantTS := "2026-03-10 12:00:00"
			if tc.checkA.bumped {
				wantTS = "2026-03-10 12:01:00"
			}
			if l["updateTimestamp"] != wantTS {
				t.Errorf("updateTimestamp = %v, want %s", l["updateTimestamp"], wantTS)
			}
			if lb := h.getLead(b); lb["firstName"] != "Bee" || lb["emailAddress"] != "b@x.test" || lb["updateTimestamp"] != "2026-03-10 12:00:00" {
				t.Errorf("lead b changed: %v", lb)
			}
			if n := len(h.sim.Leads()); n != 2 {
				t.Errorf("updates created leads: %d", n)
			}
		})
	}
}

func TestUpdateEmailChangeMovesIdentity(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.mustCreate(map[string]any{"emailAddress": "a@x.test"})[0]
	h.call("updateLeads", objs(map[string]any{"id": a, "emailAddress": "moved@x.test"}))
	if _, ok := h.sim.LeadByEmail("a@x.test"); ok {
		t.Error("old email still indexed")
	}
	// The old email is free again.
	h.mustCreate(map[string]any{"emailAddress": "a@x.test"})
	if l, ok := h.sim.LeadByEmail("MOVED@x.test"); !ok || l.ID != a {
		t.Errorf("LeadByEmail(moved) = %v %v", l.ID, ok)
	}
}

func TestUpdateValueRules(t *testing.T) {
	tests := []struct {
		name     string
		field    string
		value    any
		wantCode int // 0 = success, else object error code
		want     any // stored value read back (string or nil) when successful
	}{
		{"null on string", "firstName", nil, 205, nil},
		{"empty clears string", "firstName", "", 0, ""},
		{"number on string", "phoneNumber", 5551234, 0, "5551234"},
		{"bool on string", "firstName", true, 205, nil},
		{"null on accountID", "accountID", nil, 302, nil}, // already null
		{"empty on accountID", "accountID", "", 205, nil},
		{"empty on ownerID", "ownerID", "", 205, nil},
		{"empty on campaignID", "campaignID", "", 205, nil},
		{"empty on isUnsubscribed", "isUnsubscribed", "", 205, nil},
		{"empty on active", "active", "", 205, nil},
		{"null on active", "active", nil, 0, nil},
		{"ownerID number", "ownerID", 42, 0, "42"},
		{"ownerID string with zeros", "ownerID", "0042", 0, "42"},
		{"ownerID not a number", "ownerID", "abc", 205, nil},
		{"isUnsubscribed 1", "isUnsubscribed", 1, 0, "1"},
		{"isUnsubscribed string 1", "isUnsubscribed", "1", 0, "1"},
		{"isUnsubscribed 2", "isUnsubscribed", 2, 205, nil},
		{"isUnsubscribed true rejected", "isUnsubscribed", true, 205, nil},
		{"leadScore", "leadScore", "25", 0, "25"},
		{"leadScore empty", "leadScore", "", 205, nil},
		{"leadScore null", "leadScore", nil, 205, nil},
		{"leadStatus open", "leadStatus", "open", 0, "open"},
		{"leadStatus contact", "leadStatus", "contact", 0, "contact"},
		{"leadStatus bogus", "leadStatus", "customer", 205, nil},
		{"leadStatus contactWithOpp ignored", "leadStatus", "contactWithOpp", 302, nil},
		{"leadStatus null", "leadStatus", nil, 205, nil},
		{"updateTimestamp rejected", "updateTimestamp", "2020-01-01 00:00:00", 205, nil},
		{"crmID rejected", "crmID", "x", 205, nil},
		{"emailAddress cannot be cleared", "emailAddress", "", 205, nil},
		{"emailAddress null", "emailAddress", nil, 205, nil},
		{"custom null", "CUSTOM", nil, 205, nil},
		{"custom value", "CUSTOM", "blue", 0, "blue"},
		{"custom empty is no change", "CUSTOM", "", 302, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			custom := h.sim.CreateField("lead", "Color", "text")
			field := tc.field
			if field == "CUSTOM" {
				field = custom
			}
			id := h.mustCreate(map[string]any{"emailAddress": "v@x.test", "firstName": "F"})[0]
			r := h.call("updateLeads", objs(map[string]any{"id": id, field: tc.value}))
			res := r.results("updates")[0]
			got := 0
			if !res.Success {
				got = res.Error.Code
			}
			if got != tc.wantCode {
				t.Fatalf("code = %d, want %d (%s)", got, tc.wantCode, r.Body)
			}
			if got == 205 {
				if !strings.Contains(string(res.Error.Data), `"params":[`) {
					t.Errorf("205 without data.params: %s", res.Error.Data)
				}
				if l := h.getLead(id); l["firstName"] != "F" {
					t.Errorf("rejected update applied: %v", l)
				}
				return
			}
			if got == 0 {
				if l := h.getLead(id); l[field] != tc.want {
					t.Errorf("%s = %#v, want %#v", field, l[field], tc.want)
				}
			}
		})
	}
}

func TestUpdateNullThenEmptyIsAChange(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.mustCreate(map[string]any{"emailAddress": "n@x.test"})[0]
	// firstName starts as null; "" is a different value, so no 302.
	if r := h.call("updateLeads", objs(map[string]any{"id": id, "firstName": ""})); !r.results("updates")[0].Success {
		t.Fatalf("\"\" over null: %s", r.Body)
	}
	if r := h.call("updateLeads", objs(map[string]any{"id": id, "firstName": ""})); r.results("updates")[0].Error.Code != 302 {
		t.Fatalf("second \"\": %s", r.Body)
	}
}

func TestUnknownFieldValidation(t *testing.T) {
	h := newHarness(t, Options{})
	custom := h.sim.CreateField("lead", "Known", "text")
	id := h.mustCreate(map[string]any{"emailAddress": "u@x.test"})[0]
	r := h.call("updateLeads", objs(map[string]any{"id": id, "firstname": "wrong case", custom: "ok"}))
	e := r.results("updates")[0].Error
	if e == nil || e.Code != 205 || e.Message != "Invalid parameters" {
		t.Fatalf("result %s", r.Body)
	}
	var data paramsData
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatalf("data %s: %v", e.Data, err)
	}
	var names []string
	for _, p := range data.Params {
		names = append(names, p.Param)
	}
	for _, want := range []string{"firstName", "accountID", "active", "emailAddress"} {
		if !slices.Contains(names, want) {
			t.Errorf("data.params lacks %s: %v", want, names)
		}
	}
	for _, absent := range []string{custom, "crmID"} {
		if slices.Contains(names, absent) {
			t.Errorf("data.params lists %s", absent)
		}
	}
	if l := h.getLead(id); l[custom] != "" {
		t.Errorf("rejected object partly applied: %v", l[custom])
	}
	var notes []string
	for _, l := range h.sim.RequestLog() {
		if l.Method == "updateLeads" {
			notes = l.Notes
		}
	}
	if !strings.Contains(strings.Join(notes, " "), "firstname") {
		t.Errorf("RequestLog notes do not name the key: %v", notes)
	}

	t.Run("IgnoreUnknownFields", func(t *testing.T) {
		h := newHarness(t, Options{IgnoreUnknownFields: true})
		id := h.mustCreate(map[string]any{"emailAddress": "u@x.test", "bogus": 1, "updateTimestamp": "x"})[0]
		r := h.call("updateLeads", objs(map[string]any{"id": id, "bogus": 1, "firstName": "Yes"}))
		if !r.results("updates")[0].Success || h.getLead(id)["firstName"] != "Yes" {
			t.Fatalf("got %s", r.Body)
		}
	})
}

func TestLessThanNormalization(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		sent    string
		stored  string
		resend  string
		wantRes int // code of re-sending resend
	}{
		{"encoded inside", Options{}, "a<b", "a&lt;b", "a<b", 302},
		{"last char kept", Options{}, "a<", "a<", "a<", 302},
		{"raw toggle", Options{RawLessThan: true}, "a<b", "a<b", "a<b", 302},
		{"encoded form resent", Options{}, "a<b", "a&lt;b", "a&lt;b", 302},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			id := h.mustCreate(map[string]any{"emailAddress": "lt@x.test", "description": tc.sent})[0]
			if got := h.getLead(id)["description"]; got != tc.stored {
				t.Fatalf("stored %q, want %q", got, tc.stored)
			}
			r := h.call("updateLeads", objs(map[string]any{"id": id, "description": tc.resend}))
			if e := r.results("updates")[0].Error; e == nil || e.Code != tc.wantRes {
				t.Errorf("resend: %s", r.Body)
			}
		})
	}
}

func TestSeedUIEntered(t *testing.T) {
	h := newHarness(t, Options{})
	custom := h.sim.CreateField("lead", "Note", "text")
	id := h.sim.SeedLead(map[string]string{
		"emailAddress": "ui@x.test", "companyName": `Smith & "Sons" O'Neil`, custom: `it's "x"`,
	}, SeedUIEntered())
	l := h.getLead(id)
	if got := l["companyName"]; got != "Smith &amp; &quot;Sons&quot; O&#039;Neil" {
		t.Errorf("companyName = %q", got)
	}
	if got := l[custom]; got != "it&#39;s &#34;x&#34;" {
		t.Errorf("custom = %q", got)
	}
	// Writing the decoded value is a real change (the stored form differs).
	r := h.call("updateLeads", objs(map[string]any{"id": id, "companyName": `Smith & "Sons" O'Neil`}))
	if !r.results("updates")[0].Success {
		t.Errorf("update with decoded value: %s", r.Body)
	}
}

func TestContactWithOppIsSticky(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.sim.SeedLead(map[string]string{"emailAddress": "c@x.test", "leadStatus": "contactWithOpp"})
	r := h.call("updateLeads", objs(map[string]any{"id": id, "leadStatus": "contact"}))
	if e := r.results("updates")[0].Error; e == nil || e.Code != 302 {
		t.Fatalf("got %s", r.Body)
	}
	if got := h.getLead(id)["leadStatus"]; got != "contactWithOpp" {
		t.Errorf("leadStatus = %v", got)
	}
}

func TestDeleteLeads(t *testing.T) {
	h := newHarness(t, Options{})
	ids := h.mustCreate(map[string]any{"emailAddress": "d1@x.test"}, map[string]any{"emailAddress": "d2@x.test"})
	r := h.call("deleteLeads", objs(
		map[string]any{"id": ids[0]},
		map[string]any{"id": 1},
		map[string]any{"emailAddress": "d2@x.test"},
	))
	res := r.results("deletes")
	if !res[0].Success || res[1].Error.Code != 404 || res[2].Error.Code != 205 {
		t.Fatalf("results %s", r.Body)
	}
	if h.getLead(ids[0]) != nil {
		t.Error("deleted lead still readable")
	}
	// No tombstone: the email can be created again.
	h.mustCreate(map[string]any{"emailAddress": "d1@x.test"})
}

func TestGetLead(t *testing.T) {
	h := newHarness(t, Options{})
	inactive := h.sim.SeedLead(map[string]string{"emailAddress": "i@x.test"}, SeedInactive())
	tests := []struct {
		name   string
		params map[string]any
		want   string // raw result, or "" when a 205 is expected
	}{
		{"unknown id", map[string]any{"id": 123}, `{"lead":[]}`},
		{"inactive returned", map[string]any{"id": strconv.FormatInt(inactive, 10)}, "inactive"},
		{"missing id", map[string]any{}, ""},
		{"bad id", map[string]any{"id": "abc"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("getLead", tc.params)
			switch tc.want {
			case "":
				if r.errCode() != 205 || !strings.Contains(string(r.member("error")), `"param":"id"`) {
					t.Errorf("got %s", r.Body)
				}
			case "inactive":
				if l := r.objects("lead"); len(l) != 1 || l[0]["active"] != "0" {
					t.Errorf("got %s", r.Body)
				}
			default:
				if string(r.member("result")) != tc.want || string(r.member("error")) != "null" {
					t.Errorf("got %s", r.Body)
				}
			}
		})
	}
	t.Run("phantom", func(t *testing.T) {
		h := newHarness(t, Options{PhantomGetLead: true})
		c := h.sim.CreateField("lead", "C", "text")
		r := h.call("getLead", map[string]any{"id": 1})
		want := fmt.Sprintf(`{"lead":[{"leadStatus":"open",%q:""}]}`, c)
		if string(r.member("result")) != want {
			t.Errorf("got %s, want %s", r.member("result"), want)
		}
	})
}

func TestGetLeadsWhere(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.mustCreate(map[string]any{"emailAddress": "a@x.test"})[0]
	b := h.mustCreate(map[string]any{"emailAddress": "B@x.test"})[0]
	c := h.sim.SeedLead(map[string]string{"emailAddress": "c@x.test"}, SeedInactive())
	s := func(id int64) string { return strconv.FormatInt(id, 10) }
	tests := []struct {
		name  string
		where any
		want  []string // ids; nil with wantErr
		err   bool
	}{
		{"empty object: active only", map[string]any{}, []string{s(a), s(b)}, false},
		{"empty array: active only", []any{}, []string{s(a), s(b)}, false},
		{"id scalar", map[string]any{"id": b}, []string{s(b)}, false},
		{"id scalar string", map[string]any{"id": s(b)}, []string{s(b)}, false},
		{"inactive by id", map[string]any{"id": c}, []string{s(c)}, false},
		{"inactive by email", map[string]any{"emailAddress": "C@X.TEST"}, []string{s(c)}, false},
		{"email case-insensitive", map[string]any{"emailAddress": "b@X.test"}, []string{s(b)}, false},
		{"id list", map[string]any{"id": []any{c, a, 1}}, []string{s(a), s(c)}, false},
		{"email list", map[string]any{"emailAddress": []any{"A@x.test", "c@x.test"}}, []string{s(a), s(c)}, false},
		{"list beats scalar", map[string]any{"id": a, "emailAddress": []any{"b@x.test"}}, []string{s(b)}, false},
		{"id list beats email list", map[string]any{"id": []any{a}, "emailAddress": []any{"b@x.test"}}, []string{s(a)}, false},
		{"two scalars must both match", map[string]any{"id": a, "emailAddress": "b@x.test"}, nil, false},
		{"empty list matches nothing", map[string]any{"id": []any{}}, nil, false},
		{"unknown where key", map[string]any{"phoneNumber": "1"}, nil, true},
		{"where string", "", nil, true},
		{"bad id", map[string]any{"id": "x"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("getLeads", map[string]any{"where": tc.where})
			if tc.err {
				if r.errCode() != 205 {
					t.Fatalf("got %s, want 205", r.Body)
				}
				return
			}
			if got := ids(r.objects("lead")); !slices.Equal(got, tc.want) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGetLeadsPaging(t *testing.T) {
	h := newHarness(t, Options{})
	var all []string
	for i := range 510 {
		all = append(all, strconv.FormatInt(h.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("p%d@x.test", i)}), 10))
	}
	tests := []struct {
		name   string
		params map[string]any
		want   []string
		err    bool
	}{
		{"default limit 500", map[string]any{"where": map[string]any{}}, all[:500], false},
		{"limit capped at 500", map[string]any{"where": map[string]any{}, "limit": 1000}, all[:500], false},
		{"offset", map[string]any{"where": map[string]any{}, "limit": "5", "offset": "505"}, all[505:], false},
		{"offset past end", map[string]any{"where": map[string]any{}, "offset": 600}, nil, false},
		{"limit and offset", map[string]any{"where": map[string]any{}, "limit": 2, "offset": 3}, all[3:5], false},
		{"negative offset", map[string]any{"where": map[string]any{}, "offset": -1}, nil, true},
		{"zero limit", map[string]any{"where": map[string]any{}, "limit": 0}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("getLeads", tc.params)
			if tc.err {
				if r.errCode() != 205 {
					t.Fatalf("got %s", r.Body)
				}
				return
			}
			if got := ids(r.objects("lead")); !slices.Equal(got, tc.want) {
				t.Errorf("got %d ids %v…, want %d", len(got), got[:min(len(got), 3)], len(tc.want))
			}
		})
	}
}

func TestGetLeadsFields(t *testing.T) {
	h := newHarness(t, Options{})
	custom := h.sim.CreateField("lead", "Size", "text")
	h.mustCreate(map[string]any{"emailAddress": "f@x.test", custom: "L"})
	r := h.call("getLeads", map[string]any{"where": map[string]any{}, "fields": []string{custom, "emailAddress", "id"}})
	var res struct {
		Lead []json.RawMessage `json:"lead"`
	}
	_ = json.Unmarshal(r.member("result"), &res)
	if len(res.Lead) != 1 {
		t.Fatalf("got %s", r.Body)
	}
	if got, want := keyOrder(t, res.Lead[0]), []string{"id", "emailAddress", custom}; !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	if r := h.call("getLeads", map[string]any{"where": map[string]any{}, "fields": []string{"nope_0123456789abc"}}); r.errCode() != 205 {
		t.Errorf("unknown field name: %s", r.Body)
	}
}

func TestGetLeadsRandomOrder(t *testing.T) {
	h := newHarness(t, Options{RandomOrder: true})
	var want []string
	for i := range 20 {
		want = append(want, strconv.FormatInt(h.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("r%d@x.test", i)}), 10))
	}
	got := ids(h.call("getLeads", map[string]any{"where": map[string]any{}}).objects("lead"))
	if slices.Equal(got, want) {
		t.Fatal("RandomOrder returned id order")
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("RandomOrder lost leads: %v", got)
	}
}

func TestGetLeadsDateRange(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	h := newHarness(t, Options{CompanyTimeZone: ny})
	at := func(s string) time.Time {
		tm, _ := time.Parse(timeLayout, s)
		return tm
	}
	early := h.sim.SeedLead(map[string]string{"emailAddress": "e@x.test"}, SeedTimestamps(at("2026-03-01 00:00:00"), at("2026-03-10 10:00:00")))
	late := h.sim.SeedLead(map[string]string{"emailAddress": "l@x.test"}, SeedTimestamps(at("2026-03-10 10:00:00"), at("2026-03-10 10:30:00")))
	h.sim.SeedLead(map[string]string{"emailAddress": "gone@x.test"}, SeedInactive(), SeedTimestamps(at("2026-03-10 10:00:00"), at("2026-03-10 10:00:00")))
	s := func(id int64) string { return strconv.FormatInt(id, 10) }

	tests := []struct {
		name            string
		version         string
		start, end, ts  string
		want            []string
		wantFirstUpdate string
	}{
		{"v1.2 inclusive bounds", VersionV12, "2026-03-10 10:00:00", "2026-03-10 10:30:00", "update", []string{s(early), s(late)}, "2026-03-10 10:00:00"},
		{"v1.2 end exclusive of later", VersionV12, "2026-03-10 10:00:01", "2026-03-10 10:30:00", "update", []string{s(late)}, "2026-03-10 10:30:00"},
		{"v1.2 create", VersionV12, "2026-03-10 10:00:00", "2026-03-10 10:00:00", "create", []string{s(late)}, "2026-03-10 10:30:00"},
		{"v1 reads company zone (EDT)", VersionV1, "2026-03-10 06:00:00", "2026-03-10 06:00:00", "update", []string{s(early)}, "2026-03-10 06:00:00"},
		{"v1 UTC input misses", VersionV1, "2026-03-10 10:00:00", "2026-03-10 10:30:00", "update", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.callV(tc.version, "getLeadsDateRange", map[string]any{"startDate": tc.start, "endDate": tc.end, "timestamp": tc.ts})
			list := r.objects("lead")
			if got := ids(list); !slices.Equal(got, tc.want) {
				t.Fatalf("ids %v, want %v (%s)", got, tc.want, r.Body)
			}
			if len(list) > 0 && list[0]["updateTimestamp"] != tc.wantFirstUpdate {
				t.Errorf("updateTimestamp = %v, want %s", list[0]["updateTimestamp"], tc.wantFirstUpdate)
			}
		})
	}

	t.Run("v1 getLead serializes company zone", func(t *testing.T) {
		l := h.callV(VersionV1, "getLead", map[string]any{"id": early}).objects("lead")[0]
		if l["updateTimestamp"] != "2026-03-10 06:00:00" {
			t.Errorf("updateTimestamp = %v", l["updateTimestamp"])
		}
	})

	errTests := []struct {
		name      string
		params    map[string]any
		params205 []string
	}{
		{"all missing", map[string]any{}, []string{"startDate", "endDate", "timestamp"}},
		{"bad timestamp", map[string]any{"startDate": "2026-03-10 00:00:00", "endDate": "2026-03-10 00:00:00", "timestamp": "modify"}, []string{"timestamp"}},
		{"bad date format", map[string]any{"startDate": "2026-03-10T00:00:00Z", "endDate": "2026-03-10 00:00:00", "timestamp": "update"}, []string{"startDate"}},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("getLeadsDateRange", tc.params)
			var e struct {
				Code int        `json:"code"`
				Data paramsData `json:"data"`
			}
			_ = json.Unmarshal(r.member("error"), &e)
			var got []string
			for _, p := range e.Data.Params {
				got = append(got, p.Param)
			}
			if e.Code != 205 || !slices.Equal(got, tc.params205) {
				t.Errorf("got %s", r.Body)
			}
		})
	}
}

func TestGetLeadsDateRangeLimit(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 520 {
		h.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("d%d@x.test", i)})
	}
	base := map[string]any{"startDate": "2026-03-10 00:00:00", "endDate": "2026-03-10 23:59:59", "timestamp": "update"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		params map[string]any
		want   int
	}{
		{"default 500", base, 500},
		{"limit 500 allowed", with("limit", 500), 500},
		{"offset", with("limit", 500, "offset", 510), 10},
		{"fields", with("limit", 1, "fields", []string{"id"}), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(h.call("getLeadsDateRange", tc.params).objects("lead")); got != tc.want {
				t.Errorf("got %d leads, want %d", got, tc.want)
			}
		})
	}
	// The documented 500 objects per request: a larger limit is refused
	// by default, as a string too.
	for _, limit := range []any{501, "5000"} {
		if r := h.call("getLeadsDateRange", with("limit", limit)); r.errCode() != CodeTooManyObjects {
			t.Errorf("limit %v: got %s, want API error 209", limit, r.Body)
		}
	}
	honoured := newHarness(t, Options{DateRangeMaxLimit: -1})
	for i := range 520 {
		honoured.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("d%d@x.test", i)})
	}
	if got := len(honoured.call("getLeadsDateRange", with("limit", 5000)).objects("lead")); got != 520 {
		t.Errorf("DateRangeMaxLimit -1: a limit of 5000 gave %d leads, want all 520", got)
	}
	capped := newHarness(t, Options{DateRangeMaxLimit: 500})
	for i := range 520 {
		capped.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("d%d@x.test", i)})
	}
	if got := len(capped.call("getLeadsDateRange", with("limit", 5000)).objects("lead")); got != 500 {
		t.Errorf("DateRangeMaxLimit 500: a limit of 5000 gave %d leads, want 500 (silently capped)", got)
	}
	if r := capped.call("getLeadsDateRange", with("limit", 5000, "offset", 510)); len(r.objects("lead")) != 10 {
		t.Errorf("DateRangeMaxLimit 500: offset 510 gave %d leads, want 10", len(r.objects("lead")))
	}
}
