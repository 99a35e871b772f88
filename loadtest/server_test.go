package loadtest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsmem/wsmem"
)

// The server's bounds.
const (
	// maxMessagesPerConn bounds every message loop, in each direction.
	maxMessagesPerConn = 1 << 22
	// floodDeadline is the write deadline of each message the server
	// sends to a peer that does not read.
	floodDeadline = 100 * time.Millisecond
	// maxFloodMessages bounds a flood: a peer that does not read fills the
	// socket buffers (a few MiB on loopback) long before.
	maxFloodMessages = 20000
	// resumeWait bounds each step after a stalled reader resumes.
	resumeWait = 20 * time.Second
	// floodBuffer is the socket buffer size of both ends of a flood (the
	// kernel doubles it), so that it fills after a few messages rather
	// than after megabytes of loopback copies.
	floodBuffer = 32 << 10
)

var errNeverBlocked = errors.New("loadtest: a peer that never reads took every message")

// faultLink joins a fault's client side to its server side, by the
// connection id in the request target.
type faultLink struct {
	end    chan error    // the server side's end (buffered: the server never waits)
	resume chan struct{} // closed by the server when a stalled reader should read; nil for others
}

// server is the wsmem echo server: one goroutine per connection, each
// attached with AttachServer (the HTTP handshake included). The request
// target picks what it does: /echo/<id> echoes every message, checking
// it on the way; /flood/<id> floods a peer that does not read.
//
// It listens on two ports that differ only in their Config's
// HandshakeTimeout: the default on the main one, a short one on the other,
// where the faults that stall or cut the handshake connect (so that they
// end soon). A short timeout on every connection would also fail healthy
// handshakes whenever the shared machine keeps a goroutine waiting to run
// for that long.
type server struct {
	ln, lnShort net.Listener
	corpus      *corpus
	stats       *stats
	seed        uint64
	links       sync.Map // uint32 → *faultLink
	wg          sync.WaitGroup

	live, peak atomic.Int64 // attached connections
	// Messages from healthy connections, checked on arrival.
	messages, bytes atomic.Int64
	via             [viaCount]atomic.Int64 // how the echoes were received
}

// startServer listens on two loopback ports, with cfg on the main one
// and cfg with handshakeTimeout on the other, and serves until shutdown.
func startServer(cfg *wsmem.Config, handshakeTimeout time.Duration, c *corpus, st *stats, seed uint64) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lnShort, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	short := *cfg
	short.HandshakeTimeout = handshakeTimeout
	s := &server{ln: ln, lnShort: lnShort, corpus: c, stats: st, seed: seed}
	s.wg.Add(2)
	go s.accept(ln, cfg)
	go s.accept(lnShort, &short)
	return s, nil
}

// addr is the main port's host:port.
func (s *server) addr() string { return s.ln.Addr().String() }

// shortAddr is the host:port of the port with the short HandshakeTimeout.
func (s *server) shortAddr() string { return s.lnShort.Addr().String() }

// shutdown stops accepting and waits up to d for every connection's
// goroutine to end. It reports whether they did.
func (s *server) shutdown(d time.Duration) bool {
	_ = s.ln.Close()
	_ = s.lnShort.Close()
	return waitGroup(&s.wg, d)
}

// accept serves each connection of ln with cfg, in its own goroutine,
// until ln is closed.
func (s *server) accept(ln net.Listener, cfg *wsmem.Config) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.stats.failf("accept: %v", err)
			}
			return
		}
		s.wg.Add(1)
		go s.serve(nc, cfg)
	}
}

// serve runs one connection: the handshake, then echo or flood. A healthy
// connection must end with the client's close (1000); a fault's end goes
// to its link, where the fault checks it.
func (s *server) serve(nc net.Conn, cfg *wsmem.Config) {
	defer s.wg.Done()
	m := new(serverMemory)
	m.bufs.Names = m.names[:]
	m.st.SetBuffers(&m.bufs)
	c, err := wsmem.AttachServer(nc, 0, &m.st, cfg)
	if err != nil {
		s.stats.err("server handshake", err)
		_ = nc.Close()
		return
	}
	live := s.live.Add(1)
	for p := s.peak.Load(); live > p && !s.peak.CompareAndSwap(p, live); p = s.peak.Load() {
	}
	defer s.live.Add(-1)

	kind, id, ok := parseTarget(string(c.Resource()))
	var link *faultLink
	if v, found := s.links.Load(id); found {
		link = v.(*faultLink)
	}
	switch {
	case ok && kind == "echo":
		err = s.echo(c, id, link == nil)
	case ok && kind == "flood" && link != nil:
		err = s.flood(c, id, link)
	default:
		err = fmt.Errorf("unexpected request target %q", c.Resource())
		s.stats.failf("server: %v", err)
	}
	_ = c.Close()
	if link != nil {
		link.end <- err
		return
	}
	s.stats.err("server healthy end", err)
	if !isNormalClose(err) {
		s.stats.failf("healthy conn %d: the server side ended with %v", id, err)
	}
}

// serverMemory is a server connection's memory, one allocation: the
// Storage, and room for the request target and host, which the server
// reads (Conn.Resource keeps them only in Buffers.Names).
type serverMemory struct {
	st    wsmem.Storage
	bufs  wsmem.Buffers
	names [64]byte
}

// parseTarget splits a request target /<kind>/<id>.
func parseTarget(target string) (kind string, id uint32, ok bool) {
	kind, num, ok := strings.Cut(strings.TrimPrefix(target, "/"), "/")
	n, err := strconv.ParseUint(num, 10, 32)
	return kind, uint32(n), ok && err == nil
}

// isNormalClose reports whether err is the peer's close with 1000.
func isNormalClose(err error) bool {
	var ce *wsmem.CloseError
	return errors.As(err, &ce) && ce.Code == wsmem.StatusNormal
}

// echo sends every message back as it came, checking that it is message
// seq of connection id, until the connection ends. healthy says whether
// its counts go to the totals.
func (s *server) echo(c *wsmem.Conn, id uint32, healthy bool) error {
	rng := rand.New(rand.NewPCG(s.seed, uint64(id)<<1|1))
	buf := make([]byte, 4<<10)
	var k checker
	var msgs, bytes int64
	var via [viaCount]int64
	defer func() {
		if healthy {
			s.messages.Add(msgs)
			s.bytes.Add(bytes)
			for i, n := range via {
				s.via[i].Add(n)
			}
		}
	}()
	for seq := range uint32(maxMessagesPerConn) {
		typ, how, err := s.echoOne(c, rng, &k, buf)
		if err != nil {
			return err
		}
		got, err := k.result(typ)
		if err == nil && got.size > 0 && (got.id != id || got.seq != seq) {
			err = fmt.Errorf("got conn %d seq %d, want conn %d seq %d", got.id, got.seq, id, seq)
		}
		if err != nil {
			s.stats.failf("server, conn %d: %v", id, err)
		}
		msgs++
		bytes += int64(got.size)
		via[how]++
	}
	return errors.New("loadtest: maxMessagesPerConn reached")
}

// echoOne receives one message and sends it back: whole (Next, then Send,
// which compresses where negotiated) or as a stream (NextReader into
// NextWriter, one frame per chunk of random size). It feeds the message
// to k.
func (s *server) echoOne(c *wsmem.Conn, rng *rand.Rand, k *checker, buf []byte) (wsmem.Flags, int, error) {
	if rng.IntN(2) == 0 {
		typ, data, err := c.Next()
		if err != nil {
			return typ, viaNext, err
		}
		_, _ = k.Write(data)
		return typ, viaNext, c.Send(typ, data)
	}
	typ, r, err := c.NextReader()
	if err != nil {
		return typ, viaNextReader, err
	}
	w, err := c.NextWriter(typ)
	if err != nil {
		return typ, viaNextReader, err
	}
	for range maxReads {
		n, rerr := r.Read(buf[:1+rng.IntN(len(buf))])
		if rerr != nil && rerr != io.EOF {
			_ = w.Close()
			return typ, viaNextReader, rerr // the read's error, not the echo's that would follow it
		}
		_, _ = k.Write(buf[:n])
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				_ = w.Close()
				return typ, viaNextReader, err
			}
		}
		if rerr == io.EOF {
			return typ, viaNextReader, w.Close()
		}
	}
	_ = w.Close()
	return typ, viaNextReader, errEndless
}

// flood sends messages to a peer that does not read, each under a write
// deadline, until a send fails: it must fail with a timeout (matching
// ErrQueued as well when the deadline expired inside a frame) rather than
// block. Flush must not block either. For a never-reading peer flood
// returns that timeout. A stalled reader is then told to read: every
// message accepted (sent, or queued) must reach it, and the close frame's
// reason tells it how many there were.
func (s *server) flood(c *wsmem.Conn, id uint32, link *faultLink) error {
	rng := rand.New(rand.NewPCG(s.seed, uint64(id)<<1|1))
	if tc, ok := c.NetConn().(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(floodBuffer)
	}
	var accepted uint32
	var err error
	for accepted < maxFloodMessages {
		m := newMessage(id, accepted, wsmem.Binary, s.corpus.body(rng, wsmem.Binary, 16<<10+rng.IntN(48<<10)), false)
		_ = c.SetWriteDeadline(time.Now().Add(floodDeadline))
		err = c.SendL(m.typ, [][]byte{m.hdr[:], m.body})
		if err == nil || errors.Is(err, wsmem.ErrQueued) {
			accepted++
		}
		if err != nil {
			break
		}
	}
	s.stats.err("server flood send", err)
	if err == nil {
		return errNeverBlocked
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if errors.Is(err, wsmem.ErrQueued) {
		_ = c.SetWriteDeadline(time.Now().Add(floodDeadline))
		ferr := c.Flush()
		s.stats.err("server flood flush", ferr)
		if ferr != nil && !errors.Is(ferr, os.ErrDeadlineExceeded) {
			return ferr
		}
	}
	if link.resume == nil {
		return err
	}
	close(link.resume)
	_ = c.SetDeadline(time.Now().Add(resumeWait))
	if err := c.Flush(); err != nil {
		return fmt.Errorf("flush after the reader resumed: %w", err)
	}
	if err := c.Done(wsmem.StatusNormal, []byte("accepted="+strconv.Itoa(int(accepted)))); err != nil {
		return fmt.Errorf("close after the reader resumed: %w", err)
	}
	if _, _, err := c.Next(); !isNormalClose(err) {
		return fmt.Errorf("waiting for the reader's close: %w", err)
	}
	return nil
}

// waitGroup waits up to d for wg and reports whether it finished.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
