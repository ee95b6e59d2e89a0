package main

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

// TestSpecKey: equal specs share a key whatever the order of their fields;
// specs that differ anywhere, even where a naive concatenation would not
// tell them apart, do not.
func TestSpecKey(t *testing.T) {
	value := func(j string) *structpb.Value {
		t.Helper()
		v := &structpb.Value{}
		if err := v.UnmarshalJSON([]byte(j)); err != nil {
			t.Fatal(err)
		}
		return v
	}
	same := [][2]string{
		{`{"a":1,"b":{"c":["x","y"],"d":null}}`, `{"b":{"d":null,"c":["x","y"]},"a":1}`},
	}
	for _, p := range same {
		if specKey(value(p[0])) != specKey(value(p[1])) {
			t.Errorf("%s and %s: different keys", p[0], p[1])
		}
	}
	distinct := []string{
		`{}`, `[]`, `null`, `""`, `0`, `-0`, `false`, `true`, `"0"`, `"false"`,
		`{"a":"bc"}`, `{"ab":"c"}`, `{"a":{"b":"c"}}`, `{"a":["b","c"]}`, `{"a":["bc"]}`, `{"a":[["b"],"c"]}`,
		`{"a":"b","c":"d"}`, `{"a":"b","c":""}`, `{"a":"b"}`, `{"a":"b","c":null}`,
		`{"token":"secret-1"}`, `{"token":"secret-2"}`, `{"n":1}`, `{"n":1.5}`, `{"n":"1"}`,
	}
	seen := map[[32]byte]string{}
	for _, j := range distinct {
		k := specKey(value(j))
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s: the same key", j, other)
		}
		seen[k] = j
	}
}
