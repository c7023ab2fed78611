package scenario

import (
	"context"
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// verdict counts the differences between the targets and the sources.
type verdict struct {
	lost, dup, mismatch int
	first               string // the first difference found
	shown               int
	w                   io.Writer
	say                 func(string, ...any)
}

func (v *verdict) add(counter *int, format string, args ...any) {
	*counter++
	msg := fmt.Sprintf(format, args...)
	if v.first == "" {
		v.first = msg
	}
	if v.say != nil && v.shown < 10 {
		v.shown++
		v.say("mismatch: %s", msg)
	}
}

func (w *World) catalog() *mappings.Catalog {
	cat, _ := mappings.NewCatalog(w.Config.Catalog)
	return cat
}

// wantSharpSpring is what SharpSpring must hold for a LeadExec lead.
func wantSharpSpring(l leadexecsim.Lead, cat *mappings.Catalog) (map[string]string, error) {
	canon, _, err := mappings.FromLeadExec(l.Fields, cat)
	if err != nil {
		return nil, err
	}
	return mappings.ToSharpSpring(canon, cat), nil
}

// sharpSpring reads every expected lead by email, and every active lead to
// find duplicates, through the SharpSpring API.
func (v *verdict) sharpSpring(ctx context.Context, c *sharpspring.Client, cat *mappings.Catalog, want map[int64]leadexecsim.Lead) error {
	byEmail := make(map[string]leadexecsim.Lead, len(want))
	for _, l := range want {
		byEmail[strings.ToLower(l.Fields["Email"])] = l
	}
	emails := make([]string, 0, len(byEmail))
	for e := range byEmail {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	got := map[string]sharpspring.Lead{}
	for start := 0; start < len(emails); start += 500 {
		ls, err := c.GetLeads(ctx, sharpspring.GetLeadsQuery{Emails: emails[start:min(start+500, len(emails))]})
		if err != nil {
			return fmt.Errorf("read back: %w", err)
		}
		for _, l := range ls {
			got[strings.ToLower(l["emailAddress"])] = l
		}
	}
	// Every active lead, to count duplicates (offset paging; nothing writes
	// while the verdict reads).
	seen := map[string]int{}
	for offset := 0; ; offset += 500 {
		ls, err := c.GetLeads(ctx, sharpspring.GetLeadsQuery{Offset: offset, Fields: []string{"id", "emailAddress"}})
		if err != nil {
			return fmt.Errorf("read back: %w", err)
		}
		for _, l := range ls {
			seen[strings.ToLower(l["emailAddress"])]++
		}
		if len(ls) < 500 {
			break
		}
	}
	for _, email := range emails {
		l := byEmail[email]
		g, ok := got[email]
		if !ok {
			v.add(&v.lost, "sharpspring: lead %d (%s) is missing", l.UID, email)
			continue
		}
		if n := seen[email]; n != 1 {
			v.add(&v.dup, "sharpspring: lead %d (%s) is there %d times", l.UID, email, n)
			continue
		}
		wf, err := wantSharpSpring(l, cat)
		if err != nil {
			return err
		}
		for f, x := range wf {
			if gv := html.UnescapeString(g[f]); gv != x {
				v.add(&v.mismatch, "sharpspring: lead %d (%s) field %s = %q, want %q", l.UID, email, f, gv, x)
				break
			}
		}
	}
	for e := range seen {
		if _, ok := byEmail[e]; !ok {
			v.add(&v.dup, "sharpspring: lead %s was never delivered", e)
		}
	}
	return nil
}

// sharpSpringSim is sharpSpring read from the simulator's memory.
func (v *verdict) sharpSpringSim(ss *sharpspringsim.Server, cat *mappings.Catalog, want map[string]leadexecsim.Lead) {
	seen := map[string]int{}
	got := map[string]sharpspringsim.Lead{}
	for _, l := range ss.Leads() {
		if p := l.Fields["emailAddress"]; p != nil {
			e := strings.ToLower(*p)
			seen[e]++
			got[e] = l
		}
	}
	for email, l := range want {
		g, ok := got[email]
		switch {
		case !ok:
			v.add(&v.lost, "sharpspring: %s is missing", email)
			continue
		case seen[email] != 1:
			v.add(&v.dup, "sharpspring: %s is there %d times", email, seen[email])
			continue
		}
		wf, err := wantSharpSpring(l, cat)
		if err != nil {
			v.add(&v.mismatch, "sharpspring: %s: %v", email, err)
			continue
		}
		for f, x := range wf {
			gv := ""
			if p := g.Fields[f]; p != nil {
				gv = *p
			}
			if gv != x {
				v.add(&v.mismatch, "sharpspring: %s field %s = %q, want %q", email, f, gv, x)
				break
			}
		}
	}
	if extra := len(seen) - len(want); extra > 0 {
		v.add(&v.dup, "sharpspring: %d lead(s) that LeadExec never delivered", extra)
	}
}

// ivvy compares iVvy's leads (by their contact's email) with want.
func (v *verdict) ivvy(iv *ivvysim.Server, want map[string]leadexecsim.Lead, colorField string) {
	byEmail := map[string][]ivvysim.Lead{}
	for _, l := range iv.Leads() {
		c, ok := iv.ContactByID(l.ContactID)
		if !ok {
			v.add(&v.mismatch, "ivvy: lead %d has no contact", l.ID)
			continue
		}
		byEmail[strings.ToLower(c.Email)] = append(byEmail[strings.ToLower(c.Email)], l)
	}
	for email, l := range want {
		got := byEmail[email]
		switch len(got) {
		case 0:
			v.add(&v.lost, "ivvy: %s is missing", email)
			continue
		case 1:
		default:
			v.add(&v.dup, "ivvy: %s is there %d times", email, len(got))
			continue
		}
		c, _ := iv.ContactByID(got[0].ContactID)
		if c.FirstName != l.Fields["FirstName"] || c.LastName != l.Fields["LastName"] {
			v.add(&v.mismatch, "ivvy: %s contact %q %q, want %q %q", email, c.FirstName, c.LastName, l.Fields["FirstName"], l.Fields["LastName"])
			continue
		}
		if got[0].CustomFields[101] != l.Fields[colorField] {
			v.add(&v.mismatch, "ivvy: %s favorite color %q, want %q", email, got[0].CustomFields[101], l.Fields[colorField])
		}
	}
	if extra := len(byEmail) - len(want); extra > 0 {
		v.add(&v.dup, "ivvy: %d lead(s) that LeadExec never delivered", extra)
	}
}

// getlead checks that every person is exactly one Getlead lead, keyed by
// phone, with their name and email.
func (v *verdict) getlead(gl *getleadsim.Server, want map[string]leadexecsim.Lead) {
	for email, l := range want {
		e164, err := mappings.NormalizePhone(l.Fields["PrimaryPhone"], "1")
		if err != nil {
			v.add(&v.mismatch, "getlead: %s: phone %q: %v", email, l.Fields["PrimaryPhone"], err)
			continue
		}
		g, ok := gl.LeadByPhone(e164)
		if !ok {
			v.add(&v.lost, "getlead: %s (%s) is missing", email, e164)
			continue
		}
		name := strings.TrimSpace(l.Fields["FirstName"] + " " + l.Fields["LastName"])
		if g.Name != name || !strings.EqualFold(g.Email, email) {
			v.add(&v.mismatch, "getlead: %s: name %q email %q, want %q %q", e164, g.Name, g.Email, name, email)
		}
	}
	if n := len(gl.Leads()); n > len(want) {
		v.add(&v.dup, "getlead: %d leads, want %d", n, len(want))
	}
}

// editIVvy edits the favorite color of n iVvy leads, as a user of iVvy would.
func editIVvy(iv *ivvysim.Server, want map[string]leadexecsim.Lead, n int, fieldID string) map[string]string {
	id, _ := strconv.ParseInt(fieldID, 10, 64)
	emails := make([]string, 0, len(want))
	for e := range want {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	out := map[string]string{}
	for _, e := range emails[:min(n, len(emails))] {
		ls := iv.LeadsByEmail(e)
		if len(ls) != 1 {
			continue
		}
		color := "ivvy-" + strconv.Itoa(len(out))
		iv.EditLead(ls[0].ID, func(l *ivvysim.Lead) {
			if l.CustomFields == nil {
				l.CustomFields = map[int64]string{}
			}
			l.CustomFields[id] = color
		})
		out[e] = color
	}
	return out
}

// connected checks that a connector's simulator holds every person once,
// by email, with the canonical values LeadExec gave them: names and email
// always, and every other field the simulator keeps.
func (v *verdict) connected(name string, sim connector.Sim, cat *mappings.Catalog, want map[string]leadexecsim.Lead) {
	held := map[string][]map[string]string{}
	for _, l := range sim.Leads() {
		e := strings.ToLower(l[mappings.Email])
		held[e] = append(held[e], l)
	}
	for email, l := range want {
		got := held[email]
		switch {
		case len(got) == 0:
			v.add(&v.lost, "%s: %s is missing", name, email)
			continue
		case len(got) > 1:
			v.add(&v.dup, "%s: %s is held %d times", name, email, len(got))
		}
		canon, _, err := mappings.FromLeadExec(l.Fields, cat)
		if err != nil {
			v.add(&v.mismatch, "%s: %s: %v", name, email, err)
			continue
		}
		for f, w := range canon {
			g, kept := got[0][f]
			always := f == mappings.FirstName || f == mappings.LastName || f == mappings.Email
			if (kept || always) && !strings.EqualFold(g, w) && !(f == mappings.Email && strings.EqualFold(g, email)) {
				v.add(&v.mismatch, "%s: %s: %s is %q, want %q", name, email, f, g, w)
			}
		}
	}
	if n := len(held); n > len(want) {
		v.add(&v.dup, "%s: %d people, want %d", name, n, len(want))
	}
}

// connectedAll checks every connector's simulator.
func (w *World) connectedAll(v *verdict, byEmail map[string]leadexecsim.Lead) {
	cat := w.catalog()
	for _, name := range slices.Sorted(maps.Keys(w.Connected)) {
		v.connected(name, w.Connected[name], cat, byEmail)
	}
}
