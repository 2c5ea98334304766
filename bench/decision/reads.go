package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// DriverMicro measures the SQLite driver on the rest of our workload: point reads by primary key from
// concurrent readers while nothing writes, and the batch claim (UPDATE … RETURNING) alone.
func (b *Bench) DriverMicro(ctx context.Context, name string, run int, lc LiteConfig) ([]Result, error) {
	q, err := OpenLiteQueue(ctx, lc)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", name, err)
	}
	defer q.Close()
	_, n, _, err := b.accept(ctx, q, fmt.Sprintf("m%d", run))
	if err != nil {
		return nil, fmt.Errorf("%s: load: %w", name, err)
	}
	var reads atomic.Int64
	rctx, cancel := context.WithTimeout(ctx, b.Config.ReadFor)
	defer cancel()
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for r := 0; r < lc.Readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for rctx.Err() == nil {
				if err := q.Get(rctx, 1+rng.Int64N(n)); err != nil {
					if rctx.Err() == nil {
						once.Do(func() { firstErr = err })
					}
					return
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	readRate := float64(reads.Load()) / time.Since(start).Seconds()
	if firstErr != nil {
		return nil, fmt.Errorf("%s: reads: %w", name, firstErr)
	}
	start = time.Now()
	claimed, err := q.ClaimOnly(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: claim-only: %w", name, err)
	}
	claimRate := float64(claimed) / time.Since(start).Seconds()
	if claimed != n {
		return nil, fmt.Errorf("%s: claimed %d of %d", name, claimed, n)
	}
	return []Result{
		{Name: name, Metric: "reads", Rate: readRate},
		{Name: name, Metric: "claim-only", Rate: claimRate},
	}, nil
}
