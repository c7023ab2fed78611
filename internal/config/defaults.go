package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/getlead"
	levendor "github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// ApplyDefaults fills every unset value with its documented default.
func (c *Config) ApplyDefaults() {
	setDefault(&c.DataDir, "./crmsync-data")
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "text")
	setDefault(&c.HTTP.Listen, "127.0.0.1:8080")
	c.HTTP.applyDefaults()
	setDefault(&c.Bus.Kind, "nats")
	setDefault(&c.State.Kind, "sqlite")
	if c.State.Kind == "nats" {
		setDefault(&c.State.Bucket, "crmsync_state")
		setDefault(&c.State.Replicas, 1)
		setDefault(&c.State.LeaseTTL, Duration(15*time.Second))
	}
	setDefault(&c.Bus.NATS.Stream, "CRM")
	setDefault(&c.Bus.NATS.Replicas, 1)
	setDefault(&c.Bus.NATS.DuplicateWindow, Duration(time.Hour))
	setDefault(&c.Bus.NATS.BackfillDuplicateWindow, Duration(10*time.Second))
	if k := c.Kafka; k != nil && len(k.Brokers) == 0 && c.Bus.Kind == "kafka" {
		k.Brokers = slices.Clone(c.Bus.Kafka.Brokers)
	}
	for _, s := range c.sections() {
		if s.Section != nil {
			s.ApplyDefaults()
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		limit, _ := maxBatch(r.To)
		setDefault(&r.BatchSize, limit)
		setDefault(&r.Linger, Duration(500*time.Millisecond))
		setDefault(&r.BatchesInFlight, 2)
		if r.Reconcile.Interval > 0 {
			setDefault(&r.Reconcile.Grace, Duration(min(5*time.Minute, r.Reconcile.Interval.Std())))
		}
		if r.Name == "" && r.From != "" && r.To != "" {
			r.Name = strings.ReplaceAll(r.From, ".", "-") + "-to-" + strings.ReplaceAll(r.To, ".", "-")
		}
	}
}

// setDefault sets *v to def when it is unset (the zero value).
// maxBatchesInFlight bounds routes[].batches_in_flight: more batches in
// flight only wait longer for the one write at a time.
const maxBatchesInFlight = 4

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Sources lists the <vendor>.<entity> a route can read, and Sinks those it
// can write.
var (
	Sources = []string{"leadexec.lead", "sharpspring.lead", "ivvy.lead", "getlead.lead", "sharpspring.client", "leadexec.client"}
	Sinks   = []string{"sharpspring.lead", "ivvy.lead", "getlead.lead", "leadexec.lead", "sharpspring.client", "leadexec.client", "kafka.lead", "kafka.client"}
)

func routeTargets(c *Config) []string {
	var out []string
	for _, r := range c.Routes {
		out = append(out, r.To)
	}
	return out
}

func routeSources(c *Config) []string {
	var out []string
	for _, r := range c.Routes {
		out = append(out, r.From)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Validate checks the whole config and returns *Errors listing every
// problem with its path, or nil.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "%q is not text or json", c.Log.Format)
	}
	validateHTTP(&c.HTTP, add)
	switch c.Bus.Kind {
	case "nats":
	case "kafka":
		if len(c.Bus.Kafka.Brokers) == 0 {
			add("bus.kafka.brokers", "at least one broker (host:port) is required with bus.kind kafka")
		}
	default:
		add("bus.kind", "%q is not nats or kafka", c.Bus.Kind)
	}
	switch c.State.Kind {
	case "sqlite":
	case "nats":
		if c.Bus.Kind != "nats" {
			add("state.kind", "nats keeps the state on the bus's NATS cluster; it needs bus.kind nats (with kafka, use sqlite)")
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(c.State.Bucket) {
			add("state.bucket", "%q is not a bucket name (letters, digits, - and _)", c.State.Bucket)
		}
		if c.State.Replicas < 1 || c.State.Replicas > 5 {
			add("state.replicas", "%d is outside 1..5", c.State.Replicas)
		}
		if c.State.LeaseTTL.Std() < 3*time.Second {
			add("state.lease_ttl", "%s is under 3s", c.State.LeaseTTL.Std())
		}
	default:
		add("state.kind", "%q is not sqlite or nats", c.State.Kind)
	}
	if c.Bus.NATS.URL != "" {
		// A comma-separated list names several servers of one cluster, so
		// that an instance can connect while one of them is down.
		for s := range strings.SplitSeq(c.Bus.NATS.URL, ",") {
			if u, err := url.Parse(strings.TrimSpace(s)); err != nil || u.Host == "" {
				add("bus.nats.url", "%q is not a URL such as nats://host:4222 (or a comma-separated list of them)", c.Bus.NATS.URL)
				break
			}
		}
	}
	switch r := c.Bus.NATS.Replicas; {
	case r < 1 || r > 5:
		add("bus.nats.replicas", "%d is outside 1..5", r)
	case r > 1 && c.Bus.Kind == "nats" && c.Bus.NATS.URL == "":
		add("bus.nats.replicas", "%d needs a NATS cluster (bus.nats.url): the embedded server is one node", r)
	}
	names := map[string]int{}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if prev, dup := names[r.Name]; dup {
			add(p+".name", "%q is also the name of routes[%d]", r.Name, prev)
		}
		names[r.Name] = i
		fromVendor, fromEntity, _ := strings.Cut(r.From, ".")
		toVendor, toEntity, _ := strings.Cut(r.To, ".")
		sources, sinks := routeSourcesList(), routeSinksList()
		fromOK, toOK := contains(sources, r.From), contains(sinks, r.To)
		if !fromOK {
			add(p+".from", "%q cannot be read (sources: %s)", r.From, strings.Join(sources, ", "))
		}
		if !toOK {
			add(p+".to", "%q cannot be written (targets: %s)", r.To, strings.Join(sinks, ", "))
		}
		if fromOK && toOK && fromVendor == toVendor {
			add(p, "route %s → %s stays within one vendor", r.From, r.To)
		}
		if fromOK && toOK && fromEntity != toEntity {
			add(p, "route %s → %s connects a %s to a %s; a route keeps its entity", r.From, r.To, fromEntity, toEntity)
		}
		if limit, title := maxBatch(r.To); r.BatchSize < 1 || r.BatchSize > limit {
			why := "SharpSpring takes at most 500 objects per request"
			if title != "" {
				why = fmt.Sprintf("%s takes at most %d objects per write", title, limit)
			}
			add(p+".batch_size", "%d is outside 1..%d (%s)", r.BatchSize, limit, why)
		}
		if r.To == "sharpspring.lead" {
			checkSharpSpringStatuses(add, p, r)
		}
		if r.Linger < 0 || r.Linger.Std() > time.Minute {
			add(p+".linger", "%s is outside 0..1m", r.Linger.Std())
		}
		if r.BatchesInFlight < 1 || r.BatchesInFlight > maxBatchesInFlight {
			add(p+".batches_in_flight", "%d is outside 1..%d", r.BatchesInFlight, maxBatchesInFlight)
		}
		if rc := r.Reconcile; rc.Interval != 0 {
			switch {
			case rc.Interval.Std() < time.Second:
				add(p+".reconcile.interval", "%s is below 1s (0 turns reconciliation off)", rc.Interval.Std())
			case rc.Grace < 0 || rc.Grace > rc.Interval:
				add(p+".reconcile.grace", "%s is outside 0..%s (the interval)", rc.Grace.Std(), rc.Interval.Std())
			}
			if toOK && !readsBack(r.To) {
				add(p+".reconcile", "%s cannot be read back, so it cannot be compared with its source", r.To)
			}
		}
	}
	if len(c.Routes) == 0 {
		add("routes", "no route configured; nothing would be synced")
	}
	cat, _ := mappings.NewCatalog(c.Catalog)
	for _, f := range slices.Sorted(maps.Keys(c.Ownership)) {
		v := c.Ownership[f]
		if !mappings.IsLeadField(cat, f) {
			add("ownership."+f, "%q is not a canonical lead field (first_name, email, lead_status, …) or a catalog name", f)
		}
		if vendors := vendorNames(); !contains(vendors, v) {
			add("ownership."+f, "%q is not a vendor (%s)", v, strings.Join(vendors, ", "))
		}
	}
	validateSections(c, add)
	if g := c.Getlead; g != nil && g.APIKey == "" && contains(routeSources(c), "getlead.lead") {
		add("getlead.api_key", "is required to read Getlead leads (the poller uses the V3 API)")
	}
	if l := c.LeadExec; l != nil {
		validateLeadExecParts(c, l, add)
	}
	if _, cerrs := mappings.NewCatalog(c.Catalog); len(cerrs) > 0 {
		errs = append(errs, cerrs...)
	}
	if len(errs) > 0 {
		return &Errors{errs}
	}
	return nil
}

// ApplyDefaults fills the LeadExec section's unset values.
func (l *LeadExecConfig) ApplyDefaults() {
	w := &l.Webhook
	setDefault(&w.Path, levendor.DefaultWebhookPath)
	setDefault(&w.SuccessText, levendor.DefaultWebhookSuccessText)
	setDefault(&w.IDField, levendor.DefaultWebhookIDField)
	setDefault(&w.MaxBodyBytes, levendor.DefaultWebhookMaxBody)
	setDefault(&l.APIURL, levendor.DefaultAPIURL)
	setDefault(&l.LeadsURL, levendor.DefaultLeadsURL)
	setDefault(&l.DataURL, levendor.DefaultDataURL)
	setDefault(&l.Timeout, Duration(60*time.Second))
	setDefault(&l.FieldCheckInterval, Duration(time.Hour))
	setDefault(&l.ASMXNamespace, levendor.DefaultNamespace)
	r := &l.Receiver
	setDefault(&r.Version, levendor.ReceiverV2)
	setDefault(&r.MaxLeadsPerPost, levendor.DefaultMaxLeadsPerPost)
	n := &l.SafetyNet
	setDefault(&n.Interval, Duration(levendor.DefaultSafetyNetInterval))
	setDefault(&n.Lookback, Duration(levendor.DefaultSafetyNetLookback))
	setDefault(&n.MinAge, Duration(levendor.DefaultSafetyNetMinAge))
	setDefault(&n.PageSize, levendor.DefaultSafetyNetPageSize)
	setDefault(&l.ClientPoller.Interval, Duration(levendor.DefaultClientInterval))
}

// Validate reports the LeadExec section's problems that do not depend on
// the routes, by path within it; validateLeadExecParts checks what the
// parts the routes use need.
func (l *LeadExecConfig) Validate(add func(path, format string, args ...any)) {
	for _, u := range []struct{ path, v string }{{"api_url", l.APIURL}, {"leads_url", l.LeadsURL}, {"data_url", l.DataURL}} {
		pu, err := url.Parse(u.v)
		switch {
		case err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "":
			add(u.path, "%q is not an absolute http(s) URL", u.v)
		case pu.User != nil || pu.RawQuery != "":
			// Quoting it would print the credentials.
			add(u.path, "must not carry credentials or a query (credentials have their own keys)")
		}
	}
	if l.Timeout <= 0 {
		add("timeout", "%s must be positive", l.Timeout.Std())
	}
}

// validateLeadExecParts checks the leadexec section against the routes:
// what a part needs is required only when a route uses that part.
func validateLeadExecParts(c *Config, l *LeadExecConfig, add func(path, format string, args ...any)) {
	from, to := routeSources(c), routeTargets(c)
	readsLeads, writesLeads := contains(from, "leadexec.lead"), contains(to, "leadexec.lead")
	readsClients, writesClients := contains(from, "leadexec.client"), contains(to, "leadexec.client")
	if readsLeads {
		w := l.Webhook
		if !strings.HasPrefix(w.Path, "/") {
			add("leadexec.webhook.path", "%q must start with /", w.Path)
		}
		if w.BasicUser == "" && w.BearerToken == "" {
			add("leadexec.webhook", "set basic_user/basic_password or bearer_token: an open webhook lets anyone inject leads")
		}
		if w.BasicUser != "" && w.BasicPassword == "" {
			add("leadexec.webhook.basic_password", "is required with basic_user")
		}
		if w.MaxBodyBytes < 1024 || w.MaxBodyBytes > 16<<20 {
			add("leadexec.webhook.max_body_bytes", "%d is outside 1024..16777216", w.MaxBodyBytes)
		}
	}
	var keyFor []string
	if readsClients || writesClients {
		keyFor = append(keyFor, "to read and write LeadExec clients (GetClientList, GetClientData, AddEditClient)")
	}
	if writesLeads || (readsLeads && len(l.SafetyNet.LeadTypes) > 0) {
		keyFor = append(keyFor, "to check the lead types' fields (GetLeadFields)")
	}
	if len(keyFor) > 0 && l.Key == "" {
		add("leadexec.key", "is required %s; use ${LEADEXEC_KEY}", strings.Join(keyFor, " and "))
	}
	var oauthFor []string
	if readsClients {
		checkInterval(add, "leadexec.client_poller.interval", l.ClientPoller.Interval)
	}
	if writesLeads {
		r := l.Receiver
		switch r.Version {
		case levendor.ReceiverV1:
		case levendor.ReceiverV2:
			if r.APIKey == "" {
				add("leadexec.receiver.api_key", "is required with version v2 (use ${LEADEXEC_POSTING_API_KEY})")
			}
		default:
			add("leadexec.receiver.version", "%q is not v2 or v1", r.Version)
		}
		if r.VID <= 0 {
			add("leadexec.receiver.vid", "is required (the lead source id of the posting instructions)")
		}
		if r.LID <= 0 {
			add("leadexec.receiver.lid", "is required (the lead type id of the posting instructions)")
		}
		if r.AID < 0 {
			add("leadexec.receiver.aid", "%d is negative (0 lets LeadExec pick the campaign)", r.AID)
		}
		if r.SendDelay < 0 {
			add("leadexec.receiver.send_delay", "%d hours is negative", r.SendDelay)
		}
		if r.MaxLeadsPerPost < 1 || r.MaxLeadsPerPost > 500 {
			add("leadexec.receiver.max_leads_per_post", "%d is outside 1..500", r.MaxLeadsPerPost)
		}
	}
	if n := l.SafetyNet; readsLeads && len(n.LeadTypes) > 0 {
		oauthFor = append(oauthFor, "for the safety net (the lead data API)")
		for i, lt := range n.LeadTypes {
			if lt <= 0 {
				add(fmt.Sprintf("leadexec.safety_net.lead_types[%d]", i), "%d is not a lead type id", lt)
			}
		}
		checkInterval(add, "leadexec.safety_net.interval", n.Interval)
		if n.MinAge < 0 {
			add("leadexec.safety_net.min_age", "%s is negative", n.MinAge.Std())
		}
		if n.Lookback.Std() <= n.MinAge.Std() || n.Lookback.Std() > 31*24*time.Hour {
			add("leadexec.safety_net.lookback", "%s must be longer than min_age (%s) and at most 744h", n.Lookback.Std(), n.MinAge.Std())
		}
		if n.PageSize < 1 || n.PageSize > 500 {
			add("leadexec.safety_net.page_size", "%d is outside 1..500", n.PageSize)
		}
	}
	if len(oauthFor) > 0 {
		why := strings.Join(oauthFor, " and ")
		if l.ClientID == "" {
			add("leadexec.client_id", "is required %s", why)
		}
		if l.ClientSecret == "" {
			add("leadexec.client_secret", "is required %s (use ${LEADEXEC_CLIENT_SECRET})", why)
		}
	}
}

// absoluteURL reports whether s is a URL with a scheme and a host.
func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}

// checkInterval reports an interval under a second.
func checkInterval(add func(path, format string, args ...any), path string, d Duration) {
	if d.Std() < time.Second {
		add(path, "%s is under 1s", d.Std())
	}
}

// checkSharpSpringStatuses checks the targets of a route's status_map
// into SharpSpring leads: leadStatus is a picklist that takes only
// SharpSpring's own statuses, so a lead with any other would be refused
// (and every write carrying it dead-lettered).
func checkSharpSpringStatuses(add func(path, format string, args ...any), p string, r RouteConfig) {
	for _, from := range slices.Sorted(maps.Keys(r.StatusMap)) {
		to := r.StatusMap[from]
		if !slices.Contains(sharpspring.LeadStatuses, to) {
			add(p+".status_map."+from, "route %q maps status %q to %q, which SharpSpring's leadStatus does not take; allowed: %s",
				r.Name, from, to, strings.Join(sharpspring.LeadStatuses, ", "))
		}
	}
}

// ApplyDefaults fills the SharpSpring section's unset values.
func (s *SharpSpringConfig) ApplyDefaults() {
	setDefault(&s.Endpoint, sharpspring.DefaultEndpoint)
	setDefault(&s.RatePerSecond, 9)
	setDefault(&s.DailyQuota, 50000)
	setDefault(&s.Timeout, Duration(60*time.Second))
	setDefault(&s.QuotaProbeInterval, Duration(time.Hour))
	setDefault(&s.FieldCheckInterval, Duration(time.Hour))
	p := &s.Poller
	setDefault(&p.Interval, Duration(time.Minute))
	setDefault(&p.Overlap, Duration(2*time.Minute))
	setDefault(&p.Lag, Duration(30*time.Second))
	setDefault(&p.PageSize, 500)
	setDefault(&p.SweepInterval, Duration(24*time.Hour))
	setDefault(&s.ClientPoller.Interval, Duration(5*time.Minute))
}

// Validate reports the SharpSpring section's problems, by path within it.
func (s *SharpSpringConfig) Validate(add func(path, format string, args ...any)) {
	if !absoluteURL(s.Endpoint) {
		add("endpoint", "%q is not an absolute URL", s.Endpoint)
	}
	switch {
	case s.TimeZone != "":
		if _, err := sharpspring.LoadZone(s.TimeZone); err != nil {
			add("time_zone", "%v", err)
		}
	case sharpspring.LocalTimeEndpoint(s.Endpoint):
		add("time_zone", "is required with the v1 endpoint %q: v1 reads and writes times in the zone of the account's "+
			"Company Profile, and without it poll windows and date-time values would be off by that zone's offset; "+
			"set it to that zone (e.g. America/New_York), or use the v1.2 endpoint %q, which works in UTC",
			s.Endpoint, sharpspring.DefaultEndpoint)
	}
	if s.AccountID == "" {
		add("account_id", "is required")
	}
	if s.SecretKey == "" {
		add("secret_key", "is required (use ${SHARPSPRING_SECRET_KEY} to read it from the environment)")
	}
	if s.RatePerSecond <= 0 || s.RatePerSecond > 10 {
		add("rate_per_second", "%g is outside (0, 10]: SharpSpring allows at most 10 requests per second", s.RatePerSecond)
	}
	if s.DailyQuota < 1 {
		add("daily_quota", "%d must be positive", s.DailyQuota)
	}
	if s.QuotaProbeInterval <= 0 {
		add("quota_probe_interval", "%s must be positive", s.QuotaProbeInterval.Std())
	}
	checkInterval(add, "poller.interval", s.Poller.Interval)
	// SharpSpring documents at most 500 objects per request.
	if s.Poller.PageSize < 1 || s.Poller.PageSize > 500 {
		add("poller.page_size", "%d is outside 1..500 (SharpSpring documents at most 500 objects per request)", s.Poller.PageSize)
	}
	checkInterval(add, "client_poller.interval", s.ClientPoller.Interval)
}

// ApplyDefaults fills the iVvy section's unset values.
func (v *IVvyConfig) ApplyDefaults() {
	setDefault(&v.RatePerSecond, 3)
	setDefault(&v.Timeout, Duration(30*time.Second))
	setDefault(&v.Poller.Interval, Duration(time.Minute))
}

// Validate reports the iVvy section's problems, by path within it.
func (v *IVvyConfig) Validate(add func(path, format string, args ...any)) {
	if v.Endpoint == "" {
		switch v.Region {
		case "au", "us", "eu", "uk":
		default:
			add("region", "%q is not au, us, eu or uk (or set ivvy.endpoint)", v.Region)
		}
	} else if !absoluteURL(v.Endpoint) {
		add("endpoint", "%q is not an absolute URL", v.Endpoint)
	}
	if v.APIKey == "" {
		add("api_key", "is required")
	}
	if v.APISecret == "" {
		add("api_secret", "is required (use ${IVVY_API_SECRET})")
	}
	if v.RatePerSecond <= 0 || v.RatePerSecond > 1000 {
		add("rate_per_second", "%g is outside (0, 1000]", v.RatePerSecond)
	}
	checkInterval(add, "poller.interval", v.Poller.Interval)
}

// ApplyDefaults fills the Getlead section's unset values.
func (g *GetleadConfig) ApplyDefaults() {
	setDefault(&g.Mode, "classic")
	setDefault(&g.BaseURL, getlead.DefaultClassicBaseURL)
	setDefault(&g.V3BaseURL, getlead.DefaultV3BaseURL)
	setDefault(&g.CountryCode, mappings.DefaultGetleadCountryCode)
	setDefault(&g.Source, "crmsync")
	setDefault(&g.RatePerSecond, 5)
	setDefault(&g.Timeout, Duration(30*time.Second))
	setDefault(&g.RateLimitWait, Duration(time.Minute))
	setDefault(&g.Poller.Interval, Duration(time.Minute))
	setDefault(&g.FieldCheckInterval, Duration(time.Hour))
}

// Validate reports the Getlead section's problems, by path within it.
// Whether the V3 key is needed to read leads depends on the routes, which
// Config.Validate checks.
func (g *GetleadConfig) Validate(add func(path, format string, args ...any)) {
	switch g.Mode {
	case "classic":
		if g.Token == "" {
			add("token", "is required in classic mode (use ${GETLEAD_TOKEN})")
		}
	case "v3":
		if g.APIKey == "" {
			add("api_key", "is required in v3 mode (use ${GETLEAD_API_KEY})")
		}
	default:
		add("mode", "%q is not classic or v3", g.Mode)
	}
	for _, u := range []struct{ path, v string }{{"base_url", g.BaseURL}, {"v3_base_url", g.V3BaseURL}} {
		if !absoluteURL(u.v) {
			add(u.path, "%q is not an absolute URL", u.v)
		}
	}
	if _, err := mappings.NormalizePhone("+"+g.CountryCode+"9876543210", g.CountryCode); err != nil || len(g.CountryCode) > 3 {
		add("country_code", "%q is not a country calling code such as 91", g.CountryCode)
	}
	if g.RatePerSecond <= 0 || g.RatePerSecond > 1000 {
		add("rate_per_second", "%g is outside (0, 1000]", g.RatePerSecond)
	}
	if g.RateLimitWait < 0 {
		add("rate_limit_wait", "%s must be positive", g.RateLimitWait.Std())
	}
}

// ApplyDefaults fills the change stream's unset values (the brokers
// default to the bus's, which Config.ApplyDefaults sets).
func (k *KafkaTargetConfig) ApplyDefaults() {
	setDefault(&k.LeadTopic, "crmsync.leads")
	setDefault(&k.ClientTopic, "crmsync.clients")
	setDefault(&k.Partitions, 1)
	setDefault(&k.Replicas, 1)
	setDefault(&k.MaxMessageBytes, 1_000_000)
	setDefault(&k.WriteTimeout, Duration(10*time.Second))
}

// Validate reports the change stream's problems, by path within its
// section.
func (k *KafkaTargetConfig) Validate(add func(path, format string, args ...any)) {
	if len(k.Brokers) == 0 {
		add("brokers", "at least one broker (host:port) is required (or use bus.kind kafka, whose brokers are the default)")
	}
	for i, b := range k.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			add(fmt.Sprintf("brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if k.LeadTopic == k.ClientTopic {
		add("client_topic", "%q is also the lead topic; leads and clients need topics of their own", k.ClientTopic)
	}
	if k.Partitions < 1 || k.Replicas < 1 {
		add("", "partitions (%d) and replicas (%d) must be at least 1", k.Partitions, k.Replicas)
	}
	if k.MaxMessageBytes < 1024 {
		add("max_message_bytes", "%d is under 1024", k.MaxMessageBytes)
	}
	if k.WriteTimeout <= 0 {
		add("write_timeout", "%s must be positive", k.WriteTimeout.Std())
	}
}

// prefixed returns add with section in front of every path.
func prefixed(add func(path, format string, args ...any), section string) func(path, format string, args ...any) {
	return func(path, format string, args ...any) { add(join(section, path), format, args...) }
}

func (h *HTTPConfig) applyDefaults() {
	setDefault(&h.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&h.ReadHeaderTimeout, Duration(DefaultReadHeaderTimeout))
	setDefault(&h.ReadTimeout, Duration(DefaultReadTimeout))
	setDefault(&h.WriteTimeout, Duration(DefaultWriteTimeout))
	setDefault(&h.IdleTimeout, Duration(DefaultIdleTimeout))
}

// validateHTTP checks the listeners' addresses, limits and timeouts.
func validateHTTP(h *HTTPConfig, add func(path, format string, args ...any)) {
	if _, _, err := net.SplitHostPort(h.Listen); err != nil {
		add("http.listen", "%q is not host:port", h.Listen)
	}
	if h.AdminListen != "" {
		if _, _, err := net.SplitHostPort(h.AdminListen); err != nil {
			add("http.admin_listen", "%q is not host:port", h.AdminListen)
		} else if _, port, _ := net.SplitHostPort(h.AdminListen); h.AdminListen == h.Listen && port != "0" {
			add("http.admin_listen", "%q is also http.listen; leave it empty to serve everything there", h.AdminListen)
		}
	}
	if h.MaxHeaderBytes < 4096 || h.MaxHeaderBytes > 1<<20 {
		add("http.max_header_bytes", "%d is outside 4096..1048576", h.MaxHeaderBytes)
	}
	for _, d := range []struct {
		path string
		v    Duration
	}{{"http.read_header_timeout", h.ReadHeaderTimeout}, {"http.read_timeout", h.ReadTimeout},
		{"http.write_timeout", h.WriteTimeout}, {"http.idle_timeout", h.IdleTimeout}} {
		if d.v < 0 {
			add(d.path, "%s is negative", d.v.Std())
		}
	}
	if h.WriteTimeout > 0 && h.WriteTimeout < h.ReadTimeout {
		add("http.write_timeout", "%s is under http.read_timeout (%s): a request still being read could not be answered",
			h.WriteTimeout.Std(), h.ReadTimeout.Std())
	}
}
