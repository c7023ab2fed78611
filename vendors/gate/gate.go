// Package gate is how a vendor client asks its account's request budget
// before each request and tells it when the answer came back.
package gate

import "context"

// Gate is consulted before every request, for the shared rate limit and
// the daily quota. A non-nil error stops the request.
type Gate interface {
	Wait(ctx context.Context) error
}

// Answerer is a Gate that also wants to know when each request it let
// through was answered (or failed without an answer). A vendor counts a
// request when it arrives, which is some time between its sending and its
// answer; a gate that frees the request's place in its per-second window
// only a second after the answer keeps the vendor's count under the limit
// however long the request took to get there. A gate that wraps an
// Answerer must pass Answered on: a budget that never hears its answers
// fills its places after rate_per_second requests and admits no more.
type Answerer interface {
	Gate
	// Answered is called once for every Wait that returned nil, after
	// the request's answer was read or the request failed.
	Answered()
}

// Enter waits on g (nil: no gate) and returns the function to call once the
// request's answer is in; it does nothing for a gate that is not an
// Answerer. On error nothing was let through and done is nil.
func Enter(ctx context.Context, g Gate) (done func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	if err := g.Wait(ctx); err != nil {
		return nil, err
	}
	if a, ok := g.(Answerer); ok {
		return a.Answered, nil
	}
	return func() {}, nil
}
