package wechat_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/wechat"
)

// The vectors below are WeChat's own: the message push guide's worked
// examples (Token "AAAAA") and the WXBizMsgCrypt sample code shipped with the
// encryption guide (Token "spamtest"; the "weixin" one is from the same
// sample set, as reproduced by several SDKs' tests).
const (
	sampleKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	sampleToken = "spamtest"
	sampleAppID = "wx2c2769f8efd9abc2"
	sampleTS    = "1409735669"
	sampleNonce = "1320562132"
	sampleSig   = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	sampleEnc   = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="

	weixinToken = "weixin"
	weixinAppID = "wxbad0b45542aa0b5e"
	weixinTS    = "1414243737"
	weixinNonce = "1792106704"
	weixinSig   = "35703636de2f9df2a77a662b68e521ce17c34db4"
	weixinMsg   = "6147984331daf7a1a9eed6e0ec3ba69055256154"
	weixinEnc   = "MNn4+jJ/VsFh2gUyKAaOJArwEVYCvVmyN0iXzNarP3O6vXzK62ft1/KG2/XPZ4y5bPWU/jfIfQxODRQ7sLkUsrDRqsWimuhIT8Eq+w4E/28m+XDAQKEOjWTQIOp1p6kNsIV1DdC3B+AtcKcKSNAeJDr7x7GHLx5DZYK09qQsYDOjP6R5NqebFjKt/NpEl/GU3gWFwG8LCtRNuIYdK5axbFSfmXbh5CZ6Bk5wSwj5fu5aS90cMAgUhGsxrxZTY562QR6c+3ydXxb+GHI5w+qA+eqJjrQqR7u5hS+1x5sEsA7vS+bZ5LYAR3+PZ243avQkGllQ+rg7a6TeSGDxxhvLw+mxxinyk88BNHkJnyK//hM1k9PuvuLAASdaud4vzRQlAmnYOslZl8CN7gjCjV41skUTZv3wwGPxvEqtm/nf5fQ="

	// otherKey is a second valid key, with random trailing bits in its
	// last character as real keys have.
	otherKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
)

// sha1Sorted is this test's own reading of the signature rule.
func sha1Sorted(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	h := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(h[:])
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name                             string
		token, signature, timestamp, non string
		want                             bool
	}{
		// Message push guide, URL verification (GET with echostr).
		{"DocGET", "AAAAA", "f464b24fc39322e44b38aa78f5edd27bd1441696", "1714036504", "1514711492", true},
		// Message push guide, plain-mode POST.
		{"DocPOST", "AAAAA", "899cf89e464efb63f54ddac96b0a0a235f53aa78", "1714037059", "486452656", true},
		{"SampleWeixin", weixinToken, weixinSig, weixinTS, weixinNonce, true},
		{"Computed", "tok", sha1Sorted("tok", "1700000000", "42"), "1700000000", "42", true},
		{"UpperHex", "AAAAA", "F464B24FC39322E44B38AA78F5EDD27BD1441696", "1714036504", "1514711492", true},
		{"WrongToken", "AAAAB", "f464b24fc39322e44b38aa78f5edd27bd1441696", "1714036504", "1514711492", false},
		{"WrongNonce", "AAAAA", "f464b24fc39322e44b38aa78f5edd27bd1441696", "1714036504", "1514711493", false},
		{"SwappedArgsStillSorted", "AAAAA", "f464b24fc39322e44b38aa78f5edd27bd1441696", "1514711492", "1714036504", true},
		{"Truncated", "AAAAA", "f464b24fc39322e44b38aa78f5edd27bd144169", "1714036504", "1514711492", false},
		{"Empty", "AAAAA", "", "1714036504", "1514711492", false},
		{"EmptyToken", "", sha1Sorted("", "1", "2"), "1", "2", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := wechat.VerifySignature(tt.token, tt.signature, tt.timestamp, tt.non); got != tt.want {
				t.Fatalf("VerifySignature=%v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerifyMsgSignature(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name                                string
		token, sig, timestamp, non, encrypt string
		want                                bool
	}{
		{"Sample", sampleToken, sampleSig, sampleTS, sampleNonce, sampleEnc, true},
		{"SampleWeixin", weixinToken, weixinMsg, weixinTS, weixinNonce, weixinEnc, true},
		{"Computed", "tok", sha1Sorted("tok", "1", "2", "ZW5j"), "1", "2", "ZW5j", true},
		{"PlainSignatureIsNotMsgSignature", weixinToken, weixinSig, weixinTS, weixinNonce, weixinEnc, false},
		{"TamperedEncrypt", sampleToken, sampleSig, sampleTS, sampleNonce, "A" + sampleEnc[1:], false},
		{"WrongToken", "spamtesT", sampleSig, sampleTS, sampleNonce, sampleEnc, false},
		{"EmptyToken", "", sha1Sorted("", "1", "2", "e"), "1", "2", "e", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := wechat.VerifyMsgSignature(tt.token, tt.sig, tt.timestamp, tt.non, tt.encrypt); got != tt.want {
				t.Fatalf("VerifyMsgSignature=%v, want %v", got, tt.want)
			}
		})
	}
	if got, want := wechat.MsgSignature(sampleToken, sampleTS, sampleNonce, sampleEnc), sampleSig; got != want {
		t.Fatalf("MsgSignature=%s, want %s", got, want)
	}
}

func mustCipher(tb testing.TB, key string) *wechat.Cipher {
	tb.Helper()
	c, err := wechat.NewCipher(key)
	if err != nil {
		tb.Fatalf("NewCipher: %v", err)
	}
	return c
}

func TestCipher_DecryptSample(t *testing.T) {
	t.Parallel()
	c := mustCipher(t, sampleKey)
	for _, tt := range []struct {
		name, enc, appID, prefix, contains string
	}{
		{"Sample", sampleEnc, sampleAppID, "<xml>", "<Content><![CDATA[abcdteT]]></Content>"},
		{"SampleWeixin", weixinEnc, weixinAppID, "<xml>", "<ToUserName><![CDATA[gh_680bdefc8c5d]]></ToUserName>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg, appID, err := c.Decrypt(tt.enc)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if got, want := appID, tt.appID; got != want {
				t.Fatalf("appID=%q, want %q", got, want)
			}
			if !bytes.HasPrefix(msg, []byte(tt.prefix)) || !bytes.Contains(msg, []byte(tt.contains)) {
				t.Fatalf("msg=%q", msg)
			}
			m, err := wechat.ParseMessage(msg, false)
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if m.ToUserName == "" || m.FromUserName == "" || m.CreateTime == 0 || m.MsgType == "" {
				t.Fatalf("message %+v", m)
			}
		})
	}
}

func TestNewCipher(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, key string
		ok        bool
	}{
		{"OK", sampleKey, true},
		{"OKTrailingBits", otherKey, true},
		{"Short", sampleKey[:42], false},
		{"Long", sampleKey + "H", false},
		{"Empty", "", false},
		{"NotBase64", "abcdefghijklmnopqrstuvwxyz0123456789ABCDE!G", false},
		{"Padded", sampleKey[:42] + "=", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := wechat.NewCipher(tt.key)
			if got := err == nil; got != tt.ok {
				t.Fatalf("NewCipher err=%v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if c != nil {
					t.Fatal("non-nil Cipher with an error")
				}
				if tt.key != "" && strings.Contains(err.Error(), tt.key) {
					t.Fatalf("error quotes the key: %v", err)
				}
			}
		})
	}
}

func TestCipher_RoundTrip(t *testing.T) {
	t.Parallel()
	c := mustCipher(t, otherKey)
	for _, n := range []int{0, 1, 11, 12, 13, 31, 32, 33, 100, 4096} {
		for _, appID := range []string{"", testAppID} {
			msg := bytes.Repeat([]byte("x<y>"), n)[:n]
			enc, err := c.Encrypt(msg, appID)
			if err != nil {
				t.Fatalf("Encrypt(%d): %v", n, err)
			}
			// Independent decryption, then the package's.
			plain := rawDecrypt(t, otherKey, enc)
			if got, want := int(binary.BigEndian.Uint32(plain[16:20])), n; got != want {
				t.Fatalf("length field %d, want %d", got, want)
			}
			if got, want := string(plain[20:]), string(msg)+appID; got != want {
				t.Fatalf("plaintext %q, want %q", got, want)
			}
			got, gotApp, err := c.Decrypt(enc)
			if err != nil {
				t.Fatalf("Decrypt(%d): %v", n, err)
			}
			if !bytes.Equal(got, msg) || gotApp != appID {
				t.Fatalf("Decrypt=%q,%q want %q,%q", got, gotApp, msg, appID)
			}
			// The message must not alias the appid: appending to it is safe.
			_ = append(got, "zzzz"...)
			if _, gotApp2, _ := c.Decrypt(enc); gotApp2 != appID {
				t.Fatal("second decrypt differs")
			}
		}
	}
	a, _ := c.Encrypt([]byte("same"), testAppID)
	b, _ := c.Encrypt([]byte("same"), testAppID)
	if a == b {
		t.Fatal("two encryptions are identical: the random prefix is not random")
	}
}

// rawDecrypt is this test's own reading of safe mode: it returns the
// plaintext with its PKCS#7 padding (block 32) checked and removed.
func rawDecrypt(t *testing.T, key43, enc string) []byte {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(key43 + "=")
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(ct)%32 != 0 {
		t.Fatalf("ciphertext: %v, %d bytes", err, len(ct))
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		t.Fatalf("bad padding %d", pad)
	}
	return plain[:len(plain)-pad]
}

// rawEncrypt encrypts plain as it is, with no padding added: the caller
// builds whatever padding (valid or not) the case needs. len(plain) must be
// a multiple of 16.
func rawEncrypt(key43 string, plain []byte) string {
	key, _ := base64.StdEncoding.DecodeString(key43 + "=")
	block, _ := aes.NewCipher(key)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(ct, plain)
	return base64.StdEncoding.EncodeToString(ct)
}

// plaintext builds random(16) + length + msg + appid with the given
// length field, padded to fill (a multiple of 32) with pad bytes of value
// padVal, or correctly when padVal is 0.
func plaintext(lenField uint32, msg, appID string, padVal byte) []byte {
	p := make([]byte, 20, 64)
	copy(p, "0123456789abcdef")
	binary.BigEndian.PutUint32(p[16:], lenField)
	p = append(p, msg...)
	p = append(p, appID...)
	n := 32 - len(p)%32
	v := byte(n)
	if padVal != 0 {
		v = padVal
	}
	return append(p, bytes.Repeat([]byte{v}, n)...)
}

func TestCipher_DecryptErrors(t *testing.T) {
	t.Parallel()
	c := mustCipher(t, sampleKey)
	const secretBody = "SECRET-BODY-never-in-errors"
	good, err := c.Encrypt([]byte(secretBody), testAppID)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(good)

	flipped := bytes.Clone(ct)
	flipped[len(flipped)-17] ^= 0x01 // flips the last padding byte (CBC), deterministically
	inconsistent := plaintext(uint32(len(secretBody)), secretBody, testAppID, 0)
	inconsistent[len(inconsistent)-2] ^= 0xff
	allPad := bytes.Repeat([]byte{32}, 32) // padding only: plaintext shorter than 20 bytes

	for _, tt := range []struct {
		name string
		enc  string
	}{
		{"Empty", ""},
		{"NotBase64", "!!!!" + good[4:]},
		{"URLBase64", strings.NewReplacer("+", "-", "/", "_").Replace(sampleEnc)},
		{"MissingPadding", strings.TrimRight(good, "=") + "A"},
		{"Truncated16", base64.StdEncoding.EncodeToString(ct[:len(ct)-16])},
		{"NotBlockMultiple", base64.StdEncoding.EncodeToString(ct[:len(ct)-1])},
		{"OneBlock16", base64.StdEncoding.EncodeToString(ct[:16])},
		{"TamperedPadding", base64.StdEncoding.EncodeToString(flipped)},
		{"WrongKey", mustEncrypt(t, otherKey, secretBody)},
		{"Pad0", rawEncrypt(sampleKey, withLastByte(plaintext(uint32(len(secretBody)), secretBody, testAppID, 0), 0))},
		{"Pad33", rawEncrypt(sampleKey, withLastByte(plaintext(uint32(len(secretBody)), secretBody, testAppID, 0), 33))},
		{"Pad255", rawEncrypt(sampleKey, withLastByte(plaintext(uint32(len(secretBody)), secretBody, testAppID, 0), 255))},
		{"PadInconsistent", rawEncrypt(sampleKey, inconsistent)},
		{"ShortPlaintext", rawEncrypt(sampleKey, allPad)},
		{"LengthOverflow", rawEncrypt(sampleKey, plaintext(uint32(len(secretBody)+len(testAppID)+1), secretBody, testAppID, 0))},
		{"LengthMax", rawEncrypt(sampleKey, plaintext(0xffffffff, secretBody, testAppID, 0))},
		{"TooLong", strings.Repeat("AAAA", wechat.MaxPushBodySize/4+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg, appID, err := c.Decrypt(tt.enc)
			if err == nil {
				t.Fatalf("Decrypt succeeded: %q, %q", msg, appID)
			}
			if !errors.Is(err, wechat.ErrDecrypt) {
				t.Fatalf("err=%v, want ErrDecrypt", err)
			}
			if msg != nil || appID != "" {
				t.Fatalf("results with an error: %q, %q", msg, appID)
			}
			for _, s := range []string{secretBody, sampleKey, testAppID} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q contains %q", err, s)
				}
			}
		})
	}

	// Every single-bit flip of a valid ciphertext is handled without a
	// panic. (Some flips decrypt: CBC garbles a block without any
	// integrity check, which is why msg_signature must be checked first.)
	for i := range ct {
		for bit := range 8 {
			b := bytes.Clone(ct)
			b[i] ^= 1 << bit
			_, _, err := c.Decrypt(base64.StdEncoding.EncodeToString(b))
			if err != nil && !errors.Is(err, wechat.ErrDecrypt) {
				t.Fatalf("flip %d.%d: err=%v, want ErrDecrypt", i, bit, err)
			}
		}
	}
}

// withLastByte sets the last byte of p, the padding length, to v.
func withLastByte(p []byte, v byte) []byte {
	p[len(p)-1] = v
	return p
}

func mustEncrypt(tb testing.TB, key, msg string) string {
	tb.Helper()
	enc, err := mustCipher(tb, key).Encrypt([]byte(msg), testAppID)
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

func TestCipher_Redacted(t *testing.T) {
	t.Parallel()
	c := mustCipher(t, sampleKey)
	key, _ := base64.StdEncoding.DecodeString(sampleKey + "=")
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "c", c)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "c", c)
	for _, out := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		fmt.Sprintf("%s", c), fmt.Sprintf("%x", c), logBuf.String(),
	} {
		if strings.Contains(out, sampleKey) || strings.Contains(out, string(key[:16])) ||
			strings.Contains(out, hex.EncodeToString(key[:16])) || strings.Contains(out, fmt.Sprint(key[:16])) {
			t.Fatalf("output reveals the key: %s", out)
		}
	}
}

// FuzzDecrypt feeds arbitrary Encrypt fields to Decrypt: it must never
// panic, and whatever it accepts must survive an Encrypt/Decrypt round trip.
func FuzzDecrypt(f *testing.F) {
	c := mustCipher(f, sampleKey)
	f.Add(sampleEnc)
	f.Add(weixinEnc)
	f.Add("")
	f.Add("====")
	f.Add(mustEncrypt(f, sampleKey, `{"ToUserName":"gh_1","Event":"subscribe_msg_popup_event","List":{"TemplateId":"T"}}`))
	f.Fuzz(func(t *testing.T, enc string) {
		msg, appID, err := c.Decrypt(enc)
		if err != nil {
			if !errors.Is(err, wechat.ErrDecrypt) {
				t.Fatalf("error %v does not wrap ErrDecrypt", err)
			}
			if msg != nil || appID != "" {
				t.Fatal("results with an error")
			}
			return
		}
		if len(msg)+len(appID)+20 > len(enc) {
			t.Fatalf("decrypted %d+%d bytes from %d characters", len(msg), len(appID), len(enc))
		}
		again, err := c.Encrypt(msg, appID)
		if err != nil {
			t.Fatal(err)
		}
		msg2, appID2, err := c.Decrypt(again)
		if err != nil || !bytes.Equal(msg, msg2) || appID != appID2 {
			t.Fatalf("round trip: %v", err)
		}
	})
}
