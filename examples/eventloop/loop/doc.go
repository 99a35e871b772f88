// Package loop serves WebSocket connections from epoll event loops with
// wsmem's push API, through golang.org/x/sys/unix and nothing else: no
// goroutine and no net.Conn per connection.
//
// One loop runs per core (Config.Loops). Each owns an epoll instance, and
// all of them watch the one listening socket (EPOLLEXCLUSIVE, so that a
// new connection wakes one loop): the loop that accepts a connection owns
// it for its lifetime. Sockets are non-blocking and level-triggered.
//
// # What a connection costs
//
// A connection is one slot of its loop's slab (see conn): the
// wsmem.Storage (whose Conn is Storage.Conn), the socket, a state byte and
// a slice of output the socket did not take yet, nil while there is none.
// Slots are allocated by chunks and reused through a free list threaded
// through the free slots themselves. The loop lends its one read buffer to
// every read (Feed parses and unmasks in place there) and collects what
// Feed answers in its one output buffer; only output the socket refuses is
// copied into the connection's own slice, and EPOLLOUT is requested only
// while such output is pending.
//
// # Protocols
//
// The HTTP upgrade request is fed to Feed like everything else. Its target
// chooses the protocol: /echo sends every message back (Conn.Send from the
// Handler appends to Feed's output), /chat broadcasts every text message
// to every chat connection of every loop, framed once (see broadcast).
// Each loop's copy of the wsmem.Config routes in CheckTarget, which Feed
// calls while answering the upgrade of the connection being fed: it turns
// /echo or /chat into the slot's state byte and refuses any other target
// with 404. The target is not kept (no Buffers.Names), and the state byte
// fits in the padding after the socket's int32: routing costs no memory
// per connection.
//
// # Backpressure
//
// wsmem's Config.MaxQueued is the outbound budget (1 MiB unless set). Each
// send is handed the connection's pending output when it has some, so the
// codec sees the real queue and refuses with ErrRefused a send that would
// take it past the budget; the loop then drops the connection (slow, in
// budget.go).
package loop
