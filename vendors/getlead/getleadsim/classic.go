package getleadsim

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Classic answer messages, as documented.
const (
	MsgLeadAdded      = "Lead Added Successfully."
	MsgNoteAdded      = "Note Added Successfully."
	MsgTaskAdded      = "Task Added Successfully."
	MsgDepartmentDone = "The source number has been assigned to the specified department."
	MsgCheckParams    = "Please check the parameters."
	MsgMobileLength   = "The mobileno must be between 8 and 14 digits."
	MsgNotFound       = "Enquiry Not Found."
	MsgInvalidToken   = "Invalid token." // assumption: the real answer is unknown
)

// standardParams are gl-website-contacts' documented parameters; any other
// key is an additional field.
var standardParams = map[string]bool{
	"token": true, "name": true, "email": true, "countrycode": true, "mobileno": true, "feedback": true,
	"source": true, "company_name": true, "staff_name": true, "date_of_birth": true, "purpose": true,
	"status": true, "department": true,
}

type classicAnswer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func ok(msg string) classicAnswer { return classicAnswer{Status: "success", Message: msg} }

const departmentEndpoint = "gl-department-vise-agent-assign"

func (s *Server) serveClassic(w http.ResponseWriter, r *http.Request, rec *LoggedRequest) {
	s.mu.Lock()
	s.stats.requests++
	s.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Method Not Allowed"})
		return
	}
	endpoint := strings.TrimPrefix(r.URL.Path, "/api/")
	pathToken := ""
	if rest, found := strings.CutPrefix(endpoint, departmentEndpoint+"/"); found {
		endpoint, pathToken = departmentEndpoint, rest
	}
	handler, known := classicHandlers[endpoint]
	if !known {
		s.writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	rec.Endpoint = endpoint
	failWord := "error"
	if endpoint == "gl-website-contacts" {
		failWord = "fail" // create answers "fail", the others "error" (as documented)
	}
	params, err := classicParams(r)
	token := params["token"]
	if endpoint == departmentEndpoint {
		token = pathToken
	}
	if err != nil || strings.TrimSpace(token) == "" {
		s.answer(w, classicAnswer{Status: failWord, Message: MsgCheckParams})
		return
	}
	if !strings.HasPrefix(token, "gl_") || token != s.cfg.token {
		// HTTP 200, like every classic answer the documents show: a client
		// must tell a refused token from a refused record by the answer.
		s.answer(w, classicAnswer{Status: "error", Message: MsgInvalidToken})
		return
	}
	s.mu.Lock()
	s.stats.byEndpoint[endpoint]++
	s.stats.windows.Add(APIClassic, rec.Time)
	d := s.faults.Next(endpoint)
	release := s.lateDecided(d)
	s.mu.Unlock()
	defer release()
	if s.inject(w, r, rec, d) {
		return
	}
	if d.Fault == FaultLateApply {
		s.mu.Lock()
		key := s.classicKey(endpoint, params)
		s.mu.Unlock()
		s.late(key, func(now time.Time) { handler(s, params, now) })
		return
	}
	s.mu.Lock()
	ans := handler(s, params, s.cfg.now().UTC())
	if ans.Status != "success" {
		ans.Status = failWord
	} else {
		s.applied(s.classicKey(endpoint, params))
	}
	s.mu.Unlock()
	if d.Fault == FaultDropAfterCommit {
		s.dropConnection(w)
		return
	}
	s.answer(w, ans)
}

// classicKey names the lead a classic request is for, as late writes match
// leads (leadKey): by its number, else (follow-ups) its email. Caller
// holds s.mu.
func (s *Server) classicKey(endpoint string, p map[string]string) string {
	mobileKey := "mobile_no"
	switch endpoint {
	case "gl-website-contacts":
		mobileKey = "mobileno"
	case "gl-deal-creation-api":
		mobileKey = "mobile"
	case departmentEndpoint:
		return ""
	}
	phone := ""
	if cc, okCC := normalizeCountryCode(p["countrycode"]); okCC {
		if national, okMobile := nationalNumber(cc, p[mobileKey]); okMobile {
			phone = "+" + cc + national
		}
	}
	l := s.findByE164(phone)
	if l == nil && endpoint != "gl-website-contacts" {
		l = s.findByEmail(p["email"])
	}
	return leadKey(l, phone)
}

func (s *Server) answer(w http.ResponseWriter, a classicAnswer) {
	s.mu.Lock()
	s.stats.classic[a.Status]++
	s.stats.messages[a.Message]++
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, a)
}

// classicParams merges the query string, a urlencoded or multipart form
// and a JSON object body; later sources win.
func classicParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return out, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
	case ct == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return out, err
		}
		for k, vs := range form {
			if len(vs) > 0 {
				out[k] = vs[0]
			}
		}
	case ct == "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseMultipartForm(8 << 20); err != nil {
			return out, err
		}
		for k, vs := range r.MultipartForm.Value {
			if len(vs) > 0 {
				out[k] = vs[0]
			}
		}
	case trimmed[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return out, err
		}
		for k, v := range obj {
			switch t := v.(type) {
			case nil:
				out[k] = ""
			case string:
				out[k] = t
			case json.Number:
				out[k] = t.String()
			case bool:
				out[k] = strconv.FormatBool(t)
			default:
				b, _ := json.Marshal(t)
				out[k] = string(b)
			}
		}
	default:
		return out, errorString("unreadable body")
	}
	return out, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

type classicHandler func(s *Server, p map[string]string, now time.Time) classicAnswer

var classicHandlers = map[string]classicHandler{
	"gl-website-contacts":  (*Server).createLead,
	"gl-status-change-api": (*Server).changeStatus,
	"gl-note-creation-api": (*Server).createNote,
	"gl-task-creation-api": (*Server).createTask,
	"gl-deal-creation-api": (*Server).createDeal,
	departmentEndpoint:     (*Server).assignDepartment,
}

func missing(p map[string]string, keys ...string) bool {
	for _, k := range keys {
		if strings.TrimSpace(p[k]) == "" {
			return true
		}
	}
	return false
}

func fail(msg string) classicAnswer { return classicAnswer{Status: "fail", Message: msg} }

// createLead is gl-website-contacts: create, or update the lead that has
// the number. Caller holds s.mu.
func (s *Server) createLead(p map[string]string, now time.Time) classicAnswer {
	if missing(p, "countrycode", "mobileno", "source") {
		return fail(MsgCheckParams)
	}
	cc, okCC := normalizeCountryCode(p["countrycode"])
	if !okCC {
		return fail(MsgCheckParams)
	}
	national, okMobile := nationalNumber(cc, p["mobileno"])
	if !okMobile {
		return fail(MsgMobileLength)
	}
	statusID := 0
	if st := strings.TrimSpace(p["status"]); st != "" {
		id, known := s.statusByName(st)
		if !known {
			return fail(MsgCheckParams)
		}
		statusID = id
	}
	e164 := "+" + cc + national
	l := s.findByE164(e164)
	if l == nil {
		l = s.newLead([]string{e164}, now)
		s.stats.leads++
	}
	for k, v := range p {
		switch k {
		case "token", "countrycode", "mobileno", "status":
		case "name":
			s.rename(l, v, "classic", now)
		case "email":
			l.email = v
			s.noteEmail(l)
		case "feedback":
			l.feedback = v
		case "source":
			l.source = v
		case "company_name":
			l.company = v
		case "staff_name":
			l.staff = v
		case "date_of_birth":
			l.dob = v
		case "purpose":
			l.purpose = v
		case "department":
			l.department = v
		default:
			l.custom[k] = v
			s.addField(k)
		}
	}
	if statusID != 0 {
		l.statusID = statusID
	}
	l.updated = now
	return ok(MsgLeadAdded)
}

// findClassic finds the lead named by countrycode + a mobile parameter,
// else by email. Caller holds s.mu.
func (s *Server) findClassic(p map[string]string, mobileKey string) *lead {
	if cc, okCC := normalizeCountryCode(p["countrycode"]); okCC {
		if national, okMobile := nationalNumber(cc, p[mobileKey]); okMobile {
			if l := s.findByE164("+" + cc + national); l != nil {
				return l
			}
		}
	}
	return s.findByEmail(p["email"])
}

func (s *Server) changeStatus(p map[string]string, now time.Time) classicAnswer {
	if missing(p, "status", "countrycode", "mobile_no") {
		return fail(MsgCheckParams)
	}
	id, known := s.statusByName(p["status"])
	if !known {
		return fail(MsgCheckParams)
	}
	l := s.findClassic(p, "mobile_no")
	if l == nil {
		return fail(MsgNotFound)
	}
	l.statusID, l.updated = id, now
	return ok(MsgNoteAdded) // sic: the documented success message of status change
}

func (s *Server) createNote(p map[string]string, now time.Time) classicAnswer {
	if missing(p, "note", "countrycode", "mobile_no") {
		return fail(MsgCheckParams)
	}
	l := s.findClassic(p, "mobile_no")
	if l == nil {
		return fail(MsgNotFound)
	}
	l.notes = append(l.notes, note{id: s.newID(now), content: p["note"], at: now})
	s.stats.notes++
	return ok(MsgNoteAdded)
}

func (s *Server) createTask(p map[string]string, now time.Time) classicAnswer {
	if missing(p, "name") {
		return fail(MsgCheckParams)
	}
	if c := p["task_category_id"]; c != "" && c != "1" && c != "2" {
		return fail(MsgCheckParams)
	}
	t := task{name: p["name"], description: p["description"], comment: p["comment"], category: p["task_category_id"],
		scheduled: p["scheduled_date"], assignedTo: p["assigned_to"]}
	if p["mobile_no"] != "" || p["email"] != "" {
		l := s.findClassic(p, "mobile_no")
		if l == nil {
			return fail(MsgNotFound)
		}
		t.leadID = l.id
	}
	s.tasks = append(s.tasks, t)
	return ok(MsgTaskAdded)
}

func (s *Server) createDeal(p map[string]string, now time.Time) classicAnswer {
	if missing(p, "mobile", "status") {
		return fail(MsgCheckParams)
	}
	if a := p["deal_amount"]; a != "" {
		if _, err := strconv.ParseInt(a, 10, 64); err != nil {
			return fail(MsgCheckParams)
		}
	}
	var l *lead
	if p["countrycode"] != "" {
		l = s.findClassic(map[string]string{"countrycode": p["countrycode"], "mobile": p["mobile"]}, "mobile")
	} else if d := strings.TrimLeft(digitsOf(p["mobile"]), "0"); len(d) >= 8 {
		// No country code: the number as written, or any lead whose
		// number ends with it.
		for _, id := range s.order {
			for _, ph := range s.leads[id].phones {
				if strings.HasSuffix(ph, d) && l == nil {
					l = s.leads[id]
				}
			}
		}
	}
	if l == nil {
		return fail(MsgNotFound)
	}
	s.deals = append(s.deals, deal{name: p["deal name"], status: p["status"], staff: p["staff_name"], amount: p["deal_amount"],
		start: p["start_date"], end: p["end_date"], note: p["deal_note"], leadID: l.id})
	return ok(MsgTaskAdded) // sic: the deal section's documented message is the task API's
}

func (s *Server) assignDepartment(p map[string]string, now time.Time) classicAnswer {
	switch {
	case strings.TrimSpace(p["SourceNumber"]) == "":
		return fail("Missing parameters: SourceNumber.")
	case strings.TrimSpace(p["department"]) == "":
		return fail("Missing parameters: department.")
	}
	s.depts[p["SourceNumber"]] = p["department"]
	return ok(MsgDepartmentDone)
}
