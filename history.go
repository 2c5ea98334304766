package wxnotify

import (
	"context"
	"time"
)

// History ranges: how far back the dashboard's charts look, and at which
// resolution.
const (
	HistoryLastHour  = "1h"  // 60 one-minute buckets
	HistoryLastDay   = "24h" // 1,440 one-minute buckets
	HistoryLastMonth = "30d" // 720 one-hour buckets
)

// HistoryRanges lists the ranges FindHistory takes.
var HistoryRanges = []string{HistoryLastHour, HistoryLastDay, HistoryLastMonth}

// History is what the database recorded over a range, bucket by bucket,
// the same on every instance and across restarts: outcomes and WeChat
// errcodes counted per bucket (messages per minute, or per hour), queue
// depth and credit stock as sampled in it.
type History struct {
	Range             string           `json:"range"`
	ResolutionSeconds int              `json:"resolution_seconds"`
	From              time.Time        `json:"from"`
	To                time.Time        `json:"to"` // the last bucket ends here; it is still filling
	Buckets           []*HistoryBucket `json:"buckets"`
}

// HistoryBucket is one minute or hour of History.
type HistoryBucket struct {
	At time.Time `json:"at"` // the bucket's start
	// Outcomes counts the messages that ended in the bucket per terminal
	// state (delivered, failed, no_credit, expired, cancelled, ambiguous).
	Outcomes map[string]int64 `json:"outcomes"`
	// Errcodes counts the calls to WeChat that failed in the bucket per
	// errcode ("-2": a network error).
	Errcodes map[string]int64 `json:"errcodes"`
	// Queue is the queue depth (queued, waiting_credit, sending) sampled in
	// the bucket, its highest in an hour; null when no instance sampled it.
	Queue map[string]int64 `json:"queue"`
	// Credits is the usable uses per "appid/template_id" (subscribe) or
	// "appid/kind" (legacy), as Queue; null when not sampled.
	Credits map[string]int64 `json:"credits"`
}

// HistoryService reads the dashboard's history.
type HistoryService interface {
	// FindHistory returns the range (one of HistoryRanges) ending now.
	// Returns EINVALID for another range, EFORBIDDEN unless the caller's
	// key is for every app.
	FindHistory(ctx context.Context, rng string) (*History, error)
}
