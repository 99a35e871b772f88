package wsmem

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// FuzzExtensionHeader fuzzes the Sec-WebSocket-Extensions parser and the
// permessage-deflate negotiation on both sides against a reference parser
// written from the grammar (RFC 6455 §9.1, RFC 7230 lists) and the rules of
// RFC 7692 §7:
//
//   - a header is a syntax error exactly when the reference says so;
//   - the server accepts exactly when some permessage-deflate offer is valid,
//     and answers the first valid one; any single offer is accepted alone
//     exactly when it is valid, and never once a parameter of it is repeated
//     or an unknown one is added;
//   - the server's response parses, conforms to the offer and to its own
//     configuration, has window bits in 8..15, and the client side
//     (acceptDeflateResponse for the same offer) accepts it with the same
//     parameters; a repeated or unknown parameter in it is refused;
//   - the client side accepts a response exactly when it is one
//     permessage-deflate element that conforms to the client's offer;
//   - every result is deterministic and the input is not modified.
//
// header is split at '\n' into header lines; srv and cli encode the server's
// and the client's CompressionConfig (see fzConfig).
func FuzzExtensionHeader(f *testing.F) {
	for _, h := range []string{
		"permessage-deflate; client_max_window_bits",                         // Chrome, Edge, Node ws
		"permessage-deflate",                                                 // Firefox
		"permessage-deflate; client_max_window_bits, x-webkit-deflate-frame", // old Safari
		"x-webkit-deflate-frame; no_context_takeover",
		"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", // python websockets
		"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits", // RFC 7692 §5.2
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11",
		"permessage-deflate; foo, permessage-deflate; server_max_window_bits=12",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate",
		`permessage-deflate; server_max_window_bits="10"`,
		`permessage-deflate; client_max_window_bits="1\2"`,
		`foo; bar="a b,c;d", permessage-deflate`,
		`x; y="\"", permessage-deflate; client_max_window_bits=8`,
		"PerMessage-Deflate; Server_No_Context_Takeover",
		" ,\t, permessage-deflate ;  server_max_window_bits = 11 ,, ",
		"foo\npermessage-deflate; client_max_window_bits\nbar",
		"permessage-deflate; server_max_window_bits=08",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate;",
		"permessage-deflate;; client_max_window_bits",
		"permessage-deflate client_max_window_bits",
		"permessage-deflate\r",
		`permessage-deflate; x="unterminated`,
		"permessage-deflate; x=\"\xff\xfe\"",
		"permessage-deflate; x=\"\x7f\", permessage-deflate; y=\"\\\x01\"",
		"=,;\"\\",
		"",
	} {
		f.Add(h, uint16(1), uint16(1))
		f.Add(h, uint16(1|2|4|12<<3|10<<7), uint16(1|2|4|9<<3|8<<7))
	}
	// Responses, as a client receives them.
	for _, h := range []string{
		"permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
		"permessage-deflate; server_max_window_bits=9",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate, permessage-deflate",
	} {
		f.Add(h, uint16(0), uint16(1|2|10<<3|12<<7))
	}
	f.Fuzz(fzCheck)
}

// fzMaxHeader bounds the fuzzed header. Nothing in the scanner depends on
// length, and longer inputs stall the fuzzer: Go minimises every input that
// finds new coverage, in time quadratic in its length, up to 60 s each (a
// 10-minute run spent nine minutes minimising inputs of 10-16 KB).
const fzMaxHeader = 512

// fzCheck is FuzzExtensionHeader's body.
func fzCheck(t *testing.T, header string, srv, cli uint16) {
	if len(header) > fzMaxHeader {
		return
	}
	var lines [][]byte
	if header != "" {
		for _, l := range strings.Split(header, "\n") {
			lines = append(lines, []byte(l))
		}
	}
	srvCfg, cliCfg := fzConfig(srv), fzConfig(cli)
	exts, syntaxOK := fzParseLines(t, lines)
	fzServer(t, lines, exts, syntaxOK, srvCfg)
	fzClient(t, lines, exts, syntaxOK, cliCfg)
	fzRoundTrip(t, lines, exts, syntaxOK, srvCfg, cliCfg)
	if header != "" && !bytes.Equal(bytes.Join(lines, []byte("\n")), []byte(header)) {
		t.Fatalf("the input lines were modified")
	}
}

// fzConfig decodes a CompressionConfig: bit 0 Enabled, bit 1
// ServerNoContextTakeover, bit 2 ClientNoContextTakeover, bits 3..6
// ServerMaxWindowBits and 7..10 ClientMaxWindowBits (values below 8: unset).
func fzConfig(v uint16) *CompressionConfig {
	bits := func(b uint16) int {
		if b < deflateMinWindowBits {
			return 0
		}
		return int(b)
	}
	return &CompressionConfig{
		Enabled:                 v&1 != 0,
		ServerNoContextTakeover: v&2 != 0,
		ClientNoContextTakeover: v&4 != 0,
		ServerMaxWindowBits:     bits(v >> 3 & 15),
		ClientMaxWindowBits:     bits(v >> 7 & 15),
	}
}

// The reference grammar, as regular expressions (Go's regexp reads a byte
// that is not UTF-8 as U+FFFD, which [^\x00-\x7f] matches like any other
// obs-text byte).
const (
	fzOWS    = `[ \t]*`
	fzToken  = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
	fzQText  = `(?:[\t !#-\[\]-~]|[^\x00-\x7f]|\\(?:[\t -~]|[^\x00-\x7f]))*`
	fzParamP = `;` + fzOWS + `(` + fzToken + `)(?:` + fzOWS + `=` + fzOWS + `(?:(` + fzToken + `)|"(` + fzQText + `)"))?`
	fzElemP  = `(` + fzToken + `)(?:` + fzOWS + fzParamP + `)*`
)

var (
	fzLineRE  = regexp.MustCompile(`^` + fzOWS + `(?:` + fzElemP + `)?(?:` + fzOWS + `,` + fzOWS + `(?:` + fzElemP + `)?)*` + fzOWS + `$`)
	fzElemRE  = regexp.MustCompile(fzElemP)
	fzParamRE = regexp.MustCompile(fzParamP)
	fzGapRE   = regexp.MustCompile(`^[ \t,]*$`)
	fzOWSRE   = regexp.MustCompile(`^` + fzOWS + `$`)
	fzBitsRE  = regexp.MustCompile(`^(?:[89]|1[0-5])$`)
)

// fzExt is one extension element as the reference parser reads it.
type fzExt struct {
	raw    string // the element as written, name to last parameter
	name   string
	params []fzParam
}

type fzParam struct {
	raw, name, value string // value unescaped
	hasValue         bool
}

// fzParseLines parses header lines with the reference grammar.
func fzParseLines(t *testing.T, lines [][]byte) ([]fzExt, bool) {
	var exts []fzExt
	for _, b := range lines {
		line := string(b)
		if !fzLineRE.MatchString(line) {
			return nil, false
		}
		at := 0
		for _, m := range fzElemRE.FindAllStringSubmatchIndex(line, -1) {
			if !fzGapRE.MatchString(line[at:m[0]]) {
				t.Fatalf("reference parser: %q: gap %q between elements", line, line[at:m[0]])
			}
			at = m[1]
			e := fzExt{raw: line[m[0]:m[1]], name: line[m[2]:m[3]]}
			rest := e.raw[len(e.name):]
			pat := 0
			for _, pm := range fzParamRE.FindAllStringSubmatchIndex(rest, -1) {
				if !fzOWSRE.MatchString(rest[pat:pm[0]]) {
					t.Fatalf("reference parser: %q: gap %q between parameters", e.raw, rest[pat:pm[0]])
				}
				pat = pm[1]
				p := fzParam{raw: rest[pm[0]:pm[1]], name: rest[pm[2]:pm[3]]}
				switch {
				case pm[4] >= 0:
					p.value, p.hasValue = rest[pm[4]:pm[5]], true
				case pm[6] >= 0:
					p.value, p.hasValue = fzUnescape(rest[pm[6]:pm[7]]), true
				}
				e.params = append(e.params, p)
			}
			if pat != len(rest) {
				t.Fatalf("reference parser: %q: parameters end at %d of %d", e.raw, pat, len(rest))
			}
			exts = append(exts, e)
		}
		if !fzGapRE.MatchString(line[at:]) {
			t.Fatalf("reference parser: %q: trailing %q", line, line[at:])
		}
	}
	return exts, true
}

func fzUnescape(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' {
			i++
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// fzOffer is a permessage-deflate element's meaning: window bits 0 when
// absent; cbits -1 when absent, 0 when present without a value.
type fzOffer struct {
	snct, cnct bool
	sbits      int
	cbits      int
}

func fzIsDeflate(e fzExt) bool { return strings.EqualFold(e.name, "permessage-deflate") }

// fzOfferOf reads a permessage-deflate element (RFC 7692 §7.1): known
// parameters only, each at most once, the takeover flags without a value,
// window bits 8..15 as a decimal without leading zeroes (quoted or not);
// client_max_window_bits may lack its value in an offer but not in a
// response.
func fzOfferOf(e fzExt, response bool) (fzOffer, bool) {
	o := fzOffer{cbits: -1}
	seen := map[string]bool{}
	bits := func(p fzParam) (int, bool) {
		if !p.hasValue || !fzBitsRE.MatchString(p.value) {
			return 0, false
		}
		v, _ := strconv.Atoi(p.value)
		return v, true
	}
	for _, p := range e.params {
		n := strings.ToLower(p.name)
		if seen[n] {
			return fzOffer{}, false
		}
		seen[n] = true
		var ok bool
		switch n {
		case "server_no_context_takeover":
			o.snct, ok = true, !p.hasValue
		case "client_no_context_takeover":
			o.cnct, ok = true, !p.hasValue
		case "server_max_window_bits":
			o.sbits, ok = bits(p)
		case "client_max_window_bits":
			if p.hasValue || response {
				o.cbits, ok = bits(p)
			} else {
				o.cbits, ok = 0, true
			}
		}
		if !ok {
			return fzOffer{}, false
		}
	}
	return o, true
}

// fzConforms reports whether response r is a valid answer to offer o
// (RFC 7692 §7.1.1.1, §7.1.2.1, §7.1.2.2).
func fzConforms(r, o fzOffer) bool {
	if o.snct && !r.snct {
		return false
	}
	if o.sbits != 0 && (r.sbits == 0 || r.sbits > o.sbits) {
		return false
	}
	if r.cbits >= 0 {
		lim := o.cbits
		if lim == 0 {
			lim = 15
		}
		if o.cbits < 0 || r.cbits > lim {
			return false
		}
	}
	return true
}

// fzClientOffer is what a client with cfg offers, from the documentation of
// CompressionConfig: it always offers client_max_window_bits.
func fzClientOffer(cfg *CompressionConfig) fzOffer {
	o := fzOffer{snct: cfg.ServerNoContextTakeover, cnct: cfg.ClientNoContextTakeover}
	if b := cfg.ServerMaxWindowBits; b != 0 && b < 15 {
		o.sbits = b
	}
	if b := cfg.ClientMaxWindowBits; b != 0 && b < 15 {
		o.cbits = b
	}
	return o
}

// fzInternal converts a reference offer to the library's.
func fzInternal(o fzOffer) extDeflateOffer {
	return extDeflateOffer{
		serverNoContextTakeover: o.snct,
		clientNoContextTakeover: o.cnct,
		hasServerBits:           o.sbits != 0,
		serverBits:              uint8(o.sbits),
		hasClientBits:           o.cbits >= 0,
		clientBits:              uint8(max(o.cbits, 0)),
	}
}

// fzParamsAsOffer is the meaning of the response written for p.
func fzParamsAsOffer(p deflateParams) fzOffer {
	o := fzOffer{snct: p.serverNoContextTakeover, cnct: p.clientNoContextTakeover, sbits: int(p.serverMaxWindowBits), cbits: -1}
	if p.clientMaxWindowBits != 0 {
		o.cbits = int(p.clientMaxWindowBits)
	}
	return o
}

func fzBitsOK(b uint8) bool {
	return b == 0 || (b >= deflateMinWindowBits && b <= deflateMaxWindowBits)
}

func fzNegotiate(t *testing.T, lines [][]byte, cfg *CompressionConfig) (deflateParams, bool, error) {
	p, ok, err := negotiateDeflate(lines, cfg)
	p2, ok2, err2 := negotiateDeflate(lines, cfg)
	if p != p2 || ok != ok2 || err != err2 {
		t.Fatalf("negotiateDeflate(%q) not deterministic: %+v %v %v, then %+v %v %v", lines, p, ok, err, p2, ok2, err2)
	}
	if ok && err != nil {
		t.Fatalf("negotiateDeflate(%q): ok with error %v", lines, err)
	}
	return p, ok, err
}

func fzAccept(t *testing.T, lines [][]byte, cfg *CompressionConfig) (deflateParams, bool, error) {
	p, ok, err := acceptDeflateResponse(lines, cfg)
	p2, ok2, err2 := acceptDeflateResponse(lines, cfg)
	if p != p2 || ok != ok2 || err != err2 {
		t.Fatalf("acceptDeflateResponse(%q) not deterministic: %+v %v %v, then %+v %v %v", lines, p, ok, err, p2, ok2, err2)
	}
	if ok && err != nil {
		t.Fatalf("acceptDeflateResponse(%q): ok with error %v", lines, err)
	}
	if ok && (!fzBitsOK(p.serverMaxWindowBits) || !fzBitsOK(p.clientMaxWindowBits)) {
		t.Fatalf("acceptDeflateResponse(%q): window bits out of range: %+v", lines, p)
	}
	return p, ok, err
}

// fzServer checks negotiateDeflate on the fuzzed header.
func fzServer(t *testing.T, lines [][]byte, exts []fzExt, syntaxOK bool, cfg *CompressionConfig) {
	p, ok, err := fzNegotiate(t, lines, cfg)
	if !syntaxOK {
		if err != errExtSyntax || ok {
			t.Fatalf("negotiateDeflate(%q): %v, %v; the reference finds a syntax error", lines, ok, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("negotiateDeflate(%q): %v; the reference parses it", lines, err)
	}
	first, found := fzOffer{}, false
	for _, e := range exts {
		if o, valid := fzOfferOf(e, false); fzIsDeflate(e) && valid {
			first, found = o, true
			break
		}
	}
	if ok != (found && cfg.Enabled) {
		t.Fatalf("negotiateDeflate(%q, %+v): ok %v; the reference finds a valid offer: %v", lines, *cfg, ok, found)
	}
	if ok {
		internal := fzInternal(first)
		if want := extAcceptOffer(&internal, cfg); p != want {
			t.Fatalf("negotiateDeflate(%q): %+v; the answer to the first valid offer %+v is %+v", lines, p, first, want)
		}
		fzCheckAnswer(t, first, p, cfg)
	}

	// Each offer alone, and with a repeated or an unknown parameter.
	on := *cfg
	on.Enabled = true
	for i, e := range exts {
		if i == 16 {
			break
		}
		if !fzIsDeflate(e) {
			continue
		}
		_, valid := fzOfferOf(e, false)
		if _, ok, err := fzNegotiate(t, [][]byte{[]byte(e.raw)}, &on); ok != valid || err != nil {
			t.Fatalf("negotiateDeflate(%q) alone: %v, %v; valid per the reference: %v", e.raw, ok, err, valid)
		}
		if !valid {
			continue
		}
		for j, prm := range e.params {
			if j == 8 {
				break
			}
			bad := e.raw + " " + prm.raw
			if _, ok, err := fzNegotiate(t, [][]byte{[]byte(bad)}, &on); ok || err != nil {
				t.Fatalf("negotiateDeflate(%q) accepted a repeated parameter (%v)", bad, err)
			}
		}
		bad := e.raw + "; no_context_takeover"
		if _, ok, err := fzNegotiate(t, [][]byte{[]byte(bad)}, &on); ok || err != nil {
			t.Fatalf("negotiateDeflate(%q) accepted an unknown parameter (%v)", bad, err)
		}
	}
}

// fzCheckAnswer checks the server's answer p to offer o under cfg: the
// response it writes parses to p, has window bits in 8..15, conforms to the
// offer and to cfg, and the client side accepts it with the same parameters;
// a repeated or an unknown parameter in it is refused.
func fzCheckAnswer(t *testing.T, o fzOffer, p deflateParams, cfg *CompressionConfig) {
	if !fzBitsOK(p.serverMaxWindowBits) || !fzBitsOK(p.clientMaxWindowBits) {
		t.Fatalf("offer %+v: window bits out of range: %+v", o, p)
	}
	resp := appendDeflateResponse(nil, p)
	exts, syntaxOK := fzParseLines(t, [][]byte{resp})
	if !syntaxOK || len(exts) != 1 || exts[0].name != "permessage-deflate" {
		t.Fatalf("offer %+v: response %q does not parse as one permessage-deflate", o, resp)
	}
	r, valid := fzOfferOf(exts[0], true)
	if !valid || r != fzParamsAsOffer(p) {
		t.Fatalf("offer %+v: response %q reads as %+v (valid %v), not %+v", o, resp, r, valid, p)
	}
	if !fzConforms(r, o) {
		t.Fatalf("offer %+v: response %q does not conform to it", o, resp)
	}
	// The server's own configuration (CompressionConfig's documentation).
	if sb := cfg.serverWindowBits(); sb < 15 && (r.sbits == 0 || r.sbits > int(sb)) {
		t.Fatalf("offer %+v, %+v: response %q exceeds the server's window", o, *cfg, resp)
	}
	if (cfg.ServerNoContextTakeover && !r.snct) || (cfg.ClientNoContextTakeover && !r.cnct) {
		t.Fatalf("offer %+v, %+v: response %q misses a configured no_context_takeover", o, *cfg, resp)
	}
	if cfg.clientWindowBits() < 15 && r.cbits < 0 && !r.cnct {
		t.Fatalf("offer %+v, %+v: response %q bounds neither the client's window nor its context", o, *cfg, resp)
	}

	// The client that made this offer.
	cc := &CompressionConfig{Enabled: true, ServerNoContextTakeover: o.snct, ClientNoContextTakeover: o.cnct, ServerMaxWindowBits: o.sbits}
	if o.cbits > 0 {
		cc.ClientMaxWindowBits = o.cbits
	}
	cp, ok, err := fzAccept(t, [][]byte{resp}, cc)
	if !ok || err != nil {
		t.Fatalf("offer %+v: the client refuses the server's response %q: %v", o, resp, err)
	}
	if cp != p {
		t.Fatalf("offer %+v: response %q: the server agreed %+v, the client %+v", o, resp, p, cp)
	}
	for _, prm := range exts[0].params {
		bad := string(resp) + "; " + strings.TrimLeft(prm.raw, "; ")
		if _, ok, err := fzAccept(t, [][]byte{[]byte(bad)}, cc); ok || err == nil {
			t.Fatalf("the client accepts %q with a repeated parameter", bad)
		}
	}
	bad := string(resp) + "; no_context_takeover"
	if _, ok, err := fzAccept(t, [][]byte{[]byte(bad)}, cc); ok || err == nil {
		t.Fatalf("the client accepts %q with an unknown parameter", bad)
	}
}

// fzClient checks acceptDeflateResponse on the fuzzed header as a response
// to the offer of cfg.
func fzClient(t *testing.T, lines [][]byte, exts []fzExt, syntaxOK bool, cfg *CompressionConfig) {
	p, ok, err := fzAccept(t, lines, cfg)
	switch {
	case !syntaxOK:
		if ok || err == nil {
			t.Fatalf("acceptDeflateResponse(%q): %v, %v; the reference finds a syntax error", lines, ok, err)
		}
		return
	case len(exts) == 0:
		if ok || err != nil {
			t.Fatalf("acceptDeflateResponse(%q): %v, %v; no extension was answered", lines, ok, err)
		}
		return
	}
	r, valid := fzOfferOf(exts[0], true)
	want := cfg.Enabled && len(exts) == 1 && fzIsDeflate(exts[0]) && valid && fzConforms(r, fzClientOffer(cfg))
	if ok != want || (err == nil) != want {
		t.Fatalf("acceptDeflateResponse(%q, %+v): %v, %v; the reference says acceptable: %v", lines, *cfg, ok, err, want)
	}
	if !ok {
		return
	}
	// What the client then uses: the response's parameters, its own
	// client_no_context_takeover, and its own window limit unless the
	// server lowered it.
	wp := deflateParams{
		serverNoContextTakeover: r.snct,
		clientNoContextTakeover: r.cnct || cfg.ClientNoContextTakeover,
		serverMaxWindowBits:     uint8(r.sbits),
	}
	cb := cfg.clientWindowBits()
	if r.cbits > 0 {
		cb = uint8(r.cbits)
	}
	if cb < 15 {
		wp.clientMaxWindowBits = cb
	}
	if p != wp {
		t.Fatalf("acceptDeflateResponse(%q, %+v): %+v, want %+v", lines, *cfg, p, wp)
	}
}

// fzRoundTrip: the client's own offer, alone and after fuzzed lines that
// hold no valid offer, is accepted by the server, whose response the client
// accepts with the same parameters.
func fzRoundTrip(t *testing.T, lines [][]byte, exts []fzExt, syntaxOK bool, srvCfg, cliCfg *CompressionConfig) {
	if !srvCfg.Enabled || !cliCfg.Enabled {
		return
	}
	offer := appendDeflateOffer(nil, cliCfg)
	oexts, oOK := fzParseLines(t, [][]byte{offer})
	if !oOK || len(oexts) != 1 || oexts[0].name != "permessage-deflate" {
		t.Fatalf("appendDeflateOffer(%+v) = %q: not one permessage-deflate", *cliCfg, offer)
	}
	o, valid := fzOfferOf(oexts[0], false)
	if want := fzClientOffer(cliCfg); !valid || o != want {
		t.Fatalf("appendDeflateOffer(%+v) = %q reads as %+v (valid %v), want %+v", *cliCfg, offer, o, valid, want)
	}
	try := [][][]byte{{offer}}
	if syntaxOK {
		none := true
		for _, e := range exts {
			if _, v := fzOfferOf(e, false); fzIsDeflate(e) && v {
				none = false
			}
		}
		if none {
			try = append(try, append(append([][]byte(nil), lines...), offer))
		}
	}
	for _, ls := range try {
		p, ok, err := fzNegotiate(t, ls, srvCfg)
		if !ok || err != nil {
			t.Fatalf("negotiateDeflate(%q, %+v) declines the client's offer: %v", ls, *srvCfg, err)
		}
		internal := fzInternal(o)
		if want := extAcceptOffer(&internal, srvCfg); p != want {
			t.Fatalf("negotiateDeflate(%q): %+v, want %+v", ls, p, want)
		}
		resp := appendDeflateResponse(nil, p)
		cp, ok, err := fzAccept(t, [][]byte{resp}, cliCfg)
		if !ok || err != nil || cp != p {
			t.Fatalf("client %+v, server %+v: offer %q, response %q: client %+v %v %v, server %+v",
				*cliCfg, *srvCfg, offer, resp, cp, ok, err, p)
		}
	}
}
