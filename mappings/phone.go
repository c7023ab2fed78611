package mappings

import (
	"fmt"
	"strings"
)

// PhoneNumber is a phone number split into its country calling code and national
// significant number, both digits only ("91", "9876543210").
type PhoneNumber struct {
	CountryCode string
	National    string
}

// E164 is the number in E.164 form: "+" country code national number.
func (p PhoneNumber) E164() string { return "+" + p.CountryCode + p.National }

// Bounds of a usable national number. Getlead refuses a mobile number that
// is not 8–14 digits; E.164 allows at most 15 digits with the country code.
const (
	minNationalDigits = 8
	maxNationalDigits = 14
	maxE164Digits     = 15
)

// NormalizePhone returns raw in E.164 form ("+919876543210"). It is the one
// place where crmsync turns a phone number into an identity key.
// defaultCountryCode ("91", "+91") applies to numbers written without an
// international prefix. See ParsePhone for the rules; errors wrap
// ErrInvalid.
func NormalizePhone(raw, defaultCountryCode string) (string, error) {
	p, err := ParsePhone(raw, defaultCountryCode)
	if err != nil {
		return "", err
	}
	return p.E164(), nil
}

// ParsePhone splits raw into country code and national number and checks
// that the national number has 8–14 digits.
//
//   - "+CC…" and "00CC…" are international: the country code is read with
//     the ITU prefix table (1 and 7 are one digit, a fixed set two, the rest
//     three). A "(0)" after it is dropped ("+44 (0)20 …").
//   - "0…" is national with a trunk prefix, which is dropped
//     ("09876543210" → 9876543210).
//   - Digits that start with the default country code and are longer than
//     10 digits carry the country code ("919876543210"). Ten digits or fewer
//     are taken as national, so an Indian mobile "9198765432" keeps its 91
//     (assumption: no national number we sync is longer than 10 digits
//     while starting with its own country code).
//   - Anything else is a national number in the default country.
//
// Spaces, dots, dashes, slashes and parentheses are ignored; letters (an
// extension, "ext. 12") make the number unusable. Errors wrap ErrInvalid and
// say why in words an operator can act on.
func ParsePhone(raw, defaultCountryCode string) (PhoneNumber, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return PhoneNumber{}, fmt.Errorf("%w: phone is missing", ErrInvalid)
	}
	international := false
	if strings.HasPrefix(s, "+") {
		international = true
		s = s[1:]
	}
	s = strings.ReplaceAll(s, "(0)", "")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return PhoneNumber{}, fmt.Errorf("%w: phone %q has a character %q that is not part of a number", ErrInvalid, raw, r)
		}
	}
	digits := b.String()
	if digits == "" {
		return PhoneNumber{}, fmt.Errorf("%w: phone %q has no digits", ErrInvalid, raw)
	}
	if !international && strings.HasPrefix(digits, "00") {
		international = true
		digits = digits[2:]
	}

	var p PhoneNumber
	if international {
		cc := countryCodeOf(digits)
		if cc == "" {
			return PhoneNumber{}, fmt.Errorf("%w: phone %q has no country code after the international prefix", ErrInvalid, raw)
		}
		p = PhoneNumber{CountryCode: cc, National: digits[len(cc):]}
	} else {
		dcc := strings.TrimPrefix(strings.TrimSpace(defaultCountryCode), "+")
		if !validCountryCode(dcc) {
			return PhoneNumber{}, fmt.Errorf("%w: phone %q has no country code and the default country code %q is not 1–3 digits", ErrInvalid, raw, defaultCountryCode)
		}
		switch {
		case strings.HasPrefix(digits, "0"):
			p = PhoneNumber{CountryCode: dcc, National: strings.TrimLeft(digits, "0")}
		case strings.HasPrefix(digits, dcc) && len(digits) > 10 && len(digits)-len(dcc) >= minNationalDigits:
			p = PhoneNumber{CountryCode: dcc, National: digits[len(dcc):]}
		default:
			p = PhoneNumber{CountryCode: dcc, National: digits}
		}
	}
	switch n := len(p.National); {
	case n < minNationalDigits || n > maxNationalDigits:
		return PhoneNumber{}, fmt.Errorf("%w: phone %q has %d national digits after country code %s; a mobile number needs 8 to 14", ErrInvalid, raw, n, p.CountryCode)
	case len(p.CountryCode)+n > maxE164Digits:
		return PhoneNumber{}, fmt.Errorf("%w: phone %q has %d digits with country code %s; E.164 allows 15", ErrInvalid, raw, len(p.CountryCode)+n, p.CountryCode)
	}
	return p, nil
}

func validCountryCode(cc string) bool {
	if len(cc) < 1 || len(cc) > 3 || cc[0] == '0' {
		return false
	}
	for _, r := range cc {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// twoDigitCodes are the ITU-T E.164 country calling codes of two digits.
// Codes are prefix-free: 1 and 7 are the one-digit codes, these are the
// two-digit ones, and every other code has three digits.
var twoDigitCodes = map[string]bool{
	"20": true, "27": true, "30": true, "31": true, "32": true, "33": true, "34": true, "36": true, "39": true,
	"40": true, "41": true, "43": true, "44": true, "45": true, "46": true, "47": true, "48": true, "49": true,
	"51": true, "52": true, "53": true, "54": true, "55": true, "56": true, "57": true, "58": true,
	"60": true, "61": true, "62": true, "63": true, "64": true, "65": true, "66": true,
	"81": true, "82": true, "84": true, "86": true,
	"90": true, "91": true, "92": true, "93": true, "94": true, "95": true, "98": true,
}

// countryCodeOf reads the country calling code at the start of digits, ""
// if there is none.
func countryCodeOf(digits string) string {
	switch {
	case digits == "" || digits[0] == '0':
		return ""
	case digits[0] == '1' || digits[0] == '7':
		return digits[:1]
	case len(digits) >= 2 && twoDigitCodes[digits[:2]]:
		return digits[:2]
	case len(digits) >= 3:
		return digits[:3]
	}
	return ""
}
