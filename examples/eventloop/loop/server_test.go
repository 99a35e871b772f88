package loop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/wsmem/wsmem"
)

// start serves cfg on a free loopback port until the test ends.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		_ = srv.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return srv
}

// dial opens a wsmem client connection to path on srv.
func dial(t *testing.T, srv *Server, path string) *wsmem.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsmem.Dial(ctx, "ws://"+srv.Addr()+path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recv receives one message within 5 seconds.
func recv(c *wsmem.Conn, buf []byte) ([]byte, wsmem.Flags, error) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, typ, err := c.Recv(buf)
	return buf[:n], typ, err
}

func TestSlotSize(t *testing.T) {
	slot, st := unsafe.Sizeof(conn{}), unsafe.Sizeof(wsmem.Storage{})
	t.Logf("conn slot: %d bytes (wsmem.Storage: %d)", slot, st)
	if slot > st+32 { // out, fd and state
		t.Errorf("conn slot is %d bytes, more than the Storage's %d + 32", slot, st)
	}
}

func TestEcho(t *testing.T) {
	srv := start(t, Config{Loops: 2})
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB: many reads, pending output
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for k := range 16 {
		c := dial(t, srv, "/echo?k="+fmt.Sprint(k))
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for _, m := range []struct {
				typ wsmem.Flags
				p   []byte
			}{{wsmem.Text, []byte("hello")}, {wsmem.Binary, nil}, {wsmem.Binary, big}, {wsmem.Text, []byte("bye")}} {
				if err := c.Send(m.typ, m.p); err != nil {
					errs <- err
					return
				}
				got, typ, err := recv(c, buf)
				if err != nil {
					errs <- err
					return
				}
				if typ != m.typ || !bytes.Equal(got, m.p) {
					errs <- fmt.Errorf("echo of %d bytes (type %v): got %d bytes (type %v)", len(m.p), m.typ, len(got), typ)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestEchoPingAndClose(t *testing.T) {
	srv := start(t, Config{Loops: 1})
	c := dial(t, srv, "/echo")
	if err := c.Ping([]byte("p")); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(wsmem.Text, []byte("after ping")); err != nil {
		t.Fatal(err)
	}
	got, _, err := recv(c, make([]byte, 64))
	if err != nil || string(got) != "after ping" {
		t.Fatalf("got %q, %v", got, err)
	}
	if err := c.Done(wsmem.StatusNormal, []byte("done")); err != nil {
		t.Fatal(err)
	}
	_, _, err = recv(c, make([]byte, 64))
	var ce *wsmem.CloseError
	if !errors.As(err, &ce) || ce.Code != wsmem.StatusNormal {
		t.Fatalf("after our close: %v, want the server's close 1000", err)
	}
}

func TestChat(t *testing.T) {
	var opened sync.Map
	srv := start(t, Config{Loops: 2, OnOpen: func(p string) { opened.Store(p, true) }})
	const n = 5
	chat := make([]*wsmem.Conn, n)
	for i := range chat {
		chat[i] = dial(t, srv, "/chat")
	}
	echo := dial(t, srv, "/echo")
	for i, c := range chat {
		if err := c.Send(wsmem.Text, fmt.Appendf(nil, "msg %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range chat {
		seen := map[string]bool{}
		for range n {
			got, typ, err := recv(c, make([]byte, 64))
			if err != nil || typ != wsmem.Text {
				t.Fatalf("chat client %d: %v (type %v)", i, err, typ)
			}
			seen[string(got)] = true
		}
		for k := range n {
			if !seen[fmt.Sprintf("msg %d", k)] {
				t.Errorf("chat client %d missed msg %d (saw %v)", i, k, seen)
			}
		}
	}
	// The echo connection got none of it: its next message is its own echo.
	if err := echo.Send(wsmem.Text, []byte("mine")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := recv(echo, make([]byte, 64)); err != nil || string(got) != "mine" {
		t.Errorf("echo client got %q, %v", got, err)
	}
	for _, p := range []string{"chat", "echo"} {
		if _, ok := opened.Load(p); !ok {
			t.Errorf("OnOpen(%q) not called", p)
		}
	}
}

func TestUnknownPath(t *testing.T) {
	srv := start(t, Config{Loops: 1})
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /nowhere HTTP/1.1\r\nHost: " + srv.Addr() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	resp, err := io.ReadAll(nc) // the server closes after answering
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 404 ")) {
		t.Fatalf("got %q, %v; want a 404 and the connection closed", resp, err)
	}
}

// A client that sends but never reads is dropped once an echo would take
// its pending output past wsmem's Config.MaxQueued, and the server goes on
// serving others.
func TestSlowReaderDropped(t *testing.T) {
	srv := start(t, Config{Loops: 1, WS: &wsmem.Config{MaxQueued: 64 << 10}})
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := wsmem.AttachClient(nc, 0, "/echo", srv.Addr(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 60<<10)
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	sent := 0
	for ; sent < 1<<30; sent += len(msg) { // loopback buffers hold a few MiB
		if err = c.Send(wsmem.Binary, msg); err != nil {
			break
		}
	}
	if err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("after %d MiB sent without reading: %v, want the connection dropped", sent>>20, err)
	}
	t.Logf("dropped after %d MiB sent without reading: %v", sent>>20, err)
	other := dial(t, srv, "/echo")
	if err := other.Send(wsmem.Text, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := recv(other, make([]byte, 64)); err != nil || string(got) != "still here" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// The upgrade request may come in pieces, and the first frame in the same
// read as its end.
func TestHandshakeSplitAndPipelined(t *testing.T) {
	srv := start(t, Config{Loops: 1})
	var cst wsmem.Storage
	cl, err := wsmem.NewPushClient(wsmem.NoHTTP, &cst, nil)
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := cl.AppendSend(nil, wsmem.Text, []byte("first"))
	req := "GET /echo HTTP/1.1\r\nHost: " + srv.Addr() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	for _, piece := range [][]byte{[]byte(req[:10]), []byte(req[10:70]), append([]byte(req[70:]), frame...)} {
		if _, err := nc.Write(piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // separate reads on the server
	}
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05first"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != want {
		t.Fatalf("got %q, %v", got, err)
	}
}

// An echo larger than the socket takes at once goes out through the slot's
// pending output and EPOLLOUT.
func TestEchoLarge(t *testing.T) {
	srv := start(t, Config{Loops: 1, WS: &wsmem.Config{MaxMessageSize: 32 << 20}})
	c := dial(t, srv, "/echo")
	msg := bytes.Repeat([]byte("wsmem-eventloop!"), 12<<16) // 12 MiB: more than loopback's socket buffers
	for range 2 {
		if err := c.Send(wsmem.Binary, msg); err != nil {
			t.Fatal(err)
		}
		got, _, err := recv(c, make([]byte, len(msg)+1))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(got), err)
		}
	}
}
