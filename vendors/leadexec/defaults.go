package leadexec

import "time"

// What crmsync uses for LeadExec when the configuration leaves it unset.
// The webhook receiver, the safety net, the client poller and the lead
// sink apply these; the configuration shows them.
const (
	// DefaultWebhookPath is where crmsync receives LeadExec's deliveries.
	DefaultWebhookPath = "/webhooks/leadexec"
	// DefaultWebhookSuccessText is the answer that tells LeadExec's
	// delivery the lead was accepted (the delivery's success text).
	DefaultWebhookSuccessText = `{"status":"success"}`
	// DefaultWebhookIDField names the lead's id in a delivery.
	DefaultWebhookIDField = "LeadUID"
	// DefaultWebhookMaxBody bounds a delivery's body, in bytes.
	DefaultWebhookMaxBody = 1 << 20

	DefaultSafetyNetInterval = 15 * time.Minute
	DefaultSafetyNetLookback = 24 * time.Hour
	DefaultSafetyNetMinAge   = 10 * time.Minute
	DefaultSafetyNetPageSize = 500

	DefaultClientInterval = 5 * time.Minute

	// DefaultMaxLeadsPerPost bounds the leads of one V2 receiver request.
	DefaultMaxLeadsPerPost = 100
)

// Lead receiver versions.
const (
	ReceiverV1 = "v1" // form post to /processor/insert/general, one lead per request
	ReceiverV2 = "v2" // JSON post to /v2/insert/general, several leads per request
)
