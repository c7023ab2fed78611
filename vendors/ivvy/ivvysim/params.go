package ivvysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

type params = map[string]json.RawMessage

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// intParam reads an integer sent as a number or a numeric string. Absent,
// null and "" are "not sent".
func intParam(p params, key, path string) (int64, bool, *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, invalid(path+key, "must be an integer")
	}
	return n, true, nil
}

// strParam reads a string (numbers are taken as their text). null is "".
func strParam(p params, key, path string) (*string, *apiError) {
	raw, ok := p[key]
	if !ok {
		return nil, nil
	}
	if isNull(raw) {
		v := ""
		return &v, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		v := n.String()
		return &v, nil
	}
	return nil, invalid(path+key, "must be a string")
}

func boolParam(p params, key string) bool {
	raw, ok := p[key]
	if !ok {
		return false
	}
	switch strings.Trim(string(bytes.TrimSpace(raw)), `"`) {
	case "true", "1":
		return true
	}
	return false
}

func objParam(p params, key, path string) (params, bool, *apiError) {
	raw, ok := p[key]
	if !ok || isNull(raw) {
		return nil, false, nil
	}
	var o params
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, false, invalid(path+key, "must be an object")
	}
	return o, true, nil
}

// customFieldsParam reads [{fieldId, <valueKey>}]; the other key
// (fieldValue vs value) is refused, since leads and contacts differ.
func customFieldsParam(p params, valueKey, path string) (map[int64]string, *apiError) {
	raw, ok := p["customFields"]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var items []params
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid(path+"customFields", "must be an array of objects")
	}
	wrong := map[string]string{"fieldValue": "value", "value": "fieldValue"}[valueKey]
	out := map[int64]string{}
	for i, it := range items {
		id, ok, e := intParam(it, "fieldId", fmt.Sprintf("%scustomFields[%d].", path, i))
		if e != nil {
			return nil, e
		}
		if !ok || id <= 0 {
			return nil, invalid(path+"customFields", fmt.Sprintf("item %d has no fieldId", i))
		}
		if _, has := it[valueKey]; !has {
			if _, other := it[wrong]; other {
				return nil, invalid(path+"customFields", fmt.Sprintf("item %d: use %q, not %q", i, valueKey, wrong))
			}
			return nil, invalid(path+"customFields", fmt.Sprintf("item %d has no %s", i, valueKey))
		}
		v, e := strParam(it, valueKey, path+"customFields.")
		if e != nil {
			return nil, e
		}
		out[id] = *v
	}
	return out, nil
}

// page is the paging and filter part of a list call.
type page struct {
	start, perPage int
	filter         params
}

func (s *Server) pageParams(p params) (page, *apiError) {
	pg := page{perPage: s.cfg.defaultPerPage}
	if n, ok, e := intParam(p, "perPage", ""); e != nil {
		return pg, e
	} else if ok {
		if n < 1 {
			return pg, invalid("perPage", "must be at least 1")
		}
		pg.perPage = int(n)
	}
	pg.perPage = min(pg.perPage, s.cfg.perPageCap) // silently clamped (spec §2.4)
	if n, ok, e := intParam(p, "start", ""); e != nil {
		return pg, e
	} else if ok {
		if n < 0 {
			return pg, invalid("start", "must not be negative")
		}
		pg.start = int(n)
	}
	f, _, e := objParam(p, "filter", "")
	pg.filter = f
	return pg, e
}

// collection answers one page of items with meta.
func collection(items []map[string]any, pg page) map[string]any {
	total := len(items)
	from := min(pg.start, total)
	to := min(from+pg.perPage, total)
	return pageOf(items[from:to], total, pg)
}

// lazyCollection is collection for items rendered on demand: only the
// page's items are rendered, so paging through a long filtered list stays
// linear.
func lazyCollection(items []func() map[string]any, pg page) map[string]any {
	total := len(items)
	from := min(pg.start, total)
	to := min(from+pg.perPage, total)
	res := make([]map[string]any, 0, to-from)
	for _, render := range items[from:to] {
		res = append(res, render())
	}
	return pageOf(res, total, pg)
}

// matching answers the page at pg of the records of ids (in records) that
// pass exact, the checks of the exact values that chose ids, and match
// conds. field answers a condition key from the record itself (known
// false: the key is read from the record's rendering instead). A record is
// rendered once, and only when a condition needs it or it is on the page:
// rendering every record for every filtered call made large lists
// quadratic.
func matching[T any](ids []int64, records map[int64]*T, exact func(*T) bool, render func(*T) map[string]any,
	field func(rec *T, key string) (v string, present, known bool), conds []condition, pg page) map[string]any {
	var items []func() map[string]any
	for _, id := range ids {
		rec := records[id]
		if rec == nil || !exact(rec) {
			continue
		}
		item := sync.OnceValue(func() map[string]any { return render(rec) })
		ok := matches(conds, func(key string) (string, bool) {
			if v, present, known := field(rec, key); known {
				return v, present
			}
			return scalar(item()[key])
		})
		if ok {
			items = append(items, item)
		}
	}
	return lazyCollection(items, pg)
}

// pageOf answers res, the page at pg of a list of total items.
func pageOf(res []map[string]any, total int, pg page) map[string]any {
	if res == nil {
		res = []map[string]any{}
	}
	return map[string]any{
		"meta":    map[string]any{"totalResults": total, "start": pg.start, "perPage": pg.perPage, "count": len(res)},
		"results": res,
	}
}

// condition is one filter entry: key, modifier and value.
type condition struct {
	key, mod string
	value    string
	isNull   bool
}

var modifiers = map[string]bool{"": true, "CONTAINS": true, "NOTCONTAINS": true, "BEGINS": true, "ENDS": true,
	"LESSTHAN": true, "GREATERTHAN": true, "NOT": true, "EMPTY": true}

// conditions parses a filter object. keys maps accepted filter keys to
// themselves; others are ignored (assumed: iVvy ignores unknown filters).
func conditions(f params, accept func(key string) bool) ([]condition, *apiError) {
	var out []condition
	for k, raw := range f {
		key, mod, _ := strings.Cut(k, "__")
		if !modifiers[mod] {
			return nil, invalid("filter", fmt.Sprintf("unknown modifier %q", mod))
		}
		if !accept(key) {
			continue
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			var n json.Number
			var b bool
			switch {
			case json.Unmarshal(raw, &n) == nil:
				v = n.String()
			case json.Unmarshal(raw, &b) == nil:
				v = strconv.FormatBool(b)
			default:
				return nil, invalid("filter", fmt.Sprintf("%s must be a scalar", k))
			}
		}
		out = append(out, condition{key: key, mod: mod, value: v, isNull: v == "__ISNULL__"})
	}
	return out, nil
}

// matches applies every condition to an item's scalar values.
func matches(conds []condition, value func(key string) (string, bool)) bool {
	for _, c := range conds {
		v, present := value(c.key)
		if !c.eval(v, present) {
			return false
		}
	}
	return true
}

func (c condition) eval(v string, present bool) bool {
	empty := !present || v == ""
	lv, lc := strings.ToLower(v), strings.ToLower(c.value)
	switch c.mod {
	case "":
		if c.isNull {
			return empty
		}
		return present && lv == lc
	case "NOT":
		if c.isNull {
			return !empty
		}
		return !present || lv != lc
	case "EMPTY":
		want := c.value == "true" || c.value == "1"
		return empty == want
	case "CONTAINS":
		return strings.Contains(lv, lc)
	case "NOTCONTAINS":
		return !strings.Contains(lv, lc)
	case "BEGINS":
		return strings.HasPrefix(lv, lc)
	case "ENDS":
		return strings.HasSuffix(lv, lc)
	case "LESSTHAN": // ≤ (spec §2.4)
		return present && compare(v, c.value) <= 0
	case "GREATERTHAN": // ≥
		return present && compare(v, c.value) >= 0
	}
	return false
}

// compare orders numbers numerically and everything else (timestamps
// included, without their " UTC") as text.
func compare(a, b string) int {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.TrimSuffix(a, " UTC"), strings.TrimSuffix(b, " UTC"))
}

// scalar renders an item value for filtering.
func scalar(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", false
	case string:
		return t, true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int:
		return strconv.Itoa(t), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

func lookupHandler(list string) handler {
	return func(s *Server, c *call) (any, *apiError) {
		pg, e := s.pageParams(c.params)
		if e != nil {
			return nil, e
		}
		items := make([]map[string]any, 0, len(s.lookups[list]))
		for _, it := range s.lookups[list] {
			m := map[string]any{"id": it.ID, "name": it.Name}
			subs := make([]map[string]any, 0, len(it.Subs))
			for _, sub := range it.Subs {
				subs = append(subs, map[string]any{"id": sub.ID, "name": sub.Name})
			}
			switch list {
			case ListTypes:
				m["subtypes"] = subs
			case ListStages:
				m["reasons"] = subs
			}
			items = append(items, m)
		}
		return collection(items, pg), nil
	}
}

var errEmptyRequest = newErr(http.StatusBadRequest, CodeLeadEmpty, "The request is empty")

// exactValue returns the value of a plain equality condition on key, so a
// list can reject records cheaply before evaluating everything.
func exactValue(conds []condition, key string) (string, bool) {
	for _, c := range conds {
		if c.key == key && c.mod == "" && !c.isNull {
			return c.value, true
		}
	}
	return "", false
}
