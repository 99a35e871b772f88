package wsmem

import (
	"math/bits"
	"sync"
)

// Message buffers (Next's assembled messages, compressed messages being
// gathered and inflated, unsent remainders) come in size classes, powers
// of two from 4 KiB to 4 MiB, each with a pool of its own. A buffer goes
// back to the class its capacity fills, and a message of any size in that
// range finds one there: messages of mixed sizes take nothing from the
// allocator at steady state, where one pool calibrated on a typical size
// would drop the large buffers and allocate them again. Buffers over 4 MiB
// are allocated for the message and left to the garbage collector.
const (
	minClassShift = 12
	maxClassShift = 22
	classCount    = maxClassShift - minClassShift + 1
)

type messageBuffers struct {
	classes [classCount]sync.Pool
}

var messagePool messageBuffers

// classFor returns the class whose buffers hold n bytes (classCount if
// none does).
func classFor(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// Get lends an empty buffer of the smallest class.
func (p *messageBuffers) Get() *pooledBuffer { return p.get(0) }

// get lends an empty buffer with room for n bytes.
func (p *messageBuffers) get(n int) *pooledBuffer {
	k := classFor(n)
	if k >= classCount {
		return &pooledBuffer{B: make([]byte, 0, n)}
	}
	if b, _ := p.classes[k].Get().(*pooledBuffer); b != nil {
		b.B = b.B[:0]
		return b
	}
	return &pooledBuffer{B: make([]byte, 0, 1<<(k+minClassShift))}
}

// Put takes b back into the class its capacity fills.
func (p *messageBuffers) Put(b *pooledBuffer) {
	c := cap(b.B)
	if c < 1<<minClassShift {
		return
	}
	k := bits.Len(uint(c)) - 1 - minClassShift
	if k >= classCount {
		return
	}
	b.B = b.B[:0]
	p.classes[k].Put(b)
}

// release gives *b back, if it holds a buffer, and forgets it.
func (p *messageBuffers) release(b **pooledBuffer) {
	if *b != nil {
		p.Put(*b)
		*b = nil
	}
}

// grow makes room for k more bytes behind the contents of *b, lending a
// buffer if *b is nil, or moving the contents to a buffer of a larger
// class and giving the old one back.
func (p *messageBuffers) grow(b **pooledBuffer, k int) {
	old := *b
	if old == nil {
		*b = p.get(k)
		return
	}
	if cap(old.B)-len(old.B) >= k {
		return
	}
	nb := p.get(len(old.B) + k)
	nb.B = append(nb.B, old.B...)
	p.Put(old)
	*b = nb
}
