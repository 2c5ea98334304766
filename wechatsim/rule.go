package wechatsim

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keyword rules of subscribe message data (订阅消息参数值内容限制说明). Lengths count
// characters (runes), not bytes. Every rule rejects an empty value.
//
//	thing             1-20 characters of any kind
//	number            up to 32 digits, optionally one decimal point ("12", "3.14")
//	letter            up to 32 ASCII letters
//	symbol            up to 5 symbols or punctuation marks
//	character_string  up to 32 ASCII digits, letters or symbols (no spaces, no Chinese)
//	time              a 24-hour time, optionally after a date ("15:01", "2019年10月1日 15:01",
//	                  "2019-10-01 15:01:05"); two of them joined by "~" make a range
//	date              a date, optionally followed by a 24-hour time ("2019年10月1日",
//	                  "2019-10-01", "2019/10/01 15:01"); "~" ranges as for time
//	amount            an optional currency symbol, up to 10 integer digits, an optional
//	                  decimal part and an optional trailing "元" ("¥214.00", "30元")
//	phone_number      up to 17 digits and symbols ("+86-0766-66888866")
//	car_number        up to 8 characters: ASCII letters or digits, where the first and the
//	                  last may also be Chinese ("粤A8Z888挂")
//	name              up to 10 characters if it has any Chinese (Chinese, with letters or "·"
//	                  mixed in), else up to 20 letters, spaces or symbols
//	phrase            up to 5 Chinese characters
//
// Unknown rules (e.g. enum) accept 1-20 characters, like thing.
const (
	RuleThing           = "thing"
	RuleNumber          = "number"
	RuleLetter          = "letter"
	RuleSymbol          = "symbol"
	RuleCharacterString = "character_string"
	RuleTime            = "time"
	RuleDate            = "date"
	RuleAmount          = "amount"
	RulePhoneNumber     = "phone_number"
	RuleCarNumber       = "car_number"
	RuleName            = "name"
	RulePhrase          = "phrase"
)

// RuleOf returns the rule of a data key: the key without its trailing digits
// ("character_string2" -> "character_string").
func RuleOf(key string) string {
	return strings.TrimRight(key, "0123456789")
}

// ValidValue reports whether v satisfies rule.
func ValidValue(rule, v string) bool {
	if v == "" {
		return false
	}
	n := utf8.RuneCountInString(v)
	switch rule {
	case RuleThing:
		return n <= 20
	case RuleNumber:
		return n <= 32 && isDecimal(v)
	case RuleLetter:
		return n <= 32 && all(v, isASCIILetter)
	case RuleSymbol:
		return n <= 5 && all(v, isSymbol)
	case RuleCharacterString:
		return n <= 32 && all(v, func(r rune) bool {
			return r < utf8.RuneSelf && (isASCIILetter(r) || isDigit(r) || isSymbol(r))
		})
	case RuleTime:
		return dateTimeRange(v, false, true)
	case RuleDate:
		return dateTimeRange(v, true, false)
	case RuleAmount:
		return validAmount(v)
	case RulePhoneNumber:
		return n <= 17 && all(v, func(r rune) bool { return isDigit(r) || isSymbol(r) }) &&
			strings.IndexFunc(v, isDigit) >= 0
	case RuleCarNumber:
		return validCarNumber(v, n)
	case RuleName:
		return validName(v, n)
	case RulePhrase:
		return n <= 5 && all(v, isHan)
	default:
		return n <= 20
	}
}

func all(s string, f func(rune) bool) bool {
	for _, r := range s {
		if !f(r) {
			return false
		}
	}
	return true
}

func isDigit(r rune) bool       { return r >= '0' && r <= '9' }
func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isSymbol(r rune) bool      { return unicode.IsPunct(r) || unicode.IsSymbol(r) }
func isHan(r rune) bool         { return unicode.Is(unicode.Han, r) }

// isDecimal reports whether s is digits with at most one interior decimal point.
func isDecimal(s string) bool {
	intPart, frac, dot := strings.Cut(s, ".")
	if intPart == "" || !all(intPart, isDigit) {
		return false
	}
	return !dot || frac != "" && all(frac, isDigit)
}

func validAmount(s string) bool {
	if r, size := utf8.DecodeRuneInString(s); unicode.Is(unicode.Sc, r) {
		s = s[size:]
	}
	s = strings.TrimSuffix(s, "元")
	intPart, _, _ := strings.Cut(s, ".")
	return isDecimal(s) && len(intPart) <= 10
}

func validCarNumber(s string, n int) bool {
	if n < 2 || n > 8 {
		return false
	}
	i := 0
	for _, r := range s {
		edge := i == 0 || i == n-1
		if !(isASCIILetter(r) || isDigit(r) || edge && isHan(r)) {
			return false
		}
		i++
	}
	return true
}

func validName(s string, n int) bool {
	if strings.IndexFunc(s, isHan) >= 0 {
		return n <= 10 && all(s, func(r rune) bool { return isHan(r) || isASCIILetter(r) || r == '·' })
	}
	return n <= 20 && strings.IndexFunc(s, isASCIILetter) >= 0 &&
		all(s, func(r rune) bool { return isASCIILetter(r) || r == ' ' || isSymbol(r) })
}

// dateTimeRange checks v, or both ends of "a~b", as a date and/or time; needDate and needTime
// say which parts each end must have.
func dateTimeRange(v string, needDate, needTime bool) bool {
	a, b, isRange := strings.Cut(v, "~")
	if !dateTime(a, needDate, needTime) {
		return false
	}
	return !isRange || dateTime(b, needDate, needTime)
}

func dateTime(s string, needDate, needTime bool) bool {
	s = strings.TrimSpace(s)
	hasDate := false
	if rest, ok := cutDate(s); ok {
		hasDate = true
		s = strings.TrimLeft(rest, " ")
	}
	hasTime := false
	if s != "" {
		if !isClock(s) {
			return false
		}
		hasTime = true
	}
	return (hasDate || hasTime) && (!needDate || hasDate) && (!needTime || hasTime)
}

// digits reads 1..max leading ASCII digits (at least min) and returns their value and the rest.
func digits(s string, min, max int) (int, string, bool) {
	n, v := 0, 0
	for n < len(s) && n < max && isDigit(rune(s[n])) {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, s[n:], n >= min
}

// cutDate removes a leading date: "2019年10月1日", "10月1日", "2019-10-01" or "2019/10/01".
func cutDate(s string) (string, bool) {
	y, rest, ok := digits(s, 4, 4)
	if ok && rest != "" && (rest[0] == '-' || rest[0] == '/') {
		sep := rest[0]
		m, r2, ok := digits(rest[1:], 1, 2)
		if !ok || r2 == "" || r2[0] != sep {
			return s, false
		}
		d, r3, ok := digits(r2[1:], 1, 2)
		return r3, ok && validYMD(y, m, d)
	}
	if ok {
		r, found := strings.CutPrefix(rest, "年")
		if !found {
			return s, false
		}
		rest = r
	} else {
		rest, y = s, 2000
	}
	m, rest, ok := digits(rest, 1, 2)
	if !ok {
		return s, false
	}
	rest, found := strings.CutPrefix(rest, "月")
	if !found {
		return s, false
	}
	d, rest, ok := digits(rest, 1, 2)
	if !ok {
		return s, false
	}
	rest, found = strings.CutPrefix(rest, "日")
	return rest, found && validYMD(y, m, d)
}

func validYMD(y, m, d int) bool { return y > 0 && m >= 1 && m <= 12 && d >= 1 && d <= 31 }

// isClock reports whether s is H:MM or HH:MM, optionally :SS, on a 24-hour clock.
func isClock(s string) bool {
	h, rest, ok := digits(s, 1, 2)
	if !ok || h > 23 || rest == "" || rest[0] != ':' {
		return false
	}
	m, rest, ok := digits(rest[1:], 2, 2)
	if !ok || m > 59 {
		return false
	}
	if rest == "" {
		return true
	}
	if rest[0] != ':' {
		return false
	}
	sec, rest, ok := digits(rest[1:], 2, 2)
	return ok && sec <= 59 && rest == ""
}
