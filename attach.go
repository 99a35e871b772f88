package wsmem

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// ErrHandshake matches every failed opening handshake (see HandshakeError).
var ErrHandshake = errors.New("wsmem: opening handshake failed")

// HandshakeError is a refused opening handshake. On the server side Status
// is the HTTP status that was answered (400, 403, 405, 414, 426, 431, 505)
// and the connection was closed. The values are pre-built: returning one
// allocates nothing.
type HandshakeError struct {
	Status int
}

// Error names the status.
func (e *HandshakeError) Error() string {
	return "wsmem: opening handshake refused with " + strconv.Itoa(e.Status) + " " + statusText(e.Status)
}

// Is makes errors.Is(err, ErrHandshake) true.
func (e *HandshakeError) Is(target error) bool { return target == ErrHandshake }

// refusals holds one HandshakeError per status the server answers.
var refusals = map[int]*HandshakeError{}

func init() {
	for _, s := range []int{400, 403, 404, 405, 414, 426, 431, 505} {
		refusals[s] = &HandshakeError{Status: s}
	}
}

// refusal returns the pre-built error for status.
func refusal(status int) error {
	if e := refusals[status]; e != nil {
		return e
	}
	return &HandshakeError{Status: status}
}

var (
	errHeadTooLarge = errors.New("wsmem: handshake response larger than Config.MaxHandshakeSize")
	errNamesTooLong = errors.New("wsmem: resource and host do not fit Buffers.Names")
)

// nameLimit is the longest target and host the connection accepts
// together: the caller's name buffer's size, unlimited (within
// Config.MaxHandshakeSize) without one, as then they are not kept.
func (c *Conn) nameLimit() int {
	if buf := c.nameSlab(); buf != nil {
		return len(buf)
	}
	return math.MaxInt
}

// setNames keeps resource and host in the caller's name buffer, if it gave
// one; they fit (see nameLimit). It takes strings or byte slices without
// converting them.
func setNames[T string | []byte](c *Conn, resource, host T) {
	buf := c.nameSlab()
	c.resourceLen = uint16(copy(buf, resource))
	c.hostLen = uint16(copy(buf[c.resourceLen:], host))
}

// Resource returns the request target of the opening handshake (the path
// and query), as the server received it or the client sent it, kept in
// Buffers.Names (see Storage.SetBuffers); nil without one. It is valid
// until the Storage is reused and costs nothing.
func (c *Conn) Resource() []byte {
	if c.nameSlab() == nil {
		return nil
	}
	return c.nameSlab()[:c.resourceLen]
}

// Host returns the Host of the opening handshake, kept in Buffers.Names;
// nil without one. It is valid until the Storage is reused and costs
// nothing.
func (c *Conn) Host() []byte {
	if c.nameSlab() == nil {
		return nil
	}
	return c.nameSlab()[c.resourceLen : c.resourceLen+c.hostLen]
}

// Subprotocol returns the subprotocol the handshake agreed on, "" for
// none. It is one of Config.Subprotocols and costs nothing.
func (c *Conn) Subprotocol() string {
	if c.protocol == 0 {
		return ""
	}
	return c.cfg.Subprotocols[c.protocol-1]
}

// setProtocol records the agreed subprotocol p, one of Config.Subprotocols.
func (c *Conn) setProtocol(p []byte) {
	c.protocol = 0
	for i, s := range c.cfg.Subprotocols {
		if string(p) == s {
			c.protocol = uint8(i + 1)
			return
		}
	}
}

// readHead reads an HTTP head (up to the blank line) into the read buffer
// and returns its length; the head is rbuf[rr:rr+n] and what follows it
// stays buffered. limit bounds the head's size; tooLarge is returned past
// it.
func (c *Conn) readHead(limit int, tooLarge error) (int, error) {
	scanned := 0
	for {
		if c.rw > c.rr {
			from := max(0, scanned-3)
			if end := headEnd(c.rbuf[c.rr+from : c.rw]); end >= 0 {
				return from + end, nil
			}
			scanned = c.rw - c.rr
		}
		if scanned >= limit {
			return 0, tooLarge
		}
		if err := c.fill(min(scanned+1, limit)); err != nil {
			return 0, err
		}
	}
}

// serverHandshake answers the client's upgrade request, in the read and
// write buffers the frames use.
func (c *Conn) serverHandshake() error {
	_ = c.nc.SetDeadline(handshakeDeadline(c.cfg.handshakeTimeout()))
	err := c.answerUpgrade()
	if err != nil {
		c.shutdown()
		c.dropReadBuffers()
		return err
	}
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

// answerUpgrade reads the client's upgrade request into the read buffer and
// answers it. The first bytes land in the Storage's scratch, so that a
// connection waiting for its request holds no pooled buffer. Whatever is
// buffered is parsed at once in the hope that it is the whole head, unless
// it fills the scratch (a head rarely fits in it: the scratch is only
// searched for the head's end then); after one such try comes out short,
// only the new bytes are searched for the end, and the head is parsed when
// it is whole, so that a head arriving byte by byte costs linear time.
func (c *Conn) answerUpgrade() error {
	limit := c.cfg.maxHandshakeSize()
	scanned := 0 // buffered bytes known to hold no whole head
	try := true  // whether parsing what is buffered may still be tried
	for {
		if c.rw > c.rr {
			buf := c.rbuf[c.rr:c.rw]
			var probe []byte // what to parse: all of buf on a try, else the whole head once found
			whole := false
			if try && (c.rw < len(c.rbuf) || !c.usingScratch()) {
				try = false
				probe = buf
			} else if from := max(0, scanned-3); mayEndHead(buf[from:]) {
				if end := headEnd(buf[from:]); end >= 0 {
					probe, whole = buf[:from+end], true
				}
			}
			if probe != nil {
				n, answer, pb, err := c.answerRequest(probe)
				if n >= 0 {
					return c.sendAnswer(n, answer, pb, err)
				}
				if whole { // cannot happen: scanRequest finds the end of a whole head
					return c.refuse(400)
				}
			}
			scanned = len(buf)
		}
		if scanned >= limit {
			return c.refuse(431)
		}
		if err := c.fill(min(scanned+1, limit)); err != nil {
			return err
		}
	}
}

// sendAnswer writes the answer to a request head of n bytes, gives pb back,
// and returns err, the refusal's error, or the write's. After a 101 what
// follows the head stays buffered: the client's first frames.
func (c *Conn) sendAnswer(n int, answer []byte, pb *pooledBuffer, err error) error {
	if err := c.writeAnswer(answer, pb, err); err != nil {
		return err
	}
	c.rr += n
	c.release()
	return nil
}

// writeAnswer writes a handshake answer, gives pb back, and returns err
// (a refusal's error) or else the write's.
func (c *Conn) writeAnswer(answer []byte, pb *pooledBuffer, err error) error {
	_, werr := c.nc.Write(answer)
	if pb != nil {
		putBuffer(&writePool, pb)
	}
	if err != nil {
		return err
	}
	return werr
}

// respondUpgrade answers the whole request head: 101, or the refusal whose
// error it returns.
func (c *Conn) respondUpgrade(head []byte) error {
	n, answer, pb, err := c.answerRequest(head)
	if n < 0 { // cannot happen: the head is whole
		return c.refuse(400)
	}
	return c.writeAnswer(answer, pb, err)
}

// answerRequest parses the upgrade request at the start of buf and, when buf
// holds all of its head, builds the answer: n is the head's length, answer
// the 101 or the refusal to write, and err the refusal's error. The answer
// is assembled past the buffered bytes when the read buffer has room, else
// in the write buffer; pb is non-nil when that was borrowed from the pool,
// to give back after the write. n is -1 when the head goes on past buf.
// It allocates nothing. Its frame holds the parsed head (about 330 bytes);
// the answer is built in answerHead, and the write happens in its caller,
// so that neither stacks on top of the parser's frames: a connection's
// goroutine keeps its first 2 KiB stack through the handshake.
func (c *Conn) answerRequest(buf []byte) (n int, answer []byte, pb *pooledBuffer, err error) {
	var req requestHead
	n, status := scanRequest(buf, &req, c.nameLimit())
	if n < 0 {
		return -1, nil, nil, nil
	}
	// Negotiated here, beside answerHead rather than under it, for the
	// stack's sake; its refusal still ranks after answerHead's checks.
	var params deflateParams
	deflate, extStatus := false, 0
	if status == 0 && c.cfg.Compression.Enabled && req.nExtensions > 0 {
		params, deflate, extStatus = c.acceptExtensions(&req)
	}
	answer, pb, err = c.answerHead(&req, status, params, deflate, extStatus)
	return n, answer, pb, err
}

// answerHead applies the connection's checks (target and host length,
// Origin, target, then the extensions' outcome: deflate with params, or
// extStatus to refuse with) to a request scanRequest parsed with status, and
// builds the answer as answerRequest describes.
func (c *Conn) answerHead(req *requestHead, status int, params deflateParams, deflate bool, extStatus int) (answer []byte, pb *pooledBuffer, err error) {
	// The accept value goes first: its hash rounds are one chain of
	// dependent instructions, and the checks below, which do not wait for
	// it, run beside it.
	var accept [28]byte
	if status == 0 {
		acceptValue((*[24]byte)(req.key), &accept) // scanRequest checked its length and alphabet
	}
	if status == 0 && len(req.target)+len(req.host) > c.nameLimit() {
		status = 414
	}
	if status == 0 && !c.cfg.originAllowed(req.origin, req.host) {
		status = 403
	}
	if status == 0 && c.cfg.CheckTarget != nil && !c.cfg.CheckTarget(req.target, req.host) {
		status = 404
	}
	if status == 0 {
		status = extStatus
	}
	if status != 0 {
		answer, pb = c.answerBuffer(maxRejectResponse)
		return appendRejectResponse(answer, status), pb, refusal(status)
	}
	protocol := selectProtocol(req, c.cfg.Subprotocols)
	setNames(c, req.target, req.host)
	c.setProtocol(protocol)
	size := acceptResponseLen(protocol, nil)
	if deflate {
		c.enableDeflate(params)
		size += len("Sec-WebSocket-Extensions: \r\n") + maxDeflateResponse
	}
	answer, pb = c.answerBuffer(size)
	answer = appendAcceptResponse(answer, &accept, protocol, nil)
	if deflate { // inserted before the final CRLF, straight from params
		answer = append(answer[:len(answer)-2], "Sec-WebSocket-Extensions: "...)
		answer = appendDeflateResponse(answer, params)
		answer = append(answer, "\r\n\r\n"...)
	}
	return answer, pb, nil
}

// answerBuffer returns an empty buffer with room for size bytes, to
// assemble a handshake answer in: the free end of the read buffer when it
// has the room (it is the Conn's already; the head before it stays
// untouched), else the write buffer; pb is non-nil when that was borrowed
// from the pool.
func (c *Conn) answerBuffer(size int) (buf []byte, pb *pooledBuffer) {
	if len(c.rbuf)-c.rw >= size {
		return c.rbuf[c.rw:c.rw:len(c.rbuf)], nil
	}
	buf, pb = c.writeBuffer()
	return buf[:0], pb
}

// refuse answers status and returns the matching error.
func (c *Conn) refuse(status int) error {
	buf, pb := c.answerBuffer(maxRejectResponse)
	return c.writeAnswer(appendRejectResponse(buf, status), pb, refusal(status))
}

// clientHandshake sends the upgrade request for resource on host and checks
// the server's answer.
func (c *Conn) clientHandshake(resource, host string) error {
	resource = requestTarget(resource)
	if err := c.checkUpgrade(resource, host); err != nil {
		return err
	}
	_ = c.nc.SetDeadline(handshakeDeadline(c.cfg.handshakeTimeout()))
	err := c.sendUpgrade(resource, host)
	if err != nil {
		c.shutdown()
		c.dropReadBuffers()
		return err
	}
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

// requestTarget is the target a client asks for: resource, or "/".
func requestTarget(resource string) string {
	if resource == "" {
		return "/"
	}
	return resource
}

// checkUpgrade checks what a client is about to ask for.
func (c *Conn) checkUpgrade(resource, host string) error {
	if err := checkRequestParams(resource, host, c.cfg.Subprotocols, nil); err != nil {
		return err
	}
	if len(resource)+len(host) > c.nameLimit() {
		return errNamesTooLong
	}
	return nil
}

// appendUpgrade appends the upgrade request for resource on host, with a
// fresh key (returned) and the extensions the client offers, to dst.
func (c *Conn) appendUpgrade(dst []byte, resource, host string) ([]byte, [24]byte, error) {
	key, err := RequestKey()
	if err != nil {
		return dst, key, err
	}
	var offerBuf [96]byte
	offer := c.extensionOffer(offerBuf[:0])
	return appendRequest(dst, resource, host, &key, c.cfg.Subprotocols, offer), key, nil
}

func (c *Conn) sendUpgrade(resource, host string) error {
	buf, pb := c.writeBuffer()
	req, key, err := c.appendUpgrade(buf[:0], resource, host)
	if err == nil {
		_, err = c.nc.Write(req)
	}
	if pb != nil {
		putBuffer(&writePool, pb)
	}
	if err != nil {
		return err
	}
	n, err := c.readHead(c.cfg.maxHandshakeSize(), errHeadTooLarge)
	if err != nil {
		return err
	}
	if err := c.acceptResponse(c.rbuf[c.rr:c.rr+n], &key); err != nil {
		return err
	}
	c.rr += n
	c.release()
	setNames(c, resource, host)
	return nil
}

// acceptResponse checks the server's answer head to the request sent with
// key, and applies what it agreed on: subprotocol and compression.
func (c *Conn) acceptResponse(head []byte, key *[24]byte) error {
	var resp responseHead
	if err := parseResponse(head, key, &resp); err != nil {
		return err
	}
	if err := checkProtocol(&resp, c.cfg.Subprotocols); err != nil {
		return err
	}
	if resp.nExtensions > 0 {
		if !c.cfg.Compression.Enabled {
			return errUnofferedExtension
		}
		params, ok, err := acceptDeflateResponse(resp.extensionLines(), &c.cfg.Compression)
		if err != nil {
			return err
		}
		if ok {
			c.enableDeflate(params)
		}
	}
	c.setProtocol(resp.protocol)
	return nil
}

var errUnofferedExtension = &handshakeError{msg: "wsmem: server answered with an extension the client did not offer"}

// originAllowed applies Config.CheckOrigin, or by default accepts a
// request without Origin or whose Origin's host (after the first "://")
// is the request's Host. The search is a plain loop: bytes.Cut's frames
// would deepen the handshake's stack past a goroutine's first 2 KiB.
func (cfg *Config) originAllowed(origin, host []byte) bool {
	if cfg.CheckOrigin != nil {
		return cfg.CheckOrigin(origin, host)
	}
	if origin == nil {
		return true
	}
	for i := 0; i+3 <= len(origin); i++ {
		if origin[i] == ':' && origin[i+1] == '/' && origin[i+2] == '/' {
			return equalFoldBytes(origin[i+3:], host)
		}
	}
	return false
}

// equalFoldBytes compares ASCII case-insensitively.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// acceptExtensions negotiates the extensions a client offered: only
// permessage-deflate, when Config.Compression enables it. ok reports that
// it was agreed on with params; status is the one to refuse with, or 0.
func (c *Conn) acceptExtensions(req *requestHead) (params deflateParams, ok bool, status int) {
	if !c.cfg.Compression.Enabled || req.nExtensions == 0 {
		return params, false, 0
	}
	var lines [maxHeaderLines][]byte
	params, ok, err := negotiateDeflate(req.extensionLines(lines[:0]), &c.cfg.Compression)
	if err != nil {
		return params, false, 400
	}
	return params, ok, 0
}

// maxDeflateResponse bounds the length of appendDeflateResponse's value.
const maxDeflateResponse = len(extDeflateName) +
	len("; "+extServerNoContextTakeover) + len("; "+extClientNoContextTakeover) +
	len("; "+extServerMaxWindowBits+"=15") + len("; "+extClientMaxWindowBits+"=15")

// extensionOffer appends the client's extension offer to dst: nil when
// compression is off.
func (c *Conn) extensionOffer(dst []byte) []byte {
	if !c.cfg.Compression.Enabled {
		return nil
	}
	return appendDeflateOffer(dst, &c.cfg.Compression)
}
