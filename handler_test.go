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

func TestAllocsServe(t *testing.T) {
	skipIfRace(t)
	var stream []byte
	for range 1000 {
		stream = append(stream, cframe(true, OpText, []byte("hello, world"))...)
		stream = append(stream, cframe(true, OpPing, []byte("ping"))...)
	}
	stream = append(stream, cframe(true, OpClose, []byte{0x03, 0xe8})...)
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
		c, err := AttachServer(conns[i], NoHTTP, &storages[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		i++
		if err := c.Serve(h); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per 1000 messages, 1000 pongs and a close")
	require.True(t, bytes.HasSuffix(conns[0].out.Bytes(), sframe(true, OpClose, []byte{0x03, 0xe8})))
	_ = errors.New
}
