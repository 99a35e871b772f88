// Command million simulates a million WebSocket server connections in one
// process, to measure what wsmem costs per connection and how fast one
// event loop drives them through the push API.
//
//	go run ./cmd/million                  # 1,000,000 connections, NoHTTP, 5 rounds of 16-byte messages
//	go run ./cmd/million -http            # each connection first fed the HTTP upgrade request
//	go run ./cmd/million -batch 8 -workers 2
//
// It allocates a slab of -n wsmem.Storage, makes each a push server
// (NewPushServer; its Conn is Storage.Conn, so nothing is kept beside the
// slab), then, with -http, feeds each the same upgrade request and checks
// the 101 response (Resource and Host are not kept: no Buffers.Names). It
// then measures the heap: the growth since before the slab, after two
// garbage collections, divided by -n, is the cost of an idle connection
// (the Storage and anything the codec kept). The target is unsafe.Sizeof(wsmem.Storage{}) +
// 64 bytes; the command prints the size it sees, so that it can be rerun
// as the Storage shrinks.
//
// The peers are in memory: one client text frame (masked, framed by a push
// client) is copied into a scratch buffer and fed, -batch of them at a
// time, to each connection in turn (Feed unmasks in place, so each feed
// gets a fresh copy), -rounds times over all connections. The handler
// echoes each message with Conn.Send, which in push mode appends to the
// running Feed's output; that output is compared with the expected server
// frames and discarded. It prints messages per second (each message
// parsed, validated as UTF-8, unmasked, echoed and checked), by the wall
// clock and by the CPU time the process used (cpu-ns/msg, steadier on a
// shared machine; it includes the garbage collector's work), and the heap
// again, which must not have grown: idle push connections hold no buffer.
//
// Output is one line per measurement, in Go's benchmark format.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/wsmem/wsmem"
	"github.com/wsmem/wsmem/bench/internal/procmem"
)

func main() {
	n := flag.Int("n", 1_000_000, "connections")
	rounds := flag.Int("rounds", 5, "messages to each connection, one feed at a time")
	batch := flag.Int("batch", 1, "messages per Feed call")
	size := flag.Int("size", 16, "message payload in bytes")
	http := flag.Bool("http", false, "feed each connection the HTTP upgrade request first")
	workers := flag.Int("workers", 1, "goroutines driving the connections, each a contiguous share")
	flag.Parse()
	if err := run(*n, *rounds, *batch, *size, *http, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "million:", err)
		os.Exit(1)
	}
}

func run(n, rounds, batch, size int, http bool, workers int) error {
	storage := unsafe.Sizeof(wsmem.Storage{})
	mode := "nohttp"
	if http {
		mode = "http"
	}
	name := fmt.Sprintf("conns=%d/mode=%s", n, mode)
	fmt.Printf("goos: %s\ngoarch: %s\n", runtime.GOOS, runtime.GOARCH)
	fmt.Printf("# unsafe.Sizeof(wsmem.Storage{}) = %d bytes; target per connection: %d bytes\n", storage, storage+64)

	base := measure()
	start := time.Now()
	slab := make([]wsmem.Storage, n)
	if err := attach(slab, http, workers); err != nil {
		return err
	}
	setup := time.Since(start)
	idle := measure()
	report("Idle/"+name, n, base, idle, storage)
	fmt.Printf("# attached%s %d connections in %v (%.0f ns each)\n", map[bool]string{true: " and upgraded"}[http], n, setup.Round(time.Millisecond), float64(setup.Nanoseconds())/float64(n))

	cpu0 := cpuTime()
	elapsed, err := drive(slab, rounds, batch, size, workers)
	if err != nil {
		return err
	}
	cpu := cpuTime() - cpu0
	msgs := float64(n) * float64(rounds) * float64(batch)
	fmt.Printf("BenchmarkEcho/%s/batch=%d/size=%d/workers=%d %d %.1f ns/msg %.0f msgs/s %.1f cpu-ns/msg\n",
		name, batch, size, workers, int(msgs), float64(elapsed.Nanoseconds())/msgs, msgs/elapsed.Seconds(), float64(cpu.Nanoseconds())/msgs)
	report("AfterEcho/"+name, n, base, measure(), storage)
	runtime.KeepAlive(slab)
	return nil
}

// attach makes every Storage a push server connection, and with http
// feeds it the upgrade request and checks the answer.
func attach(slab []wsmem.Storage, http bool, workers int) error {
	flags := wsmem.NoHTTP
	if http {
		flags = 0
	}
	req := []byte("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:9002\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	want := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
	return parallel(len(slab), workers, func(lo, hi int) error {
		in := make([]byte, len(req))
		var out []byte
		var err error
		for i := lo; i < hi; i++ {
			c := wsmem.NewPushServer(flags, &slab[i], nil)
			if !http {
				continue
			}
			copy(in, req)
			if out, err = c.Feed(in, wsmem.NopHandler{}, out[:0]); err != nil {
				return fmt.Errorf("connection %d: upgrade: %v", i, err)
			}
			if !bytes.Equal(out, want) {
				return fmt.Errorf("connection %d: upgrade answered %q", i, out)
			}
		}
		return nil
	})
}

// echo sends every message back, into the running Feed's output.
type echo struct{ wsmem.NopHandler }

func (echo) OnMessage(c *wsmem.Conn, typ wsmem.Flags, data []byte) { _ = c.Send(typ, data) }

// drive feeds every connection batch client frames per call, rounds
// times, and checks each answer.
func drive(slab []wsmem.Storage, rounds, batch, size, workers int) (time.Duration, error) {
	payload := []byte(strings.Repeat("wsmem/", size/6+1)[:size])
	var cst wsmem.Storage
	client, err := wsmem.NewPushClient(wsmem.NoHTTP, &cst, nil)
	if err != nil {
		return 0, err
	}
	frame, err := client.AppendSend(nil, wsmem.Text, payload)
	if err != nil {
		return 0, err
	}
	frames := bytes.Repeat(frame, batch)
	srvFrame := wsmem.AppendHeader(nil, wsmem.Header{Fin: true, OpCode: wsmem.OpText, Length: int64(size)})
	want := bytes.Repeat(append(srvFrame, payload...), batch)

	start := time.Now()
	err = parallel(len(slab), workers, func(lo, hi int) error {
		in := make([]byte, len(frames))
		out := make([]byte, 0, len(want))
		var err error
		for range rounds {
			for i := lo; i < hi; i++ {
				copy(in, frames)
				if out, err = slab[i].Conn().Feed(in, echo{}, out[:0]); err != nil {
					return fmt.Errorf("connection %d: %v", i, err)
				}
				if !bytes.Equal(out, want) {
					return fmt.Errorf("connection %d answered % x, want % x", i, out, want)
				}
			}
		}
		return nil
	})
	return time.Since(start), err
}

// parallel runs f on workers contiguous shares of [0, n).
func parallel(n, workers int, f func(lo, hi int) error) error {
	workers = max(1, min(workers, n))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = f(n*w/workers, n*(w+1)/workers)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// memSample is the heap and resident memory after garbage collection.
type memSample struct{ heapAlloc, heapInuse, rss uint64 }

func measure() memSample {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{m.HeapAlloc, m.HeapInuse, procmem.Resident()}
}

// report prints the growth since base per connection.
func report(name string, n int, base, now memSample, storage uintptr) {
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	fmt.Printf("Benchmark%s 1 %.1f B/conn %.1f heap-inuse-B/conn %.1f rss-B/conn %d storage-B %.1f over-storage-B/conn\n",
		name, per(now.heapAlloc, base.heapAlloc), per(now.heapInuse, base.heapInuse), per(now.rss, base.rss),
		storage, per(now.heapAlloc, base.heapAlloc)-float64(storage))
}

// cpuTime returns the CPU time the process has used (user and system):
// on a shared machine it is steadier than the wall clock, which also
// counts the time other processes had the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
