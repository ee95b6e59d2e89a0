// Package eventtypes is the catalog of event types an Auth0 event stream can
// subscribe to. It is shared by the Auth0 simulator (which rejects unknown
// types the way Auth0 does) and the composition function (which warns about
// them before they reach Auth0).
package eventtypes

import "slices"

// catalog holds the event types Auth0's SDK catalogs list. Auth0 grows this
// list over time; types that are not listed here (for example the seed's
// authentication.*, api.authorization.* and management.*) are rejected.
var catalog = []string{ //nolint:gochecknoglobals // A constant list; Go has no constant slices.
	"group.created",
	"group.deleted",
	"group.member.added",
	"group.member.deleted",
	"group.updated",
	"organization.connection.added",
	"organization.connection.removed",
	"organization.connection.updated",
	"organization.created",
	"organization.deleted",
	"organization.member.added",
	"organization.member.deleted",
	"organization.member.role.assigned",
	"organization.member.role.deleted",
	"organization.updated",
	"user.created",
	"user.deleted",
	"user.updated",
}

// Known reports whether t is an event type in Auth0's catalog.
func Known(t string) bool {
	return slices.Contains(catalog, t)
}

// All returns the catalog, sorted. The caller owns the returned slice.
func All() []string {
	all := slices.Clone(catalog)
	slices.Sort(all)
	return all
}
