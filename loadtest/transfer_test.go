package loadtest

import (
	"errors"
	"io"
	"math/rand/v2"
	"time"

	"github.com/wsmem/wsmem"
)

// The ways a message is sent and received, counted in the summary.
const (
	viaSend       = iota // Send: one frame, compressed where negotiated
	viaSendL             // SendL: one frame from several slices
	viaNextWriter        // NextWriter: one frame per random piece, then an empty final one
	viaNext              // Next: the whole message as a view
	viaNextReader        // NextReader: a stream, read in chunks of random size
	viaCount
)

var viaNames = [viaCount]string{"Send", "SendL", "NextWriter", "Next", "NextReader"}

// sendScratchMax is the capacity beyond which the buffer that Send's
// messages are joined in is dropped after use rather than kept.
const sendScratchMax = 64 << 10

// sender sends messages by randomly chosen methods. One goroutine uses it.
type sender struct {
	rng     *rand.Rand
	scratch []byte   // Send joins header and body here
	iov     [][]byte // the pieces for SendL and NextWriter
}

// send sends m and returns the method it used.
func (s *sender) send(c *wsmem.Conn, m *message) (int, error) {
	switch via := s.rng.IntN(3); via {
	case viaSend:
		b := append(append(s.scratch[:0], m.hdr[:min(m.size, headerLen)]...), m.body...)
		err := c.Send(m.typ, b)
		s.scratch = b[:0]
		if cap(b) > sendScratchMax {
			s.scratch = nil
		}
		return via, err
	case viaSendL:
		s.iov = m.pieces(s.rng, s.iov[:0], 4)
		err := c.SendL(m.typ, s.iov)
		clear(s.iov)
		return via, err
	default:
		s.iov = m.pieces(s.rng, s.iov[:0], 8)
		defer clear(s.iov)
		w, err := c.NextWriter(m.typ)
		if err != nil {
			return via, err
		}
		for _, p := range s.iov {
			if _, err := w.Write(p); err != nil {
				_ = w.Close() // ends the message's turn; the error is err's
				return via, err
			}
		}
		return via, w.Close()
	}
}

// maxReads bounds the reads of one streamed message: even 1-byte chunks
// of the largest message take fewer.
const maxReads = headerLen + maxBody + 1

var errEndless = errors.New("loadtest: a message reader never reached io.EOF")

// receiver receives messages by randomly chosen methods into a checker.
// One goroutine uses it.
type receiver struct {
	rng   *rand.Rand
	buf   []byte        // chunks of a streamed message land here
	pause time.Duration // sleep after each chunk (a slow reader); 0 for none
	// streamOnly makes every receive a stream, in small chunks.
	streamOnly bool
}

// receive feeds the next message to k and returns its type and the method
// it used.
func (r *receiver) receive(c *wsmem.Conn, k *checker) (wsmem.Flags, int, error) {
	if !r.streamOnly && r.rng.IntN(2) == 0 {
		typ, data, err := c.Next()
		if err != nil {
			return typ, viaNext, err
		}
		_, _ = k.Write(data)
		return typ, viaNext, nil
	}
	typ, mr, err := c.NextReader()
	if err != nil {
		return typ, viaNextReader, err
	}
	for range maxReads {
		n, err := mr.Read(r.buf[:1+r.rng.IntN(len(r.buf))])
		_, _ = k.Write(r.buf[:n])
		if r.pause > 0 {
			time.Sleep(r.pause)
		}
		if err == io.EOF {
			return typ, viaNextReader, nil
		}
		if err != nil {
			return typ, viaNextReader, err
		}
	}
	return typ, viaNextReader, errEndless
}
