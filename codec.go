package wsmem

import "encoding/binary"

// Flags selects a socket's message type and handshake, as libdill's ws
// flags do, and tells a message's type.
type Flags uint8

const (
	// Binary marks binary messages (libdill's WS_BINARY, the default).
	Binary Flags = 0
	// Text marks text messages, which must be valid UTF-8 (WS_TEXT).
	Text Flags = 1 << 0
	// NoHTTP skips the HTTP opening handshake (WS_NOHTTP): frames flow at
	// once, for protocols that did their own handshake.
	NoHTTP Flags = 1 << 1
)

// String returns "text" or "binary".
func (f Flags) String() string {
	if f&Text != 0 {
		return "text"
	}
	return "binary"
}

// OpCode is a frame's opcode (RFC 6455 §5.2).
type OpCode uint8

// The opcodes RFC 6455 defines. The others are reserved.
const (
	OpContinuation OpCode = 0x0
	OpText         OpCode = 0x1
	OpBinary       OpCode = 0x2
	OpClose        OpCode = 0x8
	OpPing         OpCode = 0x9
	OpPong         OpCode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved control opcode).
func (op OpCode) IsControl() bool { return op&0x8 != 0 }

// IsReserved reports whether op is one of the opcodes RFC 6455 reserves.
func (op OpCode) IsReserved() bool { return (op > OpBinary && op < OpClose) || op > OpPong }

// The reserved header bits, as stored in Header.Rsv.
const (
	Rsv1 uint8 = 1 << 2 // permessage-deflate's "compressed" bit
	Rsv2 uint8 = 1 << 1
	Rsv3 uint8 = 1 << 0
)

// MaxHeaderSize is the longest frame header: 2 bytes, an 8-byte extended
// length and a 4-byte masking key.
const MaxHeaderSize = 14

// MaxControlPayload is the longest payload a control frame may carry.
const MaxControlPayload = 125

// Header is a frame header (RFC 6455 §5.2). It is a plain value: parsing
// and writing one never allocates.
type Header struct {
	Fin    bool
	Rsv    uint8 // Rsv1|Rsv2|Rsv3
	OpCode OpCode
	Masked bool
	Mask   [4]byte
	Length int64 // payload length
}

// Size returns the number of bytes h takes on the wire.
func (h Header) Size() int {
	n := 2
	switch {
	case h.Length > 0xFFFF:
		n += 8
	case h.Length > 125:
		n += 2
	}
	if h.Masked {
		n += 4
	}
	return n
}

// ParseHeader parses the frame header at the start of b, in place. It
// returns the header and its size; n is 0 (with a nil error) when b does
// not yet hold the whole header. It rejects what is invalid whatever was
// negotiated: reserved opcodes, control frames that are fragmented or longer
// than 125 bytes, a 64-bit length with its top bit set, and lengths not in
// their shortest form. Reserved bits and the masking direction depend on the
// connection and are checked by [Header.Check]. It costs a few nanoseconds
// and never allocates.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	b0, b1 := b[0], b[1]
	n = 2
	length := int64(b1 & 0x7F)
	switch length {
	case 126:
		n = 4
	case 127:
		n = 10
	}
	masked := b1&0x80 != 0
	if masked {
		n += 4
	}
	if len(b) < n {
		return h, 0, nil
	}
	h.Fin = b0&0x80 != 0
	h.Rsv = (b0 >> 4) & 7
	h.OpCode = OpCode(b0 & 0x0F)
	h.Masked = masked
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(b[2:4]))
		if length < 126 {
			return h, 0, errLengthNotMinimal
		}
	case 127:
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, 0, errLengthTopBit
		}
		length = int64(u)
		if length <= 0xFFFF {
			return h, 0, errLengthNotMinimal
		}
	}
	h.Length = length
	if masked {
		copy(h.Mask[:], b[n-4:n])
	}
	if h.OpCode.IsReserved() {
		return h, 0, errReservedOpcode
	}
	if h.OpCode.IsControl() {
		if !h.Fin {
			return h, 0, errControlFragmented
		}
		if h.Length > MaxControlPayload {
			return h, 0, errControlTooLong
		}
	}
	return h, n, nil
}

// Check applies the rules that depend on the connection: a server (server
// true) accepts only masked frames and a client only unmasked ones, and only
// the reserved bits in allowedRsv (Rsv1 when permessage-deflate was
// negotiated) may be set, and RSV1 only on the first frame of a data message.
func (h *Header) Check(server bool, allowedRsv uint8) error {
	if h.Masked != server {
		if server {
			return errUnmaskedClient
		}
		return errMaskedServer
	}
	if h.Rsv&^allowedRsv != 0 {
		return errReservedBits
	}
	if h.Rsv&Rsv1 != 0 && (h.OpCode.IsControl() || h.OpCode == OpContinuation) {
		return errCompressedControl
	}
	return nil
}

// AppendHeader appends h in its wire form to dst and returns the extended
// slice. Pass a fixed array's slice (hdr[:0]) and nothing escapes.
func AppendHeader(dst []byte, h Header) []byte {
	b0 := byte(h.OpCode&0x0F) | (h.Rsv&7)<<4
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	dst = appendFrameStart(dst, b0, b1, uint64(h.Length))
	if h.Masked {
		dst = append(dst, h.Mask[:]...)
	}
	return dst
}

// appendFrameStart appends a frame header's first byte b0, then its second
// (b1, the MASK bit or 0, with the length code) and the payload length n in
// its shortest encoding: the header without the masking key.
func appendFrameStart(dst []byte, b0, b1 byte, n uint64) []byte {
	switch {
	case n > 0xFFFF:
		dst = append(dst, b0, b1|127)
		return binary.BigEndian.AppendUint64(dst, n)
	case n > 125:
		dst = append(dst, b0, b1|126)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	}
	return append(dst, b0, b1|byte(n))
}
