// Package proof makes and checks the provider's keyed proofs: HMAC-SHA256
// with a key only the provider holds. Whoever may edit an EventStream may
// write all of it, its status included (Crossplane's crossplane-edit role
// grants every verb on the status subresource), so what the provider
// records there as authority for a DELETE, a PATCH or an adoption carries a
// proof a tenant cannot make, nor copy to another resource, tenant or
// stream: the fields it binds are part of what is signed.
package proof

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the length of a key in bytes.
const KeySize = 32

// domain separates these proofs from any other use of the key.
const domain = "auth0.m.openmcf.org/proof/v1"

// Key signs and checks proofs. The zero Key signs nothing and checks
// nothing: every Verify is false.
type Key struct {
	k []byte
}

// NewKey returns a key of exactly KeySize bytes.
func NewKey(b []byte) (Key, error) {
	if len(b) != KeySize {
		return Key{}, fmt.Errorf("a proof key is %d bytes, not %d", KeySize, len(b))
	}
	return Key{k: append([]byte(nil), b...)}, nil
}

// IsZero is true for a Key that holds no key.
func (k Key) IsZero() bool { return len(k.k) == 0 }

// String never prints the key.
func (k Key) String() string { return "proof.Key{redacted}" }

// GoString hides the key from %#v too.
func (k Key) GoString() string { return k.String() }

var errZero = errors.New("no proof key")

// Sign returns the proof of kind over fields, in URL-safe base64.
func (k Key) Sign(kind string, fields ...string) string {
	if k.IsZero() {
		panic(errZero)
	}
	return base64.RawURLEncoding.EncodeToString(k.mac(kind, fields))
}

// Verify is true when proof is the proof of kind over fields.
func (k Key) Verify(proof, kind string, fields ...string) bool {
	if k.IsZero() || proof == "" {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(proof)
	if err != nil {
		return false
	}
	return hmac.Equal(got, k.mac(kind, fields))
}

// mac length-prefixes kind and every field, so no two lists of fields sign
// the same bytes ("ab","c" and "a","bc" differ).
func (k Key) mac(kind string, fields []string) []byte {
	h := hmac.New(sha256.New, k.k)
	var n [binary.MaxVarintLen64]byte
	for _, f := range append([]string{domain, kind}, fields...) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}
