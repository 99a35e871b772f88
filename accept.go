package wsmem

import "crypto/sha1"

// acceptKey returns the Sec-WebSocket-Accept value for key, a
// Sec-WebSocket-Key that validKey accepted: the base64 of the SHA-1 of the
// key followed by the RFC 6455 GUID. It allocates nothing.
//
// Cost: see acceptValue.
func acceptKey(key *[24]byte) [28]byte {
	var out [28]byte
	acceptValue(key, &out)
	return out
}

// acceptValueGeneric sets out to the accept value for key with crypto/sha1
// and encodeAccept: the portable twin of acceptValueAsm.
func acceptValueGeneric(key *[24]byte, out *[28]byte) {
	var in [24 + len(acceptGUID)]byte
	copy(in[:24], key[:])
	copy(in[24:], acceptGUID)
	sum := sha1.Sum(in[:])
	*out = encodeAccept(&sum)
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
