package client_test

import (
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

// FuzzCSVRecipients: any CSV input yields recipients and at most one error,
// the error last and EINVALID (or a read error, impossible from a string);
// no recipient carries the openid column or an empty cell as data.
func FuzzCSVRecipients(f *testing.F) {
	for _, s := range []string{
		"openid\no1\no2\n",
		"\ufeffopenid,thing1\no1,书\no2,\n",
		"thing1,openid\n\"a,b\",o1\n",
		"name\no1\n", "", "openid\n\"unterminated\n", "openid,thing1\no1\n", " openid ,\no1,x\n",
		// Empty cells and rows, CRLF and blank lines, bytes that are not UTF-8,
		// stray quotes, rows of commas only.
		"openid\n,", "openid,\n\xfb,\n\x80,", "openid\r\no1\r\n\r\no2", "openid\n\xa00\n\x8a0", "\n\r",
		"\"\"\xff", "\"\"\"\"0", "\"\n\n\n0", ",,,,,,,,", "openid\n0\n0\n0\n0", "\xce        ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, errs := 0, 0
		for r, err := range client.CSVRecipients(strings.NewReader(in)) {
			if errs > 0 {
				t.Fatalf("a value after an error")
			}
			if err != nil {
				errs++
				if wxnotify.ErrorCode(err) != wxnotify.EINVALID {
					t.Fatalf("error %v: code %s, want %s", err, wxnotify.ErrorCode(err), wxnotify.EINVALID)
				}
				continue
			}
			n++
			for k, v := range r.Data {
				if k == "" || k == "openid" || v == "" {
					t.Fatalf("recipient %d: data %q=%q", n, k, v)
				}
			}
			if r.OpenID != strings.TrimSpace(r.OpenID) {
				t.Fatalf("openid %q not trimmed", r.OpenID)
			}
		}
	})
}
