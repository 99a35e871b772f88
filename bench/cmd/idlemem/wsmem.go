package main

// wsmem's ways to serve, measured beside the peers:
//
//   - wsmem-goroutine: AttachServer in a goroutine per connection, which
//     then blocks in Serve: the Storage, the net.Conn and the goroutine's
//     stack per connection, no read buffer while idle.
//   - wsmem-loop: the epoll server of examples/eventloop (package loop),
//     two loops, the push API: per connection one slab slot (the Storage
//     and 32 bytes) and the socket, no goroutine and no net.Conn.
//   - wsmem-handshake-apart (a diagnostic): AttachServer in the accepting
//     goroutine, so that the connection's goroutine runs only Serve.
//
// A goroutine starts with a 2 KiB stack, which grows to 4 KiB as soon as
// a call chain goes deeper than about 1.1 KiB (2 KiB less the runtime's
// 928-byte guard), and the garbage collector shrinks it back only when the
// goroutine uses less than a quarter of it counting an 800-byte guard:
// never for a goroutine parked in a network read. wsmem keeps the
// handshake, Serve's wait, the echo's Send and the pong within the 2 KiB
// (see RESULTS.md, section a); wsmem-handshake-apart shows the handshake's
// share.

import (
	"net"
	"sync/atomic"

	"github.com/wsmem/wsmem"
	"github.com/wsmem/wsmem/examples/eventloop/loop"
)

func init() {
	servers["wsmem-goroutine"] = wsmemGoroutineServe
	servers["wsmem-loop"] = wsmemLoopServe
	servers["wsmem-handshake-apart"] = wsmemHandshakeApartServe
}

// wsmemEcho sends every message back from Serve's goroutine.
type wsmemEcho struct{ wsmem.NopHandler }

func (wsmemEcho) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	if c.Send(typ, data) != nil {
		c.Close()
	}
}

// wsmemGoroutineServe: a Storage per connection (new, so that it counts in
// the measured heap), AttachServer and Serve in the connection's
// goroutine.
func wsmemGoroutineServe(ln net.Listener, open *atomic.Int64) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			c, err := wsmem.AttachServer(nc, 0, new(wsmem.Storage), nil)
			if err != nil {
				nc.Close()
				return
			}
			defer c.Close()
			open.Add(1)
			_ = c.Serve(wsmemEcho{})
		}()
	}
}

// wsmemHandshakeApartServe: AttachServer in the accepting goroutine (one
// handshake at a time), Serve in the connection's.
func wsmemHandshakeApartServe(ln net.Listener, open *atomic.Int64) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c, err := wsmem.AttachServer(nc, 0, new(wsmem.Storage), nil)
		if err != nil {
			nc.Close()
			continue
		}
		open.Add(1)
		go func() {
			defer c.Close()
			_ = c.Serve(wsmemEcho{})
		}()
	}
}

// wsmemLoopServe: the event loops on a copy of ln's socket (ln itself is
// never accepted from). The loops' slabs grow with the connections, so they
// count in the measured heap too.
func wsmemLoopServe(ln net.Listener, open *atomic.Int64) {
	srv, err := loop.FromListener(ln, loop.Config{Loops: 2, OnOpen: func(string) { open.Add(1) }})
	if err != nil {
		panic(err)
	}
	_ = srv.Serve()
}
