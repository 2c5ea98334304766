package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"

	"github.com/wxnotify/wxnotify/internal/loadtest"
)

// runWxnotifyBench runs `BIN bench --json --quiet` with this run's shared parameters. Its senders per
// instance default to 256, as -workers does here.
func runWxnotifyBench(ctx context.Context, c benchConfig, stderr io.Writer) (*benchResult, error) {
	args := []string{"bench", "--json", "--quiet",
		"--engine", c.Engine, "--pg", c.PG, "--instances", "1",
		"--n", strconv.Itoa(c.N), "--users", strconv.Itoa(c.Users), "--concurrency", strconv.Itoa(c.Concurrency),
		"--sim-latency", c.SimLatency.String(), "--limit-n", strconv.Itoa(c.LimitN), "--limit-c", strconv.Itoa(c.LimitC),
		"--timeout", c.Timeout.String(), "--senders", strconv.Itoa(c.Workers),
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.Compare, args...)
	cmd.Stdout, cmd.Stderr = &out, stderr
	runErr := cmd.Run()
	res := &benchResult{}
	if err := json.Unmarshal(out.Bytes(), res); err != nil {
		return nil, fmt.Errorf("%s %v: %v; output %q", c.Compare, args, runErr, out.String())
	}
	res.System = "wxnotify"
	return res, runErr
}

func printResult(w io.Writer, c benchConfig, run int, r *benchResult) {
	if c.JSON {
		json.NewEncoder(w).Encode(r)
		return
	}
	fmt.Fprintf(w, "run %d %-8s %s %gms: delivered %d/%d (%d failed, %d rejected) %.0f/s, accepted %.0f/s, p50/p99 %.1f/%.1fms, idle p50/p99 %.2f/%.2fms, CPU %.2f/%.2f, limit %.0f (%d), ratio %.0f%%",
		run, r.System, r.Engine, r.SimLatencyMS, r.Delivered, r.N, r.Failed, r.Rejected, r.DeliveredPerSec, r.AcceptedPerSec,
		r.P50MS, r.P99MS, r.IdleP50MS, r.IdleP99MS, r.ProcessCores, r.MachineCores, r.LimitPerSec, r.LimitClients, 100*r.Ratio)
	if r.TokenFetches > 0 {
		fmt.Fprintf(w, ", token fetches %d", r.TokenFetches)
	}
	if r.FirstErr != "" {
		fmt.Fprintf(w, ", first error %q", r.FirstErr)
	}
	fmt.Fprintln(w)
}

// printSummary prints medians per column (each column on its own), and wxnotify ÷ peer of the medians
// and of each run.
func printSummary(w io.Writer, c benchConfig, wx, peer []*benchResult) {
	fmt.Fprintf(w, "\n%s, sim latency %s, n %d, %d producers, %d users; medians of %d run(s)\n", c.Engine, c.SimLatency, c.N, c.Concurrency, c.Users, len(peer))
	loadtest.WriteVersus(w, results(wx), "peer", results(peer))
}

func results(rs []*benchResult) []*loadtest.Result {
	out := make([]*loadtest.Result, len(rs))
	for i, r := range rs {
		out[i] = &r.Result
	}
	return out
}
