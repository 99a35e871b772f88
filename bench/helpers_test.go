package bench

// Shared helpers: the library registry, in-memory net.Conns (a replayed
// stream of client frames, a discarding sink that can answer a client's
// opening handshake), frame builders and an independent frame decoder used
// to check what the libraries wrote, and payload generators.

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// errNoAPI is returned by an adapter for an API the library does not have.
var errNoAPI = errors.New("the library has no such API")

// Read APIs.
const (
	apiMsg    = "msg"    // one call per message
	apiStream = "stream" // a reader per message, read into a reused buffer
)

// lib is one library's adapter. Each adapter file fills one in.
type lib struct {
	name string

	// mask XORs b in place with key from key phase 0; nil when the
	// library exports no masking function.
	mask func(b []byte, key [4]byte)
	// maskLoop masks b in place for as long as bl.Loop() says, calling the
	// library's function directly: through mask, every call would also pay
	// for calling a func value, which copy(), the baseline, does not.
	maskLoop func(bl *testing.B, b []byte, key [4]byte)

	// validatesUTF8 tells whether the library checks text messages on
	// receive (as configured here). When it does not, the UTF-8 scenario
	// validates with utf8.Valid, as an application would have to.
	validatesUTF8 bool

	// serverRead attaches the server side to nc (which replays client
	// frames) and receives messages with api, handing each payload to
	// each until each returns false. The payload is valid only during the
	// call. maxSize is the largest message. errNoAPI: no such API.
	serverRead func(nc net.Conn, api string, maxSize int, each func([]byte) bool) error

	// serverWriter and clientWriter attach a side to nc (a sink; the client
	// side does its opening handshake with it) and return a function that
	// sends one message.
	serverWriter func(nc net.Conn) (send func(text bool, p []byte) error, err error)
	clientWriter func(nc net.Conn) (send func(text bool, p []byte) error, err error)

	// echoServe serves echo connections accepted from ln until ln is
	// closed.
	echoServe func(ln net.Listener, maxSize int)

	// echoClient connects to the echo server at addr and runs round trips:
	// it sends p, receives the echo and hands it to each, until each
	// returns false; then it closes the connection.
	echoClient func(addr string, p []byte, each func([]byte) bool) error

	// compressPair connects l's client on cn to l's server on sn with
	// permessage-deflate at level 1 (where the level can be chosen) and 15-bit
	// windows: context takeover in both directions, or server_ and
	// client_no_context_takeover. It returns the client's send of one text
	// message and the server's receive loop, which hands every message
	// (valid during the call) to each until each returns false. maxSize is
	// the largest message. errNoAPI: the library has no such mode.
	compressPair func(cn, sn net.Conn, takeover bool, maxSize int) (send func(p []byte) error, recv func(each func([]byte) bool) error, err error)

	// compressServer sets up what l's server shares between connections
	// with permessage-deflate in that mode, and returns serve, which runs
	// one connection on nc as the library's idiomatic echo server does (a
	// goroutine blocked receiving the next message), from the opening
	// handshake until the connection ends. errNoAPI: no such mode.
	compressServer func(takeover bool) (serve func(nc net.Conn), err error)

	// rawUpgrade returns a function that answers the opening handshake
	// read from nc without net/http, the returned function being reused
	// for every connection; nil when the library has no such API.
	rawUpgrade func() func(nc net.Conn) error

	// httpUpgrade returns a function that upgrades a request from an
	// http.Handler's arguments, reused for every connection.
	httpUpgrade func() func(w http.ResponseWriter, r *http.Request) error
}

// libOrder is the order in which libraries run inside each scenario.
var libOrder = []string{"wsmem", "gorilla", "gobwas", "coder", "gws"}

var libs = map[string]*lib{}

func register(l *lib) { libs[l.name] = l }

// allLibs returns the registered libraries in libOrder.
func allLibs() []*lib {
	var out []*lib
	for _, n := range libOrder {
		if l := libs[n]; l != nil {
			out = append(out, l)
		}
	}
	return out
}

// sizeName formats a byte count as the benchmarks name it: 16B, 1KiB, 1MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// ---- payloads ----

// binaryPayload returns n pseudo-random bytes; seed picks the sequence.
func binaryPayload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

// textPayload returns n bytes of valid UTF-8 of which about 30% are
// non-ASCII (a mix of 2-, 3- and 4-byte characters).
func textPayload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	multi := []rune{'é', 'ß', 'ж', 'Ω', '中', '文', '€', '✓', '😀', '🚀'}
	b := make([]byte, 0, n)
	nonASCII := 0
	for len(b) < n {
		// Keep the running share of non-ASCII bytes near 30%.
		if nonASCII*10 < len(b)*3 {
			c := multi[r.IntN(len(multi))]
			if len(b)+utf8.RuneLen(c) > n {
				break
			}
			b = utf8.AppendRune(b, c)
			nonASCII += utf8.RuneLen(c)
		} else {
			b = append(b, byte('a'+r.IntN(26)))
		}
	}
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}

// serveEach serves each connection accepted from ln in a goroutine of its
// own, closing it when serve returns, until ln is closed.
func serveEach(ln net.Listener, serve func(nc net.Conn)) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			serve(nc)
		}()
	}
}

// ---- frames ----

// appendFrame appends a final frame with opcode op and payload p, masked
// with key when masked. It is written from RFC 6455 §5.2 independently of
// every library under test.
func appendFrame(dst []byte, op byte, masked bool, key [4]byte, p []byte) []byte {
	var mbit byte
	if masked {
		mbit = 0x80
	}
	dst = append(dst, 0x80|op)
	switch n := len(p); {
	case n <= 125:
		dst = append(dst, mbit|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, mbit|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, mbit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if masked {
		dst = append(dst, key[:]...)
	}
	start := len(dst)
	dst = append(dst, p...)
	if masked {
		for i := range p {
			dst[start+i] ^= key[i&3]
		}
	}
	return dst
}

const (
	opText   = 0x1
	opBinary = 0x2
)

// frame is one decoded frame.
type frame struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte // unmasked copy
}

// decodeFrames decodes every frame in b, unmasking payloads into copies.
func decodeFrames(b []byte) ([]frame, error) {
	var out []frame
	for len(b) > 0 {
		if len(b) < 2 {
			return out, errors.New("truncated header")
		}
		f := frame{fin: b[0]&0x80 != 0, rsv: b[0] >> 4 & 7, op: b[0] & 0x0F, masked: b[1]&0x80 != 0}
		n := uint64(b[1] & 0x7F)
		off := 2
		switch n {
		case 126:
			if len(b) < 4 {
				return out, errors.New("truncated length")
			}
			n = uint64(binary.BigEndian.Uint16(b[2:]))
			off = 4
		case 127:
			if len(b) < 10 {
				return out, errors.New("truncated length")
			}
			n = binary.BigEndian.Uint64(b[2:])
			off = 10
		}
		var key [4]byte
		if f.masked {
			if len(b) < off+4 {
				return out, errors.New("truncated mask")
			}
			copy(key[:], b[off:])
			off += 4
		}
		if uint64(len(b)-off) < n {
			return out, fmt.Errorf("truncated payload: have %d of %d", len(b)-off, n)
		}
		f.payload = append([]byte(nil), b[off:off+int(n)]...)
		if f.masked {
			for i := range f.payload {
				f.payload[i] ^= key[i&3]
			}
		}
		out = append(out, f)
		b = b[off+int(n):]
	}
	return out, nil
}

// checkMessage checks that wire holds exactly one data message with opcode
// op and payload want, in one frame or fragmented, every frame masked as the
// sending side must.
func checkMessage(wire []byte, op byte, masked bool, want []byte) error {
	fs, err := decodeFrames(wire)
	if err != nil {
		return fmt.Errorf("decoding the written bytes: %v", err)
	}
	if len(fs) == 0 {
		return errors.New("wrote no frame")
	}
	var got []byte
	for i, f := range fs {
		wantOp := byte(0) // continuation
		if i == 0 {
			wantOp = op
		}
		switch {
		case f.fin != (i == len(fs)-1) || f.rsv != 0 || f.op != wantOp:
			return fmt.Errorf("frame %d of %d: fin=%v rsv=%d op=%d, want op %d", i, len(fs), f.fin, f.rsv, f.op, wantOp)
		case f.masked != masked:
			return fmt.Errorf("frame %d: masked=%v, want %v", i, f.masked, masked)
		}
		got = append(got, f.payload...)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("payload differs (%d bytes written, %d sent)", len(got), len(want))
	}
	return nil
}

// clientStream builds a stream of masked client frames carrying messages of
// size bytes, at least two and enough for about 256 KiB, each message with
// its own payload and masking key. It returns the stream and the payloads
// in order.
func clientStream(size int, text bool) (stream []byte, payloads [][]byte) {
	count := max(2, (256<<10)/(size+14))
	op := byte(opBinary)
	if text {
		op = opText
	}
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range count {
		var p []byte
		if text {
			p = textPayload(size, uint64(i))
		} else {
			p = binaryPayload(size, uint64(i))
		}
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], r.Uint32()|1)
		stream = appendFrame(stream, op, true, key, p)
		payloads = append(payloads, p)
	}
	return stream, payloads
}

// ---- in-memory connections ----

type addr struct{}

func (addr) Network() string { return "tcp" }
func (addr) String() string  { return "127.0.0.1:9" }

// connBase gives the in-memory conns the net.Conn methods they share.
type connBase struct{}

func (connBase) LocalAddr() net.Addr                    { return addr{} }
func (connBase) RemoteAddr() net.Addr                   { return addr{} }
func (connBase) SetDeadline(time.Time) error            { return nil }
func (connBase) SetReadDeadline(time.Time) error        { return nil }
func (connBase) SetWriteDeadline(time.Time) error       { return nil }
func (connBase) SetNoDelay(bool) error                  { return nil }
func (connBase) SetKeepAlive(bool) error                { return nil }
func (connBase) SetLinger(int) error                    { return nil }
func (connBase) SetKeepAlivePeriod(time.Duration) error { return nil }

// replayConn is a net.Conn whose reads copy from a pre-built stream of
// frames, looping forever (after an optional prefix, served first), and
// whose writes are discarded. Once stop is set, reads return io.EOF.
type replayConn struct {
	connBase
	prefix []byte
	data   []byte
	off    int
	stop   atomic.Bool
}

func newReplayConn(prefix, data []byte) *replayConn {
	return &replayConn{prefix: prefix, data: data}
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.stop.Load() {
		return 0, io.EOF
	}
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	n := copy(p, c.data[c.off:])
	c.off += n
	if c.off == len(c.data) {
		c.off = 0
	}
	return n, nil
}

func (c *replayConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *replayConn) Close() error                { c.stop.Store(true); return nil }

// sinkConn is a net.Conn that discards what is written to it, or records it
// while capture is set. With answerHandshake it plays the server of a
// client's opening handshake: once the request is written, reads return a
// 101 response; after that, reads block until Close.
type sinkConn struct {
	connBase
	capture bool
	wire    bytes.Buffer

	mu       sync.Mutex
	cond     *sync.Cond
	answer   bool
	request  []byte
	response []byte
	closed   bool
}

func newSinkConn(answerHandshake bool) *sinkConn {
	c := &sinkConn{answer: answerHandshake}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *sinkConn) Write(p []byte) (int, error) {
	if c.capture {
		c.wire.Write(p)
	}
	if c.answer {
		c.mu.Lock()
		if len(c.request) == 0 && !bytes.HasPrefix(p, []byte("GET ")) {
			c.answer = false // no handshake (wsmem's NoHTTP): frames from the start
		}
		if c.answer {
			c.request = append(c.request, p...)
			if i := bytes.Index(c.request, []byte("\r\n\r\n")); i >= 0 {
				c.response = handshakeResponse(c.request[:i])
				c.answer = false
				c.cond.Broadcast()
			}
		}
		c.mu.Unlock()
	}
	return len(p), nil
}

func (c *sinkConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.response) == 0 && !c.closed {
		c.cond.Wait()
	}
	if len(c.response) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.response)
	c.response = c.response[n:]
	if len(c.response) == 0 {
		c.response = nil
	}
	return n, nil
}

func (c *sinkConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

// startCapture records the writes that follow; takeCapture stops and
// returns them.
func (c *sinkConn) startCapture() { c.wire.Reset(); c.capture = true }
func (c *sinkConn) takeCapture() []byte {
	c.capture = false
	return bytes.Clone(c.wire.Bytes())
}

// acceptKey computes Sec-WebSocket-Accept for key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// handshakeResponse answers the upgrade request whose head is req.
func handshakeResponse(req []byte) []byte {
	key := ""
	for _, line := range strings.Split(string(req), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Key") {
			key = strings.TrimSpace(value)
		}
	}
	return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n")
}

// upgradeRequestText is a client's opening handshake.
const upgradeRequestText = "GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// upgradeRequest returns the opening handshake as a parsed request.
func upgradeRequest() *http.Request {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(upgradeRequestText)))
	if err != nil {
		panic(err)
	}
	r.RemoteAddr = "127.0.0.1:9"
	return r
}

// hijackWriter is the http.ResponseWriter of a request that arrived on nc:
// it discards the response and hands nc over on Hijack, with 4 KiB buffers
// as net/http's server does.
type hijackWriter struct {
	nc     net.Conn
	header http.Header
}

func newHijackWriter(nc net.Conn) *hijackWriter {
	return &hijackWriter{nc: nc, header: http.Header{}}
}

func (w *hijackWriter) Header() http.Header         { return w.header }
func (w *hijackWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *hijackWriter) WriteHeader(int)             {}
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.nc, bufio.NewReadWriter(bufio.NewReaderSize(w.nc, 4096), bufio.NewWriterSize(w.nc, 4096)), nil
}

// readAll reads r to io.EOF into buf (reused), returning the bytes read.
// Give buf room for one byte more than the longest message, so that the
// read that meets io.EOF has somewhere to land.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	n := 0
	for {
		if n == len(buf) {
			return nil, errors.New("message longer than the buffer")
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// rw joins a reader and a writer.
type rw struct {
	io.Reader
	io.Writer
}

// prefixConn serves prefix to reads first, never crossing into what nc
// returns; writes go to nc. It feeds an opening handshake to libraries
// that read it from the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func withPrefix(nc net.Conn, prefix string) net.Conn {
	return &prefixConn{Conn: nc, prefix: []byte(prefix)}
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ---- compression, idle memory and handshakes ----

// compressMode is a permessage-deflate configuration the scenarios run.
type compressMode struct {
	name     string
	takeover bool // context takeover in both directions, else no_context_takeover in both
}

var compressModes = []compressMode{{"takeover", true}, {"notakeover", false}}

// jsonPayload returns n bytes (n >= 512) of JSON-like text: an array of
// records with the same keys and varied values (ids, user names,
// timestamps, prices, booleans, a few words, now and then a non-ASCII
// word), as a chat or market-data feed sends. seed picks the values.
func jsonPayload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc908))
	words := []string{"alpha", "bravo", "market", "order", "filled", "pending", "price", "update",
		"room", "message", "hello", "world", "latency", "stream", "café", "Zürich", "naïve", "東京"}
	sides := []string{"buy", "sell"}
	b := make([]byte, 1, n)
	b[0] = '['
	var rec []byte
	for {
		rec = rec[:0]
		rec = fmt.Appendf(rec, `{"id":%d,"user":"user_%d","ts":"2026-11-%02dT%02d:%02d:%02d.%03dZ",`,
			100000+r.IntN(900000), r.IntN(5000), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000))
		rec = fmt.Appendf(rec, `"price":%d.%02d,"qty":%d,"side":"%s","active":%t,"text":"`,
			r.IntN(2000), r.IntN(100), 1+r.IntN(500), sides[r.IntN(2)], r.IntN(2) == 0)
		for i := range 3 + r.IntN(6) {
			if i > 0 {
				rec = append(rec, ' ')
			}
			rec = append(rec, words[r.IntN(len(words))]...)
		}
		rec = append(rec, `"}`...)
		if len(b)+1+len(rec)+1 > n {
			break
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, rec...)
	}
	for len(b) < n-1 {
		b = append(b, ' ')
	}
	return append(b, ']')
}

// pipeConn is one end of an in-memory connection (newPipe). Writes append
// to the peer's inbox and never block; reads take from the own inbox and
// block while it is empty, until either end closes. Unlike net.Pipe, bytes
// written whole wait to be read, so one goroutine can send a message and
// then receive it: the compression scenario has no goroutine switch per
// message.
type pipeConn struct {
	connBase
	in, out *pipeBuf
}

// pipeBuf is one direction of a pipe.
type pipeBuf struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte
	off     int
	closed  bool
	waiting bool // a reader is blocked on the empty buffer
	free    bool // drop the buffer once drained (memory measurements)
}

func newPipeBuf(free bool) *pipeBuf {
	b := &pipeBuf{free: free}
	b.cond.L = &b.mu
	return b
}

// newPipe returns the two ends of an in-memory connection. With free, a
// drained direction gives its buffer back to the garbage collector, so that
// an idle pipe holds no buffer; without, the buffer is reused.
func newPipe(free bool) (a, b *pipeConn) {
	ab, ba := newPipeBuf(free), newPipeBuf(free)
	return &pipeConn{in: ba, out: ab}, &pipeConn{in: ab, out: ba}
}

func (c *pipeConn) Read(p []byte) (int, error) {
	b := c.in
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.off == len(b.buf) && !b.closed {
		b.waiting = true
		b.cond.Wait()
		b.waiting = false
	}
	if b.off == len(b.buf) {
		return 0, io.EOF
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	if b.off == len(b.buf) {
		b.off = 0
		b.buf = b.buf[:0]
		if b.free {
			b.buf = nil
		}
	}
	return n, nil
}

func (c *pipeConn) Write(p []byte) (int, error) {
	b := c.out
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, net.ErrClosed
	}
	b.buf = append(b.buf, p...)
	b.cond.Signal()
	return len(p), nil
}

// Close closes both directions: reads drain what is buffered, then return
// io.EOF; writes fail.
func (c *pipeConn) Close() error {
	for _, b := range []*pipeBuf{c.in, c.out} {
		b.mu.Lock()
		b.closed = true
		b.cond.Broadcast()
		b.mu.Unlock()
	}
	return nil
}

// unread returns a copy of what the peer wrote and this end has not read.
func (c *pipeConn) unread() []byte {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	return bytes.Clone(c.in.buf[c.in.off:])
}

// idle reports whether a reader is blocked on this end with nothing to
// read.
func (c *pipeConn) idle() bool {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	return c.in.waiting && c.in.off == len(c.in.buf)
}

// goDo runs f in a new goroutine; the returned function waits for its
// results. A server's handshake runs so while the client's runs in the
// caller's goroutine.
func goDo[T any](f func() (T, error)) func() (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	return func() (T, error) {
		r := <-ch
		return r.v, r.err
	}
}

// httpConn plays net/http's server for one connection, for the libraries
// that upgrade from an http.Handler. The request is read through a 4 KiB
// bufio.Reader over nc; the ResponseWriter's Hijack hands that reader and a
// 4 KiB bufio.Writer over, as net/http's server does with its
// connection's buffers. A status set with WriteHeader before the hijack is
// written then (status line, http.Header.Write, blank line) and flushed, as
// net/http flushes a handler's header when it hijacks. Unlike net/http,
// reset lets one httpConn serve its request again without allocating (the
// handshake benchmark), and Hijack reuses one bufio.ReadWriter where
// net/http allocates one.
type httpConn struct {
	nc       net.Conn
	req      *http.Request
	bufr     *bufio.Reader
	bufw     *bufio.Writer
	brw      bufio.ReadWriter
	header   http.Header
	status   int
	hijacked bool
}

// newHTTPConn reads a request from nc and returns the connection that
// serves it; h.req is the request.
func newHTTPConn(nc net.Conn) (*httpConn, error) {
	h := &httpConn{nc: nc, bufr: bufio.NewReaderSize(nc, 4096), bufw: bufio.NewWriterSize(nc, 4096), header: http.Header{}}
	r, err := http.ReadRequest(h.bufr)
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = nc.RemoteAddr().String()
	h.req = r
	h.brw = bufio.ReadWriter{Reader: h.bufr, Writer: h.bufw}
	return h, nil
}

// reset makes h ready to serve its request again.
func (h *httpConn) reset() {
	clear(h.header)
	h.status, h.hijacked = 0, false
	h.bufr.Reset(h.nc)
	h.bufw.Reset(h.nc)
}

func (h *httpConn) Header() http.Header { return h.header }

func (h *httpConn) Write(p []byte) (int, error) {
	if h.hijacked {
		return 0, http.ErrHijacked
	}
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(p), nil // a refusal's body: not needed
}

func (h *httpConn) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *httpConn) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h.hijacked {
		return nil, nil, http.ErrHijacked
	}
	h.hijacked = true
	if h.status != 0 {
		var num [8]byte
		h.bufw.WriteString("HTTP/1.1 ")
		h.bufw.Write(strconv.AppendInt(num[:0], int64(h.status), 10))
		h.bufw.WriteString(" ")
		h.bufw.WriteString(http.StatusText(h.status))
		h.bufw.WriteString("\r\n")
		if err := h.header.Write(h.bufw); err != nil {
			return nil, nil, err
		}
		h.bufw.WriteString("\r\n")
		if err := h.bufw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	return h.nc, &h.brw, nil
}

// browserRequest is the opening handshake a browser sends (Chrome's
// headers, in Chrome's order), offering permessage-deflate.
const browserRequest = "GET /chat HTTP/1.1\r\n" +
	"Host: example.com\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

// handshakeConn is a net.Conn whose reads return a request once, then
// io.EOF, and whose writes are discarded, or recorded while capture is
// set. reset serves the request again.
type handshakeConn struct {
	connBase
	req     []byte
	off     int
	capture bool
	wire    bytes.Buffer
}

func (c *handshakeConn) reset() { c.off = 0 }

func (c *handshakeConn) Read(p []byte) (int, error) {
	if c.off == len(c.req) {
		return 0, io.EOF
	}
	n := copy(p, c.req[c.off:])
	c.off += n
	return n, nil
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	if c.capture {
		c.wire.Write(p)
	}
	return len(p), nil
}

func (c *handshakeConn) Close() error { return nil }

func (c *handshakeConn) startCapture() { c.wire.Reset(); c.capture = true }
func (c *handshakeConn) takeCapture() []byte {
	c.capture = false
	return bytes.Clone(c.wire.Bytes())
}

// checkUpgradeResponse checks that wire is exactly one 101 response
// accepting the key of browserRequest, without extensions (compression is
// off in the handshake scenario).
func checkUpgradeResponse(wire []byte) error {
	br := bufio.NewReader(bytes.NewReader(wire))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("reading the response %q: %v", wire, err)
	}
	h := resp.Header
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return fmt.Errorf("status %d, want 101", resp.StatusCode)
	case h.Get("Sec-WebSocket-Accept") != acceptKey("dGhlIHNhbXBsZSBub25jZQ=="):
		return fmt.Errorf("Sec-WebSocket-Accept %q", h.Get("Sec-WebSocket-Accept"))
	case !strings.EqualFold(h.Get("Upgrade"), "websocket"):
		return fmt.Errorf("Upgrade %q", h.Get("Upgrade"))
	case !strings.Contains(strings.ToLower(h.Get("Connection")), "upgrade"):
		return fmt.Errorf("Connection %q", h.Get("Connection"))
	case len(h.Values("Sec-WebSocket-Extensions")) > 0:
		return fmt.Errorf("answered extensions %q with compression off", h.Values("Sec-WebSocket-Extensions"))
	case br.Buffered() > 0:
		return fmt.Errorf("%d bytes after the response", br.Buffered())
	}
	return nil
}

// deflateReadTail closes a permessage-deflate payload for a plain inflater
// (RFC 7692 §7.2.2, and an empty final block).
var deflateReadTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflateIndependent decompresses a permessage-deflate payload compressed
// without history, with the standard library's decoder (none of the
// libraries under test uses it to decompress with wsmem's and gws's
// klauspost/compress).
func inflateIndependent(z []byte) ([]byte, error) {
	fr := stdflate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader(deflateReadTail)))
	return io.ReadAll(fr)
}

// deflateIndependent compresses p as a permessage-deflate payload without
// history, at level 1, with the standard library's encoder.
func deflateIndependent(p []byte) []byte {
	var out bytes.Buffer
	fw, _ := stdflate.NewWriter(&out, stdflate.BestSpeed)
	fw.Write(p)
	fw.Flush()
	return bytes.TrimSuffix(out.Bytes(), deflateReadTail[:4])
}

// checkCompressedMessage checks that wire is one text message with payload
// p, sent compressed: RSV1 on its first frame only, every frame masked when
// masked, fewer payload bytes than p. With noHistory the payload is
// inflated independently and compared with p. It returns the compressed
// payload's length.
func checkCompressedMessage(wire []byte, p []byte, masked, noHistory bool) (int, error) {
	fs, err := decodeFrames(wire)
	if err != nil {
		return 0, fmt.Errorf("decoding the written bytes: %v", err)
	}
	if len(fs) == 0 {
		return 0, errors.New("wrote no frame")
	}
	var z []byte
	for i, f := range fs {
		wantOp, wantRsv := byte(0), byte(0)
		if i == 0 {
			wantOp, wantRsv = opText, 4 // RSV1
		}
		switch {
		case f.fin != (i == len(fs)-1) || f.op != wantOp:
			return 0, fmt.Errorf("frame %d of %d: fin=%v op=%d, want op %d", i, len(fs), f.fin, f.op, wantOp)
		case f.rsv != wantRsv:
			return 0, fmt.Errorf("frame %d of %d: rsv=%d, want %d (RSV1 on the first frame: compressed)", i, len(fs), f.rsv, wantRsv)
		case f.masked != masked:
			return 0, fmt.Errorf("frame %d: masked=%v, want %v", i, f.masked, masked)
		}
		z = append(z, f.payload...)
	}
	if len(z) >= len(p) {
		return 0, fmt.Errorf("%d bytes on the wire for a %d-byte message: not compressed", len(z), len(p))
	}
	if noHistory {
		got, err := inflateIndependent(z)
		if err != nil {
			return 0, fmt.Errorf("inflating what was written: %v", err)
		}
		if !bytes.Equal(got, p) {
			return 0, fmt.Errorf("what was written inflates to %d bytes that differ from the %d sent", len(got), len(p))
		}
	}
	return len(z), nil
}

// cpuLoop wraps b.Loop and also reports the process's CPU time (user and
// system, every thread: the libraries' goroutines and the garbage
// collector included) per iteration, as cpu-ns/op. On a shared machine the
// time per op grows with the load of other processes; the CPU time per op
// much less.
func cpuLoop(b *testing.B) func() bool {
	var start time.Duration
	n := 0
	return func() bool {
		more := b.Loop()
		if n == 0 && more {
			start = processCPU()
		}
		if more {
			n++
			return true
		}
		if n > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(n), "cpu-ns/op")
		}
		return false
	}
}

// processCPU returns the CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
