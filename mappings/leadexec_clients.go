package mappings

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/crmsync/crmsync/pipeline"
)

// LeadExecClientStatus is the field of a LeadExec client record that carries
// its status name (Client.Status of AddEditClient: "Active", "Inactive").
const LeadExecClientStatus = "Status"

// LeadExecClientStandard maps canonical client names to the fields of a
// LeadExec client record. A field is named after the ClientFieldSpecialBit
// of the account's client field that holds it (Company, PrimaryPhone, ...):
// the source and the sink find client fields by SpecialBit, never by their
// Descriptor, which an operator may rename. The status travels in
// LeadExecClientStatus.
var LeadExecClientStandard = map[string]string{
	Company:      "Company",
	FirstName:    "FirstName",
	LastName:     "LastName",
	Email:        "Email",
	Phone:        "PrimaryPhone",
	MobilePhone:  "MobilePhone",
	Fax:          "FaxNumber",
	Title:        "JobTitle",
	Street:       "Address",
	City:         "City",
	State:        "State",
	Zip:          "Zip",
	Website:      "WebSite",
	ClientStatus: LeadExecClientStatus,
}

// LeadExecClients is the ClientCodec of LeadExec clients (lead buyers).
//
// Status: the canonical "active"/"inactive" is written as LeadExec's status
// names Active/Inactive. It is read only when a record carries a status
// name: GetClientList reports the status as a number whose meaning LeadExec
// does not document, so the client source does not publish it and a status
// change made in LeadExec does not travel to other vendors.
type LeadExecClients struct{}

// Vendor implements ClientCodec.
func (LeadExecClients) Vendor() string { return "leadexec" }

// Decode implements ClientCodec. Unknown fields are left out.
func (LeadExecClients) Decode(fields map[string]string) (Client, error) {
	return decodeClient(LeadExecClientStandard, fields, func(name, _, v string) (string, bool, error) {
		if name != ClientStatus {
			return v, true, nil
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "active":
			return ClientActive, true, nil
		case "inactive":
			return ClientInactive, true, nil
		}
		return "", false, nil // other statuses (New, Suspended, ...) have no canonical meaning
	})
}

// Encode implements ClientCodec.
func (LeadExecClients) Encode(c Client) map[string]string {
	return encodeClient(LeadExecClientStandard, c, func(name, v string) (string, bool) {
		if name != ClientStatus {
			return v, true
		}
		switch v {
		case ClientActive:
			return "Active", true
		case ClientInactive:
			return "Inactive", true
		}
		return "", false
	})
}

// Keys implements ClientCodec: the username crmsync gives the client when
// it creates it in LeadExec (LeadExecUsername), as a KindUsername key.
// Only routes into LeadExec use it (see EventKeys).
func (LeadExecClients) Keys(c Client) []pipeline.Key { return usernameKey(LeadExecUsername(c)) }

// EventKeys implements ClientEventKeyer: the client's actual username, from
// the record's Username field. Usernames are unique in a LeadExec account.
func (LeadExecClients) EventKeys(fields map[string]string) []pipeline.Key {
	return usernameKey(fields[LeadExecUsernameField])
}

func usernameKey(u string) []pipeline.Key {
	if u = strings.ToLower(strings.TrimSpace(u)); u != "" {
		return []pipeline.Key{{Vendor: "leadexec", Entity: "client", Kind: KindUsername, Value: u}}
	}
	return nil
}

// LeadExecUsernameField is the natural key of a LeadExec client: the
// web-portal username crmsync gives a client it creates (see
// LeadExecUsername). The client sink finds a client it created before a
// crash by it. The client source publishes each client's username under
// this name too; it is an identity key, not a field that is synced.
const LeadExecUsernameField = "Username"

// NaturalKeys implements ClientCodec: the Username crmsync would give the
// client (LeadExecUsername), when it can be derived.
func (LeadExecClients) NaturalKeys(c Client) map[string]string {
	if u := LeadExecUsername(c); u != "" {
		return map[string]string{LeadExecUsernameField: u}
	}
	return nil
}

// LeadExecUsername derives the web-portal username of a LeadExec client
// that crmsync creates (LeadExec requires a username and a password for a
// new client): the contact's email, lower-cased, when the client has one;
// else "crmsync-" and the company name as a slug (lower-case ASCII letters
// and digits joined by "-", at most 64 characters; a name without any is
// replaced by a hash of it). "" when the client has neither.
func LeadExecUsername(c Client) string {
	if e, err := NormalizeEmail(c[Email]); err == nil {
		return e
	}
	name := strings.TrimSpace(c[Company])
	if name == "" {
		return ""
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	slug := b.String()
	if slug == "" {
		h := sha256.Sum256([]byte(name))
		slug = hex.EncodeToString(h[:5])
	}
	const prefix = "crmsync-"
	if len(prefix)+len(slug) > 64 {
		slug = strings.TrimRight(slug[:64-len(prefix)], "-")
	}
	return prefix + slug
}
