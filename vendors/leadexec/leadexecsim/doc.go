// Package leadexecsim simulates LeadExec (ClickPoint Software), the lead
// distribution platform, for tests and demos of crmsync.
//
// This part models LeadExec's outbound delivery: a buyer ("client") delivery
// method that pushes each lead to the buyer's URL, which for crmsync is our
// webhook receiver. A [Delivery] holds the settings of one delivery method
// (URL, verb, content type, Basic or Bearer auth, custom headers, field
// mappings, response search, retry settings, timeout); [NewSender] validates
// it, and [Sender.Deliver] / [Sender.DeliverAll] send leads over real HTTP.
// The [Sender] keeps a send log ([Sender.Log]) and counters ([Sender.Stats])
// as LeadExec logs each send with its response, and has fault hooks
// ([Sender.DropNext], [Sender.Duplicate]) for lost and repeated deliveries.
// [GenerateLeads] makes deterministic, realistic leads.
//
// # Documented behaviour modelled
//
//   - The body formats: form POST (LeadExec's default), name/value pairs in
//     the query string (HTTP GET type), JSON and XML.
//   - The authentication tab's Basic and Bearer schemes, and custom headers.
//   - Field mappings of type Lead Field: outbound name per lead field.
//   - Success is decided by searching the response body for ResponseSearch,
//     a literal or (useRegEx) a regular expression.
//   - Retry After Failure with Max Retry Count and Time Between Retries
//     (guidance 2–5 retries, 5–15 minutes apart); timeout default 30 s.
//
// # Assumptions (not documented by LeadExec)
//
//   - Status codes: LeadExec only documents the body search. The simulator
//     is stricter, to keep receivers honest: a send succeeds only with a 2xx
//     status AND a body match. A 500 whose body contains the search text is a
//     failure, and a 200 without it is a failure too. A receiver that
//     answers 2xx + the token exactly when it accepted the lead is correct
//     under either reading.
//   - The literal search is a case-sensitive substring match; regexps use Go
//     RE2 syntax (LeadExec runs .NET regexps; keep patterns to the common
//     subset). Up to 1 MiB of the body is searched.
//   - Any failed attempt (transport error, timeout, non-2xx, no match) is
//     retried, with a fixed delay; MaxRetries counts retries after the first
//     attempt. Redirects are followed as net/http does.
//   - The lead id travels in an outbound field named by Delivery.IDField
//     (default "LeadUID"); which LeadExec special field carries it is
//     unknown. NoIDField models an operator who mapped no id.
//   - A mapped field the lead lacks is sent with an empty value. Rendered
//     fields are ordered id first, then by outbound name, so bodies are
//     deterministic. JSON is a flat object of strings; XML is
//     <Lead><Name>value</Name>…</Lead>; LeadExec's own body templates
//     (the XML property) are not modelled.
//   - Duplicate sends follow the primary send at once, one after another,
//     each with its own retries.
//
// Not modelled: Digest and OAuth 2.0 auth, the "In Testing" sandbox URL,
// static/expression/concatenation field mappings and value maps, price,
// redirect and ping-reference searches, delivery schedules and caps.
//
// All exported functions and methods are safe for concurrent use.
package leadexecsim
