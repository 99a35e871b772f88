package wsmem

import (
	"math/rand/v2"
	"strings"
	"sync"
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
	b.Run("f=handshakeDeadline", func(b *testing.B) {
		for b.Loop() {
			sink = handshakeDeadline(10 * time.Second)
		}
	})
	b.Run("f=timeNowAdd", func(b *testing.B) {
		for b.Loop() {
			sink = time.Now().Add(10 * time.Second)
		}
	})
	_ = sink
}

// TestHandshakeDeadline checks the coarse clock: a deadline from it is never
// later than the exact one, is exact when the clock was idle (its timer
// stopped), keeps up within a few ticks while read, and the timer stops
// once nobody reads.
func TestHandshakeDeadline(t *testing.T) {
	const d = 10 * time.Second
	waitStopped := func() {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); coarse.running.Load(); {
			if time.Now().After(end) {
				t.Fatal("the coarse clock's timer still runs 5 s after its last reader")
			}
			time.Sleep(coarseTick)
		}
	}
	waitStopped()
	time.Sleep(20 * coarseTick) // let the stopped clock fall behind
	before := time.Now().Add(d)
	got := handshakeDeadline(d)
	after := time.Now().Add(d)
	if got.Before(before) || got.After(after) {
		t.Fatalf("first deadline after idling %v, not between %v and %v", got, before, after)
	}
	if !coarse.running.Load() {
		t.Fatal("reading the idle clock did not start its timer")
	}
	// Read it without pause for 100 ms, so that the timer keeps running:
	// never later than exact, and mostly within 20 ticks of exact (a
	// loaded machine may run the timer late now and then, so the test
	// counts rather than requiring every read).
	fresh, reads := 0, 0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; reads++ {
		got := handshakeDeadline(d)
		exact := time.Now().Add(d)
		if got.After(exact) {
			t.Fatalf("deadline %v later than the exact %v", got, exact)
		}
		if exact.Sub(got) <= 20*coarseTick {
			fresh++
		}
	}
	if fresh < reads/2 {
		t.Fatalf("only %d of %d reads within 20 ticks of the clock: the coarse clock does not keep up", fresh, reads)
	}
	waitStopped()
	// Short timeouts are exact.
	before = time.Now().Add(50 * time.Millisecond)
	got = handshakeDeadline(50 * time.Millisecond)
	after = time.Now().Add(50 * time.Millisecond)
	if got.Before(before) || got.After(after) {
		t.Fatalf("short deadline %v, not between %v and %v", got, before, after)
	}
}

// TestHandshakeDeadlineConcurrent reads the coarse clock from several
// goroutines while its timer starts and stops (for the race detector), and
// checks that no reader sees it go back.
func TestHandshakeDeadlineConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last time.Duration
			for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
				s := coarseSince()
				if s < last {
					t.Errorf("coarse clock went back from %v to %v", last, s)
					return
				}
				last = s
				if rand.IntN(64) == 0 {
					time.Sleep(3 * coarseTick) // let the timer stop now and then
				}
			}
		}()
	}
	wg.Wait()
}

func TestHandshakeDeadlineAllocs(t *testing.T) {
	handshakeDeadline(10 * time.Second)
	if n := testing.AllocsPerRun(1000, func() { handshakeDeadline(10 * time.Second) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
