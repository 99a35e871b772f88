package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/wsmem/wsmem"
)

// The Node, Python and Chromium drivers run scenarios against an agent:
// wsmem's side of each connection, in this process. A driver announces each
// step with a text control message (JSON) and the agent acts on it:
//
//	{"cmd":"echo","type":"text","len":N,"sha256":"…","wsmemFrag":F}
//	    the next data message must be of that type, length and SHA-256;
//	    the agent sends it back, with Send, or with NextWriter in F-byte
//	    frames and a ping between the second and third frame
//	{"cmd":"expect-ping","data":"…"}  the peer is about to ping: the agent
//	    answers {"pinged":"…"} when Serve's OnPing shows it
//	{"cmd":"ping","data":"…"}         the agent pings, and answers
//	    {"pong":"…"} when Serve's OnPong shows the pong
//	{"cmd":"expect-close","code":C,"reason":"…"}  the peer is about to close
//	{"cmd":"close","code":C,"reason":"…"}          the agent calls Done
//
// The driver checks what it gets back byte for byte; the agent checks what
// it receives, and the test reads both verdicts and the wire tap's record.

type ctlMsg struct {
	Cmd       string `json:"cmd"`
	Type      string `json:"type,omitempty"`
	Len       int    `json:"len,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	WsmemFrag int    `json:"wsmemFrag,omitempty"`
	Data      string `json:"data,omitempty"`
	Code      int    `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// echoRec places one echoed message in each direction's message sequence.
type echoRec struct {
	recvIdx, sentIdx int // data message indexes: peer→wsmem, wsmem→peer
	fragmented       bool
	len              int
}

// agent is wsmem's side of one scenario's connection.
type agent struct {
	c    *wsmem.Conn
	mode string

	mu          sync.Mutex
	errs        []string
	compression bool
	echoes      []echoRec
	pending     *ctlMsg // an echo announced, its message not yet here
	expectPing  *string
	expectPong  *string
	expectClose *ctlMsg
	sentClose   *ctlMsg
	end         event // how the connection ended
	ended       bool
	recvCount   int // data messages received
	sentCount   int // data messages sent
	done        chan struct{}
}

func newAgent(c *wsmem.Conn, mode string) *agent {
	a := &agent{c: c, mode: mode, compression: c.Compression(), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *agent) failf(format string, args ...any) {
	a.errs = append(a.errs, fmt.Sprintf(format, args...))
}

// run drives the agent from one of wsmem's receive APIs until the end.
func (a *agent) run() {
	defer close(a.done)
	e := newWsmemEnd(a.c, a.mode)
	for ev := range e.events() {
		a.mu.Lock()
		switch ev.kind {
		case evMessage:
			a.onMessage(ev.typ, ev.data)
		case evPing:
			a.onPing(ev.data)
		case evPong:
			a.onPong(ev.data)
		default:
			if !a.ended {
				a.ended = true
				a.end = ev
				a.onEnd(ev)
			}
		}
		a.mu.Unlock()
	}
	<-e.done
}

func (a *agent) sendJSON(v any) {
	b, _ := json.Marshal(v)
	if err := a.c.Send(wsmem.Text, b); err != nil {
		a.failf("wsmem Send(%s): %v", b, err)
		return
	}
	a.sentCount++
}

func (a *agent) onMessage(typ msgType, data []byte) {
	idx := a.recvCount
	a.recvCount++
	if m := a.pending; m != nil {
		a.pending = nil
		wantType := binaryMsg
		if m.Type == "text" {
			wantType = textMsg
		}
		sum := sha256.Sum256(data)
		if typ != wantType || len(data) != m.Len || hex.EncodeToString(sum[:]) != m.SHA256 {
			a.failf("echo %d: wsmem received a %v message of %d bytes (sha256 %x…), the peer sent a %s message of %d bytes (sha256 %.16s…)",
				len(a.echoes), typ, len(data), sum[:8], m.Type, m.Len, m.SHA256)
		}
		rec := echoRec{recvIdx: idx, sentIdx: a.sentCount, fragmented: m.WsmemFrag > 0, len: len(data)}
		var err error
		if m.WsmemFrag > 0 {
			e := &wsmemEnd{c: a.c}
			err = e.sendFragments(typ, data, m.WsmemFrag)
		} else {
			err = a.c.Send(flagsOf(typ), data)
		}
		if err != nil {
			a.failf("echo %d: wsmem sending it back: %v", len(a.echoes), err)
		}
		a.sentCount++
		a.echoes = append(a.echoes, rec)
		return
	}
	var m ctlMsg
	if typ != textMsg || json.Unmarshal(data, &m) != nil {
		a.failf("wsmem received a %v message of %d bytes where a control message was due: %.60q", typ, len(data), data)
		return
	}
	switch m.Cmd {
	case "echo":
		a.pending = &m
	case "expect-ping":
		if a.mode != "serve" {
			a.failf("expect-ping needs the serve mode")
		}
		a.expectPing = &m.Data
	case "ping":
		if m.Data == "between fragments" {
			a.failf("that ping payload is reserved")
		}
		if a.mode != "serve" {
			a.failf("ping needs the serve mode")
		}
		a.expectPong = &m.Data
		if err := a.c.Ping([]byte(m.Data)); err != nil {
			a.failf("wsmem Ping(%q): %v", m.Data, err)
		}
	case "expect-close":
		a.expectClose = &m
	case "close":
		a.sentClose = &m
		if err := a.c.Done(wsmem.StatusCode(m.Code), []byte(m.Reason)); err != nil {
			a.failf("wsmem Done(%d, %q): %v", m.Code, m.Reason, err)
		}
	default:
		a.failf("unknown control message %s", data)
	}
}

func (a *agent) onPing(data []byte) {
	if a.expectPing == nil {
		a.failf("unexpected ping %q", data)
		return
	}
	if string(data) != *a.expectPing {
		a.failf("ping payload %q, want %q", data, *a.expectPing)
	}
	a.expectPing = nil
	a.sendJSON(map[string]string{"pinged": string(data)})
}

func (a *agent) onPong(data []byte) {
	if string(data) == "between fragments" {
		return // the answer to the ping sendFragments puts between frames
	}
	if a.expectPong == nil {
		a.failf("unexpected pong %q", data)
		return
	}
	if string(data) != *a.expectPong {
		a.failf("pong payload %q, want %q (the ping's)", data, *a.expectPong)
	}
	a.expectPong = nil
	a.sendJSON(map[string]string{"pong": string(data)})
}

func (a *agent) onEnd(ev event) {
	switch {
	case a.expectClose != nil:
		if ev.kind != evClose || ev.code != a.expectClose.Code || ev.reason != a.expectClose.Reason {
			a.failf("wsmem: the connection ended with %v, want the peer's close %d %q", ev, a.expectClose.Code, a.expectClose.Reason)
		}
		if code, reason := a.c.Status(); int(code) != a.expectClose.Code || string(reason) != a.expectClose.Reason {
			a.failf("wsmem Status() = %d %q, want %d %q", code, reason, a.expectClose.Code, a.expectClose.Reason)
		}
	case a.sentClose != nil:
		if ev.kind != evClose {
			a.failf("wsmem: after Done(%d) the connection ended with %v, want the peer's answering close", a.sentClose.Code, ev)
		}
	default:
		a.failf("wsmem: the connection ended with %v before any close was announced", ev)
	}
	if a.pending != nil {
		a.failf("the connection ended before the announced %s message of %d bytes", a.pending.Type, a.pending.Len)
	}
	if a.expectPing != nil {
		a.failf("the announced ping %q never came", *a.expectPing)
	}
	if a.expectPong != nil {
		a.failf("no pong came for wsmem's ping %q", *a.expectPong)
	}
}

// result returns the agent's findings once its connection has ended.
func (a *agent) result() ([]string, []echoRec, event) {
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.errs...), append([]echoRec(nil), a.echoes...), a.end
}
