package delivery

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults of the Scheduler; a zero field means its default.
const (
	// DefaultSchedulePollInterval is how often the scheduler looks for due
	// schedules. Occurrences fire up to this late.
	DefaultSchedulePollInterval = time.Second
	// DefaultScheduleLeaseTTL bounds how long an instance may take to fire
	// one claimed occurrence before another may take it over.
	DefaultScheduleLeaseTTL = time.Minute
	// DefaultScheduleMaxLateness: an occurrence found due more than this
	// late (the service was down) is skipped rather than sent late.
	DefaultScheduleMaxLateness = time.Hour
	// DefaultScheduleClaimBatch bounds the schedules claimed at once.
	DefaultScheduleClaimBatch = 50
	// MinScheduleInterval is the shortest "@every" accepted.
	MinScheduleInterval = time.Minute
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron spec (standard 5 fields, or a descriptor such
// as @daily or "@every 2h") read in loc. Returns EINVALID naming "cron".
// The time zone is the schedule's own field, so "TZ=" prefixes are refused.
func ParseSchedule(spec string, loc *time.Location) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, wxnotify.FieldErrorf("cron", "set the time zone in the timezone field, not in the spec")
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return nil, wxnotify.FieldErrorf("cron", "invalid cron spec: %v (want 5 fields, e.g. \"0 9 * * *\", or @daily, @every 1h…)", err)
	}
	switch s := sched.(type) {
	case *cron.SpecSchedule:
		s.Location = loc
	case cron.ConstantDelaySchedule:
		if s.Delay < MinScheduleInterval {
			return nil, wxnotify.FieldErrorf("cron", "@every at least %s", MinScheduleInterval)
		}
	}
	return sched, nil
}

// nextOccurrence is the first occurrence strictly after t, in UTC; zero if
// the spec has none (a date that never comes, such as 30 February).
func nextOccurrence(sched cron.Schedule, t time.Time) time.Time {
	next := sched.Next(t)
	if next.IsZero() {
		return next
	}
	return next.UTC()
}

// ScheduleService implements wxnotify.ScheduleService. Store is required.
type ScheduleService struct {
	Store store.Executor
	Now   func() time.Time
}

var _ wxnotify.ScheduleService = (*ScheduleService)(nil)

func (s *ScheduleService) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CreateSchedule validates and stores an active schedule.
func (s *ScheduleService) CreateSchedule(ctx context.Context, sc *wxnotify.Schedule) error {
	if err := wxnotify.CheckAppAccess(ctx, sc.AppID); err != nil {
		return err
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	loc, err := sc.Location()
	if err != nil {
		return err
	}
	sched, err := ParseSchedule(sc.Cron, loc)
	if err != nil {
		return err
	}
	now := s.now()
	next := nextOccurrence(sched, now)
	if next.IsZero() {
		return wxnotify.FieldErrorf("cron", "the spec never occurs")
	}
	// Check the template as a message to the first recipient would be.
	probe := sc.Message.Message(sc.AppID, sc.Message.OpenIDs[0])
	if err := Prepare(probe, now); err != nil {
		if e := errorOf(err); e != nil && e.Field != "" {
			out := *e
			out.Field = "message." + e.Field
			return &out
		}
		return err
	}
	sc.Message.Kind = probe.Kind
	msg, err := json.Marshal(&sc.Message)
	if err != nil {
		return fmt.Errorf("schedule message: %w", err)
	}
	if sc.Timezone == "" {
		sc.Timezone = "UTC"
	}
	id, err := s.Store.ScheduleInsert(ctx, &store.ScheduleInsertParams{
		AppID: sc.AppID, Name: sc.Name, Cron: strings.TrimSpace(sc.Cron), Timezone: sc.Timezone, Message: msg,
		State: string(wxnotify.ScheduleActive), NextRunAt: next, Now: now,
	})
	if errors.Is(err, store.ErrNotFound) {
		return &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "appid", Message: fmt.Sprintf("app %s is not registered", sc.AppID)}
	} else if err != nil {
		return fmt.Errorf("insert schedule: %w", err)
	}
	sc.ID, sc.State, sc.NextRunAt, sc.CreatedAt, sc.UpdatedAt = id, wxnotify.ScheduleActive, next, now.UTC(), now.UTC()
	return nil
}

// get returns a schedule row the caller may see, or ENOTFOUND.
func (s *ScheduleService) get(ctx context.Context, id int64) (*store.Schedule, error) {
	row, err := s.Store.ScheduleGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "schedule %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("get schedule: %w", err)
	}
	if err := wxnotify.CheckAppAccess(ctx, row.AppID); err != nil {
		if wxnotify.ErrorCode(err) == wxnotify.EFORBIDDEN {
			return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "schedule %d not found", id)
		}
		return nil, err
	}
	return row, nil
}

// FindScheduleByID returns one schedule.
func (s *ScheduleService) FindScheduleByID(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	row, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return scheduleFromRow(row)
}

// FindSchedules lists the schedules of the caller's apps.
func (s *ScheduleService) FindSchedules(ctx context.Context) ([]*wxnotify.Schedule, error) {
	k := wxnotify.APIKeyFromContext(ctx)
	if k == nil {
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "API key required")
	}
	p := &store.ScheduleListParams{}
	if !k.CanAccess(wxnotify.AllApps) {
		p.AppIDs = append([]string{}, k.Apps...)
	}
	rows, err := s.Store.ScheduleList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := make([]*wxnotify.Schedule, 0, len(rows))
	for _, r := range rows {
		sc, err := scheduleFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// PauseSchedule stops a schedule firing.
func (s *ScheduleService) PauseSchedule(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	row, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if row.State == string(wxnotify.SchedulePaused) {
		return scheduleFromRow(row)
	}
	return s.setState(ctx, id, wxnotify.SchedulePaused, time.Time{})
}

// ResumeSchedule makes a paused schedule fire from its next occurrence.
func (s *ScheduleService) ResumeSchedule(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	row, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if row.State == string(wxnotify.ScheduleActive) {
		return scheduleFromRow(row)
	}
	sc, err := scheduleFromRow(row)
	if err != nil {
		return nil, err
	}
	loc, err := sc.Location()
	if err != nil {
		return nil, fmt.Errorf("schedule %d: %w", id, err)
	}
	sched, err := ParseSchedule(sc.Cron, loc)
	if err != nil {
		return nil, fmt.Errorf("schedule %d: %w", id, err)
	}
	return s.setState(ctx, id, wxnotify.ScheduleActive, nextOccurrence(sched, s.now()))
}

func (s *ScheduleService) setState(ctx context.Context, id int64, state wxnotify.ScheduleState, next time.Time) (*wxnotify.Schedule, error) {
	row, err := s.Store.ScheduleSetState(ctx, &store.ScheduleSetStateParams{ID: id, State: string(state), NextRunAt: next, Now: s.now()})
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "schedule %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("set schedule state: %w", err)
	}
	return scheduleFromRow(row)
}

// DeleteSchedule removes a schedule.
func (s *ScheduleService) DeleteSchedule(ctx context.Context, id int64) error {
	if _, err := s.get(ctx, id); err != nil {
		return err
	}
	if err := s.Store.ScheduleDelete(ctx, id); errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "schedule %d not found", id)
	} else if err != nil {
		return fmt.Errorf("delete schedule: %w", err)
	}
	return nil
}

func scheduleFromRow(r *store.Schedule) (*wxnotify.Schedule, error) {
	sc := &wxnotify.Schedule{
		ID: r.ID, AppID: r.AppID, Name: r.Name, Cron: r.Cron, Timezone: r.Timezone,
		State: wxnotify.ScheduleState(r.State), LastRunAt: r.LastRunAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if sc.State == wxnotify.ScheduleActive {
		sc.NextRunAt = r.NextRunAt
	}
	if err := json.Unmarshal(r.Message, &sc.Message); err != nil {
		return nil, fmt.Errorf("schedule %d message: %w", r.ID, err)
	}
	return sc, nil
}

// Scheduler fires due schedules: it claims them (one instance per
// occurrence, see store.Executor), enqueues each occurrence's messages
// with idempotency keys "schedule:<id>:<occurrence unix>:<openid>", and
// advances the schedule to its next occurrence after now. Store and Messages
// are required.
//
// If enqueueing fails, the schedule is not advanced; its lease expires and
// the occurrence is fired again (by any instance), and the idempotency keys
// make the retry store each message once.
type Scheduler struct {
	Store    store.Executor
	Messages *Service
	Now      func() time.Time
	Logger   *slog.Logger
	// Holder names this instance in claims; random when empty.
	Holder       string
	PollInterval time.Duration
	LeaseTTL     time.Duration
	MaxLateness  time.Duration
	ClaimBatch   int
}

func (s *Scheduler) defaults() {
	if s.Holder == "" {
		b := make([]byte, 6)
		crand.Read(b)
		s.Holder = "wxnotify-" + hex.EncodeToString(b)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.PollInterval = orDur(s.PollInterval, DefaultSchedulePollInterval)
	s.LeaseTTL = orDur(s.LeaseTTL, DefaultScheduleLeaseTTL)
	s.MaxLateness = orDur(s.MaxLateness, DefaultScheduleMaxLateness)
	s.ClaimBatch = orInt(s.ClaimBatch, DefaultScheduleClaimBatch)
}

// FireDue fires every schedule due now, a claim batch at a time: the
// schedules job.
func (s *Scheduler) FireDue(ctx context.Context) error {
	s.defaults()
	for {
		n, err := s.Tick(ctx)
		if err != nil {
			return fmt.Errorf("fire schedules: %w", err)
		}
		if n < s.ClaimBatch {
			return nil
		}
	}
}

// Tick claims the schedules due now, fires them and returns how many it
// claimed. Run calls it; tests call it with a fake clock.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	s.defaults()
	now := s.Now()
	claimed, err := s.Store.ScheduleClaimDue(ctx, &store.ScheduleClaimDueParams{
		Holder: s.Holder, Now: now, LeaseUntil: now.Add(s.LeaseTTL), Limit: s.ClaimBatch,
	})
	if err != nil {
		return 0, fmt.Errorf("claim schedules: %w", err)
	}
	for _, row := range claimed {
		if err := s.fire(ctx, row, now); err != nil {
			s.Logger.Error("fire schedule; retried when its claim expires", "schedule_id", row.ID, "occurrence", row.NextRunAt, "err", err)
		}
	}
	return len(claimed), nil
}

// fire sends one occurrence and advances the schedule.
func (s *Scheduler) fire(ctx context.Context, row *store.Schedule, now time.Time) error {
	occ := row.NextRunAt
	sc, err := scheduleFromRow(row)
	if err != nil {
		return err
	}
	var sched cron.Schedule
	loc, err := sc.Location()
	if err == nil {
		sched, err = ParseSchedule(sc.Cron, loc)
	}
	if err != nil {
		// Stored specs were valid when created; a zone that vanished from
		// the tz database is the likely cause. Stop it rather than spin.
		s.Logger.Error("schedule no longer parses; pausing it", "schedule_id", row.ID, "err", err)
		_, perr := s.Store.ScheduleSetState(ctx, &store.ScheduleSetStateParams{ID: row.ID, State: string(wxnotify.SchedulePaused), Now: now})
		return perr
	}
	if late := now.Sub(occ); late > s.MaxLateness {
		s.Logger.Warn("schedule occurrence skipped: too late", "schedule_id", row.ID, "occurrence", occ, "late", late)
	} else if err := s.enqueue(ctx, sc, occ, now); err != nil {
		return err
	}
	next := nextOccurrence(sched, now)
	if next.IsZero() {
		_, err := s.Store.ScheduleSetState(ctx, &store.ScheduleSetStateParams{ID: row.ID, State: string(wxnotify.SchedulePaused), Now: now})
		return err
	}
	ok, err := s.Store.ScheduleAdvance(ctx, &store.ScheduleAdvanceParams{
		ID: row.ID, Holder: s.Holder, Occurrence: occ, NextRunAt: next, Now: now,
	})
	if err != nil {
		return fmt.Errorf("advance schedule: %w", err)
	}
	if !ok {
		// Another instance took it over, or it was resumed meanwhile: the
		// idempotency keys kept the messages single.
		s.Logger.Warn("schedule changed while firing", "schedule_id", row.ID, "occurrence", occ)
	}
	return nil
}

// schedulerKey is the caller of the scheduler's enqueues: access to the
// app was checked when the schedule was created.
var schedulerKey = &wxnotify.APIKey{ID: "scheduler", Name: "wxnotify scheduler", Apps: []string{wxnotify.AllApps}}

func (s *Scheduler) enqueue(ctx context.Context, sc *wxnotify.Schedule, occ, now time.Time) error {
	ttl, err := sc.Message.TTLDuration()
	if err != nil {
		return err
	}
	ms := make([]*wxnotify.Message, 0, len(sc.Message.OpenIDs))
	for _, openID := range sc.Message.OpenIDs {
		m := sc.Message.Message(sc.AppID, openID)
		m.ExpiresAt = now.Add(ttl)
		m.ScheduleID = sc.ID
		m.IdempotencyKey = ScheduleIdempotencyKey(sc.ID, occ, openID)
		if err := Prepare(m, now); err != nil {
			return fmt.Errorf("schedule message to %s: %w", openID, err)
		}
		ms = append(ms, m)
	}
	return s.Messages.EnqueueMany(wxnotify.NewContextWithAPIKey(ctx, schedulerKey), ms)
}

// ScheduleIdempotencyKey is the idempotency key of the message of schedule
// id's occurrence occ to openID.
func ScheduleIdempotencyKey(id int64, occ time.Time, openID string) string {
	return fmt.Sprintf("schedule:%d:%d:%s", id, occ.Unix(), openID)
}
