package eventtypes

import (
	"slices"
	"testing"
)

func TestKnown(t *testing.T) {
	cases := map[string]bool{
		"user.created":                      true,
		"user.updated":                      true,
		"organization.member.role.assigned": true,
		"group.member.deleted":              true,
		// The seed uses these; Auth0's catalog does not list them.
		"authentication.success":   false,
		"authentication.failure":   false,
		"api.authorization.denied": false,
		"management.user.created":  false,
		"":                         false,
		"User.Created":             false,
		"user.*":                   false,
	}
	for in, want := range cases {
		if got := Known(in); got != want {
			t.Errorf("Known(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestAllSortedAndCopied(t *testing.T) {
	all := All()
	if !slices.IsSorted(all) {
		t.Fatalf("All() is not sorted: %v", all)
	}
	if len(all) != 18 {
		t.Errorf("len(All()) = %d, want 18", len(all))
	}
	all[0] = "mutated"
	if All()[0] == "mutated" {
		t.Error("All() returned the catalog itself, not a copy")
	}
	for _, e := range all[1:] {
		if !Known(e) {
			t.Errorf("Known(%q) = false for a listed type", e)
		}
	}
}
