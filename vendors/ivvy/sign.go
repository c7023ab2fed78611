package ivvy

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
)

// APIVersion is the only API version iVvy serves; it is part of every path
// and of the string to sign.
const APIVersion = "1.0"

// TimeLayout is iVvy's timestamp format, always UTC ("2012-04-03 22:23:24").
// Read values may carry a trailing " UTC".
const TimeLayout = "2006-01-02 15:04:05"

// ContentMD5 is the lower-case hex MD5 of the exact body bytes, as sent in
// the Content-MD5 header (MD5 of "" for an empty body).
func ContentMD5(body []byte) string {
	s := md5.Sum(body)
	return hex.EncodeToString(s[:])
}

// SigningInput is what the IWS signature covers.
type SigningInput struct {
	Method      string      // "POST"
	ContentMD5  string      // the Content-MD5 header value
	ContentType string      // the Content-Type header value, exactly as sent
	Date        string      // the Date header value; "" when IVVY-Date is used
	RequestURI  string      // path and query, e.g. "/api/1.0/test?action=ping"
	Headers     http.Header // request headers; those whose name starts with IVVY are signed
}

// StringToSign builds the IWS string to sign: method, Content-MD5,
// Content-Type, Date, request URI, API version and the IVVY* headers
// ("name=value" with "-" and "_" removed from the name, sorted, joined by
// "&"), concatenated and lower-cased as a whole.
func StringToSign(in SigningInput) string {
	var ivvy []string
	for name, vals := range in.Headers {
		if !strings.HasPrefix(strings.ToUpper(name), "IVVY") {
			continue
		}
		n := strings.NewReplacer("-", "", "_", "").Replace(name)
		for _, v := range vals {
			ivvy = append(ivvy, strings.ToLower(n)+"="+v)
		}
	}
	sort.Strings(ivvy)
	var b strings.Builder
	for _, s := range []string{in.Method, in.ContentMD5, in.ContentType, in.Date, in.RequestURI, APIVersion, strings.Join(ivvy, "&")} {
		b.WriteString(s)
	}
	return strings.ToLower(b.String())
}

// Signature is the lower-case hex HMAC-SHA1 of stringToSign keyed with the
// API secret.
func Signature(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}
