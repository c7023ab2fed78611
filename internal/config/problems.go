package config

import (
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A config's problems come from three stages: ${VAR} expansion, decoding
// (unknown keys, values of the wrong type) and validation. Each stage goes
// on after a problem so that one run reports them all, every one with its
// path, and a later stage stays quiet about a path an earlier one already
// reported (a missing variable is not also "required").

// envValue is a config value that ${VAR} expansion changed: the text as
// written (ref) and the value it became.
type envValue struct{ ref, value string }

// redact replaces, in every problem, each value read from the environment
// by the ${VAR} text it came from: the environment holds secrets, and a
// value can surface under another path (a route's default name is made of
// its from and to).
func redact(problems []error, expanded map[string]envValue) []error {
	// Longest first, so that a value inside another is not replaced first.
	evs := slices.SortedFunc(maps.Values(expanded), func(a, b envValue) int {
		return cmp.Or(len(b.value)-len(a.value), strings.Compare(a.value, b.value))
	})
	out := make([]error, len(problems))
	for i, e := range problems {
		msg := e.Error()
		for _, ev := range evs {
			if ev.value == "" {
				continue
			}
			msg = strings.ReplaceAll(msg, strconv.Quote(ev.value), ev.ref)
			if len(ev.value) >= 6 { // a shorter one would garble the message
				msg = strings.ReplaceAll(msg, ev.value, ev.ref)
			}
		}
		if msg == e.Error() {
			out[i] = e
		} else {
			out[i] = errors.New(msg)
		}
	}
	return out
}

// decodeProblems turns the decoder's line-numbered messages about doc into
// problems with paths. expanded maps the path of every value read from the
// environment to its ${VAR} text, which stands in for the value: a value
// from the environment is never quoted in a message.
func decodeProblems(te *yaml.TypeError, doc *yaml.Node, expanded map[string]envValue) []error {
	idx := indexNodes(doc)
	out := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		out = append(out, describe(msg, idx, expanded))
	}
	return out
}

var (
	lineRe     = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe  = regexp.MustCompile(`^field (.+) not found in type \S+$`)
	wrongRe    = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	durationRe = regexp.MustCompile(`^(".*") is not a duration`)
)

func describe(msg string, idx nodeIndex, expanded map[string]envValue) error {
	m := lineRe.FindStringSubmatch(msg)
	if m == nil {
		return errors.New(msg)
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	if u := unknownRe.FindStringSubmatch(rest); u != nil {
		for _, k := range idx.keys[line] {
			if k.name == u[1] {
				return fmt.Errorf("%s: unknown key", k.path)
			}
		}
		return fmt.Errorf("line %d: unknown key %s", line, u[1])
	}
	var tag, value, target, want string
	if w := wrongRe.FindStringSubmatch(rest); w != nil {
		tag, value, target, want = w[1], w[2], w[3], goType(w[3])
	} else if d := durationRe.FindStringSubmatch(rest); d != nil {
		value, _ = strconv.Unquote(d[1])
		target, want = "config.Duration", "a duration (e.g. 500ms, 2m)"
	} else {
		return errors.New(msg)
	}
	v, ok := idx.find(line, target, tag, value)
	if !ok {
		return fmt.Errorf("line %d: %s", line, strings.TrimPrefix(rest, "line "))
	}
	if ev, fromEnv := expanded[v.path]; fromEnv {
		return fmt.Errorf("%s: the value of %s is not %s", v.path, ev.ref, want)
	}
	switch v.node.Kind {
	case yaml.MappingNode:
		return fmt.Errorf("%s: a mapping is not %s", v.path, want)
	case yaml.SequenceNode:
		return fmt.Errorf("%s: a list is not %s", v.path, want)
	}
	return fmt.Errorf("%s: %s is not %s", v.path, quoteValue(v.node.Value), want)
}

// goType names a Go type of the config tree in an operator's words.
func goType(t string) string {
	switch {
	case t == "string" || t == "config.Secret":
		return "a string"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "time.Time":
		return "a time (RFC 3339, e.g. 2026-11-01T00:00:00Z)"
	case t == "config.Duration" || t == "time.Duration":
		return "a duration (e.g. 500ms, 2m)"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	default:
		return "a mapping"
	}
}

// quoteValue quotes a value for a message, shortened.
func quoteValue(s string) string {
	const max = 60
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// nodeIndex finds the nodes of a document by line.
type nodeIndex struct {
	keys   map[int][]indexed // mapping keys, with the path of their value
	values map[int][]*indexed
}

type indexed struct {
	path   string
	name   string       // key name, for keys
	target reflect.Type // type of the config field, when known
	node   *yaml.Node
	used   bool
}

func indexNodes(doc *yaml.Node) nodeIndex {
	idx := nodeIndex{keys: map[int][]indexed{}, values: map[int][]*indexed{}}
	var walk func(n *yaml.Node, t reflect.Type, path string, depth int)
	walk = func(n *yaml.Node, t reflect.Type, path string, depth int) {
		if n == nil || depth > 100 {
			return
		}
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, t, path, depth+1)
			}
			return
		case yaml.AliasNode:
			return
		}
		idx.values[n.Line] = append(idx.values[n.Line], &indexed{path: path, target: t, node: n})
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := join(path, k.Value)
				idx.keys[k.Line] = append(idx.keys[k.Line], indexed{path: p, name: k.Value, node: k})
				walk(n.Content[i+1], fieldType(t, k.Value), p, depth+1)
			}
		case yaml.SequenceNode:
			var et reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				et = t.Elem()
			}
			for i, c := range n.Content {
				walk(c, et, fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		}
	}
	walk(doc, reflect.TypeFor[Config](), "", 0)
	return idx
}

// fieldType is the type of key's value in a mapping of type t, nil if
// unknown.
func fieldType(t reflect.Type, key string) reflect.Type {
	switch {
	case t == nil:
		return nil
	case t.Kind() == reflect.Map:
		return t.Elem()
	case t.Kind() != reflect.Struct:
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f.Type
		}
	}
	return nil
}

// find returns the value node on line, bound for a field of type target
// (its Go name; empty: any), whose tag and (possibly shortened) value match
// a decoder message. Each node is found once: a line of a flow mapping can
// hold the same value twice.
func (idx nodeIndex) find(line int, target, tag, value string) (*indexed, bool) {
	short, cut := strings.CutSuffix(value, "...")
	var fallback *indexed
	for _, v := range idx.values[line] {
		n := v.node
		switch {
		case v.used,
			target != "" && v.target != nil && v.target.String() != target,
			tag == "!!map" && n.Kind != yaml.MappingNode,
			tag == "!!seq" && n.Kind != yaml.SequenceNode,
			tag != "!!map" && tag != "!!seq" && n.Kind != yaml.ScalarNode:
			continue
		}
		if n.Kind != yaml.ScalarNode || n.Value == value || cut && strings.HasPrefix(n.Value, short) {
			v.used = true
			return v, true
		}
		if fallback == nil {
			fallback = v
		}
	}
	if fallback != nil {
		fallback.used = true
		return fallback, true
	}
	return nil, false
}

// problemPath is the path a problem is about: the text before the first
// ": " ("routes[1].to: …" → "routes[1].to").
func problemPath(err error) string {
	p, _, _ := strings.Cut(err.Error(), ": ")
	return p
}

// covers reports whether a problem at path p is about the same value as,
// or a value inside, one already reported at q.
func covers(q, p string) bool {
	return p == q || strings.HasPrefix(p, q+".") || strings.HasPrefix(p, q+"[")
}

// withoutReported appends to errs the problems of more whose path no
// problem in errs covers.
func withoutReported(errs, more []error) []error {
	reported := make([]string, 0, len(errs))
	for _, e := range errs {
		reported = append(reported, problemPath(e))
	}
next:
	for _, e := range more {
		p := problemPath(e)
		for _, q := range reported {
			if covers(q, p) {
				continue next
			}
		}
		errs = append(errs, e)
	}
	return errs
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// checkTextValues decodes on its own every scalar of n bound for a field
// of t that reads itself from text (time.Time): the YAML decoder gives up
// at the first such value it cannot read instead of going on. A value that
// fails is reported with its path and then left out (nulled), so decoding
// reports the rest.
func checkTextValues(n *yaml.Node, t reflect.Type, path string, expanded map[string]envValue, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			checkTextValues(c, t, path, expanded, errs)
		}
		return
	case yaml.ScalarNode:
		if !reflect.PointerTo(t).Implements(textUnmarshaler) {
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			want := "a time (RFC 3339, e.g. 2026-11-01T00:00:00Z)"
			if t != reflect.TypeFor[time.Time]() {
				want = "readable: " + err.Error()
			}
			if ev, ok := expanded[path]; ok {
				*errs = append(*errs, fmt.Errorf("%s: the value of %s is not %s", path, ev.ref, want))
			} else {
				*errs = append(*errs, fmt.Errorf("%s: %s is not %s", path, quoteValue(n.Value), want))
			}
			n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!null", "null", 0
		}
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft := fieldType(t, n.Content[i].Value); ft != nil {
				checkTextValues(n.Content[i+1], ft, join(path, n.Content[i].Value), expanded, errs)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return
		}
		for i, c := range n.Content {
			checkTextValues(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), expanded, errs)
		}
	}
}
