package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/crmsync/crmsync/internal/registry"
)

// Section is the configuration of a vendor that a connector adds: one
// top-level key of the file, decoded strictly into the value NewSection
// makes (an unknown key is a problem, as everywhere else in the file).
type Section interface {
	// ApplyDefaults fills every unset value with its documented default.
	ApplyDefaults()
	// Validate reports every problem through add, with a path relative to
	// the section ("endpoint", "poller.interval"); the file's path of the
	// section is put in front.
	Validate(add func(path, format string, args ...any))
}

// Vendor is what the configuration needs to know of a vendor that a
// connector adds: its name (the section's key, and the vendor part of
// <vendor>.<entity> in routes and ownership), what routes can read from it
// and write to it, and its section.
type Vendor struct {
	Name  string // e.g. "acme"
	Title string // how messages name it, e.g. "Acme CRM"
	// Reads and Writes are the entities ("lead", "client") routes can read
	// from the vendor and write to it.
	Reads, Writes []string
	// ReadBack are the entities of Writes that can be read back, so that a
	// route to them can be replayed, verified and reconciled.
	ReadBack []string
	// NewSection makes an empty section.
	NewSection func() Section
	// MaxBatch is the most records a route's batch (batch_size) may hold
	// when it writes to the vendor: its limit of objects per write request
	// when its sink sends a batch in one request; 0 is DefaultMaxBatch.
	MaxBatch int
}

// DefaultMaxBatch is the largest batch_size of a route: SharpSpring's limit
// of objects per request, and the most any built-in sink takes at once
// (the others write a record, or LeadExec's max_leads_per_post, per
// request).
const DefaultMaxBatch = 500

// maxBatch returns the largest batch_size of a route to target, and the
// title of the vendor that sets it.
func maxBatch(target string) (int, string) {
	vendor, _, _ := strings.Cut(target, ".")
	if v, ok := registered(vendor); ok && v.MaxBatch > 0 {
		return v.MaxBatch, v.Title
	}
	return DefaultMaxBatch, ""
}

// vendors are the vendors added by connectors.
var vendors registry.Of[Vendor]

// builtin are the vendors this package knows by type (their sections are
// fields of Config) and the key of the kafka change stream.
var builtin = []string{"sharpspring", "leadexec", "ivvy", "getlead", "kafka"}

// RegisterVendor adds a vendor's section to every configuration parsed
// from now on. It panics on a name that is taken or not a lower-case word,
// on a vendor without a section, or on an entity other than lead and
// client: each is a programming error in the connector.
func RegisterVendor(v Vendor) {
	if v.Name == "" || strings.Trim(v.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		panic(fmt.Sprintf("config: vendor name %q is not a lower-case word", v.Name))
	}
	if v.NewSection == nil {
		panic("config: vendor " + v.Name + " has no section")
	}
	for _, e := range slices.Concat(v.Reads, v.Writes, v.ReadBack) {
		if e != "lead" && e != "client" {
			panic(fmt.Sprintf("config: vendor %s: entity %q is not lead or client", v.Name, e))
		}
	}
	for _, e := range v.ReadBack {
		if !slices.Contains(v.Writes, e) {
			panic(fmt.Sprintf("config: vendor %s reads back %s but does not write it", v.Name, e))
		}
	}
	if v.Title == "" {
		v.Title = v.Name
	}
	if slices.Contains(builtin, v.Name) || fieldType(reflect.TypeFor[Config](), v.Name) != nil || !vendors.Add(v.Name, v) {
		panic("config: vendor " + v.Name + " is registered twice or clashes with a key of the file")
	}
}

// Registered lists the vendors added by connectors, by name.
func Registered() []Vendor { return vendors.All() }

func registered(name string) (Vendor, bool) { return vendors.Get(name) }

// Section returns the section of a vendor, built in or added by a
// connector; nil when the file has none.
func (c *Config) Section(vendor string) Section {
	for _, s := range c.sections() {
		if s.name == vendor {
			return s.Section
		}
	}
	return nil
}

// splitSections takes the top-level keys of registered vendors out of the
// document (so that the rest decodes strictly into Config) and returns them
// as a document of their own, nil when there are none.
func splitSections(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	root := doc.Content[0]
	var kept, taken []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if _, ok := registered(root.Content[i].Value); ok {
			taken = append(taken, root.Content[i], root.Content[i+1])
		} else {
			kept = append(kept, root.Content[i], root.Content[i+1])
		}
	}
	if len(taken) == 0 {
		return nil
	}
	root.Content = kept
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map", Content: taken}}}
}

// sectionsType is a struct with one pointer field per registered vendor,
// tagged with its name, so that the sections decode (and report their
// problems by path) like the rest of the file.
func sectionsType() (reflect.Type, []Vendor) {
	vs := Registered()
	fields := make([]reflect.StructField, len(vs))
	for i, v := range vs {
		fields[i] = reflect.StructField{
			Name: fmt.Sprintf("V%d", i),
			Type: reflect.TypeOf(v.NewSection()),
			Tag:  reflect.StructTag(fmt.Sprintf(`yaml:%q`, v.Name)),
		}
	}
	return reflect.StructOf(fields), vs
}

// decodeSections decodes the registered vendors' part of the file into
// c.Sections, appending every problem to errs.
func decodeSections(c *Config, doc *yaml.Node, expanded map[string]envValue, errs *[]error) {
	t, vs := sectionsType()
	checkTextValues(doc, t, "", expanded, errs)
	out, err := yaml.Marshal(doc)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("config: %w", err))
		return
	}
	holder := reflect.New(t)
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(holder.Interface()); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		var redone yaml.Node
		if !errors.As(err, &te) || yaml.Unmarshal(out, &redone) != nil {
			*errs = append(*errs, fmt.Errorf("config: %w", err))
			return
		}
		*errs = append(*errs, decodeProblems(te, &redone, expanded)...)
	}
	for i, v := range vs {
		f := holder.Elem().Field(i)
		if f.IsNil() {
			continue
		}
		if c.Sections == nil {
			c.Sections = map[string]Section{}
		}
		c.Sections[v.Name] = f.Interface().(Section)
	}
}

// Marshal renders the configuration as YAML, the sections of vendors added
// by connectors included, secrets hidden.
func Marshal(c *Config) ([]byte, error) {
	b, err := yaml.Marshal(c)
	if err != nil || len(c.Sections) == 0 {
		return b, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	for _, name := range sortedKeys(c.Sections) {
		var n yaml.Node
		if err := n.Encode(c.Sections[name]); err != nil {
			return nil, fmt.Errorf("config: %s: %w", name, err)
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, &n)
	}
	return yaml.Marshal(&doc)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// vendorNames are every vendor a route or ownership can name.
func vendorNames() []string {
	out := []string{"sharpspring", "leadexec", "ivvy", "getlead"}
	for _, v := range Registered() {
		out = append(out, v.Name)
	}
	return out
}

// routeSourcesList and routeSinksList are every <vendor>.<entity> a route
// can read and write, the registered vendors' included.
func routeSourcesList() []string {
	return withRegistered(Sources, func(v Vendor) []string { return v.Reads })
}
func routeSinksList() []string {
	return withRegistered(Sinks, func(v Vendor) []string { return v.Writes })
}

func withRegistered(builtin []string, entities func(Vendor) []string) []string {
	out := slices.Clone(builtin)
	for _, v := range Registered() {
		for _, e := range entities(v) {
			out = append(out, v.Name+"."+e)
		}
	}
	return out
}

// readsBack reports whether target (<vendor>.<entity>) can be read back.
func readsBack(target string) bool {
	vendor, entity, _ := strings.Cut(target, ".")
	if v, ok := registered(vendor); ok {
		return slices.Contains(v.ReadBack, entity)
	}
	return vendor != "kafka" && target != "leadexec.lead"
}

// namedSection is a vendor's section, by the vendor's key and title.
type namedSection struct {
	name, title string
	Section     // nil when the file has none
}

// sections are the sections of every vendor: first those this package
// knows by type (fields of Config), then those of the registered vendors,
// by name.
func (c *Config) sections() []namedSection {
	out := []namedSection{
		{"sharpspring", "SharpSpring", present(c.SharpSpring)},
		{"ivvy", "iVvy", present(c.IVvy)},
		{"getlead", "Getlead", present(c.Getlead)},
		{"kafka", "Kafka", present(c.Kafka)},
		{"leadexec", "LeadExec", present(c.LeadExec)},
	}
	for _, v := range Registered() {
		out = append(out, namedSection{v.Name, v.Title, c.Sections[v.Name]})
	}
	return out
}

// present is a section field of Config as a Section: nil (not a typed nil)
// when the file has none.
func present[T any, P interface {
	*T
	Section
}](p P) Section {
	if p == nil {
		return nil
	}
	return p
}

// validateSections applies each vendor's validation to its section, and
// requires the section of every vendor a route uses.
func validateSections(c *Config, add func(path, format string, args ...any)) {
	used := map[string]bool{}
	for _, r := range c.Routes {
		for _, ve := range []string{r.From, r.To} {
			vendor, _, _ := strings.Cut(ve, ".")
			used[vendor] = true
		}
	}
	for _, s := range c.sections() {
		switch {
		case s.Section != nil:
			s.Validate(prefixed(add, s.name))
		case !used[s.name]:
		case s.name == "kafka":
			add("kafka", "a route writes the Kafka change stream but the kafka section is missing (brokers, lead_topic, client_topic)")
		default:
			add(s.name, "a route uses %s but the %s section is missing", s.title, s.name)
		}
	}
}

// SecretValue is one secret of a section and its path in it.
type SecretValue struct {
	Path  string // e.g. "api_key", "auth.token"
	Value Secret
}

// SecretsOf lists every Secret field of a section (a pointer to a struct,
// nested structs included), by the path of its YAML keys.
func SecretsOf(s any) []SecretValue {
	var out []SecretValue
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if f.Type == reflect.TypeFor[Secret]() {
				if sv := v.Field(i).Interface().(Secret); sv != "" {
					out = append(out, SecretValue{Path: join(path, name), Value: sv})
				}
				continue
			}
			walk(v.Field(i), join(path, name))
		}
	}
	walk(reflect.ValueOf(s), "")
	return out
}
