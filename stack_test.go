package wsmem

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// stackEcho echoes every message, as the idle-memory benchmark's server
// does (bench/cmd/idlemem).
type stackEcho struct{ NopHandler }

func (stackEcho) OnMessage(c *Conn, typ Flags, data []byte) {
	if c.Send(typ, data) != nil {
		c.Close()
	}
}

// stackInuse returns runtime.MemStats.StackInuse after a collection.
func stackInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}

// TestServeStackStaysSmall checks that a goroutine serving a connection
// keeps the 2 KiB stack it started with: the stack grows to 4 KiB when a
// call chain needs more than about 1.1 KiB, and is never shrunk back while
// the goroutine waits in a read, so every idle connection would hold 4 KiB
// for good (see Serve, and bench/cmd/RESULTS.md). Each of n goroutines
// runs Serve over loopback TCP through a 64-byte echo (Send from
// OnMessage) and a ping and its pong, then waits in the read; it also does
// the opening handshake (AttachServer) in the second case, as
// bench/cmd/idlemem's wsmem-goroutine server does, and in the third runs
// the heartbeat loop (Config.PingInterval). The stack in use
// (MemStats.StackInuse) per goroutine must stay near 2 KiB.
//
// The race detector makes every frame larger (and guards 3 times as much
// stack): the test is for the normal build.
func TestServeStackStaysSmall(t *testing.T) {
	if raceEnabled {
		t.Skip("stack frames are larger under the race detector")
	}
	// The runtime starts new goroutines with the average stack size it
	// scanned at the last collection: in a test binary, whose goroutines
	// have deep stacks, often 4 KiB. Each measurement runs in a child
	// process of its own (freed stacks would serve the next one) with that
	// turned off, so that goroutines start at 2 KiB.
	switch mode := os.Getenv("WSMEM_STACK_CHILD"); mode {
	case "serve", "attach+serve", "serve+heartbeat":
		if mode == "serve+heartbeat" {
			stackConfig = &Config{PingInterval: 30 * time.Second}
		}
		testServeStack(t, mode == "attach+serve")
		return
	}
	for _, mode := range []string{"serve", "attach+serve", "serve+heartbeat"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "attach+serve" && !acceptHasAsm() {
				// Without the SHA-NI accept kernel (purego builds, other
				// CPUs and architectures) the accept value comes from
				// crypto/sha1, whose frames take the handshake past
				// 2 KiB: there a goroutine that does its own handshake
				// keeps 4 KiB of stack.
				t.Skip("the handshake stays within 2 KiB only with the SHA-NI accept kernel")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServeStackStaysSmall$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "WSMEM_STACK_CHILD="+mode, "GODEBUG="+os.Getenv("GODEBUG")+",adaptivestackstart=0")
			out, err := cmd.CombinedOutput()
			t.Logf("child process:\n%s", out)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// stackConfig is the servers' Config in the child process (nil but for
// the serve+heartbeat case, which runs Serve's heartbeat loop).
var stackConfig *Config

func testServeStack(t *testing.T, attach bool) {
	const n = 400
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	done := make(chan struct{}, n)
	msg := bytes.Repeat([]byte("a"), 64)
	base := stackInuse()
	for range n {
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cli)
		srv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		_ = cli.SetDeadline(time.Now().Add(10 * time.Second))
		if attach {
			go stackAttachServe(srv, done)
			stackUpgrade(t, cli, nil)
		} else {
			c := stackUpgrade(t, cli, srv)
			go stackServe(c, done)
		}
		stackExchange(t, cli, cframe(true, OpBinary, msg), sframe(true, OpBinary, msg))
		stackExchange(t, cli, cframe(true, OpPing, []byte("p")), sframe(true, OpPong, []byte("p")))
	}
	time.Sleep(100 * time.Millisecond) // let the last goroutines park in the read
	per := float64(stackInuse()-base) / n
	t.Logf("stack per connection: %.0f bytes", per)
	if per > 2600 {
		t.Errorf("each goroutine holds %.0f bytes of stack, want 2 KiB", per)
	}
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	for range n {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a server goroutine did not end")
		}
	}
}

// stackAttachServe is the server goroutine of bench/cmd/idlemem's
// wsmem-goroutine: AttachServer, then Serve.
func stackAttachServe(nc net.Conn, done chan<- struct{}) {
	if c, err := AttachServer(nc, 0, new(Storage), stackConfig); err == nil {
		_ = c.Serve(stackEcho{})
		c.Close()
	} else {
		nc.Close()
	}
	done <- struct{}{}
}

// stackServe is the server goroutine, as bench/cmd/idlemem's
// wsmem-handshake-apart: Serve on a connection attached elsewhere.
func stackServe(c *Conn, done chan<- struct{}) {
	_ = c.Serve(stackEcho{})
	c.Close()
	done <- struct{}{}
}

// stackUpgrade sends an upgrade request on nc, attaches srv, its other
// end, unless it is nil, and reads the 101.
func stackUpgrade(t *testing.T, nc, srv net.Conn) *Conn {
	t.Helper()
	req := "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	var c *Conn
	if srv != nil {
		var err error
		if c, err = AttachServer(srv, 0, new(Storage), stackConfig); err != nil {
			t.Fatal(err)
		}
	}
	var head []byte
	var b [1]byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := nc.Read(b[:]); err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		head = append(head, b[0])
	}
	if !strings.HasPrefix(string(head), "HTTP/1.1 101 ") {
		t.Fatalf("answer %q", head)
	}
	return c
}

// stackExchange writes send on nc and checks that want comes back.
func stackExchange(t *testing.T, nc net.Conn, send, want []byte) {
	t.Helper()
	if _, err := nc.Write(send); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}
