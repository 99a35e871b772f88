package wsmem

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// feedAll feeds stream to c in the given chop sizes (cycled; nil: whole)
// and returns the recorder and the output.
func feedAll(t testing.TB, c *Conn, stream []byte, chops []int) (*recorder, []byte, error) {
	r := newRecorder()
	var out []byte
	var err error
	in := bytes.Clone(stream) // Feed unmasks in place
	for i := 0; len(in) > 0 && err == nil; i++ {
		n := len(in)
		if len(chops) > 0 {
			n = min(n, chops[i%len(chops)])
		}
		out, err = c.Feed(in[:n], r, out)
		in = in[n:]
	}
	return r, out, err
}

// Feed gives the same messages, pongs and close as the blocking API, in
// any chops, one byte at a time included.
func TestFeedMatchesBlockingAPI(t *testing.T) {
	big := strings.Repeat("x", 70000)
	stream := cat(
		cframe(true, OpText, []byte("Hello")),
		cframe(true, OpBinary, nil),
		cframe(false, OpText, []byte("frag")),
		cframe(true, OpPing, []byte("ping!")),
		cframe(false, OpContinuation, []byte("men")),
		cframe(true, OpContinuation, []byte("ted")),
		cframe(true, OpBinary, []byte(big)),
		cframe(false, OpText, []byte("\xe2\x82")),
		cframe(true, OpContinuation, []byte("\xac")),
		cframe(true, OpClose, []byte("\x03\xe8bye")),
	)
	want := []string{"text:Hello", "binary:", "text:fragmented", "binary:" + big, "text:€"}
	for _, chops := range [][]int{nil, {1}, {2, 3, 5}, {7, 1000}, {4096}} {
		c := NewPushServer(NoHTTP, new(Storage), nil)
		r, out, err := feedAll(t, c, stream, chops)
		var ce *CloseError
		require.ErrorAs(t, err, &ce, "chops %v", chops)
		require.Equal(t, want, r.msgs, "chops %v", chops)
		require.Equal(t, []string{"ping!"}, r.pings)
		require.Equal(t, 1, r.closed)
		require.Equal(t, StatusNormal, r.code)
		require.Equal(t, "bye", r.reason)
		require.Equal(t, cat(sframe(true, OpPong, []byte("ping!")), sframe(true, OpClose, []byte{0x03, 0xe8})), out)
		// After the close, Feed reports it again and writes nothing.
		out, err = c.Feed([]byte{1, 2, 3}, r, nil)
		require.ErrorAs(t, err, &ce)
		require.Empty(t, out)
		require.Equal(t, 1, r.closed)
	}
}

// A violation is answered with its close code in the output.
func TestFeedViolation(t *testing.T) {
	c := NewPushServer(NoHTTP, new(Storage), nil)
	r, out, err := feedAll(t, c, cat(cframe(true, OpText, []byte("ok")), cframe(true, OpText, []byte{0xc0, 0x80})), []int{3})
	require.ErrorIs(t, err, ErrInvalidUTF8)
	require.Equal(t, []string{"text:ok"}, r.msgs)
	require.Equal(t, StatusInvalidPayload, r.code)
	require.Equal(t, StatusInvalidPayload, closeFrameCode(t, out, false))
}

// The opening handshake, fed in pieces, with frames behind it.
func TestFeedHandshake(t *testing.T) {
	for _, chops := range [][]int{nil, {1}, {10, 300}} {
		c := NewPushServer(0, namedStorage(64), &Config{Subprotocols: []string{"chat"}})
		r, out, err := feedAll(t, c, cat([]byte(chromeRequest), cframe(true, OpText, []byte("early"))), chops)
		require.NoError(t, err)
		br := bufio.NewReader(bytes.NewReader(out))
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, 101, resp.StatusCode)
		require.Equal(t, "chat", resp.Header.Get("Sec-WebSocket-Protocol"))
		require.Equal(t, []string{"text:early"}, r.msgs)
		require.Equal(t, "/chat?room=1", string(c.Resource()))
	}
	// A refused request: 405 in the output, the error returned.
	c := NewPushServer(0, new(Storage), nil)
	_, out, err := feedAll(t, c, []byte(strings.Replace(chromeRequest, "GET", "PUT", 1)), nil)
	require.ErrorIs(t, err, ErrHandshake)
	require.True(t, bytes.HasPrefix(out, []byte("HTTP/1.1 405")))
}

// AppendSend frames exactly as Send does; a push client masks.
func TestAppendSend(t *testing.T) {
	c := NewPushServer(NoHTTP, new(Storage), nil)
	out, err := c.AppendSend(nil, Text, []byte("hi"))
	require.NoError(t, err)
	out, err = c.AppendPing(out, []byte("p"))
	require.NoError(t, err)
	require.Equal(t, cat(sframe(true, OpText, []byte("hi")), sframe(true, OpPing, []byte("p"))), out)

	cl, err := NewPushClient(NoHTTP, new(Storage), nil)
	require.NoError(t, err)
	out, err = cl.AppendSend(nil, Binary, bytes.Repeat([]byte("z"), 5000))
	require.NoError(t, err)
	srv := NewPushServer(NoHTTP, new(Storage), nil)
	r, _, err := feedAll(t, srv, out, []int{777})
	require.NoError(t, err)
	require.Equal(t, []string{"binary:" + strings.Repeat("z", 5000)}, r.msgs)
	_, _, err = srv.Recv(make([]byte, 1))
	require.ErrorIs(t, err, ErrPushMode)
}

// Compressed messages through Feed, both takeover modes.
func TestFeedCompressed(t *testing.T) {
	for _, takeover := range []bool{true, false} {
		params := deflateParams{serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover}
		cl, _ := NewPushClient(NoHTTP, new(Storage), nil)
		cl.enableDeflate(params)
		srv := NewPushServer(NoHTTP, new(Storage), nil)
		srv.enableDeflate(params)
		var stream []byte
		var want []string
		for i := range 20 {
			m := jsonLike(100+rand.IntN(5000), uint64(i))
			if i == 10 { // inflates past the room for a decode at once (messageRoom)
				m = bytes.Repeat([]byte("a"), 50000)
			}
			want = append(want, "text:"+string(m))
			stream, _ = cl.AppendSend(stream, Text, m)
		}
		r, _, err := feedAll(t, srv, stream, []int{1, 100, 3000})
		require.NoError(t, err)
		require.Equal(t, want, r.msgs)
	}
}

func TestAllocsFeed(t *testing.T) {
	skipIfRace(t)
	stream := cat(cframe(true, OpText, []byte("hello, world")), cframe(false, OpBinary, []byte("frag")),
		cframe(true, OpPing, []byte("p")), cframe(true, OpContinuation, []byte("mented")))
	c := NewPushServer(NoHTTP, new(Storage), nil)
	var h NopHandler
	in := make([]byte, len(stream))
	out := make([]byte, 0, 256)
	for _, chunk := range []int{len(stream), 5, 1} {
		requireNoAllocs(t, "Feed", func() {
			copy(in, stream)
			out = out[:0]
			for i := 0; i < len(in); i += chunk {
				var err error
				if out, err = c.Feed(in[i:min(i+chunk, len(in))], h, out); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	requireNoAllocs(t, "AppendSend", func() {
		out, _ = c.AppendSend(out[:0], Binary, in)
	})
}

// The outbound budget in push mode counts the output the loop has not
// written: a send that would take it past Config.MaxQueued is refused and
// leaves the output as it was; an empty output takes any message; pongs
// are dropped past the budget, close frames never are.
func TestPushBudget(t *testing.T) {
	cfg := &Config{MaxQueued: 1000}
	c := NewPushServer(NoHTTP, new(Storage), cfg)
	big := bytes.Repeat([]byte("b"), 5000)
	out, err := c.AppendSend(nil, Binary, big)
	require.NoError(t, err, "an empty output takes any message")
	require.Len(t, out, 5004)
	out, err = c.AppendSend(out, Binary, []byte("x"))
	require.ErrorIs(t, err, ErrRefused)
	require.Len(t, out, 5004)
	out = out[:900] // the loop wrote some out
	out, err = c.AppendSend(out, Text, []byte("fits"))
	require.NoError(t, err)
	require.Len(t, out, 906)
	out, err = c.AppendSend(out, Text, bytes.Repeat([]byte("y"), 100))
	require.ErrorIs(t, err, ErrRefused)
	// A ping fed now gets no pong (906 + 14 + 90 > 1000); the peer's close
	// is still echoed.
	r := newRecorder()
	ping := bytes.Repeat([]byte("p"), 90)
	out, err = c.Feed(cframe(true, OpPing, ping), r, out)
	require.NoError(t, err)
	require.Len(t, out, 906)
	require.Equal(t, []string{string(ping)}, r.pings)
	out, err = c.Feed(cframe(true, OpClose, []byte{3, 232}), r, out)
	require.ErrorAs(t, err, new(*CloseError))
	require.Equal(t, sframe(true, OpClose, []byte{3, 232}), out[906:])

	// With DropSlow the refusal ends the connection.
	c = NewPushServer(NoHTTP, new(Storage), &Config{MaxQueued: 10, DropSlow: true})
	out, err = c.AppendSend(nil, Binary, big)
	require.NoError(t, err)
	_, err = c.AppendSend(out, Binary, big)
	require.ErrorIs(t, err, ErrRefused)
	r = newRecorder()
	_, err = c.Feed(cframe(true, OpText, []byte("late")), r, nil)
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, 1, r.closed)
	require.Empty(t, r.msgs)

	if !raceEnabled {
		c = NewPushServer(NoHTTP, new(Storage), cfg)
		full := make([]byte, 990, 2000)
		requireNoAllocs(t, "refused AppendSend", func() {
			_, err = c.AppendSend(full, Binary, big[:100])
		})
		require.ErrorIs(t, err, ErrRefused)
	}
}

// pushEcho answers every message from inside Feed: with Send (which
// appends to Feed's output) or with AppendSend into a buffer of its own.
type pushEcho struct {
	NopHandler
	own []byte // where AppendSend goes, if useOwn
	use bool
}

func (e *pushEcho) OnMessage(c *Conn, typ Flags, data []byte) {
	if e.use {
		e.own, _ = c.AppendSend(e.own, typ, data)
		return
	}
	_ = c.Send(typ, data)
}

// Sends from a Handler during Feed: Send appends to Feed's output, after
// the pong Feed wrote before it; AppendSend into another buffer leaves
// Feed's output whole. Outside Feed, Send is refused and harms nothing.
func TestPushSendFromHandler(t *testing.T) {
	stream := cat(cframe(true, OpPing, []byte("p")), cframe(true, OpText, []byte("echo me")))
	c := NewPushServer(NoHTTP, new(Storage), nil)
	out, err := c.Feed(bytes.Clone(stream), &pushEcho{}, nil)
	require.NoError(t, err)
	require.Equal(t, cat(sframe(true, OpPong, []byte("p")), sframe(true, OpText, []byte("echo me"))), out)

	c = NewPushServer(NoHTTP, new(Storage), nil)
	h := &pushEcho{use: true}
	out, err = c.Feed(bytes.Clone(stream), h, nil)
	require.NoError(t, err)
	require.Equal(t, sframe(true, OpPong, []byte("p")), out)
	require.Equal(t, sframe(true, OpText, []byte("echo me")), h.own)

	require.ErrorIs(t, c.Send(Text, []byte("outside")), ErrPushMode)
	require.ErrorIs(t, c.Ping(nil), ErrPushMode)
	out, err = c.AppendSend(nil, Text, []byte("still fine"))
	require.NoError(t, err)
	require.Equal(t, sframe(true, OpText, []byte("still fine")), out)

	m := NewPreparedMessage(Text, []byte("to all"), nil)
	out, err = c.AppendPrepared(out[:0], m)
	require.NoError(t, err)
	require.Equal(t, sframe(true, OpText, []byte("to all")), out)
}

// Storage.Conn is the connection NewPushServer returned.
func TestStorageConn(t *testing.T) {
	st := new(Storage)
	c := NewPushServer(NoHTTP, st, nil)
	require.Same(t, c, st.Conn())
}

// Close on a push connection gives back the buffer of a message split
// across reads, at once.
func TestPushCloseFreesBuffers(t *testing.T) {
	c := NewPushServer(NoHTTP, new(Storage), nil)
	frame := cframe(true, OpBinary, bytes.Repeat([]byte("m"), 1000))
	out, err := c.Feed(frame[:500], newRecorder(), nil)
	require.NoError(t, err)
	require.Empty(t, out)
	require.NotNil(t, c.msg)
	require.NoError(t, c.Close())
	require.Nil(t, c.msg)
	// The windows of a compressed connection go back too.
	z := NewPushServer(NoHTTP, new(Storage), nil)
	z.enableDeflate(deflateParams{})
	require.NotNil(t, z.sendWin)
	require.NotNil(t, z.recvWin)
	require.NoError(t, z.Close())
	require.Nil(t, z.sendWin)
	require.Nil(t, z.recvWin)
	r := newRecorder()
	_, err = c.Feed(frame[500:], r, nil)
	require.ErrorIs(t, err, ErrClosed)
	require.Empty(t, r.msgs)
}

// CheckTarget refuses an upgrade by its target with 404, in the raw and
// the push handshakes.
func TestCheckTarget(t *testing.T) {
	cfg := &Config{CheckTarget: func(target, host []byte) bool { return bytes.HasPrefix(target, []byte("/chat")) }}
	m := &memConn{in: []byte(chromeRequest)}
	_, err := AttachServer(m, 0, new(Storage), cfg)
	require.NoError(t, err)
	m = &memConn{in: []byte(strings.Replace(chromeRequest, "/chat?room=1", "/other", 1))}
	_, err = AttachServer(m, 0, new(Storage), cfg)
	var he *HandshakeError
	require.ErrorAs(t, err, &he)
	require.Equal(t, 404, he.Status)
	require.True(t, strings.HasPrefix(m.out.String(), "HTTP/1.1 404 Not Found\r\n"), m.out.String())

	c := NewPushServer(0, new(Storage), cfg)
	out, err := c.Feed([]byte(strings.Replace(chromeRequest, "/chat?room=1", "/other", 1)), newRecorder(), nil)
	require.ErrorAs(t, err, &he)
	require.Equal(t, 404, he.Status)
	require.True(t, strings.HasPrefix(string(out), "HTTP/1.1 404 Not Found\r\n"))
}

// A push client and a push server do the whole opening handshake through
// their outputs and Feed, then exchange frames; the client checks the
// answer it gets.
func TestPushClientHandshake(t *testing.T) {
	cfg := &Config{Subprotocols: []string{"chat"}, Compression: CompressionConfig{Enabled: true}}
	cl, err := NewPushClient(0, namedStorage(64), cfg)
	require.NoError(t, err)
	_, err = cl.AppendSend(nil, Text, []byte("too early"))
	require.ErrorIs(t, err, errUpgradeFirst)
	req, err := cl.AppendUpgrade(nil, "/chat?room=2", "example.com")
	require.NoError(t, err)
	_, err = cl.AppendUpgrade(nil, "/again", "example.com")
	require.ErrorIs(t, err, ErrNotSupported)
	require.Equal(t, "/chat?room=2", string(cl.Resource()))

	srv := NewPushServer(0, new(Storage), cfg)
	sr := newRecorder()
	resp, err := srv.Feed(req, sr, nil)
	require.NoError(t, err)
	require.Equal(t, "chat", srv.Subprotocol())
	// The answer and a first frame in one read, fed a byte at a time.
	resp, err = srv.AppendSend(resp, Text, []byte("welcome"))
	require.NoError(t, err)
	cr := newRecorder()
	var out []byte
	for i := range resp {
		out, err = cl.Feed(resp[i:i+1], cr, out)
		require.NoError(t, err)
	}
	require.Empty(t, out)
	require.Equal(t, []string{"text:welcome"}, cr.msgs)
	require.Equal(t, "chat", cl.Subprotocol())
	require.True(t, cl.Compression())
	msg := bytes.Repeat([]byte("hello push "), 100)
	out, err = cl.AppendSend(nil, Text, msg)
	require.NoError(t, err)
	require.Less(t, len(out), len(msg), "compressed")
	_, err = srv.Feed(out, sr, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"text:" + string(msg)}, sr.msgs)

	// A wrong answer fails the client.
	cl, _ = NewPushClient(0, new(Storage), nil)
	_, err = cl.AppendUpgrade(nil, "/", "example.com")
	require.NoError(t, err)
	bad := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	cr = newRecorder()
	_, err = cl.Feed([]byte(bad), cr, nil)
	require.ErrorIs(t, err, ErrProtocol) // as AttachClient reports it
	require.ErrorContains(t, err, "Sec-WebSocket-Accept")
	require.Equal(t, 1, cr.closed)
}

// An idle push connection holds its Storage and nothing else, even with a
// frame header split across reads: the header's bytes wait in the Storage.
// Only a message's payload split across reads borrows a buffer, and gives
// it back when the message is delivered.
func TestPushIdleHoldsNothing(t *testing.T) {
	holds := func(c *Conn) bool {
		return c.msg != nil || c.zbuf != nil || c.infl != nil || c.rpool != nil || c.partial != nil || c.pending != nil
	}
	c := NewPushServer(NoHTTP, new(Storage), nil)
	frame := cframe(true, OpBinary, bytes.Repeat([]byte("p"), 300)) // an 8-byte header
	r := newRecorder()
	for _, part := range [][]byte{frame[:1], frame[1:5]} {
		out, err := c.Feed(bytes.Clone(part), r, nil)
		require.NoError(t, err)
		require.Empty(t, out)
		require.False(t, holds(c), "a split header took a buffer")
	}
	_, err := c.Feed(bytes.Clone(frame[5:100]), r, nil)
	require.NoError(t, err)
	require.True(t, holds(c), "a split payload waits in a pooled buffer")
	_, err = c.Feed(bytes.Clone(frame[100:]), r, nil)
	require.NoError(t, err)
	require.Len(t, r.msgs, 1)
	require.False(t, holds(c), "the delivered message's buffer stayed")
}
