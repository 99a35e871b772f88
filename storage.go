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
// area, the peer's close reason. Its zero value is ready; make([]Storage, n)
// serves n connections. It holds no pointer to memory the library allocated
// for that connection: larger buffers are the caller's (see SetBuffers) or
// are borrowed from a pool only while bytes are in flight.
//
// A Storage must not be copied once used (go vet reports copies), and may
// be reused for a new connection only after the previous one was closed.
type Storage struct {
	conn Conn
}

// SetBuffers hands the connection the caller's own read and write buffers
// (for example slices of one slab), to be used instead of pooled ones. Call
// it before attaching. A nil slice keeps the pooled behaviour for that
// side; a read buffer shorter than 136 bytes is ignored, and so is a write
// buffer shorter than 139 bytes (a whole control frame). The buffers must
// stay untouched while the connection lives.
func (s *Storage) SetBuffers(read, write []byte) {
	if len(read) >= scratchSize {
		s.conn.readSlab = read
	} else {
		s.conn.readSlab = nil
	}
	if len(write) >= minWriteBuffer {
		s.conn.writeSlab = write
	} else {
		s.conn.writeSlab = nil
	}
}

// noCopy makes go vet's copylocks check report copies of the struct that
// holds it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// The pools connections borrow buffers from, one per use so that each
// calibrates to its own size: read buffers, write buffers, and the buffers
// that hold whole messages (Next, compression, unsent remainders).
var (
	readPool    bytebufferpool.Pool
	writePool   bytebufferpool.Pool
	messagePool bytebufferpool.Pool
	maskPool    bytebufferpool.Pool // 128 KiB buffers a client masks large frames into
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

// releaseBuffer returns *b to pool, if it holds one, and forgets it.
func releaseBuffer(pool *bytebufferpool.Pool, b **bytebufferpool.ByteBuffer) {
	if *b != nil {
		putBuffer(pool, *b)
		*b = nil
	}
}

// pooledBuffer is a buffer borrowed from one of the pools.
type pooledBuffer = bytebufferpool.ByteBuffer
