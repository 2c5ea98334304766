package wxnotify

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// KeywordType is the type of one keyword of a subscribe-message template, the
// part of its name before the digits: "thing" in {{thing1.DATA}}. WeChat
// checks each value against the rule of its type and rejects the whole
// message with errcode 47003 when one breaks it; wxnotify checks the same
// rules when a message is accepted, so the caller hears of it at once.
type KeywordType string

// The keyword types and their rules, from WeChat's table "订阅消息参数值内容限制说明".
// Lengths count characters (runes), not bytes.
const (
	KeywordThing           KeywordType = "thing"            // ≤20 characters of any kind
	KeywordNumber          KeywordType = "number"           // ≤32 digits, may carry a decimal point
	KeywordLetter          KeywordType = "letter"           // ≤32 letters only
	KeywordSymbol          KeywordType = "symbol"           // ≤5 symbols only
	KeywordCharacterString KeywordType = "character_string" // ≤32 digits, letters or symbols
	KeywordTime            KeywordType = "time"             // 24-hour time, optionally with a date; ranges joined by "~"
	KeywordDate            KeywordType = "date"             // a date, optionally with a 24-hour time; ranges joined by "~"
	KeywordAmount          KeywordType = "amount"           // optional currency symbol + ≤10 digits, may have decimals, may end in "元"
	KeywordPhoneNumber     KeywordType = "phone_number"     // ≤17 digits and symbols
	KeywordCarNumber       KeywordType = "car_number"       // ≤8; first and last may be Chinese, the rest letters or digits
	KeywordName            KeywordType = "name"             // ≤10 Chinese characters, or ≤20 letters/symbols
	KeywordPhrase          KeywordType = "phrase"           // ≤5 Chinese characters only
	KeywordEnum            KeywordType = "enum"             // one of the template's enumerated values; not checked here
	// KeywordLegacy is a keyword of a legacy template message ("keyword1").
	// WeChat documents no rule beyond a non-empty value.
	KeywordLegacy KeywordType = "keyword"
)

// Limits of the length-bounded keyword types, in characters.
const (
	MaxThingLen           = 20
	MaxNumberLen          = 32
	MaxLetterLen          = 32
	MaxSymbolLen          = 5
	MaxCharacterStringLen = 32
	MaxAmountDigits       = 10
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

var (
	numberPattern = regexp.MustCompile(`^[+-]?\d+(\.\d+)?$`)
	amountPattern = regexp.MustCompile(`^[¥￥$€£]?[+-]?(\d{1,10})(\.\d+)?元?$`)
	phonePattern  = regexp.MustCompile(`^[0-9+\-() ]+$`)
	// A time of day, with or without seconds.
	clockPart = `([01]?\d|2[0-3])[:：][0-5]\d([:：][0-5]\d)?`
	// A date as 2019年10月1日, 2019-10-01, 2019/10/01 or 2019.10.01; the year
	// may be left out ("10月1日").
	datePart    = `((\d{4})年)?\d{1,2}月\d{1,2}日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}`
	timePattern = regexp.MustCompile(`^((` + datePart + `)\s*)?` + clockPart + `$`)
	datePattern = regexp.MustCompile(`^(` + datePart + `)(\s*` + clockPart + `)?$`)
)

// ValidateKeyword checks value against the rule of keyword type t and
// returns a sentence saying what is wrong, or "" when the value is valid.
// Unknown types are not checked: WeChat adds types, and rejecting them here
// would stop messages WeChat accepts.
func ValidateKeyword(t KeywordType, value string) string {
	if value == "" {
		return "must not be empty"
	}
	if !utf8.ValidString(value) {
		return "must be valid UTF-8"
	}
	n := utf8.RuneCountInString(value)
	switch t {
	case KeywordThing:
		if n > MaxThingLen {
			return "thing: at most 20 characters"
		}
	case KeywordNumber:
		if n > MaxNumberLen || !numberPattern.MatchString(value) {
			return "number: at most 32 digits, optionally with a decimal point"
		}
	case KeywordLetter:
		if n > MaxLetterLen || !all(value, isLatinLetter) {
			return "letter: at most 32 letters, letters only"
		}
	case KeywordSymbol:
		if n > MaxSymbolLen || !all(value, isSymbol) {
			return "symbol: at most 5 symbols, symbols only"
		}
	case KeywordCharacterString:
		if n > MaxCharacterStringLen || !all(value, func(r rune) bool { return isASCIIDigit(r) || isLatinLetter(r) || isSymbol(r) }) {
			return "character_string: at most 32 digits, letters or symbols"
		}
	case KeywordTime:
		if !matchRange(timePattern, value) {
			return "time: a 24-hour time such as 15:01, optionally after a date (2019年10月1日 15:01); a range joined by ~"
		}
	case KeywordDate:
		if !matchRange(datePattern, value) {
			return "date: a date such as 2019年10月1日 or 2019-10-01, optionally with a 24-hour time; a range joined by ~"
		}
	case KeywordAmount:
		if !amountPattern.MatchString(value) {
			return "amount: an optional currency symbol and at most 10 digits, optional decimals, optionally ending in 元"
		}
	case KeywordPhoneNumber:
		if n > MaxPhoneNumberLen || !phonePattern.MatchString(value) {
			return "phone_number: at most 17 digits and symbols (+86-0766-66888866)"
		}
	case KeywordCarNumber:
		if !validCarNumber(value) {
			return "car_number: at most 8 characters; the first and last may be Chinese, the rest letters or digits"
		}
	case KeywordName:
		if !validName(value) {
			return "name: at most 10 Chinese characters, or at most 20 letters"
		}
	case KeywordPhrase:
		if n > MaxPhraseLen || !all(value, isHan) {
			return "phrase: at most 5 Chinese characters, Chinese only"
		}
	}
	return ""
}

// matchRange matches a value or a range "A~B" of two values.
func matchRange(p *regexp.Regexp, v string) bool {
	if a, b, ok := strings.Cut(v, "~"); ok {
		return p.MatchString(strings.TrimSpace(a)) && p.MatchString(strings.TrimSpace(b))
	}
	return p.MatchString(v)
}

func validCarNumber(v string) bool {
	r := []rune(v)
	if len(r) < 2 || len(r) > MaxCarNumberLen {
		return false
	}
	for i, c := range r {
		edge := i == 0 || i == len(r)-1
		if !(isASCIIDigit(c) || isLatinLetter(c) || (edge && isHan(c))) {
			return false
		}
	}
	return true
}

func validName(v string) bool {
	n := utf8.RuneCountInString(v)
	if strings.IndexFunc(v, isHan) >= 0 {
		// Chinese, or Chinese mixed with letters, counts as a Chinese name.
		return n <= MaxNameChineseLen && all(v, func(r rune) bool { return isHan(r) || isLatinLetter(r) || r == '·' })
	}
	return n <= MaxNameLatinLen && all(v, func(r rune) bool { return isLatinLetter(r) || r == ' ' || r == '.' || r == '-' || r == '\'' })
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
func isLatinLetter(r rune) bool { return r < unicode.MaxASCII && unicode.IsLetter(r) }
func isSymbol(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsPunct(r) || unicode.IsSymbol(r))
}
