package bench

// wsmem: a caller-allocated Storage per connection, the default Config (4
// KiB read and write buffers borrowed from pools only while bytes are in
// flight), no HTTP handshake yet (NoHTTP on both sides).
//
//	mask:   wsmem.Mask(b, key, 0)
//	read:   msg:    c.Recv(buf) into a reused buffer
//	        stream: c.NextReader(), then Read into a reused buffer to io.EOF
//	write:  c.Send(wsmem.Binary|wsmem.Text, p)
//	UTF-8:  always validated on receive

import (
	"net"

	"github.com/wsmem/wsmem"
)

func init() {
	register(&lib{
		name:          "wsmem",
		mask:          func(b []byte, key [4]byte) { wsmem.Mask(b, key, 0) },
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
		echoServe:  wsmemEchoServe,
		echoClient: wsmemEchoClient,
	})
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
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
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
		}()
	}
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
