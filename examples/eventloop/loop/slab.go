package loop

import "github.com/wsmem/wsmem"

// conn is all a connection holds between events: the Storage and 32 bytes
// (TestSlotSize logs the sizes).
type conn struct {
	st  wsmem.Storage // its Conn is st.Conn()
	out []byte        // output the socket did not take yet; nil when there is none
	fd  int32         // the socket; in a free slot, the next free slot's index
	// state is one of the constants below; it fits in the padding after fd.
	state uint8
}

// A connection's states.
const (
	stateFree      uint8 = iota // the slot is on the free list
	stateHandshake              // waiting for (the rest of) the upgrade request
	stateEcho                   // upgrading or upgraded on /echo
	stateChat                   // upgrading or upgraded on /chat: receives broadcasts
	stateClosing                // over: write what is pending, then close the socket
)

// chunkSize is how many slots are allocated at a time (about 134 KiB).
const chunkSize = 256

// slab holds a loop's connections in chunks that are never moved (a Conn
// must not be copied) and hands out free slots by index.
type slab struct {
	chunks   [][]conn
	freeHead int32 // first free slot, -1 for none
	used     int32 // slots handed out at least once: [0, used) may be live
}

func newSlab() slab { return slab{freeHead: -1} }

// at returns slot i.
func (s *slab) at(i int32) *conn { return &s.chunks[i/chunkSize][i%chunkSize] }

// get takes a free slot, growing the slab by a chunk when there is none.
func (s *slab) get() (int32, *conn) {
	if i := s.freeHead; i >= 0 {
		e := s.at(i)
		s.freeHead = e.fd
		return i, e
	}
	if int(s.used) == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, make([]conn, chunkSize))
	}
	i := s.used
	s.used++
	return i, s.at(i)
}

// put returns slot i to the free list.
func (s *slab) put(i int32) {
	e := s.at(i)
	e.state, e.out = stateFree, nil
	e.fd, s.freeHead = s.freeHead, i
}
