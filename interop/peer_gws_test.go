package interop

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/lxzan/gws"
)

// lxzan/gws: permessage-deflate with or without context takeover, with
// window bits. It is event driven (ReadLoop calls the handler). WriteClose
// sends the close frame and closes the TCP connection at once, without
// waiting for the peer's answer; WriteFile is its only way to send a
// message in several frames (128 KiB each).
type gwsEnd struct {
	c  *gws.Conn
	ev *sink
}

type gwsHandler struct{ ev *sink }

func (h gwsHandler) OnOpen(*gws.Conn) {}

func (h gwsHandler) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		h.ev.push(event{kind: evClose, code: int(ce.Code), reason: string(ce.Reason)})
	} else {
		h.ev.push(event{kind: evError, err: err})
	}
	h.ev.end()
}

func (h gwsHandler) OnPing(c *gws.Conn, payload []byte) {
	h.ev.push(event{kind: evPing, data: bytes.Clone(payload)})
	_ = c.WritePong(payload)
}

func (h gwsHandler) OnPong(_ *gws.Conn, payload []byte) {
	h.ev.push(event{kind: evPong, data: bytes.Clone(payload)})
}

func (h gwsHandler) OnMessage(_ *gws.Conn, m *gws.Message) {
	t := binaryMsg
	if m.Opcode == gws.OpcodeText {
		t = textMsg
	}
	h.ev.push(event{kind: evMessage, typ: t, data: bytes.Clone(m.Bytes())})
	_ = m.Close()
}

func gwsOp(t msgType) gws.Opcode {
	if t == textMsg {
		return gws.OpcodeText
	}
	return gws.OpcodeBinary
}

func (e *gwsEnd) send(typ msgType, p []byte) error { return e.c.WriteMessage(gwsOp(typ), p) }

// sendFragments uses WriteFile: gws cuts the message in 128 KiB frames
// whatever size asks.
func (e *gwsEnd) sendFragments(typ msgType, p []byte, _ int) error {
	return e.c.WriteFile(gwsOp(typ), bytes.NewReader(p))
}

func (e *gwsEnd) ping(p []byte) ([]byte, error) { return p, e.c.WritePing(p) }

func (e *gwsEnd) closeWith(code int, reason string) error {
	return e.c.WriteClose(uint16(code), []byte(reason))
}

func (e *gwsEnd) events() <-chan event { return e.ev.ch }
func (e *gwsEnd) kill()                { _ = e.c.NetConn().Close() }

type gwsPeer struct{}

func (gwsPeer) name() string    { return "gws" }
func (gwsPeer) modes() []string { return []string{"ctx", "ctx-w12", "nct"} }

func gwsDeflate(mode string) gws.PermessageDeflate {
	switch mode {
	case "ctx":
		return gws.PermessageDeflate{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	case "ctx-w12":
		return gws.PermessageDeflate{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 12}
	case "nct":
		return gws.PermessageDeflate{Enabled: true}
	}
	return gws.PermessageDeflate{}
}

func (gwsPeer) server(mode string, out chan<- peerConn) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := newSink()
		u := gws.NewUpgrader(gwsHandler{ev}, &gws.ServerOption{
			ReadMaxPayloadSize:  64 << 20,
			WriteMaxPayloadSize: 64 << 20,
			CheckUtf8Enabled:    true,
			PermessageDeflate:   gwsDeflate(mode),
		})
		c, err := u.Upgrade(w, r)
		if err != nil {
			out <- peerConn{err: err}
			return
		}
		go c.ReadLoop()
		out <- peerConn{end: &gwsEnd{c: c, ev: ev}, compression: unknownCompression}
	})
}

func (gwsPeer) dial(_ context.Context, url, mode string) (peerConn, error) {
	ev := newSink()
	c, resp, err := gws.NewClient(gwsHandler{ev}, &gws.ClientOption{
		Addr:                url,
		ReadMaxPayloadSize:  64 << 20,
		WriteMaxPayloadSize: 64 << 20,
		CheckUtf8Enabled:    true,
		HandshakeTimeout:    5 * time.Second,
		PermessageDeflate:   gwsDeflate(mode),
	})
	if err != nil {
		return peerConn{}, err
	}
	go c.ReadLoop()
	return peerConn{end: &gwsEnd{c: c, ev: ev}, compression: fromHeader(resp.Header)}, nil
}
