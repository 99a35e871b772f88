package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/wsmem/wsmem"
)

// closeAllowed reports whether a close code may be sent on the wire (RFC
// 6455 §7.4.1, §7.4.2 and the IANA registry): 1000-1003 and 1007-1014 are
// defined, 1004-1006 and 1015 are reserved or never sent, the rest of
// 1000-2999 is unassigned, 3000-4999 are for libraries and applications,
// and anything below 1000 or from 5000 up is not used.
func closeAllowed(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// maskedFrame encodes a masked client frame (minimal length encoding).
func maskedFrame(b0 byte, payload []byte, key [4]byte) []byte {
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

// FuzzClosePayload: a server receives a masked close frame with any payload
// (after an optional ping and text message) and its outcome is the one RFC
// 6455 prescribes, computed here independently: a close without payload is
// a close without code (Status 1005) answered with an empty close frame (the
// library echoes the code it received, and there is none); a close with a
// 1-byte payload, a payload over 125 bytes or a code that may not be sent
// fails the connection with 1002 (§5.5, §5.5.1, §7.4); a reason that is not
// UTF-8 fails it with 1007 (§5.5.1, §8.1); any other close is echoed with its
// code, and Recv returns it as a *CloseError that Status repeats. A failed
// connection reports 1006 (closed without a close frame from the peer).
func FuzzClosePayload(f *testing.F) {
	code := func(c uint16, reason string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, c), reason...)
	}
	for _, p := range [][]byte{
		nil,
		{0x03},
		code(1000, ""),
		code(1001, "going away"),
		code(1000, "héllo ☃"),
		code(1003, ""), code(1004, ""), code(1005, ""), code(1006, ""), code(1007, ""),
		code(1011, "internal"), code(1014, ""), code(1015, ""), code(1016, ""),
		code(2999, ""), code(3000, "app"), code(4999, ""), code(5000, ""), code(999, ""),
		code(0, ""), code(65535, ""),
		code(1000, "\xff"), code(1000, "\xe2\x82"), code(1000, "\xed\xa0\x80"), code(1000, "\xc0\xaf"),
		code(1000, string(bytes.Repeat([]byte("a"), 123))),
		code(1000, string(bytes.Repeat([]byte("a"), 124))),
		code(1000, string(bytes.Repeat([]byte("é"), 70))),
		bytes.Repeat([]byte{0x03, 0xe8}, 200),
	} {
		f.Add(p, uint32(0x01020304), uint8(0), []byte{})
		f.Add(p, uint32(0), uint8(3), []byte{0, 2, 6})
	}
	f.Fuzz(func(t *testing.T, payload []byte, key uint32, prefix uint8, chops []byte) {
		var k [4]byte
		binary.BigEndian.PutUint32(k[:], key)
		var stream, wantOut []byte
		if prefix&1 != 0 { // a ping first: answered with a pong on the way
			stream = append(stream, maskedFrame(0x89, []byte("p"), k)...)
			wantOut = append(wantOut, 0x8a, 0x01, 'p')
		}
		if prefix&2 != 0 { // then a text message, returned by the first Recv
			stream = append(stream, maskedFrame(0x81, []byte("hello"), k)...)
		}
		stream = append(stream, maskedFrame(0x88, payload, k)...)

		// The expected outcome, from the RFC.
		var (
			wantFail   wsmem.StatusCode // the close code we fail with; 0 when the close is valid
			wantStatus wsmem.StatusCode
			wantReason []byte
		)
		switch n := len(payload); {
		case n > 125, n == 1:
			wantFail = wsmem.StatusProtocolError
		case n == 0:
			wantStatus = wsmem.StatusNoStatus
			wantOut = append(wantOut, 0x88, 0x00)
		default:
			c := binary.BigEndian.Uint16(payload)
			switch {
			case !closeAllowed(c):
				wantFail = wsmem.StatusProtocolError
			case !utf8.Valid(payload[2:]):
				wantFail = wsmem.StatusInvalidPayload
			default:
				wantStatus, wantReason = wsmem.StatusCode(c), payload[2:]
				wantOut = append(wantOut, 0x88, 0x02, payload[0], payload[1])
			}
		}
		if wantFail != 0 {
			wantStatus = wsmem.StatusAbnormal
			wantOut = append(wantOut, 0x88, 0x02, byte(wantFail>>8), byte(wantFail))
		}

		conn := &chopConn{in: stream, chops: chops}
		c, err := wsmem.AttachServer(conn, wsmem.NoHTTP, nil, fuzzConfig)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		if prefix&2 != 0 {
			n, typ, err := c.Recv(buf)
			if err != nil || typ != wsmem.Text || string(buf[:n]) != "hello" {
				t.Fatalf("the message before the close: %q, %v, %v", buf[:n], typ, err)
			}
		}
		n, _, err := c.Recv(buf)
		if n != 0 {
			t.Fatalf("Recv returned %d bytes with the close", n)
		}
		var ce *wsmem.CloseError
		var pe *wsmem.ProtocolError
		if wantFail != 0 {
			if !errors.As(err, &pe) || pe.Code != wantFail || !errors.Is(err, wsmem.ErrProtocol) ||
				errors.Is(err, wsmem.ErrInvalidUTF8) != (wantFail == wsmem.StatusInvalidPayload) || errors.As(err, &ce) {
				t.Fatalf("payload % x: Recv error %v, want a protocol error with code %d", payload, err, wantFail)
			}
		} else {
			if !errors.As(err, &ce) || ce.Code != wantStatus || !bytes.Equal(ce.Reason, wantReason) ||
				!errors.Is(err, wsmem.ErrClosed) || errors.As(err, &pe) {
				t.Fatalf("payload % x: Recv error %v, want a close %d %q", payload, err, wantStatus, wantReason)
			}
		}
		if got := conn.out.Bytes(); !bytes.Equal(got, wantOut) {
			t.Fatalf("payload % x: wrote % x, want % x", payload, got, wantOut)
		}
		if code, reason := c.Status(); code != wantStatus || !bytes.Equal(reason, wantReason) {
			t.Fatalf("payload % x: Status() = %d %q, want %d %q", payload, code, reason, wantStatus, wantReason)
		}
	})
}
