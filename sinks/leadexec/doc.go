// Package leadexec writes to LeadExec (ClickPoint): leads through the lead
// receiver (LeadSink) and clients, LeadExec's lead buyers, through the ASMX
// account API's AddEditClient (ClientSink). Both are pipeline.Sinks: one outcome per record,
// in order; nothing is retried here (the route retries transient failures
// with its backoff).
//
// # Leads
//
// LeadExec takes leads and never updates them: the receiver only inserts,
// and a lead it already holds (same email or phone) is answered
// Duplicate_Lead. So the lead sink posts a record only while its LeadExec
// lead id is unknown; a record whose id is known is settled as skipped
// ("LeadExec has no lead update") without a request. On a route into
// LeadExec only the first version of a lead reaches LeadExec; later edits
// at the source stay where they were made.
//
// Answers per lead (PostResponse.Outcome):
//
//   - No_Error: written; the LeadIdentifier becomes the record's target id.
//   - Duplicate_Lead: LeadExec has the lead already (maybe from a post whose
//     answer was lost). Done, not retried; its LeadIdentifier, when LeadExec
//     gives one, becomes the target id.
//   - Data_Errors, Outside_Criteria, No_Account_Found, Account_Disabled and
//     the missing-identifier types: permanent. The lead is dead-lettered
//     with the ResponseType as its code and LeadExec's ResponseDetails in
//     the message.
//   - Post_Over_Max (a campaign cap) and unknown types: retried later,
//     Post_Over_Max not before LeadSinkConfig.OverMaxWait.
//
// Connection failures, 5xx and 429 are transient. A post whose answer
// cannot be read or never arrives may have been taken: it is settled by
// looking the lead up in the lead data API, and posted again at most
// LeadSinkConfig.MaxInDoubtPosts times in all before it is dead-lettered
// with the answer (see indoubt.go). Refused credentials keep the leads and
// retry each minute.
//
// Posts follow the lead type's field list (LeadSinkConfig.Fields, read with
// GetLeadFields): a field the lead type lacks is left out, a standard field
// goes under the lead type's name for its SpecialBit.
//
// # Clients
//
// A client record carries LeadExec client fields named by their
// ClientFieldSpecialBit (mappings.LeadExecClients): the sink looks the
// account's client fields up with GetClientData and sends their values by
// ClientFieldUID with AddEditClient, never matching a Descriptor. A record
// with a target id edits that client (absent fields stay as they are, sent
// ones are overwritten, an empty value clears: AddEditClient takes the whole
// client, so the client is read first and sent whole, see
// leadexec.Client.EditClient; a client field marked isState
// takes a LeadExec state id, not a name, and is not written). A record
// without one creates
// a client (ClientUID -1) with a Username derived from the contact's email or
// the company name (mappings.LeadExecUsername) and a random password that is
// sent once and never logged or stored; an operator who wants the client to
// use LeadExec's portal resets it there. Before creating, the sink looks for
// a client with that Username (GetClientList), so a create whose answer was
// lost is not repeated: the client found is edited instead.
package leadexec
