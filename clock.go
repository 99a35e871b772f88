package wsmem

import (
	"sync/atomic"
	"time"
)

// clockBase is a reading of the clock, with its monotonic part, taken once
// when the package starts; deadlineAfter measures from it.
var clockBase = time.Now()

// deadlineAfter returns the time d from now, for a net.Conn deadline. It
// reads one clock, the monotonic one (time.Since), where time.Now().Add(d)
// reads two (the wall clock too): about half the cost, 20-25 ns less on
// this project's machine (BenchmarkDeadlineAfter). The result's monotonic
// reading is exact, and it is what the standard library's deadlines
// (net, net.Pipe, crypto/tls through its connection) measure with. Its
// wall-clock reading is clockBase's plus the monotonic time elapsed, so it
// does not follow steps of the wall clock made since the process started;
// only a net.Conn that drops the monotonic reading and compares wall
// clocks would see that difference.
func deadlineAfter(d time.Duration) time.Time {
	return clockBase.Add(time.Since(clockBase) + d)
}

// coarseTick is how often the coarse clock behind handshakeDeadline and
// the heartbeat's deadline is refreshed while it is read.
const coarseTick = time.Millisecond

// coarseMinWait is the shortest timeout whose deadline comes from the
// coarse clock; shorter ones get deadlineAfter's exact deadline, since a
// tick would be more than 1% of them.
const coarseMinWait = 100 * coarseTick

// coarse is a clock that handshakes and heartbeats read without reading the
// system clock: the monotonic time since clockBase, stored by a timer every
// coarseTick while it is being read. A tick that finds no reader since the one
// before stops the timer; the next reader reads the system clock and starts it
// again. So a server accepting connections steadily reads one atomic per
// handshake instead of the clock (about 20-30 ns on this project's machine),
// and an idle one runs no timer.
var coarse struct {
	since   atomic.Int64 // time.Since(clockBase) at the last refresh, in ns
	used    atomic.Bool  // read since the last tick
	running atomic.Bool  // the timer is armed or its tick is running
	timer   *time.Timer
}

func init() {
	coarse.timer = time.AfterFunc(time.Hour, coarseTickFunc)
	coarse.timer.Stop()
}

// coarseTickFunc refreshes the coarse clock and keeps the timer going while
// the clock has readers.
func coarseTickFunc() {
	coarseStore(time.Since(clockBase))
	if coarse.used.Swap(false) {
		coarse.timer.Reset(coarseTick)
		return
	}
	coarse.running.Store(false)
}

// coarseStore raises the coarse clock to t (it never goes back: a reader
// that read the clock and was then descheduled must not store an old time).
func coarseStore(t time.Duration) {
	for {
		old := coarse.since.Load()
		if int64(t) <= old || coarse.since.CompareAndSwap(old, int64(t)) {
			return
		}
	}
}

// coarseSince returns the monotonic time since clockBase, at most about one
// coarseTick old (more only when the runtime runs timers late). It reads an
// atomic while the timer runs, else the clock, and starts the timer.
func coarseSince() time.Duration {
	if coarse.running.Load() {
		if !coarse.used.Load() {
			coarse.used.Store(true)
		}
		return time.Duration(coarse.since.Load())
	}
	now := time.Since(clockBase)
	coarseStore(now) // before running is set, so that readers never see an old time
	if coarse.running.CompareAndSwap(false, true) {
		coarse.timer.Reset(coarseTick)
	}
	return now
}

// handshakeDeadline returns a deadline d from now for an opening handshake,
// from the coarse clock: up to about a millisecond earlier than
// deadlineAfter(d) would be, which matters nothing against a handshake
// timeout of seconds. A timeout shorter than coarseMinWait gets the exact
// deadlineAfter.
func handshakeDeadline(d time.Duration) time.Time {
	if d < coarseMinWait {
		return deadlineAfter(d)
	}
	return clockBase.Add(coarseSince() + d)
}
