// Package wsmem is a WebSocket codec (RFC 6455, RFC 7692) in which the
// caller supplies the memory, for servers and clients that hold hundreds of
// thousands of connections and move millions of messages a second.
//
// # Memory
//
// Each connection lives in a [Storage] of at most 512 bytes: the [Conn]
// itself, header scratch, a 136-byte read area and the peer's close
// reason. Its zero value is ready, so make([]Storage, n) serves n
// connections. A Storage holds no pointer to memory the library allocated
// for that connection.
//
// Larger buffers, and room for the handshake's resource and host, are the
// caller's when it hands them in ([Storage.SetBuffers] with [Buffers]),
// else buffers are borrowed from a pool only while bytes are in flight:
//
//   - A connection waiting for its next message holds no pooled buffer.
//     [Conn.Recv], [Conn.RecvL] and [MessageReader.Read] read straight into
//     the caller's buffer: the frame header is parsed where it landed and
//     the payload is unmasked while it is moved into place, in one pass.
//     [Conn.Next] and [Conn.Serve] read into the Storage's area first and
//     borrow a read buffer only when a frame does not fit there or the
//     stream stays busy; the buffer goes back as soon as it is drained.
//   - A server sends the header from the Storage and the caller's payload
//     as they are, with one vectored write; a payload of up to 127 KiB that
//     starts within about 1 KiB after a 4 KiB boundary is copied after the
//     header into a pooled buffer instead, because the kernel's copy of it
//     would often be about 20 times slower on AMD Zen 3 (REP MOVSB a few
//     bytes past its source modulo 4 KiB). A client masks the payload
//     while copying it into a borrowed write buffer: the caller's bytes are
//     read once and never modified.
//   - After the attach call, receiving (every API), sending, ping, pong,
//     close and the opening handshake itself allocate nothing; tests assert
//     it with testing.AllocsPerRun.
//
// # Event loops
//
// [NewPushServer] and [NewPushClient] make connections that an event loop
// drives: [Conn.Feed] takes the bytes the loop read (the opening handshake
// included: a client starts with [Conn.AppendUpgrade]), calls the
// [Handler], and appends what the protocol must answer to the loop's
// output buffer; [Conn.AppendSend] and [Conn.AppendPrepared] frame the
// application's messages into the same buffer, and a Handler's Send during
// Feed appends to Feed's output. [Config.CheckTarget] routes a request
// before the upgrade, and [Storage.Conn] finds a slot's connection. No
// goroutine per connection, no blocking; examples/eventloop runs it on
// epoll.
// The same parser checks frames for both modes, and a fuzz target holds
// Feed to the blocking API's results on any stream split at any points.
//
// # Backpressure
//
// Each connection has an outbound byte budget, [Config.MaxQueued]: the
// bytes it may keep for a slow peer (in push mode the output the loop has
// not written yet, in blocking mode what a write deadline left unsent). A
// send answers nil (sent), an error matching [ErrQueued] (accepted; part
// of it waits in the queue) or [ErrRefused] (nothing of it was kept), and
// never allocates to say so. [Config.DropSlow] closes a connection whose
// send was refused. Pongs are dropped past the budget; close frames always
// go out.
//
// # Lifetimes
//
// A slice the package lends is valid until the call named in its doc
// comment: the view [Conn.Next] returns until the next receive call, the
// data a [Handler] is given until the callback returns, [Conn.Resource],
// [Conn.Host] and [Conn.Status]'s reason until the Storage is reused.
//
// # Concurrency
//
// Any number of goroutines may send at once: a message, and each frame,
// goes out whole, and control frames (the automatic pong, close) may pass
// between the frames of a streamed message. One goroutine at a time may
// receive. [Conn.Close] may be called from anywhere; blocked calls return
// [ErrClosed].
//
// # Deadlines
//
// [Conn.SetReadDeadline] and [Conn.SetWriteDeadline] do not break the
// connection. A read deadline that expires inside a message returns an
// error matching os.ErrDeadlineExceeded, and the next receive call resumes
// at the exact byte. A write deadline that expires before a frame's first
// byte sent nothing; one that expires inside a frame returns an error
// matching both os.ErrDeadlineExceeded and [ErrQueued]: the message was
// accepted and the rest of the frame goes out first on the next send or
// [Conn.Flush].
//
// # Errors
//
// Violations by the peer are pre-built [*ProtocolError] values carrying the
// close code that was sent (1002, 1003, 1007, 1009); they match
// [ErrProtocol], [ErrInvalidUTF8] or [ErrMessageTooBig] with errors.Is. A
// peer's close is a [*CloseError] that lives in the Storage. A refused
// opening handshake is a [*HandshakeError] with the HTTP status answered.
// Nothing the peer sends makes the codec panic, hang or grow memory beyond
// the limits of [Config].
//
// # From libdill and Barracuda
//
// The API follows libdill's ws_* calls and Barracuda's WebSocket server:
//
//	ws_attach_server_mem / ws_attach_client_mem   AttachServer, AttachClient (with a Storage)
//	ws_attach_server / ws_attach_client           the same with a nil Storage
//	WS_TEXT, WS_BINARY, WS_NOHTTP                 Text, Binary, NoHTTP
//	msend / mrecv (typed socket; EPROTO)          SendMsg, RecvMsg (ErrProtocol, close 1003)
//	ws_send / ws_recv                             Send, Recv
//	ws_sendl / ws_recvl                           SendL, RecvL
//	ws_done                                       Done
//	ws_detach                                     Detach
//	ws_status                                     Status
//	ws_request_key / ws_response_key              RequestKey, ResponseKey
//	per-call deadlines                            SetDeadline, SetReadDeadline, SetWriteDeadline
//	WSS::upgrade                                  Upgrade
//	WSSCB frame / ping / close callbacks          Handler, Conn.Serve
//	write(data, len, isTxt), close(status)        Send, Close, Done
package wsmem
