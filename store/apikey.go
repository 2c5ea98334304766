package store

import "time"

// APIKey is an API key row: the hash of the key's secret, never the secret.
type APIKey struct {
	ID         string
	Name       string
	SecretHash []byte   // SHA-256 of the secret part
	Apps       []string // appids, or "*"
	CreatedAt  time.Time
}
