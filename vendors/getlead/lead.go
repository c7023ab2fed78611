package getlead

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Lead is a V3 lead as read back. Decoding is tolerant of the shapes
// Getlead's own integration handles: lead_id or id; phone_numbers as strings
// or {number} objects; status as an object or status_id; custom_fields as a
// [{field_key, value}] list or an object.
type Lead struct {
	ID           string
	Name         string
	Email        string
	Phones       []string // as Getlead wrote them (E.164 expected)
	StatusID     string
	StatusName   string
	Notes        string            // the single notes field
	CustomFields map[string]string // field_key → value
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// UnmarshalJSON implements json.Unmarshaler.
func (l *Lead) UnmarshalJSON(b []byte) error {
	var raw struct {
		LeadID       flexString      `json:"lead_id"`
		ID           flexString      `json:"id"`
		Name         *string         `json:"name"`
		Email        *string         `json:"email"`
		PhoneNumbers json.RawMessage `json:"phone_numbers"`
		StatusID     flexString      `json:"status_id"`
		Status       json.RawMessage `json:"status"`
		Notes        *string         `json:"notes"`
		CustomFields json.RawMessage `json:"custom_fields"`
		CreatedAt    string          `json:"created_at"`
		UpdatedAt    string          `json:"updated_at"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*l = Lead{ID: firstNonEmpty(string(raw.LeadID), string(raw.ID)), StatusID: string(raw.StatusID)}
	if raw.Name != nil {
		l.Name = *raw.Name
	}
	if raw.Email != nil {
		l.Email = *raw.Email
	}
	if raw.Notes != nil {
		l.Notes = *raw.Notes
	}
	var phones []json.RawMessage
	if len(raw.PhoneNumbers) > 0 && string(raw.PhoneNumbers) != "null" {
		if err := json.Unmarshal(raw.PhoneNumbers, &phones); err != nil {
			return fmt.Errorf("phone_numbers: %w", err)
		}
	}
	for _, p := range phones {
		var s string
		if json.Unmarshal(p, &s) != nil {
			var obj struct {
				Number flexString `json:"number"`
			}
			if err := json.Unmarshal(p, &obj); err != nil {
				return fmt.Errorf("phone_numbers: %w", err)
			}
			s = string(obj.Number)
		}
		if s != "" {
			l.Phones = append(l.Phones, s)
		}
	}
	if len(raw.Status) > 0 && raw.Status[0] == '{' {
		var st struct {
			ID    flexString `json:"id"`
			Name  string     `json:"name"`
			Label string     `json:"label"`
		}
		if err := json.Unmarshal(raw.Status, &st); err == nil {
			l.StatusID = firstNonEmpty(l.StatusID, string(st.ID))
			l.StatusName = firstNonEmpty(st.Name, st.Label)
		}
	} else if len(raw.Status) > 0 {
		var s flexString
		if json.Unmarshal(raw.Status, &s) == nil {
			l.StatusName = string(s)
		}
	}
	cf, err := decodeCustomFields(raw.CustomFields)
	if err != nil {
		return err
	}
	l.CustomFields = cf
	if l.CreatedAt, err = parseTime(raw.CreatedAt); err != nil {
		return fmt.Errorf("created_at: %w", err)
	}
	if l.UpdatedAt, err = parseTime(raw.UpdatedAt); err != nil {
		return fmt.Errorf("updated_at: %w", err)
	}
	return nil
}

func decodeCustomFields(raw json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	t := strings.TrimSpace(string(raw))
	switch {
	case t == "" || t == "null":
		return out, nil
	case t[0] == '[':
		var list []struct {
			Key   string          `json:"field_key"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("custom_fields: %w", err)
		}
		for _, f := range list {
			if f.Key != "" {
				out[f.Key] = scalar(f.Value)
			}
		}
	case t[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("custom_fields: %w", err)
		}
		for k, v := range obj {
			out[k] = scalar(v)
		}
	default:
		return nil, fmt.Errorf("custom_fields: unexpected %s", snippet(raw))
	}
	return out, nil
}

// scalar renders a JSON value as a string: strings as is, null as "",
// numbers and booleans as written, anything else as its JSON.
func scalar(v json.RawMessage) string {
	t := strings.TrimSpace(string(v))
	switch {
	case t == "" || t == "null":
		return ""
	case t[0] == '"':
		var s string
		_ = json.Unmarshal(v, &s)
		return s
	}
	return t
}

// parseTime reads Getlead's ISO-8601 times; "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 time", s)
}
