package wsmem

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The wire examples of RFC 6455 §5.7.
var rfcExamples = []struct {
	name    string
	wire    []byte
	h       Header
	payload string
}{
	{"unmasked text", []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
		Header{Fin: true, OpCode: OpText, Length: 5}, "Hello"},
	{"masked text", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
		Header{Fin: true, OpCode: OpText, Masked: true, Mask: testKey, Length: 5}, "Hello"},
	{"first fragment", []byte{0x01, 0x03, 0x48, 0x65, 0x6c},
		Header{OpCode: OpText, Length: 3}, "Hel"},
	{"last fragment", []byte{0x80, 0x02, 0x6c, 0x6f},
		Header{Fin: true, OpCode: OpContinuation, Length: 2}, "lo"},
	{"unmasked ping", []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
		Header{Fin: true, OpCode: OpPing, Length: 5}, "Hello"},
	{"masked pong", []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
		Header{Fin: true, OpCode: OpPong, Masked: true, Mask: testKey, Length: 5}, "Hello"},
}

func TestHeaderRFCExamples(t *testing.T) {
	for _, ex := range rfcExamples {
		t.Run(ex.name, func(t *testing.T) {
			h, n, err := ParseHeader(ex.wire)
			require.NoError(t, err)
			require.Equal(t, ex.h, h)
			require.Equal(t, ex.h.Size(), n)
			payload := append([]byte(nil), ex.wire[n:]...)
			if h.Masked {
				Mask(payload, h.Mask, 0)
			}
			require.Equal(t, ex.payload, string(payload))
			require.Equal(t, ex.wire[:n], AppendHeader(nil, h))
			// every prefix of the header is "need more"
			for i := range n {
				_, k, err := ParseHeader(ex.wire[:i])
				require.NoError(t, err)
				require.Zero(t, k)
			}
		})
	}
}

func TestHeaderLengths(t *testing.T) {
	// 256 bytes and 64 KiB, as in RFC 6455 §5.7.
	require.Equal(t, []byte{0x82, 0x7E, 0x01, 0x00}, AppendHeader(nil, Header{Fin: true, OpCode: OpBinary, Length: 256}))
	require.Equal(t, []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, AppendHeader(nil, Header{Fin: true, OpCode: OpBinary, Length: 65536}))
	for _, n := range []int64{0, 1, 125, 126, 127, 0xFFFF, 0x10000, 1 << 40, 1<<63 - 1} {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: true, OpCode: OpBinary, Masked: masked, Length: n}
			if masked {
				h.Mask = testKey
			}
			b := AppendHeader(nil, h)
			require.Len(t, b, h.Size())
			got, k, err := ParseHeader(b)
			require.NoError(t, err)
			require.Equal(t, len(b), k)
			require.Equal(t, h, got)
		}
	}
}

func TestHeaderViolations(t *testing.T) {
	cases := []struct {
		name string
		wire []byte
		err  error
	}{
		{"reserved opcode 3", []byte{0x83, 0x00}, errReservedOpcode},
		{"reserved opcode 7", []byte{0x87, 0x00}, errReservedOpcode},
		{"reserved opcode B", []byte{0x8B, 0x00}, errReservedOpcode},
		{"reserved opcode F", []byte{0x8F, 0x00}, errReservedOpcode},
		{"fragmented ping", []byte{0x09, 0x00}, errControlFragmented},
		{"long ping", []byte{0x89, 0x7E, 0x00, 0x7E}, errControlTooLong},
		{"top bit", []byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, errLengthTopBit},
		{"16-bit under 126", []byte{0x82, 0x7E, 0x00, 0x7D}, errLengthNotMinimal},
		{"64-bit under 64K", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, errLengthNotMinimal},
	}
	for _, tc := range cases {
		_, _, err := ParseHeader(tc.wire)
		require.ErrorIs(t, err, tc.err, tc.name)
		require.ErrorIs(t, err, ErrProtocol, tc.name)
	}
	h := Header{OpCode: OpBinary, Rsv: Rsv1}
	require.ErrorIs(t, h.Check(false, 0), errReservedBits)
	require.NoError(t, h.Check(false, Rsv1))
	h = Header{OpCode: OpContinuation, Rsv: Rsv1}
	require.ErrorIs(t, h.Check(false, Rsv1), errCompressedControl)
	h = Header{OpCode: OpBinary}
	require.ErrorIs(t, h.Check(true, 0), errUnmaskedClient)
	h.Masked = true
	require.ErrorIs(t, h.Check(false, 0), errMaskedServer)
}

// recvAll receives every message from c until an error, with Recv into a
// buffer of size bufSize.
func recvAll(c *Conn, bufSize int) (msgs []string, types []Flags, err error) {
	buf := make([]byte, bufSize)
	for {
		n, typ, err := c.Recv(buf)
		if err != nil {
			return msgs, types, err
		}
		msgs = append(msgs, string(buf[:n]))
		types = append(types, typ)
	}
}

// A stream with every frame layout, received whole and in every chop size.
func TestServerReceivesInAnyChops(t *testing.T) {
	big := strings.Repeat("x", 70000)
	mid := strings.Repeat("é", 100) // 200 bytes: 16-bit length
	stream := cat(
		cframe(true, OpText, []byte("Hello")),
		cframe(true, OpBinary, nil),
		cframe(false, OpText, []byte("frag")),
		cframe(true, OpPing, []byte("ping!")),
		cframe(false, OpContinuation, []byte("men")),
		cframe(true, OpContinuation, []byte("ted")),
		cframe(true, OpText, []byte(mid)),
		cframe(true, OpBinary, []byte(big)),
		cframe(false, OpText, []byte("\xe2\x82")), // "€" split across fragments
		cframe(true, OpContinuation, []byte("\xac")),
	)
	want := []string{"Hello", "", "fragmented", mid, big, "€"}
	wantTypes := []Flags{Text, Binary, Text, Text, Binary, Text}
	for _, chunk := range []int{0, 1, 2, 3, 5, 7, 13, 136, 137, 4096} {
		for _, bufSize := range []int{70000, 100000} {
			m := &memConn{in: stream, chunk: chunk}
			c := serverOn(t, m, 0, nil)
			msgs, types, err := recvAll(c, bufSize)
			require.ErrorIs(t, err, io.EOF, "chunk %d", chunk)
			require.Equal(t, want, msgs, "chunk %d", chunk)
			require.Equal(t, wantTypes, types)
			// The ping was answered with a pong carrying its payload.
			require.Equal(t, sframe(true, OpPong, []byte("ping!")), m.out.Bytes())
			code, _ := c.Status()
			require.Equal(t, StatusAbnormal, code)
		}
	}
}

// Next and the streaming reader see the same messages.
func TestNextAndReaderInAnyChops(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 10000)
	stream := cat(
		cframe(true, OpText, []byte("Hello")),
		cframe(false, OpBinary, big[:3000]),
		cframe(true, OpPing, nil),
		cframe(true, OpContinuation, big[3000:]),
		cframe(true, OpBinary, big),
		cframe(true, OpText, nil),
	)
	for _, chunk := range []int{0, 1, 3, 100, 4096} {
		c := serverOn(t, &memConn{in: stream, chunk: chunk}, 0, nil)
		var got [][]byte
		var types []Flags
		for {
			typ, p, err := c.Next()
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
			got = append(got, append([]byte{}, p...))
			types = append(types, typ)
		}
		require.Equal(t, []Flags{Text, Binary, Binary, Text}, types)
		require.Equal(t, [][]byte{[]byte("Hello"), big, big, {}}, got, "chunk %d", chunk)

		c = serverOn(t, &memConn{in: stream, chunk: chunk}, 0, nil)
		got = nil
		for {
			_, r, err := c.NextReader()
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
			p, err := io.ReadAll(r)
			require.NoError(t, err)
			got = append(got, p)
		}
		require.Equal(t, [][]byte{[]byte("Hello"), big, big, {}}, got, "chunk %d", chunk)
	}
}

// Each violation closes the connection with its code and returns its error.
func TestViolationsCloseWithTheRightCode(t *testing.T) {
	long := bytes.Repeat([]byte("a"), 200)
	cases := []struct {
		name   string
		stream []byte
		err    error
		code   StatusCode
		cfg    *Config
	}{
		{"unmasked", sframe(true, OpText, []byte("hi")), errUnmaskedClient, 1002, nil},
		{"rsv1", wireFrame(true, Rsv1, OpText, true, testKey, nil), errReservedBits, 1002, nil},
		{"rsv2", wireFrame(true, Rsv2, OpBinary, true, testKey, nil), errReservedBits, 1002, nil},
		{"rsv3 ping", wireFrame(true, Rsv3, OpPing, true, testKey, nil), errReservedBits, 1002, nil},
		{"opcode 3", cframe(true, 3, nil), errReservedOpcode, 1002, nil},
		{"opcode 0xB", cframe(true, 0xB, nil), errReservedOpcode, 1002, nil},
		{"fragmented ping", cframe(false, OpPing, nil), errControlFragmented, 1002, nil},
		{"ping 126", cframe(true, OpPing, long[:126]), errControlTooLong, 1002, nil},
		{"lone continuation", cframe(true, OpContinuation, []byte("x")), errUnexpectedCont, 1002, nil},
		{"text inside fragments", cat(cframe(false, OpText, []byte("a")), cframe(true, OpText, []byte("b"))), errExpectedCont, 1002, nil},
		{"invalid utf8", cframe(true, OpText, []byte{0xff}), errInvalidUTF8, 1007, nil},
		{"truncated utf8", cframe(true, OpText, []byte{0xe2, 0x82}), errInvalidUTF8, 1007, nil},
		{"utf8 across fragments", cat(cframe(false, OpText, []byte{0xe2}), cframe(true, OpContinuation, []byte{0x28, 0xa1})), errInvalidUTF8, 1007, nil},
		{"close 1 byte", cframe(true, OpClose, []byte{3}), errCloseOneByte, 1002, nil},
		{"close 1004", cframe(true, OpClose, []byte{0x03, 0xEC}), errCloseCode, 1002, nil},
		{"close 1005", cframe(true, OpClose, []byte{0x03, 0xED}), errCloseCode, 1002, nil},
		{"close 999", cframe(true, OpClose, []byte{0x03, 0xE7}), errCloseCode, 1002, nil},
		{"close 5000", cframe(true, OpClose, []byte{0x13, 0x88}), errCloseCode, 1002, nil},
		{"close bad reason", cframe(true, OpClose, []byte{0x03, 0xE8, 0xff}), errInvalidUTF8Close, 1007, nil},
		{"message too big", cframe(true, OpBinary, long), errMessageTooBig, 1009, &Config{MaxMessageSize: 100, MaxFrameSize: 1000}},
		{"frame too big", cframe(true, OpBinary, long), errFrameTooBig, 1009, &Config{MaxFrameSize: 100}},
		{"fragments over limit", cat(cframe(false, OpBinary, nil), cframe(false, OpContinuation, nil), cframe(true, OpContinuation, nil)), errTooManyFrags, 1009, &Config{MaxFragments: 2}},
		{"sum of fragments too big", cat(cframe(false, OpBinary, long[:60]), cframe(true, OpContinuation, long[:60])), errMessageTooBig, 1009, &Config{MaxMessageSize: 100}},
	}
	for _, tc := range cases {
		for _, chunk := range []int{0, 1} {
			m := &memConn{in: tc.stream, chunk: chunk}
			c := serverOn(t, m, 0, tc.cfg)
			_, _, err := recvAll(c, 1000)
			require.ErrorIs(t, err, tc.err, tc.name)
			var perr *ProtocolError
			require.True(t, errors.As(err, &perr), tc.name)
			require.Equal(t, tc.code, perr.Code, tc.name)
			require.Equal(t, tc.code, closeFrameCode(t, m.out.Bytes(), false), tc.name)
			require.True(t, m.closed, tc.name)
			// The error is sticky.
			_, _, err2 := c.Recv(make([]byte, 10))
			require.Equal(t, err, err2)
		}
	}
	// A client rejects masked frames from the server.
	m := &memConn{in: cframe(true, OpText, []byte("hi"))}
	c := clientOn(t, m, 0, nil)
	_, _, err := c.Recv(make([]byte, 10))
	require.ErrorIs(t, err, errMaskedServer)
	require.Equal(t, StatusProtocolError, closeFrameCode(t, m.out.Bytes(), true))
}

// Invalid UTF-8 fails as soon as the byte arrives, before the message ends.
func TestUTF8FailsFast(t *testing.T) {
	// The bad byte comes in the first fragment; the rest never arrives.
	m := &memConn{in: cframe(false, OpText, []byte("ok\xc0"))}
	c := serverOn(t, m, 0, nil)
	_, _, err := c.Recv(make([]byte, 100))
	require.ErrorIs(t, err, ErrInvalidUTF8)
	require.Equal(t, StatusInvalidPayload, closeFrameCode(t, m.out.Bytes(), false))
}

func TestPeerCloseIsEchoed(t *testing.T) {
	m := &memConn{in: cat(cframe(true, OpText, []byte("bye")), cframe(true, OpClose, []byte("\x03\xe8done")))}
	c := serverOn(t, m, 0, nil)
	msgs, _, err := recvAll(c, 100)
	require.Equal(t, []string{"bye"}, msgs)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, StatusNormal, ce.Code)
	require.Equal(t, "done", string(ce.Reason))
	require.ErrorIs(t, err, ErrClosed)
	code, reason := c.Status()
	require.Equal(t, StatusNormal, code)
	require.Equal(t, "done", string(reason))
	require.Equal(t, sframe(true, OpClose, []byte{0x03, 0xe8}), m.out.Bytes())
	require.ErrorIs(t, c.Send(Text, []byte("x")), ErrClosed)

	// A close without a code reports 1005 and is answered with an empty close.
	m = &memConn{in: cframe(true, OpClose, nil)}
	c = serverOn(t, m, 0, nil)
	_, _, err = c.Recv(nil)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, StatusNoStatus, ce.Code)
	require.Equal(t, sframe(true, OpClose, nil), m.out.Bytes())
}

func TestShortBuffer(t *testing.T) {
	m := &memConn{in: cat(
		cframe(true, OpBinary, []byte("0123456789")),
		cframe(false, OpText, []byte("abc")), cframe(true, OpContinuation, nil),
		cframe(true, OpText, []byte("next")),
	)}
	c := serverOn(t, m, 0, nil)
	buf := make([]byte, 3)
	n, typ, err := c.Recv(buf)
	require.ErrorIs(t, err, ErrShortBuffer)
	require.Equal(t, "012", string(buf[:n]))
	require.Equal(t, Binary, typ)
	n, _, err = c.Recv(buf) // exactly fits, then an empty final fragment
	require.NoError(t, err)
	require.Equal(t, "abc", string(buf[:n]))
	n, _, err = c.Recv(buf)
	require.ErrorIs(t, err, ErrShortBuffer)
	require.Equal(t, "nex", string(buf[:n]))
}

func TestTypedSocket(t *testing.T) {
	m := &memConn{in: cat(cframe(true, OpText, []byte("t")), cframe(true, OpBinary, []byte("b")))}
	c, err := AttachServer(m, Text|NoHTTP, nil, nil)
	require.NoError(t, err)
	buf := make([]byte, 10)
	n, err := c.RecvMsg(buf)
	require.NoError(t, err)
	require.Equal(t, "t", string(buf[:n]))
	_, err = c.RecvMsg(buf)
	require.ErrorIs(t, err, ErrProtocol)
	require.Equal(t, StatusUnsupportedData, closeFrameCode(t, m.out.Bytes(), false))
}

func TestRecvL(t *testing.T) {
	payload := []byte(strings.Repeat("abcdefghij", 50))
	for _, chunk := range []int{0, 1, 7, 300} {
		m := &memConn{in: cat(cframe(false, OpBinary, payload[:123]), cframe(true, OpContinuation, payload[123:])), chunk: chunk}
		c := serverOn(t, m, 0, nil)
		bufs := [][]byte{make([]byte, 200), make([]byte, 1), make([]byte, 299)}
		n, typ, err := c.RecvL(bufs)
		require.NoError(t, err)
		require.Equal(t, Binary, typ)
		require.Equal(t, 500, n)
		require.Equal(t, payload, cat(bufs...))
	}
}

// A client's frames are masked on the wire and the caller's bytes are left
// as they were; a server's go out unmasked.
func TestSendWireFormat(t *testing.T) {
	for _, size := range []int{0, 5, 125, 126, 255, 256, 4095, 4096, 5000, 65535, 65536, 100000} {
		payload := bytes.Repeat([]byte{'q'}, size)
		orig := bytes.Clone(payload)

		m := &memConn{}
		s := serverOn(t, m, 0, nil)
		require.NoError(t, s.Send(Binary, payload))
		require.Equal(t, sframe(true, OpBinary, payload), m.out.Bytes())

		m = &memConn{}
		cl := clientOn(t, m, 0, nil)
		require.NoError(t, cl.Send(Text, payload))
		require.Equal(t, orig, payload)
		// the server side of a memConn reads back what the client wrote
		back := serverOn(t, &memConn{in: m.out.Bytes()}, 0, nil)
		buf := make([]byte, size+1)
		n, typ, err := back.Recv(buf)
		require.NoError(t, err)
		require.Equal(t, Text, typ)
		require.Equal(t, payload, buf[:n])
		h, _, _ := ParseHeader(m.out.Bytes())
		require.True(t, h.Masked)
	}
}

func TestSendLAndWriter(t *testing.T) {
	parts := [][]byte{[]byte("ab"), nil, bytes.Repeat([]byte("c"), 300), []byte("d"), []byte("ef"), bytes.Repeat([]byte("g"), 5000)}
	whole := cat(parts...)
	for _, client := range []bool{false, true} {
		s, cl := wsPair(t, nil)
		snd, rcv := s, cl
		if client {
			snd, rcv = cl, s
		}
		errc := make(chan error, 1)
		go func() {
			if err := snd.SendL(Binary, parts); err != nil {
				errc <- err
				return
			}
			w, err := snd.NextWriter(Text)
			if err != nil {
				errc <- err
				return
			}
			for _, p := range parts {
				if _, err := w.Write(p); err != nil {
					errc <- err
					return
				}
			}
			errc <- w.Close()
		}()
		buf := make([]byte, 10000)
		n, typ, err := rcv.Recv(buf)
		require.NoError(t, err)
		require.Equal(t, Binary, typ)
		require.Equal(t, whole, buf[:n])
		n, typ, err = rcv.Recv(buf)
		require.NoError(t, err)
		require.Equal(t, Text, typ)
		require.Equal(t, whole, buf[:n])
		require.NoError(t, <-errc)
	}
}
