package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeCSV writes a recipients file: n rows to the load users (user i%100,
// thing1 "c<i>"), then the openids in extra with no credit.
func writeCSV(t *testing.T, n, start int, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "recipients.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "openid,thing1")
	for i := start; i < start+n; i++ {
		fmt.Fprintf(w, "oUSER%013d,c%d\n", i%loadUsers, i)
	}
	for _, o := range extra {
		fmt.Fprintf(w, "%s,\n", o)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// summaryCounts reads the outcome table of `wxnotify broadcast`.
func summaryCounts(t *testing.T, out string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "OUTCOME" {
			inTable = true
			continue
		}
		if inTable && len(f) == 2 {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("summary line %q", line)
			}
			counts[f[0]] = n
		}
	}
	return counts
}

// TestE2E_OperatorCommands drives the operator CLI against a real `wxnotify
// serve` and the simulator: a 10,000-recipient broadcast from CSV whose
// summary accounts for every message, the same in --json, then send --wait
// and messages show/ls/cancel, and credits stats.
func TestE2E_OperatorCommands(t *testing.T) {
	t.Parallel()
	const n = 10_000 // credits: 100 users × 100 subscribe acceptances
	e, sim, key, tpl := setupLoad(t, "sqlite://"+filepath.Join(t.TempDir(), "wx.db"), n)
	api := e.start("serve", "--addr", "127.0.0.1:0").url
	e.vars = append(e.vars, "WXNOTIFY_URL="+api, "WXNOTIFY_API_KEY="+key)
	noCredit := []string{"oNOCREDIT00000000001", "oNOCREDIT00000000002", "oNOCREDIT00000000003"}

	// 9,900 messages to users with credits (99 each) and 3 to users without.
	csv := writeCSV(t, n-loadUsers, 0, noCredit...)
	out, errOut, code := e.run("", "broadcast", "--app", demoApp, "--template", tpl, "--data", "thing1=默认", "--csv", csv, "--interval", "100ms")
	if code != 7 {
		t.Fatalf("broadcast with undeliverable recipients: exit %d, want 7\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	counts := summaryCounts(t, out)
	if counts["delivered"] != n-loadUsers || counts["no_credit"] != len(noCredit) || counts["total"] != n-loadUsers+len(noCredit) || len(counts) != 3 {
		t.Fatalf("summary %v, want delivered %d, no_credit %d and their total:\n%s", counts, n-loadUsers, len(noCredit), out)
	}
	if !strings.Contains(errOut, "delivering") && !strings.Contains(errOut, "delivered") || !strings.Contains(errOut, "messages accepted") {
		t.Fatalf("no progress on stderr: %q", errOut)
	}
	if !strings.Contains(errOut, "3 of 9903 messages not delivered") {
		t.Fatalf("stderr does not say what was not delivered: %q", errOut)
	}

	// --json: one credit left per user; users 1..99 once each, and one
	// without credit (user 0's last credit is kept for send --wait).
	csv = writeCSV(t, loadUsers-1, 1, noCredit[0])
	out, errOut, code = e.run("", "--json", "broadcast", "--app", demoApp, "--template", tpl, "--data", "thing1=默认", "--csv", csv, "--interval", "50ms")
	if code != 7 {
		t.Fatalf("--json broadcast: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var sum struct {
		ID          int64            `json:"id"`
		State       string           `json:"state"`
		Accepted    int64            `json:"accepted"`
		Total       int64            `json:"total"`
		Delivered   int64            `json:"delivered"`
		Undelivered int64            `json:"undelivered"`
		Counts      map[string]int64 `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json summary %q: %v", out, err)
	}
	if sum.ID == 0 || sum.State != "finished" || sum.Accepted != loadUsers || sum.Total != loadUsers || sum.Delivered != loadUsers-1 ||
		sum.Undelivered != 1 || sum.Counts["delivered"] != loadUsers-1 || sum.Counts["no_credit"] != 1 || len(sum.Counts) != 2 {
		t.Fatalf("--json summary %+v", sum)
	}
	// Every message of the broadcast reached WeChat once or was not sent.
	var calls map[string]float64
	getJSON(t, "GET", sim.url+"/sim/calls?appid="+demoApp, "", "", &calls)
	if int(calls["delivered"]) != n-1 {
		t.Fatalf("simulator delivered %v, want %d", calls["delivered"], n-1)
	}

	// send --wait: user 0 has one credit left; then none.
	out = e.mustRun("", "send", "--app", demoApp, "--openid", "oUSER0000000000000", "--template", tpl, "--data", "thing1=单件", "--wait", "--idempotency-key", "ship-1")
	lines := strings.Fields(out)
	if len(lines) != 2 || lines[1] != "delivered" {
		t.Fatalf("send --wait printed %q, want the id and delivered", out)
	}
	id := lines[0]
	out, errOut, code = e.run("", "send", "--app", demoApp, "--openid", "oUSER0000000000000", "--template", tpl, "--data", "thing1=再来", "--wait")
	if code != 7 || !strings.Contains(out, "no_credit") || !strings.Contains(errOut, "no_credit") {
		t.Fatalf("send --wait without credit: exit %d, stdout %q, stderr %q; want 7 and no_credit", code, out, errOut)
	}
	// The idempotency key returns the first message, without sending again.
	if again := strings.TrimSpace(e.mustRun("", "send", "--app", demoApp, "--openid", "oUSER0000000000000", "--template", tpl, "--data", "thing1=单件", "--idempotency-key", "ship-1")); again != id {
		t.Fatalf("idempotent send printed %q, want %s", again, id)
	}

	out = e.mustRun("", "messages", "show", id)
	for _, want := range []string{"state:", "delivered", "data.thing1:", "单件", "msgid:", "ATTEMPT", "ERRCODE"} {
		if !strings.Contains(out, want) {
			t.Fatalf("messages show lacks %q:\n%s", want, out)
		}
	}
	var shown struct {
		ID          json.Number `json:"id"`
		State       string      `json:"state"`
		AttemptList []struct {
			ErrCode int `json:"errcode"`
		} `json:"attempt_list"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("", "--json", "messages", "show", id)), &shown); err != nil || shown.ID.String() != id ||
		shown.State != "delivered" || len(shown.AttemptList) != 1 || shown.AttemptList[0].ErrCode != 0 {
		t.Fatalf("messages show --json: %+v %v", shown, err)
	}
	if _, _, code := e.run("", "messages", "show", "999999999"); code != 4 {
		t.Fatalf("show of no message: exit %d, want 4", code)
	}
	if _, _, code := e.run("", "messages", "cancel", id); code != 3 {
		t.Fatalf("cancel of a delivered message: exit %d, want 3", code)
	}
	out = e.mustRun("", "messages", "ls", "--app", demoApp, "--state", "no_credit", "--limit", "10")
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "no_credit" {
			rows++
		}
	}
	if got := rows; got != 5 {
		t.Fatalf("ls --state no_credit: %d rows, want 5 (3 + 1 broadcast, 1 send):\n%s", got, out)
	}

	// Every credit was spent.
	out = e.mustRun("", "credits", "stats", "--app", demoApp)
	if !strings.Contains(out, "CREDITS") || !strings.Contains(out, "total") {
		t.Fatalf("credits stats:\n%s", out)
	}
	var stocks []struct {
		Credits int64 `json:"credits"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("", "--json", "credits", "stats", "--app", demoApp)), &stocks); err != nil {
		t.Fatal(err)
	}
	for _, s := range stocks {
		if s.Credits != 0 {
			t.Fatalf("credits left: %+v", stocks)
		}
	}

	// Usage and auth errors have their own exit codes.
	if _, _, code := e.run("", "broadcast", "--app", demoApp, "--template", tpl); code != 2 {
		t.Fatalf("broadcast without --csv: exit %d, want 2", code)
	}
	if _, _, code := e.run("", "send", "--app", otherApp, "--openid", "o1", "--template", tpl, "--data", "thing1=x"); code != 5 {
		t.Fatalf("send as an app the key may not act for: exit %d, want 5", code)
	}
	if _, errOut, code := e.run("", "send", "--app", demoApp, "--openid", "o1", "--template", tpl, "--data", "thing1=x", "--url", "http://127.0.0.1:1"); code != 6 || !strings.Contains(errOut, "cannot reach") {
		t.Fatalf("unreachable server: exit %d %q, want 6", code, errOut)
	}
	bad := writeCSV(t, 0, 0, "")
	if out, errOut, code := e.run("", "broadcast", "--app", demoApp, "--template", tpl, "--data", "thing1=x", "--csv", bad); code != 3 || !strings.Contains(errOut, "recipients[0].openid") {
		t.Fatalf("broadcast with an empty openid: exit %d, want 3\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
