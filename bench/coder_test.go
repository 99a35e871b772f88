package bench

// coder/websocket (formerly nhooyr.io/websocket): default Accept and Dial
// options (no compression), the read limit raised above the largest message
// (the default is 32 KiB). The server reads and writes through the 4 KiB
// bufio buffers net/http hands over on Hijack; the client through pooled
// 4 KiB bufio buffers over net/http's 101 response body.
//
//	mask:   not exported (mask() is internal)
//	read:   msg:    c.Read(ctx) (allocates the message)
//	        stream: c.Reader(ctx), then Read into a reused buffer to io.EOF
//	write:  c.Write(ctx, typ, p)
//	UTF-8:  text messages are not validated on receive
//	compression: AcceptOptions/DialOptions.CompressionMode:
//	        CompressionContextTakeover (a flate.Writer of its own per
//	        connection and direction, kept) or CompressionNoContextTakeover
//	        (pooled writers); the standard library's compress/flate at
//	        BestSpeed (level 1, fixed); default thresholds (128 / 512 bytes)
//	idle server: Accept from net/http's handler arguments, then
//	        c.Read / c.Write
//	handshake: raw:  none (it upgrades only from net/http)
//	        http: websocket.Accept(w, r, nil)

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

func init() {
	register(&lib{
		name:       "coder",
		serverRead: coderServerRead,
		serverWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			c, err := websocket.Accept(newHijackWriter(nc), upgradeRequest(), nil)
			if err != nil {
				return nil, err
			}
			return coderSend(c), nil
		},
		clientWriter: func(nc net.Conn) (func(bool, []byte) error, error) {
			dial := func(context.Context, string, string) (net.Conn, error) { return nc, nil }
			opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dial}}}
			c, _, err := websocket.Dial(context.Background(), "ws://127.0.0.1:9/", opts)
			if err != nil {
				return nil, err
			}
			return coderSend(c), nil
		},
		echoServe:      coderEchoServe,
		echoClient:     coderEchoClient,
		compressPair:   coderCompressPair,
		compressServer: coderCompressServer,
		httpUpgrade: func() func(http.ResponseWriter, *http.Request) error {
			return func(w http.ResponseWriter, r *http.Request) error {
				_, err := websocket.Accept(w, r, nil)
				return err
			}
		},
	})
}

func coderCompressMode(takeover bool) websocket.CompressionMode {
	if takeover {
		return websocket.CompressionContextTakeover
	}
	return websocket.CompressionNoContextTakeover
}

func coderCompressPair(cn, sn net.Conn, takeover bool, maxSize int) (func([]byte) error, func(func([]byte) bool) error, error) {
	mode := coderCompressMode(takeover)
	accepted := goDo(func() (*websocket.Conn, error) {
		hc, err := newHTTPConn(sn)
		if err != nil {
			return nil, err
		}
		return websocket.Accept(hc, hc.req, &websocket.AcceptOptions{CompressionMode: mode})
	})
	dial := func(context.Context, string, string) (net.Conn, error) { return cn, nil }
	opts := &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: &http.Transport{DialContext: dial}},
		CompressionMode: mode,
	}
	ctx := context.Background()
	cc, resp, err := websocket.Dial(ctx, "ws://127.0.0.1:9/", opts)
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
	sc.SetReadLimit(int64(maxSize) + 1)
	send := func(p []byte) error { return cc.Write(ctx, websocket.MessageText, p) }
	recv := func(each func([]byte) bool) error {
		defer sc.CloseNow()
		buf := make([]byte, maxSize+1)
		for {
			_, r, err := sc.Reader(ctx)
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

func coderCompressServer(takeover bool) (func(net.Conn), error) {
	opts := &websocket.AcceptOptions{CompressionMode: coderCompressMode(takeover)}
	return func(nc net.Conn) {
		defer nc.Close()
		hc, err := newHTTPConn(nc)
		if err != nil {
			return
		}
		c, err := websocket.Accept(hc, hc.req, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			if c.Write(ctx, typ, p) != nil {
				return
			}
		}
	}, nil
}

func coderSend(c *websocket.Conn) func(bool, []byte) error {
	ctx := context.Background()
	return func(text bool, p []byte) error {
		typ := websocket.MessageBinary
		if text {
			typ = websocket.MessageText
		}
		return c.Write(ctx, typ, p)
	}
}

func coderServerRead(nc net.Conn, api string, maxSize int, each func([]byte) bool) error {
	c, err := websocket.Accept(newHijackWriter(nc), upgradeRequest(), nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(int64(maxSize) + 1)
	ctx := context.Background()
	switch api {
	case apiMsg:
		for {
			_, p, err := c.Read(ctx)
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
			_, r, err := c.Reader(ctx)
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

func coderEchoServe(ln net.Listener, maxSize int) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(int64(maxSize) + 1)
		ctx := context.Background()
		buf := make([]byte, maxSize+1)
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			msg, err := readAll(rd, buf)
			if err != nil {
				return
			}
			if c.Write(ctx, typ, msg) != nil {
				return
			}
		}
	})}
	_ = srv.Serve(ln)
}

func coderEchoClient(addr string, p []byte, each func([]byte) bool) error {
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/", nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(int64(len(p)) + 1)
	buf := make([]byte, len(p)+1)
	for {
		if err := c.Write(ctx, websocket.MessageBinary, p); err != nil {
			return err
		}
		_, rd, err := c.Reader(ctx)
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
