package leadexecsim

// Lead is a LeadExec lead as the outbound delivery sees it.
type Lead struct {
	// UID is LeadExec's lead id (LeadUID in the account API, LeadIdentifier
	// in receiver responses). It is sent under [Delivery.IDField].
	UID int64

	// Fields maps lead-type field names to values, e.g. FirstName, LastName,
	// Email, PrimaryPhone, Address, City, State, Zip, Company, plus any
	// custom fields of the lead type. A nil map is a lead with no fields.
	Fields map[string]string
}
