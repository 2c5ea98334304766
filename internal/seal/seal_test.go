package seal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/internal/seal"
)

func mustBox(t *testing.T, key string) *seal.Box {
	t.Helper()
	k, err := seal.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBox(t *testing.T) {
	t.Parallel()
	b := mustBox(t, seal.GenerateKey())

	t.Run("RoundTrip", func(t *testing.T) {
		sealed := b.Seal([]byte("s3cret-value"), "app_secret:wx1")
		if bytes.Contains(sealed, []byte("s3cret")) {
			t.Fatal("plaintext visible in sealed value")
		}
		got, err := b.Open(sealed, "app_secret:wx1")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "s3cret-value" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("NonceIsFresh", func(t *testing.T) {
		if bytes.Equal(b.Seal([]byte("x"), "c"), b.Seal([]byte("x"), "c")) {
			t.Fatal("two seals of one value are equal")
		}
	})
	t.Run("ErrOtherContext", func(t *testing.T) {
		sealed := b.Seal([]byte("v"), "app_secret:wx1")
		if _, err := b.Open(sealed, "app_secret:wx2"); err == nil {
			t.Fatal("opened under another context")
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		sealed := b.Seal([]byte("v"), "c")
		other := mustBox(t, seal.GenerateKey())
		if _, err := other.Open(sealed, "c"); !errors.Is(err, seal.ErrWrongKey) {
			t.Fatalf("err=%v, want ErrWrongKey", err)
		}
	})
	t.Run("ErrTampered", func(t *testing.T) {
		sealed := b.Seal([]byte("v"), "c")
		sealed[len(sealed)-1] ^= 1
		if _, err := b.Open(sealed, "c"); err == nil || errors.Is(err, seal.ErrWrongKey) {
			t.Fatalf("err=%v, want authentication failure", err)
		}
		if _, err := b.Open([]byte{1, 2}, "c"); err == nil {
			t.Fatal("short value opened")
		}
	})
}

func TestKeyFromEnv(t *testing.T) {
	t.Parallel()
	key := seal.GenerateKey()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	if _, err := seal.KeyFromEnv(env(nil)); !errors.Is(err, seal.ErrNoKey) {
		t.Fatalf("err=%v, want ErrNoKey", err)
	}
	if _, err := seal.KeyFromEnv(env(map[string]string{seal.EnvKey: "c2hvcnQ="})); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Fatalf("short key: err=%v", err)
	}
	if k, err := seal.KeyFromEnv(env(map[string]string{seal.EnvKey: key})); err != nil || len(k) != seal.KeySize {
		t.Fatalf("env key: %v", err)
	}
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := seal.KeyFromEnv(env(map[string]string{seal.EnvKeyFile: path})); err != nil || len(k) != seal.KeySize {
		t.Fatalf("key file: %v", err)
	}
	if _, err := seal.KeyFromEnv(env(map[string]string{seal.EnvKeyFile: path + ".missing"})); err == nil {
		t.Fatal("missing key file accepted")
	}
	hexKey := strings.Repeat("ab", 32)
	if _, err := seal.ParseKey(hexKey); err != nil {
		t.Fatalf("hex key: %v", err)
	}
}
