package wxnotify_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxnotify/wxnotify"
)

// FuzzValidateKeyword: the keyword rules never panic, answer the same twice,
// and what they accept keeps the documented bounds. The verdicts themselves
// are pinned by testdata/keyword_rules.tsv (TestKeywordRulesGolden).
func FuzzValidateKeyword(f *testing.F) {
	for _, s := range [][2]string{
		{"thing", "书"}, {"number", "12.5"}, {"amount", "￥100.00元"}, {"time", "2019年10月1日 15:01~16:00"},
		{"date", "2019-10-01"}, {"phone_number", "+86-0766-66888866"}, {"car_number", "粤A8Z8Z8"},
		{"name", "张三"}, {"phrase", "已发货"}, {"symbol", "%"}, {"letter", "abc"}, {"character_string", "A-1"},
		{"keyword", "x"}, {"enum", "x"}, {"thing", "\xff"}, {"unknown_type", ""},
		// Near misses of each format: a stray letter or symbol, a unit twice, a
		// time range cut short, a value of the wrong class, an unknown type.
		{"number", "0A"}, {"amount", "￥0."}, {"amount", "0000元0元"}, {"time", "00月0日0:00~ 0:00"},
		{"time", "10月1日 15:01~"}, {"car_number", "AAAA"}, {"car_number", "A@"}, {"phone_number", "A"},
		{"letter", "A0"}, {"character_string", "0! "}, {"symbol", "0"}, {"0", "00000000000000000000000000"},
		// The boundaries of testdata/keyword_rules.tsv: a decimal point that
		// does not count as a digit, signs, impossible dates, full-width forms.
		{"number", "1234567890123456789012345678901.5"}, {"number", "-1"}, {"amount", "₩5000"},
		{"date", "2019-02-29"}, {"time", "2020-02-29 23:59:59~00:00"}, {"time", "15：01"},
		{"name", "Tom & Jerry"}, {"phone_number", "*#06#"}, {"car_number", "粤"}, {"thing", "   "},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, typ, value string) {
		msg := wxnotify.ValidateKeyword(wxnotify.KeywordType(typ), value)
		if again := wxnotify.ValidateKeyword(wxnotify.KeywordType(typ), value); again != msg {
			t.Fatalf("ValidateKeyword(%q, %q) answered %q then %q", typ, value, msg, again)
		}
		if msg != "" {
			return
		}
		if value == "" || !utf8.ValidString(value) {
			t.Fatalf("ValidateKeyword(%q, %q) accepted an empty or invalid value", typ, value)
		}
		n := utf8.RuneCountInString(value)
		limits := map[wxnotify.KeywordType]int{
			// A number has up to MaxNumberLen digits and one decimal point.
			wxnotify.KeywordThing: wxnotify.MaxThingLen, wxnotify.KeywordNumber: wxnotify.MaxNumberLen + 1,
			wxnotify.KeywordLetter: wxnotify.MaxLetterLen, wxnotify.KeywordSymbol: wxnotify.MaxSymbolLen,
			wxnotify.KeywordCharacterString: wxnotify.MaxCharacterStringLen, wxnotify.KeywordPhoneNumber: wxnotify.MaxPhoneNumberLen,
			wxnotify.KeywordCarNumber: wxnotify.MaxCarNumberLen, wxnotify.KeywordName: wxnotify.MaxNameLatinLen,
			wxnotify.KeywordPhrase: wxnotify.MaxPhraseLen,
		}
		if max, ok := limits[wxnotify.KeywordType(typ)]; ok && n > max {
			t.Fatalf("ValidateKeyword(%q, %q) accepted %d characters, limit %d", typ, value, n, max)
		}
		if typ == string(wxnotify.KeywordNumber) && strings.Count(value, ".") > 1 {
			t.Fatalf("ValidateKeyword(number, %q) accepted two decimal points", value)
		}
		if typ == string(wxnotify.KeywordThing) {
			if cut, did := wxnotify.TruncateThing(value); did || cut != value {
				t.Fatalf("TruncateThing changed a valid thing %q to %q", value, cut)
			}
		}
	})
}

// FuzzParseTemplateContent: the template parsers never panic and agree: every
// name ParseTemplateContent finds is a well-formed keyword name, and
// ParseTemplateKeywords lists the same keys, once each, in order.
func FuzzParseTemplateContent(f *testing.F) {
	for _, s := range []string{
		"商品名称:{{thing1.DATA}}\n下单时间:{{time2.DATA}}\n",
		"{{ character_string12.DATA }}{{thing1.DATA}}{{thing1.DATA}}",
		"{{keyword1.DATA}}", "{{thing.DATA}}", "{{THING1.DATA}}", "}}{{", "{{thing1.DATA", "",
		"标题：{{phrase3.DATA}}}{{amount4.DATA}}",
		// Unbalanced and nested braces, bytes that are not UTF-8, control and
		// space characters inside the braces, a very long name.
		"{{{{thing1.DATA}}}}", "{{a{{a0.DATA}}{{aaaaa0", "{{{{{{{{{{{{{{{{a", "{{a0.DATA}}{{a0.\x80",
		"{{a\xf2{{a\xf2{{\xf2000", "{{\x03thing1.DATA}}", "{{       thing1.DATA}}", "0{{a00{{a00",
		"{{" + strings.Repeat("a", 64) + "1.DATA}}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		names := wxnotify.ParseTemplateContent(content)
		var unique []string
		for _, n := range names {
			typ, ok := wxnotify.ParseKeywordName(n)
			if !ok || typ == "" || !strings.HasPrefix(n, string(typ)) {
				t.Fatalf("ParseTemplateContent(%q) found %q, which ParseKeywordName reads as (%q, %v)", content, n, typ, ok)
			}
			if !slices.Contains(unique, n) {
				unique = append(unique, n)
			}
		}
		kws := wxnotify.ParseTemplateKeywords(content)
		if len(kws) != len(unique) {
			t.Fatalf("ParseTemplateKeywords(%q) found %d keys, ParseTemplateContent %d distinct", content, len(kws), len(unique))
		}
		for i, kw := range kws {
			if kw.Key != unique[i] {
				t.Fatalf("key %d: %q vs %q", i, kw.Key, unique[i])
			}
			if typ, _ := wxnotify.ParseKeywordName(kw.Key); kw.Type != typ {
				t.Fatalf("key %q: type %q, want %q", kw.Key, kw.Type, typ)
			}
		}
	})
}

// FuzzParseKeywordName: a name parses only as letters/underscores then
// digits, and the type is its letter part.
func FuzzParseKeywordName(f *testing.F) {
	for _, s := range []string{
		"thing1", "character_string12", "keyword", "1thing", "thing_", "_1", "thing1a", "Thing1",
		// Letters and digits outside ASCII, bytes that are not UTF-8, long
		// names and long digit runs.
		"ｔhing1", "thing１", "é1", "\xe80", "thing1\xff", "_A", strings.Repeat("a", 200) + "1",
		"a" + strings.Repeat("0", 66), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		typ, ok := wxnotify.ParseKeywordName(name)
		if !ok {
			if typ != "" {
				t.Fatalf("ParseKeywordName(%q) = (%q, false)", name, typ)
			}
			return
		}
		digits := strings.TrimPrefix(name, string(typ))
		if typ == "" || digits == "" || len(digits) == len(name) {
			t.Fatalf("ParseKeywordName(%q) = %q", name, typ)
		}
		for _, c := range string(typ) {
			if !(c >= 'a' && c <= 'z' || c == '_') {
				t.Fatalf("ParseKeywordName(%q): type %q", name, typ)
			}
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				t.Fatalf("ParseKeywordName(%q): suffix %q", name, digits)
			}
		}
	})
}
