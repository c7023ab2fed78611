// Package leadexecsim simulates LeadExec (ClickPoint Software), the lead
// distribution platform, for tests and demos of crmsync.
//
// It has two parts. The delivery part (below) models LeadExec pushing leads
// to a buyer; the [Server] (see "Server" further down) models the APIs
// crmsync calls.
//
// The delivery part models LeadExec's outbound delivery: a buyer ("client") delivery
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
// # Server
//
// [NewServer] returns an http.Handler that answers, on one host, the paths
// of LeadExec's three API hosts (shared/specs/vendors.md §1):
//
//		sim := leadexecsim.NewServer(leadexecsim.Options{Now: clock.Now})
//		srv := httptest.NewServer(sim)
//		defer srv.Close()
//		c, _ := leadexec.New(leadexec.Config{APIURL: srv.URL, LeadsURL: srv.URL, DataURL: srv.URL,
//			Key: leadexecsim.DefaultKey, ClientID: leadexecsim.DefaultClientID,
//			ClientSecret: leadexecsim.DefaultClientSecret})
//
//	  - Lead receiver V1: GET or POST /processor/insert/general (also
//	    …/json, …/xml, …/async), parameters in the query string, a form body or
//	    a flat JSON object.
//	  - Lead receiver V2: POST /v2/insert/general with the api-key header.
//	  - OAuth: POST /v1/authorization/token.
//	  - ASMX: GET or POST /service.asmx/GetClientList,
//	    /service.asmx/GetClientData and /service.asmx/GetLeadFields; SOAP 1.1
//	    POST /service.asmx with SOAPAction "{namespace}AddEditClient".
//	  - Lead data: POST /v1/leads/query/{LeadTypeUID} (bearer).
//
// The account (lead types with their fields, campaigns, client field
// definitions, credentials) comes from [Options]; clients and leads are
// added by requests or by the control methods ([Server.SetLeadType],
// [Server.AddClient],
// [Server.UpdateClient], [Server.SetClientField], [Server.AddLead],
// [Server.DisableCampaign], [Server.ExpireTokens]) and read back with
// [Server.Clients] and [Server.Leads]. [Server.RequestCount] counts
// requests per [Endpoint]. Faults: [Server.FailNext] (5xx, nothing
// applied), [Server.RateLimitNext] and [Server.SetRateLimit] (429 with or
// without Retry-After), [Server.DropAfterCommit] (applied, then the
// connection is closed: an in-doubt write) and [Server.MalformNext]
// (applied, then a cut-off body). Time comes from Options.Now and ids from
// Options.NextID, so runs are repeatable.
//
// Documented behaviour modelled:
//
//   - The receiver's parameters vid, lid, aid, password; V2's source
//     {vid, aid, lid, sendDelay (required), returnURL} and leads
//     [{properties, fields}] with the api-key header.
//   - The response properties PostID, isValidPost, ResponseType (the ten
//     ResponseErrors names), ResponseDetails (naming the bad field),
//     LeadIdentifier (empty on failure), VendorAccountAssigned,
//     PendingQCReview, Price; every ResponseType can be produced.
//   - The token request and answer ({access_token, token_type: "Bearer",
//     expires_in: 3600, error}); 401 {"error": "invalid_client"} for bad
//     credentials (as a third-party test fakes it).
//   - GetClientList / GetClientData properties, Pacific Time dates,
//     ClientFieldSpecialBit names, DataType names, the Key parameter.
//   - GetLeadFields (LeadTypeUID): the lead type's fields with every
//     documented property; Descriptor is the field's name, SpecialBit a
//     LeadFieldSpecialBit name.
//   - AddEditClient: Client (ClientItemType; ClientUID -1 creates) and
//     FieldData; the answer is the client's id (AddEditClientResult).
//   - Required lead fields per lead type: a post without one is Data_Errors
//     naming it.
//   - The lead query body {Query, SortFields, SortOrder, Fields, StartDate,
//     EndDate (required), Skip, Take}, sorted by DateAdded by default.
//
// Assumptions where LeadExec documents nothing (the most defensive choice
// for the client):
//
//   - Business rejections answer HTTP 200 with isValidPost=false; only
//     malformed requests (V2 JSON, missing sendDelay) answer 400 and a bad
//     V2 api-key 401 {"message"}.
//   - The V1 answer is XmlSerializer-style <PostResponse> in the Options
//     namespace (default http://tempuri.org/) with lower-case booleans and
//     <LeadIdentifier /> on failure; JSON answers use the same names, with
//     LeadIdentifier null on failure and ResponseType as a name (or a number
//     with Options.NumericResponseType).
//   - The V2 answer is a JSON array of V1-style responses, one per lead, in
//     order.
//   - Check order: identifiers (System_ID_Missing when vid, lid and aid are
//     all missing; then LeadType_ID_Missing; Vendor_ID_Missing), campaign
//     (No_Account_Found also for a wrong password; without aid the vendor's
//     lowest enabled campaign for the lead type is used), Account_Disabled,
//     Data_Errors, Duplicate_Lead, Outside_Criteria, Post_Over_Max. A
//     duplicate is checked before criteria and caps, so re-posting an
//     accepted lead always answers Duplicate_Lead.
//   - A posted field the lead type does not have is Data_Errors naming it
//     (LeadExec does not say; dropping it silently would hide a client's
//     mistake).
//   - AddEditClient takes the whole client: a Client property left out
//     takes its XmlSerializer default (Status New), a FieldData field left
//     out is cleared, DateAdded is kept on an edit. Its parameters are
//     objects, so only SOAP reaches it (a form post is the framework's
//     500); refusals are SOAP faults (HTTP 500, soap:Client, the .NET
//     exception in faultstring). An unknown lead type's GetLeadFields is an
//     empty array. Lead field UIDs default to LeadTypeUID×1000 + position.
//   - Duplicate_Lead means the same email (case-insensitive) or phone (10
//     digits) as a stored lead of the lead type, and its answer carries the
//     existing lead's LeadIdentifier (real LeadExec may leave it empty).
//   - Post_Over_Max counts accepted leads per campaign and Pacific calendar
//     day (Campaign.DayMax).
//   - ASMX names: <ArrayOfClientItemType>/<ClientItemType> and
//     <ArrayOfClientFieldItemType>/<ClientFieldItemType>; parameter names
//     are case-sensitive; errors are HTTP 500 with a plain-text .NET
//     exception ("System.InvalidOperationException: Missing parameter:
//     Key.", "System.UnauthorizedAccessException: Invalid API key.",
//     "System.ArgumentException: Cannot convert x to System.Int64."); an
//     unknown ClientUID answers an empty array; GetClientList's Status is
//     the status name's position (New = 0); dates are written
//     "1/5/2014 10:50:54 AM" in Pacific Time.
//   - REST errors are ASP.NET Web API bodies {"message"}: 400 for invalid
//     input, 404 for an unknown lead type; expired or unknown tokens
//     answer 401 {"error": "invalid_token"}.
//   - The lead query answers {"Total", "Skip", "Take", "Leads": [{"UID",
//     "Properties", "Fields"}]} with DateAdded as RFC 3339 UTC; Take is
//     capped at Options.MaxTake (500) silently, and 0 means the cap.
//   - Rate limits: none unless a test sets them; then 429 with an optional
//     Retry-After in seconds.
//
// Not modelled: PING/POST, AutoRedirect, the async callback, the other 48
// ASMX methods, the REST account API (PATCH /v1/clients, delivery methods
// and accounts), TCPA sections.
//
// All exported functions and methods are safe for concurrent use.
package leadexecsim
