package scenario

import (
	"context"

	"github.com/crmsync/crmsync/internal/app"
)

// InProcess is a crmsync instance running in this process, as the scenario
// sees it.
type InProcess struct{ App *app.App }

// HookURL implements Pipeline.
func (p InProcess) HookURL() string { return "http://" + p.App.Addr() }

// Idle implements Pipeline.
func (p InProcess) Idle(ctx context.Context) bool {
	for _, ru := range p.App.Runners {
		if b, _, err := p.App.Backlog(ctx, ru.Name()); err != nil || b != 0 {
			return false
		}
	}
	return true
}

// Accepted implements AcceptCounter.
func (p InProcess) Accepted() int64 { return p.App.Webhook().Accepted }

// Observed implements Observed: the instance counts from its start.
func (p InProcess) Observed() bool { return true }
