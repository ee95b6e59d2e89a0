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
	@for t in etcd kube-apiserver kube-controller-manager kubectl crossplane crank registry; do hack/build-tool.sh $$t; done

# Tests find the binaries they need through these variables; they fail, not
# skip, when one is missing.
TEST_ENV = export CROSSPLANE_CLI=$$(hack/build-tool.sh crank) KUBEBUILDER_ASSETS=$$(hack/build-tool.sh envtest-assets);

.PHONY: test
test: ## Run unit, golden, validation and integration tests.
	$(TEST_ENV) go test -count=1 -timeout 30m ./...

XPKG_DIR ?= _output/xpkg

.PHONY: packages
packages: ## Build every Crossplane package (function, provider, configurations) with crossplane xpkg build into $(XPKG_DIR).
	@mkdir -p $(XPKG_DIR)
	@crank=$$(hack/build-tool.sh crank); for p in function provider configuration configuration-legacy; do \
	  [ -f package/$$p/crossplane.yaml ] || { echo "packages: package/$$p has no crossplane.yaml" >&2; exit 1; }; \
	  $$crank xpkg build --package-root=package/$$p --examples-root=package/$$p/no-examples -o $(XPKG_DIR)/$$p.xpkg; \
	  echo "$(XPKG_DIR)/$$p.xpkg"; \
	done

.PHONY: render
render: ## crossplane render XR (default: the seed's Quick Start) with the function run locally; OBSERVED= adds observed resources.
	@test/render/render.sh $(or $(XR),example/seed/quick-start.yaml) $(OBSERVED)

.PHONY: render-quickstart
render-quickstart: ## Render the seed's Quick Start as created, then with its EventStream observed (status.outputs filled in).
	@echo "# crossplane render example/seed/quick-start.yaml"
	@test/render/render.sh example/seed/quick-start.yaml
	@echo "# crossplane render example/seed/quick-start.yaml --observed-resources=example/observed/seed-quick-start.yaml"
	@test/render/render.sh example/seed/quick-start.yaml example/observed/seed-quick-start.yaml

SIM_ADDR ?= 127.0.0.1:8443
SIM_ARGS ?= --client demo:demo-secret --state _output/auth0-sim/state.json

.PHONY: sim
sim: ## Run the Auth0 simulator on $(SIM_ADDR) over HTTPS (CA in _output/auth0-sim); SIM_ARGS adds flags.
	go run ./cmd/auth0-sim --addr $(SIM_ADDR) $(SIM_ARGS)

# A real Crossplane control plane on loopback (etcd, kube-apiserver,
# kube-controller-manager, Crossplane core) with our packages installed and
# our function, provider and the Auth0 simulator as local processes. See
# test/e2e/controlplane. e2e and demo use separate folders so a running demo
# does not disturb the tests.
CONTROLPLANE = go run ./test/e2e/cmd/controlplane
E2E_DIR ?= _output/e2e
DEMO_DIR ?= _output/demo

.PHONY: e2e
e2e: ## End-to-end tests on a real local Crossplane control plane, once per API flavour (namespaced XR, legacy claim).
	@for f in namespaced legacy; do \
	  d=$(E2E_DIR)-$$f; start=$$(date +%s); \
	  trap "$(CONTROLPLANE) --dir $$d down; exit 130" INT TERM; \
	  $(CONTROLPLANE) --dir $$d up --product --flavour $$f >/dev/null || exit 1; \
	  rc=0; go test -tags e2e -count=1 -timeout 45m -v ./test/e2e/ -args -dir=$$(realpath $$d) || rc=$$?; \
	  $(CONTROLPLANE) --dir $$d down; \
	  echo "e2e: flavour $$f took $$(( $$(date +%s) - start ))s"; \
	  [ $$rc = 0 ] || exit $$rc; \
	done

.PHONY: demo
demo: ## Bring up the control plane, apply the Quick Start and show the stream; leaves it running.
	@$(CONTROLPLANE) --dir $(DEMO_DIR) up --product >/dev/null
	@$(CONTROLPLANE) --dir $(DEMO_DIR) demo

.PHONY: demo-down
demo-down: ## Stop the control plane make demo left running.
	@$(CONTROLPLANE) --dir $(DEMO_DIR) down

.PHONY: bench
bench: ## Measure the provider binary (Auth0 calls per poll, token fetches, RSS with 1,000 EventStreams) against envtest and the simulator.
	bench/run.sh

.PHONY: run-provider
run-provider: ## Run the provider out of cluster against the KUBECONFIG cluster; pass flags in ARGS="...".
	go run ./cmd/provider $(ARGS)
