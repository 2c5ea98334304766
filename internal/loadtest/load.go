package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// messageBody is message seq's POST /v1/messages body; thing1 carries its
// seq.
func (b *Bench) messageBody(seq int) []byte {
	p := make([]byte, 0, 192)
	p = append(p, `{"appid":"`+AppID+`","openid":"`...)
	p = append(p, OpenID(seq%b.c.Users)...)
	p = append(p, `","template_id":"`...)
	p = append(p, b.tpl...)
	p = append(p, `","data":{"thing1":"m`...)
	p = strconv.AppendInt(p, int64(seq), 10)
	p = append(p, `","time2":"`+time2+`"}}`...)
	return p
}

// broadcastBody is the broadcast of messages first .. first+size-1: one
// recipient each, whose data override carries its own seq.
func (b *Bench) broadcastBody(first, size int) []byte {
	p := make([]byte, 0, 128+size*64)
	p = append(p, `{"appid":"`+AppID+`","template_id":"`...)
	p = append(p, b.tpl...)
	p = append(p, `","data":{"thing1":"m","time2":"`+time2+`"},"recipients":[`...)
	for i := range size {
		if i > 0 {
			p = append(p, ',')
		}
		p = append(p, `{"openid":"`...)
		p = append(p, OpenID((first+i)%b.c.Users)...)
		p = append(p, `","data":{"thing1":"m`...)
		p = strconv.AppendInt(p, int64(first+i), 10)
		p = append(p, `"}}`...)
	}
	p = append(p, "]}"...)
	return p
}

// post sends one request to the target and returns its status and body.
func (b *Bench) post(ctx context.Context, url, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	p, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, p, err
}

// BroadcastsUnavailable returns why t cannot take the load as broadcasts
// (no POST /v1/broadcasts, or not wired in this build), or "".
func (b *Bench) BroadcastsUnavailable(ctx context.Context, t Target) string {
	code, p, err := b.post(ctx, t.URLs[0]+"/v1/broadcasts", t.APIKey, []byte(`{}`))
	switch {
	case err != nil:
		return err.Error()
	case code == http.StatusNotFound && bytes.Contains(p, []byte("no route")):
		return "this build has no POST /v1/broadcasts"
	case code == http.StatusServiceUnavailable:
		return "POST /v1/broadcasts is not wired in this build: " + string(bytes.TrimSpace(p))
	}
	return ""
}

// produce sends messages 0..N-1 from the producers, producer p to
// URLs[p%len(URLs)].
func (b *Bench) produce(ctx context.Context) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := range b.c.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := b.target.URLs[p%len(b.target.URLs)] + "/v1/messages"
			for ctx.Err() == nil {
				seq := int(next.Add(1) - 1)
				if seq >= b.c.N {
					return
				}
				code, body, err := b.post(ctx, url, b.target.APIKey, b.messageBody(seq))
				switch {
				case err != nil:
					if ctx.Err() == nil {
						b.rejected.Add(1)
						b.SetErr(err.Error())
					}
				case code != http.StatusAccepted:
					b.rejected.Add(1)
					b.SetErr(fmt.Sprintf("POST /v1/messages: %d %s", code, bytes.TrimSpace(body)))
				default:
					b.accepts[seq].Store(int64(time.Since(b.t0)))
				}
			}
		}()
	}
	wg.Wait()
}

// produceBroadcasts sends the N messages as broadcasts of
// Target.BroadcastSize recipients.
func (b *Bench) produceBroadcasts(ctx context.Context) {
	size := b.target.BroadcastSize
	chunks := (b.c.N + size - 1) / size
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := range min(b.c.Concurrency, chunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := b.target.URLs[p%len(b.target.URLs)] + "/v1/broadcasts"
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= chunks {
					return
				}
				first := k * size
				n := min(size, b.c.N-first)
				code, body, err := b.post(ctx, url, b.target.APIKey, b.broadcastBody(first, n))
				switch {
				case err != nil:
					if ctx.Err() == nil {
						b.rejected.Add(int64(n))
						b.SetErr(err.Error())
					}
				case code/100 != 2:
					b.rejected.Add(int64(n))
					b.SetErr(fmt.Sprintf("POST /v1/broadcasts: %d %s", code, bytes.TrimSpace(body)))
				default:
					at := int64(time.Since(b.t0))
					for i := range n {
						b.accepts[first+i].Store(at)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// sample is the simulator's delivered count at one moment of the load.
type sample struct {
	At        time.Duration // after t0
	Delivered int64
}

// waitDelivered samples the delivered count until the producers are done
// and every accepted message is delivered or has ended otherwise, or ctx
// ends (timedOut).
func (b *Bench) waitDelivered(ctx context.Context, producing <-chan struct{}) (timedOut bool) {
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	lastLog := time.Time{}
	done := false
	for {
		d := b.sim.DeliveredCount(AppID)
		now := time.Now()
		b.samples = append(b.samples, sample{At: now.Sub(b.t0), Delivered: d})
		select {
		case <-producing:
			done = true
		default:
		}
		acc := b.acceptedCount()
		if now.Sub(lastLog) >= time.Second || done && d+b.failed.Load() >= int64(acc) {
			lastLog = now
			rate := 0.0
			if len(b.samples) > 10 {
				prev := b.samples[len(b.samples)-11]
				rate = float64(d-prev.Delivered) / (now.Sub(b.t0) - prev.At).Seconds()
			}
			b.Logf("%5.1fs accepted %d/%d delivered %d failed %d rejected %d (%.0f/s)",
				now.Sub(b.t0).Seconds(), acc, b.c.N, d, b.failed.Load(), b.rejected.Load(), rate)
		}
		if done && d+b.failed.Load() >= int64(acc) {
			return false
		}
		select {
		case <-ctx.Done():
			return true
		case <-tick.C:
		}
	}
}

func (b *Bench) acceptedCount() int {
	n := 0
	for i := range b.c.N {
		if b.accepts[i].Load() != 0 {
			n++
		}
	}
	return n
}

// idleProbe sends IdleN messages one at a time, each after the previous
// was delivered and idleGap passed, and returns their accept→delivered
// latencies, and the request→delivered ones (with the accept itself).
func (b *Bench) idleProbe(ctx context.Context) (fromAccept, fromSubmit []time.Duration) {
	submits := make([]time.Duration, IdleN)
	for i := range IdleN {
		seq := b.c.N + i
		base := b.sim.DeliveredCount(AppID)
		url := b.target.URLs[i%len(b.target.URLs)] + "/v1/messages"
		submits[i] = time.Since(b.t0)
		code, body, err := b.post(ctx, url, b.target.APIKey, b.messageBody(seq))
		if err != nil || code != http.StatusAccepted {
			b.SetErr(fmt.Sprintf("idle probe: %d %s %v", code, bytes.TrimSpace(body), err))
			continue
		}
		b.accepts[seq].Store(int64(time.Since(b.t0)))
		deadline := time.Now().Add(5 * time.Second)
		for b.sim.DeliveredCount(AppID) <= base && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(idleGap)
	}
	for _, d := range b.sim.AllDelivered(AppID) {
		if seq, ok := b.seqOf(d); ok && seq >= b.c.N && b.accepts[seq].Load() != 0 {
			at := d.At.Sub(b.t0)
			fromAccept = append(fromAccept, max(at-time.Duration(b.accepts[seq].Load()), 0))
			fromSubmit = append(fromSubmit, at-submits[seq-b.c.N])
		}
	}
	return fromAccept, fromSubmit
}

// seqOf returns which message a delivery was, from its thing1 "m<seq>".
func (b *Bench) seqOf(d wechatsim.Delivered) (int, bool) {
	v, ok := strings.CutPrefix(d.Data["thing1"], "m")
	if !ok {
		return 0, false
	}
	seq, err := strconv.Atoi(v)
	if err != nil || seq < 0 || seq >= len(b.accepts) {
		return 0, false
	}
	return seq, true
}
