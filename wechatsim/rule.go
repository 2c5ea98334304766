package wechatsim

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keyword rules of subscribe message data: the table 订阅消息参数值内容限制说明 of the
// subscribeMessage.send reference ("其他说明"), read on its own here so that the
// simulator and wxnotify's validator cannot share a misreading; the boundary values both
// must agree on are in ../testdata/keyword_rules.tsv. Lengths count characters (runes),
// not bytes. Every rule rejects an empty value, one of only spaces, and bytes that are not
// UTF-8. "Symbol" is a character of Unicode's P or S categories, of any script; digits and
// letters are ASCII.
//
//	thing             1-20 characters; no control characters
//	number            digits with at most one decimal point between digits ("12", "3.14");
//	                  up to 32 digits, the point not counted; no sign
//	letter            up to 32 ASCII letters
//	symbol            up to 5 symbols
//	character_string  up to 32 ASCII digits, letters or symbols (no spaces, no Chinese)
//	time              a 24-hour time H:MM or HH:MM, optionally :SS, optionally after a date
//	                  ("15:01", "2019年10月1日 15:01", "2019-10-01 15:01:05"); two joined by
//	                  "~" make a range, whose second end may leave out the date
//	date              a date, optionally followed by a 24-hour time ("2019年10月1日",
//	                  "2019-10-01", "2019/10/01 15:01", "2019.10.01"); "~" ranges as for
//	                  time, the second end a date, or a time when the first has one
//	                  Dates have a four-digit year and exist (no 13th month, no 30 February);
//	                  a time after a numeric date needs a space before it, after 日 it may not.
//	amount            an optional currency sign (Unicode Sc), up to 10 integer digits, an
//	                  optional decimal part and an optional trailing "元" ("¥214.00", "30元")
//	phone_number      up to 17 digits and symbols, at least one digit ("+86-0766-66888866")
//	car_number        up to 8 characters: ASCII letters or digits, where the first and the
//	                  last may also be Chinese ("粤A8Z888挂")
//	name              up to 10 characters if it has any Chinese, else up to 20; letters,
//	                  symbols and spaces besides the Chinese; no digits
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
	if strings.TrimSpace(v) == "" || !utf8.ValidString(v) {
		return false
	}
	n := utf8.RuneCountInString(v)
	switch rule {
	case RuleThing:
		return n <= 20 && all(v, func(r rune) bool { return !unicode.IsControl(r) && r != '\u2028' && r != '\u2029' })
	case RuleNumber:
		return isDecimal(v) && countDigits(v) <= 32
	case RuleLetter:
		return n <= 32 && all(v, isASCIILetter)
	case RuleSymbol:
		return n <= 5 && all(v, isSymbol)
	case RuleCharacterString:
		return n <= 32 && all(v, func(r rune) bool { return isASCIILetter(r) || isDigit(r) || isSymbol(r) })
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

func countDigits(s string) int {
	return len(s) - len(strings.Map(func(r rune) rune {
		if isDigit(r) {
			return -1
		}
		return r
	}, s))
}

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
	if n > 8 {
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
	other := func(r rune) bool { return isASCIILetter(r) || r == ' ' || isSymbol(r) }
	if strings.IndexFunc(s, isHan) >= 0 {
		return n <= 10 && all(s, func(r rune) bool { return isHan(r) || other(r) })
	}
	return n <= 20 && all(s, other)
}

// dateTimeRange checks v, or both ends of "a~b" (spaces around the "~" allowed), as a date
// and/or time; needDate and needTime say which part the first end must have. The second end
// of a time range needs a time; that of a date range a date, or a time after a first end
// that has one.
func dateTimeRange(v string, needDate, needTime bool) bool {
	a, b, isRange := strings.Cut(v, "~")
	if isRange {
		a, b = strings.TrimRight(a, " "), strings.TrimLeft(b, " ")
	}
	dateA, timeA, ok := dateTime(a)
	if !ok || needDate && !dateA || needTime && !timeA {
		return false
	}
	if !isRange {
		return true
	}
	dateB, timeB, ok := dateTime(b)
	switch {
	case !ok:
		return false
	case needTime:
		return timeB
	default:
		return dateB || timeA && timeB
	}
}

// dateTime reads an optional date and an optional clock after it, and says which it found.
func dateTime(s string) (hasDate, hasTime, ok bool) {
	if rest, cjk, found := cutDate(s); found {
		hasDate = true
		if rest == "" {
			return true, false, true
		}
		clock := strings.TrimLeft(rest, " ")
		if clock == rest && !cjk {
			return true, false, false
		}
		s = clock
	}
	if !isClock(s) {
		return hasDate, false, false
	}
	return hasDate, true, true
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

// cutDate removes a leading date, "2019年10月1日" or "2019-10-01", "2019/10/01",
// "2019.10.01", and reports whether it ended in 日 and whether the date was real.
func cutDate(s string) (rest string, cjk, ok bool) {
	y, rest, ok := digits(s, 4, 4)
	if !ok || rest == "" {
		return s, false, false
	}
	if r, found := strings.CutPrefix(rest, "年"); found {
		m, r, ok := digits(r, 1, 2)
		if !ok {
			return s, false, false
		}
		if r, found = strings.CutPrefix(r, "月"); !found {
			return s, false, false
		}
		d, r, ok := digits(r, 1, 2)
		if !ok {
			return s, false, false
		}
		r, found = strings.CutPrefix(r, "日")
		return r, true, found && validYMD(y, m, d)
	}
	sep := rest[0]
	if sep != '-' && sep != '/' && sep != '.' {
		return s, false, false
	}
	m, r2, ok := digits(rest[1:], 1, 2)
	if !ok || r2 == "" || r2[0] != sep {
		return s, false, false
	}
	d, r3, ok := digits(r2[1:], 1, 2)
	return r3, false, ok && validYMD(y, m, d)
}

// validYMD reports whether the date exists in the Gregorian calendar.
func validYMD(y, m, d int) bool {
	if y < 1 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && (y%4 == 0 && y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

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

// UnmarshalJSON reads a keyword's {"value": …} as WeChat does: the reference gives data as
// { "key1": { "value": any } }, and a JSON number is taken as its text as written
// ({"value": 123} is "123"). A string is taken as it is; null or a missing value is empty
// (47003 "is empty" later). A boolean, object or array is an error (47001).
func (v *dataValue) UnmarshalJSON(b []byte) error {
	var o struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*v = dataValue{}
	switch raw := o.Value; {
	case len(raw) == 0 || string(raw) == "null":
		return nil
	case raw[0] == '"':
		return json.Unmarshal(raw, &v.Value)
	case raw[0] == '-' || isDigit(rune(raw[0])):
		v.Value = string(raw)
		return nil
	default:
		return errors.New("value is not a string or a number")
	}
}
