package testdb

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/postgres"
	"github.com/wxnotify/wxnotify/store/storetest"
)

// Proxy forwards loopback TCP connections to a target (a database server)
// and can cut them all and refuse new ones: to its clients, the database
// going away, as in a restart, while the test decides when it comes back.
// It can also drop the network in between (Partition): connections stay
// open but nothing crosses, as when a cable is pulled or a firewall drops
// packets, until Heal.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	down   bool
	// healed is closed by Heal; nil when no partition holds the traffic.
	healed chan struct{}
	closed chan struct{} // closed when the test ends
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port) until t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}, closed: make(chan struct{})}
	t.Cleanup(func() { ln.Close(); close(p.closed); p.closeAll() })
	go p.serve()
	return p
}

// Addr is the host:port clients dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Down cuts every connection and refuses new ones until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
}

// Up forwards new connections again.
func (p *Proxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Outage is Down, then Up after d.
func (p *Proxy) Outage(d time.Duration) {
	p.Down()
	time.Sleep(d)
	p.Up()
}

// Partition stops every byte in both directions, on the connections open
// now and on those opened until Heal, without closing any: to the client,
// the database stops answering and new connections hang, as in a network
// fault (no reset, no refusal). What was sent meanwhile is held and
// delivered after Heal, as TCP would retransmit it.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.healed == nil {
		p.healed = make(chan struct{})
	}
}

// Heal ends a Partition: the held bytes and connections go through.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.healed != nil {
		close(p.healed)
		p.healed = nil
	}
}

// pass waits while a partition holds the traffic; false when the test ended.
func (p *Proxy) pass() bool {
	p.mu.Lock()
	healed := p.healed
	p.mu.Unlock()
	if healed == nil {
		return true
	}
	select {
	case <-healed:
		return true
	case <-p.closed:
		return false
	}
}

// copyHeld copies src to dst, holding each chunk while a partition lasts.
func (p *Proxy) copyHeld(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	if !p.pass() { // a partition: the connection hangs until Heal
		c.Close()
		return
	}
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		c.Close() // the database is away: refused
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down { // went down while dialling
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.copyHeld(s, c); done <- struct{}{} }()
	go func() { p.copyHeld(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// NewPostgresDBThroughProxy is NewPostgresDB with every connection of the
// Drivers it opens going through a Proxy the test controls (migrations
// included). It skips t if PostgresEnv is unset.
func NewPostgresDBThroughProxy(t testing.TB) (storetest.OpenFunc, *Proxy) {
	t.Helper()
	dsn, schema := newPostgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("%s: want a postgres:// URL with a host to proxy", PostgresEnv)
	}
	p := NewProxy(t, u.Host)
	u.Host = p.Addr()
	proxied := u.String()
	return func(t testing.TB) store.Driver {
		t.Helper()
		db, err := postgres.Open(t.Context(), proxied, postgres.Options{Schema: schema, MaxConns: 4})
		if err != nil {
			t.Fatalf("open postgres through the proxy: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}, p
}
