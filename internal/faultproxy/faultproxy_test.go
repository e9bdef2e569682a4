package faultproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo serves lines back on a loopback port until the test ends.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line on a new connection and waits up to wait for
// the echo.
func roundTrip(t *testing.T, addr string, wait time.Duration) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		t.Fatalf("echo %q", line)
	}
	return err
}

func TestModes(t *testing.T) {
	p := Start(t, echo(t))
	if err := roundTrip(t, p.Addr(), time.Second); err != nil {
		t.Fatalf("forward: %v", err)
	}

	// A connection open across the cut dies with it.
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	_, _ = open.Write([]byte("a\n"))
	_, _ = bufio.NewReader(open).ReadString('\n')
	p.Set(Cut)
	_ = open.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Error("a connection survived the cut")
	}
	if err := roundTrip(t, p.Addr(), time.Second); err == nil {
		t.Error("a new connection got through the cut")
	}

	p.Set(Stall)
	err = roundTrip(t, p.Addr(), 200*time.Millisecond)
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("stalled: %v, want a timeout (accepted, never answered)", err)
	}

	p.Set(Forward)
	if err := roundTrip(t, p.Addr(), time.Second); err != nil {
		t.Fatalf("forward again: %v", err)
	}
	// Left stalled with bytes held in a forwarding connection, the proxy
	// still shuts down when the test ends (its cleanup would hang if not).
	held, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, _ = held.Write([]byte("a\n"))
	_, _ = bufio.NewReader(held).ReadString('\n')
	p.Set(Stall)
	_, _ = held.Write([]byte("held\n"))
	time.Sleep(50 * time.Millisecond) // let the pipe take the bytes and wait
}
