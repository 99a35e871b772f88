package wsmem

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
)

// vectoredMin is the payload size from which a server writes header and
// payload with one writev instead of copying them into one buffer (except
// payloads kernelCopyAliases flags).
const vectoredMin = 256

var errControlPayload = errors.New("wsmem: control frame payload longer than 125 bytes")

// Send sends p as one message of type typ, Text or Binary (libdill's
// ws_send). A server joins the header and a small p (under 256 bytes) in
// the write buffer for one write, and writes a larger p with the header in
// one vectored write, leaving it untouched — unless p, under 127 KiB,
// starts within about 1 KiB after a 4 KiB boundary: then header and p are
// copied into a pooled buffer for one write, sparing the kernel a copy
// that AMD Zen 3 CPUs can make 20 times slower (see the package
// documentation; such a write, blocked by a slow peer, holds a buffer of
// at most about twice the frame). A client masks p while copying it into
// the write buffer, one pass, and never modifies it. Safe for concurrent
// use: messages never interleave on the wire. On a connection that
// negotiated permessage-deflate, messages of at least
// Compression.Threshold bytes are compressed (add Uncompressed to typ to
// opt out) and sent as they are when that would not make them smaller. It
// allocates nothing.
func (c *Conn) Send(typ Flags, p []byte) error {
	op := OpBinary
	if typ&Text != 0 {
		op = OpText
	}
	// A server's small uncompressed message when the line is free — most
	// messages a server sends, also from OnMessage in Serve's goroutine —
	// is written here, with a frame and calls kept few: that goroutine
	// keeps the deepest stack it ever needed (see Serve). The header and
	// payload are joined in the write buffer and go out with one write; on
	// connections that do not care how they are written to, two writes and
	// no copy, whatever the size. Anything else goes to sendMessage.
	if !c.server || c.compress || (len(p) >= vectoredMin && c.wmode != writeDirect) {
		return c.sendMessage(typ, op, p)
	}
	c.wmu.Lock()
	if c.wOpen || c.pending != nil || c.pushMode || c.writeErr != nil || c.has(stateClosed|stateSentClose) ||
		(len(p) > MaxControlPayload && c.wmode != writeDirect && c.writeRoom() < 4+len(p)) {
		c.wmu.Unlock()
		return c.sendMessage(typ, op, p)
	}
	// writeSmall, spelled out: a call less on the deepest path.
	var err error
	if c.wmode == writeDirect {
		err = c.writeFrameDirect(op, p)
	} else {
		buf, pb := c.writeBuffer() // any holds a control frame; writeRoom said for more
		n := 2
		if buf[0] = 0x80 | byte(op); len(p) <= MaxControlPayload {
			buf[1] = byte(len(p))
		} else {
			buf[1], buf[2], buf[3] = 126, 0, byte(len(p))
			n = 4
		}
		n += copy(buf[n:], p)
		var m int
		m, err = c.nc.Write(buf[:n])
		if err != nil {
			err = c.frameFailed(err, buf[:n], m)
		}
		if pb != nil {
			putBuffer(&writePool, pb)
		}
	}
	c.wmu.Unlock()
	return err
}

// sendMessage is Send for any message.
func (c *Conn) sendMessage(typ Flags, op OpCode, p []byte) error {
	// lockMessage and unlockMessage, spelled out for the path of every
	// message (they do not inline).
	c.wmu.Lock()
	both := c.wOpen && c.waitForStream()
	var err error
	if c.sendCompressed(typ, len(p)) {
		err = c.writeCompressed(op, p)
	} else {
		err = c.writeData(op, true, p, nil)
	}
	if c.sendWin != nil || both {
		c.unlockMessageSlow(both)
	} else {
		c.wmu.Unlock()
	}
	return err
}

// writeSmall writes a server's unmasked frame with at most 125 bytes of
// payload, joined in the write buffer (any holds it) for one write. p does
// not escape: a payload on the caller's stack stays there. Called with
// wmu, the line free.
func (c *Conn) writeSmall(op OpCode, p []byte) error {
	buf, pb := c.writeBuffer()
	buf[0], buf[1] = 0x80|byte(op), byte(len(p))
	n := 2 + copy(buf[2:], p)
	m, err := c.nc.Write(buf[:n])
	if err != nil {
		err = c.frameFailed(err, buf[:n], m)
	}
	if pb != nil {
		putBuffer(&writePool, pb)
	}
	return err
}

// writeFrameDirect writes a server's unmasked final frame of Send as
// writeDirect does: the header, then the payload from where it is, with no
// copy and no Header. Called with wmu.
func (c *Conn) writeFrameDirect(op OpCode, p []byte) error {
	return c.writeSplit(appendFrameStart(c.hdrOut[:0], 0x80|byte(op), 0, uint64(len(p))), p)
}

// frameFailed is writeFailed for a frame written as it is (nothing left
// to mask) of which written bytes went out: its rest is queued. Called
// with wmu.
func (c *Conn) frameFailed(err error, frame []byte, written int) error {
	if keep, ret := c.keepsRest(err, written); !keep {
		return ret
	}
	c.pending = messagePool.Get()
	c.pending.B = append(c.pending.B, frame[written:]...)
	return errQueued
}

// keepsRest decides what a failed write of a frame becomes once written
// bytes of it went out: on a closed connection ErrClosed; on an error other
// than a deadline the end of the send side; on a deadline before the first
// byte nothing sent and nothing kept. Otherwise (a deadline inside the
// frame) it reports true: the caller queues the rest. Called with wmu.
func (c *Conn) keepsRest(err error, written int) (bool, error) {
	if c.has(stateClosed) {
		return false, ErrClosed
	}
	if !isTimeout(err) {
		c.writeErr = err
		return false, err
	}
	if written == 0 {
		return false, err
	}
	return true, nil
}

// lockMessage takes the line for one whole message: the frame lock, and
// also the message lock if a streamed message (NextWriter) is open, so that
// the whole message waits for it to end. Sends that find no stream open —
// the common case — take one lock. It reports whether it took both.
func (c *Conn) lockMessage() bool {
	c.wmu.Lock()
	if !c.wOpen {
		return false
	}
	return c.waitForStream()
}

// waitForStream is lockMessage's slow path: it waits for the open stream
// to end, holding both locks when it returns true.
func (c *Conn) waitForStream() bool {
	c.wmu.Unlock()
	c.msgMu.Lock()
	c.wmu.Lock()
	return true
}

// unlockMessage releases what lockMessage took.
func (c *Conn) unlockMessage(both bool) {
	if c.sendWin != nil || both {
		c.unlockMessageSlow(both)
		return
	}
	c.wmu.Unlock()
}

// unlockMessageSlow is unlockMessage for a stream or a compressed
// connection, whose send window goes back if Close ran meanwhile.
func (c *Conn) unlockMessageSlow(both bool) {
	if c.sendWin != nil && c.has(stateClosed) {
		c.dropSendWindow() // Close ran while this send held the line
	}
	c.wmu.Unlock()
	if both {
		c.msgMu.Unlock()
	}
}

// SendMsg sends p as one message of the socket's type, Text or Binary as
// given to the attach call (libdill's msend).
func (c *Conn) SendMsg(p []byte) error { return c.Send(c.flags&Text, p) }

// SendL sends the concatenation of bufs as one message of type typ in one
// frame (libdill's ws_sendl): a server hands the slices to the kernel as
// they are, in vectored writes; a client masks them into the write buffer.
// It allocates nothing.
func (c *Conn) SendL(typ Flags, bufs [][]byte) error {
	op := OpBinary
	if typ&Text != 0 {
		op = OpText
	}
	both := c.lockMessage()
	err := c.writeData(op, true, nil, bufs)
	c.unlockMessage(both)
	return err
}

// Ping sends a ping with payload p, at most 125 bytes. The peer's pong is
// consumed by the receive calls. It allocates nothing.
func (c *Conn) Ping(p []byte) error {
	if len(p) > MaxControlPayload {
		return errControlPayload
	}
	c.wmu.Lock()
	err := c.sendState()
	if err == nil {
		// Serve's heartbeat pings from its goroutine: a server's ping takes
		// the shallow path when the line is free (see Serve).
		if c.server && c.pending == nil && !c.pushMode {
			err = c.writeSmall(OpPing, p)
		} else {
			err = c.writeControl(OpPing, p)
		}
	}
	c.wmu.Unlock()
	return err
}

// Flush writes out the bytes a send left queued when its deadline expired
// inside a frame (see SetWriteDeadline). It is a no-op otherwise.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.pending == nil {
		return nil
	}
	return c.flushPending()
}

// sendState returns the error that ends sending, if any. Called with wmu.
func (c *Conn) sendState() error {
	if c.writeErr == nil && !c.has(stateClosed|stateSentClose) {
		return nil
	}
	return c.sendEnded()
}

// sendEnded is sendState's answer once sending has ended; the send window
// goes back then. Called with wmu.
func (c *Conn) sendEnded() error {
	c.dropSendWindow()
	if c.writeErr != nil {
		return c.writeErr
	}
	return ErrClosed
}

// frameHeader returns the header of an outgoing frame, with a fresh masking
// key on the client side.
func (c *Conn) frameHeader(op OpCode, fin bool, length int) Header {
	h := Header{Fin: fin, OpCode: op, Length: int64(length)}
	if !c.server {
		h.Masked = true
		h.Mask = newMaskKey()
	}
	return h
}

// newMaskKey returns a fresh masking key.
func newMaskKey() (k [4]byte) {
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// payloadLen is the length of p followed by more.
func payloadLen(p []byte, more [][]byte) int {
	n := len(p)
	for _, b := range more {
		n += len(b)
	}
	return n
}

// writeData writes one data frame whose payload is p followed by more.
// Called with wmu.
func (c *Conn) writeData(op OpCode, fin bool, p []byte, more [][]byte) error {
	// sendState, makeWay and frameHeader, spelled out: this is the path of
	// every message, and the calls do not inline.
	if c.writeErr != nil || c.has(stateClosed|stateSentClose) {
		return c.sendEnded()
	}
	n := payloadLen(p, more)
	queue := false
	if c.pushMode || c.pending != nil {
		var err error
		if queue, err = c.makeWaySlow(MaxHeaderSize+n, op); err != nil {
			return err
		}
	}
	h := Header{Fin: fin, OpCode: op, Length: int64(n)}
	if !c.server {
		h.Masked = true
		h.Mask = newMaskKey()
	}
	if queue {
		return c.queueFrame(&h, p, more)
	}
	if !h.Masked {
		switch {
		case c.wmode == writeDirect && more == nil:
			return c.writeDirect(&h, p)
		case c.wmode == writeDirect:
			return c.writeVectored(&h, p, more)
		case c.wmode == writeVectored && n >= vectoredMin:
			if n <= copiedMax && slicesAlias(h.Size(), p, more) {
				return c.writeCopied(&h, p, more)
			}
			return c.writeVectored(&h, p, more)
		}
	}
	return c.writeBuffered(&h, p, more)
}

// writeControl writes a control frame, header and payload copied into the
// write buffer and sent with one write. p never escapes, so a payload on
// the caller's stack stays there. Called with wmu, after sendState.
func (c *Conn) writeControl(op OpCode, p []byte) error {
	queue, err := c.makeWay(MaxHeaderSize+len(p), op)
	if err != nil {
		return err
	}
	h := c.frameHeader(op, true, len(p))
	if queue {
		return c.queueFrame(&h, p, nil)
	}
	buf, pb := c.writeBuffer()
	hdr := AppendHeader(buf[:0], h)
	n := len(hdr)
	if h.Masked {
		maskCopy(buf[n:], p, h.Mask, 0)
	} else {
		copy(buf[n:], p)
	}
	m, err := c.nc.Write(buf[:n+len(p)])
	if err != nil {
		err = c.writeFailed(err, m, &h, hdr, p, nil)
	}
	if pb != nil {
		putBuffer(&writePool, pb)
	}
	return err
}

// writeDirect writes the header, then the payload from where it is: two
// writes, no copy, for connections that do not care how they are written
// to.
func (c *Conn) writeDirect(h *Header, p []byte) error {
	return c.writeSplit(AppendHeader(c.hdrOut[:0], *h), p)
}

// writeSplit writes an unmasked frame's header hdr, then its payload p
// from where it is. Called with wmu.
func (c *Conn) writeSplit(hdr, p []byte) error {
	m, err := c.nc.Write(hdr)
	if err == nil && len(p) > 0 {
		var k int
		k, err = c.nc.Write(p)
		m += k
	}
	if err != nil {
		return c.writeFailed(err, m, &Header{}, hdr, p, nil) // unmasked: nothing to mask in the rest
	}
	return nil
}

// writeCopied writes an unmasked frame whose payload slicesAlias flags,
// of at most copiedMax bytes: header and payload copied into a pooled
// buffer of the frame's size class, from a page offset safeStart picks,
// and written with one write, so that the kernel copies them from a safe
// distance. A write a slow peer blocks holds that buffer, at most about
// twice the frame plus 1 KiB. Called with wmu.
//
// Cost: a copy of the payload (a few µs for 64 KiB), against the kernel's
// slow copy it avoids on the CPUs that have one.
func (c *Conn) writeCopied(h *Header, p []byte, more [][]byte) error {
	k := copyClass(h.Size() + int(h.Length))
	b := getBuffer(&copyPools[k], copyBufferSize<<k)
	start := safeStart(b.B)
	frame := AppendHeader(b.B[start:start], *h)
	frame = append(frame, p...)
	for _, s := range more {
		frame = append(frame, s...)
	}
	m, err := c.nc.Write(frame)
	if err != nil {
		err = c.frameFailed(err, frame, m)
	}
	putBuffer(&copyPools[k], b)
	return err
}

// iovec is the list of slices one vectored write hands the kernel. It is
// borrowed per frame (the net.Buffers escapes into the write), so that the
// Storage does not carry it.
type iovec struct {
	slices [iovSize][]byte
	bufs   net.Buffers
}

var iovecPool = sync.Pool{New: func() any { return new(iovec) }}

// writeVectored writes the header and the payload slices with writev (or,
// on connections without it, one write each), in batches of iovSize
// slices, without copying the payload.
func (c *Conn) writeVectored(h *Header, p []byte, more [][]byte) error {
	hdr := AppendHeader(c.hdrOut[:0], *h)
	v := iovecPool.Get().(*iovec)
	defer iovecPool.Put(v)
	v.slices[0] = hdr
	k := 1
	written := 0
	next := -1 // index in more of the next slice; -1 is p
	for {
		for k < iovSize && next < len(more) {
			var b []byte
			if next < 0 {
				b = p
			} else {
				b = more[next]
			}
			next++
			if len(b) > 0 {
				v.slices[k] = b
				k++
			}
		}
		v.bufs = v.slices[:k]
		m, err := v.bufs.WriteTo(c.nc)
		written += int(m)
		clear(v.slices[:])
		v.bufs = nil
		if err != nil {
			return c.writeFailed(err, written, h, hdr, p, more)
		}
		if next >= len(more) {
			return nil
		}
		k = 0
	}
}

// writeBuffer returns the buffer frames are assembled in: the caller's
// write slab, or one borrowed from the pool for this frame.
func (c *Conn) writeBuffer() ([]byte, *pooledBuffer) {
	if slab := c.writeSlab(); slab != nil {
		return slab, nil
	}
	b := getBuffer(&writePool, c.cfg.writeBufferSize())
	return b.B, b
}

// writeRoom is the least size of the buffer writeBuffer returns.
func (c *Conn) writeRoom() int {
	if slab := c.writeSlab(); slab != nil {
		return len(slab)
	}
	return c.cfg.writeBufferSize()
}

// maxMaskBuffer bounds the buffer a client borrows to mask a large frame.
const maxMaskBuffer = 128 << 10

// putWriteBuffer returns a buffer from writeBuffer or maskBuffer.
func putWriteBuffer(b *pooledBuffer) {
	if b == nil {
		return
	}
	if cap(b.B) >= maxMaskBuffer {
		putBuffer(&maskPool, b)
		return
	}
	putBuffer(&writePool, b)
}

// maskBuffer returns the buffer a frame of size bytes is assembled in:
// the write buffer, or for a large frame a client masks, whole pages of a
// 128 KiB one from a pool of its own (every buffer in it has that size, so
// the pool keeps them), so that the frame goes out in few writes. The
// pages (124 KiB) start where safeStart says, and every write from their
// start lands a whole number of pages further into the frame, which keeps
// the kernel's copy as far from the slow distances as writeCopied does.
func (c *Conn) maskBuffer(size int) ([]byte, *pooledBuffer) {
	if c.server || c.writeSlab() != nil || size <= c.cfg.writeBufferSize() {
		return c.writeBuffer()
	}
	b := getBuffer(&maskPool, maxMaskBuffer)
	start := safeStart(b.B)
	return b.B[start : start+(len(b.B)-start)&^4095], b
}

// writeBuffered writes the header and the payload through the write buffer,
// masking while copying on the client side. An unmasked payload slice
// larger than the buffer is written from where it is.
func (c *Conn) writeBuffered(h *Header, p []byte, more [][]byte) error {
	hdr := AppendHeader(c.hdrOut[:0], *h)
	buf, pb := c.maskBuffer(len(hdr) + int(h.Length))
	n := copy(buf, hdr)
	written, off := 0, 0
	var err error
	for i := -1; i < len(more) && err == nil; i++ {
		seg := p
		if i >= 0 {
			seg = more[i]
		}
		for len(seg) > 0 && err == nil {
			if !h.Masked && len(seg) >= len(buf) {
				if n > 0 {
					var m int
					m, err = c.nc.Write(buf[:n])
					written += m
					n = 0
					if err != nil {
						break
					}
				}
				var m int
				m, err = c.nc.Write(seg)
				written += m
				off += len(seg)
				seg = nil
				break
			}
			if n == len(buf) {
				var m int
				m, err = c.nc.Write(buf)
				written += m
				n = 0
				continue
			}
			k := min(len(buf)-n, len(seg))
			if h.Masked {
				maskCopy(buf[n:n+k], seg[:k], h.Mask, off)
			} else {
				copy(buf[n:], seg[:k])
			}
			n += k
			off += k
			seg = seg[k:]
		}
	}
	if err == nil && n > 0 {
		var m int
		m, err = c.nc.Write(buf[:n])
		written += m
	}
	putWriteBuffer(pb)
	if err != nil {
		return c.writeFailed(err, written, h, hdr, p, more)
	}
	return nil
}

// writeFailed handles a write error after written bytes of the frame went
// out. A deadline before the first byte sent nothing; one inside the frame
// queues the rest of the frame (masked as it would have been) to go out
// first on the next write. Any other error ends the send side.
func (c *Conn) writeFailed(err error, written int, h *Header, hdr, p []byte, more [][]byte) error {
	if keep, ret := c.keepsRest(err, written); !keep {
		return ret
	}
	b := messagePool.Get()
	if written < len(hdr) {
		b.B = append(b.B, hdr[written:]...)
		written = 0
	} else {
		written -= len(hdr)
	}
	off := 0 // payload offset of seg's first byte
	for i := -1; i < len(more); i++ {
		seg := p
		if i >= 0 {
			seg = more[i]
		}
		if written >= len(seg) {
			written -= len(seg)
			off += len(seg)
			continue
		}
		seg = seg[written:]
		off += written
		written = 0
		start := len(b.B)
		b.B = append(b.B, seg...)
		if h.Masked {
			Mask(b.B[start:], h.Mask, off)
		}
		off += len(seg)
	}
	c.pending = b
	return errQueued
}

// flushPending writes the queued rest of a frame. A deadline keeps what is
// still unsent queued. Called with wmu.
func (c *Conn) flushPending() error {
	m, err := c.nc.Write(c.pending.B)
	if err != nil {
		c.pending.B = c.pending.B[:copy(c.pending.B, c.pending.B[m:])]
		if c.has(stateClosed) {
			return ErrClosed
		}
		if !isTimeout(err) {
			c.writeErr = err
		}
		return err
	}
	b := c.pending
	c.pending = nil
	b.B = b.B[:0]
	messagePool.Put(b)
	return nil
}

// MessageWriter sends one message as a stream of frames (see
// Conn.NextWriter). It is a view of the Conn, so it costs no memory of its
// own.
type MessageWriter Conn

// NextWriter starts a message of type typ to be written in pieces, for
// messages larger than any buffer. Each Write sends one frame (wrap the
// writer in a bufio.Writer to join small writes); Close sends the final
// frame. Other messages wait until Close; control frames may pass between
// the frames. It allocates nothing.
func (c *Conn) NextWriter(typ Flags) (*MessageWriter, error) {
	op := OpBinary
	if typ&Text != 0 {
		op = OpText
	}
	c.msgMu.Lock()
	c.wmu.Lock()
	err := c.sendState()
	if err == nil {
		c.wOp, c.wOpen = op, true
	}
	c.wmu.Unlock()
	if err != nil {
		c.msgMu.Unlock()
		return nil, err
	}
	return (*MessageWriter)(c), nil
}

// Write sends p as one frame of the message. On an error matching
// ErrQueued the frame was accepted (see SetWriteDeadline).
func (w *MessageWriter) Write(p []byte) (int, error) {
	c := (*Conn)(w)
	if !c.wOpen {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	err := c.writeData(c.wOp, false, p, nil)
	c.wmu.Unlock()
	if err != nil && !errors.Is(err, ErrQueued) {
		return 0, err
	}
	c.wOp = OpContinuation
	return len(p), err
}

// Close sends the message's final frame and lets other messages go.
func (w *MessageWriter) Close() error {
	c := (*Conn)(w)
	if !c.wOpen {
		return nil
	}
	c.wmu.Lock()
	err := c.writeData(c.wOp, true, nil, nil)
	c.wOpen = false
	c.wmu.Unlock()
	c.msgMu.Unlock()
	return err
}
