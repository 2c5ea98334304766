// Package seal encrypts values at rest (app secrets, access_tokens) with
// AES-256-GCM under one operator-supplied key.
//
// A sealed value is: version byte (1), key id (4 bytes: the first bytes of
// SHA-256 of the key), nonce (12 bytes), ciphertext with tag. The key id lets
// Open tell "this was sealed under another key" apart from "this was
// tampered with", which is the usual operator mistake. Each value is bound to
// its purpose and owner through the additional data, so a sealed secret cannot
// be copied to another app's row and decrypt there.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// Environment variables read by KeyFromEnv.
const (
	EnvKey     = "WXNOTIFY_SECRET_KEY"      // the key, base64 (std or URL) or hex
	EnvKeyFile = "WXNOTIFY_SECRET_KEY_FILE" // a file holding the key in the same encodings
)

const version = 1

// ErrNoKey is returned when no key is configured.
var ErrNoKey = errors.New("no secret key: set " + EnvKey + " (32 random bytes, base64) or " + EnvKeyFile + "; generate one with: wxnotify keygen")

// ErrWrongKey is returned when a value was sealed under a different key.
var ErrWrongKey = errors.New("sealed with a different secret key than the one configured")

// Box seals and opens values with one key. The zero Box is unusable: make one
// with New.
type Box struct {
	aead  cipher.AEAD
	keyID [4]byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	b := &Box{aead: aead}
	sum := sha256.Sum256(key)
	copy(b.keyID[:], sum[:4])
	return b, nil
}

// KeyID returns the key's short id in hex, safe to show to operators.
func (b *Box) KeyID() string { return hex.EncodeToString(b.keyID[:]) }

// Seal encrypts plaintext bound to context (for example "app_secret:wx…").
func (b *Box) Seal(plaintext []byte, context string) []byte {
	out := make([]byte, 0, 1+4+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out = append(out, version)
	out = append(out, b.keyID[:]...)
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("seal: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, []byte(context))
}

// Open decrypts a value sealed with the same context. It returns ErrWrongKey
// when the value was sealed under another key, and an error naming neither
// the plaintext nor the key when the value is corrupt.
func (b *Box) Open(sealed []byte, context string) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(sealed) < 1+4+ns+b.aead.Overhead() || sealed[0] != version {
		return nil, errors.New("sealed value is malformed")
	}
	if [4]byte(sealed[1:5]) != b.keyID {
		return nil, fmt.Errorf("%w (value key id %x, configured key id %s)", ErrWrongKey, sealed[1:5], b.KeyID())
	}
	nonce := sealed[5 : 5+ns]
	pt, err := b.aead.Open(nil, nonce, sealed[5+ns:], []byte(context))
	if err != nil {
		return nil, errors.New("sealed value failed authentication: corrupt, or moved from another row")
	}
	return pt, nil
}

// ParseKey decodes a key written as base64 (standard or URL, padded or not)
// or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	return nil, fmt.Errorf("secret key must be %d bytes written as base64 or hex", KeySize)
}

// KeyFromEnv reads the key from EnvKey, or else from the file named by
// EnvKeyFile, using getenv (os.Getenv when nil). It returns ErrNoKey when
// neither is set.
func KeyFromEnv(getenv func(string) string) ([]byte, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(EnvKey); v != "" {
		k, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return k, nil
	}
	if path := getenv(EnvKeyFile); path != "" {
		return KeyFromFile(path)
	}
	return nil, ErrNoKey
}

// KeyFromFile reads a key from a file.
func KeyFromFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return k, nil
}

// GenerateKey returns a new random key encoded as base64.
func GenerateKey() string {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("seal: no randomness: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(k)
}
