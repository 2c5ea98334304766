package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/internal/testdb"
)

// TestBench runs a tiny bench in-process on each engine and checks that
// every message was accepted and delivered and every figure was filled.
// It asserts nothing about speed.
func TestBench(t *testing.T) {
	t.Parallel()
	type engine struct {
		name string
		args []string
	}
	engines := []engine{
		{name: "sqlite", args: []string{"--engine", "sqlite"}},
		{name: "sqlite-broadcast", args: []string{"--engine", "sqlite", "--broadcast", "--broadcast-size", "40"}},
	}
	if dsn := os.Getenv(testdb.PostgresEnv); dsn != "" {
		engines = append(engines, engine{name: "postgres", args: []string{"--engine", "postgres", "--pg", dsn, "--instances", "2"}})
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			chart := filepath.Join(t.TempDir(), "chart.svg")
			var out, errOut bytes.Buffer
			args := append([]string{"bench", "--json", "--quiet", "--n", "300", "--users", "40", "--limit-n", "500",
				"--timeout", "60s", "--chart", chart}, e.args...)
			if code := Run(t.Context(), args, &Env{Stdout: &out, Stderr: &errOut}); code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			var res benchResult
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("decode %q: %v", out.String(), err)
			}
			if res.Accepted != 300 || res.Delivered != 300 || res.Failed != 0 || res.Rejected != 0 {
				t.Fatalf("accepted=%d delivered=%d failed=%d rejected=%d (%s), want 300, 300, 0, 0",
					res.Accepted, res.Delivered, res.Failed, res.Rejected, res.FirstErr)
			}
			if res.DeliveredPerSec <= 0 || res.AcceptedPerSec <= 0 || res.LimitBefore <= 0 || res.LimitAfter <= 0 || res.Ratio <= 0 {
				t.Fatalf("figures missing: %+v", res)
			}
			if res.P50MS > res.P99MS || res.IdleP50MS > res.IdleP99MS {
				t.Fatalf("percentiles out of order: %+v", res)
			}
			svg, err := os.ReadFile(chart)
			if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("<polyline")) {
				t.Fatalf("chart: %v %.200s", err, svg)
			}
		})
	}
}

func TestBench_ErrUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "SQLiteTwoInstances", args: []string{"--instances", "2"}, want: "SQLite supports one instance"},
		{name: "UnknownEngine", args: []string{"--engine", "mysql"}, want: "want sqlite or postgres"},
		{name: "BroadcastLargerThanUsers", args: []string{"--broadcast", "--users", "10", "--broadcast-size", "11"}, want: "--broadcast-size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if code := Run(t.Context(), append([]string{"bench"}, tc.args...), &Env{Stdout: &out, Stderr: &errOut}); code != exitUsage {
				t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("stderr %q, want it to contain %q", errOut.String(), tc.want)
			}
		})
	}
}
