package sharpspringsim

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var systemNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+_[0-9a-f]{13}$`)

func TestGetFields(t *testing.T) {
	h := newHarness(t, Options{})
	custom := h.sim.CreateField("lead", "Favorite Color", "text")
	acct := h.sim.CreateField("account", "Tier", "picklist")
	tests := []struct {
		name    string
		where   any
		limit   any
		include []string // systemNames that must be listed
		exclude []string
		count   int // exact count when > 0
		err     bool
	}{
		{"all", map[string]any{}, nil, []string{"firstName", "crmID", custom, acct, "accountName"}, []string{"active", "accountID"}, 0, false},
		{"empty array where", []any{}, nil, []string{custom}, nil, 0, false},
		{"custom only", map[string]any{"isCustom": "1"}, nil, []string{custom, acct}, []string{"firstName"}, 2, false},
		{"custom as number", map[string]any{"isCustom": 1}, nil, []string{custom}, nil, 2, false},
		{"lead customs", map[string]any{"isCustom": "1", "relationship": "lead"}, nil, []string{custom}, nil, 1, false},
		{"by systemName", map[string]any{"systemName": custom}, nil, []string{custom}, nil, 1, false},
		{"by label", map[string]any{"label": "Tier"}, nil, []string{acct}, nil, 1, false},
		{"limit", map[string]any{}, 3, nil, nil, 3, false},
		{"missing where", nil, nil, nil, nil, 0, true},
		{"unknown where key", map[string]any{"dataType": "text"}, nil, nil, nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]any{}
			if tc.where != nil {
				params["where"] = tc.where
			}
			if tc.limit != nil {
				params["limit"] = tc.limit
			}
			r := h.call("getFields", params)
			if tc.err {
				if r.errCode() != 205 {
					t.Fatalf("got %s", r.Body)
				}
				return
			}
			list := r.objects("field")
			var names []string
			for _, f := range list {
				for k, v := range f {
					if k == "options" {
						checkOptionsAreStrings(t, v)
						continue
					}
					if _, ok := v.(string); !ok {
						t.Fatalf("%s.%s = %#v, want a string", f["systemName"], k, v)
					}
				}
				names = append(names, f["systemName"].(string))
			}
			for _, n := range tc.include {
				if !slices.Contains(names, n) {
					t.Errorf("missing %s", n)
				}
			}
			for _, n := range tc.exclude {
				if slices.Contains(names, n) && tc.where != nil {
					// accountID and active are lead fields getFields does not list,
					// but accountID is a standard opportunity field.
					for _, f := range list {
						if f["systemName"] == n && f["relationship"] == "lead" {
							t.Errorf("lists lead field %s", n)
						}
					}
				}
			}
			if tc.count > 0 && len(list) != tc.count {
				t.Errorf("got %d fields, want %d", len(list), tc.count)
			}
		})
	}
}

func TestGetFieldsShape(t *testing.T) {
	h := newHarness(t, Options{})
	name := h.sim.CreateField("lead", "API Big Text Area", "textarea")
	r := h.call("getFields", map[string]any{"where": map[string]any{"systemName": name}})
	var res struct {
		Field []json.RawMessage `json:"field"`
	}
	_ = json.Unmarshal(r.member("result"), &res)
	if len(res.Field) != 1 {
		t.Fatalf("got %s", r.Body)
	}
	want := []string{"id", "relationship", "systemName", "label", "source", "dataType", "dataLength", "isRequired",
		"isCustom", "isAvailableInContactManager", "isEditableInContactManager", "isAvailableInForms", "isActive"}
	if got := keyOrder(t, res.Field[0]); !slices.Equal(got, want) {
		t.Errorf("keys %v", got)
	}
	f := r.objects("field")[0]
	if f["isCustom"] != "1" || f["dataLength"] != "10000" || f["source"] != "sharpspring" || f["relationship"] != "lead" {
		t.Errorf("field %v", f)
	}
	std := h.call("getFields", map[string]any{"where": map[string]any{"systemName": "firstName"}}).objects("field")
	if len(std) != 1 || std[0]["isCustom"] != "0" {
		t.Errorf("standard field %v", std)
	}
}

func TestCreateFields(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		object     map[string]any
		wantPrefix string // systemName prefix; "" when an error is expected
	}{
		{"keeps case", Options{}, map[string]any{"relationship": "lead", "label": "Favorite Color", "dataType": "text"}, "Favorite_Color_"},
		{"punctuation", Options{}, map[string]any{"relationship": "lead", "label": "Appointment Status (1)", "dataType": "text"}, "Appointment_Status__1__"},
		{"lowercase toggle", Options{LowercaseSystemNames: true}, map[string]any{"relationship": "lead", "label": "API Big", "dataType": "textarea"}, "api_big_"},
		{"full sample payload", Options{}, map[string]any{"relationship": "lead", "label": "x", "dataType": "bit", "source": "sharpspring",
			"dataLength": "1", "isRequired": "0", "isCustom": "1", "isAvailableInContactManager": 1, "isEditableInContactManager": 1, "isAvailableInForms": 0}, "x_"},
		{"missing label", Options{}, map[string]any{"relationship": "lead", "dataType": "text"}, ""},
		{"bad relationship", Options{}, map[string]any{"relationship": "contact", "label": "x", "dataType": "text"}, ""},
		{"bad dataType", Options{}, map[string]any{"relationship": "lead", "label": "x", "dataType": "varchar"}, ""},
		{"bad source", Options{}, map[string]any{"relationship": "lead", "label": "x", "dataType": "text", "source": "api"}, ""},
		{"unknown key", Options{}, map[string]any{"relationship": "lead", "label": "x", "dataType": "text", "colour": "red"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			r := h.call("createFields", objs(tc.object))
			res := r.results("creates")[0]
			if tc.wantPrefix == "" {
				if res.Success || res.Error.Code != 205 {
					t.Fatalf("got %s", r.Body)
				}
				return
			}
			if !res.Success {
				t.Fatalf("got %s", r.Body)
			}
			var id int64
			if err := json.Unmarshal(res.ID, &id); err != nil {
				t.Fatalf("id %s is not a number", res.ID)
			}
			f := h.call("getFields", map[string]any{"where": map[string]any{"id": id}}).objects("field")
			if len(f) != 1 {
				t.Fatalf("field %d not listed", id)
			}
			name := f[0]["systemName"].(string)
			if !systemNameRE.MatchString(name) || !strings.HasPrefix(name, tc.wantPrefix) {
				t.Errorf("systemName %q, want prefix %q matching %s", name, tc.wantPrefix, systemNameRE)
			}
		})
	}
}

func TestSystemNameUniqid(t *testing.T) {
	h := newHarness(t, Options{})
	// 0x57f6638a seconds and 0xdc5b8 µs: the suffix of the vendor's sample
	// "api_big_text_area_57f6638adc5b8".
	h.clock.Set(time.Unix(0x57f6638a, 0xdc5b8*1000))
	a := h.sim.CreateField("lead", "Same", "text")
	b := h.sim.CreateField("lead", "Same", "text") // frozen clock: still unique
	if a != "Same_57f6638adc5b8" {
		t.Errorf("first = %s", a)
	}
	if b == a || !systemNameRE.MatchString(b) {
		t.Errorf("second = %s", b)
	}
}

func TestNewCustomFieldOnExistingLeads(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.mustCreate(map[string]any{"emailAddress": "old@x.test"})[0]
	r := h.call("createFields", objs(map[string]any{"relationship": "lead", "label": "Late", "dataType": "text"}))
	if !r.results("creates")[0].Success {
		t.Fatal(string(r.Body))
	}
	var name string
	for _, f := range h.call("getFields", map[string]any{"where": map[string]any{"label": "Late"}}).objects("field") {
		name = f["systemName"].(string)
	}
	l := h.getLead(id)
	if v, ok := l[name]; !ok || v != "" {
		t.Fatalf("%s = %#v (present %v), want \"\"", name, v, ok)
	}
	if snap, _ := h.sim.LeadByEmail("old@x.test"); snap.Fields[name] == nil || *snap.Fields[name] != "" {
		t.Errorf("snapshot %v", snap.Fields[name])
	}
}

func TestDeleteFields(t *testing.T) {
	h := newHarness(t, Options{})
	name := h.sim.CreateField("lead", "Temp", "text")
	id := h.mustCreate(map[string]any{"emailAddress": "t@x.test", name: "v"})[0]
	r := h.call("deleteFields", objs(
		map[string]any{"systemName": "firstName"},
		map[string]any{"systemName": name},
		map[string]any{"systemName": "missing_0123456789abc"},
		map[string]any{"id": 1},
	))
	res := r.results("deletes")
	codes := make([]int, len(res))
	for i, x := range res {
		if !x.Success {
			codes[i] = x.Error.Code
		}
	}
	if !slices.Equal(codes, []int{211, 0, 404, 205}) {
		t.Fatalf("codes %v: %s", codes, r.Body)
	}
	if _, still := h.getLead(id)[name]; still {
		t.Error("deleted field still on leads")
	}
	if r := h.call("updateLeads", objs(map[string]any{"id": id, name: "x"})); r.results("updates")[0].Error.Code != 205 {
		t.Errorf("write to deleted field: %s", r.Body)
	}
}
