package wsmem

import (
	"errors"
	"os"
	"strconv"
)

// The error categories. Every error the codec returns for a peer's
// violation matches one of them with errors.Is, and carries the close code
// that was sent for it (see [ProtocolError]). Returning any of these
// allocates nothing: they are package-level values.
var (
	// ErrProtocol matches every violation of RFC 6455 or RFC 7692 by the
	// peer, and a message whose type does not match a typed socket
	// (libdill's EPROTO).
	ErrProtocol = errors.New("wsmem: protocol error")
	// ErrInvalidUTF8 matches a text message or close reason that is not
	// valid UTF-8 (close code 1007). It also matches ErrProtocol.
	ErrInvalidUTF8 = errors.New("wsmem: invalid UTF-8")
	// ErrMessageTooBig matches a message or frame over the configured
	// limits (close code 1009; libdill's EMSGSIZE).
	ErrMessageTooBig = errors.New("wsmem: message too big")
	// ErrClosed is returned by calls made after the connection was closed,
	// and by sends after Done (libdill's EPIPE / EBADF).
	ErrClosed = errors.New("wsmem: connection closed")
	// ErrShortBuffer is returned by Recv, RecvMsg and RecvL when a message
	// does not fit in the caller's buffer: the buffer holds the first bytes,
	// the rest of the message was read, validated and discarded, and the
	// connection stays usable.
	ErrShortBuffer = errors.New("wsmem: message larger than the buffer; the rest was discarded")
	// ErrQueued is matched, together with os.ErrDeadlineExceeded, by the
	// error of a send whose write deadline expired inside a frame, or that
	// found bytes still waiting for a slow peer and queued behind them
	// within the budget (Config.MaxQueued): the message was accepted and its
	// unsent bytes go out first on the next send call or Flush. Do not send
	// it again.
	ErrQueued = errors.New("wsmem: write deadline expired; the rest of the frame is queued")
	// ErrRefused is returned by a send that the connection's outbound
	// budget (Config.MaxQueued) refused: the peer is slow and enough is
	// already waiting for it. Nothing of the message was sent or kept; the
	// connection stays usable unless Config.DropSlow closed it.
	ErrRefused = errors.New("wsmem: send refused: the peer is slow and the outbound queue is full")
	// ErrNotSupported is returned for a call the connection cannot serve,
	// such as SendL with a type other than Text or Binary (libdill's ENOTSUP).
	ErrNotSupported = errors.New("wsmem: not supported")
)

// ProtocolError is a violation found in what the peer sent. Code is the
// close code the connection sent before it was closed. Each violation is a
// pre-built package-level value, so returning one costs nothing.
type ProtocolError struct {
	Code   StatusCode
	Reason string
	kinds  [2]error
}

// Error returns the reason, prefixed with the package name.
func (e *ProtocolError) Error() string { return "wsmem: " + e.Reason }

// Is reports whether e belongs to the category target (ErrProtocol,
// ErrInvalidUTF8 or ErrMessageTooBig).
func (e *ProtocolError) Is(target error) bool {
	return target != nil && (target == e.kinds[0] || target == e.kinds[1])
}

func protocolError(reason string) *ProtocolError {
	return &ProtocolError{Code: StatusProtocolError, Reason: reason, kinds: [2]error{ErrProtocol}}
}

func utf8Error(reason string) *ProtocolError {
	return &ProtocolError{Code: StatusInvalidPayload, Reason: reason, kinds: [2]error{ErrProtocol, ErrInvalidUTF8}}
}

func tooBigError(reason string) *ProtocolError {
	return &ProtocolError{Code: StatusMessageTooBig, Reason: reason, kinds: [2]error{ErrMessageTooBig}}
}

// The violations. Each carries its close code.
var (
	errReservedBits      = protocolError("reserved bits set in a frame header")
	errReservedOpcode    = protocolError("reserved opcode")
	errControlTooLong    = protocolError("control frame payload longer than 125 bytes")
	errControlFragmented = protocolError("fragmented control frame")
	errLengthTopBit      = protocolError("64-bit payload length with the most significant bit set")
	errLengthNotMinimal  = protocolError("payload length not in its shortest encoding")
	errUnmaskedClient    = protocolError("unmasked frame from a client")
	errMaskedServer      = protocolError("masked frame from a server")
	errUnexpectedCont    = protocolError("continuation frame without a message to continue")
	errExpectedCont      = protocolError("new data message inside a fragmented message")
	errCompressedControl = protocolError("RSV1 set on a control or continuation frame")
	errCloseOneByte      = protocolError("close frame with a 1-byte payload")
	errCloseCode         = protocolError("close frame with an invalid status code")
	errWrongType         = &ProtocolError{Code: StatusUnsupportedData, Reason: "message type does not match the socket type", kinds: [2]error{ErrProtocol}}
	errBadDeflate        = protocolError("corrupt permessage-deflate data")

	errInvalidUTF8      = utf8Error("text message is not valid UTF-8")
	errInvalidUTF8Close = utf8Error("close reason is not valid UTF-8")

	errMessageTooBig  = tooBigError("message larger than Config.MaxMessageSize")
	errFrameTooBig    = tooBigError("frame larger than Config.MaxFrameSize")
	errTooManyFrags   = tooBigError("message in more fragments than Config.MaxFragments")
	errInflatedTooBig = tooBigError("decompressed message larger than Config.MaxMessageSize")
)

// CloseError is the peer's close frame, returned by receive calls once the
// peer closed the connection. It lives in the connection's Storage: Reason
// is valid until the Storage is reused for another connection.
type CloseError struct {
	Code   StatusCode
	Reason []byte
}

// Error describes the close. It allocates; the codec never calls it.
func (e *CloseError) Error() string {
	s := "wsmem: peer closed the connection: " + strconv.Itoa(int(e.Code))
	if len(e.Reason) > 0 {
		s += " " + strconv.Quote(string(e.Reason))
	}
	return s
}

// Is makes errors.Is(err, ErrClosed) true for a peer's close.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// queuedError is the error of a send that timed out inside a frame.
type queuedError struct{}

func (queuedError) Error() string   { return ErrQueued.Error() }
func (queuedError) Timeout() bool   { return true }
func (queuedError) Temporary() bool { return true }
func (queuedError) Is(target error) bool {
	return target == ErrQueued || target == os.ErrDeadlineExceeded
}

var errQueued error = queuedError{}

var errCloseCodeArg = errors.New("wsmem: close code not allowed on the wire")
