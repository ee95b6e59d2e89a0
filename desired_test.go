package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
)

// TestStructOfMatchesFrom holds structOf to what the SDK's composed.From
// (through JSON) and resource.AsStruct make of the same object, for every
// destination and authorization method.
func TestStructOfMatchesFrom(t *testing.T) {
	webhook := func(auth map[string]any) map[string]any {
		return map[string]any{
			"destinationType": "webhook", "subscriptions": []any{"user.created"},
			"webhookConfiguration": map[string]any{"webhookEndpoint": "https://hooks.example.com:8443/a?b=c", "webhookAuthorization": auth},
		}
	}
	specs := map[string]map[string]any{
		"bearer inline": webhook(map[string]any{"method": "bearer", "token": "t0ken"}),
		"bearer ref":    webhook(map[string]any{"method": "bearer", "tokenSecretRef": map[string]any{"name": "s", "key": "k"}}),
		"basic inline":  webhook(map[string]any{"method": "basic", "username": "u", "password": "p"}),
		"header inline": webhook(map[string]any{"method": "custom_header", "headerKey": "X-Key", "headerValue": "v"}),
		"eventbridge": {
			"destinationType":          "eventbridge",
			"subscriptions":            []any{"user.created", "user.deleted"},
			"status":                   "disabled",
			"name":                     "other",
			"eventbridgeConfiguration": map[string]any{"awsAccountId": "123456789012", "awsRegion": "eu-west-1"},
			"streamId":                 "est_0123456789abcdefghijkl",
			"managementPolicies":       []any{"Observe", "Update"},
			"providerConfigRef":        map[string]any{"kind": "ProviderConfig", "name": "pc"},
		},
		"action": {"destinationType": "action", "subscriptions": []any{"user.created"}, "actionConfiguration": map[string]any{"actionId": "0f6f8b4c-0000-4000-8000-000000000000"}},
	}
	for name, raw := range specs {
		t.Run(name, func(t *testing.T) {
			spec, errs := parseSpec(t.Context(), raw)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			b, errs := bind(spec, &v1beta1.Input{ImportPolicy: v1beta1.ImportManage}, nativeBackend{}, "n", nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			es, secret := compose(spec, target{Namespace: "ns", Name: "n", StreamName: "n"}, b)
			es.SetAnnotations(map[string]string{"a": "b"})
			objs := []runtime.Object{es}
			if secret != nil {
				objs = append(objs, secret)
			}
			for _, o := range objs {
				cd, err := composed.From(o.DeepCopyObject())
				if err != nil {
					t.Fatal(err)
				}
				want, err := resource.AsStruct(cd)
				if err != nil {
					t.Fatal(err)
				}
				got, err := structOf(o)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
					t.Errorf("%T: -composed.From +structOf:\n%s", o, diff)
				}
				// What RunFunction does with the EventStream's status.
				delete(want.GetFields(), "status")
				if got, err = structOf(o, "status"); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
					t.Errorf("%T without status: -composed.From +structOf:\n%s", o, diff)
				}
			}
		})
	}
}

// TestStructOfMarshalers: a type with its own JSON encoding (metav1.Time,
// set or not, by value or pointer) encodes as composed.From encodes it.
func TestStructOfMarshalers(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	for name, es := range map[string]*v1alpha1.EventStream{
		"zero": {ObjectMeta: metav1.ObjectMeta{Name: "n"}},
		"set":  {ObjectMeta: metav1.ObjectMeta{Name: "n", CreationTimestamp: at, DeletionTimestamp: &at}},
		"in a slice of structs": {Status: v1alpha1.EventStreamStatus{ManagedResourceStatus: xpv2.ManagedResourceStatus{ConditionedStatus: xpv2.ConditionedStatus{
			Conditions: []xpv2.Condition{{Type: "Ready", Status: "True", LastTransitionTime: at}},
		}}}},
	} {
		t.Run(name, func(t *testing.T) {
			cd, err := composed.From(es.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			want, err := resource.AsStruct(cd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := structOf(es)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("-composed.From +structOf:\n%s", diff)
			}
		})
	}
}
