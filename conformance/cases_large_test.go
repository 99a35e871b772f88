package conformance

// Group 9: large messages, many messages, and the size limits of
// wsmem.Config (close code 1009, RFC 6455 §7.4.1).

import (
	"fmt"
	"strings"
	"time"

	"github.com/wsmem/wsmem"
)

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func largeCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, heavy bool, s func(*builder)) *tcase {
		c := &tcase{id: id, group: "9", desc: desc, script: s, heavy: heavy, timeout: 30 * time.Second, budget: 16 << 10}
		cs = append(cs, c)
		return c
	}
	single := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20}
	for i, n := range single {
		n := n
		add(fmt.Sprintf("9.1.%d", i+1), fmt.Sprintf("text message of %s in one frame", sizeName(n)), n >= 4<<20, func(b *builder) {
			b.echo(opText, asciiPayload(n, uint64(n)))
			b.closeNormal()
		})
	}
	for i, n := range single {
		n := n
		add(fmt.Sprintf("9.2.%d", i+1), fmt.Sprintf("binary message of %s in one frame", sizeName(n)), n >= 4<<20, func(b *builder) {
			b.echo(opBinary, binPayload(n, uint64(n)))
			b.closeNormal()
		})
	}
	// 1 MiB in frames of 64 B to 256 KiB (16384 to 4 frames).
	frames := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10}
	for i, f := range frames {
		f := f
		add(fmt.Sprintf("9.3.%d", i+1), fmt.Sprintf("text message of 1 MiB in frames of %s", sizeName(f)), false, func(b *builder) {
			b.fragments(opText, utf8Payload(1<<20), f)
			b.closeNormal()
		})
	}
	for i, f := range frames {
		f := f
		add(fmt.Sprintf("9.4.%d", i+1), fmt.Sprintf("binary message of 1 MiB in frames of %s", sizeName(f)), false, func(b *builder) {
			b.fragments(opBinary, binPayload(1<<20, 94), f)
			b.closeNormal()
		})
	}
	// 16 MiB in frames of 64 KiB to 4 MiB; 4 MiB in 65536 frames of 64 B
	// (the default MaxFragments exactly).
	for i, x := range []struct {
		op          byte
		size, frame int
	}{
		{opBinary, 16 << 20, 64 << 10},
		{opText, 16 << 20, 256 << 10},
		{opBinary, 16 << 20, 1 << 20},
		{opText, 16 << 20, 4 << 20},
		{opBinary, 4 << 20, 64},
	} {
		x := x
		add(fmt.Sprintf("9.5.%d", i+1), fmt.Sprintf("%s message of %s in frames of %s", opName(x.op), sizeName(x.size), sizeName(x.frame)), true, func(b *builder) {
			if x.op == opText {
				b.fragments(opText, utf8Payload(x.size), x.frame)
			} else {
				b.fragments(opBinary, binPayload(x.size, uint64(x.frame)), x.frame)
			}
			b.closeNormal()
		})
	}
	many := []struct {
		count, size int
		op          byte
	}{
		{10000, 16, opText},
		{10000, 16, opBinary},
		{1000, 1 << 10, opBinary},
		{100, 64 << 10, opText},
	}
	for i, m := range many {
		m := m
		add(fmt.Sprintf("9.6.%d", i+1), fmt.Sprintf("%d %s messages of %s", m.count, opName(m.op), sizeName(m.size)), m.size >= 64<<10, func(b *builder) {
			for j := range m.count {
				if m.op == opText {
					b.echo(opText, asciiPayload(m.size, uint64(j)))
				} else {
					b.echo(opBinary, binPayload(m.size, uint64(j)))
				}
			}
			b.closeNormal()
		})
	}

	// Limits.
	lim := &wsmem.Config{MaxMessageSize: 64 << 10}
	limit := func(id, desc string, cfg *wsmem.Config, s func(*builder)) {
		c := add(id, desc, false, s)
		c.cfg = cfg
		c.timeout = 5 * time.Second
		if strings.HasSuffix(desc, "at once") {
			// The header says enough: the answer must not wait for the
			// payload that never comes.
			c.timeout, c.fast = 3*time.Second, true
		}
	}
	limit("9.7.1", "MaxMessageSize 64 KiB: a 64 KiB message in one frame is echoed", lim, func(b *builder) {
		b.echo(opText, asciiPayload(64<<10, 971))
		b.closeNormal()
	})
	limit("9.7.2", "MaxMessageSize 64 KiB: 64 KiB + 1 in one frame: 1009", lim, func(b *builder) {
		b.echo(opText, hello)
		b.frame(true, 0, opText, asciiPayload(64<<10+1, 972))
		b.wantFail(1009)
	})
	limit("9.7.3", "MaxMessageSize 64 KiB: 64 KiB in 16 fragments is echoed", lim, func(b *builder) {
		b.fragments(opBinary, binPayload(64<<10, 973), 4<<10)
		b.closeNormal()
	})
	limit("9.7.4", "MaxMessageSize 64 KiB: 64 KiB + 1 in 17 fragments: 1009", lim, func(b *builder) {
		b.echo(opText, hello)
		b.sendFragments(opBinary, 0, binPayload(64<<10+1, 974), 4<<10)
		b.wantFail(1009)
	})
	limit("9.7.5", "MaxMessageSize 64 KiB: a frame header announcing 1 GiB, no payload: 1009 at once", lim, func(b *builder) {
		b.echo(opText, hello)
		b.header(true, 0, opBinary, 1<<30, lenShortest, nil)
		b.wantFail(1009)
	})
	limit("9.7.6", "defaults: a frame header announcing 16 MiB + 1, no payload: 1009 at once", nil, func(b *builder) {
		b.header(true, 0, opBinary, 16<<20+1, lenShortest, nil)
		b.wantFail(1009)
	})
	limit("9.7.7", "defaults: a frame header announcing 2^63-1 bytes: 1009 at once", nil, func(b *builder) {
		b.header(true, 0, opText, 1<<63-1, lenShortest, nil)
		b.wantFail(1009)
	})
	limit("9.7.8", "MaxMessageSize 64 KiB: fragments passing the limit, the rest never sent: 1009 at once", lim, func(b *builder) {
		b.frame(false, 0, opBinary, make([]byte, 60<<10))
		b.header(false, 0, opCont, 8<<10, lenShortest, nil)
		b.wantFail(1009)
	})
	frameLim := &wsmem.Config{MaxMessageSize: 64 << 10, MaxFrameSize: 4 << 10}
	limit("9.7.9", "MaxFrameSize 4 KiB: a message in frames of 4 KiB is echoed", frameLim, func(b *builder) {
		b.fragments(opText, asciiPayload(40<<10, 979), 4<<10)
		b.closeNormal()
	})
	limit("9.7.10", "MaxFrameSize 4 KiB: a frame of 4 KiB + 1: 1009", frameLim, func(b *builder) {
		b.echo(opText, hello)
		b.frame(true, 0, opBinary, binPayload(4<<10+1, 9710))
		b.wantFail(1009)
	})
	fragLim := &wsmem.Config{MaxFragments: 16}
	limit("9.7.11", "MaxFragments 16: a message in 16 frames is echoed", fragLim, func(b *builder) {
		b.fragments(opBinary, binPayload(160, 9711), 10)
		b.closeNormal()
	})
	limit("9.7.12", "MaxFragments 16: a message in 17 frames: 1009", fragLim, func(b *builder) {
		b.echo(opText, hello)
		b.sendFragments(opBinary, 0, binPayload(170, 9712), 10)
		b.wantFail(1009)
	})
	limit("9.7.13", "MaxFragments 16: 17 empty fragments: 1009", fragLim, func(b *builder) {
		b.frame(false, 0, opText, nil)
		for range 15 {
			b.frame(false, 0, opCont, nil)
		}
		b.frame(true, 0, opCont, nil)
		b.wantFail(1009)
	})
	return cs
}
