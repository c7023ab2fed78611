package ivvysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// maxBatchJobs is the most jobs one batch?action=run may carry.
const maxBatchJobs = 200

type batch struct {
	id          string
	results     []map[string]any
	steps, seen int // progress calls needed / made
	callbackURL string
}

func (b *batch) done() bool { return b.seen >= b.steps }

type job struct {
	Namespace string          `json:"namespace"`
	Action    string          `json:"action"`
	Params    json.RawMessage `json:"params"`
}

// batchRun validates every job (24448 over 200, 24092 bad job format,
// 24093 empty params), then runs them in order at once; results become
// visible after BatchProgressSteps progress calls. A job's failure is its
// own error body in its response; other jobs still run.
func (s *Server) batchRun(c *call) (any, *apiError) {
	raw, ok := c.params["jobs"]
	if !ok || isNull(raw) {
		return nil, missing("jobs")
	}
	var jobs []json.RawMessage
	if err := json.Unmarshal(raw, &jobs); err != nil {
		return nil, newErr(http.StatusBadRequest, CodeBatchBadJob, "The jobs are not in the right format")
	}
	if len(jobs) > maxBatchJobs {
		return nil, newErr(http.StatusBadRequest, CodeBatchTooManyJobs, fmt.Sprintf("A batch holds at most %d jobs", maxBatchJobs))
	}
	if len(jobs) == 0 {
		return nil, newErr(http.StatusBadRequest, CodeBatchBadJob, "The jobs are not in the right format", "jobs is empty")
	}
	parsed := make([]job, len(jobs))
	for i, r := range jobs {
		var j job
		if err := json.Unmarshal(r, &j); err != nil || j.Namespace == "" || j.Action == "" {
			return nil, newErr(http.StatusBadRequest, CodeBatchBadJob, "The jobs are not in the right format", fmt.Sprintf("job %d", i))
		}
		if isNull(j.Params) {
			return nil, newErr(http.StatusBadRequest, CodeBatchEmptyParams, "A job parameter is empty", fmt.Sprintf("job %d", i))
		}
		parsed[i] = j
	}
	cb, e := strParam(c.params, "callbackUrl", "")
	if e != nil {
		return nil, e
	}
	b := &batch{id: fmt.Sprintf("async-%d", s.newID("batch")), steps: s.cfg.batchSteps}
	if cb != nil {
		b.callbackURL = *cb
	}
	for _, j := range parsed {
		var resp any
		name := j.Namespace + "." + j.Action
		h, known := s.actions[name]
		var jp params
		switch {
		case !known || strings.HasPrefix(name, "batch."):
			resp = newErr(http.StatusNotFound, 0, "Unknown action '"+name+"'")
		case json.Unmarshal(j.Params, &jp) != nil:
			resp = newErr(http.StatusBadRequest, CodeBatchBadJob, "The jobs are not in the right format")
		default:
			jc := &call{now: c.now, params: jp}
			res, err := h(s, jc)
			c.written += jc.written
			if err != nil {
				resp = err
			} else {
				resp = res
			}
		}
		b.results = append(b.results, map[string]any{"namespace": j.Namespace, "action": j.Action, "request": j.Params, "response": resp})
	}
	s.batches[b.id] = b
	if b.done() {
		s.postCallback(b)
	}
	return map[string]any{"asyncId": b.id}, nil
}

func (s *Server) batchByParam(c *call, notFound int) (*batch, *apiError) {
	id, e := strParam(c.params, "async", "")
	if e != nil {
		return nil, e
	}
	if id == nil || *id == "" {
		return nil, missing("async")
	}
	b := s.batches[*id]
	if b == nil {
		return nil, newErr(http.StatusNotFound, notFound, "The batch does not exist")
	}
	return b, nil
}

func (s *Server) batchProgress(c *call) (any, *apiError) {
	b, e := s.batchByParam(c, CodeBatchNotFound)
	if e != nil {
		return nil, e
	}
	if !b.done() {
		b.seen++
		if b.done() {
			s.postCallback(b)
		}
	}
	pct := 100
	if b.steps > 0 {
		pct = min(100, 100*b.seen/b.steps)
	}
	return map[string]any{"progress": pct}, nil
}

func (s *Server) batchResults(c *call) (any, *apiError) {
	b, e := s.batchByParam(c, CodeBatchNoResults)
	if e != nil {
		return nil, e
	}
	if !b.done() {
		return nil, newErr(http.StatusBadRequest, CodeBatchNotDone, "The batch has not completed")
	}
	return map[string]any{"asyncId": b.id, "results": b.results}, nil
}

func (s *Server) batchRestart(c *call) (any, *apiError) {
	if _, e := s.batchByParam(c, CodeBatchNotFound); e != nil {
		return nil, e
	}
	return map[string]any{"restarted": true}, nil
}

func (s *Server) batchRepost(c *call) (any, *apiError) {
	b, e := s.batchByParam(c, CodeBatchNotFound)
	if e != nil {
		return nil, e
	}
	s.postCallback(b)
	return map[string]any{"reposted": true}, nil
}

// postCallback POSTs the results to the batch's callback URL in the
// background (unsigned, like iVvy's). Caller holds s.mu.
func (s *Server) postCallback(b *batch) {
	if b.callbackURL == "" {
		return
	}
	body, err := json.Marshal(map[string]any{"asyncId": b.id, "results": b.results})
	if err != nil {
		return
	}
	select {
	case <-s.faults.Done():
		return
	default:
	}
	url := b.callbackURL
	s.callbacks.Add(1)
	go func() {
		defer s.callbacks.Done()
		resp, err := s.cfg.http.Post(url, "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}()
}
