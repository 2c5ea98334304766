package webhook

import "testing"

// The address check itself, without any network: every internal range is
// refused, public addresses pass.
func TestRefusePrivateAddress(t *testing.T) {
	t.Parallel()
	for addr, refused := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "10.1.2.3:443": true, "172.16.0.1:443": true,
		"192.168.1.1:80": true, "169.254.169.254:80": true, "[fe80::1]:80": true, "[fc00::1]:80": true,
		"0.0.0.0:80": true, "[::ffff:127.0.0.1]:80": true,
		"203.0.113.7:443": false, "[2001:db8::1]:443": false, "101.226.90.10:443": false,
	} {
		if got := refusePrivateAddress("tcp", addr, nil) != nil; got != refused {
			t.Errorf("%s: refused=%v, want %v", addr, got, refused)
		}
	}
}
