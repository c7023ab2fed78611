package compose_test

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"

	"github.com/crmsync/crmsync/internal/config"
)

// root is the repository root, where docker-compose.yml is and where the
// paths of its bind mounts start.
const root = "../.."

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Hostname    string            `yaml:"hostname"`
	Profiles    []string          `yaml:"profiles"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   dependsOn         `yaml:"depends_on"`
	Ports       []string          `yaml:"ports"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// dependsOn maps a service to the condition it waits for; the short form
// (a list of names) waits for service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, s := range names {
			(*d)[s] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for s, c := range m {
			if c.Condition == "" {
				c.Condition = "service_started"
			}
			(*d)[s] = c.Condition
		}
	default:
		return fmt.Errorf("depends_on: line %d is neither a list nor a mapping", n.Line)
	}
	return nil
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

// inProfile lists, sorted, the services of a profile; "" lists those
// without one, which every `docker compose up` starts.
func (f composeFile) inProfile(profile string) []string {
	var names []string
	for name, s := range f.Services {
		if (profile == "" && len(s.Profiles) == 0) || slices.Contains(s.Profiles, profile) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// mount splits a bind or volume mount "source:target[:mode]".
func mount(v string) (source, target string) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 {
		return "", v
	}
	return parts[0], parts[1]
}

// mountedFile is the file of the repository that s mounts at target.
func mountedFile(t *testing.T, name string, s service, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if src, tgt := mount(v); tgt == target {
			if !strings.HasPrefix(src, "./") {
				t.Fatalf("%s mounts %q at %s, not a file of the repository", name, src, target)
			}
			return filepath.Join(root, filepath.FromSlash(src))
		}
	}
	t.Fatalf("%s mounts nothing at %s (volumes %v)", name, target, s.Volumes)
	return ""
}

func TestDefaultAndKafkaProfilesKeepTheirServices(t *testing.T) {
	f := readCompose(t)
	if got, want := f.inProfile(""), []string{"crmsync", "nats"}; !slices.Equal(got, want) {
		t.Errorf("services without a profile = %v, want %v: `docker compose up` would start others", got, want)
	}
	if got, want := f.inProfile("kafka"), []string{"crmsync-kafka", "kafka"}; !slices.Equal(got, want) {
		t.Errorf("kafka profile = %v, want %v", got, want)
	}
	for _, name := range []string{"crmsync", "crmsync-kafka"} {
		if src, _ := mount(f.Services[name].Volumes[0]); src != "./crmsync.yaml" {
			t.Errorf("%s mounts %q, want the user's ./crmsync.yaml", name, src)
		}
	}
	for name, s := range f.Services {
		for _, v := range s.Volumes {
			src, _ := mount(v)
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				continue
			}
			if _, ok := f.Volumes[src]; !ok {
				t.Errorf("%s mounts volume %q, which volumes: does not declare", name, src)
			}
		}
	}
}

// natsNode is a NATS server of the cluster profile, as its command line
// configures it.
type natsNode struct {
	name string
	opts *server.Options
}

// clientPort is where clients connect (4222 unless -p says otherwise).
func (n natsNode) clientPort() int {
	if n.opts.Port == 0 {
		return server.DEFAULT_PORT
	}
	return n.opts.Port
}

// natsNodes reads the cluster profile's NATS servers with nats-server's own
// command-line parser, so a misspelt flag fails here as it would there.
func natsNodes(t *testing.T, f composeFile) []natsNode {
	t.Helper()
	var nodes []natsNode
	for _, name := range f.inProfile("cluster") {
		s := f.Services[name]
		if !strings.HasPrefix(s.Image, "nats:2.") {
			continue
		}
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard) // the error says which flag is wrong
		opts, err := server.ConfigureOptions(fs, s.Command, func() {}, func() {}, func() {})
		if err != nil || opts == nil {
			t.Fatalf("%s: nats-server %v: %v", name, s.Command, err)
		}
		nodes = append(nodes, natsNode{name: name, opts: opts})
	}
	return nodes
}

func TestClusterProfileHasThreeNATSServersRoutedToEachOther(t *testing.T) {
	f := readCompose(t)
	nodes := natsNodes(t, f)
	if len(nodes) != 3 {
		t.Fatalf("cluster profile has %d NATS servers, want 3 (a quorum survives the loss of one)", len(nodes))
	}
	clusterName, clusterPort := nodes[0].opts.Cluster.Name, nodes[0].opts.Cluster.Port
	if clusterName == "" || clusterPort == 0 {
		t.Fatalf("%s: cluster name %q, cluster port %d: both must be set", nodes[0].name, clusterName, clusterPort)
	}
	stores := map[string]string{}
	for _, n := range nodes {
		o, s := n.opts, f.Services[n.name]
		if !o.JetStream || o.StoreDir == "" {
			t.Errorf("%s: JetStream %v, store dir %q: JetStream with file storage wanted", n.name, o.JetStream, o.StoreDir)
		}
		if o.ServerName != n.name {
			t.Errorf("%s: server name %q, want the service name (unique, stable across restarts)", n.name, o.ServerName)
		}
		if o.Cluster.Name != clusterName || o.Cluster.Port != clusterPort {
			t.Errorf("%s: cluster %q port %d, want %q port %d like %s", n.name, o.Cluster.Name, o.Cluster.Port,
				clusterName, clusterPort, nodes[0].name)
		}
		var routes []string
		for _, r := range o.Routes {
			if r.Hostname() == n.name {
				continue // a route to itself is ignored by the server
			}
			routes = append(routes, r.Host)
		}
		slices.Sort(routes)
		var want []string
		for _, other := range nodes {
			if other.name != n.name {
				want = append(want, net.JoinHostPort(other.name, strconv.Itoa(clusterPort)))
			}
		}
		if !slices.Equal(routes, want) {
			t.Errorf("%s routes to %v, want %v", n.name, routes, want)
		}
		var volume string
		for _, v := range s.Volumes {
			if src, tgt := mount(v); tgt == o.StoreDir {
				volume = src
			}
		}
		if _, ok := f.Volumes[volume]; !ok {
			t.Errorf("%s: store dir %s is not on a named volume (volumes %v)", n.name, o.StoreDir, s.Volumes)
		} else if prev, dup := stores[volume]; dup {
			t.Errorf("%s and %s share volume %s", prev, n.name, volume)
		}
		stores[volume] = n.name
		if hc := strings.Join(s.Healthcheck.Test, " "); o.HTTPPort == 0 || !strings.Contains(hc, fmt.Sprintf("localhost:%d/healthz", o.HTTPPort)) {
			t.Errorf("%s: health check %q does not ask the monitoring port %d", n.name, hc, o.HTTPPort)
		}
	}
}

// replicas are the crmsync services of the cluster profile (built from
// this repository).
func replicas(f composeFile) []string {
	var names []string
	for _, name := range f.inProfile("cluster") {
		if f.Services[name].Build != nil {
			names = append(names, name)
		}
	}
	return names
}

// configPath is the --config argument of a crmsync command line.
func configPath(t *testing.T, name string, s service) string {
	t.Helper()
	i := slices.Index(s.Command, "--config")
	if i < 0 || i+1 >= len(s.Command) {
		t.Fatalf("%s: command %v has no --config", name, s.Command)
	}
	return s.Command[i+1]
}

// loadReplicaConfig parses the config a replica mounts with exactly the
// environment the service sets (dummy values), as crmsync run would.
func loadReplicaConfig(t *testing.T, name string, s service) *config.Config {
	t.Helper()
	file := mountedFile(t, name, s, configPath(t, name, s))
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Environment {
		// Secrets come from the environment of `docker compose`, never
		// from the compose file.
		if !strings.HasPrefix(v, "${"+k+":?") {
			t.Errorf("%s: environment %s = %q, want ${%s:?…} from the caller's environment", name, k, v, k)
		}
	}
	c, err := config.Parse(b, func(k string) (string, bool) {
		if _, ok := s.Environment[k]; !ok {
			return "", false
		}
		return "dummy-" + strings.ToLower(k), true
	})
	if err != nil {
		t.Fatalf("%s: %s with the service's environment: %v", name, file, err)
	}
	return c
}

func TestClusterReplicasShareAConfigThatLoads(t *testing.T) {
	f := readCompose(t)
	nodes := natsNodes(t, f)
	names := replicas(f)
	if len(names) < 2 || len(names) > 3 {
		t.Fatalf("cluster profile has crmsync replicas %v, want 2 or 3", names)
	}
	var wantURLs []string
	for _, n := range nodes {
		wantURLs = append(wantURLs, net.JoinHostPort(n.name, strconv.Itoa(n.clientPort())))
	}
	slices.Sort(wantURLs)
	files := map[string]bool{}
	for _, name := range names {
		s := f.Services[name]
		files[mountedFile(t, name, s, configPath(t, name, s))] = true
		c := loadReplicaConfig(t, name, s)
		if c.Bus.Kind != "nats" || c.State.Kind != "nats" {
			t.Errorf("%s: bus.kind %s, state.kind %s: replicas share state on the NATS cluster", name, c.Bus.Kind, c.State.Kind)
		}
		if c.State.Replicas != len(nodes) || c.Bus.NATS.Replicas != len(nodes) {
			t.Errorf("%s: state.replicas %d, bus.nats.replicas %d, want %d (one copy per server)",
				name, c.State.Replicas, c.Bus.NATS.Replicas, len(nodes))
		}
		var urls []string
		for s := range strings.SplitSeq(c.Bus.NATS.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil {
				t.Fatalf("%s: bus.nats.url: %v", name, err)
			}
			urls = append(urls, u.Host)
		}
		slices.Sort(urls)
		if !slices.Equal(urls, wantURLs) {
			t.Errorf("%s: bus.nats.url names %v, want every server of the cluster %v", name, urls, wantURLs)
		}
		for _, n := range nodes {
			if s.DependsOn[n.name] != "service_healthy" {
				t.Errorf("%s: depends on %s with %q, want service_healthy", name, n.name, s.DependsOn[n.name])
			}
		}
		if host, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil || (host != "0.0.0.0" && host != "") {
			t.Errorf("%s: http.listen %q: the proxy reaches the replica only on every interface", name, c.HTTP.Listen)
		}
		if s.Hostname != name {
			t.Errorf("%s: hostname %q, want the service name (it names the instance in its leases)", name, s.Hostname)
		}
	}
	if len(files) != 1 {
		t.Errorf("replicas mount %d different configs, want one", len(files))
	}
}

var (
	comment  = regexp.MustCompile(`(?m)#.*$`)
	upstream = regexp.MustCompile(`upstream\s+(\S+)\s*\{([^}]*)\}`)
	upServer = regexp.MustCompile(`(?m)^\s*server\s+([^\s;]+)`)
	pass     = regexp.MustCompile(`proxy_pass\s+http://([^\s;/]+)`)
)

func TestClusterProxyNamesEveryReplica(t *testing.T) {
	f := readCompose(t)
	var proxies []string
	for _, name := range f.inProfile("cluster") {
		if strings.HasPrefix(f.Services[name].Image, "nginx:") {
			proxies = append(proxies, name)
		}
	}
	if len(proxies) != 1 {
		t.Fatalf("cluster profile has proxies %v, want one", proxies)
	}
	name := proxies[0]
	p := f.Services[name]
	if len(p.Ports) == 0 {
		t.Errorf("%s publishes no port: the webhook address", name)
	}
	var confTarget string
	for _, v := range p.Volumes {
		if _, tgt := mount(v); strings.HasPrefix(tgt, "/etc/nginx/conf.d/") {
			confTarget = tgt
		}
	}
	b, err := os.ReadFile(mountedFile(t, name, p, confTarget))
	if err != nil {
		t.Fatal(err)
	}
	conf := comment.ReplaceAllString(string(b), "")

	var want []string
	for _, r := range replicas(f) {
		c := loadReplicaConfig(t, r, f.Services[r])
		_, port, err := net.SplitHostPort(c.HTTP.Listen)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, net.JoinHostPort(r, port))
		if _, ok := p.DependsOn[r]; !ok {
			t.Errorf("%s does not depend on %s: `up %s` would not start it", name, r, name)
		}
	}
	slices.Sort(want)

	ups := upstream.FindAllStringSubmatch(conf, -1)
	passes := pass.FindAllStringSubmatch(conf, -1)
	if len(ups) != 1 || len(passes) != 1 || passes[0][1] != ups[0][1] {
		t.Fatalf("want one upstream and one proxy_pass to it; upstreams %v, proxy_pass %v", ups, passes)
	}
	var got []string
	for _, m := range upServer.FindAllStringSubmatch(ups[0][2], -1) {
		got = append(got, m[1])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("upstream %s names %v, want every replica %v", ups[0][1], got, want)
	}
}
