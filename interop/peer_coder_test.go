package interop

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// coder/websocket: permessage-deflate with and without context takeover.
// Its Ping chooses its own payload (a counter) and waits for the matching
// pong; OnPingReceived and OnPongReceived show the control frames.
type coderEnd struct {
	c      *websocket.Conn
	ev     *sink
	ctx    context.Context
	cancel context.CancelFunc
}

func newCoderEnd(c *websocket.Conn, ev *sink) *coderEnd {
	ctx, cancel := context.WithCancel(context.Background())
	e := &coderEnd{c: c, ev: ev, ctx: ctx, cancel: cancel}
	c.SetReadLimit(64 << 20)
	go func() {
		defer e.ev.end()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					e.ev.push(event{kind: evClose, code: int(ce.Code), reason: ce.Reason})
				} else {
					e.ev.push(event{kind: evError, err: err})
				}
				return
			}
			t := binaryMsg
			if typ == websocket.MessageText {
				t = textMsg
			}
			e.ev.push(event{kind: evMessage, typ: t, data: p})
		}
	}()
	return e
}

// coderHooks returns the ping and pong callbacks that feed ev.
func coderHooks(ev *sink) (func(context.Context, []byte) bool, func(context.Context, []byte)) {
	onPing := func(_ context.Context, p []byte) bool {
		ev.push(event{kind: evPing, data: append([]byte(nil), p...)})
		return true
	}
	onPong := func(_ context.Context, p []byte) {
		ev.push(event{kind: evPong, data: append([]byte(nil), p...)})
	}
	return onPing, onPong
}

func coderType(t msgType) websocket.MessageType {
	if t == textMsg {
		return websocket.MessageText
	}
	return websocket.MessageBinary
}

func (e *coderEnd) send(typ msgType, p []byte) error {
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	return e.c.Write(ctx, coderType(typ), p)
}

func (e *coderEnd) sendFragments(typ msgType, p []byte, size int) error {
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	w, err := e.c.Writer(ctx, coderType(typ))
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

// ping runs coder's Ping, which sends its own payload and returns when the
// matching pong arrived; the payload shows in the OnPongReceived event.
func (e *coderEnd) ping([]byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	return nil, e.c.Ping(ctx)
}

// closeWith runs coder's Close in the background: it sends the close frame
// and waits for the peer's; the reader goroutine reports what arrived.
func (e *coderEnd) closeWith(code int, reason string) error {
	go func() { _ = e.c.Close(websocket.StatusCode(code), reason) }()
	return nil
}

func (e *coderEnd) events() <-chan event { return e.ev.ch }
func (e *coderEnd) kill()                { _ = e.c.CloseNow(); e.cancel() }

type coderPeer struct{}

func (coderPeer) name() string    { return "coder" }
func (coderPeer) modes() []string { return []string{"ctx", "nct"} }

func coderMode(mode string) websocket.CompressionMode {
	switch mode {
	case "ctx":
		return websocket.CompressionContextTakeover
	case "nct":
		return websocket.CompressionNoContextTakeover
	}
	return websocket.CompressionDisabled
}

func (coderPeer) server(mode string, out chan<- peerConn) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := newSink()
		onPing, onPong := coderHooks(ev)
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			InsecureSkipVerify: true,
			CompressionMode:    coderMode(mode),
			OnPingReceived:     onPing,
			OnPongReceived:     onPong,
		})
		if err != nil {
			out <- peerConn{err: err}
			return
		}
		out <- peerConn{end: newCoderEnd(c, ev), compression: unknownCompression}
	})
}

func (coderPeer) dial(ctx context.Context, url, mode string) (peerConn, error) {
	ev := newSink()
	onPing, onPong := coderHooks(ev)
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		CompressionMode: coderMode(mode),
		OnPingReceived:  onPing,
		OnPongReceived:  onPong,
	})
	if err != nil {
		return peerConn{}, err
	}
	return peerConn{end: newCoderEnd(c, ev), compression: fromHeader(resp.Header)}, nil
}
