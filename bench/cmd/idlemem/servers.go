package main

// The servers under test, one per library, each in the library's
// documented way: a goroutine per connection that blocks reading the next
// message and echoes it with the one-call API. Each increments open once a
// connection is upgraded.

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync/atomic"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"
)

var servers = map[string]func(ln net.Listener, open *atomic.Int64){
	"gorilla": gorillaServe,
	"gobwas":  gobwasServe,
	"coder":   coderServe,
	"gws":     gwsServe,
}

func serverNames() []string {
	order := []string{"wsmem-loop", "wsmem-goroutine", "wsmem-handshake-apart", "gorilla", "gobwas", "coder", "gws"}
	var out []string
	for _, n := range order {
		if servers[n] != nil {
			out = append(out, n)
		}
	}
	for n := range servers {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// gorilla: net/http and the zero-value Upgrader (which reuses net/http's
// buffers), ReadMessage and WriteMessage in the handler's goroutine.
func gorillaServe(ln net.Listener, open *atomic.Int64) {
	up := &websocket.Upgrader{}
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		open.Add(1)
		for {
			typ, p, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, p) != nil {
				return
			}
		}
	}))
}

// gobwas: ws.Upgrade on the raw connection, wsutil.ReadClientData straight
// from it (no buffer held while idle) and wsutil.WriteServerMessage.
func gobwasServe(ln net.Listener, open *atomic.Int64) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if _, err := ws.Upgrade(c); err != nil {
				return
			}
			open.Add(1)
			for {
				p, op, err := wsutil.ReadClientData(c)
				if err != nil || wsutil.WriteServerMessage(c, op, p) != nil {
					return
				}
			}
		}()
	}
}

// coder: net/http and websocket.Accept, Read and Write in the handler's
// goroutine.
func coderServe(ln net.Listener, open *atomic.Int64) {
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		open.Add(1)
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil || c.Write(ctx, typ, p) != nil {
				return
			}
		}
	}))
}

// gws: gws.Server.RunListener (ReadLoop in each connection's goroutine),
// WriteMessage from OnMessage.
type gwsEcho struct {
	gws.BuiltinEventHandler
	open *atomic.Int64
}

func (h *gwsEcho) OnOpen(*gws.Conn) { h.open.Add(1) }

func (h *gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	_ = c.WriteMessage(m.Opcode, m.Bytes())
	m.Close()
}

func gwsServe(ln net.Listener, open *atomic.Int64) {
	_ = gws.NewServer(&gwsEcho{open: open}, nil).RunListener(ln)
}
