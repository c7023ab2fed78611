// Package region holds the country codes and locales SharpSpring accepts
// for a client (a reseller's sub-account), for the client's own checks and
// for the simulator that models the API.
package region

import (
	"slices"
	"strings"
)

// IsCountry reports whether code is an ISO 3166-1 alpha-2 code (upper
// case), or "UK", which the vendor's own documentation gives as an
// example (assumption: accepted).
func IsCountry(code string) bool { return countries[code] }

// Locales returns the values createClient and updateClient accept for
// locale; the slice is the caller's.
func Locales() []string { return slices.Clone(locales) }

var locales = []string{"en_US", "de_DE", "es_ES", "fr_FR", "it_IT", "nl_NL", "pt_PT", "ro_RO", "sk_SK", "tr_TR"}

var countries = func() map[string]bool {
	m := map[string]bool{"UK": true}
	for _, c := range strings.Fields(`AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR
LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL
NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ
SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA
VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`) {
		m[c] = true
	}
	return m
}()
