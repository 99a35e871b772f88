package wsmem

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func deflateTestLines(s ...string) [][]byte {
	l := make([][]byte, len(s))
	for i, v := range s {
		l[i] = []byte(v)
	}
	return l
}

func TestNegotiateDeflateServer(t *testing.T) {
	def := &CompressionConfig{Enabled: true}
	tests := []struct {
		name  string
		lines []string
		cfg   *CompressionConfig
		ok    bool
		err   error
		resp  string // expected appendDeflateResponse output when ok
	}{
		{"plain", []string{"permessage-deflate"}, def, true, nil, "permessage-deflate"},
		{"rfc 7692 5.1 client_max_window_bits", []string{"permessage-deflate; client_max_window_bits"}, def, true, nil, "permessage-deflate"},
		{"rfc 7692 7.1 two offers, first taken",
			[]string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"},
			def, true, nil, "permessage-deflate; server_max_window_bits=10"},
		{"server_no_context_takeover echoed", []string{"permessage-deflate; server_no_context_takeover"}, def, true, nil,
			"permessage-deflate; server_no_context_takeover"},
		{"client_no_context_takeover echoed", []string{"permessage-deflate; client_no_context_takeover"}, def, true, nil,
			"permessage-deflate; client_no_context_takeover"},
		{"server_max_window_bits=15 echoed", []string{"permessage-deflate; server_max_window_bits=15"}, def, true, nil,
			"permessage-deflate; server_max_window_bits=15"},
		{"client value below 15 echoed", []string{"permessage-deflate; client_max_window_bits=10"}, def, true, nil,
			"permessage-deflate; client_max_window_bits=10"},
		{"client value 15 not echoed", []string{"permessage-deflate; client_max_window_bits=15"}, def, true, nil, "permessage-deflate"},
		{"all four", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11"},
			def, true, nil, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11"},
		{"invalid first offer declined, second taken",
			[]string{"permessage-deflate; foo, permessage-deflate; server_max_window_bits=12"},
			def, true, nil, "permessage-deflate; server_max_window_bits=12"},
		{"other extensions ignored", []string{"x-webkit-deflate-frame; no_context_takeover, permessage-deflate, foo; bar=\"a b,c;d\""},
			def, true, nil, "permessage-deflate"},
		{"several lines", []string{"foo", "permessage-deflate; client_max_window_bits", "bar"}, def, true, nil, "permessage-deflate"},
		{"empty list elements and whitespace", []string{" ,\t, permessage-deflate ;  server_max_window_bits = 11 ,, "}, def, true, nil,
			"permessage-deflate; server_max_window_bits=11"},
		{"case-insensitive names", []string{"PerMessage-Deflate; Server_No_Context_Takeover"}, def, true, nil,
			"permessage-deflate; server_no_context_takeover"},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="10"`}, def, true, nil,
			"permessage-deflate; server_max_window_bits=10"},
		{"quoted value with escape", []string{`permessage-deflate; client_max_window_bits="1\2"`}, def, true, nil,
			"permessage-deflate; client_max_window_bits=12"},

		// Offers the RFC makes us decline: no compression, no error.
		{"unknown param", []string{"permessage-deflate; foo"}, def, false, nil, ""},
		{"duplicate param", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, def, false, nil, ""},
		{"duplicate window bits", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=9"}, def, false, nil, ""},
		{"server bits without value", []string{"permessage-deflate; server_max_window_bits"}, def, false, nil, ""},
		{"server bits 7", []string{"permessage-deflate; server_max_window_bits=7"}, def, false, nil, ""},
		{"server bits 16", []string{"permessage-deflate; server_max_window_bits=16"}, def, false, nil, ""},
		{"leading zero", []string{"permessage-deflate; server_max_window_bits=09"}, def, false, nil, ""},
		{"three digits", []string{"permessage-deflate; client_max_window_bits=100"}, def, false, nil, ""},
		{"non-digit", []string{"permessage-deflate; client_max_window_bits=1a"}, def, false, nil, ""},
		{"empty quoted value", []string{`permessage-deflate; client_max_window_bits=""`}, def, false, nil, ""},
		{"quoted non-token", []string{`permessage-deflate; client_max_window_bits="1 0"`}, def, false, nil, ""},
		{"value on no_context_takeover", []string{"permessage-deflate; client_no_context_takeover=1"}, def, false, nil, ""},
		{"not offered", []string{"foo, bar; baz=1"}, def, false, nil, ""},
		{"no header", nil, def, false, nil, ""},
		{"disabled", []string{"permessage-deflate"}, &CompressionConfig{}, false, nil, ""},
		{"nil config", []string{"permessage-deflate"}, nil, false, nil, ""},

		// Unparseable headers.
		{"trailing semicolon", []string{"permessage-deflate;"}, def, false, errExtSyntax, ""},
		{"missing name", []string{"; server_no_context_takeover"}, def, false, errExtSyntax, ""},
		{"junk after name", []string{"permessage-deflate x"}, def, false, errExtSyntax, ""},
		{"bad token char", []string{"permessage/deflate"}, def, false, errExtSyntax, ""},
		{"equals without value", []string{"permessage-deflate; server_max_window_bits="}, def, false, errExtSyntax, ""},
		{"unterminated quote", []string{`permessage-deflate; a="10`}, def, false, errExtSyntax, ""},
		{"escape at end", []string{`permessage-deflate; a="10\`}, def, false, errExtSyntax, ""},
		{"control char in quote", []string{"permessage-deflate; a=\"1\x010\""}, def, false, errExtSyntax, ""},
		{"syntax error after accepted offer", []string{"permessage-deflate", "foo;;"}, def, false, errExtSyntax, ""},
		{"syntax error while disabled", []string{"permessage-deflate; =1"}, &CompressionConfig{}, false, errExtSyntax, ""},
		{"junk after value", []string{"permessage-deflate; server_max_window_bits=10 11"}, def, false, errExtSyntax, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok, err := negotiateDeflate(deflateTestLines(tc.lines...), tc.cfg)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (params %+v)", ok, tc.ok, p)
			}
			if !ok {
				if p != (deflateParams{}) {
					t.Fatalf("params %+v with ok=false", p)
				}
				return
			}
			if got := string(appendDeflateResponse(nil, p)); got != tc.resp {
				t.Fatalf("response %q, want %q", got, tc.resp)
			}
		})
	}
}

func TestNegotiateDeflateWindowBits(t *testing.T) {
	cfg := &CompressionConfig{Enabled: true}
	for b := 8; b <= 15; b++ {
		line := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d", b, b)
		p, ok, err := negotiateDeflate(deflateTestLines(line), cfg)
		if err != nil || !ok {
			t.Fatalf("%d: ok=%v err=%v", b, ok, err)
		}
		if p.serverMaxWindowBits != uint8(b) {
			t.Fatalf("%d: server bits %d", b, p.serverMaxWindowBits)
		}
		wantClient := uint8(b)
		if b == 15 {
			wantClient = 0 // no limit, not echoed
		}
		if p.clientMaxWindowBits != wantClient {
			t.Fatalf("%d: client bits %d, want %d", b, p.clientMaxWindowBits, wantClient)
		}
		if sb, _ := p.sendParams(true); sb != uint8(b) {
			t.Fatalf("%d: server send bits %d", b, sb)
		}
		if cb, _ := p.recvParams(true); cb != uint8(b) {
			t.Fatalf("%d: server recv bits %d", b, cb)
		}
	}
}

func TestNegotiateDeflateConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  CompressionConfig
		line string
		resp string
	}{
		{"server limit announced", CompressionConfig{ServerMaxWindowBits: 12}, "permessage-deflate", "permessage-deflate; server_max_window_bits=12"},
		{"smaller of offer and config", CompressionConfig{ServerMaxWindowBits: 12}, "permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"},
		{"config below offer", CompressionConfig{ServerMaxWindowBits: 9}, "permessage-deflate; server_max_window_bits=14", "permessage-deflate; server_max_window_bits=9"},
		{"client limit asked", CompressionConfig{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10"},
		{"client limit below offer", CompressionConfig{ClientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=10"},
		{"client offer below limit", CompressionConfig{ClientMaxWindowBits: 12}, "permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9"},
		{"client cannot limit: no takeover instead", CompressionConfig{ClientMaxWindowBits: 10}, "permessage-deflate", "permessage-deflate; client_no_context_takeover"},
		{"8 only when the client proposed it", CompressionConfig{ClientMaxWindowBits: 8}, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=9"},
		{"8 when proposed", CompressionConfig{ClientMaxWindowBits: 8}, "permessage-deflate; client_max_window_bits=8", "permessage-deflate; client_max_window_bits=8"},
		{"8 unasked, offer 9", CompressionConfig{}, "permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9"},
		{"forced no takeover", CompressionConfig{ServerNoContextTakeover: true, ClientNoContextTakeover: true}, "permessage-deflate",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"server may use 8", CompressionConfig{}, "permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Enabled = true
			p, ok, err := negotiateDeflate(deflateTestLines(tc.line), &tc.cfg)
			if err != nil || !ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if got := string(appendDeflateResponse(nil, p)); got != tc.resp {
				t.Fatalf("response %q, want %q", got, tc.resp)
			}
		})
	}
}

func TestAppendDeflateOffer(t *testing.T) {
	tests := []struct {
		cfg  CompressionConfig
		want string
	}{
		{CompressionConfig{}, "permessage-deflate; client_max_window_bits"},
		{CompressionConfig{ClientMaxWindowBits: 15, ServerMaxWindowBits: 15}, "permessage-deflate; client_max_window_bits"},
		{CompressionConfig{ClientMaxWindowBits: 9}, "permessage-deflate; client_max_window_bits=9"},
		{CompressionConfig{ServerMaxWindowBits: 10, ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"},
	}
	for _, tc := range tests {
		tc.cfg.Enabled = true
		if got := string(appendDeflateOffer(nil, &tc.cfg)); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func TestAcceptDeflateResponse(t *testing.T) {
	def := &CompressionConfig{Enabled: true}
	limited := &CompressionConfig{Enabled: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 11}
	noCtx := &CompressionConfig{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	tests := []struct {
		name  string
		cfg   *CompressionConfig
		lines []string
		want  deflateParams
		ok    bool
		err   error
	}{
		{"declined", def, nil, deflateParams{}, false, nil},
		{"declined, empty line", def, []string{""}, deflateParams{}, false, nil},
		{"plain", def, []string{"permessage-deflate"}, deflateParams{}, true, nil},
		{"server limits itself", def, []string{"permessage-deflate; server_max_window_bits=9"}, deflateParams{serverMaxWindowBits: 9}, true, nil},
		{"server limits us", def, []string{"permessage-deflate; client_max_window_bits=8"}, deflateParams{clientMaxWindowBits: 8}, true, nil},
		{"unrequested no takeover", def, []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
			deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true}, true, nil},
		{"quoted", def, []string{`permessage-deflate; server_max_window_bits="12"`}, deflateParams{serverMaxWindowBits: 12}, true, nil},
		{"limited: granted lower", limited, []string{"permessage-deflate; server_max_window_bits=9"},
			deflateParams{serverMaxWindowBits: 9, clientMaxWindowBits: 11}, true, nil},
		{"limited: granted equal, client lowered", limited, []string{"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"},
			deflateParams{serverMaxWindowBits: 10, clientMaxWindowBits: 9}, true, nil},
		{"limited: server window larger than asked", limited, []string{"permessage-deflate; server_max_window_bits=11"}, deflateParams{}, false, errExtDeflateResponse},
		{"limited: server limit not confirmed", limited, []string{"permessage-deflate"}, deflateParams{}, false, errExtDeflateResponse},
		{"limited: client window raised", limited, []string{"permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"}, deflateParams{}, false, errExtDeflateResponse},
		{"no takeover granted", noCtx, []string{"permessage-deflate; server_no_context_takeover"},
			deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true}, true, nil},
		{"no takeover refused", noCtx, []string{"permessage-deflate; client_no_context_takeover"}, deflateParams{}, false, errExtDeflateResponse},
		{"client bits without value", def, []string{"permessage-deflate; client_max_window_bits"}, deflateParams{}, false, errExtDeflateResponse},
		{"server bits out of range", def, []string{"permessage-deflate; server_max_window_bits=16"}, deflateParams{}, false, errExtDeflateResponse},
		{"server bits 7", def, []string{"permessage-deflate; server_max_window_bits=7"}, deflateParams{}, false, errExtDeflateResponse},
		{"unknown param", def, []string{"permessage-deflate; foo=1"}, deflateParams{}, false, errExtDeflateResponse},
		{"duplicate param", def, []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, deflateParams{}, false, errExtDeflateResponse},
		{"value on flag", def, []string{"permessage-deflate; server_no_context_takeover=true"}, deflateParams{}, false, errExtDeflateResponse},
		{"twice", def, []string{"permessage-deflate, permessage-deflate"}, deflateParams{}, false, errExtDeflateTwice},
		{"twice on two lines", def, []string{"permessage-deflate", "permessage-deflate"}, deflateParams{}, false, errExtDeflateTwice},
		{"unknown extension", def, []string{"x-foo"}, deflateParams{}, false, errExtNotOffered},
		{"unknown extension too", def, []string{"permessage-deflate, x-foo"}, deflateParams{}, false, errExtNotOffered},
		{"not offered (disabled)", &CompressionConfig{}, []string{"permessage-deflate"}, deflateParams{}, false, errExtNotOffered},
		{"syntax", def, []string{"permessage-deflate; "}, deflateParams{}, false, errExtSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok, err := acceptDeflateResponse(deflateTestLines(tc.lines...), tc.cfg)
			if !errors.Is(err, tc.err) || ok != tc.ok || p != tc.want {
				t.Fatalf("got %+v ok=%v err=%v; want %+v ok=%v err=%v", p, ok, err, tc.want, tc.ok, tc.err)
			}
		})
	}
}

// TestDeflateNegotiationInterop runs our client offer through our server and
// the answer back through our client for many configurations, and checks that
// both ends agree on every window and takeover setting and that every request
// was honoured.
func TestDeflateNegotiationInterop(t *testing.T) {
	bitsChoices := []int{0, 8, 9, 12, 15}
	var n int
	for cs := range 4 {
		for ss := range 4 {
			for _, cSrv := range bitsChoices {
				for _, cCli := range bitsChoices {
					for _, sSrv := range bitsChoices {
						for _, sCli := range bitsChoices {
							client := &CompressionConfig{Enabled: true, ServerNoContextTakeover: cs&1 != 0, ClientNoContextTakeover: cs&2 != 0,
								ServerMaxWindowBits: sCli, ClientMaxWindowBits: cCli}
							server := &CompressionConfig{Enabled: true, ServerNoContextTakeover: ss&1 != 0, ClientNoContextTakeover: ss&2 != 0,
								ServerMaxWindowBits: sSrv, ClientMaxWindowBits: cSrv}
							offer := appendDeflateOffer(nil, client)
							sp, ok, err := negotiateDeflate([][]byte{offer}, server)
							if err != nil || !ok {
								t.Fatalf("offer %q: ok=%v err=%v", offer, ok, err)
							}
							resp := appendDeflateResponse(nil, sp)
							cp, ok, err := acceptDeflateResponse([][]byte{resp}, client)
							if err != nil || !ok {
								t.Fatalf("offer %q response %q: ok=%v err=%v", offer, resp, ok, err)
							}
							sb, st := sp.sendParams(true)
							cb, ct := cp.recvParams(false)
							if sb != cb || st != ct {
								t.Fatalf("%q / %q: server sends (%d,%v), client expects (%d,%v)", offer, resp, sb, st, cb, ct)
							}
							sb, st = sp.recvParams(true)
							cb, ct = cp.sendParams(false)
							if sb != cb || st != ct {
								t.Fatalf("%q / %q: client sends (%d,%v), server expects (%d,%v)", offer, resp, cb, ct, sb, st)
							}
							// Requests honoured.
							if client.ServerNoContextTakeover || server.ServerNoContextTakeover {
								if _, take := sp.sendParams(true); take {
									t.Fatalf("%q / %q: server keeps its context", offer, resp)
								}
							}
							if b, _ := sp.sendParams(true); b > client.serverWindowBits() || b > server.serverWindowBits() {
								t.Fatalf("%q / %q: server window %d", offer, resp, b)
							}
							lim := server.clientWindowBits()
							if lim == 8 && client.clientWindowBits() != 8 {
								lim = 9 // zlib-compatible choice, see extAcceptOffer
							}
							if b, take := cp.sendParams(false); take && b > lim {
								t.Fatalf("%q / %q: client window %d with takeover over server limit", offer, resp, b)
							}
							if b, _ := cp.sendParams(false); b > client.clientWindowBits() {
								t.Fatalf("%q / %q: client window %d over own limit", offer, resp, b)
							}
							n++
						}
					}
				}
			}
		}
	}
	t.Logf("%d configurations", n)
}

func TestDeflateNegotiationZeroAlloc(t *testing.T) {
	cfg := &CompressionConfig{Enabled: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 10}
	offer := deflateTestLines(`x-foo; a="b,c", permessage-deflate; bogus, permessage-deflate; client_max_window_bits; server_max_window_bits="13"; server_no_context_takeover`)
	resp := deflateTestLines("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9")
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		p, ok, err := negotiateDeflate(offer, cfg)
		if !ok || err != nil {
			t.Fatal("negotiate failed")
		}
		buf = appendDeflateResponse(buf[:0], p)
		buf = appendDeflateOffer(buf[:0], cfg)
		if _, ok, err := acceptDeflateResponse(resp, cfg); !ok || err != nil {
			t.Fatal("accept failed", err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per negotiation", allocs)
	}
}

func TestCompressionConfigValidate(t *testing.T) {
	good := []CompressionConfig{{}, {Level: 9, Threshold: 1, ServerMaxWindowBits: 8, ClientMaxWindowBits: 15}}
	for _, c := range good {
		if err := c.validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := []CompressionConfig{{Level: -1}, {Level: 10}, {Threshold: -1}, {ServerMaxWindowBits: 7}, {ClientMaxWindowBits: 16}}
	for _, c := range bad {
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "CompressionConfig") {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
	var c CompressionConfig
	if c.compressionLevel() != 1 || c.compressionThreshold() != 128 || c.serverWindowBits() != 15 || c.clientWindowBits() != 15 {
		t.Fatal("defaults")
	}
}
