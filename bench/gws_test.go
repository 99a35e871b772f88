package bench

// lxzan/gws: event-driven. The server and client run ReadLoop in the
// calling goroutine (ParallelEnabled off, the default), which parses frames
// from a pooled 4 KiB bufio.Reader and calls OnMessage with a pooled
// buffer; the handler hands message.Bytes() on and calls message.Close() to
// recycle it. CheckUtf8Enabled is on; no compression.
//
//	mask:   not exported (internal.MaskXOR)
//	read:   msg:    Event.OnMessage from socket.ReadLoop()
//	        stream: none (a message is always delivered whole)
//	write:  socket.WriteMessage(opcode, p)
//	upgrade: Upgrader.Upgrade over a hijacked connection (in memory);
//	        on loopback, what gws.Server.RunListener does (the request read
//	        from the raw connection, UpgradeFromConn); gws.NewClientFromConn
//	        and gws.NewClient on the client side
//	UTF-8:  validated on receive when CheckUtf8Enabled is set (off by default)

import (
	"bufio"
	"net"
	"net/http"

	"github.com/lxzan/gws"
)

func init() {
	register(&lib{
		name:          "gws",
		validatesUTF8: true,
		serverRead:    gwsServerRead,
		serverWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			up := gws.NewUpgrader(&gwsHandler{}, &gws.ServerOption{CheckUtf8Enabled: true})
			c, err := up.Upgrade(newHijackWriter(nc), upgradeRequest())
			if err != nil {
				return nil, err
			}
			return gwsSend(c), nil
		},
		clientWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			opt := &gws.ClientOption{Addr: "ws://127.0.0.1:9/", CheckUtf8Enabled: true}
			c, _, err := gws.NewClientFromConn(&gwsHandler{}, opt, nc)
			if err != nil {
				return nil, err
			}
			return gwsSend(c), nil
		},
		echoServe:  gwsEchoServe,
		echoClient: gwsEchoClient,
	})
}

// gwsHandler passes messages to onMessage and keeps the error the
// connection closed with.
type gwsHandler struct {
	gws.BuiltinEventHandler
	onMessage func(c *gws.Conn, m *gws.Message)
	closeErr  error
}

func (h *gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	if h.onMessage != nil {
		h.onMessage(c, m)
		return
	}
	m.Close()
}

func (h *gwsHandler) OnClose(_ *gws.Conn, err error) { h.closeErr = err }

func gwsSend(c *gws.Conn) func(bool, []byte) error {
	return func(text bool, p []byte) error {
		op := gws.OpcodeBinary
		if text {
			op = gws.OpcodeText
		}
		return c.WriteMessage(op, p)
	}
}

func gwsServerRead(nc net.Conn, api string, _ int, each func([]byte) bool) error {
	if api != apiMsg {
		return errNoAPI
	}
	stopped := false
	h := &gwsHandler{}
	h.onMessage = func(c *gws.Conn, m *gws.Message) {
		if !stopped && !each(m.Bytes()) {
			stopped = true
			_ = c.NetConn().Close() // ReadLoop returns at its next read
		}
		m.Close()
	}
	up := gws.NewUpgrader(h, &gws.ServerOption{CheckUtf8Enabled: true})
	c, err := up.Upgrade(newHijackWriter(nc), upgradeRequest())
	if err != nil {
		return err
	}
	c.ReadLoop()
	if stopped {
		return nil
	}
	return h.closeErr
}

// gwsEchoServe does what gws.Server.RunListener does (read the request with
// a 4 KiB bufio.Reader, UpgradeFromConn, ReadLoop in the connection's
// goroutine), but returns when ln is closed: RunListener retries a failed
// Accept forever, logging each failure.
func gwsEchoServe(ln net.Listener, _ int) {
	h := &gwsHandler{onMessage: func(c *gws.Conn, m *gws.Message) {
		_ = c.WriteMessage(m.Opcode, m.Bytes())
		m.Close()
	}}
	up := gws.NewUpgrader(h, &gws.ServerOption{CheckUtf8Enabled: true})
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			br := bufio.NewReaderSize(nc, 4096)
			r, err := http.ReadRequest(br)
			if err != nil {
				nc.Close()
				return
			}
			c, err := up.UpgradeFromConn(nc, br, r)
			if err != nil {
				nc.Close()
				return
			}
			c.ReadLoop()
		}()
	}
}

func gwsEchoClient(addr string, p []byte, each func([]byte) bool) error {
	stopped := false
	h := &gwsHandler{}
	h.onMessage = func(c *gws.Conn, m *gws.Message) {
		ok := !stopped && each(m.Bytes())
		m.Close()
		if !ok {
			if !stopped {
				stopped = true
				_ = c.WriteClose(1000, nil)
			}
			return
		}
		_ = c.WriteMessage(gws.OpcodeBinary, p)
	}
	c, _, err := gws.NewClient(h, &gws.ClientOption{Addr: "ws://" + addr + "/", CheckUtf8Enabled: true})
	if err != nil {
		return err
	}
	if err := c.WriteMessage(gws.OpcodeBinary, p); err != nil {
		return err
	}
	c.ReadLoop()
	if stopped {
		return nil
	}
	return h.closeErr
}
