// Package getleadsim simulates Getlead CRM's two APIs for tests, `crmsync
// sim` and demos: the classic token API (app.getleadcrm.com/api/gl-*) and
// the V3 REST API (v3.getleadcrm.com/api/v1). It follows
// shared/specs/vendors.md §3, §3.5 being its contract.
//
// One Server answers both, sharing one lead store (a lead created through
// the classic API is visible in V3):
//
//	sim := getleadsim.New(getleadsim.Options{})
//	srv := httptest.NewServer(sim)
//	defer srv.Close()
//	defer sim.Close() // releases requests held by FaultTimeout
//	classic := srv.URL                // + /api/gl-website-contacts …
//	v3 := srv.URL + "/api/v1"          // + /meta, /leads …
//
// # Classic API
//
//   - Endpoints: gl-website-contacts, gl-status-change-api,
//     gl-note-creation-api, gl-task-creation-api, gl-deal-creation-api and
//     gl-department-vise-agent-assign/{token}; GET or POST. Parameters are
//     merged from the query string, an urlencoded or multipart form and a
//     JSON object body, later sources winning (query < form < JSON).
//     A leading "+" of countrycode is stripped.
//   - Answers are HTTP 200 JSON {"status","message"}: "success"; create
//     failures are "fail" ("Please check the parameters.", "The mobileno
//     must be between 8 and 14 digits."); the other endpoints fail with
//     "error" ("Please check the parameters.", "Enquiry Not Found.").
//     Documented oddities are reproduced: status change answers "Note Added
//     Successfully." and deal creation "Task Added Successfully.".
//   - Leads are keyed by (country code, national number): digits only, a
//     trunk 0 dropped, and a leading country code dropped when the number
//     is longer than 10 digits; 8–14 digits remain or the create fails.
//     Re-posting a known number updates the lead and answers the same
//     success message. Parameters outside the documented list are
//     additional fields, stored under their key as sent (spaces and case
//     kept), creating the field on first use.
//
// # V3 API
//
//   - Bearer ik_ keys; GET /meta; POST /leads (201, lead_id); GET
//     /leads/{id}; PATCH /leads/{id} (204); PATCH /leads/by-identifier by
//     phone_number or email (200 lead_id, 404 when no lead matches); POST
//     /leads/{id}/notes and /leads/by-identifier/notes (201 note_id); GET
//     /leads with search, per_page, cursor, sort_by=created_at|updated_at,
//     sort_direction, status[] and created_at[from] (inclusive).
//   - custom_fields on PATCH replaces the whole set: keys not sent are
//     removed. Reads return custom_fields as [{field_key, value}].
//   - /meta lists custom_fields as {field_key, field_type, allowed_values:
//     [{label, value}]} (Options.Fields; keys without a type are text).
//     Create and update refuse, with 422 validation_error naming
//     custom_fields.<key>, a date not YYYY-MM-DD, a date-time not
//     YYYY-MM-DDTHH:mm:ss (no offset), a number, numeric or integer value
//     that is not one, a boolean not true/false/1/0, and a select value
//     (or a multi-select item; comma-separated or a JSON list) that is not
//     one of the stored values: the label "25000" of value "_25000" is
//     refused. Options.LenientFields turns the checks off.
//   - Errors: {"message", "error": {"message", "code", "context"}}; the
//     V3RateLimit limiter's 429 carries "retry_after" (seconds) and a
//     Retry-After header.
//   - Cursor pagination: meta.next_cursor and links.next; the cursor is
//     the position of the last lead returned, so leads created meanwhile
//     neither shift nor repeat a page.
//
// # Assumptions where the spec says unknown
//
//   - Classic answers are always HTTP 200, a wrong token too:
//     {"status":"error","message":"Invalid token."} (the documents give no
//     status or wording for it; HTTP 200 is the harder case for a client,
//     which must not take it for a refused record).
//   - A classic parameter that is present overwrites the stored value,
//     even when empty; an absent one leaves it alone.
//   - status (classic and V3) must name a configured status,
//     case-insensitively, else "Please check the parameters." / 422.
//   - Follow-up endpoints match the phone first, then the email when one
//     is sent; a task naming no lead is stored unattached.
//   - V3 custom_fields keys must be known (configured or created by the
//     classic API), else 422; POST /leads with a phone that already has a
//     lead is 409 "duplicate_lead".
//   - V3 rate limit: Options.V3RateLimit requests per fixed window of
//     Options.V3RateWindow; off by default. Classic has no limit.
//   - V3 lead JSON has no company; classic company_name is kept but only
//     readable through Lead snapshots.
//
// # Faults
//
// SetFaults draws random faults per request with the rates of Faults,
// scoped to one endpoint name (Faults.Endpoint, the names of Script) or
// all of both APIs, seeded (Faults.Seed) so a run repeats; Script queues
// exact one-shot faults per endpoint and wins over the draw. Faults apply
// to authenticated requests within the V3 rate limit:
//
//   - HTTP 429 {"message"} with "retry_after" and a Retry-After header
//     (Fault429; Faults.RetryAfter, scripted default ScriptedRetryAfter) or
//     with neither (Fault429NoRetryAfter: RateLimitRate with RetryAfter 0).
//   - HTTP 500/503 with an HTML body (ServerErrorRate), optionally in
//     bursts: ServerErrorBurst N makes the next N-1 requests in scope fail
//     with the same status, as an outage would.
//   - Connections dropped after the write was applied (DropAfterCommitRate):
//     an in-doubt write.
//   - Hangs (TimeoutRate, FaultTimeout): no answer until the client's
//     context ends; after Faults.TimeoutCap (default and maximum
//     DefaultTimeoutCap, 2 minutes) or Close the connection is closed
//     without an answer.
//   - Late writes (LateApplyRate, FaultLateApply): held without an answer
//     like a hang, then applied after the client gave up: once
//     Faults.LateAfterWrites (default 1) later writes of the same lead
//     were applied, or Faults.LateDelay (default DefaultLateDelay) after
//     the client left, whichever comes first. The older value then lands
//     after a newer one, as a vendor that queues requests or whose worker
//     stalls would let it. Stats.LateHeld and LateApplied count them.
//   - Malformed answers (MalformedRate): HTTP 200 with JSON cut off
//     mid-value or an HTML page, at even odds.
//   - Latency before each request in scope.
//
// Only a dropped-after-commit request is applied at once, and a late write
// after its client gave up. A timed-out or malformed answer to a write
// applied nothing, so a client that retries it does no harm. Stats.FaultsInjected counts each fault that reached a client (and
// LatencyKey the delayed requests) and RequestLog shows which request met
// which fault; Stats.MaxInFixedSecond and MaxInSlidingSecond record the
// most requests of one credential (classic token or V3 key) in any UTC
// second and any sliding second, 429s included, so a test can prove a
// client never exceeded a limit. Call Close before closing an
// httptest.Server that may hold requests.
//
// All Server methods are safe for concurrent use; one mutex guards the data
// and statistics. Time comes from Options.Now.
package getleadsim
