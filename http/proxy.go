package http

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a reverse proxy every request comes from the proxy's address, and
// the client's is in X-Forwarded-For, which anyone can write. So the
// header is believed only from Server.TrustedProxies: walking it from the
// right (the entry the nearest proxy added), each trusted hop is skipped and
// the first address that is not a trusted proxy is the client. From any
// other peer the connection's own address is the client and the headers
// are ignored. X-Forwarded-Proto is believed on the same terms.

// peerAddr is the connection's remote address.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address the request came from: the connection's, or
// what trusted proxies say it is.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	a := peerAddr(r)
	if !s.trusted(a) {
		return a
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return a // garbled: trust nothing further left
		}
		a = h.Unmap()
		if !s.trusted(a) {
			return a
		}
	}
	return a
}

// viaTLS reports whether the client's request was made over TLS: to this
// server, or to a trusted proxy that says so (X-Forwarded-Proto: https).
func (s *Server) viaTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !s.trusted(peerAddr(r)) {
		return false
	}
	protos := r.Header.Values("X-Forwarded-Proto")
	if len(protos) == 0 {
		return false
	}
	// The nearest proxy's word: the last entry.
	last := protos[len(protos)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}

// loginSource is who a login attempt is counted against: an IPv4 address,
// or the /64 of an IPv6 one (a single host usually holds a whole /64).
func loginSource(a netip.Addr) netip.Prefix {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	p, _ := a.Prefix(a.BitLen())
	return p
}

// ParseTrustedProxies reads the http.trusted_proxies setting: CIDR
// prefixes or single addresses, separated by commas or blanks
// ("10.0.0.0/8, 192.168.1.10, ::1"). Empty is none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR prefix (10.0.0.0/8) nor an address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
