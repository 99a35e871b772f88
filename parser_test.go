package wsmem

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// beginDataAgrees checks beginData against the full path (begin: ParseHeader,
// check, commit) on one header: when beginData takes it, begin must accept
// it with the same size and leave the same state; when beginData declines,
// nothing may have changed.
func beginDataAgrees(t *testing.T, p parser, b []byte, cfg *Config) {
	t.Helper()
	fast, full := p, p
	n := fast.beginData(b, cfg)
	if n == 0 {
		if fast != p {
			t.Fatalf("beginData declined % x but changed the parser: %+v, was %+v", b, fast, p)
		}
		return
	}
	h, hn, err := ParseHeader(b)
	if err != nil || hn == 0 {
		t.Fatalf("beginData took % x (%d bytes), ParseHeader says n=%d err=%v", b, n, hn, err)
	}
	if err := full.check(&h, cfg); err != nil {
		t.Fatalf("beginData took % x, check rejects it: %v (parser %+v)", b, err, p)
	}
	full.commit(&h)
	if n != hn || fast != full {
		t.Fatalf("% x: beginData n=%d state %+v; full path n=%d state %+v", b, n, fast, hn, full)
	}
}

// beginData, the fast path for the usual data frame header, takes only
// headers the full path accepts, leaves exactly the state the full path
// leaves, and changes nothing when it declines: every first byte, both
// mask bits, the 7-bit lengths at the edges, interesting extended lengths, every truncation, on both sides,
// with and without an open message, against tight and default limits.
func TestBeginDataMatchesBegin(t *testing.T) {
	cfgs := []*Config{
		&defaultConfig,
		{MaxFrameSize: 200, MaxMessageSize: 300, MaxFragments: 3},
		{MaxMessageSize: 70000},
	}
	ext16 := []uint16{0, 1, 125, 126, 127, 200, 300, 0xFFFF}
	ext64 := []uint64{0, 126, 0xFFFF, 0x10000, 70000, 1 << 24, 1<<24 + 1, 1 << 62, 1 << 63, 1<<64 - 1}
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	var lengthBytes []byte // second header bytes: both mask bits, lengths at the edges
	for _, l := range []byte{0, 1, 99, 124, 125, 126, 127} {
		lengthBytes = append(lengthBytes, l, l|0x80)
	}
	if raceEnabled || testing.Short() {
		cfgs = cfgs[1:2] // the tight limits alone: ten times faster
	}
	for _, cfg := range cfgs {
		for _, server := range []bool{true, false} {
			states := []parser{{server: server}}
			for _, op := range []OpCode{OpText, OpBinary} {
				for _, frags := range []int32{1, 2, 3, 65536} {
					for _, msgLen := range []int64{0, 299, 16 << 20} {
						states = append(states, parser{server: server, msgOp: op, lastOp: op, frags: frags, msgLen: msgLen, utf8: utf8State{s: utf8Need1}})
					}
				}
			}
			states = append(states, parser{server: server, rsvAllow: Rsv1})
			for _, p := range states {
				for b0 := range 256 {
					for _, b1 := range lengthBytes {
						var exts [][]byte
						switch b1 & 0x7F {
						case 126:
							for _, v := range ext16 {
								exts = append(exts, binary.BigEndian.AppendUint16(nil, v))
							}
						case 127:
							for _, v := range ext64 {
								exts = append(exts, binary.BigEndian.AppendUint64(nil, v))
							}
						default:
							exts = [][]byte{nil}
						}
						for _, ext := range exts {
							b := append([]byte{byte(b0), byte(b1)}, ext...)
							b = append(b, key[:]...)
							b = append(b, 0xEE) // a payload byte
							for k := range len(b) + 1 {
								beginDataAgrees(t, p, b[:k], cfg)
							}
						}
					}
				}
			}
		}
	}
}

// beginData takes the usual headers: without that the fast path would be
// dead and the test above would pass on a function that declines all.
func TestBeginDataTakesUsualFrames(t *testing.T) {
	for _, f := range [][]byte{
		cframe(true, OpBinary, make([]byte, 5)),
		cframe(false, OpText, make([]byte, 200)),
		cframe(true, OpBinary, make([]byte, 70000)),
	} {
		p := parser{server: true}
		if n := p.beginData(f, &defaultConfig); n != headerSize(f[1]) {
			t.Fatalf("beginData(% x...) = %d, want %d", f[:4], n, headerSize(f[1]))
		}
	}
	p := parser{server: true, msgOp: OpText, frags: 1}
	if n := p.beginData(cframe(true, OpContinuation, []byte("x")), &defaultConfig); n != 6 || p.frags != 2 {
		t.Fatalf("continuation: n=%d frags=%d", n, p.frags)
	}
	p = parser{}
	if n := p.beginData(sframe(true, OpBinary, []byte("x")), &defaultConfig); n != 2 {
		t.Fatalf("client side: n=%d", n)
	}
}

// A final text frame that arrives in part is validated as far as it came:
// invalid UTF-8 fails at once (1007) on every receive API, even when the
// rest of the frame is short enough to be buffered whole first.
func TestUTF8FailsFastInAShortFrame(t *testing.T) {
	frame := cframe(true, OpText, []byte("ok\xc0 and the rest"))
	in := frame[:6+4] // the header and "ok\xc0 "; the rest never arrives
	apis := map[string]func(c *Conn) error{
		"Recv": func(c *Conn) error { _, _, err := c.Recv(make([]byte, 100)); return err },
		"reader": func(c *Conn) error {
			_, r, err := c.NextReader()
			if err != nil {
				return err
			}
			_, err = r.Read(make([]byte, 100))
			return err
		},
	}
	for name, recv := range apis {
		m := &memConn{in: bytes.Clone(in)}
		err := recv(serverOn(t, m, 0, nil))
		if !errors.Is(err, ErrInvalidUTF8) {
			t.Fatalf("%s: %v, want ErrInvalidUTF8", name, err)
		}
		if code := closeFrameCode(t, m.out.Bytes(), false); code != StatusInvalidPayload {
			t.Fatalf("%s: close code %d, want %d", name, code, StatusInvalidPayload)
		}
	}
}
