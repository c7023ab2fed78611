package sharpspringsim

// Error codes the simulator sends, from the vendor's "Open API: Error Codes"
// page (spec §4).
const (
	CodeInvalidRequest    = 101
	CodeMissingRequestID  = 102
	CodeMissingAccountID  = 103
	CodeMissingSecretKey  = 104
	CodeAuthFailed        = 105
	CodeDailyLimit        = 106
	CodeSecondLimit       = 107
	CodeMissingMethod     = 201
	CodeMissingParams     = 202
	CodeUnknownMethod     = 204
	CodeInvalidParams     = 205
	CodeMissingParameters = 206
	CodeMissingObjects    = 207
	CodeMalformedObject   = 208
	CodeTooManyObjects    = 209
	CodeOnlyCustomDelete  = 211
	CodeEntryExists       = 301
	CodeNoRowsAffected    = 302
	CodeRecordNotFound    = 404
	CodeUnknown           = 999
)

// UnavailableMessage is the message of the "temporarily unavailable" answer
// seen under load in 2017. Its code was never recorded; the simulator sends
// it as API error 999 (assumption), so a client must not expect 999 to be
// rare or fatal.
const UnavailableMessage = "Service temporarily unavailable, try again in a few minutes"

// messages holds the wire message per code. Where the spec quotes a real
// response (105, 205, 301, 302, 404) that text is used; the rest come from
// the vendor's error code page.
var messages = map[int]string{
	101: "Invalid request data format.",
	102: "Header missing request ID.",
	103: "Header missing account ID.",
	104: "Header missing Secret Key.",
	105: "User authentication failed.",
	106: "Exceeded daily method call limit.",
	107: "Exceeded per second method call limit.",
	201: "Missing method signature.",
	202: "Missing params array.",
	204: "Invalid method signature.",
	205: "Invalid parameters",
	206: "Missing parameters.",
	207: "Missing objects array.",
	208: "Object is malformed (expected array, got scalar).",
	209: "Attempting to execute an excess amount of queries.",
	211: "Only custom fields can be deleted.",
	301: "Entry already exists",
	302: "No table rows affected",
	404: "A record with that ID does not exist",
	999: "Unknown error. Please contact Constant Contact Developer Support.",
}

func messageFor(code int) string {
	if m, ok := messages[code]; ok {
		return m
	}
	return "Unknown error"
}

// apiError is the wire error object {"code","message","data"}, used both as
// an API-level error and inside per-object results.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"` // []any{} or paramsData
}

// paramsData is the data member of a 205 error: {"params":[…]}.
type paramsData struct {
	Params []paramInfo `json:"params"`
}

// paramInfo describes one parameter, as in the vendor's documented example
// {"param":"id","message":"Expected data of type integer","validFormat":{…}}.
type paramInfo struct {
	Param       string       `json:"param"`
	Message     string       `json:"message"`
	ValidFormat *validFormat `json:"validFormat"`
}

type validFormat struct {
	Type     string `json:"type"`
	Length   int    `json:"length,omitempty"`
	Required bool   `json:"required"`
}

// newError builds an error with the standard message and "data": [].
func newError(code int) *apiError {
	return &apiError{Code: code, Message: messageFor(code), Data: []any{}}
}

// paramError builds a 205 error with data.params.
func paramError(params ...paramInfo) *apiError {
	return &apiError{Code: CodeInvalidParams, Message: messageFor(CodeInvalidParams), Data: paramsData{Params: params}}
}
