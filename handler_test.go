package wsmem

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorder is a Handler that records what it sees.
type recorder struct {
	NopHandler
	mu     sync.Mutex
	msgs   []string
	pings  []string
	pongs  []string
	closed int
	code   StatusCode
	reason string
	err    error
	done   chan struct{}
}

func newRecorder() *recorder { return &recorder{done: make(chan struct{})} }

func (r *recorder) OnMessage(_ *Conn, typ Flags, data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, typ.String()+":"+string(data))
	r.mu.Unlock()
}

func (r *recorder) OnPing(_ *Conn, data []byte) {
	r.mu.Lock()
	r.pings = append(r.pings, string(data))
	r.mu.Unlock()
}

func (r *recorder) OnPong(_ *Conn, data []byte) {
	r.mu.Lock()
	r.pongs = append(r.pongs, string(data))
	r.mu.Unlock()
}

func (r *recorder) OnClose(_ *Conn, code StatusCode, reason []byte, err error) {
	r.mu.Lock()
	r.closed++
	r.code, r.reason, r.err = code, string(reason), err
	r.mu.Unlock()
	close(r.done)
}

func TestServeEvents(t *testing.T) {
	cases := []struct {
		name   string
		stream []byte
		code   StatusCode
		err    error
	}{
		{"peer closes", cat(cframe(true, OpText, []byte("a")), cframe(true, OpPing, []byte("p")), cframe(true, OpPong, []byte("rtt")), cframe(false, OpBinary, []byte("b")), cframe(true, OpContinuation, []byte("c")), cframe(true, OpClose, []byte("\x0f\xa0app"))), 4000, nil},
		{"drop", cat(cframe(true, OpText, []byte("a")), cframe(true, OpPing, []byte("p")), cframe(false, OpBinary, []byte("b")), cframe(true, OpContinuation, []byte("c"))), StatusAbnormal, io.ErrUnexpectedEOF},
		{"violation", cat(cframe(true, OpText, []byte("a")), cframe(true, OpPing, []byte("p")), cframe(false, OpBinary, []byte("b")), cframe(true, OpContinuation, []byte("c")), cframe(true, OpText, []byte{0xff})), StatusInvalidPayload, ErrInvalidUTF8},
	}
	for _, tc := range cases {
		r := newRecorder()
		m := &memConn{in: tc.stream}
		c := serverOn(t, m, 0, nil)
		err := c.Serve(r)
		require.Equal(t, []string{"text:a", "binary:bc"}, r.msgs, tc.name)
		require.Equal(t, []string{"p"}, r.pings, tc.name)
		if tc.err == nil {
			require.Equal(t, []string{"rtt"}, r.pongs, tc.name)
		}
		require.Equal(t, 1, r.closed, tc.name)
		require.Equal(t, tc.code, r.code, tc.name)
		if tc.err == nil {
			require.NoError(t, err)
			require.NoError(t, r.err)
			require.Equal(t, "app", r.reason)
		} else {
			require.ErrorIs(t, err, tc.err, tc.name)
			require.ErrorIs(t, r.err, tc.err, tc.name)
		}
	}
}

// A peer that answers pings stays; one that goes silent is closed after
// IdleTimeout.
func TestServeHeartbeat(t *testing.T) {
	cfg := &Config{PingInterval: 20 * time.Millisecond, IdleTimeout: 120 * time.Millisecond}

	// A live peer: its receive loop answers the pings automatically.
	srv, cli := wsPair(t, cfg)
	r := newRecorder()
	go func() { _ = srv.Serve(r) }()
	go func() {
		buf := make([]byte, 16)
		for {
			if _, _, err := cli.Recv(buf); err != nil {
				return
			}
		}
	}()
	select {
	case <-r.done:
		t.Fatalf("a live peer was closed: %v", r.err)
	case <-time.After(400 * time.Millisecond):
	}
	require.NoError(t, cli.Close())
	<-r.done

	// A silent peer: reads nothing, answers nothing.
	srvNC, _ := tcpPair(t)
	srv = serverOn(t, srvNC, 0, cfg)
	r = newRecorder()
	start := time.Now()
	err := srv.Serve(r)
	require.ErrorIs(t, err, ErrIdle)
	require.ErrorIs(t, r.err, ErrIdle)
	require.Equal(t, StatusAbnormal, r.code)
	require.GreaterOrEqual(t, time.Since(start), cfg.IdleTimeout)
}

// With a wait of 100 ms or more the heartbeat's read deadline moves with
// the coarse clock (armHeartbeat): a peer that keeps sending is never
// pinged, since the deadline keeps moving ahead of it, and a silent one is
// pinged every PingInterval and closed after IdleTimeout.
func TestServeHeartbeatCoarse(t *testing.T) {
	cfg := &Config{PingInterval: 150 * time.Millisecond, IdleTimeout: 400 * time.Millisecond}
	msg := []byte{0x82, 0x84, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2, 'c' ^ 3, 'd' ^ 4}

	// A peer sending every 10 ms for 600 ms: nothing comes back.
	s, cl := tcpPair(t)
	srv := serverOn(t, s, 0, cfg)
	r := newRecorder()
	go func() { _ = srv.Serve(r) }()
	got := make(chan int, 1)
	go func() {
		buf := make([]byte, 64)
		n, _ := cl.Read(buf) // a ping, or 0 when the test closes cl
		got <- n
	}()
	for start := time.Now(); time.Since(start) < 600*time.Millisecond; {
		_, err := cl.Write(msg)
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case n := <-got:
		t.Fatalf("the server sent %d bytes (a ping) to a peer that kept sending", n)
	default:
	}
	require.NoError(t, cl.Close())
	<-r.done
	require.Greater(t, len(r.msgs), 30)

	// A silent peer: pinged, then closed.
	s, cl = tcpPair(t)
	srv = serverOn(t, s, 0, cfg)
	r = newRecorder()
	start := time.Now()
	err := srv.Serve(r)
	require.ErrorIs(t, err, ErrIdle)
	require.GreaterOrEqual(t, time.Since(start), cfg.IdleTimeout)
	require.NoError(t, cl.SetReadDeadline(time.Now().Add(time.Second)))
	head := make([]byte, 2)
	_, err = io.ReadFull(cl, head)
	require.NoError(t, err)
	require.Equal(t, byte(0x89), head[0], "the first frame to a silent peer is a ping")
}

func TestAllocsServe(t *testing.T) {
	skipIfRace(t)
	var stream []byte
	for range 1000 {
		stream = append(stream, cframe(true, OpText, []byte("hello, world"))...)
		stream = append(stream, cframe(true, OpPing, []byte("ping"))...)
	}
	stream = append(stream, cframe(true, OpClose, []byte{0x03, 0xe8})...)
	// Without a heartbeat, with one on the coarse clock, and with one
	// short enough for exact deadlines.
	for _, cfg := range []*Config{nil, {PingInterval: 30 * time.Second}, {IdleTimeout: 50 * time.Millisecond}} {
		const runs = 20
		conns := make([]*memConn, runs+1)
		storages := make([]Storage, runs+1)
		for i := range conns {
			conns[i] = &memConn{in: stream}
			conns[i].out.Grow(20000)
		}
		var h NopHandler
		i := 0
		allocs := testing.AllocsPerRun(runs, func() {
			c, err := AttachServer(conns[i], NoHTTP, &storages[i], cfg)
			if err != nil {
				t.Fatal(err)
			}
			i++
			if err := c.Serve(h); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "allocations per 1000 messages, 1000 pongs and a close (config %+v)", cfg)
		require.True(t, bytes.HasSuffix(conns[0].out.Bytes(), sframe(true, OpClose, []byte{0x03, 0xe8})))
	}
	_ = errors.New
}
