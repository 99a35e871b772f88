package wsmem

// Sec-WebSocket-Extensions parsing and permessage-deflate negotiation
// (RFC 6455 §9.1, RFC 7692 §5 and §7.1).
//
// Header grammar (RFC 6455 §9.1, with RFC 7230 list rules and optional
// whitespace around separators):
//
//	extension-list = 1#extension
//	extension      = extension-token *( ";" extension-param )
//	extension-param = token [ "=" ( token / quoted-string ) ]
//
// Empty list elements (", ,") are skipped as RFC 7230 §7 asks. Anything else
// that does not match the grammar makes the whole header unparseable and is
// reported as an error (the handshake answers 400). Extension and parameter
// names are compared ASCII case-insensitively.
//
// Server (RFC 7692 §7): offers are considered in order; an offer with an
// unknown parameter, a duplicated parameter or an invalid value is declined
// (skipped), not fatal, exactly as §7 says ("MUST decline"). The first valid
// offer is accepted: this implementation supports every valid configuration
// (all window sizes 8..15 in both directions, with and without context
// takeover).
//
// Client (RFC 7692 §7): the response must describe a configuration we offered;
// anything else (unknown extension, unknown or duplicated parameter, bad
// value, a limit we asked for that was not granted, more than one
// permessage-deflate) fails the connection.

import "errors"

// deflateParams is the agreed permessage-deflate configuration. A window-bits
// field of 0 means the parameter is absent: the window is 15 bits, and on the
// server the parameter is left out of the response.
type deflateParams struct {
	serverNoContextTakeover, clientNoContextTakeover bool
	serverMaxWindowBits, clientMaxWindowBits         uint8
}

var (
	errExtSyntax          = errors.New("wsmem: malformed Sec-WebSocket-Extensions header")
	errExtNotOffered      = errors.New("wsmem: server accepted an extension the client did not offer")
	errExtDeflateTwice    = errors.New("wsmem: server accepted permessage-deflate more than once")
	errExtDeflateResponse = errors.New("wsmem: unacceptable permessage-deflate response")
)

const extDeflateName = "permessage-deflate"

// Parameter names (RFC 7692 §7.1).
const (
	extServerNoContextTakeover = "server_no_context_takeover"
	extClientNoContextTakeover = "client_no_context_takeover"
	extServerMaxWindowBits     = "server_max_window_bits"
	extClientMaxWindowBits     = "client_max_window_bits"
)

// extTokenChars marks the RFC 7230 tchar set.
var extTokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// extParam is one extension parameter as it appears in the header. A quoted
// value is kept in its escaped form (without the quotes).
type extParam struct {
	name     []byte
	value    []byte
	hasValue bool
	quoted   bool
}

// extScanner walks the extensions of one or more header lines without
// allocating. Usage: for name, ok := s.next(); ok; name, ok = s.next() { for
// p, ok := s.param(); ok; p, ok = s.param() { ... } }, then check s.err.
// Parameters not read by the caller are still validated by next.
type extScanner struct {
	lines [][]byte
	line  []byte
	pos   int
	inExt bool // between an extension name and its terminating ',' or line end
	err   error
}

func (s *extScanner) skipOWS() {
	for s.pos < len(s.line) && (s.line[s.pos] == ' ' || s.line[s.pos] == '\t') {
		s.pos++
	}
}

func (s *extScanner) token() []byte {
	start := s.pos
	for s.pos < len(s.line) && extTokenChars[s.line[s.pos]] {
		s.pos++
	}
	return s.line[start:s.pos]
}

// quotedString consumes a quoted-string starting at the opening quote and
// returns its escaped content.
func (s *extScanner) quotedString() ([]byte, bool) {
	s.pos++ // opening quote
	start := s.pos
	for s.pos < len(s.line) {
		c := s.line[s.pos]
		switch {
		case c == '"':
			v := s.line[start:s.pos]
			s.pos++
			return v, true
		case c == '\\':
			// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
			if s.pos+1 >= len(s.line) || !extQuotable(s.line[s.pos+1]) {
				return nil, false
			}
			s.pos += 2
		case extQuotable(c):
			s.pos++
		default:
			return nil, false
		}
	}
	return nil, false // unterminated
}

// extQuotable reports HTAB / SP / VCHAR / obs-text (qdtext plus '"' and '\').
func extQuotable(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f)
}

// next advances to the next extension and returns its name. It returns false
// at the end of the input or on a syntax error (then s.err is set).
func (s *extScanner) next() ([]byte, bool) {
	for s.inExt {
		if _, ok := s.param(); !ok {
			break
		}
	}
	if s.err != nil {
		return nil, false
	}
	for {
		s.skipOWS()
		if s.pos == len(s.line) {
			if len(s.lines) == 0 {
				return nil, false
			}
			s.line, s.lines, s.pos = s.lines[0], s.lines[1:], 0
			continue
		}
		if s.line[s.pos] == ',' {
			s.pos++
			continue
		}
		name := s.token()
		if len(name) == 0 {
			s.err = errExtSyntax
			return nil, false
		}
		s.inExt = true
		return name, true
	}
}

// param returns the next parameter of the current extension, or false at its
// end or on a syntax error (then s.err is set).
func (s *extScanner) param() (extParam, bool) {
	if !s.inExt || s.err != nil {
		return extParam{}, false
	}
	s.skipOWS()
	if s.pos == len(s.line) {
		s.inExt = false
		return extParam{}, false
	}
	switch s.line[s.pos] {
	case ',':
		s.pos++
		s.inExt = false
		return extParam{}, false
	case ';':
		s.pos++
	default:
		return s.fail()
	}
	s.skipOWS()
	var p extParam
	if p.name = s.token(); len(p.name) == 0 {
		return s.fail()
	}
	s.skipOWS()
	if s.pos < len(s.line) && s.line[s.pos] == '=' {
		s.pos++
		s.skipOWS()
		p.hasValue = true
		if s.pos < len(s.line) && s.line[s.pos] == '"' {
			var ok bool
			if p.value, ok = s.quotedString(); !ok {
				return s.fail()
			}
			p.quoted = true
		} else if p.value = s.token(); len(p.value) == 0 {
			return s.fail()
		}
	}
	return p, true
}

func (s *extScanner) fail() (extParam, bool) {
	s.err = errExtSyntax
	s.inExt = false
	return extParam{}, false
}

// extEqualFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b.
func extEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// extWindowBits parses a window-bits value: a decimal integer without leading
// zeroes in 8..15 (RFC 7692 §7.1.2), possibly written as a quoted-string whose
// unescaped content is that integer (RFC 6455 §9.1 allows either form).
func extWindowBits(p extParam) (uint8, bool) {
	if !p.hasValue {
		return 0, false
	}
	var v, n int
	for i := 0; i < len(p.value); i++ {
		c := p.value[i]
		if p.quoted && c == '\\' {
			i++ // the scanner guarantees a following byte
			c = p.value[i]
		}
		if c < '0' || c > '9' || (n == 0 && c == '0') || n == 2 {
			return 0, false
		}
		v = v*10 + int(c-'0')
		n++
	}
	if v < deflateMinWindowBits || v > deflateMaxWindowBits {
		return 0, false
	}
	return uint8(v), true
}

// extDeflateOffer collects the parameters of one permessage-deflate element.
type extDeflateOffer struct {
	invalid bool

	serverNoContextTakeover bool
	clientNoContextTakeover bool
	hasServerBits           bool
	serverBits              uint8
	hasClientBits           bool
	clientBits              uint8 // 0: the parameter had no value
}

// add records parameter p. fromServer selects the response rules (where
// client_max_window_bits needs a value). An unknown, duplicated or malformed
// parameter marks the element invalid.
func (o *extDeflateOffer) add(p extParam, fromServer bool) {
	switch {
	case extEqualFold(p.name, extServerNoContextTakeover):
		if o.serverNoContextTakeover || p.hasValue {
			o.invalid = true
		}
		o.serverNoContextTakeover = true
	case extEqualFold(p.name, extClientNoContextTakeover):
		if o.clientNoContextTakeover || p.hasValue {
			o.invalid = true
		}
		o.clientNoContextTakeover = true
	case extEqualFold(p.name, extServerMaxWindowBits):
		b, ok := extWindowBits(p)
		if o.hasServerBits || !ok {
			o.invalid = true
		}
		o.hasServerBits, o.serverBits = true, b
	case extEqualFold(p.name, extClientMaxWindowBits):
		var b uint8
		ok := true
		if p.hasValue || fromServer {
			b, ok = extWindowBits(p)
		}
		if o.hasClientBits || !ok {
			o.invalid = true
		}
		o.hasClientBits, o.clientBits = true, b
	default:
		o.invalid = true
	}
}

// negotiateDeflate is the server side: it picks the first valid
// permessage-deflate offer in the client's Sec-WebSocket-Extensions lines and
// returns the agreed parameters (write them with appendDeflateResponse).
// ok=false means no compression (disabled, not offered, or every offer
// declined). err reports a header that does not parse; the other extensions
// are syntax-checked and otherwise ignored. It does not allocate.
func negotiateDeflate(lines [][]byte, cfg *CompressionConfig) (p deflateParams, ok bool, err error) {
	enabled := cfg != nil && cfg.Enabled
	s := extScanner{lines: lines}
	for name, more := s.next(); more; name, more = s.next() {
		if ok || !enabled || !extEqualFold(name, extDeflateName) {
			continue // still parsed by next, for syntax errors
		}
		var o extDeflateOffer
		for prm, more := s.param(); more; prm, more = s.param() {
			o.add(prm, false)
		}
		if s.err != nil || o.invalid {
			continue
		}
		p, ok = extAcceptOffer(&o, cfg), true
	}
	if s.err != nil {
		return deflateParams{}, false, errExtSyntax // the only error s records; naming it keeps lines from escaping
	}
	return p, ok, nil
}

// extAcceptOffer computes the server's answer to a valid offer.
func extAcceptOffer(o *extDeflateOffer, cfg *CompressionConfig) deflateParams {
	var p deflateParams
	// §7.1.1: the server must honour server_no_context_takeover, and may
	// always add either parameter. A client that announces it will not take
	// over its context gets client_no_context_takeover echoed, so that we do
	// not keep a receive window for nothing.
	p.serverNoContextTakeover = o.serverNoContextTakeover || cfg.ServerNoContextTakeover
	p.clientNoContextTakeover = o.clientNoContextTakeover || cfg.ClientNoContextTakeover

	// §7.1.2.1: answer with the same or a smaller value; the server may also
	// announce a limit the client did not ask for.
	sb := cfg.serverWindowBits()
	if o.hasServerBits {
		sb = min(sb, o.serverBits)
	}
	if o.hasServerBits || sb < deflateMaxWindowBits {
		p.serverMaxWindowBits = sb
	}

	// §7.1.2.2: a limit on the client's window may only be set if the client
	// offered client_max_window_bits, and never above the offered value.
	cb := cfg.clientWindowBits()
	switch {
	case o.hasClientBits:
		if o.clientBits != 0 {
			cb = min(cb, o.clientBits)
		}
		// zlib (since 1.2.9) refuses raw deflate with an 8-bit window and
		// many peers silently use 9 instead; only ask a client for 8 if it
		// proposed 8 itself.
		if cb == deflateMinWindowBits && o.clientBits != deflateMinWindowBits {
			cb++
		}
		if cb < deflateMaxWindowBits {
			p.clientMaxWindowBits = cb
		}
	case cb < deflateMaxWindowBits:
		// The client cannot limit its window; keep the receive-window
		// memory bound the configuration asks for by turning off the
		// client's context takeover instead, which it must support.
		p.clientNoContextTakeover = true
	}
	return p
}

// appendDeflateResponse appends the server's Sec-WebSocket-Extensions value
// for the agreed parameters.
func appendDeflateResponse(dst []byte, p deflateParams) []byte {
	dst = append(dst, extDeflateName...)
	if p.serverNoContextTakeover {
		dst = append(dst, "; "+extServerNoContextTakeover...)
	}
	if p.clientNoContextTakeover {
		dst = append(dst, "; "+extClientNoContextTakeover...)
	}
	if p.serverMaxWindowBits != 0 {
		dst = append(dst, "; "+extServerMaxWindowBits+"="...)
		dst = extAppendBits(dst, p.serverMaxWindowBits)
	}
	if p.clientMaxWindowBits != 0 {
		dst = append(dst, "; "+extClientMaxWindowBits+"="...)
		dst = extAppendBits(dst, p.clientMaxWindowBits)
	}
	return dst
}

func extAppendBits(dst []byte, b uint8) []byte {
	if b >= 10 {
		dst = append(dst, '1')
		b -= 10
	}
	return append(dst, '0'+b)
}

// appendDeflateOffer appends the client's Sec-WebSocket-Extensions value
// offering permessage-deflate under cfg (call only when cfg.Enabled). The
// offer always carries client_max_window_bits: we can compress with any
// window the server asks for.
func appendDeflateOffer(dst []byte, cfg *CompressionConfig) []byte {
	dst = append(dst, extDeflateName...)
	if cfg.ServerNoContextTakeover {
		dst = append(dst, "; "+extServerNoContextTakeover...)
	}
	if cfg.ClientNoContextTakeover {
		dst = append(dst, "; "+extClientNoContextTakeover...)
	}
	if b := cfg.serverWindowBits(); b < deflateMaxWindowBits {
		dst = append(dst, "; "+extServerMaxWindowBits+"="...)
		dst = extAppendBits(dst, b)
	}
	dst = append(dst, "; "+extClientMaxWindowBits...)
	if b := cfg.clientWindowBits(); b < deflateMaxWindowBits {
		dst = append(dst, '=')
		dst = extAppendBits(dst, b)
	}
	return dst
}

// acceptDeflateResponse is the client side: it checks the server's
// Sec-WebSocket-Extensions lines against the offer appendDeflateOffer made
// from cfg. ok=false with a nil error means the server declined compression.
// Any error must fail the connection (RFC 6455 §9.1, RFC 7692 §7). It does not
// allocate.
func acceptDeflateResponse(lines [][]byte, cfg *CompressionConfig) (p deflateParams, ok bool, err error) {
	s := extScanner{lines: lines}
	var o extDeflateOffer
	for name, more := s.next(); more; name, more = s.next() {
		if cfg == nil || !cfg.Enabled || !extEqualFold(name, extDeflateName) {
			return deflateParams{}, false, errExtNotOffered
		}
		if ok {
			return deflateParams{}, false, errExtDeflateTwice
		}
		ok = true
		for prm, more := s.param(); more; prm, more = s.param() {
			o.add(prm, true)
		}
	}
	if s.err != nil {
		return deflateParams{}, false, errExtSyntax // the only error s records; naming it keeps lines from escaping
	}
	if !ok {
		return deflateParams{}, false, nil
	}
	if o.invalid {
		return deflateParams{}, false, errExtDeflateResponse
	}
	// What we asked for must have been granted (§7.1.1.1, §7.1.2.1).
	if cfg.ServerNoContextTakeover && !o.serverNoContextTakeover {
		return deflateParams{}, false, errExtDeflateResponse
	}
	offeredServerBits := cfg.serverWindowBits()
	if offeredServerBits < deflateMaxWindowBits &&
		(!o.hasServerBits || o.serverBits > offeredServerBits) {
		return deflateParams{}, false, errExtDeflateResponse
	}
	// We offered client_max_window_bits with our own limit (or none, i.e.
	// 15); the server may only lower it (§7.1.2.2).
	cb := cfg.clientWindowBits()
	if o.hasClientBits {
		if o.clientBits > cb {
			return deflateParams{}, false, errExtDeflateResponse
		}
		cb = o.clientBits
	}
	p.serverNoContextTakeover = o.serverNoContextTakeover
	// We announced client_no_context_takeover; honour it even if the server
	// did not echo it.
	p.clientNoContextTakeover = o.clientNoContextTakeover || cfg.ClientNoContextTakeover
	if o.hasServerBits {
		p.serverMaxWindowBits = o.serverBits
	}
	if cb < deflateMaxWindowBits {
		p.clientMaxWindowBits = cb
	}
	return p, true, nil
}
