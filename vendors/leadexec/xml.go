package leadexec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// XML limits. Answers are read into a small tree, so both the bytes and
// the element count are bounded.
const (
	maxXMLDepth    = 64
	maxXMLElements = 2 << 20
)

// xnode is one XML element, read without namespaces: .NET XmlSerializer
// puts every element in the service's namespace (http://tempuri.org/ unless
// LeadExec chose another), which this package does not need to know.
type xnode struct {
	name string // local name
	text string // character data of a leaf
	kids []*xnode
	nil  bool // xsi:nil="true"
}

func (n *xnode) leaf() bool { return len(n.kids) == 0 }

// child returns the first child whose local name matches (case-insensitive).
func (n *xnode) child(name string) *xnode {
	for _, k := range n.kids {
		if strings.EqualFold(k.name, name) {
			return k
		}
	}
	return nil
}

// record returns the leaf children as a record. Children with children of
// their own (arrays such as Enums) are left to the caller.
func (n *xnode) record() record {
	r := make(record, len(n.kids))
	for _, k := range n.kids {
		if k.leaf() {
			r.put(k.name, k.text)
		}
	}
	return r
}

// texts returns the text of each leaf child (an array of strings such as
// <Enums><string>a</string>…</Enums>).
func (n *xnode) texts() []string {
	var out []string
	for _, k := range n.kids {
		if k.leaf() && !k.nil {
			out = append(out, k.text)
		}
	}
	return out
}

// parseXMLBytes reads one XML document into a tree (callers bound its size
// with readLimited first). DTDs are not expanded (encoding/xml never does);
// only UTF-8 (or ASCII) documents are read.
func parseXMLBytes(body []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", shorten(charset))
	}
	var (
		root  *xnode
		stack []*xnode
		count int
		texts [][]byte // character data of each open element
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil {
				return nil, errors.New("no XML element")
			}
			if len(stack) > 0 {
				return nil, errors.New("XML ends inside an element")
			}
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("more than one root element")
			}
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("XML nested deeper than %d", maxXMLDepth)
			}
			if count++; count > maxXMLElements {
				return nil, fmt.Errorf("more than %d XML elements", maxXMLElements)
			}
			n := &xnode{name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Local == "nil" && strings.TrimSpace(a.Value) == "true" {
					n.nil = true
				}
			}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
			texts = append(texts, nil)
		case xml.EndElement:
			// encoding/xml (Strict) has checked that the names match.
			n := stack[len(stack)-1]
			if n.leaf() {
				n.text = string(texts[len(texts)-1])
			}
			stack, texts = stack[:len(stack)-1], texts[:len(texts)-1]
		case xml.CharData:
			if len(stack) > 0 {
				texts[len(texts)-1] = append(texts[len(texts)-1], t...)
			} else if strings.TrimSpace(string(t)) != "" {
				return nil, errors.New("text outside the root element")
			}
		}
	}
}

// convertAll turns every item with from. The first failure is returned as
// "<what> <index>: <error>".
func convertAll[S, T any](items []S, what string, from func(S) (T, error)) ([]T, error) {
	out := make([]T, 0, len(items))
	for i, it := range items {
		v, err := from(it)
		if err != nil {
			return nil, fmt.Errorf("%s %d: %w", what, i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// xmlItems finds the items of an XmlSerializer array answer
// (<ArrayOfX><X>…</X>…</ArrayOfX>, any names). key is a property every item
// has: a root that has it as a leaf child is a single item, not an array.
// Wrappers with a single array inside (<XResponse><XResult>…) are looked
// through.
func xmlItems(root *xnode, key string) []*xnode {
	n := root
	for range maxXMLDepth {
		if k := n.child(key); k != nil && k.leaf() {
			return []*xnode{n}
		}
		if len(n.kids) == 1 && n.child(key) == nil && allBranches(n.kids[0]) && n.kids[0].child(key) == nil {
			n = n.kids[0]
			continue
		}
		break
	}
	return n.kids
}

// allBranches reports whether n has children and none of them is a leaf.
func allBranches(n *xnode) bool {
	if n.leaf() {
		return false
	}
	for _, k := range n.kids {
		if k.leaf() {
			return false
		}
	}
	return true
}
