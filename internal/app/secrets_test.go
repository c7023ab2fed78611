package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// echoProxy stands in front of a simulator. While armed it answers with
// the given status and a body echoing everything the request carried (URL,
// Authorization, body), as a misbehaving proxy or vendor error page might.
type echoProxy struct {
	next   http.Handler
	fails  atomic.Int32
	status atomic.Int32
	hits   atomic.Int32 // answers echoed
}

func (p *echoProxy) arm(n, status int) { p.status.Store(int32(status)); p.fails.Store(int32(n)) }

func (p *echoProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.fails.Add(-1) < 0 {
		p.fails.Store(0)
		p.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	p.hits.Add(1)
	// The parameters again as plain words ("secretKey s3cr3t"), the way an
	// error message would quote them.
	var params []string
	vals := r.URL.Query()
	if form, err := url.ParseQuery(string(body)); err == nil {
		for k, v := range form {
			vals[k] = v
		}
	}
	for k, v := range vals {
		params = append(params, k+" "+strings.Join(v, ","))
	}
	w.WriteHeader(int(p.status.Load()))
	fmt.Fprintf(w, "upstream refused %s %s auth=%s %s params: %s body=%s", r.Method, r.URL,
		r.Header.Get("Authorization"), r.Header.Get("X-Api-Authorization"), strings.Join(params, "; "), body)
}

// TestNoSecretAnywhere runs every vendor with distinctive credentials,
// makes every vendor's answers echo the request (credentials included) as
// transient and as permanent failures, and then looks for any credential
// in the logs, the errors, /status, /metrics and the dead letters.
func TestNoSecretAnywhere(t *testing.T) {
	const (
		ivKey    = "ivvy-key-DO-NOT-LOG-3b7e"
		ivSecret = "ivvy-secret-DO-NOT-LOG-91c2"
		glToken  = "gl_token-DO-NOT-LOG-5e0b"
		glAPIKey = "ik_key-DO-NOT-LOG-a4d1"
		bearer   = "bearer-DO-NOT-LOG-77f0"
	)
	secrets := []string{testSecret, ivKey, ivSecret, glToken, glAPIKey, hookPass, bearer}

	ss := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{testAccount: testSecret}})
	ssProxy := &echoProxy{next: ss}
	ssSrv := httptest.NewServer(ssProxy)
	defer ssSrv.Close()
	iv := ivvysim.New(ivvysim.Options{Keys: map[string]string{ivKey: ivSecret}})
	defer iv.Close()
	ivProxy := &echoProxy{next: iv}
	ivSrv := httptest.NewServer(ivProxy)
	defer ivSrv.Close()
	gl := getleadsim.New(getleadsim.Options{Token: glToken, APIKey: glAPIKey})
	glProxy := &echoProxy{next: gl}
	glSrv := httptest.NewServer(glProxy)
	defer glSrv.Close()

	linger := config.Duration(20 * time.Millisecond)
	cfg := &config.Config{
		DataDir:     t.TempDir(),
		HTTP:        config.HTTPConfig{Listen: "127.0.0.1:0"},
		Log:         config.LogConfig{Level: "debug"},
		SharpSpring: sharpSpringConfig(ssSrv.URL, 10),
		IVvy:        ivvyConfig(ivSrv.URL, ivKey, ivSecret),
		Getlead:     getleadConfig(glSrv.URL, glToken, glAPIKey),
		LeadExec:    &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: hookUser, BasicPassword: hookPass, BearerToken: bearer}},
		Routes: []config.RouteConfig{
			{Name: "le-ss", From: "leadexec.lead", To: "sharpspring.lead", Linger: linger},
			{Name: "le-iv", From: "leadexec.lead", To: "ivvy.lead", Linger: linger},
			{Name: "le-gl", From: "leadexec.lead", To: "getlead.lead", Linger: linger},
			{Name: "gl-ss", From: "getlead.lead", To: "sharpspring.lead", Linger: linger},
		},
	}
	logs := &testenv.Log{}
	var errs []string // every error crmsync returned to us
	a, stopRun := startApp(t, cfg, logs)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			if err := stopRun(); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	defer stop()
	base := "http://" + a.Addr()
	wait := waiter(t, logs)
	wait("http ready", func() bool { return ready(base) })

	deliver := func(i int, auth func(*http.Request), want int) {
		t.Helper()
		v := url.Values{"LeadUID": {fmt.Sprint(i)}, "FirstName": {fmt.Sprintf("First%d", i)}, "LastName": {fmt.Sprintf("Last%d", i)},
			"Email": {fmt.Sprintf("lead%d@example.com", i)}, "PrimaryPhone": {fmt.Sprintf("+9198765432%02d", i)}}
		code, b, err := postWebhook(http.DefaultClient, base, v, auth)
		if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("delivery %d answered %d %s, want %d", i, code, b, want)
		}
		errs = append(errs, b)
	}
	inAll := func(i int) func() bool {
		email := fmt.Sprintf("lead%d@example.com", i)
		return func() bool {
			_, inSS := ss.LeadByEmail(email)
			_, inGL := gl.LeadByPhone(fmt.Sprintf("+9198765432%02d", i))
			return inSS && len(iv.LeadsByEmail(email)) == 1 && inGL
		}
	}

	// Healthy: leads through every route, with either credential.
	deliver(1, hookBasicAuth, 200)
	deliver(2, bearerAuth(bearer), 200)
	deliver(3, func(r *http.Request) { r.SetBasicAuth(hookUser, "wrong-"+hookPass) }, 401)
	deliver(3, bearerAuth(bearer+"x"), 401)
	wait("leads 1 and 2 everywhere", func() bool { return inAll(1)() && inAll(2)() })

	// Transient failures whose answers echo the credentials: retried, and
	// logged on the way.
	for _, p := range []*echoProxy{ssProxy, ivProxy, glProxy} {
		p.arm(2, http.StatusBadGateway)
	}
	deliver(4, hookBasicAuth, 200)
	wait("lead 4 everywhere after the failures", inAll(4))

	// Permanent failures echoing the credentials: dead letters.
	for _, p := range []*echoProxy{ssProxy, ivProxy, glProxy} {
		p.arm(1, http.StatusBadRequest)
	}
	deliver(5, bearerAuth(bearer), 200)
	wait("the permanent failures settled", func() bool {
		for _, p := range []*echoProxy{ssProxy, ivProxy, glProxy} {
			if p.fails.Load() > 0 {
				return false
			}
		}
		for _, ru := range a.Runners {
			if n, _, err := a.Backlog(context.Background(), ru.Name()); err != nil || n != 0 {
				return false
			}
		}
		return true
	})
	for _, p := range []*echoProxy{ssProxy, ivProxy, glProxy} {
		if p.hits.Load() < 2 {
			t.Errorf("a proxy echoed %d answers; the failures did not reach crmsync", p.hits.Load())
		}
	}

	status := get(t, base+"/status")
	metrics := get(t, base+"/metrics")
	st, err := a.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dls, err := a.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var dlText strings.Builder
	for _, d := range dls {
		fmt.Fprintf(&dlText, "%+v %s\n", d, d.Payload)
	}
	stop()

	// Start-up with credentials the vendors refuse: the errors name the
	// problem, not the credential.
	for _, bad := range []func(c *config.Config){
		func(c *config.Config) { c.SharpSpring.SecretKey = "rotated-" + testSecret },
		func(c *config.Config) { c.IVvy.APISecret = config.Secret("rotated-" + ivSecret) },
	} {
		c := *cfg
		ssc, ivc := *cfg.SharpSpring, *cfg.IVvy
		c.SharpSpring, c.IVvy, c.DataDir = &ssc, &ivc, t.TempDir()
		bad(&c)
		_, err := New(context.Background(), &c, newTestLogger(logs))
		if err == nil {
			t.Fatal("start-up with refused credentials succeeded")
		}
		errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", errors.Unwrap(err)))
	}

	places := map[string]string{
		"logs": logs.String(), "/status": status, "/metrics": metrics, "status": fmt.Sprintf("%+v", st),
		"dead letters": dlText.String(), "errors": strings.Join(errs, "\n"),
	}
	for where, text := range places {
		for _, s := range secrets {
			for _, form := range []string{s, url.QueryEscape(s), s[:len(s)-4]} {
				if strings.Contains(text, form) {
					i := strings.Index(text, form)
					t.Errorf("%s holds a secret (%q…): …%s…", where, form[:6], text[max(0, i-80):min(len(text), i+len(form)+20)])
				}
			}
		}
	}
	if len(dls) == 0 {
		t.Errorf("no dead letters: the permanent failures were not exercised")
	}
}

// TestStatusAndMetricsShowNoConfiguredSecret configures every credential
// crmsync knows (each vendor's keys, secrets and tokens, the webhook's
// password and bearer token, the admin token), runs a lead through every
// vendor so that every account is counted, and reads /status and /metrics
// (and their refusals without the token): no credential appears, in any
// form, and the accounts are still told apart by their labels.
func TestStatusAndMetricsShowNoConfiguredSecret(t *testing.T) {
	const (
		ivKey      = "ivvy-key-DO-NOT-SHOW-2b8d"
		ivSecret   = "ivvy-secret-DO-NOT-SHOW-c41e"
		glToken    = "gl_token-DO-NOT-SHOW-90fa"
		glAPIKey   = "ik_key-DO-NOT-SHOW-17cd"
		leKey      = "le-asmx-key-DO-NOT-SHOW-6e02"
		leSecret   = "le-oauth-secret-DO-NOT-SHOW-d5a9"
		lePostKey  = "le-posting-key-DO-NOT-SHOW-48b3"
		lePostPass = "le-posting-password-DO-NOT-SHOW-a7f1"
		bearer     = "hook-bearer-DO-NOT-SHOW-0c6e"
		adminToken = "admin-token-DO-NOT-SHOW-f29b"
	)
	secrets := []string{testSecret, ivKey, ivSecret, glToken, glAPIKey, leKey, leSecret, lePostKey, lePostPass, hookPass, bearer, adminToken}

	ss, ssURL := serveSharpSpring(t)
	iv, ivURL := serveIVvy(t, ivvysim.Options{Keys: map[string]string{ivKey: ivSecret}})
	gl, glURL := serveGetlead(t, getleadsim.Options{Token: glToken, APIKey: glAPIKey})
	leURL := serve(t, leadexecsim.NewServer(leadexecsim.Options{Key: leKey, ClientSecret: leSecret, PostingKey: lePostKey}))

	linger := config.Duration(20 * time.Millisecond)
	cfg := &config.Config{
		DataDir:     t.TempDir(),
		HTTP:        config.HTTPConfig{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", AdminToken: adminToken},
		SharpSpring: sharpSpringConfig(ssURL, 10),
		IVvy:        ivvyConfig(ivURL, ivKey, ivSecret),
		Getlead:     getleadConfig(glURL, glToken, glAPIKey),
		LeadExec: &config.LeadExecConfig{APIURL: leURL, LeadsURL: leURL, DataURL: leURL,
			Key: leKey, ClientID: leadexecsim.DefaultClientID, ClientSecret: leSecret,
			Webhook: config.WebhookConfig{BasicUser: hookUser, BasicPassword: hookPass, BearerToken: bearer},
			Receiver: config.LeadExecReceiverConfig{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID,
				AID: leadexecsim.DefaultAID, APIKey: lePostKey, Password: lePostPass},
			SafetyNet: config.LeadExecSafetyNetConfig{LeadTypes: []int64{leadexecsim.DefaultLID}}},
		Routes: []config.RouteConfig{
			{Name: "le-ss", From: "leadexec.lead", To: "sharpspring.lead", Linger: linger},
			{Name: "le-iv", From: "leadexec.lead", To: "ivvy.lead", Linger: linger},
			{Name: "le-gl", From: "leadexec.lead", To: "getlead.lead", Linger: linger},
			{Name: "gl-le", From: "getlead.lead", To: "leadexec.lead", Linger: linger},
		},
	}
	logs := &testenv.Log{}
	a, stop := runApp(t, cfg, logs)
	defer stop()
	wait := waiter(t, logs)
	admin := "http://" + a.AdminAddr()
	read := func(path, token string) (int, string) {
		code, body, err := getAs(admin+path, bearerAuth(token))
		if err != nil {
			return 0, err.Error()
		}
		return code, body
	}
	wait("ready", func() bool { code, _ := read("/readyz", ""); return code == 200 })

	v := url.Values{"LeadUID": {"1"}, "FirstName": {"Ada"}, "LastName": {"Lovelace"}, "Email": {"ada@example.com"},
		"PrimaryPhone": {"+919876543201"}}
	code, _, err := postWebhook(http.DefaultClient, "http://"+a.Addr(), v, bearerAuth(bearer))
	if err != nil {
		t.Fatal(err)
	}
	if code != 200 {
		t.Fatalf("delivery answered %d", code)
	}
	wait("the lead in SharpSpring, iVvy and Getlead", func() bool {
		_, inSS := ss.LeadByEmail("ada@example.com")
		_, inGL := gl.LeadByPhone("+919876543201")
		return inSS && inGL && len(iv.LeadsByEmail("ada@example.com")) == 1
	})
	wait("every account counted", func() bool {
		_, m := read("/metrics", adminToken)
		return strings.Contains(m, `crmsync_quota_used{account="ivvy:`) && strings.Contains(m, `crmsync_vendor_requests_total{`)
	})

	places := map[string]string{}
	for _, path := range []string{"/status", "/metrics"} {
		for _, token := range []string{adminToken, "", "wrong-" + adminToken} {
			code, body := read(path, token)
			places[fmt.Sprintf("%s (%d)", path, code)] += body
		}
	}
	_, status := read("/status", adminToken)
	var st Status
	if err := json.Unmarshal([]byte(status), &st); err != nil {
		t.Fatal(err)
	}
	accounts := map[string]bool{}
	for _, q := range st.Quota {
		accounts[q.Account] = true
	}
	if want := []string{cfg.SharpSpring.Account(), cfg.IVvy.Account()}; !accounts[want[0]] || !accounts[want[1]] {
		t.Errorf("/status accounts %v, want %v", accounts, want)
	}
	for where, text := range places {
		for _, s := range secrets {
			for _, form := range []string{s, url.QueryEscape(s), s[:len(s)-4], base64.StdEncoding.EncodeToString([]byte(s))} {
				if strings.Contains(text, form) {
					i := strings.Index(text, form)
					t.Errorf("%s holds a secret (%q…): …%s…", where, form[:6], text[max(0, i-80):min(len(text), i+len(form)+20)])
				}
			}
		}
	}
}
