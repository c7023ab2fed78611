package sharpspring

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
	_ "time/tzdata" // the account's zone on hosts without zoneinfo
)

// LocalTimeEndpoint reports whether endpoint is SharpSpring's v1 API
// (".../pubapi/v1/"), which reads and writes "Y-m-d H:i:s" values in the
// time zone of the account's Company Profile; v1.2 (the default) works in
// UTC (spec §1.5).
func LocalTimeEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	return path.Base(strings.TrimRight(u.Path, "/")) == "v1"
}

// LoadZone reads an IANA time zone name such as America/New_York.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not a time zone name (use an IANA name such as America/New_York)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known time zone (use an IANA name such as America/New_York)", name)
	}
	return loc, nil
}
