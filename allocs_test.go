package wsmem

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// The steady-state paths allocate nothing. These tests are skipped under
// the race detector, which allocates on its own.

func skipIfRace(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
}

var allocSizes = []int{16, 125, 1024, 16 << 10, 64 << 10}

// replayServer is a server whose peer endlessly sends the stream made of
// frames.
func replayServer(t testing.TB, frames ...[]byte) *Conn {
	return serverOn(t, &loopConn{stream: cat(frames...)}, 0, nil)
}

func requireNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

func TestAllocsSend(t *testing.T) {
	skipIfRace(t)
	for _, size := range allocSizes {
		p := make([]byte, size)
		s := serverOn(t, &loopConn{stream: []byte{0}}, 0, nil)
		c := clientOn(t, &loopConn{stream: []byte{0}}, 0, nil)
		requireNoAllocs(t, fmt.Sprint("server Send ", size), func() { _ = s.Send(Binary, p) })
		requireNoAllocs(t, fmt.Sprint("client Send ", size), func() { _ = c.Send(Binary, p) })
		requireNoAllocs(t, fmt.Sprint("server SendL ", size), func() { _ = s.SendL(Binary, [][]byte{p[:size/2], p[size/2:]}) })
		requireNoAllocs(t, fmt.Sprint("client SendMsg ", size), func() { _ = c.SendMsg(p) })
		requireNoAllocs(t, fmt.Sprint("server writer ", size), func() {
			w, _ := s.NextWriter(Binary)
			_, _ = w.Write(p)
			_ = w.Close()
		})
	}
	s := serverOn(t, &loopConn{stream: []byte{0}}, 0, nil)
	requireNoAllocs(t, "Ping", func() { _ = s.Ping([]byte("ping")) })
}

func TestAllocsReceive(t *testing.T) {
	skipIfRace(t)
	for _, size := range allocSizes {
		payload := bytes.Repeat([]byte("a"), size)
		buf := make([]byte, size)
		frame := cframe(true, OpText, payload)
		c := replayServer(t, frame)
		requireNoAllocs(t, fmt.Sprint("Recv ", size), func() {
			if _, _, err := c.Recv(buf); err != nil {
				t.Fatal(err)
			}
		})
		c = serverOn(t, &loopConn{stream: frame}, Text, nil)
		requireNoAllocs(t, fmt.Sprint("RecvMsg ", size), func() {
			if _, err := c.RecvMsg(buf); err != nil {
				t.Fatal(err)
			}
		})
		c = replayServer(t, frame)
		requireNoAllocs(t, fmt.Sprint("Next ", size), func() {
			if _, _, err := c.Next(); err != nil {
				t.Fatal(err)
			}
		})
		c = replayServer(t, cframe(false, OpBinary, payload[:size/2]), cframe(true, OpContinuation, payload[size/2:]))
		requireNoAllocs(t, fmt.Sprint("Next fragmented ", size), func() {
			if _, _, err := c.Next(); err != nil {
				t.Fatal(err)
			}
		})
		c = replayServer(t, frame)
		bufs := [][]byte{buf[:size/2], buf[size/2:]}
		requireNoAllocs(t, fmt.Sprint("RecvL ", size), func() {
			if _, _, err := c.RecvL(bufs); err != nil {
				t.Fatal(err)
			}
		})
		c = replayServer(t, frame)
		small := make([]byte, 512)
		requireNoAllocs(t, fmt.Sprint("reader ", size), func() {
			_, r, err := c.NextReader()
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := r.Read(small); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// Messages of mixed sizes through Next, a rare large one among many
	// small, after a long warm-up: each size class keeps its own buffers,
	// so none is allocated again.
	var mixed [][]byte
	for i := range 30 {
		size := 5000
		if i == 29 {
			size = 100 << 10
		}
		mixed = append(mixed, cframe(true, OpBinary, make([]byte, size)))
	}
	mc := replayServer(t, mixed...)
	nextAll := func() {
		for range mixed {
			if _, _, err := mc.Next(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 50000 / len(mixed) {
		nextAll()
	}
	requireNoAllocs(t, "Next, mixed sizes", nextAll)
	// The same through Recv into a large buffer: after the large frame,
	// the first read asks for as much (see readInto) and brings many
	// short frames; the read buffer that keeps them comes from a size
	// class, so none is allocated again either, while other connections
	// use read buffers of the usual size (on which readPool calibrates,
	// dropping larger ones).
	for _, mix := range []struct{ small, count int }{{1000, 100}, {5000, 5}, {20000, 100}} {
		var frames [][]byte
		for range mix.count {
			frames = append(frames, cframe(true, OpBinary, make([]byte, mix.small)))
		}
		frames = append(frames, cframe(true, OpBinary, make([]byte, 100<<10)))
		rc := replayServer(t, frames...)
		big := make([]byte, 1<<20)
		recvAll := func() {
			for range frames {
				if _, _, err := rc.Recv(big); err != nil {
					t.Fatal(err)
				}
			}
		}
		for range 100000 / len(frames) {
			recvAll()
			for range 50 {
				putBuffer(&readPool, getBuffer(&readPool, defaultConfig.readBufferSize()))
			}
		}
		requireNoAllocs(t, fmt.Sprintf("Recv, %d of %d B then 100 KiB", mix.count, mix.small), recvAll)
	}
	// A ping before every message: the pong goes out without allocating.
	c := replayServer(t, cframe(true, OpPing, []byte("ping")), cframe(true, OpBinary, []byte("x")))
	buf := make([]byte, 16)
	requireNoAllocs(t, "automatic pong", func() {
		if _, _, err := c.Recv(buf); err != nil {
			t.Fatal(err)
		}
	})
}

// The parser itself, as the push API drives it.
func TestAllocsParser(t *testing.T) {
	skipIfRace(t)
	frame := cframe(true, OpText, []byte("hello, world"))
	var p parser
	p.server = true
	cfg := &defaultConfig
	dst := make([]byte, 64)
	requireNoAllocs(t, "parser", func() {
		n, err := p.begin(frame, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.payload(dst, frame[n:]); err != nil {
			t.Fatal(err)
		}
		if end, err := p.endFrame(); !end || err != nil {
			t.Fatal(end, err)
		}
		p.endMessage()
	})
}

// The same paths over loopback TCP: vectored writes, real reads. The
// server sends from a page's start (a payload from 256 bytes on is copied,
// see kernelCopyAliases) and from its middle (written with writev).
func TestAllocsOverTCP(t *testing.T) {
	skipIfRace(t)
	for _, size := range allocSizes {
		srv, cli := wsPair(t, nil)
		p := make([]byte, size)
		aligned, middle := pageStart(size)[:size], pageStart(size)[2048:2048+size]
		buf := make([]byte, size)
		// The client drains what the server sends; its Recv allocates
		// nothing either, so the count stays honest.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := cli.Recv(buf); err != nil {
					return
				}
			}
		}()
		requireNoAllocs(t, fmt.Sprint("TCP server Send ", size), func() {
			if err := srv.Send(Binary, aligned); err != nil {
				t.Fatal(err)
			}
			if err := srv.Send(Binary, middle); err != nil {
				t.Fatal(err)
			}
		})
		_ = cli.Close()
		<-done

		srv, cli = wsPair(t, nil)
		go func() {
			for {
				if cli.Send(Binary, p) != nil {
					return
				}
			}
		}()
		rbuf := make([]byte, size)
		requireNoAllocs(t, fmt.Sprint("TCP client Send + server Recv ", size), func() {
			if _, _, err := srv.Recv(rbuf); err != nil {
				t.Fatal(err)
			}
		})
		_ = srv.Close()
	}
}

// A client's large frames are masked into a 128 KiB pooled buffer that the
// pool keeps: no allocation per send at any size.
func TestAllocsLargeClientSend(t *testing.T) {
	skipIfRace(t)
	c := clientOn(t, &loopConn{stream: []byte{0}}, 0, nil)
	for _, size := range []int{5000, 64 << 10, 1 << 20} {
		p := make([]byte, size)
		requireNoAllocs(t, fmt.Sprint("client Send ", size), func() { _ = c.Send(Binary, p) })
	}
}
