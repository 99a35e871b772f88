package loadtest

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wsmem/wsmem"
)

var (
	flagConns    = flag.Int("load.conns", 0, "healthy connections of TestLoad (default 200; 5000 with WSMEM_LOAD=full)")
	flagDuration = flag.Duration("load.duration", 0, "how long TestLoad exchanges messages (default 2s; 60s with WSMEM_LOAD=full)")
	flagRate     = flag.Int("load.rate", 0, "messages a second the healthy clients aim for together (default 1000)")
	flagSeed     = flag.Uint64("load.seed", 0, "random seed of TestLoad (default: from the clock)")
)

// params sizes a run.
type params struct {
	conns    int           // healthy connections, all open at once
	duration time.Duration // of the exchange, once all are connected
	// rate is how many messages a second the healthy clients aim for
	// together: enough to keep every connection busy now and then, and
	// low enough to leave the process idle time on two cores shared with
	// other work (a round trip costs about 200 µs of CPU with the faults;
	// at saturation goroutines wait seconds to run, and deadlines measure
	// the scheduler's queues rather than the codec).
	rate          int
	faultEvery    time.Duration // a fault starts this often
	maxLiveFaults int           // faults running at once, at most
	// handshakeTimeout is the server's Config.HandshakeTimeout on the
	// port the handshake faults use (see server): stalled handshakes end
	// after it.
	handshakeTimeout time.Duration
	window           int // messages in flight per connection
	slowEvery        int // one healthy connection in slowEvery reads slowly
	seed             uint64
}

// loadParams returns the small size, or the full one with WSMEM_LOAD=full,
// changed by the -load.* flags.
func loadParams() params {
	p := params{
		conns:            200,
		duration:         2 * time.Second,
		rate:             1000,
		faultEvery:       10 * time.Millisecond,
		maxLiveFaults:    40,
		handshakeTimeout: time.Second,
		window:           4,
		slowEvery:        20,
		seed:             *flagSeed,
	}
	if os.Getenv("WSMEM_LOAD") == "full" {
		p.conns, p.duration = 5000, time.Minute
		p.faultEvery, p.maxLiveFaults = 20*time.Millisecond, 100
	}
	if *flagConns > 0 {
		p.conns = *flagConns
	}
	if *flagDuration > 0 {
		p.duration = *flagDuration
	}
	if *flagRate > 0 {
		p.rate = *flagRate
	}
	p.rate = max(1, p.rate/raceSlowdown)
	if p.seed == 0 {
		p.seed = uint64(time.Now().UnixNano())
	}
	return p
}

// Bounds of a run's phases; the watchdog bounds the whole.
const (
	dialers     = 16                         // clients connecting at once
	drainWait   = 30 * time.Second           // for the last echoes and the closing handshakes
	faultsMax   = faultWait + 10*time.Second // for the last faults, after the clients
	shutdownMax = 10 * time.Second           // for the server's goroutines once the clients are gone
	settleMax   = 5 * time.Second            // for the goroutine count to come back
)

// deadline is the overall limit, only reached by a hang: connecting
// (10 ms a connection is ample), the exchange, then more than the bounds
// of the later phases together (drainWait, faultsMax, shutdownMax,
// settleMax), so that a phase that overruns reports itself.
func (p params) deadline() time.Duration {
	return time.Duration(p.conns)*10*time.Millisecond + p.duration + 2*time.Minute
}

// storageKeepMax is the most that closed connections' Storages, all
// together, may keep reachable: their closed net.Conn objects (a Conn
// refers to its socket until the Storage is reused, since a goroutine may
// still be returning from a call on it: about 300 bytes of *net.TCPConn
// and its netFD per connection, the descriptor itself closed), and some
// measurement noise. Windows of history or message buffers (32 KiB and
// more each) do not fit.
func storageKeepMax(conns int) int64 { return 64<<10 + 512*int64(conns) }

// The live heap may end this far above its baseline once the Storages
// are dropped. After two collections the codec's sync.Pools are empty;
// what is left is the runtime's: it never frees a goroutine's descriptor
// (runtime.malg, about 470 bytes, kept for reuse), and each connection
// had three goroutines (the client's sender and receiver, the server's).
// Measured with a heap profile: 0.3 MiB at 200 connections, 7.1 MiB of
// descriptors at 5,000 (15,080 goroutines at once). A leak of even one
// 4 KiB pooled buffer per connection exceeds heapPerConn.
const (
	heapSlack   = 2 << 20
	heapPerConn = 2 << 10
)

// TestLoad runs healthy connections and faults together (see the package
// documentation), then checks that every healthy message made the round
// trip intact and in order, that each fault ended as it must, and that
// nothing was left behind.
func TestLoad(t *testing.T) {
	p := loadParams()
	need := uint64(2*p.conns + 4*p.maxLiveFaults + 256)
	limit, err := raiseFileLimit(need)
	require.NoError(t, err)
	require.GreaterOrEqual(t, limit, need, "the open-file limit is too low for %d connections", p.conns)

	watchdog := startWatchdog(p.deadline())
	defer watchdog.Stop()

	before := takeSnapshot()
	// The clients' memory, kept alive past the first heap measurement: a
	// closed connection must leave nothing reachable from its Storage.
	slab := make([]wsmem.Storage, p.conns)
	o := runLoad(t, p, slab)
	after := settle(before, settleMax)
	o.slabBytes = uint64(len(slab)) * uint64(unsafe.Sizeof(slab[0]))
	runtime.KeepAlive(slab)
	slab = nil
	o.heapNoSlab = takeSnapshot().heap

	o.report(t, p, before, after)
	o.check(t, p)
	assert.LessOrEqual(t, after.goroutines, before.goroutines, "goroutines left behind:\n%s", goroutineDump())
	heapLimit := int64(heapSlack + heapPerConn*p.conns)
	leaked := int64(o.heapNoSlab) - int64(before.heap)
	assert.LessOrEqual(t, leaked, heapLimit, "live heap grew by %d bytes (Storages dropped)", leaked)
	kept := int64(after.heap) - int64(o.heapNoSlab) - int64(o.slabBytes)
	assert.LessOrEqual(t, kept, storageKeepMax(p.conns), "closed connections' Storages keep %d bytes of library memory "+
		"(see TestStorageReleasesDeflateWindowsAfterClose)", kept)
}

// outcome is what a run measured.
type outcome struct {
	st                           *stats
	connected                    int
	peakConns                    int64 // attached server-side connections, healthy and faulty
	peakGoroutines               int
	connectTime, loadTime, drain time.Duration
	sent, sentBytes              int64 // by healthy clients
	echoed, echoedBytes          int64 // echoes they checked
	serverMsgs, serverBytes      int64 // their messages as the server checked them
	via                          [viaCount]int64
	serverVia                    [viaCount]int64
	slabBytes                    uint64 // the clients' Storages
	heapNoSlab                   uint64 // live heap after the Storages were dropped
}

// runLoad runs the server, the healthy clients and the faults, and
// returns once every goroutine it started has ended.
func runLoad(t *testing.T, p params, slab []wsmem.Storage) *outcome {
	o := &outcome{st: newStats()}
	cor := newCorpus(rand.New(rand.NewPCG(p.seed, 0)), 512<<10)
	srvCfg := &wsmem.Config{Compression: wsmem.CompressionConfig{Enabled: true}}
	srv, err := startServer(srvCfg, p.handshakeTimeout, cor, o.st, p.seed)
	require.NoError(t, err)

	t0 := time.Now()
	clients := connectAll(p, srv.addr(), slab, o.st)
	o.connectTime, o.connected = time.Since(t0), len(clients)

	start, stop := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.run(start, stop, cor, o.st, p.seed)
		}()
	}
	in := &injector{srv: srv, plain: &wsmem.Config{}, handshakeTimeout: p.handshakeTimeout}
	injecting := make(chan struct{})
	t1 := time.Now()
	close(start)
	go func() {
		defer close(injecting)
		in.run(stop, p.faultEvery, p.maxLiveFaults, p.seed)
	}()
	time.Sleep(p.duration / 2)
	o.peakGoroutines = runtime.NumGoroutine()
	time.Sleep(p.duration - p.duration/2)
	close(stop)
	o.loadTime = time.Since(t1)

	t2 := time.Now()
	if !waitGroup(&wg, drainWait) {
		t.Fatalf("healthy clients still running %v after the exchange ended:\n%s", drainWait, goroutineDump())
	}
	<-injecting
	if !waitGroup(&in.wg, faultsMax) {
		t.Fatalf("faults still running %v after the exchange ended:\n%s", faultsMax, goroutineDump())
	}
	o.drain = time.Since(t2)
	if !srv.shutdown(shutdownMax) {
		t.Fatalf("server goroutines still running %v after the clients ended:\n%s", shutdownMax, goroutineDump())
	}

	o.peakConns = srv.peak.Load()
	o.serverMsgs, o.serverBytes = srv.messages.Load(), srv.bytes.Load()
	for i := range o.serverVia {
		o.serverVia[i] = srv.via[i].Load()
	}
	for _, cl := range clients {
		o.sent += cl.sent
		o.sentBytes += cl.sentBytes
		o.echoed += cl.echoed
		o.echoedBytes += cl.echoedBytes
		for i, n := range cl.via {
			o.via[i] += n
		}
		o.st.add("clients", modes[cl.mode].name, 1)
	}
	return o
}

// report logs the summary.
func (o *outcome) report(t *testing.T, p params, before, after snapshot) {
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\n") }
	mib := func(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
	line(fmt.Sprintf("loadtest summary (seed %d, %s/%s, GOMAXPROCS %d)", p.seed, runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0)))
	line(fmt.Sprintf("  connections: %d healthy of %d, connected in %v; peak %d attached at once (faults included)",
		o.connected, p.conns, o.connectTime.Round(time.Millisecond), o.peakConns))
	line(fmt.Sprintf("  duration: exchange %v, drain %v; aiming at %d msg/s; fault every %v, at most %d live; HandshakeTimeout %v on the faults' port",
		o.loadTime.Round(time.Millisecond), o.drain.Round(time.Millisecond), p.rate, p.faultEvery, p.maxLiveFaults, p.handshakeTimeout))
	line(fmt.Sprintf("  messages: %d sent, %d echoes checked, %d checked by the server; %.1f msg/s round trips",
		o.sent, o.echoed, o.serverMsgs, float64(o.echoed)/o.loadTime.Seconds()))
	line(fmt.Sprintf("  bytes: %s sent, %s echoed and checked", mib(uint64(o.sentBytes)), mib(uint64(o.echoedBytes))))
	line(fmt.Sprintf("  client methods: Send=%d SendL=%d NextWriter=%d; echoes read by Next=%d NextReader=%d",
		o.via[viaSend], o.via[viaSendL], o.via[viaNextWriter], o.via[viaNext], o.via[viaNextReader]))
	line(fmt.Sprintf("  server echoes: Next+Send=%d NextReader+NextWriter=%d", o.serverVia[viaNext], o.serverVia[viaNextReader]))
	o.st.report(line)
	line(fmt.Sprintf("  goroutines: %d before, %d during, %d after", before.goroutines, o.peakGoroutines, after.goroutines))
	line(fmt.Sprintf("  live heap: %s before; after, %s with the clients' Storages (%s of them) and %s without",
		mib(before.heap), mib(after.heap), mib(o.slabBytes), mib(o.heapNoSlab)))
	line(fmt.Sprintf("  failures: %d", o.st.failed))
	for _, f := range o.st.failures {
		line("    " + f)
	}
	t.Log("\n" + b.String())
}

// check asserts what the run must show: no failure, every healthy message
// back, every fault ended as it must.
func (o *outcome) check(t *testing.T, p params) {
	assert.Zero(t, o.st.failed, "failures (the first are in the summary)")
	assert.Equal(t, p.conns, o.connected, "healthy clients connected")
	assert.GreaterOrEqual(t, o.peakConns, int64(o.connected), "connections attached at once")
	assert.Equal(t, o.sent, o.echoed, "messages sent and echoes checked")
	assert.Equal(t, o.sent, o.serverMsgs, "messages sent and checked by the server")
	assert.Positive(t, o.sent, "messages sent")

	injected := o.st.group("faults injected")
	ended := o.st.group("faults ended as expected")
	for _, f := range faults {
		assert.Positive(t, injected[f.name], "%s faults injected", f.name)
	}
	for name, n := range injected {
		if name != "cut-handshake" { // checked by the server's count below
			assert.Equal(t, n, ended[name], "%s faults that ended as they must", name)
		}
	}
	// Stalled handshakes end with the server's timeout, cut ones with an
	// EOF (or the timeout, if the server's goroutine ran only after it);
	// no other handshake may fail.
	hs := o.st.group("errors: server handshake")
	assert.Equal(t, injected["stalled-handshake"]+injected["cut-handshake"], hs["timeout"]+hs["eof"]+hs["unexpected-eof"],
		"failed handshakes (stalled and cut)")
	assert.GreaterOrEqual(t, hs["timeout"], injected["stalled-handshake"], "handshakes that timed out")
	for kind, n := range hs {
		if kind != "timeout" && kind != "eof" && kind != "unexpected-eof" {
			t.Errorf("%d server handshakes failed with %s", n, kind)
		}
	}
}
