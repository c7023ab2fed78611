// Package config is crmsync's configuration: one typed tree read from YAML,
// with ${VAR} expansion from the environment for secrets, defaults applied
// in one place, and validation that reports every problem with its path.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/crmsync/crmsync/mappings"
)

// Config is the whole configuration of one crmsync instance.
type Config struct {
	// DataDir holds the state database and the embedded bus's files.
	// Default "./crmsync-data".
	DataDir string     `yaml:"data_dir"`
	Log     LogConfig  `yaml:"log"`
	HTTP    HTTPConfig `yaml:"http"`
	Bus     BusConfig  `yaml:"bus"`
	// State chooses where the identity map, ledger, cursors, rate windows
	// and dead letters live.
	State StateConfig `yaml:"state"`

	SharpSpring *SharpSpringConfig `yaml:"sharpspring"`
	LeadExec    *LeadExecConfig    `yaml:"leadexec"`
	IVvy        *IVvyConfig        `yaml:"ivvy"`
	Getlead     *GetleadConfig     `yaml:"getlead"`
	// Kafka is where routes to kafka.lead and kafka.client publish the
	// canonical change stream (for warehouses and other consumers).
	Kafka *KafkaTargetConfig `yaml:"kafka"`

	// Catalog lists custom fields by each vendor's stable identifier.
	Catalog []mappings.CatalogField `yaml:"catalog"`
	// Ownership names, per canonical lead field (first_name, lead_status,
	// or a catalog name), the vendor that owns it: only that vendor's
	// changes overwrite the field in other systems. Routes from any other
	// vendor write it only when they create the record in the target.
	// Fields not listed are owned by whoever changed them last.
	Ownership map[string]string `yaml:"ownership"`
	Routes    []RouteConfig     `yaml:"routes"`

	// Sections are the sections of vendors added by connectors (see
	// RegisterVendor), by vendor name: each is a top-level key of the file.
	Sections map[string]Section `yaml:"-"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// HTTPConfig is the listener for webhooks and, unless AdminListen moves
// them, /status, /metrics, /healthz and /readyz. The limits and timeouts
// apply to every listener.
type HTTPConfig struct {
	Listen string `yaml:"listen"` // default "127.0.0.1:8080"
	// AdminListen (host:port), when set, serves /status, /metrics, /healthz
	// and /readyz on a listener of their own, which can stay on a private
	// interface while Listen faces the vendors; only webhooks are then
	// served on Listen. Default empty: everything on Listen.
	AdminListen string `yaml:"admin_listen"`
	// AdminToken, when set, must be sent as "Authorization: Bearer <token>"
	// to read /status and /metrics (on whichever listener serves them);
	// /healthz and /readyz stay open for probes. Give it as ${ENV}.
	// `crmsync status` sends it. Default empty: no token.
	AdminToken Secret `yaml:"admin_token"`
	// MaxHeaderBytes bounds a request's header lines; a larger header is
	// answered 431 without being read further. Default 65536 (64 KiB),
	// within 4096..1048576.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ReadHeaderTimeout bounds reading a request's header; default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included; default 60s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request from the end of its header to the end of
	// its answer (body read, the bus's acknowledgement of a webhook, the
	// answer itself); default 90s, at least read_timeout.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request; default 60s.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Defaults of the HTTP listeners.
const (
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 90 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
)

// AdminAddr is the address that serves /status and /metrics: AdminListen
// when set, else Listen.
func (h HTTPConfig) AdminAddr() string {
	if h.AdminListen != "" {
		return h.AdminListen
	}
	return h.Listen
}

// StateConfig chooses where the instance keeps its state.
type StateConfig struct {
	// Kind is "sqlite" (default): data_dir/state.db, the whole state of one
	// machine; or "nats": a key-value bucket on the NATS cluster of the
	// bus, shared by every instance on it (one identity map, ledger and
	// rate window per vendor account across instances). nats needs
	// bus.kind nats.
	Kind string `yaml:"kind"`
	// Bucket is the key-value bucket of kind nats; default "crmsync_state".
	Bucket string `yaml:"bucket"`
	// Replicas of the bucket (kind nats); default 1; use 3 on a cluster,
	// like the stream.
	Replicas int `yaml:"replicas"`
	// LeaseTTL (kind nats) is how long an instance's lease on a poller,
	// client poller or safety net lasts without renewal: when an instance
	// dies, another takes its pollers over within about this long; default
	// 15s, at least 3s.
	LeaseTTL Duration `yaml:"lease_ttl"`
}

// BusConfig chooses and configures the event bus.
type BusConfig struct {
	Kind  string      `yaml:"kind"` // "nats" (default) or "kafka"
	NATS  NATSConfig  `yaml:"nats"`
	Kafka KafkaConfig `yaml:"kafka"`
}

// KafkaConfig configures Kafka as the bus.
type KafkaConfig struct {
	Brokers    []string `yaml:"brokers"`    // host:port of the bootstrap brokers; required with kind kafka
	Partitions int      `yaml:"partitions"` // partitions of topics crmsync creates; default 1
	Replicas   int      `yaml:"replicas"`   // replication factor of those topics; default 1 (use 3 in production)
}

// NATSConfig configures NATS JetStream.
type NATSConfig struct {
	// URL of a NATS cluster; empty starts an embedded server in data_dir.
	URL string `yaml:"url"`
	// Listen exposes the embedded server to other clients (host:port);
	// empty keeps it in-process.
	Listen string `yaml:"listen"`
	// Stream name; default "CRM".
	Stream string `yaml:"stream"`
	// Replicas of the stream (and of the bucket where instances announce
	// themselves) on a NATS cluster (bus.nats.url); default 1, at most 5.
	// Use 3 on a cluster, like state.replicas, so the events outlive a
	// server. The embedded server is one server: more than 1 needs a URL.
	Replicas int `yaml:"replicas"`
	// DuplicateWindow: how long repeated publishes are dropped; default 1h.
	DuplicateWindow Duration `yaml:"duplicate_window"`
	// BackfillDuplicateWindow: the same for backfill events, which have a
	// stream of their own (<stream>_BACKFILL); default 10s. A page published
	// again after a crash is skipped by the routes' ledger, and a short
	// window keeps a backfill of a large account from holding an id per
	// record in the server's memory.
	BackfillDuplicateWindow Duration `yaml:"backfill_duplicate_window"`
	// AckWait: how long an event delivered to a route (and not settled,
	// e.g. because the process died) waits before it is delivered again;
	// default 2m. Routes extend it while a batch is in the sink.
	AckWait Duration `yaml:"ack_wait"`
}

// SharpSpringConfig is one SharpSpring account.
type SharpSpringConfig struct {
	// Endpoint; default https://api.sharpspring.com/pubapi/v1.2/ (UTC times).
	Endpoint string `yaml:"endpoint"`
	// TimeZone is the time zone of the account's Company Profile (an IANA
	// name such as America/New_York). The v1 endpoint reads and writes
	// times in it, so it is required with v1: without it every poll window
	// and every date-time value would be off by the zone's offset. v1.2
	// works in UTC and does not use it.
	TimeZone  string `yaml:"time_zone"`
	AccountID string `yaml:"account_id"`
	SecretKey Secret `yaml:"secret_key"`
	// RatePerSecond is the account's shared request rate; default 9,
	// at most 10 (SharpSpring's limit).
	RatePerSecond float64 `yaml:"rate_per_second"`
	// DailyQuota is requests per UTC day; default 50000. It is crmsync's
	// own count, reset at 00:00 UTC.
	DailyQuota int `yaml:"daily_quota"`
	// QuotaProbeInterval is how long writes and polls pause when SharpSpring
	// itself answers 106 (daily method call limit). Its reset time is not
	// documented, so after each pause one request probes whether the limit
	// has lifted; default 1h, must be positive.
	QuotaProbeInterval Duration `yaml:"quota_probe_interval"`
	// Timeout per request; default 60s.
	Timeout Duration `yaml:"timeout"`
	// FieldCheckInterval is how often the catalog's system names are checked
	// against getFields while running (at start-up they always are); default
	// 1h, negative turns it off.
	FieldCheckInterval Duration `yaml:"field_check_interval"`
	// Poller reads changed leads when a route reads sharpspring.lead.
	Poller SharpSpringPollerConfig `yaml:"poller"`
	// ClientPoller reads agency clients when a route reads
	// sharpspring.client.
	ClientPoller ClientPollerConfig `yaml:"client_poller"`
	// Unlimited drops the request rate limit. It cannot be set from a file:
	// only the demo and benchmarks use it, against the simulator.
	Unlimited bool `yaml:"-"`
}

// IVvyConfig is one iVvy account.
type IVvyConfig struct {
	// Endpoint is the API base URL; it wins over Region.
	Endpoint string `yaml:"endpoint"`
	// Region picks https://api.<region>.ivvy.com: au, us, eu or uk.
	Region string `yaml:"region"`
	// APIKey is sent with every request; like the secret it is never
	// shown (the account label holds a hash of it, see Account).
	APIKey    Secret `yaml:"api_key"`
	APISecret Secret `yaml:"api_secret"`
	// RatePerSecond is the account's shared request rate; default 3 (iVvy
	// publishes no number; it answers 429 when pushed).
	RatePerSecond float64  `yaml:"rate_per_second"`
	Timeout       Duration `yaml:"timeout"` // per request; default 30s
	// LeadDefaults name the lookup-list entries new leads get (resolved by
	// name from iVvy's lists at start-up).
	LeadDefaults IVvyLeadDefaults `yaml:"lead_defaults"`
	Poller       PollerConfig     `yaml:"poller"`
}

// IVvyLeadDefaults are lookup-list names for new iVvy leads.
type IVvyLeadDefaults struct {
	Source   string `yaml:"source"`
	Type     string `yaml:"type"`
	Subtype  string `yaml:"subtype"`
	Stage    string `yaml:"stage"`
	Quality  string `yaml:"quality"`
	Industry string `yaml:"industry"`
	Channel  string `yaml:"channel"`
}

// GetleadConfig is one Getlead CRM account.
type GetleadConfig struct {
	// Mode is how leads are written: "classic" (token API, default) or "v3".
	Mode string `yaml:"mode"`
	// BaseURL of the classic API; default https://app.getleadcrm.com (UK
	// accounts: https://app.getlead.co.uk).
	BaseURL string `yaml:"base_url"`
	// V3BaseURL of the V3 REST API; default https://v3.getleadcrm.com/api/v1.
	V3BaseURL string `yaml:"v3_base_url"`
	Token     Secret `yaml:"token"`   // classic gl_ token (mode classic)
	APIKey    Secret `yaml:"api_key"` // V3 ik_ key (mode v3, and the poller)
	// CountryCode applies to phone numbers written without one; default 91.
	CountryCode string `yaml:"country_code"`
	// Source names crmsync as the leads' source in Getlead; default crmsync.
	Source        string   `yaml:"source"`
	RatePerSecond float64  `yaml:"rate_per_second"` // default 5 (undocumented by Getlead)
	Timeout       Duration `yaml:"timeout"`         // default 30s
	// RateLimitWait is how long writes pause after a 429 that does not say
	// how long to wait (Getlead documents no limits); default 1m.
	RateLimitWait Duration     `yaml:"rate_limit_wait"`
	Poller        PollerConfig `yaml:"poller"`
	// FieldCheckInterval is how often, in v3 mode, the custom fields'
	// types and options are read again from GET /meta after start-up;
	// default 1h, negative: start-up only.
	FieldCheckInterval Duration `yaml:"field_check_interval"`
}

// KafkaTargetConfig configures the Kafka change stream: routes to
// kafka.lead and kafka.client publish each record they write as one JSON
// message (schema crmsync.change.v1), keyed by the record's canonical id,
// acknowledged by every in-sync replica before the route moves on.
type KafkaTargetConfig struct {
	// Brokers are the bootstrap addresses (host:port); default
	// bus.kafka.brokers when the bus is Kafka.
	Brokers []string `yaml:"brokers"`
	// LeadTopic receives lead changes; default "crmsync.leads".
	LeadTopic string `yaml:"lead_topic"`
	// ClientTopic receives client changes; default "crmsync.clients".
	ClientTopic string `yaml:"client_topic"`
	// Partitions and Replicas of the topics when crmsync creates them at
	// start-up (an existing topic is used as it is); default 1 each (use
	// 3 replicas in production).
	Partitions int `yaml:"partitions"`
	Replicas   int `yaml:"replicas"`
	// MaxMessageBytes is the largest change sent; default 1000000 (the
	// broker's default message.max.bytes). A larger one is dead-lettered.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// WriteTimeout bounds one produce request; default 10s.
	WriteTimeout Duration `yaml:"write_timeout"`
}

// PollerConfig configures a vendor's poller, which runs when a route reads
// from the vendor.
type PollerConfig struct {
	Interval Duration `yaml:"interval"` // between polls; default 1m
	// Since is where the first poll starts when no position is saved.
	// Default: the source's whole history (crmsync backfill is the
	// paced way to load history; set since to start live sync from a point).
	Since time.Time `yaml:"since"`
}

// SharpSpringPollerConfig configures the SharpSpring lead poller
// (getLeadsDateRange over [cursor − overlap, now − lag]).
type SharpSpringPollerConfig struct {
	Interval Duration `yaml:"interval"` // between polls; default 1m
	Overlap  Duration `yaml:"overlap"`  // re-read before the cursor; default 2m
	Lag      Duration `yaml:"lag"`      // keep clear of in-flight writes; default 30s
	// PageSize is the getLeadsDateRange limit; default and maximum 500,
	// the most objects SharpSpring documents per request (a larger limit is
	// only observed to work, and one capped in silence would lose leads).
	PageSize int `yaml:"page_size"`
	// SweepInterval is how often a full getLeads sweep finds deactivated and
	// deleted leads; default 24h, negative turns it off.
	SweepInterval Duration `yaml:"sweep_interval"`
	// Since is where a first poll starts; default now.
	Since time.Time `yaml:"since"`
}

// LeadExecConfig configures LeadExec: the receiver of its webhook
// deliveries, and the accounts of the APIs crmsync calls.
type LeadExecConfig struct {
	// APIURL serves the account APIs (ASMX service.asmx, REST /v1/clients)
	// and OAuth tokens; default https://api.leadexec.net.
	APIURL string `yaml:"api_url"`
	// LeadsURL is the lead receiver; default https://leads.leadexec.net.
	LeadsURL string `yaml:"leads_url"`
	// DataURL is the lead data query API; default https://apidata.leadexec.net.
	DataURL string `yaml:"data_url"`
	// Key is the ASMX account API key: needed to read and write LeadExec
	// clients (GetClientList, GetClientData, AddEditClient) and to check
	// the fields of the lead types crmsync posts to or reads
	// (GetLeadFields).
	Key Secret `yaml:"key"`
	// ASMXNamespace is the XML namespace of service.asmx, in which
	// AddEditClient's SOAP request is written; default http://tempuri.org/
	// (LeadExec does not document its own).
	ASMXNamespace string `yaml:"asmx_namespace"`
	// FieldCheckInterval is how often the lead types' fields are read
	// again (GetLeadFields) after the check at start-up; default 1h,
	// negative: only at start-up.
	FieldCheckInterval Duration `yaml:"field_check_interval"`
	// ClientID and ClientSecret are the OAuth client credentials of the
	// lead data API (the safety net, and settling a post whose answer could
	// not be read).
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// Timeout per request; default 60s.
	Timeout Duration `yaml:"timeout"`
	// Webhook receives LeadExec's deliveries when a route reads
	// leadexec.lead.
	Webhook WebhookConfig `yaml:"webhook"`
	// Receiver posts leads when a route writes leadexec.lead.
	Receiver LeadExecReceiverConfig `yaml:"receiver"`
	// SafetyNet polls the lead data API for deliveries that never reached
	// the webhook, when a route reads leadexec.lead and lead types are set.
	SafetyNet LeadExecSafetyNetConfig `yaml:"safety_net"`
	// ClientPoller reads LeadExec clients when a route reads
	// leadexec.client.
	ClientPoller ClientPollerConfig `yaml:"client_poller"`
}

// LeadExecReceiverConfig is the posting setup of LeadExec's lead receiver,
// from the campaign's posting instructions.
type LeadExecReceiverConfig struct {
	// Version is v2 (JSON, several leads per request, api-key; default) or
	// v1 (form post, one lead per request).
	Version string `yaml:"version"`
	VID     int64  `yaml:"vid"` // lead source; required
	LID     int64  `yaml:"lid"` // lead type; required
	AID     int64  `yaml:"aid"` // campaign; 0 lets LeadExec pick
	// APIKey is the V2 api-key header (required with v2).
	APIKey Secret `yaml:"api_key"`
	// Password is the V1 posting password, when the instructions have one.
	Password Secret `yaml:"password"`
	// SendDelay is V2's sendDelay in hours; default 0 (at once).
	SendDelay int `yaml:"send_delay"`
	// MaxLeadsPerPost bounds the leads of one V2 request; default 100.
	MaxLeadsPerPost int `yaml:"max_leads_per_post"`
}

// LeadExecSafetyNetConfig configures the poll of LeadExec's lead data API
// that finds leads whose webhook delivery never arrived.
type LeadExecSafetyNetConfig struct {
	// LeadTypes are the lead type UIDs to query: those whose every lead
	// LeadExec delivers to crmsync. Empty turns the safety net off.
	LeadTypes []int64  `yaml:"lead_types"`
	Interval  Duration `yaml:"interval"` // between polls; default 15m
	Lookback  Duration `yaml:"lookback"` // how far back each poll looks; default 24h
	// MinAge leaves out leads younger than this, whose delivery may still
	// be under way (LeadExec retries); default 10m.
	MinAge   Duration `yaml:"min_age"`
	PageSize int      `yaml:"page_size"` // leads per query page (Take); default 500
	// FieldMap renames lead fields (lead type name → name in the webhook
	// delivery) when the delivery's field mappings rename them.
	FieldMap map[string]string `yaml:"field_map"`
}

// ClientPollerConfig configures a client poller (a snapshot diff of a
// vendor's client list), which runs when a route reads the vendor's clients.
type ClientPollerConfig struct {
	Interval Duration `yaml:"interval"` // between snapshots; default 5m
}

// WebhookConfig is the receiver of LeadExec deliveries.
type WebhookConfig struct {
	Path           string `yaml:"path"`             // default /webhooks/leadexec
	BasicUser      string `yaml:"basic_user"`       // Basic auth user
	BasicPassword  Secret `yaml:"basic_password"`   // Basic auth password
	BearerToken    Secret `yaml:"bearer_token"`     // or a Bearer token
	SuccessText    string `yaml:"success_text"`     // default {"status":"success"}
	IDField        string `yaml:"id_field"`         // default LeadUID
	ChangedAtField string `yaml:"changed_at_field"` // optional change-time field
	MaxBodyBytes   int64  `yaml:"max_body_bytes"`   // default 1048576
}

// RouteConfig is one route from a vendor entity to another.
type RouteConfig struct {
	Name      string   `yaml:"name"`
	From      string   `yaml:"from"`       // <vendor>.<entity>
	To        string   `yaml:"to"`         // <vendor>.<entity>
	BatchSize int      `yaml:"batch_size"` // objects per write; default 500, at most 500
	Linger    Duration `yaml:"linger"`     // wait for a batch to fill; default 500ms
	// BatchesInFlight is how many batches the route handles at once: the
	// next is read against the state while one is written; default 2, at
	// most 4. Writes to the target stay one at a time.
	BatchesInFlight int `yaml:"batches_in_flight"`
	// StatusMap translates lead statuses from the source's vocabulary to
	// the target's (e.g. SharpSpring "qualified" → Getlead "Hot"). Statuses
	// without an entry are not written; without a map none are.
	StatusMap map[string]string `yaml:"status_map"`
	// Reconcile compares the whole source with the target on a schedule
	// and repairs what drifted (see ReconcileConfig). Default off.
	Reconcile ReconcileConfig `yaml:"reconcile"`
}

// ReconcileConfig schedules a route's reconciliation: every Interval the
// route's source is paged through (its history pager, within the account's
// rate window and outside the live quota reserve) and every record is
// compared with the target field by field; after Grace, the records that
// still differ the same way are written again. `crmsync verify` runs the
// comparison once, by hand, without writing.
type ReconcileConfig struct {
	// Interval between passes; 0 (default) turns reconciliation off;
	// otherwise at least 1s (use hours on real accounts: a pass reads the
	// whole source and one target read per batch of records).
	Interval Duration `yaml:"interval"`
	// Grace lets changes on their way through pollers land before a
	// difference counts as drift and is repaired; default 5m, at most the
	// interval.
	Grace Duration `yaml:"grace"`
}

// Secret is a string that never prints.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `config.Secret("[redacted]")` }

// Value returns the secret itself, for the one place that sends it.
func (s Secret) Value() string { return string(s) }

// MarshalYAML hides the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a time.Duration written as "500ms", "1m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	// A *yaml.TypeError lets decoding go on, so that every problem of the
	// file is reported at once.
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s into config.Duration", n.Line, n.ShortTag())}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (e.g. 500ms, 2m)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Load reads, expands and validates a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, os.LookupEnv)
}

// Parse decodes YAML, expanding ${VAR} in values with lookup, applies
// defaults and validates. The error lists every problem found, each with
// its path.
func Parse(b []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var errs []error
	expanded := map[string]envValue{}
	expand(&root, "", lookup, &errs, expanded)
	checkTextValues(&root, reflect.TypeFor[Config](), "", expanded, &errs)
	sections := splitSections(&root)
	out, err := yaml.Marshal(&root)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	if sections != nil {
		decodeSections(&c, sections, expanded, &errs)
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		var doc yaml.Node
		if !errors.As(err, &te) || yaml.Unmarshal(out, &doc) != nil {
			return nil, &Errors{redact(append(errs, fmt.Errorf("config: %w", err)), expanded)}
		}
		errs = withoutReported(errs, decodeProblems(te, &doc, expanded))
	}
	c.ApplyDefaults()
	var ve *Errors
	if err := c.Validate(); errors.As(err, &ve) {
		errs = withoutReported(errs, ve.List)
	} else if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, &Errors{redact(errs, expanded)}
	}
	return &c, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in scalar values, recording a missing variable with
// its config path (never its value) and, in expanded, every value it
// changed by path.
func expand(n *yaml.Node, path string, lookup func(string) (string, bool), errs *[]error, expanded map[string]envValue) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			expand(c, path, lookup, errs, expanded)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expand(n.Content[i+1], join(path, n.Content[i].Value), lookup, errs, expanded)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expand(c, fmt.Sprintf("%s[%d]", path, i), lookup, errs, expanded)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		ref := n.Value
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := m[2 : len(m)-1]
			v, ok := lookup(name)
			if !ok {
				*errs = append(*errs, fmt.Errorf("%s: environment variable %s is not set", path, name))
			}
			return v
		})
		expanded[path] = envValue{ref: ref, value: n.Value}
		n.Tag = "!!str"
		n.Style = yaml.DoubleQuotedStyle
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Errors is every validation problem of a config.
type Errors struct{ List []error }

func (e *Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config has %d problem(s):", len(e.List))
	for _, err := range e.List {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}
