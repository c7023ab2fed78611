package leadexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// Receiver versions of LeadSinkConfig.Version.
const (
	V1 = leadexec.ReceiverV1
	V2 = leadexec.ReceiverV2
)

// Defaults of LeadSinkConfig.
const (
	DefaultMaxLeadsPerPost = leadexec.DefaultMaxLeadsPerPost
	DefaultOverMaxWait     = 5 * time.Minute
)

// SkipNoUpdate is the Outcome.Skip of a lead LeadExec already holds.
const SkipNoUpdate = "LeadExec has no lead update: the lead is in LeadExec already and is not posted again"

// LeadAPI is what the lead sink needs from the LeadExec client
// (*leadexec.Client implements it).
type LeadAPI interface {
	InsertV2(ctx context.Context, src leadexec.Source, leads []leadexec.LeadPost) ([]leadexec.PostResponse, error)
	InsertV1(ctx context.Context, src leadexec.Source, fields map[string]string) (leadexec.PostResponse, error)
}

// LeadReader reads leads back from LeadExec's lead data API
// (*leadexec.Client implements it).
type LeadReader interface {
	QueryLeads(ctx context.Context, leadTypeUID int64, q leadexec.Query) (leadexec.LeadPage, error)
}

// DefaultMaxInDoubtPosts bounds the posts of one lead whose answers could
// not be read (LeadSinkConfig.MaxInDoubtPosts).
const DefaultMaxInDoubtPosts = 3

// CodeFieldType is the dead-letter code of a lead with a value that is not
// of its LeadExec field's type (a date that is no date, say).
const CodeFieldType = pipeline.CodeFieldType

// CodeUnreadableAnswer is the dead-letter code of a lead whose posts were answered in a
// way crmsync cannot read, and which the lead data API does not show.
const CodeUnreadableAnswer = pipeline.CodeUnreadableAnswer

// LeadSinkConfig configures a LeadSink.
type LeadSinkConfig struct {
	// Source holds the posting identifiers and credentials: VID and LID
	// (required), AID, the V1 Password, the V2 APIKey and SendDelay.
	Source leadexec.Source
	// Version is V2 (default) or V1.
	Version string
	// MaxLeadsPerPost bounds the leads of one V2 request; default 100.
	MaxLeadsPerPost int
	// OverMaxWait is the least wait before a lead refused with
	// Post_Over_Max (a campaign cap) is posted again; default 5m.
	OverMaxWait time.Duration
	// Fields, when set, holds the fields of the lead type (Source.LID), as
	// leadexec.CheckLeadFields read them: a field the lead type lacks is
	// left out of the post (LeadExec would refuse the lead, or drop the
	// value silently), and a standard field is posted under the lead type's
	// name for it. Nil, or not yet read: fields are posted as they are.
	Fields *leadexec.LeadTypeFields
	// ReadBack, when set, settles a post whose answer could not be read
	// (see the package documentation) by looking the lead up in the lead
	// data API. Nil: such a post is only retried, up to MaxInDoubtPosts.
	ReadBack LeadReader
	// MaxInDoubtPosts is how many times one lead is posted while every
	// answer is unreadable (or lost) and the read-back does not find it,
	// before it is dead-lettered with the last answer; default 3.
	MaxInDoubtPosts int
	// Now is the clock of the read-back window; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// LeadSink is a pipeline.Sink that inserts leads into LeadExec through the
// lead receiver (see the package documentation). Records carry LeadExec
// lead field names (mappings.LeadExecLeads). It is safe for concurrent use.
type LeadSink struct {
	cfg LeadSinkConfig
	api LeadAPI
	log *slog.Logger

	mu     sync.Mutex
	doubts map[string]*doubt // record key → its posts in doubt
}

// doubt is a lead whose posts were answered in a way crmsync cannot read.
type doubt struct {
	posts int       // its posts so answered
	first time.Time // when the first was sent
}

// NewLeadSink returns a lead sink posting through api.
func NewLeadSink(cfg LeadSinkConfig, api LeadAPI) (*LeadSink, error) {
	switch cfg.Version {
	case "":
		cfg.Version = V2
	case V1, V2:
	default:
		return nil, fmt.Errorf("leadexec lead sink: version %q is not %s or %s", cfg.Version, V1, V2)
	}
	if api == nil {
		return nil, errors.New("leadexec lead sink: api is required")
	}
	if cfg.Source.VID <= 0 || cfg.Source.LID <= 0 {
		return nil, errors.New("leadexec lead sink: the posting instructions' vid and lid are required")
	}
	if cfg.Version == V2 && cfg.Source.APIKey == "" {
		return nil, errors.New("leadexec lead sink: the V2 receiver needs the api-key")
	}
	if cfg.MaxLeadsPerPost <= 0 {
		cfg.MaxLeadsPerPost = DefaultMaxLeadsPerPost
	}
	if cfg.OverMaxWait <= 0 {
		cfg.OverMaxWait = DefaultOverMaxWait
	}
	if cfg.MaxInDoubtPosts <= 0 {
		cfg.MaxInDoubtPosts = DefaultMaxInDoubtPosts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &LeadSink{cfg: cfg, api: api, log: log, doubts: map[string]*doubt{}}, nil
}

// post is one record on its way to LeadExec.
type post struct {
	i      int // index in the batch
	rec    *pipeline.Record
	fields map[string]string
}

// Write implements pipeline.Sink: one outcome per record, in order.
func (s *LeadSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := make([]pipeline.Outcome, len(recs))
	var todo []post
	for i, r := range recs {
		if r.TargetID != "" {
			out[i] = pipeline.Outcome{TargetID: r.TargetID, Skip: SkipNoUpdate}
			continue
		}
		fields, err := s.postFields(r)
		if err != nil {
			out[i] = pipeline.Outcome{Err: err}
			continue
		}
		if len(fields) == 0 {
			out[i] = pipeline.Outcome{Skip: "no lead field to post"}
			continue
		}
		p := post{i: i, rec: r, fields: fields}
		if d := s.doubtOf(r.Key); d != nil {
			// An earlier post's answer was unreadable: the lead may be in
			// LeadExec by now. Look before posting it again.
			if uid, ok := s.readBack(ctx, p, d.first); ok {
				out[i] = s.settled(p, uid)
				continue
			}
		}
		todo = append(todo, p)
	}
	if s.cfg.Version == V1 {
		for _, p := range todo {
			sent := s.cfg.Now()
			pr, err := s.api.InsertV1(ctx, s.cfg.Source, p.fields)
			if err != nil {
				out[p.i] = s.failed(ctx, p, sent, err)
				continue
			}
			out[p.i] = s.outcome(p, pr)
		}
	} else {
		for start := 0; start < len(todo); start += s.cfg.MaxLeadsPerPost {
			s.postV2(ctx, todo[start:min(start+s.cfg.MaxLeadsPerPost, len(todo))], out)
		}
	}
	for _, p := range todo {
		if o := out[p.i]; o.Err == nil || errors.Is(o.Err, pipeline.ErrPermanent) {
			s.forget(p.rec.Key) // done with: no post of it is in doubt any more
		}
	}
	return out
}

// postV2 posts leads in one request. A request refused as a whole for a
// permanent reason is split in halves until the lead at fault is alone, so
// the others are not dead-lettered with it.
func (s *LeadSink) postV2(ctx context.Context, ps []post, out []pipeline.Outcome) {
	leads := make([]leadexec.LeadPost, len(ps))
	for j, p := range ps {
		leads[j] = leadexec.LeadPost{Properties: leadexec.LeadProperties{Reference: p.rec.Key}, Fields: p.fields}
	}
	sent := s.cfg.Now()
	prs, err := s.api.InsertV2(ctx, s.cfg.Source, leads)
	if err != nil {
		if inDoubt(err) {
			for _, p := range ps {
				out[p.i] = s.failed(ctx, p, sent, err)
			}
			return
		}
		perr := classify(err)
		if errors.Is(perr, pipeline.ErrPermanent) && len(ps) > 1 {
			mid := len(ps) / 2
			s.postV2(ctx, ps[:mid], out)
			s.postV2(ctx, ps[mid:], out)
			return
		}
		for _, p := range ps {
			out[p.i] = pipeline.Outcome{Err: perr}
		}
		return
	}
	for j, p := range ps {
		out[p.i] = s.outcome(p, prs[j])
	}
}

// outcome turns LeadExec's answer for one lead into the record's outcome.
func (s *LeadSink) outcome(p post, pr leadexec.PostResponse) pipeline.Outcome {
	s.forget(p.rec.Key)
	var o pipeline.Outcome
	if pr.LeadIdentifier > 0 {
		o.TargetID = strconv.FormatInt(pr.LeadIdentifier, 10)
	}
	switch pr.Outcome() {
	case leadexec.Accepted:
		if o.TargetID == "" {
			s.log.Warn("leadexec accepted a lead without a LeadIdentifier", "record", p.rec.Key, "post", pr.PostID)
		}
	case leadexec.Exists:
		s.log.Info("lead already in LeadExec (Duplicate_Lead); not posted again", "record", p.rec.Key, "lead", o.TargetID)
	case leadexec.Rejected:
		return pipeline.Outcome{Err: pipeline.Permanent(pr.ResponseType.String(), pr.Err())}
	default: // RetryLater
		if pr.ResponseType == leadexec.PostOverMax {
			return pipeline.Outcome{Err: &pipeline.RetryAfterError{After: s.cfg.OverMaxWait, Err: pr.Err()}}
		}
		return pipeline.Outcome{Err: pr.Err()}
	}
	return o
}

// postFields are the lead's fields to post: the natural keys and the
// fields, without empty values (a new lead has nothing to clear), under the
// lead type's names, without those it lacks, and written as the lead type's
// typed fields take them (LeadTypeFields.Type). A value that is not of its
// field's type fails the record alone (CodeFieldType).
func (s *LeadSink) postFields(r *pipeline.Record) (map[string]string, error) {
	out := make(map[string]string, len(r.Fields)+len(r.NaturalKeys))
	var bad error
	put := func(k, v string) {
		if strings.TrimSpace(v) == "" {
			return
		}
		if s.cfg.Fields != nil {
			name, ok := s.cfg.Fields.PostName(k)
			if !ok {
				return
			}
			k = name
			if ft, ok := s.cfg.Fields.Type(name); ok {
				cv, err := ft.Convert(v, leadexec.ValueFormat)
				if err != nil {
					if bad == nil {
						bad = pipeline.Permanent(CodeFieldType, fmt.Errorf("leadexec: field %s: %w", name, err))
					}
					return
				}
				v = cv
			}
		}
		out[k] = v
	}
	for k, v := range r.NaturalKeys {
		put(k, v)
	}
	for k, v := range r.Fields {
		put(k, v)
	}
	return out, bad
}

// classify turns a LeadExec call error into the pipeline's error classes.
func classify(err error) error {
	var e *leadexec.Error
	if !errors.As(err, &e) {
		return err // ctx errors and the like: transient
	}
	if errors.Is(err, leadexec.ErrMissingCredentials) {
		// A configuration fault, not the record's: keep it.
		return &pipeline.RetryAfterError{After: pipeline.AuthWait, Err: err}
	}
	code := "invalid_request"
	if e.HTTPStatus != 0 {
		code = "http-" + strconv.Itoa(e.HTTPStatus)
	}
	return pipeline.FromVendor(err, code, max(e.RetryAfter, time.Second))
}
