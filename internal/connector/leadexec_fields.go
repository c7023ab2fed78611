package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// leadExecFieldCheck names the lead types this configuration uses: the
// receiver's when a route writes LeadExec leads, the safety net's when a
// route reads them.
func leadExecFieldCheck(env Env, l *config.LeadExecConfig) leadexec.FieldCheck {
	var fc leadexec.FieldCheck
	if env.Writes("leadexec", "lead") {
		fc.Post = l.Receiver.LID
	}
	if env.Reads("leadexec", "lead") {
		fc.Read = l.SafetyNet.LeadTypes
	}
	return fc
}

// checkLeadExecFields runs leadexec.CheckLeadFields at start-up (and before
// a backfill): a passing LeadExec failure is retried for a while; a field
// crmsync cannot fill, a catalog name no lead type has or refused
// credentials stop start-up at once. The posted lead type's fields go to
// fields; warnings are logged.
func checkLeadExecFields(ctx context.Context, c *leadexec.Client, fc leadexec.FieldCheck, cat *mappings.Catalog,
	fields *leadexec.LeadTypeFields, log *slog.Logger) error {
	var posted []leadexec.LeadField
	var warnings []string
	bo := backoff.WithContext(backoff.WithMaxRetries(pipeline.DefaultBackOff(), 6), ctx)
	err := backoff.Retry(func() error {
		var cerr error
		posted, warnings, cerr = leadexec.CheckLeadFields(ctx, c, fc, cat)
		if cerr != nil && (!isLeadExecAPIError(cerr) || apierr.Classify(cerr) != apierr.Transient) {
			return backoff.Permanent(cerr)
		}
		return cerr
	}, bo)
	if err != nil {
		return err
	}
	if fc.Post > 0 && fields != nil {
		fields.Set(posted)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	return nil
}

// isLeadExecAPIError reports whether err came from talking to LeadExec
// (as opposed to a mismatch found by the check itself).
func isLeadExecAPIError(err error) bool {
	var e *leadexec.Error
	return errors.As(err, &e)
}

// leadFieldWatch re-reads the fields of the LeadExec lead types on a
// schedule, as fieldWatch does SharpSpring's: the lead sink then posts by
// the new field list, and a field crmsync can no longer fill, or a catalog
// name that disappeared, is an error in the log (posts missing a required
// field dead-letter with LeadExec's Data_Errors until the lead type or the
// catalog is fixed). It is a pipeline.Source that publishes nothing.
type leadFieldWatch struct {
	c        *leadexec.Client
	check    leadexec.FieldCheck
	cat      *mappings.Catalog
	fields   *leadexec.LeadTypeFields
	interval time.Duration
	log      *slog.Logger
}

func (f *leadFieldWatch) Name() string { return "leadexec.fields" }

func (f *leadFieldWatch) Run(ctx context.Context) error {
	return Watch(ctx, f.interval, func(ctx context.Context) ([]string, error) {
		posted, warnings, err := leadexec.CheckLeadFields(ctx, f.c, f.check, f.cat)
		if f.check.Post > 0 && len(posted) > 0 && ctx.Err() == nil {
			f.fields.Set(posted)
		}
		return warnings, err
	}, func(warnings []string, err error) {
		switch {
		case err != nil && isLeadExecAPIError(err) && apierr.Temporary(err):
			f.log.Warn("LeadExec lead field check failed; checking again at the next interval", "err", err)
		case err != nil:
			f.log.Error("LeadExec lead field check failed: posts of the lead type may be refused", "err", err)
		}
		for _, w := range warnings {
			f.log.Warn(w)
		}
	})
}

// errNoLeadExecKey says why the lead types' fields cannot be read.
var errNoLeadExecKey = fmt.Errorf("leadexec.key is not set: the lead types' fields cannot be read (GetLeadFields)")
