package wiretap

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// frame builds one frame's bytes.
func frame(fin bool, rsv, op byte, mask bool, payload []byte) []byte {
	b0 := op | rsv<<4
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if mask {
		key := []byte{1, 2, 3, 4}
		out = append(out, key...)
		for i := range p {
			p[i] ^= key[i&3]
		}
	}
	return append(out, p...)
}

// TestParserAnySplit feeds a request head and frames in every two-piece
// split and checks the record is the same.
func TestParserAnySplit(t *testing.T) {
	var stream bytes.Buffer
	stream.WriteString("GET /s/x?q=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
	stream.Write(frame(false, 4, 1, true, bytes.Repeat([]byte("a"), 300)))
	stream.Write(frame(true, 0, 9, true, []byte("ping!")))
	stream.Write(frame(true, 0, 0, true, bytes.Repeat([]byte("b"), 70000)))
	stream.Write(frame(true, 0, 2, true, nil))
	stream.Write(frame(true, 0, 8, true, append([]byte{0x0f, 0xa1}, "bye ✓"...)))
	all := stream.Bytes()

	want := []Frame{
		{Fin: false, Rsv: 4, Op: 1, Masked: true, Len: 300},
		{Fin: true, Op: 9, Masked: true, Len: 5, Payload: []byte("ping!")},
		{Fin: true, Op: 0, Masked: true, Len: 70000},
		{Fin: true, Op: 2, Masked: true, Len: 0},
		{Fin: true, Op: 8, Masked: true, Len: 9, Payload: append([]byte{0x0f, 0xa1}, "bye ✓"...)},
	}
	for _, cut := range []int{0, 1, 50, 141, 142, 143, 150, 400, 445, 460, len(all) - 3, len(all)} {
		c := &Conn{done: make(chan struct{})}
		p := &parser{conn: c, request: true}
		_, _ = p.Write(all[:cut])
		_, _ = p.Write(all[cut:])
		if c.ParseError != nil {
			t.Fatalf("cut %d: %v", cut, c.ParseError)
		}
		if c.Path != "/s/x?q=1" || c.Request.Get("Sec-WebSocket-Extensions") != "permessage-deflate" {
			t.Fatalf("cut %d: head parsed as %q %v", cut, c.Path, c.Request)
		}
		if !reflect.DeepEqual(c.C2S, want) {
			t.Fatalf("cut %d: frames\n%+v\nwant\n%+v", cut, c.C2S, want)
		}
	}
	ms := Messages(want)
	if len(ms) != 2 || !ms[0].Compressed || ms[0].Frames != 2 || ms[0].WireLen != 70300 || ms[1].Op != 2 {
		t.Fatalf("Messages = %+v", ms)
	}
	if cl := Closes(want); len(cl) != 1 || cl[0] != [2]string{"4001", "bye ✓"} {
		t.Fatalf("Closes = %q", cl)
	}
}

func TestExtensions(t *testing.T) {
	got := Extensions(`permessage-deflate; client_max_window_bits, permessage-deflate;server_max_window_bits="10" ; client_no_context_takeover`)
	want := []map[string]string{
		{"": "permessage-deflate", "client_max_window_bits": ""},
		{"": "permessage-deflate", "server_max_window_bits": "10", "client_no_context_takeover": ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Extensions = %v", got)
	}
}
