package wsmem

// Backpressure: the bytes a connection keeps for a slow peer are bounded
// by Config.MaxQueued. In blocking mode they sit in c.pending (a write
// deadline expired); in push mode they are the event loop's unwritten
// output. Each send asks makeWay first, which answers whether the frame
// goes to the socket, joins the queue, or is refused.

// makeWay prepares the line for a frame of about n bytes. Called with wmu.
// It writes out what is queued first; if some of it stays (the write
// deadline expired again), the frame is to be queued behind it (queue is
// true), unless that would take the queue past its budget: then the frame
// is refused. A frame is never refused when nothing is queued.
func (c *Conn) makeWay(n int, op OpCode) (queue bool, err error) {
	if !c.pushMode && c.pending == nil {
		return false, nil // the common case: nothing waits
	}
	return c.makeWaySlow(n, op)
}

// makeWaySlow is makeWay when something may wait: a push output, or bytes
// a write deadline left.
func (c *Conn) makeWaySlow(n int, op OpCode) (queue bool, err error) {
	var queued int
	switch {
	case c.pushMode:
		if c.push.out == nil {
			return false, ErrPushMode // no output open: not inside Feed or an Append call
		}
		if c.awaitingUpgrade() {
			return false, errUpgradeFirst
		}
		queued = len(c.push.out)
	case c.pending == nil:
		return false, nil
	default:
		if err := c.flushPending(); err == nil {
			return false, nil
		} else if !isTimeout(err) {
			return false, err
		}
		queued = len(c.pending.B)
		queue = true
	}
	if queued > 0 && queued+n > c.cfg.maxQueued() && op != OpClose {
		return false, c.refuseSend()
	}
	return queue, nil
}

// refuseSend turns a send away for the budget and applies Config.DropSlow.
func (c *Conn) refuseSend() error {
	if c.cfg.DropSlow {
		c.writeErr = ErrClosed
		c.shutdown()
	}
	return ErrRefused
}

// queueFrame appends a frame with header h and payload p followed by more
// (masked here if h says so) to the queue. Called with wmu.
func (c *Conn) queueFrame(h *Header, p []byte, more [][]byte) error {
	c.pending.B = AppendHeader(c.pending.B, *h)
	start := len(c.pending.B)
	c.pending.B = append(c.pending.B, p...)
	for _, b := range more {
		c.pending.B = append(c.pending.B, b...)
	}
	if h.Masked {
		Mask(c.pending.B[start:], h.Mask, 0)
	}
	return errQueued
}

// queueBytes appends an encoded frame to the queue. Called with wmu.
func (c *Conn) queueBytes(frame []byte) error {
	c.pending.B = append(c.pending.B, frame...)
	return errQueued
}

// Queued returns how many bytes the connection keeps for a slow peer in
// blocking mode: what a write deadline left unsent (see Flush). It takes
// the send lock for a moment.
func (c *Conn) Queued() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.pending == nil {
		return 0
	}
	return len(c.pending.B)
}
