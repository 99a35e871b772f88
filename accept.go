package wsmem

import "crypto/sha1"

// acceptKey returns the Sec-WebSocket-Accept value for key, a
// Sec-WebSocket-Key that validKey accepted: the base64 of the SHA-1 of the
// key followed by the RFC 6455 GUID. It allocates nothing.
//
// Cost: the two SHA-1 blocks (with SHA-NI on amd64, see accept_amd64.s)
// and 28 table lookups.
func acceptKey(key *[24]byte) [28]byte {
	var sum [20]byte
	acceptSum(key, &sum)
	return encodeAccept(&sum)
}

// acceptSumGeneric sets sum to the SHA-1 of key followed by the GUID, with
// crypto/sha1: the portable twin of sha1Accept and the reference the tests
// compare it with.
func acceptSumGeneric(key *[24]byte, sum *[20]byte) {
	var in [24 + len(acceptGUID)]byte
	copy(in[:24], key[:])
	copy(in[24:], acceptGUID)
	*sum = sha1.Sum(in[:])
}

// base64Alphabet is the standard base64 alphabet (RFC 4648 section 4).
const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// encodeAccept returns the standard base64 of sum: 27 characters and one
// '=' of padding. It is base64.StdEncoding.Encode without the generality.
func encodeAccept(sum *[20]byte) [28]byte {
	var out [28]byte
	for i := range 6 {
		v := uint(sum[3*i])<<16 | uint(sum[3*i+1])<<8 | uint(sum[3*i+2])
		out[4*i] = base64Alphabet[v>>18&0x3f]
		out[4*i+1] = base64Alphabet[v>>12&0x3f]
		out[4*i+2] = base64Alphabet[v>>6&0x3f]
		out[4*i+3] = base64Alphabet[v&0x3f]
	}
	v := uint(sum[18])<<16 | uint(sum[19])<<8
	out[24] = base64Alphabet[v>>18&0x3f]
	out[25] = base64Alphabet[v>>12&0x3f]
	out[26] = base64Alphabet[v>>6&0x3f]
	out[27] = '='
	return out
}
