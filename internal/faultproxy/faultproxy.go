// Package faultproxy is a TCP proxy for tests that puts real network
// faults between the server and a dependency (PostgreSQL, Redis, SMTP):
// it forwards bytes until told to cut every connection or to stall them,
// accepting connections and data but never answering, as a hung server
// does. Mocking the driver would test our idea of a fault; this tests the
// driver's real behaviour under one. CancelAfterResponse puts a shutdown
// at the worst moment of an outgoing HTTP call.
package faultproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Mode is what the proxy does with traffic.
type Mode int

// Modes.
const (
	// Forward passes bytes both ways.
	Forward Mode = iota
	// Cut closes every connection and each new one at once, as a
	// database that went away does.
	Cut
	// Stall keeps connections open and swallows what clients send without
	// forwarding it, as a hung database does.
	Stall
)

// Proxy forwards a loopback port to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    Mode
	changed chan struct{} // closed and replaced on every mode change
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// Start listens on a free loopback port, forwarding to target, until the
// test ends.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultproxy: listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port, to use instead of the target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set switches the mode. Cut closes the open connections; leaving Stall
// closes the stalled ones too, since a client that already gave up on them
// must not get stale answers.
func (p *Proxy) Set(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == p.mode || p.conns == nil {
		return // unchanged, or closed
	}
	old := p.mode
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	if m == Cut || old == Stall {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

func (p *Proxy) state() (Mode, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.changed
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false // closed
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	mode, _ := p.state()
	switch mode {
	case Cut:
		_ = client.Close()
		return
	case Stall:
		if !p.track(client) {
			_ = client.Close()
			return
		}
		_, _ = io.Copy(io.Discard, client) // until Set closes it
		p.untrack(client)
		return
	}
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, upstream) {
		_ = client.Close()
		_ = upstream.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(upstream, client); done <- struct{}{} }()
	go func() { p.pipe(client, upstream); done <- struct{}{} }()
	<-done
	p.untrack(client, upstream)
	<-done
}

// pipe copies src to dst, holding each chunk while the proxy stalls.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if mode, changed := p.state(); mode != Forward {
				// Stalled: hold the bytes until the mode changes, which
				// closes this connection (see Set); they are never sent.
				<-changed
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

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	close(p.changed) // releases pipes holding bytes in Stall
	p.mu.Unlock()
	p.wg.Wait()
}
