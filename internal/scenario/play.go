package scenario

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// Pipeline is the crmsync instance under test, seen from outside.
type Pipeline interface {
	// HookURL is the base URL of its HTTP server ("http://host:port").
	HookURL() string
	// Idle reports whether every route's backlog, live and backfill, is
	// zero. It may fail while the instance is down.
	Idle(ctx context.Context) bool
}

// AcceptCounter is implemented by pipelines that can tell how many webhook
// deliveries they accepted (an in-process instance); Play then checks that
// LeadExec's retried deliveries published nothing.
type AcceptCounter interface {
	Accepted() int64
}

// Quiescer is implemented by pipelines that are disturbed during the
// scenario (a child process killed again and again): Play waits for
// Quiesce before it takes the verdict.
type Quiescer interface {
	Quiesce(ctx context.Context) error
}

// Result is a scenario's verdict.
type Result struct {
	Leads      int // distinct leads (LeadExec's and those made in SharpSpring)
	Clients    int // clients on each side (SharpSpring and LeadExec)
	Deliveries int // deliveries LeadExec made (first, edits, retries)
	IVvyEdits  int
	Lost       int // leads missing from a target
	Duplicates int // leads a target holds more than once
	Mismatches int // leads whose fields differ from their source
	// LateClientWrites counts the client write requests sent after both
	// sides held the same clients and the pipeline was idle (a write still
	// settling, or an echo written back).
	LateClientWrites int
}

// OK reports whether every target matched.
func (r Result) OK() bool { return r.Lost == 0 && r.Duplicates == 0 && r.Mismatches == 0 }

// Play runs the scenario against p: LeadExec delivers every lead (form,
// JSON and query-string deliveries), edits every fifth twice (the second
// edit clears a custom field), retries some deliveries of unchanged leads;
// once every target holds the leads, users edit some in iVvy and the edits
// must reach SharpSpring. It then reads every lead back through the
// SharpSpring API (within gate, the account's shared budget, when set) and
// compares SharpSpring, iVvy and Getlead with what the sources hold.
func (w *World) Play(ctx context.Context, p Pipeline, gate sharpspring.Gate) (Result, error) {
	var res Result
	hook := p.HookURL() + w.Config.LeadExec.Webhook.Path
	var senders []*leadexecsim.Sender
	for _, f := range []leadexecsim.Format{leadexecsim.FormatForm, leadexecsim.FormatJSON, leadexecsim.FormatQuery} {
		s, err := leadexecsim.NewSender(leadexecsim.Delivery{
			URL: hook, Format: f, BasicUser: w.user, BasicPassword: w.pass,
			ResponseSearch: `"status":"success"`, MaxRetries: w.o.DeliveryRetries, RetryDelay: w.o.RetryDelay,
		})
		if err != nil {
			return res, err
		}
		senders = append(senders, s)
	}
	generated := leadexecsim.GenerateLeads(w.o.Leads+1, w.o.Seed, w.leCustom)
	for i := range generated {
		// One phone number per person: Getlead keys leads by phone.
		generated[i].Fields["PrimaryPhone"] = fmt.Sprintf("(%03d) %03d-%04d", 201+i/8000000, 200+(i/10000)%800, i%10000)
	}
	// The last lead's delivery is dropped by LeadExec (below).
	dropped := generated[len(generated)-1]
	generated = generated[:len(generated)-1]
	final := make(map[int64]leadexecsim.Lead, len(generated))
	deliver := func(stage string, ls []leadexecsim.Lead) error {
		parts := make([][]leadexecsim.Lead, len(senders))
		for i, l := range ls {
			parts[i%len(senders)] = append(parts[i%len(senders)], l)
			final[l.UID] = l
		}
		failed := 0
		for i, s := range senders {
			for _, r := range s.DeliverAll(ctx, parts[i], 8) {
				res.Deliveries++
				if !r.Delivered {
					failed++
				}
			}
		}
		if failed > 0 {
			return fmt.Errorf("%s: LeadExec could not deliver %d lead(s)", stage, failed)
		}
		return ctx.Err()
	}
	w.o.Say("LeadExec delivers %d leads to %s", len(generated), hook)
	if err := deliver("first delivery", generated); err != nil {
		return res, err
	}
	// Every fifth lead is edited twice in LeadExec and delivered again: the
	// second edit must win, and its explicit empty value must clear.
	var upd1, upd2, retried []leadexecsim.Lead
	for i, l := range generated {
		if i%5 == 0 {
			u1 := cloneLead(l)
			u1.Fields["FirstName"] = l.Fields["FirstName"] + "-edited"
			u1.Fields[w.leCustom[0]] = "teal"
			upd1 = append(upd1, u1)
			u2 := cloneLead(u1)
			u2.Fields[w.leCustom[0]] = "crimson"
			u2.Fields[w.leCustom[2]] = ""
			u2.Fields["City"] = "Springfield"
			upd2 = append(upd2, u2)
		}
		if i%7 == 3 && i%5 != 0 {
			retried = append(retried, l)
		}
	}
	w.o.Say("LeadExec delivers %d edits, twice", len(upd1))
	if err := deliver("first edit", upd1); err != nil {
		return res, err
	}
	if err := deliver("second edit", upd2); err != nil {
		return res, err
	}
	// LeadExec retries some deliveries of unchanged leads (its answer got
	// lost): nothing new may be published.
	for i, l := range retried {
		res.Deliveries++
		if r := senders[i%len(senders)].Deliver(ctx, l); !r.Delivered {
			return res, fmt.Errorf("retry of lead %d was not accepted", l.UID)
		}
	}
	if ac, ok := p.(AcceptCounter); ok {
		want := int64(len(generated) + len(upd1) + len(upd2))
		if got := ac.Accepted(); got != want {
			return res, fmt.Errorf("webhook accepted %d deliveries, want %d (retries must publish nothing)", got, want)
		}
	}
	// LeadExec holds every lead it delivered, taken two minutes ago (older
	// than the safety net's min_age), and one more whose delivery it drops:
	// the safety net must publish that one, once, and no other.
	takenAt := time.Now().Add(-2 * time.Minute)
	for _, l := range final {
		w.LE.AddLead(leadexecsim.StoredLead{UID: l.UID, Fields: l.Fields, DateAdded: takenAt})
	}
	w.LE.AddLead(leadexecsim.StoredLead{UID: dropped.UID, Fields: dropped.Fields, DateAdded: takenAt})
	senders[0].DropNext(dropped.UID)
	if r := senders[0].Deliver(ctx, dropped); r.Delivered {
		return res, fmt.Errorf("the delivery of lead %d was to be dropped but arrived", dropped.UID)
	}
	w.o.Say("LeadExec dropped the delivery of lead %d; the safety net must find it", dropped.UID)
	final[dropped.UID] = dropped
	res.Leads = len(final)

	byEmail := make(map[string]leadexecsim.Lead, len(final))
	for _, l := range final {
		byEmail[strings.ToLower(l.Fields["Email"])] = l
	}
	w.o.Say("waiting for SharpSpring, iVvy and Getlead to hold every lead")
	if err := w.settle(ctx, p, byEmail); err != nil {
		return res, fmt.Errorf("waiting for the targets: %w", err)
	}
	// The safety net published the dropped lead (it is in every target);
	// an instance that ran throughout counted exactly that one.
	if o, ok := p.(Observed); ok && o.Observed() {
		if n, err := missedDeliveries(ctx, p); err != nil || n != 1 {
			return res, fmt.Errorf("the safety net counted %d missed deliveries, want 1 (%v)", n, err)
		}
	}

	// Leads made in SharpSpring reach LeadExec, once.
	ssOrigin, err := w.playSharpSpringLeads(ctx, p, byEmail)
	if err != nil {
		return res, err
	}
	for _, l := range ssOrigin {
		final[l.UID] = l
	}
	res.Leads = len(final)

	// Two-way: edits made in iVvy flow back to SharpSpring, and nothing
	// ping-pongs.
	ivEdits := editIVvy(w.IV, byEmail, max(1, w.o.Leads/100), w.Config.Catalog[0].IVvy)
	res.IVvyEdits = len(ivEdits)
	w.o.Say("%d leads are edited in iVvy; waiting for SharpSpring", len(ivEdits))
	for email, color := range ivEdits {
		l := byEmail[email]
		l.Fields[w.leCustom[0]] = color
		byEmail[email] = l
		final[l.UID] = l
	}
	if err := w.settle(ctx, p, byEmail); err != nil {
		return res, fmt.Errorf("waiting for the iVvy edits in SharpSpring: %w", err)
	}

	// The iVvy edits reached SharpSpring; LeadExec still holds each lead
	// made in SharpSpring once, as first made.
	if ok, why := w.ssOriginCheck(); !ok {
		return res, fmt.Errorf("after the iVvy edits: %s", why)
	}

	// Clients: SharpSpring agency clients ⇄ LeadExec clients.
	if res.Clients, res.LateClientWrites, err = w.playClients(ctx, p); err != nil {
		return res, err
	}

	// A pipeline that is being disturbed (killed, restarted) is left
	// alone first, and must settle again.
	if q, ok := p.(Quiescer); ok {
		if err := q.Quiesce(ctx); err != nil {
			return res, err
		}
		if err := w.settle(ctx, p, byEmail); err != nil {
			return res, fmt.Errorf("settling after the disturbance: %w", err)
		}
	}
	if o, ok := p.(Observed); ok && o.Observed() {
		if err := w.checkObserved(ctx, p, int64(len(generated)+len(upd1)+len(upd2))); err != nil {
			return res, err
		}
	}
	reader, err := sharpspring.New(sharpspring.Config{Endpoint: w.Config.SharpSpring.Endpoint, AccountID: w.account, SecretKey: w.secret, Gate: gate})
	if err != nil {
		return res, err
	}
	w.o.Say("reading %d leads back through the SharpSpring API; checking iVvy and Getlead", len(final))
	v := &verdict{w: io.Discard, say: w.o.Say}
	if err := v.sharpSpring(ctx, reader, w.catalog(), final); err != nil {
		return res, err
	}
	v.ivvy(w.IV, byEmail, w.leCustom[0])
	v.getlead(w.GL, byEmail)
	w.connectedAll(v, byEmail)
	res.Lost, res.Duplicates, res.Mismatches = v.lost, v.dup, v.mismatch
	return res, nil
}

// settle waits until the pipeline is idle and every target holds what the
// sources hold (checked in the simulators' memory: cheap, and no request).
func (w *World) settle(ctx context.Context, p Pipeline, byEmail map[string]leadexecsim.Lead) error {
	var last *verdict
	reported := time.Now()
	err := waitUntil(ctx, func() bool {
		idle := p.Idle(ctx)
		due := time.Since(reported) > 20*time.Second
		if !idle && !due {
			return false // the verdict reads every lead: only when it can pass, or to report
		}
		v := &verdict{}
		v.sharpSpringSim(w.SS, w.catalog(), byEmail)
		v.ivvy(w.IV, byEmail, w.leCustom[0])
		v.getlead(w.GL, byEmail)
		w.connectedAll(v, byEmail)
		last = v
		if due {
			// A long wait says what it is waiting for.
			reported = time.Now()
			w.o.Say("still waiting: pipeline idle=%v, lost=%d duplicates=%d mismatches=%d; first: %s", idle, v.lost, v.dup, v.mismatch, v.first)
		}
		return idle && v.lost+v.dup+v.mismatch == 0
	})
	if err != nil && last != nil {
		w.o.Say("still different: lost=%d duplicates=%d mismatches=%d; first: %s", last.lost, last.dup, last.mismatch, last.first)
	}
	return err
}

func cloneLead(l leadexecsim.Lead) leadexecsim.Lead {
	f := make(map[string]string, len(l.Fields))
	for k, v := range l.Fields {
		f[k] = v
	}
	return leadexecsim.Lead{UID: l.UID, Fields: f}
}
