package conformance

// Group 6 (UTF-8 in text messages, RFC 6455 §5.6, §8.1 and RFC 3629) and
// group 7 (the closing handshake, RFC 6455 §5.5.1, §7).

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// validUTF8 are valid texts, at every boundary of RFC 3629's table.
var validUTF8 = []struct {
	name string
	s    string
}{
	{"empty", ""},
	{"mixed Latin-1 text", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"Greek word", "κόσμε"},
	{"U+0000", "\x00"},
	{"U+007F, last 1-byte", "\x7f"},
	{"U+0080, first 2-byte", "\xc2\x80"},
	{"U+07FF, last 2-byte", "\xdf\xbf"},
	{"U+0800, first 3-byte", "\xe0\xa0\x80"},
	{"U+D7FF, last before the surrogates", "\xed\x9f\xbf"},
	{"U+E000, first after the surrogates", "\xee\x80\x80"},
	{"U+FFFD", "\xef\xbf\xbd"},
	{"U+FFFE, a noncharacter", "\xef\xbf\xbe"},
	{"U+FFFF, last 3-byte", "\xef\xbf\xbf"},
	{"U+FDD0, a noncharacter", "\xef\xb7\x90"},
	{"U+FEFF, byte order mark", "\xef\xbb\xbf"},
	{"U+10000, first 4-byte", "\xf0\x90\x80\x80"},
	{"U+1F600", "\xf0\x9f\x98\x80"},
	{"U+3FFFF", "\xf0\xbf\xbf\xbf"},
	{"U+40000", "\xf1\x80\x80\x80"},
	{"U+FFFFF", "\xf3\xbf\xbf\xbf"},
	{"U+100000", "\xf4\x80\x80\x80"},
	{"U+10FFFF, last code point", "\xf4\x8f\xbf\xbf"},
	{"every boundary in one text", "\x00\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"},
	{"long text of 1-4 byte sequences", string(utf8Payload(5000))},
}

// invalidUTF8 are texts that are not UTF-8.
var invalidUTF8 = []struct {
	name string
	s    string
}{
	{"lone continuation byte 0x80", "\x80"},
	{"lone continuation byte 0xBF", "\xbf"},
	{"continuation bytes after text", "abc\x80\xbf\x80"},
	{"2-byte start, then a space", "\xc2 "},
	{"3-byte start, then a space", "\xe1 "},
	{"4-byte start, then a space", "\xf1 "},
	{"overlong U+0000 (C0 80)", "\xc0\x80"},
	{"overlong U+007F (C1 BF)", "\xc1\xbf"},
	{"overlong '/' in 3 bytes", "\xe0\x80\xaf"},
	{"overlong U+07FF in 3 bytes", "\xe0\x9f\xbf"},
	{"overlong U+0000 in 4 bytes", "\xf0\x80\x80\x80"},
	{"overlong U+FFFF in 4 bytes", "\xf0\x8f\xbf\xbf"},
	{"surrogate U+D800", "\xed\xa0\x80"},
	{"surrogate U+DBFF", "\xed\xaf\xbf"},
	{"surrogate U+DC00", "\xed\xb0\x80"},
	{"surrogate U+DFFF", "\xed\xbf\xbf"},
	{"surrogate pair U+D834 U+DD1E", "\xed\xa0\xb4\xed\xb4\x9e"},
	{"U+110000, past the last code point", "\xf4\x90\x80\x80"},
	{"F5 start byte", "\xf5\x80\x80\x80"},
	{"F7 BF BF BF", "\xf7\xbf\xbf\xbf"},
	{"5-byte sequence", "\xf8\x88\x80\x80\x80"},
	{"6-byte sequence", "\xfc\x84\x80\x80\x80\x80"},
	{"byte FE", "\xfe"},
	{"byte FF", "\xff"},
	{"FE FE FF FF", "\xfe\xfe\xff\xff"},
	{"valid text, then a surrogate, then text", "κόσμε\xed\xa0\x80edited"},
	{"2-byte sequence cut by the message end", "κόσμε\xc2"},
	{"3-byte sequence cut by the message end", "κόσμε\xe0\xa0"},
	{"4-byte sequence cut by the message end", "κόσμε\xf0\x90\x80"},
	{"3-byte sequence cut by ASCII", "\xe0\xa0A"},
	{"4-byte sequence cut by a new start byte", "\xf0\x90\xc2\x80"},
}

func utf8Cases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) *tcase {
		c := &tcase{id: id, group: "6", desc: desc, script: s}
		cs = append(cs, c)
		return c
	}
	for i, v := range validUTF8 {
		p := []byte(v.s)
		add(fmt.Sprintf("6.1.%d", i+1), "valid: "+v.name, func(b *builder) {
			b.echo(opText, p)
			b.closeNormal()
		})
	}
	for i, v := range validUTF8[1:23] {
		p := []byte(v.s)
		add(fmt.Sprintf("6.2.%d", i+1), "valid, in 1-byte fragments: "+v.name, func(b *builder) {
			b.fragments(opText, p, 1)
			b.closeNormal()
		})
	}
	// A text with sequences of every length, split into two fragments at
	// every byte.
	split := []byte("a€𝄞µ語")
	for k := 1; k < len(split); k++ {
		add(fmt.Sprintf("6.3.%d", k), fmt.Sprintf("valid %q split into two fragments after byte %d", split, k), func(b *builder) {
			b.frame(false, 0, opText, split[:k])
			b.frame(true, 0, opCont, split[k:])
			b.wantMsg(opText, split)
			b.closeNormal()
		})
	}
	for i, v := range invalidUTF8 {
		p := []byte(v.s)
		add(fmt.Sprintf("6.4.%d", i+1), "invalid, one frame: "+v.name+": 1007", func(b *builder) {
			b.echo(opText, hello)
			b.text(string(p))
			b.ping([]byte("after"))
			b.wantFail(1007)
		})
	}
	for i, v := range invalidUTF8 {
		p := []byte(v.s)
		add(fmt.Sprintf("6.5.%d", i+1), "invalid, 1-byte fragments: "+v.name+": 1007", func(b *builder) {
			b.echo(opText, hello)
			b.sendFragments(opText, 0, p, 1)
			b.wantFail(1007)
		})
	}
	// Fail fast: the invalid byte arrives, the rest of the message never
	// does; the answer must not wait for it.
	n := 0
	for _, v := range invalidUTF8 {
		fast := impossibleAt(v.s)
		if fast < 0 {
			continue
		}
		n++
		prefix := []byte(v.s[:fast])
		c := add(fmt.Sprintf("6.6.%d", n), "fail fast, first fragment only: "+v.name+": 1007", func(b *builder) {
			b.frame(false, 0, opText, append([]byte("valid start "), prefix...))
			b.wantFail(1007)
		})
		c.timeout, c.fast = 3*time.Second, true
		n++
		c = add(fmt.Sprintf("6.6.%d", n), "fail fast, start of a 1 MiB frame only: "+v.name+": 1007", func(b *builder) {
			b.header(true, 0, opText, 1<<20, lenShortest, append([]byte("valid start "), prefix...))
			b.wantFail(1007)
		})
		c.timeout, c.fast = 3*time.Second, true
	}
	add("6.7.1", "invalid sequence split across fragments (ED | A0 80): 1007", func(b *builder) {
		b.frame(false, 0, opText, []byte("κόσμε\xed"))
		b.frame(true, 0, opCont, []byte("\xa0\x80edited"))
		b.wantFail(1007)
	})
	add("6.7.2", "2-byte start at a fragment's end, ASCII next (C2 | 41): 1007", func(b *builder) {
		b.frame(false, 0, opText, []byte("abc\xc2"))
		b.frame(true, 0, opCont, []byte("Adef"))
		b.wantFail(1007)
	})
	add("6.7.3", "4-byte start at a fragment's end, past U+10FFFF next (F4 | 90 80 80): 1007", func(b *builder) {
		b.frame(false, 0, opText, []byte("abc\xf4"))
		b.frame(true, 0, opCont, []byte("\x90\x80\x80"))
		b.wantFail(1007)
	})
	add("6.7.4", "message ending inside a sequence, its last fragment empty: 1007", func(b *builder) {
		b.frame(false, 0, opText, []byte("abc\xe2\x82"))
		b.frame(true, 0, opCont, nil)
		b.wantFail(1007)
	})
	add("6.7.5", "valid message, then a message continuing its unfinished sequence: 1007", func(b *builder) {
		b.echo(opText, []byte("complete"))
		b.frame(true, 0, opText, []byte("\xa0\x80"))
		b.wantFail(1007)
	})
	add("6.7.7", "sequence split across fragments with a ping between them: valid", func(b *builder) {
		b.frame(false, 0, opText, []byte("abc\xf0\x9f"))
		b.ping([]byte("between"))
		b.frame(false, 0, opCont, []byte("\x98"))
		b.pong([]byte("unsolicited"))
		b.frame(true, 0, opCont, []byte("\x80def"))
		b.wantPong([]byte("between"))
		b.wantMsg(opText, []byte("abc😀def"))
		b.closeNormal()
	})
	add("6.7.8", "surrogate split across fragments with a ping between them: 1007", func(b *builder) {
		b.frame(false, 0, opText, []byte("abc\xed"))
		b.ping([]byte("between"))
		b.wantPong([]byte("between"))
		b.frame(true, 0, opCont, []byte("\xb0\x80"))
		b.wantFail(1007)
	})
	add("6.7.6", "invalid UTF-8 in a binary message: echoed as it is", func(b *builder) {
		b.echo(opBinary, []byte("\xed\xa0\x80\xff\xfe\xc0\x80"))
		b.closeNormal()
	})
	return cs
}

func closeCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) {
		cs = append(cs, &tcase{id: id, group: "7", desc: desc, script: s})
	}
	add("7.1.1", "message, then close: the echo, then close 1000", func(b *builder) {
		b.echo(opText, hello)
		b.closeNormal()
	})
	add("7.1.2", "close twice: one close answered", func(b *builder) {
		b.sendClose(1000, nil)
		b.sendClose(1000, nil)
		b.wantCloseEcho(1000)
	})
	add("7.1.3", "close, then ping: no pong", func(b *builder) {
		b.sendClose(1000, nil)
		b.ping([]byte("after close"))
		b.wantCloseEcho(1000)
	})
	add("7.1.4", "close, then a text message: not echoed", func(b *builder) {
		b.sendClose(1000, nil)
		b.text("after close")
		b.wantCloseEcho(1000)
	})
	add("7.1.5", "fragment, close, last fragment: the message is not echoed", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.sendClose(1000, nil)
		b.frame(true, 0, opCont, []byte("fragment2"))
		b.wantCloseEcho(1000)
	})
	add("7.1.6", "256 KiB message, ping, close: echo, pong, close", func(b *builder) {
		p := asciiPayload(256<<10, 716)
		b.echo(opText, p)
		b.ping([]byte("ping"))
		b.wantPong([]byte("ping"))
		b.closeNormal()
	})
	add("7.1.7", "close, then an invalid frame: ignored", func(b *builder) {
		b.sendClose(1000, nil)
		b.frame(true, rsv2, 0xB, []byte("garbage after close"))
		b.wantCloseEcho(1000)
	})
	add("7.3.1", "close without payload: close without payload", func(b *builder) {
		b.sendClose(-1, nil)
		b.wantCloseEcho(-1)
	})
	add("7.3.2", "close with a 1-byte payload: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.frame(true, 0, opClose, []byte{0x03})
		b.wantFail(1002)
	})
	add("7.3.3", "close 1000 without reason", func(b *builder) {
		b.closeNormal()
	})
	add("7.3.4", "close 1000 with a short reason", func(b *builder) {
		b.sendClose(1000, []byte("Hello World!"))
		b.wantCloseEcho(1000)
	})
	add("7.3.5", "close 1000 with a 123-byte reason", func(b *builder) {
		b.sendClose(1000, asciiPayload(123, 735))
		b.wantCloseEcho(1000)
	})
	add("7.3.6", "close 1000 with a 124-byte reason (126-byte payload): 1002", func(b *builder) {
		b.echo(opText, hello)
		b.sendClose(1000, asciiPayload(124, 736))
		b.wantFail(1002)
	})
	add("7.3.7", "close 1000 with a 123-byte reason of multi-byte UTF-8", func(b *builder) {
		b.sendClose(1000, utf8Payload(123))
		b.wantCloseEcho(1000)
	})
	add("7.5.1", "close with a reason that is not UTF-8: 1007", func(b *builder) {
		b.echo(opText, hello)
		b.sendClose(1000, []byte("κόσμε\xed\xa0\x80edited"))
		b.wantFail(1007)
	})
	add("7.5.2", "close with a reason ending inside a UTF-8 sequence: 1007", func(b *builder) {
		b.sendClose(1000, []byte("abc\xe2\x82"))
		b.wantFail(1007)
	})
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		code := code
		add(fmt.Sprintf("7.7.%d", i+1), fmt.Sprintf("close with valid code %d: echoed", code), func(b *builder) {
			b.sendClose(code, []byte("reason"))
			b.wantCloseEcho(code)
		})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		code := code
		add(fmt.Sprintf("7.9.%d", i+1), fmt.Sprintf("close with invalid code %d: 1002", code), func(b *builder) {
			b.echo(opText, hello)
			b.sendClose(code, nil)
			b.wantFail(1002)
		})
	}
	add("7.13.1", "close with a reason in the 16-bit length form (non-minimal): 1002", func(b *builder) {
		p := closePayload(1000, []byte("abc"))
		b.header(true, 0, opClose, uint64(len(p)), len16, p)
		b.wantFail(1002)
	})
	add("7.13.2", "messages, pings and close in one write", func(b *builder) {
		var all []byte
		for i := range 3 {
			p := asciiPayload(50*i, uint64(i))
			all = appendFrame(all, hdr{fin: true, op: opText, masked: b.masked(), key: b.key()}, p)
			b.wantMsg(opText, p)
			all = appendFrame(all, hdr{fin: true, op: opPing, masked: b.masked(), key: b.key()}, []byte{byte(i)})
			b.wantPong([]byte{byte(i)})
		}
		all = appendFrame(all, hdr{fin: true, op: opClose, masked: b.masked(), key: b.key()}, closePayload(1000, nil))
		b.raw(all)
		b.closes = true
		b.wantCloseEcho(1000)
	})
	return cs
}

// impossibleAt returns the length of the shortest prefix of s that cannot
// be completed into valid UTF-8, or -1 when every prefix can.
func impossibleAt(s string) int {
	for k := 1; k <= len(s); k++ {
		if !completable([]byte(s[:k])) {
			return k
		}
	}
	return -1
}

// completable reports whether some bytes appended to p make it valid UTF-8.
func completable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	start := len(p) - 1
	for start > 0 && len(p)-start < 4 && !utf8.RuneStart(p[start]) {
		start--
	}
	if !utf8.Valid(p[:start]) {
		return false
	}
	tail := p[start:]
	need := 0
	switch c := tail[0]; {
	case c >= 0xc2 && c <= 0xdf:
		need = 2
	case c >= 0xe0 && c <= 0xef:
		need = 3
	case c >= 0xf0 && c <= 0xf4:
		need = 4
	default:
		return false
	}
	if len(tail) >= need {
		return false
	}
	for x := 0x80; x <= 0xbf; x++ {
		t := append([]byte(nil), tail...)
		if len(t) == 1 {
			t = append(t, byte(x))
		} else if x > 0x80 {
			break
		}
		for len(t) < need {
			t = append(t, 0x80)
		}
		if utf8.Valid(t) {
			return true
		}
	}
	return false
}
