package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/types/known/structpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
)

// The composed resources go into the response as protobuf Structs written
// straight from the typed objects. The SDK's way, composed.From (JSON out
// and back into a map) then response.SetDesiredComposedResources (the map
// into a Struct, after decoding every other desired resource from the
// request and encoding it again), was half the cost of a call.

// setDesired puts the composed resource s under name into the response's
// desired resources, beside those of earlier pipeline steps, as
// response.SetDesiredComposedResources would.
func setDesired(rsp *fnv1.RunFunctionResponse, name resource.Name, s *structpb.Struct, ready resource.Ready) {
	if rsp.GetDesired() == nil {
		rsp.Desired = &fnv1.State{}
	}
	if rsp.GetDesired().GetResources() == nil {
		rsp.Desired.Resources = map[string]*fnv1.Resource{}
	}
	r := &fnv1.Resource{Resource: s}
	switch ready {
	case resource.ReadyTrue:
		r.Ready = fnv1.Ready_READY_TRUE
	case resource.ReadyFalse:
		r.Ready = fnv1.Ready_READY_FALSE
	case resource.ReadyUnspecified:
		r.Ready = fnv1.Ready_READY_UNSPECIFIED
	}
	rsp.Desired.Resources[string(name)] = r
}

// structOf encodes a typed object as composed.From and resource.AsStruct
// do together: apiVersion and kind from composed.Scheme, JSON field names
// and omitempty as go-json-experiment (which composed.From uses) treats
// them, no metadata.generation and no empty metadata.
// TestStructOfMatchesFrom holds the two equal. Top-level fields named in
// omit are left out.
func structOf(o runtime.Object, omit ...string) (*structpb.Struct, error) {
	gvks, _, err := composed.Scheme.ObjectKinds(o)
	if err != nil {
		return nil, fmt.Errorf("did you add it to composed.Scheme?: %w", err)
	}
	v, err := encode(reflect.ValueOf(o), omit...)
	if err != nil {
		return nil, fmt.Errorf("cannot encode %T: %w", o, err)
	}
	s := v.GetStructValue()
	if s == nil {
		return nil, fmt.Errorf("%T does not encode as an object", o)
	}
	for _, gvk := range gvks {
		av, k := gvk.ToAPIVersionAndKind()
		s.Fields["apiVersion"], s.Fields["kind"] = structpb.NewStringValue(av), structpb.NewStringValue(k)
	}
	if md := s.GetFields()["metadata"].GetStructValue(); md != nil {
		delete(md.GetFields(), "generation")
		if len(md.GetFields()) == 0 {
			delete(s.GetFields(), "metadata")
		}
	}
	return s, nil
}

//nolint:gochecknoglobals // Constants reflection and protobuf cannot declare as such.
var (
	marshalerType = reflect.TypeFor[json.Marshaler]()
	timeType      = reflect.TypeFor[metav1.Time]()
	nullValue     = structpb.NewNullValue()
)

// encode returns v as a protobuf Value.
func encode(v reflect.Value, omit ...string) (*structpb.Value, error) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nullValue, nil
		}
		return encode(v.Elem(), omit...)
	case reflect.String:
		return structpb.NewStringValue(v.String()), nil
	case reflect.Bool:
		return structpb.NewBoolValue(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return structpb.NewNumberValue(float64(v.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return structpb.NewNumberValue(float64(v.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return structpb.NewNumberValue(v.Float()), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return structpb.NewStringValue(base64.StdEncoding.EncodeToString(v.Bytes())), nil
		}
		l := &structpb.ListValue{Values: make([]*structpb.Value, v.Len())}
		for i := range v.Len() {
			e, err := encode(v.Index(i))
			if err != nil {
				return nil, err
			}
			l.Values[i] = e
		}
		return structpb.NewListValue(l), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("unsupported map key type %s", t.Key())
		}
		s := &structpb.Struct{Fields: make(map[string]*structpb.Value, v.Len())}
		for it := v.MapRange(); it.Next(); {
			e, err := encode(it.Value())
			if err != nil {
				return nil, err
			}
			s.Fields[it.Key().String()] = e
		}
		return structpb.NewStructValue(s), nil
	case reflect.Struct:
		ti := structInfoOf(t)
		if t == timeType && v.CanAddr() {
			// The JSON marshaler in composed resources, at its zero value
			// in every one: it encodes as null.
			if v.Addr().Interface().(*metav1.Time).IsZero() { //nolint:forcetypeassert // checked by type
				return nullValue, nil
			}
		}
		if ti.marshaler || (ti.ptrMarshaler && v.CanAddr()) {
			return encodeMarshaler(v)
		}
		s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
		if err := encodeFields(s, v, ti.fields, omit); err != nil {
			return nil, err
		}
		return structpb.NewStructValue(s), nil
	default:
		return nil, fmt.Errorf("unsupported type %s", t)
	}
}

// encodeMarshaler encodes a value with its own JSON encoding, such as
// metav1.Time.
func encodeMarshaler(v reflect.Value) (*structpb.Value, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nullValue, nil
	}
	m, ok := reflect.TypeAssert[json.Marshaler](v)
	if !ok {
		m, _ = reflect.TypeAssert[json.Marshaler](v.Addr())
	}
	j, err := m.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var a any
	if err := json.Unmarshal(j, &a); err != nil {
		return nil, err
	}
	return structpb.NewValue(a)
}

// encodeFields adds the fields of struct v to s, inlining embedded ones,
// except those named in omit.
func encodeFields(s *structpb.Struct, v reflect.Value, fields []jsonField, omit []string) error {
	for _, f := range fields {
		if slices.Contains(omit, f.name) {
			continue
		}
		fv := v.FieldByIndex(f.index)
		if f.inline {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() != reflect.Struct {
				return fmt.Errorf("%s: cannot inline a %s", f.name, fv.Kind())
			}
			if err := encodeFields(s, fv, structInfoOf(fv.Type()).fields, omit); err != nil {
				return err
			}
			continue
		}
		if f.omitEmpty && obviouslyEmpty(fv) {
			continue
		}
		e, err := encode(fv)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if f.omitEmpty && isEmpty(e) {
			continue
		}
		s.Fields[f.name] = e
	}
	return nil
}

// obviouslyEmpty is whether v encodes as null, "", {} or [] by its kind
// alone, so that encoding it can be skipped.
func obviouslyEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Map:
		return v.Len() == 0
	case reflect.Slice:
		return v.Len() == 0 && v.Type().Elem().Kind() != reflect.Uint8
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	default:
		return false
	}
}

// isEmpty is go-json-experiment's omitempty: the field would encode as
// null, "", {} or [].
func isEmpty(v *structpb.Value) bool {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		return true
	case *structpb.Value_StringValue:
		return k.StringValue == ""
	case *structpb.Value_StructValue:
		return len(k.StructValue.GetFields()) == 0
	case *structpb.Value_ListValue:
		return len(k.ListValue.GetValues()) == 0
	}
	return false
}

type jsonField struct {
	index     []int
	name      string
	omitEmpty bool
	inline    bool
}

// structInfo is what encoding a struct type needs, found once per type:
// reflection's Implements is costly.
type structInfo struct {
	fields       []jsonField
	marshaler    bool
	ptrMarshaler bool
}

var structInfos sync.Map //nolint:gochecknoglobals // One cache per process: types do not change. reflect.Type -> *structInfo.

// structInfoOf returns struct type t's JSON fields and whether it (or a
// pointer to it) has its own JSON encoding. Only structs are checked for
// one: no other kind in composed resources has one (TestStructOfMatchesFrom).
func structInfoOf(t reflect.Type) *structInfo {
	if ti, ok := structInfos.Load(t); ok {
		return ti.(*structInfo) //nolint:forcetypeassert // only structInfoOf stores
	}
	ti := &structInfo{marshaler: t.Implements(marshalerType), ptrMarshaler: reflect.PointerTo(t).Implements(marshalerType)}
	for sf := range t.Fields() {
		tag, tagged := sf.Tag.Lookup("json")
		if tag == "-" || (!sf.IsExported() && !sf.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := jsonField{index: sf.Index, name: name}
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "inline":
				f.inline = true
			}
		}
		// As go-json-experiment: embedding without a name inlines.
		if sf.Anonymous && name == "" && (!tagged || opts == "" || f.inline) {
			f.inline = true
		}
		if f.name == "" {
			f.name = sf.Name
		}
		ti.fields = append(ti.fields, f)
	}
	structInfos.Store(t, ti)
	return ti
}
