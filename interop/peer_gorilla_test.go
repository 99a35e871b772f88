package interop

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// gorilla/websocket: permessage-deflate without context takeover only (it
// offers and answers server_no_context_takeover; client_no_context_takeover).
// Its write buffer is 1 KiB so that NextWriter's writes go out as many
// frames. The server side cannot tell whether compression was agreed; the
// wire tap does.
type gorillaEnd struct {
	c  *websocket.Conn
	ev *sink
}

func newGorillaEnd(c *websocket.Conn) *gorillaEnd {
	e := &gorillaEnd{c: c, ev: newSink()}
	c.SetReadLimit(64 << 20)
	c.SetPingHandler(func(s string) error {
		e.ev.push(event{kind: evPing, data: []byte(s)})
		err := c.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(5*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	c.SetPongHandler(func(s string) error {
		e.ev.push(event{kind: evPong, data: []byte(s)})
		return nil
	})
	// The default close handler stays: it echoes the code without the reason.
	go func() {
		defer e.ev.end()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					e.ev.push(event{kind: evClose, code: ce.Code, reason: ce.Text})
				} else {
					e.ev.push(event{kind: evError, err: err})
				}
				return
			}
			t := binaryMsg
			if typ == websocket.TextMessage {
				t = textMsg
			}
			e.ev.push(event{kind: evMessage, typ: t, data: p})
		}
	}()
	return e
}

func gorillaType(t msgType) int {
	if t == textMsg {
		return websocket.TextMessage
	}
	return websocket.BinaryMessage
}

func (e *gorillaEnd) send(typ msgType, p []byte) error {
	return e.c.WriteMessage(gorillaType(typ), p)
}

func (e *gorillaEnd) sendFragments(typ msgType, p []byte, size int) error {
	w, err := e.c.NextWriter(gorillaType(typ))
	if err != nil {
		return err
	}
	for len(p) > 0 {
		k := min(size, len(p))
		if _, err := w.Write(p[:k]); err != nil {
			return err
		}
		p = p[k:]
	}
	return w.Close()
}

func (e *gorillaEnd) ping(p []byte) ([]byte, error) {
	return p, e.c.WriteControl(websocket.PingMessage, p, time.Now().Add(5*time.Second))
}

func (e *gorillaEnd) closeWith(code int, reason string) error {
	return e.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(5*time.Second))
}

func (e *gorillaEnd) events() <-chan event { return e.ev.ch }
func (e *gorillaEnd) kill()                { _ = e.c.Close() }

// gorillaPeer builds both sides.
type gorillaPeer struct{}

func (gorillaPeer) name() string { return "gorilla" }

func (gorillaPeer) modes() []string { return []string{"nct"} }

func (gorillaPeer) server(mode string, out chan<- peerConn) http.Handler {
	u := websocket.Upgrader{
		ReadBufferSize:    4096,
		WriteBufferSize:   1024,
		EnableCompression: mode != "",
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			out <- peerConn{err: err}
			return
		}
		out <- peerConn{end: newGorillaEnd(c), compression: unknownCompression}
	})
}

func (gorillaPeer) dial(ctx context.Context, url, mode string) (peerConn, error) {
	d := websocket.Dialer{
		ReadBufferSize:    4096,
		WriteBufferSize:   1024,
		EnableCompression: mode != "",
		HandshakeTimeout:  5 * time.Second,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return peerConn{}, err
	}
	return peerConn{end: newGorillaEnd(c), compression: fromHeader(resp.Header)}, nil
}
