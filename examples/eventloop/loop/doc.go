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
// wsmem.Storage, the *wsmem.Conn that lives in it, the socket and a slice
// of output the socket did not take yet, nil while there is none. Slots are
// allocated by chunks and reused through a free list threaded through the
// free slots themselves. The loop lends its one read buffer to every read
// (Feed parses and unmasks in place there) and collects what Feed answers
// in its one output buffer; only output the socket refuses is copied into
// the connection's own slice, and EPOLLOUT is requested only while such
// output is pending.
//
// # Protocols
//
// The HTTP upgrade request is fed to Feed like everything else. Its target
// chooses the protocol: /echo sends every message back, /chat broadcasts
// every text message to every chat connection of every loop, framed once
// (see broadcast). Any other target is closed with 1008 after the upgrade.
//
// wsmem keeps a handshake's Resource and Host in Buffers.Names, given with
// Storage.SetBuffers. Every connection of a loop is given the loop's
// one name buffer: the target is read in the Feed call that completes the
// handshake (before any other connection of the loop can complete its own
// and overwrite the buffer), turned into one byte of state, and never read
// again. That byte fits in the padding after the socket's int32, so
// routing costs no memory per connection.
//
// # What the push API lacks (worked around here)
//
//   - A Handler cannot call AppendSend on the connection being fed: Feed
//     keeps its output inside the Conn, and AppendSend replaces it, so what
//     Feed had appended (a pong, the 101 response) is lost. The echo calls
//     Conn.Send instead, which in push mode appends to Feed's output; that
//     works but is not documented.
//   - There is no AppendPrepared: SendPrepared on a push connection outside
//     Feed writes to an output nobody can read. broadcast takes the frame
//     out of the PreparedMessage through a blocking Conn whose net.Conn
//     keeps what is written (see frames), and appends it to each chat
//     connection itself, so it also checks their state itself.
//   - There is no Storage→Conn accessor: each slot keeps the *wsmem.Conn
//     NewPushServer returned (8 bytes).
//   - No hook refuses an upgrade by its target (a 404): unknown targets are
//     upgraded, then closed with 1008.
//   - A dropped push connection keeps the pooled buffers it was using (a
//     message split across reads) until its Storage is attached again:
//     Close sends a close frame into an output nobody reads, and nothing
//     else releases them.
//   - No outbound budget yet: overBudget caps pending output here.
package loop
