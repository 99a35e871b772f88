// Command echo is a WebSocket echo server: every text and binary message
// comes back with its type, up to 64 MiB. It is what the Autobahn
// TestSuite's fuzzingclient expects of a server under test.
//
//	go run ./examples/echo -addr 127.0.0.1:9001
//
// It shows wsmem's libdill-style API on a bare net.Listener: AttachServer
// answers the HTTP upgrade itself (any path), in the memory of a Storage
// the server hands out from a pool and takes back when the connection
// ends, and Serve runs the receive loop.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wsmem/wsmem"
)

// config is shared by every connection and never changes once in use.
var config = &wsmem.Config{
	// Autobahn's largest cases (9.x) send 16 MiB; allow 64 MiB. A message
	// that fits a read buffer is echoed straight from it; a larger or
	// fragmented one is assembled in a pooled buffer first.
	MaxMessageSize: 64 << 20,
	// permessage-deflate (RFC 7692) is accepted when a client offers it,
	// with every parameter it may ask for: Serve hands OnMessage the
	// inflated payload and Send deflates.
	Compression: wsmem.CompressionConfig{Enabled: true},
}

// storages recycles connection memory: a Storage may serve a new
// connection once the previous one is closed.
var storages = sync.Pool{New: func() any { return new(wsmem.Storage) }}

// echo sends every message back as it came.
type echo struct{ wsmem.NopHandler }

// OnMessage echoes data, which is valid only during the call: Send is
// done with it when it returns.
func (echo) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) {
	if err := c.Send(typ, data); err != nil {
		c.Close()
	}
}

// serve accepts connections on ln until it is closed.
func serve(ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait, go on.
			log.Printf("echo: accept: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go handle(nc)
	}
}

// handle runs one connection from the opening handshake to its end.
func handle(nc net.Conn) {
	st := storages.Get().(*wsmem.Storage)
	defer storages.Put(st)
	c, err := wsmem.AttachServer(nc, wsmem.Binary, st, config)
	if err != nil {
		return // refused (answered with 4xx) or dropped; nc is closed
	}
	_ = c.Serve(echo{})
	c.Close() // before the Storage goes back to the pool
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "host:port to listen on (port 0 picks a free one)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echo: listening on ws://%s/\n", ln.Addr())
	if err := serve(ln); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}
