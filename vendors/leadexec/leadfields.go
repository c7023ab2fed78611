package leadexec

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// LeadField is one field of a lead type, as ASMX GetLeadFields returns it.
// Obsolete properties (Status, FmtError) and display sizes are dropped.
type LeadField struct {
	LeadFieldUID int64
	LeadTypeUID  int64
	// Descriptor is the field's name. crmsync takes it as the name the
	// lead receiver binds posted fields to and the data API reports fields
	// under (LeadExec does not say so; see the package doc).
	Descriptor    string
	FieldDataType DataType
	// Required: LeadExec refuses a lead without a value for it.
	Required         bool
	Computed         bool
	ComputedExpr     string
	Enumerated       bool
	Validation       string
	InvalidChars     string
	FormatString     string
	IsState          bool
	FieldDescription string
	// SpecialBit is LeadExec's LeadFieldSpecialBit name ("FirstName",
	// "Email", ...; "No_SpecialBit" or "" for none), kept as text: its
	// numbering is not documented.
	SpecialBit string
}

// HasSpecialBit reports whether the field carries a system meaning.
func (f LeadField) HasSpecialBit() bool {
	s := strings.TrimSpace(f.SpecialBit)
	return s != "" && s != "0" && !strings.EqualFold(foldName(s), foldName("No_SpecialBit"))
}

// GetLeadFields returns the fields of one lead type (ASMX GetLeadFields,
// "a list of lead fields for the supplied lead type"). An unknown lead type
// answers no fields (the simulator's reading; LeadExec does not say).
// Errors as GetClientList.
func (c *Client) GetLeadFields(ctx context.Context, leadTypeUID int64) ([]LeadField, error) {
	return asmxArray(ctx, c, "GetLeadFields", url.Values{"LeadTypeUID": {strconv.FormatInt(leadTypeUID, 10)}}, parseLeadFields)
}

// ParseLeadFields reads a GetLeadFields answer, an XmlSerializer array of
// lead fields (any element names and namespace). At most MaxAccountBytes
// are read. Every item must have a LeadFieldUID and a Descriptor.
func ParseLeadFields(r io.Reader) ([]LeadField, error) {
	return readArray(r, "lead fields", parseLeadFields)
}

func parseLeadFields(body []byte) ([]LeadField, error) {
	return parseArray(body, "lead fields", "LeadFieldUID", leadFieldFrom)
}

func leadFieldFrom(n *xnode) (LeadField, error) {
	rec := n.record()
	if v, ok := rec.text("LeadFieldUID"); !ok || strings.TrimSpace(v) == "" {
		return LeadField{}, fmt.Errorf("<%s> has no LeadFieldUID", shorten(n.name))
	}
	rd := &reader{rec: rec}
	f := LeadField{
		LeadFieldUID: rd.int64("LeadFieldUID"), LeadTypeUID: rd.int64("LeadTypeUID"),
		Descriptor: strings.TrimSpace(rd.str("Descriptor")), Required: rd.bool("Required"),
		Computed: rd.bool("Computed"), ComputedExpr: rd.str("ComputedExpr"), Enumerated: rd.bool("Enumerated"),
		Validation: rd.str("Validation"), InvalidChars: rd.str("InvalidChars"), FormatString: rd.str("FormatString"),
		IsState: rd.bool("isState"), FieldDescription: rd.str("FieldDescription"),
		SpecialBit: strings.TrimSpace(rd.str("SpecialBit")),
	}
	if rd.err != nil {
		return LeadField{}, rd.err
	}
	if f.Descriptor == "" {
		return LeadField{}, fmt.Errorf("lead field %d has no Descriptor", f.LeadFieldUID)
	}
	f.FieldDataType = ParseDataType(rd.str("FieldDataType"))
	return f, nil
}
