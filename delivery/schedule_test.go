package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/delivery"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// scheduleMessages returns the messages stored for schedule id, by openid.
func scheduleMessages(t *testing.T, e *bcastEnv, id int64) []*store.Message {
	t.Helper()
	rows, err := e.msgs.Store.MessageList(context.Background(), &store.MessageListParams{AppIDs: []string{bcastApp}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Message
	for _, m := range rows {
		if m.ScheduleID == id {
			out = append(out, m)
		}
	}
	return out
}

func TestScheduler(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			// setup: a schedule at 09:00 Shanghai to o1 and o2, created
			// at 08:30 Shanghai on 1 January 2026 (00:30 UTC).
			setup := func(t *testing.T) (*bcastEnv, *delivery.ScheduleService, *wxnotify.Schedule) {
				e := newBcastEnv(t, engine)
				svc := &delivery.ScheduleService{Store: e.st, Now: e.clock}
				sc := &wxnotify.Schedule{
					AppID: bcastApp, Name: "早安", Cron: "0 9 * * *", Timezone: "Asia/Shanghai",
					Message: wxnotify.ScheduleMessage{OpenIDs: []string{"o1", "o2"}, TemplateID: "TPL", Data: map[string]string{"thing1": "早安"}},
				}
				if err := svc.CreateSchedule(keyCtx(bcastApp), sc); err != nil {
					t.Fatal(err)
				}
				return e, svc, sc
			}
			scheduler := func(e *bcastEnv, holder string) *delivery.Scheduler {
				return &delivery.Scheduler{Store: e.st, Messages: e.msgs, Now: e.clock, Holder: holder}
			}
			nineAM := time.Date(2026, 1, 1, 9, 0, 0, 0, shanghai)

			t.Run("FiresEachOccurrenceOnce", func(t *testing.T) {
				t.Parallel()
				e, svc, sc := setup(t)
				if !sc.NextRunAt.Equal(nineAM) {
					t.Fatalf("NextRunAt=%v, want %v", sc.NextRunAt, nineAM)
				}
				s := scheduler(e, "a")
				e.set(nineAM.Add(-time.Second))
				if n, err := s.Tick(context.Background()); err != nil || n != 0 {
					t.Fatalf("Tick before due=%d, %v", n, err)
				}
				e.set(nineAM.Add(300 * time.Millisecond))
				if n, err := s.Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("Tick when due=%d, %v", n, err)
				}
				ms := scheduleMessages(t, e, sc.ID)
				if len(ms) != 2 {
					t.Fatalf("%d messages, want 2", len(ms))
				}
				for _, m := range ms {
					if want := delivery.ScheduleIdempotencyKey(sc.ID, nineAM, m.OpenID); m.IdempotencyKey != want {
						t.Fatalf("IdempotencyKey=%q, want %q", m.IdempotencyKey, want)
					}
				}
				if n, _ := s.Tick(context.Background()); n != 0 {
					t.Fatalf("second Tick at the same time claimed %d", n)
				}
				got, err := svc.FindScheduleByID(keyCtx(bcastApp), sc.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !got.LastRunAt.Equal(nineAM) || !got.NextRunAt.Equal(nineAM.AddDate(0, 0, 1)) {
					t.Fatalf("after firing: last %v next %v", got.LastRunAt, got.NextRunAt)
				}
				// The next day fires again, with new keys.
				e.set(nineAM.AddDate(0, 0, 1).Add(time.Second))
				if n, err := s.Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("Tick next day=%d, %v", n, err)
				}
				if ms := scheduleMessages(t, e, sc.ID); len(ms) != 4 {
					t.Fatalf("%d messages after two days, want 4", len(ms))
				}
			})
			t.Run("RefireIsIdempotent", func(t *testing.T) {
				// An instance stalls after enqueueing and before advancing:
				// the occurrence fires again, and still yields one message
				// per recipient.
				t.Parallel()
				e, _, sc := setup(t)
				e.set(nineAM)
				if n, err := scheduler(e, "a").Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("Tick=%d, %v", n, err)
				}
				// Undo the advance, as if it never happened.
				if _, err := e.st.ScheduleSetState(context.Background(), &store.ScheduleSetStateParams{
					ID: sc.ID, State: "active", NextRunAt: nineAM, Now: nineAM,
				}); err != nil {
					t.Fatal(err)
				}
				if n, err := scheduler(e, "b").Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("second Tick=%d, %v", n, err)
				}
				if ms := scheduleMessages(t, e, sc.ID); len(ms) != 2 {
					t.Fatalf("%d messages after a double fire, want 2", len(ms))
				}
			})
			t.Run("InstancesRace", func(t *testing.T) {
				t.Parallel()
				e, _, sc := setup(t)
				e.set(nineAM.Add(time.Second))
				const instances = 5
				var (
					wg      sync.WaitGroup
					mu      sync.Mutex
					claimed int
				)
				for i := range instances {
					st := e.open(t)
					s := &delivery.Scheduler{Store: st, Messages: e.msgs, Now: e.clock, Holder: fmt.Sprint("i", i)}
					wg.Go(func() {
						n, err := s.Tick(context.Background())
						if err != nil {
							t.Error(err)
						}
						mu.Lock()
						claimed += n
						mu.Unlock()
					})
				}
				wg.Wait()
				if claimed != 1 {
					t.Fatalf("the occurrence was claimed %d times, want 1", claimed)
				}
				if ms := scheduleMessages(t, e, sc.ID); len(ms) != 2 {
					t.Fatalf("%d messages, want 2", len(ms))
				}
			})
			t.Run("LateOccurrenceSkipped", func(t *testing.T) {
				t.Parallel()
				e, svc, sc := setup(t)
				now := nineAM.Add(3*24*time.Hour + 2*time.Hour) // down for three days
				e.set(now)
				if n, err := scheduler(e, "a").Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("Tick=%d, %v", n, err)
				}
				if ms := scheduleMessages(t, e, sc.ID); len(ms) != 0 {
					t.Fatalf("%d messages for an occurrence three days late, want 0", len(ms))
				}
				got, _ := svc.FindScheduleByID(keyCtx(bcastApp), sc.ID)
				if want := nineAM.AddDate(0, 0, 4); !got.NextRunAt.Equal(want) {
					t.Fatalf("NextRunAt=%v, want %v (no burst of missed ones)", got.NextRunAt, want)
				}
			})
			t.Run("PauseResume", func(t *testing.T) {
				t.Parallel()
				e, svc, sc := setup(t)
				ctx := keyCtx(bcastApp)
				if got, err := svc.PauseSchedule(ctx, sc.ID); err != nil || got.State != wxnotify.SchedulePaused {
					t.Fatalf("PauseSchedule=%+v, %v", got, err)
				}
				e.set(nineAM.Add(time.Second))
				if n, _ := scheduler(e, "a").Tick(context.Background()); n != 0 {
					t.Fatal("a paused schedule fired")
				}
				got, err := svc.ResumeSchedule(ctx, sc.ID)
				if err != nil || got.State != wxnotify.ScheduleActive || !got.NextRunAt.Equal(nineAM.AddDate(0, 0, 1)) {
					t.Fatalf("ResumeSchedule=%+v, %v; want next %v", got, err, nineAM.AddDate(0, 0, 1))
				}
				if _, err := svc.PauseSchedule(keyCtx(bcastOther), sc.ID); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
					t.Fatalf("PauseSchedule by another app's key: %v, want ENOTFOUND", err)
				}
				list, err := svc.FindSchedules(keyCtx(bcastOther))
				if err != nil || len(list) != 0 {
					t.Fatalf("FindSchedules by another app's key=%v, %v", list, err)
				}
				if list, _ := svc.FindSchedules(ctx); len(list) != 1 {
					t.Fatalf("FindSchedules=%d, want 1", len(list))
				}
				if err := svc.DeleteSchedule(ctx, sc.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.FindScheduleByID(ctx, sc.ID); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
					t.Fatalf("after delete: %v", err)
				}
			})
			t.Run("CreateErrors", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				svc := &delivery.ScheduleService{Store: e.st, Now: e.clock}
				for _, tc := range []struct {
					name  string
					edit  func(*wxnotify.Schedule)
					field string
				}{
					{"BadCron", func(s *wxnotify.Schedule) { s.Cron = "61 * * * *" }, "cron"},
					{"BadZone", func(s *wxnotify.Schedule) { s.Timezone = "Asia/Atlantis" }, "timezone"},
					{"LocalZone", func(s *wxnotify.Schedule) { s.Timezone = "Local" }, "timezone"},
					{"BadData", func(s *wxnotify.Schedule) { s.Message.Data = map[string]string{"nope": "x"} }, "message.data.nope"},
					{"Never", func(s *wxnotify.Schedule) { s.Cron = "0 0 30 2 *" }, "cron"},
				} {
					sc := &wxnotify.Schedule{
						AppID: bcastApp, Name: "n", Cron: "@daily",
						Message: wxnotify.ScheduleMessage{OpenIDs: []string{"o1"}, TemplateID: "TPL", Data: map[string]string{"thing1": "x"}},
					}
					tc.edit(sc)
					if err := svc.CreateSchedule(keyCtx(bcastApp), sc); wxnotify.ErrorField(err) != tc.field {
						t.Errorf("%s: err=%v, want field %q", tc.name, err, tc.field)
					}
				}
			})
		})
	}
}
