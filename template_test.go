package wxnotify_test

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
)

// keywordCase is one row of testdata/keyword_rules.tsv.
type keywordCase struct {
	line   int
	typ    wxnotify.KeywordType
	value  string
	ok     bool
	reason string
}

// readKeywordRules reads the golden file of keyword rules: tab-separated
// type, value (Go-quoted when it starts with a quote), verdict and reason,
// after a header line; lines starting with # are comments.
func readKeywordRules(tb testing.TB, path string) []keywordCase {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []keywordCase
	header := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			tb.Fatalf("%s:%d: %d columns, want 4", path, n, len(cols))
		}
		if !header {
			if got := strings.Join(cols, ","); got != "type,value,verdict,reason" {
				tb.Fatalf("%s:%d: header %q", path, n, got)
			}
			header = true
			continue
		}
		value := cols[1]
		if strings.HasPrefix(value, `"`) {
			if value, err = strconv.Unquote(value); err != nil {
				tb.Fatalf("%s:%d: value %s: %v", path, n, cols[1], err)
			}
		}
		if cols[2] != "ok" && cols[2] != "invalid" {
			tb.Fatalf("%s:%d: verdict %q, want ok or invalid", path, n, cols[2])
		}
		cases = append(cases, keywordCase{n, wxnotify.KeywordType(cols[0]), value, cols[2] == "ok", cols[3]})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return cases
}

// TestKeywordRulesGolden runs every boundary value of the golden file
// through ValidateKeyword. The simulator runs the same file
// (wechatsim.TestValidValueGolden).
func TestKeywordRulesGolden(t *testing.T) {
	t.Parallel()
	cases := readKeywordRules(t, "testdata/keyword_rules.tsv")
	if len(cases) < 200 {
		t.Fatalf("%d cases, want at least 200", len(cases))
	}
	for _, c := range cases {
		msg := wxnotify.ValidateKeyword(c.typ, c.value)
		if got := msg == ""; got != c.ok {
			t.Errorf("keyword_rules.tsv:%d: ValidateKeyword(%s, %q) = %q, want ok=%v (%s)", c.line, c.typ, c.value, msg, c.ok, c.reason)
		}
		if msg != "" && !strings.HasPrefix(msg, string(c.typ)+": ") {
			t.Errorf("keyword_rules.tsv:%d: %q does not name the rule %s", c.line, msg, c.typ)
		}
	}
}

// Every type of WeChat's table has values on both sides of its rule, and
// every reason the golden file gives is explained in docs/wechat.md.
func TestKeywordRulesGolden_Coverage(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("docs/wechat.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[wxnotify.KeywordType][2]int{}
	for _, c := range readKeywordRules(t, "testdata/keyword_rules.tsv") {
		if !strings.Contains(string(doc), "`"+c.reason+"`") {
			t.Errorf("keyword_rules.tsv:%d: reason %q is not in docs/wechat.md", c.line, c.reason)
		}
		n := seen[c.typ]
		if c.ok {
			n[0]++
		} else {
			n[1]++
		}
		seen[c.typ] = n
	}
	for _, typ := range []wxnotify.KeywordType{
		wxnotify.KeywordThing, wxnotify.KeywordNumber, wxnotify.KeywordLetter, wxnotify.KeywordSymbol,
		wxnotify.KeywordCharacterString, wxnotify.KeywordTime, wxnotify.KeywordDate, wxnotify.KeywordAmount,
		wxnotify.KeywordPhoneNumber, wxnotify.KeywordCarNumber, wxnotify.KeywordName, wxnotify.KeywordPhrase,
		wxnotify.KeywordEnum,
	} {
		if n := seen[typ]; n[0] == 0 || n[1] == 0 {
			t.Errorf("%s: %d ok and %d invalid values, want both", typ, n[0], n[1])
		}
	}
}

// A refusal names the rule and quotes WeChat's wording of it.
func TestValidateKeyword_Explains(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		typ  wxnotify.KeywordType
		v    string
		want string
	}{
		{wxnotify.KeywordNumber, "-1", "number: at most 32 digits"},
		{wxnotify.KeywordNumber, "-1", "(WeChat: 32位以内数字; 只能数字,可带小数)"},
		{wxnotify.KeywordTime, "10月1日 15:01", "time: a 24-hour time"},
		{wxnotify.KeywordThing, "", "thing: must not be empty"},
		{wxnotify.KeywordPhrase, "  ", "phrase: must not be only spaces"},
		{wxnotify.KeywordLegacy, "", "must not be empty"},
	} {
		if got := wxnotify.ValidateKeyword(tt.typ, tt.v); !strings.Contains(got, tt.want) {
			t.Errorf("ValidateKeyword(%s, %q) = %q, want it to contain %q", tt.typ, tt.v, got, tt.want)
		}
	}
}

func TestValidateKeyword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ   wxnotify.KeywordType
		value string
		ok    bool
	}{
		{wxnotify.KeywordThing, "订单已发货", true},
		{wxnotify.KeywordThing, "一二三四五六七八九十一二三四五六七八九十", true},
		{wxnotify.KeywordThing, "一二三四五六七八九十一二三四五六七八九十一", false},
		{wxnotify.KeywordThing, "", false},
		{wxnotify.KeywordNumber, "12345", true},
		{wxnotify.KeywordNumber, "12.50", true},
		{wxnotify.KeywordNumber, "12a", false},
		{wxnotify.KeywordNumber, "123456789012345678901234567890123", false},
		{wxnotify.KeywordLetter, "abcXYZ", true},
		{wxnotify.KeywordLetter, "abc1", false},
		{wxnotify.KeywordSymbol, "%$#", true},
		{wxnotify.KeywordSymbol, "%$#@!&", false},
		{wxnotify.KeywordSymbol, "a", false},
		{wxnotify.KeywordCharacterString, "SN-2026-0001", true},
		{wxnotify.KeywordCharacterString, "编号1", false},
		{wxnotify.KeywordTime, "15:01", true},
		{wxnotify.KeywordTime, "2019年10月1日 15:01", true},
		{wxnotify.KeywordTime, "2026-11-25 10:00", true},
		{wxnotify.KeywordTime, "15:01~16:30", true},
		{wxnotify.KeywordTime, "25:01", false},
		{wxnotify.KeywordTime, "tomorrow", false},
		{wxnotify.KeywordDate, "2019年10月1日", true},
		{wxnotify.KeywordDate, "2019-10-01 15:01", true},
		{wxnotify.KeywordDate, "2019-10-01~2019-10-07", true},
		{wxnotify.KeywordDate, "15:01", false},
		{wxnotify.KeywordAmount, "¥100.50", true},
		{wxnotify.KeywordAmount, "100元", true},
		{wxnotify.KeywordAmount, "12345678901", false},
		{wxnotify.KeywordAmount, "about 5", false},
		{wxnotify.KeywordPhoneNumber, "+86-0766-66888866", true},
		{wxnotify.KeywordPhoneNumber, "call me", false},
		{wxnotify.KeywordPhoneNumber, "123456789012345678", false},
		{wxnotify.KeywordCarNumber, "粤A8Z888挂", true},
		{wxnotify.KeywordCarNumber, "粤A8中888", false},
		{wxnotify.KeywordCarNumber, "粤A8Z8888挂", false},
		{wxnotify.KeywordName, "张三", true},
		{wxnotify.KeywordName, "John Smith", true},
		{wxnotify.KeywordName, "一二三四五六七八九十一", false},
		{wxnotify.KeywordName, "Name1", false},
		{wxnotify.KeywordPhrase, "配送中", true},
		{wxnotify.KeywordPhrase, "配送中了吗啊", false},
		{wxnotify.KeywordPhrase, "ok", false},
		{wxnotify.KeywordType("newtype"), "anything at all, unchecked", true},
	}
	for _, tt := range tests {
		msg := wxnotify.ValidateKeyword(tt.typ, tt.value)
		if got := msg == ""; got != tt.ok {
			t.Errorf("ValidateKeyword(%s, %q) = %q, want ok=%v", tt.typ, tt.value, msg, tt.ok)
		}
	}
}

func TestParseKeywordName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]wxnotify.KeywordType{"thing1": "thing", "character_string12": "character_string", "keyword3": "keyword"} {
		if got, ok := wxnotify.ParseKeywordName(name); !ok || got != want {
			t.Errorf("ParseKeywordName(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, bad := range []string{"thing", "1thing", "Thing1", ""} {
		if _, ok := wxnotify.ParseKeywordName(bad); ok {
			t.Errorf("ParseKeywordName(%q) accepted", bad)
		}
	}
}

func TestParseTemplateContent(t *testing.T) {
	t.Parallel()
	got := wxnotify.ParseTemplateContent("订单号:{{character_string1.DATA}}\n商品:{{thing2.DATA}}\n时间:{{time3.DATA}}\n")
	if want := []string{"character_string1", "thing2", "time3"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSecretRedacts(t *testing.T) {
	t.Parallel()
	s := wxnotify.Secret("topsecret")
	app := wxnotify.App{AppID: "wx0123456789abcdef", Secret: s}
	for _, out := range []string{s.String(), s.GoString(), sprint(app), sprintv(app)} {
		if contains(out, "topsecret") {
			t.Fatalf("secret visible: %s", out)
		}
	}
	if s.Reveal() != "topsecret" {
		t.Fatal("Reveal lost the value")
	}
}
