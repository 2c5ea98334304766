package http_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/delivery"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
)

// scheduleMock validates as the real service does (access, fields, cron,
// zone) and keeps schedules of app A with ids from 1.
func scheduleMock() *mock.ScheduleService {
	stored := &wxnotify.Schedule{ID: 1, AppID: appA, Name: "n", Cron: "@daily", State: wxnotify.ScheduleActive,
		Message: wxnotify.ScheduleMessage{OpenIDs: []string{"oUSER1"}, TemplateID: "TPL", Data: map[string]string{"thing1": "x"}}}
	find := func(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
		if id != 1 || wxnotify.CheckAppAccess(ctx, appA) != nil {
			return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "schedule %d not found", id)
		}
		return stored, nil
	}
	return &mock.ScheduleService{
		CreateScheduleFunc: func(ctx context.Context, sc *wxnotify.Schedule) error {
			if err := wxnotify.CheckAppAccess(ctx, sc.AppID); err != nil {
				return err
			}
			if err := sc.Validate(); err != nil {
				return err
			}
			loc, _ := sc.Location()
			sched, err := delivery.ParseSchedule(sc.Cron, loc)
			if err != nil {
				return err
			}
			sc.ID, sc.State, sc.NextRunAt = 1, wxnotify.ScheduleActive, sched.Next(time.Now()).UTC()
			return nil
		},
		FindScheduleByIDFunc: find,
		FindSchedulesFunc: func(ctx context.Context) ([]*wxnotify.Schedule, error) {
			return []*wxnotify.Schedule{stored}, nil
		},
		PauseScheduleFunc: func(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
			sc, err := find(ctx, id)
			if err != nil {
				return nil, err
			}
			cp := *sc
			cp.State = wxnotify.SchedulePaused
			return &cp, nil
		},
		ResumeScheduleFunc: find,
		DeleteScheduleFunc: func(ctx context.Context, id int64) error {
			_, err := find(ctx, id)
			return err
		},
	}
}

func TestScheduleRoutes(t *testing.T) {
	t.Parallel()
	s := openServer(t, func(s *wxhttp.Server) { s.ScheduleService = scheduleMock() })
	url := s.URL() + "/v1/schedules"
	body := func(appID, cron, tz, message string) string {
		return `{"appid":"` + appID + `","name":"早安","cron":"` + cron + `","timezone":"` + tz + `","message":` + message + `}`
	}
	msg := `{"openids":["o1","o2"],"template_id":"T","data":{"thing1":"早"}}`

	t.Run("Create", func(t *testing.T) {
		resp, out := do(t, "POST", url, "key-a", body(appA, "0 9 * * *", "Asia/Shanghai", msg))
		if resp.StatusCode != 201 {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
		var sc wxnotify.Schedule
		if err := json.Unmarshal([]byte(out), &sc); err != nil {
			t.Fatal(err)
		}
		if sc.ID != 1 || len(sc.Message.OpenIDs) != 2 || sc.NextRunAt.IsZero() {
			t.Fatalf("schedule=%+v", sc)
		}
		if h := sc.NextRunAt.In(time.FixedZone("CST", 8*3600)); h.Hour() != 9 || h.Minute() != 0 {
			t.Fatalf("NextRunAt=%v, want 09:00 in Shanghai", sc.NextRunAt)
		}
	})
	t.Run("CreateOneOpenID", func(t *testing.T) {
		resp, out := do(t, "POST", url, "key-a", body(appA, "@hourly", "", `{"openid":"o1","template_id":"T","data":{"thing1":"x"}}`))
		if resp.StatusCode != 201 || !strings.Contains(out, `"openids":["o1"]`) {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
	})
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"BadCron", body(appA, "0 9 * *", "UTC", msg), 400, "cron"},
		{"SixFields", body(appA, "0 0 9 * * *", "UTC", msg), 400, "cron"},
		{"TZInSpec", body(appA, "TZ=Asia/Tokyo 0 9 * * *", "UTC", msg), 400, "cron"},
		{"EveryTooOften", body(appA, "@every 10s", "UTC", msg), 400, "cron"},
		{"BadTimezone", body(appA, "0 9 * * *", "Mars/Olympus", msg), 400, "timezone"},
		{"NoOpenIDs", body(appA, "0 9 * * *", "UTC", `{"template_id":"T","data":{"thing1":"x"}}`), 400, "message.openids"},
		{"BothOpenIDForms", body(appA, "0 9 * * *", "UTC", `{"openid":"o","openids":["p"],"template_id":"T","data":{"thing1":"x"}}`), 400, "message.openid"},
		{"DuplicateOpenID", body(appA, "0 9 * * *", "UTC", `{"openids":["o","o"],"template_id":"T","data":{"thing1":"x"}}`), 400, "message.openids[1]"},
		{"BadTTL", body(appA, "0 9 * * *", "UTC", `{"openid":"o","template_id":"T","data":{"thing1":"x"},"ttl":"-1h"}`), 400, "message.ttl"},
		{"UnknownField", `{"appid":"` + appA + `","nmae":"x"}`, 400, "nmae"},
		{"OtherApp", body(appB, "0 9 * * *", "UTC", msg), 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := do(t, "POST", url, "key-a", tc.body)
			wantError(t, resp, out, tc.status, tc.field)
		})
	}
	t.Run("List", func(t *testing.T) {
		resp, out := do(t, "GET", url, "key-a", "")
		if resp.StatusCode != 200 || !strings.Contains(out, `"schedules":[{"id":1`) {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
	})
	t.Run("PauseResumeDelete", func(t *testing.T) {
		resp, out := do(t, "POST", url+"/1/pause", "key-a", "")
		if resp.StatusCode != 200 || !strings.Contains(out, `"state":"paused"`) {
			t.Fatalf("pause: status=%d body=%s", resp.StatusCode, out)
		}
		resp, out = do(t, "POST", url+"/1/resume", "key-a", "")
		if resp.StatusCode != 200 || !strings.Contains(out, `"state":"active"`) {
			t.Fatalf("resume: status=%d body=%s", resp.StatusCode, out)
		}
		resp, out = do(t, "DELETE", url+"/1", "key-a", "")
		if resp.StatusCode != 204 {
			t.Fatalf("delete: status=%d body=%s", resp.StatusCode, out)
		}
		resp, out = do(t, "POST", url+"/2/pause", "key-a", "")
		wantError(t, resp, out, 404, "")
		resp, out = do(t, "DELETE", url+"/zero", "key-a", "")
		wantError(t, resp, out, 400, "id")
	})
}
