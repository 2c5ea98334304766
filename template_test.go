package wxnotify_test

import (
	"slices"
	"testing"

	"github.com/wxnotify/wxnotify"
)

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
