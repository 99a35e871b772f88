package conformance

// A strict DEFLATE decoder (RFC 1951) for what the peer under test
// compresses. Unlike a general-purpose inflater it checks the limits
// permessage-deflate negotiated (RFC 7692 §7.1): every back-reference must
// stay within the agreed window (2^max_window_bits bytes) and, without
// context takeover, within the current message.

import (
	"errors"
	"fmt"
)

// maxHistory is the most output the decoder keeps for back-references.
const maxHistory = 1 << 15

// inflater decodes one direction of a permessage-deflate connection.
type inflater struct {
	window   int  // largest distance allowed: 1 << max_window_bits
	takeover bool // the sender may refer to earlier messages
	hist     []byte
	finished bool // a block with BFINAL was seen in an earlier message
}

func newInflater(windowBits int, takeover bool) *inflater {
	return &inflater{window: 1 << windowBits, takeover: takeover}
}

// bitReader reads a DEFLATE stream LSB first.
type bitReader struct {
	in     []byte
	pos    int
	bitbuf uint64
	bitcnt uint
}

var errInputEnd = errors.New("deflate data ends inside a block")

// refill loads whole bytes into the bit buffer while they fit.
func (b *bitReader) refill() {
	for b.bitcnt <= 56 && b.pos < len(b.in) {
		b.bitbuf |= uint64(b.in[b.pos]) << b.bitcnt
		b.pos++
		b.bitcnt += 8
	}
}

func (b *bitReader) bits(n uint) (uint32, error) {
	if b.bitcnt < n {
		b.refill()
		if b.bitcnt < n {
			return 0, errInputEnd
		}
	}
	v := uint32(b.bitbuf & (1<<n - 1))
	b.bitbuf >>= n
	b.bitcnt -= n
	return v, nil
}

// align drops the bits up to the next byte boundary and gives back the
// whole bytes the buffer held, so that byte-wise reading can go on.
func (b *bitReader) align() {
	b.bitbuf >>= b.bitcnt % 8
	b.bitcnt -= b.bitcnt % 8
	b.pos -= int(b.bitcnt / 8)
	b.bitbuf, b.bitcnt = 0, 0
}

// huffman is a canonical code in the form RFC 1951 §3.2.2 describes:
// the number of codes of each length and the symbols in code order.
type huffman struct {
	count  [16]uint16
	symbol []uint16
}

// build makes the code for lengths. It rejects over-subscribed codes and
// incomplete ones, except a code with a single symbol (which RFC 1951 allows
// for distances and zlib for both alphabets).
func (h *huffman) build(lengths []uint8) error {
	h.count = [16]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	used := len(lengths) - int(h.count[0])
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= int(h.count[l])
		if left < 0 {
			return errors.New("over-subscribed Huffman code")
		}
	}
	if left > 0 && used != 1 {
		return errors.New("incomplete Huffman code")
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.symbol = make([]uint16, len(lengths))
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	return nil
}

func (b *bitReader) decode(h *huffman) (int, error) {
	if b.bitcnt < 15 {
		b.refill()
	}
	buf, cnt := b.bitbuf, b.bitcnt
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		if cnt == 0 {
			return 0, errInputEnd
		}
		code |= int(buf & 1)
		buf >>= 1
		cnt--
		count := int(h.count[l])
		if code-count < first {
			b.bitbuf, b.bitcnt = buf, cnt
			return int(h.symbol[index+(code-first)]), nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder     = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit, fixedDist huffman
)

func init() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	// The fixed codes are complete by construction.
	if err := fixedLit.build(l[:]); err != nil {
		panic(err)
	}
	// 30 five-bit codes leave two unused: build the table by hand.
	fixedDist.count = [16]uint16{5: 30}
	fixedDist.symbol = make([]uint16, 30)
	for i := range fixedDist.symbol {
		fixedDist.symbol[i] = uint16(i)
	}
}

// message decodes one message's payload (RFC 7692 §7.2.2: the payload with
// 0x00 0x00 0xff 0xff appended), producing at most limit bytes.
func (f *inflater) message(payload []byte, limit int) ([]byte, error) {
	if !f.takeover {
		f.hist = f.hist[:0]
	}
	start := len(f.hist)
	in := make([]byte, 0, len(payload)+4)
	in = append(append(in, payload...), 0x00, 0x00, 0xff, 0xff)
	b := &bitReader{in: in}
	if f.finished && f.takeover {
		// After a final block the sender starts a new DEFLATE stream; the
		// window may still be used (RFC 7692 §7.2.3.3 leaves it so).
		f.finished = false
	}
	for {
		last, err := b.bits(1)
		if err != nil {
			return nil, err
		}
		typ, err := b.bits(2)
		if err != nil {
			return nil, err
		}
		switch typ {
		case 0:
			err = f.stored(b)
		case 1:
			err = f.codes(b, &fixedLit, &fixedDist, start)
		case 2:
			err = f.dynamic(b, start)
		default:
			err = errors.New("invalid block type 3")
		}
		if err != nil {
			return nil, err
		}
		if len(f.hist)-start > limit {
			return nil, fmt.Errorf("decompressed message longer than %d bytes", limit)
		}
		if last == 1 {
			f.finished = true
			// Only the appended empty stored block may follow a final block.
			b.align()
			rest := in[b.pos:]
			if len(rest) != 0 && !(len(rest) == 4 && string(rest) == "\x00\x00\xff\xff") {
				return nil, fmt.Errorf("%d bytes after the final DEFLATE block", len(rest)-4)
			}
			break
		}
		if b.pos == len(in) && b.bitcnt == 0 {
			break
		}
	}
	out := append([]byte(nil), f.hist[start:]...)
	if len(f.hist) > 2*maxHistory {
		f.hist = append(f.hist[:0], f.hist[len(f.hist)-maxHistory:]...)
	}
	return out, nil
}

func (f *inflater) stored(b *bitReader) error {
	b.align()
	if b.pos+4 > len(b.in) {
		return errInputEnd
	}
	n := int(b.in[b.pos]) | int(b.in[b.pos+1])<<8
	nc := int(b.in[b.pos+2]) | int(b.in[b.pos+3])<<8
	if n != ^nc&0xffff {
		return errors.New("stored block length does not match its complement")
	}
	b.pos += 4
	if b.pos+n > len(b.in) {
		return errInputEnd
	}
	f.hist = append(f.hist, b.in[b.pos:b.pos+n]...)
	b.pos += n
	return nil
}

func (f *inflater) codes(b *bitReader, lit, dist *huffman, start int) error {
	for {
		sym, err := b.decode(lit)
		if err != nil {
			return err
		}
		switch {
		case sym < 256:
			f.hist = append(f.hist, byte(sym))
			continue
		case sym == 256:
			return nil
		case sym > 285:
			return fmt.Errorf("invalid length symbol %d", sym)
		}
		sym -= 257
		e, err := b.bits(uint(lengthExtra[sym]))
		if err != nil {
			return err
		}
		n := int(lengthBase[sym]) + int(e)
		ds, err := b.decode(dist)
		if err != nil {
			return err
		}
		if ds > 29 {
			return fmt.Errorf("invalid distance symbol %d", ds)
		}
		e, err = b.bits(uint(distExtra[ds]))
		if err != nil {
			return err
		}
		d := int(distBase[ds]) + int(e)
		if d > f.window {
			return fmt.Errorf("back-reference distance %d beyond the negotiated window of %d bytes", d, f.window)
		}
		avail := len(f.hist)
		if !f.takeover {
			avail -= start
		}
		if d > avail {
			if !f.takeover {
				return fmt.Errorf("back-reference distance %d reaches before the message start without context takeover (%d bytes available)", d, avail)
			}
			return fmt.Errorf("back-reference distance %d reaches before the start of the stream (%d bytes available)", d, avail)
		}
		for i := 0; i < n; i++ {
			f.hist = append(f.hist, f.hist[len(f.hist)-d])
		}
	}
}

func (f *inflater) dynamic(b *bitReader, start int) error {
	v, err := b.bits(14)
	if err != nil {
		return err
	}
	nlen := int(v&31) + 257
	ndist := int(v>>5&31) + 1
	ncode := int(v>>10) + 4
	if nlen > 286 || ndist > 30 {
		return errors.New("too many length or distance codes")
	}
	var cl [19]uint8
	for i := 0; i < ncode; i++ {
		x, err := b.bits(3)
		if err != nil {
			return err
		}
		cl[clOrder[i]] = uint8(x)
	}
	var clh huffman
	if err := clh.build(cl[:]); err != nil {
		return fmt.Errorf("code length code: %w", err)
	}
	lengths := make([]uint8, nlen+ndist)
	for i := 0; i < nlen+ndist; {
		sym, err := b.decode(&clh)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return errors.New("repeat with no previous length")
			}
			val = lengths[i-1]
			x, err := b.bits(2)
			if err != nil {
				return err
			}
			rep = 3 + int(x)
		case 17:
			x, err := b.bits(3)
			if err != nil {
				return err
			}
			rep = 3 + int(x)
		default:
			x, err := b.bits(7)
			if err != nil {
				return err
			}
			rep = 11 + int(x)
		}
		if i+rep > nlen+ndist {
			return errors.New("code lengths repeat past the end")
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return errors.New("no end-of-block code")
	}
	var lit, dist huffman
	if err := lit.build(lengths[:nlen]); err != nil {
		return fmt.Errorf("literal/length code: %w", err)
	}
	if err := dist.build(lengths[nlen:]); err != nil {
		// A distance code with no symbols at all is allowed when the block
		// has only literals.
		if !allZero(lengths[nlen:]) {
			return fmt.Errorf("distance code: %w", err)
		}
	}
	return f.codes(b, &lit, &dist, start)
}

func allZero(b []uint8) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
