package loadtest

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/wsmem/wsmem"
)

// classify names the kind of err, for the counts by kind and for the
// checks of what each fault must end with.
func classify(err error) string {
	var ce *wsmem.CloseError
	var pe *wsmem.ProtocolError
	var he *wsmem.HandshakeError
	switch {
	case err == nil:
		return "none"
	case errors.As(err, &ce): // before ErrClosed, which a CloseError matches
		return "close-" + strconv.Itoa(int(ce.Code))
	case errors.As(err, &pe):
		return "protocol-" + strconv.Itoa(int(pe.Code))
	case errors.As(err, &he):
		return "handshake-" + strconv.Itoa(he.Status)
	case errors.Is(err, wsmem.ErrQueued): // before the timeout it also matches
		return "timeout-queued"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, wsmem.ErrClosed):
		return "closed"
	case errors.Is(err, net.ErrClosed):
		return "net-closed"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected-eof"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken-pipe"
	}
	return "other"
}

// maxFailures is how many failure messages a run keeps (all are counted).
const maxFailures = 20

// stats gathers a run's counts and failures. It is safe for concurrent use;
// the hot paths add their counts once per connection.
type stats struct {
	mu       sync.Mutex
	counts   map[string]int64 // "group/name" → count
	failures []string
	failed   int
}

func newStats() *stats { return &stats{counts: make(map[string]int64)} }

// add adds n to the count of name in group.
func (s *stats) add(group, name string, n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.counts[group+"/"+name] += n
	s.mu.Unlock()
}

// err counts err by its kind in group, and keeps the text of kinds that
// have no name.
func (s *stats) err(group string, err error) {
	kind := classify(err)
	s.add("errors: "+group, kind, 1)
	if kind == "other" {
		s.failf("%s: unclassified error: %v", group, err)
	}
}

// failf records a failure: the run fails, showing the first maxFailures.
func (s *stats) failf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
	if len(s.failures) < maxFailures {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// group returns the counts of group by name.
func (s *stats) group(group string) map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64)
	for k, v := range s.counts {
		if g, name, _ := strings.Cut(k, "/"); g == group {
			out[name] = v
		}
	}
	return out
}

// report writes every group, sorted, one line each: "group: a=1 b=2".
func (s *stats) report(w func(string)) {
	s.mu.Lock()
	byGroup := make(map[string][]string)
	for k, v := range s.counts {
		g, name, _ := strings.Cut(k, "/")
		byGroup[g] = append(byGroup[g], name+"="+strconv.FormatInt(v, 10))
	}
	s.mu.Unlock()
	for _, g := range slices.Sorted(maps.Keys(byGroup)) {
		slices.Sort(byGroup[g])
		w(fmt.Sprintf("  %-30s %s", g+":", strings.Join(byGroup[g], " ")))
	}
}
