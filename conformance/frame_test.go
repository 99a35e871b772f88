package conformance

// The suite's own wire format code: a byte-exact frame builder that can also
// write what RFC 6455 forbids, and a strict frame reader for what the peer
// under test sends. Neither uses wsmem.

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Opcodes (RFC 6455 §5.2).
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// Reserved bits as a 3-bit value: rsv1 is the most significant.
const (
	rsv1 byte = 4
	rsv2 byte = 2
	rsv3 byte = 1
)

// Length encodings for appendHeader.
const (
	lenShortest = iota // the RFC's shortest form
	len16              // always the 16-bit extended form (126)
	len64              // always the 64-bit extended form (127)
)

// hdr is a frame header as the builder writes it, valid or not.
type hdr struct {
	fin    bool
	rsv    byte // 0..7, rsv1<<2 | rsv2<<1 | rsv3
	op     byte // 0..15
	masked bool
	key    [4]byte
	length uint64
	form   int // lenShortest, len16 or len64
}

// appendHeader appends h in its wire form. With form len16 or len64 the
// length is written in that form whatever its value (a 64-bit length may
// have its top bit set).
func appendHeader(dst []byte, h hdr) []byte {
	b0 := h.rsv<<4 | h.op&0x0f
	if h.fin {
		b0 |= 0x80
	}
	var mbit byte
	if h.masked {
		mbit = 0x80
	}
	form := h.form
	if form == lenShortest {
		switch {
		case h.length <= 125:
		case h.length <= 0xffff:
			form = len16
		default:
			form = len64
		}
	}
	switch form {
	case len16:
		dst = append(dst, b0, mbit|126, byte(h.length>>8), byte(h.length))
	case len64:
		dst = append(dst, b0, mbit|127)
		dst = binary.BigEndian.AppendUint64(dst, h.length)
	default:
		dst = append(dst, b0, mbit|byte(h.length))
	}
	if h.masked {
		dst = append(dst, h.key[:]...)
	}
	return dst
}

// maskBytes XORs p with key from phase 0, in place (RFC 6455 §5.3): with
// a key stream of whole key repetitions, a block at a time.
func maskBytes(p []byte, key [4]byte) {
	var ks [4096]byte
	for i := 0; i < len(ks); i += 4 {
		copy(ks[i:], key[:])
	}
	for len(p) > 0 {
		n := subtle.XORBytes(p, p, ks[:min(len(p), len(ks))])
		p = p[n:]
	}
}

// appendFrame appends a whole frame, masking a copy of payload when masked.
func appendFrame(dst []byte, h hdr, payload []byte) []byte {
	h.length = uint64(len(payload))
	dst = appendHeader(dst, h)
	start := len(dst)
	dst = append(dst, payload...)
	if h.masked {
		maskBytes(dst[start:], h.key)
	}
	return dst
}

// violation is something the peer under test sent that RFC 6455 or 7692
// forbids (or that its own documented behaviour rules out).
type violation struct{ msg string }

func (v *violation) Error() string { return "peer violated the protocol: " + v.msg }

func violationf(format string, args ...any) error {
	return &violation{msg: fmt.Sprintf(format, args...)}
}

// rframe is a frame read from the peer, its payload unmasked.
type rframe struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte
}

// frameReader reads frames strictly: shortest length forms, top bit clear,
// the masking direction of its side, control frames final and short.
type frameReader struct {
	r          *bufio.Reader
	wantMasked bool  // frames from a client are masked, from a server not
	maxPayload int64 // the harness's own sanity bound
	buf        []byte
}

// next reads one frame. Its payload is valid until the next call. io.EOF
// means the stream ended cleanly between frames; io.ErrUnexpectedEOF inside
// one.
func (fr *frameReader) next() (rframe, error) {
	var f rframe
	var h [14]byte
	if _, err := io.ReadFull(fr.r, h[:2]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return f, fmt.Errorf("stream ended inside a frame header: %w", err)
		}
		return f, err
	}
	f.fin = h[0]&0x80 != 0
	f.rsv = h[0] >> 4 & 7
	f.op = h[0] & 0x0f
	f.masked = h[1]&0x80 != 0
	length := uint64(h[1] & 0x7f)
	switch length {
	case 126:
		if _, err := io.ReadFull(fr.r, h[2:4]); err != nil {
			return f, unexpected(err)
		}
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
		if length <= 125 {
			return f, violationf("16-bit length %d not in its shortest form", length)
		}
	case 127:
		if _, err := io.ReadFull(fr.r, h[2:10]); err != nil {
			return f, unexpected(err)
		}
		length = binary.BigEndian.Uint64(h[2:10])
		if length>>63 != 0 {
			return f, violationf("64-bit length with its top bit set")
		}
		if length <= 0xffff {
			return f, violationf("64-bit length %d not in its shortest form", length)
		}
	}
	if f.masked != fr.wantMasked {
		if fr.wantMasked {
			return f, violationf("unmasked frame from a client")
		}
		return f, violationf("masked frame from a server")
	}
	if f.op >= 3 && f.op <= 7 || f.op >= 0xB {
		return f, violationf("reserved opcode 0x%X", f.op)
	}
	if f.op >= 8 {
		if !f.fin {
			return f, violationf("fragmented control frame (opcode 0x%X)", f.op)
		}
		if length > 125 {
			return f, violationf("control frame (opcode 0x%X) with a %d-byte payload", f.op, length)
		}
	}
	if int64(length) > fr.maxPayload {
		return f, violationf("frame of %d bytes, more than the harness accepts (%d)", length, fr.maxPayload)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(fr.r, key[:]); err != nil {
			return f, unexpected(err)
		}
	}
	if uint64(cap(fr.buf)) < length {
		fr.buf = make([]byte, length)
	}
	f.payload = fr.buf[:length]
	if _, err := io.ReadFull(fr.r, f.payload); err != nil {
		return f, unexpected(err)
	}
	if f.masked {
		maskBytes(f.payload, key)
	}
	return f, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("stream ended inside a frame: %w", err)
}

// validCloseCodeOnWire reports whether a close frame may carry code
// (RFC 6455 §7.4.1, §7.4.2 and the IANA registry: 1000–1003, 1007–1014,
// 3000–4999).
func validCloseCodeOnWire(code int) bool {
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

// closePayload builds a close frame payload: code < 0 means none.
func closePayload(code int, reason []byte) []byte {
	if code < 0 {
		return nil
	}
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(p, reason...)
}
