package conformance

// The harness: it connects a raw peer of its own to a wsmem echo endpoint,
// writes a case's frames, reads and checks everything wsmem sends back, and
// compares it with what the RFCs require.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
	"github.com/wsmem/wsmem"
)

// role is the side wsmem plays; the harness plays the other one.
type role int

const (
	wsServer role = iota + 1 // wsmem is the server, the harness a client
	wsClient                 // wsmem is the client, the harness a server
)

func (r role) String() string {
	if r == wsServer {
		return "server"
	}
	return "client"
}

type writeMode int

const (
	whole    writeMode = iota // one write per frame
	bytewise                  // one write per byte
)

func (m writeMode) String() string {
	if m == whole {
		return "whole"
	}
	return "bytewise"
}

type transport int

const (
	overTCP  transport = iota // loopback TCP
	overPipe                  // net.Pipe
)

func (t transport) String() string {
	if t == overTCP {
		return "tcp"
	}
	return "pipe"
}

// bytewiseBudget bounds the one-byte writes of a run: past it, the rest of
// the current frame goes in one write and the frames after it whole. Only
// cases of large messages reach it (they set a smaller budget of their own
// to keep the suite fast: their frame boundaries are all covered in the
// first kilobytes).
const bytewiseBudget = 80 << 10

// tcase is one conformance case.
type tcase struct {
	id, desc string
	group    string
	only     role           // 0: both roles
	cfg      *wsmem.Config  // the wsmem side's configuration (nil: defaults)
	http     bool           // run the HTTP opening handshake (else NoHTTP)
	timeout  time.Duration  // per run (default 5s), stretched under -race
	heavy    bool           // large transfers: run one at a time
	budget   int            // one-byte writes in bytewise mode (0: bytewiseBudget)
	fast     bool           // the timeout is how soon wsmem must answer, even under -race
	script   func(*builder) // the frames to write and the answers expected
	// permessage-deflate. wsmem as server: the offer the harness sends and
	// the agreed parameters expected (nil: declined). wsmem as client:
	// the offer expected from its configuration (nil: none), the answer the
	// harness sends, and whether wsmem must refuse that answer.
	offer          string
	wantResp       *pmd
	wantOffer      *pmd
	respond        string
	handshakeFails bool
	// peer overrides the echo endpoint (the harness self-tests use it).
	peer func(*wsmem.Conn) error
	// wrap wraps the wsmem side's net.Conn (the self-tests break it).
	wrap func(net.Conn) net.Conn
}

// Event kinds, as received from the peer.
const (
	evMessage = iota
	evPing
	evPong
	evClose
)

type event struct {
	kind    int
	op      byte
	payload []byte
	code    int // close: -1 for a close frame without a code
	reason  []byte
}

func (e event) String() string {
	switch e.kind {
	case evMessage:
		if e.op == opText {
			return fmt.Sprintf("text message (%d bytes%s)", len(e.payload), preview(e.payload))
		}
		return fmt.Sprintf("binary message (%d bytes%s)", len(e.payload), preview(e.payload))
	case evPing:
		return fmt.Sprintf("ping (%d bytes%s)", len(e.payload), preview(e.payload))
	case evPong:
		return fmt.Sprintf("pong (%d bytes%s)", len(e.payload), preview(e.payload))
	default:
		if e.code < 0 {
			return "close frame without a status code"
		}
		return fmt.Sprintf("close %d (reason %q)", e.code, e.reason)
	}
}

func preview(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if len(p) > 16 {
		return fmt.Sprintf(": % x…", p[:16])
	}
	return fmt.Sprintf(": % x", p)
}

// want is one expected event. A close may allow several codes.
type want struct {
	kind    int
	op      byte
	payload []byte
	codes   []int
}

func (w want) String() string {
	switch w.kind {
	case evMessage:
		return event{kind: evMessage, op: w.op, payload: w.payload}.String()
	case evPong:
		return event{kind: evPong, payload: w.payload}.String()
	}
	var s []string
	for _, c := range w.codes {
		if c < 0 {
			s = append(s, "without a status code")
		} else {
			s = append(s, fmt.Sprint(c))
		}
	}
	return "close frame " + strings.Join(s, " or ")
}

// peerWant is what the wsmem endpoint's receive call must return at the end.
type peerWant struct {
	set        bool
	closeCode  int   // > 0: a *wsmem.CloseError with this code
	protoCodes []int // a *wsmem.ProtocolError with one of these codes
}

// builder collects a case's frames and expectations for one run.
type builder struct {
	role   role
	neg    negotiated
	rng    *rand.Rand
	chunks [][]byte // one write each in whole mode
	wants  []want
	peer   peerWant
	closes bool // the script sends a close frame
	def    *deflater
}

func newBuilder(id string, r role, neg negotiated) *builder {
	h := fnv.New64a()
	h.Write([]byte(id))
	b := &builder{role: r, neg: neg, rng: rand.New(rand.NewPCG(h.Sum64(), 0x5eed))}
	if neg.deflate {
		b.def = &deflater{bits: neg.harnessBits, takeover: !neg.harnessNCT}
	}
	return b
}

// masked reports whether the harness's frames are masked: a client's are.
func (b *builder) masked() bool { return b.role == wsServer }

func (b *builder) key() [4]byte {
	var k [4]byte
	v := b.rng.Uint32()
	k[0], k[1], k[2], k[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	return k
}

// frame appends a frame with the harness's masking direction.
func (b *builder) frame(fin bool, rsv, op byte, payload []byte) {
	b.frameMasked(b.masked(), fin, rsv, op, payload)
}

func (b *builder) frameMasked(masked, fin bool, rsv, op byte, payload []byte) {
	if op == opClose {
		b.closes = true
	}
	b.chunks = append(b.chunks, appendFrame(nil, hdr{fin: fin, rsv: rsv, op: op, masked: masked, key: b.key()}, payload))
}

// header appends only a frame header announcing length bytes (masked as
// the harness's frames are), and partial the first bytes of its payload.
func (b *builder) header(fin bool, rsv, op byte, length uint64, form int, partial []byte) {
	h := hdr{fin: fin, rsv: rsv, op: op, masked: b.masked(), key: b.key(), length: length, form: form}
	out := appendHeader(nil, h)
	start := len(out)
	out = append(out, partial...)
	if h.masked {
		maskBytes(out[start:], h.key)
	}
	b.chunks = append(b.chunks, out)
}

// raw appends bytes as they are.
func (b *builder) raw(p []byte) { b.chunks = append(b.chunks, p) }

func (b *builder) text(s string) { b.frame(true, 0, opText, []byte(s)) }
func (b *builder) ping(p []byte) { b.frame(true, 0, opPing, p) }
func (b *builder) pong(p []byte) { b.frame(true, 0, opPong, p) }
func (b *builder) sendClose(code int, reason []byte) {
	b.frame(true, 0, opClose, closePayload(code, reason))
}

// Expectations.
func (b *builder) wantMsg(op byte, p []byte) {
	b.wants = append(b.wants, want{kind: evMessage, op: op, payload: p})
}
func (b *builder) wantPong(p []byte) { b.wants = append(b.wants, want{kind: evPong, payload: p}) }

// wantFail expects wsmem to fail the connection: a close frame with one of
// codes, and a *wsmem.ProtocolError with that code from its receive call.
func (b *builder) wantFail(codes ...int) {
	b.wants = append(b.wants, want{kind: evClose, codes: codes})
	b.peer = peerWant{set: true, protoCodes: codes}
}

// wantCloseEcho expects wsmem to answer the harness's close with code (-1:
// a close frame without one) and to report the harness's close (code sent,
// 1005 for none) as a *wsmem.CloseError.
func (b *builder) wantCloseEcho(code int) {
	b.wants = append(b.wants, want{kind: evClose, codes: []int{code}})
	sent := code
	if code < 0 {
		sent = 1005
	}
	b.peer = peerWant{set: true, closeCode: sent}
}

// echo sends one single-frame message and expects it back.
func (b *builder) echo(op byte, p []byte) {
	b.frame(true, 0, op, p)
	b.wantMsg(op, p)
}

// fragments sends p as a message in frames of at most size bytes (at least
// one frame) and expects it back.
func (b *builder) fragments(op byte, p []byte, size int) {
	b.sendFragments(op, 0, p, size)
	b.wantMsg(op, p)
}

func (b *builder) sendFragments(op, rsv byte, p []byte, size int) {
	first := true
	for {
		n := min(size, len(p))
		fin := n == len(p)
		fop := opCont
		var r byte
		if first {
			fop, r = op, rsv
		}
		b.frame(fin, r, fop, p[:n])
		p = p[n:]
		first = false
		if fin {
			return
		}
	}
}

// closeNormal ends a case the usual way: close 1000, echoed.
func (b *builder) closeNormal() {
	b.sendClose(1000, nil)
	b.wantCloseEcho(1000)
}

// compressed sends p as a compressed message (RSV1 on its first frame) in
// frames of at most size bytes of compressed data, and expects p back.
func (b *builder) compressed(op byte, p []byte, size int) {
	if b.def == nil {
		panic("compressed message on a run without permessage-deflate")
	}
	b.sendFragments(op, rsv1, b.def.compress(p), size)
	b.wantMsg(op, p)
}

// deflater is the harness's compressor (RFC 7692 §7.2.1), with its window
// limited to the agreed bits and its context kept or not as agreed.
type deflater struct {
	bits     int
	takeover bool
	w        *flate.Writer
	buf      bytes.Buffer
}

func (d *deflater) compress(p []byte) []byte {
	d.buf.Reset()
	if d.w == nil || !d.takeover {
		w, err := flate.NewWriterWindow(&d.buf, 1<<d.bits)
		if err != nil {
			panic(err)
		}
		d.w = w
	}
	if _, err := d.w.Write(p); err != nil {
		panic(err)
	}
	if err := d.w.Flush(); err != nil {
		panic(err)
	}
	out := d.buf.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		panic("flate flush did not end with an empty stored block")
	}
	return bytes.Clone(out[:len(out)-4])
}

// streamChecker checks the peer's frames at the message level and turns
// them into events.
type streamChecker struct {
	deflate bool
	inf     *inflater
	inMsg   bool
	op      byte
	comp    bool
	buf     []byte
	closed  bool
}

const harnessMaxMessage = 40 << 20

func (s *streamChecker) feed(f rframe) (*event, error) {
	if s.closed {
		return nil, violationf("frame (opcode 0x%X) after its close frame", f.op)
	}
	if f.op >= 8 {
		if f.rsv != 0 {
			return nil, violationf("reserved bits %03b on a control frame (opcode 0x%X)", f.rsv, f.op)
		}
		p := bytes.Clone(f.payload)
		switch f.op {
		case opPing:
			return &event{kind: evPing, payload: p}, nil
		case opPong:
			return &event{kind: evPong, payload: p}, nil
		}
		s.closed = true
		e := &event{kind: evClose, code: -1}
		switch {
		case len(p) == 1:
			return nil, violationf("close frame with a 1-byte payload")
		case len(p) >= 2:
			e.code = int(p[0])<<8 | int(p[1])
			e.reason = p[2:]
			if !validCloseCodeOnWire(e.code) {
				return nil, violationf("close frame with status code %d, which may not be sent", e.code)
			}
			if !utf8.Valid(e.reason) {
				return nil, violationf("close reason % x is not valid UTF-8", e.reason)
			}
		}
		return e, nil
	}
	var allowed byte
	if s.deflate {
		allowed = rsv1
	}
	if f.rsv&^allowed != 0 {
		return nil, violationf("reserved bits %03b on a data frame without an extension that defines them", f.rsv)
	}
	if f.op == opCont {
		if !s.inMsg {
			return nil, violationf("continuation frame without a message to continue")
		}
		if f.rsv&rsv1 != 0 {
			return nil, violationf("RSV1 on a continuation frame")
		}
	} else {
		if s.inMsg {
			return nil, violationf("new data message (opcode 0x%X) inside a fragmented message", f.op)
		}
		s.inMsg, s.op, s.comp, s.buf = true, f.op, f.rsv&rsv1 != 0, s.buf[:0]
	}
	if len(s.buf)+len(f.payload) > harnessMaxMessage {
		return nil, violationf("message longer than the harness accepts (%d bytes)", harnessMaxMessage)
	}
	s.buf = append(s.buf, f.payload...)
	if !f.fin {
		return nil, nil
	}
	s.inMsg = false
	p := bytes.Clone(s.buf)
	if s.comp {
		var err error
		if p, err = s.inf.message(s.buf, harnessMaxMessage); err != nil {
			return nil, violationf("compressed message: %v", err)
		}
	}
	if s.op == opText && !utf8.Valid(p) {
		return nil, violationf("text message that is not valid UTF-8 (%d bytes%s)", len(p), preview(p))
	}
	return &event{kind: evMessage, op: s.op, payload: p}, nil
}

// outcome is the result of one run.
type outcome struct {
	ok     bool
	detail string
	took   time.Duration
}

// peerResult is how the wsmem endpoint ended.
type peerResult struct {
	attachErr error
	err       error
	isClose   bool
	closeCode int
	isProto   bool
	protoCode int
	kindsOK   bool // the ProtocolError matches the category of its code
}

func connPair(t transport) (harness, peer net.Conn, err error) {
	if t == overPipe {
		a, b := net.Pipe()
		return a, b, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	harness, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	r := <-ch
	if r.err != nil {
		harness.Close()
		return nil, nil, r.err
	}
	return harness, r.c, nil
}

// echoAPI is the wsmem receive (and send) API the echo endpoint uses.
type echoAPI int

const (
	apiNext       echoAPI = iota // Next, Send
	apiRecv                      // Recv into one buffer, Send
	apiRecvL                     // RecvL into three buffers, SendL
	apiNextReader                // NextReader, NextWriter: streamed in chunks
	apiServe                     // Serve with a Handler whose OnMessage sends
)

func (a echoAPI) String() string {
	return [...]string{"Next", "Recv", "RecvL", "NextReader", "Serve"}[a]
}

// apiFor spreads the receive APIs over a case's runs, so that every case
// goes through each of them at least once without more runs. Recv and
// RecvL use 1 MiB buffers: heavy cases (larger messages) use Next there.
func apiFor(c *tcase, r role, m writeMode, t transport) echoAPI {
	i := 0
	if r == wsClient {
		i += 4
	}
	if m == bytewise {
		i += 2
	}
	if t == overPipe {
		i++
	}
	a := [8]echoAPI{apiNext, apiRecvL, apiNextReader, apiServe, apiRecv, apiNextReader, apiServe, apiNext}[i]
	if c.heavy && (a == apiRecv || a == apiRecvL) {
		a = apiNext
	}
	return a
}

// recvBufSize is the buffer of the Recv and RecvL echoes: the largest
// message of a light case, and one byte more.
const recvBufSize = 1<<20 + 1

var recvBufs = sync.Pool{New: func() any { return new([recvBufSize]byte) }}

// echo is the wsmem endpoint under test: every message goes back with its
// type.
func echo(c *wsmem.Conn) error {
	for {
		t, p, err := c.Next()
		if err != nil {
			return err
		}
		if err := c.Send(t, p); err != nil {
			return err
		}
	}
}

func echoRecv(c *wsmem.Conn) error {
	arr := recvBufs.Get().(*[recvBufSize]byte)
	defer recvBufs.Put(arr)
	buf := arr[:]
	for {
		n, t, err := c.Recv(buf)
		if err != nil {
			return err
		}
		if err := c.Send(t, buf[:n]); err != nil {
			return err
		}
	}
}

func echoRecvL(c *wsmem.Conn) error {
	arr := recvBufs.Get().(*[recvBufSize]byte)
	defer recvBufs.Put(arr)
	buf := arr[:]
	// Three buffers with odd boundaries.
	bufs := [][]byte{buf[:7], buf[7:1000], buf[1000:]}
	for {
		n, t, err := c.RecvL(bufs)
		if err != nil {
			return err
		}
		var parts [][]byte
		for _, b := range bufs {
			k := min(n, len(b))
			if k > 0 {
				parts = append(parts, b[:k])
			}
			n -= k
		}
		if err := c.SendL(t, parts); err != nil {
			return err
		}
	}
}

func echoStream(c *wsmem.Conn) error {
	buf := make([]byte, 3001)
	for {
		t, r, err := c.NextReader()
		if err != nil {
			return err
		}
		w, err := c.NextWriter(t)
		if err != nil {
			return err
		}
		for {
			n, rerr := r.Read(buf)
			if rerr != nil && rerr != io.EOF {
				// The message failed (or the peer closed): its last bytes
				// are not echoed.
				return rerr
			}
			if n > 0 {
				if _, err := w.Write(buf[:n]); err != nil {
					return err
				}
			}
			if rerr == io.EOF {
				break
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// echoHandler is the echo as a Handler for Serve.
type echoHandler struct {
	wsmem.NopHandler
	closes int
	code   wsmem.StatusCode
	err    error
}

func (h *echoHandler) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	_ = c.Send(typ, data)
}

func (h *echoHandler) OnClose(_ *wsmem.Conn, code wsmem.StatusCode, _ []byte, err error) {
	h.closes++
	h.code, h.err = code, err
}

// echoServe runs Serve and turns what OnClose reported into the error the
// other echoes return, checking it against Serve's own result.
func echoServe(c *wsmem.Conn) error {
	h := &echoHandler{}
	err := c.Serve(h)
	switch {
	case h.closes != 1:
		return fmt.Errorf("Serve called OnClose %d times", h.closes)
	case h.err == nil && err != nil:
		return fmt.Errorf("Serve returned %v after OnClose reported the peer's close %d", err, h.code)
	case h.err == nil:
		return &wsmem.CloseError{Code: h.code}
	case err == nil:
		return fmt.Errorf("Serve returned nil after OnClose reported %v", h.err)
	}
	var pe *wsmem.ProtocolError
	if errors.As(h.err, &pe) && pe.Code != h.code {
		return fmt.Errorf("OnClose reported code %d with %v (code %d)", h.code, h.err, pe.Code)
	}
	return h.err
}

func runPeer(c *tcase, r role, api echoAPI, nc net.Conn, deadline time.Time, done chan<- peerResult) {
	var res peerResult
	defer func() { done <- res }()
	if c.wrap != nil {
		nc = c.wrap(nc)
	}
	defer nc.Close()
	_ = nc.SetDeadline(deadline)
	flags := wsmem.Binary
	if !c.http {
		flags |= wsmem.NoHTTP
	}
	st := new(wsmem.Storage)
	var conn *wsmem.Conn
	if r == wsServer {
		conn, res.attachErr = wsmem.AttachServer(nc, flags, st, c.cfg)
	} else {
		conn, res.attachErr = wsmem.AttachClient(nc, flags, "/conformance", "localhost", st, c.cfg)
	}
	if res.attachErr != nil {
		return
	}
	_ = conn.SetDeadline(deadline)
	run := [...]func(*wsmem.Conn) error{echo, echoRecv, echoRecvL, echoStream, echoServe}[api]
	if c.peer != nil {
		run = c.peer
	}
	res.err = run(conn)
	var ce *wsmem.CloseError
	var pe *wsmem.ProtocolError
	switch {
	case errors.As(res.err, &ce):
		res.isClose, res.closeCode = true, int(ce.Code)
	case errors.As(res.err, &pe):
		res.isProto, res.protoCode = true, int(pe.Code)
		switch pe.Code {
		case wsmem.StatusInvalidPayload:
			res.kindsOK = errors.Is(pe, wsmem.ErrInvalidUTF8) && errors.Is(pe, wsmem.ErrProtocol)
		case wsmem.StatusMessageTooBig:
			res.kindsOK = errors.Is(pe, wsmem.ErrMessageTooBig)
		default:
			res.kindsOK = errors.Is(pe, wsmem.ErrProtocol)
		}
	}
	_ = conn.Close()
}

// runOnce runs case c once.
func runOnce(c *tcase, r role, m writeMode, t transport) outcome {
	timeout := c.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	if !c.fast {
		timeout *= raceFactor
	}
	deadline := time.Now().Add(timeout)
	hc, pc, err := connPair(t)
	if err != nil {
		return outcome{detail: "harness: " + err.Error()}
	}
	defer hc.Close()
	_ = hc.SetDeadline(deadline)
	peerDone := make(chan peerResult, 1)
	// The wsmem side gets more time than the harness, so that a wait that
	// is too long shows as the harness's timeout, not as the echo
	// endpoint's own.
	api := apiFor(c, r, m, t)
	go runPeer(c, r, api, pc, deadline.Add(2*time.Second), peerDone)

	fail := func(format string, args ...any) outcome {
		hc.Close()
		return outcome{detail: fmt.Sprintf(format, args...)}
	}
	waitPeer := func() (peerResult, bool) {
		select {
		case res := <-peerDone:
			return res, true
		case <-time.After(3 * time.Second * raceFactor):
			return peerResult{}, false
		}
	}

	br := bufio.NewReaderSize(hc, 64<<10)
	var neg negotiated
	if c.http {
		if r == wsServer {
			neg, err = harnessClientHandshake(hc, br, c)
		} else {
			neg, err = harnessServerHandshake(hc, br, c)
		}
		if err != nil {
			return fail("opening handshake: %v", err)
		}
	}
	if c.handshakeFails {
		// wsmem must refuse the answer: its attach call fails and it closes
		// the connection without sending a frame.
		_ = hc.SetReadDeadline(time.Now().Add(2 * time.Second * raceFactor))
		n, err := br.Read(make([]byte, 1))
		hc.Close()
		res, ok := waitPeer()
		switch {
		case !ok:
			return outcome{detail: "AttachClient did not return after an unacceptable handshake response"}
		case res.attachErr == nil:
			return outcome{detail: "AttachClient accepted an unacceptable handshake response"}
		case n > 0:
			return outcome{detail: "wsmem sent bytes after refusing the handshake response"}
		case err != nil && isTimeout(err):
			return outcome{detail: "wsmem refused the handshake response but did not close the connection"}
		}
		return outcome{ok: true}
	}

	b := newBuilder(c.id, r, neg)
	c.script(b)

	// The writer.
	var stop atomic.Bool
	var completed atomic.Bool
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		budget := bytewiseBudget
		if c.budget > 0 {
			budget = c.budget
		}
		if raceFactor > 1 {
			// Under the race detector every one-byte write costs tens of
			// microseconds on both sides: bound them harder.
			budget = min(budget, raceBytewiseBudget)
		}
		for _, ch := range b.chunks {
			if m == bytewise {
				for i := 0; i < len(ch); i++ {
					if stop.Load() {
						return
					}
					var err error
					if budget > 0 {
						_, err = hc.Write(ch[i : i+1])
						budget--
					} else {
						_, err = hc.Write(ch[i:])
						i = len(ch)
					}
					if err != nil {
						return
					}
				}
				continue
			}
			if stop.Load() {
				return
			}
			if _, err := hc.Write(ch); err != nil {
				return
			}
		}
		completed.Store(true)
	}()
	stopWriter := func() {
		stop.Store(true)
		select {
		case <-wdone:
			return
		case <-time.After(500 * time.Millisecond):
		}
		// Blocked in a write the peer does not read: cut it short.
		_ = hc.SetWriteDeadline(time.Now())
		<-wdone
		_ = hc.SetWriteDeadline(deadline)
	}

	// The reader.
	fr := &frameReader{r: br, wantMasked: r == wsClient, maxPayload: harnessMaxMessage}
	sc := &streamChecker{deflate: neg.deflate}
	if neg.deflate {
		sc.inf = newInflater(neg.peerBits, neg.peerTakeover)
	}
	var events []event
	var problem string // a failure seen on the wire
	for {
		f, err := fr.next()
		if err != nil {
			var v *violation
			switch {
			case errors.As(err, &v):
				problem = v.Error()
			case isTimeout(err):
				problem = fmt.Sprintf("nothing more arrived within %v", timeout)
			default:
				problem = fmt.Sprintf("connection dropped without a close frame (%v)", err)
			}
			break
		}
		ev, err := sc.feed(f)
		if err != nil {
			problem = err.Error()
			break
		}
		if ev == nil {
			continue
		}
		events = append(events, *ev)
		if ev.kind != evClose {
			continue
		}
		// The peer's close frame: finish the closing handshake.
		stopWriter()
		if completed.Load() && !b.closes {
			reply := closePayload(ev.code, nil)
			_, _ = hc.Write(appendFrame(nil, hdr{fin: true, op: opClose, masked: b.masked(), key: b.key()}, reply))
		}
		if r == wsServer {
			// RFC 6455 §7.1.1: the server closes the TCP connection once
			// both close frames have passed.
			_ = hc.SetReadDeadline(time.Now().Add(2 * time.Second * raceFactor))
			_, err := fr.next()
			switch {
			case err == nil:
				problem = "frame after the close frame"
			case isTimeout(err):
				problem = "the server did not close the TCP connection after the closing handshake"
			}
		}
		break
	}
	hc.Close()
	stopWriter()
	res, ok := waitPeer()
	if !ok {
		return outcome{detail: "wsmem's receive call did not return after the connection closed (hang)"}
	}
	if res.attachErr != nil {
		return outcome{detail: "attach failed: " + res.attachErr.Error()}
	}

	// Compare what came back with what was expected.
	for i, w := range b.wants {
		if i >= len(events) {
			if problem != "" {
				return outcome{detail: fmt.Sprintf("after %d expected events, %s; expected %s", i, problem, w)}
			}
			return outcome{detail: fmt.Sprintf("after %d events, nothing more; expected %s", i, w)}
		}
		if d := mismatch(w, events[i]); d != "" {
			return outcome{detail: fmt.Sprintf("event %d: %s", i+1, d)}
		}
	}
	if len(events) > len(b.wants) {
		return outcome{detail: fmt.Sprintf("unexpected event %d: %s", len(b.wants)+1, events[len(b.wants)])}
	}
	if problem != "" {
		return outcome{detail: problem}
	}
	if d := checkPeer(b.peer, res, events); d != "" {
		return outcome{detail: d}
	}
	return outcome{ok: true}
}

// mismatch describes how got differs from w, or returns "".
func mismatch(w want, got event) string {
	if w.kind != got.kind {
		return fmt.Sprintf("expected %s, got %s", w, got)
	}
	switch w.kind {
	case evMessage, evPong:
		if w.kind == evMessage && w.op != got.op {
			return fmt.Sprintf("expected %s, got %s", w, got)
		}
		if !bytes.Equal(w.payload, got.payload) {
			at := 0
			for at < len(w.payload) && at < len(got.payload) && w.payload[at] == got.payload[at] {
				at++
			}
			return fmt.Sprintf("expected %s, got %s; first difference at byte %d", w, got, at)
		}
	case evClose:
		for _, c := range w.codes {
			if c == got.code {
				return ""
			}
		}
		return fmt.Sprintf("expected %s, got %s", w, got)
	}
	return ""
}

func checkPeer(pw peerWant, res peerResult, events []event) string {
	if !pw.set {
		return ""
	}
	if pw.closeCode > 0 {
		if !res.isClose || res.closeCode != pw.closeCode {
			return fmt.Sprintf("the echo's receive call returned %v; want a *wsmem.CloseError with code %d", res.err, pw.closeCode)
		}
		return ""
	}
	wire := events[len(events)-1].code
	if !res.isProto || res.protoCode != wire {
		return fmt.Sprintf("the echo's receive call returned %v; want a *wsmem.ProtocolError with code %d", res.err, wire)
	}
	if !res.kindsOK {
		return fmt.Sprintf("wsmem's error %v does not match the error category of code %d", res.err, wire)
	}
	return ""
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
