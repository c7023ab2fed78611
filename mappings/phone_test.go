package mappings

import (
	"errors"
	"strings"
	"testing"
)

// TestNormalizePhone: a number is normalised to E.164 (want), or refused
// with ErrInvalid and an error that says why (refused).
func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		name, raw, cc, want, refused string
	}{
		{"international with spaces", "+91 98765 43210", "91", "+919876543210", ""},
		{"country code without plus", "919876543210", "91", "+919876543210", ""},
		{"trunk zero", "09876543210", "91", "+919876543210", ""},
		{"national", "9876543210", "91", "+919876543210", ""},
		{"national starting with the country code stays national", "9198765432", "91", "+919198765432", ""},
		{"default code written with plus", "98765 43210", "+91", "+919876543210", ""},
		{"double zero prefix", "0091-98765-43210", "91", "+919876543210", ""},
		{"other country by plus", "+44 20 7946 0958", "91", "+442079460958", ""},
		{"uk with (0)", "+44 (0)20 7946 0958", "91", "+442079460958", ""},
		{"north america", "+1 (415) 555-0100", "91", "+14155550100", ""},
		{"three digit code", "+971 50 123 4567", "91", "+971501234567", ""},
		{"default country 1", "(415) 555.0100", "1", "+14155550100", ""},
		{"eight digits", "+65 6123 4567", "91", "+6561234567", ""},
		{"non-breaking space", "98765\u00a043210", "91", "+919876543210", ""},

		{"empty", "  ", "91", "", "missing"},
		{"too short", "98765", "91", "", "5 national digits"},
		{"too short after country code", "+91 1234567", "91", "", "7 national digits"},
		{"too long", "+91 123456789012345", "91", "", "15 national digits"},
		{"letters", "98765 43210 ext 2", "91", "", "not part of a number"},
		{"only punctuation", "()-", "91", "", "no digits"},
		{"bad default country code", "9876543210", "abc", "", "default country code"},
		{"no default country code", "9876543210", "", "", "default country code"},
		{"over fifteen digits", "+971 12345678901234", "91", "", "E.164 allows 15"},
		{"plus then zero", "+0 9876543210", "91", "", "no country code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizePhone(tc.raw, tc.cc)
			if tc.refused != "" {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("NormalizePhone(%q) = %q, %v; want ErrInvalid", tc.raw, got, err)
				}
				if !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("error %q does not say %q", err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizePhone(%q, %q): %v", tc.raw, tc.cc, err)
			}
			if got != tc.want {
				t.Fatalf("NormalizePhone(%q, %q) = %q, want %q", tc.raw, tc.cc, got, tc.want)
			}
		})
	}
}

func TestParsePhoneSplits(t *testing.T) {
	p, err := ParsePhone("+44 20 7946 0958", "91")
	if err != nil {
		t.Fatal(err)
	}
	if p.CountryCode != "44" || p.National != "2079460958" {
		t.Fatalf("got %+v", p)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+91 98765 43210", "919876543210", "09876543210", "0044 20", "+1 (415)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizePhone(raw, "91")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		// A normalised number is a fixed point.
		again, err := NormalizePhone(got, "91")
		if err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, then %q, %v", raw, got, again, err)
		}
		if n := len(got) - 1; n < 9 || n > 15 {
			t.Fatalf("%q has %d digits", got, n)
		}
	})
}
