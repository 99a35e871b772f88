package wsmem

import "encoding/binary"

// Incremental UTF-8 validation for text messages (RFC 6455, section 8.1).
//
// A text message may reach us in any number of pieces (fragments, partial
// reads), and a multi-byte sequence may straddle two or more of them. The
// validator therefore keeps a small state between calls, and it fails fast:
// feed reports the message invalid in the very call whose bytes make every
// possible completion of the message invalid UTF-8, rather than waiting for
// the end of the message.
//
// The validator is a deterministic finite automaton whose states stand for
// "what the next byte must be". Its states are the eight live ones below
// plus a sticky reject state. Because every live state admits at least one
// continuation that leads back to utf8Accept, the automaton reaches
// utf8Reject exactly when the bytes seen so far can no longer be the start
// of valid UTF-8: lead bytes C0, C1 and F5..FF, an overlong E0 80..9F or
// F0 80..8F, a surrogate ED A0..BF, a code point beyond U+10FFFF (F4 90..),
// a continuation byte where a lead byte is expected and a non-continuation
// byte where a continuation byte is expected.
//
// Transition encoding. Each state is represented by a multiple of 6 in
// [0, 54): the position of a 6-bit field. For every input byte b,
// utf8Table[b] packs the successor of every state into its field, so one
// step is
//
//	next = utf8Table[b] >> state  (low 6 bits only)
//
// The table load depends only on the input byte, not on the state, so the
// loads of consecutive bytes run in parallel and the only serial dependency
// from one byte to the next is a single shift. The other states' fields
// that a shift leaves above the low 6 bits do no harm: the code writes every
// shift count as "st & 63", which matches what x86-64 shifts do anyway (so
// the compiler emits a bare shift, with neither the mask nor a check for
// counts of 64 or more), and it masks the state before comparing or storing
// it.

// Automaton states, as bit offsets into a utf8Table entry. utf8Accept is 0
// so that the zero utf8State is a validator at the start of a message.
const (
	utf8Accept  = 0 * 6 // between characters; the message may end here
	utf8Reject  = 1 * 6 // invalid; sticky
	utf8Need1   = 2 * 6 // one more 80..BF, then accept
	utf8Need2   = 3 * 6 // 80..BF, then utf8Need1
	utf8AfterE0 = 4 * 6 // A0..BF (no overlong), then utf8Need1
	utf8AfterED = 5 * 6 // 80..9F (no surrogate), then utf8Need1
	utf8Need3   = 6 * 6 // 80..BF, then utf8Need2
	utf8AfterF0 = 7 * 6 // 90..BF (no overlong), then utf8Need2
	utf8AfterF4 = 8 * 6 // 80..8F (at most U+10FFFF), then utf8Need2

	utf8States = 9
)

// utf8ASCIIMask selects the high bit of each byte in a 64-bit word.
const utf8ASCIIMask = 0x8080808080808080

// utf8Table holds, for every byte value, the packed successors of all
// states (see the encoding above). It is filled once at package
// initialization from utf8Step, which states the rules plainly.
var utf8Table = utf8BuildTable()

func utf8BuildTable() (t [256]uint64) {
	for b := range 256 {
		var e uint64
		for i := range utf8States {
			s := uint8(i * 6)
			e |= uint64(utf8Step(s, byte(b))) << s
		}
		t[b] = e
	}
	return t
}

// utf8Step is the transition function of the automaton, written out for
// clarity; the hot path uses utf8Table instead.
func utf8Step(s uint8, b byte) uint8 {
	var lo, hi, next uint8
	switch s {
	case utf8Accept:
		switch {
		case b < 0x80:
			return utf8Accept
		case b < 0xC2: // continuation byte, or C0/C1 (always overlong)
			return utf8Reject
		case b < 0xE0:
			return utf8Need1
		case b == 0xE0:
			return utf8AfterE0
		case b == 0xED:
			return utf8AfterED
		case b < 0xF0:
			return utf8Need2
		case b == 0xF0:
			return utf8AfterF0
		case b < 0xF4:
			return utf8Need3
		case b == 0xF4:
			return utf8AfterF4
		default: // F5..FF: would encode beyond U+10FFFF, or never valid
			return utf8Reject
		}
	case utf8Need1:
		lo, hi, next = 0x80, 0xBF, utf8Accept
	case utf8Need2:
		lo, hi, next = 0x80, 0xBF, utf8Need1
	case utf8AfterE0:
		lo, hi, next = 0xA0, 0xBF, utf8Need1
	case utf8AfterED:
		lo, hi, next = 0x80, 0x9F, utf8Need1
	case utf8Need3:
		lo, hi, next = 0x80, 0xBF, utf8Need2
	case utf8AfterF0:
		lo, hi, next = 0x90, 0xBF, utf8Need2
	case utf8AfterF4:
		lo, hi, next = 0x80, 0x8F, utf8Need2
	default: // utf8Reject
		return utf8Reject
	}
	if b < lo || b > hi {
		return utf8Reject
	}
	return next
}

// utf8State validates one UTF-8 text message fed in pieces. Its zero value
// is ready to use and is at the start of a message. It is one byte long,
// holds no references and never allocates.
//
//   - feed(p) consumes the next piece of the message and returns false as
//     soon as the message can no longer be valid UTF-8, whatever follows
//     (fail fast). Once it has returned false it keeps returning false,
//     and ignores its input, until reset.
//   - done reports whether the message may end here: everything fed so far
//     is valid UTF-8 and no multi-byte sequence is left incomplete. Call it
//     after the final fragment; done()==true is exactly utf8.Valid of the
//     concatenation of all pieces fed since the last reset.
//   - reset returns the validator to the start of a new message.
type utf8State struct {
	s uint8 // one of the utf8Accept... constants
}

// reset prepares s for a new message.
func (s *utf8State) reset() { s.s = utf8Accept }

// done reports whether the message fed so far is complete, valid UTF-8.
func (s *utf8State) done() bool { return s.s == utf8Accept }

// validUTF8 reports whether p, a whole message, is valid UTF-8.
func validUTF8(p []byte) bool {
	var s utf8State
	return s.feed(p) && s.done()
}

// feed consumes the next piece p of the message. It returns false if the
// message is invalid whatever bytes may follow; the verdict is sticky.
//
// Plan: while the automaton is between characters, runs of ASCII are
// skipped without the table: first one 8-byte word and then, if that was
// all ASCII, 128- and 64-byte blocks (words ORed together) and the remaining
// words; anything else goes through the automaton 8 bytes at a time, and
// the last 8 or fewer bytes one at a time. Checking one word before trying
// a block keeps the block check from being wasted on text where ASCII and
// non-ASCII alternate quickly.
func (s *utf8State) feed(p []byte) bool {
	st := uint64(s.s)
	if st == utf8Reject {
		return false
	}
	// Capping the capacity and testing len(p) > n rather than >= n before
	// each p = p[n:] lets the compiler drop its slice-end adjustments.
	p = p[:len(p):len(p)]
	t := &utf8Table
	for {
		if st == utf8Accept && len(p) > 8 && utf8Word(p)&utf8ASCIIMask == 0 {
			p = p[8:]
			for len(p) > 128 && (utf8Block(p)|utf8Block(p[64:]))&utf8ASCIIMask == 0 {
				p = p[128:]
			}
			for len(p) > 64 && utf8Block(p)&utf8ASCIIMask == 0 {
				p = p[64:]
			}
			for len(p) > 8 && utf8Word(p)&utf8ASCIIMask == 0 {
				p = p[8:]
			}
		}
		if len(p) <= 8 {
			break
		}
		// Eight bytes through the automaton, without branches. A reject
		// on the way is sticky, so one check afterwards still fails
		// within the same call. (Written out: a helper would not be
		// inlined, and the call costs more than the work.)
		q := (*[8]byte)(p)
		st = t[q[0]] >> (st & 63)
		st = t[q[1]] >> (st & 63)
		st = t[q[2]] >> (st & 63)
		st = t[q[3]] >> (st & 63)
		st = t[q[4]] >> (st & 63)
		st = t[q[5]] >> (st & 63)
		st = t[q[6]] >> (st & 63)
		st = t[q[7]] >> (st & 63)
		st &= 63
		p = p[8:]
		if st == utf8Reject {
			s.s = utf8Reject
			return false
		}
	}
	for _, b := range p {
		st = t[b] >> (st & 63)
	}
	st &= 63
	s.s = uint8(st)
	return st != utf8Reject
}

// utf8Word returns the first 8 bytes of p (len(p) >= 8) as a word.
func utf8Word(p []byte) uint64 { return binary.LittleEndian.Uint64(p) }

// utf8Block returns the OR of the eight words in the first 64 bytes of p
// (len(p) >= 64): its high bits are clear iff all 64 bytes are ASCII.
func utf8Block(p []byte) uint64 {
	q := (*[64]byte)(p)
	return binary.LittleEndian.Uint64(q[0:]) | binary.LittleEndian.Uint64(q[8:]) |
		binary.LittleEndian.Uint64(q[16:]) | binary.LittleEndian.Uint64(q[24:]) |
		binary.LittleEndian.Uint64(q[32:]) | binary.LittleEndian.Uint64(q[40:]) |
		binary.LittleEndian.Uint64(q[48:]) | binary.LittleEndian.Uint64(q[56:])
}
