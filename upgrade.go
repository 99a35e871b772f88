package wsmem

import (
	"net/http"
	"time"
	"unsafe"
)

// Upgrade turns a net/http request into the server side of a WebSocket
// connection (Barracuda's WSS::upgrade), through http.ResponseController's
// Hijack: it works with http.ServeMux and the standard server over
// HTTP/1.1. A request it refuses is answered through w with the status
// (400, 403, 405, 414, 426 with Sec-WebSocket-Version: 13, 505) and a
// *HandshakeError is returned. Bytes the server had already read past the
// request are kept and read as frames. It costs what net/http's hijack
// costs; the WebSocket side allocates nothing with a Storage.
func Upgrade(w http.ResponseWriter, r *http.Request, flags Flags, st *Storage, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &defaultConfig
	}
	if st == nil {
		st = new(Storage)
	}
	var accept [28]byte // the accept value, started in checkUpgrade
	status, protocols := checkUpgrade(r, cfg, st, &accept)
	if status != 0 {
		switch status {
		case 405:
			w.Header().Set("Allow", "GET")
		case 426:
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, http.StatusText(status), status)
		return nil, refusal(status)
	}
	deadline := handshakeDeadline(cfg.handshakeTimeout())
	var params deflateParams
	deflate := false
	if cfg.Compression.Enabled {
		var err error
		params, deflate, err = negotiateDeflateHeader(r.Header["Sec-Websocket-Extensions"], cfg)
		if err != nil {
			http.Error(w, http.StatusText(400), 400)
			return nil, refusal(400)
		}
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "wsmem: cannot take over this connection", http.StatusInternalServerError)
		return nil, err
	}
	c := attach(nc, flags|NoHTTP, st, cfg, true)
	c.flags = flags
	setNames(c, r.RequestURI, r.Host)
	protocol := selectProtocolLines(protocols, cfg.Subprotocols)
	c.setProtocol(protocol)
	var extBuf [maxDeflateResponse]byte
	var ext []byte
	if deflate {
		c.enableDeflate(params)
		ext = appendDeflateResponse(extBuf[:0], params)
	}
	_ = nc.SetWriteDeadline(deadline)
	// Nothing is buffered yet: the answer is assembled in the read buffer.
	buf, pb := c.answerBuffer(acceptResponseLen(protocol, ext))
	_, err = nc.Write(appendAcceptResponse(buf, &accept, protocol, ext))
	if pb != nil {
		putBuffer(&writePool, pb)
	}
	_ = nc.SetWriteDeadline(time.Time{})
	if err != nil {
		c.shutdown()
		c.dropReadBuffers()
		return nil, err
	}
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		c.keep(early)
	}
	return c, nil
}

// checkUpgrade applies the opening handshake's rules to a request net/http
// parsed. It returns the status to refuse with, or 0 and the
// Sec-WebSocket-Protocol lines. Once the key passed, it computes the
// accept value into accept: the hash's rounds are one chain of dependent
// instructions, and the checks after it, which do not wait for it, run
// beside it.
func checkUpgrade(r *http.Request, cfg *Config, st *Storage, accept *[28]byte) (status int, protocols []string) {
	switch {
	case r.Method != http.MethodGet:
		return 405, nil
	case !r.ProtoAtLeast(1, 1):
		return 505, nil
	case !headerHasToken(r.Header["Connection"], "upgrade"),
		!headerHasToken(r.Header["Upgrade"], "websocket"):
		return 400, nil
	}
	if v := r.Header["Sec-Websocket-Version"]; len(v) != 1 || v[0] != "13" {
		return 426, nil
	}
	keys := r.Header["Sec-Websocket-Key"]
	if len(keys) != 1 || !validKey(viewBytes(keys[0])) {
		return 400, nil
	}
	acceptValue((*[24]byte)(viewBytes(keys[0])), accept)
	var origin []byte
	if o := r.Header["Origin"]; len(o) > 0 {
		origin = viewBytes(o[0])
	}
	if !cfg.originAllowed(origin, viewBytes(r.Host)) {
		return 403, nil
	}
	if cfg.CheckTarget != nil && !cfg.CheckTarget(viewBytes(r.RequestURI), viewBytes(r.Host)) {
		return 404, nil
	}
	if len(r.RequestURI)+len(r.Host) > st.conn.nameLimit() {
		return 414, nil
	}
	protocols = r.Header["Sec-Websocket-Protocol"]
	if len(protocols) > maxHeaderLines {
		return 431, nil
	}
	return 0, protocols
}

// headerHasToken reports whether a comma-separated header holds token.
func headerHasToken(lines []string, token string) bool {
	for _, l := range lines {
		if hasTokenFold(viewBytes(l), token) {
			return true
		}
	}
	return false
}

// negotiateDeflateHeader negotiates permessage-deflate from the
// Sec-WebSocket-Extensions lines net/http parsed.
func negotiateDeflateHeader(values []string, cfg *Config) (deflateParams, bool, error) {
	if !cfg.Compression.Enabled || len(values) == 0 {
		return deflateParams{}, false, nil
	}
	// Read-only views of net/http's strings (negotiateDeflate writes
	// nothing), in an array on the stack for the usual one or two lines.
	var views [4][]byte
	lines := views[:0]
	for _, v := range values {
		lines = append(lines, viewBytes(v))
	}
	return negotiateDeflate(lines, &cfg.Compression)
}

// viewBytes returns the bytes of s without copying them. The view is
// read-only: nothing in the package writes to it, and the callbacks that
// get one (Config.CheckOrigin, CheckTarget) must not either.
func viewBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
