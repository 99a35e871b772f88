package wsmem

import (
	"io"
	"math/bits"
	"sync"
)

// Uncompressed, added to a message's type in Send, sends that message
// without compression on a connection that negotiated permessage-deflate.
const Uncompressed Flags = 1 << 2

// Compression reports whether the opening handshake negotiated
// permessage-deflate. It costs nothing.
func (c *Conn) Compression() bool { return c.compress }

// enableDeflate turns permessage-deflate on with the negotiated params. A
// direction with context takeover gets its window of history (at most
// 2^bits bytes, grown as traffic arrives); the compressors themselves are
// shared and borrowed per message.
func (c *Conn) enableDeflate(params deflateParams) {
	c.compress = true
	c.p.rsvAllow = Rsv1
	bits, takeover := params.sendParams(c.server)
	c.sendBits = bits
	c.sendWin = window(c.sendWin, bits, takeover)
	bits, takeover = params.recvParams(c.server)
	c.recvWin = window(c.recvWin, bits, takeover)
}

// window returns w reset for bits, or a window from the pool; nil (and w
// back to the pool) without takeover.
func window(w *deflateWindow, bits uint8, takeover bool) *deflateWindow {
	if !takeover {
		putWindow(w)
		return nil
	}
	if w == nil {
		w, _ = windowPool.Get().(*deflateWindow)
		if w == nil {
			return newDeflateWindow(bits)
		}
	}
	w.init(bits)
	return w
}

// windowPool keeps the windows of connections that ended, so that a
// Storage keeps none once its connection is over.
var windowPool sync.Pool

// putWindow gives w (if any) back to the pool.
func putWindow(w *deflateWindow) {
	if w != nil {
		windowPool.Put(w)
	}
}

// dropSendWindow gives the send window back once no data frame can follow
// (a close frame went out, or the send side failed or closed). Called with
// wmu.
func (c *Conn) dropSendWindow() {
	putWindow(c.sendWin)
	c.sendWin = nil
}

// dropRecvWindow gives the receive window back once receiving has ended
// for good. Called by the receiving goroutine.
func (c *Conn) dropRecvWindow() {
	putWindow(c.recvWin)
	c.recvWin = nil
}

// writeCompressed sends p as one compressed message if that makes it
// smaller, else as it is. The message is compressed behind a 14-byte gap,
// its header is written right-aligned in the gap, and the frame goes out
// with one write. Called with wmu.
func (c *Conn) writeCompressed(op OpCode, p []byte) error {
	if err := c.sendState(); err != nil {
		return err
	}
	// The budget is checked on the uncompressed size: once compressed, the
	// message is in the window of history and must go out.
	queue, err := c.makeWay(MaxHeaderSize+len(p), op)
	if err != nil {
		return err
	}
	zb := messagePool.get(MaxHeaderSize + len(p) + 4)
	out, ok := compressMessage(zb.B[:MaxHeaderSize], p, c.cfg.Compression.compressionLevel(), c.sendBits, c.sendWin)
	if !ok {
		messagePool.Put(zb)
		return c.writeData(op, true, p, nil)
	}
	zb.B = out
	payload := out[MaxHeaderSize:]
	h := c.frameHeader(op, true, len(payload))
	h.Rsv = Rsv1
	start := MaxHeaderSize - h.Size()
	hdr := AppendHeader(out[start:start], h)
	if h.Masked {
		Mask(payload, h.Mask, 0)
	}
	if queue {
		err = c.queueBytes(out[start:])
		messagePool.Put(zb)
		return err
	}
	m, err := c.nc.Write(out[start:])
	if err != nil {
		sent := h
		sent.Masked = false // the payload is already masked
		err = c.writeFailed(err, m, &sent, hdr, payload, nil)
	}
	messagePool.Put(zb)
	return err
}

// sendCompressed reports whether a message of type typ and length n goes
// out compressed.
func (c *Conn) sendCompressed(typ Flags, n int) bool {
	return c.compress && typ&Uncompressed == 0 && n >= c.cfg.Compression.compressionThreshold()
}

// gather reads the rest of the open compressed message into c.zbuf, then
// starts inflating it. A deadline leaves what arrived in c.zbuf for the
// next call.
func (c *Conn) gather() error {
	_, _, err := c.gatherFor(nil)
	return err
}

// gatherFor is gather, with a try at decoding the whole message at once
// first (see startInflate) into the buffer out gives for its compressed
// length.
func (c *Conn) gatherFor(out func(compressed int) []byte) (n int, done bool, err error) {
	if c.infl != nil {
		return 0, false, nil
	}
	text := c.p.msgOp == OpText
	if c.zbuf == nil {
		c.zbuf = messagePool.Get()
		c.trialExp = 0
	}
	limit := c.cfg.maxMessageSize()
	for {
		if cap(c.zbuf.B)-len(c.zbuf.B) <= inflateSpare {
			want := max(int64(len(c.zbuf.B)), 4096, min(c.p.left, limit))
			messagePool.grow(&c.zbuf, int(want)+inflateSpare)
		}
		b := c.zbuf.B
		if text && c.rr == c.rw && len(b) >= 1<<c.trialExp {
			// About to wait for more: check what has arrived.
			if err := c.trialInflate(); err != nil {
				return 0, false, err
			}
		}
		room := b[len(b) : cap(b)-inflateSpare]
		if c.p.left > 0 && int64(len(room)) > c.p.left {
			room = room[:c.p.left] // return at the frame's end, before the next header
		}
		m, end, err := c.readData(room)
		if err != nil {
			if c.zbuf != nil {
				c.zbuf.B = b[:len(b)+m]
			}
			return 0, false, err
		}
		c.zbuf.B = b[:len(b)+m]
		if end {
			break
		}
	}
	return c.startInflate(out, text)
}

// startInflate starts decoding the gathered message in c.zbuf (nil: an
// empty one). When out is not nil and gives a buffer for the compressed
// length, the whole message is decoded into it with inflateFast if it can
// (done=true, n bytes: the message is finished, its input released and the
// window updated). Otherwise (no buffer, too small, or a message it leaves
// to klauspost) nothing of that buffer counts, and klauspost's streaming
// decoder is set up for inflate.
func (c *Conn) startInflate(out func(compressed int) []byte, text bool) (n int, done bool, err error) {
	if c.zbuf == nil {
		c.zbuf = messagePool.Get()
	}
	if out != nil && len(c.zbuf.B) > 0 {
		if dst := out(len(c.zbuf.B)); dst != nil {
			if n, done, err = c.inflateWhole(dst, text); done || err != nil {
				return n, done, err
			}
		}
	}
	messagePool.grow(&c.zbuf, deflateTailRoom) // room for the fast inflate path
	c.infl = getInflater(c.zbuf.B, c.recvWin)
	c.infl.produced, c.infl.text = 0, text
	c.p.utf8.reset()
	return 0, false, nil
}

// inflateWhole decodes the gathered message into dst at once (see
// startInflate). The checks are those of inflate: the size limit, and UTF-8
// for text.
func (c *Conn) inflateWhole(dst []byte, text bool) (int, bool, error) {
	var dict, dictEnd []byte
	if c.recvWin != nil {
		dict, dictEnd = c.recvWin.parts()
	}
	// A message longer than the limit is left to the streaming decoder,
	// which fails it with the right error.
	limit := c.cfg.maxMessageSize()
	if int64(len(dst)) > limit {
		dst = dst[:limit]
	}
	n, err := inflateFast(dst, c.zbuf.B, dict, dictEnd)
	if err != nil {
		return 0, false, nil
	}
	if text && !validUTF8(dst[:n]) {
		return 0, false, c.fail(errInvalidUTF8)
	}
	if c.recvWin != nil {
		c.recvWin.write(dst[:n])
	}
	messagePool.release(&c.zbuf)
	return n, true, nil
}

// inflateSpare is the room kept free behind a gathered message, where
// output that must be read and dropped is put.
const inflateSpare = 512

// discardArea is where inflated bytes that nobody wants go: behind the
// gathered message and the tail getInflater writes after it.
func (c *Conn) discardArea() []byte {
	b := c.zbuf.B
	return b[len(b)+deflateTailRoom : cap(b)]
}

// inflate reads the next decompressed bytes of the open message into p,
// checking the size limit and UTF-8 after every chunk. It returns io.EOF
// at the message's end.
func (c *Conn) inflate(p []byte) (int, error) {
	n, err := c.infl.Read(p)
	c.infl.produced += int64(n)
	if c.infl.produced > c.cfg.maxMessageSize() {
		return n, c.fail(errInflatedTooBig)
	}
	if c.infl.text && !c.p.utf8.feed(p[:n]) {
		return n, c.fail(errInvalidUTF8)
	}
	switch err {
	case nil:
		return n, nil
	case io.EOF:
		if c.infl.text && !c.p.utf8.done() {
			return n, c.fail(errInvalidUTF8)
		}
		c.endInflate()
		return n, io.EOF
	default:
		return n, c.fail(errBadDeflate)
	}
}

// endInflate gives back the inflater and the gathered message.
func (c *Conn) endInflate() {
	if c.infl != nil {
		putInflater(c.infl)
		c.infl = nil
	}
	messagePool.release(&c.zbuf)
}

// inflateRest inflates the rest of the open message and drops it, keeping
// the window of history right. It returns how many bytes it dropped.
func (c *Conn) inflateRest() (int64, error) {
	var dropped int64
	for {
		n, err := c.inflate(c.discardArea())
		dropped += int64(n)
		if err == io.EOF {
			return dropped, nil
		}
		if err != nil {
			return dropped, err
		}
	}
}

// recvCompressed is Recv for a compressed message.
func (c *Conn) recvCompressed(buf []byte) (int, bool, error) {
	if n, done, err := c.gatherFor(func(int) []byte { return buf }); done || err != nil {
		return n, false, err
	}
	n := 0
	for n < len(buf) {
		m, err := c.inflate(buf[n:])
		n += m
		if err == io.EOF {
			return n, false, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	dropped, err := c.inflateRest()
	return n, dropped > 0, err
}

// recvLCompressed is RecvL for a compressed message. Once gathered, the
// message is decoded at once if it can be (see startInflate): into the
// only buffer, or into a pooled one of messageRoom's size whose bytes are
// then copied across the buffers. Else klauspost's streaming decoder fills
// the buffers in turn.
func (c *Conn) recvLCompressed(bufs [][]byte, typ Flags) (int, Flags, error) {
	var whole *pooledBuffer
	n, done, err := c.gatherFor(func(compressed int) []byte {
		if len(bufs) == 1 {
			return bufs[0]
		}
		whole = messagePool.get(c.wholeRoom(compressed))
		return whole.B[:cap(whole.B)]
	})
	if done && len(bufs) != 1 {
		var rest []byte
		if n, rest = scatter(bufs, whole.B[:n]); len(rest) > 0 {
			err = ErrShortBuffer
		}
	}
	messagePool.release(&whole)
	if done || err != nil {
		if done {
			c.finishMessage()
		}
		return n, typ, err
	}
	total := 0
	for _, b := range bufs {
		n := 0
		for n < len(b) {
			m, err := c.inflate(b[n:])
			n += m
			if err == io.EOF {
				c.finishMessage()
				return total + n, typ, nil
			}
			if err != nil {
				return 0, typ, err
			}
		}
		total += n
	}
	dropped, err := c.inflateRest()
	if err != nil {
		return 0, typ, err
	}
	c.finishMessage()
	if dropped > 0 {
		return total, typ, ErrShortBuffer
	}
	return total, typ, nil
}

// nextCompressed is Next for a compressed message: it inflates the message
// into c.msg, at once with inflateFast when it can (see messageRoom),
// else streaming, growing c.msg up to the message limit.
func (c *Conn) nextCompressed() error {
	n, done, err := c.gatherFor(c.messageRoom)
	if err != nil {
		return err
	}
	if done {
		c.msg.B = c.msg.B[:n]
		c.finishMessage()
		c.viewHeld = true
		return nil
	}
	if c.msg == nil {
		c.owner = ownerNext
		c.msg = messagePool.Get()
	}
	limit := c.cfg.maxMessageSize()
	for {
		b := growMessage(&c.msg, 4096, limit)
		n, err := c.inflate(b[len(b):cap(b)])
		if c.msg == nil {
			return err // the connection failed and gave its buffers back
		}
		c.msg.B = b[:len(b)+n]
		if err == io.EOF {
			c.finishMessage()
			c.viewHeld = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// messageRoom returns the room of c.msg for Next and the event loop to
// decode a message of compressed bytes into at once (wholeRoom). A message
// that inflates to more is decoded again by the streaming decoder, after
// up to that many bytes of work lost. c.msg holds nothing yet: once the
// streaming decoder has started, gatherFor does not ask. nil (no c.msg, as
// when another call began the message) leaves the message to the
// streaming decoder.
func (c *Conn) messageRoom(compressed int) []byte {
	if c.msg == nil {
		return nil
	}
	want := c.wholeRoom(compressed)
	if cap(c.msg.B) < want {
		messagePool.grow(&c.msg, want)
	}
	return c.msg.B[:cap(c.msg.B)]
}

// wholeRoom is the room a compressed message is decoded into at once:
// eight times its compressed bytes and 1 KiB more, within the message
// limit: c.msg for Next and the event loop (messageRoom), a pooled buffer
// for RecvL.
func (c *Conn) wholeRoom(compressed int) int {
	return int(min(int64(compressed)*8+1024, c.cfg.maxMessageSize()))
}

// trialInflate inflates what has arrived of a compressed text message and
// checks it — UTF-8 and the size limit — so that a bad message fails as
// soon as the bytes that make it bad are in, not at its end. The window of
// history is only read. Trials run when the gathered size has doubled, so
// their total cost stays within twice the message's.
func (c *Conn) trialInflate() error {
	src := c.zbuf.B
	c.trialExp = uint8(bits.Len(uint(2 * len(src))))
	if len(src) == 0 {
		return nil
	}
	f := getTrialInflater(src, c.recvWin)
	defer putInflater(f)
	var u utf8State
	var total int64
	discard := c.discardArea()
	for {
		n, err := f.Read(discard)
		total += int64(n)
		if total > c.cfg.maxMessageSize() {
			return c.fail(errInflatedTooBig)
		}
		if !u.feed(discard[:n]) {
			return c.fail(errInvalidUTF8)
		}
		if err != nil {
			return nil // where the bytes so far end
		}
	}
}
