package sharpspringsim

import (
	"encoding/json"
	"fmt"
	"testing"
)

// checkOptionsAreStrings fails unless v is a list of objects whose values
// are all strings, as every other getFields value is.
func checkOptionsAreStrings(t *testing.T, v any) {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("options = %#v, want a list", v)
	}
	for _, item := range list {
		o, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("option %#v is not an object", item)
		}
		for k, x := range o {
			if _, ok := x.(string); !ok {
				t.Fatalf("option %s = %#v, want a string", k, x)
			}
		}
	}
}

func TestGetFieldsListsTypesAndOptions(t *testing.T) {
	h := newHarness(t, Options{})
	color := h.sim.CreateField("lead", "Color", "picklist", FieldOption{"Deep Red", "red"}, FieldOption{"Blue", "blue"})
	note := h.sim.CreateField("lead", "Note", "text")
	list := h.call("getFields", map[string]any{"where": map[string]any{"isCustom": "1"}}).objects("field")
	byName := map[string]map[string]any{}
	for _, f := range list {
		byName[f["systemName"].(string)] = f
	}
	c := byName[color]
	if c["dataType"] != "picklist" {
		t.Fatalf("picklist field %v", c)
	}
	checkOptionsAreStrings(t, c["options"])
	want := []any{
		map[string]any{"label": "Deep Red", "value": "red", "displayOrder": "0"},
		map[string]any{"label": "Blue", "value": "blue", "displayOrder": "1"},
	}
	if got, _ := json.Marshal(c["options"]); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("options %s", got)
	}
	if _, has := byName[note]["options"]; has {
		t.Errorf("text field lists options: %v", byName[note])
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCreateFieldsTakesOptions(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.call("createFields", objs(
		map[string]any{"relationship": "lead", "label": "Size", "dataType": "radio", "options": []any{"S", "M", "L"}},
		map[string]any{"relationship": "lead", "label": "Tags", "dataType": "checkbox",
			"options": []any{map[string]any{"label": "Hot lead", "value": "hot"}, map[string]any{"label": "VIP"}}},
		map[string]any{"relationship": "lead", "label": "Text", "dataType": "text", "options": []any{"a"}},
		map[string]any{"relationship": "lead", "label": "Dup", "dataType": "picklist", "options": []any{"a", "a"}},
	))
	res := r.results("creates")
	if len(res) != 4 || !res[0].Success || !res[1].Success {
		t.Fatalf("got %s", r.Body)
	}
	for i := 2; i < 4; i++ {
		if res[i].Success || res[i].Error.Code != CodeInvalidParams {
			t.Errorf("object %d: got %s, want object error 205", i, r.Body)
		}
	}
	list := h.call("getFields", map[string]any{"where": map[string]any{"label": "Tags"}}).objects("field")
	if got := must(json.Marshal(list[0]["options"])); string(got) != `[{"displayOrder":"0","label":"Hot lead","value":"hot"},{"displayOrder":"1","label":"VIP","value":"VIP"}]` {
		t.Errorf("options %s", got)
	}
}

// Every typed custom field refuses a value not of its type with object
// error 205 naming the field, on createLeads and updateLeads alike, while
// the other objects of the request are written; values of the right type
// are stored (ints canonical). IgnoreFieldTypes takes anything.
func TestCustomFieldValuesMustMatchTheirType(t *testing.T) {
	type field struct {
		dataType string
		options  []FieldOption
		good     map[any]string // sent → stored
		bad      []any
	}
	fields := []field{
		{"int", nil, map[any]string{"42": "42", "-7": "-7", "007": "7", json.Number("12"): "12", "": ""},
			[]any{"12.5", "abc", "1,000", "99999999999", true}},
		{"date", nil, map[any]string{"2026-03-10": "2026-03-10"},
			[]any{"03/10/2026", "2026-03-10 12:00:00", "2026-13-01", "yesterday", json.Number("20260310")}},
		{"datetime", nil, map[any]string{"2026-03-10 08:30:00": "2026-03-10 08:30:00"},
			[]any{"2026-03-10", "2026-03-10T08:30:00Z", "2026-03-10 25:00:00"}},
		{"boolean", nil, map[any]string{"1": "1", "0": "0", json.Number("1"): "1"}, []any{"yes", "true", true, "2"}},
		{"bit", nil, map[any]string{"1": "1", "0": "0"}, []any{"on", false}},
		{"picklist", []FieldOption{{"Deep Red", "red"}, {"Blue", "blue"}}, map[any]string{"red": "red", "blue": "blue"},
			[]any{"Deep Red", "RED", "green"}},
		{"radio", []FieldOption{{"Small", "s"}}, map[any]string{"s": "s"}, []any{"Small", "m"}},
		{"checkbox", []FieldOption{{"Hot", "hot"}, {"VIP", "vip"}}, map[any]string{"hot": "hot", "hot, vip": "hot,vip"},
			[]any{"Hot", "hot;vip", "hot,,vip", "cold"}},
		{"checkbox", nil, map[any]string{"1": "1", "0": "0"}, []any{"checked", "yes"}},
		{"text", nil, map[any]string{"anything at all": "anything at all", json.Number("5"): "5"}, []any{true}},
	}
	for _, f := range fields {
		t.Run(fmt.Sprintf("%s %d options", f.dataType, len(f.options)), func(t *testing.T) {
			h := newHarness(t, Options{})
			sys := h.sim.CreateField("lead", "F", f.dataType, f.options...)
			n := 0
			for sent, stored := range f.good {
				n++
				email := fmt.Sprintf("good%d@x.test", n)
				ids := h.mustCreate(map[string]any{"emailAddress": email, sys: sent})
				if got := h.getLead(ids[0])[sys]; got != stored {
					t.Errorf("createLeads %s = %#v stored %q, want %q", f.dataType, sent, got, stored)
				}
			}
			target := h.mustCreate(map[string]any{"emailAddress": "target@x.test"})[0]
			for _, sent := range f.bad {
				n++
				for _, method := range []string{"createLeads", "updateLeads"} {
					bad := map[string]any{"emailAddress": fmt.Sprintf("bad%d@x.test", n), sys: sent}
					okObj := map[string]any{"emailAddress": fmt.Sprintf("ok%d-%s@x.test", n, method)}
					if method == "updateLeads" {
						bad = map[string]any{"id": target, sys: sent}
						okObj = map[string]any{"id": target, "firstName": fmt.Sprintf("N%d", n)}
					}
					r := h.call(method, objs(bad, okObj))
					key := map[string]string{"createLeads": "creates", "updateLeads": "updates"}[method]
					res := r.results(key)
					if len(res) != 2 || res[0].Success || res[0].Error == nil || res[0].Error.Code != CodeInvalidParams {
						t.Errorf("%s %s = %#v: got %s, want object error 205", method, f.dataType, sent, r.Body)
						continue
					}
					var data paramsData
					_ = json.Unmarshal(res[0].Error.Data, &data)
					if len(data.Params) != 1 || data.Params[0].Param != sys || data.Params[0].ValidFormat.Type != f.dataType {
						t.Errorf("%s %s = %#v: error data %s does not name the field and its type", method, f.dataType, sent, res[0].Error.Data)
					}
					if !res[1].Success {
						t.Errorf("%s: the good object of the request failed: %s", method, r.Body)
					}
				}
			}
			if got := h.getLead(target)[sys]; got != "" {
				t.Errorf("a refused update changed the field to %q", got)
			}

			loose := newHarness(t, Options{IgnoreFieldTypes: true})
			lsys := loose.sim.CreateField("lead", "F", f.dataType, f.options...)
			for i, sent := range f.bad {
				if _, isString := sent.(string); !isString {
					continue // booleans are no string on any field
				}
				loose.mustCreate(map[string]any{"emailAddress": fmt.Sprintf("loose%d@x.test", i), lsys: sent})
			}
		})
	}
}

func TestTypedFieldTakesEmptyToClear(t *testing.T) {
	h := newHarness(t, Options{})
	var names []string
	for _, dt := range []string{"int", "date", "datetime", "boolean", "bit"} {
		names = append(names, h.sim.CreateField("lead", dt, dt))
	}
	names = append(names, h.sim.CreateField("lead", "P", "picklist", FieldOption{"A", "a"}))
	set := map[string]any{"emailAddress": "c@x.test"}
	for i, n := range names {
		set[n] = []string{"5", "2026-01-02", "2026-01-02 03:04:05", "1", "0", "a"}[i]
	}
	id := h.mustCreate(set)[0]
	clear := map[string]any{"id": id}
	for _, n := range names {
		clear[n] = ""
	}
	r := h.call("updateLeads", objs(clear))
	if res := r.results("updates"); len(res) != 1 || !res[0].Success {
		t.Fatalf("clearing typed fields: %s", r.Body)
	}
	l := h.getLead(id)
	for _, n := range names {
		if l[n] != "" {
			t.Errorf("%s = %q after clearing", n, l[n])
		}
	}
	if r := h.call("updateLeads", objs(map[string]any{"id": id, names[0]: nil})); r.results("updates")[0].Success {
		t.Errorf("null on a custom field was taken: %s", r.Body)
	}
}
