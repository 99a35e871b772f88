package wsmem

import (
	"errors"
	"io"
	"net"
	"time"
)

// The push API serves connections from an event loop (epoll, gnet,
// netpoll, io_uring…): the codec never reads or writes a socket. The loop
// hands Feed the bytes it read; the codec calls the Handler for every
// event and appends what the protocol must answer (the handshake response,
// pongs, close frames) to the loop's output buffer; the loop writes that
// out when the socket is writable. Sends from the application go through
// the same output path (AppendSend). An idle connection holds its Storage
// and nothing else; a frame split across reads keeps only its header bytes,
// a message split across reads its payload so far in a pooled buffer.
//
// Calls on one push connection must not run concurrently; the event loop
// serializes them. Inside a Handler called by Feed, Send, SendMsg,
// SendPrepared, Ping and Done append to Feed's output (an echo is
// c.Send(typ, data)); outside Feed they return ErrPushMode: use the Append
// calls. Close frees the connection's buffers at once and appends nothing:
// to close politely, AppendDone first.

// ErrPushMode is returned by blocking calls on a push connection, and by
// push calls on a blocking one.
var ErrPushMode = errors.New("wsmem: call not available in this mode (push or blocking)")

// pushConn stands in for the socket of a push connection: what the codec
// writes is appended to the caller's output buffer. It lives in the
// Storage.
type pushConn struct {
	out []byte
}

var errPushRead = errors.New("wsmem: a push connection is fed, not read")

func (p *pushConn) Read([]byte) (int, error)         { return 0, errPushRead }
func (p *pushConn) Write(b []byte) (int, error)      { p.out = append(p.out, b...); return len(b), nil }
func (p *pushConn) Close() error                     { return nil }
func (p *pushConn) LocalAddr() net.Addr              { return pushAddr{} }
func (p *pushConn) RemoteAddr() net.Addr             { return pushAddr{} }
func (p *pushConn) SetDeadline(time.Time) error      { return nil }
func (p *pushConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pushConn) SetWriteDeadline(time.Time) error { return nil }

type pushAddr struct{}

func (pushAddr) Network() string { return "push" }
func (pushAddr) String() string  { return "push" }

// NewPushServer makes st the server side of a connection driven by an
// event loop (see Feed). Without NoHTTP the client's upgrade request is
// the first thing fed. It allocates nothing with a Storage.
func NewPushServer(flags Flags, st *Storage, cfg *Config) *Conn {
	if st == nil {
		st = new(Storage)
	}
	c := attach(&st.conn.push, flags, st, cfg, true)
	c.pushMode = true
	c.handshaking = flags&NoHTTP == 0
	return c
}

// NewPushClient makes st the client side of a connection driven by an
// event loop. With NoHTTP frames flow at once; without it, the connection
// starts with AppendUpgrade, and the server's answer is the first thing
// fed. The error is always nil (the signature is kept for callers of the
// NoHTTP-only version). It allocates nothing with a Storage.
func NewPushClient(flags Flags, st *Storage, cfg *Config) (*Conn, error) {
	if st == nil {
		st = new(Storage)
	}
	c := attach(&st.conn.push, flags, st, cfg, false)
	c.pushMode = true
	return c, nil
}

// awaitingUpgrade reports whether c is a push client whose opening
// handshake has not succeeded yet.
func (c *Conn) awaitingUpgrade() bool {
	return c.pushMode && !c.server && c.flags&NoHTTP == 0 && !c.upgraded
}

// errUpgradeFirst is returned by sends on a push client that has not
// finished its opening handshake.
var errUpgradeFirst = errors.New("wsmem: the opening handshake is not done: AppendUpgrade, then Feed the answer")

// AppendUpgrade appends the opening handshake's request for resource on
// host to out (libdill's ws_attach_client, in push mode): write it, then
// Feed what the server answers; Feed checks the answer and goes on with
// the frames that follow it. The request's key waits in the Storage. It
// is for push clients made without NoHTTP, once.
func (c *Conn) AppendUpgrade(out []byte, resource, host string) ([]byte, error) {
	if !c.awaitingUpgrade() || c.handshaking {
		return out, ErrNotSupported
	}
	resource = requestTarget(resource)
	if err := c.checkUpgrade(resource, host); err != nil {
		return out, err
	}
	out, key, err := c.appendUpgrade(out, resource, host)
	if err != nil {
		return out, err
	}
	copy(c.scratch[:len(key)], key[:]) // the scratch is idle until the answer is whole
	setNames(c, resource, host)
	c.handshaking = true
	return out, nil
}

// Feed processes bytes the event loop read from the connection. It calls
// h.OnMessage for every complete message (data is valid until the call
// returns: a message that arrived whole in one read is unmasked in place in
// in and lent from there, so Feed modifies in), h.OnPing and OnPong for
// control frames, and h.OnClose once when the connection ends. Whatever the
// protocol must send back is appended to out, which Feed returns: write it
// to the socket. After an error, or the peer's close, the connection is
// over: write out, then close the socket. It allocates nothing at steady
// state.
func (c *Conn) Feed(in []byte, h Handler, out []byte) ([]byte, error) {
	if !c.pushMode {
		return out, ErrPushMode
	}
	c.push.out = openOutput(out)
	c.handler = h
	err := c.feed(in, h)
	c.handler = nil
	out, c.push.out = c.push.out, nil
	if err != nil && !c.closeReported {
		c.closeReported = true
		switch e := err.(type) {
		case *CloseError:
			h.OnClose(c, e.Code, e.Reason, nil)
		case *ProtocolError:
			h.OnClose(c, e.Code, nil, err)
		default:
			h.OnClose(c, StatusAbnormal, nil, err)
		}
	}
	return out, err
}

// AppendSend appends message p of type typ, framed (and compressed where
// negotiated) as Send would write it, to out and returns it.
func (c *Conn) AppendSend(out []byte, typ Flags, p []byte) ([]byte, error) {
	return c.appendOut(out, func() error { return c.Send(typ, p) })
}

// AppendPing appends a ping with payload p to out.
func (c *Conn) AppendPing(out []byte, p []byte) ([]byte, error) {
	return c.appendOut(out, func() error { return c.Ping(p) })
}

// AppendDone appends a close frame with code and reason to out (ws_done in
// push mode); the connection ends when the peer's close is fed.
func (c *Conn) AppendDone(out []byte, code StatusCode, reason []byte) ([]byte, error) {
	return c.appendOut(out, func() error { return c.Done(code, reason) })
}

// AppendPrepared appends the prepared message m (see SendPrepared) to out:
// a broadcast encodes once and appends the same frame to every
// connection's output.
func (c *Conn) AppendPrepared(out []byte, m *PreparedMessage) ([]byte, error) {
	return c.appendOut(out, func() error { return c.SendPrepared(m) })
}

// openOutput returns out, made non-nil (without allocating) when it is nil:
// a non-nil c.push.out is how sends know an output is open.
func openOutput(out []byte) []byte {
	if out == nil {
		return []byte{}
	}
	return out
}

// appendOut runs a send with out as the socket. Called from a Handler
// during Feed, it leaves Feed's own output as it was.
func (c *Conn) appendOut(out []byte, send func() error) ([]byte, error) {
	if !c.pushMode {
		return out, ErrPushMode
	}
	saved := c.push.out
	c.push.out = openOutput(out)
	err := send()
	out, c.push.out = c.push.out, saved
	return out, err
}

// feed is Feed's parser loop.
func (c *Conn) feed(in []byte, h Handler) error {
	if err := c.recvState(); err != nil {
		return err
	}
	if c.awaitingUpgrade() && !c.handshaking {
		return errUpgradeFirst
	}
	if c.handshaking {
		n, err := c.feedHandshake(in)
		in = in[n:]
		if err != nil || c.handshaking {
			return err
		}
	}
	for len(in) > 0 || (c.p.inFrame && c.p.left == 0) {
		if !c.p.inFrame {
			n, ok, err := c.feedHeader(in)
			in = in[n:]
			if err != nil {
				return c.fail(err)
			}
			if !ok {
				return nil // a partial header is kept in the Storage
			}
			c.ctlN = 0
			continue
		}
		k := int(min(c.p.left, int64(len(in))))
		switch {
		case c.p.h.OpCode.IsControl():
			_ = c.p.payload(c.scratch[c.ctlN:int(c.ctlN)+k], in[:k])
			c.ctlN += uint8(k)
		case c.msg == nil && c.p.h.Fin && c.p.frags == 1 && !c.p.msgRsv1 && int64(k) == c.p.left:
			// The whole message is in in: unmask it in place and lend it.
			view := in[:k]
			in = in[k:]
			err := c.p.payload(view, view)
			if err == nil {
				_, err = c.p.endFrame()
			}
			if err != nil {
				return c.fail(err)
			}
			c.p.endMessage()
			h.OnMessage(c, opFlags(c.p.lastOp), view)
			if c.recvState() != nil { // the handler closed the connection
				return c.recvState()
			}
			continue
		default:
			buf := &c.msg
			if c.p.msgRsv1 {
				buf = &c.zbuf
			}
			dst := growBuffer(buf, k)
			if err := c.p.payload(dst, in[:k]); err != nil {
				return c.fail(err)
			}
		}
		in = in[k:]
		if c.p.left > 0 {
			return nil // the frame goes on in the next read
		}
		end, err := c.p.endFrame()
		if err != nil {
			return c.fail(err)
		}
		if c.p.h.OpCode.IsControl() {
			if err := c.control(c.scratch[:c.ctlN]); err != nil {
				return err
			}
			continue
		}
		if end {
			if err := c.deliver(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// feedHeader takes the next frame header from in, keeping a partial one in
// the Storage across calls. It returns the bytes of in it used, and ok once
// the header was whole, checked and made the current frame.
func (c *Conn) feedHeader(in []byte) (used int, ok bool, err error) {
	var hdr []byte
	if c.hn == 0 && len(in) >= 2 && len(in) >= headerSize(in[1]) {
		hdr = in
	} else {
		if c.hn < 2 {
			k := copy(c.scratch[c.hn:2], in)
			c.hn += uint8(k)
			used += k
			if c.hn < 2 {
				return used, false, nil
			}
		}
		need := headerSize(c.scratch[1])
		k := copy(c.scratch[c.hn:need], in[used:])
		c.hn += uint8(k)
		used += k
		if int(c.hn) < need {
			return used, false, nil
		}
		hdr = c.scratch[:need]
	}
	h, n, err := ParseHeader(hdr)
	if err == nil {
		err = c.p.check(&h, c.cfg)
	}
	if err != nil {
		return used, false, err
	}
	c.p.commit(&h)
	if c.hn == 0 {
		used = n
	}
	c.hn = 0
	return used, true, nil
}

// growBuffer makes room for k more bytes in the pooled buffer *b (taking
// one from the pool when there is none) and returns them.
func growBuffer(b **pooledBuffer, k int) []byte {
	messagePool.grow(b, k)
	n := len((*b).B)
	(*b).B = (*b).B[:n+k]
	return (*b).B[n:]
}

// deliver hands a message assembled in c.msg (or compressed in c.zbuf) to
// h and gives its buffers back.
func (c *Conn) deliver(h Handler) error {
	typ := opFlags(c.p.lastOp)
	compressed := c.p.msgRsv1
	c.p.endMessage()
	if compressed {
		if c.msg == nil {
			c.msg = messagePool.Get()
		}
		// At once with wsmem's decoder when it can (as Next), else
		// streaming.
		n, done, err := c.startInflate(c.messageRoom, typ == Text)
		if err != nil {
			return err
		}
		if done {
			c.msg.B = c.msg.B[:n]
		} else if err := c.inflateAll(); err != nil {
			return err
		}
	}
	var data []byte
	if c.msg != nil {
		data = c.msg.B
	}
	h.OnMessage(c, typ, data)
	messagePool.release(&c.msg)
	return c.recvState()
}

// inflateAll inflates the open compressed message into c.msg.
func (c *Conn) inflateAll() error {
	for {
		b := growMessage(&c.msg, 4096, c.cfg.maxMessageSize())
		n, err := c.inflate(b[len(b):cap(b)])
		if c.msg == nil {
			return err // failed: the buffers went back
		}
		c.msg.B = b[:len(b)+n]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// feedHandshake gathers the client's upgrade request (in a pooled buffer
// until it is whole) and answers it into the output. It returns how many
// bytes of in belonged to the request.
func (c *Conn) feedHandshake(in []byte) (int, error) {
	limit := c.cfg.maxHandshakeSize()
	prev := 0
	if c.msg != nil {
		prev = len(c.msg.B)
	}
	take := min(len(in), limit+4-prev)
	head := growBuffer(&c.msg, take)
	copy(head, in[:take])
	all := c.msg.B
	end := headEnd(all[max(0, prev-3):])
	if end < 0 {
		if len(all) >= limit {
			messagePool.release(&c.msg)
			c.handshaking = false
			if !c.server {
				c.shutdown()
				return len(in), errHeadTooLarge
			}
			return len(in), c.refuse(431)
		}
		return len(in), nil
	}
	end += max(0, prev-3)
	used := end - prev
	var err error
	if c.server {
		err = c.respondUpgrade(all[:end])
	} else {
		var key [24]byte
		copy(key[:], c.scratch[:len(key)])
		err = c.acceptResponse(all[:end], &key)
	}
	messagePool.release(&c.msg)
	c.handshaking = false
	c.upgraded = err == nil
	if err != nil {
		c.shutdown()
		return len(in), err
	}
	return used, nil
}
