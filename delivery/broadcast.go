package delivery

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"iter"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// DefaultBroadcastChunk is how many messages of a broadcast are stored in
// one transaction.
const DefaultBroadcastChunk = 1000

// BroadcastService implements wxnotify.BroadcastService over the message
// Service: a broadcast is its messages, stored in chunks with EnqueueMany.
// Store and Messages are required.
type BroadcastService struct {
	Store    store.Executor
	Messages *Service
	Now      func() time.Time
	Logger   *slog.Logger
	// Chunk is how many messages are stored per transaction; 0 means
	// DefaultBroadcastChunk. Memory is bounded by one chunk, whatever the
	// number of recipients.
	Chunk int

	// unfinished are the broadcasts whose upload ended here while their
	// end could not be written (the database was away): written again by
	// the next FindBroadcastByID or AbortStale that finds the database
	// back, so the broadcast does not stay accepting until the crash sweep.
	mu         sync.Mutex
	unfinished map[int64]*store.BroadcastFinishParams
}

var _ wxnotify.BroadcastService = (*BroadcastService)(nil)

// broadcastSpec is what the broadcast row keeps of the template.
type broadcastSpec struct {
	Kind             wxnotify.MessageKind `json:"kind"`
	Data             map[string]string    `json:"data"`
	Page             string               `json:"page,omitempty"`
	MiniprogramState string               `json:"miniprogram_state,omitempty"`
	Lang             string               `json:"lang,omitempty"`
	EmphasisKeyword  string               `json:"emphasis_keyword,omitempty"`
	SendAt           time.Time            `json:"send_at,omitzero"`
	ExpiresAt        time.Time            `json:"expires_at,omitzero"`
	WaitForCredit    bool                 `json:"wait_for_credit,omitempty"`
}

func (s *BroadcastService) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *BroadcastService) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// CreateBroadcast stores the broadcast and its messages, reading recipients
// as it goes; see wxnotify.BroadcastService.
func (s *BroadcastService) CreateBroadcast(ctx context.Context, b *wxnotify.Broadcast, recipients iter.Seq2[wxnotify.BroadcastRecipient, error]) error {
	if err := wxnotify.CheckAppAccess(ctx, b.AppID); err != nil {
		return err
	}
	now := s.now()
	// Check the template once, on a stand-in recipient: every message
	// shares all of it but the openid and the overridden keywords.
	base := &wxnotify.Message{
		AppID: b.AppID, OpenID: "-", Kind: b.Kind, TemplateID: b.TemplateID, Data: b.Data,
		Page: b.Page, MiniprogramState: b.MiniprogramState, Lang: b.Lang, EmphasisKeyword: b.EmphasisKeyword,
		SendAt: b.SendAt, ExpiresAt: b.ExpiresAt, WaitForCredit: b.WaitForCredit,
	}
	if err := Prepare(base, now); err != nil {
		return err
	}
	if err := s.Messages.checkApp(ctx, b.AppID, now); err != nil {
		return err
	}
	b.Kind, b.ExpiresAt = base.Kind, base.ExpiresAt
	spec, err := json.Marshal(&broadcastSpec{
		Kind: b.Kind, Data: b.Data, Page: b.Page, MiniprogramState: b.MiniprogramState, Lang: b.Lang,
		EmphasisKeyword: b.EmphasisKeyword, SendAt: b.SendAt, ExpiresAt: b.ExpiresAt, WaitForCredit: b.WaitForCredit,
	})
	if err != nil {
		return fmt.Errorf("broadcast spec: %w", err)
	}
	// Times are not compared (as for messages): a retry's send_at and ttl
	// are reckoned from a later now.
	untimed, err := json.Marshal(&broadcastSpec{
		Kind: b.Kind, Data: b.Data, Page: b.Page, MiniprogramState: b.MiniprogramState, Lang: b.Lang,
		EmphasisKeyword: b.EmphasisKeyword, WaitForCredit: b.WaitForCredit,
	})
	if err != nil {
		return fmt.Errorf("broadcast spec: %w", err)
	}
	fp := newFingerprint(b.TemplateID, untimed)
	if b.IdempotencyKey != "" {
		if len(b.IdempotencyKey) > wxnotify.MaxIdempotencyKeyLen {
			return wxnotify.FieldErrorf("idempotency_key", "longer than %d bytes", wxnotify.MaxIdempotencyKeyLen)
		}
		if first, err := s.Store.BroadcastGetByKey(ctx, b.AppID, b.IdempotencyKey); err == nil {
			return s.retried(ctx, b, first, fp, recipients)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("get broadcast by key: %w", err)
		}
	}
	id, err := s.Store.BroadcastInsert(ctx, &store.BroadcastInsertParams{AppID: b.AppID, TemplateID: b.TemplateID, Spec: spec, IdempotencyKey: b.IdempotencyKey, Now: now})
	if errors.Is(err, store.ErrConflict) && b.IdempotencyKey != "" {
		// A concurrent request took the key first.
		first, gerr := s.Store.BroadcastGetByKey(ctx, b.AppID, b.IdempotencyKey)
		if gerr != nil {
			return fmt.Errorf("get broadcast by key: %w", gerr)
		}
		return s.retried(ctx, b, first, fp, recipients)
	}
	if errors.Is(err, store.ErrNotFound) {
		return &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "appid", Message: fmt.Sprintf("app %s is not registered", b.AppID)}
	} else if err != nil {
		return fmt.Errorf("insert broadcast: %w", err)
	}
	b.ID, b.State, b.Accepted, b.CreatedAt, b.UpdatedAt = id, wxnotify.BroadcastAccepting, 0, now.UTC(), now.UTC()

	accepted, err := s.stream(ctx, b, base, fingerprinted(recipients, fp))
	b.Accepted = accepted
	fin := &store.BroadcastFinishParams{ID: id, State: string(wxnotify.BroadcastAccepted), Accepted: accepted, Fingerprint: fp.sum(), Now: s.now()}
	if err != nil {
		fin.State, fin.Error = string(wxnotify.BroadcastAborted), broadcastErrorText(err)
	}
	// Record the end even when the client went away.
	ferr := s.Store.BroadcastFinish(context.WithoutCancel(ctx), fin)
	if ferr != nil {
		s.logger().Error("finish broadcast", "broadcast_id", id, "err", ferr)
		if err == nil {
			// Every recipient is stored, but the broadcast cannot say so:
			// the caller is told of the failure, the end is written later.
			err = fmt.Errorf("finish broadcast: %w", ferr)
			fin.State, fin.Error = string(wxnotify.BroadcastAborted), broadcastErrorText(err)
		}
		s.remember(fin)
	}
	b.State, b.Error, b.UpdatedAt = wxnotify.BroadcastState(fin.State), fin.Error, fin.Now.UTC()
	if err != nil {
		s.logger().Warn("broadcast aborted", "broadcast_id", id, "appid", b.AppID, "accepted", accepted, "err", err)
		// Say what happened to the part already stored, whatever the
		// error: the caller learns at once how many were accepted.
		e := wxnotify.Error{Code: wxnotify.ErrorCode(err), Message: wxnotify.ErrorMessage(err), Field: wxnotify.ErrorField(err)}
		switch {
		case e.Code == wxnotify.EINTERNAL:
			return fmt.Errorf("broadcast %d aborted after %d messages: %w", id, accepted, err)
		case ferr != nil || store.IsUnavailable(err):
			// A chunk whose commit was cut off may have been stored too.
			e.Message = fmt.Sprintf("%s (broadcast %d aborted; at least %d messages were accepted before it and will be sent: "+
				"GET /v1/broadcasts/%d gives the final count once the database answers)", e.Message, id, accepted, id)
		default:
			e.Message = fmt.Sprintf("%s (broadcast %d aborted; the %d messages accepted before it will be sent)", e.Message, id, accepted)
		}
		return errors.Join(&e, err)
	}
	return nil
}

// retried answers a request whose idempotency key the app used already:
// the first broadcast when the request is the same, ECONFLICT otherwise.
// It reads every recipient, to compare, and stores none.
func (s *BroadcastService) retried(ctx context.Context, b *wxnotify.Broadcast, first *store.Broadcast, fp *fingerprint, recipients iter.Seq2[wxnotify.BroadcastRecipient, error]) error {
	conflict := func(why string) error {
		return &wxnotify.Error{Code: wxnotify.ECONFLICT, Field: "idempotency_key", Message: fmt.Sprintf(
			"idempotency key %q was used for broadcast %d, %s: a retry must repeat the request; a new broadcast needs a new key",
			b.IdempotencyKey, first.ID, why)}
	}
	switch wxnotify.BroadcastState(first.State) {
	case wxnotify.BroadcastAccepting:
		return conflict("whose upload is still in progress")
	case wxnotify.BroadcastAborted:
		return conflict(fmt.Sprintf("which was aborted after %d messages (%s)", first.Accepted, first.Error))
	}
	for _, err := range fingerprinted(recipients, fp) {
		if err != nil {
			return err
		}
	}
	if !bytes.Equal(fp.sum(), first.Fingerprint) {
		return conflict("whose request (template, data or recipients) differs")
	}
	got, err := s.FindBroadcastByID(ctx, first.ID)
	if err != nil {
		return err
	}
	*b = *got
	b.Retried = true
	return nil
}

// fingerprint identifies a broadcast request: its template, its spec
// without times and each recipient, in order, so a retry under the same
// idempotency key can be told from another request.
type fingerprint struct{ h hash.Hash }

func newFingerprint(templateID string, spec []byte) *fingerprint {
	f := &fingerprint{h: sha256.New()}
	fmt.Fprintf(f.h, "%d:%s%d:%s", len(templateID), templateID, len(spec), spec)
	return f
}

func (f *fingerprint) add(r wxnotify.BroadcastRecipient) {
	b, _ := json.Marshal(r) // maps marshal with sorted keys
	fmt.Fprintf(f.h, "%d:%s", len(b), b)
}

func (f *fingerprint) sum() []byte { return f.h.Sum(nil) }

// fingerprinted passes recipients on, adding each to fp.
func fingerprinted(recipients iter.Seq2[wxnotify.BroadcastRecipient, error], fp *fingerprint) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for r, err := range recipients {
			if err == nil {
				fp.add(r)
			}
			if !yield(r, err) {
				return
			}
		}
	}
}

// remember keeps a broadcast end that could not be written, for
// finishUnfinished.
func (s *BroadcastService) remember(fin *store.BroadcastFinishParams) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unfinished == nil {
		s.unfinished = map[int64]*store.BroadcastFinishParams{}
	}
	s.unfinished[fin.ID] = fin
}

// finishUnfinished writes the ends remembered, as aborted with the number
// of messages actually stored (a chunk whose commit was cut off may have
// been stored after all). An end that still fails stays remembered, until
// the crash sweep (AbortStale) would end the broadcast anyway.
func (s *BroadcastService) finishUnfinished(ctx context.Context) {
	s.mu.Lock()
	pending := make([]*store.BroadcastFinishParams, 0, len(s.unfinished))
	for _, fin := range s.unfinished {
		pending = append(pending, fin)
	}
	s.mu.Unlock()
	for _, fin := range pending {
		err := s.finishStored(ctx, fin)
		if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) &&
			s.now().Sub(fin.Now) < wxnotify.MaxBroadcastUpload {
			continue
		}
		s.mu.Lock()
		delete(s.unfinished, fin.ID)
		s.mu.Unlock()
		if err == nil {
			s.logger().Info("broadcast end written once the database answered", "broadcast_id", fin.ID, "accepted", fin.Accepted)
		}
	}
}

func (s *BroadcastService) finishStored(ctx context.Context, fin *store.BroadcastFinishParams) error {
	row, err := s.Store.BroadcastGet(ctx, fin.ID)
	if err != nil {
		return err
	}
	counts, err := s.Messages.Store.MessageCounts(ctx, &store.MessageCountsParams{AppID: row.AppID, BroadcastID: fin.ID})
	if err != nil {
		return err
	}
	var stored int64
	for _, n := range counts {
		stored += n
	}
	f := *fin
	f.Accepted, f.Now = stored, s.now()
	return s.Store.BroadcastFinish(ctx, &f)
}

// stream reads recipients and stores their messages chunk by chunk. It
// returns how many messages were stored.
func (s *BroadcastService) stream(ctx context.Context, b *wxnotify.Broadcast, base *wxnotify.Message, recipients iter.Seq2[wxnotify.BroadcastRecipient, error]) (int64, error) {
	size := s.Chunk
	if size <= 0 {
		size = DefaultBroadcastChunk
	}
	var (
		accepted int64
		n        int
		chunk    = make([]*wxnotify.Message, 0, size)
		// Messages are reused from chunk to chunk: EnqueueMany copies
		// what it stores.
		pool = make([]wxnotify.Message, size)
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := s.Messages.EnqueueMany(ctx, chunk); err != nil {
			return fmt.Errorf("store broadcast messages: %w", err)
		}
		accepted += int64(len(chunk))
		chunk = chunk[:0]
		return nil
	}
	for r, err := range recipients {
		if err != nil {
			return accepted, err
		}
		if err := ctx.Err(); err != nil {
			return accepted, err
		}
		i := n
		n++
		if n > wxnotify.MaxBroadcastRecipients {
			return accepted, wxnotify.FieldErrorf("recipients", "more than %d recipients", wxnotify.MaxBroadcastRecipients)
		}
		m := &pool[len(chunk)]
		*m = *base
		m.OpenID, m.BroadcastID = r.OpenID, b.ID
		switch {
		case r.OpenID == "":
			return accepted, wxnotify.FieldErrorf(fmt.Sprintf("recipients[%d].openid", i), "openid required")
		case len(r.OpenID) > 128:
			return accepted, wxnotify.FieldErrorf(fmt.Sprintf("recipients[%d].openid", i), "openid too long")
		}
		if err := wxnotify.CheckText(fmt.Sprintf("recipients[%d].openid", i), r.OpenID); err != nil {
			return accepted, err
		}
		if len(r.Data) > 0 {
			m.Data = make(map[string]string, len(base.Data)+len(r.Data))
			maps.Copy(m.Data, base.Data)
			maps.Copy(m.Data, r.Data)
			if err := Prepare(m, s.now()); err != nil {
				return accepted, recipientError(i, err)
			}
		}
		chunk = append(chunk, m)
		if len(chunk) == size {
			if err := flush(); err != nil {
				return accepted, err
			}
		}
	}
	if n == 0 {
		return 0, wxnotify.FieldErrorf("recipients", "at least one recipient")
	}
	return accepted, flush()
}

// recipientError moves a field error of one recipient's message under
// recipients[i].
func recipientError(i int, err error) error {
	e := errorOf(err)
	if e == nil || e.Field == "" {
		return err
	}
	out := *e
	out.Field = fmt.Sprintf("recipients[%d].%s", i, e.Field)
	return &out
}

func errorOf(err error) *wxnotify.Error {
	var e *wxnotify.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// broadcastErrorText is the reason kept on an aborted broadcast: the
// caller's error as they saw it, or a generic one for internal errors.
func broadcastErrorText(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "the request ended before every recipient was read"
	}
	msg := wxnotify.ErrorMessage(err)
	if f := wxnotify.ErrorField(err); f != "" && !strings.HasPrefix(msg, f) {
		msg = f + ": " + msg
	}
	return msg
}

// FindBroadcastByID returns the broadcast with its messages counted by state.
func (s *BroadcastService) FindBroadcastByID(ctx context.Context, id int64) (*wxnotify.Broadcast, error) {
	s.mu.Lock()
	_, unfinished := s.unfinished[id]
	s.mu.Unlock()
	if unfinished {
		s.finishUnfinished(ctx)
	}
	row, err := s.Store.BroadcastGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "broadcast %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("get broadcast: %w", err)
	}
	if err := wxnotify.CheckAppAccess(ctx, row.AppID); err != nil {
		if wxnotify.ErrorCode(err) == wxnotify.EFORBIDDEN {
			return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "broadcast %d not found", id)
		}
		return nil, err
	}
	b, err := s.toBroadcast(ctx, row)
	if err != nil {
		return nil, err
	}
	if b.State == wxnotify.BroadcastAccepted && b.Pending == 0 {
		// Its last message ended: finish it now rather than at the next
		// sweep, so the caller sees it finished.
		if _, err := s.FinishDone(ctx); err != nil {
			return nil, err
		}
		if row, err = s.Store.BroadcastGet(ctx, id); err != nil {
			return nil, fmt.Errorf("get broadcast: %w", err)
		}
		return s.toBroadcast(ctx, row)
	}
	return b, nil
}

// FindBroadcasts lists the broadcasts of the caller's apps, newest first.
func (s *BroadcastService) FindBroadcasts(ctx context.Context, f wxnotify.BroadcastFilter) ([]*wxnotify.Broadcast, error) {
	k := wxnotify.APIKeyFromContext(ctx)
	if k == nil {
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "API key required")
	}
	p := &store.BroadcastListParams{BeforeID: f.BeforeID, Limit: cmp.Or(f.Limit, wxnotify.DefaultBroadcastPage)}
	if p.Limit < 0 || p.Limit > wxnotify.MaxBroadcastPage {
		return nil, wxnotify.FieldErrorf("limit", "want 1 to %d", wxnotify.MaxBroadcastPage)
	}
	if f.State != nil {
		if !f.State.Valid() {
			return nil, wxnotify.FieldErrorf("state", "unknown state %q", *f.State)
		}
		p.State = string(*f.State)
	}
	switch {
	case f.AppID != nil:
		if err := wxnotify.CheckAppAccess(ctx, *f.AppID); err != nil {
			return nil, err
		}
		p.AppIDs = []string{*f.AppID}
	case !k.CanAccess(wxnotify.AllApps):
		p.AppIDs = append([]string{}, k.Apps...)
	}
	rows, err := s.Store.BroadcastList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", err)
	}
	out := make([]*wxnotify.Broadcast, 0, len(rows))
	for _, row := range rows {
		b, err := s.toBroadcast(ctx, row)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// FinishDone marks finished every accepted broadcast whose messages have
// all ended, keeping their counts by outcome: the broadcast_sweep job, and
// FindBroadcastByID when it sees one.
func (s *BroadcastService) FinishDone(ctx context.Context) (int, error) {
	ids, err := s.Store.BroadcastFinishDone(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("finish broadcasts: %w", err)
	}
	return len(ids), nil
}

// toBroadcast is a broadcast row with its messages counted: live while it
// runs, as stored once it finished.
func (s *BroadcastService) toBroadcast(ctx context.Context, row *store.Broadcast) (*wxnotify.Broadcast, error) {
	id := row.ID
	var spec broadcastSpec
	if err := json.Unmarshal(row.Spec, &spec); err != nil {
		return nil, fmt.Errorf("broadcast %d spec: %w", id, err)
	}
	var counts map[string]int64
	if row.State == string(wxnotify.BroadcastFinished) {
		if err := json.Unmarshal(row.Counts, &counts); err != nil {
			return nil, fmt.Errorf("broadcast %d counts: %w", id, err)
		}
	} else {
		var err error
		if counts, err = s.Messages.Store.MessageCounts(ctx, &store.MessageCountsParams{AppID: row.AppID, BroadcastID: id}); err != nil {
			return nil, fmt.Errorf("count broadcast messages: %w", err)
		}
	}
	b := &wxnotify.Broadcast{
		ID: row.ID, AppID: row.AppID, Kind: spec.Kind, TemplateID: row.TemplateID, Data: spec.Data,
		Page: spec.Page, MiniprogramState: spec.MiniprogramState, Lang: spec.Lang, EmphasisKeyword: spec.EmphasisKeyword,
		SendAt: spec.SendAt, ExpiresAt: spec.ExpiresAt, WaitForCredit: spec.WaitForCredit,
		State: wxnotify.BroadcastState(row.State), Accepted: row.Accepted, Error: row.Error,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, FinishedAt: row.FinishedAt, IdempotencyKey: row.IdempotencyKey,
		Counts: make(map[wxnotify.MessageState]int64, len(counts)),
	}
	for state, n := range counts {
		b.Counts[wxnotify.MessageState(state)] = n
		b.Total += n
		if !wxnotify.MessageState(state).Terminal() {
			b.Pending += n
		}
	}
	if b.State == wxnotify.BroadcastAccepting {
		// The row's count is written when the upload ends; until then the
		// messages stored so far are the count, so a caller whose upload
		// was cut off learns how many were accepted.
		b.Accepted = b.Total
	}
	return b, nil
}

// AbortStale marks aborted the broadcasts whose upload a crash cut short:
// still accepting long after the longest upload allowed. Their stored
// messages are delivered normally.
func (s *BroadcastService) AbortStale(ctx context.Context) error {
	s.finishUnfinished(ctx)
	if _, err := s.FinishDone(ctx); err != nil {
		return err
	}
	now := s.now()
	n, err := s.Store.BroadcastAbortStale(ctx, now.Add(-wxnotify.MaxBroadcastUpload-time.Minute), now)
	if err != nil {
		return fmt.Errorf("abort interrupted broadcasts: %w", err)
	}
	if n > 0 {
		s.logger().Warn("broadcasts whose upload was interrupted marked aborted", "count", n)
	}
	return nil
}
