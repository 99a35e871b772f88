package loop

import (
	"errors"

	"github.com/wsmem/wsmem"
)

// The outbound budget is wsmem's: Config.WS.MaxQueued bounds what a
// connection keeps for a slow peer. The loop hands each send the
// connection's pending output (or, when there is none, the loop's empty
// output buffer), so the codec sees the real queue and refuses a send
// that would take it past the budget; a message is always taken into an
// empty queue.

// defaultMaxQueued is the budget when Config.WS does not set one.
const defaultMaxQueued = 1 << 20

// slow reports whether err is a send refused for the budget: the loop then
// drops the connection at once, without waiting for its queue to drain.
func slow(err error) bool { return errors.Is(err, wsmem.ErrRefused) }
