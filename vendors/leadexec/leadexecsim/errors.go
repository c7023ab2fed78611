package leadexecsim

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (or a
// context error) so callers can test them with [errors.Is]. Error strings never
// contain the delivery URL, credentials or lead field values.
var (
	// ErrInvalidDelivery is returned by [NewSender] when the [Delivery] is
	// unusable; the message lists every problem found, each with its field.
	ErrInvalidDelivery = errors.New("leadexecsim: invalid delivery")

	// ErrRender means a lead could not be rendered in the delivery's format,
	// e.g. a field name that is not a valid XML element name. Nothing is sent
	// and the send is not retried.
	ErrRender = errors.New("leadexecsim: cannot render lead")

	// ErrHTTPStatus means the receiver answered with a status outside 2xx.
	// The send counts as failed even when the body contains the response
	// search text (see the package documentation).
	ErrHTTPStatus = errors.New("leadexecsim: non-2xx response")

	// ErrNoMatch means the receiver answered 2xx but the body did not contain
	// the delivery's ResponseSearch text (or regexp match).
	ErrNoMatch = errors.New("leadexecsim: response search not found")

	// ErrDropped means the send was skipped by the [Sender.DropNext] fault
	// hook and never reached the receiver.
	ErrDropped = errors.New("leadexecsim: send dropped by fault hook")
)
