package leadexecsim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// FirstGeneratedUID is the UID of the first lead from [GenerateLeads]; lead i
// has UID FirstGeneratedUID+i. It is far above 2^32 so code that squeezes a
// LeadExec id into 32 bits fails visibly.
const FirstGeneratedUID int64 = 7_000_000_000_001

// Standard lead field names, as LeadExec's special-bit fields.
const (
	FieldFirstName    = "FirstName"
	FieldLastName     = "LastName"
	FieldEmail        = "Email"
	FieldPrimaryPhone = "PrimaryPhone"
	FieldAddress      = "Address"
	FieldCity         = "City"
	FieldState        = "State"
	FieldZip          = "Zip"
	FieldCompany      = "Company"
)

// GenerateLeads returns n realistic leads, the same for the same arguments.
//
// UIDs are FirstGeneratedUID, FirstGeneratedUID+1, …. Every lead has
// FirstName, LastName, Email, PrimaryPhone, Address, City, State and Zip;
// about 40% have a Company. Emails are unique ignoring case, and some are
// mixed-case (as lead sources post them). Names include apostrophes,
// hyphens and accents, and companies include '&', so renderers and parsers
// get exercised. Phones are fictional US numbers (555-01XX) in mixed
// formats; zips are 5-digit strings that may start with 0.
//
// Each name in customFields gets a value for about half the leads, chosen
// from the name (e.g. "DateOfBirth" gets a date, "LoanAmount" a number,
// "HomeOwner" Yes/No, "Comments" a sentence); the field is absent from the
// other leads. A custom field named like a standard field is ignored.
func GenerateLeads(n int, seed int64, customFields []string) []Lead {
	if n <= 0 {
		return []Lead{}
	}
	g := generator{
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x1eade8ec)),
		emails: make(map[string]bool, n),
	}
	leads := make([]Lead, n)
	for i := range leads {
		leads[i] = g.lead(FirstGeneratedUID+int64(i), customFields)
	}
	return leads
}

type generator struct {
	rng    *rand.Rand
	emails map[string]bool // lower-cased emails handed out
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// chance reports true with probability pct/100.
func (g *generator) chance(pct int) bool { return g.rng.IntN(100) < pct }

func (g *generator) lead(uid int64, custom []string) Lead {
	first, last := g.pick(firstNames), g.pick(lastNames)
	c := cities[g.rng.IntN(len(cities))]
	f := map[string]string{
		FieldFirstName:    first,
		FieldLastName:     last,
		FieldEmail:        g.email(first, last),
		FieldPrimaryPhone: g.phone(c.areaCodes),
		FieldAddress:      g.address(),
		FieldCity:         c.name,
		FieldState:        c.state,
		FieldZip:          fmt.Sprintf("%s%02d", c.zip3, g.rng.IntN(100)),
	}
	if g.chance(40) {
		f[FieldCompany] = g.company(last)
	}
	for _, name := range custom {
		if name == "" || standardFields[name] {
			continue
		}
		if g.chance(50) {
			f[name] = g.customValue(name, c)
		}
	}
	return Lead{UID: uid, Fields: f}
}

var standardFields = map[string]bool{
	FieldFirstName: true, FieldLastName: true, FieldEmail: true, FieldPrimaryPhone: true,
	FieldAddress: true, FieldCity: true, FieldState: true, FieldZip: true, FieldCompany: true,
}

// email builds a unique address from the name, adding digits only when the
// plain form is taken.
func (g *generator) email(first, last string) string {
	fa, la := asciiLetters(first), asciiLetters(last)
	var local string
	switch g.rng.IntN(6) {
	case 0, 1:
		local = fa + "." + la
	case 2:
		local = fa + la
	case 3:
		local = fa[:1] + la
	case 4:
		local = fa + "_" + la
	default:
		local = fa + la[:1]
	}
	domain := g.pick(emailDomains)
	switch r := g.rng.IntN(10); {
	case r < 2: // "Jane.Doe@gmail.com"
		local = capitalizeParts(local)
	case r == 2: // "jane.doe@Gmail.com"
		domain = strings.ToUpper(domain[:1]) + domain[1:]
	}
	addr := local + "@" + domain
	for n := 10 + g.rng.IntN(90); g.emails[strings.ToLower(addr)]; n++ {
		addr = local + strconv.Itoa(n) + "@" + domain
	}
	g.emails[strings.ToLower(addr)] = true
	return addr
}

// phone returns a fictional 555-01XX US number, usually in the city's area
// code, in one of the formats lead sources post.
func (g *generator) phone(areaCodes []string) string {
	area := g.pick(areaCodes)
	if g.chance(20) {
		area = g.pick(cities[g.rng.IntN(len(cities))].areaCodes) // moved, kept their number
	}
	line := fmt.Sprintf("01%02d", g.rng.IntN(100))
	switch r := g.rng.IntN(20); {
	case r < 12:
		return area + "555" + line
	case r < 17:
		return "(" + area + ") 555-" + line
	default:
		return area + "-555-" + line
	}
}

func (g *generator) address() string {
	a := fmt.Sprintf("%d %s %s", 100+g.rng.IntN(9900), g.pick(streets), g.pick(streetSuffixes))
	if g.chance(15) {
		a += " " + fmt.Sprintf(g.pick(units), 1+g.rng.IntN(40))
	}
	return a
}

func (g *generator) company(last string) string {
	switch g.rng.IntN(4) {
	case 0:
		return last + " & Sons " + g.pick(trades)
	case 1:
		return g.pick(companyWords) + " " + g.pick(trades) + " LLC"
	case 2:
		return last + " " + g.pick(trades) + ", Inc."
	default:
		return g.pick(companyWords) + " Holdings"
	}
}

// customValue picks a plausible value for a custom field from its name.
func (g *generator) customValue(name string, c city) string {
	l := strings.ToLower(name)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(l, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("birth", "dob"):
		return fmt.Sprintf("%02d/%02d/%d", 1+g.rng.IntN(12), 1+g.rng.IntN(28), 1945+g.rng.IntN(60))
	case has("date"):
		return fmt.Sprintf("%02d/%02d/%d", 1+g.rng.IntN(12), 1+g.rng.IntN(28), 2025+g.rng.IntN(2))
	case has("credit"):
		return g.pick([]string{"Excellent", "Good", "Fair", "Poor"})
	case has("amount", "debt", "income", "price", "balance", "value", "loan", "budget"):
		return strconv.Itoa(500 * (2 + g.rng.IntN(300)))
	case l == "age" || (strings.HasSuffix(l, "age") && !has("mortgage", "message", "page", "language")):
		return strconv.Itoa(18 + g.rng.IntN(68))
	case has("zip", "postal"):
		return fmt.Sprintf("%s%02d", c.zip3, g.rng.IntN(100))
	case has("state"):
		return c.state
	case has("phone", "mobile"):
		return g.phone(c.areaCodes)
	case l == "ip" || has("ipaddress", "ip_address", "ipaddr"):
		return fmt.Sprintf("%s.%d", g.pick([]string{"192.0.2", "198.51.100", "203.0.113"}), 1+g.rng.IntN(254))
	case has("url", "website", "landing"):
		return "https://www.example.com/quote?utm_source=" + g.pick(sources)
	case has("source", "utm", "campaign", "channel", "medium"):
		return g.pick(sources)
	case has("comment", "note", "message", "description"):
		return g.pick(comments)
	case has("time"):
		return g.pick([]string{"Morning", "Afternoon", "Evening", "Anytime"})
	case strings.HasPrefix(l, "is") || strings.HasPrefix(l, "has") || has("own", "opt", "consent", "tcpa", "agree"):
		return g.pick([]string{"Yes", "No"})
	case strings.HasSuffix(l, "id") || has("ref", "number", "code"):
		return strconv.Itoa(100000 + g.rng.IntN(900000000))
	default:
		return g.pick([]string{"Standard", "Premium", "Basic", "Gold", "Silver", "Residential", "Commercial", "Other"})
	}
}

// asciiLetters lower-cases s and keeps only a–z, folding common accents, so
// "O'Brien" becomes "obrien" and "Zoë" "zoe".
func asciiLetters(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if f, ok := accentFold[r]; ok {
			r = f
		}
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

var accentFold = map[rune]rune{
	'á': 'a', 'à': 'a', 'ä': 'a', 'â': 'a', 'ã': 'a', 'é': 'e', 'è': 'e', 'ë': 'e', 'ê': 'e',
	'í': 'i', 'ï': 'i', 'î': 'i', 'ó': 'o', 'ö': 'o', 'ô': 'o', 'ø': 'o', 'ú': 'u', 'ü': 'u',
	'ñ': 'n', 'ç': 'c',
}

// capitalizeParts upper-cases the first letter of each '.'/'_'-separated part.
func capitalizeParts(s string) string {
	b := []byte(s)
	for i := range b {
		if (i == 0 || b[i-1] == '.' || b[i-1] == '_') && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

type city struct {
	name, state, zip3 string
	areaCodes         []string
}

var cities = []city{
	{"New York", "NY", "100", []string{"212", "646"}},
	{"Chicago", "IL", "606", []string{"312", "773"}},
	{"Houston", "TX", "770", []string{"713", "832"}},
	{"Phoenix", "AZ", "850", []string{"602", "480"}},
	{"Philadelphia", "PA", "191", []string{"215", "267"}},
	{"San Antonio", "TX", "782", []string{"210"}},
	{"San Diego", "CA", "921", []string{"619", "858"}},
	{"Dallas", "TX", "752", []string{"214", "469"}},
	{"Austin", "TX", "787", []string{"512"}},
	{"Jacksonville", "FL", "322", []string{"904"}},
	{"Columbus", "OH", "432", []string{"614"}},
	{"Charlotte", "NC", "282", []string{"704", "980"}},
	{"Indianapolis", "IN", "462", []string{"317"}},
	{"Seattle", "WA", "981", []string{"206"}},
	{"Denver", "CO", "802", []string{"303", "720"}},
	{"Nashville", "TN", "372", []string{"615"}},
	{"Boston", "MA", "021", []string{"617", "857"}},
	{"Portland", "OR", "972", []string{"503"}},
	{"Las Vegas", "NV", "891", []string{"702"}},
	{"Atlanta", "GA", "303", []string{"404", "678"}},
	{"Miami", "FL", "331", []string{"305", "786"}},
	{"Minneapolis", "MN", "554", []string{"612"}},
	{"Tampa", "FL", "336", []string{"813"}},
	{"Newark", "NJ", "071", []string{"973"}},
	{"Hartford", "CT", "061", []string{"860"}},
	{"Salt Lake City", "UT", "841", []string{"801"}},
	{"Kansas City", "MO", "641", []string{"816"}},
	{"Omaha", "NE", "681", []string{"402"}},
	{"Albuquerque", "NM", "871", []string{"505"}},
	{"Boise", "ID", "837", []string{"208"}},
}

var firstNames = []string{
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
	"Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
	"Christopher", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark",
	"Sandra", "Kevin", "Ashley", "Brian", "Emily", "Jose", "Maria", "Luis", "Ana", "Wei", "Mei",
	"Thanh", "Priya", "Aarav", "Fatima", "Omar", "DeShawn", "Latoya", "Zoë", "Renée", "José",
	"Siobhán", "D'Andre", "Mary-Kate", "Jean-Luc", "Björn", "Chloé",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
	"Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
	"Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
	"Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen",
	"Patel", "Kim", "Chen", "O'Brien", "O'Connor", "McDonald", "Smith-Jones", "García", "Muñoz",
	"Núñez", "Søren", "van der Berg", "St. James", "D'Angelo",
}

var emailDomains = []string{
	"gmail.com", "gmail.com", "gmail.com", "yahoo.com", "yahoo.com", "outlook.com", "hotmail.com",
	"aol.com", "icloud.com", "comcast.net", "att.net", "msn.com", "example.com", "example.org",
}

var streets = []string{
	"Main", "Oak", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Pine", "Sunset",
	"Lincoln", "Jackson", "Highland", "Church", "Martin Luther King Jr", "N 5th", "W 42nd",
	"E Colfax", "S Congress", "Peachtree", "Willow Creek", "Old Mill", "Ridgeview",
}

var streetSuffixes = []string{"St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Ct", "Way", "Pl", "Pkwy"}

var units = []string{"Apt %d", "Unit %d", "#%d", "Suite %d", "Apt %dB"}

var trades = []string{"Roofing", "Plumbing", "Insurance", "Realty", "Solar", "Auto", "Dental", "Landscaping", "Consulting"}

var companyWords = []string{"Acme", "Summit", "Blue Ridge", "Lakeside", "Pioneer", "Golden State", "Northstar", "Redwood", "Keystone"}

var sources = []string{"google", "facebook", "bing", "email", "referral", "tiktok", "affiliate", "direct"}

var comments = []string{
	"Call after 5pm & ask for Sam.",
	"Interested in the <premium> plan.",
	"Needs a quote \"ASAP\" — moving next month.",
	"Prefers email; no calls on weekends.",
	"Already has coverage, comparing rates.",
	"Spoke with agent 3/14, follow up.",
}
