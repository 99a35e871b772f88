// Package conformance holds the RFC 6455 / RFC 7692 conformance suite of
// wsmem. It has no code outside its tests: run it with
//
//	go test -v ./conformance
//
// The suite plays a raw peer with its own frame builder, frame parser and
// DEFLATE decoder, against a wsmem echo endpoint, as a client (wsmem is the
// server) and as a server (wsmem is the client), over loopback TCP and
// net.Pipe, writing each case's frames whole and byte by byte. It prints a
// table per case group and ends with one line "N passed, M failed".
package conformance
