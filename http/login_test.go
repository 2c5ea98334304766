package http_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
)

// behindProxy serves b's Server as if behind a reverse proxy on loopback
// that is trusted (or not), and returns its URL.
func behindProxy(t *testing.T, b *dashBundle, trusted bool) string {
	t.Helper()
	if trusted {
		b.srv.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	ts := httptest.NewServer(b.srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

// loginFrom logs in with X-Forwarded-For (and X-Forwarded-Proto when proto
// is set) and returns the response.
func loginFrom(t *testing.T, url, forwardedFor, proto, password string) *http.Response {
	t.Helper()
	hdr := map[string]string{"Content-Type": "application/json", wxhttp.DashboardCSRFHeader: "1", "X-Forwarded-For": forwardedFor}
	if proto != "" {
		hdr["X-Forwarded-Proto"] = proto
	}
	resp, _ := dashDo(t, dashClient(t), "POST", url+"/dashboard/login", fmt.Sprintf(`{"password":%q}`, password), hdr)
	return resp
}

// TestDashboardLogin_FloodCannotLockOutOwner: an attacker's guesses from
// many addresses use up the budget of sources that never logged in, so a
// new source must wait; the operator's address, which logged in before,
// keeps its own budget and logs in at once. The clock stands still: no
// budget refills during the test.
func TestDashboardLogin_FloodCannotLockOutOwner(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t, dashPassword)
	url := behindProxy(t, b, true)
	const owner = "198.51.100.7"
	if resp := loginFrom(t, url, owner, "", dashPassword); resp.StatusCode != 200 {
		t.Fatalf("the operator's first login: %d", resp.StatusCode)
	}

	limited := 0
	for i := range wxhttp.DashboardLoginAccountBurst + 50 {
		attacker := fmt.Sprintf("203.0.%d.%d", 113+i/250, 1+i%250)
		switch resp := loginFrom(t, url, "10.9.9.9, "+attacker, "", "guess"); resp.StatusCode {
		case 401:
		case 429:
			limited++
		default:
			t.Fatalf("guess from %s: %d", attacker, resp.StatusCode)
		}
	}
	// The operator's first login, from a source new then, was counted too.
	if limited != 51 {
		t.Fatalf("%d of the flood's guesses refused with 429, want the 51 past the burst of %d", limited, wxhttp.DashboardLoginAccountBurst)
	}
	if resp := loginFrom(t, url, "192.0.2.1", "", dashPassword); resp.StatusCode != 429 {
		t.Fatalf("a new source during the flood: %d, want 429", resp.StatusCode)
	}
	if resp := loginFrom(t, url, owner, "", dashPassword); resp.StatusCode != 200 {
		t.Fatalf("the operator during the flood: %d, want 200", resp.StatusCode)
	}

	// One source alone is held to its own budget, however it writes the
	// header it controls (the left of X-Forwarded-For).
	for i := range wxhttp.DashboardLoginBurst - 2 { // the operator's two logins were counted
		if resp := loginFrom(t, url, fmt.Sprintf("192.0.2.%d, %s", i, owner), "", "guess"); resp.StatusCode != 401 {
			t.Fatalf("guess %d from the operator's address: %d", i, resp.StatusCode)
		}
	}
	if resp := loginFrom(t, url, owner, "", dashPassword); resp.StatusCode != 429 {
		t.Fatalf("past the operator's own burst: %d, want 429", resp.StatusCode)
	}
}

// TestDashboardLogin_ForwardedForUntrusted: from a peer that is not a
// trusted proxy X-Forwarded-For is ignored, so an attacker cannot spread its
// guesses over made-up sources.
func TestDashboardLogin_ForwardedForUntrusted(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t, dashPassword)
	url := behindProxy(t, b, false)
	for i := range wxhttp.DashboardLoginBurst {
		if resp := loginFrom(t, url, fmt.Sprintf("203.0.113.%d", i), "", "guess"); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	if resp := loginFrom(t, url, "203.0.113.200", "", dashPassword); resp.StatusCode != 429 {
		t.Fatalf("a made-up source after the burst: %d, want 429 (the header must be ignored)", resp.StatusCode)
	}
}

// TestDashboardLogin_SecureCookie: the cookie is Secure when a trusted proxy
// says the client used https, and not on a proxy's word otherwise.
func TestDashboardLogin_SecureCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted bool
		proto   string
		secure  bool
	}{
		{"TrustedHTTPS", true, "https", true},
		{"TrustedHTTP", true, "http", false},
		{"TrustedChainLastWins", true, "https, http", false},
		{"UntrustedHTTPS", false, "https", false},
		{"NoHeader", true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupDashboard(t, dashPassword)
			url := behindProxy(t, b, tc.trusted)
			resp := loginFrom(t, url, "198.51.100.7", tc.proto, dashPassword)
			if resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
				t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
			}
			if got := resp.Cookies()[0].Secure; got != tc.secure {
				t.Fatalf("Secure=%v, want %v", got, tc.secure)
			}
		})
	}
}

// TestDashboardPasswordStrength: Open refuses a weak operator password with
// an error that says why and never shows it.
func TestDashboardPasswordStrength(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		password, says string
	}{
		{"hunter2", "too short"},
		{"ａｂｃｄｅｆｇｈｉｊｋ", "too short"}, // 11 characters, 33 bytes
		{"aaaaaaaaaaaaaaaa", "too weak"},
		{"abababababababab", "too weak"},
	} {
		s := wxhttp.NewServer()
		s.Addr = "127.0.0.1:0"
		s.DashboardPassword = wxnotify.Secret(tc.password)
		err := s.Open()
		if err == nil {
			s.Close(t.Context())
			t.Fatalf("Open with password %q: no error", tc.password)
		}
		if !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "WXNOTIFY_ADMIN_PASSWORD") || strings.Contains(err.Error(), tc.password) {
			t.Fatalf("Open with password %q: %v", tc.password, err)
		}
	}
	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.DashboardPassword = "correct horse battery"
	if err := s.Open(); err != nil {
		t.Fatalf("Open with a strong password: %v", err)
	}
	s.Close(t.Context())
}
