package loop

import (
	"bytes"

	"github.com/wsmem/wsmem"
)

// The loop is the wsmem.Handler of every connection it feeds; l.cur is the
// one being fed.

// OnMessage echoes on /echo and broadcasts text on /chat.
func (l *loop) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	e := l.cur
	if e.state == stateHandshake {
		l.route(e) // the first message came in the read that ended the upgrade
	}
	switch e.state {
	case stateEcho:
		// In push mode Send appends to the output of the Feed that is
		// running; AppendSend would replace that output (see the package
		// doc). data is unmasked in place in the loop's read buffer. Send
		// fails only on a connection that is over, which Feed reports.
		_ = c.Send(typ, data)
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

// route chooses e's protocol once its upgrade has been answered: the
// target was then just written to the loop's name buffer, which the next
// handshake on this loop overwrites, so it is read here and never again.
func (l *loop) route(e *conn) {
	target := e.c.Resource()
	if len(target) == 0 {
		return // the request is not whole yet
	}
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	proto := ""
	switch string(target) {
	case "/echo":
		e.state, proto = stateEcho, "echo"
	case "/chat":
		e.state, proto = stateChat, "chat"
	default:
		e.state = stateUnknown
	}
	if l.srv.cfg.OnOpen != nil {
		l.srv.cfg.OnOpen(proto)
	}
}
