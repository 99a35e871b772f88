package wsmem

// A deliberately small and slow RFC 1951 decoder, written from the RFC for the
// tests only. It is independent of both klauspost/compress and compress/flate
// and, unlike them, reports the largest back-reference distance a stream uses,
// which is how the tests check that window-limited output really respects the
// negotiated window.

import (
	"errors"
)

var errDeflateRefCorrupt = errors.New("ref inflate: corrupt stream")

type deflateRefInflater struct {
	in      []byte
	pos     int
	bits    uint32
	nbits   uint
	out     []byte // dictionary followed by the decoded data
	maxDist int
}

// deflateRefHuffman is a canonical Huffman code: count[l] codes of length l, and the
// symbols ordered by (length, symbol).
type deflateRefHuffman struct {
	count  [16]int
	symbol []int
}

func deflateRefBuildHuffman(lengths []int) (*deflateRefHuffman, error) {
	h := &deflateRefHuffman{symbol: make([]int, 0, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= h.count[l]
		if left < 0 {
			return nil, errDeflateRefCorrupt // over-subscribed
		}
	}
	for l := 1; l < 16; l++ {
		for sym, sl := range lengths {
			if sl == l {
				h.symbol = append(h.symbol, sym)
			}
		}
	}
	return h, nil
}

func (r *deflateRefInflater) need(n uint) error {
	for r.nbits < n {
		if r.pos >= len(r.in) {
			return errDeflateRefCorrupt
		}
		r.bits |= uint32(r.in[r.pos]) << r.nbits
		r.pos++
		r.nbits += 8
	}
	return nil
}

func (r *deflateRefInflater) getBits(n uint) (int, error) {
	if err := r.need(n); err != nil {
		return 0, err
	}
	v := int(r.bits & (1<<n - 1))
	r.bits >>= n
	r.nbits -= n
	return v, nil
}

// decode reads one symbol, one bit at a time (codes are stored MSB first).
func (r *deflateRefInflater) decode(h *deflateRefHuffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.getBits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[l]
		if code-first < count {
			return h.symbol[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errDeflateRefCorrupt
}

var (
	deflateRefLengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	deflateRefLengthExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	deflateRefDistBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	deflateRefDistExtra   = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	deflateRefCLOrder     = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

func (r *deflateRefInflater) codes(lit, dist *deflateRefHuffman) error {
	for {
		sym, err := r.decode(lit)
		if err != nil {
			return err
		}
		switch {
		case sym < 256:
			r.out = append(r.out, byte(sym))
		case sym == 256:
			return nil
		default:
			sym -= 257
			if sym >= 29 {
				return errDeflateRefCorrupt
			}
			extra, err := r.getBits(deflateRefLengthExtra[sym])
			if err != nil {
				return err
			}
			length := deflateRefLengthBase[sym] + extra
			ds, err := r.decode(dist)
			if err != nil {
				return err
			}
			if ds >= 30 {
				return errDeflateRefCorrupt
			}
			extra, err = r.getBits(deflateRefDistExtra[ds])
			if err != nil {
				return err
			}
			d := deflateRefDistBase[ds] + extra
			if d > len(r.out) {
				return errDeflateRefCorrupt
			}
			r.maxDist = max(r.maxDist, d)
			for range length {
				r.out = append(r.out, r.out[len(r.out)-d])
			}
		}
	}
}

func (r *deflateRefInflater) stored() error {
	r.bits, r.nbits = 0, 0 // go to a byte boundary
	if r.pos+4 > len(r.in) {
		return errDeflateRefCorrupt
	}
	n := int(r.in[r.pos]) | int(r.in[r.pos+1])<<8
	nc := int(r.in[r.pos+2]) | int(r.in[r.pos+3])<<8
	r.pos += 4
	if n != ^nc&0xffff || r.pos+n > len(r.in) {
		return errDeflateRefCorrupt
	}
	r.out = append(r.out, r.in[r.pos:r.pos+n]...)
	r.pos += n
	return nil
}

var deflateRefFixedLit, deflateRefFixedDist = func() (*deflateRefHuffman, *deflateRefHuffman) {
	var l [288]int
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
	var d [30]int
	for i := range d {
		d[i] = 5
	}
	lit, _ := deflateRefBuildHuffman(l[:])
	dist, _ := deflateRefBuildHuffman(d[:])
	return lit, dist
}()

func (r *deflateRefInflater) dynamic() error {
	nlen, err := r.getBits(5)
	if err != nil {
		return err
	}
	ndist, err := r.getBits(5)
	if err != nil {
		return err
	}
	ncode, err := r.getBits(4)
	if err != nil {
		return err
	}
	nlen, ndist, ncode = nlen+257, ndist+1, ncode+4
	if nlen > 286 || ndist > 30 {
		return errDeflateRefCorrupt
	}
	var cl [19]int
	for i := range ncode {
		if cl[deflateRefCLOrder[i]], err = r.getBits(3); err != nil {
			return err
		}
	}
	clh, err := deflateRefBuildHuffman(cl[:])
	if err != nil {
		return err
	}
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym, err := r.decode(clh)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths = append(lengths, sym)
			continue
		}
		var rep, val int
		switch sym {
		case 16:
			if len(lengths) == 0 {
				return errDeflateRefCorrupt
			}
			val = lengths[len(lengths)-1]
			rep, err = r.getBits(2)
			rep += 3
		case 17:
			rep, err = r.getBits(3)
			rep += 3
		default:
			rep, err = r.getBits(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		if len(lengths)+rep > nlen+ndist {
			return errDeflateRefCorrupt
		}
		for range rep {
			lengths = append(lengths, val)
		}
	}
	lit, err := deflateRefBuildHuffman(lengths[:nlen])
	if err != nil {
		return err
	}
	dist, err := deflateRefBuildHuffman(lengths[nlen:])
	if err != nil {
		return err
	}
	return r.codes(lit, dist)
}

// deflateRefInflate decodes a permessage-deflate payload (the 00 00 FF FF tail is
// appended here) on top of dict. It returns the plaintext and the largest
// distance any back-reference used.
func deflateRefInflate(dict, payload []byte) (out []byte, maxDist int, err error) {
	in := append(append([]byte(nil), payload...), deflateSyncTail[:]...)
	r := &deflateRefInflater{in: in, out: append([]byte(nil), dict...)}
	for {
		if r.pos == len(r.in) && r.nbits < 8 && r.bits == 0 {
			break // clean end after the sync-flush block
		}
		hdr, err := r.getBits(3)
		if err != nil {
			return nil, 0, err
		}
		switch hdr >> 1 {
		case 0:
			err = r.stored()
		case 1:
			err = r.codes(deflateRefFixedLit, deflateRefFixedDist)
		case 2:
			err = r.dynamic()
		default:
			err = errDeflateRefCorrupt
		}
		if err != nil {
			return nil, 0, err
		}
		if hdr&1 == 1 {
			break
		}
	}
	return r.out[len(dict):], r.maxDist, nil
}
