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
	go tool angryjet generate-methodsets --header-file=hack/boilerplate.go.txt ./apis/...
	$(CONTROLLER_GEN) crd:allowDangerousTypes=false paths=./apis/... output:crd:artifacts:config=package/provider/crds
	$(CONTROLLER_GEN) crd paths=./input/... output:crd:artifacts:config=package/function/input

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

# A real Crossplane control plane on loopback (etcd, kube-apiserver,
# kube-controller-manager, Crossplane core) with our packages installed and
# our function, provider and the Auth0 simulator as local processes. See
# test/e2e/controlplane. e2e and demo use separate folders so a running demo
# does not disturb the tests.
CONTROLPLANE = go run ./test/e2e/cmd/controlplane
E2E_DIR ?= _output/e2e
DEMO_DIR ?= _output/demo

.PHONY: e2e
e2e: ## End-to-end tests on a real local Crossplane control plane, started and stopped here.
	@$(CONTROLPLANE) --dir $(E2E_DIR) up --product >/dev/null
	@rc=0; go test -tags e2e -count=1 -timeout 45m -v ./test/e2e/ -args -dir=$(abspath $(E2E_DIR)) || rc=$$?; \
	$(CONTROLPLANE) --dir $(E2E_DIR) down; exit $$rc

.PHONY: demo
demo: ## Bring up the control plane, apply the Quick Start and show the stream; leaves it running.
	@$(CONTROLPLANE) --dir $(DEMO_DIR) up --product >/dev/null
	@$(CONTROLPLANE) --dir $(DEMO_DIR) demo

.PHONY: demo-down
demo-down: ## Stop the control plane make demo left running.
	@$(CONTROLPLANE) --dir $(DEMO_DIR) down
