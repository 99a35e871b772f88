package conformance

// Tests of the harness itself: its decoder and compressor, and proof that
// it reports a broken peer as failing.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/wsmem/wsmem"
)

// TestInflaterMatchesFlate checks the harness's decoder against
// klauspost/compress on the harness's own compressed streams, and that
// the compressor keeps to its window.
func TestInflaterMatchesFlate(t *testing.T) {
	for _, bits := range []int{8, 9, 12, 15} {
		for _, takeover := range []bool{true, false} {
			d := &deflater{bits: bits, takeover: takeover}
			f := newInflater(bits, takeover)
			ref := newInflater(15, true) // permissive: any distance of a 32 KiB window
			for i, msg := range [][]byte{
				wordsText(3000, 1), periodic(5000, 200, 2), periodic(5000, 700, 3),
				halfRandom(4000, 4), wordsText(3000, 1), make([]byte, 70000), {}, []byte("x"),
			} {
				c := d.compress(msg)
				got, err := f.message(c, 1<<20)
				if err != nil {
					t.Fatalf("bits %d takeover %v message %d: %v", bits, takeover, i, err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("bits %d takeover %v message %d: decoded %d bytes differ", bits, takeover, i, len(got))
				}
				if !takeover {
					// Each message must decode on its own with the reference.
					r := flate.NewReader(bytes.NewReader(append(bytes.Clone(c), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)))
					buf := make([]byte, len(msg)+1)
					n, _ := readFull(r, buf)
					if n != len(msg) || !bytes.Equal(buf[:n], msg) {
						t.Fatalf("bits %d message %d: flate reference decoded %d bytes", bits, i, n)
					}
				}
				if _, err := ref.message(c, 1<<20); err != nil && takeover {
					t.Fatalf("reference: %v", err)
				}
			}
		}
	}
}

func readFull(r interface{ Read([]byte) (int, error) }, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestDeflaterUsesContext checks that with context takeover the harness's
// compressor refers back into earlier messages (so that the cases test the
// peer's kept window), and without it does not.
func TestDeflaterUsesContext(t *testing.T) {
	msg := wordsText(3000, 1)
	for _, takeover := range []bool{true, false} {
		d := &deflater{bits: 15, takeover: takeover}
		first := len(d.compress(msg))
		second := len(d.compress(msg))
		if takeover && second > 50 {
			t.Errorf("with context takeover a repeated message compressed to %d bytes", second)
		}
		if !takeover && second != first {
			t.Errorf("without context takeover: %d then %d bytes", first, second)
		}
	}
}

// TestInflaterRejects checks that the decoder catches what a peer must
// not send.
func TestInflaterRejects(t *testing.T) {
	// A match at distance 300 within one message, in a 256-byte window.
	d := &deflater{bits: 15, takeover: true}
	msg := periodic(2000, 300, 9)
	if _, err := newInflater(8, true).message(d.compress(msg), 1<<20); err == nil {
		t.Error("distance 300 accepted in a 256-byte window")
	}
	// A reference into the previous message without context takeover.
	d = &deflater{bits: 15, takeover: true}
	f := newInflater(15, false)
	first := wordsText(1000, 5)
	if _, err := f.message(d.compress(first), 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.message(d.compress(first), 1<<20); err == nil {
		t.Error("reference into the previous message accepted without context takeover")
	}
	if _, err := newInflater(15, true).message(fixedBlock(nil, 3, 1), 100); err == nil {
		t.Error("reference before the stream start accepted")
	}
	if got, err := newInflater(15, true).message(fixedBlock([]byte("ab"), 4, 2), 100); err != nil || string(got) != "ababab" {
		t.Errorf("fixedBlock(ab, 4, 2) = %q, %v", got, err)
	}
	if _, err := newInflater(15, true).message([]byte{0xff, 0xff}, 100); err == nil {
		t.Error("block type 3 accepted")
	}
	if _, err := newInflater(15, true).message(d.compress(make([]byte, 5000)), 1000); err == nil {
		t.Error("output limit not enforced")
	}
}

// filterConn rewrites the frames the wsmem side writes: a broken peer.
type filterConn struct {
	net.Conn
	mu      sync.Mutex
	pending []byte
	edit    func(op byte, payload []byte) (out []byte, keep bool)
}

func (f *filterConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, p...)
	for {
		h, hl, n, ok := splitFrame(f.pending)
		if !ok {
			return len(p), nil
		}
		frame := f.pending[:hl+n]
		payload := bytes.Clone(frame[hl:])
		var key [4]byte
		masked := frame[1]&0x80 != 0
		if masked {
			copy(key[:], frame[hl-4:hl])
			maskBytes(payload, key)
		}
		out, keep := f.edit(h&0x0f, payload)
		if keep {
			nh := hdr{fin: h&0x80 != 0, rsv: h >> 4 & 7, op: h & 0x0f, masked: masked, key: key}
			if _, err := f.Conn.Write(appendFrame(nil, nh, out)); err != nil {
				return 0, err
			}
		}
		f.pending = f.pending[hl+n:]
	}
}

// splitFrame finds a whole frame at the start of b: its first byte, header
// length and payload length.
func splitFrame(b []byte) (first byte, hl, n int, ok bool) {
	if len(b) < 2 {
		return 0, 0, 0, false
	}
	hl = 2
	l := int(b[1] & 0x7f)
	switch l {
	case 126:
		if len(b) < 4 {
			return 0, 0, 0, false
		}
		l, hl = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, 0, 0, false
		}
		l, hl = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	if b[1]&0x80 != 0 {
		hl += 4
	}
	if len(b) < hl+l {
		return 0, 0, 0, false
	}
	return b[0], hl, l, true
}

// TestHarnessCatchesBrokenPeers runs cases against deliberately broken
// echo endpoints and requires the harness to report every run as failed.
func TestHarnessCatchesBrokenPeers(t *testing.T) {
	byID := map[string]*tcase{}
	for _, c := range allCases() {
		byID[c.id] = c
	}
	edit := func(f func(op byte, p []byte) ([]byte, bool)) func(net.Conn) net.Conn {
		return func(nc net.Conn) net.Conn { return &filterConn{Conn: nc, edit: f} }
	}
	broken := []struct {
		name  string
		cases []string
		wrap  func(net.Conn) net.Conn
		peer  func(*wsmem.Conn) error
		// serverOnly: the breakage applies to wsmem as a server only.
		serverOnly bool
	}{
		{
			name:  "drops its close frame (the TCP connection just closes)",
			cases: []string{"7.3.3", "7.9.1", "3.1", "6.4.13"},
			wrap: edit(func(op byte, p []byte) ([]byte, bool) {
				return p, op != opClose
			}),
		},
		{
			name:  "answers close with the wrong code",
			cases: []string{"7.7.13", "7.9.3", "6.4.1", "9.7.2"},
			wrap: edit(func(op byte, p []byte) ([]byte, bool) {
				if op == opClose && len(p) >= 2 {
					code := uint16(1000)
					if binary.BigEndian.Uint16(p) == 1000 {
						code = 1001
					}
					binary.BigEndian.PutUint16(p, code)
				}
				return p, true
			}),
		},
		{
			name:  "answers close 1000 with a close frame without a code",
			cases: []string{"7.3.3"},
			wrap: edit(func(op byte, p []byte) ([]byte, bool) {
				if op == opClose {
					return nil, true
				}
				return p, true
			}),
		},
		{
			name:  "never answers pings",
			cases: []string{"2.1", "2.4", "5.8"},
			wrap: edit(func(op byte, p []byte) ([]byte, bool) {
				return p, op != opPong
			}),
		},
		{
			name:  "corrupts one byte of each echoed message",
			cases: []string{"1.1.4", "1.2.8", "5.22", "6.1.2"},
			wrap: edit(func(op byte, p []byte) ([]byte, bool) {
				if op == opText || op == opBinary {
					if len(p) > 0 {
						p[len(p)/2] ^= 0x01
					}
				}
				return p, true
			}),
		},
		{
			name:  "sends an unsolicited ping before each echo",
			cases: []string{"1.1.2"},
			peer: func(c *wsmem.Conn) error {
				for {
					typ, p, err := c.Next()
					if err != nil {
						return err
					}
					if err := c.Ping([]byte("extra")); err != nil {
						return err
					}
					if err := c.Send(typ, p); err != nil {
						return err
					}
				}
			},
		},
		{
			name:  "echoes text as binary",
			cases: []string{"1.1.3", "6.1.3"},
			peer: func(c *wsmem.Conn) error {
				for {
					_, p, err := c.Next()
					if err != nil {
						return err
					}
					if err := c.Send(wsmem.Binary, p); err != nil {
						return err
					}
				}
			},
		},
		{
			name:  "goes silent after the first message (nothing more is written)",
			cases: []string{"1.3.3", "7.1.1"},
			wrap: func(nc net.Conn) net.Conn {
				n := 0
				return &filterConn{Conn: nc, edit: func(op byte, p []byte) ([]byte, bool) {
					n++
					return p, n <= 1
				}}
			},
		},
		{
			name:  "sends its close frame twice",
			cases: []string{"7.3.4"},
			wrap: func(nc net.Conn) net.Conn {
				var fc *filterConn
				fc = &filterConn{Conn: nc, edit: func(op byte, p []byte) ([]byte, bool) {
					if op == opClose {
						_, _ = fc.Conn.Write(appendFrame(nil, hdr{fin: true, op: opClose, masked: false}, p))
					}
					return p, true
				}}
				return fc
			},
			serverOnly: true, // the hand-made frame is unmasked
		},
		{
			name:       "echoes without closing the connection after the closing handshake",
			cases:      []string{"7.3.3"},
			wrap:       func(nc net.Conn) net.Conn { return &lingeringConn{Conn: nc} },
			serverOnly: true, // a client need not close the TCP connection first
		},
	}
	for _, bp := range broken {
		t.Run(bp.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for _, id := range bp.cases {
				orig := byID[id]
				if orig == nil {
					t.Fatalf("no case %s", id)
				}
				c := *orig
				c.wrap, c.peer = bp.wrap, bp.peer
				c.timeout = time.Second
				for _, v := range variants(&c) {
					if bp.serverOnly && v.r == wsClient {
						continue
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						o := runOnce(&c, v.r, v.m, v.t)
						if o.ok {
							t.Errorf("case %s (%s %s %s) passed against a peer that %s", id, v.r, v.m, v.t, bp.name)
						} else if v.m == whole && v.t == overTCP {
							t.Logf("case %s (%s): caught: %s", id, v.r, o.detail)
						}
					}()
				}
			}
			wg.Wait()
		})
	}
}

// lingeringConn keeps the TCP connection open for a while after wsmem
// closes it: a server that does not close after the closing handshake.
type lingeringConn struct{ net.Conn }

func (l *lingeringConn) Close() error {
	time.AfterFunc(4*time.Second*raceFactor, func() { l.Conn.Close() })
	return nil
}

// TestHarnessSeesDrop checks the distinction the strict suite relies on: a
// connection closed without a close frame is not a close.
func TestHarnessSeesDrop(t *testing.T) {
	c := &tcase{id: "drop", script: func(b *builder) {
		b.echo(opText, hello)
		b.closeNormal()
	}, peer: func(c *wsmem.Conn) error {
		_, _, err := c.Next()
		if err == nil {
			err = errors.New("dropped")
		}
		_ = c.NetConn().Close()
		return err
	}}
	for _, v := range variants(c) {
		if o := runOnce(c, v.r, v.m, v.t); o.ok {
			t.Errorf("%v: a dropped connection passed", v)
		}
	}
}

// TestReportCountsFailures checks that a failed run shows in the table and
// in the counts.
func TestReportCountsFailures(t *testing.T) {
	c := &tcase{id: "0.1", group: "1", desc: "a case"}
	res := map[*tcase]map[variant]outcome{c: {}}
	for _, v := range variants(c) {
		res[c][v] = outcome{ok: true}
	}
	bad := variant{wsClient, bytewise, overPipe}
	res[c][bad] = outcome{detail: "expected close frame 1002, got close 1000"}
	var sb strings.Builder
	passed, failed := report(&sb, []*tcase{c}, res)
	if passed != 7 || failed != 1 {
		t.Errorf("report counted %d passed, %d failed; want 7 and 1", passed, failed)
	}
	if !strings.Contains(sb.String(), "FAILED over pipe (echo via Next): expected close frame 1002, got close 1000") {
		t.Errorf("the failure is missing from the table:\n%s", sb.String())
	}
}
