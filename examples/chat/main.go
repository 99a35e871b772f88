// Command chat is a small WebSocket chat room built on wsmem's net/http
// Upgrade and its Handler API.
//
//	go run ./examples/chat                 # http://localhost:8080
//	go run ./examples/chat -addr 127.0.0.1:0
//
// Open the page in several browser tabs (add ?name=alice to pick a
// nickname). The page talks to /ws; every line sent reaches everyone as a
// JSON envelope, newcomers get the last messages, and join and leave
// notices go to all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "host:port to listen on (port 0 picks a free one)")
	history := flag.Int("history", 50, "chat messages kept for newcomers")
	flag.Parse()

	opt := defaultOptions()
	opt.History = *history
	s := newServer(opt)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The first line on stdout names the address: scripts that start the
	// chat on port 0 (the e2e test does) read it from there.
	fmt.Printf("chat: listening on http://%s/\n", ln.Addr())

	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	log.Print("chat: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// Shutdown stops the listener and plain HTTP requests; upgraded
	// connections were hijacked from net/http, so the room closes them.
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Print(err)
	}
	s.shutdown(sctx)
}
