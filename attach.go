package wsmem

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
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
//
// The goroutine that attaches keeps the deepest stack it ever needed (see
// Serve), so the deep steps are each called from here, the shallowest
// frame that can: reading the head, checkRequest (whose frame holds the
// parsed head) and writeAnswer (the accept key's SHA-1, the write).
func (c *Conn) serverHandshake() error {
	_ = c.nc.SetDeadline(time.Now().Add(c.cfg.handshakeTimeout()))
	n, err := c.readHead(c.cfg.maxHandshakeSize(), errTooLarge)
	if err == nil {
		var a upgradeAnswer
		if status := c.checkRequest(c.rbuf[c.rr:c.rr+n], &a); status != 0 {
			err = c.refuse(status)
		} else if !acceptKey(&a.accept, c.rbuf[c.rr+a.key:c.rr+min(a.key+24, n)]) {
			err = c.refuse(400)
		} else {
			err = c.writeAnswer(c.rbuf[c.rr:c.rr+n], &a)
		}
	} else if err == errTooLarge {
		err = c.refuse(431)
	}
	if err != nil {
		c.shutdown()
		c.dropReadBuffers()
		return err
	}
	c.rr += n // what follows the request stays buffered: the client's first frames
	c.release()
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

var errTooLarge = refusal(431)

// answerRequest answers the request head: 101, or the refusal whose error
// it returns.
func (c *Conn) answerRequest(head []byte) error {
	var a upgradeAnswer
	if status := c.checkRequest(head, &a); status != 0 {
		return c.refuse(status)
	}
	if !acceptKey(&a.accept, head[a.key:min(a.key+24, len(head))]) {
		return c.refuse(400)
	}
	return c.writeAnswer(head, &a)
}

// upgradeAnswer is what the 101 answer to a request head needs, found by
// checkRequest: offsets into the head and the extension agreed on.
type upgradeAnswer struct {
	key         int // the request key: head[key:key+24]
	protocol    int // the subprotocol: head[protocol:protocol+protocolLen]
	protocolLen int
	deflate     bool
	params      deflateParams
	accept      [28]byte // the accept key, from the request key
}

// acceptKey is ResponseKey writing into accept, with a smaller frame (it
// is called from the handshake's shallowest frame, see serverHandshake):
// it reports false for an invalid requestKey.
func acceptKey(accept *[28]byte, requestKey []byte) bool {
	if !validKey(requestKey) {
		return false
	}
	var in [24 + len(acceptGUID)]byte
	copy(in[:24], requestKey)
	copy(in[24:], acceptGUID)
	sum := sha1.Sum(in[:])
	base64.StdEncoding.Encode(accept[:], sum[:])
	return true
}

// writeAnswer writes the 101 answer a to the request head.
func (c *Conn) writeAnswer(head []byte, a *upgradeAnswer) error {
	buf, pb := c.writeBuffer()
	_, err := c.nc.Write(a.appendTo(buf[:0], head))
	if pb != nil {
		putBuffer(&writePool, pb)
	}
	return err
}

// appendTo appends the 101 answer a to the request head to dst.
func (a *upgradeAnswer) appendTo(dst, head []byte) []byte {
	protocol := head[a.protocol : a.protocol+a.protocolLen]
	if !a.deflate {
		return appendAcceptResponse(dst, &a.accept, protocol, nil)
	}
	var extBuf [96]byte
	return appendAcceptResponse(dst, &a.accept, protocol, appendDeflateResponse(extBuf[:0], a.params))
}

// checkRequest parses and checks the request head and applies what it asks
// for (names, subprotocol, compression); it fills a for the answer and
// returns 0, or the status to refuse with. Its frame holds the parsed head,
// so what it calls takes the head by pointer, in calls of their own.
func (c *Conn) checkRequest(head []byte, a *upgradeAnswer) int {
	var req requestHead
	if status := parseRequest(head, &req, c.nameLimit()); status != 0 {
		return status
	}
	if status := c.admit(&req); status != 0 {
		return status
	}
	return c.applyRequest(&req, head, a)
}

// admit applies the server's checks to the parsed request: the names'
// room, Config.CheckOrigin and CheckTarget. It returns 0, or the status to
// refuse with.
func (c *Conn) admit(req *requestHead) int {
	switch {
	case len(req.target)+len(req.host) > c.nameLimit():
		return 414
	case !c.cfg.originAllowed(req.origin, req.host):
		return 403
	case c.cfg.CheckTarget != nil && !c.cfg.CheckTarget(req.target, req.host):
		return 404
	}
	return 0
}

// applyRequest applies what the accepted request asks for (compression,
// names, subprotocol) and fills a for the answer to head. It returns 0, or
// the status to refuse with.
func (c *Conn) applyRequest(req *requestHead, head []byte, a *upgradeAnswer) int {
	if c.cfg.Compression.Enabled && req.nExtensions > 0 {
		params, ok, err := negotiateDeflate(req.extensionLines(), &c.cfg.Compression)
		if err != nil {
			return 400
		}
		if ok {
			c.enableDeflate(params)
			a.deflate, a.params = true, params
		}
	}
	protocol := selectProtocol(req, c.cfg.Subprotocols)
	setNames(c, req.target, req.host)
	c.setProtocol(protocol)
	// The views are into head: an offset is the difference of capacities.
	a.key = cap(head) - cap(req.key)
	if protocol != nil {
		a.protocol, a.protocolLen = cap(head)-cap(protocol), len(protocol)
	}
	return 0
}

// refuse answers status and returns the matching error.
func (c *Conn) refuse(status int) error {
	buf, pb := c.writeBuffer()
	_, _ = c.nc.Write(appendRejectResponse(buf[:0], status))
	if pb != nil {
		putBuffer(&writePool, pb)
	}
	return refusal(status)
}

// clientHandshake sends the upgrade request for resource on host and checks
// the server's answer.
func (c *Conn) clientHandshake(resource, host string) error {
	resource = requestTarget(resource)
	if err := c.checkUpgrade(resource, host); err != nil {
		return err
	}
	_ = c.nc.SetDeadline(time.Now().Add(c.cfg.handshakeTimeout()))
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
// request without Origin or whose Origin's host is the request's Host.
func (cfg *Config) originAllowed(origin, host []byte) bool {
	if cfg.CheckOrigin != nil {
		return cfg.CheckOrigin(origin, host)
	}
	if origin == nil {
		return true
	}
	_, rest, ok := bytes.Cut(origin, []byte("://"))
	return ok && equalFoldBytes(rest, host)
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

// extensionOffer appends the client's extension offer to dst: nil when
// compression is off.
func (c *Conn) extensionOffer(dst []byte) []byte {
	if !c.cfg.Compression.Enabled {
		return nil
	}
	return appendDeflateOffer(dst, &c.cfg.Compression)
}
