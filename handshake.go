package wsmem

// The opening handshake of RFC 6455 §4 at the byte level.
//
// Everything here works on byte slices the caller owns: parsers record
// sub-slices of their input instead of copying, writers append to a buffer the
// caller passes in, and none of them allocates. The connection code reads the
// head into its own buffer, finds its end with headEnd, parses it, and writes
// the answer into its write buffer.
//
// Policy of the request parser (scanRequest), beyond what RFC 6455 and
// RFC 7230 require outright:
//
//   - Lines must end in CRLF. A bare LF, a bare CR or any other control
//     character inside a line is a 400; so is obsolete line folding
//     (RFC 7230 §3.2.4) and whitespace between a field name and its colon.
//   - An empty line before the request line is not skipped: it is a 400.
//   - The HTTP version must be HTTP/1.x with x >= 1 (RFC 6455 §4.2.1 asks for
//     1.1 or higher). A well-formed version that does not qualify, such as
//     HTTP/1.0, HTTP/0.9 or HTTP/2.0, is a 505; one that is not of the form
//     HTTP/DIGIT.DIGIT is a 400.
//   - The method is case-sensitive (RFC 7230 §3.1.1): anything but GET, "get"
//     included, is a 405. The 405 answer carries "Allow: GET".
//   - The request-target may be in origin-form ("/path?query") or, as RFC 6455
//     §4.2.1 and RFC 7230 §5.3.2 require a server to accept, in absolute-form
//     with an http or https scheme in any case ("http://host:port/path?query").
//     For the absolute-form the resource is the path and query, and the
//     authority is kept apart; an absolute URI with an empty path stands for
//     "/", and one with a query but no path, or with userinfo, is a 400. Host
//     is still required; when it differs from the authority, RFC 7230 §5.5
//     makes the authority the effective host, and the caller decides which one
//     to use. Authority-form and asterisk-form are 400s. A target longer than
//     the caller's limit is a 414. Target bytes must be visible ASCII; '#' (a
//     fragment) is a 400.
//   - Host, Sec-WebSocket-Key, Sec-WebSocket-Version and Origin may appear
//     once; a second line is a 400. Upgrade and Connection may be repeated and
//     are read as one comma-separated list. Sec-WebSocket-Protocol and
//     Sec-WebSocket-Extensions lines are collected, at most maxHeaderLines of
//     each; one more is a 431. Their contents are not checked here: an offered
//     subprotocol that is not a token simply never matches in selectProtocol,
//     and the extensions are parsed by the permessage-deflate code.
//   - Sec-WebSocket-Key must be the canonical base64 of 16 bytes: 22 characters
//     of the standard alphabet, the last of which carries no stray bits, then
//     "==". Anything else is a 400.
//   - A missing Sec-WebSocket-Version, or one that is not exactly "13", is a
//     426 whose answer carries "Sec-WebSocket-Version: 13".
//
// When a request has several faults, the answer is the first in this order:
// request-line syntax (400), version (505), method (405), target length (414),
// target form (400), then each header line in turn (syntax or duplicate: 400;
// too many protocol or extension lines: 431), then Host (400), Upgrade (400),
// Connection (400), Sec-WebSocket-Version (426), Sec-WebSocket-Key (400).
// Reporting the version before the key lets a client that speaks another
// version learn which one to use.
//
// Errors of the client side are package-level values of type *handshakeError.
// Returning one costs nothing, and each matches errors.Is(err, ErrProtocol).

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/bits"
)

// acceptGUID is the fixed string RFC 6455 §1.3 appends to the client's key
// before hashing it into Sec-WebSocket-Accept.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// maxHeaderLines bounds how many Sec-WebSocket-Protocol lines, and separately
// how many Sec-WebSocket-Extensions lines, one head may carry.
const maxHeaderLines = 4

// handshakeError is a failed client handshake. Values are built once, at
// package level, so returning one allocates nothing.
type handshakeError struct{ msg string }

func (e *handshakeError) Error() string { return e.msg }

// Unwrap makes every handshake error match errors.Is(err, ErrProtocol).
func (e *handshakeError) Unwrap() error { return ErrProtocol }

// Errors of the handshake. The first group reports a peer that broke the
// protocol and matches ErrProtocol; the second reports bad arguments given by
// the local caller and does not.
var (
	errBadKey             = &handshakeError{"wsmem: handshake: Sec-WebSocket-Key is not the base64 of 16 bytes"}
	errBadStatusLine      = &handshakeError{"wsmem: handshake: malformed or unsupported HTTP status line"}
	errBadStatus          = &handshakeError{"wsmem: handshake: server did not answer 101 Switching Protocols"}
	errBadHeaderLine      = &handshakeError{"wsmem: handshake: malformed header line in response"}
	errBadUpgrade         = &handshakeError{"wsmem: handshake: response lacks Upgrade: websocket"}
	errBadConnection      = &handshakeError{"wsmem: handshake: response lacks Connection: upgrade"}
	errBadAccept          = &handshakeError{"wsmem: handshake: missing, repeated or wrong Sec-WebSocket-Accept"}
	errBadProtocolHeader  = &handshakeError{"wsmem: handshake: response Sec-WebSocket-Protocol is not a single token"}
	errTooManyExtensions  = &handshakeError{"wsmem: handshake: too many Sec-WebSocket-Extensions lines in response"}
	errUnexpectedProtocol = &handshakeError{"wsmem: handshake: server chose a subprotocol the client did not offer"}

	errBadResource     = errors.New("wsmem: handshake: resource must be empty or start with '/' and hold only visible ASCII without '#'")
	errBadHost         = errors.New("wsmem: handshake: host is empty or holds characters not allowed in a Host header")
	errBadProtocolName = errors.New("wsmem: handshake: subprotocol names must be distinct HTTP tokens")
	errBadExtensions   = errors.New("wsmem: handshake: extensions value holds a control character")
)

// RequestKey returns a fresh Sec-WebSocket-Key: the base64 of 16 bytes read
// from crypto/rand. It allocates nothing.
func RequestKey() ([24]byte, error) {
	var nonce [16]byte
	var key [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return key, err
	}
	base64.StdEncoding.Encode(key[:], nonce[:])
	return key, nil
}

// ResponseKey returns the Sec-WebSocket-Accept value that answers requestKey:
// the base64 of the SHA-1 of the key followed by the RFC 6455 GUID. It fails
// with an error matching ErrProtocol unless requestKey is the canonical base64
// of 16 bytes. It allocates nothing.
func ResponseKey(requestKey []byte) ([28]byte, error) {
	if !validKey(requestKey) {
		return [28]byte{}, errBadKey
	}
	return acceptKey((*[24]byte)(requestKey)), nil
}

// headEnd returns the index just past the first blank line ("\r\n\r\n") in b,
// or -1 when b does not hold one yet. b[:headEnd(b)] is the head to parse; any
// bytes after it already belong to the WebSocket stream. It looks for LFs
// eight bytes at a time (a head has one per line) and checks the bytes
// around each.
func headEnd(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ '\n'*ones
		// The lowest flag is exact; one above it may be a byte of 0x0b
		// after an LF, which the b[k] test below skips.
		for m := (x - ones) &^ x & highs; m != 0; m &= m - 1 {
			if k := i + bits.TrailingZeros64(m)/8; b[k] == '\n' && endsHead(b, k) {
				return k + 3
			}
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '\n' && endsHead(b, i) {
			return i + 3
		}
	}
	return -1
}

// mayEndHead reports whether b holds four control bytes in a row, as the
// blank line's "\r\n\r\n" is: without them headEnd(b) is -1. The lines of a
// head hold no control byte but HTAB and their CRLF, so the filter passes
// only at the head's end or on bytes that are no head at all. It reads the
// control-byte map of ctlMap, 256 bytes per call, and tests each 64-bit
// word for a run of four bits, and the joint of each word with the next.
//
// Cost: ctlMap's (SIMD on amd64), and a dozen operations per 64 bytes.
func mayEndHead(b []byte) bool {
	var prev uint64 // the previous word of the map
	var ctl [4]uint64
	for at := 0; at < len(b); at += mapWindow {
		ctlMap(&ctl, b[at:])
		for k := range ctl { // by index: a range over the array would copy it with 16-byte loads, which stall on ctlMap's 8-byte stores
			w := ctl[k]
			joint := prev>>61 | (w&7)<<3 // bits 61..63 of prev, then 0..2 of w
			if w&(w>>1)&(w>>2)&(w>>3) != 0 || joint&(joint>>1)&(joint>>2)&(joint>>3) != 0 {
				return true
			}
			prev = w
		}
	}
	return false
}

// endsHead reports whether the LF at b[k] is the first of "\r\n\r\n".
func endsHead(b []byte, k int) bool {
	return k >= 1 && k+2 < len(b) && b[k-1] == '\r' && b[k+1] == '\r' && b[k+2] == '\n'
}

// rootTarget is the resource of an absolute-form target with an empty path.
// It is capped so that appending to it cannot write into shared memory.
var rootTarget = []byte("/")[:1:1]

// requestHead is what scanRequest learns from an upgrade request. Every slice
// aliases the head passed to scanRequest (except target, which may be the
// shared read-only "/" for an absolute URI without a path) and is valid only
// while that memory is unchanged. It lives on the stack of the goroutine that
// runs the handshake, which should stay at its first 2 KiB: the protocol and
// extension lines are kept as spans of head rather than slices (216 bytes in
// all instead of 328).
type requestHead struct {
	target    []byte // resource name: absolute path and optional query, e.g. "/chat?room=1"
	authority []byte // host[:port] of an absolute-form target; nil for origin-form
	host      []byte // the Host value, trimmed
	key       []byte // the Sec-WebSocket-Key value, 24 bytes when accepted
	origin    []byte // the Origin value; nil when absent

	// Where the values of the Sec-WebSocket-Protocol and
	// Sec-WebSocket-Extensions lines sit in head, trimmed, in arrival order:
	// protocols[:nProtocols], extensions[:nExtensions].
	head        []byte
	protocols   [maxHeaderLines]span
	extensions  [maxHeaderLines]span
	nProtocols  uint8
	nExtensions uint8
}

// span is where a value sits in a head: head[from:to].
type span struct{ from, to int32 }

// protocolLine returns the value of the k-th Sec-WebSocket-Protocol line,
// k < nProtocols.
func (r *requestHead) protocolLine(k int) []byte {
	return r.head[r.protocols[k].from:r.protocols[k].to]
}

// extensionLine returns the value of the k-th Sec-WebSocket-Extensions
// line, k < nExtensions.
func (r *requestHead) extensionLine(k int) []byte {
	return r.head[r.extensions[k].from:r.extensions[k].to]
}

// extensionLines appends the Sec-WebSocket-Extensions values of the request
// to dst: it allocates nothing when dst has room for maxHeaderLines.
func (r *requestHead) extensionLines(dst [][]byte) [][]byte {
	for k := range int(r.nExtensions) {
		dst = append(dst, r.extensionLine(k))
	}
	return dst
}

// scanRequest reads the opening handshake of a client from b, which holds
// the start of a head that may go on past it, and finds the head's end in
// the same pass. It fills req with views into b. end is the head's length
// when b holds all of it (bytes after the first blank line are not
// examined); status is then 0 when the request is an acceptable WebSocket
// upgrade, or else the HTTP status to answer with (appendRejectResponse
// writes it). maxTarget > 0 bounds the length of the request-target as sent
// (414 beyond it). The rules and the order in which faults are reported are
// in the comment at the top of this file. end is -1 when b does not hold the
// whole head; status is then 0, or already the answer when a line b holds
// whole is faulty. Each line's end is found by looking for control
// characters in a map of them made 256 bytes at a time (see lineScanner),
// which also checks that the field values hold none but HTAB; the names the
// handshake reads are recognised a word at a time. After a non-zero status
// the contents of req are unspecified. It allocates nothing.
func scanRequest(b []byte, req *requestHead, maxTarget int) (end, status int) {
	*req = requestHead{head: b}

	lines := newLineScanner(b)
	cr := lines.lineEnd(0)
	if cr < 0 {
		return lineFault(b, 0, cr)
	}
	method, target, version, ok := splitRequestLine(b[:cr])
	switch {
	case !ok:
		return faultAt(b, 0, 400)
	case version[5] != '1' || version[7] == '0':
		return faultAt(b, 0, 505)
	case string(method) != "GET":
		return faultAt(b, 0, 405)
	case maxTarget > 0 && len(target) > maxTarget:
		return faultAt(b, 0, 414)
	case bytes.IndexByte(target, '#') >= 0:
		return faultAt(b, 0, 400)
	}
	if target[0] == '/' {
		req.target = target
	} else if req.authority, req.target, ok = splitAbsoluteTarget(target); !ok {
		return faultAt(b, 0, 400)
	}

	var seen uint8 // the seenX bits of the fields met so far
	var wsVersion []byte
	i := cr + 2
	for {
		// The common case, inlined: a CRLF in the map's word that holds i.
		if cr = lines.peek(i); cr < 0 || cr+1 >= len(b) || b[cr] != '\r' || b[cr+1] != '\n' {
			cr = lines.lineEnd(i)
		}
		if cr < 0 {
			return lineFault(b, i, cr)
		}
		if cr == i {
			end = i + 2
			break
		}
		field, colon := fieldName(b, i, cr)
		if colon < 0 {
			return faultAt(b, i, 400)
		}
		from, to := trimSpan(b, colon+1, cr)
		value := b[from:to]
		switch field {
		case fieldHost:
			if seen&seenHost != 0 {
				return faultAt(b, i, 400)
			}
			seen |= seenHost
			req.host = value
		case fieldOrigin:
			if seen&seenOrigin != 0 {
				return faultAt(b, i, 400)
			}
			seen |= seenOrigin
			req.origin = value
		case fieldUpgrade:
			if hasTokenFold(value, "websocket") {
				seen |= seenUpgrade
			}
		case fieldConnection:
			if hasTokenFold(value, "upgrade") {
				seen |= seenConnection
			}
		case fieldKey:
			if seen&seenKey != 0 {
				return faultAt(b, i, 400)
			}
			seen |= seenKey
			req.key = value
		case fieldVersion:
			if seen&seenVersion != 0 {
				return faultAt(b, i, 400)
			}
			seen |= seenVersion
			wsVersion = value
		case fieldProtocol:
			if req.nProtocols == maxHeaderLines {
				return faultAt(b, i, 431)
			}
			req.protocols[req.nProtocols] = span{int32(from), int32(to)}
			req.nProtocols++
		case fieldExtensions:
			if req.nExtensions == maxHeaderLines {
				return faultAt(b, i, 431)
			}
			req.extensions[req.nExtensions] = span{int32(from), int32(to)}
			req.nExtensions++
		}
		i = cr + 2
	}

	switch {
	case seen&seenHost == 0 || !validHost(req.host):
		return end, 400
	case seen&seenUpgrade == 0, seen&seenConnection == 0:
		return end, 400
	case seen&seenVersion == 0 || string(wsVersion) != "13":
		return end, 426
	case seen&seenKey == 0 || !validKey(req.key):
		return end, 400
	}
	return end, 0
}

// trimSpan returns the bounds of b[from:to] without its leading and trailing
// spaces and tabs.
func trimSpan(b []byte, from, to int) (int, int) {
	for from < to && (b[from] == ' ' || b[from] == '\t') {
		from++
	}
	for to > from && (b[to-1] == ' ' || b[to-1] == '\t') {
		to--
	}
	return from, to
}

// Bits of scanRequest's record of the fields it met.
const (
	seenHost       = 1 << iota // a Host line
	seenOrigin                 // an Origin line
	seenKey                    // a Sec-WebSocket-Key line
	seenVersion                // a Sec-WebSocket-Version line
	seenUpgrade                // an Upgrade list holding "websocket"
	seenConnection             // a Connection list holding "upgrade"
)

// faultAt returns what scanRequest answers when the line at b[i], and the
// lines before it, are whole and the first fault is in that line: status,
// with the head's end when b holds it (the head cannot end before line i,
// as every line before it is non-empty and free of stray CRs).
func faultAt(b []byte, i, status int) (end, st int) {
	if e := headEnd(b[i:]); e >= 0 {
		return i + e, status
	}
	return -1, status
}

// lineFault returns what scanRequest answers when lineEnd(i) gave res:
// more bytes are needed, or the line is faulty (400).
func lineFault(b []byte, i, res int) (end, status int) {
	if res == lineMore {
		return -1, 0
	}
	return faultAt(b, i, 400)
}

// Results of lineEnd other than a line's end.
const (
	lineMore = -1 // the line goes on past the bytes at hand
	lineBad  = -2 // the line holds a control character other than HTAB, or DEL
)

// lineEnd returns the index of the CR of the CRLF that ends the line that
// starts at b[i] (b is the scanner's). Before it, the line may hold HTAB but
// no other control character nor DEL: a bare CR or LF, or any of those,
// gives lineBad. It gives lineMore when b ends first. Lines are best asked
// for in order (see next).
func (s *lineScanner) lineEnd(i int) int {
	b := s.b
	for {
		i = s.next(i)
		switch {
		case i == len(b):
			return lineMore
		case b[i] == '\t':
			i++
		case b[i] != '\r':
			return lineBad
		case i+1 == len(b):
			return lineMore
		case b[i+1] == '\n':
			return i
		default:
			return lineBad
		}
	}
}

// The header fields scanRequest reads, as fieldName tells them apart.
const (
	fieldOther = iota
	fieldHost
	fieldOrigin
	fieldUpgrade
	fieldConnection
	fieldKey
	fieldVersion
	fieldProtocol
	fieldExtensions
)

// fieldName reads the name of the header line b[i:cr], which holds no
// control character but HTAB (see lineEnd). It returns which of the fields
// of the handshake it is, or fieldOther, and the index of the colon after
// it; colon is -1 when the line does not start with a token followed
// directly by ':'. The handshake's names are compared eight bytes at a time,
// lower-cased by setting the 0x20 bit of every byte: that maps only 'A'-'Z'
// onto the letters, and only CR (absent here) onto '-' and SUB (absent too)
// onto ':', so a match is exact. Other names are checked byte by byte.
func fieldName(b []byte, i, cr int) (field, colon int) {
	w := foldedWord(b, i)
	switch byte(w) {
	case 'h':
		if w&mask5 == wordHost {
			field, colon = fieldHost, i+4
		}
	case 'o':
		if w&mask7 == wordOrigin {
			field, colon = fieldOrigin, i+6
		}
	case 'u':
		if w == wordUpgrade {
			field, colon = fieldUpgrade, i+7
		}
	case 'c':
		if w == wordConnecti && foldedWord(b, i+3) == wordNection {
			field, colon = fieldConnection, i+10
		}
	case 's':
		if w != wordSecWebs || foldedWord(b, i+6) != wordBsocket {
			break
		}
		switch w = foldedWord(b, i+14); {
		case w&mask4 == wordKey:
			field, colon = fieldKey, i+17
		case w == wordVersion:
			field, colon = fieldVersion, i+21
		case w == wordProtocol && i+22 < cr && b[i+22] == ':':
			field, colon = fieldProtocol, i+22
		case w == wordExtensio && foldedWord(b, i+17) == wordEnsions:
			field, colon = fieldExtensions, i+24
		}
	}
	if field != fieldOther && colon < cr {
		return field, colon
	}
	colon = i
	for tchar[b[colon]] { // stops at cr at the latest: CR is not a tchar
		colon++
	}
	if colon == i || b[colon] != ':' {
		return fieldOther, -1
	}
	return fieldOther, colon
}

// foldedWord returns the eight bytes at b[i:] as a little-endian word with
// the 0x20 bit of every byte set (ASCII letters lower-cased), or 0, which
// matches no name, when b holds fewer.
func foldedWord(b []byte, i int) uint64 {
	if i+8 > len(b) {
		return 0
	}
	return binary.LittleEndian.Uint64(b[i:]) | 0x2020202020202020
}

// Masks for the first n bytes of a little-endian word.
const (
	mask4 = 1<<32 - 1
	mask5 = 1<<40 - 1
	mask7 = 1<<56 - 1
)

// The lower-case header names as foldedWord reads them, in pieces of at
// most eight bytes.
var (
	wordHost     = leWord("host:")
	wordOrigin   = leWord("origin:")
	wordUpgrade  = leWord("upgrade:")
	wordConnecti = leWord("connecti")
	wordNection  = leWord("nection:")
	wordSecWebs  = leWord("sec-webs")
	wordBsocket  = leWord("bsocket-")
	wordKey      = leWord("key:")
	wordVersion  = leWord("version:")
	wordProtocol = leWord("protocol")
	wordExtensio = leWord("extensio")
	wordEnsions  = leWord("ensions:")
)

// leWord returns s, at most eight bytes, as a little-endian word.
func leWord(s string) uint64 {
	var w uint64
	for k := len(s) - 1; k >= 0; k-- {
		w = w<<8 | uint64(s[k])
	}
	return w
}

// splitRequestLine splits "method SP request-target SP HTTP-version" and
// checks the syntax of each part: the method is a token, the target is
// non-empty visible ASCII, the version is "HTTP/" DIGIT "." DIGIT.
func splitRequestLine(line []byte) (method, target, version []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return nil, nil, nil, false
	}
	method, line = line[:sp], line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return nil, nil, nil, false
	}
	target, version = line[:sp], line[sp+1:]
	if !isToken(method) || !validVersion(version) {
		return nil, nil, nil, false
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return nil, nil, nil, false
		}
	}
	return method, target, version, true
}

// validVersion reports whether v has the syntax "HTTP/" DIGIT "." DIGIT
// (RFC 7230 §2.6; the name is case-sensitive).
func validVersion(v []byte) bool {
	return len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

// splitAbsoluteTarget takes an absolute-form target with an http or https
// scheme apart into its authority and the resource (path and query).
func splitAbsoluteTarget(t []byte) (authority, resource []byte, ok bool) {
	var rest []byte
	switch {
	case hasPrefixFold(t, "http://"):
		rest = t[len("http://"):]
	case hasPrefixFold(t, "https://"):
		rest = t[len("https://"):]
	default:
		return nil, nil, false
	}
	end := len(rest)
	for k, c := range rest {
		if c == '/' || c == '?' {
			end = k
			break
		}
	}
	authority, resource = rest[:end], rest[end:]
	if !validHost(authority) {
		return nil, nil, false
	}
	if len(resource) == 0 {
		return authority, rootTarget, true
	}
	if resource[0] != '/' {
		return nil, nil, false
	}
	return authority, resource, true
}

// selectProtocol returns the first of the server's supported subprotocols, in
// the server's order of preference, that the client offered in any of its
// Sec-WebSocket-Protocol lines, or nil when there is none. Names are compared
// exactly (case-sensitive). The result aliases the request head. It allocates
// nothing.
func selectProtocol(req *requestHead, supported []string) []byte {
	for _, want := range supported {
		if want == "" {
			continue
		}
		for k := range int(req.nProtocols) {
			if elem := offered(req.protocolLine(k), want); elem != nil {
				return elem
			}
		}
	}
	return nil
}

// selectProtocolLines is selectProtocol on the Sec-WebSocket-Protocol lines
// net/http parsed. The result aliases them.
func selectProtocolLines(lines []string, supported []string) []byte {
	for _, want := range supported {
		if want == "" {
			continue
		}
		for _, line := range lines {
			if elem := offered(viewBytes(line), want); elem != nil {
				return elem
			}
		}
	}
	return nil
}

// offered returns the element of the comma-separated list that equals want
// (exactly), or nil when there is none.
func offered(list []byte, want string) []byte {
	for len(list) > 0 {
		var elem []byte
		elem, list = nextElement(list)
		if string(elem) == want {
			return elem
		}
	}
	return nil
}

// acceptHead is the start of the 101 answer, up to the accept value.
const acceptHead = "HTTP/1.1 101 Switching Protocols\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: "

// appendAcceptResponse appends the 101 answer that completes a server's
// handshake: Upgrade, Connection, Sec-WebSocket-Accept, and
// Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when those are
// non-empty: acceptResponseLen(protocol, extensions) bytes. It allocates
// nothing when dst has room for them.
func appendAcceptResponse(dst []byte, accept *[28]byte, protocol []byte, extensions []byte) []byte {
	dst = append(dst, acceptHead...)
	dst = append(dst, accept[:]...)
	dst = append(dst, "\r\n"...)
	if len(protocol) > 0 {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, protocol...)
		dst = append(dst, "\r\n"...)
	}
	if len(extensions) > 0 {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, extensions...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// acceptResponseLen is the length of appendAcceptResponse's answer.
func acceptResponseLen(protocol, extensions []byte) int {
	n := len(acceptHead) + 28 + len("\r\n\r\n")
	if len(protocol) > 0 {
		n += len("Sec-WebSocket-Protocol: \r\n") + len(protocol)
	}
	if len(extensions) > 0 {
		n += len("Sec-WebSocket-Extensions: \r\n") + len(extensions)
	}
	return n
}

// maxRejectResponse bounds the length of appendRejectResponse's answers.
const maxRejectResponse = 160

// appendRejectResponse appends an answer that refuses the upgrade with the
// given status, no body, and "Connection: close": the caller closes the
// connection after writing it. A 405 carries "Allow: GET"; a 426 carries
// "Upgrade: websocket" and "Sec-WebSocket-Version: 13" (RFC 6455 §4.4). A
// status outside 100..999 is written as 500. It allocates nothing when dst has
// room for maxRejectResponse bytes more.
func appendRejectResponse(dst []byte, status int) []byte {
	if status < 100 || status > 999 {
		status = 500
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = append(dst, byte('0'+status/100), byte('0'+status/10%10), byte('0'+status%10), ' ')
	dst = append(dst, statusText(status)...)
	dst = append(dst, "\r\n"...)
	switch status {
	case 405:
		dst = append(dst, "Allow: GET\r\nConnection: close\r\n"...)
	case 426:
		dst = append(dst, "Upgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Version: 13\r\n"...)
	default:
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, "Content-Length: 0\r\n\r\n"...)
}

// statusText returns the reason phrase of the statuses a handshake may
// answer with, and "" for the others (an empty reason phrase is allowed).
func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 414:
		return "URI Too Long"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// checkRequestParams reports whether appendRequest may write these arguments
// without producing a malformed request or letting a caller's string inject
// header lines. It allocates nothing; call it once per configuration.
func checkRequestParams(resource, host string, protocols []string, extensions []byte) error {
	if resource != "" {
		if resource[0] != '/' {
			return errBadResource
		}
		for k := 0; k < len(resource); k++ {
			if c := resource[k]; c <= ' ' || c >= 0x7f || c == '#' {
				return errBadResource
			}
		}
	}
	if !validHost(host) {
		return errBadHost
	}
	for k, p := range protocols {
		if !isToken(p) {
			return errBadProtocolName
		}
		for _, q := range protocols[:k] {
			if p == q {
				return errBadProtocolName
			}
		}
	}
	for _, c := range extensions {
		if !isFieldByte(c) {
			return errBadExtensions
		}
	}
	return nil
}

// appendRequest appends a client's opening handshake for resource ("" means
// "/") on host, with the given key and, when non-empty, the offered
// subprotocols (one Sec-WebSocket-Protocol line, comma-separated) and the
// extensions value. The arguments are written as given: validate them once
// with checkRequestParams. It allocates nothing when dst has room for the
// request (about 160 bytes plus the arguments).
func appendRequest(dst []byte, resource, host string, key *[24]byte, protocols []string, extensions []byte) []byte {
	if resource == "" {
		resource = "/"
	}
	dst = append(dst, "GET "...)
	dst = append(dst, resource...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key[:]...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if len(protocols) > 0 {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		for k, p := range protocols {
			if k > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, p...)
		}
		dst = append(dst, "\r\n"...)
	}
	if len(extensions) > 0 {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, extensions...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// responseHead is what parseResponse learns from a server's answer. Slices
// alias the head passed to parseResponse and are valid only while that memory
// is unchanged.
type responseHead struct {
	status   int    // the status code, set whenever the status line parsed (also on errBadStatus)
	protocol []byte // the Sec-WebSocket-Protocol token the server chose; nil when none

	// Values of the Sec-WebSocket-Extensions lines, trimmed, in arrival order:
	// extensions[:nExtensions].
	extensions  [maxHeaderLines][]byte
	nExtensions int
}

// extensionLines returns the Sec-WebSocket-Extensions values of the response.
func (r *responseHead) extensionLines() [][]byte { return r.extensions[:r.nExtensions] }

// parseResponse checks a server's answer, head (b[:headEnd(b)]; bytes after the
// first blank line are not examined), to the handshake that sent key. It
// requires an "HTTP/1.x 101" status line (x >= 1; the reason phrase is free and
// may be missing), strict CRLF line ends and well-formed header lines, Upgrade
// and Connection lists holding "websocket" and "upgrade" (any case), and one
// Sec-WebSocket-Accept equal to ResponseKey(key). It collects the chosen
// subprotocol, which must be a single token on a single line, and up to
// maxHeaderLines Sec-WebSocket-Extensions lines into resp. Errors match
// ErrProtocol. It allocates nothing.
func parseResponse(head []byte, key *[24]byte, resp *responseHead) error {
	*resp = responseHead{}

	line, i := cutLine(head, 0)
	if i < 0 || len(line) < len("HTTP/1.1 101") || !validVersion(line[:8]) || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) {
		return errBadStatusLine
	}
	if reason := line[12:]; len(reason) > 0 {
		if reason[0] != ' ' {
			return errBadStatusLine
		}
		for _, c := range reason {
			if !isFieldByte(c) {
				return errBadStatusLine
			}
		}
	}
	if line[5] != '1' || line[7] == '0' {
		return errBadStatusLine
	}
	resp.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if resp.status != 101 {
		return errBadStatus
	}

	var (
		upgradeOK, connectionOK, seenProtocol bool
		accept                                []byte
		acceptLines                           int
	)
	for {
		line, i = cutLine(head, i)
		if i < 0 {
			return errBadHeaderLine
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitField(line)
		if !ok {
			return errBadHeaderLine
		}
		switch len(name) {
		case len("upgrade"):
			if equalFold(name, "upgrade") && hasTokenFold(value, "websocket") {
				upgradeOK = true
			}
		case len("connection"):
			if equalFold(name, "connection") && hasTokenFold(value, "upgrade") {
				connectionOK = true
			}
		case len("sec-websocket-accept"):
			if equalFold(name, "sec-websocket-accept") {
				accept = value
				acceptLines++
			}
		case len("sec-websocket-protocol"):
			if equalFold(name, "sec-websocket-protocol") {
				if seenProtocol || !isToken(value) {
					return errBadProtocolHeader
				}
				seenProtocol, resp.protocol = true, value
			}
		case len("sec-websocket-extensions"):
			if equalFold(name, "sec-websocket-extensions") {
				if resp.nExtensions == maxHeaderLines {
					return errTooManyExtensions
				}
				resp.extensions[resp.nExtensions] = value
				resp.nExtensions++
			}
		}
	}
	if !upgradeOK {
		return errBadUpgrade
	}
	if !connectionOK {
		return errBadConnection
	}
	want, err := ResponseKey(key[:])
	if err != nil {
		return err
	}
	if acceptLines != 1 || string(accept) != string(want[:]) {
		return errBadAccept
	}
	return nil
}

// checkProtocol reports whether the subprotocol the server chose, if any, is
// one the client offered. Names are compared exactly. It allocates nothing.
func checkProtocol(resp *responseHead, offered []string) error {
	if resp.protocol == nil {
		return nil
	}
	for _, p := range offered {
		if string(resp.protocol) == p {
			return nil
		}
	}
	return errUnexpectedProtocol
}

// cutLine returns the line that starts at b[i], without its CRLF, and the
// index just past the CRLF. next is -1 when no LF follows or when the first LF
// is not preceded by CR (a bare LF).
func cutLine(b []byte, i int) (line []byte, next int) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return nil, -1
	}
	j += i
	if j == i || b[j-1] != '\r' {
		return nil, -1
	}
	return b[i : j-1], j + 1
}

// splitField splits a header line into its name and its value with the
// surrounding whitespace removed. ok is false when the line does not start
// with a token followed directly by ':' (which also rules out obsolete line
// folding and whitespace before the colon) or when the value holds a control
// character other than HTAB.
func splitField(line []byte) (name, value []byte, ok bool) {
	colon := -1
	for k, c := range line {
		if c == ':' {
			colon = k
			break
		}
		if !tchar[c] {
			return nil, nil, false
		}
	}
	if colon <= 0 {
		return nil, nil, false
	}
	value = line[colon+1:]
	if !validFieldValue(value) {
		return nil, nil, false
	}
	return line[:colon], trimOWS(value), true
}

// validFieldValue reports whether every byte of v passes isFieldByte. It tests
// eight bytes at a time: a word in which some byte may be below 0x20 or equal
// to DEL is rechecked byte by byte, which is also where HTAB is let through.
func validFieldValue(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		del := x ^ 0x7f*ones // a zero byte where x holds DEL
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 {
			for _, c := range v[:8] {
				if !isFieldByte(c) {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if !isFieldByte(c) {
			return false
		}
	}
	return true
}

// nextElement returns the first element of a comma-separated list, trimmed
// of whitespace (possibly empty), and the rest of the list after its comma.
func nextElement(list []byte) (elem, rest []byte) {
	if k := bytes.IndexByte(list, ','); k >= 0 {
		return trimOWS(list[:k]), list[k+1:]
	}
	return trimOWS(list), nil
}

// hasTokenFold reports whether the comma-separated list holds an element
// equal to lower, ignoring ASCII case. lower must be lower-case.
func hasTokenFold(list []byte, lower string) bool {
	if len(list) == len(lower) { // the usual list of one element
		return equalFold(list, lower)
	}
	for len(list) > 0 {
		var elem []byte
		elem, list = nextElement(list)
		if equalFold(elem, lower) {
			return true
		}
	}
	return false
}

// trimOWS removes leading and trailing spaces and tabs.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals lower when ASCII letters of b are
// lower-cased. lower must be lower-case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for k := range len(b) {
		c := b[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[k] {
			return false
		}
	}
	return true
}

// hasPrefixFold is equalFold on the first len(lower) bytes of b.
func hasPrefixFold(b []byte, lower string) bool {
	return len(b) >= len(lower) && equalFold(b[:len(lower)], lower)
}

// validKey reports whether k is the canonical standard base64 of 16 bytes: 21
// characters of the alphabet, a 22nd that leaves the unused low 4 bits zero,
// and "==".
func validKey(k []byte) bool {
	if len(k) != 24 || k[22] != '=' || k[23] != '=' {
		return false
	}
	for _, c := range k[:22] {
		if !base64Char[c] {
			return false
		}
	}
	switch k[21] {
	case 'A', 'Q', 'g', 'w':
		return true
	}
	return false
}

// validHost reports whether h can be a Host value (RFC 7230 §5.4: uri-host
// [":" port]): non-empty, and only unreserved characters, sub-delims, '%',
// ':', '[' and ']'. Whitespace, controls, non-ASCII bytes and userinfo ('@')
// are refused.
func validHost[T string | []byte](h T) bool {
	if len(h) == 0 {
		return false
	}
	for k := 0; k < len(h); k++ {
		if !hostChar[h[k]] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isFieldByte reports whether c may appear in a field value: HTAB, SP,
// visible ASCII, or obs-text (0x80-0xFF); not other controls nor DEL.
func isFieldByte(c byte) bool { return c == '\t' || c >= ' ' && c != 0x7f }

// isToken reports whether b is a non-empty RFC 7230 token.
func isToken[T string | []byte](b T) bool {
	if len(b) == 0 {
		return false
	}
	for k := 0; k < len(b); k++ {
		if !tchar[b[k]] {
			return false
		}
	}
	return true
}

// tchar, hostChar and base64Char are byte classes: token characters
// (RFC 7230 §3.2.6), characters of a Host value, and the standard base64
// alphabet.
var tchar, hostChar, base64Char = func() (t, h, b [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c], h[c] = true, true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], h[c] = true, true
		t[c-'a'+'A'], h[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=%:[]" {
		h[c] = true
	}
	for _, c := range base64Alphabet {
		b[c] = true
	}
	return t, h, b
}()
