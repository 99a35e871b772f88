package wsmem

import "encoding/binary"

// parser is the receive state machine. It takes frame headers, checks every
// rule that spans frames (fragmentation, limits, interleaved control
// frames), and unmasks and validates payload bytes as they pass. It owns no
// buffer: the caller decides where bytes land, so the same parser serves the
// blocking API (which reads into its own or the caller's memory) and the
// push API (which is handed the caller's bytes).
type parser struct {
	h        Header // the frame in progress
	left     int64  // payload bytes of h not yet consumed
	msgLen   int64  // payload bytes of the message so far (declared)
	frags    int32  // frames in the message so far
	phase    uint8  // masking key phase at the next payload byte
	inFrame  bool   // h was parsed and its payload is being consumed
	msgOp    OpCode // OpText or OpBinary while a data message is open, else 0
	msgRsv1  bool   // the open message is compressed
	lastOp   OpCode // the opcode of the latest data message, kept after it ends
	server   bool   // frames come from a client: must be masked
	rsvAllow uint8  // reserved bits the negotiated extensions allow
	utf8     utf8State
}

// headerSize returns the size of the header whose first two bytes are b0
// and b1.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n = 4
	case 127:
		n = 10
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// begin takes the header of the next frame (b holds at least the whole
// header), checks it and makes it the current frame. It returns the
// header's size.
func (p *parser) begin(b []byte, cfg *Config) (int, error) {
	h, n, err := ParseHeader(b)
	if err == nil && n == 0 {
		panic("wsmem: parser.begin called without a whole header")
	}
	if err == nil {
		err = p.check(&h, cfg)
	}
	if err != nil {
		return 0, err
	}
	p.commit(&h)
	return n, nil
}

// beginData is begin's fast path for the usual frame: a data frame (text,
// binary, or the continuation of an open message) without reserved bits,
// masked as the side requires, with its length in the shortest form and
// within the limits. It takes such a header from the start of b straight
// into the parser and returns its size. For anything else (a partial
// header, a control frame, reserved bits, any violation) it changes nothing
// and returns 0: the full path (ParseHeader, check, commit) takes the frame
// and reports what is wrong. It accepts nothing the full path would reject
// and leaves the same state (TestBeginDataMatchesBegin).
//
// Cost: a few loads, compares and stores; no call.
func (p *parser) beginData(b []byte, cfg *Config) int {
	if len(b) < 2 {
		return 0
	}
	b0, b1 := b[0], b[1]
	op := OpCode(b0 & 0x0F)
	// FIN is free; RSV1-3 clear; opcode 0, 1 or 2; the mask bit as the side
	// requires; a continuation exactly when a message is open.
	if b0&0x70 != 0 || op > OpBinary || (b1&0x80 != 0) != p.server || (op == OpContinuation) != (p.msgOp != 0) {
		return 0
	}
	n := 2
	length := int64(b1 & 0x7F)
	switch length {
	case 126:
		if len(b) < 4 {
			return 0
		}
		length = int64(binary.BigEndian.Uint16(b[2:4]))
		if length < 126 {
			return 0
		}
		n = 4
	case 127:
		if len(b) < 10 {
			return 0
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 || u <= 0xFFFF {
			return 0
		}
		length = int64(u)
		n = 10
	}
	var key [4]byte
	if p.server {
		if len(b) < n+4 {
			return 0
		}
		key = [4]byte(b[n : n+4])
		n += 4
	}
	msgLen := length
	if op == OpContinuation {
		if int(p.frags)+1 > cfg.maxFragments() {
			return 0
		}
		msgLen += p.msgLen
	}
	if length > cfg.maxFrameSize() || msgLen > cfg.maxMessageSize() {
		return 0
	}
	if op != OpContinuation {
		p.msgOp = op
		p.lastOp = op
		p.msgRsv1 = false
		p.frags = 0
		p.utf8.reset()
	}
	p.frags++
	p.msgLen = msgLen
	// Field by field: a whole-struct copy would load the bytes just stored
	// in wider words, which stalls store forwarding.
	p.h.Fin = b0&0x80 != 0
	p.h.Rsv = 0
	p.h.OpCode = op
	p.h.Masked = p.server
	p.h.Mask = key
	p.h.Length = length
	p.left = length
	p.phase = 0
	p.inFrame = true
	return n
}

// check applies every rule to the parsed header h of the next frame,
// against the connection and the message in progress, without changing
// anything: a frame is rejected as soon as its header is known.
func (p *parser) check(h *Header, cfg *Config) error {
	if err := h.Check(p.server, p.rsvAllow); err != nil {
		return err
	}
	if h.OpCode.IsControl() {
		return nil
	}
	if h.Length > cfg.maxFrameSize() {
		return errFrameTooBig
	}
	msgLen := h.Length
	if h.OpCode == OpContinuation {
		if p.msgOp == 0 {
			return errUnexpectedCont
		}
		if int(p.frags)+1 > cfg.maxFragments() {
			return errTooManyFrags
		}
		msgLen += p.msgLen
	} else if p.msgOp != 0 {
		return errExpectedCont
	}
	// A compressed message is limited after inflating; its compressed size
	// is limited by the same number, which bounds what is buffered.
	if msgLen > cfg.maxMessageSize() {
		return errMessageTooBig
	}
	return nil
}

// commit makes the checked header h the current frame, starting or
// continuing the data message.
func (p *parser) commit(h *Header) {
	if !h.OpCode.IsControl() {
		if h.OpCode == OpContinuation {
			p.frags++
			p.msgLen += h.Length
		} else {
			p.msgOp = h.OpCode
			p.lastOp = h.OpCode
			p.msgRsv1 = h.Rsv&Rsv1 != 0
			p.frags = 1
			p.msgLen = h.Length
			p.utf8.reset()
		}
	}
	p.h = *h
	p.left = h.Length
	p.phase = 0
	p.inFrame = true
}

// text reports whether the payload of the current data message is UTF-8
// text to validate as it passes (compressed text is validated after
// inflating).
func (p *parser) text() bool { return p.msgOp == OpText && !p.msgRsv1 }

// payload moves the next len(src) payload bytes of the current frame to dst
// (which may be src itself, or overlap it from below), unmasking them on
// the way, and validates them when they are text. It costs one pass over
// the bytes.
func (p *parser) payload(dst, src []byte) error {
	if p.h.Masked {
		p.phase = uint8(maskCopy(dst, src, p.h.Mask, int(p.phase)))
	} else if len(src) > 0 && &dst[0] != &src[0] {
		copy(dst, src)
	}
	p.left -= int64(len(src))
	if p.text() && !p.h.OpCode.IsControl() && !p.utf8.feed(dst[:len(src)]) {
		return errInvalidUTF8
	}
	return nil
}

// unmaskControl unmasks the whole payload b of the current control frame
// in place and closes the frame.
func (p *parser) unmaskControl(b []byte) {
	if p.h.Masked {
		Mask(b, p.h.Mask, 0)
	}
	p.left = 0
	p.inFrame = false
}

// endFrame closes the current frame once its payload is consumed. For a
// data frame it reports whether that ended the message (FIN), and then
// checks that the text did not stop inside a character.
func (p *parser) endFrame() (messageEnd bool, err error) {
	p.inFrame = false
	if p.h.OpCode.IsControl() || !p.h.Fin {
		return false, nil
	}
	if p.text() && !p.utf8.done() {
		return true, errInvalidUTF8
	}
	return true, nil
}

// endMessage forgets the finished message.
func (p *parser) endMessage() {
	p.msgOp = 0
	p.msgRsv1 = false
	p.msgLen = 0
	p.frags = 0
}

// checkClose validates a received close payload (already unmasked) and
// returns its code: 1005 when it carries none.
func checkClose(payload []byte) (StatusCode, error) {
	switch {
	case len(payload) == 0:
		return StatusNoStatus, nil
	case len(payload) == 1:
		return 0, errCloseOneByte
	}
	code := StatusCode(binary.BigEndian.Uint16(payload))
	if !code.validOnWire() {
		return 0, errCloseCode
	}
	if !validUTF8(payload[2:]) {
		return 0, errInvalidUTF8Close
	}
	return code, nil
}
