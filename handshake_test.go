package wsmem

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// rfcKey and rfcAccept are the sample of RFC 6455 §1.3.
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// head joins a start line and header lines into a head with CRLF line ends
// and the terminating blank line.
func head(start string, fields ...string) string {
	return start + "\r\n" + strings.Join(fields, "") + "\r\n"
}

// baseFields are the header lines of a minimal valid upgrade request, each
// with its CRLF, so that a case can drop, replace or add lines.
var baseFields = []string{
	"Host: example.com\r\n",
	"Upgrade: websocket\r\n",
	"Connection: Upgrade\r\n",
	"Sec-WebSocket-Key: " + rfcKey + "\r\n",
	"Sec-WebSocket-Version: 13\r\n",
}

// fields returns baseFields with every line whose name (before ':') is in
// drop left out, followed by extra.
func fields(drop []string, extra ...string) []string {
	var out []string
next:
	for _, f := range baseFields {
		for _, d := range drop {
			if strings.HasPrefix(f, d+":") {
				continue next
			}
		}
		out = append(out, f)
	}
	return append(out, extra...)
}

func validRequest() string { return head("GET /chat HTTP/1.1", baseFields...) }

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "handshake", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// slowAccept computes Sec-WebSocket-Accept the obvious way.
func slowAccept(key string) string {
	h := sha1.New()
	h.Write([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestResponseKeySamples(t *testing.T) {
	for _, tc := range []struct{ key, accept string }{
		{rfcKey, rfcAccept}, // RFC 6455 §1.3
		{"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="}, // a widely quoted example
		{"AAAAAAAAAAAAAAAAAAAAAA==", slowAccept("AAAAAAAAAAAAAAAAAAAAAA==")},
		{"/////////////////////w==", slowAccept("/////////////////////w==")},
	} {
		got, err := ResponseKey([]byte(tc.key))
		if err != nil {
			t.Fatalf("ResponseKey(%q): %v", tc.key, err)
		}
		if string(got[:]) != tc.accept {
			t.Errorf("ResponseKey(%q) = %q, want %q", tc.key, got[:], tc.accept)
		}
	}
}

func TestResponseKeyRejectsBadKeys(t *testing.T) {
	for _, key := range []string{
		"",
		"dGhlIHNhbXBsZSBub25jZQ=",    // 23 characters
		"dGhlIHNhbXBsZSBub25jZQ===",  // 25 characters
		"dGhlIHNhbXBsZSBub25jZR==",   // 16 bytes, but stray bits in the last character
		"dGhlIHNhbXBsZSBub25jZQ-=",   // bad padding
		"dGhlIHNhbXBsZSBub25jZ-==",   // URL alphabet
		"dGhlIHNhbXBsZSBub25j_Q==",   // URL alphabet
		"dGhlIHNhbXBsZSBub25jZQAA",   // 18 bytes, no padding
		"dGhlIHNhbXBsZSBub25jZQA=",   // 17 bytes
		"dGhlIHNhbXBsZSBub25\njZQ=",  // a newline, which base64 decoders skip
		"dGhlIHNhbXBsZSBub25 jZQ==",  // 25 with a space
		"dGhlIHNhbXBsZSBub25jZQ==\r", // trailing CR
		"====dGhlIHNhbXBsZSBub25j",
	} {
		_, err := ResponseKey([]byte(key))
		if err == nil {
			t.Errorf("ResponseKey(%q) accepted a bad key", key)
			continue
		}
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("ResponseKey(%q) error %v does not match ErrProtocol", key, err)
		}
	}
}

func TestRequestKey(t *testing.T) {
	seen := map[[24]byte]bool{}
	for range 64 {
		k, err := RequestKey()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(string(k[:]))
		if err != nil || len(raw) != 16 {
			t.Fatalf("RequestKey() = %q: not base64 of 16 bytes (%d, %v)", k[:], len(raw), err)
		}
		if _, err := ResponseKey(k[:]); err != nil {
			t.Fatalf("ResponseKey(RequestKey()=%q): %v", k[:], err)
		}
		if seen[k] {
			t.Fatalf("RequestKey() repeated %q", k[:])
		}
		seen[k] = true
	}
}

func TestHeadEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", -1},
		{"GET / HTTP/1.1\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", -1},
		{"GET / HTTP/1.1\n\n", -1},
		{"\r\n\r\n", 4},
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"GET / HTTP/1.1\r\n\r\n\x81\x05hello", 18},
		{"A\r\n\r\nB\r\n\r\n", 5},
	} {
		if got := headEnd([]byte(tc.in)); got != tc.want {
			t.Errorf("headEnd(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestTestdataCRLF guards the vectors against a checkout that rewrote line ends.
func TestTestdataCRLF(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "handshake", "*.http"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no handshake vectors: %v", err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
			t.Errorf("%s has bare LF line ends: keep CRLF (testdata/** -text in .gitattributes)", name)
		}
		if headEnd(b) != len(b) {
			t.Errorf("%s does not end with exactly one blank line", name)
		}
	}
}

func TestParseRequestClients(t *testing.T) {
	for _, tc := range []struct {
		file       string
		target     string
		key        string
		origin     string
		protocols  []string
		extensions []string
	}{
		{"chromium.http", "/chat?room=lobby", "zcIo+UzkpFwT7sPa12rgXQ==", "http://example.com:8080",
			[]string{"chat.v2, chat.v1"}, []string{"permessage-deflate; client_max_window_bits"}},
		{"firefox.http", "/chat?room=lobby", "1qXJVE7Km1ziJm0cNKkyIg==", "http://example.com:8080",
			[]string{"chat.v2, chat.v1"}, []string{"permessage-deflate"}},
		{"curl.http", "/chat", "9uV8necJ5F/rDZVTUfU1SA==", "", nil, nil},
		{"goclient.http", "/chat", "NNH5H7LlFLhXb6sadaiaaw==", "", nil, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b := readVector(t, tc.file)
			var req requestHead
			if st := parseRequest(b, &req, 0); st != 0 {
				t.Fatalf("parseRequest = %d, want 0", st)
			}
			if string(req.target) != tc.target || string(req.host) != "example.com:8080" ||
				string(req.key) != tc.key || string(req.origin) != tc.origin || req.authority != nil {
				t.Errorf("target %q host %q key %q origin %q authority %q", req.target, req.host, req.key, req.origin, req.authority)
			}
			if got := toStrings(req.protocolLines()); !equalStrings(got, tc.protocols) {
				t.Errorf("protocols %q, want %q", got, tc.protocols)
			}
			if got := toStrings(req.extensionLines(nil)); !equalStrings(got, tc.extensions) {
				t.Errorf("extensions %q, want %q", got, tc.extensions)
			}
			// The views alias the input.
			if !aliases(b, req.target) || !aliases(b, req.key) || !aliases(b, req.host) {
				t.Error("fields do not alias the head")
			}
			// The independent checker agrees.
			st, slow := slowParseRequest(string(b), 0)
			if st != 0 || !slow.matches(&req) {
				t.Errorf("slow checker: %d %+v", st, slow)
			}
		})
	}
}

func aliases(buf, s []byte) bool {
	if len(s) == 0 {
		return true
	}
	return &s[0] == &buf[bytes.Index(buf, s)]
}

func toStrings(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// requestCases maps every fault parseRequest handles to its status. Cases with
// status 0 must be accepted. maxTarget is 64 for all of them.
var requestCases = []struct {
	name string
	in   string
	want int
}{
	{"valid", validRequest(), 0},
	{"valid/bytes after head ignored", validRequest() + "\x81\x85junk", 0},
	{"valid/HTTP 1.2", head("GET /chat HTTP/1.2", baseFields...), 0},
	{"valid/target at limit", head("GET /"+strings.Repeat("a", 63)+" HTTP/1.1", baseFields...), 0},
	{"valid/query", head("GET /chat?a=1&b=%20 HTTP/1.1", baseFields...), 0},
	{"valid/absolute http", head("GET http://example.com/chat HTTP/1.1", baseFields...), 0},
	{"valid/absolute HTTPS no path", head("GET HTTPS://example.com:443 HTTP/1.1", baseFields...), 0},
	{"valid/lower-case names", head("GET / HTTP/1.1", "host: example.com\r\n", "upgrade: websocket\r\n",
		"connection: upgrade\r\n", "sec-websocket-key: "+rfcKey+"\r\n", "sec-websocket-version: 13\r\n"), 0},
	{"valid/upper-case names and values", head("GET / HTTP/1.1", "HOST: example.com\r\n", "UPGRADE: WEBSOCKET\r\n",
		"CONNECTION: UPGRADE\r\n", "SEC-WEBSOCKET-KEY: "+rfcKey+"\r\n", "SEC-WEBSOCKET-VERSION: 13\r\n"), 0},
	{"valid/mixed case", head("GET / HTTP/1.1", "hOsT: example.com\r\n", "UpGrAdE: WebSocket\r\n",
		"cOnNeCtIoN: UpGrAdE\r\n", "Sec-Websocket-Key: "+rfcKey+"\r\n", "Sec-Websocket-Version: 13\r\n"), 0},
	{"valid/connection list", head("GET / HTTP/1.1", fields([]string{"Connection"}, "Connection: keep-alive, Upgrade\r\n")...), 0},
	{"valid/connection across lines", head("GET / HTTP/1.1", fields([]string{"Connection"},
		"Connection: keep-alive\r\n", "Connection: Upgrade\r\n")...), 0},
	{"valid/connection empty elements", head("GET / HTTP/1.1", fields([]string{"Connection"}, "Connection: ,keep-alive,, \tupgrade ,\r\n")...), 0},
	{"valid/upgrade list", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade: h2c, websocket\r\n")...), 0},
	{"valid/upgrade across lines", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade: h2c\r\n", "Upgrade: websocket\r\n")...), 0},
	{"valid/no OWS, tabs", head("GET / HTTP/1.1", "Host:example.com\r\n", "Upgrade:\twebsocket\t\r\n",
		"Connection:Upgrade\r\n", "Sec-WebSocket-Key: \t "+rfcKey+"  \r\n", "Sec-WebSocket-Version:13 \r\n"), 0},
	{"valid/obs-text in other value", head("GET / HTTP/1.1", fields(nil, "X-Name: caf\xc3\xa9 \xff\r\n")...), 0},
	{"valid/4 protocol lines", head("GET / HTTP/1.1", fields(nil, strings.Repeat("Sec-WebSocket-Protocol: a\r\n", 4))...), 0},
	{"valid/4 extension lines", head("GET / HTTP/1.1", fields(nil, strings.Repeat("Sec-WebSocket-Extensions: a\r\n", 4))...), 0},
	{"valid/IPv6 host", head("GET / HTTP/1.1", fields([]string{"Host"}, "Host: [::1]:8080\r\n")...), 0},
	{"valid/other header repeated", head("GET / HTTP/1.1", fields(nil, "Cookie: a=1\r\n", "Cookie: b=2\r\n")...), 0},

	// Framing and line ends.
	{"empty", "", 400},
	{"no line end", "GET /chat HTTP/1.1", 400},
	{"truncated head", "GET /chat HTTP/1.1\r\nHost: example.com\r\n", 400},
	{"bare LF everywhere", strings.ReplaceAll(validRequest(), "\r\n", "\n"), 400},
	{"bare LF after request line", strings.Replace(validRequest(), "HTTP/1.1\r\n", "HTTP/1.1\n", 1), 400},
	{"bare LF in header", head("GET / HTTP/1.1", fields(nil, "X-A: b\nX-C: d\r\n")...), 400},
	{"bare LF ends head", strings.TrimSuffix(validRequest(), "\r\n") + "\n", 400},
	{"bare CR in header value", head("GET / HTTP/1.1", fields(nil, "X-A: b\rc\r\n")...), 400},
	{"bare CR in request line", "GET /\r HTTP/1.1\r\n" + strings.Join(baseFields, "") + "\r\n", 400},
	{"leading empty line", "\r\n" + validRequest(), 400},

	// Request line.
	{"request line/missing version", head("GET /chat", baseFields...), 400},
	{"request line/missing target", head("GET HTTP/1.1", baseFields...), 400},
	{"request line/only method", head("GET", baseFields...), 400},
	{"request line/double space", head("GET  /chat HTTP/1.1", baseFields...), 400},
	{"request line/space before version", head("GET /chat  HTTP/1.1", baseFields...), 400},
	{"request line/trailing space", head("GET /chat HTTP/1.1 ", baseFields...), 400},
	{"request line/leading space", head(" GET /chat HTTP/1.1", baseFields...), 400},
	{"request line/tab separator", head("GET\t/chat HTTP/1.1", baseFields...), 400},
	{"request line/four parts", head("GET /chat x HTTP/1.1", baseFields...), 400},
	{"request line/lower-case http", head("GET /chat http/1.1", baseFields...), 400},
	{"request line/version two digits", head("GET /chat HTTP/11", baseFields...), 400},
	{"request line/version too long", head("GET /chat HTTP/1.10", baseFields...), 400},
	{"request line/version letters", head("GET /chat HTTP/a.b", baseFields...), 400},
	{"request line/method not a token", head("G(T /chat HTTP/1.1", baseFields...), 400},
	{"request line/target with NUL", head("GET /ch\x00at HTTP/1.1", baseFields...), 400},
	{"request line/target with DEL", head("GET /ch\x7fat HTTP/1.1", baseFields...), 400},
	{"request line/target non-ASCII", head("GET /caf\xc3\xa9 HTTP/1.1", baseFields...), 400},

	// Version, method, target.
	{"version/1.0", head("GET /chat HTTP/1.0", baseFields...), 505},
	{"version/0.9", head("GET /chat HTTP/0.9", baseFields...), 505},
	{"version/2.0", head("GET /chat HTTP/2.0", baseFields...), 505},
	{"method/POST", head("POST /chat HTTP/1.1", baseFields...), 405},
	{"method/lower-case get", head("get /chat HTTP/1.1", baseFields...), 405},
	{"method/HEAD", head("HEAD /chat HTTP/1.1", baseFields...), 405},
	{"method/CONNECT", head("CONNECT example.com:443 HTTP/1.1", baseFields...), 405},
	{"target/too long", head("GET /"+strings.Repeat("a", 64)+" HTTP/1.1", baseFields...), 414},
	{"target/fragment", head("GET /chat#top HTTP/1.1", baseFields...), 400},
	{"target/asterisk", head("GET * HTTP/1.1", baseFields...), 400},
	{"target/authority-form", head("GET example.com:80 HTTP/1.1", baseFields...), 400},
	{"target/relative", head("GET chat HTTP/1.1", baseFields...), 400},
	{"target/query only", head("GET ?a=1 HTTP/1.1", baseFields...), 400},
	{"target/absolute query without path", head("GET http://example.com?a=1 HTTP/1.1", baseFields...), 400},
	{"target/absolute empty authority", head("GET http:///chat HTTP/1.1", baseFields...), 400},
	{"target/absolute userinfo", head("GET http://u@example.com/ HTTP/1.1", baseFields...), 400},
	{"target/absolute ws scheme", head("GET ws://example.com/chat HTTP/1.1", baseFields...), 400},
	{"target/absolute ftp scheme", head("GET ftp://example.com/chat HTTP/1.1", baseFields...), 400},
	{"target/absolute bad authority", head("GET http://exa<mple.com/ HTTP/1.1", baseFields...), 400},

	// Header line syntax.
	{"header/obs-fold", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade:\r\n websocket\r\n")...), 400},
	{"header/obs-fold tab", head("GET / HTTP/1.1", fields(nil, "X-A: b\r\n", "\tc\r\n")...), 400},
	{"header/space before colon", head("GET / HTTP/1.1", fields([]string{"Host"}, "Host : example.com\r\n")...), 400},
	{"header/space before colon, unknown name", head("GET / HTTP/1.1", fields(nil, "X-A : b\r\n")...), 400},
	{"header/obs-fold holding a colon", head("GET / HTTP/1.1", fields(nil, "X-A: b\r\n", " X-C: d\r\n")...), 400},
	{"header/leading space on first field", head("GET / HTTP/1.1", append([]string{" X-A: b\r\n"}, baseFields...)...), 400},
	{"header/tab before colon", head("GET / HTTP/1.1", fields(nil, "X-A\t: b\r\n")...), 400},
	{"header/no colon", head("GET / HTTP/1.1", fields(nil, "X-A b\r\n")...), 400},
	{"header/empty name", head("GET / HTTP/1.1", fields(nil, ": b\r\n")...), 400},
	{"header/name not a token", head("GET / HTTP/1.1", fields(nil, "X(A): b\r\n")...), 400},
	{"header/name non-ASCII", head("GET / HTTP/1.1", fields(nil, "X-\xc3\xa9: b\r\n")...), 400},
	{"header/NUL in value", head("GET / HTTP/1.1", fields(nil, "X-A: b\x00c\r\n")...), 400},
	{"header/DEL in value", head("GET / HTTP/1.1", fields(nil, "X-A: b\x7f\r\n")...), 400},
	{"header/ESC in key value", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: "+rfcKey+"\x1b\r\n")...), 400},

	// Host.
	{"host/missing", head("GET / HTTP/1.1", fields([]string{"Host"})...), 400},
	{"host/duplicate", head("GET / HTTP/1.1", fields(nil, "Host: example.com\r\n")...), 400},
	{"host/duplicate different case", head("GET / HTTP/1.1", fields(nil, "HOST: other.example\r\n")...), 400},
	{"host/empty", head("GET / HTTP/1.1", fields([]string{"Host"}, "Host: \r\n")...), 400},
	{"host/inner space", head("GET / HTTP/1.1", fields([]string{"Host"}, "Host: exa mple.com\r\n")...), 400},
	{"host/userinfo", head("GET / HTTP/1.1", fields([]string{"Host"}, "Host: u@example.com\r\n")...), 400},
	{"host/slash", head("GET / HTTP/1.1", fields([]string{"Host"}, "Host: example.com/x\r\n")...), 400},

	// Upgrade and Connection.
	{"upgrade/missing", head("GET / HTTP/1.1", fields([]string{"Upgrade"})...), 400},
	{"upgrade/other protocol", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade: h2c\r\n")...), 400},
	{"upgrade/longer token", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade: websockets\r\n")...), 400},
	{"upgrade/versioned token", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade: websocket/13\r\n")...), 400},
	{"upgrade/split word", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade: web socket\r\n")...), 400},
	{"upgrade/empty", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "Upgrade:\r\n")...), 400},
	{"upgrade/in another header", head("GET / HTTP/1.1", fields([]string{"Upgrade"}, "X-Upgrade: websocket\r\n")...), 400},
	{"connection/missing", head("GET / HTTP/1.1", fields([]string{"Connection"})...), 400},
	{"connection/keep-alive", head("GET / HTTP/1.1", fields([]string{"Connection"}, "Connection: keep-alive\r\n")...), 400},
	{"connection/longer token", head("GET / HTTP/1.1", fields([]string{"Connection"}, "Connection: upgrader\r\n")...), 400},
	{"connection/prefix", head("GET / HTTP/1.1", fields([]string{"Connection"}, "Connection: keep-alive upgrade\r\n")...), 400},

	// Sec-WebSocket-Version.
	{"version header/missing", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Version"})...), 426},
	{"version header/8", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8\r\n")...), 426},
	{"version header/list", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 13, 8\r\n")...), 426},
	{"version header/leading zero", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 013\r\n")...), 426},
	{"version header/empty", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version:\r\n")...), 426},
	{"version header/duplicate", head("GET / HTTP/1.1", fields(nil, "Sec-WebSocket-Version: 13\r\n")...), 400},

	// Sec-WebSocket-Key.
	{"key/missing", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"})...), 400},
	{"key/empty", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key:\r\n")...), 400},
	{"key/short", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n")...), 400},
	{"key/non-canonical", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n")...), 400},
	{"key/URL alphabet", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j_Q==\r\n")...), 400},
	{"key/18 bytes", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n")...), 400},
	{"key/20 bytes", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n")...), 400},
	{"key/inner space", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: dGhlIHNhbXBs ZSBub25jZQ==\r\n")...), 400},
	{"key/duplicate", head("GET / HTTP/1.1", fields(nil, "Sec-WebSocket-Key: "+rfcKey+"\r\n")...), 400},

	// Other repeated fields.
	{"origin/duplicate", head("GET / HTTP/1.1", fields(nil, "Origin: http://a.example\r\n", "Origin: http://b.example\r\n")...), 400},
	{"protocol/5 lines", head("GET / HTTP/1.1", fields(nil, strings.Repeat("Sec-WebSocket-Protocol: a\r\n", 5))...), 431},
	{"extensions/5 lines", head("GET / HTTP/1.1", fields(nil, strings.Repeat("Sec-WebSocket-Extensions: a\r\n", 5))...), 431},

	// Precedence when several faults meet.
	{"precedence/syntax before version", head("GET /\x01 HTTP/1.0", baseFields...), 400},
	{"precedence/version before method", head("POST /chat HTTP/1.0", baseFields...), 505},
	{"precedence/method before length", head("POST /"+strings.Repeat("a", 100)+" HTTP/1.1", baseFields...), 405},
	{"precedence/length before form", head("GET "+strings.Repeat("a", 100)+" HTTP/1.1", baseFields...), 414},
	{"precedence/form before headers", head("GET chat HTTP/1.1", "Host example.com\r\n"), 400},
	{"precedence/431 before later syntax", head("GET / HTTP/1.1", fields(nil, strings.Repeat("Sec-WebSocket-Protocol: a\r\n", 5), "X-A b\r\n")...), 431},
	{"precedence/syntax before 431", head("GET / HTTP/1.1", fields(nil, "X-A b\r\n", strings.Repeat("Sec-WebSocket-Protocol: a\r\n", 5))...), 400},
	{"precedence/host before version", head("GET / HTTP/1.1", fields([]string{"Host", "Sec-WebSocket-Version"})...), 400},
	{"precedence/upgrade before version", head("GET / HTTP/1.1", fields([]string{"Upgrade", "Sec-WebSocket-Version"})...), 400},
	{"precedence/version before key", head("GET / HTTP/1.1", fields([]string{"Sec-WebSocket-Key", "Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8\r\n")...), 426},
}

func TestParseRequestStatus(t *testing.T) {
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			var req requestHead
			got := parseRequest([]byte(tc.in), &req, 64)
			if got != tc.want {
				t.Errorf("parseRequest(%q) = %d, want %d", tc.in, got, tc.want)
			}
			// The independent checker agrees on every case.
			if slow, _ := slowParseRequest(tc.in, 64); slow != tc.want {
				t.Errorf("slow checker says %d, want %d", slow, tc.want)
			}
		})
	}
}

func TestParseRequestNoLimit(t *testing.T) {
	huge := head("GET /"+strings.Repeat("a", 64<<10)+" HTTP/1.1", baseFields...)
	var req requestHead
	if st := parseRequest([]byte(huge), &req, 0); st != 0 || len(req.target) != 1+64<<10 {
		t.Errorf("no limit: status %d, target length %d", st, len(req.target))
	}
	if st := parseRequest([]byte(huge), &req, 8<<10); st != 414 {
		t.Errorf("8 KiB limit: status %d, want 414", st)
	}
}

func TestParseRequestFields(t *testing.T) {
	in := head("GET http://Example.COM:8080/a/b?c=d HTTP/1.1",
		"Host:   example.com:8080  \r\n",
		"Origin: https://app.example\r\n",
		"Upgrade: websocket\r\n",
		"Connection: Upgrade\r\n",
		"Sec-WebSocket-Protocol: chat, superchat\r\n",
		"sec-websocket-protocol:  json \t\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo\r\n",
		"Sec-WebSocket-Extensions: x-bar; q=\"a,b\"\r\n",
		"Sec-WebSocket-Key: \t"+rfcKey+" \r\n",
		"Sec-WebSocket-Version: 13\r\n")
	var req requestHead
	if st := parseRequest([]byte(in), &req, 0); st != 0 {
		t.Fatalf("status %d", st)
	}
	for _, c := range []struct{ name, got, want string }{
		{"target", string(req.target), "/a/b?c=d"},
		{"authority", string(req.authority), "Example.COM:8080"},
		{"host", string(req.host), "example.com:8080"},
		{"origin", string(req.origin), "https://app.example"},
		{"key", string(req.key), rfcKey},
		{"protocols", strings.Join(toStrings(req.protocolLines()), "|"), "chat, superchat|json"},
		{"extensions", strings.Join(toStrings(req.extensionLines(nil)), "|"),
			"permessage-deflate; client_max_window_bits, x-foo|x-bar; q=\"a,b\""},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	// A second parse starts from scratch.
	if st := parseRequest([]byte(validRequest()), &req, 0); st != 0 {
		t.Fatalf("status %d", st)
	}
	if req.origin != nil || req.authority != nil || req.nProtocols != 0 || req.nExtensions != 0 {
		t.Errorf("fields left over from the previous request: %+v", req)
	}
	// A failed parse leaves nothing usable from an earlier one either.
	parseRequest([]byte("POST / HTTP/1.1\r\n\r\n"), &req, 0)
	if req.target != nil || req.host != nil || req.key != nil {
		t.Errorf("fields left over after a failed parse: %+v", req)
	}

	// An absolute URI with no path stands for "/".
	if st := parseRequest([]byte(head("GET https://example.com HTTP/1.1", baseFields...)), &req, 0); st != 0 ||
		string(req.target) != "/" || string(req.authority) != "example.com" {
		t.Errorf("absolute without path: %d target %q authority %q", st, req.target, req.authority)
	}
}

func TestSelectProtocol(t *testing.T) {
	mk := func(lines ...string) *requestHead {
		var fs []string
		for _, l := range lines {
			fs = append(fs, "Sec-WebSocket-Protocol: "+l+"\r\n")
		}
		var req requestHead
		if st := parseRequest([]byte(head("GET / HTTP/1.1", fields(nil, fs...)...)), &req, 0); st != 0 {
			t.Fatalf("status %d", st)
		}
		return &req
	}
	for _, tc := range []struct {
		offered   []string
		supported []string
		want      string // "" for nil
	}{
		{nil, []string{"chat"}, ""},
		{[]string{"chat"}, nil, ""},
		{[]string{"chat"}, []string{"chat"}, "chat"},
		{[]string{"a, chat, b"}, []string{"chat"}, "chat"},
		{[]string{"a, b"}, []string{"b", "a"}, "b"},              // the server's order wins
		{[]string{"b", "a"}, []string{"a", "b"}, "a"},            // across lines
		{[]string{"x", "y,  chat \t"}, []string{"chat"}, "chat"}, // trimmed element on a later line
		{[]string{"Chat"}, []string{"chat"}, ""},                 // names are case-sensitive
		{[]string{"chatv2"}, []string{"chat"}, ""},               // whole elements only
		{[]string{"chat v2"}, []string{"chat"}, ""},              // whole elements only
		{[]string{", ,"}, []string{"", "chat"}, ""},              // empty elements never match
		{[]string{"a,,chat"}, []string{"", "chat"}, "chat"},
	} {
		req := mk(tc.offered...)
		got := selectProtocol(req, tc.supported)
		if string(got) != tc.want || (tc.want == "") != (got == nil) {
			t.Errorf("offered %q supported %q: got %q, want %q", tc.offered, tc.supported, got, tc.want)
		}
	}
}

func TestAppendAcceptResponse(t *testing.T) {
	accept := [28]byte([]byte(rfcAccept))
	prefix := []byte("prefix:")
	for _, tc := range []struct {
		protocol, extensions string
		want                 string
	}{
		{"", "", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"},
		{"chat", "", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"},
		{"chat", "permessage-deflate; server_no_context_takeover", "HTTP/1.1 101 Switching Protocols\r\n" +
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
			"Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"},
		{"", "permessage-deflate", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"},
	} {
		got := appendAcceptResponse(append([]byte(nil), prefix...), &accept, []byte(tc.protocol), []byte(tc.extensions))
		if string(got) != string(prefix)+tc.want {
			t.Errorf("got %q, want %q", got, string(prefix)+tc.want)
		}
		// net/http reads it as a 101 with the same fields.
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got[len(prefix):])), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != rfcAccept ||
			resp.Header.Get("Sec-WebSocket-Protocol") != tc.protocol || resp.Header.Get("Sec-WebSocket-Extensions") != tc.extensions {
			t.Errorf("net/http read %d %v", resp.StatusCode, resp.Header)
		}
	}
}

func TestAppendRejectResponse(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{400, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{403, "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{404, "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{405, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{414, "HTTP/1.1 414 URI Too Long\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{426, "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n" +
			"Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"},
		{431, "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{505, "HTTP/1.1 505 HTTP Version Not Supported\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{599, "HTTP/1.1 599 \r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{0, "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
		{1000, "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"},
	} {
		got := appendRejectResponse(nil, tc.status)
		if string(got) != tc.want {
			t.Errorf("appendRejectResponse(%d) = %q, want %q", tc.status, got, tc.want)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
		if err != nil {
			t.Fatalf("net/http cannot read the %d answer: %v", tc.status, err)
		}
		if !resp.Close || resp.ContentLength != 0 {
			t.Errorf("%d: close %v, content length %d", tc.status, resp.Close, resp.ContentLength)
		}
	}
	// Every status parseRequest returns has its reason phrase.
	for _, tc := range requestCases {
		if tc.want != 0 && statusText(tc.want) == "" {
			t.Errorf("no reason phrase for %d", tc.want)
		}
	}
}

func TestAppendRequest(t *testing.T) {
	key := [24]byte([]byte(rfcKey))
	got := appendRequest([]byte("x"), "", "example.com", &key, nil, nil)
	want := "xGET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = appendRequest(nil, "/chat?x=1", "example.com:8080", &key, []string{"chat", "superchat"}, []byte("permessage-deflate"))
	want = "GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// net/http reads it as the same request.
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(got)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "GET" || r.RequestURI != "/chat?x=1" || r.Host != "example.com:8080" ||
		r.Header.Get("Sec-WebSocket-Protocol") != "chat, superchat" || r.Header.Get("Upgrade") != "websocket" {
		t.Errorf("net/http read %s %s %s %v", r.Method, r.RequestURI, r.Host, r.Header)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		resource, host string
		offered        []string
		extensions     string
		supported      []string
		wantProtocol   string
	}{
		{"", "example.com", nil, "", []string{"chat"}, ""},
		{"/chat?room=1", "127.0.0.1:9000", []string{"v1.json", "v2.json"}, "permessage-deflate; client_max_window_bits",
			[]string{"v2.json", "v1.json"}, "v2.json"},
		{"/x", "[::1]:80", []string{"a"}, "", []string{"b"}, ""},
	} {
		if err := checkRequestParams(tc.resource, tc.host, tc.offered, []byte(tc.extensions)); err != nil {
			t.Fatal(err)
		}
		key, err := RequestKey()
		if err != nil {
			t.Fatal(err)
		}
		wire := appendRequest(nil, tc.resource, tc.host, &key, tc.offered, []byte(tc.extensions))
		if headEnd(wire) != len(wire) {
			t.Fatalf("request head end %d of %d", headEnd(wire), len(wire))
		}
		var req requestHead
		if st := parseRequest(wire, &req, 0); st != 0 {
			t.Fatalf("server rejects our request with %d: %q", st, wire)
		}
		wantTarget := tc.resource
		if wantTarget == "" {
			wantTarget = "/"
		}
		if string(req.target) != wantTarget || string(req.host) != tc.host || string(req.key) != string(key[:]) {
			t.Errorf("server read target %q host %q key %q", req.target, req.host, req.key)
		}
		if tc.extensions != "" && (req.nExtensions != 1 || string(req.extensionLine(0)) != tc.extensions) {
			t.Errorf("server read extensions %q", req.extensionLines(nil))
		}
		proto := selectProtocol(&req, tc.supported)
		if string(proto) != tc.wantProtocol {
			t.Errorf("selected %q, want %q", proto, tc.wantProtocol)
		}
		accept, err := ResponseKey(req.key)
		if err != nil {
			t.Fatal(err)
		}
		answer := appendAcceptResponse(nil, &accept, proto, []byte("permessage-deflate"))
		answer = append(answer, 0x81, 0x02, 'h', 'i') // a first frame in the same read
		n := headEnd(answer)
		var resp responseHead
		if err := parseResponse(answer[:n], &key, &resp); err != nil {
			t.Fatalf("client rejects the answer: %v", err)
		}
		if resp.status != 101 || string(resp.protocol) != tc.wantProtocol ||
			resp.nExtensions != 1 || string(resp.extensions[0]) != "permessage-deflate" {
			t.Errorf("client read %+v", resp)
		}
		if err := checkProtocol(&resp, tc.offered); err != nil {
			t.Errorf("checkProtocol: %v", err)
		}
		if string(answer[n:]) != "\x81\x02hi" {
			t.Errorf("bytes after the head: %q", answer[n:])
		}
	}
}

// responseCases lists answers to a handshake sent with rfcKey.
var responseCases = []struct {
	name   string
	in     string
	err    error // nil: accepted
	status int
}{
	{"valid", readVectorString("response-101.http"), nil, 101},
	{"valid/minimal", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), nil, 101},
	{"valid/no reason", head("HTTP/1.1 101", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), nil, 101},
	{"valid/empty reason", head("HTTP/1.1 101 ", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), nil, 101},
	{"valid/odd reason", head("HTTP/1.1 101 Web Socket Protocol Handshake \xe2\x9c\x93", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), nil, 101},
	{"valid/case and lists", head("HTTP/1.1 101 Switching Protocols", "upgrade: WebSocket\r\n", "connection: keep-alive\r\n",
		"CONNECTION: x, UPGRADE\r\n", "sec-websocket-accept:"+rfcAccept+"  \r\n", "Sec-WebSocket-Extensions: a\r\n",
		"Sec-WebSocket-Extensions: b\r\n"), nil, 101},
	{"valid/HTTP 1.2", head("HTTP/1.2 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), nil, 101},

	{"status line/empty", "", errBadStatusLine, 0},
	{"status line/no CRLF", "HTTP/1.1 101 Switching Protocols", errBadStatusLine, 0},
	{"status line/bare LF", "HTTP/1.1 101 Switching Protocols\n\n", errBadStatusLine, 0},
	{"status line/HTTP 1.0", head("HTTP/1.0 101 Switching Protocols"), errBadStatusLine, 0},
	{"status line/HTTP 2.0", head("HTTP/2.0 101 Switching Protocols"), errBadStatusLine, 0},
	{"status line/lower-case", head("http/1.1 101 Switching Protocols"), errBadStatusLine, 0},
	{"status line/two-digit status", head("HTTP/1.1 10 Switching Protocols"), errBadStatusLine, 0},
	{"status line/four-digit status", head("HTTP/1.1 1010 Switching Protocols"), errBadStatusLine, 0},
	{"status line/letters", head("HTTP/1.1 1O1 Switching Protocols"), errBadStatusLine, 0},
	{"status line/tab", head("HTTP/1.1\t101 Switching Protocols"), errBadStatusLine, 0},
	{"status line/control in reason", head("HTTP/1.1 101 Switching\x00Protocols"), errBadStatusLine, 0},
	{"status/200", head("HTTP/1.1 200 OK", "Content-Length: 0\r\n"), errBadStatus, 200},
	{"status/426", string(appendRejectResponse(nil, 426)), errBadStatus, 426},
	{"status/400", string(appendRejectResponse(nil, 400)), errBadStatus, 400},

	{"header/obs-fold", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", " x\r\n"), errBadHeaderLine, 101},
	{"header/bare LF", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\n\r\n", errBadHeaderLine, 101},
	{"header/truncated", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", errBadHeaderLine, 101},
	{"header/no colon", head("HTTP/1.1 101 Switching Protocols", "Upgrade websocket\r\n"), errBadHeaderLine, 101},
	{"header/NUL", head("HTTP/1.1 101 Switching Protocols", "X: \x00\r\n"), errBadHeaderLine, 101},
	{"upgrade/missing", head("HTTP/1.1 101 Switching Protocols", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), errBadUpgrade, 101},
	{"upgrade/other", head("HTTP/1.1 101 Switching Protocols", "Upgrade: h2c\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), errBadUpgrade, 101},
	{"connection/missing", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), errBadConnection, 101},
	{"connection/keep-alive", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: keep-alive\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), errBadConnection, 101},
	{"accept/missing", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n"), errBadAccept, 101},
	{"accept/wrong", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"), errBadAccept, 101},
	{"accept/case differs", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+strings.ToLower(rfcAccept)+"\r\n"), errBadAccept, 101},
	{"accept/echoes key", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcKey+"\r\n"), errBadAccept, 101},
	{"accept/duplicate", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n", "Sec-WebSocket-Accept: "+rfcAccept+"\r\n"), errBadAccept, 101},
	{"protocol/list", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n", "Sec-WebSocket-Protocol: a, b\r\n"), errBadProtocolHeader, 101},
	{"protocol/two lines", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n", "Sec-WebSocket-Protocol: a\r\n", "Sec-WebSocket-Protocol: a\r\n"), errBadProtocolHeader, 101},
	{"protocol/empty", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n", "Sec-WebSocket-Protocol: \r\n"), errBadProtocolHeader, 101},
	{"extensions/5 lines", head("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Accept: "+rfcAccept+"\r\n", strings.Repeat("Sec-WebSocket-Extensions: a\r\n", 5)), errTooManyExtensions, 101},
}

func readVectorString(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", "handshake", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestParseResponse(t *testing.T) {
	key := [24]byte([]byte(rfcKey))
	for _, tc := range responseCases {
		t.Run(tc.name, func(t *testing.T) {
			var resp responseHead
			err := parseResponse([]byte(tc.in), &key, &resp)
			if err != tc.err {
				t.Errorf("parseResponse(%q) = %v, want %v", tc.in, err, tc.err)
			}
			if err != nil && !errors.Is(err, ErrProtocol) {
				t.Errorf("%v does not match ErrProtocol", err)
			}
			if resp.status != tc.status {
				t.Errorf("status %d, want %d", resp.status, tc.status)
			}
			slow := slowParseResponse(tc.in, rfcKey)
			if slow.ok != (tc.err == nil) || slow.status != tc.status {
				t.Errorf("slow checker: %+v", slow)
			}
			if err == nil && !slow.matches(&resp) {
				t.Errorf("fields %+v, slow checker %+v", resp, slow)
			}
		})
	}
	var resp responseHead
	if err := parseResponse([]byte(readVectorString("response-101.http")), &key, &resp); err != nil ||
		string(resp.protocol) != "chat" || resp.nExtensions != 0 {
		t.Errorf("vector: %v %+v", err, resp)
	}
	bad := [24]byte([]byte("dGhlIHNhbXBsZSBub25jZR=="))
	if err := parseResponse([]byte(readVectorString("response-101.http")), &bad, &resp); err != errBadKey {
		t.Errorf("bad local key: %v", err)
	}
}

func TestCheckProtocol(t *testing.T) {
	for _, tc := range []struct {
		chosen  string // "-" for no header
		offered []string
		ok      bool
	}{
		{"-", nil, true},
		{"-", []string{"a"}, true},
		{"a", []string{"a"}, true},
		{"b", []string{"a", "b"}, true},
		{"a", nil, false},
		{"c", []string{"a", "b"}, false},
		{"A", []string{"a"}, false},
	} {
		resp := responseHead{}
		if tc.chosen != "-" {
			resp.protocol = []byte(tc.chosen)
		}
		err := checkProtocol(&resp, tc.offered)
		if (err == nil) != tc.ok {
			t.Errorf("chosen %q offered %q: %v", tc.chosen, tc.offered, err)
		}
		if err != nil && (!errors.Is(err, ErrProtocol) || err != errUnexpectedProtocol) {
			t.Errorf("error %v", err)
		}
	}
}

func TestCheckRequestParams(t *testing.T) {
	for _, tc := range []struct {
		resource, host string
		protocols      []string
		extensions     string
		want           error
	}{
		{"", "example.com", nil, "", nil},
		{"/a?b=c", "[::1]:80", []string{"a", "b.c"}, "permessage-deflate; client_max_window_bits", nil},
		{"a", "example.com", nil, "", errBadResource},
		{"/a b", "example.com", nil, "", errBadResource},
		{"/a#b", "example.com", nil, "", errBadResource},
		{"/a\r\nX: y", "example.com", nil, "", errBadResource},
		{"/", "", nil, "", errBadHost},
		{"/", "example.com\r\nX: y", nil, "", errBadHost},
		{"/", "example.com", []string{""}, "", errBadProtocolName},
		{"/", "example.com", []string{"a b"}, "", errBadProtocolName},
		{"/", "example.com", []string{"a,b"}, "", errBadProtocolName},
		{"/", "example.com", []string{"a", "a"}, "", errBadProtocolName},
		{"/", "example.com", nil, "x\r\nX: y", errBadExtensions},
	} {
		if got := checkRequestParams(tc.resource, tc.host, tc.protocols, []byte(tc.extensions)); got != tc.want {
			t.Errorf("checkRequestParams(%q, %q, %q, %q) = %v, want %v", tc.resource, tc.host, tc.protocols, tc.extensions, got, tc.want)
		}
	}
}

// raceBuild reports whether the test binary was built with -race, under which
// crypto/rand allocates and allocation counts mean nothing.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestValidFieldValue compares the word-at-a-time check with the byte test
// for every byte value at every position of values up to 24 bytes long.
func TestValidFieldValue(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < max(n, 1); pos++ {
			for c := 0; c < 256; c++ {
				v := bytes.Repeat([]byte{'a'}, n)
				want := true
				if n > 0 {
					v[pos] = byte(c)
					want = isFieldByte(byte(c))
				}
				if got := validFieldValue(v); got != want {
					t.Fatalf("validFieldValue(%q) = %v, want %v", v, got, want)
				}
				// Neighbours at the edge of the obs-text and control ranges.
				for _, fill := range []byte{0x80, 0xff, ' ', '\t', '~'} {
					w := bytes.Repeat([]byte{fill}, n)
					if n > 0 {
						w[pos] = byte(c)
					}
					if got := validFieldValue(w); got != (want && isFieldByte(fill) || n == 0) {
						t.Fatalf("validFieldValue(%q) = %v", w, got)
					}
				}
			}
		}
	}
}

func TestHandshakeAllocs(t *testing.T) {
	if raceBuild() {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	chromium := readVector(t, "chromium.http")
	supported := []string{"chat.v1", "chat.v2"}
	out := make([]byte, 0, 1024)
	var req requestHead
	server := testing.AllocsPerRun(100, func() {
		if parseRequest(chromium, &req, 1024) != 0 {
			panic("rejected")
		}
		accept, err := ResponseKey(req.key)
		if err != nil {
			panic(err)
		}
		proto := selectProtocol(&req, supported)
		out = appendAcceptResponse(out[:0], &accept, proto, req.extensionLine(0))
		out = appendRejectResponse(out[:0], 426)
	})
	if server != 0 {
		t.Errorf("server handshake: %v allocations, want 0", server)
	}

	offered := []string{"chat.v2", "chat.v1"}
	ext := []byte("permessage-deflate; client_max_window_bits")
	var resp responseHead
	var answer []byte
	client := testing.AllocsPerRun(100, func() {
		key, err := RequestKey()
		if err != nil {
			panic(err)
		}
		if err := checkRequestParams("/chat", "example.com", offered, ext); err != nil {
			panic(err)
		}
		out = appendRequest(out[:0], "/chat", "example.com", &key, offered, ext)
		accept, _ := ResponseKey(key[:])
		answer = appendAcceptResponse(out[len(out):], &accept, []byte("chat.v1"), nil)
		if err := parseResponse(answer, &key, &resp); err != nil {
			panic(err)
		}
		if err := checkProtocol(&resp, offered); err != nil {
			panic(err)
		}
	})
	if client != 0 {
		t.Errorf("client handshake: %v allocations, want 0", client)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	chromium := readVector(b, "chromium.http")
	var req requestHead
	b.ReportAllocs()
	b.SetBytes(int64(len(chromium)))
	for b.Loop() {
		if parseRequest(chromium, &req, 4096) != 0 {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkServerHandshake measures what a server does per connection: parse,
// choose a subprotocol, compute the accept key and write the answer.
func BenchmarkServerHandshake(b *testing.B) {
	chromium := readVector(b, "chromium.http")
	supported := []string{"chat.v1"}
	out := make([]byte, 0, 512)
	var req requestHead
	b.ReportAllocs()
	b.SetBytes(int64(len(chromium)))
	for b.Loop() {
		if parseRequest(chromium, &req, 4096) != 0 {
			b.Fatal("rejected")
		}
		accept, err := ResponseKey(req.key)
		if err != nil {
			b.Fatal(err)
		}
		out = appendAcceptResponse(out[:0], &accept, selectProtocol(&req, supported), nil)
	}
}

// BenchmarkClientHandshake measures a client's side: a key, the request, and
// the check of the answer.
func BenchmarkClientHandshake(b *testing.B) {
	offered := []string{"chat.v1"}
	out := make([]byte, 0, 512)
	var resp responseHead
	b.ReportAllocs()
	for b.Loop() {
		key, err := RequestKey()
		if err != nil {
			b.Fatal(err)
		}
		out = appendRequest(out[:0], "/chat", "example.com", &key, offered, nil)
		accept, _ := ResponseKey(key[:])
		answer := appendAcceptResponse(out[len(out):], &accept, []byte("chat.v1"), nil)
		if err := parseResponse(answer, &key, &resp); err != nil {
			b.Fatal(err)
		}
	}
}

// The slow checkers below restate the rules of handshake.go with the standard
// library's string functions, maps and decoders, written independently of the
// byte-level code, so that the fuzzers can compare the two on any input.

var (
	tcharExtra = "!#$%&'*+-.^_`|~"
	hostExtra  = "-._~!$&'()*+,;=%:[]"
	alnum      = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

func slowIsToken(s string) bool {
	return s != "" && strings.Trim(s, alnum+tcharExtra) == ""
}

func slowValidHost(s string) bool {
	return s != "" && strings.Trim(s, alnum+hostExtra) == ""
}

// slowLower lower-cases ASCII letters only (strings.ToLower would also fold
// characters such as the Kelvin sign onto ASCII letters).
func slowLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 32
		}
		return r
	}, s)
}

// slowValueOK rejects control characters other than HTAB, and DEL, byte by byte.
func slowValueOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0x7f || s[i] < 0x20 && s[i] != '\t' {
			return false
		}
	}
	return true
}

func slowListHas(values []string, lowerToken string) bool {
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if slowLower(strings.Trim(e, " \t")) == lowerToken {
				return true
			}
		}
	}
	return false
}

// slowHeaders splits the lines of a head (everything before the first blank
// line) into the start line and fields keyed by canonical name. bad is the
// index of the first malformed field line, or -1.
type slowField struct{ name, value string }

func slowSplitHead(h string) (start string, fields []slowField, bad int, ok bool) {
	end := strings.Index(h, "\r\n\r\n")
	if end < 0 {
		return "", nil, 0, false
	}
	lines := strings.Split(h[:end], "\r\n")
	bad = -1
	for i, l := range lines[1:] {
		name, value, found := strings.Cut(l, ":")
		if !found || !slowIsToken(name) || !slowValueOK(value) || strings.ContainsAny(l, "\r\n") {
			bad = i
			break
		}
		fields = append(fields, slowField{textproto.CanonicalMIMEHeaderKey(name), strings.Trim(value, " \t")})
	}
	return lines[0], fields, bad, true
}

type slowRequest struct {
	target, authority, host, key, origin string
	protocols, extensions                []string
}

func (s slowRequest) matches(r *requestHead) bool {
	return s.target == string(r.target) && s.authority == string(r.authority) && s.host == string(r.host) &&
		s.key == string(r.key) && s.origin == string(r.origin) &&
		equalStrings(s.protocols, toStrings(r.protocolLines())) && equalStrings(s.extensions, toStrings(r.extensionLines(nil)))
}

func slowParseRequest(h string, maxTarget int) (int, slowRequest) {
	var r slowRequest
	start, fields, bad, ok := slowSplitHead(h)
	if !ok {
		return 400, r
	}
	parts := strings.Split(start, " ")
	if len(parts) != 3 {
		return 400, r
	}
	method, target, version := parts[0], parts[1], parts[2]
	if !slowIsToken(method) || target == "" || len(version) != 8 || !strings.HasPrefix(version, "HTTP/") ||
		version[6] != '.' || !strings.ContainsRune("0123456789", rune(version[5])) ||
		!strings.ContainsRune("0123456789", rune(version[7])) {
		return 400, r
	}
	for i := 0; i < len(target); i++ {
		if target[i] <= ' ' || target[i] >= 0x7f {
			return 400, r
		}
	}
	if version != "HTTP/1.1" && !(version[5] == '1' && version[7] > '1') {
		return 505, r
	}
	if method != "GET" {
		return 405, r
	}
	if maxTarget > 0 && len(target) > maxTarget {
		return 414, r
	}
	if strings.Contains(target, "#") {
		return 400, r
	}
	if strings.HasPrefix(target, "/") {
		r.target = target
	} else {
		lower := slowLower(target)
		var rest string
		switch {
		case strings.HasPrefix(lower, "http://"):
			rest = target[7:]
		case strings.HasPrefix(lower, "https://"):
			rest = target[8:]
		default:
			return 400, r
		}
		k := strings.IndexAny(rest, "/?")
		if k < 0 {
			k = len(rest)
		}
		r.authority, r.target = rest[:k], rest[k:]
		if !slowValidHost(r.authority) {
			return 400, r
		}
		if r.target == "" {
			r.target = "/"
		} else if r.target[0] != '/' {
			return 400, r
		}
	}

	count := map[string]int{}
	values := map[string][]string{}
	for i, f := range fields {
		if i == bad {
			break
		}
		count[f.name]++
		values[f.name] = append(values[f.name], f.value)
		switch f.name {
		case "Host", "Origin", "Sec-Websocket-Key", "Sec-Websocket-Version":
			if count[f.name] > 1 {
				return 400, r
			}
		case "Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
			if count[f.name] > maxHeaderLines {
				return 431, r
			}
		}
	}
	if bad >= 0 {
		return 400, r
	}
	r.protocols, r.extensions = values["Sec-Websocket-Protocol"], values["Sec-Websocket-Extensions"]
	if count["Host"] == 0 || !slowValidHost(values["Host"][0]) {
		return 400, r
	}
	r.host = values["Host"][0]
	if count["Origin"] == 1 {
		r.origin = values["Origin"][0]
	}
	if !slowListHas(values["Upgrade"], "websocket") || !slowListHas(values["Connection"], "upgrade") {
		return 400, r
	}
	if count["Sec-Websocket-Version"] == 0 || values["Sec-Websocket-Version"][0] != "13" {
		return 426, r
	}
	if count["Sec-Websocket-Key"] == 0 {
		return 400, r
	}
	r.key = values["Sec-Websocket-Key"][0]
	raw, err := base64.StdEncoding.Strict().DecodeString(r.key)
	if err != nil || len(raw) != 16 || len(r.key) != 24 {
		return 400, r
	}
	return 0, r
}

type slowResponse struct {
	ok         bool
	status     int
	protocol   string
	extensions []string
}

func (s slowResponse) matches(r *responseHead) bool {
	return s.status == r.status && s.protocol == string(r.protocol) && equalStrings(s.extensions, toStrings(r.extensionLines()))
}

func slowParseResponse(h, key string) slowResponse {
	var r slowResponse
	line, _, found := strings.Cut(h, "\r\n")
	if !found || strings.Contains(line, "\n") || len(line) < 12 {
		return r
	}
	version, rest, _ := strings.Cut(line, " ")
	code, reason, hasReason := strings.Cut(rest, " ")
	if len(version) != 8 || version[:5] != "HTTP/" || version[6] != '.' || len(code) != 3 ||
		strings.Trim(version[5:6]+version[7:]+code, "0123456789") != "" ||
		hasReason && (!slowValueOK(reason)) {
		return r
	}
	if version[5] != '1' || version[7] == '0' {
		return r
	}
	r.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if r.status != 101 {
		return r
	}
	_, fields, bad, ok := slowSplitHead(h)
	if !ok || bad >= 0 {
		return r
	}
	values := map[string][]string{}
	for _, f := range fields {
		values[f.name] = append(values[f.name], f.value)
	}
	if p := values["Sec-Websocket-Protocol"]; len(p) > 1 || len(p) == 1 && !slowIsToken(p[0]) {
		return r
	} else if len(p) == 1 {
		r.protocol = p[0]
	}
	r.extensions = values["Sec-Websocket-Extensions"]
	if len(r.extensions) > maxHeaderLines || !slowListHas(values["Upgrade"], "websocket") ||
		!slowListHas(values["Connection"], "upgrade") {
		return r
	}
	if a := values["Sec-Websocket-Accept"]; len(a) != 1 || a[0] != slowAccept(key) {
		return r
	}
	r.ok = true
	return r
}

func addRequestSeeds(f *testing.F) {
	for _, name := range []string{"chromium.http", "firefox.http", "curl.http", "goclient.http"} {
		f.Add(readVector(f, name))
	}
	for _, tc := range requestCases {
		f.Add([]byte(tc.in))
	}
}

func FuzzParseRequest(f *testing.F) {
	addRequestSeeds(f)
	supported := []string{"chat", "chat.v1", "a", "superchat"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req requestHead
		parseRequest(data, &req, 64) // any input: no panic
		n := headEnd(data)
		// The one-pass scan finds the same end, and the same answer.
		end, scanned := scanRequest(data, &req, 64)
		if n < 0 {
			if end != -1 {
				t.Fatalf("scanRequest(%q) found an end at %d; headEnd finds none", data, end)
			}
			return
		}
		h := data[:n]
		got := parseRequest(h, &req, 64)
		if end != n || scanned != got {
			t.Fatalf("scanRequest(%q) = %d, %d; headEnd %d, parseRequest %d", data, end, scanned, n, got)
		}
		want, slow := slowParseRequest(string(h), 64)
		if got != want {
			t.Fatalf("parseRequest(%q) = %d, slow checker says %d", h, got, want)
		}
		if got != 0 {
			if got < 400 || statusText(got) == "" {
				t.Fatalf("status %d", got)
			}
			return
		}
		if !slow.matches(&req) {
			t.Fatalf("fields %+v, slow checker %+v", req, slow)
		}
		// What RFC 6455 §4.2.1 asks of an accepted request, checked once more.
		raw, err := base64.StdEncoding.DecodeString(string(req.key))
		if err != nil || len(raw) != 16 || !strings.HasPrefix(string(req.target), "/") || len(req.host) == 0 {
			t.Fatalf("accepted an invalid request: key %q target %q host %q", req.key, req.target, req.host)
		}
		// The chosen subprotocol was offered and is supported.
		if p := selectProtocol(&req, supported); p != nil {
			offered := false
			for _, line := range slow.protocols {
				for _, e := range strings.Split(line, ",") {
					offered = offered || strings.Trim(e, " \t") == string(p)
				}
			}
			if !offered || !slices.Contains(supported, string(p)) {
				t.Fatalf("selected %q from %q", p, slow.protocols)
			}
		}
		// The answer to an accepted request satisfies a client that sent its key.
		accept, err := ResponseKey(req.key)
		if err != nil {
			t.Fatal(err)
		}
		var key [24]byte
		copy(key[:], req.key)
		answer := appendAcceptResponse(nil, &accept, selectProtocol(&req, supported), nil)
		var resp responseHead
		if err := parseResponse(answer, &key, &resp); err != nil {
			t.Fatalf("own answer %q rejected: %v", answer, err)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, tc := range responseCases {
		f.Add([]byte(tc.in))
	}
	key := [24]byte([]byte(rfcKey))
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp responseHead
		parseResponse(data, &key, &resp) // any input: no panic
		n := headEnd(data)
		if n < 0 {
			return
		}
		h := data[:n]
		err := parseResponse(h, &key, &resp)
		slow := slowParseResponse(string(h), rfcKey)
		if (err == nil) != slow.ok || resp.status != slow.status {
			t.Fatalf("parseResponse(%q) = %v (status %d), slow checker %+v", h, err, resp.status, slow)
		}
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not match ErrProtocol", err)
			}
			return
		}
		if !slow.matches(&resp) {
			t.Fatalf("fields %+v, slow checker %+v", resp, slow)
		}
		if resp.status != 101 || resp.protocol != nil && !slowIsToken(string(resp.protocol)) {
			t.Fatalf("accepted an invalid response: %+v", resp)
		}
	})
}

func FuzzResponseKey(f *testing.F) {
	f.Add([]byte(rfcKey))
	f.Add([]byte("dGhlIHNhbXBsZSBub25jZR=="))
	f.Add([]byte("x3JJHMbDL1EzLkh9GBhXDw=="))
	f.Fuzz(func(t *testing.T, key []byte) {
		got, err := ResponseKey(key)
		raw, derr := base64.StdEncoding.Strict().DecodeString(string(key))
		valid := derr == nil && len(raw) == 16 && len(key) == 24
		if (err == nil) != valid {
			t.Fatalf("ResponseKey(%q): %v, strict decoder: %d bytes, %v", key, err, len(raw), derr)
		}
		if err == nil && string(got[:]) != slowAccept(string(key)) {
			t.Fatalf("ResponseKey(%q) = %q, want %q", key, got[:], slowAccept(string(key)))
		}
	})
}

// The two below serve the tests: the library scans requests with
// scanRequest, and keeps their protocol lines as spans of the head.

// protocolLines returns the Sec-WebSocket-Protocol values of the request. It
// allocates the slice it returns.
func (r *requestHead) protocolLines() [][]byte {
	var lines [][]byte
	for k := range int(r.nProtocols) {
		lines = append(lines, r.protocolLine(k))
	}
	return lines
}

// parseRequest reads the opening handshake of a client, head, which should be
// b[:headEnd(b)]; bytes after the first blank line are not examined. It fills
// req with views into head and returns 0 when the request is an acceptable
// WebSocket upgrade, or else the HTTP status to answer with
// (appendRejectResponse writes it). maxTarget > 0 bounds the length of the
// request-target as sent (414 beyond it). The rules and the order in which
// faults are reported are in the comment at the top of this file. After a
// non-zero status the contents of req are unspecified. parseRequest allocates
// nothing.
func parseRequest(head []byte, req *requestHead, maxTarget int) int {
	end, status := scanRequest(head, req, maxTarget)
	if end < 0 && status == 0 {
		return 400 // no blank line
	}
	return status
}
