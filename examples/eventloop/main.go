// Command eventloop serves WebSocket echo (/echo) and chat (/chat) from
// epoll event loops, one per core, with wsmem's push API: no goroutine and
// no net.Conn per connection (see package loop and README.md).
//
//	go run . -addr 127.0.0.1:9002
//	cd ../.. && go run ./examples/client ws://127.0.0.1:9002/echo
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsmem/wsmem"
	"github.com/wsmem/wsmem/examples/eventloop/loop"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9002", "address to listen on")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	maxQueued := flag.Int("max-queued", 1<<20, "output a connection may have waiting (wsmem.Config.MaxQueued); a send past it drops the connection")
	flag.Parse()
	srv, err := loop.Listen(*addr, loop.Config{Loops: *loops, WS: &wsmem.Config{MaxQueued: *maxQueued}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s (ws://%s/echo, ws://%s/chat)\n", srv.Addr(), srv.Addr(), srv.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		_ = srv.Close()
	}()
	if err := srv.Serve(); err != nil {
		log.Fatal(err)
	}
}
