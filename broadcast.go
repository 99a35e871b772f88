package wsmem

// PreparedMessage is a message encoded once and sent to many connections
// (a broadcast): its frame is built when it is made, and again compressed
// once for peers that negotiated permessage-deflate without server context
// takeover. It is safe to share between goroutines and must not be
// modified.
type PreparedMessage struct {
	typ        Flags
	payload    []byte // the caller's bytes, for clients, which mask per frame
	frame      []byte // header and payload, unmasked
	compressed []byte // header and deflated payload with RSV1; nil if it would not shrink
}

// NewPreparedMessage encodes p as one message of type typ (Text or
// Binary). With cc enabled and p at least cc's threshold, it also
// compresses it once (stateless, as for server_no_context_takeover). It
// keeps p; it allocates the encoded frames once, from 8 KiB with up to
// 1 KiB more each, to place them in memory where the kernel copies them
// fast (see Conn.Send).
func NewPreparedMessage(typ Flags, p []byte, cc *CompressionConfig) *PreparedMessage {
	op := OpBinary
	if typ&Text != 0 {
		op = OpText
	}
	m := &PreparedMessage{typ: typ & Text, payload: p}
	h := Header{Fin: true, OpCode: op, Length: int64(len(p))}
	m.frame = append(AppendHeader(pagePlaced(h.Size() + len(p))[:0], h), p...)
	if cc != nil && cc.Enabled && len(p) >= cc.compressionThreshold() {
		out, ok := compressMessage(pagePlaced(MaxHeaderSize + len(p) + 4)[:MaxHeaderSize], p, cc.compressionLevel(), deflateMaxWindowBits, nil)
		if ok {
			h.Rsv, h.Length = Rsv1, int64(len(out)-MaxHeaderSize)
			start := MaxHeaderSize - h.Size()
			AppendHeader(out[start:start], h)
			m.compressed = out[start:]
		}
	}
	return m
}

// SendPrepared sends m. A server writes the prepared frame with one write,
// the compressed one where the peer takes it; a client masks m's payload
// into its write buffer as Send does. It allocates nothing.
func (c *Conn) SendPrepared(m *PreparedMessage) error {
	if !c.server {
		return c.Send(m.typ|Uncompressed, m.payload)
	}
	frame := m.frame
	if c.compress && c.sendWin == nil && m.compressed != nil && c.sendBits == deflateMaxWindowBits {
		frame = m.compressed
	}
	both := c.lockMessage()
	err := c.sendState()
	queue := false
	if err == nil {
		queue, err = c.makeWay(len(frame), OpBinary)
	}
	if err == nil && queue {
		err = c.queueBytes(frame)
	} else if err == nil {
		var n int
		n, err = c.nc.Write(frame)
		if err != nil {
			err = c.frameFailed(err, frame, n)
		}
	}
	c.unlockMessage(both)
	return err
}
