package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/jobs"
)

var operator = &wxnotify.APIKey{ID: "ops", Apps: []string{wxnotify.AllApps}}

func TestRunner(t *testing.T) {
	t.Parallel()
	ran := make(chan struct{}, 10)
	failing := make(chan struct{}, 10)
	r := &jobs.Runner{Entries: []jobs.Entry{
		{Name: "ok", Doc: "works", Interval: time.Hour, Job: jobs.Func(func(context.Context) error { ran <- struct{}{}; return nil })},
		{Name: "bad", Interval: time.Hour, Job: jobs.Func(func(context.Context) error { failing <- struct{}{}; return errors.New("boom") })},
	}}
	var runs, errs int
	done := make(chan string, 10)
	r.OnRun = func(name string, _ time.Duration, err error) {
		if err != nil {
			errs++
		} else {
			runs++
		}
		done <- name
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- r.Run(ctx) }()
	<-ran
	<-failing
	<-done
	<-done // both recorded (OnRun runs after the status is set)

	// Kick runs a job now although its interval is an hour.
	if !r.Kick("ok") {
		t.Fatal("Kick(ok) = false")
	}
	<-ran
	<-done
	if r.Kick("nope") {
		t.Error("Kick of an unknown job = true")
	}

	list, err := r.FindJobs(wxnotify.NewContextWithAPIKey(ctx, operator))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "ok" || list[1].Name != "bad" {
		t.Fatalf("FindJobs = %+v, want ok then bad", list)
	}
	ok, bad := list[0], list[1]
	if ok.Runs != 2 || ok.Errors != 0 || ok.LastError != "" || ok.Doc != "works" || ok.IntervalSeconds != 3600 {
		t.Errorf("ok = %+v, want 2 runs, no error, its doc and interval", ok)
	}
	if bad.Runs != 1 || bad.Errors != 1 || bad.LastError != "boom" {
		t.Errorf("bad = %+v, want 1 run, 1 error, last error boom", bad)
	}
	for _, j := range list {
		if j.LastRun.IsZero() || !j.NextRun.After(j.LastRun) {
			t.Errorf("%s: last run %v, next run %v: want the next after the last", j.Name, j.LastRun, j.NextRun)
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Errorf("Run = %v", err)
	}
	if runs != 2 || errs != 1 {
		t.Errorf("OnRun saw %d runs and %d errors, want 2 and 1", runs, errs)
	}
}

func TestRunner_Validate(t *testing.T) {
	t.Parallel()
	job := jobs.Func(func(context.Context) error { return nil })
	for name, entries := range map[string][]jobs.Entry{
		"no name":     {{Interval: time.Second, Job: job}},
		"no job":      {{Name: "a", Interval: time.Second}},
		"no interval": {{Name: "a", Job: job}},
		"twice":       {{Name: "a", Interval: time.Second, Job: job}, {Name: "a", Interval: time.Second, Job: job}},
	} {
		r := &jobs.Runner{Entries: entries}
		if err := r.Run(context.Background()); err == nil {
			t.Errorf("%s: Run returned nil", name)
		}
	}
}

func TestRunner_FindJobsNeedsOperator(t *testing.T) {
	t.Parallel()
	r := &jobs.Runner{Entries: []jobs.Entry{{Name: "a", Interval: time.Second, Job: jobs.Func(func(context.Context) error { return nil })}}}
	if _, err := r.FindJobs(context.Background()); wxnotify.ErrorCode(err) != wxnotify.EUNAUTHORIZED {
		t.Errorf("no key: %v, want unauthorized", err)
	}
	one := &wxnotify.APIKey{ID: "app", Apps: []string{"wx0123456789abcdef"}}
	if _, err := r.FindJobs(wxnotify.NewContextWithAPIKey(context.Background(), one)); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
		t.Errorf("one app's key: %v, want forbidden", err)
	}
}
