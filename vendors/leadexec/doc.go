// Package leadexec is a client for LeadExec (ClickPoint Software), following
// shared/specs/vendors.md §1. It speaks four of LeadExec's APIs:
//
//   - the lead receiver on leads.leadexec.net: InsertV1 (form post to
//     /processor/insert/general, XML answer) and InsertV2 (JSON post of
//     several leads to /v2/insert/general with an api-key header);
//   - the ASMX account API on api.leadexec.net (/service.asmx/{Method},
//     form parameters with the Key, bare XmlSerializer XML out):
//     GetClientList, GetClientData and GetLeadFields; and EditClient, which
//     calls AddEditClient as SOAP 1.1 (its parameters are objects, which
//     the form binding cannot carry) after reading the client, because
//     AddEditClient takes the whole client;
//   - the lead data API on apidata.leadexec.net: QueryLeads
//     (POST /v1/leads/query/{LeadTypeUID}), with OAuth client-credentials
//     bearer tokens from /v1/authorization/token on the API host
//     (TokenSource).
//
// LeadExec's REST PATCH /v1/clients is not used: AddEditClient is the
// documented client write of the account API's reference, needs only the
// Key, and PATCH's treatment of properties left out is not documented
// either.
//
// # Calls and retries
//
// Each method makes one HTTP request and never retries; retrying is the
// pipeline's job. The exceptions are in the bearer calls: the token request
// when no fresh token is cached, and one repeat of a call answered 401,
// with a new token (a token can expire or be revoked between our check and
// LeadExec's). A Client and a TokenSource are safe for concurrent use.
//
// # Errors
//
// Failures are *Error values classified by behaviour in the shared apierr
// classes (Class, Temporary; apierr.Classify finds the class in any error
// chain): transport failures, timeouts, 5xx and unreadable answers are
// Transient; 429 is RateLimited (with RetryAfter); 401/403 and refused
// credentials are Auth; other 4xx are Permanent. The ASMX service answers
// errors with HTTP 500 and a plain-text .NET exception: the framework's
// parameter errors ("Missing parameter: ClientUID.") are Permanent, a
// refused key Auth, the rest Transient. Sentinels (ErrTokenInvalid,
// ErrNotFound, ErrMalformed, ...) work with errors.Is.
//
// A lead LeadExec refuses is an answer, not an error: HTTP 200 with
// isValidPost false and a ResponseType. PostResponse.Outcome says what it
// means for the lead (Accepted, Exists for Duplicate_Lead, Rejected,
// RetryLater for Post_Over_Max) and PostResponse.Err turns it into an error
// when the caller wants one.
//
// Secrets (the ASMX Key, the client secret, access tokens, posting
// passwords and api-keys, client portal passwords) never appear in errors:
// they are sent in bodies or headers, never in URLs, and replaced by
// "[REDACTED]" wherever an answer echoes them. Unreadable answers keep the
// first 512 bytes of the body in Error.Body for the operator.
//
// # Parsing
//
// The parsers are pure functions, fuzzed: ParsePostResponse(s),
// ParseClientList, ParseClientData, ParseLeadFields,
// ParseAddEditClientResponse, ParseLeadPage, ParseTokenResponse and
// ParsePacific. XML is read without namespaces and with
// any element names (LeadExec's namespace and class names are not
// documented); properties are matched by local name, case-insensitively.
// Reads are bounded (MaxPostResponseBytes, MaxAccountBytes, MaxQueryBytes).
//
// # Dates
//
// Account API dates are Pacific Time wall-clock strings ("1/5/2014
// 10:50:54 AM"): ParsePacific and FormatPacific use America/Los_Angeles
// from the embedded zone database and resolve the DST overlap and gap
// deterministically (see ParsePacific). The data API speaks UTC.
//
// # Assumptions where LeadExec documents nothing
//
//   - The V2 receiver answers a JSON array of V1-style responses, one per
//     lead, in order.
//   - The lead query answers {"Total": n, "Leads": [{"UID", "Properties",
//     "Fields", "TCPAInformation"}]}; StartDate/EndDate are sent as RFC 3339
//     UTC.
//   - SpecialBit, DataType and GetClientList's Int32 client Status numbers
//     follow the documented name order.
//   - AddEditClient replaces the whole client and its whole field set, so
//     EditClient sends every property and field (read first) with the
//     changes applied; its SOAP namespace is Config.Namespace (default
//     http://tempuri.org/) and its FieldData items are written as
//     <ClientFieldItemType>.
//   - A lead field's Descriptor (GetLeadFields) is the name the receiver
//     binds a posted field to.
package leadexec
