package interop

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
)

// gobwas/ws: frames are the caller's, so this adapter uses the library the
// way its documentation shows: wsutil.Reader (with wsflate.MessageState
// clearing RSV1) and wsutil.ControlHandler to answer pings and closes,
// ws.WriteFrame for sends, wsflate's helpers to compress. wsflate keeps no
// context between messages, so only no-context-takeover is offered or
// accepted (wsflate.DefaultParameters).
type gobwasEnd struct {
	conn    net.Conn
	src     io.Reader // conn, or the dialer's buffered reader first
	state   ws.State
	deflate bool
	w       *lockedWriter
	ev      *sink

	mu        sync.Mutex
	sentClose bool
}

func newGobwasEnd(conn net.Conn, src io.Reader, state ws.State, deflate bool) *gobwasEnd {
	if deflate {
		state |= ws.StateExtended // RSV1 allowed
	}
	e := &gobwasEnd{conn: conn, src: src, state: state, deflate: deflate, w: &lockedWriter{w: conn}, ev: newSink()}
	go e.read()
	return e
}

func (e *gobwasEnd) read() {
	defer e.ev.end()
	var msg wsflate.MessageState
	rd := &wsutil.Reader{
		Source:         e.src,
		State:          e.state,
		CheckUTF8:      !e.deflate, // the check would see compressed bytes: done after inflating
		MaxMessageSize: 64 << 20,
		OnIntermediate: e.control,
	}
	if e.deflate {
		rd.Extensions = []wsutil.RecvExtension{&msg}
	}
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			e.ev.push(event{kind: evError, err: err})
			return
		}
		if hdr.OpCode.IsControl() {
			if err := e.control(hdr, rd); err != nil {
				var ce wsutil.ClosedError
				if errors.As(err, &ce) {
					e.ev.push(event{kind: evClose, code: int(ce.Code), reason: ce.Reason})
				} else {
					e.ev.push(event{kind: evError, err: err})
				}
				return
			}
			continue
		}
		var r io.Reader = rd
		var fr *wsflate.Reader
		if msg.IsCompressed() {
			fr = wsflate.NewReader(rd, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
			r = fr
		}
		data, err := io.ReadAll(r)
		if fr != nil {
			if cerr := fr.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			var ce wsutil.ClosedError
			if errors.As(err, &ce) {
				e.ev.push(event{kind: evClose, code: int(ce.Code), reason: ce.Reason})
			} else {
				e.ev.push(event{kind: evError, err: err})
			}
			return
		}
		t := binaryMsg
		if hdr.OpCode == ws.OpText {
			t = textMsg
			if !utf8.Valid(data) {
				e.ev.push(event{kind: evError, err: errors.New("gobwas: invalid UTF-8 in a text message")})
				return
			}
		}
		e.ev.push(event{kind: evMessage, typ: t, data: data})
	}
}

// control handles one control frame whose (unmasked) payload r holds.
func (e *gobwasEnd) control(h ws.Header, r io.Reader) error {
	payload, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ch := wsutil.ControlHandler{Src: bytes.NewReader(payload), Dst: e.w, State: e.state, DisableSrcCiphering: true}
	switch h.OpCode {
	case ws.OpPing:
		e.ev.push(event{kind: evPing, data: payload})
		return ch.HandlePing(h)
	case ws.OpPong:
		e.ev.push(event{kind: evPong, data: payload})
		return nil
	case ws.OpClose:
		e.mu.Lock()
		sent := e.sentClose
		e.sentClose = true
		e.mu.Unlock()
		if sent {
			// Our close was first: this is the answer, nothing to echo.
			code, reason := ws.ParseCloseFrameData(payload)
			if len(payload) == 0 {
				code = ws.StatusNoStatusRcvd
			}
			return wsutil.ClosedError{Code: code, Reason: reason}
		}
		return ch.HandleClose(h)
	}
	return fmt.Errorf("gobwas: unexpected opcode %v", h.OpCode)
}

func (e *gobwasEnd) writeFrame(f ws.Frame) error {
	if e.state.ClientSide() {
		f.Payload = append([]byte(nil), f.Payload...)
		f = ws.MaskFrameInPlace(f)
	}
	return ws.WriteFrame(e.w, f)
}

func gobwasOp(t msgType) ws.OpCode {
	if t == textMsg {
		return ws.OpText
	}
	return ws.OpBinary
}

func (e *gobwasEnd) send(typ msgType, p []byte) error {
	f := ws.NewFrame(gobwasOp(typ), true, p)
	if e.deflate {
		var err error
		if f, err = wsflate.CompressFrame(f); err != nil {
			return err
		}
	}
	return e.writeFrame(f)
}

// sendFragments writes the frames itself: with compression on, the whole
// message is deflated once and the compressed bytes are split, RSV1 on the
// first frame only (RFC 7692 section 6.1).
func (e *gobwasEnd) sendFragments(typ msgType, p []byte, size int) error {
	rsv := byte(0)
	if e.deflate {
		z, err := wsflate.DefaultHelper.Compress(p)
		if err != nil {
			return err
		}
		p, rsv = z, ws.Rsv(true, false, false)
	}
	op := gobwasOp(typ)
	for first := true; first || len(p) > 0; first = false {
		k := min(size, len(p))
		f := ws.NewFrame(op, k == len(p), p[:k])
		if first {
			f.Header.Rsv = rsv
		}
		if err := e.writeFrame(f); err != nil {
			return err
		}
		p, op = p[k:], ws.OpContinuation
	}
	return nil
}

func (e *gobwasEnd) ping(p []byte) ([]byte, error) { return p, e.writeFrame(ws.NewPingFrame(p)) }

func (e *gobwasEnd) closeWith(code int, reason string) error {
	e.mu.Lock()
	e.sentClose = true
	e.mu.Unlock()
	return e.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
}

func (e *gobwasEnd) events() <-chan event { return e.ev.ch }
func (e *gobwasEnd) kill()                { _ = e.conn.Close() }

type gobwasPeer struct{}

func (gobwasPeer) name() string    { return "gobwas" }
func (gobwasPeer) modes() []string { return []string{"nct"} }

func (gobwasPeer) server(mode string, out chan<- peerConn) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ext := &wsflate.Extension{Parameters: wsflate.DefaultParameters}
		u := ws.HTTPUpgrader{}
		if mode != "" {
			u.Negotiate = ext.Negotiate
		}
		conn, rw, _, err := u.Upgrade(r, w)
		if err != nil {
			out <- peerConn{err: err}
			return
		}
		_, accepted := ext.Accepted()
		var src io.Reader = conn
		if rw != nil && rw.Reader.Buffered() > 0 {
			src = io.MultiReader(bytes.NewReader(peek(rw.Reader)), conn)
		}
		out <- peerConn{
			end:         newGobwasEnd(conn, src, ws.StateServerSide, accepted),
			compression: compressionView{known: true, on: accepted},
		}
	})
}

// peek drains what a bufio.Reader holds.
func peek(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return append([]byte(nil), b...)
}

func (gobwasPeer) dial(ctx context.Context, url, mode string) (peerConn, error) {
	d := ws.Dialer{}
	if mode != "" {
		d.Extensions = []httphead.Option{wsflate.DefaultParameters.Option()}
	}
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		return peerConn{}, err
	}
	on := false
	var desc []string
	for _, opt := range hs.Extensions {
		if string(opt.Name) == wsflate.ExtensionName {
			on = true
		}
		desc = append(desc, opt.String())
	}
	var src io.Reader = conn
	if br != nil {
		src = io.MultiReader(bytes.NewReader(peek(br)), conn)
		ws.PutReader(br)
	}
	return peerConn{
		end:         newGobwasEnd(conn, src, ws.StateClientSide, on),
		compression: compressionView{known: true, on: on, ext: fmt.Sprint(desc)},
	}, nil
}
