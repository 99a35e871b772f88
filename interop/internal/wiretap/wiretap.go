// Package wiretap is a loopback TCP relay that watches WebSocket traffic as it
// passes: the opening handshake's request and response heads, then every
// frame header in each direction (and the payload of control frames). Tests
// put it between two WebSocket endpoints to check, independently of either
// endpoint's own report, what went over the wire: whether permessage-deflate
// was agreed, which messages carried RSV1, how a message was fragmented, the
// close codes sent.
package wiretap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Frame is one frame header seen on the wire.
type Frame struct {
	Fin    bool
	Rsv    uint8 // RSV1 = 4, RSV2 = 2, RSV3 = 1
	Op     byte
	Masked bool
	Len    int64
	// Payload holds a control frame's payload, unmasked.
	Payload []byte
}

// Message is a data message assembled from its frames' headers.
type Message struct {
	Op         byte  // 1 text, 2 binary
	Compressed bool  // RSV1 on its first frame
	Frames     int   // data frames it took
	WireLen    int64 // payload bytes on the wire (compressed size if compressed)
}

// Conn is what the tap saw of one TCP connection.
type Conn struct {
	Path       string      // request target of the opening handshake
	Request    http.Header // handshake request headers
	Status     int         // handshake response status
	Response   http.Header // handshake response headers
	C2S, S2C   []Frame     // frames client to server, server to client
	ParseError error       // the first stream the tap could not parse, if any
	// ClientEnded and ServerEnded tell that the client's or the server's
	// sending ended (its socket closed or shut down for writing, or reset).
	ClientEnded, ServerEnded bool

	done chan struct{}
}

// Done is closed when both directions have ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Messages returns the data messages of one direction's frames.
func Messages(frames []Frame) []Message {
	var out []Message
	var cur *Message
	for _, f := range frames {
		if f.Op >= 8 {
			continue
		}
		if f.Op != 0 {
			out = append(out, Message{Op: f.Op, Compressed: f.Rsv&4 != 0})
			cur = &out[len(out)-1]
		}
		if cur == nil {
			continue
		}
		cur.Frames++
		cur.WireLen += f.Len
		if f.Fin {
			cur = nil
		}
	}
	return out
}

// Closes returns the close frames of one direction as (code, reason) pairs;
// code 0 stands for a close frame without a code.
func Closes(frames []Frame) [][2]string {
	var out [][2]string
	for _, f := range frames {
		if f.Op != 8 {
			continue
		}
		if len(f.Payload) >= 2 {
			out = append(out, [2]string{fmt.Sprint(binary.BigEndian.Uint16(f.Payload)), string(f.Payload[2:])})
		} else {
			out = append(out, [2]string{"0", ""})
		}
	}
	return out
}

// Extensions parses a Sec-WebSocket-Extensions value into its extensions,
// each a map of parameter to value ("" for a parameter without a value)
// with the extension's name under the key "".
func Extensions(v string) []map[string]string {
	var out []map[string]string
	for _, ext := range strings.Split(v, ",") {
		ext = strings.TrimSpace(ext)
		if ext == "" {
			continue
		}
		m := map[string]string{}
		for i, p := range strings.Split(ext, ";") {
			p = strings.TrimSpace(p)
			if i == 0 {
				m[""] = p
				continue
			}
			k, val, _ := strings.Cut(p, "=")
			m[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(val), `"`)
		}
		out = append(out, m)
	}
	return out
}

// Tap relays connections from its loopback listener to a target address.
type Tap struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []*Conn
	wg    sync.WaitGroup
}

// New listens on a free loopback port and relays every connection to target.
func New(target string) (*Tap, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Tap{ln: ln, target: target}
	go t.accept()
	return t, nil
}

// Addr is the host:port clients connect to.
func (t *Tap) Addr() string { return t.ln.Addr().String() }

// Close stops accepting and waits (at most 5s) for the relays to end.
func (t *Tap) Close() {
	_ = t.ln.Close()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// Conns returns the connections seen so far.
func (t *Tap) Conns() []*Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Conn(nil), t.conns...)
}

// Latest returns the latest connection whose request target is path (the
// query is ignored), or nil.
func (t *Tap) Latest(path string) *Conn {
	cs := t.Conns()
	for i := len(cs) - 1; i >= 0; i-- {
		p, _, _ := strings.Cut(cs[i].pathLocked(), "?")
		if p == path {
			return cs[i]
		}
	}
	return nil
}

// Find returns the latest connection whose request target is path (the query
// is ignored), waiting at most wait for it to end. It returns nil if no such
// connection was seen.
func (t *Tap) Find(path string, wait time.Duration) (*Conn, error) {
	deadline := time.Now().Add(wait)
	var found *Conn
	for found == nil && time.Now().Before(deadline) {
		if found = t.Latest(path); found == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if found == nil {
		return nil, fmt.Errorf("wiretap: no connection to %s", path)
	}
	select {
	case <-found.done:
		return found, nil
	case <-time.After(time.Until(deadline)):
		return found, fmt.Errorf("wiretap: the connection to %s has not ended after %v", path, wait)
	}
}

// seenMu guards what the parsers record in every Conn.
var seenMu sync.Mutex

func (c *Conn) pathLocked() string {
	seenMu.Lock()
	defer seenMu.Unlock()
	return c.Path
}

func (t *Tap) accept() {
	for {
		client, err := t.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", t.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &Conn{done: make(chan struct{})}
		t.mu.Lock()
		t.conns = append(t.conns, c)
		t.mu.Unlock()
		t.wg.Add(1)
		go t.relay(c, client.(*net.TCPConn), server.(*net.TCPConn))
	}
}

// relay copies both ways, parsing as it goes. When one side ends its
// sending, the other side's sending is half-closed, so that each endpoint
// sees the close sequence the other produced.
func (t *Tap) relay(c *Conn, client, server *net.TCPConn) {
	defer t.wg.Done()
	defer close(c.done)
	up := &parser{conn: c, request: true}
	down := &parser{conn: c}
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src *net.TCPConn, p *parser) {
		defer wg.Done()
		_, err := io.Copy(dst, io.TeeReader(src, p))
		seenMu.Lock()
		if p.request {
			c.ClientEnded = true
		} else {
			c.ServerEnded = true
		}
		seenMu.Unlock()
		if err != nil {
			// A reset: pass it on.
			_ = dst.SetLinger(0)
			_ = dst.Close()
			_ = src.Close()
			return
		}
		_ = dst.CloseWrite()
	}
	go pipe(server, client, up)
	go pipe(client, server, down)
	wg.Wait()
	_ = client.Close()
	_ = server.Close()
}

// parser follows one direction of the stream: an HTTP head, then frames.
// Write never fails, so the relay is never disturbed by what it sees.
type parser struct {
	conn    *Conn
	request bool

	mu      sync.Mutex
	head    []byte
	inHead  bool
	stopped bool

	hdr     []byte // the frame header collected so far
	need    int64  // payload bytes still to go for the current frame
	ctl     []byte // control payload collected so far
	cur     Frame
	started bool
}

func (p *parser) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	if p.stopped {
		return n, nil
	}
	if !p.started {
		p.started = true
		p.inHead = true
	}
	for len(b) > 0 && !p.stopped {
		if p.inHead {
			b = p.feedHead(b)
			continue
		}
		b = p.feedFrames(b)
	}
	return n, nil
}

func (p *parser) fail(err error) {
	p.stopped = true
	seenMu.Lock()
	if p.conn.ParseError == nil {
		p.conn.ParseError = err
	}
	seenMu.Unlock()
}

func (p *parser) feedHead(b []byte) []byte {
	p.head = append(p.head, b...)
	i := bytes.Index(p.head, []byte("\r\n\r\n"))
	if i < 0 {
		if len(p.head) > 64<<10 {
			p.fail(errors.New("wiretap: HTTP head over 64 KiB"))
		}
		return nil
	}
	rest := p.head[i+4:]
	head := p.head[:i+4]
	br := bufio.NewReader(bytes.NewReader(head))
	seenMu.Lock()
	defer seenMu.Unlock()
	if p.request {
		req, err := http.ReadRequest(br)
		if err != nil {
			p.stopped = true
			return nil
		}
		if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
			// Plain HTTP (a page, say): relay it without parsing.
			p.stopped = true
			return nil
		}
		p.conn.Path = req.RequestURI
		p.conn.Request = req.Header
	} else {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			if err == nil {
				p.conn.Status = resp.StatusCode
				p.conn.Response = resp.Header
			}
			p.stopped = true
			return nil
		}
		p.conn.Status = resp.StatusCode
		p.conn.Response = resp.Header
	}
	p.inHead = false
	p.head = nil
	return append([]byte(nil), rest...)
}

func (p *parser) feedFrames(b []byte) []byte {
	if p.need > 0 {
		k := int64(len(b))
		if k > p.need {
			k = p.need
		}
		if p.cur.Op >= 8 {
			p.ctl = append(p.ctl, b[:k]...)
		}
		p.need -= k
		b = b[k:]
		if p.need == 0 {
			p.finish()
		}
		return b
	}
	// Collect a whole header.
	for len(b) > 0 {
		p.hdr = append(p.hdr, b[0])
		b = b[1:]
		size, ok := headerSize(p.hdr)
		if !ok {
			continue
		}
		if len(p.hdr) < size {
			continue
		}
		h := p.hdr
		f := Frame{Fin: h[0]&0x80 != 0, Rsv: (h[0] >> 4) & 7, Op: h[0] & 0x0f, Masked: h[1]&0x80 != 0}
		switch l := h[1] & 0x7f; l {
		case 126:
			f.Len = int64(binary.BigEndian.Uint16(h[2:]))
		case 127:
			f.Len = int64(binary.BigEndian.Uint64(h[2:]))
		default:
			f.Len = int64(l)
		}
		if f.Len < 0 {
			p.fail(errors.New("wiretap: frame length with the top bit set"))
			return nil
		}
		p.cur = f
		p.need = f.Len
		p.ctl = p.ctl[:0]
		if p.need == 0 {
			p.finish()
		}
		return b
	}
	return b
}

// finish records the current frame, its header and payload complete.
func (p *parser) finish() {
	f := p.cur
	h := p.hdr
	if f.Op >= 8 {
		payload := append([]byte(nil), p.ctl...)
		if f.Masked {
			size, _ := headerSize(h)
			key := h[size-4 : size]
			for i := range payload {
				payload[i] ^= key[i&3]
			}
		}
		f.Payload = payload
	}
	seenMu.Lock()
	if p.request {
		p.conn.C2S = append(p.conn.C2S, f)
	} else {
		p.conn.S2C = append(p.conn.S2C, f)
	}
	seenMu.Unlock()
	p.hdr = p.hdr[:0]
	p.ctl = p.ctl[:0]
}

// headerSize tells the full size of the header that starts with h, once
// h holds its first two bytes.
func headerSize(h []byte) (int, bool) {
	if len(h) < 2 {
		return 0, false
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	return n, true
}

// Snapshot returns a copy of what was seen of c, safe to read while the
// relay goes on.
func (c *Conn) Snapshot() Conn {
	seenMu.Lock()
	defer seenMu.Unlock()
	return Conn{
		Path: c.Path, Request: c.Request, Status: c.Status, Response: c.Response,
		C2S: append([]Frame(nil), c.C2S...), S2C: append([]Frame(nil), c.S2C...),
		ParseError: c.ParseError, ClientEnded: c.ClientEnded, ServerEnded: c.ServerEnded,
	}
}
