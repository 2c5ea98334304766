// Package apikey creates and checks the API keys of the team's backend
// services. A key reads "wxk_<id>_<secret>"; only SHA-256 of the secret is
// stored (the secret is 256 random bits, so a slow hash adds nothing), and
// the comparison is constant-time.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Prefix starts every key, so secret scanners and people can recognise one.
const Prefix = "wxk_"

// DefaultCacheTTL is how long an authenticated key is trusted without a
// database read. Deleting a key takes effect on other instances within it.
const DefaultCacheTTL = 10 * time.Second

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Service implements wxnotify.APIKeyService.
type Service struct {
	Store    store.Executor
	Now      func() time.Time
	CacheTTL time.Duration

	mu    sync.Mutex
	cache map[string]cachedKey // by full key hash
}

type cachedKey struct {
	key   *wxnotify.APIKey
	until time.Time
}

var _ wxnotify.APIKeyService = (*Service)(nil)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CreateAPIKey stores a new key and returns it in full, once.
func (s *Service) CreateAPIKey(ctx context.Context, k *wxnotify.APIKey) (string, error) {
	if err := k.Validate(); err != nil {
		return "", err
	}
	id := strings.ToLower(enc.EncodeToString(random(5)))
	secret := strings.ToLower(enc.EncodeToString(random(32)))
	k.ID = id
	k.CreatedAt = s.now().UTC()
	sum := sha256.Sum256([]byte(secret))
	err := s.Store.APIKeyInsert(ctx, &store.APIKey{ID: id, Name: k.Name, SecretHash: sum[:], Apps: k.Apps, CreatedAt: k.CreatedAt})
	if err != nil {
		return "", fmt.Errorf("insert api key: %w", err)
	}
	return Prefix + id + "_" + secret, nil
}

// Authenticate returns the key that plaintext is, or EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, plaintext string) (*wxnotify.APIKey, error) {
	unauthorized := wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "invalid API key")
	rest, ok := strings.CutPrefix(plaintext, Prefix)
	if !ok {
		return nil, unauthorized
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" {
		return nil, unauthorized
	}
	sum := sha256.Sum256([]byte(secret))
	cacheKey := id + "\x00" + string(sum[:])
	now := s.now()
	s.mu.Lock()
	if c, ok := s.cache[cacheKey]; ok && now.Before(c.until) {
		s.mu.Unlock()
		return c.key, nil
	}
	s.mu.Unlock()

	row, err := s.Store.APIKeyGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized
	} else if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	if subtle.ConstantTimeCompare(row.SecretHash, sum[:]) != 1 {
		return nil, unauthorized
	}
	k := fromRow(row)
	ttl := s.CacheTTL
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = make(map[string]cachedKey)
	}
	s.cache[cacheKey] = cachedKey{key: k, until: now.Add(ttl)}
	s.mu.Unlock()
	return k, nil
}

// FindAPIKeys lists keys without secrets.
func (s *Service) FindAPIKeys(ctx context.Context) ([]*wxnotify.APIKey, error) {
	rows, err := s.Store.APIKeyList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys := make([]*wxnotify.APIKey, len(rows))
	for i, r := range rows {
		keys[i] = fromRow(r)
	}
	return keys, nil
}

// DeleteAPIKey revokes a key.
func (s *Service) DeleteAPIKey(ctx context.Context, id string) error {
	err := s.Store.APIKeyDelete(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "API key %s not found", id)
	} else if err != nil {
		return fmt.Errorf("delete api key: %w", err)
	}
	s.mu.Lock()
	for k, c := range s.cache {
		if c.key.ID == id {
			delete(s.cache, k)
		}
	}
	s.mu.Unlock()
	return nil
}

func fromRow(r *store.APIKey) *wxnotify.APIKey {
	return &wxnotify.APIKey{ID: r.ID, Name: r.Name, Apps: r.Apps, CreatedAt: r.CreatedAt}
}

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("apikey: no randomness: " + err.Error())
	}
	return b
}
