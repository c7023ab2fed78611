package connector

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	lesink "github.com/crmsync/crmsync/sinks/leadexec"
	lesrc "github.com/crmsync/crmsync/sources/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// LeadExec: leads delivered to crmsync's webhook (with a safety net that
// polls the lead data API for deliveries that never came) and posted to a
// lead receiver; clients polled and written through service.asmx. The lead
// types' fields are read at start-up and on a schedule. LeadExec documents
// no rate limit: the account has no budget.
func init() {
	Register(Connector{
		Vendor: config.Vendor{Name: "leadexec", Title: "LeadExec", Reads: []string{"lead", "client"},
			Writes: []string{"lead", "client"}},
		Builtin: true,
		Open:    openLeadExec,
		Pages:   true,
	})
}

func openLeadExec(ctx context.Context, env Env) (*Account, error) {
	l := env.Section.(*config.LeadExecConfig)
	c, err := leadexec.New(leadexec.Config{APIURL: l.APIURL, LeadsURL: l.LeadsURL, DataURL: l.DataURL,
		Key: l.Key.Value(), Namespace: l.ASMXNamespace, ClientID: l.ClientID, ClientSecret: l.ClientSecret.Value(),
		HTTPClient: &http.Client{Timeout: l.Timeout.Std()}})
	if err != nil {
		return nil, err
	}
	fields := &leadexec.LeadTypeFields{}
	fc := leadExecFieldCheck(env, l)
	if fc.Post > 0 || len(fc.Read) > 0 {
		if l.Key == "" {
			return nil, errNoLeadExecKey
		}
		if err := checkLeadExecFields(ctx, c, fc, env.Catalog, fields, env.Log); err != nil {
			return nil, err
		}
	}
	acc := &Account{
		LeadCodec:   mappings.LeadExecLeads{Catalog: env.Catalog},
		ClientCodec: mappings.LeadExecClients{},
		Sinks:       map[string]pipeline.Sink{},
		Pager: func(entity string, since, until time.Time) (pipeline.Pager, error) {
			return leadExecPager(c, l, env, entity, since, until)
		},
	}
	if env.Writes("leadexec", "lead") {
		r := l.Receiver
		var readBack lesink.LeadReader
		if l.ClientID != "" {
			readBack = c // the lead data API settles posts whose answer was unreadable
		}
		sink, err := lesink.NewLeadSink(lesink.LeadSinkConfig{Version: r.Version, MaxLeadsPerPost: r.MaxLeadsPerPost, Logger: env.Log,
			Fields: fields, ReadBack: readBack,
			Source: leadexec.Source{VID: r.VID, LID: r.LID, AID: r.AID, APIKey: r.APIKey.Value(), Password: r.Password.Value(),
				SendDelay: r.SendDelay}}, c)
		if err != nil {
			return nil, err
		}
		acc.Sinks["lead"] = sink
	}
	if env.Writes("leadexec", "client") {
		acc.Sinks["client"] = lesink.NewClientSink(lesink.ClientSinkConfig{Logger: env.Log}, c)
	}
	if env.Bus == nil {
		return acc, nil
	}
	if env.Reads("leadexec", "lead") {
		w := l.Webhook
		rcv := lesrc.NewReceiver(lesrc.Config{
			Path: w.Path, BasicUser: w.BasicUser, BasicPassword: w.BasicPassword.Value(), BearerToken: w.BearerToken.Value(),
			SuccessText: w.SuccessText, IDField: w.IDField, ChangedAtField: w.ChangedAtField, MaxBody: w.MaxBodyBytes,
		}, env.Bus, env.State, env.Log.With("source", "leadexec.webhook"))
		acc.Webhooks = append(acc.Webhooks, Webhook{Path: rcv.Path(), Handler: rcv, Stop: rcv.Stop,
			Stats: func() WebhookStats {
				return WebhookStats{Accepted: rcv.Stats.Accepted.Load(), Duplicates: rcv.Stats.Duplicates.Load(), Rejected: rcv.Stats.Rejected()}
			}})
		if n := l.SafetyNet; len(n.LeadTypes) > 0 {
			sn, err := lesrc.NewSafetyNet(lesrc.SafetyNetConfig{LeadTypes: n.LeadTypes, Interval: n.Interval.Std(),
				Lookback: n.Lookback.Std(), MinAge: n.MinAge.Std(), PageSize: n.PageSize, FieldMap: n.FieldMap,
				Logger: env.Log}, c, env.Bus, env.State)
			if err != nil {
				return nil, err
			}
			acc.SafetyNet = func() (polls, missed int64) { return sn.Polls(), sn.Missed() }
			acc.Sources = append(acc.Sources, sn)
		}
	}
	if env.Reads("leadexec", "client") {
		p, err := lesrc.NewClientPoller(lesrc.ClientPollerConfig{Interval: l.ClientPoller.Interval.Std(), Logger: env.Log}, c, env.Bus, env.State)
		if err != nil {
			return nil, err
		}
		acc.Sources = append(acc.Sources, p)
	}
	if l.FieldCheckInterval > 0 && (fc.Post > 0 || len(fc.Read) > 0) {
		acc.Sources = append(acc.Sources, &leadFieldWatch{c: c, check: fc, cat: env.Catalog,
			fields: fields, interval: l.FieldCheckInterval.Std(), log: env.Log.With("source", "leadexec.fields")})
	}
	return acc, nil
}

// leadExecPager pages through LeadExec's clients, or the leads of the
// safety net's lead types, whose fields it reads first: they may have
// changed since the instance started.
func leadExecPager(c *leadexec.Client, l *config.LeadExecConfig, env Env, entity string, since, until time.Time) (pipeline.Pager, error) {
	if entity == "client" {
		return &lesrc.ClientPager{API: c, Since: since, Until: until}, nil
	}
	n := l.SafetyNet
	if len(n.LeadTypes) == 0 {
		return nil, fmt.Errorf("no lead types to read: set leadexec.safety_net.lead_types (the lead types LeadExec delivers to crmsync)")
	}
	if l.Key == "" {
		return nil, errNoLeadExecKey
	}
	// The pager is asked for without a ctx: the check is bounded on its own.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := checkLeadExecFields(ctx, c, leadexec.FieldCheck{Read: n.LeadTypes}, env.Catalog, nil, env.Log.With("source", "leadexec.lead")); err != nil {
		return nil, err
	}
	return &lesrc.LeadPager{API: c, LeadTypes: n.LeadTypes, FieldMap: n.FieldMap, PageSize: n.PageSize, Since: since, Until: until}, nil
}
