package wechatsim_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// TestValidValueGolden runs the boundary values that wxnotify's validator
// passes too (wxnotify.TestKeywordRulesGolden) through the simulator's own
// reading of the keyword rules. The file is parsed here, not shared, for the
// same reason the rules are written twice.
func TestValidValueGolden(t *testing.T) {
	t.Parallel()
	const path = "../testdata/keyword_rules.tsv"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, rows := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "type\t") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("%s:%d: %d columns, want type, value, verdict, reason", path, n, len(cols))
		}
		rule, value, verdict, reason := cols[0], cols[1], cols[2], cols[3]
		if strings.HasPrefix(value, `"`) {
			if value, err = strconv.Unquote(value); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
		}
		want := verdict == "ok"
		if !want && verdict != "invalid" {
			t.Fatalf("%s:%d: verdict %q", path, n, verdict)
		}
		if got := wechatsim.ValidValue(rule, value); got != want {
			t.Errorf("%s:%d: ValidValue(%s, %q) = %v, want %v (%s)", path, n, rule, value, got, want, reason)
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows < 200 {
		t.Fatalf("%d rows, want at least 200", rows)
	}
}

// A JSON number as a keyword's value is taken as its digits, as WeChat takes
// it (the reference's data is {"key": {"value": any}}); a boolean is not.
func TestSubscribeSend_NumberValue(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.sim.GrantSubscribe(appID, "oN", tb.tpl, 2)
	body := func(v string) string {
		return `{"touser":"oN","template_id":"` + tb.tpl + `","data":{"thing1":{"value":` + v + `},"time2":{"value":"15:01"}}}`
	}
	if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body("12345678901234567.5")); code != 0 {
		t.Fatalf("number value: %d %q", code, msg)
	}
	inbox := tb.sim.Inbox(appID, "oN")
	if len(inbox) != 1 || inbox[0].Data["thing1"] != "12345678901234567.5" {
		t.Fatalf("inbox %+v, want thing1 as written", inbox)
	}
	if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body("true")); code != 47001 {
		t.Fatalf("boolean value: %d, want 47001", code)
	}
	if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body("null")); code != 47003 || !contains(msg, "data.thing1.value is emtpy") {
		t.Fatalf("null value: %d %q, want 47003 is emtpy", code, msg)
	}
}
