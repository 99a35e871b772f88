// Package loadtest holds wsmem's load and fault test (issue #7, point 4).
// It has no code outside its tests.
//
// TestLoad starts a wsmem echo server on loopback TCP and connects many
// wsmem clients to it, in four compression modes (none, permessage-deflate
// with context takeover, without it, and with small windows). Each client
// sends messages of random sizes (0 to 256 KiB, most of them small), types
// (valid UTF-8 text or binary) and framings (Send, SendL, NextWriter in
// random fragments) for a fixed time, paced (1,000 messages a second among
// them by default, so that the process keeps idle time on a shared
// machine), and checks every echo in order. Each
// message carries its connection id, sequence number, type, length and a
// CRC-32, checked by the server on the way in and by the client on the way
// back: not one accepted message may be lost, reordered or corrupted.
//
// Faults run among them all the time: raw clients that break off in the
// middle of a frame or of the handshake, or stall in the handshake, or send
// invalid frames; wsmem clients that close their socket in the middle of a
// message; slow readers; and peers that never read, which the server floods
// under a write deadline until it fails with a timeout (ErrQueued when it
// expires inside a frame) — some of them start reading afterwards and must
// receive every message the server accepted. Each faulty connection must
// end with the error its fault calls for, in bounded time, and no healthy
// connection may notice. Afterwards the goroutine count and the live heap
// must be back at their baselines.
//
// The default size runs under plain go test and go test -race in seconds:
//
//	go test ./loadtest
//
// The full size (5,000 connections for a minute) runs with
//
//	make load                          # CONNS=5000 DURATION=60s
//	WSMEM_LOAD=full go test -v -run '^TestLoad$' ./loadtest
//	go test -v -run '^TestLoad$' ./loadtest -load.conns 5000 -load.duration 60s
//
// and prints a summary: connections, messages, bytes, faults injected and
// errors by kind, duration, goroutines and heap before and after.
package loadtest
