package wsmem

import (
	"io"
	"time"
)

// Which receive call owns a message that is still open (a deadline expired
// inside it, or a reader has not finished it).
const (
	ownerNone uint8 = iota
	ownerRecv
	ownerNext
	ownerReader
)

// maxLandNext bounds Conn.landNext, the most readInto asks for at once:
// a frame of up to readChunk payload bytes lands whole, a larger one in
// pieces of readChunk (see there).
const maxLandNext = readChunk + MaxHeaderSize

// landMin is the least room a caller's buffer must have for a read to land
// in it directly when nothing is buffered.
const landMin = scratchSize

// recvState returns the error that ends receiving, if any.
func (c *Conn) recvState() error {
	if c.readErr != nil {
		return c.readErr
	}
	if s := c.state.Load(); s&(stateRecvClose|stateClosed) != 0 {
		if s&stateRecvClose != 0 {
			return &c.closeErr
		}
		return ErrClosed
	}
	return nil
}

// readError turns an error from the net.Conn into what receive calls
// return. A timeout leaves the connection as it was; anything else means
// the connection dropped without a close frame (status 1006).
func (c *Conn) readError(err error) error {
	if isTimeout(err) {
		return err
	}
	if c.has(stateClosed) {
		c.dropReadBuffers() // Close ran: receiving is over
		return ErrClosed
	}
	if err == io.EOF && (c.p.msgOp != 0 || c.p.inFrame || c.rr != c.rw) {
		err = io.ErrUnexpectedEOF
	}
	c.readErr = err
	c.closeErr.Code = StatusAbnormal
	c.shutdown()
	c.dropReadBuffers()
	return err
}

// fail handles a violation by the peer: it sends a close frame with the
// violation's code, closes the connection and returns err, which every
// later receive call returns too.
func (c *Conn) fail(err error) error {
	perr, ok := err.(*ProtocolError)
	if !ok {
		return c.readError(err)
	}
	c.readErr = perr
	c.closeErr.Code = StatusAbnormal
	c.sendCloseBounded(perr.Code)
	c.linger()
	c.shutdown()
	c.dropReadBuffers()
	return perr
}

// Bounds on what linger reads and how long it waits.
const (
	lingerBytes = 256 << 10
	lingerTime  = 500 * time.Millisecond
)

// linger half-closes a failing connection after its close frame and reads
// and drops what the peer still sends, for a short bounded time. Closing
// with unread bytes makes the kernel reset the connection, and the peer
// could lose the close frame (and its code) in the reset.
func (c *Conn) linger() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || c.has(stateClosed) || cw.CloseWrite() != nil {
		return
	}
	_ = c.nc.SetReadDeadline(deadlineAfter(min(lingerTime, c.cfg.closeTimeout())))
	for n := 0; n < lingerBytes; {
		m, err := c.nc.Read(c.scratch[:])
		n += m
		if err != nil {
			return
		}
	}
}

// dropReadBuffers gives the receive side's pooled buffers back once
// receiving has ended for good. Only the receiving goroutine calls it.
func (c *Conn) dropReadBuffers() {
	c.rr = c.rw
	c.release()
	messagePool.release(&c.partial)
	if !c.viewHeld {
		messagePool.release(&c.msg)
	}
	c.endInflate()
	c.dropRecvWindow()
}

// maxReadBuffer is the largest read buffer the connection uses.
func (c *Conn) maxReadBuffer() int {
	if slab := c.readSlab(); slab != nil {
		return len(slab)
	}
	return c.cfg.readBufferSize()
}

// usingScratch reports whether the read buffer is the Storage's scratch.
func (c *Conn) usingScratch() bool { return c.rpool == nil && c.readSlab() == nil }

// fill reads until at least need bytes are buffered; need is at most
// maxReadBuffer. It reads as much as the buffer takes.
func (c *Conn) fill(need int) error {
	if c.rr == c.rw {
		c.release() // waiting for new bytes: hold no pooled buffer
	}
	for c.rw-c.rr < need {
		if err := c.readOnce(need); err != nil {
			if c.rw-c.rr >= need {
				return nil // the next read reports err again
			}
			return c.readError(err)
		}
	}
	return nil
}

// refill reads once into the read buffer, which holds nothing, for a
// message that is being read: unlike fill it keeps a pooled buffer, since
// more of the message is due, and it returns after one read. room is how
// many bytes the read buffer must have space for (at most maxReadBuffer).
func (c *Conn) refill(room int) error {
	c.rr, c.rw = 0, 0
	if err := c.readOnce(room); err != nil && c.rw == 0 {
		return c.readError(err) // with bytes read, the next read reports err again
	}
	return nil
}

// readOnce reads once after the buffered bytes, first making room for need
// bytes from rr on when the buffer lacks it (or leaving the scratch for a
// busy stream), and returns the read's error.
func (c *Conn) readOnce(need int) error {
	if len(c.rbuf)-c.rr < need || (c.scratchIn && c.usingScratch()) {
		c.makeRoom(need)
	}
	m, err := c.nc.Read(c.rbuf[c.rw:])
	c.rw += m
	c.nread += uint64(m)
	if c.rw == len(c.rbuf) && c.usingScratch() {
		c.scratchIn = true
	}
	return err
}

// makeRoom moves the buffered bytes to the front of a read buffer with room
// for need bytes: the same buffer when it is large enough, else the
// caller's slab or a pooled buffer. A busy stream leaves the scratch.
func (c *Conn) makeRoom(need int) {
	dst := c.rbuf
	old, oldBig := c.rpool, c.rpoolBig
	if need > len(dst) || (c.scratchIn && c.usingScratch()) {
		if slab := c.readSlab(); slab != nil && need <= len(slab) {
			dst = slab
		} else {
			c.rpool, c.rpoolBig = c.getReadBuffer(need)
			dst = c.rpool.B
		}
	} else {
		old = nil
	}
	n := copy(dst, c.rbuf[c.rr:c.rw])
	if old != nil {
		putReadBuffer(old, oldBig)
	}
	c.rbuf, c.rr, c.rw = dst, 0, n
}

// getReadBuffer lends a read buffer with room for need bytes: readPool's,
// of the read buffer's size, when that is enough; else (big) one of
// messagePool's size classes, which keep their buffers whatever mix of
// sizes passes through them (a read that landed in the caller's buffer can
// bring more than the read buffer's size past a frame, see readInto).
func (c *Conn) getReadBuffer(need int) (b *pooledBuffer, big bool) {
	if size := c.cfg.readBufferSize(); need <= size {
		return getBuffer(&readPool, size), false
	}
	b = messagePool.get(need)
	b.B = b.B[:cap(b.B)]
	return b, true
}

// putReadBuffer gives back b, a pooled read buffer, to the pool
// getReadBuffer took it from: messagePool when it recorded big.
func putReadBuffer(b *pooledBuffer, big bool) {
	if big {
		messagePool.Put(b)
		return
	}
	putBuffer(&readPool, b)
}

// keep appends b, bytes read outside the read buffer, to the buffered ones.
func (c *Conn) keep(b []byte) {
	if len(b) == 0 {
		return
	}
	if len(b) > len(c.rbuf)-c.rw {
		c.makeRoom(c.rw - c.rr + len(b))
	}
	c.rw += copy(c.rbuf[c.rw:], b)
}

// release gives the pooled read buffer back once nothing is buffered, so
// that a connection waiting for its next message holds none.
func (c *Conn) release() {
	if c.rr != c.rw {
		return
	}
	c.rr, c.rw = 0, 0
	if c.rpool != nil {
		putReadBuffer(c.rpool, c.rpoolBig)
		c.rpool = nil
		c.rbuf = c.scratch[:]
		c.scratchIn = false
	}
}

// nextFrame reads frame headers until one starts or continues a data
// message, answering control frames on the way. land is the caller's memory
// for the message's payload: when nothing is buffered and it has room, the
// read lands in it, and the frame's first payload bytes are moved into
// place (unmasked) in the same pass; nextFrame returns how many.
//
// It is on the path of every receive call, also while Serve's goroutine
// waits for a message: its frame is kept small (see Serve), the rarer
// steps are calls.
func (c *Conn) nextFrame(land []byte) (int, error) {
	for {
		if c.rr == c.rw && len(land) >= landMin && c.readSlab() == nil {
			if placed, done, err := c.readInto(land); done {
				return placed, err
			}
		}
		if n := c.p.beginData(c.rbuf[c.rr:c.rw], c.cfg); n > 0 {
			c.rr += n // the usual data frame, whole header buffered
			return 0, nil
		}
		if err := c.fill(2); err != nil {
			return 0, err
		}
		if err := c.fill(headerSize(c.rbuf[c.rr+1])); err != nil {
			return 0, err
		}
		h, n, err := ParseHeader(c.rbuf[c.rr:c.rw])
		if err == nil {
			err = c.p.check(&h, c.cfg)
		}
		if err != nil {
			return 0, c.fail(err)
		}
		// A control frame is buffered entirely before its header is taken,
		// so that nothing changes if a deadline expires meanwhile.
		if h.OpCode.IsControl() {
			if err := c.fill(n + int(h.Length)); err != nil {
				return 0, err
			}
		}
		c.p.commit(&h)
		c.rr += n
		if !h.OpCode.IsControl() {
			return 0, nil
		}
		if err := c.controlFrame(); err != nil {
			return 0, err
		}
	}
}

// readInto is nextFrame's read into the caller's memory land, when nothing
// is buffered: done reports that it took the start of a data frame
// (placed payload bytes are in land) or failed; else what it read, if
// anything, is buffered for nextFrame.
//
// The read asks for the read buffer's size, or for as much as the frame
// that landed last took when that was more: a stream of large messages of
// one size then takes one read per frame, not a first read of the buffer's
// size and a second for the rest. Whatever the read brings past the frame
// is buffered (keep), so asking for the last frame's size bounds that
// excess: at most that size (and maxLandNext), when the peer sends a much
// shorter frame and more behind it at once.
func (c *Conn) readInto(land []byte) (placed int, done bool, err error) {
	c.release()
	c.scratchIn = false
	m, err := c.nc.Read(land[:min(len(land), max(c.cfg.readBufferSize(), int(c.landNext)))])
	c.nread += uint64(m)
	if m == 0 {
		if err != nil {
			return 0, true, c.readError(err)
		}
		return 0, false, nil
	}
	// An error with m > 0 is reported again by the next read.
	if placed, ok, err := c.landed(land[:m]); ok || err != nil {
		return placed, true, err
	}
	c.keep(land[:m])
	return 0, false, nil
}

// controlFrame takes the payload of the control frame whose header
// nextFrame committed (buffered whole) and acts on it. A server answers a
// ping here, with a pong written from where the ping lies in the read
// buffer: this is the deepest call of a goroutine waiting in Serve, so it
// takes no buffer and makes no further call (see Serve).
func (c *Conn) controlFrame() error {
	start := c.rr
	c.rr += int(c.p.left)
	c.p.unmaskControl(c.rbuf[start:c.rr])
	if c.p.h.OpCode != OpPing || !c.server || c.pushMode {
		return c.control(c.rbuf[start:c.rr])
	}
	c.wmu.Lock()
	if c.sendState() == nil {
		if c.pending == nil {
			// The pong's 2-byte header goes over the end of the ping's
			// (6 bytes: a client's frames are masked), and the two go
			// out with one write.
			f := c.rbuf[start-2 : c.rr]
			f[0], f[1] = 0x80|byte(OpPong), byte(len(f)-2)
			if m, err := c.nc.Write(f); err != nil {
				c.pongFailed(err, m, start)
			}
		} else {
			_ = c.writeControl(OpPong, c.rbuf[start:c.rr])
		}
	}
	c.wmu.Unlock()
	if c.handler != nil {
		c.handler.OnPing(c, c.rbuf[start:c.rr])
	}
	return nil
}

// pongFailed handles the failed write of controlFrame's pong, which starts
// 2 bytes before start in the read buffer. Called with wmu.
func (c *Conn) pongFailed(err error, written, start int) {
	_ = c.frameFailed(err, c.rbuf[start-2:c.rr], written)
}

// landed takes a read that landed in the caller's memory b. When b starts
// with a whole data frame header, the payload that follows is moved down
// over the header, unmasked, and whatever lies past the frame is kept as
// buffered input: ok is true and placed counts the payload bytes. Anything
// else (a control frame, a partial header) is left for the caller to buffer.
func (c *Conn) landed(b []byte) (placed int, ok bool, err error) {
	if len(b) < 2 || len(b) < headerSize(b[1]) || OpCode(b[0]&0x0F).IsControl() || b[0]&0x40 != 0 {
		return 0, false, nil
	}
	n := c.p.beginData(b, c.cfg)
	if n == 0 {
		if n, err = c.p.begin(b, c.cfg); err != nil {
			return 0, false, c.fail(err)
		}
	}
	c.landNext = uint32(min(int64(n)+c.p.left, maxLandNext))
	k := int(min(c.p.left, int64(len(b)-n)))
	if err := c.p.payload(b[:k], b[n:n+k]); err != nil {
		return 0, false, c.fail(err)
	}
	c.keep(b[n+k:])
	return k, true, nil
}

// readChunk bounds a read that goes straight into the caller's memory, so
// that each piece is unmasked right after it arrives, while it is still in
// the CPU's cache, rather than after a whole large payload went through it
// (and copies of a megabyte or more use stores that bypass the cache).
const readChunk = 64 << 10

// readData moves payload of the open message into dst until dst is full or
// the message ends, crossing frame boundaries. Bytes already buffered are
// unmasked while copied. When none are, a short read goes into the read
// buffer and takes what follows too; a long one goes straight into dst,
// bounded by the frame so that no byte of the next frame is taken.
func (c *Conn) readData(dst []byte) (n int, end bool, err error) {
	if c.p.inFrame && c.p.h.Fin && c.p.left <= int64(len(dst)) {
		// The usual case: the rest of the message's last frame fits dst.
		k := int(c.p.left)
		if k > c.rw-c.rr && c.rr < c.rw && k < c.maxReadBuffer() && !c.p.text() {
			// Short and partly buffered: buffer all of it (the read takes
			// what follows too), for one pass below. Not text, which is
			// validated as it arrives, so that a violation is reported
			// before a read that may never return.
			if err := c.fill(k); err != nil {
				return 0, false, err
			}
		}
		if k <= c.rw-c.rr {
			err := c.p.payload(dst[:k], c.rbuf[c.rr:c.rr+k])
			c.rr += k
			if err == nil {
				_, err = c.p.endFrame()
			}
			if err != nil {
				return k, false, c.fail(err)
			}
			c.p.endMessage()
			return k, true, nil
		}
	}
	for {
		if n == len(dst) && len(dst) > 0 && !(c.p.inFrame && c.p.left == 0 && c.p.h.Fin) {
			return n, false, nil // full: the caller decides whether to wait for more
		}
		if c.p.left > 0 {
			if n == len(dst) {
				return n, false, nil
			}
			if c.rr < c.rw {
				k := int(min(int64(c.rw-c.rr), c.p.left, int64(len(dst)-n)))
				err := c.p.payload(dst[n:n+k], c.rbuf[c.rr:c.rr+k])
				c.rr += k
				n += k
				if err != nil {
					return n, false, c.fail(err)
				}
				continue
			}
			want := min(c.p.left, int64(len(dst)-n))
			if want < int64(c.maxReadBuffer()) {
				// A short read: through the read buffer, which takes what
				// follows too (a busy stream's next frames) in the same read.
				if err := c.refill(int(want)); err != nil {
					return n, false, err
				}
				continue
			}
			c.release()
			k := int(min(want, readChunk))
			c.scratchIn = false // this read goes elsewhere: the scratch says nothing of the stream
			m, rerr := c.nc.Read(dst[n : n+k])
			c.nread += uint64(m)
			if m > 0 {
				err := c.p.payload(dst[n:n+m], dst[n:n+m])
				n += m
				if err != nil {
					return n, false, c.fail(err)
				}
			}
			if rerr != nil {
				return n, false, c.readError(rerr)
			}
			continue
		}
		if c.p.inFrame {
			end, err := c.p.endFrame()
			if err != nil {
				return n, false, c.fail(err)
			}
			if end {
				c.p.endMessage()
				return n, true, nil
			}
		}
		placed, err := c.nextFrame(dst[n:])
		n += placed
		if err != nil {
			return n, false, err
		}
	}
}

// skip reads the rest of the open message and drops it, validating it on
// the way. It returns how many payload bytes it dropped.
func (c *Conn) skip() (int64, error) {
	var dropped int64
	for {
		if c.p.left > 0 {
			if c.rr == c.rw {
				if err := c.fill(1); err != nil {
					return dropped, err
				}
			}
			k := int(min(int64(c.rw-c.rr), c.p.left))
			b := c.rbuf[c.rr : c.rr+k]
			err := c.p.payload(b, b)
			c.rr += k
			dropped += int64(k)
			if err != nil {
				return dropped, c.fail(err)
			}
			continue
		}
		if c.p.inFrame {
			end, err := c.p.endFrame()
			if err != nil {
				return dropped, c.fail(err)
			}
			if end {
				c.p.endMessage()
				return dropped, nil
			}
		}
		if _, err := c.nextFrame(nil); err != nil {
			return dropped, err
		}
	}
}

// skipMessage drops the rest of the open message, inflating a compressed
// one so that the window of history stays right.
func (c *Conn) skipMessage() (int64, error) {
	if !c.p.msgRsv1 && c.zbuf == nil {
		return c.skip()
	}
	if err := c.gather(); err != nil {
		return 0, err
	}
	return c.inflateRest()
}

// messageOpen reports whether a data message has started and not ended
// (a compressed one ends when its inflater is done).
func (c *Conn) messageOpen() bool { return c.p.msgOp != 0 || c.zbuf != nil }

// startRecv prepares a receive call by owner: it ends a view Next lent,
// drops a message another call left open, and reports whether owner resumes
// its own open message.
func (c *Conn) startRecv(owner uint8) (resume bool, err error) {
	if c.viewHeld {
		c.viewHeld = false
		if c.owner != ownerNext {
			messagePool.release(&c.msg)
		}
	}
	if c.pushMode {
		return false, ErrPushMode
	}
	if err := c.recvState(); err != nil {
		return false, err
	}
	if !c.messageOpen() {
		c.owner = ownerNone
		return false, nil
	}
	if c.owner == owner {
		return true, nil
	}
	messagePool.release(&c.partial)
	messagePool.release(&c.msg)
	c.truncated = false
	c.owner = ownerNone
	if _, err := c.skipMessage(); err != nil {
		return false, err
	}
	c.msgSeq++
	return false, nil
}

// recvIdle reports whether a receive call may start without startRecv:
// no view lent, no message open, receiving not over, not in push mode.
func (c *Conn) recvIdle() bool {
	return !c.viewHeld && c.p.msgOp == 0 && c.zbuf == nil && !c.pushMode && c.readErr == nil && c.state.Load()&(stateRecvClose|stateClosed) == 0
}

// finishMessage records the end of a message received by any call.
func (c *Conn) finishMessage() {
	c.owner = ownerNone
	c.truncated = false
	c.msgSeq++
	if c.rr == c.rw {
		c.release()
	}
}

func opFlags(op OpCode) Flags {
	if op == OpText {
		return Text
	}
	return Binary
}

// Recv receives the next message into buf and returns its length and type
// (libdill's ws_recv). The payload is unmasked while it is copied, or read
// straight into buf, and text is validated as it arrives. A message longer
// than buf fills buf and returns ErrShortBuffer. Waiting for a message
// holds no pooled buffer: the first read lands in buf itself and asks for
// the read buffer's size, or for as much as the frame that landed last took
// when that was more (up to 64 KiB of payload), so a buffer with
// MaxHeaderSize bytes of room beyond the largest message receives a stream
// of equal frames with one read each. Control frames are answered on the
// way. It allocates nothing at steady state: bytes a read brings past a
// shorter frame wait in a pooled buffer (of a size class when they are
// more than the read buffer's size).
//
// On AMD Zen 3 the kernel's copy into buf runs about 20 times slower when
// buf lies 1 to 31 bytes past the received bytes' place in the kernel's
// page, modulo 4 KiB; a buf that starts a page (make returns such buffers
// from 32 KiB up) or at least 1 KiB into one keeps clear of that when the
// bytes sit near the start of the kernel's page, as over loopback (the
// README's echo note has the measurements).
func (c *Conn) Recv(buf []byte) (int, Flags, error) {
	resume, err := c.startRecv(ownerRecv)
	if err != nil {
		return 0, 0, err
	}
	n := 0
	if resume && c.partial != nil {
		n = copy(buf, c.partial.B)
		if len(c.partial.B) > len(buf) {
			c.truncated = true
		}
		messagePool.release(&c.partial)
	} else if !resume {
		placed, err := c.nextFrame(buf)
		if err != nil {
			return 0, 0, err
		}
		n = placed
		c.owner = ownerRecv
	}
	typ := opFlags(c.p.lastOp)
	if c.p.msgRsv1 || c.zbuf != nil {
		n, truncated, err := c.recvCompressed(buf)
		if err != nil {
			return 0, typ, err
		}
		c.finishMessage()
		if truncated {
			return n, typ, ErrShortBuffer
		}
		return n, typ, nil
	}
	if !c.truncated {
		m, end, err := c.readData(buf[n:])
		n += m
		if err != nil {
			return 0, typ, c.interrupted(buf[:n], err)
		}
		if end {
			c.finishMessage()
			return n, typ, nil
		}
	}
	dropped, err := c.skip()
	if err != nil {
		c.truncated = true
		return 0, typ, c.interrupted(buf[:n], err)
	}
	truncated := c.truncated || dropped > 0
	c.finishMessage()
	if truncated {
		return n, typ, ErrShortBuffer
	}
	return n, typ, nil
}

// interrupted keeps what Recv had of a message when a deadline expired, so
// that the next call resumes; other errors are returned as they are.
func (c *Conn) interrupted(have []byte, err error) error {
	if isTimeout(err) && c.readErr == nil {
		c.partial = messagePool.get(len(have))
		c.partial.B = append(c.partial.B, have...)
	}
	return err
}

// RecvMsg receives the next message into buf, as Recv, on a socket typed by
// its flags (libdill's mrecv): a message of the other type closes the
// connection with 1003 and returns an error matching ErrProtocol.
func (c *Conn) RecvMsg(buf []byte) (int, error) {
	n, typ, err := c.Recv(buf)
	if typ != c.flags&Text && (err == nil || err == ErrShortBuffer) {
		return 0, c.fail(errWrongType)
	}
	return n, err
}

// RecvL receives the next message into the buffers in order, filling each
// before the next (libdill's ws_recvl). It returns the total length and the
// type; a message longer than all the buffers returns ErrShortBuffer. A
// deadline inside the message returns the error, and the next RecvL resumes
// where it stopped. It allocates nothing.
func (c *Conn) RecvL(bufs [][]byte) (int, Flags, error) {
	resume, err := c.startRecv(ownerRecv)
	if err != nil {
		return 0, 0, err
	}
	have := 0 // bytes already in the buffers
	if resume && c.partial != nil {
		var rest []byte
		have, rest = scatter(bufs, c.partial.B)
		c.truncated = c.truncated || len(rest) > 0
		messagePool.release(&c.partial)
	} else if !resume {
		var land []byte
		if len(bufs) > 0 {
			land = bufs[0]
		}
		placed, err := c.nextFrame(land)
		if err != nil {
			return 0, 0, err
		}
		c.owner = ownerRecv
		have = placed
	}
	typ := opFlags(c.p.lastOp)
	if c.p.msgRsv1 || c.zbuf != nil {
		return c.recvLCompressed(bufs, typ)
	}
	total, end := 0, false
	for i := 0; i < len(bufs) && !end && !c.truncated; i++ {
		b := bufs[i]
		if have >= len(b) {
			have -= len(b)
			total += len(b)
			continue
		}
		off := have
		have = 0
		m, e, err := c.readData(b[off:])
		total += off + m
		end = e
		if err != nil {
			return 0, typ, c.interruptedL(bufs, total, err)
		}
	}
	truncated := c.truncated
	if !end && !truncated {
		dropped, err := c.skip()
		if err != nil {
			c.truncated = true
			return 0, typ, c.interruptedL(bufs, total, err)
		}
		truncated = dropped > 0
	}
	c.finishMessage()
	if truncated {
		return total, typ, ErrShortBuffer
	}
	return total, typ, nil
}

// scatter copies src across bufs in turn and returns how many bytes it
// copied and the rest of src, which did not fit.
func scatter(bufs [][]byte, src []byte) (n int, rest []byte) {
	for _, b := range bufs {
		k := copy(b, src)
		src = src[k:]
		n += k
	}
	return n, src
}

// interruptedL is interrupted for RecvL: it keeps the first n bytes spread
// over bufs.
func (c *Conn) interruptedL(bufs [][]byte, n int, err error) error {
	if isTimeout(err) && c.readErr == nil {
		c.partial = messagePool.get(n)
		for _, b := range bufs {
			k := min(n, len(b))
			c.partial.B = append(c.partial.B, b[:k]...)
			n -= k
		}
	}
	return err
}

// Next receives the next message and returns its type and payload as a
// view into the connection's memory, valid until the next receive call (do
// not keep it). A single-frame message that fits the read buffer is
// unmasked in place and lent without a copy; a larger or fragmented one is
// assembled in a pooled buffer, up to Config.MaxMessageSize. While it waits
// for a message it holds no pooled buffer: the first read lands in the
// Storage. It allocates nothing at steady state.
func (c *Conn) Next() (Flags, []byte, error) {
	// Serve's goroutine waits for messages here: the frame is kept small
	// (see Serve), assembling a message is a call of its own.
	resume, err := c.startRecv(ownerNext)
	if err != nil {
		return 0, nil, err
	}
	if !resume {
		if _, err := c.nextFrame(nil); err != nil {
			return 0, nil, err
		}
		if c.p.h.Fin && !c.p.msgRsv1 && c.p.left <= int64(c.maxReadBuffer()) {
			typ := opFlags(c.p.msgOp)
			if view, err := c.nextInPlace(); view != nil || err != nil {
				return typ, view, err
			}
		}
		c.owner = ownerNext
		c.msg = messagePool.Get()
	}
	return c.nextAssembled()
}

// nextAssembled is Next for a message assembled in the message buffer
// c.msg: fragmented, compressed, larger than the read buffer, or resumed.
func (c *Conn) nextAssembled() (Flags, []byte, error) {
	typ := opFlags(c.p.lastOp)
	if c.p.msgRsv1 || c.zbuf != nil {
		if err := c.nextCompressed(); err != nil {
			return typ, nil, err
		}
		return typ, c.msg.B, nil
	}
	limit := c.cfg.maxMessageSize()
	for {
		b := growMessage(&c.msg, max(int64(c.cfg.readBufferSize()), min(c.p.left, limit)), limit)
		m, end, err := c.readData(b[len(b):cap(b)])
		if err != nil {
			if c.msg != nil { // a deadline: keep what arrived for the next call
				c.msg.B = b[:len(b)+m]
			}
			return typ, nil, err
		}
		c.msg.B = b[:len(b)+m]
		if end {
			break
		}
	}
	c.finishMessage()
	c.viewHeld = true
	return typ, c.msg.B, nil
}

// nextInPlace receives a single-frame message that fits the read buffer:
// its payload is unmasked and validated in place as it arrives, and lent as
// a view. If a deadline expires first, what arrived moves to the message
// buffer, the timeout is returned, and the next Next resumes there.
func (c *Conn) nextInPlace() ([]byte, error) {
	total := int(c.p.left)
	done := 0 // payload bytes at rbuf[rr:] already unmasked and checked
	for {
		if k := min(c.rw-c.rr-done, total-done); k > 0 {
			b := c.rbuf[c.rr+done : c.rr+done+k]
			err := c.p.payload(b, b)
			done += k
			if err != nil {
				return nil, c.fail(err)
			}
		}
		if done == total {
			break
		}
		if err := c.fill(done + 1); err != nil {
			if isTimeout(err) {
				c.owner = ownerNext
				c.msg = messagePool.get(done)
				c.msg.B = append(c.msg.B, c.rbuf[c.rr:c.rr+done]...)
				c.rr += done
			}
			return nil, err
		}
	}
	view := c.rbuf[c.rr : c.rr+total]
	c.rr += total
	if _, err := c.p.endFrame(); err != nil {
		return nil, c.fail(err)
	}
	c.p.endMessage()
	c.msgSeq++
	c.viewHeld = true
	return view, nil
}

// growMessage gives the message buffer *bp, when it is full, more room: at
// least least bytes and at least its length again, but never asking for
// more than limit+1 bytes in all (one byte more than a message may have,
// so that going over is seen). It returns the buffer's bytes, with room
// behind them.
func growMessage(bp **pooledBuffer, least, limit int64) []byte {
	b := (*bp).B
	if len(b) < cap(b) {
		return b
	}
	want := min(max(int64(len(b)), least), limit+1-int64(len(b)))
	messagePool.grow(bp, int(max(want, 1)))
	return (*bp).B
}

// MessageReader reads one message as a stream (see Conn.NextReader). It is
// a view of the Conn, so it costs no memory of its own.
type MessageReader Conn

// NextReader starts receiving the next message as a stream, for messages
// larger than any buffer. The reader is valid until the next receive call;
// it returns io.EOF at the message's end. A deadline inside the message
// returns the error from Read, and the next Read resumes. It allocates
// nothing.
func (c *Conn) NextReader() (Flags, *MessageReader, error) {
	if c.recvIdle() {
		if n := c.p.beginData(c.rbuf[c.rr:c.rw], c.cfg); n > 0 {
			// The usual case: between messages, and the next header (a
			// data frame's) is buffered.
			c.rr += n
			c.owner = ownerReader
			return opFlags(c.p.lastOp), (*MessageReader)(c), nil
		}
	}
	resume, err := c.startRecv(ownerReader)
	if err != nil {
		return 0, nil, err
	}
	if !resume {
		if _, err := c.nextFrame(nil); err != nil {
			return 0, nil, err
		}
		c.owner = ownerReader
	}
	return opFlags(c.p.lastOp), (*MessageReader)(c), nil
}

// Read reads payload bytes of the message into p, straight from the
// connection when nothing is buffered. It returns io.EOF at the end.
func (r *MessageReader) Read(p []byte) (int, error) {
	c := (*Conn)(r)
	if c.owner != ownerReader {
		return 0, io.EOF // the message ended, or another call took over
	}
	if err := c.recvState(); err != nil {
		return 0, err
	}
	if c.p.msgRsv1 || c.zbuf != nil {
		if err := c.gather(); err != nil {
			return 0, err
		}
		n, err := c.inflate(p)
		if err == io.EOF {
			c.finishMessage()
		}
		return n, err
	}
	n, end, err := c.readData(p)
	if end {
		c.finishMessage()
		return n, io.EOF
	}
	return n, err
}
