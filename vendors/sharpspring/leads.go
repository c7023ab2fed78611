package sharpspring

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// MaxObjects is the most objects one write request may carry (error 209).
const MaxObjects = 500

// LeadStatuses are the leadStatus values a write may set (spec §6.1).
// contactWithOpp is set by SharpSpring itself and a write of it is
// silently ignored, so it is not among them; other values are refused.
var LeadStatuses = []string{"unqualified", "open", "qualified", "contact"}

// NullableLeadFields take null, not "", to be cleared (sending "" gives 205).
var NullableLeadFields = map[string]bool{
	"accountID": true, "ownerID": true, "campaignID": true, "isUnsubscribed": true, "active": true,
}

// ObjectResult is SharpSpring's answer for one object of a write, in input
// order.
type ObjectResult struct {
	Success bool
	ID      int64  // createLeads only
	Err     *Error // nil on success
}

type writeEntry struct {
	Success flexBool  `json:"success"`
	Error   *apiError `json:"error"`
	ID      flexInt   `json:"id"`
}

// LeadObject builds a write object from string fields: empty values of the
// nullable fields become null, everything else is sent as a string.
func LeadObject(id int64, fields map[string]string) map[string]any {
	obj := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		if v == "" && NullableLeadFields[k] {
			obj[k] = nil
			continue
		}
		obj[k] = v
	}
	if id != 0 {
		obj["id"] = strconv.FormatInt(id, 10)
	}
	return obj
}

// CreateLeads calls createLeads. The results are in input order.
func (c *Client) CreateLeads(ctx context.Context, objs []map[string]any) ([]ObjectResult, error) {
	return c.write(ctx, "createLeads", "creates", objs)
}

// UpdateLeadsV2 calls updateLeadsV2, which answers 404 for an unknown id or
// email instead of silently doing nothing.
func (c *Client) UpdateLeadsV2(ctx context.Context, objs []map[string]any) ([]ObjectResult, error) {
	return c.write(ctx, "updateLeadsV2", "updates", objs)
}

func (c *Client) write(ctx context.Context, method, key string, objs []map[string]any) ([]ObjectResult, error) {
	if len(objs) > MaxObjects {
		return nil, &Error{Method: method, Code: 209, Message: fmt.Sprintf("%d objects is over the %d per request limit", len(objs), MaxObjects)}
	}
	var res map[string]json.RawMessage
	if err := c.Call(ctx, method, map[string]any{"objects": objs}, &res); err != nil {
		return nil, err
	}
	out, err := parseWriteResults(method, key, res, len(objs))
	if err != nil {
		return nil, err
	}
	for _, r := range out {
		if r.Err != nil {
			c.stats.failure(r.Err)
		}
	}
	return out, nil
}

// parseWriteResults reads the per-object results of a write of n objects,
// listed under key ("creates", "updates") of the result.
func parseWriteResults(method, key string, res map[string]json.RawMessage, n int) ([]ObjectResult, error) {
	var entries []writeEntry
	if err := json.Unmarshal(res[key], &entries); err != nil {
		return nil, &Error{Method: method, Message: "malformed " + key + ": " + err.Error()}
	}
	if len(entries) != n {
		return nil, &Error{Method: method, Message: fmt.Sprintf("%d results for %d objects", len(entries), n)}
	}
	out := make([]ObjectResult, len(entries))
	for i, e := range entries {
		out[i] = ObjectResult{Success: bool(e.Success), ID: int64(e.ID)}
		if !e.Success {
			code, msg := 0, "object failed without an error"
			if e.Error != nil {
				code, msg = int(e.Error.Code), e.Error.Message
			}
			out[i].Err = &Error{Method: method, Code: code, Message: msg}
			if e.Error != nil {
				out[i].Err.Data = e.Error.Data
			}
		}
	}
	return out, nil
}

// Lead is a lead as read back: every scalar as a string; JSON null becomes an
// absent key.
type Lead map[string]string

// ID returns the lead's id, 0 if it has none (SharpSpring once answered
// unknown ids with a phantom object without id).
func (l Lead) ID() int64 {
	n, _ := strconv.ParseInt(l["id"], 10, 64)
	return n
}

// GetLeadsQuery selects leads for GetLeads.
type GetLeadsQuery struct {
	IDs    []int64
	Emails []string
	Limit  int // default and maximum 500
	Offset int
	Fields []string // restrict returned fields (system names)
}

// GetLeads calls getLeads. Leads looked up by id or email are returned even
// when inactive; an empty query returns active leads only.
func (c *Client) GetLeads(ctx context.Context, q GetLeadsQuery) ([]Lead, error) {
	where := map[string]any{}
	if len(q.IDs) > 0 {
		ids := make([]string, len(q.IDs))
		for i, id := range q.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		where["id"] = ids
	} else if len(q.Emails) > 0 {
		where["emailAddress"] = q.Emails
	}
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	params := map[string]any{"where": where, "limit": limit, "offset": q.Offset}
	return c.callLeads(ctx, "getLeads", params, q.Fields)
}

// callLeads calls a method that reads leads; fields, when set, restricts
// the fields it returns.
func (c *Client) callLeads(ctx context.Context, method string, params map[string]any, fields []string) ([]Lead, error) {
	if len(fields) > 0 {
		params["fields"] = fields
	}
	var res struct {
		Lead []map[string]any `json:"lead"`
	}
	if err := c.Call(ctx, method, params, &res); err != nil {
		return nil, err
	}
	return decodeLeads(res.Lead), nil
}

// decodeLeads turns lead objects as read into Leads: every scalar as a
// string, JSON null as an absent key; objects without an id (the 2017
// phantom answer) are dropped.
func decodeLeads(objs []map[string]any) []Lead {
	out := make([]Lead, 0, len(objs))
	for _, raw := range objs {
		l := make(Lead, len(raw))
		for k, v := range raw {
			switch t := v.(type) {
			case nil:
			case string:
				l[k] = t
			case float64:
				l[k] = strconv.FormatFloat(t, 'f', -1, 64)
			case bool:
				l[k] = map[bool]string{true: "1", false: "0"}[t]
			default:
				b, _ := json.Marshal(t)
				l[k] = string(b)
			}
		}
		if l.ID() == 0 {
			continue
		}
		out = append(out, l)
	}
	return out
}

// Field is a field definition from getFields (all values strings on the wire).
type Field struct {
	ID           string `json:"id"`
	Relationship string `json:"relationship"`
	SystemName   string `json:"systemName"`
	Label        string `json:"label"`
	DataType     string `json:"dataType"`
	IsCustom     string `json:"isCustom"`
	IsActive     string `json:"isActive"`
	// Options are a picklist's, radio's or checkbox's allowed values.
	Options FieldOptions `json:"options"`
}

// GetFields returns every field definition (standard and custom, all
// relationships), paging until a short page.
func (c *Client) GetFields(ctx context.Context) ([]Field, error) {
	var all []Field
	for offset := 0; ; offset += 500 {
		var res struct {
			Field []Field `json:"field"`
		}
		if err := c.Call(ctx, "getFields", map[string]any{"where": map[string]any{}, "limit": 500, "offset": offset}, &res); err != nil {
			return nil, err
		}
		all = append(all, res.Field...)
		if len(res.Field) < 500 {
			return all, nil
		}
	}
}
