package pipeline

import "context"

// Source is a long-running intake such as a poller: it publishes change
// events until ctx ends, saving its cursor only after the bus acknowledged
// every event of a window, and then returns nil. It returns an error only
// when it cannot go on.
type Source interface {
	Name() string
	Run(ctx context.Context) error
}
