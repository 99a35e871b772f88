// Package interop holds wsmem's interoperability tests: wsmem against
// gorilla/websocket, coder/websocket, gobwas/ws and lxzan/gws in-process,
// against Node's ws and Python's websockets in child processes, and against
// headless Chromium, in both directions where the peer can be a server.
//
// Every connection goes through a loopback relay (internal/wiretap) that
// reads the frames as they pass, so each test checks three views: what wsmem
// received, what the peer received, and what was on the wire (RSV1 on
// compressed messages, continuation frames on fragmented ones, close codes).
//
// Run everything with interop/run.sh; `go test ./...` in this directory runs
// the same tests, skipping the Node, Python and Chromium ones whose tools are
// missing unless WSMEM_INTEROP_STRICT=1.
package interop
