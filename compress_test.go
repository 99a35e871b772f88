package wsmem

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/stretchr/testify/require"
)

// countingConn counts the bytes written through it.
type countingConn struct {
	net.Conn
	written atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// compressedPair handshakes a client and a server over loopback TCP with
// the given compression settings on both sides.
func compressedPair(t *testing.T, srvCfg, cliCfg *Config) (*Conn, *Conn, *countingConn) {
	srvNC, cliNC := tcpPair(t)
	counted := &countingConn{Conn: cliNC}
	errc := make(chan error, 1)
	var srv *Conn
	go func() {
		var err error
		srv, err = AttachServer(srvNC, 0, new(Storage), srvCfg)
		errc <- err
	}()
	cli, err := AttachClient(counted, 0, "/", "localhost", new(Storage), cliCfg)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	return srv, cli, counted
}

func jsonLike(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, `{"id":%d,"user":"user-%d","text":"héllo wörld %d","tags":["a","b"]},`, r.IntN(1e6), r.IntN(100), r.IntN(1000))
	}
	return cutUTF8(b.Bytes(), n) // valid text, at most n bytes
}

// Every takeover mode and window size, every receive API, messages below
// the threshold, compressible and incompressible ones, in both directions.
func TestCompressionRoundTrips(t *testing.T) {
	modes := []CompressionConfig{
		{Enabled: true},
		{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true},
		{Enabled: true, ServerMaxWindowBits: 9, ClientMaxWindowBits: 10},
		{Enabled: true, ServerMaxWindowBits: 12, ClientNoContextTakeover: true, Level: 5},
	}
	random := make([]byte, 3000)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	// The run of one letter inflates to over 8 times its compressed size:
	// more than Next's room for a decode at once (messageRoom).
	msgs := [][]byte{[]byte("tiny"), jsonLike(1024, 1), jsonLike(16<<10, 2), random, jsonLike(200<<10, 3), {}, jsonLike(1024, 1), bytes.Repeat([]byte("a"), 50000)}
	for mi, mode := range modes {
		srv, cli, counted := compressedPair(t, &Config{Compression: mode}, &Config{Compression: mode})
		require.True(t, srv.compress && cli.compress, "mode %d not negotiated", mi)
		for dir, pair := range [][2]*Conn{{cli, srv}, {srv, cli}} {
			snd, rcv := pair[0], pair[1]
			errc := make(chan error, 1)
			go func() {
				for range 4 {
					for i, m := range msgs {
						if err := snd.Send(msgType(i), m); err != nil {
							errc <- err
							return
						}
					}
				}
				errc <- nil
			}()
			buf := make([]byte, 300<<10)
			for api := range 4 {
				for i, m := range msgs {
					var got []byte
					var typ Flags
					var err error
					switch api {
					case 0:
						var n int
						n, typ, err = rcv.Recv(buf)
						got = buf[:n]
					case 1:
						typ, got, err = rcv.Next()
					case 2:
						var r *MessageReader
						typ, r, err = rcv.NextReader()
						if err == nil {
							got, err = io.ReadAll(r)
						}
					case 3:
						var n int
						bufs := [][]byte{buf[:100], buf[100:5000], buf[5000:]}
						n, typ, err = rcv.RecvL(bufs)
						got = buf[:n]
					}
					require.NoError(t, err, "mode %d dir %d api %d msg %d", mi, dir, api, i)
					require.Equal(t, msgType(i), typ)
					require.True(t, bytes.Equal(m, got), "mode %d dir %d api %d msg %d: %d bytes, want %d", mi, dir, api, i, len(got), len(m))
				}
			}
			require.NoError(t, <-errc)
		}
		// The client's 4 rounds of ~240 KiB of mostly JSON went out compressed.
		require.Less(t, counted.written.Load(), int64(400<<10), "mode %d", mi)
	}
}

// msgType sends the random message (index 3) as binary, the others as text.
func msgType(i int) Flags {
	if i == 3 {
		return Binary
	}
	return Text
}

// A compressed message that inflates past MaxMessageSize fails with 1009
// while memory stays bounded, whether the limit is hit by the inflated
// size or already by the compressed one.
func TestDecompressionBomb(t *testing.T) {
	for _, size := range []int64{100 << 20, 1 << 30} {
		var z bytes.Buffer
		fw, _ := flate.NewWriter(&z, flate.BestCompression)
		zeros := make([]byte, 1<<20)
		for range size >> 20 {
			_, _ = fw.Write(zeros)
		}
		_ = fw.Flush()
		payload := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
		frame := wireFrame(true, Rsv1, OpBinary, true, testKey, payload)
		zeros, z = nil, bytes.Buffer{}

		req := strings.Replace(chromeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)
		m := &memConn{in: cat([]byte(req), frame)}
		frame, payload = nil, nil
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := AttachServer(m, 0, new(Storage), &Config{MaxMessageSize: 1 << 20, Compression: CompressionConfig{Enabled: true}})
		require.NoError(t, err)
		buf := make([]byte, 64<<10)
		_, _, err = c.Recv(buf)
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err, ErrMessageTooBig, "size %d", size)
		i := bytes.Index(m.out.Bytes(), []byte{0x88, 0x02})
		require.GreaterOrEqual(t, i, 0)
		require.Equal(t, []byte{0x03, 0xf1}, m.out.Bytes()[i+2:i+4]) // 1009
		growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%d MiB of zeros: heap growth %d KiB, total allocated %d KiB", size>>20, growth>>10, (after.TotalAlloc-before.TotalAlloc)>>10)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20))
	}
}

func TestCorruptCompressedData(t *testing.T) {
	req := strings.Replace(chromeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)
	for _, tc := range []struct {
		name  string
		frame []byte
		code  StatusCode
	}{
		{"garbage", wireFrame(true, Rsv1, OpText, true, testKey, []byte{0xff, 0xff, 0xff, 0xff, 0x00}), StatusProtocolError},
		{"rsv1 on ping", wireFrame(true, Rsv1, OpPing, true, testKey, nil), StatusProtocolError},
		{"rsv1 on continuation", cat(cframe(false, OpText, []byte("a")), wireFrame(true, Rsv1, OpContinuation, true, testKey, []byte("b"))), StatusProtocolError},
		{"rsv2", wireFrame(true, Rsv2, OpText, true, testKey, nil), StatusProtocolError},
	} {
		m := &memConn{in: cat([]byte(req), tc.frame)}
		c, err := AttachServer(m, 0, new(Storage), &Config{Compression: CompressionConfig{Enabled: true}})
		require.NoError(t, err)
		_, _, err = c.Recv(make([]byte, 100))
		require.ErrorIs(t, err, ErrProtocol, tc.name)
		require.True(t, bytes.Contains(m.out.Bytes(), []byte{0x88, 0x02, byte(tc.code >> 8), byte(tc.code)}), tc.name)
	}
	// Without negotiation RSV1 is a protocol error too.
	m := &memConn{in: cat([]byte(chromeRequest), wireFrame(true, Rsv1, OpText, true, testKey, []byte("x")))}
	c, err := AttachServer(m, 0, new(Storage), nil)
	require.NoError(t, err)
	_, _, err = c.Recv(make([]byte, 100))
	require.ErrorIs(t, err, errReservedBits)
}

// TestCompressedInvalidUTF8: a compressed text message that inflates to
// invalid UTF-8 fails Recv with 1007, whole (wsmem's decoder) or into a
// buffer too short for it (klauspost's, streaming), with and without
// context takeover; a valid one before it is received intact.
func TestCompressedInvalidUTF8(t *testing.T) {
	req := strings.Replace(chromeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)
	good := jsonLike(2000, 7)
	bad := append(jsonLike(2000, 8), 0xc3, 0x28, 'x') // 0xc3 0x28: not UTF-8
	for _, takeover := range []bool{true, false} {
		frames := compressedFrames(t, takeover, good, bad)
		for _, room := range []int{4096, 1000} {
			hdr := req
			if !takeover {
				hdr = strings.Replace(req, "permessage-deflate", "permessage-deflate; client_no_context_takeover", 1)
			}
			m := &memConn{in: cat([]byte(hdr), frames)}
			c, err := AttachServer(m, 0, new(Storage), &Config{Compression: CompressionConfig{Enabled: true}})
			require.NoError(t, err)
			buf := make([]byte, 4096)
			n, _, err := c.Recv(buf)
			require.NoError(t, err)
			require.Equal(t, good, buf[:n])
			_, _, err = c.Recv(buf[:room])
			require.ErrorIs(t, err, errInvalidUTF8, "takeover %v, room %d", takeover, room)
			require.True(t, bytes.Contains(m.out.Bytes(), []byte{0x88, 0x02, 0x03, 0xef}), "close 1007 (takeover %v, room %d)", takeover, room)
		}
		// Next and the event loop, which decode at once too.
		params := deflateParams{serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover}
		m := &memConn{in: bytes.Clone(frames)}
		c, err := AttachServer(m, NoHTTP, new(Storage), nil)
		require.NoError(t, err)
		c.enableDeflate(params)
		_, view, err := c.Next()
		require.NoError(t, err)
		require.Equal(t, good, view)
		_, _, err = c.Next()
		require.ErrorIs(t, err, errInvalidUTF8, "Next, takeover %v", takeover)
		require.True(t, bytes.Contains(m.out.Bytes(), []byte{0x88, 0x02, 0x03, 0xef}), "Next: close 1007 (takeover %v)", takeover)
		p := NewPushServer(NoHTTP, new(Storage), nil)
		p.enableDeflate(params)
		r, out, err := feedAll(t, p, frames, nil)
		require.ErrorIs(t, err, errInvalidUTF8, "Feed, takeover %v", takeover)
		require.Equal(t, []string{"text:" + string(good)}, r.msgs)
		require.True(t, bytes.Contains(out, []byte{0x88, 0x02, 0x03, 0xef}), "Feed: close 1007 (takeover %v)", takeover)
	}
}

// compressedFrames returns msgs compressed in turn, with or without
// context takeover, each in a masked text frame with RSV1 set.
func compressedFrames(t *testing.T, takeover bool, msgs ...[]byte) []byte {
	var win *deflateWindow
	if takeover {
		win = newDeflateWindow(15)
	}
	var frames []byte
	for _, m := range msgs {
		z, ok := compressMessage(nil, m, 1, 15, win)
		require.True(t, ok)
		frames = append(frames, wireFrame(true, Rsv1, OpText, true, testKey, z)...)
	}
	return frames
}

func TestAllocsCompressed(t *testing.T) {
	skipIfRace(t)
	for _, takeover := range []bool{true, false} {
		cc := CompressionConfig{Enabled: true, ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover}
		srv, cli, _ := compressedPair(t, &Config{Compression: cc}, &Config{Compression: cc})
		msg := jsonLike(4096, 9)
		buf := make([]byte, 8192)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := srv.Recv(buf); err != nil {
					return
				}
			}
		}()
		requireNoAllocs(t, fmt.Sprint("compressed client Send, takeover ", takeover), func() {
			if err := cli.Send(Text, msg); err != nil {
				t.Fatal(err)
			}
		})
		require.NoError(t, cli.Close())
		<-done

		// Receive side: a replayed stream of one compressed message.
		var stream bytes.Buffer
		m := &memConn{}
		sc, err := AttachServer(m, NoHTTP, new(Storage), nil)
		require.NoError(t, err)
		sc.enableDeflate(deflateParams{serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover})
		_ = stream
		zc := clientOn(t, &memConn{}, 0, nil)
		zc.enableDeflate(deflateParams{serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover})
		zm := zc.nc.(*memConn)
		for range 300 {
			require.NoError(t, zc.Send(Text, msg))
		}
		m.in = zm.out.Bytes()
		rbuf := make([]byte, 8192)
		requireNoAllocs(t, fmt.Sprint("compressed Recv, takeover ", takeover), func() {
			n, _, err := sc.Recv(rbuf)
			if err != nil || n != len(msg) {
				t.Fatal(n, err)
			}
		})
		lc, err := AttachServer(&memConn{in: zm.out.Bytes()}, NoHTTP, new(Storage), nil)
		require.NoError(t, err)
		lc.enableDeflate(deflateParams{serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover})
		lbufs := [][]byte{make([]byte, 1000), make([]byte, 8192)}
		requireNoAllocs(t, fmt.Sprint("compressed RecvL, takeover ", takeover), func() {
			n, _, err := lc.RecvL(lbufs)
			if err != nil || n != len(msg) {
				t.Fatal(n, err)
			}
		})
		nc, err := AttachServer(&memConn{in: zm.out.Bytes()}, NoHTTP, new(Storage), nil)
		require.NoError(t, err)
		nc.enableDeflate(deflateParams{serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover})
		requireNoAllocs(t, fmt.Sprint("compressed Next, takeover ", takeover), func() {
			_, view, err := nc.Next()
			if err != nil || len(view) != len(msg) {
				t.Fatal(len(view), err)
			}
		})
		if !takeover { // the same frame again and again: only without history
			params := deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true}
			one := clientOn(t, &memConn{}, 0, nil)
			one.enableDeflate(params)
			require.NoError(t, one.Send(Text, msg))
			frame := one.nc.(*memConn).out.Bytes()
			p := NewPushServer(NoHTTP, new(Storage), nil)
			p.enableDeflate(params)
			in := make([]byte, len(frame))
			h := &lengthHandler{}
			requireNoAllocs(t, "compressed Feed", func() {
				copy(in, frame) // Feed unmasks in place
				h.lengths = 0
				if _, err := p.Feed(in, h, nil); err != nil || h.lengths != len(msg) {
					t.Fatal(h.lengths, err)
				}
			})
		}
	}
}

// lengthHandler adds up the lengths of the messages Feed delivers.
type lengthHandler struct {
	NopHandler
	lengths int
}

func (h *lengthHandler) OnMessage(_ *Conn, _ Flags, data []byte) { h.lengths += len(data) }

// BenchmarkRecvCompressed receives compressed messages of the kind
// BenchmarkDeflate sends from a replayed stream, with the event loop's
// Feed (one message's frame per call), Recv, Next and RecvL (two
// buffers), with and without context takeover: the receive path's own
// work on top of the decoder's.
func BenchmarkRecvCompressed(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		msgs := deflateBenchMessages(size)
		for _, takeover := range []bool{true, false} {
			params := deflateParams{serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover}
			zc := clientOn(b, &memConn{}, 0, nil)
			zc.enableDeflate(params)
			out := &zc.nc.(*memConn).out
			ends := make([]int, len(msgs)) // where each message's frame ends
			for i, m := range msgs {
				if err := zc.Send(Text, m); err != nil {
					b.Fatal(err)
				}
				ends[i] = out.Len()
			}
			stream := out.Bytes()
			for _, api := range []string{"Feed", "Recv", "Next", "RecvL"} {
				b.Run(fmt.Sprintf("%dKiB/takeover=%v/api=%s", size>>10, takeover, api), func(b *testing.B) {
					buf := make([]byte, max(size, len(stream)))
					h := &lengthHandler{}
					b.SetBytes(int64(size))
					b.ReportAllocs()
					var c *Conn
					i := len(msgs)
					for b.Loop() {
						if i == len(msgs) { // replay the stream from its start
							if api == "Feed" {
								c = NewPushServer(NoHTTP, new(Storage), nil)
							} else {
								var err error
								if c, err = AttachServer(&memConn{in: stream}, NoHTTP, new(Storage), nil); err != nil {
									b.Fatal(err)
								}
							}
							c.enableDeflate(params)
							i = 0
						}
						var n int
						var err error
						switch api {
						case "Feed": // one message's frame per call
							start := 0
							if i > 0 {
								start = ends[i-1]
							}
							in := append(buf[:0], stream[start:ends[i]]...) // Feed unmasks in place
							h.lengths = 0
							_, err = c.Feed(in, h, nil)
							n = h.lengths
						case "Recv":
							n, _, err = c.Recv(buf[:size])
						case "Next":
							var view []byte
							_, view, err = c.Next()
							n = len(view)
						case "RecvL": // two buffers: the first a quarter of the message
							n, _, err = c.RecvL([][]byte{buf[:size/4], buf[size/4 : size]})
						}
						if err != nil || n != len(msgs[i]) {
							b.Fatal(n, err)
						}
						i++
					}
				})
			}
		}
	}
}

// A message longer than Recv's buffer is inflated to its end into the
// room behind the gathered compressed message, which must not reach the
// 00 00 FF FF tail put back behind it: large messages (more plaintext than
// the decompressor's 32 KiB window, so that inflating pauses before the
// tail is read) are cut short, and the next message still arrives intact,
// with and without context takeover.
func TestCompressedShortBufferKeepsTail(t *testing.T) {
	for _, mode := range []CompressionConfig{
		{Enabled: true},
		{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true},
	} {
		srv, cli, _ := compressedPair(t, &Config{Compression: mode}, &Config{Compression: mode})
		msgs := [][]byte{jsonLike(200<<10, 21), jsonLike(100<<10, 22), jsonLike(5000, 23)}
		errc := make(chan error, 1)
		go func() {
			for range 3 {
				for _, m := range msgs {
					if err := cli.Send(Text, m); err != nil {
						errc <- err
						return
					}
				}
			}
			errc <- nil
		}()
		small := make([]byte, 1000)
		big := make([]byte, 300<<10)
		for range 3 {
			for i, m := range msgs {
				if i < 2 {
					n, _, err := srv.Recv(small)
					require.ErrorIs(t, err, ErrShortBuffer)
					require.Equal(t, m[:n], small[:n])
					continue
				}
				n, typ, err := srv.Recv(big)
				require.NoError(t, err)
				require.Equal(t, Text, typ)
				require.True(t, bytes.Equal(m, big[:n]))
			}
		}
		require.NoError(t, <-errc)
	}
}

// TestRecvLCompressed receives compressed messages with RecvL, with and
// without context takeover: across three buffers (decoded at once, then
// copied across), into one (decoded into it), into buffers one byte short
// (ErrShortBuffer, the bytes that fit kept, the next message intact, taken
// with Next), and a message of invalid UTF-8 (1007).
func TestRecvLCompressed(t *testing.T) {
	req := strings.Replace(chromeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)
	msgs := [][]byte{jsonLike(5000, 31), jsonLike(6000, 32), jsonLike(5000, 33), jsonLike(4000, 34)}
	bad := append(jsonLike(2000, 35), 0xc3, 0x28, 'x') // 0xc3 0x28: not UTF-8
	for _, takeover := range []bool{true, false} {
		hdr := req
		if !takeover {
			hdr = strings.Replace(req, "permessage-deflate", "permessage-deflate; client_no_context_takeover", 1)
		}
		m := &memConn{in: cat([]byte(hdr), compressedFrames(t, takeover, append(msgs, bad)...))}
		c, err := AttachServer(m, 0, new(Storage), &Config{Compression: CompressionConfig{Enabled: true}})
		require.NoError(t, err)
		buf := make([]byte, 8000)
		n, typ, err := c.RecvL([][]byte{buf[:100], buf[100:3000], buf[3000:]})
		require.NoError(t, err, "three buffers, takeover %v", takeover)
		require.Equal(t, Text, typ)
		require.Equal(t, msgs[0], buf[:n], "three buffers, takeover %v", takeover)
		n, _, err = c.RecvL([][]byte{buf})
		require.NoError(t, err, "one buffer, takeover %v", takeover)
		require.Equal(t, msgs[1], buf[:n], "one buffer, takeover %v", takeover)
		short := len(msgs[2]) - 1
		n, _, err = c.RecvL([][]byte{buf[:1000], buf[1000:short]})
		require.ErrorIs(t, err, ErrShortBuffer, "takeover %v", takeover)
		require.Equal(t, short, n)
		require.Equal(t, msgs[2][:short], buf[:n], "buffers one byte short, takeover %v", takeover)
		_, view, err := c.Next() // RecvL finished the message before: Next may take the next
		require.NoError(t, err, "Next after RecvL, takeover %v", takeover)
		require.Equal(t, msgs[3], view, "Next after RecvL, takeover %v", takeover)
		_, _, err = c.RecvL([][]byte{buf[:10], buf[10:]})
		require.ErrorIs(t, err, errInvalidUTF8, "takeover %v", takeover)
		require.True(t, bytes.Contains(m.out.Bytes(), []byte{0x88, 0x02, 0x03, 0xef}), "close 1007 (takeover %v)", takeover)
	}
}

// FuzzRecvCompressed sends two compressed binary messages (any bytes as
// their payloads) to a server with context takeover and receives them with
// Recv into a buffer of the given size, with Next, and through the event
// loop (Feed), and with RecvL into two buffers of the same total size.
// Each must come out as klauspost/compress decodes it with the window the
// first one leaves, whether wsmem's decoder took it or the fallback did: a
// message that decodes (and, for Recv and RecvL, fits) arrives intact, one
// too long for Recv's or RecvL's buffers fills them (ErrShortBuffer), and
// one that does not decode fails the call.
func FuzzRecvCompressed(f *testing.F) {
	win := newDeflateWindow(15)
	a, _ := compressMessage(nil, jsonLike(3000, 1), 1, 15, win)
	b, _ := compressMessage(nil, jsonLike(2000, 2), 1, 15, win)
	f.Add(a, b, uint16(4096))
	f.Add(a, b, uint16(100))
	f.Add([]byte{0x00}, []byte{0xff, 0x00}, uint16(10))
	req := strings.Replace(chromeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)
	const limit = 1 << 20
	cfg := &Config{MaxMessageSize: limit, Compression: CompressionConfig{Enabled: true}}
	f.Fuzz(func(t *testing.T, p1, p2 []byte, room uint16) {
		stream := cat([]byte(req), wireFrame(true, Rsv1, OpBinary, true, testKey, p1), wireFrame(true, Rsv1, OpBinary, true, testKey, p2))
		c, err := AttachServer(&memConn{in: stream}, 0, new(Storage), cfg)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := AttachServer(&memConn{in: stream}, 0, new(Storage), cfg)
		if err != nil {
			t.Fatal(err)
		}
		lc, err := AttachServer(&memConn{in: stream}, 0, new(Storage), cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, _, ferr := feedAll(t, NewPushServer(0, new(Storage), cfg), stream, nil)
		ref := newDeflateWindow(15)
		buf := make([]byte, room)
		lbuf := make([]byte, room)
		lbufs := [][]byte{lbuf[:room/3], lbuf[room/3:]}
		recvDone, recvLDone := false, false
		for i, p := range [][]byte{p1, p2} {
			want, werr := inflateMessage(nil, p, ref, limit)
			_, view, nerr := nc.Next()
			if werr != nil {
				if nerr == nil {
					t.Fatalf("message %d: Next took what klauspost refuses (%v)", i, werr)
				}
				if ferr == nil || len(r.msgs) != i {
					t.Fatalf("message %d: Feed delivered %d messages (%v) where klauspost refuses one (%v)", i, len(r.msgs), ferr, werr)
				}
			}
			// Recv and RecvL: the message, or as much as fits with
			// ErrShortBuffer (the last message those calls take).
			check := func(api string, n int, err error, got []byte) (last bool) {
				switch {
				case werr != nil:
					if err == nil {
						t.Fatalf("message %d: %s took what klauspost refuses (%v)", i, api, werr)
					}
				case len(want) > len(got):
					if err != ErrShortBuffer || !bytes.Equal(got[:n], want[:len(got)]) {
						t.Fatalf("message %d: %s into %d bytes of %d: %v, %d bytes", i, api, len(got), len(want), err, n)
					}
					return true
				case err != nil || !bytes.Equal(got[:n], want):
					t.Fatalf("message %d: %s %v, %d bytes; klauspost %d bytes", i, api, err, n, len(want))
				}
				return false
			}
			if !recvDone {
				n, _, err := c.Recv(buf)
				recvDone = check("Recv", n, err, buf)
			}
			if !recvLDone {
				n, _, err := lc.RecvL(lbufs)
				recvLDone = check("RecvL", n, err, lbuf)
			}
			if werr != nil {
				return
			}
			if nerr != nil || !bytes.Equal(view, want) {
				t.Fatalf("message %d: Next %v, %d bytes; klauspost %d bytes", i, nerr, len(view), len(want))
			}
			if len(r.msgs) <= i || r.msgs[i] != "binary:"+string(want) {
				t.Fatalf("message %d: Feed delivered %d messages (%v); klauspost %d bytes", i, len(r.msgs), ferr, len(want))
			}
		}
		if ferr != nil {
			t.Fatalf("Feed: %v after both messages", ferr)
		}
	})
}

// TestTrialInflateWrappedWindow: once the window of history wraps around
// its ring (34,000 bytes of text with two-byte characters before the last
// message), a compressed text message arriving a byte at a time, in frames
// of 100 bytes, is checked as it comes (trialInflate, at frame ends) and
// decoded at its end, both reading the history in order: it is received
// intact, not failed as invalid UTF-8 or garbled.
func TestTrialInflateWrappedWindow(t *testing.T) {
	req := strings.Replace(chromeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)
	msgs := [][]byte{jsonLike(20000, 1), jsonLike(14000, 2), jsonLike(6000, 3)}
	win := newDeflateWindow(15)
	var frames []byte
	for _, m := range msgs {
		z, ok := compressMessage(nil, m, 1, 15, win)
		require.True(t, ok)
		// In frames of 100 bytes: each frame's end is a point where the
		// message is checked if no more bytes are buffered.
		for op := OpText; len(z) > 0; op = OpContinuation {
			k := min(len(z), 100)
			rsv := uint8(0)
			if op == OpText {
				rsv = Rsv1
			}
			frames = append(frames, wireFrame(k == len(z), rsv, op, true, testKey, z[:k])...)
			z = z[k:]
		}
	}
	for _, chunk := range []int{0, 1} {
		c, err := AttachServer(&memConn{in: cat([]byte(req), frames), chunk: chunk}, 0, new(Storage), &Config{Compression: CompressionConfig{Enabled: true}})
		require.NoError(t, err)
		buf := make([]byte, 40000)
		for i, want := range msgs {
			n, _, err := c.Recv(buf)
			require.NoError(t, err, "message %d, reads of %d bytes", i, chunk)
			require.Equal(t, want, buf[:n], "message %d, reads of %d bytes", i, chunk)
		}
		_, b := c.recvWin.parts()
		require.NotEmpty(t, b, "the window has not wrapped")
	}
}
