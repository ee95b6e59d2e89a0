# auth0-eventstream. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

# Binaries built from source for tests live in the user's cache, keyed by
# version, so a fresh clone (as in CI) reuses them.
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/auth0-eventstream
export CACHE_DIR

CONTROLLER_GEN := go tool controller-gen

.PHONY: help
help: ## List targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-16s %s\n",$$1,$$2}'

.PHONY: generate
generate: ## Generate deepcopy code and CRDs.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./apis/... paths=./input/...
	$(CONTROLLER_GEN) crd:allowDangerousTypes=false paths=./apis/... output:crd:artifacts:config=package/provider/crds

.PHONY: generate-check
generate-check: generate ## Fail if generated files differ from what is committed.
	@git add -N . && git diff --exit-code --stat -- apis input package || { echo "generated files are stale: run make generate and commit" >&2; exit 1; }

.PHONY: tools
tools: ## Build the test binaries (etcd, kube-apiserver, kube-controller-manager, kubectl, crossplane, crank), cached by version.
	@for t in etcd kube-apiserver kube-controller-manager kubectl crossplane crank; do hack/build-tool.sh $$t; done

# Tests find the binaries they need through these variables; they fail, not
# skip, when one is missing.
TEST_ENV = export CROSSPLANE_CLI=$$(hack/build-tool.sh crank) KUBEBUILDER_ASSETS=$$(hack/build-tool.sh envtest-assets);

.PHONY: test
test: ## Run unit, golden, validation and integration tests.
	$(TEST_ENV) go test -count=1 -timeout 30m ./...
