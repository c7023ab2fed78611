package ivvy

import (
	"context"
	"encoding/json"
	"fmt"
)

// MaxBatchJobs is the most jobs one batch?action=run may carry (24448).
const MaxBatchJobs = 200

// Job is one call inside a batch.
type Job struct {
	Namespace string `json:"namespace"`
	Action    string `json:"action"`
	Params    any    `json:"params"`
}

// JobResult is one job's outcome, in job order.
type JobResult struct {
	Namespace string          `json:"namespace"`
	Action    string          `json:"action"`
	Request   json.RawMessage `json:"request"`
	Response  json.RawMessage `json:"response"`
}

// Err returns the job's failure as *Error (an error body, or success:false
// for add/update actions), or nil.
func (r JobResult) Err() error {
	if e := decodeError(r.Namespace, r.Action, 200, r.Response); e != nil {
		return e
	}
	var w writeResult
	if json.Unmarshal(r.Response, &w) == nil && w.Success != nil && !*w.Success {
		_, err := decodeWrite(r.Namespace, r.Action, r.Response)
		return err
	}
	return nil
}

// ID is the id answered by an add/update job (0 if none).
func (r JobResult) ID() int64 {
	id, err := decodeWrite(r.Namespace, r.Action, r.Response)
	if err != nil {
		return 0
	}
	return id
}

// RunBatch queues up to MaxBatchJobs jobs (batch?action=run) and returns
// the async id. iVvy POSTs the results to callbackURL when done ("" for
// none; the callback is unsigned, so put a secret in its URL).
func (c *Client) RunBatch(ctx context.Context, jobs []Job, callbackURL string) (string, error) {
	if len(jobs) > MaxBatchJobs {
		return "", &Error{Namespace: "batch", Action: "run", ErrorCode: 400, SpecificCode: CodeBatchTooManyJobs,
			Message: fmt.Sprintf("%d jobs is over the %d per batch limit", len(jobs), MaxBatchJobs)}
	}
	params := map[string]any{"jobs": jobs}
	if callbackURL != "" {
		params["callbackUrl"] = callbackURL
	}
	var res struct {
		AsyncID Text `json:"asyncId"`
	}
	if err := c.Call(ctx, "batch", "run", params, &res); err != nil {
		return "", err
	}
	if res.AsyncID == "" {
		return "", &Error{Namespace: "batch", Action: "run", HTTPStatus: 200, Message: "response has no asyncId"}
	}
	return string(res.AsyncID), nil
}

// BatchProgress returns the percentage of a batch's jobs done (0–100).
func (c *Client) BatchProgress(ctx context.Context, asyncID string) (int, error) {
	var res struct {
		Progress Int `json:"progress"`
	}
	err := c.Call(ctx, "batch", "progress", map[string]any{"async": asyncID}, &res)
	return int(res.Progress), err
}

// BatchResults returns a finished batch's results in job order (24114 while
// it runs; results are kept two days).
func (c *Client) BatchResults(ctx context.Context, asyncID string) ([]JobResult, error) {
	var res struct {
		AsyncID Text        `json:"asyncId"`
		Results []JobResult `json:"results"`
	}
	err := c.Call(ctx, "batch", "results", map[string]any{"async": asyncID}, &res)
	return res.Results, err
}

// IDOrErr is the id answered by an add/update job, or its failure.
func (r JobResult) IDOrErr() (int64, error) {
	if err := r.Err(); err != nil {
		return 0, err
	}
	return decodeWrite(r.Namespace, r.Action, r.Response)
}
