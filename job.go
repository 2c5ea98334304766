package wxnotify

import (
	"context"
	"time"
)

// JobStatus is one of an instance's scheduled jobs (token refresh, credit
// expiry, lease recovery, …) as an operator sees it. Every instance runs
// every job; the jobs themselves are safe to run on several instances at
// once (leases and row locks decide who does what).
type JobStatus struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
	// IntervalSeconds is the time between the starts of two runs.
	IntervalSeconds float64 `json:"interval_seconds"`
	// Running is true while a run is in progress.
	Running bool `json:"running"`
	// LastRun is when the last run started (zero: never), LastSeconds how
	// long it took, LastError its error ("" when it succeeded).
	LastRun     time.Time `json:"last_run,omitzero"`
	LastSeconds float64   `json:"last_seconds"`
	LastError   string    `json:"last_error,omitempty"`
	// NextRun is when the next run is due.
	NextRun time.Time `json:"next_run,omitzero"`
	Runs    int64     `json:"runs"`
	Errors  int64     `json:"errors"`
}

// JobService reports on the scheduled jobs of the instance that answers.
type JobService interface {
	// FindJobs returns every job in a fixed order. Needs an API key for
	// every app (an operator's).
	FindJobs(ctx context.Context) ([]*JobStatus, error)
}
