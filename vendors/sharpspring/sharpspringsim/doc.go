// Package sharpspringsim is a high-fidelity simulator of the SharpSpring
// (Constant Contact "Lead Gen & CRM") Open API for leads and fields, for
// tests, `crmsync sim` and demos. It follows shared/specs/sharpspring.md,
// §9 being its contract.
//
// Mount a Server on an httptest.Server; it answers POST /pubapi/v1/ and
// /pubapi/v1.2/ (trailing slash optional) with accountID and secretKey in
// the query string:
//
//	sim := sharpspringsim.New(sharpspringsim.Options{})
//	srv := httptest.NewServer(sim)
//	defer srv.Close()
//	defer sim.Close() // releases requests held by FaultTimeout
//	url := srv.URL + "/pubapi/v1.2/?accountID=1001&secretKey=sim-secret"
//
// Methods are dispatched from a name → handler map (registerLeadMethods,
// registerFieldMethods, registerClientMethods); methods outside it answer
// 204. It covers createLeads, updateLeads, updateLeadsV2, deleteLeads,
// getLead, getLeads, getLeadsDateRange, getFields, createFields,
// deleteFields, and the agency methods getClients, createClient,
// updateClient, updateAccountSendLimit, enableAccountSending and
// disableAccountSending.
//
// # Fidelity
//
//   - Wire shapes (spec §2): reads answer {"result":{"lead"|"field":[…]},
//     "error":null}; every read scalar is a JSON string ("id":"88038560770",
//     "active":"1"); unset standard strings and nullable ids/flags are null,
//     unset custom fields "". Lead keys follow the §6.1 order, then every
//     custom lead field. Writes answer {"creates"|"updates"|"deletes":[…]}
//     in input order with top-level "error": []; created ids are JSON
//     numbers; failed objects are {"success":false,"error":{…}} and the
//     top-level error becomes the array of their copies
//     (Options.PartialErrorNull: null). API-level errors are one object with
//     "result": null. The request id is echoed verbatim.
//   - Auth: missing accountID → 103, missing secretKey → 104 (HTTP 200);
//     wrong pair → HTTP 401 text/plain "Unable to determine clusterID…" with
//     WWW-Authenticate: Basic realm="SharpSpring" (Options.AuthErrorAs200:
//     105). The secret is never logged or stored in RequestLog.
//   - Limits: per account, a fixed UTC-second counter (107) and a UTC-day
//     counter (106), both at HTTP 200, never 429; more than MaxObjects
//     objects → 209 with nothing applied; the Expect: 100-continue rule, on
//     unless NoExpectRule (HTTP 502 HTML when URL + body > 1024 bytes).
//   - updateLeads follows the §7.6 matrix: silent success for an unknown id,
//     unknown email or neither (updateLeadsV2: 404); a new email owned by
//     another lead only bumps updateTimestamp and reports success; no change
//     → 302, compared after normalization ("<" → "&lt;" unless last, "007"
//     → "7"); "" over null is a change. null on a non-nullable field and ""
//     on accountID/ownerID/campaignID/isUnsubscribed/active → 205. Unknown
//     keys → 205 whose data.params lists the valid standard parameters.
//   - createLeads: 301 for an existing email in any case, inactive leads
//     included; a sent id is ignored.
//   - getLeads: where {} or []; id/emailAddress scalars or lists (a list
//     beats scalars, an id list beats an email list); no keys → active only,
//     keys → inactive too; limit capped at 500; offset; fields. Order by id
//     (Options.RandomOrder shuffles). getLeadsDateRange reads and writes
//     "Y-m-d H:i:s" in UTC on v1.2 and in Options.CompanyTimeZone on v1
//     (getLead/getLeads on v1 too), excludes inactive leads, defaults to 500
//     and refuses a larger limit with 209, the documented 500 objects per
//     request (Options.DateRangeMaxLimit caps it silently or honours it,
//     as observed).
//   - Fields: getFields lists standard (isCustom "0") and custom fields of
//     lead, account and opportunity; createFields generates systemName =
//     slug(label) + "_" + 13 hex digits in PHP uniqid form; a new custom lead
//     field reads "" on every lead; deleteFields on a standard field → 211.
//   - Field types: custom lead field values must fit the field's dataType
//     (int; date Y-m-d; datetime Y-m-d H:i:s; boolean and bit 0/1;
//     picklist and radio one of the options' values; checkbox options
//     separated by ","); others → object 205 naming the field
//     (Options.IgnoreFieldTypes turns this off). "" clears any type.
//     Picklist, radio and checkbox fields list their options in getFields
//     and take them in createFields.
//   - Agency clients: a reseller flag per account (Options.Resellers; not a
//     reseller → 305). getClients lists the caller's active clients (id,
//     companyName, streetAddress, zipCode, country, state, city; strings,
//     unset null) with hasMore at the top level and inside result
//     (Options.ClientsHasMoreTrue makes it a buggy true). createClient:
//     companyName and salesPhone required (206), ISO 3166-1 alpha-2
//     country (215), locale from the documented list and hours 0–24 (205),
//     user keys all or none (223), userEmail an address (218) and unused
//     (221). updateClient (unknown id 307, or 216 with
//     Options.UpdateClientNotFoundCode), updateAccountSendLimit and
//     enable/disableAccountSending (unknown 307, another agency's client
//     306, no clientID 304) answer {"updates":[{"success":true}]}.
//
// # Faults
//
// SetFaults draws random faults per request with the rates of Faults,
// scoped to one method (Faults.Method) or all, seeded (Faults.Seed) so a
// run repeats; Script queues exact one-shot faults per method and wins over
// the draw. Faults apply after authentication, the 106/107 limiters and
// the envelope checks:
//
//   - HTTP 500/503 with an HTML body (ServerErrorRate), optionally in
//     bursts: ServerErrorBurst N makes the next N-1 requests in scope fail
//     with the same status, as an outage would.
//   - API error 999, and 999 "Service temporarily unavailable…"
//     (Code999Rate, UnavailableRate).
//   - Spurious rate-limit answers at HTTP 200, as the real API sends them
//     (spec §5.2: no 429, no Retry-After): 107 per-second (RateLimitRate)
//     and 106 daily quota (QuotaRate).
//   - Connections dropped after the write was applied (DropAfterCommitRate):
//     the in-doubt write a retry turns into 301 or 302.
//   - Hangs (TimeoutRate, FaultTimeout): no answer until the client's
//     context ends; after Faults.TimeoutCap (default and maximum
//     DefaultTimeoutCap, 2 minutes) or Close the connection is closed
//     without an answer.
//   - A hang after the write was applied (scripted FaultTimeoutAfterCommit):
//     the write that timed out although it was applied.
//   - Malformed answers (MalformedRate): HTTP 200 with JSON cut off
//     mid-value or an HTML page, at even odds. Scripted
//     FaultMalformedAfterCommit applies the write first: a write that
//     landed with an answer nobody can read.
//   - Latency before each request in scope.
//
// Only a dropped-after-commit request, and a scripted
// FaultTimeoutAfterCommit, is applied. A timed-out or malformed
// answer to a write applied nothing, so a client that retries it does no
// harm. Stats.FaultsInjected counts each fault that reached a client (and
// LatencyKey the delayed requests); Stats.MaxInFixedSecond and
// MaxInSlidingSecond record the most requests of one account in any UTC
// second and any sliding second, rejected ones included, so a test can
// prove a client never exceeded the limit.
//
// # Assumptions where the spec says unknown
//
// Each is the defensive choice; the code comments repeat them where they
// apply.
//
//   - createLeads without emailAddress → object 205 (Options.MissingEmailCode).
//   - "Service temporarily unavailable, try again in a few minutes" is sent
//     as API error 999 with that message.
//   - deleteLeads with an unknown id and deleteFields with an unknown
//     systemName → object 404; deleteLeads objects with keys besides id → 205.
//   - updateTimestamp, createTimestamp, crmID and the other read-only keys
//     sent on writes → 205 (ignored only with IgnoreUnknownFields).
//   - updateLeadsV2 with neither id nor emailAddress → 404; "id": null or a
//     non-numeric id → 205; emailAddress "" on update → 205.
//   - leadStatus: contactWithOpp writes are ignored and a lead that has it
//     keeps it; "customer" and other values → 205; JSON true/false on flags
//     → 205; active null is stored and the lead counts as inactive.
//   - New leads have leadScore and leadScoreWeighted "0". persona and
//     trackingID are serialized after leadStatus; createTimestamp is kept
//     for timestamp:"create" queries but never serialized; date-range
//     objects omit leadScoreWeighted, as in the vendor sample.
//   - The daily counter resets at 00:00 UTC. Every authenticated request
//     counts toward both limits, including rejected ones.
//   - getLeads: two scalar where keys must both match; an empty list matches
//     nothing; other where keys, limit < 1, offset < 0 and unknown names in
//     fields → 205; an empty fields list means all fields.
//   - getLeadsDateRange bounds are inclusive at one-second resolution;
//     v1.2 returns timestamps in UTC; order is by id.
//   - Field lengths (varchar sizes) are not enforced and accountID, ownerID
//     and campaignID are not checked against other objects (no 303).
//   - "<" is always encoded (the spec says "sometimes"); Options.RawLessThan
//     turns it off. UI-entered custom fields use numeric entities (&#39;).
//   - Field options are listed as "options": [{"label","value",
//     "displayOrder"}] (the vendor documents no shape); a value must equal
//     an option's value exactly (not its label, not in another case); a
//     checkbox field with options takes several separated by ","; one
//     without options is a single 0/1 box; int fields hold a signed 32-bit
//     int(11). A wrong-typed value is object error 205, the documented code
//     for invalid parameters.
//   - getLeadsDateRange with a limit above 500 → API error 209.
//   - createFields: source, when sent, must be "sharpspring"; unset
//     dataLength defaults by dataType; standard fields report source
//     "system".
//   - The Expect rule measures "scheme://host" + request URI + body.
//   - Agency: every client error is API-level (one error object); the
//     createClient answer is flat {"status":true,"error":[],"userID":…,
//     "id":…}; locale, hour and flag problems are 205; "UK" counts as a
//     country (the vendor's example); updateClient refuses companyName and
//     the user keys (205: not listed for it); the password is not kept; a
//     no-change update succeeds; clients are owned by the account that
//     created them.
//
// All Server methods are safe for concurrent use; one mutex guards the data,
// limits and statistics. Time comes from Options.Now, so rate windows,
// timestamps and systemNames are testable without sleeping.
package sharpspringsim
