package loadtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wsmem/wsmem"
)

// faults are the faults injected, in turn. Each runs one faulty connection
// and returns an error unless it ended as it must: with the error its
// fault calls for, in bounded time.
var faults = []struct {
	name string
	run  func(in *injector, id uint32, rng *rand.Rand) error
}{
	{"half-frame", (*injector).halfFrame},
	{"close-mid-message", (*injector).closeMidMessage},
	{"bad-frame", (*injector).badFrame},
	{"never-reads", (*injector).neverReads},
	{"stalled-reader", (*injector).stalledReader},
	{"stalled-handshake", (*injector).stalledHandshake},
	{"cut-handshake", (*injector).cutHandshake},
}

// faultIDBase is the first fault connection's id; healthy ones are below.
const faultIDBase = 1 << 24

// faultWait bounds each wait of a fault on the server: a fault that has
// not ended by then hangs.
const faultWait = 30 * time.Second

var errHang = errors.New("the server side did not end in time")

// injector runs faults against the server.
type injector struct {
	srv              *server
	plain            *wsmem.Config // the faulty wsmem clients' config
	handshakeTimeout time.Duration // the server's on its short port
	wg               sync.WaitGroup
}

// run starts fault i at i×every (or as soon as the scheduler lets it),
// when fewer than maxLive are running, until stop.
func (in *injector) run(stop <-chan struct{}, every time.Duration, maxLive int, seed uint64) {
	st := in.srv.stats
	live := make(chan struct{}, maxLive)
	tick := time.NewTicker(every)
	defer tick.Stop()
	start := time.Now()
	for i := range uint32(maxMessagesPerConn) {
		for time.Since(start) < time.Duration(i)*every {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
		select {
		case <-stop:
			return
		case live <- struct{}{}:
		}
		f := faults[int(i)%len(faults)]
		id := faultIDBase + i
		st.add("faults injected", f.name, 1)
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			defer func() { <-live }()
			if err := f.run(in, id, rand.New(rand.NewPCG(seed, uint64(id)))); err != nil {
				st.failf("fault %s, conn %d: %v", f.name, id, err)
				return
			}
			st.add("faults ended as expected", f.name, 1)
		}()
	}
}

// link registers the link of fault id; withResume for a stalled reader.
func (in *injector) link(id uint32, withResume bool) *faultLink {
	l := &faultLink{end: make(chan error, 1)}
	if withResume {
		l.resume = make(chan struct{})
	}
	in.srv.links.Store(id, l)
	return l
}

// wait returns how the server side of l ended, or errHang.
func (l *faultLink) wait() (error, error) {
	t := time.NewTimer(faultWait)
	defer t.Stop()
	select {
	case err := <-l.end:
		return err, nil
	case <-t.C:
		return nil, errHang
	}
}

// droppedMidMessage reports whether err is how a connection dropped in
// the middle of a message ends: EOF inside it (the kernel may also report
// the drop as a reset, or as a broken pipe when echoing).
func droppedMidMessage(err error) bool {
	switch classify(err) {
	case "unexpected-eof", "reset", "broken-pipe":
		return true
	}
	return false
}

// halfFrame: a raw client completes the handshake, writes part of a frame
// (cut inside the header or the payload) and closes. The server must end
// with an EOF inside the message.
func (in *injector) halfFrame(id uint32, rng *rand.Rand) error {
	l := in.link(id, false)
	defer in.srv.links.Delete(id)
	nc, _, err := rawConnect(in.srv.addr(), "/echo/"+strconv.Itoa(int(id)))
	if err != nil {
		return err
	}
	frame := clientFrame(rng, wsmem.Header{Fin: true, OpCode: wsmem.OpBinary}, in.srv.corpus.body(rng, wsmem.Binary, 1+rng.IntN(64<<10)))
	_, err = nc.Write(frame[:1+rng.IntN(len(frame)-1)])
	_ = nc.Close()
	if err != nil {
		return err
	}
	end, err := l.wait()
	if err != nil {
		return err
	}
	in.srv.stats.err("server half-frame end", end)
	if !droppedMidMessage(end) {
		return fmt.Errorf("the server side ended with %v, want io.ErrUnexpectedEOF", end)
	}
	return nil
}

// closeMidMessage: a wsmem client sends the first frames of a message
// with NextWriter, then closes its net.Conn. Its next write must fail, and
// the server must end with an EOF inside the message.
func (in *injector) closeMidMessage(id uint32, rng *rand.Rand) error {
	l := in.link(id, false)
	defer in.srv.links.Delete(id)
	c, err := dial(in.srv.addr(), "echo", id, false, nil, in.plain)
	if err != nil {
		return err
	}
	defer c.Close()
	typ := wsmem.Flags(rng.IntN(2)) // Binary or Text
	m := newMessage(id, 0, typ, in.srv.corpus.body(rng, typ, 8+rng.IntN(64<<10)), false)
	pieces := m.pieces(rng, nil, 8)
	w, err := c.NextWriter(typ)
	if err != nil {
		return err
	}
	k := 1 + rng.IntN(len(pieces)-1) // pieces sent before the drop: not all
	for _, p := range pieces[:k] {
		if _, err := w.Write(p); err != nil {
			_ = w.Close()
			return err
		}
	}
	_ = c.NetConn().Close()
	_, werr := w.Write(pieces[k])
	_ = w.Close()
	in.srv.stats.err("client close-mid-message write", werr)
	if werr == nil {
		return errors.New("a write after the socket was closed succeeded")
	}
	end, err := l.wait()
	if err != nil {
		return err
	}
	in.srv.stats.err("server close-mid-message end", end)
	if !droppedMidMessage(end) {
		return fmt.Errorf("the server side ended with %v, want io.ErrUnexpectedEOF", end)
	}
	return nil
}

// violations are the invalid frames of badFrame, with the close code each
// must draw.
var violations = []struct {
	h       wsmem.Header
	payload string
	code    wsmem.StatusCode
}{
	{wsmem.Header{Fin: true, OpCode: wsmem.OpBinary}, "unmasked", wsmem.StatusProtocolError}, // sent unmasked below
	{wsmem.Header{Fin: true, OpCode: 0x3}, "reserved opcode", wsmem.StatusProtocolError},
	{wsmem.Header{Fin: true, OpCode: wsmem.OpBinary, Rsv: wsmem.Rsv2}, "reserved bit", wsmem.StatusProtocolError},
	{wsmem.Header{Fin: true, OpCode: wsmem.OpContinuation}, "continuation first", wsmem.StatusProtocolError},
	{wsmem.Header{Fin: false, OpCode: wsmem.OpPing}, "fragmented ping", wsmem.StatusProtocolError},
	{wsmem.Header{Fin: true, OpCode: wsmem.OpText}, "invalid \xff\xfe UTF-8", wsmem.StatusInvalidPayload},
}

// badFrame: a raw client completes the handshake and sends an invalid
// frame. It must receive a close frame with the violation's code, and the
// server must end with a *ProtocolError carrying that code.
func (in *injector) badFrame(id uint32, rng *rand.Rand) error {
	l := in.link(id, false)
	defer in.srv.links.Delete(id)
	nc, br, err := rawConnect(in.srv.addr(), "/echo/"+strconv.Itoa(int(id)))
	if err != nil {
		return err
	}
	defer nc.Close()
	i := rng.IntN(len(violations))
	v := violations[i]
	frame := clientFrame(rng, v.h, []byte(v.payload))
	if i == 0 { // unmasked: no mask bit, no key
		h := v.h
		h.Length = int64(len(v.payload))
		frame = append(wsmem.AppendHeader(nil, h), v.payload...)
	}
	if _, err := nc.Write(frame); err != nil {
		return err
	}
	code, err := readClose(br)
	if err != nil {
		return fmt.Errorf("%q: reading the server's close: %w", v.payload, err)
	}
	if code != v.code {
		return fmt.Errorf("%q: close code %d, want %d", v.payload, code, v.code)
	}
	_ = nc.Close()
	end, err := l.wait()
	if err != nil {
		return err
	}
	in.srv.stats.err("server bad-frame end", end)
	var pe *wsmem.ProtocolError
	if !errors.As(end, &pe) || pe.Code != v.code {
		return fmt.Errorf("%q: the server side ended with %v, want a *ProtocolError with %d", v.payload, end, v.code)
	}
	return nil
}

// neverReads: a wsmem client completes the handshake on /flood and never
// reads. The server's sends must fail with a timeout (see server.flood).
func (in *injector) neverReads(id uint32, _ *rand.Rand) error {
	l := in.link(id, false)
	defer in.srv.links.Delete(id)
	c, err := dial(in.srv.addr(), "flood", id, true, nil, in.plain)
	if err != nil {
		return err
	}
	defer c.Close()
	shrinkReadBuffer(c)
	end, err := l.wait()
	if err != nil {
		return err
	}
	if !errors.Is(end, os.ErrDeadlineExceeded) {
		return fmt.Errorf("the server's flood ended with %v, want a timeout", end)
	}
	return nil
}

// stalledReader: like neverReads, but once the server's sends have timed
// out, the client reads: every message the server accepted must arrive,
// whole and in order, then the server's close with their count.
func (in *injector) stalledReader(id uint32, _ *rand.Rand) error {
	l := in.link(id, true)
	defer in.srv.links.Delete(id)
	c, err := dial(in.srv.addr(), "flood", id, false, nil, in.plain)
	if err != nil {
		return err
	}
	defer c.Close()
	shrinkReadBuffer(c)
	t := time.NewTimer(faultWait)
	defer t.Stop()
	select {
	case <-l.resume:
	case <-t.C:
		return errors.New("the server never told the reader to resume")
	}
	_ = c.SetReadDeadline(time.Now().Add(resumeWait))
	var k checker
	for seq := range uint32(maxFloodMessages + 1) {
		typ, data, err := c.Next()
		if err != nil {
			var ce *wsmem.CloseError
			if !errors.As(err, &ce) || ce.Code != wsmem.StatusNormal {
				return fmt.Errorf("after %d messages: %w", seq, err)
			}
			if want := "accepted=" + strconv.Itoa(int(seq)); string(ce.Reason) != want {
				return fmt.Errorf("received %d messages; the server's close says %q", seq, ce.Reason)
			}
			break
		}
		_, _ = k.Write(data)
		got, err := k.result(typ)
		if err == nil && (got.id != id || got.seq != seq) {
			err = fmt.Errorf("got conn %d seq %d, want conn %d seq %d", got.id, got.seq, id, seq)
		}
		if err != nil {
			return err
		}
	}
	end, err := l.wait()
	if err != nil {
		return err
	}
	if end != nil {
		return fmt.Errorf("the server's flood ended with %v after the reader resumed", end)
	}
	return nil
}

// shrinkReadBuffer gives the socket of a flood's client a small receive
// buffer (see floodBuffer).
func shrinkReadBuffer(c *wsmem.Conn) {
	if tc, ok := c.NetConn().(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(floodBuffer)
	}
}

// stalledHandshake: a raw client sends part of the upgrade request to the
// server's short port and waits. The server must close the connection,
// unanswered, once its HandshakeTimeout expires.
func (in *injector) stalledHandshake(id uint32, rng *rand.Rand) error {
	nc, err := net.DialTimeout("tcp", in.srv.shortAddr(), dialTimeout)
	if err != nil {
		return err
	}
	defer nc.Close()
	req := upgradeRequest("/echo/"+strconv.Itoa(int(id)), in.srv.shortAddr())
	if _, err := nc.Write(req[:rng.IntN(len(req))]); err != nil {
		return err
	}
	_ = nc.SetReadDeadline(time.Now().Add(in.handshakeTimeout + faultWait))
	var buf [512]byte
	n, err := nc.Read(buf[:])
	in.srv.stats.err("client stalled-handshake read", err)
	switch {
	case n > 0:
		return fmt.Errorf("the server answered an incomplete request with %q", buf[:n])
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errHang
	case err == nil:
		return errors.New("a read returned nothing and no error")
	}
	return nil // EOF or a reset: the server gave up
}

// cutHandshake: a raw client sends part of the upgrade request to the
// server's short port and closes. The server's AttachServer must fail with
// an EOF (checked in the server's handshake counts).
func (in *injector) cutHandshake(id uint32, rng *rand.Rand) error {
	nc, err := net.DialTimeout("tcp", in.srv.shortAddr(), dialTimeout)
	if err != nil {
		return err
	}
	req := upgradeRequest("/echo/"+strconv.Itoa(int(id)), in.srv.shortAddr())
	_, err = nc.Write(req[:rng.IntN(len(req))])
	_ = nc.Close()
	return err
}

// upgradeRequest is a valid opening handshake request for target.
func upgradeRequest(target, host string) []byte {
	key, err := wsmem.RequestKey()
	if err != nil {
		panic(err)
	}
	return fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", target, host, key[:])
}

// rawConnect opens a TCP connection and performs the opening handshake by
// hand; the reader returned holds what the server sends afterwards. The
// connection's deadline is faultWait from now.
func rawConnect(addr, target string) (net.Conn, *bufio.Reader, error) {
	nc, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(faultWait))
	if _, err := nc.Write(upgradeRequest(target, addr)); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err == nil && resp.StatusCode != http.StatusSwitchingProtocols {
		err = fmt.Errorf("handshake answered %s", resp.Status)
	}
	if err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	return nc, br, nil
}

// clientFrame builds a masked frame with header h (its length and key
// are set here) and payload.
func clientFrame(rng *rand.Rand, h wsmem.Header, payload []byte) []byte {
	h.Masked, h.Length = true, int64(len(payload))
	binary.LittleEndian.PutUint32(h.Mask[:], rng.Uint32())
	frame := wsmem.AppendHeader(make([]byte, 0, wsmem.MaxHeaderSize+len(payload)), h)
	start := len(frame)
	frame = append(frame, payload...)
	wsmem.Mask(frame[start:], h.Mask, 0)
	return frame
}

// readClose reads server frames until a close frame and returns its code;
// data frames before it (the start of an echo) are skipped.
func readClose(br *bufio.Reader) (wsmem.StatusCode, error) {
	for range 1000 {
		h, err := readHeader(br)
		if err != nil {
			return 0, err
		}
		if h.Length > 1<<20 {
			return 0, fmt.Errorf("frame of %d bytes", h.Length)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			return 0, err
		}
		if h.OpCode == wsmem.OpClose {
			if len(payload) < 2 {
				return wsmem.StatusNoStatus, nil
			}
			return wsmem.StatusCode(binary.BigEndian.Uint16(payload)), nil
		}
	}
	return 0, errors.New("no close frame in 1000 frames")
}

// readHeader reads one frame header, byte by byte.
func readHeader(br *bufio.Reader) (wsmem.Header, error) {
	var hb []byte
	for range wsmem.MaxHeaderSize {
		b, err := br.ReadByte()
		if err != nil {
			return wsmem.Header{}, err
		}
		hb = append(hb, b)
		if h, n, err := wsmem.ParseHeader(hb); err != nil || n > 0 {
			return h, err
		}
	}
	return wsmem.Header{}, errors.New("no frame header in 14 bytes")
}
