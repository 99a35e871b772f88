package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmem/wsmem"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echoServer echoes messages and records pings and the client's close.
type echoServer struct {
	wsmem.NopHandler
	mu     sync.Mutex
	pings  int
	code   wsmem.StatusCode
	reason string
	closed chan struct{}
	// onOpen, if set, replaces the echo: it runs right after the upgrade.
	onOpen func(c *wsmem.Conn)
}

func (e *echoServer) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	_ = c.Send(typ, data)
}

func (e *echoServer) OnPing(*wsmem.Conn, []byte) {
	e.mu.Lock()
	e.pings++
	e.mu.Unlock()
}

func (e *echoServer) OnClose(_ *wsmem.Conn, code wsmem.StatusCode, reason []byte, _ error) {
	e.mu.Lock()
	e.code, e.reason = code, string(reason)
	e.mu.Unlock()
	close(e.closed)
}

func (e *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := wsmem.Upgrade(w, r, 0, nil, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if e.onOpen != nil {
		e.onOpen(c)
	}
	_ = c.Serve(e)
}

func (e *echoServer) pingCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pings
}

func newEcho() *echoServer { return &echoServer{closed: make(chan struct{})} }

// result is how run ended.
type result struct {
	status         int
	stdout, stderr *syncBuffer
}

// start runs the client with stdin fed from the returned writer.
func start(args ...string) (io.WriteCloser, *syncBuffer, <-chan result) {
	inR, inW := io.Pipe()
	out, errOut := new(syncBuffer), new(syncBuffer)
	done := make(chan result, 1)
	go func() {
		status := run(context.Background(), args, inR, out, errOut)
		inR.Close()
		done <- result{status, out, errOut}
	}()
	return inW, out, done
}

func wait(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not exit")
		return result{}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func wsURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") }

func TestLinesPingsAndCloseCode(t *testing.T) {
	srv := newEcho()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	in, out, done := start("-ping", "20ms", "-close-code", "4001", "-close-reason", "bye now", wsURL(ts.URL)+"/echo")
	io.WriteString(in, "hello\nünïcödé ✓\r\n\n")
	want := "hello\nünïcödé ✓\n\n"
	eventually(t, "the echoes", func() bool { return out.String() == want })
	eventually(t, "a ping", func() bool { return srv.pingCount() > 0 })
	in.Close() // EOF: the client closes with 4001

	r := wait(t, done)
	if r.status != 0 || r.stdout.String() != want {
		t.Fatalf("status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
	<-srv.closed
	if srv.code != 4001 || srv.reason != "bye now" {
		t.Fatalf("server saw close %d %q, want 4001 \"bye now\"", srv.code, srv.reason)
	}
}

func TestWSSBinary(t *testing.T) {
	srv := newEcho()
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	in, out, done := start("-binary", "-cacert", ca, wsURL(ts.URL))
	io.WriteString(in, "AB\n")
	eventually(t, "the echo", func() bool { return out.String() == "4142\n" })
	in.Close()
	if r := wait(t, done); r.status != 0 {
		t.Fatalf("status %d, stderr %q", r.status, r.stderr)
	}
	<-srv.closed
	if srv.code != wsmem.StatusNormal {
		t.Fatalf("server saw close %d, want 1000", srv.code)
	}

	// Without the CA the certificate is refused.
	_, _, done = start(wsURL(ts.URL))
	if r := wait(t, done); r.status != 1 || !strings.Contains(r.stderr.String(), "certificate") {
		t.Fatalf("status %d, stderr %q", r.status, r.stderr)
	}
}

func TestServerCloses(t *testing.T) {
	for _, tc := range []struct {
		code   wsmem.StatusCode
		status int
	}{{wsmem.StatusNormal, 0}, {wsmem.StatusInternalError, 1}} {
		srv := newEcho()
		srv.onOpen = func(c *wsmem.Conn) {
			_ = c.Send(wsmem.Text, []byte("welcome"))
			_ = c.Done(tc.code, []byte("that's all"))
		}
		ts := httptest.NewServer(srv)
		in, _, done := start(wsURL(ts.URL)) // stdin stays open
		r := wait(t, done)
		in.Close()
		ts.Close()
		if r.status != tc.status || r.stdout.String() != "welcome\n" {
			t.Fatalf("server closing with %d: status %d, stdout %q, stderr %q", tc.code, r.status, r.stdout, r.stderr)
		}
		if tc.status != 0 && !strings.Contains(r.stderr.String(), "1011") {
			t.Fatalf("stderr %q does not name the code", r.stderr)
		}
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-close-code", "1005", "ws://127.0.0.1:1/"},
		{"-nope", "ws://127.0.0.1:1/"},
	} {
		_, _, done := start(args...)
		if r := wait(t, done); r.status != 2 {
			t.Errorf("%q: status %d, want 2", args, r.status)
		}
	}
	_, _, done := start("http://127.0.0.1:1/")
	if r := wait(t, done); r.status != 1 || !strings.Contains(r.stderr.String(), "scheme") {
		t.Errorf("http URL: status %d, stderr %q", r.status, r.stderr)
	}
}
