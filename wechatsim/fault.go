package wechatsim

import (
	"math/rand/v2"
	"net/http"
	"sync/atomic"
)

// Fault makes matching API calls fail. Faults are checked in the order they were injected; the
// first that matches and fires decides the call. Control calls (/sim/) are never faulted.
type Fault struct {
	// Path is the API path to match, e.g. PathSubscribeSend; "" matches every API path.
	Path string `json:"path,omitempty"`
	// AppID matches calls attributed to this app; "" matches any.
	AppID string `json:"appid,omitempty"`
	// Count is how many matching calls fire the fault before it is removed; <= 0 means until
	// ClearFaults.
	Count int `json:"count,omitempty"`
	// ErrCode and ErrMsg are answered (HTTP 200, like WeChat); an empty ErrMsg is ErrMsg(ErrCode).
	ErrCode int    `json:"errcode,omitempty"`
	ErrMsg  string `json:"errmsg,omitempty"`
	// Hang blocks the call until the client gives up (its request context ends); no response.
	Hang bool `json:"hang,omitempty"`
	// Reset closes the TCP connection without any response.
	Reset bool `json:"reset,omitempty"`
	// Probability, when in (0, 1), fires the fault on that share of matching calls; a call it
	// spares does not use up Count. 0 means always.
	Probability float64 `json:"probability,omitempty"`
}

type faultRec struct {
	Fault
	left atomic.Int64 // remaining fires when Count > 0
	done atomic.Bool
}

// InjectFault adds f. A fault with no ErrCode, Hang or Reset answers -1 (system error).
func (s *Server) InjectFault(f Fault) {
	fr := &faultRec{Fault: f}
	fr.left.Store(int64(f.Count))
	s.faultMu.Lock()
	s.faults = append(s.faults, fr)
	s.faultN.Store(int32(len(s.faults)))
	s.faultMu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	s.faults = nil
	s.faultN.Store(0)
	s.faultMu.Unlock()
}

// applyFault fires the first matching fault and reports whether it answered the call.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, path, appid string) bool {
	var fired *faultRec
	s.faultMu.Lock()
	for i := 0; i < len(s.faults); i++ {
		f := s.faults[i]
		if f.done.Load() || f.Path != "" && f.Path != path || f.AppID != "" && f.AppID != appid {
			continue
		}
		if f.Probability > 0 && f.Probability < 1 && rand.Float64() >= f.Probability {
			continue
		}
		if f.Count > 0 && f.left.Add(-1) <= 0 {
			f.done.Store(true)
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			s.faultN.Store(int32(len(s.faults)))
		}
		fired = f
		break
	}
	s.faultMu.Unlock()
	if fired == nil {
		return false
	}
	switch {
	case fired.Reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case fired.Hang:
		<-r.Context().Done()
		return true
	default:
		code := fired.ErrCode
		if code == 0 {
			code = -1
		}
		writeErr(w, ctJSON, code, fired.ErrMsg)
		return true
	}
}
