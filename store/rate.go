package store

import "fmt"

// RateTakeParams take tokens from a shared token bucket.
type RateTakeParams struct {
	// Key names the bucket, e.g. "send:" + appid.
	Key string
	// Rate is the refill in tokens a second, Burst the bucket's size; a
	// bucket that does not exist yet starts full.
	Rate  float64
	Burst int
	// Want is how many tokens to take at most.
	Want int
}

// Validate reports malformed parameters.
func (p *RateTakeParams) Validate() error {
	if p.Key == "" || p.Rate <= 0 || p.Burst < 1 || p.Want < 1 {
		return fmt.Errorf("store: rate take: Key, a positive Rate, Burst and Want required")
	}
	return nil
}

// RateTaken is what RateTake took and what the bucket holds after it.
type RateTaken struct {
	Granted int
	Left    float64
}
