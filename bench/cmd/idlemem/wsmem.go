package main

// wsmem's two ways to serve, measured beside the peers:
//
//   - wsmem-goroutine: AttachServer in a goroutine per connection, which
//     then blocks in Serve (Next): the Storage, the net.Conn and the
//     goroutine's stack per connection, no read buffer while idle.
//   - wsmem-loop: the epoll server of examples/eventloop (package loop),
//     two loops, the push API: per connection one slab slot (the Storage
//     and 40 bytes) and the socket, no goroutine and no net.Conn.

import (
	"net"
	"sync/atomic"

	"github.com/wsmem/wsmem"
	"github.com/wsmem/wsmem/examples/eventloop/loop"
)

func init() {
	servers["wsmem-goroutine"] = wsmemGoroutineServe
	servers["wsmem-loop"] = wsmemLoopServe
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
