package wsmem_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wsmem/wsmem"
)

// The RFC 6455 sample key and the accept value a server answers with.
func ExampleResponseKey() {
	accept, err := wsmem.ResponseKey([]byte("dGhlIHNhbXBsZSBub25jZQ=="))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(accept[:]))
	// Output: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}

// Mask is its own inverse; the key phase carries across pieces.
func ExampleMask() {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := []byte("Hello")
	pos := wsmem.Mask(b[:2], key, 0)
	wsmem.Mask(b[2:], key, pos)
	fmt.Printf("% x\n", b)
	wsmem.Mask(b, key, 0)
	fmt.Println(string(b))
	// Output:
	// 7f 9f 4d 51 58
	// Hello
}

// A frame header parsed in place and written back.
func ExampleParseHeader() {
	wire := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	h, n, err := wsmem.ParseHeader(wire)
	if err != nil {
		panic(err)
	}
	payload := wire[n : n+int(h.Length)]
	wsmem.Mask(payload, h.Mask, 0)
	fmt.Println(h.Fin, h.OpCode == wsmem.OpText, string(payload))
	fmt.Printf("% x\n", wsmem.AppendHeader(nil, h))
	// Output:
	// true true Hello
	// 81 85 37 fa 21 3d
}

// A custom handshake: the application exchanges its own greeting, then
// both sides attach with NoHTTP and use keys made by RequestKey and
// ResponseKey to prove they speak WebSocket.
func Example_customHandshake() {
	a, b := net.Pipe()
	done := make(chan string)
	go func() { // server
		var key [24]byte
		if _, err := readFull(b, key[:]); err != nil {
			panic(err)
		}
		accept, _ := wsmem.ResponseKey(key[:])
		if _, err := b.Write(accept[:]); err != nil {
			panic(err)
		}
		var st wsmem.Storage
		c, _ := wsmem.AttachServer(b, wsmem.Text|wsmem.NoHTTP, &st, nil)
		buf := make([]byte, 64)
		n, _ := c.RecvMsg(buf)
		done <- string(buf[:n])
	}()
	key, _ := wsmem.RequestKey()
	if _, err := a.Write(key[:]); err != nil {
		panic(err)
	}
	var accept [28]byte
	if _, err := readFull(a, accept[:]); err != nil {
		panic(err)
	}
	want, _ := wsmem.ResponseKey(key[:])
	fmt.Println("accept ok:", accept == want)
	var st wsmem.Storage
	c, _ := wsmem.AttachClient(a, wsmem.Text|wsmem.NoHTTP, "/", "example.com", &st, nil)
	_ = c.SendMsg([]byte("hello over a custom handshake"))
	fmt.Println(<-done)
	// Output:
	// accept ok: true
	// hello over a custom handshake
}

// A server: one Storage per connection, Recv into the caller's buffer,
// Send the answer.
func ExampleAttachServer() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		var st wsmem.Storage
		c, err := wsmem.AttachServer(nc, 0, &st, nil) // answers the HTTP upgrade
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for {
			n, typ, err := c.Recv(buf)
			if err != nil {
				return
			}
			if err := c.Send(typ, buf[:n]); err != nil {
				return
			}
		}
	}()
	nc, _ := net.Dial("tcp", ln.Addr().String())
	var st wsmem.Storage
	c, err := wsmem.AttachClient(nc, 0, "/echo", "localhost", &st, nil)
	if err != nil {
		panic(err)
	}
	_ = c.Send(wsmem.Text, []byte("ping"))
	buf := make([]byte, 16)
	n, typ, _ := c.Recv(buf)
	fmt.Println(typ, string(buf[:n]))
	// Output: text ping
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// A net/http handler that upgrades and serves with callbacks, and a client
// that dials it.
func ExampleUpgrade() {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsmem.Upgrade(w, r, 0, nil, nil) // refusals are answered through w
		if err != nil {
			return
		}
		_ = c.Serve(echoHandler{})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := wsmem.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil, nil)
	if err != nil {
		panic(err)
	}
	_ = c.Send(wsmem.Text, []byte("hello"))
	typ, p, _ := c.Next()
	fmt.Println(typ, string(p))
	_ = c.Done(wsmem.StatusNormal, nil)
	_, _, err = c.Next()
	var ce *wsmem.CloseError
	fmt.Println(errors.As(err, &ce), ce.Code)
	// Output:
	// text hello
	// true 1000
}

// echoHandler sends every message back; NopHandler supplies the rest.
type echoHandler struct{ wsmem.NopHandler }

func (echoHandler) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	_ = c.Send(typ, data) // data is valid until OnMessage returns
}

// An event loop feeds what it read and writes what Feed appends.
func ExampleConn_Feed() {
	c := wsmem.NewPushServer(wsmem.NoHTTP, new(wsmem.Storage), nil)
	// A masked text frame "Hello" followed by a ping, as a client sends them.
	in := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x89, 0x80, 1, 2, 3, 4}
	var out []byte
	out, err := c.Feed(in, printer{}, out)
	fmt.Println(err)
	fmt.Printf("to write: % x\n", out) // the automatic pong
	// Output:
	// text Hello
	// <nil>
	// to write: 8a 00
}

type printer struct{ wsmem.NopHandler }

func (printer) OnMessage(_ *wsmem.Conn, typ wsmem.Flags, data []byte) {
	fmt.Println(typ, string(data))
}

// A push client and a push server in one process, with no socket between
// them: each one's output is the other one's input, the opening handshake
// included. A loop over real sockets does the same with read and write.
func ExampleConn_AppendUpgrade() {
	srv := wsmem.NewPushServer(0, new(wsmem.Storage), nil)
	cli, _ := wsmem.NewPushClient(0, new(wsmem.Storage), nil)

	request, err := cli.AppendUpgrade(nil, "/chat", "example.com")
	fmt.Println("request:", err)
	answer, err := srv.Feed(request, printer{}, nil) // the 101 response
	fmt.Println("answer:", err)
	answer, _ = srv.AppendSend(answer, wsmem.Text, []byte("welcome"))
	_, err = cli.Feed(answer, printer{}, nil)
	fmt.Println("client:", err)

	hello, _ := cli.AppendSend(nil, wsmem.Text, []byte("hello"))
	_, err = srv.Feed(hello, printer{}, nil)
	fmt.Println("server:", err)
	// Output:
	// request: <nil>
	// answer: <nil>
	// text welcome
	// client: <nil>
	// text hello
	// server: <nil>
}

// The outbound budget in push mode: out is the output the loop has not
// written yet; a send that would take it past Config.MaxQueued is refused
// and leaves out as it was.
func ExampleConfig_maxQueued() {
	c := wsmem.NewPushServer(wsmem.NoHTTP, new(wsmem.Storage), &wsmem.Config{MaxQueued: 64})
	out, err := c.AppendSend(nil, wsmem.Binary, make([]byte, 40))
	fmt.Println(len(out), err)
	out, err = c.AppendSend(out, wsmem.Binary, make([]byte, 40))
	fmt.Println(len(out), errors.Is(err, wsmem.ErrRefused))
	out = out[:0] // the loop wrote it all
	out, err = c.AppendSend(out, wsmem.Binary, make([]byte, 40))
	fmt.Println(len(out), err)
	// Output:
	// 42 <nil>
	// 42 true
	// 42 <nil>
}
