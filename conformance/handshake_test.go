package conformance

// The harness's side of the opening handshake (RFC 6455 §4) and of the
// permessage-deflate negotiation (RFC 7692 §5, §7.1), written from the RFCs.

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// pmd is a permessage-deflate parameter set, as offered or agreed.
// Window bits: 0 means the parameter is absent; for client_max_window_bits
// in an offer, -1 means present without a value.
type pmd struct {
	serverNCT, clientNCT   bool
	serverBits, clientBits int
}

func bitsOr15(b int) int {
	if b <= 0 {
		return 15
	}
	return b
}

// String formats p as a Sec-WebSocket-Extensions element.
func (p pmd) String() string {
	s := "permessage-deflate"
	if p.serverNCT {
		s += "; server_no_context_takeover"
	}
	if p.clientNCT {
		s += "; client_no_context_takeover"
	}
	if p.serverBits > 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(p.serverBits)
	}
	switch {
	case p.clientBits > 0:
		s += "; client_max_window_bits=" + strconv.Itoa(p.clientBits)
	case p.clientBits < 0:
		s += "; client_max_window_bits"
	}
	return s
}

// ext is one element of a Sec-WebSocket-Extensions list.
type ext struct {
	name   string
	params []extParam
}

type extParam struct {
	name, value string
	hasValue    bool
}

func isTchar(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseExtensions parses header values by the grammar of RFC 6455 §9.1.
func parseExtensions(values []string) ([]ext, error) {
	var out []ext
	s := strings.Join(values, ",")
	i := 0
	ows := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	token := func() string {
		j := i
		for i < len(s) && isTchar(s[i]) {
			i++
		}
		return s[j:i]
	}
	for {
		ows()
		if i == len(s) {
			return out, nil
		}
		if s[i] == ',' {
			i++
			continue
		}
		name := token()
		if name == "" {
			return nil, fmt.Errorf("malformed extension list %q", s)
		}
		e := ext{name: name}
		for {
			ows()
			if i == len(s) || s[i] == ',' {
				break
			}
			if s[i] != ';' {
				return nil, fmt.Errorf("malformed extension list %q", s)
			}
			i++
			ows()
			pn := token()
			if pn == "" {
				return nil, fmt.Errorf("malformed extension parameter in %q", s)
			}
			p := extParam{name: pn}
			ows()
			if i < len(s) && s[i] == '=' {
				i++
				ows()
				p.hasValue = true
				if i < len(s) && s[i] == '"' {
					i++
					j := i
					for i < len(s) && s[i] != '"' {
						if s[i] == '\\' {
							return nil, fmt.Errorf("escaped quoted-string in %q not expected here", s)
						}
						i++
					}
					if i == len(s) {
						return nil, fmt.Errorf("unterminated quoted-string in %q", s)
					}
					p.value = s[j:i]
					i++
				} else {
					p.value = token()
					if p.value == "" {
						return nil, fmt.Errorf("empty parameter value in %q", s)
					}
				}
			}
			e.params = append(e.params, p)
		}
		out = append(out, e)
	}
}

// parsePMD reads permessage-deflate parameters strictly (RFC 7692 §7.1).
// In a response, client_max_window_bits needs a value.
func parsePMD(e ext, offer bool) (pmd, error) {
	var p pmd
	seen := map[string]bool{}
	for _, x := range e.params {
		n := strings.ToLower(x.name)
		if seen[n] {
			return p, fmt.Errorf("parameter %s repeated", n)
		}
		seen[n] = true
		switch n {
		case "server_no_context_takeover", "client_no_context_takeover":
			if x.hasValue {
				return p, fmt.Errorf("%s with a value", n)
			}
			if n[0] == 's' {
				p.serverNCT = true
			} else {
				p.clientNCT = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			v := -1
			if x.hasValue {
				b, err := strconv.Atoi(x.value)
				if err != nil || b < 8 || b > 15 || x.value[0] == '0' {
					return p, fmt.Errorf("%s=%q is not 8..15", n, x.value)
				}
				v = b
			} else if n[0] == 's' || !offer {
				return p, fmt.Errorf("%s without a value", n)
			}
			if n[0] == 's' {
				p.serverBits = v
			} else {
				p.clientBits = v
			}
		default:
			return p, fmt.Errorf("unknown parameter %q", x.name)
		}
	}
	return p, nil
}

// checkResponse checks a server's accepted parameters against the client's
// offer (RFC 7692 §7.1.1.1, §7.1.2.1, §7.1.2.2).
func checkResponse(offer, resp pmd) error {
	if offer.serverNCT && !resp.serverNCT {
		return errors.New("server_no_context_takeover was offered but is missing from the response")
	}
	if offer.serverBits > 0 && (resp.serverBits == 0 || resp.serverBits > offer.serverBits) {
		return fmt.Errorf("server_max_window_bits=%d was offered; the response has %d", offer.serverBits, resp.serverBits)
	}
	if resp.clientBits != 0 {
		if offer.clientBits == 0 {
			return errors.New("client_max_window_bits in the response was not offered")
		}
		if offer.clientBits > 0 && resp.clientBits > offer.clientBits {
			return fmt.Errorf("client_max_window_bits=%d in the response, more than the offered %d", resp.clientBits, offer.clientBits)
		}
	}
	return nil
}

// samePMD compares agreed parameter sets by meaning: an absent window-bits
// parameter is 15.
func samePMD(a, b pmd) bool {
	return a.serverNCT == b.serverNCT && a.clientNCT == b.clientNCT &&
		bitsOr15(a.serverBits) == bitsOr15(b.serverBits) && bitsOr15(a.clientBits) == bitsOr15(b.clientBits)
}

// negotiated is what the handshake agreed.
type negotiated struct {
	deflate bool
	p       pmd // the agreed parameters, as the response states them
	// The harness's compressor: its window and whether it compresses each
	// message on its own (agreed, or announced in its own offer).
	harnessBits int
	harnessNCT  bool
	// What the peer's compressor may use.
	peerBits     int
	peerTakeover bool
}

// harnessClientHandshake plays the client of RFC 6455 §4.1 against a wsmem
// server: it sends the request with offer (if any) and checks the response.
func harnessClientHandshake(nc net.Conn, br *bufio.Reader, c *tcase) (negotiated, error) {
	var neg negotiated
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	req := "GET /conformance?x=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	if c.offer != "" {
		req += "Sec-WebSocket-Extensions: " + c.offer + "\r\n"
	}
	req += "\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return neg, fmt.Errorf("writing the upgrade request: %w", err)
	}
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return neg, fmt.Errorf("reading the upgrade response: %w", err)
	}
	if !strings.HasPrefix(line, "HTTP/1.1 101") {
		return neg, fmt.Errorf("upgrade response %q, want 101", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return neg, fmt.Errorf("reading the upgrade response headers: %w", err)
	}
	if !strings.EqualFold(h.Get("Upgrade"), "websocket") {
		return neg, fmt.Errorf("response Upgrade %q", h.Get("Upgrade"))
	}
	if !hasToken(h.Values("Connection"), "upgrade") {
		return neg, fmt.Errorf("response Connection %q", h.Values("Connection"))
	}
	if got := h.Get("Sec-Websocket-Accept"); got != acceptKey(key) {
		return neg, fmt.Errorf("Sec-WebSocket-Accept %q, want %q", got, acceptKey(key))
	}
	exts, err := parseExtensions(h.Values("Sec-Websocket-Extensions"))
	if err != nil {
		return neg, err
	}
	offers, err := parseExtensions([]string{c.offer})
	if err != nil {
		return neg, fmt.Errorf("the case's own offer: %w", err)
	}
	for _, e := range exts {
		if !strings.EqualFold(e.name, "permessage-deflate") {
			return neg, fmt.Errorf("response accepts extension %q that was not offered", e.name)
		}
		if neg.deflate {
			return neg, errors.New("response accepts permessage-deflate twice")
		}
		resp, err := parsePMD(e, false)
		if err != nil {
			return neg, fmt.Errorf("permessage-deflate response: %w", err)
		}
		// The response must fit one of the offers.
		var fit error = errors.New("permessage-deflate accepted but never offered")
		for _, o := range offers {
			if !strings.EqualFold(o.name, "permessage-deflate") {
				continue
			}
			op, err := parsePMD(o, true)
			if err != nil {
				continue // an invalid offer the server had to decline
			}
			if fit = checkResponse(op, resp); fit == nil {
				neg.harnessNCT = resp.clientNCT || op.clientNCT
				neg.harnessBits = bitsOr15(resp.clientBits)
				if op.clientBits > 0 {
					neg.harnessBits = min(neg.harnessBits, op.clientBits)
				}
				break
			}
		}
		if fit != nil {
			return neg, fmt.Errorf("response %q: %w", e.name, fit)
		}
		neg.deflate = true
		neg.p = resp
		neg.peerBits = bitsOr15(resp.serverBits)
		neg.peerTakeover = !resp.serverNCT
	}
	switch {
	case c.wantResp == nil && neg.deflate:
		return neg, fmt.Errorf("response accepts permessage-deflate (%v); the offer had to be declined", neg.p)
	case c.wantResp != nil && !neg.deflate:
		return neg, fmt.Errorf("response declines permessage-deflate; want %v", *c.wantResp)
	case c.wantResp != nil && !samePMD(neg.p, *c.wantResp):
		return neg, fmt.Errorf("response agrees %q; want %q", neg.p, *c.wantResp)
	}
	return neg, nil
}

func hasToken(values []string, tok string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// harnessServerHandshake plays the server of RFC 6455 §4.2 against a wsmem
// client: it checks the request and its offer, and answers with c.respond.
func harnessServerHandshake(nc net.Conn, br *bufio.Reader, c *tcase) (negotiated, error) {
	var neg negotiated
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return neg, fmt.Errorf("reading the upgrade request: %w", err)
	}
	if line != "GET /conformance HTTP/1.1" {
		return neg, fmt.Errorf("request line %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return neg, fmt.Errorf("reading the upgrade request headers: %w", err)
	}
	if h.Get("Host") != "localhost" {
		return neg, fmt.Errorf("request Host %q", h.Get("Host"))
	}
	if !strings.EqualFold(h.Get("Upgrade"), "websocket") || !hasToken(h.Values("Connection"), "upgrade") {
		return neg, fmt.Errorf("request Upgrade %q Connection %q", h.Get("Upgrade"), h.Values("Connection"))
	}
	if h.Get("Sec-Websocket-Version") != "13" {
		return neg, fmt.Errorf("request Sec-WebSocket-Version %q", h.Get("Sec-Websocket-Version"))
	}
	key := h.Get("Sec-Websocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return neg, fmt.Errorf("request Sec-WebSocket-Key %q is not the base64 of 16 bytes", key)
	}
	exts, err := parseExtensions(h.Values("Sec-Websocket-Extensions"))
	if err != nil {
		return neg, fmt.Errorf("request: %w", err)
	}
	var offer *pmd
	for _, e := range exts {
		if !strings.EqualFold(e.name, "permessage-deflate") {
			return neg, fmt.Errorf("request offers unexpected extension %q", e.name)
		}
		p, err := parsePMD(e, true)
		if err != nil {
			return neg, fmt.Errorf("permessage-deflate offer: %w", err)
		}
		if offer == nil {
			offer = &p
		}
	}
	switch {
	case c.wantOffer == nil && offer != nil:
		return neg, fmt.Errorf("request offers %q; want no offer", *offer)
	case c.wantOffer != nil && offer == nil:
		return neg, fmt.Errorf("request offers no permessage-deflate; want %q", *c.wantOffer)
	case c.wantOffer != nil:
		if err := offerMatches(*offer, *c.wantOffer); err != nil {
			return neg, fmt.Errorf("offer %q: %w", *offer, err)
		}
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	if c.respond != "" {
		resp += "Sec-WebSocket-Extensions: " + c.respond + "\r\n"
	}
	resp += "\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
		return neg, fmt.Errorf("writing the upgrade response: %w", err)
	}
	if c.respond != "" {
		re, err := parseExtensions([]string{c.respond})
		if err != nil {
			return neg, fmt.Errorf("the case's own response %q: %v", c.respond, err)
		}
		if len(re) != 1 || !strings.EqualFold(re[0].name, "permessage-deflate") {
			// A response the client must refuse: nothing agreed.
			return neg, nil
		}
		p, err := parsePMD(re[0], false)
		if err != nil {
			return neg, nil
		}
		neg.deflate = true
		neg.p = p
		neg.harnessBits = bitsOr15(p.serverBits)
		neg.harnessNCT = p.serverNCT
		neg.peerBits = bitsOr15(p.clientBits)
		neg.peerTakeover = !p.clientNCT
	}
	return neg, nil
}

// offerMatches checks a client's offer against what its configuration
// implies: the flags exactly, window bits below 15 exactly (15 may be left
// out or given bare).
func offerMatches(got, want pmd) error {
	if got.serverNCT != want.serverNCT || got.clientNCT != want.clientNCT {
		return fmt.Errorf("no_context_takeover flags differ from %q", want)
	}
	if bitsOr15(got.serverBits) != bitsOr15(want.serverBits) {
		return fmt.Errorf("server_max_window_bits differs from %q", want)
	}
	if want.clientBits > 0 && want.clientBits < 15 && got.clientBits != want.clientBits {
		return fmt.Errorf("client_max_window_bits differs from %q", want)
	}
	if want.clientBits < 0 && got.clientBits == 0 {
		return fmt.Errorf("client_max_window_bits missing; want %q", want)
	}
	if want.clientBits == 0 && got.clientBits > 0 && got.clientBits < 15 {
		return fmt.Errorf("client_max_window_bits=%d not configured", got.clientBits)
	}
	return nil
}
