package sharpspringsim

import (
	"bytes"
	"encoding/json"
	"strings"
)

// envelope is a decoded request body {"method","params","id"}. Decoding is
// lenient so that the request id can be echoed even on errors.
type envelope struct {
	valid     bool // the body is a JSON object
	method    string
	hasMethod bool
	params    map[string]json.RawMessage
	hasParams bool
	id        json.RawMessage // nil when missing or null
}

func parseEnvelope(body []byte) envelope {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return envelope{}
	}
	e := envelope{valid: true}
	if m, ok := raw["method"]; ok {
		var s string
		if json.Unmarshal(m, &s) == nil && s != "" {
			e.method, e.hasMethod = s, true
		}
	}
	if p, ok := raw["params"]; ok {
		p = bytes.TrimSpace(p)
		switch {
		case len(p) > 0 && p[0] == '{':
			if json.Unmarshal(p, &e.params) == nil {
				e.hasParams = true
			}
		case isEmptyArray(p):
			// PHP array() and similar encode an empty hash as [].
			e.params, e.hasParams = map[string]json.RawMessage{}, true
		}
	}
	if id, ok := raw["id"]; ok && !isNull(id) {
		e.id = id
	}
	// A "header" member (legacy body auth in the official PHP samples) and
	// any other member are accepted and ignored.
	return e
}

// check returns the envelope-level error, if any, in the order 101, 201,
// 202, 102; unknown methods (204) are checked by the dispatcher.
func (e envelope) check() *apiError {
	switch {
	case !e.valid:
		return newError(CodeInvalidRequest)
	case !e.hasMethod:
		return newError(CodeMissingMethod)
	case !e.hasParams:
		return newError(CodeMissingParams)
	case e.id == nil:
		return newError(CodeMissingRequestID)
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func isEmptyArray(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return false
	}
	return len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}

// marshal encodes v without HTML escaping (the real API leaves <, > and &
// alone) and without a trailing newline.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only simulator-built values are encoded here; failing is a bug.
		panic("sharpspringsim: encode: " + err.Error())
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// quote is a JSON string literal.
func quote(s string) []byte { return marshal(s) }

// object writes a JSON object with keys in insertion order; Go maps cannot
// keep the field order real responses have.
type object struct {
	b bytes.Buffer
	n int
}

func (o *object) add(key string, raw []byte) {
	if o.n == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	o.n++
	o.b.Write(quote(key))
	o.b.WriteByte(':')
	o.b.Write(raw)
}

func (o *object) bytes() []byte {
	if o.n == 0 {
		return []byte("{}")
	}
	return append(o.b.Bytes(), '}')
}

// array joins already-encoded JSON values.
func array(items [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// responseBody is the wire response {"result","error","id"}.
func responseBody(result, errJSON, id []byte) []byte {
	var o object
	o.add("result", orNull(result))
	o.add("error", orNull(errJSON))
	o.add("id", orNull(id))
	return o.bytes()
}

func orNull(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

// decodeValue decodes one JSON value with numbers kept as json.Number.
func decodeValue(raw json.RawMessage) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// decodeObject decodes a JSON object; ok is false for anything else.
func decodeObject(raw json.RawMessage) (map[string]any, bool) {
	v, ok := decodeValue(raw)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// scalarString renders a string or number parameter as text. Booleans,
// null, lists and objects are not scalars here.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// looseInt reads an integer sent as a JSON number (1, 1.0, 1e3) or as a
// decimal string ("1"), as the API accepts both.
func looseInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		return parseInteger(x.String())
	case string:
		return parseInteger(strings.TrimSpace(x))
	}
	return 0, false
}

// looseIntParam reads an integer parameter from its raw JSON.
func looseIntParam(raw json.RawMessage) (int64, bool) {
	v, ok := decodeValue(raw)
	if !ok {
		return 0, false
	}
	return looseInt(v)
}
