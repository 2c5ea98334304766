package wxnotify

import (
	"context"
	"fmt"
	"time"
)

// ScheduleState says whether a schedule fires.
type ScheduleState string

const (
	// ScheduleActive fires at each occurrence of its cron spec. The default.
	ScheduleActive ScheduleState = "active"
	// SchedulePaused does not fire. Resuming computes the next occurrence
	// from the time of resuming: occurrences missed while paused are not
	// sent.
	SchedulePaused ScheduleState = "paused"
)

// Limits of a schedule.
const (
	MaxScheduleNameLen    = 100
	MaxScheduleRecipients = 1000
	MaxScheduleCronLen    = 100
)

// Schedule sends one message template to a list of users on a recurring
// timetable.
//
// Each occurrence is fired once across every instance (the store claims a
// due schedule for one instance at a time) and its messages carry the
// idempotency key "schedule:<id>:<occurrence unix seconds>:<openid>", so
// even an occurrence fired twice (an instance that stalled past its claim)
// yields one message per recipient. An occurrence missed by more than the
// scheduler's lateness bound (an outage) is skipped, not sent late; after
// any firing the next occurrence is the first one after the current time,
// so missed occurrences never fire in a burst.
type Schedule struct {
	ID    int64  `json:"id"`
	AppID string `json:"appid"`
	// Name is a label for operators.
	Name string `json:"name"`
	// Cron is a standard 5-field spec ("0 9 * * *": minute, hour, day of
	// month, month, day of week) or a descriptor (@daily, @hourly, @weekly,
	// @monthly, @yearly, @every 1h). "@every" is at least one minute.
	Cron string `json:"cron"`
	// Timezone is the IANA zone the spec is read in ("Asia/Shanghai");
	// empty means UTC.
	Timezone string          `json:"timezone"`
	Message  ScheduleMessage `json:"message"`

	State     ScheduleState `json:"state"`
	NextRunAt time.Time     `json:"next_run_at,omitzero"` // the next occurrence (active only)
	LastRunAt time.Time     `json:"last_run_at,omitzero"` // the last occurrence fired
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// ScheduleMessage is what each occurrence of a schedule sends: one message
// per openid.
type ScheduleMessage struct {
	OpenIDs          []string          `json:"openids"`
	Kind             MessageKind       `json:"kind,omitempty"`
	TemplateID       string            `json:"template_id"`
	Data             map[string]string `json:"data"`
	Page             string            `json:"page,omitempty"`
	MiniprogramState string            `json:"miniprogram_state,omitempty"`
	Lang             string            `json:"lang,omitempty"`
	EmphasisKeyword  string            `json:"emphasis_keyword,omitempty"`
	// TTL bounds how long each occurrence's messages are tried, as a Go
	// duration ("30m"); empty means DefaultMessageTTL.
	TTL           string `json:"ttl,omitempty"`
	WaitForCredit bool   `json:"wait_for_credit,omitempty"`
}

// Message returns the message of one occurrence to openID, not yet
// prepared (no expiry set).
func (m *ScheduleMessage) Message(appID, openID string) *Message {
	return &Message{
		AppID: appID, OpenID: openID, Kind: m.Kind, TemplateID: m.TemplateID, Data: m.Data,
		Page: m.Page, MiniprogramState: m.MiniprogramState, Lang: m.Lang,
		EmphasisKeyword: m.EmphasisKeyword, WaitForCredit: m.WaitForCredit,
	}
}

// TTLDuration returns the parsed TTL, or DefaultMessageTTL when empty.
func (m *ScheduleMessage) TTLDuration() (time.Duration, error) {
	if m.TTL == "" {
		return DefaultMessageTTL, nil
	}
	d, err := time.ParseDuration(m.TTL)
	if err != nil || d <= 0 || d > MaxMessageTTL {
		return 0, FieldErrorf("message.ttl", "a duration such as \"30m\" or \"24h\", at most %s", MaxMessageTTL)
	}
	return d, nil
}

// Validate checks the fields that need no outside knowledge; the cron spec
// and the template data are checked by the service. Returns EINVALID naming
// the field.
func (s *Schedule) Validate() error {
	switch {
	case s.AppID == "":
		return FieldErrorf("appid", "appid required")
	case s.Name == "":
		return FieldErrorf("name", "name required")
	case len([]rune(s.Name)) > MaxScheduleNameLen:
		return FieldErrorf("name", "at most %d characters", MaxScheduleNameLen)
	case s.Cron == "":
		return FieldErrorf("cron", "cron required, e.g. \"0 9 * * *\"")
	case len(s.Cron) > MaxScheduleCronLen:
		return FieldErrorf("cron", "at most %d bytes", MaxScheduleCronLen)
	case len(s.Message.OpenIDs) == 0:
		return FieldErrorf("message.openids", "at least one openid")
	case len(s.Message.OpenIDs) > MaxScheduleRecipients:
		return FieldErrorf("message.openids", "at most %d openids; use a broadcast for more", MaxScheduleRecipients)
	}
	if err := CheckText("name", s.Name); err != nil {
		return err
	}
	if _, err := s.Location(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(s.Message.OpenIDs))
	for i, id := range s.Message.OpenIDs {
		field := fmt.Sprintf("message.openids[%d]", i)
		switch {
		case id == "":
			return FieldErrorf(field, "empty openid")
		case len(id) > 128:
			return FieldErrorf(field, "openid too long")
		case seen[id]:
			return FieldErrorf(field, "openid %s listed twice", id)
		}
		seen[id] = true
	}
	if _, err := s.Message.TTLDuration(); err != nil {
		return err
	}
	return nil
}

// Location returns the schedule's time zone. Returns EINVALID naming
// "timezone" for an unknown zone.
func (s *Schedule) Location() (*time.Location, error) {
	if s.Timezone == "" {
		return time.UTC, nil
	}
	// time.LoadLocation also takes "Local", whose meaning depends on the
	// host; a schedule must mean the same thing on every instance.
	if s.Timezone == "Local" {
		return nil, FieldErrorf("timezone", "name an IANA zone such as \"Asia/Shanghai\", not Local")
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return nil, FieldErrorf("timezone", "unknown time zone %q: want an IANA name such as \"Asia/Shanghai\"", s.Timezone)
	}
	return loc, nil
}

// ScheduleService manages recurring sends. Every method checks that the
// caller's API key may act for the schedule's app; a schedule of an app the
// caller may not act for is reported as not found.
type ScheduleService interface {
	// CreateSchedule validates and stores an active schedule and fills its
	// ID, NextRunAt and times. The template data is checked as Enqueue
	// checks a message. Returns EINVALID naming the field ("cron",
	// "timezone", "message.data.thing1", "message.openids[3]"), EFORBIDDEN,
	// or ENOTFOUND for an unknown app.
	CreateSchedule(ctx context.Context, s *Schedule) error
	// FindScheduleByID returns one schedule, or ENOTFOUND.
	FindScheduleByID(ctx context.Context, id int64) (*Schedule, error)
	// FindSchedules lists the schedules of every app the caller may act
	// for, by id.
	FindSchedules(ctx context.Context) ([]*Schedule, error)
	// PauseSchedule stops a schedule firing; pausing a paused schedule is a
	// no-op. An occurrence already being fired still completes. Returns
	// ENOTFOUND.
	PauseSchedule(ctx context.Context, id int64) (*Schedule, error)
	// ResumeSchedule makes a schedule fire again from its next occurrence
	// after now; resuming an active schedule is a no-op. Returns ENOTFOUND.
	ResumeSchedule(ctx context.Context, id int64) (*Schedule, error)
	// DeleteSchedule removes a schedule; messages it already sent stay.
	// Returns ENOTFOUND.
	DeleteSchedule(ctx context.Context, id int64) error
}
