package wsmem

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a WebSocket connection over a net.Conn. It lives inside its
// Storage. Any number of goroutines may send at once (messages never
// interleave on the wire); one goroutine at a time may receive. Close may be
// called from any goroutine at any time.
type Conn struct {
	noCopy noCopy

	nc     net.Conn
	cfg    *Config
	flags  Flags
	server bool
	wmode  uint8 // how frames reach nc: writeVectored, writeJoined or writeDirect
	state  atomic.Uint32

	// Receive side: used by one receiving goroutine at a time.
	p         parser
	rbuf      []byte // the read buffer: scratch, the caller's Buffers.Read or rpool.B
	rr, rw    int    // rbuf[rr:rw] is read but not yet consumed
	rpool     *pooledBuffer
	msg       *pooledBuffer // a message Next assembled
	partial   *pooledBuffer // what Recv had of a message when a read timed out
	readErr   error         // sticky: the receive side failed
	handler   Handler       // Serve's or Feed's, while it runs
	nread     uint64        // bytes read so far: the heartbeat's sign of life
	closeErr  CloseError
	scratch   [scratchSize]byte
	msgSeq    uint32 // counts messages, to retire stale readers
	owner     uint8  // the receive call that owns the open message
	scratchIn bool   // the last read filled the scratch: the stream is busy
	viewHeld  bool   // Next lent a view into rbuf or msg
	truncated bool   // Recv is discarding the rest of a message too big for its buffer
	landNext  uint32 // the size of the frame that last landed in a caller's buffer (readInto)
	rpoolBig  bool   // rpool is larger than the read buffer's size: it came from messagePool

	// permessage-deflate, when negotiated.
	compress bool
	sendBits uint8
	trialExp uint8          // a compressed text message is checked when its gathered size reaches 1<<trialExp
	sendWin  *deflateWindow // history of what we compressed; nil without takeover
	recvWin  *deflateWindow // history of what we inflated; nil without takeover
	zbuf     *pooledBuffer  // the compressed message being received
	infl     *inflater      // its decompressor, borrowed while it is read

	// Push mode (see Feed).
	pushMode      bool
	handshaking   bool     // a push server waits for the upgrade request, a push client for the answer
	upgraded      bool     // a push client's opening handshake succeeded
	closeReported bool     // Feed already called OnClose
	hn            uint8    // header bytes kept in scratch across Feed calls
	ctlN          uint8    // control payload bytes gathered in scratch
	push          pushConn // the stand-in socket: writes go to the caller's output

	// The caller's buffers (Storage.SetBuffers), and the opening
	// handshake's results.
	bufs        *Buffers
	resourceLen uint16
	hostLen     uint16
	protocol    uint8 // 1 + index in Config.Subprotocols; 0: none

	// Send side.
	wOp      OpCode     // the streamed message's next opcode (see NextWriter)
	wOpen    bool       // a streamed message is open
	msgMu    sync.Mutex // held for a whole message
	wmu      sync.Mutex // held for a whole frame
	hdrOut   [MaxHeaderSize]byte
	pending  *pooledBuffer // frame bytes a timed-out write left unsent
	writeErr error         // sticky: the send side failed
}

// How frames are handed to the net.Conn.
const (
	// writeDirect: the header and the untouched payload are written one
	// after the other, without a copy (connections that do not care how
	// they are written to: in-memory, the push output, unknown types).
	writeDirect uint8 = iota
	// writeVectored: one writev for header and payload (TCP, Unix sockets),
	// except small frames, joined in the write buffer for one write.
	writeVectored
	// writeJoined: header and payload joined in the write buffer, so that
	// each frame is one write (TLS: one record).
	writeJoined
)

// writeMode chooses how frames are written to nc.
func writeMode(nc net.Conn) uint8 {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return writeVectored
	case *tls.Conn:
		return writeJoined
	}
	return writeDirect
}

// iovSize is how many slices one vectored write carries: a header and up to
// two payload slices.
const iovSize = 3

// The connection's state bits.
const (
	stateClosed    uint32 = 1 << iota // Close was called or the connection failed
	stateSentClose                    // we sent a close frame
	stateRecvClose                    // the peer's close frame arrived
	stateDetaching                    // Detach runs: the closing handshake must not close nc
)

func (c *Conn) has(bit uint32) bool { return c.state.Load()&bit != 0 }

func (c *Conn) set(bit uint32) {
	for {
		old := c.state.Load()
		if old&bit != 0 || c.state.CompareAndSwap(old, old|bit) {
			return
		}
	}
}

// AttachServer makes nc the server side of a WebSocket connection, with the
// memory of st (nil: the library allocates a Storage). Without NoHTTP it
// first answers the client's HTTP upgrade request; with NoHTTP frames flow at
// once. flags also types the socket for SendMsg and RecvMsg (Text or Binary).
// cfg may be nil for the defaults. With a Storage it allocates nothing.
func AttachServer(nc net.Conn, flags Flags, st *Storage, cfg *Config) (*Conn, error) {
	c := attach(nc, flags, st, cfg, true)
	if flags&NoHTTP == 0 {
		if err := c.serverHandshake(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// AttachClient makes nc the client side of a WebSocket connection, with the
// memory of st (nil: the library allocates a Storage). Without NoHTTP it first
// sends the HTTP upgrade request for resource on host and checks the answer.
// With a Storage it allocates nothing.
func AttachClient(nc net.Conn, flags Flags, resource, host string, st *Storage, cfg *Config) (*Conn, error) {
	c := attach(nc, flags, st, cfg, false)
	if flags&NoHTTP == 0 {
		if err := c.clientHandshake(resource, host); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// attach resets st for a new connection over nc.
func attach(nc net.Conn, flags Flags, st *Storage, cfg *Config, server bool) *Conn {
	if st == nil {
		st = new(Storage)
	}
	if cfg == nil {
		cfg = &defaultConfig
	}
	c := &st.conn
	c.resetState()
	c.nc = nc
	c.cfg = cfg
	c.flags = flags
	c.server = server
	c.p.server = server
	c.wmode = writeMode(nc)
	c.rbuf = c.readSlab()
	if c.rbuf == nil {
		c.rbuf = c.scratch[:]
	}
	return c
}

// resetState clears what a previous connection left in the Storage, keeping
// the caller's buffers.
func (c *Conn) resetState() {
	c.state.Store(0)
	c.p = parser{}
	c.rr, c.rw = 0, 0
	c.scratchIn, c.viewHeld, c.truncated = false, false, false
	c.landNext = 0
	c.owner = ownerNone
	c.readErr, c.writeErr = nil, nil
	c.closeErr = CloseError{}
	c.handler = nil
	c.nread = 0
	c.resourceLen, c.hostLen, c.protocol = 0, 0, 0
	c.compress = false
	c.pushMode, c.handshaking, c.closeReported, c.upgraded = false, false, false, false
	c.hn, c.ctlN = 0, 0
	c.push.out = nil
	c.endInflate()
	c.dropSendWindow()
	c.dropRecvWindow()
	c.msgSeq++
	if c.rpool != nil {
		putReadBuffer(c.rpool, c.rpoolBig)
		c.rpool = nil
	}
	messagePool.release(&c.msg)
	messagePool.release(&c.partial)
	messagePool.release(&c.pending)
}

// NetConn returns the underlying connection. Reading from or writing to it
// directly corrupts the WebSocket stream; use Detach to take it back.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Flags returns the socket's flags as given to the attach call.
func (c *Conn) Flags() Flags { return c.flags }

// SetDeadline sets the read and write deadlines (see SetReadDeadline and
// SetWriteDeadline). It costs what the net.Conn's does.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline bounds the receive calls. A deadline that expires inside a
// message returns an error matching os.ErrDeadlineExceeded and does not harm
// the connection: the next receive call resumes at the exact byte.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline bounds the send calls. A deadline that expires before a
// frame's first byte was written returns the net.Conn's timeout error and
// nothing was sent. One that expires inside a frame returns an error
// matching both os.ErrDeadlineExceeded and ErrQueued: the message was
// accepted and its unsent bytes go out first on the next send call or
// Flush; later sends queue behind them within Config.MaxQueued and are
// refused with ErrRefused beyond. The connection stays usable either way.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// isTimeout reports whether err is a deadline that expired.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
