package wxnotify

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// KeywordType is the type of one keyword of a subscribe-message template, the
// part of its name before the digits: "thing" in {{thing1.DATA}}. WeChat
// checks each value against the rule of its type and rejects the whole
// message with errcode 47003 when one breaks it; wxnotify checks the same
// rules when a message is accepted, so the caller hears of it at once.
type KeywordType string

// The keyword types of WeChat's table "订阅消息参数值内容限制说明" (see
// keywordRules for each rule as wxnotify reads it, and docs/wechat.md for the
// reasons). Lengths count characters (runes), not bytes.
const (
	KeywordThing           KeywordType = "thing"            // ≤20 characters of any printable kind
	KeywordNumber          KeywordType = "number"           // ≤32 digits, may carry a decimal point; no sign
	KeywordLetter          KeywordType = "letter"           // ≤32 letters A-Z, a-z
	KeywordSymbol          KeywordType = "symbol"           // ≤5 punctuation marks or symbols
	KeywordCharacterString KeywordType = "character_string" // ≤32 digits, letters or symbols
	KeywordTime            KeywordType = "time"             // 24-hour time, optionally after a full date; ranges joined by "~"
	KeywordDate            KeywordType = "date"             // a full date, optionally with a 24-hour time; ranges joined by "~"
	KeywordAmount          KeywordType = "amount"           // optional currency sign + ≤10 digits, may have decimals, may end in "元"
	KeywordPhoneNumber     KeywordType = "phone_number"     // ≤17 digits and symbols
	KeywordCarNumber       KeywordType = "car_number"       // ≤8; first and last may be Chinese, the rest letters or digits
	KeywordName            KeywordType = "name"             // ≤10 characters with Chinese, or ≤20 letters/symbols/spaces
	KeywordPhrase          KeywordType = "phrase"           // ≤5 Chinese characters only
	// KeywordEnum takes one of the values the template enumerates
	// (keywordEnumValueList); wxnotify does not have that list, so it checks
	// only that the value is not empty. WeChat's templates also show "const"
	// keywords, fixed by the template, which are not checked either.
	KeywordEnum KeywordType = "enum"
	// KeywordLegacy is a keyword of a legacy template message ("keyword1").
	// WeChat documents no rule beyond a non-empty value.
	KeywordLegacy KeywordType = "keyword"
)

// Limits of the length-bounded keyword types, in characters, except where
// said otherwise.
const (
	MaxThingLen           = 20
	MaxNumberLen          = 32 // digits; the decimal point is not counted
	MaxLetterLen          = 32
	MaxSymbolLen          = 5
	MaxCharacterStringLen = 32
	MaxAmountDigits       = 10 // digits before the decimal point
	MaxPhoneNumberLen     = 17
	MaxCarNumberLen       = 8
	MaxNameChineseLen     = 10
	MaxNameLatinLen       = 20
	MaxPhraseLen          = 5
)

var keywordNamePattern = regexp.MustCompile(`^([a-z_]+?)(\d+)$`)

// ParseKeywordName splits a keyword name such as "thing1" or
// "character_string12" into its type and reports whether it is well formed.
func ParseKeywordName(name string) (KeywordType, bool) {
	m := keywordNamePattern.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return KeywordType(m[1]), true
}

var templateContentPattern = regexp.MustCompile(`\{\{\s*([a-z_]+\d+)\.DATA\s*\}\}`)

// ParseTemplateContent returns the keyword names of a template's content as
// WeChat returns it ("订单号:{{character_string1.DATA}}\n…"), in order.
func ParseTemplateContent(content string) []string {
	var names []string
	for _, m := range templateContentPattern.FindAllStringSubmatch(content, -1) {
		names = append(names, m[1])
	}
	return names
}

// keywordRule is wxnotify's reading of one row of WeChat's table
// 订阅消息参数值内容限制说明, in the "其他说明" part of the subscribeMessage.send
// reference:
// https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html
//
// A value passes when it has at most MaxLen characters, every character is
// Allowed and Format accepts it; a zero or nil field checks nothing. Where
// the table is silent, docs/wechat.md ("Keyword rules") says what was decided
// and why. testdata/keyword_rules.tsv holds the boundary values with their
// verdicts; the simulator's own reading (wechatsim/rule.go) passes it too.
type keywordRule struct {
	// Limit is the row's 参数值限制 and 说明 columns as the reference words
	// them; the caller sees it after Explain.
	Limit   string
	MaxLen  int
	Allowed func(rune) bool
	Format  func(string) bool
	// Explain says in English what the rule wants.
	Explain string
}

// keywordRules has one rule for each keyword type of WeChat's table. Types
// not in it (KeywordLegacy, types WeChat adds later) are only checked for
// being non-empty.
var keywordRules = map[KeywordType]keywordRule{
	KeywordThing: {
		Limit:   "20个以内字符; 可汉字、数字、字母或符号组合",
		MaxLen:  MaxThingLen,
		Allowed: isPrintable,
		Explain: "at most 20 characters, no control characters such as newlines",
	},
	KeywordNumber: {
		Limit:   "32位以内数字; 只能数字,可带小数",
		MaxLen:  MaxNumberLen + 1, // the digits and one decimal point
		Allowed: func(r rune) bool { return isASCIIDigit(r) || r == '.' },
		Format:  func(v string) bool { return isDecimal(v) && digitCount(v) <= MaxNumberLen },
		Explain: "at most 32 digits 0-9, optionally with one decimal point between digits; no sign, spaces or separators",
	},
	KeywordLetter: {
		Limit:   "32位以内字母; 只能字母",
		MaxLen:  MaxLetterLen,
		Allowed: isLatinLetter,
		Explain: "at most 32 letters A-Z or a-z, nothing else",
	},
	KeywordSymbol: {
		Limit:   "5位以内符号; 只能符号",
		MaxLen:  MaxSymbolLen,
		Allowed: isSymbol,
		Explain: "at most 5 punctuation marks or symbols, nothing else",
	},
	KeywordCharacterString: {
		Limit:   "32位以内数字、字母或符号; 可数字、字母或符号组合",
		MaxLen:  MaxCharacterStringLen,
		Allowed: func(r rune) bool { return isASCIIDigit(r) || isLatinLetter(r) || isSymbol(r) },
		Explain: "at most 32 digits 0-9, letters A-Z or a-z, or symbols; no Chinese, no spaces",
	},
	KeywordTime: {
		Limit:   "24小时制时间格式(支持+年月日),支持填时间段,两个时间点之间用“~”符号连接; 例如:15:01,或:2019年10月1日 15:01",
		Format:  func(v string) bool { return validDateTimeRange(v, false) },
		Explain: "a 24-hour time such as 15:01 or 15:01:05, optionally after a date with its year (2019年10月1日 15:01, 2019-10-01 15:01); a range joins two with ~",
	},
	KeywordDate: {
		Limit:   "年月日格式(支持+24小时制时间),支持填时间段,两个时间点之间用“~”符号连接; 例如:2019年10月1日,或:2019年10月1日 15:01",
		Format:  func(v string) bool { return validDateTimeRange(v, true) },
		Explain: "a real date with its year such as 2019年10月1日, 2019-10-01, 2019/10/01 or 2019.10.01, optionally with a 24-hour time; a range joins two with ~",
	},
	KeywordAmount: {
		Limit:   "1个币种符号+10位以内纯数字,可带小数,结尾可带“元”; 可带小数",
		Format:  validAmount,
		Explain: "an optional currency sign (¥, ￥, $, €, £, …), at most 10 digits, optional decimals, optionally ending in 元; no sign, spaces or separators",
	},
	KeywordPhoneNumber: {
		Limit:   "17位以内,数字、符号; 电话号码,例:+86-0766-66888866",
		MaxLen:  MaxPhoneNumberLen,
		Allowed: func(r rune) bool { return isASCIIDigit(r) || isSymbol(r) },
		Format:  func(v string) bool { return strings.IndexFunc(v, isASCIIDigit) >= 0 },
		Explain: "at most 17 digits and symbols such as +86-0766-66888866, at least one digit; no letters or spaces",
	},
	KeywordCarNumber: {
		Limit:   "8位以内,第一位与最后一位可为汉字,其余为字母或数字; 车牌号码:粤A8Z888挂",
		MaxLen:  MaxCarNumberLen,
		Format:  validCarNumber,
		Explain: "at most 8 letters or digits such as 粤A8Z888挂, where the first and the last may be Chinese; no spaces or dots",
	},
	KeywordName: {
		Limit:   "10个以内纯汉字或20个以内纯字母或符号; 中文名10个汉字内;纯英文名20个字母内;中文和字母混合按中文名算,10个字内",
		MaxLen:  MaxNameLatinLen,
		Format:  validName,
		Explain: "at most 10 characters when it has Chinese, else at most 20 letters, symbols or spaces; no digits",
	},
	KeywordPhrase: {
		Limit:   "5个以内汉字; 5个以内纯汉字,例如:配送中",
		MaxLen:  MaxPhraseLen,
		Allowed: isHan,
		Explain: "at most 5 Chinese characters, nothing else",
	},
	KeywordEnum: {
		Limit:   "只能上传枚举值范围内的字段值; 调用接口获取参考枚举值",
		Explain: "one of the template's enumerated values",
	},
}

func (r keywordRule) accepts(v string) bool {
	if r.MaxLen > 0 && utf8.RuneCountInString(v) > r.MaxLen {
		return false
	}
	if r.Allowed != nil && !all(v, r.Allowed) {
		return false
	}
	return r.Format == nil || r.Format(v)
}

// ValidateKeyword checks value against the rule of keyword type t
// (keywordRules) and returns a sentence naming the rule and saying what it
// wants, or "" when the value is valid. Every type refuses an empty value;
// the types of WeChat's table also refuse one of only spaces. Other types
// are not checked further: WeChat adds types, and rejecting them here would
// stop messages WeChat accepts.
func ValidateKeyword(t KeywordType, value string) string {
	rule, known := keywordRules[t]
	prefix := ""
	if known {
		prefix = string(t) + ": "
	}
	switch {
	case value == "":
		return prefix + "must not be empty"
	case !utf8.ValidString(value):
		return prefix + "must be valid UTF-8"
	case !known:
		return ""
	case strings.TrimFunc(value, unicode.IsSpace) == "":
		return prefix + "must not be only spaces"
	case !rule.accepts(value):
		return prefix + rule.Explain + " (WeChat: " + rule.Limit + ")"
	}
	return ""
}

// isDecimal reports whether v is ASCII digits with at most one decimal
// point, which has digits on both sides.
func isDecimal(v string) bool {
	whole, frac, dot := strings.Cut(v, ".")
	if whole == "" || !all(whole, isASCIIDigit) {
		return false
	}
	return !dot || frac != "" && all(frac, isASCIIDigit)
}

func digitCount(v string) int {
	n := 0
	for _, r := range v {
		if isASCIIDigit(r) {
			n++
		}
	}
	return n
}

// validAmount: one optional currency sign (any of Unicode's Sc), a decimal
// with at most MaxAmountDigits digits before the point, an optional 元.
func validAmount(v string) bool {
	if r, size := utf8.DecodeRuneInString(v); unicode.Is(unicode.Sc, r) {
		v = v[size:]
	}
	v = strings.TrimSuffix(v, "元")
	whole, _, _ := strings.Cut(v, ".")
	return isDecimal(v) && len(whole) <= MaxAmountDigits
}

func validCarNumber(v string) bool {
	r := []rune(v)
	for i, c := range r {
		edge := i == 0 || i == len(r)-1
		if !(isASCIIDigit(c) || isLatinLetter(c) || edge && isHan(c)) {
			return false
		}
	}
	return true
}

// validName: a name with any Chinese character counts as a Chinese name (at
// most MaxNameChineseLen characters), any other as a Latin one (at most
// MaxNameLatinLen). Both may hold letters, symbols and spaces; neither digits.
func validName(v string) bool {
	latin := func(r rune) bool { return isLatinLetter(r) || isSymbol(r) || r == ' ' }
	if strings.IndexFunc(v, isHan) >= 0 {
		return utf8.RuneCountInString(v) <= MaxNameChineseLen && all(v, func(r rune) bool { return isHan(r) || latin(r) })
	}
	return utf8.RuneCountInString(v) <= MaxNameLatinLen && all(v, latin)
}

// A moment of a time or date value: which parts it has.
type moment struct{ date, clock bool }

// validDateTimeRange reports whether v is one moment, or two joined by "~"
// with optional spaces around it. For a date (dateRule) the first moment
// must have a date and the second a date too, or only a clock when the first
// has one ("2019年10月1日 15:01~16:00"); for a time each moment must have a
// clock.
func validDateTimeRange(v string, dateRule bool) bool {
	first, second, isRange := strings.Cut(v, "~")
	if isRange {
		first, second = strings.TrimRight(first, " "), strings.TrimLeft(second, " ")
	}
	a, ok := parseMoment(first)
	if !ok || dateRule && !a.date || !dateRule && !a.clock {
		return false
	}
	if !isRange {
		return true
	}
	b, ok := parseMoment(second)
	if dateRule {
		return ok && (b.date || b.clock && a.clock)
	}
	return ok && b.clock
}

// parseMoment reads an optional date and an optional 24-hour clock after
// it: "2019年10月1日 15:01", "2019-10-01 15:01:05", "15:01", "2019/10/01".
// A clock after a numeric date needs a space before it; after 日 the space
// may be left out.
func parseMoment(s string) (moment, bool) {
	var m moment
	if rest, afterRi, ok := cutDate(s); ok {
		m.date = true
		if rest == "" {
			return m, true
		}
		clock := strings.TrimLeft(rest, " ")
		if len(clock) == len(rest) && !afterRi {
			return m, false
		}
		s = clock
	}
	if !isClock(s) {
		return m, false
	}
	m.clock = true
	return m, true
}

// cutDate reads a leading date with a four-digit year: 2019年10月1日, or
// 2019-10-01, 2019/10/01 or 2019.10.01 (month and day of one or two digits).
// It returns the rest, whether the date ended in 日, and whether there was a
// date of the calendar (no month 13, no 30 February).
func cutDate(s string) (rest string, afterRi, ok bool) {
	y, s, ok := leadingNumber(s, 4, 4)
	if !ok {
		return "", false, false
	}
	if r, found := strings.CutPrefix(s, "年"); found {
		m, r, ok1 := leadingNumber(r, 1, 2)
		r, ok2 := strings.CutPrefix(r, "月")
		d, r, ok3 := leadingNumber(r, 1, 2)
		r, ok4 := strings.CutPrefix(r, "日")
		return r, true, ok1 && ok2 && ok3 && ok4 && isCalendarDate(y, m, d)
	}
	if s == "" || !strings.ContainsRune("-/.", rune(s[0])) {
		return "", false, false
	}
	sep := s[0]
	m, r, ok1 := leadingNumber(s[1:], 1, 2)
	if !ok1 || r == "" || r[0] != sep {
		return "", false, false
	}
	d, r, ok2 := leadingNumber(r[1:], 1, 2)
	return r, false, ok2 && isCalendarDate(y, m, d)
}

// leadingNumber reads at least min and at most max leading ASCII digits.
func leadingNumber(s string, min, max int) (int, string, bool) {
	n, v := 0, 0
	for n < len(s) && n < max && isASCIIDigit(rune(s[n])) {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, s[n:], n >= min
}

func isCalendarDate(y, m, d int) bool {
	if y < 1 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// isClock reports whether s is H:MM or HH:MM, optionally :SS, on a 24-hour
// clock (00:00 to 23:59:59), with ASCII digits and colons.
func isClock(s string) bool {
	h, s, ok := leadingNumber(s, 1, 2)
	if !ok || h > 23 {
		return false
	}
	for part := 0; part < 2; part++ { // the minutes, then the optional seconds
		if part == 1 && s == "" {
			return true
		}
		if s == "" || s[0] != ':' {
			return false
		}
		v, rest, ok := leadingNumber(s[1:], 2, 2)
		if !ok || v > 59 {
			return false
		}
		s = rest
	}
	return s == ""
}

func all(s string, f func(rune) bool) bool {
	for _, r := range s {
		if !f(r) {
			return false
		}
	}
	return true
}

func isHan(r rune) bool         { return unicode.Is(unicode.Han, r) }
func isASCIIDigit(r rune) bool  { return r >= '0' && r <= '9' }
func isLatinLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// isSymbol: a punctuation mark or symbol of any script (Unicode P and S),
// full-width and Chinese punctuation included.
func isSymbol(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }

// isPrintable: anything but control characters and line or paragraph
// separators.
func isPrintable(r rune) bool {
	return !unicode.IsControl(r) && !unicode.In(r, unicode.Zl, unicode.Zp)
}
