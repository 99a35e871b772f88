package interop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsmem/wsmem"
)

// msgType is a data message's type, as the wire has it.
type msgType int

const (
	textMsg   msgType = 1
	binaryMsg msgType = 2
)

func (t msgType) String() string {
	if t == textMsg {
		return "text"
	}
	return "binary"
}

type evKind int

const (
	evMessage evKind = iota
	evPing
	evPong
	evClose // the peer's close frame arrived
	evError // the connection ended some other way
)

func (k evKind) String() string {
	return [...]string{"message", "ping", "pong", "close", "error"}[k]
}

// event is something an endpoint's reader saw.
type event struct {
	kind   evKind
	typ    msgType
	data   []byte
	code   int
	reason string
	err    error
}

func (e event) String() string {
	switch e.kind {
	case evMessage:
		return fmt.Sprintf("%v message of %d bytes", e.typ, len(e.data))
	case evPing, evPong:
		return fmt.Sprintf("%v %q", e.kind, e.data)
	case evClose:
		return fmt.Sprintf("close %d %q", e.code, e.reason)
	}
	return fmt.Sprintf("error %v", e.err)
}

// endpoint is one side of a connection, wsmem or a peer library, seen
// through one interface: a reader goroutine turns what arrives into events.
type endpoint interface {
	// send sends one message.
	send(typ msgType, p []byte) error
	// sendFragments sends one message in several frames of about size
	// bytes, as far as the library lets its caller choose.
	sendFragments(typ msgType, p []byte, size int) error
	// ping sends a ping; it returns the payload actually sent (a library
	// may choose its own).
	ping(p []byte) ([]byte, error)
	// closeWith starts the closing handshake with code and reason.
	closeWith(code int, reason string) error
	events() <-chan event
	// kill drops the connection.
	kill()
}

const eventWait = 10 * time.Second

// next returns the endpoint's next event, failing the test after eventWait.
func next(t testing.TB, who string, e endpoint) event {
	t.Helper()
	select {
	case ev, ok := <-e.events():
		if !ok {
			t.Fatalf("%s: the connection ended with no further event", who)
		}
		return ev
	case <-time.After(eventWait):
		t.Fatalf("%s: no event within %v", who, eventWait)
	}
	panic("unreachable")
}

// nextOf skips pings and pongs (recording them) until an event of another
// kind arrives.
func nextData(t testing.TB, who string, e endpoint) event {
	t.Helper()
	for {
		ev := next(t, who, e)
		if ev.kind == evPing || ev.kind == evPong {
			continue
		}
		return ev
	}
}

// expectMessage reads the next data event and checks it is exactly want.
func expectMessage(t testing.TB, who string, e endpoint, typ msgType, want []byte) {
	t.Helper()
	ev := nextData(t, who, e)
	if ev.kind != evMessage {
		t.Fatalf("%s: expected a %v message of %d bytes, got %v", who, typ, len(want), ev)
	}
	if ev.typ != typ {
		t.Errorf("%s: message type %v, want %v", who, ev.typ, typ)
	}
	if !bytes.Equal(ev.data, want) {
		t.Errorf("%s: %v message differs: %s", who, typ, diff(ev.data, want))
	}
}

// diff describes where got differs from want.
func diff(got, want []byte) string {
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	show := func(b []byte) string {
		end := min(len(b), i+16)
		return fmt.Sprintf("% x", b[i:end])
	}
	return fmt.Sprintf("got %d bytes, want %d; first difference at byte %d: got [%s], want [%s]",
		len(got), len(want), i, show(got), show(want))
}

// ---- payloads ----

// randomBytes returns n bytes from a seeded generator: incompressible.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// utf8Text returns exactly n bytes of valid UTF-8 mixing 1- to 4-byte runes,
// so that any split of it into frames is likely to cut a rune.
func utf8Text(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x7e47))
	runes := []rune{'a', 'Z', ' ', '0', 'é', 'ß', 'Ж', '✓', '€', '中', '😀', '𝄞'}
	b := make([]byte, 0, n)
	for len(b) < n {
		c := runes[r.IntN(len(runes))]
		if len(b)+utf8.RuneLen(c) > n {
			c = 'x'
		}
		b = utf8.AppendRune(b, c)
	}
	return b
}

var words = strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel
india juliett kilo lima mike november oscar papa quebec romeo sierra tango
uniform victor whiskey xray yankee zulu websocket frame deflate window
context takeover message payload buffer header mask client server ping pong
close reason status ünïcödé ✓ 中文 😀`)

// compressible returns exactly n bytes of JSON-like UTF-8 text built from a
// small vocabulary: it deflates well, with back-references at every
// distance, near and far (beyond a 512-byte window too).
func compressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0xc0de))
	var b bytes.Buffer
	for id := 0; b.Len() < n; id++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"%s-%d","tags":["%s","%s"],"note":"`, id, words[r.IntN(len(words))], r.IntN(100), words[r.IntN(len(words))], words[r.IntN(len(words))])
		for k := 3 + r.IntN(12); k > 0; k-- {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString("\"}\n")
	}
	out := b.Bytes()[:n]
	for !utf8.Valid(out) { // cut inside a rune: pad the tail
		out = append(out[:len(out)-1:len(out)-1], 'x')
	}
	return out
}

// ---- wsmem's side ----

// wsmemEnd wraps a wsmem.Conn; its reader uses one of wsmem's receive APIs.
type wsmemEnd struct {
	c    *wsmem.Conn
	ev   *sink
	mode string // "next", "recv", "reader", "serve"
	done chan struct{}
	// noPingBetween leaves out the ping sendFragments puts between frames.
	noPingBetween bool
}

// recvBufSize fits the largest message the tests send (16 MiB) plus one
// byte, so a message that is too long shows as ErrShortBuffer.
const recvBufSize = 16<<20 + 1

func newWsmemEnd(c *wsmem.Conn, mode string) *wsmemEnd {
	e := &wsmemEnd{c: c, ev: newSink(), mode: mode, done: make(chan struct{})}
	go e.read()
	return e
}

func typeOf(f wsmem.Flags) msgType {
	if f&wsmem.Text != 0 {
		return textMsg
	}
	return binaryMsg
}

func flagsOf(t msgType) wsmem.Flags {
	if t == textMsg {
		return wsmem.Text
	}
	return wsmem.Binary
}

// endEvent turns the error that ended a receive loop into the last event.
func (e *wsmemEnd) endEvent(err error) event {
	var ce *wsmem.CloseError
	if errors.As(err, &ce) {
		return event{kind: evClose, code: int(ce.Code), reason: string(ce.Reason)}
	}
	return event{kind: evError, err: err}
}

func (e *wsmemEnd) read() {
	defer close(e.done)
	defer e.ev.end()
	switch e.mode {
	case "serve":
		err := e.c.Serve(serveHandler{e})
		if err != nil {
			e.ev.push(event{kind: evError, err: fmt.Errorf("Serve: %w", err)})
		}
	case "recv":
		buf := make([]byte, recvBufSize)
		for {
			n, typ, err := e.c.Recv(buf)
			if err != nil {
				e.ev.push(e.endEvent(err))
				return
			}
			e.ev.push(event{kind: evMessage, typ: typeOf(typ), data: bytes.Clone(buf[:n])})
		}
	case "reader":
		for {
			typ, r, err := e.c.NextReader()
			if err != nil {
				e.ev.push(e.endEvent(err))
				return
			}
			data, err := io.ReadAll(r)
			if err != nil {
				e.ev.push(e.endEvent(err))
				return
			}
			e.ev.push(event{kind: evMessage, typ: typeOf(typ), data: data})
		}
	default: // next
		for {
			typ, p, err := e.c.Next()
			if err != nil {
				e.ev.push(e.endEvent(err))
				return
			}
			e.ev.push(event{kind: evMessage, typ: typeOf(typ), data: bytes.Clone(p)})
		}
	}
}

// serveHandler feeds Serve's callbacks into the event channel.
type serveHandler struct{ e *wsmemEnd }

func (h serveHandler) OnMessage(_ *wsmem.Conn, typ wsmem.Flags, data []byte) {
	h.e.ev.push(event{kind: evMessage, typ: typeOf(typ), data: bytes.Clone(data)})
}

func (h serveHandler) OnPing(_ *wsmem.Conn, data []byte) {
	h.e.ev.push(event{kind: evPing, data: bytes.Clone(data)})
}

func (h serveHandler) OnPong(_ *wsmem.Conn, data []byte) {
	h.e.ev.push(event{kind: evPong, data: bytes.Clone(data)})
}

func (h serveHandler) OnClose(_ *wsmem.Conn, code wsmem.StatusCode, reason []byte, err error) {
	if err != nil {
		h.e.ev.push(event{kind: evError, code: int(code), reason: string(reason), err: err})
		return
	}
	h.e.ev.push(event{kind: evClose, code: int(code), reason: string(reason)})
}

func (e *wsmemEnd) send(typ msgType, p []byte) error { return e.c.Send(flagsOf(typ), p) }

// sendFragments sends p with NextWriter, one frame per size bytes, with a
// ping between the second and third frames (control frames may pass
// between a message's frames).
func (e *wsmemEnd) sendFragments(typ msgType, p []byte, size int) error {
	w, err := e.c.NextWriter(flagsOf(typ))
	if err != nil {
		return err
	}
	for i := 0; len(p) > 0; i++ {
		k := min(size, len(p))
		if _, err := w.Write(p[:k]); err != nil {
			return err
		}
		p = p[k:]
		if i == 1 && !e.noPingBetween {
			if err := e.c.Ping([]byte("between fragments")); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

func (e *wsmemEnd) ping(p []byte) ([]byte, error) { return p, e.c.Ping(p) }

func (e *wsmemEnd) closeWith(code int, reason string) error {
	return e.c.Done(wsmem.StatusCode(code), []byte(reason))
}

func (e *wsmemEnd) events() <-chan event { return e.ev.ch }

func (e *wsmemEnd) kill() { _ = e.c.Close() }

// ---- event sinks ----

// sink is an endpoint's event channel. Pushing never blocks and never
// panics: after end, or with the buffer full, the event is counted as
// dropped (the tests read every event they cause, so that stays 0).
type sink struct {
	mu      sync.Mutex
	ch      chan event
	ended   bool
	dropped int
}

func newSink() *sink { return &sink{ch: make(chan event, 1024)} }

func (s *sink) push(ev event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		s.dropped++
		return
	}
	select {
	case s.ch <- ev:
	default:
		s.dropped++
	}
}

// end closes the channel once; later events are dropped.
func (s *sink) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		close(s.ch)
	}
}

// ---- a mutex-guarded writer for libraries that leave locking to us ----

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
