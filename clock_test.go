package wsmem

import (
	"strings"
	"testing"
	"time"
)

// TestDeadlineAfter checks that deadlineAfter's result lies between
// time.Now().Add(d) read before and after it, on both the monotonic and the
// wall clock (which have not been stepped during the test), and that it
// carries a monotonic reading.
func TestDeadlineAfter(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 1500 * time.Millisecond, 10 * time.Second, -time.Second} {
		before := time.Now().Add(d)
		got := deadlineAfter(d)
		after := time.Now().Add(d)
		if got.Before(before) || got.After(after) {
			t.Errorf("deadlineAfter(%v) = %v, not between %v and %v", d, got, before, after)
		}
		// The wall readings alone (Round(0) drops the monotonic one) may
		// differ by what the wall clock was stepped since the process
		// started: nothing, in a test run.
		if w := got.Round(0); w.Before(before.Round(0).Add(-time.Millisecond)) || w.After(after.Round(0).Add(time.Millisecond)) {
			t.Errorf("deadlineAfter(%v)'s wall clock %v is not between %v and %v", d, w, before.Round(0), after.Round(0))
		}
		if !strings.Contains(got.String(), "m=") {
			t.Errorf("deadlineAfter(%v) = %v has no monotonic reading", d, got)
		}
	}
}

// BenchmarkDeadlineAfter compares deadlineAfter with time.Now().Add, which
// the handshake, close and heartbeat deadlines used before.
func BenchmarkDeadlineAfter(b *testing.B) {
	var sink time.Time
	b.Run("f=deadlineAfter", func(b *testing.B) {
		for b.Loop() {
			sink = deadlineAfter(10 * time.Second)
		}
	})
	b.Run("f=timeNowAdd", func(b *testing.B) {
		for b.Loop() {
			sink = time.Now().Add(10 * time.Second)
		}
	})
	_ = sink
}
