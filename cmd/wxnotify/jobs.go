package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newJobsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Show the scheduled jobs of a running wxnotify: last run, next run, last error",
		Long: "Show the built-in scheduled work of the instance that answers (token refresh, lease recovery, expiry,\n" +
			"purges, schedules, webhook delivery, template sync, …): when each last ran, how long it took, its\n" +
			"last error, and when it runs next. Needs an API key for every app (--app '*').",
		Example: "  wxnotify jobs --url http://127.0.0.1:8080",
		Args:    exactArgs(0),
	}
	rem := g.addRemoteFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := rem.client()
		if err != nil {
			return err
		}
		list, err := c.Jobs(cmd.Context())
		if err != nil {
			return err
		}
		if g.json {
			return g.printJSON(list)
		}
		tw := newTable(g.env.Stdout)
		fmt.Fprintln(tw, "JOB\tEVERY\tLAST RUN\tTOOK\tRUNS\tERRORS\tNEXT RUN\tLAST ERROR")
		for _, j := range list {
			next := fmtTime(j.NextRun)
			if j.Running {
				next = "running"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", j.Name, secs(j.IntervalSeconds), fmtTime(j.LastRun),
				secs(j.LastSeconds), j.Runs, j.Errors, next, orDash(j.LastError))
		}
		return tw.Flush()
	}
	return cmd
}

// secs prints seconds as a short duration: 1s, 1m0s, 1.2ms.
func secs(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Second:
		d = d.Round(time.Second)
	case d >= time.Millisecond:
		d = d.Round(100 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}
