#!/usr/bin/env bash
# Builds one test binary from the Go module proxy into the user's cache,
# keyed by version, and prints its path. A cached binary is reused.
#
#   hack/build-tool.sh etcd|kube-apiserver|kube-controller-manager|kubectl|crossplane|crank|registry|golangci-lint
#   hack/build-tool.sh provider-terraform|tofu|terraform-provider-auth0   # the terraform backend's runtime
#   hack/build-tool.sh promtool   # checks and unit-tests monitoring/rules.yaml
#   hack/build-tool.sh envtest-assets   # a KUBEBUILDER_ASSETS folder
#
# The wrapper modules are written on the fly: `go install pkg@version` is
# refused for these modules (they carry replace directives), so each gets a
# tiny module that requires the pinned release.
set -euo pipefail

ETCD_VERSION=v3.6.16
KUBERNETES_VERSION=v1.35.4
KUBERNETES_STAGING_VERSION=v0.35.4
CROSSPLANE_VERSION=v2.2.1
DISTRIBUTION_VERSION=v3.1.2
GOLANGCI_LINT_VERSION=v2.15.0
# The terraform backend's runtime (docs/terraform.md).
PROVIDER_TERRAFORM_VERSION=v1.0.1
OPENTOFU_VERSION=v1.11.6
TERRAFORM_PROVIDER_AUTH0_VERSION=v1.57.0
# Prometheus v3.x's module (its Go module versions are v0.3xx).
PROMETHEUS_VERSION=v0.316.0

CACHE_DIR=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auth0-eventstream}
name=${1:?usage: build-tool.sh NAME}

if [[ "$name" == envtest-assets ]]; then
  # controller-runtime's envtest looks for binaries named etcd and
  # kube-apiserver in one folder.
  dir="$CACHE_DIR/envtest-$KUBERNETES_VERSION-$ETCD_VERSION"
  mkdir -p "$dir"
  ln -sf "$("$0" etcd)" "$dir/etcd"
  ln -sf "$("$0" kube-apiserver)" "$dir/kube-apiserver"
  echo "$dir"
  exit 0
fi

case "$name" in
  etcd) version=$ETCD_VERSION ;;
  kube-apiserver|kube-controller-manager|kubectl) version=$KUBERNETES_VERSION ;;
  # "-stamped": built with the version stamp core needs to check package
  # constraints; the suffix keeps an older unstamped cached binary from being reused.
  crossplane|crank) version=$CROSSPLANE_VERSION-stamped ;;
  registry) version=$DISTRIBUTION_VERSION ;;
  golangci-lint) version=$GOLANGCI_LINT_VERSION ;;
  provider-terraform) version=$PROVIDER_TERRAFORM_VERSION ;;
  tofu) version=$OPENTOFU_VERSION ;;
  terraform-provider-auth0) version=$TERRAFORM_PROVIDER_AUTH0_VERSION ;;
  promtool) version=$PROMETHEUS_VERSION ;;
  *) echo "build-tool.sh: unknown tool $name" >&2; exit 2 ;;
esac

out="$CACHE_DIR/bin/$name-$version"
if [[ -x "$out" ]]; then echo "$out"; exit 0; fi
mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/src"

# Tests and make targets may ask for the same tool at once: one builds, the
# others wait for it and reuse the result.
exec 9>"$CACHE_DIR/bin/.$name.lock"
flock 9
if [[ -x "$out" ]]; then echo "$out"; exit 0; fi

# One wrapper module per upstream release, shared by the binaries it yields.
wrap() { # dir module-path
  mkdir -p "$1"
  [[ -f "$1/go.mod" ]] || (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

export GOFLAGS=-mod=mod
# Test binaries need no debugger information: leaving DWARF out of the
# compiler's and the linker's work (and the symbol table out of the
# binary) costs a cold build about a fifth less CPU (docs/development.md).
# Panics still print function names and lines.
gobuild() { # package [extra -ldflags]
  go build -gcflags=all=-dwarf=false -ldflags="-s -w${2:+ $2}" -o "$out.tmp" "$1"
}
case "$name" in
  etcd)
    src="$CACHE_DIR/src/etcd-$version"
    wrap "$src" local/etcd
    cat >"$src/main.go" <<'GO'
// Command etcd runs the upstream etcd server.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    (cd "$src" && go get "go.etcd.io/etcd/server/v3@$version" >&2 && go mod tidy >&2 && gobuild .)
    ;;
  kube-apiserver|kube-controller-manager|kubectl)
    src="$CACHE_DIR/src/kubernetes-$version"
    if [[ ! -f "$src/.ready" ]]; then
      wrap "$src" local/kubernetes
      gomod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      # Every staging module k8s.io/kubernetes replaces with ./staging gets
      # its published release instead.
      {
        echo "require k8s.io/kubernetes $version"
        grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk -v v="$KUBERNETES_STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
      } >>"$src/go.mod"
      (cd "$src" && go get "k8s.io/kubernetes/cmd/kube-apiserver@$version" "k8s.io/kubernetes/cmd/kube-controller-manager@$version" "k8s.io/kubernetes/cmd/kubectl@$version" >&2)
      touch "$src/.ready"
    fi
    (cd "$src" && gobuild "k8s.io/kubernetes/cmd/$name")
    ;;
  crossplane|crank)
    src="$CACHE_DIR/src/crossplane-$CROSSPLANE_VERSION"
    if [[ ! -f "$src/.ready" ]]; then
      wrap "$src" local/crossplane
      (cd "$src" && go get "github.com/crossplane/crossplane/v2/cmd/crank@$CROSSPLANE_VERSION" "github.com/crossplane/crossplane/v2/cmd/crossplane@$CROSSPLANE_VERSION" >&2)
      touch "$src/.ready"
    fi
    (cd "$src" && gobuild "github.com/crossplane/crossplane/v2/cmd/$name" \
      "-X github.com/crossplane/crossplane/v2/internal/version.version=$CROSSPLANE_VERSION")
    ;;
  registry)
    # The reference OCI registry (CNCF distribution), for pushing and
    # pulling our packages as a user's registry would.
    src="$CACHE_DIR/src/distribution-$version"
    wrap "$src" local/distribution
    (cd "$src" && go get "github.com/distribution/distribution/v3/cmd/registry@$version" >&2 && gobuild github.com/distribution/distribution/v3/cmd/registry)
    ;;
  golangci-lint)
    # Crossplane's repositories lint with golangci-lint v2; a Go tool of
    # its own wrapper module, so its dependencies stay out of ours.
    src="$CACHE_DIR/src/golangci-lint-$version"
    wrap "$src" local/golangci-lint
    (cd "$src" && go get -tool "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version" >&2 && gobuild github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
    ;;
  provider-terraform)
    # Upbound's provider-terraform controller (namespaced tf.m.upbound.io).
    src="$CACHE_DIR/src/provider-terraform-$version"
    wrap "$src" local/provider-terraform
    (cd "$src" && go get -tool "github.com/upbound/provider-terraform/cmd/provider@$version" >&2 && gobuild github.com/upbound/provider-terraform/cmd/provider)
    ;;
  tofu)
    # OpenTofu, run by provider-terraform as `terraform`. Its own go.mod
    # replaces hcl/v2 with OpenTofu's fork; a wrapper module must repeat
    # that, since replace directives of dependencies are ignored.
    src="$CACHE_DIR/src/opentofu-$version"
    wrap "$src" local/opentofu
    (cd "$src" && go mod edit -replace github.com/hashicorp/hcl/v2@v2.20.1=github.com/opentofu/hcl/v2@v2.20.2-0.20251021132045-587d123c2828 &&
      go get -tool "github.com/opentofu/opentofu/cmd/tofu@$version" >&2 && gobuild github.com/opentofu/opentofu/cmd/tofu)
    ;;
  terraform-provider-auth0)
    # The Auth0 Terraform provider, installed offline from a filesystem
    # mirror (docs/terraform.md).
    src="$CACHE_DIR/src/terraform-provider-auth0-$version"
    wrap "$src" local/terraform-provider-auth0
    (cd "$src" && go get -tool "github.com/auth0/terraform-provider-auth0@$version" >&2 && gobuild github.com/auth0/terraform-provider-auth0)
    ;;
  promtool)
    # Prometheus' own rule checker and unit tester, for the alerts we ship.
    # Without service discovery (remove_all_sd), which the rule commands
    # never use: half the compile time of a cold build.
    src="$CACHE_DIR/src/prometheus-$version"
    wrap "$src" local/prometheus
    (cd "$src" && go get -tool "github.com/prometheus/prometheus/cmd/promtool@$version" >&2 && GOFLAGS="$GOFLAGS -tags=remove_all_sd" gobuild github.com/prometheus/prometheus/cmd/promtool)
    ;;
esac
mv "$out.tmp" "$out"
echo "$out"
