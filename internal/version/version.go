// Package version holds the version this build of the function and the
// provider was released as.
package version

// Version is stamped at build time by make packages:
//
//	-ldflags "-X github.com/xp-auth0/auth0-eventstream/internal/version.Version=vX.Y.Z"
//
// A plain go build or go run reports the development version.
var Version = "v0.0.0-dev" //nolint:gochecknoglobals // Set by the linker (-X), which needs a variable.
