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

import (
	"net"
	"net/http"

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
		echoServe:  gorillaEchoServe,
		echoClient: gorillaEchoClient,
	})
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
