package wsmem

import "unicode/utf8"

// Temporary stand-in until the incremental validator lands (replaced by utf8.go).
type utf8State struct {
	pend [4]byte
	n    uint8
	bad  bool
}

func (s *utf8State) feed(p []byte) bool {
	if s.bad {
		return false
	}
	for _, c := range p {
		s.pend[s.n] = c
		s.n++
		if utf8.FullRune(s.pend[:s.n]) {
			r, size := utf8.DecodeRune(s.pend[:s.n])
			if r == utf8.RuneError && size <= 1 {
				s.bad = true
				return false
			}
			s.n = 0
		}
	}
	return true
}

func (s *utf8State) done() bool { return !s.bad && s.n == 0 }
func (s *utf8State) reset()     { *s = utf8State{} }
