package wsmem

import (
	"github.com/valyala/bytebufferpool"
)

// scratchSize is the size of the read area inside Storage. An idle
// connection reads into it, so that waiting for a message holds no pooled
// buffer; it fits any control frame whole (6-byte header + 125 bytes).
const scratchSize = 136

// minWriteBuffer fits a whole control frame.
const minWriteBuffer = MaxHeaderSize + MaxControlPayload

// Storage is all the memory one connection needs between calls, as
// libdill's struct ws_storage: the Conn itself, header scratch, a small read
// area, the peer's close reason. It is at most 512 bytes (a test asserts
// it), so a million idle connections need under 512 MB. Its zero value is
// ready; make([]Storage, n) serves n connections. It holds no pointer to
// memory the library allocated for that connection: larger buffers are the
// caller's (see SetBuffers) or are borrowed from a pool only while bytes
// are in flight.
//
// A Storage must not be copied once used (go vet reports copies), and may
// be reused for a new connection only after the previous one was closed.
type Storage struct {
	conn Conn
}

// Buffers is memory the caller lends a connection for as long as it lives
// (for example slices of one slab), so that it borrows nothing from the
// library's pools. Every field is optional.
type Buffers struct {
	// Read is the read buffer, used instead of pooled ones. Shorter than
	// 136 bytes, it is ignored.
	Read []byte
	// Write is the buffer frames are assembled in. Shorter than 139 bytes
	// (a whole control frame), it is ignored.
	Write []byte
	// Names keeps the resource and host of the opening handshake (libdill's
	// resource and host buffers): Conn.Resource and Conn.Host return them.
	// Without it they are not kept. A request whose target and host
	// together do not fit is refused with 414.
	Names []byte
}

// SetBuffers lends the connection the caller's memory b (nil: none).
// Call it before attaching. The Storage keeps the pointer: b and the
// slices in it must stay untouched while the connection lives. It costs
// nothing.
func (s *Storage) SetBuffers(b *Buffers) { s.conn.bufs = b }

// Conn returns the connection that lives in s: valid once s was attached
// (AttachServer, AttachClient, Upgrade, Dial, NewPushServer,
// NewPushClient), so that a slab of Storage needs no *Conn beside it.
func (s *Storage) Conn() *Conn { return &s.conn }

// readSlab returns the caller's read buffer, if it gave a usable one.
func (c *Conn) readSlab() []byte {
	if c.bufs == nil || len(c.bufs.Read) < scratchSize {
		return nil
	}
	return c.bufs.Read
}

// writeSlab returns the caller's write buffer, if it gave a usable one.
func (c *Conn) writeSlab() []byte {
	if c.bufs == nil || len(c.bufs.Write) < minWriteBuffer {
		return nil
	}
	return c.bufs.Write
}

// nameSlab returns the caller's buffer for the handshake's names, if any.
func (c *Conn) nameSlab() []byte {
	if c.bufs == nil {
		return nil
	}
	return c.bufs.Names
}

// noCopy makes go vet's copylocks check report copies of the struct that
// holds it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// The pools connections borrow read and write buffers from, one per use so
// that each calibrates to its own size. Whole messages have size classes
// of their own (see messagePool).
var (
	readPool  bytebufferpool.Pool
	writePool bytebufferpool.Pool
	maskPool  bytebufferpool.Pool // 128 KiB buffers a client masks large frames into
)

// getBuffer borrows a buffer from pool whose B has length n at least.
func getBuffer(pool *bytebufferpool.Pool, n int) *bytebufferpool.ByteBuffer {
	b := pool.Get()
	if cap(b.B) < n {
		b.B = make([]byte, n)
	}
	b.B = b.B[:cap(b.B)]
	return b
}

// putBuffer returns b to pool. The pool calibrates on len(b.B), so the full
// length goes back with it.
func putBuffer(pool *bytebufferpool.Pool, b *bytebufferpool.ByteBuffer) {
	b.B = b.B[:cap(b.B)]
	pool.Put(b)
}

// pooledBuffer is a buffer borrowed from one of the pools.
type pooledBuffer = bytebufferpool.ByteBuffer
