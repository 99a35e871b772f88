package wsmem

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// pageStart returns a 4 KiB-aligned slice of n bytes followed by at least
// one more page, so that tests can place a payload at any page offset.
func pageStart(n int) []byte {
	buf := make([]byte, n+3*4096)
	skip := -pageOffset(buf) & 4095
	return buf[skip : skip+n+2*4096]
}

// TestKernelCopyAliases checks the window kernelCopyAliases flags: a
// payload slice at byte at of the frame whose page offset lies from 31
// bytes before at to pageLeftover-1 bytes after it, modulo 4 KiB.
func TestKernelCopyAliases(t *testing.T) {
	page := pageStart(0)
	for _, at := range []int{4, 10, 1004, 4090} {
		for off := range 4096 {
			d := (at - off) % 4096 // at - off, from -2047 to 2048
			if d < -2047 {
				d += 4096
			} else if d > 2048 {
				d -= 4096
			}
			want := d >= -(pageLeftover-1) && d <= 31
			if got := kernelCopyAliases(page[off:off+1], at); got != want {
				t.Fatalf("slice at byte %d of the frame, page offset %d: %v, want %v", at, off, got, want)
			}
		}
	}
}

// inSafeZone reports whether page offset off is from safeFrom to safeTo.
func inSafeZone(off int) bool { return off >= safeFrom && off <= safeTo }

// TestSafeStart checks safeStart from every page offset, and the zone it
// picks: written from there or up to a header later, the kernel's copy
// lands 0 or 32 and more bytes past its source for every leftover from 0
// to pageLeftover.
func TestSafeStart(t *testing.T) {
	page := pageStart(0)
	for off := range 4096 {
		b := page[off : off+4096]
		skip := safeStart(b)
		if skip < 0 || skip > maxSafeSkip || !inSafeZone(pageOffset(b[skip:])) {
			t.Fatalf("from page offset %d: skip %d", off, skip)
		}
		if inSafeZone(pageOffset(b)) != (skip == 0) {
			t.Fatalf("from page offset %d, in the zone: skip %d", off, skip)
		}
	}
	for src := safeFrom; src <= safeTo+MaxHeaderSize; src++ {
		for x := 0; x <= pageLeftover; x++ {
			if d := (x - src) & 4095; d >= 1 && d <= 31 {
				t.Fatalf("source at page offset %d, leftover %d: distance %d", src, x, d)
			}
		}
	}
}

// TestCopyClass checks the size classes writeCopied borrows from: the
// smallest that holds the frame after safeStart's skip, so that a small
// frame does not hold a large buffer.
func TestCopyClass(t *testing.T) {
	for _, n := range []int{256, 1000, 3000, 4096 - maxSafeSkip, 4097 - maxSafeSkip, 10000, 65536 + 4, copiedMax + MaxHeaderSize} {
		k := copyClass(n)
		if k >= len(copyPools) || copyBufferSize<<k < n+maxSafeSkip || (k > 0 && copyBufferSize<<(k-1) >= n+maxSafeSkip) {
			t.Fatalf("a frame of %d bytes: class %d (%d bytes)", n, k, copyBufferSize<<k)
		}
	}
	w := &writeCounter{}
	c := serverOn(t, w, 0, nil)
	c.wmode = writeVectored
	for _, size := range []int{1000, 65536, copiedMax} {
		p := pageStart(size)[:size]
		for range 2 { // the pooled buffer, new and reused
			if err := c.Send(Binary, p); err != nil {
				t.Fatal(err)
			}
			if !inSafeZone(w.lastOffset()) {
				t.Fatalf("%d bytes: the frame was written from page offset %d", size, w.lastOffset())
			}
		}
	}
}

// writeCounter records every Write on a server's connection.
type writeCounter struct {
	memConn
	writes  [][]byte
	offsets []int // the page offset of each Write's bytes
	fail    error // returned, after half the bytes, by the first Write
}

// lastOffset returns the page offset of the last Write's bytes.
func (w *writeCounter) lastOffset() int { return w.offsets[len(w.offsets)-1] }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	w.offsets = append(w.offsets, pageOffset(p))
	if w.fail != nil {
		err := w.fail
		w.fail = nil
		n, _ := w.memConn.Write(p[:len(p)/2])
		return n, err
	}
	return w.memConn.Write(p)
}

// TestClientMaskBufferPlacement checks the buffer a client masks a large
// frame into: every write starts at the same page offset, in the safe
// zone, and all but the last are whole pages long, so that each lands a
// whole number of pages after the frame's start; the frame is whole on the
// wire.
func TestClientMaskBufferPlacement(t *testing.T) {
	p := make([]byte, 300<<10)
	for i := range p {
		p[i] = byte(i * 11)
	}
	w := &writeCounter{}
	c := clientOn(t, w, 0, nil)
	if err := c.Send(Binary, p); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) < 3 {
		t.Fatalf("%d writes for 300 KiB, want the frame in 124 KiB pieces", len(w.writes))
	}
	for i, off := range w.offsets {
		if !inSafeZone(off) || off != w.offsets[0] {
			t.Errorf("write %d from page offset %d, the first from %d", i, off, w.offsets[0])
		}
		if i < len(w.writes)-1 && len(w.writes[i])%4096 != 0 {
			t.Errorf("write %d of %d bytes, not whole pages", i, len(w.writes[i]))
		}
	}
	s := serverOn(t, &memConn{in: w.out.Bytes()}, 0, nil)
	buf := make([]byte, len(p))
	n, _, err := s.Recv(buf)
	if err != nil || !bytes.Equal(buf[:n], p) {
		t.Fatalf("the server received %d bytes (%v), not the payload", n, err)
	}
}

// TestServerSendCopiesAliasedPayload checks how a server on a vectored
// connection writes a large payload: one Write of header and payload
// together when the payload starts near a page start (kernelCopyAliases),
// two slices of one writev (two Writes here) elsewhere and above the pooled
// buffer's size; the bytes on the wire are the same.
func TestServerSendCopiesAliasedPayload(t *testing.T) {
	cases := []struct {
		size, off, writes int
	}{
		{300, 0, 1},
		{65536, 0, 1},
		{65536, 4090, 1},
		{65536, 30, 1},
		{65536, 1000, 1},
		{65536, 1100, 2},
		{65536, 2048, 2},
		{65536, 4060, 2},
		{copiedMax, 0, 1},
		{copiedMax + 1, 0, 2},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("size=%d/off=%d", tc.size, tc.off)
		p := pageStart(tc.size)[tc.off : tc.off+tc.size]
		for i := range p {
			p[i] = byte(i * 7)
		}
		orig := bytes.Clone(p)
		w := &writeCounter{}
		c := serverOn(t, w, 0, nil)
		c.wmode = writeVectored
		if err := c.Send(Binary, p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(w.writes) != tc.writes {
			t.Errorf("%s: %d writes, want %d", name, len(w.writes), tc.writes)
		}
		if want := sframe(true, OpBinary, p); !bytes.Equal(w.out.Bytes(), want) {
			t.Errorf("%s: the wire does not hold the frame", name)
		}
		if !bytes.Equal(p, orig) {
			t.Errorf("%s: Send changed the payload", name)
		}
	}
}

// TestServerSendLCopiesAliasedSlice checks that SendL's slices are each
// judged at their place in the frame: a second slice whose page offset
// is near its distance from the frame's start (1,004 bytes: the 4-byte
// header and the first slice) makes the frame one Write; half a page away,
// the frame is a writev of three slices (three Writes here).
func TestServerSendLCopiesAliasedSlice(t *testing.T) {
	for _, tc := range []struct{ off2, writes int }{{1004 + 10, 1}, {1004 - 20, 1}, {1004 + 2048, 3}} {
		first := pageStart(1000)[2000:3000]
		second := pageStart(3000)[tc.off2 : tc.off2+3000]
		for i := range first {
			first[i] = byte(i)
		}
		for i := range second {
			second[i] = byte(i * 3)
		}
		w := &writeCounter{}
		c := serverOn(t, w, 0, nil)
		c.wmode = writeVectored
		if err := c.SendL(Binary, [][]byte{first, second}); err != nil {
			t.Fatal(err)
		}
		if len(w.writes) != tc.writes {
			t.Errorf("second slice at page offset %d: %d writes, want %d", tc.off2, len(w.writes), tc.writes)
		}
		if want := sframe(true, OpBinary, append(bytes.Clone(first), second...)); !bytes.Equal(w.out.Bytes(), want) {
			t.Errorf("second slice at page offset %d: the wire does not hold the frame", tc.off2)
		}
	}
}

// TestServerSendCopiedDeadline checks a copied frame cut by a deadline: its
// rest is queued, and flushed by the next send, so that the wire holds the
// frame whole; a write that fails otherwise ends the connection's writing.
func TestServerSendCopiedDeadline(t *testing.T) {
	p := pageStart(65536)[:65536]
	for i := range p {
		p[i] = byte(i * 5)
	}
	w := &writeCounter{fail: timeoutErr{}}
	c := serverOn(t, w, 0, nil)
	c.wmode = writeVectored
	if err := c.Send(Binary, p); !errors.Is(err, ErrQueued) {
		t.Fatalf("deadline inside the frame: %v, want ErrQueued", err)
	}
	if err := c.Send(Binary, []byte("next")); err != nil {
		t.Fatal(err)
	}
	want := append(sframe(true, OpBinary, p), sframe(true, OpBinary, []byte("next"))...)
	if !bytes.Equal(w.out.Bytes(), want) {
		t.Fatalf("after the deadline the wire holds %d bytes, want the two frames (%d bytes)", w.out.Len(), len(want))
	}

	broken := errors.New("broken pipe")
	w = &writeCounter{fail: broken}
	c = serverOn(t, w, 0, nil)
	c.wmode = writeVectored
	if err := c.Send(Binary, p); !errors.Is(err, broken) {
		t.Fatalf("broken connection: %v", err)
	}
	if err := c.Send(Binary, []byte("next")); err == nil {
		t.Fatal("a send after a failed write succeeded")
	}
}

// TestPreparedFramePlacement checks where NewPreparedMessage puts its
// frames: from pagePlacedMin bytes on, in the safe zone, the compressed
// one too, and SendPrepared writes from there; below, no room is added.
func TestPreparedFramePlacement(t *testing.T) {
	cc := CompressionConfig{Enabled: true, ServerNoContextTakeover: true}
	msg := jsonLike(64<<10, 3)
	pm := NewPreparedMessage(Text, msg, &cc)
	if off := pageOffset(pm.frame); !inSafeZone(off) {
		t.Fatalf("the frame starts at page offset %d", off)
	}
	if pm.compressed == nil {
		t.Fatal("the message was not compressed")
	}
	if off := pageOffset(pm.compressed); off < safeFrom || off > safeTo+MaxHeaderSize {
		t.Fatalf("the compressed frame starts at page offset %d", off)
	}
	w := &writeCounter{}
	c := serverOn(t, w, 0, nil)
	if err := c.SendPrepared(pm); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 1 || !inSafeZone(w.lastOffset()) || !bytes.Equal(w.out.Bytes(), sframe(true, OpText, msg)) {
		t.Fatalf("SendPrepared wrote %d times, from page offset %d", len(w.writes), w.lastOffset())
	}

	small := NewPreparedMessage(Binary, make([]byte, pagePlacedMin-MaxHeaderSize), nil)
	if cap(small.frame) != len(small.frame) {
		t.Fatalf("a frame under pagePlacedMin has %d bytes of room, want none", cap(small.frame)-len(small.frame))
	}
}
