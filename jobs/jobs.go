// Package jobs is the one home of wxnotify's scheduled work (part 5 of the
// product): token refresh, credit and session purge, lease recovery,
// expiry, requeue of waiting messages, schedules, retention, template sync,
// webhook delivery, the broadcast sweep. Each job is one value with one
// Run(ctx) error; the list, with each job's interval, is written once (in
// cmd/wxnotify), and a Runner runs it and reports each job's last run, next
// run and last error to operators (wxnotify.JobService).
//
// A run that fails is logged and retried at the next interval; a job that
// needs faster retries (token refresh) says when by returning a shorter
// wait from its own logic. Runs of one job never overlap.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
)

// Job is one piece of scheduled work. Run does one pass and returns; it
// must honour ctx.
type Job interface {
	Run(ctx context.Context) error
}

// Func adapts a function to a Job.
type Func func(ctx context.Context) error

// Run calls f.
func (f Func) Run(ctx context.Context) error { return f(ctx) }

// Entry is a job in the list.
type Entry struct {
	Name     string        // short, stable: "lease_recovery"
	Doc      string        // one line for operators
	Interval time.Duration // between the starts of runs; > 0
	Job      Job
	// Delay is how long after start the first run waits (0: at once).
	Delay time.Duration
}

// Runner runs a list of jobs until its context ends. Set Entries before
// Run; the zero value of the other fields works.
type Runner struct {
	Entries []Entry
	Logger  *slog.Logger
	// OnRun, when set, is called after every run (metrics).
	OnRun func(name string, took time.Duration, err error)

	mu     sync.Mutex
	status map[string]*wxnotify.JobStatus
	kick   map[string]chan struct{}
}

var _ wxnotify.JobService = (*Runner)(nil)

func (r *Runner) init() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status != nil {
		return
	}
	r.status = make(map[string]*wxnotify.JobStatus, len(r.Entries))
	r.kick = make(map[string]chan struct{}, len(r.Entries))
	for _, e := range r.Entries {
		r.status[e.Name] = &wxnotify.JobStatus{Name: e.Name, Doc: e.Doc, IntervalSeconds: e.Interval.Seconds()}
		r.kick[e.Name] = make(chan struct{}, 1)
	}
}

// Validate reports a malformed list: a missing name, job or interval, or a
// name used twice.
func (r *Runner) Validate() error {
	seen := map[string]bool{}
	for i, e := range r.Entries {
		switch {
		case e.Name == "":
			return fmt.Errorf("jobs: entry %d has no name", i)
		case e.Job == nil:
			return fmt.Errorf("jobs: %s has no job", e.Name)
		case e.Interval <= 0:
			return fmt.Errorf("jobs: %s: interval %v not positive", e.Name, e.Interval)
		case seen[e.Name]:
			return fmt.Errorf("jobs: %s listed twice", e.Name)
		}
		seen[e.Name] = true
	}
	return nil
}

// Run runs every job on its interval until ctx ends, then waits for the
// runs in progress to return.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.init()
	var wg sync.WaitGroup
	for _, e := range r.Entries {
		wg.Go(func() { r.loop(ctx, e) })
	}
	wg.Wait()
	return nil
}

// Kick makes the named job run now (or right after its current run), and
// reports whether the name is known.
func (r *Runner) Kick(name string) bool {
	r.init()
	r.mu.Lock()
	c, ok := r.kick[name]
	r.mu.Unlock()
	if ok {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	return ok
}

func (r *Runner) loop(ctx context.Context, e Entry) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r.mu.Lock()
	kick := r.kick[e.Name]
	r.mu.Unlock()
	wait := e.Delay
	for {
		r.setNext(e.Name, time.Now().Add(wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-kick:
			t.Stop()
		}
		start := time.Now()
		r.setRunning(e.Name, start)
		err := e.Job.Run(ctx)
		took := time.Since(start)
		if ctx.Err() != nil && err != nil {
			err = nil // stopped, not failed
		}
		r.setDone(e.Name, took, err)
		if err != nil {
			log.Error("scheduled job failed", "job", e.Name, "err", err, "took_ms", took.Milliseconds())
		}
		if r.OnRun != nil {
			r.OnRun(e.Name, took, err)
		}
		// Jitter of up to 5% keeps instances started together apart.
		wait = e.Interval - took
		if j := int64(e.Interval / 20); j > 0 {
			wait += time.Duration(rand.Int64N(j))
		}
		wait = max(wait, 0)
	}
}

func (r *Runner) setNext(name string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[name].NextRun = at.UTC()
}

func (r *Runner) setRunning(name string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status[name]
	s.Running, s.LastRun, s.NextRun = true, at.UTC(), time.Time{}
}

func (r *Runner) setDone(name string, took time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status[name]
	s.Running, s.LastSeconds, s.LastError = false, took.Seconds(), ""
	s.Runs++
	if err != nil {
		s.LastError = err.Error()
		s.Errors++
	}
}

// FindJobs implements wxnotify.JobService: every job, in list order.
func (r *Runner) FindJobs(ctx context.Context) ([]*wxnotify.JobStatus, error) {
	k := wxnotify.APIKeyFromContext(ctx)
	if k == nil {
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "API key required")
	}
	if !k.CanAccess(wxnotify.AllApps) {
		return nil, wxnotify.Errorf(wxnotify.EFORBIDDEN, "the jobs are an operator's view: an API key for every app is required")
	}
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*wxnotify.JobStatus, 0, len(r.Entries))
	for _, e := range r.Entries {
		c := *r.status[e.Name]
		out = append(out, &c)
	}
	return out, nil
}
