package leadexecsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// editClient answers PATCH /v1/clients (bearer): {Info: {ClientUID, ...},
// FieldData: [{ClientFieldUID, Value}]}. ClientUID 0 (or absent) creates a
// client and needs a Password; another ClientUID edits that client (404 if
// unknown). Info properties that are not sent are left unchanged (PATCH);
// FieldData values overwrite those fields. Usernames must be unique; a
// FieldData ClientFieldUID must be defined; on create every Required
// client field must be set. Problems answer 400 {"message"}. Success
// answers the ClientUID as plain text.
func (s *Server) editClient(r *http.Request) simAnswer {
	if a := s.authorize(r); a != nil {
		return *a
	}
	body, err := readBody(r)
	if err != nil {
		return apiMessage(http.StatusBadRequest, "The request body could not be read.")
	}
	var req struct {
		Info      map[string]json.RawMessage `json:"Info"`
		FieldData []struct {
			ClientFieldUID json.Number `json:"ClientFieldUID"`
			Value          *string     `json:"Value"`
		} `json:"FieldData"`
	}
	if err := decodeJSON(body, &req); err != nil {
		return apiMessage(http.StatusBadRequest, "The request body is not valid JSON.")
	}
	if req.Info == nil {
		return apiMessage(http.StatusBadRequest, "Info is required.")
	}
	info := foldKeys(req.Info)
	var uid int64
	if raw, ok := info["clientuid"]; ok {
		if err := json.Unmarshal(raw, &uid); err != nil {
			return apiMessage(http.StatusBadRequest, "Info.ClientUID must be an integer.")
		}
	}
	if uid < 0 {
		return apiMessage(http.StatusBadRequest, "Info.ClientUID must be 0 (new) or an existing client.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var c Client
	if uid == 0 {
		c = Client{AccountUID: s.cfg.accountUID, DateAdded: s.cfg.now(), Status: "Active", AutomationType: "Price",
			Fields: map[int64]string{}}
	} else {
		stored, ok := s.clients[uid]
		if !ok {
			return apiMessage(http.StatusNotFound, fmt.Sprintf("Client %d was not found.", uid))
		}
		c = cloneClient(stored)
	}
	if msg := applyInfo(&c, info); msg != "" {
		return apiMessage(http.StatusBadRequest, msg)
	}
	if uid == 0 && c.Password == "" {
		return apiMessage(http.StatusBadRequest, "Info.Password is required for a new client.")
	}
	if c.Username != "" {
		for id, other := range s.clients {
			if id != uid && strings.EqualFold(other.Username, c.Username) {
				return apiMessage(http.StatusBadRequest, "Info.Username is already in use.")
			}
		}
	}
	for i, fd := range req.FieldData {
		fid, err := fd.ClientFieldUID.Int64()
		if err != nil || s.fieldDef(fid) == nil {
			return apiMessage(http.StatusBadRequest, fmt.Sprintf("FieldData[%d].ClientFieldUID %q is not a client field.", i, fd.ClientFieldUID))
		}
		if fd.Value == nil {
			return apiMessage(http.StatusBadRequest, fmt.Sprintf("FieldData[%d].Value is required.", i))
		}
		c.Fields[fid] = *fd.Value
	}
	if uid == 0 {
		for _, f := range s.cfg.clientFields {
			if f.Required && strings.TrimSpace(c.Fields[f.ClientFieldUID]) == "" {
				return apiMessage(http.StatusBadRequest, fmt.Sprintf("Client field %q (%d) is required.", f.Descriptor, f.ClientFieldUID))
			}
		}
		c.ClientUID = s.newID(IDClient)
	}
	s.clients[c.ClientUID] = &c
	return textAnswer(http.StatusOK, strconv.FormatInt(c.ClientUID, 10))
}

// foldKeys lower-cases the keys (the first of equal folded keys, in
// sorted order, wins), as ASP.NET binds JSON case-insensitively.
func foldKeys(m map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, dup := out[strings.ToLower(k)]; !dup {
			out[strings.ToLower(k)] = m[k]
		}
	}
	return out
}

// applyInfo copies the sent Info properties onto c; it returns a message
// for the first invalid one. Unknown properties (and DateAdded, which
// LeadExec sets) are ignored.
func applyInfo(c *Client, info map[string]json.RawMessage) string {
	str := func(name string, dst *string) string {
		if raw, ok := info[strings.ToLower(name)]; ok {
			var v *string
			if err := json.Unmarshal(raw, &v); err != nil {
				return "Info." + name + " must be a string."
			}
			if v != nil {
				*dst = *v
			}
		}
		return ""
	}
	i64 := func(name string, dst *int64) string {
		if raw, ok := info[strings.ToLower(name)]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return "Info." + name + " must be an integer."
			}
		}
		return ""
	}
	integer := func(name string, dst *int) string {
		if raw, ok := info[strings.ToLower(name)]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return "Info." + name + " must be an integer."
			}
		}
		return ""
	}
	var status, automation string
	msgs := []string{
		str("Status", &status), i64("UserUID", &c.UserUID), integer("TimeOffset", &c.TimeOffset),
		str("TimeZoneName", &c.TimeZoneName), str("Notes", &c.Notes), i64("ResellerUID", &c.ResellerUID),
		i64("GroupUID", &c.GroupUID), str("Username", &c.Username), str("Password", &c.Password),
		str("DeliveryAccountAutomationType", &automation),
	}
	if raw, ok := info["overridereassign"]; ok {
		if err := json.Unmarshal(raw, &c.OverrideReassign); err != nil {
			msgs = append(msgs, "Info.OverrideReassign must be a boolean.")
		}
	}
	for _, m := range msgs {
		if m != "" {
			return m
		}
	}
	if status != "" {
		i := statusIndex(status)
		if i < 0 {
			return fmt.Sprintf("Info.Status %q is not a client status.", status)
		}
		c.Status = ClientStatuses[i]
	}
	if automation != "" {
		switch strings.ToLower(automation) {
		case "price", "priority", "roundrobin":
			c.AutomationType = automation
		default:
			return fmt.Sprintf("Info.DeliveryAccountAutomationType %q is not Price, Priority or RoundRobin.", automation)
		}
	}
	return ""
}
