package main

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"

	"google.golang.org/protobuf/types/known/structpb"
)

// specKey is the spec cache's key: a SHA-256 of a canonical encoding of the
// spec as the request carries it. Each value is tagged with its kind and
// strings and collections are length-prefixed, so distinct specs encode
// distinctly; object keys are sorted. Deterministic proto.Marshal gave the
// same guarantee at several times the cost.
func specKey(v *structpb.Value) [sha256.Size]byte {
	var buf [2048]byte
	return sha256.Sum256(appendCanonical(buf[:0], v))
}

func appendCanonical(b []byte, v *structpb.Value) []byte {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		return append(b, 'n')
	case *structpb.Value_BoolValue:
		if k.BoolValue {
			return append(b, 't')
		}
		return append(b, 'f')
	case *structpb.Value_NumberValue:
		return binary.LittleEndian.AppendUint64(append(b, 'd'), math.Float64bits(k.NumberValue))
	case *structpb.Value_StringValue:
		return appendString(append(b, 's'), k.StringValue)
	case *structpb.Value_ListValue:
		vs := k.ListValue.GetValues()
		b = binary.AppendUvarint(append(b, 'l'), uint64(len(vs)))
		for _, e := range vs {
			b = appendCanonical(b, e)
		}
		return b
	case *structpb.Value_StructValue:
		fs := k.StructValue.GetFields()
		var arr [16]string
		keys := arr[:0]
		for key := range fs {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(append(b, 'o'), uint64(len(keys)))
		for _, key := range keys {
			b = appendCanonical(appendString(b, key), fs[key])
		}
		return b
	default:
		// A Value with no kind set.
		return append(b, 'u')
	}
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}
