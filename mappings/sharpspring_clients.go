package mappings

import (
	"fmt"
	"html"
	"strings"

	"github.com/crmsync/crmsync/pipeline"
)

// SharpSpring agency client pseudo-fields: they are not parameters of
// createClient/updateClient but drive their own methods.
const (
	// SharpSpringClientSendLimit is sent with updateAccountSendLimit.
	SharpSpringClientSendLimit = "emailLimit"
	// SharpSpringClientSending is "enabled" or "disabled": enable- or
	// disableAccountSending.
	SharpSpringClientSending = "accountSending"
)

// SharpSpringClientStandard maps canonical client names to SharpSpring
// agency client parameters (createClient, updateClient, getClients) and
// pseudo-fields.
var SharpSpringClientStandard = map[string]string{
	Company:         "companyName",
	Phone:           "salesPhone",
	Street:          "streetAddress",
	Zip:             "zipCode",
	Country:         "country",
	State:           "state",
	City:            "city",
	Currency:        "defaultCurrency",
	Locale:          "locale",
	TimeZone:        "salesOfficialTimeZone",
	SalesStartHour:  "salesStartHour",
	SalesEndHour:    "salesEndHour",
	UserEmail:       "userEmail",
	UserDisplayName: "userDisplayName",
	UserPassword:    "userPassword",
	EmailSendLimit:  SharpSpringClientSendLimit,
	ClientStatus:    SharpSpringClientSending,
}

// SharpSpringClients is the ClientCodec of SharpSpring agency clients.
// Status maps to account sending (active ⇔ "enabled"). getClients only
// returns id, companyName, streetAddress, zipCode, country, state and city,
// so a SharpSpring source carries those alone.
type SharpSpringClients struct{}

// Vendor implements ClientCodec.
func (SharpSpringClients) Vendor() string { return "sharpspring" }

// Decode implements ClientCodec; values are HTML-unescaped.
func (SharpSpringClients) Decode(fields map[string]string) (Client, error) {
	return decodeClient(SharpSpringClientStandard, fields, func(name, f, v string) (string, bool, error) {
		v = html.UnescapeString(v)
		if name == ClientStatus {
			switch v {
			case "enabled":
				v = ClientActive
			case "disabled":
				v = ClientInactive
			default:
				return "", false, fmt.Errorf("%w: %s %q is neither enabled nor disabled", ErrInvalid, f, v)
			}
		}
		return v, true, nil
	})
}

// Encode implements ClientCodec. A two-letter country is upper-cased (the
// API wants ISO 3166-1 alpha-2).
func (SharpSpringClients) Encode(c Client) map[string]string {
	return encodeClient(SharpSpringClientStandard, c, func(name, v string) (string, bool) {
		switch name {
		case ClientStatus:
			switch v {
			case ClientActive:
				v = "enabled"
			case ClientInactive:
				v = "disabled"
			}
		case Country:
			if t := strings.TrimSpace(v); len(t) == 2 {
				v = strings.ToUpper(t)
			}
		}
		return v, true
	})
}

// Keys implements ClientCodec: the company name (KindCompanyName).
// SharpSpring ids are assigned by SharpSpring, and getClients returns no
// other field that names a client; as for NaturalKeys, one agency is
// assumed not to manage two clients of the same name.
func (SharpSpringClients) Keys(c Client) []pipeline.Key {
	if n := companyKey(c[Company]); n != "" {
		return []pipeline.Key{{Vendor: "sharpspring", Entity: "client", Kind: KindCompanyName, Value: n}}
	}
	return nil
}

func companyKey(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(html.UnescapeString(name)), " "))
}

// NaturalKeys implements ClientCodec: companyName, which the client sink
// uses to find a client it may have created before a crash (assumption:
// one agency does not manage two clients of the same name).
func (SharpSpringClients) NaturalKeys(c Client) map[string]string {
	if n := strings.TrimSpace(c[Company]); n != "" {
		return map[string]string{"companyName": n}
	}
	return nil
}
