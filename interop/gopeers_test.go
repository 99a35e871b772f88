package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wsmem/wsmem"
	"github.com/wsmem/wsmem/interop/internal/wiretap"
)

// peerConn is a peer library's side of a new connection.
type peerConn struct {
	end         endpoint
	compression compressionView
	err         error
}

// goPeer is a Go WebSocket library under test, on either side.
type goPeer interface {
	name() string
	// modes lists the permessage-deflate modes the library supports.
	modes() []string
	// server returns a handler that upgrades with the library in the given
	// compression mode ("" for none) and hands the connection to out.
	server(mode string, out chan<- peerConn) http.Handler
	dial(ctx context.Context, url, mode string) (peerConn, error)
}

var goPeers = []goPeer{gorillaPeer{}, coderPeer{}, gobwasPeer{}, gwsPeer{}}

// wsmemCompression is wsmem's configuration for a compression mode.
func wsmemCompression(mode string, server bool) wsmem.CompressionConfig {
	switch mode {
	case "":
		return wsmem.CompressionConfig{}
	case "ctx-w12":
		if !server {
			// Ask for 12 bits both ways; a server must grant them.
			return wsmem.CompressionConfig{Enabled: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 12}
		}
	}
	return wsmem.CompressionConfig{Enabled: true}
}

// pair is one connection between wsmem and a peer, through the wire tap.
type pair struct {
	peer        string
	wsmemServer bool
	path        string
	w           *wsmemEnd
	p           endpoint
	pc          peerConn
	tap         *wiretap.Tap
}

// harness runs one peer in one direction: a server (wsmem's or the
// peer's) behind a wire tap.
type harness struct {
	peer        goPeer
	wsmemServer bool
	srv         *http.Server
	tap         *wiretap.Tap
	wsmemConns  chan *wsmem.Conn
	peerConns   chan peerConn
}

func newHarness(t *testing.T, p goPeer, wsmemServer bool) *harness {
	h := &harness{peer: p, wsmemServer: wsmemServer, wsmemConns: make(chan *wsmem.Conn, 1), peerConns: make(chan peerConn, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mode := r.URL.Query().Get("peer")
		if wsmemServer {
			cfg := &wsmem.Config{Compression: wsmemCompression(r.URL.Query().Get("wsmem"), true)}
			c, err := wsmem.Upgrade(w, r, 0, nil, cfg)
			if err != nil {
				t.Errorf("wsmem.Upgrade: %v", err)
				h.wsmemConns <- nil
				return
			}
			h.wsmemConns <- c
			return
		}
		p.server(mode, h.peerConns).ServeHTTP(w, r)
	})
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	h.tap, err = wiretap.New(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.tap.Close()
		_ = h.srv.Close()
	})
	return h
}

// open connects a new pair for scenario name: the peer in compression mode
// peerMode, wsmem in wsmemMode ("" for none), wsmem receiving through
// recvMode.
func (h *harness) open(t *testing.T, name, peerMode, wsmemMode, recvMode string) *pair {
	t.Helper()
	path := "/s/" + name
	u := "ws://" + h.tap.Addr() + path + "?peer=" + url.QueryEscape(peerMode) + "&wsmem=" + url.QueryEscape(wsmemMode)
	mode := peerMode
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr := &pair{peer: h.peer.name(), wsmemServer: h.wsmemServer, path: path, tap: h.tap}
	if h.wsmemServer {
		pc, err := h.peer.dial(ctx, u, mode)
		if err != nil {
			t.Fatalf("%s dial: %v", h.peer.name(), err)
		}
		var c *wsmem.Conn
		select {
		case c = <-h.wsmemConns:
		case <-ctx.Done():
			t.Fatal("wsmem's server got no connection")
		}
		if c == nil {
			pc.end.kill()
			t.FailNow()
		}
		pr.pc, pr.p, pr.w = pc, pc.end, newWsmemEnd(c, recvMode)
	} else {
		cfg := &wsmem.Config{Compression: wsmemCompression(wsmemMode, false)}
		c, err := wsmem.Dial(ctx, u, nil, cfg)
		if err != nil {
			t.Fatalf("wsmem.Dial: %v", err)
		}
		var pc peerConn
		select {
		case pc = <-h.peerConns:
		case <-ctx.Done():
			_ = c.Close()
			t.Fatalf("%s's server got no connection", h.peer.name())
		}
		if pc.err != nil {
			_ = c.Close()
			t.Fatalf("%s upgrade: %v", h.peer.name(), pc.err)
		}
		pr.pc, pr.p, pr.w = pc, pc.end, newWsmemEnd(c, recvMode)
	}
	t.Cleanup(func() {
		pr.w.kill()
		pr.p.kill()
	})
	return pr
}

// wire waits for the connection to end and returns what the tap saw.
func (pr *pair) wire(t *testing.T) wiretap.Conn {
	t.Helper()
	c, err := pr.tap.Find(pr.path, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Snapshot()
	if s.ParseError != nil {
		t.Errorf("wire: %v", s.ParseError)
	}
	return s
}

// fromWsmem and fromPeer pick one direction's frames.
func (pr *pair) fromWsmem(c wiretap.Conn) []wiretap.Frame {
	if pr.wsmemServer {
		return c.S2C
	}
	return c.C2S
}

func (pr *pair) fromPeer(c wiretap.Conn) []wiretap.Frame {
	if pr.wsmemServer {
		return c.C2S
	}
	return c.S2C
}

// both sends m from wsmem to the peer, then back from the peer, checking
// each arrives byte for byte.
func (pr *pair) both(t *testing.T, typ msgType, m []byte) {
	t.Helper()
	if err := pr.w.send(typ, m); err != nil {
		t.Fatalf("wsmem Send(%v, %d bytes): %v", typ, len(m), err)
	}
	expectMessage(t, pr.peer+" receiving from wsmem", pr.p, typ, m)
	if err := pr.p.send(typ, m); err != nil {
		t.Fatalf("%s send(%v, %d bytes): %v", pr.peer, typ, len(m), err)
	}
	expectMessage(t, "wsmem receiving from "+pr.peer, pr.w, typ, m)
}

// finish closes normally from wsmem's side (1000) and checks both sides
// saw the closing handshake.
func (pr *pair) finish(t *testing.T) {
	t.Helper()
	if err := pr.w.closeWith(1000, "done"); err != nil {
		t.Fatalf("wsmem Done(1000): %v", err)
	}
	ev := nextData(t, pr.peer, pr.p)
	if ev.kind != evClose || ev.code != 1000 || ev.reason != "done" {
		t.Errorf("%s: got %v after wsmem's Done(1000, \"done\"), want close 1000 \"done\"", pr.peer, ev)
	}
	ev = nextData(t, "wsmem", pr.w)
	if ev.kind != evClose {
		t.Errorf("wsmem: got %v after its Done(1000), want the peer's close frame", ev)
	}
	pr.wsmemHangsUp(t)
}

// wsmemHangsUp checks that wsmem closed its TCP connection once the closing
// handshake was over (the peer's may stay open: closing it is that
// application's job), then closes the peer's.
func (pr *pair) wsmemHangsUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		c := pr.tap.Latest(pr.path)
		if c != nil {
			s := c.Snapshot()
			if (pr.wsmemServer && s.ServerEnded) || (!pr.wsmemServer && s.ClientEnded) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("wsmem did not close its TCP connection within 3s of the closing handshake")
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	pr.p.kill()
}

// ---- the matrix ----

func TestGoPeers(t *testing.T) {
	rotation := 0 // spreads wsmem's receive APIs over the compressed scenarios
	for _, p := range goPeers {
		t.Run(p.name(), func(t *testing.T) {
			for _, side := range []bool{true, false} {
				dir := "wsmem-server"
				if !side {
					dir = "wsmem-client"
				}
				t.Run(dir, func(t *testing.T) {
					h := newHarness(t, p, side)
					t.Run("text", func(t *testing.T) { scenarioText(t, h) })
					t.Run("binary", func(t *testing.T) { scenarioBinary(t, h) })
					t.Run("empty", func(t *testing.T) { scenarioEmpty(t, h) })
					t.Run("fragmented", func(t *testing.T) { scenarioFragmented(t, h) })
					t.Run("large", func(t *testing.T) { scenarioLarge(t, h) })
					t.Run("ping", func(t *testing.T) { scenarioPing(t, h) })
					t.Run("close-by-peer", func(t *testing.T) { scenarioCloseByPeer(t, h) })
					t.Run("close-by-wsmem", func(t *testing.T) { scenarioCloseByWsmem(t, h) })
					t.Run("no-compression", func(t *testing.T) { scenarioNoCompression(t, h) })
					for _, mode := range p.modes() {
						recv := recvModes[rotation%len(recvModes)]
						rotation++
						t.Run("compressed-"+mode, func(t *testing.T) { scenarioCompressed(t, h, mode, recv) })
					}
				})
			}
		})
	}
}

func scenarioText(t *testing.T, h *harness) {
	pr := h.open(t, "text", "", "", "next")
	pr.both(t, textMsg, []byte("hello"))
	pr.both(t, textMsg, []byte("ünïcödé ✓ 中文 😀 𝄞"))
	for i, n := range []int{1, 125, 126, 127, 1000, 65535, 65536, 100_000} {
		pr.both(t, textMsg, utf8Text(n, uint64(i)))
	}
	pr.finish(t)
	wire := pr.wire(t)
	checkPlainMessages(t, pr, wire, 10)
}

func scenarioBinary(t *testing.T, h *harness) {
	pr := h.open(t, "binary", "", "", "recv")
	for i, n := range []int{1, 2, 125, 126, 127, 65535, 65536, 1 << 20} {
		pr.both(t, binaryMsg, randomBytes(n, uint64(i)))
	}
	pr.both(t, binaryMsg, []byte{0, 0xff, 0x80, 0x7f})
	pr.finish(t)
	wire := pr.wire(t)
	checkPlainMessages(t, pr, wire, 9)
}

func scenarioEmpty(t *testing.T, h *harness) {
	pr := h.open(t, "empty", "", "", "reader")
	pr.both(t, textMsg, []byte{})
	pr.both(t, binaryMsg, []byte{})
	pr.both(t, textMsg, []byte("x"))
	pr.both(t, binaryMsg, nil)
	pr.finish(t)
	wire := pr.wire(t)
	checkPlainMessages(t, pr, wire, 4)
	for _, dir := range [][]wiretap.Frame{wire.C2S, wire.S2C} {
		for i, m := range wiretap.Messages(dir) {
			if i != 2 && m.WireLen != 0 {
				t.Errorf("wire: message %d has %d payload bytes, want 0", i, m.WireLen)
			}
		}
	}
}

// checkPlainMessages checks that n data messages went each way, none with
// RSV1 set (no compression was negotiated).
func checkPlainMessages(t *testing.T, pr *pair, wire wiretap.Conn, n int) {
	t.Helper()
	for _, d := range []struct {
		name   string
		frames []wiretap.Frame
	}{{"wsmem→" + pr.peer, pr.fromWsmem(wire)}, {pr.peer + "→wsmem", pr.fromPeer(wire)}} {
		ms := wiretap.Messages(d.frames)
		if len(ms) != n {
			t.Errorf("wire %s: %d data messages, want %d", d.name, len(ms), n)
		}
		for i, m := range ms {
			if m.Compressed {
				t.Errorf("wire %s: message %d has RSV1 set without permessage-deflate", d.name, i)
			}
		}
	}
	if ext := wire.Response.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Errorf("wire: the handshake agreed extensions %q though none were configured", ext)
	}
}

// expectMessageAndPing reads events until a data message, checking it and
// reporting whether a ping with payload ping came before it.
func expectMessageAndPing(t *testing.T, who string, e endpoint, typ msgType, want, ping []byte) bool {
	t.Helper()
	sawPing := false
	for {
		ev := next(t, who, e)
		switch ev.kind {
		case evPing:
			if bytes.Equal(ev.data, ping) {
				sawPing = true
			}
			continue
		case evPong:
			continue
		case evMessage:
			if ev.typ != typ {
				t.Errorf("%s: message type %v, want %v", who, ev.typ, typ)
			}
			if !bytes.Equal(ev.data, want) {
				t.Errorf("%s: %v message differs: %s", who, typ, diff(ev.data, want))
			}
			return sawPing
		}
		t.Fatalf("%s: expected a %v message of %d bytes, got %v", who, typ, len(want), ev)
	}
}

func scenarioFragmented(t *testing.T, h *harness) {
	pr := h.open(t, "fragmented", "", "", "recv")
	// More than 128 KiB each, so that gws (which cuts at 128 KiB) also
	// fragments; 1000-byte frames cut runes of the text.
	msgs := []struct {
		typ msgType
		p   []byte
	}{{textMsg, utf8Text(300_000, 11)}, {binaryMsg, randomBytes(200_000, 12)}}
	between := []byte("between fragments")
	for _, m := range msgs {
		if err := pr.p.sendFragments(m.typ, m.p, 1000); err != nil {
			t.Fatalf("%s sending %v in fragments: %v", pr.peer, m.typ, err)
		}
		expectMessage(t, "wsmem receiving fragments from "+pr.peer, pr.w, m.typ, m.p)
		// wsmem's NextWriter: 1000-byte frames and a ping after the second.
		if err := pr.w.sendFragments(m.typ, m.p, 1000); err != nil {
			t.Fatalf("wsmem NextWriter(%v): %v", m.typ, err)
		}
		if !expectMessageAndPing(t, pr.peer+" receiving fragments from wsmem", pr.p, m.typ, m.p, between) {
			t.Errorf("%s: did not report wsmem's ping sent between the fragments", pr.peer)
		}
	}
	pr.finish(t)
	wire := pr.wire(t)
	for i, m := range wiretap.Messages(pr.fromPeer(wire)) {
		if m.Frames < 2 {
			t.Errorf("wire %s→wsmem: message %d went as %d frame(s): the peer did not fragment it", pr.peer, i, m.Frames)
		}
	}
	ws := wiretap.Messages(pr.fromWsmem(wire))
	for i, m := range ws {
		if want := (len(msgs[i].p) + 999) / 1000; m.Frames < want {
			t.Errorf("wire wsmem→%s: message %d went as %d frames, want at least %d", pr.peer, i, m.Frames, want)
		}
	}
	if len(ws) != len(msgs) {
		t.Errorf("wire wsmem→%s: %d messages, want %d", pr.peer, len(ws), len(msgs))
	}
	// The ping went between the data frames of each message.
	inMsg, pings := false, 0
	for _, f := range pr.fromWsmem(wire) {
		switch {
		case f.Op == 1 || f.Op == 2:
			inMsg = !f.Fin
		case f.Op == 0 && f.Fin:
			inMsg = false
		case f.Op == 9 && inMsg && bytes.Equal(f.Payload, between):
			pings++
		}
	}
	if pings != len(msgs) {
		t.Errorf("wire wsmem→%s: %d pings inside fragmented messages, want %d", pr.peer, pings, len(msgs))
	}
}

func scenarioLarge(t *testing.T, h *harness) {
	pr := h.open(t, "large", "", "", "recv")
	pr.both(t, binaryMsg, randomBytes(16<<20, 21))
	pr.both(t, textMsg, utf8Text(16<<20, 22))
	pr.finish(t)
	wire := pr.wire(t)
	checkPlainMessages(t, pr, wire, 2)
}

// expectKind reads the next event, which must be of kind with data.
func expectControl(t *testing.T, who string, e endpoint, kind evKind, data []byte) []byte {
	t.Helper()
	ev := next(t, who, e)
	if ev.kind != kind {
		t.Fatalf("%s: got %v, want a %v", who, ev, kind)
	}
	if data != nil && !bytes.Equal(ev.data, data) {
		t.Errorf("%s: %v payload %q, want %q", who, kind, ev.data, data)
	}
	return ev.data
}

func scenarioPing(t *testing.T, h *harness) {
	pr := h.open(t, "ping", "", "", "serve")
	for _, p := range [][]byte{[]byte("peer ping ✓"), {}, bytes.Repeat([]byte{0xa5}, 125)} {
		sent, err := pr.p.ping(p)
		if err != nil {
			t.Fatalf("%s ping: %v", pr.peer, err)
		}
		// wsmem sees the ping (its pong already went out), the peer the pong.
		got := expectControl(t, "wsmem (Serve's OnPing)", pr.w, evPing, sent)
		pong := expectControl(t, pr.peer+" awaiting its pong", pr.p, evPong, sent)
		if sent == nil && !bytes.Equal(got, pong) { // the library chose the payload
			t.Errorf("%s: pong %q does not match the ping %q wsmem saw", pr.peer, pong, got)
		}
	}
	for _, p := range [][]byte{[]byte("wsmem ping ✓"), {}, bytes.Repeat([]byte{0x5a}, 125)} {
		if _, err := pr.w.ping(p); err != nil {
			t.Fatalf("wsmem Ping: %v", err)
		}
		expectControl(t, pr.peer+" (ping hook)", pr.p, evPing, p)
		expectControl(t, "wsmem (Serve's OnPong)", pr.w, evPong, p)
	}
	if err := pr.w.c.Ping(make([]byte, 126)); err == nil {
		t.Errorf("wsmem Ping with 126 bytes: no error")
	}
	pr.both(t, textMsg, []byte("after the pings"))
	pr.finish(t)
	wire := pr.wire(t)
	var pongs [][]byte
	for _, f := range pr.fromPeer(wire) {
		if f.Op == 0xA {
			pongs = append(pongs, f.Payload)
		}
	}
	if len(pongs) != 3 {
		t.Errorf("wire %s→wsmem: %d pongs, want 3", pr.peer, len(pongs))
	}
}

func scenarioCloseByPeer(t *testing.T, h *harness) {
	pr := h.open(t, "close-by-peer", "", "", "next")
	pr.both(t, textMsg, []byte("before the close"))
	const reason = "peer says bye ✓"
	if err := pr.p.closeWith(4001, reason); err != nil {
		t.Fatalf("%s close(4001): %v", pr.peer, err)
	}
	ev := nextData(t, "wsmem", pr.w)
	if ev.kind != evClose || ev.code != 4001 || ev.reason != reason {
		t.Errorf("wsmem: got %v, want close 4001 %q", ev, reason)
	}
	if code, r := pr.w.c.Status(); code != 4001 || string(r) != reason {
		t.Errorf("wsmem Status() = %d %q, want 4001 %q", code, r, reason)
	}
	if err := pr.w.send(textMsg, []byte("after")); !errors.Is(err, wsmem.ErrClosed) {
		t.Errorf("wsmem Send after the close: %v, want ErrClosed", err)
	}
	pev := nextData(t, pr.peer, pr.p)
	switch pr.peer {
	case "gws":
		// gws closed its socket right after its close frame: it reports
		// its own close, not wsmem's answer (checked on the wire below).
	default:
		if pev.kind != evClose || pev.code != 4001 {
			t.Errorf("%s: got %v after its close(4001), want wsmem's answer close 4001", pr.peer, pev)
		}
	}
	pr.wsmemHangsUp(t)
	wire := pr.wire(t)
	if got := wiretap.Closes(pr.fromPeer(wire)); len(got) != 1 || got[0] != [2]string{"4001", reason} {
		t.Errorf("wire %s→wsmem close frames %q, want [4001 %q]", pr.peer, got, reason)
	}
	// wsmem answers with the code it received, without a reason.
	if got := wiretap.Closes(pr.fromWsmem(wire)); len(got) != 1 || got[0][0] != "4001" {
		t.Errorf("wire wsmem→%s close frames %q, want one with code 4001", pr.peer, got)
	}
}

func scenarioCloseByWsmem(t *testing.T, h *harness) {
	pr := h.open(t, "close-by-wsmem", "", "", "recv")
	pr.both(t, binaryMsg, []byte("before the close"))
	const reason = "wsmem says bye ✓"
	if err := pr.w.closeWith(4002, reason); err != nil {
		t.Fatalf("wsmem Done(4002): %v", err)
	}
	if err := pr.w.send(textMsg, []byte("after Done")); !errors.Is(err, wsmem.ErrClosed) {
		t.Errorf("wsmem Send after Done: %v, want ErrClosed", err)
	}
	pev := nextData(t, pr.peer, pr.p)
	if pev.kind != evClose || pev.code != 4002 || pev.reason != reason {
		t.Errorf("%s: got %v, want close 4002 %q", pr.peer, pev, reason)
	}
	ev := nextData(t, "wsmem", pr.w)
	pr.wsmemHangsUp(t)
	wire := pr.wire(t)
	answer := wiretap.Closes(pr.fromPeer(wire))
	if len(answer) != 1 {
		t.Fatalf("wire %s→wsmem close frames %q, want exactly one answer", pr.peer, answer)
	}
	if ev.kind != evClose || fmt.Sprint(ev.code) != answer[0][0] || ev.reason != answer[0][1] {
		t.Errorf("wsmem: got %v after Done(4002), want the peer's answer close %s %q", ev, answer[0][0], answer[0][1])
	}
	if got := wiretap.Closes(pr.fromWsmem(wire)); len(got) != 1 || got[0] != [2]string{"4002", reason} {
		t.Errorf("wire wsmem→%s close frames %q, want [4002 %q]", pr.peer, got, reason)
	}
	t.Logf("%s answered wsmem's close 4002 with %q", pr.peer, answer)
}

// scenarioNoCompression: wsmem configured with compression, the peer
// without: nothing is agreed and nothing carries RSV1.
func scenarioNoCompression(t *testing.T, h *harness) {
	pr := h.open(t, "no-compression", "", "on", "next")
	if pr.w.c.Compression() {
		t.Errorf("wsmem Compression() = true though %s has compression off", pr.peer)
	}
	m := compressible(10_000, 31)
	pr.both(t, textMsg, m)
	pr.finish(t)
	checkPlainMessages(t, pr, pr.wire(t), 1)
}

// recvModes are wsmem's receive APIs: Next, Recv, NextReader, Serve.
var recvModes = []string{"next", "recv", "reader", "serve"}

func scenarioCompressed(t *testing.T, h *harness, mode, recv string) {
	t.Logf("wsmem receives with %s", recv)
	pr := h.open(t, "compressed-"+mode, mode, mode, recv)
	if !pr.w.c.Compression() {
		t.Errorf("wsmem Compression() = false: permessage-deflate was not negotiated with %s (%s)", pr.peer, mode)
	}
	if v := pr.pc.compression; v.known && !v.on {
		t.Errorf("%s reports no permessage-deflate (%q)", pr.peer, v.ext)
	}
	type msg struct {
		typ   msgType
		p     []byte
		big   bool // compressible and large: must go compressed both ways
		frags bool // the peer sends it in fragments
	}
	text3k := compressible(3000, 41)
	msgs := []msg{
		{textMsg, text3k, true, false},
		{textMsg, text3k, true, false}, // again: with context takeover it refers back
		{textMsg, text3k, true, false},
		{binaryMsg, compressible(64<<10, 42), true, false},
		{textMsg, compressible(300_000, 43), true, false},
		{binaryMsg, randomBytes(8192, 44), false, false},
		{textMsg, []byte("short and sweet ✓"), false, false},
		{binaryMsg, []byte{}, false, false},
		{textMsg, compressible(4<<20, 45), true, false},
		{textMsg, compressible(300_000, 46), false, true},
		{binaryMsg, compressible(2000, 47), true, false},
	}
	// gws feeds the payload of every frame it sends, pongs included, into
	// its compressor's window: with context takeover, its pong to wsmem's
	// ping between fragments would corrupt its next compressed message
	// (reproduced against coder/websocket too). Leave that ping out there.
	pingBetween := !(pr.peer == "gws" && strings.HasPrefix(mode, "ctx"))
	pr.w.noPingBetween = !pingBetween
	// gws's WriteFile sends a compressed message as one frame.
	peerFragments := pr.peer != "gws"
	for i, m := range msgs {
		if m.frags {
			if err := pr.p.sendFragments(m.typ, m.p, 4096); err != nil {
				t.Fatalf("%s sending message %d in fragments: %v", pr.peer, i, err)
			}
			expectMessage(t, fmt.Sprintf("wsmem receiving fragmented message %d from %s", i, pr.peer), pr.w, m.typ, m.p)
			if err := pr.w.sendFragments(m.typ, m.p, 4096); err != nil {
				t.Fatalf("wsmem NextWriter message %d: %v", i, err)
			}
			if !expectMessageAndPing(t, fmt.Sprintf("%s receiving fragmented message %d from wsmem", pr.peer, i), pr.p, m.typ, m.p, []byte("between fragments")) && pingBetween {
				t.Errorf("%s: did not report wsmem's ping between the fragments", pr.peer)
			}
			continue
		}
		if err := pr.w.send(m.typ, m.p); err != nil {
			t.Fatalf("wsmem Send message %d: %v", i, err)
		}
		expectMessage(t, fmt.Sprintf("%s receiving message %d from wsmem", pr.peer, i), pr.p, m.typ, m.p)
		if err := pr.p.send(m.typ, m.p); err != nil {
			t.Fatalf("%s send message %d: %v", pr.peer, i, err)
		}
		expectMessage(t, fmt.Sprintf("wsmem receiving message %d from %s", i, pr.peer), pr.w, m.typ, m.p)
	}
	pr.finish(t)
	wire := pr.wire(t)
	req, resp := wire.Request.Get("Sec-WebSocket-Extensions"), wire.Response.Get("Sec-WebSocket-Extensions")
	t.Logf("offer %q, answer %q", req, resp)
	if err := checkDeflateResponse(req, resp); err != nil {
		t.Errorf("wire handshake: %v", err)
	}
	fromW, fromP := wiretap.Messages(pr.fromWsmem(wire)), wiretap.Messages(pr.fromPeer(wire))
	if len(fromW) != len(msgs) || len(fromP) != len(msgs) {
		t.Fatalf("wire: %d messages from wsmem and %d from %s, want %d each", len(fromW), len(fromP), pr.peer, len(msgs))
	}
	for i, m := range msgs {
		if m.big && !fromW[i].Compressed {
			t.Errorf("wire wsmem→%s: message %d (%d compressible bytes) went uncompressed", pr.peer, i, len(m.p))
		}
		if m.big && !fromP[i].Compressed {
			t.Errorf("wire %s→wsmem: message %d (%d compressible bytes) went uncompressed", pr.peer, i, len(m.p))
		}
		if m.frags && fromW[i].Frames < 2 {
			t.Errorf("wire wsmem→%s: message %d went in %d frame(s), want fragments", pr.peer, i, fromW[i].Frames)
		}
		if m.frags && peerFragments && fromP[i].Frames < 2 {
			t.Errorf("wire %s→wsmem: message %d went in %d frame(s), want fragments", pr.peer, i, fromP[i].Frames)
		}
		if m.big && fromW[i].Compressed && fromW[i].WireLen >= int64(len(m.p)) {
			t.Errorf("wire wsmem→%s: message %d compressed to %d bytes, not below its %d", pr.peer, i, fromW[i].WireLen, len(m.p))
		}
	}
	t.Logf("3000-byte text sent three times, wire sizes: wsmem %d/%d/%d, %s %d/%d/%d",
		fromW[0].WireLen, fromW[1].WireLen, fromW[2].WireLen, pr.peer, fromP[0].WireLen, fromP[1].WireLen, fromP[2].WireLen)
	if strings.Contains(resp, "server_no_context_takeover") == false && pr.wsmemServer && fromW[1].WireLen >= fromW[0].WireLen/2 {
		t.Logf("note: with server context takeover agreed, wsmem's repeat of a message did not refer back to the first (%d then %d bytes)", fromW[0].WireLen, fromW[1].WireLen)
	}
}
