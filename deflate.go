package wsmem

// permessage-deflate (RFC 7692) compression and decompression.
//
// Memory model
//
// flate compressors and decompressors are large (a level-1 klauspost/compress
// flate.Writer plus a flate reader hold about 850 KB; see
// TestDeflateRetainedPerConnection), so no connection owns one. They live in process-wide sync.Pools and are
// borrowed for exactly one message. What a connection keeps between messages
// is only what RFC 7692 obliges it to keep:
//
//   - without context takeover: nothing at all;
//   - with context takeover: a deflateWindow per direction, the most recent
//     plaintext of that direction, at most 2^bits bytes (32 KiB for 15 bits),
//     grown lazily, so a connection that has only sent 300 bytes holds about
//     300.
//
// A borrowed compressor is primed with the connection's window through
// flate.Writer.ResetDict, a borrowed decompressor through the dict argument of
// flate.Resetter.Reset. The peer cannot tell the difference from a long-lived
// (de)compressor: its own state holds the history ours was primed with (all
// of it, or for a re-primed compressor more than it).
// The price is CPU: priming a compressor re-encodes history, so a compressor
// is primed with only the window's last 4 KiB, or as much as the message is
// long (deflatePrimeBytes). That price is not paid when a connection sends
// messages back to back: a compressor goes back to the pool marked with the
// stamp of the send window it leaves behind, and when the same connection,
// with its window unchanged since, gets it back (sync.Pool hands a goroutine
// what it last put, unless another compression took it in between), the stream
// just goes on, exactly as with a compressor owned by the connection. The
// connection still holds no compressor: an idle one keeps only its window.
//
// Small windows
//
// When the peer limits the window our compressor may use (server_max_window_bits
// or client_max_window_bits below 15), back-references must never reach further
// back than 2^bits bytes. The level-based klauspost encoders always search the
// full 32 KiB, so for bits < 15 this file uses flate.NewWriterWindow(2^bits),
// whose encoder only emits distances strictly below its window size (checked by
// the tests with an independent decoder). That encoder has one fixed strategy
// (similar to level 5): CompressionConfig.Level is ignored in that case. 8-bit
// windows are produced faithfully (distances < 256), so even peers that really
// use a 256-byte inflate window decode our output.
//
// wsmem's own encoder (deflate_encoder.go), which serves level 1 without
// context takeover, takes the window as a limit on its distances.
//
// Conn.Recv decodes a whole message at once with wsmem's own decoder
// (deflate_decoder.go) when the caller's buffer holds it, and falls back to
// a borrowed klauspost decompressor, from the message's start, otherwise.
//
// Decompression is never constrained: the decompressor always has a 32 KiB
// window, which is a superset of any window the peer may use. With context
// takeover only the last 2^bits bytes (the peer's negotiated window) are kept
// per connection, which is all a conforming peer can refer to.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// CompressionConfig holds the permessage-deflate settings. It is shared
// read-only by many connections.
type CompressionConfig struct {
	// Enabled makes a client offer, and a server accept, permessage-deflate.
	Enabled bool

	// Level is the flate level, 1 (fastest) to 9 (smallest output).
	// 0 selects deflateDefaultLevel (1, flate.BestSpeed): for WebSocket traffic
	// the larger levels buy little and cost a lot of CPU; levels 7..9 also
	// clear about 640 KB of match tables per message. At level 1, messages
	// sent without context takeover go through wsmem's own encoder (1 KiB
	// messages in 20-40% less time than klauspost/compress across runs,
	// 16 KiB ones on par); everything else through klauspost/compress. Ignored, except for that encoder, when the
	// peer restricts our window below 15 bits (see the file comment).
	Level int

	// Threshold: messages shorter than this many bytes are sent uncompressed.
	// 0 selects deflateDefaultThreshold (128). Below ~100 bytes the deflate
	// block header usually eats the gain.
	Threshold int

	// ServerNoContextTakeover: on a server, always answer with
	// server_no_context_takeover (the server compresses every message on its
	// own, keeping no send window per connection); on a client, request it.
	ServerNoContextTakeover bool

	// ClientNoContextTakeover: on a server, always answer with
	// client_no_context_takeover (no receive window is kept per connection);
	// on a client, announce that we compress every message on its own.
	ClientNoContextTakeover bool

	// ServerMaxWindowBits (8..15, 0 = 15): on a server, the largest window its
	// compressor uses (announced in the response when below 15); on a client,
	// the limit requested from the server (bounding our receive window).
	ServerMaxWindowBits int

	// ClientMaxWindowBits (8..15, 0 = 15): on a server, the limit asked of the
	// client's compressor (bounding our receive window); if the client did not
	// offer client_max_window_bits the server cannot ask for a limit and
	// answers client_no_context_takeover instead. On a client, the largest
	// window our compressor uses, announced in the offer.
	ClientMaxWindowBits int
}

const (
	deflateDefaultLevel     = flate.BestSpeed
	deflateDefaultThreshold = 128
	deflateMinWindowBits    = 8
	deflateMaxWindowBits    = 15
	deflateMaxWindow        = 1 << deflateMaxWindowBits
)

// validate reports a configuration that cannot be used.
func (c *CompressionConfig) validate() error {
	if c.Level < 0 || c.Level > flate.BestCompression {
		return fmt.Errorf("wsmem: CompressionConfig.Level %d out of range 0..9", c.Level)
	}
	if c.Threshold < 0 {
		return fmt.Errorf("wsmem: CompressionConfig.Threshold %d is negative", c.Threshold)
	}
	if b := c.ServerMaxWindowBits; b != 0 && (b < deflateMinWindowBits || b > deflateMaxWindowBits) {
		return fmt.Errorf("wsmem: CompressionConfig.ServerMaxWindowBits %d out of range 8..15", b)
	}
	if b := c.ClientMaxWindowBits; b != 0 && (b < deflateMinWindowBits || b > deflateMaxWindowBits) {
		return fmt.Errorf("wsmem: CompressionConfig.ClientMaxWindowBits %d out of range 8..15", b)
	}
	return nil
}

// compressionLevel returns the flate level to use (1..9).
func (c *CompressionConfig) compressionLevel() int {
	return deflateClampLevel(c.Level)
}

// compressionThreshold returns the smallest message length worth compressing.
func (c *CompressionConfig) compressionThreshold() int {
	if c.Threshold <= 0 {
		return deflateDefaultThreshold
	}
	return c.Threshold
}

// serverWindowBits and clientWindowBits return the configured limits, 15 when
// unset (out-of-range values are clamped; validate reports them).
func (c *CompressionConfig) serverWindowBits() uint8 { return deflateClampBits(c.ServerMaxWindowBits) }
func (c *CompressionConfig) clientWindowBits() uint8 { return deflateClampBits(c.ClientMaxWindowBits) }

func deflateClampBits(b int) uint8 {
	switch {
	case b == 0 || b > deflateMaxWindowBits:
		return deflateMaxWindowBits
	case b < deflateMinWindowBits:
		return deflateMinWindowBits
	}
	return uint8(b)
}

func deflateClampLevel(level int) int {
	switch {
	case level <= 0:
		return deflateDefaultLevel
	case level > flate.BestCompression:
		return flate.BestCompression
	}
	return level
}

// sendParams returns the window size (log2) our compressor must respect and
// whether the LZ77 window is carried over between the messages we send.
func (p deflateParams) sendParams(isServer bool) (bits uint8, takeover bool) {
	if isServer {
		return deflateBitsOrMax(p.serverMaxWindowBits), !p.serverNoContextTakeover
	}
	return deflateBitsOrMax(p.clientMaxWindowBits), !p.clientNoContextTakeover
}

// recvParams returns the window size (log2) the peer's compressor respects and
// whether the peer carries its window over between messages, i.e. whether we
// must keep a receive window.
func (p deflateParams) recvParams(isServer bool) (bits uint8, takeover bool) {
	return p.sendParams(!isServer)
}

func deflateBitsOrMax(b uint8) uint8 {
	if b == 0 {
		return deflateMaxWindowBits
	}
	return b
}

// deflateWindow is one direction's LZ77 history for context takeover: the last
// (at most) size bytes of plaintext that went through the deflate stream.
// A connection has one per direction that negotiated takeover; a nil
// *deflateWindow means no takeover. It is not safe for concurrent use: a
// direction's messages are processed one at a time anyway.
type deflateWindow struct {
	// hist holds the history oldest first until it has size bytes; from
	// then on it is a ring whose oldest byte is hist[pos], so that a
	// message overwrites as many bytes as it has instead of sliding the
	// rest (parts gives the history in order).
	hist []byte
	pos  int

	// stamp holds the negotiated window bits (8..15) in its low 4 bits and
	// above them a number that changes, to a value no window ever had,
	// whenever hist does: a pooled compressor that records the stamp it
	// left a window with can tell whether its state is still that window's
	// history. (One word for both keeps the struct small.)
	stamp uint64
}

// deflateStamps hands out the numbers in deflateWindow stamps.
var deflateStamps atomic.Uint64

// restamp gives w a new, unique stamp for the given window bits.
func (w *deflateWindow) restamp(bits uint8) {
	w.stamp = deflateStamps.Add(1)<<4 | uint64(bits&15)
}

// size is the window's size in bytes: 1 << negotiated window bits.
func (w *deflateWindow) size() int { return 1 << (w.stamp & 15) }

// newDeflateWindow returns an empty window for the given window bits (8..15).
// No history memory is allocated until the first message.
func newDeflateWindow(bits uint8) *deflateWindow {
	w := new(deflateWindow)
	w.init(bits)
	return w
}

// init (re)initialises w, for embedding a deflateWindow in a larger struct.
func (w *deflateWindow) init(bits uint8) {
	bits = deflateClampBits(int(bits))
	w.restamp(bits)
	w.hist, w.pos = w.hist[:0], 0
	if cap(w.hist) > w.size() {
		w.hist = nil
	}
}

// write appends p to the history, keeping only the last w.size() bytes. The
// buffer grows geometrically up to w.size() and is then reused forever as a
// ring: a write copies only p, or its last w.size() bytes.
func (w *deflateWindow) write(p []byte) {
	if len(p) == 0 {
		return
	}
	size := w.size()
	w.restamp(uint8(w.stamp & 15))
	if len(p) >= size {
		w.grow(size)
		w.hist, w.pos = w.hist[:size], 0
		copy(w.hist, p[len(p)-size:])
		return
	}
	if n := len(w.hist); n < size { // not full yet, in order (pos is 0)
		k := min(len(p), size-n)
		w.grow(n + k)
		w.hist = append(w.hist, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 { // full: p overwrites the oldest bytes, in two copies at most
		k := copy(w.hist[w.pos:], p)
		p = p[k:]
		if w.pos += k; w.pos == size {
			w.pos = 0
		}
	}
}

// parts returns the history, oldest first, as a followed by b.
func (w *deflateWindow) parts() (a, b []byte) {
	return w.hist[w.pos:], w.hist[:w.pos]
}

// contiguous returns the last n bytes of the history (all of it if it has
// fewer) as one slice: part of hist when they do not wrap around the ring,
// else a copy in scratch, which must have room for them.
func (w *deflateWindow) contiguous(n int, scratch []byte) []byte {
	a, b := w.parts()
	switch {
	case len(b) == 0:
		return a[max(0, len(a)-n):]
	case n <= len(b):
		return b[len(b)-n:]
	}
	a = a[max(0, len(a)-(n-len(b))):]
	return append(append(scratch[:0], a...), b...)
}

// grow makes room for need bytes (need <= w.size()).
func (w *deflateWindow) grow(need int) {
	if cap(w.hist) >= need {
		return
	}
	c := max(need, 2*cap(w.hist), 256)
	c = min(c, w.size())
	h := make([]byte, len(w.hist), c)
	copy(h, w.hist)
	w.hist = h
}

// deflateSyncTail is what a sync flush appends to a deflate stream (an empty
// non-final stored block). RFC 7692 §7.2.1 strips it from every message and
// §7.2.2 has the receiver put it back.
var deflateSyncTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// deflateReadTail is fed to the decompressor after a message: the stripped
// sync-flush tail, then an empty final stored block, so that the decompressor
// reports io.EOF exactly at the end of the message instead of waiting for more
// input.
var deflateReadTail = [9]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// errDeflateNotSmaller aborts a compression as soon as its output is known to
// be at least as large as the input.
var errDeflateNotSmaller = errors.New("wsmem: compressed message not smaller")

// errDeflateCorrupt is returned for a compressed message that is not a valid
// DEFLATE stream (bad block type, bad Huffman code, distance too far back,
// truncated data). The connection should be failed with close code 1002
// (protocol error): the frame violates the negotiated extension; some
// implementations use 1007 instead, which is also defensible.
var errDeflateCorrupt = errors.New("wsmem: invalid permessage-deflate data")

// errDeflateTooLarge is returned by inflateMessage when the decompressed
// message exceeds the caller's limit (close code 1009).
var errDeflateTooLarge = errors.New("wsmem: decompressed message too large")

// deflateSink is the io.Writer a pooled flate.Writer writes to: it appends to
// the caller's buffer and refuses to grow past limit.
type deflateSink struct {
	buf   []byte
	limit int // maximum len(buf)
}

func (s *deflateSink) Write(p []byte) (int, error) {
	if len(s.buf)+len(p) > s.limit {
		return 0, errDeflateNotSmaller
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// deflateCompressor is a pooled flate.Writer together with its sink.
type deflateCompressor struct {
	fw   *flate.Writer
	sink deflateSink
	pool *sync.Pool

	// primed is the stamp of the send window whose history fw's state is,
	// as compressMessage left both after a message it compressed with
	// context takeover; 0 if none. If the same window, unchanged, comes
	// back with this compressor, the stream goes on without priming.
	primed uint64

	// scratch holds the history a ResetDict primes with when it wraps
	// around the window's ring (deflateWindow.contiguous).
	scratch [deflateMaxWindow]byte
}

// deflateLevelPools[level] holds compressors for 15-bit windows at that level;
// deflateWindowPools[bits-8] holds window-limited compressors for bits 8..14.
var (
	deflateLevelPools  [flate.BestCompression + 1]sync.Pool
	deflateWindowPools [deflateMaxWindowBits - deflateMinWindowBits]sync.Pool
)

func getDeflateCompressor(level int, bits uint8) *deflateCompressor {
	var pool *sync.Pool
	if bits < deflateMaxWindowBits {
		bits = max(bits, deflateMinWindowBits)
		pool = &deflateWindowPools[bits-deflateMinWindowBits]
	} else {
		level = deflateClampLevel(level)
		pool = &deflateLevelPools[level]
	}
	if c, ok := pool.Get().(*deflateCompressor); ok {
		return c
	}
	c := &deflateCompressor{pool: pool}
	var err error
	if bits < deflateMaxWindowBits {
		c.fw, err = flate.NewWriterWindow(&c.sink, 1<<bits)
	} else {
		c.fw, err = flate.NewWriter(&c.sink, level)
	}
	if err != nil {
		// Unreachable: level and bits are clamped to supported values.
		panic("wsmem: flate writer: " + err.Error())
	}
	return c
}

// deflatePrimeBytes is the least history that primes a pooled compressor
// that last served another stream (or a message sent uncompressed): it gets
// as much of the window's end as the message is long, and at least this
// much. Priming re-encodes that history: a full 32 KiB window costs about
// 45 µs, five times the compression of a 1 KiB message, and servers with
// many connections sending in turn pay it on almost every message. The last
// 4 KiB hold most of what short messages refer back to: in
// BenchmarkDeflate/1KiB/takeover/compress-2conns a message then takes about
// 14 µs instead of 52 µs and comes out 2.6% larger than with the whole
// window, still 29% smaller than without context takeover. A longer message
// gets as much history as its own length, so priming costs at most about
// half of compressing it. The decoder keeps the whole window; the stream
// just refers back less far.
const deflatePrimeBytes = 4 << 10

// compressMessage appends to dst the permessage-deflate payload of the message
// src (RFC 7692 §7.2.1: DEFLATE, sync flush, trailing 00 00 FF FF removed) and
// returns it with ok=true. level is the flate level (1..9, clamped),
// windowBits the window the peer allows our compressor (8..15), win the
// connection's send window when context takeover is in effect (nil otherwise).
// Without one, at level 1, wsmem's own encoder does the work (deflateEncode);
// otherwise a pooled klauspost/compress flate.Writer.
//
// If the compressed form would not be smaller than src (always so for an empty
// src), it returns dst unchanged and ok=false: the caller sends the message
// uncompressed (RSV1 clear). Such a message never reaches the peer's
// decompressor, so it is not added to win either; on success src is.
//
// win may be smaller than the negotiated window (for instance
// newDeflateWindow(13) under a 15-bit agreement): a compressor may always use
// less history than the peer keeps. Priming a borrowed compressor re-encodes
// history, roughly 1.4 µs per KiB at level 1, so it is primed with only the
// end of win (see deflatePrimeBytes); a smaller send window also saves
// per-connection memory. No priming is needed when the compressor borrowed is
// the one that compressed win's last message (see the file comment); its
// stream then refers back as far as the negotiated window (windowBits), which
// may be further than a smaller win.
//
// Bytes of dst beyond its length may be overwritten even when ok=false. With
// at least len(src)+3 bytes of spare capacity in dst nothing is allocated.
func compressMessage(dst, src []byte, level int, windowBits uint8, win *deflateWindow) ([]byte, bool) {
	if win == nil && deflateClampLevel(level) == flate.BestSpeed && len(src) <= encMaxMessage {
		return deflateEncode(dst, src, windowBits)
	}
	c := getDeflateCompressor(level, windowBits)
	start := len(dst)
	c.sink.buf = dst
	// The stream ends with the 4-byte sync tail that is stripped afterwards,
	// so it may be at most len(src)+3 bytes long for the result to be shorter
	// than src.
	c.sink.limit = start + len(src) + len(deflateSyncTail) - 1
	if win == nil || win.stamp>>4 == 0 || c.primed != win.stamp {
		var dict []byte
		if win != nil {
			dict = win.contiguous(max(len(src), deflatePrimeBytes), c.scratch[:])
		}
		// ResetDict keeps a reference to dict inside the pooled writer
		// until its next ResetDict; it is only read by Writer.Reset, which
		// we never call.
		c.fw.ResetDict(&c.sink, dict)
	}
	// Else fw's state is the stream that produced win: it goes on from
	// there, as a compressor kept for the connection would, and the
	// history need not be encoded again.
	c.primed = 0
	_, err := c.fw.Write(src)
	if err == nil {
		err = c.fw.Flush()
	}
	out := c.sink.buf
	c.sink.buf = nil // do not retain the caller's buffer in the pool
	ok := err == nil && bytes.HasSuffix(out[start:], deflateSyncTail[:])
	if ok && win != nil {
		win.write(src)
		c.primed = win.stamp
	}
	c.pool.Put(c)
	if !ok {
		return dst, false
	}
	return out[:len(out)-len(deflateSyncTail)], true
}

// inflateSource feeds the decompressor the message payload followed by
// deflateReadTail without copying either, when the tail cannot be written
// behind the payload (see getInflater). It implements io.ByteReader, so flate
// uses it directly instead of wrapping it in a bufio.Reader (which would
// allocate), but flate decodes from it with its generic loop, about twice as
// slow as from a *bytes.Reader.
type inflateSource struct {
	msg  []byte
	tail []byte
}

func (s *inflateSource) Read(p []byte) (int, error) {
	if len(s.msg) > 0 {
		n := copy(p, s.msg)
		s.msg = s.msg[n:]
		return n, nil
	}
	if len(s.tail) > 0 {
		n := copy(p, s.tail)
		s.tail = s.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

func (s *inflateSource) ReadByte() (byte, error) {
	if len(s.msg) > 0 {
		c := s.msg[0]
		s.msg = s.msg[1:]
		return c, nil
	}
	if len(s.tail) > 0 {
		c := s.tail[0]
		s.tail = s.tail[1:]
		return c, nil
	}
	return 0, io.EOF
}

// inflater decompresses one permessage-deflate message. Get one with
// getInflater, pull the plaintext with Read (checking any size limit between
// calls), and return it with putInflater.
type inflater struct {
	fr    io.Reader
	reset flate.Resetter
	br    bytes.Reader  // the source when the tail sits behind the payload
	src   inflateSource // the source otherwise
	win   *deflateWindow
	err   error // sticky: io.EOF at the end of the message, or errDeflateCorrupt
	probe [1]byte

	// What the connection reading the message tracks: the bytes produced
	// so far, and whether it is text (to validate).
	produced int64
	text     bool

	// dictBuf is where a history that wraps around its window's ring is
	// put together for Reset, which copies it (deflateWindow.contiguous).
	// It belongs to the pooled inflater, not to the connection.
	dictBuf [deflateMaxWindow]byte
}

var inflaterPool = sync.Pool{New: func() any {
	f := new(inflater)
	f.fr = flate.NewReader(&f.src)
	f.reset = f.fr.(flate.Resetter)
	return f
}}

// freshInflaters, set only by tests, makes takeInflater allocate instead
// of reusing. A reused klauspost decoder (v1.20.3) keeps its previous
// distance table when a block declares an empty one, so a malformed
// message that uses distances anyway decodes according to whatever the
// decoder decoded before; tests that compare two decodes of one malformed
// message need both to start from the same state. Valid messages never
// read a table they did not declare (TestInflateIgnoresPastMessages).
var freshInflaters atomic.Bool

// takeInflater returns a pooled inflater (a new one while freshInflaters
// is set).
func takeInflater() *inflater {
	if freshInflaters.Load() {
		return inflaterPool.New().(*inflater)
	}
	return inflaterPool.Get().(*inflater)
}

// deflateTailRoom is the spare capacity behind a gathered compressed
// message that lets getInflater put the read tail there.
const deflateTailRoom = len(deflateReadTail)

// getInflater returns a pooled inflater reading the compressed message src
// (the concatenated, unmasked payloads of all its frames, without the
// 00 00 FF FF tail). win is the connection's receive window when the peer
// uses context takeover, else nil. src and win must not be modified until
// putInflater; win takes the plaintext as Read produces it, the whole
// message once Read reports io.EOF. Messages received
// with RSV1 clear bypass the decompressor and must not be added to win.
//
// When src has at least deflateTailRoom bytes of spare capacity,
// getInflater writes deflateReadTail there (src[len(src):len(src)+9] must
// then stay untouched until putInflater too) and flate decodes the whole
// from a *bytes.Reader with its fastest loop; otherwise it reads src and
// the tail through an inflateSource, which is about twice as slow.
func getInflater(src []byte, win *deflateWindow) *inflater {
	return newInflater(src, win, true)
}

// newInflater is getInflater; inPlace false never writes behind src.
func newInflater(src []byte, win *deflateWindow, inPlace bool) *inflater {
	f := takeInflater()
	// An empty payload is not a DEFLATE stream even with the tail put
	// back (the tail needs the block header bits of a last payload byte);
	// streaming zlib decoders just produce nothing for it, so it is
	// accepted as an empty message: only the empty final block is read.
	// The canonical empty message is the single byte 0x00 (RFC 7692
	// §7.2.3.6).
	skip := 0
	if len(src) == 0 {
		skip = len(deflateSyncTail)
	}
	var r io.Reader
	if inPlace && cap(src)-len(src) >= deflateTailRoom {
		all := append(src, deflateReadTail[:]...) // in place: no allocation
		f.br.Reset(all[skip:])
		r = &f.br
	} else {
		f.src = inflateSource{msg: src, tail: deflateReadTail[skip:]}
		r = &f.src
	}
	f.win = win
	f.err = nil
	var dict []byte
	if win != nil {
		dict = win.contiguous(win.size(), f.dictBuf[:])
	}
	// Reset never fails for klauspost's decompressor; it copies dict.
	_ = f.reset.Reset(r, dict)
	return f
}

// Read reads decompressed bytes into p. It returns io.EOF (possibly together
// with the last bytes) at the end of the message, and errDeflateCorrupt if the
// data is not a valid DEFLATE stream; both are sticky. Output is produced in
// bounded steps, so a caller that stops reading after a limit never holds more
// than its own buffer plus the pooled decompressor's 32 KiB window.
//
// A message may end with a final (BFINAL=1) block followed by more bytes, as
// RFC 7692 §7.2.3.4 shows; decoding stops at the final block and the rest is
// ignored, as zlib-based peers do.
func (f *inflater) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.fr.Read(p)
	if n > 0 && f.win != nil {
		// The decoder copied the history at Reset: the window takes the
		// plaintext as it comes, a ring overwriting its oldest bytes.
		f.win.write(p[:n])
	}
	switch err {
	case nil:
	case io.EOF:
		f.err = io.EOF
	default:
		f.err = errDeflateCorrupt
	}
	return n, f.err
}

// getTrialInflater returns a pooled inflater over the first part of a
// message (src, without the closing tail), primed with the history of win
// but never writing to it: for checking what has arrived of a message
// before the rest comes. Its Read ends with an error where src ends.
func getTrialInflater(src []byte, win *deflateWindow) *inflater {
	f := takeInflater()
	f.br.Reset(src)
	f.win = nil
	f.err = nil
	var dict []byte
	if win != nil {
		dict = win.contiguous(win.size(), f.dictBuf[:]) // Reset copies it
	}
	_ = f.reset.Reset(&f.br, dict)
	return f
}

// putInflater returns f to the pool. f must not be used afterwards. If the
// message was not read to io.EOF, the connection's window (if any) holds
// only part of it and the connection cannot decode further messages: fail
// it.
func putInflater(f *inflater) {
	f.src = inflateSource{}
	f.br.Reset(nil)
	f.win = nil
	inflaterPool.Put(f)
}

// inflateMessage decompresses the message src (see getInflater) and appends
// the plaintext to dst. If the plaintext exceeds limit bytes it stops as soon
// as that is known and returns errDeflateTooLarge; a negative limit means no
// limit. dst grows geometrically, never beyond len(dst)+limit; with enough
// spare capacity nothing is allocated. On error the returned slice holds what
// was produced so far and win is left unusable (fail the connection).
func inflateMessage(dst, src []byte, win *deflateWindow, limit int) ([]byte, error) {
	f := newInflater(src, win, false)
	defer putInflater(f)
	return f.readAll(dst, limit)
}

// readAll is inflateMessage once f is set up.
func (f *inflater) readAll(dst []byte, limit int) ([]byte, error) {
	start := len(dst)
	for {
		room := cap(dst)
		if limit >= 0 {
			room = min(room, start+limit) // never decode past the limit
		}
		if len(dst) == room {
			produced := len(dst) - start
			if limit >= 0 && produced >= limit {
				// At the limit: one more byte, or the end of the message?
				n, err := f.Read(f.probe[:])
				if n > 0 {
					return dst, errDeflateTooLarge
				}
				if err == io.EOF {
					return dst, nil
				}
				if err != nil {
					return dst, err
				}
				continue
			}
			want := max(cap(dst)-start, 512)
			if limit >= 0 {
				want = min(want, limit-produced)
			}
			dst = slices.Grow(dst, want)
			continue
		}
		n, err := f.Read(dst[len(dst):room])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
