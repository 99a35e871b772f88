package wsmem

import (
	"bytes"
	"encoding/binary"
	"net"
	"time"
	"unicode/utf8"
)

// maxCloseReason is the longest close reason: 125 bytes less the code.
const maxCloseReason = MaxControlPayload - 2

// control acts on a received control frame whose payload is unmasked.
func (c *Conn) control(payload []byte) error {
	switch c.p.h.OpCode {
	case OpPing:
		c.wmu.Lock()
		if c.sendState() == nil {
			_ = c.writeControl(OpPong, payload)
		}
		c.wmu.Unlock()
		if c.handler != nil {
			c.handler.OnPing(c, payload)
		}
	case OpPong:
		if ph, ok := c.handler.(PongHandler); ok {
			ph.OnPong(c, payload)
		}
	case OpClose:
		code, err := checkClose(payload)
		if err != nil {
			return c.fail(err)
		}
		var reason []byte
		if len(payload) > 2 {
			reason = payload[2:] // in the read buffer until keepReason moves it
		}
		c.closeErr = CloseError{Code: code, Reason: reason}
		c.set(stateRecvClose)
		c.wmu.Lock()
		if !c.has(stateSentClose) && c.writeErr == nil && !c.has(stateClosed) {
			echo := code
			if code == StatusNoStatus {
				echo = 0
			}
			_ = c.sendClose(echo, nil)
		}
		c.wmu.Unlock()
		// Both close frames have passed: the closing handshake is complete.
		if !c.has(stateDetaching) {
			c.shutdown()
			c.keepReason()
			c.dropReadBuffers()
		}
		return &c.closeErr
	}
	return nil
}

// keepReason moves the peer's close reason to the start of the scratch,
// where it stays until the Storage is reused: once the peer's close has
// arrived, nothing is read into the scratch again.
func (c *Conn) keepReason() {
	n := copy(c.scratch[:], c.closeErr.Reason)
	c.closeErr.Reason = c.scratch[:n]
}

// sendClose writes a close frame with code (0: none) and reason, cut to 123
// bytes on a UTF-8 boundary. Called with wmu.
func (c *Conn) sendClose(code StatusCode, reason []byte) error {
	var payload [MaxControlPayload]byte
	n := 0
	if code != 0 {
		binary.BigEndian.PutUint16(payload[:], uint16(code))
		n = 2 + copy(payload[2:], cutUTF8(reason, maxCloseReason))
	}
	c.set(stateSentClose)
	err := c.writeControl(OpClose, payload[:n])
	c.dropSendWindow() // no data frame may follow a close frame
	return err
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// end inside a UTF-8 sequence.
func cutUTF8(s []byte, n int) []byte {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// sendCloseBounded sends a close frame with code on a failing connection,
// waiting at most the close timeout for a sender that holds the line.
func (c *Conn) sendCloseBounded(code StatusCode) {
	if c.has(stateSentClose | stateClosed) {
		return
	}
	_ = c.nc.SetWriteDeadline(deadlineAfter(c.cfg.closeTimeout()))
	c.wmu.Lock()
	if c.writeErr == nil && !c.has(stateSentClose) {
		_ = c.sendClose(code, nil)
	}
	c.wmu.Unlock()
}

// shutdown closes the underlying connection once.
func (c *Conn) shutdown() {
	for {
		old := c.state.Load()
		if old&stateClosed != 0 {
			return
		}
		if c.state.CompareAndSwap(old, old|stateClosed) {
			_ = c.nc.Close()
			return
		}
	}
}

// Status returns the peer's close code and reason (libdill's ws_status):
// 1005 when its close frame had no code, 1006 when the connection dropped
// without one, 0 while no close was received. The reason is valid until the
// Storage is reused.
func (c *Conn) Status() (StatusCode, []byte) {
	return c.closeErr.Code, c.closeErr.Reason
}

// Done sends a close frame with code and reason (libdill's ws_done): the
// half-close. Later sends fail with ErrClosed; receiving goes on until the
// peer's close frame arrives. A code of 0 sends a close frame without one.
func (c *Conn) Done(code StatusCode, reason []byte) error {
	if code != 0 && !code.validOnWire() {
		return errCloseCodeArg
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.sendState(); err != nil {
		return err
	}
	return c.sendClose(code, reason)
}

// Close closes the connection at once, sending a close frame (1000) first
// when the line is free. It is idempotent, and safe while other goroutines
// are blocked in sends or receives: they return ErrClosed. On a push
// connection it sends nothing and gives back the buffers a message split
// across reads was holding (see Feed).
func (c *Conn) Close() error {
	if c.has(stateClosed) {
		return nil
	}
	if c.pushMode {
		// The event loop serializes calls: nothing else uses the buffers.
		c.set(stateClosed)
		c.dropReadBuffers()
		c.dropSendWindow()
		return nil
	}
	if c.wmu.TryLock() {
		if c.sendState() == nil {
			_ = c.nc.SetWriteDeadline(deadlineAfter(closeFrameWait))
			_ = c.sendClose(StatusNormal, nil)
		}
		c.wmu.Unlock()
	}
	for {
		old := c.state.Load()
		if old&stateClosed != 0 {
			return nil
		}
		if c.state.CompareAndSwap(old, old|stateClosed) {
			return c.nc.Close()
		}
	}
}

// closeFrameWait bounds the close frame Close sends on its way out.
const closeFrameWait = 100 * time.Millisecond

// Detach performs the closing handshake and hands back the underlying
// connection instead of closing it (libdill's ws_detach): it sends a close
// frame with code (0: none) and reason, then reads until the peer's close
// frame. Data messages that arrive meanwhile are read, validated and
// dropped; pings are still answered. It sets the read deadline to
// Config.CloseTimeout from now and clears it before returning; if the
// peer's close does not come by then, the connection is closed and the
// timeout error returned. Bytes already read past the peer's close frame are
// returned first by the net.Conn's Read. Every later call on c returns
// ErrClosed.
func (c *Conn) Detach(code StatusCode, reason []byte) (net.Conn, error) {
	if code != 0 && !code.validOnWire() {
		return nil, errCloseCodeArg
	}
	if c.has(stateClosed) {
		return nil, ErrClosed
	}
	c.set(stateDetaching)
	c.wmu.Lock()
	var err error
	if c.pending != nil {
		err = c.flushPending()
	}
	if err == nil && !c.has(stateSentClose) {
		err = c.sendClose(code, reason)
	}
	c.wmu.Unlock()
	if err != nil && !c.has(stateRecvClose) {
		c.shutdown()
		return nil, err
	}
	_ = c.nc.SetReadDeadline(deadlineAfter(c.cfg.closeTimeout()))
	for !c.has(stateRecvClose) {
		if c.messageOpen() {
			if _, err = c.skip(); err == nil {
				c.finishMessage()
			}
		} else {
			_, err = c.nextFrame(nil)
		}
		if err != nil && !c.has(stateRecvClose) {
			c.shutdown()
			return nil, err
		}
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	nc := c.nc
	var rest []byte
	if c.rr < c.rw {
		rest = bytes.Clone(c.rbuf[c.rr:c.rw])
		c.rr = c.rw
	}
	c.keepReason()
	c.release()
	c.dropRecvWindow() // Detach was the receiver: nothing reads after it
	c.set(stateClosed)
	if rest != nil {
		return &detachedConn{Conn: nc, rest: rest}, nil
	}
	return nc, nil
}

// detachedConn is a detached connection that first returns the bytes the
// WebSocket layer had read past the peer's close frame.
type detachedConn struct {
	net.Conn
	rest []byte
}

// Read returns the bytes read ahead first, then reads from the connection.
func (d *detachedConn) Read(p []byte) (int, error) {
	if len(d.rest) > 0 {
		n := copy(p, d.rest)
		d.rest = d.rest[n:]
		return n, nil
	}
	return d.Conn.Read(p)
}
