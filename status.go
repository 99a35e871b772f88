package wsmem

// StatusCode is a close code (RFC 6455 §7.4).
type StatusCode uint16

// The close codes RFC 6455 and the IANA registry define.
const (
	StatusNormal             StatusCode = 1000
	StatusGoingAway          StatusCode = 1001
	StatusProtocolError      StatusCode = 1002
	StatusUnsupportedData    StatusCode = 1003
	StatusNoStatus           StatusCode = 1005 // never sent: the close had no code
	StatusAbnormal           StatusCode = 1006 // never sent: dropped without a close
	StatusInvalidPayload     StatusCode = 1007
	StatusPolicyViolation    StatusCode = 1008
	StatusMessageTooBig      StatusCode = 1009
	StatusMandatoryExtension StatusCode = 1010
	StatusInternalError      StatusCode = 1011
	StatusServiceRestart     StatusCode = 1012
	StatusTryAgainLater      StatusCode = 1013
	StatusBadGateway         StatusCode = 1014
	StatusTLSHandshake       StatusCode = 1015 // never sent
)

// validOnWire reports whether code may appear in a close frame: 1000–1003,
// 1007–1014 and 3000–4999.
func (code StatusCode) validOnWire() bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
