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

// Stepper is a Source that also runs one round on demand, for a caller
// that drives it step by step instead of Run (the cost measurement of
// 'crmsync bench'). Step does what one round of Run does and returns how
// many change events it published; Publishes names the source whose events
// those are ("leadexec.lead" for LeadExec's safety net), which routes read.
type Stepper interface {
	Source
	Step(ctx context.Context) (published int, err error)
	Publishes() string
}
