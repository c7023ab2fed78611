// Package ivvysim simulates the iVvy API 1.0 for tests, `crmsync sim` and
// demos, following shared/specs/vendors.md §2 (§2.9 is its checklist).
//
// Mount a Server on an httptest.Server; it answers
// POST /api/1.0/{namespace}?action={action}:
//
//	sim := ivvysim.New(ivvysim.Options{})
//	srv := httptest.NewServer(sim)
//	defer srv.Close()
//	defer sim.Close()
//	c, _ := ivvy.New(ivvy.Config{Endpoint: srv.URL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret})
//
// # Fidelity
//
//   - Signing (§2.2): X-Api-Authorization "IWS key:signature"; Content-MD5
//     must be the MD5 of the raw body; IVVY-Date (or Date) within MaxSkew
//     (default 5 minutes) else 401/23005; the string to sign is rebuilt from
//     the request as received and the hex HMAC-SHA1 compared in constant
//     time. The verifier is written independently of package ivvy's signer.
//   - Errors (§2.3): {errorCode, message, specificCode, additionalMessages}
//     with the HTTP status equal to errorCode; 23017 "'<param>' is
//     required", 23016 with the validator's reason in additionalMessages.
//   - contact namespace: addOrUpdateContact (create needs firstName,
//     lastName, valid email; updateIfExists matches first+last+email),
//     addOrUpdateCompany (businessName; update answers only {"id"}),
//     getContactList (fromModifiedDate/toModifiedDate/externalId/companyId
//     and modifiers), getCustomFieldDefinition, addOrUpdateLead (see below).
//   - addOrUpdateLead: create rules of the seed document (name, sourceId,
//     typeId, stageId, qualityId; subtypeId when the type has subtypes;
//     company lead vs contact lead with industryId), 24215 empty, 24216
//     unknown id, 24218 unknown lookup ids or a contact outside the company,
//     custom fields as {fieldId, fieldValue} ("value" is refused on leads,
//     "fieldValue" on contacts).
//   - crm namespace: getLeadList (items as §2.5; the embedded contact has no
//     externalId), the lead lookup lists and account.getIndustryList, all
//     with meta {totalResults, start, perPage, count}, start as a record
//     offset and perPage silently clamped to PerPageCap.
//   - Filters: key, key__CONTAINS, __NOTCONTAINS, __BEGINS, __ENDS,
//     __LESSTHAN (≤), __GREATERTHAN (≥), __NOT, __EMPTY and the value
//     "__ISNULL__"; text compares case-insensitively, numbers numerically,
//     timestamps as text without " UTC".
//   - batch namespace: run (≤ 200 jobs, 24448/24092/24093; jobs run through
//     the same actions, each job's error stays in its own response),
//     progress, results (24114 until done, 24105/24115 unknown), restart,
//     repost, and the unsigned results callback.
//   - Rate limit: RateLimitPerSecond answers 429 to the requests of one key
//     beyond the limit in any sliding second (no Retry-After, as iVvy
//     documents none); refused requests do not use up the budget.
//
// # Faults
//
// SetFaults draws random faults per request with the rates of Faults,
// scoped to one "namespace.action" (Faults.Action) or all, seeded
// (Faults.Seed) so a run repeats; Script queues exact one-shot faults per
// action and wins over the draw. Faults apply after the signature check and
// the RateLimitPerSecond limiter:
//
//   - HTTP 429 with iVvy's error body, without a Retry-After header
//     (Fault429) or with one in whole seconds (Fault429RetryAfter, when
//     Faults.RetryAfter > 0; scripted default ScriptedRetryAfter).
//   - HTTP 500 (JSON error body) or 503 (HTML) (ServerErrorRate), optionally
//     in bursts: ServerErrorBurst N makes the next N-1 requests in scope fail
//     with the same status, as an outage would.
//   - Connections dropped after the write was applied (DropAfterCommitRate):
//     an in-doubt write.
//   - Hangs (TimeoutRate, FaultTimeout): no answer until the client's
//     context ends; after Faults.TimeoutCap (default and maximum
//     DefaultTimeoutCap, 2 minutes) or Close the connection is closed
//     without an answer.
//   - Malformed answers (MalformedRate): HTTP 200 with JSON cut off
//     mid-value or an HTML page, at even odds.
//   - Latency before each request in scope.
//
// Only a dropped-after-commit request is applied. A timed-out or malformed
// answer to a write applied nothing, so a client that retries it does no
// harm. Stats.FaultsInjected counts each fault that reached a client (and
// LatencyKey the delayed requests); Stats.MaxInFixedSecond and
// MaxInSlidingSecond record the most requests of one key in any UTC second
// and any sliding second, 429s included, so a test can prove a client never
// exceeded a limit.
//
// # Assumptions where the spec says unknown
//
//   - Authentication failures other than 23005 use specific codes 23001
//     (header), 23002 (key), 23003 (signature), 23004 (Content-MD5) and 23006
//     (date), all HTTP 401 "Unauthorized".
//   - Unknown filter keys of contact and company lists are ignored.
//     getLeadList, for which no filter is documented, refuses any filter
//     key (400/23016 naming it) unless Options.LeadFilters says to honour
//     or ignore them. getLeadList items carry customFields
//     ({fieldId, fieldValue}) unless OmitLeadCustomFields is set.
//   - Every successful write bumps modifiedDate, even when nothing changed;
//     lead custom fields merge per field. Contact/company write errors use
//     the generic 23016/23017. 24216 is sent with HTTP 400.
//   - Default perPage 20, cap 100; list order is ascending id.
//
// Every Server method is safe for concurrent use; one mutex guards the data
// and the counters. Time comes from Options.Now.
package ivvysim
