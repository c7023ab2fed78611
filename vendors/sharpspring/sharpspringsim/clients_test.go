package sharpspringsim

import (
	"encoding/json"
	"testing"
)

func TestGetClientsWireShape(t *testing.T) {
	for _, more := range []bool{false, true} {
		h := newHarness(t, Options{ClientsHasMoreTrue: more})
		id := h.sim.SeedClient("", map[string]string{"companyName": "Acme", "city": "Austin"})
		gone := h.sim.SeedClient("", map[string]string{"companyName": "Gone"})
		h.sim.SetClientActive(gone, false)
		h.sim.SeedClient("9999", map[string]string{"companyName": "Another agency's"})
		r := h.call("getClients", map[string]any{})
		var top bool
		if err := json.Unmarshal(r.member("hasMore"), &top); err != nil || top != more {
			t.Fatalf("top-level hasMore %s: %s", r.member("hasMore"), r.Body)
		}
		var res struct {
			List    []map[string]any `json:"getAllcompanyProfileManagedBys"`
			HasMore *bool            `json:"hasMore"`
		}
		if err := json.Unmarshal(r.member("result"), &res); err != nil || res.HasMore == nil || *res.HasMore != more {
			t.Fatalf("result %s", r.Body)
		}
		if len(res.List) != 1 || res.List[0]["id"] != jsonID(id) || res.List[0]["city"] != "Austin" || res.List[0]["state"] != nil {
			t.Fatalf("clients %v", res.List)
		}
		if keys := keyOrder(t, mustObject(t, r.member("result"), "getAllcompanyProfileManagedBys")); len(keys) != 7 || keys[0] != "id" {
			t.Fatalf("client keys %v", keys)
		}
	}
}

func TestCreateClientAnswerIsFlatAndErrorsAreAPILevel(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.call("createClient", map[string]any{"companyName": "Acme", "salesPhone": "555", "userEmail": "u@acme.example", "userPassword": "x", "userDisplayName": "U"})
	var res struct {
		Status bool            `json:"status"`
		Error  json.RawMessage `json:"error"`
		UserID json.Number     `json:"userID"`
		ID     json.Number     `json:"id"`
	}
	if err := json.Unmarshal(r.member("result"), &res); err != nil || !res.Status || string(res.Error) != "[]" || res.ID == "" || res.UserID == "" {
		t.Fatalf("%s", r.Body)
	}
	if c := h.sim.Clients()[0]; c.UserEmail != "u@acme.example" || c.Fields["userPassword"] != "" || !c.SendingEnabled {
		t.Fatalf("stored %+v", c)
	}
	for name, tc := range map[string]struct {
		params map[string]any
		code   int
	}{
		"missing phone":   {map[string]any{"companyName": "A"}, CodeMissingParameters},
		"bad country":     {map[string]any{"companyName": "A", "salesPhone": "1", "country": "XX"}, CodeInvalidCountry},
		"hour 25":         {map[string]any{"companyName": "A", "salesPhone": "1", "salesEndHour": 25}, CodeInvalidParams},
		"user incomplete": {map[string]any{"companyName": "A", "salesPhone": "1", "userPassword": "x"}, CodeUserFieldsMissing},
		"user in use":     {map[string]any{"companyName": "A", "salesPhone": "1", "userEmail": "U@acme.example", "userPassword": "x", "userDisplayName": "U"}, CodeUsernameInUse},
	} {
		if r := h.call("createClient", tc.params); r.errCode() != tc.code || string(r.member("result")) != "null" {
			t.Errorf("%s: %s", name, r.Body)
		}
	}
}

func jsonID(id int64) string {
	b, _ := json.Marshal(id)
	return string(b)
}

func mustObject(t *testing.T, raw json.RawMessage, key string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || json.Unmarshal(m[key], &list) != nil || len(list) == 0 {
		t.Fatalf("no %s in %s", key, raw)
	}
	return list[0]
}
