package wsmem

import (
	"errors"
	"io"
	"time"
)

// Handler receives a connection's events from Serve, as Barracuda's WSSCB
// callbacks do. Slices passed to it are valid until the call returns: copy
// what must outlive it. Embed NopHandler to implement only what you need.
type Handler interface {
	// OnMessage is called for every data message.
	OnMessage(c *Conn, typ Flags, data []byte)
	// OnPing is called for every ping; the pong was already sent.
	OnPing(c *Conn, data []byte)
	// OnClose is called once, when the connection ends: with the peer's
	// close code and reason and a nil err when the peer closed it; with
	// 1006 and the cause when it dropped or the heartbeat gave up; with the
	// code sent and the violation when the peer broke the protocol.
	OnClose(c *Conn, code StatusCode, reason []byte, err error)
}

// PongHandler is implemented by a Handler that wants the peer's pongs (to
// measure round trips, for example); Serve calls OnPong for each.
type PongHandler interface {
	OnPong(c *Conn, data []byte)
}

// NopHandler implements Handler by doing nothing; embed it.
type NopHandler struct{}

// OnMessage does nothing.
func (NopHandler) OnMessage(*Conn, Flags, []byte) {}

// OnPing does nothing.
func (NopHandler) OnPing(*Conn, []byte) {}

// OnClose does nothing.
func (NopHandler) OnClose(*Conn, StatusCode, []byte, error) {}

// ErrIdle is the cause OnClose reports when the peer sent nothing, not even
// a pong, for Config.IdleTimeout.
var ErrIdle = errors.New("wsmem: peer idle for longer than Config.IdleTimeout")

// Serve runs the receive loop until the connection ends, calling h for each
// event (Barracuda's WSSCB). It uses Next: a message's data is a view valid
// until OnMessage returns, and a connection waiting for its next message
// holds no pooled buffer. With Config.PingInterval it pings a quiet peer,
// and with Config.IdleTimeout it closes a peer that stays silent; both run
// on the read deadline, which Serve owns, so no timer or goroutine is
// added. It returns nil when the peer closed the connection, else the
// error that ended it. It allocates nothing per message.
func (c *Conn) Serve(h Handler) error {
	// The goroutine that runs Serve keeps the stack its deepest call
	// needed for as long as it lives (parked in a read, it is never shrunk):
	// this loop keeps its frame small, and the heartbeat and the end, which
	// need more, are in functions of their own.
	if c.cfg.PingInterval > 0 || c.cfg.IdleTimeout > 0 {
		return c.serveHeartbeat(h)
	}
	c.handler = h
	for {
		typ, data, err := c.Next()
		if err != nil {
			return c.serveEnd(h, err)
		}
		h.OnMessage(c, typ, data)
	}
}

// serveHeartbeat is Serve with Config.PingInterval or IdleTimeout. It
// pings from its own frame, which is kept small (see Serve); the rest of a
// timeout's handling is in quiet.
func (c *Conn) serveHeartbeat(h Handler) error {
	c.handler = h
	hb := heartbeat{lastRead: c.nread, quietSince: time.Now()}
	armedAt := time.Duration(-1) // see armHeartbeat
	for {
		armedAt = c.armHeartbeat(armedAt)
		typ, data, err := c.Next()
		if err == nil {
			h.OnMessage(c, typ, data)
			continue
		}
		if !isTimeout(err) {
			return c.serveEnd(h, err)
		}
		armedAt = -1 // the deadline passed: set a new one whatever the clock says
		if c.quiet(h, &hb) {
			return ErrIdle
		}
		if c.cfg.PingInterval > 0 {
			_ = c.Ping(nil)
		}
	}
}

// heartbeat is serveHeartbeat's record of the peer's silence.
type heartbeat struct {
	lastRead   uint64    // c.nread when the peer was last heard
	quietSince time.Time // when that was seen
}

// armHeartbeat sets the read deadline for the next wait of serveHeartbeat: the
// shorter of the ping interval and the idle timeout. Setting a deadline costs
// about 150 ns, several times what a message read from the buffer costs, so
// for a wait of coarseMinWait or more the deadline comes from the coarse clock
// (see handshakeDeadline) and moves only when that clock has moved since
// armedAt, the coarse time it returned last (-1: set it now): the deadline is
// then up to about a millisecond early. Shorter waits get an exact deadline
// every time.
func (c *Conn) armHeartbeat(armedAt time.Duration) time.Duration {
	interval, idle := c.cfg.PingInterval, c.cfg.IdleTimeout
	wait := interval
	if wait <= 0 || (idle > 0 && idle < wait) {
		wait = idle
	}
	if wait < coarseMinWait {
		_ = c.nc.SetReadDeadline(deadlineAfter(wait))
		return -1
	}
	now := coarseSince()
	if now != armedAt {
		_ = c.nc.SetReadDeadline(clockBase.Add(now + wait))
	}
	return now
}

// quiet handles a read deadline of serveHeartbeat: it notes whether the
// peer sent anything since the last one and, when it has been silent for
// Config.IdleTimeout, closes the connection, tells h and reports true.
func (c *Conn) quiet(h Handler, hb *heartbeat) bool {
	now := time.Now()
	if c.nread != hb.lastRead {
		hb.lastRead, hb.quietSince = c.nread, now
	}
	idle := c.cfg.IdleTimeout
	if idle <= 0 || now.Sub(hb.quietSince) < idle {
		return false
	}
	c.closeCode(StatusGoingAway)
	h.OnClose(c, StatusAbnormal, nil, ErrIdle)
	c.handler = nil
	return true
}

// serveEnd reports the error that ended Serve to h, ends Serve's hold on
// h, and returns what Serve returns.
func (c *Conn) serveEnd(h Handler, err error) error {
	switch e := err.(type) {
	case *CloseError:
		h.OnClose(c, e.Code, e.Reason, nil)
		err = nil
	case *ProtocolError:
		h.OnClose(c, e.Code, nil, err)
	default:
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		h.OnClose(c, StatusAbnormal, nil, err)
	}
	c.handler = nil
	return err
}

// closeCode sends a close frame with code, if the line allows, and closes
// the connection.
func (c *Conn) closeCode(code StatusCode) {
	c.sendCloseBounded(code)
	c.shutdown()
}
