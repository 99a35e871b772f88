package loop

import (
	"bytes"

	"github.com/wsmem/wsmem"
)

// checkTarget is the loop's Config.CheckTarget: Feed calls it for the
// connection being fed (l.cur) while answering its upgrade request. It
// routes /echo and /chat (query ignored) into the slot's state byte;
// any other target is refused with 404. No name buffer is needed: the
// target is not kept.
func (l *loop) checkTarget(target, _ []byte) bool {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	switch string(target) {
	case "/echo":
		l.cur.state = stateEcho
	case "/chat":
		l.cur.state = stateChat
	default:
		return false
	}
	return true
}

// protocolName names a routed state for Config.OnOpen.
func protocolName(state uint8) string {
	if state == stateChat {
		return "chat"
	}
	return "echo"
}

// The loop is the wsmem.Handler of every connection it feeds; l.cur is the
// one being fed.

// OnMessage echoes on /echo and broadcasts text on /chat.
func (l *loop) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	switch l.cur.state {
	case stateEcho:
		// Inside Feed, Send appends to Feed's output. data is unmasked in
		// place in the loop's read buffer.
		if err := c.Send(typ, data); slow(err) {
			l.refused = true
		}
	case stateChat:
		if typ == wsmem.Text {
			// PreparedMessage keeps its payload: data is the loop's read
			// buffer, so it gets a copy.
			l.srv.broadcast(l, wsmem.NewPreparedMessage(wsmem.Text, bytes.Clone(data), nil))
		}
	}
}

// OnPing does nothing: Feed already appended the pong.
func (l *loop) OnPing(*wsmem.Conn, []byte) {}

// OnClose does nothing: Feed's error tells the loop that the connection is
// over.
func (l *loop) OnClose(*wsmem.Conn, wsmem.StatusCode, []byte, error) {}
