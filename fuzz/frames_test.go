package fuzz

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsmem/wsmem"
)

// FuzzParseHeader: no input panics, and every accepted header writes back
// to exactly the bytes it was parsed from (lengths must be minimal).
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x05})
	f.Add([]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d})
	f.Add([]byte{0x82, 0x7E, 0x01, 0x00})
	f.Add([]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := wsmem.ParseHeader(b)
		if err != nil || n == 0 {
			return
		}
		if n != h.Size() {
			t.Fatalf("size %d, Size() %d", n, h.Size())
		}
		if got := wsmem.AppendHeader(nil, h); !bytes.Equal(got, b[:n]) {
			t.Fatalf("round trip: % x -> %+v -> % x", b[:n], h, got)
		}
		if h.OpCode.IsReserved() || (h.OpCode.IsControl() && (!h.Fin || h.Length > 125)) || h.Length < 0 {
			t.Fatalf("accepted an invalid header %+v", h)
		}
	})
}

// chopConn is an in-memory peer that hands out its bytes in the chop sizes
// it was given, and records what the codec writes.
type chopConn struct {
	in    []byte
	chops []byte
	out   bytes.Buffer
}

func (c *chopConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(c.chops) > 0 {
		n = min(n, int(c.chops[0])+1)
		c.chops = c.chops[1:]
	}
	n = copy(p[:n], c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *chopConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *chopConn) Close() error                     { return nil }
func (c *chopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *chopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *chopConn) SetDeadline(time.Time) error      { return nil }
func (c *chopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chopConn) SetWriteDeadline(time.Time) error { return nil }

// outcome is what a server made of a byte stream: the messages, the final
// error's close code (or 1006 for a drop), and what it wrote back.
type outcome struct {
	msgs  [][]byte
	types []wsmem.Flags
	code  wsmem.StatusCode
	out   []byte
}

var fuzzConfig = &wsmem.Config{MaxMessageSize: 1 << 16, MaxFragments: 64}

// collector is a Handler that records messages for the push API.
type collector struct {
	wsmem.NopHandler
	o *outcome
}

func (c collector) OnMessage(_ *wsmem.Conn, typ wsmem.Flags, data []byte) {
	c.o.msgs = append(c.o.msgs, bytes.Clone(data))
	c.o.types = append(c.o.types, typ)
}

// push feeds stream to a push server in the chop sizes given.
func push(t *testing.T, stream, chops []byte) outcome {
	var o outcome
	c := wsmem.NewPushServer(wsmem.NoHTTP, nil, fuzzConfig)
	in := bytes.Clone(stream)
	var out []byte
	var err error
	for len(in) > 0 && err == nil {
		n := len(in)
		if len(chops) > 0 {
			n = min(n, int(chops[0])+1)
			chops = chops[1:]
		}
		out, err = c.Feed(in[:n], collector{o: &o}, out)
		in = in[n:]
	}
	o.out = out
	var pe *wsmem.ProtocolError
	var ce *wsmem.CloseError
	switch {
	case err == nil:
		o.code = wsmem.StatusAbnormal // the stream ended without a close
	case errors.As(err, &pe):
		o.code = pe.Code
	case errors.As(err, &ce):
		o.code = ce.Code
	default:
		t.Fatalf("unexpected error %v", err)
	}
	return o
}

func receive(t *testing.T, stream, chops []byte, api int) outcome {
	if api == 3 {
		return push(t, stream, chops)
	}
	conn := &chopConn{in: stream, chops: chops}
	c, err := wsmem.AttachServer(conn, wsmem.NoHTTP, nil, fuzzConfig)
	if err != nil {
		t.Fatal(err)
	}
	var o outcome
	buf := make([]byte, 1<<16)
	for i := 0; ; i++ {
		if i > len(stream) {
			t.Fatal("more messages than bytes")
		}
		var typ wsmem.Flags
		var p []byte
		switch api {
		case 0:
			var n int
			n, typ, err = c.Recv(buf)
			p = buf[:n]
		case 1:
			typ, p, err = c.Next()
		case 2:
			var r *wsmem.MessageReader
			typ, r, err = c.NextReader()
			if err == nil {
				p, err = io.ReadAll(r)
			}
		}
		if err != nil {
			var pe *wsmem.ProtocolError
			var ce *wsmem.CloseError
			switch {
			case errors.As(err, &pe):
				o.code = pe.Code
			case errors.As(err, &ce):
				o.code = ce.Code
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				o.code = wsmem.StatusAbnormal
			default:
				t.Fatalf("unexpected error %v", err)
			}
			o.out = conn.out.Bytes()
			return o
		}
		o.msgs = append(o.msgs, bytes.Clone(p))
		o.types = append(o.types, typ)
	}
}

// FuzzReceive: any byte stream, split at any points, gives the same
// messages, the same close code and the same bytes written back, whichever
// receive API reads it — Recv, Next, the streaming reader or the push
// parser (Feed); nothing panics or hangs.
func FuzzReceive(f *testing.F) {
	mask := func(b []byte) []byte {
		k := [4]byte{1, 2, 3, 4}
		out := append([]byte(nil), b...)
		wsmem.Mask(out[6:], k, 0)
		return out
	}
	f.Add(mask([]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}), []byte{0, 3, 1})
	f.Add(mask([]byte{0x01, 0x82, 1, 2, 3, 4, 0xe2, 0x82}), []byte{})
	f.Add(mask([]byte{0x89, 0x81, 1, 2, 3, 4, 'p'}), []byte{5})
	f.Add(mask([]byte{0x88, 0x82, 1, 2, 3, 4, 0x03, 0xe8}), []byte{1})
	f.Fuzz(func(t *testing.T, stream, chops []byte) {
		whole := receive(t, stream, nil, 0)
		for api := range 4 {
			got := receive(t, stream, chops, api)
			if len(got.msgs) != len(whole.msgs) || got.code != whole.code || !bytes.Equal(got.out, whole.out) {
				t.Fatalf("api %d: %d msgs code %d out % x; whole: %d msgs code %d out % x",
					api, len(got.msgs), got.code, got.out, len(whole.msgs), whole.code, whole.out)
			}
			for i := range got.msgs {
				if !bytes.Equal(got.msgs[i], whole.msgs[i]) || got.types[i] != whole.types[i] {
					t.Fatalf("api %d: message %d differs", api, i)
				}
			}
		}
	})
}
