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
//	UTF-8:  validated on receive when CheckUtf8Enabled is set (off by default;
//	        after decompression)
//	compression: ServerOption/ClientOption.PermessageDeflate{Enabled,
//	        Level: 1, ServerContextTakeover and ClientContextTakeover for
//	        takeover, Server/ClientMaxWindowBits: 15 (with takeover gws's
//	        server defaults to 12)}; klauspost/compress flate; the server's
//	        compressors are a pool of 32 per Upgrader (PoolSize), a client
//	        has its own; default threshold 512 bytes without takeover
//	idle server: what gws.Server does: http.ReadRequest from a 4 KiB
//	        bufio.Reader, Upgrader.UpgradeFromConn, ReadLoop echoing with
//	        WriteMessage
//	handshake: raw:  http.ReadRequest on a reused 4 KiB bufio.Reader, then
//	        Upgrader.UpgradeFromConn (what gws.Server does; gws has no
//	        request parser of its own)
//	        http: Upgrader.Upgrade(w, r)

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"

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
		echoServe:      gwsEchoServe,
		echoClient:     gwsEchoClient,
		compressPair:   gwsCompressPair,
		compressServer: gwsCompressServer,
		rawUpgrade: func() func(net.Conn) error {
			up := gws.NewUpgrader(&gwsHandler{}, &gws.ServerOption{CheckUtf8Enabled: true})
			br := bufio.NewReaderSize(nil, 4096)
			return func(nc net.Conn) error {
				br.Reset(nc)
				r, err := http.ReadRequest(br)
				if err != nil {
					return err
				}
				_, err = up.UpgradeFromConn(nc, br, r)
				return err
			}
		},
		httpUpgrade: func() func(http.ResponseWriter, *http.Request) error {
			up := gws.NewUpgrader(&gwsHandler{}, &gws.ServerOption{CheckUtf8Enabled: true})
			return func(w http.ResponseWriter, r *http.Request) error {
				_, err := up.Upgrade(w, r)
				return err
			}
		},
	})
}

func gwsDeflate(takeover bool) gws.PermessageDeflate {
	return gws.PermessageDeflate{
		Enabled:               true,
		Level:                 1,
		ServerContextTakeover: takeover,
		ClientContextTakeover: takeover,
		ServerMaxWindowBits:   15,
		ClientMaxWindowBits:   15,
	}
}

func gwsCompressPair(cn, sn net.Conn, takeover bool, _ int) (func([]byte) error, func(func([]byte) bool) error, error) {
	stopped := false
	var each func([]byte) bool
	h := &gwsHandler{}
	h.onMessage = func(c *gws.Conn, m *gws.Message) {
		if !stopped && !each(m.Bytes()) {
			stopped = true
			_ = c.NetConn().Close() // ReadLoop returns at its next read
		}
		m.Close()
	}
	up := gws.NewUpgrader(h, &gws.ServerOption{CheckUtf8Enabled: true, PermessageDeflate: gwsDeflate(takeover)})
	accepted := goDo(func() (*gws.Conn, error) {
		br := bufio.NewReaderSize(sn, 4096)
		r, err := http.ReadRequest(br)
		if err != nil {
			return nil, err
		}
		return up.UpgradeFromConn(sn, br, r)
	})
	opt := &gws.ClientOption{Addr: "ws://127.0.0.1:9/", CheckUtf8Enabled: true, PermessageDeflate: gwsDeflate(takeover)}
	cc, resp, err := gws.NewClientFromConn(&gwsHandler{}, opt, cn)
	if err != nil {
		cn.Close()
		accepted()
		return nil, nil, err
	}
	sc, err := accepted()
	if err != nil {
		return nil, nil, err
	}
	if !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		return nil, nil, errors.New("permessage-deflate not negotiated")
	}
	send := func(p []byte) error { return cc.WriteMessage(gws.OpcodeText, p) }
	recv := func(f func([]byte) bool) error {
		each = f
		sc.ReadLoop()
		if stopped {
			return nil
		}
		return h.closeErr
	}
	return send, recv, nil
}

// gwsEcho echoes every message; it keeps no state, so connections can
// share it.
type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	_ = c.WriteMessage(m.Opcode, m.Bytes())
	m.Close()
}

func gwsCompressServer(takeover bool) (func(net.Conn), error) {
	up := gws.NewUpgrader(gwsEcho{}, &gws.ServerOption{CheckUtf8Enabled: true, PermessageDeflate: gwsDeflate(takeover)})
	return func(nc net.Conn) {
		br := bufio.NewReaderSize(nc, 4096)
		r, err := http.ReadRequest(br)
		if err != nil {
			nc.Close()
			return
		}
		c, err := up.UpgradeFromConn(nc, br, r)
		if err != nil {
			return
		}
		c.ReadLoop()
	}, nil
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
