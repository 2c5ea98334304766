package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// limit is the bare-HTTP anchor: the simplest Go client POSTing valid
// subscribe sends with a valid token straight to the simulator, as
// /work/shared/reference/httplimit does against its own minimal endpoint.
// It sends for its own app, so its deliveries are never counted as the
// system's.
type limit struct {
	url    string
	bodies [][]byte
	client *http.Client
	c      int
}

func (b *Bench) newLimit(ctx context.Context, clients int) (*limit, error) {
	tpl := b.sim.AddTemplateDirect(limitAppID, templateTitle, templateKeywords...)
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	req, err := http.NewRequestWithContext(ctx, "GET", b.simURL+wechatsim.PathToken+"?grant_type=client_credential&appid="+limitAppID+"&secret="+AppSecret, nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("simulator token: %v", err)
	}
	l := &limit{url: b.simURL + wechatsim.PathSubscribeSend + "?access_token=" + tok.AccessToken, client: cl, c: clients}
	for i := range 64 {
		openid := fmt.Sprintf("oLIMIT%012d", i)
		b.sim.GrantSubscribe(limitAppID, openid, tpl, 1<<40)
		l.bodies = append(l.bodies, []byte(`{"touser":"`+openid+`","template_id":"`+tpl+`","page":"pages/index","data":{"thing1":{"value":"Order shipped"},"time2":{"value":"`+time2+`"}}}`))
	}
	return l, nil
}

// run sends n requests (or as many as limitMaxTime allows) and returns
// req/s.
func (l *limit) run(ctx context.Context, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, limitMaxTime)
	defer cancel()
	var next, done atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range l.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := l.bodies[i%len(l.bodies)]
			for ctx.Err() == nil && next.Add(1) <= int64(n) {
				req, _ := http.NewRequestWithContext(ctx, "POST", l.url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := l.client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						firstErr.CompareAndSwap(nil, err.Error())
					}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !bytes.HasPrefix(b, []byte(`{"errcode":0,`)) {
					firstErr.CompareAndSwap(nil, "simulator answered "+string(b))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if e := firstErr.Load(); e != nil {
		return 0, errors.New(e.(string))
	}
	if done.Load() == 0 {
		return 0, fmt.Errorf("no request completed")
	}
	return float64(done.Load()) / el.Seconds(), nil
}
