package wsmem

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// testKey is the masking key the RFC 6455 §5.7 examples use.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// wireFrame builds a frame byte by byte, independently of AppendHeader and
// Mask, masking with key when masked.
func wireFrame(fin bool, rsv uint8, op OpCode, masked bool, key [4]byte, payload []byte) []byte {
	var b []byte
	b0 := byte(op) | rsv<<4
	if fin {
		b0 |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, b0, m|byte(n))
	case n <= 0xFFFF:
		b = append(b, b0, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, b0, m|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if masked {
		b = append(b, key[:]...)
	}
	for i, c := range payload {
		if masked {
			c ^= key[i%4]
		}
		b = append(b, c)
	}
	return b
}

// cframe is a masked client frame; sframe an unmasked server frame.
func cframe(fin bool, op OpCode, payload []byte) []byte {
	return wireFrame(fin, 0, op, true, testKey, payload)
}

func sframe(fin bool, op OpCode, payload []byte) []byte {
	return wireFrame(fin, 0, op, false, [4]byte{}, payload)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// memConn is an in-memory net.Conn: reads come from in, at most chunk bytes
// at a time (0: no limit), writes go to out. Deadlines are accepted and
// ignored.
type memConn struct {
	in     []byte
	chunk  int
	out    bytes.Buffer
	closed bool
}

func (m *memConn) Read(p []byte) (int, error) {
	if len(m.in) == 0 {
		if m.closed {
			return 0, net.ErrClosed
		}
		return 0, io.EOF
	}
	if m.chunk > 0 && len(p) > m.chunk {
		p = p[:m.chunk]
	}
	n := copy(p, m.in)
	m.in = m.in[n:]
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error) {
	if m.closed {
		return 0, net.ErrClosed
	}
	return m.out.Write(p)
}

func (m *memConn) Close() error                     { m.closed = true; return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// loopConn replays the same stream forever and discards writes: the
// benchmark and allocation-test conn.
type loopConn struct {
	stream []byte
	off    int
}

func (l *loopConn) Read(p []byte) (int, error) {
	n := copy(p, l.stream[l.off:])
	l.off += n
	if l.off == len(l.stream) {
		l.off = 0
	}
	return n, nil
}

func (l *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (l *loopConn) Close() error                     { return nil }
func (l *loopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (l *loopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (l *loopConn) SetDeadline(time.Time) error      { return nil }
func (l *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (l *loopConn) SetWriteDeadline(time.Time) error { return nil }

// serverOn attaches a NoHTTP server to nc.
func serverOn(t testing.TB, nc net.Conn, flags Flags, cfg *Config) *Conn {
	t.Helper()
	c, err := AttachServer(nc, flags|NoHTTP, new(Storage), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clientOn attaches a NoHTTP client to nc.
func clientOn(t testing.TB, nc net.Conn, flags Flags, cfg *Config) *Conn {
	t.Helper()
	c, err := AttachClient(nc, flags|NoHTTP, "/", "localhost", new(Storage), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var srv net.Conn
	var aerr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv, aerr = ln.Accept()
	}()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if aerr != nil {
		t.Fatal(aerr)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return srv, cli
}

// wsPair returns a NoHTTP server and client over loopback TCP.
func wsPair(t testing.TB, cfg *Config) (*Conn, *Conn) {
	s, c := tcpPair(t)
	return serverOn(t, s, 0, cfg), clientOn(t, c, 0, cfg)
}

// closeFrameCode returns the code of the first close frame in out (server
// output, unmasked), or 0.
func closeFrameCode(t testing.TB, out []byte, masked bool) StatusCode {
	t.Helper()
	for len(out) > 0 {
		h, n, err := ParseHeader(out)
		if err != nil || n == 0 {
			t.Fatalf("bad frame in output: %v % x", err, out)
		}
		payload := append([]byte(nil), out[n:n+int(h.Length)]...)
		if h.Masked {
			Mask(payload, h.Mask, 0)
		}
		out = out[n+int(h.Length):]
		if h.OpCode == OpClose {
			if len(payload) < 2 {
				return StatusNoStatus
			}
			return StatusCode(payload[0])<<8 | StatusCode(payload[1])
		}
	}
	return 0
}

func isDeadline(err error) bool { return err != nil && os.IsTimeout(err) }
