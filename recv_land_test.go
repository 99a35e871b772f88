package wsmem

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// readCounter is a memConn that records the size of every read it answers.
type readCounter struct {
	memConn
	sizes []int
}

func (r *readCounter) Read(p []byte) (int, error) {
	n, err := r.memConn.Read(p)
	if n > 0 {
		r.sizes = append(r.sizes, n)
	}
	return n, err
}

// TestRecvEqualLargeFramesOneReadEach: once a large frame has landed in the
// caller's buffer, the next frame's first read asks for as much, so a
// stream of 64 KiB messages, all of it ready, takes one read per message
// after the first, whose size readInto cannot know yet.
func TestRecvEqualLargeFramesOneReadEach(t *testing.T) {
	const size, count = 64 << 10, 6
	var msgs [][]byte
	var stream []byte
	for i := range count {
		m := bytes.Repeat([]byte{byte('a' + i)}, size)
		msgs = append(msgs, m)
		stream = append(stream, cframe(true, OpBinary, m)...)
	}
	nc := &readCounter{memConn: memConn{in: stream}}
	c := serverOn(t, nc, 0, nil)
	buf := make([]byte, size+MaxHeaderSize)
	for i, want := range msgs {
		before := len(nc.sizes)
		n, _, err := c.Recv(buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("message %d: wrong payload", i)
		}
		reads := nc.sizes[before:]
		if i > 0 && len(reads) != 1 {
			t.Errorf("message %d took %d reads (sizes %v), want 1", i, len(reads), reads)
		}
	}
}

// TestRecvShorterFramesAfterLargeOne: a first read sized for a large frame
// that brings a short one and many more behind it keeps all of them, in
// order, whatever the read sizes and whichever call receives.
func TestRecvShorterFramesAfterLargeOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var msgs [][]byte
	var types []OpCode
	add := func(n int) {
		m := make([]byte, n)
		op := OpBinary
		if len(msgs)%2 == 1 {
			op = OpText
			for k := range m {
				m[k] = 'a' + byte(rng.IntN(26))
			}
			if n >= 2 {
				copy(m[n-2:], "é") // a 2-byte character at the very end
			}
		} else {
			for k := range m {
				m[k] = byte(rng.Uint32())
			}
		}
		msgs, types = append(msgs, m), append(types, op)
	}
	for round := range 3 {
		add(64<<10 + round*1000) // a large message, then short ones at once
		add(100 << 10)
		for range 300 {
			add(rng.IntN(300))
		}
		add(5000)
		add(12)
	}
	var stream []byte
	for i, m := range msgs {
		if len(m) > 40<<10 {
			// in two fragments, so that a frame's size and a message's differ
			half := len(m) / 2
			stream = append(stream, cframe(false, types[i], m[:half])...)
			stream = append(stream, cframe(true, OpContinuation, m[half:])...)
			continue
		}
		stream = append(stream, cframe(true, types[i], m)...)
	}
	for _, chunk := range []int{0, 70000, 4096, 999} {
		for _, api := range []string{"Recv", "RecvL"} {
			t.Run(fmt.Sprintf("chunk=%d/%s", chunk, api), func(t *testing.T) {
				c := serverOn(t, &memConn{in: stream, chunk: chunk}, 0, nil)
				buf := make([]byte, 1<<20)
				for i, want := range msgs {
					var n int
					var typ Flags
					var err error
					if api == "Recv" {
						n, typ, err = c.Recv(buf)
					} else {
						n, typ, err = c.RecvL([][]byte{buf[:300<<10], buf[300<<10:]})
					}
					if err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
					if !bytes.Equal(buf[:n], want) {
						t.Fatalf("message %d (%d bytes): wrong payload (%d bytes)", i, len(want), n)
					}
					if typ != opFlags(types[i]) {
						t.Fatalf("message %d: type %v, want %v", i, typ, opFlags(types[i]))
					}
				}
				if _, _, err := c.Recv(buf); err == nil {
					t.Fatal("a message past the end of the stream")
				}
			})
		}
	}
}
