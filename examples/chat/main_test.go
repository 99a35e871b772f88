package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsmem/wsmem"
)

// startChat runs the chat's handler on a free loopback port.
func startChat(t *testing.T, opt options) (*server, string) {
	t.Helper()
	s := newServer(opt)
	ts := httptest.NewServer(s.routes())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.shutdown(ctx)
		ts.Close()
	})
	return s, ts.URL
}

// peer is a test client of the chat.
type peer struct {
	t *testing.T
	c *wsmem.Conn
}

func join(t *testing.T, base, name string) *peer {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	if name != "" {
		u += "?name=" + url.QueryEscape(name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsmem.Dial(ctx, u, nil, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, c: c}
}

// next returns the next envelope, failing the test after 5s.
func (p *peer) next() envelope {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := p.c.Next()
	if err != nil {
		p.t.Fatalf("receive: %v", err)
	}
	if typ != wsmem.Text {
		p.t.Fatalf("got a %v message, want text", typ)
	}
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		p.t.Fatalf("bad envelope %q: %v", data, err)
	}
	return e
}

// expect checks that the next envelopes are want, in order. Times are
// checked for being set where they must be, then ignored.
func (p *peer) expect(want ...envelope) {
	p.t.Helper()
	for _, w := range want {
		got := p.next()
		if !reflect.DeepEqual(untimed(p.t, got), w) {
			p.t.Fatalf("got  %+v\nwant %+v", got, w)
		}
	}
}

func untimed(t *testing.T, e envelope) envelope {
	t.Helper()
	switch e.Type {
	case "join", "leave", "message":
		if e.Time == 0 {
			t.Fatalf("%s envelope without a time: %+v", e.Type, e)
		}
	}
	e.Time = 0
	for i := range e.Messages {
		e.Messages[i] = untimed(t, e.Messages[i])
	}
	return e
}

func (p *peer) say(text string) {
	p.t.Helper()
	if err := p.c.Send(wsmem.Text, []byte(text)); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

// quit performs the closing handshake and checks the server's answer.
func (p *peer) quit() {
	p.t.Helper()
	if err := p.c.Done(wsmem.StatusNormal, []byte("bye")); err != nil {
		p.t.Fatalf("done: %v", err)
	}
	for {
		_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := p.c.Next()
		var ce *wsmem.CloseError
		if errors.As(err, &ce) {
			if ce.Code != wsmem.StatusNormal {
				p.t.Fatalf("server closed with %d, want 1000", ce.Code)
			}
			return
		}
		if err != nil {
			p.t.Fatalf("waiting for the server's close: %v", err)
		}
	}
}

func msg(name, text string) envelope { return envelope{Type: "message", Name: name, Text: text} }

func TestChat(t *testing.T) {
	_, base := startChat(t, defaultOptions())

	alice := join(t, base, "alice")
	alice.expect(envelope{Type: "welcome", Name: "alice"}, envelope{Type: "join", Name: "alice"})

	bob := join(t, base, "bob")
	bob.expect(envelope{Type: "welcome", Name: "bob", Users: []string{"alice"}}, envelope{Type: "join", Name: "bob"})
	alice.expect(envelope{Type: "join", Name: "bob"})

	// Fan-out both ways; the sender gets its own line too.
	alice.say("hi bob")
	alice.expect(msg("alice", "hi bob"))
	bob.expect(msg("alice", "hi bob"))
	bob.say("  hi alice, ünïcödé ✓ \"quoted\" <b>not html</b>\n")
	bob.expect(msg("bob", `hi alice, ünïcödé ✓ "quoted" <b>not html</b>`))
	alice.expect(msg("bob", `hi alice, ünïcödé ✓ "quoted" <b>not html</b>`))
	alice.say("   ") // blank lines are dropped

	// A late joiner without a name gets a guest name and the history.
	guest := join(t, base, "")
	guest.expect(
		envelope{Type: "welcome", Name: "guest-1", Users: []string{"alice", "bob"}},
		envelope{Type: "history", Messages: []envelope{msg("alice", "hi bob"), msg("bob", `hi alice, ünïcödé ✓ "quoted" <b>not html</b>`)}},
		envelope{Type: "join", Name: "guest-1"},
	)
	alice.expect(envelope{Type: "join", Name: "guest-1"})
	bob.expect(envelope{Type: "join", Name: "guest-1"})

	bob.quit()
	alice.expect(envelope{Type: "leave", Name: "bob"})
	guest.expect(envelope{Type: "leave", Name: "bob"})

	// A connection that drops without a close handshake leaves too.
	guest.c.NetConn().Close()
	alice.expect(envelope{Type: "leave", Name: "guest-1"})

	alice.say("still here")
	alice.expect(msg("alice", "still here"))
}

func TestHistoryKeepsTheLastN(t *testing.T) {
	opt := defaultOptions()
	opt.History = 3
	_, base := startChat(t, opt)
	a := join(t, base, "a")
	a.expect(envelope{Type: "welcome", Name: "a"}, envelope{Type: "join", Name: "a"})
	for _, s := range []string{"1", "2", "3", "4", "5"} {
		a.say(s)
		a.expect(msg("a", s))
	}
	b := join(t, base, "b")
	b.expect(
		envelope{Type: "welcome", Name: "b", Users: []string{"a"}},
		envelope{Type: "history", Messages: []envelope{msg("a", "3"), msg("a", "4"), msg("a", "5")}},
		envelope{Type: "join", Name: "b"},
	)
}

func TestBinaryIsRefused(t *testing.T) {
	_, base := startChat(t, defaultOptions())
	a := join(t, base, "a")
	a.expect(envelope{Type: "welcome", Name: "a"}, envelope{Type: "join", Name: "a"})
	if err := a.c.Send(wsmem.Binary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	_ = a.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := a.c.Next()
	var ce *wsmem.CloseError
	if !errors.As(err, &ce) || ce.Code != wsmem.StatusUnsupportedData {
		t.Fatalf("got %v, want a close with 1003", err)
	}
}

func TestTooLongIsRefused(t *testing.T) {
	opt := defaultOptions()
	_, base := startChat(t, opt)
	a := join(t, base, "a")
	a.expect(envelope{Type: "welcome", Name: "a"}, envelope{Type: "join", Name: "a"})
	b := join(t, base, "b")
	b.expect(envelope{Type: "welcome", Name: "b", Users: []string{"a"}}, envelope{Type: "join", Name: "b"})
	a.expect(envelope{Type: "join", Name: "b"})
	// The server rejects the frame from its header and closes while the
	// payload is still coming, so a's send may fail with a reset and its
	// close frame (1009) may be lost to the reset: only check it if it came.
	sendErr := a.c.Send(wsmem.Text, []byte(strings.Repeat("x", int(opt.MaxMessage)+1)))
	_ = a.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := a.c.Next()
	var ce *wsmem.CloseError
	if errors.As(err, &ce) && ce.Code != wsmem.StatusMessageTooBig {
		t.Fatalf("got a close with %d, want 1009", ce.Code)
	}
	if err == nil {
		t.Fatal("a got a message after sending one too long")
	}
	t.Logf("sender saw: send %v, receive %v", sendErr, err)
	b.expect(envelope{Type: "leave", Name: "a"})
}

// A client that stops reading is dropped; the others go on.
func TestSlowClientIsDropped(t *testing.T) {
	opt := defaultOptions()
	opt.History = 0
	opt.QueueLen = 4
	opt.WriteWait = 200 * time.Millisecond
	opt.MaxMessage = 64 << 10
	_, base := startChat(t, opt)

	fast := join(t, base, "fast")
	fast.expect(envelope{Type: "welcome", Name: "fast"}, envelope{Type: "join", Name: "fast"})
	join(t, base, "slow") // never reads again
	fast.expect(envelope{Type: "join", Name: "slow"})

	line := strings.Repeat("z", 60<<10)
	start := time.Now()
	// Each round waits for its own line, so fast's queue never holds more
	// than one; the 64 MiB cap only stops a broken server.
	for i := 0; i < 1024; i++ {
		fast.say(line)
		for {
			e := fast.next()
			if e.Type == "leave" && e.Name == "slow" {
				t.Logf("slow dropped after %d lines in %v (%q)", i+1, time.Since(start), e.Text)
				fast.say("after")
				for e := fast.next(); e.Type != "message" || e.Text != "after"; e = fast.next() {
				}
				return
			}
			if e.Type == "message" && e.Name == "fast" {
				break
			}
			t.Fatalf("unexpected %+v", e)
		}
	}
	t.Fatalf("a client that never reads was not dropped after 64 MiB")
}

func TestNickname(t *testing.T) {
	s := newServer(defaultOptions())
	for _, tc := range []struct{ in, want string }{
		{"  alice ", "alice"},
		{"a\x00b\nc\u200b", "abc\u200b"}, // control characters go; other runes stay
		{"\xff\xfe", "guest-1"},
		{"", "guest-2"},
		{" \t ", "guest-3"},
		{strings.Repeat("é", 40), strings.Repeat("é", 32)},
		{"x" + strings.Repeat(" ", 31) + "y", "x"},
	} {
		if got := s.nickname(tc.in); got != tc.want {
			t.Errorf("nickname(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPage(t *testing.T) {
	_, base := startChat(t, defaultOptions())
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `new WebSocket(`) {
		t.Fatalf("GET /: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
	// A plain GET of the WebSocket endpoint is refused by Upgrade.
	res, err = http.Get(base + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("GET /ws without upgrade: %d, want 400", res.StatusCode)
	}
	res, err = http.Get(base + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nothing: %d, want 404", res.StatusCode)
	}
}

// Shutdown closes every connection with 1001.
func TestShutdown(t *testing.T) {
	s, base := startChat(t, defaultOptions())
	a := join(t, base, "a")
	a.expect(envelope{Type: "welcome", Name: "a"}, envelope{Type: "join", Name: "a"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { s.shutdown(ctx); close(done) }()
	_ = a.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := a.c.Next()
	var ce *wsmem.CloseError
	if !errors.As(err, &ce) || ce.Code != wsmem.StatusGoingAway {
		t.Fatalf("got %v, want a close with 1001", err)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("shutdown did not return after the client's close")
	}
	// Newcomers are turned away.
	b := join(t, base, "b")
	_ = b.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := b.c.Next(); !errors.As(err, &ce) || ce.Code != wsmem.StatusGoingAway {
		t.Fatalf("after shutdown: got %v, want a close with 1001", err)
	}
}
