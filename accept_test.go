package wsmem

import (
	"crypto/sha1"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// refAccept is Sec-WebSocket-Accept computed the plain way.
func refAccept(key []byte) string {
	sum := sha1.Sum(append(append([]byte(nil), key...), acceptGUID...))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// acceptImpls runs f once per implementation of acceptValue this CPU has,
// named.
func acceptImpls(t *testing.T, f func(t *testing.T)) {
	t.Run("best", f)
	if acceptHasAsm() {
		defer setAcceptAsm(true)
		setAcceptAsm(false)
		t.Run("generic", f)
	}
}

// TestAcceptKey compares acceptKey with the plain computation for the RFC
// sample and for many random keys (every 24-byte input, valid key or not,
// hashes the same way), in every implementation.
func TestAcceptKey(t *testing.T) {
	t.Logf("assembly: %v", acceptHasAsm())
	acceptImpls(t, func(t *testing.T) {
		if got := acceptKey((*[24]byte)([]byte(rfcKey))); string(got[:]) != rfcAccept {
			t.Fatalf("acceptKey(%q) = %q, want %q", rfcKey, got[:], rfcAccept)
		}
		r := rand.New(rand.NewPCG(5, 6))
		var key [24]byte
		var nonce [16]byte
		for i := range 100000 {
			if i%2 == 0 {
				for k := range nonce {
					nonce[k] = byte(r.Uint32())
				}
				base64.StdEncoding.Encode(key[:], nonce[:])
			} else {
				for k := range key {
					key[k] = byte(r.Uint32())
				}
			}
			if got, want := acceptKey(&key), refAccept(key[:]); string(got[:]) != want {
				t.Fatalf("acceptKey(%q) = %q, want %q", key[:], got[:], want)
			}
		}
	})
}

// TestEncodeAccept compares the fixed-size base64 encoder with the
// standard one on random digests.
func TestEncodeAccept(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var sum [20]byte
	for range 10000 {
		for k := range sum {
			sum[k] = byte(r.Uint32())
		}
		if got, want := encodeAccept(&sum), base64.StdEncoding.EncodeToString(sum[:]); string(got[:]) != want {
			t.Fatalf("encodeAccept(%x) = %q, want %q", sum, got[:], want)
		}
	}
}

func BenchmarkAcceptKey(b *testing.B) {
	key := (*[24]byte)([]byte(rfcKey))
	var sink [28]byte
	for b.Loop() {
		sink = acceptKey(key)
	}
	_ = sink
}

func BenchmarkAcceptKeyGeneric(b *testing.B) {
	defer setAcceptAsm(true)
	setAcceptAsm(false)
	key := (*[24]byte)([]byte(rfcKey))
	var sink [28]byte
	for b.Loop() {
		sink = acceptKey(key)
	}
	_ = sink
}
