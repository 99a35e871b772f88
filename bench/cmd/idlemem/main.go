// Command idlemem measures the memory a WebSocket server holds per idle
// connection, in the server's process, with the clients in another
// process.
//
// Without -server it is the driver: for every library in -libs and count
// in -conns it runs one server process (itself with -server), which runs
// one client process (itself with -client). The server measures itself
// before any connection, then once all connections are open
// ("state=open"), then once every connection has echoed one 64-byte message
// and gone idle again ("state=echoed"), and prints lines in Go's benchmark
// format, which benchstat reads:
//
//	BenchmarkIdle/state=open/conns=2000/lib=gorilla 1 17312 B/conn 9120 heap-B/conn 8192 stack-B/conn 9001 live-heap-B/conn 1.00 goroutines/conn 18874 rss-B/conn
//
// Each figure is the growth since the first measurement divided by the
// number of connections, after two garbage collections and
// debug.FreeOSMemory:
//
//   - heap-B/conn: the Go heap's in-use spans (runtime.MemStats.HeapInuse):
//     what the library and the server keep per connection (for net.Conn
//     servers, also the TCPConn and netFD), with the free room inside those
//     spans;
//   - stack-B/conn: goroutine stacks (StackInuse);
//   - B/conn: the two added up;
//   - live-heap-B/conn: the live objects alone (HeapAlloc);
//   - rss-B/conn: the process's resident memory (VmRSS in
//     /proc/self/status): the heap and stacks as the pages they touch, and
//     what the runtime keeps outside the heap: the goroutine descriptors'
//     and the network poller's memory (a pollDesc per net.Conn) and its own
//     metadata. The kernel's memory for the sockets (struct tcp_sock, the
//     inode, the file, the epoll item: a few KiB per socket, the same for
//     every library) is in no process's RSS.
//
// The libraries are the peers (gorilla, gobwas, coder, gws) and wsmem
// (wsmem.go) with a goroutine per connection blocked in Serve, with the
// epoll event loops of examples/eventloop and the push API, and a
// diagnostic variant of the first.
//
// The client is the library-neutral raw handshake and frames of this file
// (on /echo, the path every server here answers), so that only the
// server's library varies. Everything runs on loopback.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"github.com/wsmem/wsmem/bench/internal/procmem"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	libsFlag := flag.String("libs", strings.Join(serverNames(), ","), "libraries to measure (driver)")
	connsFlag := flag.String("conns", "2000,15000", "connection counts (driver)")
	count := flag.Int("count", 1, "runs of each measurement (driver)")
	server := flag.String("server", "", "run the server of this library (internal)")
	client := flag.Bool("client", false, "run the client process (internal)")
	addr := flag.String("addr", "", "server address (client)")
	n := flag.Int("n", 2000, "connections (server, client)")
	flag.Parse()
	raiseFileLimit()
	var err error
	switch {
	case *client:
		err = runClient(*addr, *n)
	case *server != "":
		err = runServer(*server, *n)
	default:
		err = drive(*libsFlag, *connsFlag, *count)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idlemem:", err)
		os.Exit(1)
	}
}

// raiseFileLimit lifts the soft limit on open files to the hard one: each
// connection is a descriptor in each process.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func drive(libList, connList string, count int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(connList, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-conns: %v", err)
		}
		counts = append(counts, c)
	}
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && uint64(slices.Max(counts))+64 > l.Cur {
		return fmt.Errorf("%d connections need more open files than the limit of %d", slices.Max(counts), l.Cur)
	}
	fmt.Printf("goos: %s\ngoarch: %s\n", runtime.GOOS, runtime.GOARCH)
	for range count {
		for _, c := range counts {
			for _, lib := range strings.Split(libList, ",") {
				cmd := exec.Command(self, "-server", lib, "-n", strconv.Itoa(c))
				cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("%s with %d connections: %v", lib, c, err)
				}
			}
		}
	}
	return nil
}

// memSample is what the server measures.
type memSample struct {
	heapAlloc, heapInuse, stackInuse, goroutines, rss uint64
}

func sample() memSample {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory() // return freed pages, so that RSS counts what is kept
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{m.HeapAlloc, m.HeapInuse, m.StackInuse, uint64(runtime.NumGoroutine()), procmem.Resident()}
}

func report(state, lib string, n int, base, now memSample) {
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	heap := per(now.heapInuse, base.heapInuse)
	stack := per(now.stackInuse, base.stackInuse)
	fmt.Printf("BenchmarkIdle/state=%s/conns=%d/lib=%s 1 %.0f B/conn %.0f heap-B/conn %.0f stack-B/conn %.0f live-heap-B/conn %.2f goroutines/conn %.0f rss-B/conn\n",
		state, n, lib, heap+stack, heap, stack, per(now.heapAlloc, base.heapAlloc), per(now.goroutines, base.goroutines), per(now.rss, base.rss))
}

// runServer serves n connections with lib and measures, driving a client
// process.
func runServer(lib string, n int) error {
	serve, ok := servers[lib]
	if !ok {
		return fmt.Errorf("no server for %q (have %s)", lib, strings.Join(serverNames(), ", "))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// ln stays open until the process exits: gws's RunListener retries a
	// failed Accept forever.
	var open atomic.Int64
	go serve(ln, &open)

	base := sample()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-client", "-addr", ln.Addr().String(), "-n", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) error {
		if !lines.Scan() {
			return fmt.Errorf("client ended before %q", want)
		}
		if got := lines.Text(); got != want {
			return fmt.Errorf("client said %q, want %q", got, want)
		}
		return nil
	}
	settle := func() error {
		deadline := time.Now().Add(30 * time.Second)
		for open.Load() < int64(n) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %d of %d connections upgraded", lib, open.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // let every connection's goroutine park
		return nil
	}

	if err := expect("open"); err != nil {
		return err
	}
	if err := settle(); err != nil {
		return err
	}
	report("open", lib, n, base, sample())

	if _, err := io.WriteString(stdin, "echo\n"); err != nil {
		return err
	}
	if err := expect("echoed"); err != nil {
		return err
	}
	if err := settle(); err != nil {
		return err
	}
	report("echoed", lib, n, base, sample())
	return nil
}

// ---- the client process ----

// runClient opens n connections to addr, says "open", waits for "echo",
// echoes one message on each, says "echoed", and holds the connections
// until its standard input closes.
func runClient(addr string, n int) error {
	conns := make([]net.Conn, n)
	if err := parallel(n, func(i int) error {
		c, err := dialWS(addr)
		conns[i] = c
		return err
	}); err != nil {
		return err
	}
	fmt.Println("open")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "echo" {
		return nil
	}
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	if err := parallel(n, func(i int) error { return echoOnce(conns[i], msg) }); err != nil {
		return err
	}
	fmt.Println("echoed")
	for in.Scan() {
	}
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// parallel runs f(0..n-1) on 32 goroutines and returns the first error.
func parallel(n int, f func(int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// dialWS connects and does the opening handshake (RFC 6455 §4.1).
func dialWS(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	req := "GET /echo HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	// Read the response byte by byte, so that nothing past it is taken.
	var head []byte
	var b [1]byte
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := c.Read(b[:]); err != nil {
			c.Close()
			return nil, fmt.Errorf("reading the handshake response: %v", err)
		}
		head = append(head, b[0])
		if len(head) > 4096 {
			c.Close()
			return nil, errors.New("handshake response too long")
		}
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept := base64.StdEncoding.EncodeToString(sum[:])
	resp := string(head)
	if !strings.HasPrefix(resp, "HTTP/1.1 101") || !strings.Contains(resp, accept) {
		c.Close()
		return nil, fmt.Errorf("bad handshake response: %q", resp)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// echoOnce sends msg as a masked binary frame (at most 125 bytes) and
// checks that the server sends it back unmasked.
func echoOnce(c net.Conn, msg []byte) error {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], 0x1234567)
	frame := append([]byte{0x82, 0x80 | byte(len(msg))}, key[:]...)
	for i, b := range msg {
		frame = append(frame, b^key[i&3])
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(frame); err != nil {
		return err
	}
	got := make([]byte, 2+len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reading the echo: %v", err)
	}
	if got[0] != 0x82 || got[1] != byte(len(msg)) || string(got[2:]) != string(msg) {
		return fmt.Errorf("bad echo % x", got)
	}
	return nil
}
