package leadexec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// record is one object of an answer, XML or JSON, as text values keyed by
// lower-cased name: LeadExec's casing varies (isValidPost, IsValidPost), and
// .NET binds names case-insensitively on the way in.
type record map[string]string

// put keeps the first value of a name.
func (r record) put(name, value string) {
	k := strings.ToLower(name)
	if _, dup := r[k]; !dup {
		r[k] = value
	}
}

func (r record) text(name string) (string, bool) {
	v, ok := r[strings.ToLower(name)]
	return v, ok
}

// reader reads typed values out of a record, keeping the first problem.
type reader struct {
	rec record
	err error
}

func (rd *reader) fail(name, value, want string) {
	if rd.err == nil {
		rd.err = fmt.Errorf("%s: %q is not %s", name, shorten(value), want)
	}
}

func (rd *reader) str(name string) string {
	v, _ := rd.rec.text(name)
	return v
}

func (rd *reader) int64(name string) int64 {
	v, _ := rd.rec.text(name)
	n, err := parseInt64(v)
	if err != nil {
		rd.fail(name, v, "an integer")
	}
	return n
}

func (rd *reader) int(name string) int {
	v, _ := rd.rec.text(name)
	n, err := parseInt64(v)
	if err != nil || n != int64(int32(n)) {
		rd.fail(name, v, "a 32-bit integer")
	}
	return int(n)
}

func (rd *reader) bool(name string) bool {
	v, _ := rd.rec.text(name)
	b, err := parseBool(v)
	if err != nil {
		rd.fail(name, v, "a boolean")
	}
	return b
}

// parseInt64 reads an Int64 as .NET or JSON writes it; "" is 0. A
// fraction-free decimal ("12.0") is accepted, as JSON encoders sometimes
// write integers that way.
func parseInt64(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return n, nil
	}
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" {
		return strconv.ParseInt(s[:i], 10, 64)
	}
	return 0, err
}

// parseBool reads a .NET or JSON boolean: true/false in any case, 1/0;
// "" is false.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// jsonFields is a decoded JSON object.
type jsonFields map[string]json.RawMessage

// jsonObject decodes b as one JSON object.
func jsonObject(b []byte) (jsonFields, error) {
	var o jsonFields
	if err := strictJSON(b, &o); err != nil {
		return nil, err
	}
	if o == nil {
		return nil, errors.New("not a JSON object")
	}
	return o, nil
}

// strictJSON decodes exactly one JSON value from b.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// text returns the value of name (case-insensitive) as text.
func (o jsonFields) text(name string) (string, bool) {
	raw, ok := o.lookup(name)
	if !ok {
		return "", false
	}
	return scalarText(raw), true
}

// lookup finds a key case-insensitively; an exact match wins, then the
// first match in sorted key order, so the result never depends on map
// order.
func (o jsonFields) lookup(name string) (json.RawMessage, bool) {
	if v, ok := o[name]; ok {
		return v, true
	}
	keys := make([]string, 0, len(o))
	for k := range o {
		if strings.EqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, false
	}
	slices.Sort(keys)
	return o[keys[0]], true
}

// record converts the object's members to text (see scalarText).
func (o jsonFields) record() record {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r := make(record, len(o))
	for _, k := range keys {
		r.put(k, scalarText(o[k]))
	}
	return r
}

// scalarText renders a JSON value as text: a string unquoted, a number or
// boolean as written, null as "", an object or array as its compact JSON.
func scalarText(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return ""
	}
	if t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s
		}
	}
	if t[0] == '{' || t[0] == '[' {
		var b bytes.Buffer
		if json.Compact(&b, t) == nil {
			return b.String()
		}
	}
	return string(t)
}

// readLimited reads all of r, failing once more than limit bytes arrive.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	return b, nil
}
