package leadexecsim

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestGenerateLeadsDeterministic(t *testing.T) {
	custom := []string{"LoanAmount", "Comments"}
	a := GenerateLeads(200, 42, custom)
	b := GenerateLeads(200, 42, custom)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different leads")
	}
	if c := GenerateLeads(200, 43, custom); reflect.DeepEqual(a, c) {
		t.Error("different seeds gave the same leads")
	}
	// A prefix is stable: asking for more leads does not change earlier ones.
	if d := GenerateLeads(50, 42, custom); !reflect.DeepEqual(a[:50], d) {
		t.Error("GenerateLeads(50) is not a prefix of GenerateLeads(200)")
	}
}

func TestGenerateLeadsShape(t *testing.T) {
	const n = 5000
	leads := GenerateLeads(n, 1, nil)
	if len(leads) != n {
		t.Fatalf("got %d leads", len(leads))
	}
	checks := map[string]*regexp.Regexp{
		FieldFirstName:    regexp.MustCompile(`^\S.*\S$`),
		FieldLastName:     regexp.MustCompile(`^\S.*\S$`),
		FieldEmail:        regexp.MustCompile(`^[A-Za-z0-9._]+@[A-Za-z]+\.[a-z]+$`),
		FieldPrimaryPhone: regexp.MustCompile(`^(\d{3}555\d{4}|\(\d{3}\) 555-\d{4}|\d{3}-555-\d{4})$`),
		FieldAddress:      regexp.MustCompile(`^\d+ [A-Za-z0-9 .]+`),
		FieldCity:         regexp.MustCompile(`^[A-Z][a-z]+( [A-Z][a-z]+)*$`),
		FieldState:        regexp.MustCompile(`^[A-Z]{2}$`),
		FieldZip:          regexp.MustCompile(`^\d{5}$`),
	}
	emails := make(map[string]bool, n)
	var companies, mixedCase, zeroZip int
	for i, l := range leads {
		if want := FirstGeneratedUID + int64(i); l.UID != want {
			t.Fatalf("leads[%d].UID = %d, want %d", i, l.UID, want)
		}
		for field, re := range checks {
			if v := l.Fields[field]; !re.MatchString(v) {
				t.Errorf("lead %d %s = %q, does not match %v", l.UID, field, v, re)
			}
		}
		e := strings.ToLower(l.Fields[FieldEmail])
		if emails[e] {
			t.Errorf("duplicate email %q (ignoring case)", e)
		}
		emails[e] = true
		if e != l.Fields[FieldEmail] {
			mixedCase++
		}
		if _, ok := l.Fields[FieldCompany]; ok {
			companies++
		}
		if strings.HasPrefix(l.Fields[FieldZip], "0") {
			zeroZip++
		}
	}
	if companies < n*30/100 || companies > n*50/100 {
		t.Errorf("%d of %d leads have a company, want about 40%%", companies, n)
	}
	if mixedCase < n/10 {
		t.Errorf("%d mixed-case emails, want some", mixedCase)
	}
	if zeroZip == 0 {
		t.Error("no zip starting with 0; leading zeros are worth exercising")
	}
}

func TestGenerateLeadsCustomFields(t *testing.T) {
	tests := []struct {
		field string
		want  *regexp.Regexp
	}{
		{"DateOfBirth", regexp.MustCompile(`^\d{2}/\d{2}/(19[4-9]\d|200\d)$`)},
		{"MoveDate", regexp.MustCompile(`^\d{2}/\d{2}/202[56]$`)},
		{"LoanAmount", regexp.MustCompile(`^\d+000$|^\d+500$`)},
		{"CreditRating", regexp.MustCompile(`^(Excellent|Good|Fair|Poor)$`)},
		{"Age", regexp.MustCompile(`^\d{2}$`)},
		{"HomeOwner", regexp.MustCompile(`^(Yes|No)$`)},
		{"TCPAConsent", regexp.MustCompile(`^(Yes|No)$`)},
		{"Comments", regexp.MustCompile(`^.+$`)},
		{"LeadSource", regexp.MustCompile(`^[a-z]+$`)},
		{"IPAddress", regexp.MustCompile(`^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$`)},
		{"AffiliateID", regexp.MustCompile(`^\d{6,9}$`)},
		{"BestTimeToCall", regexp.MustCompile(`^(Morning|Afternoon|Evening|Anytime)$`)},
		{"Plan", regexp.MustCompile(`^[A-Z][a-z]+$`)},
	}
	custom := make([]string, len(tests))
	for i, tt := range tests {
		custom[i] = tt.field
	}
	custom = append(custom, FieldEmail) // a standard name is ignored
	const n = 2000
	leads := GenerateLeads(n, 9, custom)
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			present := 0
			for _, l := range leads {
				v, ok := l.Fields[tt.field]
				if !ok {
					continue
				}
				present++
				if !tt.want.MatchString(v) {
					t.Errorf("lead %d %s = %q, want %v", l.UID, tt.field, v, tt.want)
				}
			}
			if present < n*40/100 || present > n*60/100 {
				t.Errorf("%s present on %d of %d leads, want about half", tt.field, present, n)
			}
		})
	}
	for _, l := range leads {
		if !strings.Contains(l.Fields[FieldEmail], "@") {
			t.Fatalf("custom field %q overwrote the standard field: %q", FieldEmail, l.Fields[FieldEmail])
		}
	}
}

func TestGenerateLeadsEmpty(t *testing.T) {
	for _, n := range []int{0, -3} {
		if got := GenerateLeads(n, 1, nil); len(got) != 0 {
			t.Errorf("GenerateLeads(%d) returned %d leads", n, len(got))
		}
	}
}
