package loadtest

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// snapshot is what a run must give back: goroutines and live heap.
type snapshot struct {
	goroutines int
	heap       uint64 // HeapAlloc after two collections
}

// takeSnapshot collects garbage twice (sync.Pools keep their contents for
// one collection, in the victim cache) and reads the goroutine count and
// the live heap.
func takeSnapshot() snapshot {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return snapshot{goroutines: runtime.NumGoroutine(), heap: ms.HeapAlloc}
}

// settle polls, for up to d, until the goroutine count is back at
// baseline's, then takes a snapshot. Goroutines end a little after the
// calls that waited for them return (a WaitGroup's Done runs before the
// goroutine exits), hence the polling.
func settle(baseline snapshot, d time.Duration) snapshot {
	end := time.Now().Add(d)
	for runtime.NumGoroutine() > baseline.goroutines && time.Now().Before(end) {
		time.Sleep(10 * time.Millisecond)
	}
	return takeSnapshot()
}

// goroutineDump returns every goroutine's stack, identical stacks grouped
// with their count, most common first.
func goroutineDump() string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

// startWatchdog makes the test binary fail after d with a goroutine dump,
// whatever the test is blocked in. Stop the timer to disarm it.
func startWatchdog(d time.Duration) *time.Timer {
	return time.AfterFunc(d, func() {
		fmt.Fprintf(os.Stderr, "loadtest: overall deadline of %v exceeded; goroutines:\n%s", d, goroutineDump())
		panic(fmt.Sprintf("loadtest: overall deadline of %v exceeded", d))
	})
}
