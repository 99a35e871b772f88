package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsmem/wsmem"
)

// modes are the clients' compression settings; client i uses modes[i%4].
// The server accepts whatever is offered.
var modes = []struct {
	name string
	cc   wsmem.CompressionConfig
}{
	{"plain", wsmem.CompressionConfig{}},
	{"deflate-takeover", wsmem.CompressionConfig{Enabled: true}},
	{"deflate-no-takeover", wsmem.CompressionConfig{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true}},
	{"deflate-small-windows", wsmem.CompressionConfig{Enabled: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 9}},
}

// The clients' bounds.
const (
	dialTimeout = 20 * time.Second
	// closeWait bounds the wait for the server's answer to a close.
	closeWait = 10 * time.Second
	// slowPause is a slow reader's pause after each chunk of at most
	// slowChunk bytes: a 256 KiB message takes it a quarter of a second.
	slowPause = time.Millisecond
	slowChunk = 1 << 10
)

var errNotNegotiated = errors.New("compression was not negotiated as configured")

// dial connects to the server's target /<kind>/<id> in st, with Dial or
// with net.Dial and AttachClient.
func dial(addr, kind string, id uint32, useDial bool, st *wsmem.Storage, cfg *wsmem.Config) (*wsmem.Conn, error) {
	target := "/" + kind + "/" + strconv.FormatUint(uint64(id), 10)
	if useDial {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		defer cancel()
		return wsmem.Dial(ctx, "ws://"+addr+target, st, cfg)
	}
	nc, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, err
	}
	c, err := wsmem.AttachClient(nc, 0, target, addr, st, cfg)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// connectAll connects the healthy clients, dialers at a time: client i
// uses modes[i%4], its slot in slab, Dial for odd i (else net.Dial and
// AttachClient), and reads slowly if i%slowEvery is slowEvery-1. Clients
// that fail to connect are failures and left out.
func connectAll(p params, addr string, slab []wsmem.Storage, st *stats) []*client {
	cfgs := make([]*wsmem.Config, len(modes))
	for i, m := range modes {
		cfgs[i] = &wsmem.Config{Compression: m.cc}
	}
	clients := make([]*client, p.conns)
	next := make(chan int)
	var wg sync.WaitGroup
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cl := &client{id: uint32(i), mode: i % len(modes), slow: i%p.slowEvery == p.slowEvery-1,
					pace: time.Duration(p.conns) * time.Second / time.Duration(p.rate), expect: make(chan sum, p.window)}
				c, err := dial(addr, "echo", cl.id, i%2 == 1, &slab[i], cfgs[cl.mode])
				if err == nil && c.Compression() != modes[cl.mode].cc.Enabled {
					_ = c.Close()
					err = errNotNegotiated
				}
				if err != nil {
					st.failf("client %d (%s): connecting: %v", i, modes[cl.mode].name, err)
					continue
				}
				cl.c = c
				clients[i] = cl
			}
		}()
	}
	for i := range p.conns {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []*client
	for _, cl := range clients {
		if cl != nil {
			out = append(out, cl)
			if cl.slow {
				st.add("faults injected", "slow-reader", 1)
			}
		}
	}
	return out
}

// client is a healthy connection: it sends random messages with a window
// of messages in flight and checks that every echo comes back whole and
// in order. A slow client reads in small chunks with pauses.
type client struct {
	id     uint32
	mode   int
	slow   bool
	pace   time.Duration // the mean pause before each message
	c      *wsmem.Conn
	expect chan sum // the messages in flight, oldest first; its capacity is the window
	failed atomic.Bool

	// sent and sentBytes are the sending goroutine's; the rest the
	// receiving one's (via gets the sender's counts at the end).
	sent, sentBytes     int64
	echoed, echoedBytes int64
	via                 [viaCount]int64
}

// run exchanges messages from start until stop, then waits for the last
// echoes and ends with the closing handshake.
func (cl *client) run(start, stop <-chan struct{}, cor *corpus, st *stats, seed uint64) {
	<-start
	sent := make(chan [viaCount]int64)
	go func() { sent <- cl.sendLoop(stop, cor, st, seed) }()
	cl.recvLoop(st, seed)
	via := <-sent
	for i := range via {
		cl.via[i] += via[i]
	}
	cl.close(st)
}

// sendLoop sends messages until stop, each after a pause of random length
// (uniform, averaging cl.pace) and after it joined the window, and closes
// the window when done. It returns its counts by method.
func (cl *client) sendLoop(stop <-chan struct{}, cor *corpus, st *stats, seed uint64) (via [viaCount]int64) {
	defer close(cl.expect)
	s := sender{rng: rand.New(rand.NewPCG(seed, uint64(cl.id)<<1))}
	pause := time.NewTimer(0)
	defer pause.Stop()
	for seq := range uint32(maxMessagesPerConn) {
		pause.Reset(time.Duration(s.rng.Int64N(2*int64(cl.pace) + 1)))
		select {
		case <-stop:
			return via
		case <-pause.C:
		}
		m := cor.randomMessage(s.rng, cl.id, seq)
		cl.expect <- m.sum // waits while the window is full
		how, err := s.send(cl.c, &m)
		if err != nil {
			cl.fail(st, fmt.Errorf("send seq %d by %s: %w", seq, viaNames[how], err))
			return via
		}
		cl.sent++
		cl.sentBytes += int64(m.size)
		via[how]++
	}
	return via
}

// recvLoop checks the echo of every message in the window, in order.
func (cl *client) recvLoop(st *stats, seed uint64) {
	r := receiver{rng: rand.New(rand.NewPCG(seed, uint64(cl.id)<<1|1<<40)), buf: make([]byte, 4<<10)}
	if cl.slow {
		r.buf, r.pause, r.streamOnly = r.buf[:slowChunk], slowPause, true
	}
	var k checker
	for want := range cl.expect {
		if cl.failed.Load() {
			continue // let the sender finish
		}
		typ, how, err := r.receive(cl.c, &k)
		if err != nil {
			cl.fail(st, fmt.Errorf("receive echo of seq %d by %s: %w", want.seq, viaNames[how], err))
			continue
		}
		got, err := k.result(typ)
		if err == nil && got != want {
			err = fmt.Errorf("echo %+v, want %+v", got, want)
		}
		if err != nil {
			cl.fail(st, err)
			continue
		}
		cl.echoed++
		cl.echoedBytes += int64(got.size)
		cl.via[how]++
	}
}

// fail records the first failure of the client and closes its connection,
// which ends the other goroutine's call.
func (cl *client) fail(st *stats, err error) {
	if cl.failed.Swap(true) {
		return
	}
	st.failf("client %d (%s, slow %v): %v", cl.id, modes[cl.mode].name, cl.slow, err)
	_ = cl.c.Close()
}

// close performs the closing handshake: Done, then the server's answer,
// which must be a close with 1000.
func (cl *client) close(st *stats) {
	defer cl.c.Close()
	if cl.failed.Load() {
		return
	}
	err := cl.c.Done(wsmem.StatusNormal, nil)
	if err == nil {
		_ = cl.c.SetReadDeadline(time.Now().Add(closeWait))
		_, _, err = cl.c.Next()
	}
	st.err("client healthy end", err)
	switch {
	case !isNormalClose(err):
		st.failf("client %d: closing handshake ended with %v", cl.id, err)
	case cl.slow:
		st.add("faults ended as expected", "slow-reader", 1)
	}
}
