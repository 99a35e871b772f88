package bench

// wsmem: a caller-allocated Storage per connection, the default Config (4
// KiB read and write buffers borrowed from pools only while bytes are in
// flight); no HTTP handshake (NoHTTP on both sides) except in the
// compression, idle-memory and handshake scenarios.
//
//	mask:   wsmem.Mask(b, key, 0)
//	read:   msg:    c.Recv(buf) into a reused buffer
//	        stream: c.NextReader(), then Read into a reused buffer to io.EOF
//	write:  c.Send(wsmem.Binary|wsmem.Text, p)
//	UTF-8:  always validated on receive (after decompression)
//	compression: Config.Compression{Enabled, Level: 1}, with
//	        ServerNoContextTakeover and ClientNoContextTakeover for
//	        notakeover; windows of 15 bits; compressors shared and borrowed
//	        per message, a window of history per direction with takeover
//	idle server: AttachServer (the HTTP handshake read from the connection)
//	        into a new Storage, then c.Serve(handler) echoing with c.Send
//	handshake: raw:  wsmem.AttachServer(nc, 0, st, nil), one Storage reused
//	        http: wsmem.Upgrade(w, r, 0, st, nil), one Storage reused

import (
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/wsmem/wsmem"
)

func init() {
	register(&lib{
		name: "wsmem",
		mask: func(b []byte, key [4]byte) { wsmem.Mask(b, key, 0) },
		maskLoop: func(bl *testing.B, b []byte, key [4]byte) {
			for bl.Loop() {
				wsmem.Mask(b, key, 0)
			}
		},
		validatesUTF8: true,
		serverRead:    wsmemServerRead,
		serverWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			c, err := wsmem.AttachServer(nc, wsmem.NoHTTP, new(wsmem.Storage), nil)
			return wsmemSend(c), err
		},
		clientWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			c, err := wsmem.AttachClient(nc, wsmem.NoHTTP, "/", "127.0.0.1", new(wsmem.Storage), nil)
			return wsmemSend(c), err
		},
		echoServe:      wsmemEchoServe,
		echoClient:     wsmemEchoClient,
		compressPair:   wsmemCompressPair,
		compressServer: wsmemCompressServer,
		rawUpgrade: func() func(net.Conn) error {
			st := new(wsmem.Storage)
			return func(nc net.Conn) error {
				_, err := wsmem.AttachServer(nc, 0, st, nil)
				return err
			}
		},
		httpUpgrade: func() func(http.ResponseWriter, *http.Request) error {
			st := new(wsmem.Storage)
			return func(w http.ResponseWriter, r *http.Request) error {
				_, err := wsmem.Upgrade(w, r, 0, st, nil)
				return err
			}
		},
	})
}

// wsmemCompressConfig is the Config of both sides with compression in a
// mode.
func wsmemCompressConfig(takeover bool) *wsmem.Config {
	return &wsmem.Config{Compression: wsmem.CompressionConfig{
		Enabled:                 true,
		Level:                   1,
		ServerNoContextTakeover: !takeover,
		ClientNoContextTakeover: !takeover,
	}}
}

func wsmemCompressPair(cn, sn net.Conn, takeover bool, maxSize int) (func([]byte) error, func(func([]byte) bool) error, error) {
	cfg := wsmemCompressConfig(takeover)
	accepted := goDo(func() (*wsmem.Conn, error) {
		return wsmem.AttachServer(sn, wsmem.Text, new(wsmem.Storage), cfg)
	})
	cc, err := wsmem.AttachClient(cn, wsmem.Text, "/", "127.0.0.1:9", new(wsmem.Storage), cfg)
	if err != nil {
		cn.Close()
		accepted()
		return nil, nil, err
	}
	sc, err := accepted()
	if err != nil {
		return nil, nil, err
	}
	if !cc.Compression() || !sc.Compression() {
		return nil, nil, errors.New("permessage-deflate not negotiated")
	}
	send := func(p []byte) error { return cc.Send(wsmem.Text, p) }
	recv := func(each func([]byte) bool) error {
		buf := make([]byte, maxSize+wsmem.MaxHeaderSize)
		for {
			n, _, err := sc.Recv(buf)
			if err != nil {
				return err
			}
			if !each(buf[:n]) {
				return nil
			}
		}
	}
	return send, recv, nil
}

// wsmemEcho echoes every message from Serve.
type wsmemEcho struct{ wsmem.NopHandler }

func (wsmemEcho) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) { _ = c.Send(typ, data) }

func wsmemCompressServer(takeover bool) (func(net.Conn), error) {
	cfg := wsmemCompressConfig(takeover)
	return func(nc net.Conn) {
		defer nc.Close()
		c, err := wsmem.AttachServer(nc, 0, new(wsmem.Storage), cfg)
		if err != nil {
			return
		}
		_ = c.Serve(wsmemEcho{})
	}, nil
}

func wsmemSend(c *wsmem.Conn) func(bool, []byte) error {
	return func(text bool, p []byte) error {
		typ := wsmem.Binary
		if text {
			typ = wsmem.Text
		}
		return c.Send(typ, p)
	}
}

func wsmemServerRead(nc net.Conn, api string, maxSize int, each func([]byte) bool) error {
	c, err := wsmem.AttachServer(nc, wsmem.NoHTTP, new(wsmem.Storage), nil)
	if err != nil {
		return err
	}
	switch api {
	case apiMsg:
		buf := make([]byte, maxSize)
		for {
			n, _, err := c.Recv(buf)
			if err != nil {
				return err
			}
			if !each(buf[:n]) {
				return nil
			}
		}
	case apiStream:
		buf := make([]byte, maxSize+1)
		for {
			_, r, err := c.NextReader()
			if err != nil {
				return err
			}
			msg, err := readAll(r, buf)
			if err != nil {
				return err
			}
			if !each(msg) {
				return nil
			}
		}
	}
	return errNoAPI
}

func wsmemEchoServe(ln net.Listener, maxSize int) {
	serveEach(ln, func(nc net.Conn) {
		c, err := wsmem.AttachServer(nc, wsmem.NoHTTP, new(wsmem.Storage), nil)
		if err != nil {
			return
		}
		// Recv's first read lands in buf: room for the header beside the
		// largest message lets a whole frame arrive in one read (the
		// documented way to size a Recv buffer).
		buf := make([]byte, maxSize+wsmem.MaxHeaderSize)
		for {
			n, typ, err := c.Recv(buf)
			if err != nil {
				return
			}
			if c.Send(typ, buf[:n]) != nil {
				return
			}
		}
	})
}

func wsmemEchoClient(addr string, p []byte, each func([]byte) bool) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := wsmem.AttachClient(nc, wsmem.NoHTTP, "/", "127.0.0.1", new(wsmem.Storage), nil)
	if err != nil {
		return err
	}
	buf := make([]byte, len(p)+wsmem.MaxHeaderSize) // room for the header: one read per frame
	for {
		if err := c.Send(wsmem.Binary, p); err != nil {
			return err
		}
		n, _, err := c.Recv(buf)
		if err != nil {
			return err
		}
		if !each(buf[:n]) {
			return nil
		}
	}
}
