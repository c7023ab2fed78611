package ivvysim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Specific codes. The documented ones come from spec §2.3–2.6; the
// authentication codes other than 23005 are not documented and were picked
// for the simulator (spec §2.2: "use {errorCode:401,…,specificCode:<pick>}").
const (
	CodeAuthMissing      = 23001 // assumed: no or malformed X-Api-Authorization
	CodeUnknownKey       = 23002 // assumed: the key is not known
	CodeBadSignature     = 23003 // assumed: the signature does not match
	CodeBadContentMD5    = 23004 // assumed: Content-MD5 missing or not the MD5 of the body
	CodeStale            = 23005 // documented: more than 5 minutes from server time
	CodeMissingDate      = 23006 // assumed: neither IVVY-Date nor Date, or unparsable
	CodeInvalidParameter = 23016
	CodeMissingParameter = 23017
	CodeLeadEmpty        = 24215
	CodeLeadNotFound     = 24216
	CodeLeadInvalid      = 24218
	CodeBatchNotSaved    = 24091
	CodeBatchBadJob      = 24092
	CodeBatchEmptyParams = 24093
	CodeBatchNotFound    = 24105
	CodeBatchNotDone     = 24114
	CodeBatchNoResults   = 24115
	CodeBatchTooManyJobs = 24448
)

// apiError is iVvy's error body; HTTP status mirrors ErrorCode.
type apiError struct {
	ErrorCode          int      `json:"errorCode"`
	Message            string   `json:"message"`
	SpecificCode       int      `json:"specificCode"`
	AdditionalMessages []string `json:"additionalMessages"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d/%d %s", e.ErrorCode, e.SpecificCode, e.Message)
}

func newErr(status, specific int, msg string, more ...string) *apiError {
	if more == nil {
		more = []string{}
	}
	return &apiError{ErrorCode: status, Message: msg, SpecificCode: specific, AdditionalMessages: more}
}

func unauthorized(specific int, msg string) *apiError {
	return newErr(http.StatusUnauthorized, specific, msg)
}

func missing(param string) *apiError {
	return newErr(http.StatusBadRequest, CodeMissingParameter, fmt.Sprintf("'%s' is required", param))
}

func invalid(param, why string) *apiError {
	return newErr(http.StatusBadRequest, CodeInvalidParameter, fmt.Sprintf("'%s' failed validation", param), why)
}

func (e *apiError) body() []byte {
	b, _ := json.Marshal(e)
	return b
}
