package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/wxnotify/wxnotify/metrics"
)

// exercised is an instance's metrics with every series written once, so
// each family is exported (a vector with no child is not).
func exercised(t *testing.T) *metrics.Metrics {
	t.Helper()
	m := metrics.New(func(context.Context) (map[string]int64, error) {
		return map[string]int64{"queued": 3, "delivered": 9}, nil
	}, nil)
	m.RegisterBuild(metrics.Build{Version: "v1.0.0", Revision: "abc", GoVersion: "go1.26"})
	m.RegisterCreditStock(func(context.Context) ([]metrics.CreditStock, error) {
		return []metrics.CreditStock{{AppID: "wx1", Kind: "subscribe", TemplateID: "T", Uses: 2}}, nil
	}, time.Minute, nil)
	m.RegisterDailySends(func() []metrics.DailySend {
		return []metrics.DailySend{{AppID: "wx1", Kind: "subscribe", Sent: 1, Limit: 10}}
	})
	m.RegisterWebhookOutbox(func(context.Context) (map[string]int64, error) { return map[string]int64{"dead": 1}, nil }, nil)
	m.Outcome("delivered")
	m.Send("subscribe", 10*time.Millisecond, 43101, "credit")
	m.TokenRefresh("wx1", nil)
	m.JobRun("schedules", time.Millisecond, errors.New("x"))
	m.ClockSkew(time.Millisecond)
	m.HTTPRequest("GET /v1/messages/{id}", 200, time.Millisecond)
	m.WebhookAttempt("dead")
	return m
}

// TestGrafanaDashboard: every query of etc/grafana/wxnotify.json names
// metrics the service exports.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	families, err := exercised(t).Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[f.GetName()+s] = true
			}
		}
	}
	b, err := os.ReadFile("../etc/grafana/wxnotify.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("etc/grafana/wxnotify.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && strings.Contains(q, "(") {
			// label_values(metric, label): the metric is the query.
			exprs = append(exprs, regexp.MustCompile(`^label_values\(([^,]+),.*\)$`).ReplaceAllString(q, "$1"))
		}
	}
	// A metric name: an identifier not followed by "(" (a function) and
	// not inside braces or after "by" (labels).
	name := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	strip := regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]|"[^"]*"|\b(?:by|without)\s*\([^)]*\)`)
	n := 0
	for _, e := range exprs {
		for _, loc := range name.FindAllStringIndex(strip.ReplaceAllString(e, " "), -1) {
			s := strip.ReplaceAllString(e, " ")
			id := s[loc[0]:loc[1]]
			if rest := strings.TrimLeft(s[loc[1]:], " "); strings.HasPrefix(rest, "(") || !strings.HasPrefix(id, "wxnotify_") {
				if !strings.HasPrefix(rest, "(") && !promQLWord[id] && !isNumber(id) {
					t.Errorf("query %q: %q is neither a function nor a wxnotify metric", e, id)
				}
				continue
			}
			n++
			if !exported[id] {
				t.Errorf("query %q names %s, which the service does not export", e, id)
			}
		}
	}
	if n < 10 {
		t.Fatalf("%d metric names in the dashboard's queries, want at least 10", n)
	}
}

// promQLWord are the keywords a query may hold besides functions.
var promQLWord = map[string]bool{"sum": true, "by": true, "without": true, "le": true, "and": true, "or": true, "unless": true, "on": true, "ignoring": true, "offset": true}

func isNumber(s string) bool { return strings.Trim(s, "0123456789.") == "" }

// TestMetrics_Exposition writes the exported metrics in Prometheus' text
// format to $WXNOTIFY_METRICS_FILE when set: .ci/run checks that file with
// promtool check metrics. It always checks the queue gauge: the
// non-terminal states only, each present.
func TestMetrics_Exposition(t *testing.T) {
	t.Parallel()
	families, err := exercised(t).Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(&sb, f); err != nil {
			t.Fatal(err)
		}
		if f.GetName() != "wxnotify_queue_messages" {
			continue
		}
		got := map[string]float64{}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
		if len(got) != 3 || got["queued"] != 3 || got["waiting_credit"] != 0 || got["sending"] != 0 {
			t.Errorf("wxnotify_queue_messages=%v, want queued 3, waiting_credit 0, sending 0 and no terminal state", got)
		}
	}
	if path := os.Getenv("WXNOTIFY_METRICS_FILE"); path != "" {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
