package bench

// gorilla/websocket: the zero-value Upgrader and Dialer (the server reuses
// the 4 KiB buffers net/http hands over on Hijack; the client allocates 4
// KiB ones), no compression.
//
//	mask:   not exported (maskBytes is internal)
//	read:   msg:    c.ReadMessage() (allocates the message)
//	        stream: c.NextReader(), then Read into a reused buffer to io.EOF
//	write:  c.WriteMessage(type, p)
//	echo:   NextReader into a reused buffer, WriteMessage
//	UTF-8:  text messages are not validated on receive (only close reasons)
//	compression: Upgrader.EnableCompression and Dialer.EnableCompression,
//	        level 1 (its default; SetCompressionLevel(1) on the sender);
//	        compress/flate from the standard library. gorilla negotiates
//	        no context takeover only (it always answers and asks
//	        server_ and client_no_context_takeover): no takeover mode.
//	        The server is upgraded through net/http (httpConn)
//	idle server: Upgrader.Upgrade from net/http's handler arguments, then
//	        ReadMessage / WriteMessage (its echo example)
//	handshake: raw:  none (it upgrades only from net/http)
//	        http: Upgrader{}.Upgrade(w, r, nil)

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

func init() {
	register(&lib{
		name:       "gorilla",
		serverRead: gorillaServerRead,
		serverWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			c, err := (&websocket.Upgrader{}).Upgrade(newHijackWriter(nc), upgradeRequest(), nil)
			if err != nil {
				return nil, err
			}
			return gorillaSend(c), nil
		},
		clientWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			d := websocket.Dialer{NetDial: func(string, string) (net.Conn, error) { return nc, nil }}
			c, _, err := d.Dial("ws://127.0.0.1:9/", nil)
			if err != nil {
				return nil, err
			}
			return gorillaSend(c), nil
		},
		echoServe:      gorillaEchoServe,
		echoClient:     gorillaEchoClient,
		compressPair:   gorillaCompressPair,
		compressServer: gorillaCompressServer,
		httpUpgrade: func() func(http.ResponseWriter, *http.Request) error {
			up := &websocket.Upgrader{}
			return func(w http.ResponseWriter, r *http.Request) error {
				_, err := up.Upgrade(w, r, nil)
				return err
			}
		},
	})
}

func gorillaCompressPair(cn, sn net.Conn, takeover bool, maxSize int) (func([]byte) error, func(func([]byte) bool) error, error) {
	if takeover {
		return nil, nil, errNoAPI
	}
	accepted := goDo(func() (*websocket.Conn, error) {
		hc, err := newHTTPConn(sn)
		if err != nil {
			return nil, err
		}
		return (&websocket.Upgrader{EnableCompression: true}).Upgrade(hc, hc.req, nil)
	})
	d := websocket.Dialer{EnableCompression: true, NetDial: func(string, string) (net.Conn, error) { return cn, nil }}
	cc, resp, err := d.Dial("ws://127.0.0.1:9/", nil)
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
	if err := cc.SetCompressionLevel(1); err != nil {
		return nil, nil, err
	}
	send := func(p []byte) error { return cc.WriteMessage(websocket.TextMessage, p) }
	recv := func(each func([]byte) bool) error {
		buf := make([]byte, maxSize+1)
		for {
			_, r, err := sc.NextReader()
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
	return send, recv, nil
}

func gorillaCompressServer(takeover bool) (func(net.Conn), error) {
	if takeover {
		return nil, errNoAPI
	}
	up := &websocket.Upgrader{EnableCompression: true}
	return func(nc net.Conn) {
		defer nc.Close()
		hc, err := newHTTPConn(nc)
		if err != nil {
			return
		}
		c, err := up.Upgrade(hc, hc.req, nil)
		if err != nil {
			return
		}
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(typ, p) != nil {
				return
			}
		}
	}, nil
}

func gorillaSend(c *websocket.Conn) func(bool, []byte) error {
	return func(text bool, p []byte) error {
		typ := websocket.BinaryMessage
		if text {
			typ = websocket.TextMessage
		}
		return c.WriteMessage(typ, p)
	}
}

func gorillaServerRead(nc net.Conn, api string, maxSize int, each func([]byte) bool) error {
	c, err := (&websocket.Upgrader{}).Upgrade(newHijackWriter(nc), upgradeRequest(), nil)
	if err != nil {
		return err
	}
	switch api {
	case apiMsg:
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if !each(p) {
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

func gorillaEchoServe(ln net.Listener, maxSize int) {
	up := &websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, maxSize+1)
		for {
			typ, rd, err := c.NextReader()
			if err != nil {
				return
			}
			msg, err := readAll(rd, buf)
			if err != nil {
				return
			}
			if c.WriteMessage(typ, msg) != nil {
				return
			}
		}
	})}
	_ = srv.Serve(ln)
}

func gorillaEchoClient(addr string, p []byte, each func([]byte) bool) error {
	c, _, err := (&websocket.Dialer{}).Dial("ws://"+addr+"/", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, len(p)+1)
	for {
		if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
			return err
		}
		_, rd, err := c.NextReader()
		if err != nil {
			return err
		}
		msg, err := readAll(rd, buf)
		if err != nil {
			return err
		}
		if !each(msg) {
			return nil
		}
	}
}
