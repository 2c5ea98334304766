package wechat

// Message push ("消息推送") security: the signature checks and the AES
// "safe mode" (安全模式) cipher, as described in WeChat's message push guide
// and its WXBizMsgCrypt sample code.
//
// A push arrives as an HTTP request whose query carries timestamp, nonce and
// signature = hex(sha1(sort(Token, timestamp, nonce) joined)). The GET that
// WeChat sends when the URL is configured adds echostr, to be echoed back
// once VerifySignature passes. In safe mode (encrypt_type=aes) the POST body
// is an Envelope, and the query adds msg_signature = hex(sha1(sort(Token,
// timestamp, nonce, Encrypt) joined)); check it with VerifyMsgSignature
// before calling Cipher.Decrypt.
//
// Nothing here does I/O, and no error contains the EncodingAESKey, the Token
// or a decrypted body.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
)

// Sizes of WeChat's safe-mode format.
const (
	// EncodingAESKeyLen is the length of an EncodingAESKey: 43 base64
	// characters, which decode (with "=" appended) to a 32-byte AES key.
	EncodingAESKeyLen = 43

	// cipherPad is the PKCS#7 block size WeChat pads to: 32, not AES's 16.
	cipherPad = 32

	// randomLen and lenLen are the random prefix and the big-endian
	// message length that precede the message in the plaintext.
	randomLen = 16
	lenLen    = 4
)

// ErrDecrypt is wrapped by every error Cipher.Decrypt returns: the
// ciphertext is not base64, has the wrong length, was made with another key,
// was tampered with, or does not hold the documented plaintext layout.
var ErrDecrypt = errors.New("wechat: decrypt push")

// VerifySignature reports whether signature is the push signature for token,
// timestamp and nonce: the hex SHA-1 of the three strings sorted and joined.
// It checks the GET URL verification (echo echostr back only when this
// passes) and every POST in plain mode; in safe mode, check
// VerifyMsgSignature as well. The comparison takes constant time. An empty
// token never verifies.
func VerifySignature(token, signature, timestamp, nonce string) bool {
	if token == "" {
		return false
	}
	return equalHex(sign(token, timestamp, nonce), signature)
}

// VerifyMsgSignature reports whether msgSignature (the msg_signature query
// parameter) is the safe-mode signature for token, timestamp, nonce and
// encrypt (the Envelope's Encrypt field): the hex SHA-1 of the four strings
// sorted and joined. Check it before Cipher.Decrypt. The comparison takes
// constant time. An empty token never verifies.
func VerifyMsgSignature(token, msgSignature, timestamp, nonce, encrypt string) bool {
	if token == "" {
		return false
	}
	return equalHex(sign(token, timestamp, nonce, encrypt), msgSignature)
}

// MsgSignature returns the safe-mode signature of an encrypted reply, the
// value of its MsgSignature element: the hex SHA-1 of token, timestamp,
// nonce and encrypt sorted and joined.
func MsgSignature(token, timestamp, nonce, encrypt string) string {
	return sign(token, timestamp, nonce, encrypt)
}

// sign returns the lowercase hex SHA-1 of parts sorted and joined.
func sign(parts ...string) string {
	slices.Sort(parts)
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// equalHex compares a computed signature with a received one in constant
// time. WeChat sends lowercase hex; uppercase is accepted too.
func equalHex(want, got string) bool {
	if len(got) != len(want) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(got))) == 1
}

// Cipher encrypts and decrypts safe-mode push bodies with one app's
// EncodingAESKey: AES-256-CBC, key = base64(EncodingAESKey+"="), IV = the
// key's first 16 bytes, PKCS#7 padding to a multiple of 32 bytes. The
// plaintext is 16 random bytes, the message length as 4 big-endian bytes,
// the message, then the appid of the app it is for.
//
// A Cipher is safe for concurrent use. It holds key material, so it prints
// and logs as "wechat.Cipher{redacted}".
type Cipher struct {
	block cipher.Block
	iv    [aes.BlockSize]byte
}

// NewCipher returns the Cipher for encodingAESKey, the 43-character key set
// in the mini-program's message push settings. The error does not quote the
// key.
func NewCipher(encodingAESKey string) (*Cipher, error) {
	if len(encodingAESKey) != EncodingAESKeyLen {
		return nil, errors.New("wechat: EncodingAESKey must be 43 base64 characters")
	}
	// Not StrictEncoding: the 43rd character carries 2 bits that are not part
	// of the key, and WeChat's keys leave them set at random.
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("wechat: EncodingAESKey must be 43 base64 characters")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("wechat: EncodingAESKey: cannot build AES cipher")
	}
	c := &Cipher{block: block}
	copy(c.iv[:], key)
	clear(key)
	return c, nil
}

// String redacts the key.
func (c *Cipher) String() string { return "wechat.Cipher{redacted}" }

// GoString redacts the key under %#v.
func (c *Cipher) GoString() string { return "wechat.Cipher{redacted}" }

// LogValue redacts the key in slog output.
func (c *Cipher) LogValue() slog.Value { return slog.StringValue("wechat.Cipher{redacted}") }

// Decrypt decrypts encrypt, the Encrypt field of a safe-mode Envelope, and
// returns the message (the XML or JSON push, for ParseMessage) and the appid
// written after it. The caller must check that appID is the app the push was
// meant for: a body encrypted for another app under the same key decrypts
// fine. Check VerifyMsgSignature first, so that forged ciphertexts are never
// decrypted.
//
// Any malformed input (not base64, a length that is not a positive multiple
// of 32, bad padding, a plaintext shorter than 20 bytes, a length field
// beyond the data, more than MaxPushBodySize characters) is an error
// wrapping ErrDecrypt; Decrypt never panics.
func (c *Cipher) Decrypt(encrypt string) (msg []byte, appID string, err error) {
	if len(encrypt) > MaxPushBodySize {
		return nil, "", fmt.Errorf("%w: ciphertext exceeds MaxPushBodySize", ErrDecrypt)
	}
	buf, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, "", fmt.Errorf("%w: ciphertext is not base64", ErrDecrypt)
	}
	if len(buf) == 0 || len(buf)%cipherPad != 0 {
		return nil, "", fmt.Errorf("%w: ciphertext length %d is not a positive multiple of %d", ErrDecrypt, len(buf), cipherPad)
	}
	cipher.NewCBCDecrypter(c.block, c.iv[:]).CryptBlocks(buf, buf)

	pad := int(buf[len(buf)-1])
	if pad < 1 || pad > cipherPad {
		return nil, "", fmt.Errorf("%w: bad padding (wrong key or tampered ciphertext)", ErrDecrypt)
	}
	// Check every padding byte; the loop does not stop early.
	var bad byte
	for _, b := range buf[len(buf)-pad:] {
		bad |= b ^ byte(pad)
	}
	if bad != 0 {
		return nil, "", fmt.Errorf("%w: bad padding (wrong key or tampered ciphertext)", ErrDecrypt)
	}
	plain := buf[:len(buf)-pad]
	if len(plain) < randomLen+lenLen {
		return nil, "", fmt.Errorf("%w: plaintext too short", ErrDecrypt)
	}
	body := plain[randomLen+lenLen:]
	n := binary.BigEndian.Uint32(plain[randomLen : randomLen+lenLen])
	if uint64(n) > uint64(len(body)) {
		return nil, "", fmt.Errorf("%w: message length exceeds the data", ErrDecrypt)
	}
	return body[:n:n], string(body[n:]), nil
}

// Encrypt encrypts msg for appID as WeChat does, with a fresh random prefix,
// and returns the base64 text for an Envelope's Encrypt field. It is used for
// encrypted replies and in tests; sign the result with MsgSignature.
func (c *Cipher) Encrypt(msg []byte, appID string) (string, error) {
	if uint64(len(msg)) > math.MaxUint32 {
		return "", errors.New("wechat: encrypt push: message too long")
	}
	n := randomLen + lenLen + len(msg) + len(appID)
	pad := cipherPad - n%cipherPad
	buf := make([]byte, randomLen+lenLen, n+pad)
	rand.Read(buf[:randomLen])
	binary.BigEndian.PutUint32(buf[randomLen:], uint32(len(msg)))
	buf = append(buf, msg...)
	buf = append(buf, appID...)
	buf = append(buf, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(c.block, c.iv[:]).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}
