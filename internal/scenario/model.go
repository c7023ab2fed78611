package scenario

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// The randomized convergence test (model_test.go) plays a seeded schedule
// of operations against the World and checks every target against a small
// reference model. This file holds the schedule's generator and the model.
// The model knows nothing of crmsync's code: it is plain maps and the rules
// the README promises, stated once each:
//
//   - newest change wins per field, across every side where the record can
//     be changed (LeadExec deliveries, users in SharpSpring and iVvy), and
//     an explicit empty value is a change like any other (a clear);
//   - a value a side reports again unchanged is no change (LeadExec
//     delivers the whole lead on every edit: the fields it did not edit do
//     not overwrite newer edits made elsewhere);
//   - LeadExec takes a lead once (insert only): a lead made in SharpSpring
//     is in LeadExec exactly once, holding one of the states the lead went
//     through, and LeadExec's own leads are never posted back to it;
//   - a change made in Getlead, which no route reads, stays until a newer
//     change of a field it is made from (first or last name) is written
//     over it;
//   - no route carries a status map and no field has an owner in the
//     World's configuration, so statuses stay where they are set and every
//     field is owned by whoever changed it last;
//   - clients: newest change per field wins between SharpSpring agency
//     clients and LeadExec clients, an emptied field is cleared on the
//     other side, and neither side holds a client twice.

// modelSide is where a record can be changed.
type modelSide string

const (
	sideLeadExec    modelSide = "leadexec"
	sideSharpSpring modelSide = "sharpspring"
	sideIVvy        modelSide = "ivvy"
	// Getlead is a target only: no route reads it (its poller reads new
	// leads only), so a change made there stays until a newer change of
	// the same field from a source is written over it.
	sideGetlead modelSide = "getlead"
)

// Lead fields of the model. Email and phone identify a lead and never
// change; these five do.
const (
	mFirst  = "first_name"
	mLast   = "last_name"
	mCity   = "city"
	mColor  = "favorite_color"
	mBudget = "budget"
	// mGetleadName is Getlead's one name field, as a user there edits it.
	mGetleadName = "getlead_name"
)

var (
	modelLeadFields = []string{mFirst, mLast, mCity, mColor, mBudget}
	// ivvyFields are the model fields a lead has in iVvy (no city there).
	ivvyFields = []string{mFirst, mLast, mColor, mBudget}
	// leadExecFields are the model fields LeadExec's lead type keeps (the
	// simulator's default lead type has no custom fields).
	leadExecFields = []string{mFirst, mLast, mCity}
	// iVvy keeps names on the contact, custom fields on the lead.
	ivvyContactFields = map[string]bool{mFirst: true, mLast: true}
)

// Client fields of the model; the company name identifies a client.
var modelClientFields = []string{"street", "city", "state", "zip"}

// opKind is what an operation does.
type opKind int

const (
	opLeadCreate    opKind = iota // a lead is made (LeadExec delivers it, or a user makes it in SharpSpring)
	opLeadEdit                    // a lead is edited (LeadExec delivers it again, or a user edits it in SharpSpring or iVvy)
	opLeadRedeliver               // LeadExec delivers the lead again unchanged (its answer got lost)
	opClientCreate                // a client is made in SharpSpring or LeadExec
	opClientEdit                  // a client is edited in SharpSpring or LeadExec
	opFaults                      // the vendor simulators start (or stop) misbehaving
	opRestart                     // the pipeline is killed and started again
)

func (k opKind) String() string {
	return [...]string{"lead-create", "lead-edit", "lead-redeliver", "client-create", "client-edit", "faults", "restart"}[k]
}

// modelFaults are the fault rates of the SharpSpring, iVvy and Getlead
// simulators from an opFaults on (all zero: none).
type modelFaults struct {
	ServerError     float64
	Burst           int
	Timeout         float64
	DropAfterCommit float64
	Malformed       float64
	RateLimit       float64
	LateApply       float64 // Getlead only
	Seed            int64
}

func (f modelFaults) String() string {
	if f == (modelFaults{}) {
		return "none"
	}
	return fmt.Sprintf("5xx=%.2f burst=%d timeout=%.2f dropAfterCommit=%.2f malformed=%.2f rateLimit=%.2f lateApply=%.2f",
		f.ServerError, f.Burst, f.Timeout, f.DropAfterCommit, f.Malformed, f.RateLimit, f.LateApply)
}

// modelOp is one operation of a schedule.
type modelOp struct {
	Seq    int
	Round  int
	Kind   opKind
	Side   modelSide
	Rec    int               // lead or client index
	Fields map[string]string // values set; "" clears
	Faults modelFaults
	// Settle: the record must hold its model state everywhere before this
	// operation is applied. A change made on one side while another side's
	// change of the same record is still on its way is a race no vendor
	// API lets crmsync win (each write is a blind overwrite), so the
	// schedule changes a record on one side at a time; changes on the same
	// side follow each other without waiting.
	Settle bool
}

func (op modelOp) String() string {
	s := fmt.Sprintf("#%d round %d %s", op.Seq, op.Round, op.Kind)
	switch op.Kind {
	case opFaults:
		return s + " " + op.Faults.String()
	case opRestart:
		return s
	case opClientCreate, opClientEdit:
		s += fmt.Sprintf(" client %d", op.Rec)
	default:
		s += fmt.Sprintf(" lead %d", op.Rec)
	}
	s += " in " + string(op.Side)
	if op.Settle {
		s += " (after it settled)"
	}
	keys := make([]string, 0, len(op.Fields))
	for k := range op.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s += fmt.Sprintf(" %s=%q", k, op.Fields[k])
	}
	return s
}

// schedule is a generated run: its leads and clients and the operations,
// ordered by round (operations of one round are applied one after another
// without waiting).
type schedule struct {
	Seed    uint64
	Leads   []modelLeadID
	Clients []modelClientID
	Rounds  int
	Ops     []modelOp
}

// modelLeadID is a lead's fixed identity.
type modelLeadID struct {
	Origin modelSide // sideLeadExec or sideSharpSpring
	UID    int64     // LeadExec LeadUID (LeadExec origin)
	Email  string
	Phone  string // "(NXX) NXX-XXXX"
}

// modelClientID is a client's fixed identity.
type modelClientID struct {
	Origin  modelSide
	Company string
	Phone   string
	Email   string
}

// scheduleSize shapes generate.
type scheduleSize struct {
	Leads   int
	Clients int
	Rounds  int
	Faults  int // fault changes (each sets rates for some rounds)
	Kills   int // pipeline restarts
}

// generate makes the schedule of seed: the same seed and size give the
// same schedule.
func generate(seed uint64, size scheduleSize) schedule {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := schedule{Seed: seed, Rounds: size.Rounds}
	type slot struct {
		round int
		op    modelOp
	}
	var slots []slot
	seq := 0
	val := func(prefix string) string {
		seq++
		return fmt.Sprintf("%s%d", prefix, seq)
	}
	// Leads: made in the first half of the rounds, then changed in later
	// rounds, at most once per round.
	for i := range size.Leads {
		id := modelLeadID{Origin: sideLeadExec, UID: int64(700000 + i),
			Email: fmt.Sprintf("model-%d-%d@example.com", seed%100000, i),
			Phone: fmt.Sprintf("(%03d) 555-%04d", 201+i/10000, i%10000)}
		if rng.IntN(4) == 0 {
			id.Origin, id.UID = sideSharpSpring, 0
		}
		s.Leads = append(s.Leads, id)
		created := rng.IntN(max(1, size.Rounds/2))
		fields := map[string]string{mFirst: val("Ann"), mLast: val("Lee"), mCity: val("City"), mColor: val("teal"), mBudget: ""}
		if rng.IntN(2) == 0 {
			fields[mBudget] = val("") // a number: SharpSpring's Budget field is an int
		}
		slots = append(slots, slot{created, modelOp{Kind: opLeadCreate, Side: id.Origin, Rec: i, Fields: fields}})
		last := id.Origin
		for r := created + 1; r < size.Rounds; r++ {
			if rng.IntN(3) != 0 {
				continue
			}
			sides := []modelSide{sideSharpSpring, sideSharpSpring, sideIVvy, sideIVvy, sideGetlead}
			if id.Origin == sideLeadExec {
				sides = append(sides, sideLeadExec, sideLeadExec, sideLeadExec)
			}
			side := sides[rng.IntN(len(sides))]
			op := modelOp{Kind: opLeadEdit, Side: side, Rec: i, Settle: side != last}
			switch {
			case side == sideGetlead:
				op.Fields = map[string]string{mGetleadName: val("Gl")}
			case side == sideLeadExec && rng.IntN(4) == 0:
				op.Kind = opLeadRedeliver
			default:
				fields := modelLeadFields
				if side == sideIVvy {
					fields = ivvyFields
				}
				op.Fields = editFields(rng, val, fields)
			}
			last = side
			slots = append(slots, slot{r, op})
		}
	}
	// Clients: made on either side, then edited on either side.
	for i := range size.Clients {
		id := modelClientID{Origin: sideSharpSpring, Company: fmt.Sprintf("Model %d Co %d", seed%100000, i),
			Phone: fmt.Sprintf("+1 512 555 %04d", i), Email: fmt.Sprintf("ops%d-%d@buyer.example", seed%100000, i)}
		if i%2 == 1 {
			id.Origin = sideLeadExec
		}
		s.Clients = append(s.Clients, id)
		created := rng.IntN(max(1, size.Rounds/2))
		fields := map[string]string{"street": val("Main St "), "city": val("Austin"), "state": "TX", "zip": fmt.Sprintf("7%04d", rng.IntN(10000))}
		slots = append(slots, slot{created, modelOp{Kind: opClientCreate, Side: id.Origin, Rec: i, Fields: fields}})
		last := id.Origin
		for r := created + 1; r < size.Rounds; r++ {
			if rng.IntN(3) != 0 {
				continue
			}
			side := []modelSide{sideSharpSpring, sideLeadExec}[rng.IntN(2)]
			f := map[string]string{}
			switch rng.IntN(3) {
			case 0:
				f["city"] = val("Town")
			case 1:
				f["street"] = val("Elm St ")
				f["zip"] = fmt.Sprintf("7%04d", rng.IntN(10000))
			default:
				f["street"] = "" // emptied: cleared on the other side
			}
			slots = append(slots, slot{r, modelOp{Kind: opClientEdit, Side: side, Rec: i, Fields: f, Settle: side != last}})
			last = side
		}
	}
	// Faults: each sets rates at the start of a round; the last rounds
	// run clean so that the faults of the last one end.
	for range size.Faults {
		r := rng.IntN(max(1, size.Rounds-1))
		f := modelFaults{Seed: int64(rng.Uint32())}
		switch rng.IntN(5) {
		case 0:
			f.ServerError, f.Burst = 0.04, 3
		case 1:
			f.Timeout, f.LateApply = 0.02, 0.02
		case 2:
			f.DropAfterCommit = 0.05
		case 3:
			f.Malformed, f.RateLimit = 0.04, 0.03
		default:
			f = modelFaults{ServerError: 0.02, Burst: 2, Timeout: 0.01, DropAfterCommit: 0.03, Malformed: 0.02, RateLimit: 0.02, LateApply: 0.01, Seed: f.Seed}
		}
		slots = append(slots, slot{r, modelOp{Kind: opFaults, Faults: f}})
		if end := r + 1 + rng.IntN(3); end < size.Rounds {
			slots = append(slots, slot{end, modelOp{Kind: opFaults}})
		}
	}
	for range size.Kills {
		slots = append(slots, slot{1 + rng.IntN(max(1, size.Rounds-1)), modelOp{Kind: opRestart}})
	}
	// Within a round: faults first, then restarts, then the changes in a
	// shuffled order.
	rng.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	sort.SliceStable(slots, func(i, j int) bool {
		if slots[i].round != slots[j].round {
			return slots[i].round < slots[j].round
		}
		return rank(slots[i].op.Kind) < rank(slots[j].op.Kind)
	})
	for i, sl := range slots {
		op := sl.op
		op.Seq, op.Round = i+1, sl.round
		s.Ops = append(s.Ops, op)
	}
	return s
}

func rank(k opKind) int {
	switch k {
	case opFaults:
		return 0
	case opRestart:
		return 1
	}
	return 2
}

// editFields picks one to three of the lead fields to change, now and
// then clearing one.
func editFields(rng *rand.Rand, val func(string) string, fields []string) map[string]string {
	f := map[string]string{}
	for range 1 + rng.IntN(3) {
		switch name := fields[rng.IntN(len(fields))]; name {
		case mFirst:
			f[name] = val("Bo")
		case mLast:
			f[name] = val("Kim")
		case mBudget:
			if rng.IntN(3) == 0 {
				f[name] = ""
			} else {
				f[name] = val("") // a number: SharpSpring's Budget field is an int
			}
		default:
			if rng.IntN(3) == 0 {
				f[name] = ""
			} else {
				f[name] = val(strings.ReplaceAll(name, "_", ""))
			}
		}
	}
	return f
}

// model is the reference: what every record must hold after quiescence.
type model struct {
	s       schedule
	leads   []*modelLead
	clients []*modelClient
}

// modelLead is one lead's expected state and history.
type modelLead struct {
	modelLeadID
	made    bool
	now     map[string]string   // newest value per field
	le      map[string]string   // LeadExec's own lead, as last delivered (LeadExec origin)
	history []map[string]string // states the lead went through, oldest first
	glName  *string             // a name set in Getlead and not yet overwritten
	ops     []modelOp
}

// modelClient is one client's expected state.
type modelClient struct {
	modelClientID
	made bool
	now  map[string]string
	ops  []modelOp
}

func newModel(s schedule) *model {
	m := &model{s: s}
	for _, id := range s.Leads {
		m.leads = append(m.leads, &modelLead{modelLeadID: id})
	}
	for _, id := range s.Clients {
		m.clients = append(m.clients, &modelClient{modelClientID: id})
	}
	return m
}

// apply records op in the model. For a LeadExec delivery it returns the
// whole lead LeadExec sends (model field names).
func (m *model) apply(op modelOp) map[string]string {
	switch op.Kind {
	case opLeadCreate, opLeadEdit, opLeadRedeliver:
		l := m.leads[op.Rec]
		l.ops = append(l.ops, op)
		if op.Kind == opLeadCreate {
			l.made, l.now = true, map[string]string{}
			if op.Side == sideLeadExec {
				l.le = map[string]string{}
			}
		}
		if op.Side == sideGetlead {
			v := op.Fields[mGetleadName]
			l.glName = &v
			return nil
		}
		for f, v := range op.Fields {
			if op.Side == sideLeadExec {
				if l.le[f] == v {
					continue // LeadExec sends it again unchanged: no change
				}
				l.le[f] = v
			}
			if (f == mFirst || f == mLast) && l.now[f] != v {
				l.glName = nil // written over Getlead's own edit
			}
			l.now[f] = v
		}
		l.history = append(l.history, clone(l.now))
		if op.Side == sideLeadExec {
			return clone(l.le)
		}
	case opClientCreate, opClientEdit:
		c := m.clients[op.Rec]
		c.ops = append(c.ops, op)
		if op.Kind == opClientCreate {
			c.made, c.now = true, map[string]string{}
		}
		for f, v := range op.Fields {
			c.now[f] = v
		}
	}
	return nil
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// e164 is a lead's phone as Getlead keys it (country code 1).
func e164(phone string) string {
	var b strings.Builder
	b.WriteString("+1")
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// getleadName is what Getlead's one name field must hold: a name set
// there, else first and last name.
func (l *modelLead) getleadName() string {
	if l.glName != nil {
		return *l.glName
	}
	return strings.TrimSpace(l.now[mFirst] + " " + l.now[mLast])
}
