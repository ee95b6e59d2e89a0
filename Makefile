# auth0-eventstream. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

# Tests, the e2e programs and make packages build with one configuration
# (static, paths trimmed: what the shipped images are built with), so
# their dependencies compile once for all of them. hack/build-tool.sh sets
# its own GOFLAGS for the tools.
export CGO_ENABLED := 0
export GOFLAGS ?= -trimpath

# Binaries built from source for tests live in the user's cache, keyed by
# version, so a fresh clone (as in CI) reuses them.
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/auth0-eventstream
export CACHE_DIR

CONTROLLER_GEN := go tool controller-gen

# The provider-terraform release the terraform backend composes Workspaces
# for, and where make generate copies its namespaced CRDs.
PROVIDER_TERRAFORM_MODULE := github.com/upbound/provider-terraform@v1.0.1
PROVIDER_TERRAFORM_CRDS := testdata/crds/provider-terraform

.PHONY: help
help: ## List targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-16s %s\n",$$1,$$2}'

.PHONY: generate
generate: ## Generate deepcopy code, CRDs and the composite's XRDs (from apis/platform/v1).
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./apis/... paths=./input/...
	go tool angryjet generate-methodsets --header-file=hack/boilerplate.go.txt ./apis/...
	$(CONTROLLER_GEN) crd:allowDangerousTypes=false paths=./apis/auth0/... output:crd:artifacts:config=package/provider/crds
	$(CONTROLLER_GEN) crd paths=./input/... output:crd:artifacts:config=package/function/input
	@# The composite's XRDs, namespaced and legacy, from apis/platform/v1.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(CONTROLLER_GEN) crd paths=./apis/platform/... output:crd:artifacts:config=$$tmp && \
	  go run ./hack/gen-xrd -crd $$tmp/auth0.openmcf.org_auth0eventstreams.yaml \
	    -namespaced package/configuration/definition.yaml -legacy package/configuration-legacy/definition.yaml
	@# provider-terraform's namespaced CRDs, which the terraform backend's
	@# Workspaces are validated against, copied from its module (outside this
	@# module, so go.mod is untouched).
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  dir=$$(cd "$$tmp" && go mod download -json $(PROVIDER_TERRAFORM_MODULE) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p') && \
	  [[ -n "$$dir" ]] || { echo "generate: go mod download $(PROVIDER_TERRAFORM_MODULE) failed" >&2; exit 1; }; \
	  rm -rf $(PROVIDER_TERRAFORM_CRDS) && mkdir -p $(PROVIDER_TERRAFORM_CRDS) && \
	  for k in workspaces providerconfigs clusterproviderconfigs; do \
	    install -m 0644 "$$dir/package/crds/tf.m.upbound.io_$$k.yaml" $(PROVIDER_TERRAFORM_CRDS)/; \
	  done

.PHONY: generate-check
generate-check: generate ## Fail if generated files differ from what is committed.
	@git add -N . && git diff --exit-code --stat -- apis input package $(PROVIDER_TERRAFORM_CRDS) || { echo "generated files are stale: run make generate and commit" >&2; exit 1; }

.PHONY: tools
tools: ## Build the test binaries and tools (etcd, kube-apiserver, kube-controller-manager, kubectl, crossplane, crank, registry, golangci-lint, provider-terraform, tofu, terraform-provider-auth0), cached by version, independent ones side by side.
	@hack/build-tools.sh

# One pass with the e2e build tag lints every package: no file is excluded
# by the tag (none says !e2e), and test/e2e's tests are only built with it.
LINT_ARGS ?=
.PHONY: lint
lint: ## Lint the whole module, test/e2e included, with golangci-lint and .golangci.yml (Crossplane's configuration). LINT_ARGS=--fix applies fixes.
	@lint=$$(hack/build-tool.sh golangci-lint); set -x; $$lint run --build-tags e2e $(LINT_ARGS) ./...

# Tests find the binaries they need through these variables; they fail, not
# skip, when one is missing.
TEST_ENV = export CROSSPLANE_CLI=$$(hack/build-tool.sh crank) KUBEBUILDER_ASSETS=$$(hack/build-tool.sh envtest-assets);

# Packages whose tests run what go test's cache cannot see (make packages,
# crossplane xpkg build over package/, images run as processes) run every
# time; the others are cached by go test while their inputs are unchanged.
UNCACHED_TESTS := . ./cmd/provider ./test/e2e/controlplane

# go vet is left to make lint, which runs every govet analyzer.
.PHONY: test
test: ## Run unit, golden, validation and integration tests.
	@$(TEST_ENV) module=$$(go list -m); \
	cached=$$(go list ./... | grep -vxF $(foreach p,$(UNCACHED_TESTS),-e $$module$(patsubst .%,%,$(p)))); \
	set -x; go test -vet=off -timeout 30m $$cached && go test -vet=off -count=1 -timeout 30m $(UNCACHED_TESTS)

.PHONY: check
check: ## Every test and check, as CI runs them: tools, generate-check, then make e2e (with N=20 bench-e2e and soak) beside make lint, make test and make bench (N=20) (hack/check.sh).
	@hack/check.sh

# Release version of the binaries, images and packages. Packages and tags
# must be semver (vMAJOR.MINOR.PATCH[-PRERELEASE]): Crossplane's dependency
# resolver ignores other tags.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v*' 2>/dev/null || echo v0.0.0-dev)
endif
# Fixed timestamps make the images reproducible: same source, same digests.
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null)
endif
export SOURCE_DATE_EPOCH
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_URL := https://github.com/xp-auth0/auth0-eventstream

XPKG_DIR ?= _output/xpkg
# Binaries, runtime image tarballs and the stamped Configuration roots.
BUILD_DIR ?= _output/build
# Releases build both; the local control plane builds only the machine's
# (ARCHS=amd64), since it runs nothing else, and TestPackages proves both.
ARCHS ?= amd64 arm64
GO_LDFLAGS = -s -w -X github.com/xp-auth0/auth0-eventstream/internal/version.Version=$(VERSION)

# check_version fails unless $(VERSION) is semver with a leading v.
check_version = [[ "$(VERSION)" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$$ ]] || \
	{ echo "$@: VERSION=$(VERSION) is not a semver version such as v1.2.3 or v1.2.3-rc.1 (Crossplane resolves only semver tags)" >&2; exit 1; }

# The Configurations, as package/<folder>:<package name>: the API (namespaced
# and for claims), and the terraform backend's Composition for each, which
# a platform installs only where it offers that backend.
CONFIGURATIONS := configuration:configuration-auth0-eventstream \
	configuration-legacy:configuration-auth0-eventstream-legacy \
	configuration-terraform:configuration-auth0-eventstream-terraform \
	configuration-legacy-terraform:configuration-auth0-eventstream-legacy-terraform

.PHONY: packages
packages: ## Build the runtime images (linux/$(ARCHS)), the Function and Provider xpkgs per architecture and the four Configurations into $(XPKG_DIR), for VERSION.
	@$(check_version)
	@[[ -n "$(SOURCE_DATE_EPOCH)" ]] || { echo "packages: set SOURCE_DATE_EPOCH (no git history to take it from)" >&2; exit 1; }
	@rm -rf $(BUILD_DIR) && mkdir -p $(BUILD_DIR) $(XPKG_DIR) && rm -f $(XPKG_DIR)/*.xpkg $(XPKG_DIR)/VERSION
	go build -o $(BUILD_DIR)/build-image ./cmd/build-image
	@crank=$$(hack/build-tool.sh crank); \
	labels="--label org.opencontainers.image.source=$(SOURCE_URL) --label org.opencontainers.image.revision=$(REVISION) --label org.opencontainers.image.version=$(VERSION)"; \
	for arch in $(ARCHS); do \
	  d=$(BUILD_DIR)/linux_$$arch; \
	  echo "packages: linux/$$arch binaries"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -buildvcs=false -ldflags "$(GO_LDFLAGS)" -o $$d/function . ; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -buildvcs=false -ldflags "$(GO_LDFLAGS)" -o $$d/provider ./cmd/provider; \
	  $(BUILD_DIR)/build-image --platform linux/$$arch --file $$d/function=/function:0755 --entrypoint /function \
	    --port 9443/tcp --port 8080/tcp $$labels --label org.opencontainers.image.title=function-auth0-eventstream \
	    --tag function-auth0-eventstream:$(VERSION)-$$arch -o $$d/function-image.tar; \
	  $(BUILD_DIR)/build-image --platform linux/$$arch --file $$d/provider=/provider:0755 --entrypoint /provider \
	    --port 8080/tcp --port 8081/tcp $$labels --label org.opencontainers.image.title=provider-auth0-eventstream \
	    --tag provider-auth0-eventstream:$(VERSION)-$$arch -o $$d/provider-image.tar; \
	  for p in function provider; do \
	    $$crank xpkg build --package-root=package/$$p --examples-root=package/$$p/no-examples \
	      --embed-runtime-image-tarball=$$d/$$p-image.tar -o $(XPKG_DIR)/$$p-auth0-eventstream-$$arch.xpkg; \
	  done; \
	done; \
	v=$(VERSION); core=$${v%%-*}; IFS=. read -r major minor _ <<<"$${core#v}"; \
	constraint=">=$$v, <v$$major.$$((minor + 1)).0"; \
	for c in $(CONFIGURATIONS); do \
	  dir=$${c%%:*}; name=$${c#*:}; \
	  root=$(BUILD_DIR)/package/$$dir; mkdir -p $$root; cp -R package/$$dir/. $$root/; \
	  want=$$(grep -c '# stamped by make packages' package/$$dir/crossplane.yaml || true); \
	  sed -E -i 's/^([[:space:]]*version: )"[^"]*"([[:space:]]*# stamped by make packages.*)$$/\1"'"$$constraint"'"\2/' $$root/crossplane.yaml; \
	  n=$$(grep -cF "version: \"$$constraint\"" $$root/crossplane.yaml || true); \
	  [[ $$want -gt 0 && $$n == $$want ]] || { echo "packages: stamped $$n dependsOn versions in $$root/crossplane.yaml, want the $$want marked # stamped by make packages" >&2; exit 1; }; \
	  $$crank xpkg build --package-root=$$root --examples-root=$$root/no-examples -o $(XPKG_DIR)/$$name.xpkg; \
	done; \
	echo "$(VERSION)" >$(XPKG_DIR)/VERSION; \
	ls -1 $(XPKG_DIR)/*.xpkg

# Where make publish pushes: host[:port]/org.
REGISTRY ?=

.PHONY: publish
publish: ## Push the packages make packages built to REGISTRY=host/org as VERSION (one multi-arch index of $(ARCHS) per Function and Provider). SSL_CERT_FILE trusts a private CA.
	@$(check_version)
	@[[ -n "$(REGISTRY)" ]] || { echo "publish: set REGISTRY=host[:port]/org" >&2; exit 1; }
	@built=$$(cat $(XPKG_DIR)/VERSION 2>/dev/null || true); [[ "$$built" == "$(VERSION)" ]] || \
	  { echo "publish: $(XPKG_DIR) holds packages of version '$$built', not $(VERSION): run make packages VERSION=$(VERSION) first" >&2; exit 1; }
	@crank=$$(hack/build-tool.sh crank); set -x; \
	for p in function provider; do \
	  files=; for arch in $(ARCHS); do files=$${files:+$$files,}$(XPKG_DIR)/$$p-auth0-eventstream-$$arch.xpkg; done; \
	  $$crank xpkg push -f $$files $(REGISTRY)/$$p-auth0-eventstream:$(VERSION); \
	done; \
	for c in $(CONFIGURATIONS); do \
	  name=$${c#*:}; \
	  $$crank xpkg push -f $(XPKG_DIR)/$$name.xpkg $(REGISTRY)/$$name:$(VERSION); \
	done

.PHONY: render
render: ## crossplane render XR (default: the seed's Quick Start) with the function run locally; OBSERVED= adds observed resources.
	@test/render/render.sh $(or $(XR),example/seed/quick-start.yaml) $(OBSERVED)

.PHONY: render-quickstart
render-quickstart: ## Render the seed's Quick Start (refused: Auth0 refuses its event types), then example/quick-start.yaml as created and with its EventStream observed (status.outputs filled in).
	@echo "# crossplane render example/seed/quick-start.yaml (the function refuses it, as Auth0 would)"
	@! test/render/render.sh example/seed/quick-start.yaml
	@echo "# crossplane render example/quick-start.yaml"
	@test/render/render.sh example/quick-start.yaml
	@echo "# crossplane render example/quick-start.yaml --observed-resources=example/observed/quick-start.yaml"
	@test/render/render.sh example/quick-start.yaml example/observed/quick-start.yaml

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
E2E_BENCH_N ?=
DEMO_DIR ?= _output/demo

.PHONY: e2e
e2e: ## End-to-end tests on real local Crossplane control planes, one per API flavour (namespaced XR, legacy claim) side by side; E2E_BENCH_N=20 adds bench-e2e and soak on the legacy plane (E2E_BENCH_FLAVOUR) (test/e2e/run.sh).
	@E2E_DIR=$(E2E_DIR) E2E_BENCH_N=$(E2E_BENCH_N) test/e2e/run.sh

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

.PHONY: bench-function
bench-function: ## Our function's RunFunction beside function-go-templating's composing the same EventStream and Secret: p50, ns/op, B/op, allocs/op and the ratio (COUNT=5 runs, BENCHTIME=1s).
	bench/templating/run.sh

# The whole loop at scale on a local control plane of its own (see
# docs/performance.md): N composites (default 1000; soak 500) against the
# simulator rate-limited to RATE requests/s. Each prints one summary line
# and fails only on duplicates, leaked streams or a secret in a log.
BENCH_E2E_DIR ?= _output/bench-e2e
SOAK_DIR ?= _output/soak
RATE ?= 50
# The provider's flags sized for N streams at RATE (docs/performance.md):
# polls take at most a quarter of the rate limit (--poll >= 4 N / RATE,
# at least the 1m default), delivery-health reads another quarter at most
# (--delivery-poll >= 4 N / RATE, at least the 5m default: the plane's own
# 10s is for tests), one reconcile per Auth0 call up to the limit, and a
# rate budget of the whole limit (the provider is the simulator's only user).
# bench/e2e applies them as a user would: the args of a
# DeploymentRuntimeConfig an ImageConfig selects for the provider.
# PROVIDER_ARGS= (empty) keeps the control plane's own provider flags.
PROVIDER_ARGS ?= --poll=$$(( (4 * $(1) / $(RATE)) > 60 ? (4 * $(1) / $(RATE)) : 60 ))s --delivery-poll=$$(( (4 * $(1) / $(RATE)) > 300 ? (4 * $(1) / $(RATE)) : 300 ))s --max-reconcile-rate=$(RATE) --auth0-rate-budget=$(RATE)

# bench_plane runs bench/e2e with $(2) on a fresh control plane in $(1)
# (started with the extra flags $(3)), always bringing it down; with
# PLANE=<folder of a running plane> it runs on that plane instead and
# leaves it up (make e2e E2E_BENCH_N=20 runs them on its legacy plane).
PLANE ?=
define bench_plane
	@if [ -n "$(PLANE)" ]; then exec go run ./bench/e2e --dir $(PLANE) $(2); fi; \
	d=$(1); trap "$(CONTROLPLANE) --dir $$d down >/dev/null 2>&1; exit 130" INT TERM; \
	$(CONTROLPLANE) --dir $$d down >/dev/null 2>&1 || true; rm -rf $$d; \
	$(CONTROLPLANE) --dir $$d up --product $(3) >/dev/null || exit 1; \
	rc=0; go run ./bench/e2e --dir $$d $(2) || rc=$$?; \
	$(CONTROLPLANE) --dir $$d down >/dev/null; exit $$rc
endef

.PHONY: bench-e2e
bench-e2e: ## Whole loop: N (1000) Auth0EventStreams on a local control plane, simulator limited to RATE (50)/s; ends with the bench-e2e: summary line.
	$(call bench_plane,$(BENCH_E2E_DIR),--n $(or $(N),1000) --rate-limit $(RATE) --provider-args "$(call PROVIDER_ARGS,$(or $(N),1000))")

.PHONY: soak
soak: ## Whole loop under faults (20% 5xx, 5% hung, 2% lost responses): N (500) composites created, updated, deleted; ends with the soak: summary line.
	$(call bench_plane,$(SOAK_DIR),--soak --n $(or $(N),500) --rate-limit $(RATE) --provider-args "$(call PROVIDER_ARGS,$(or $(N),500))")

# The same N streams through the native and the terraform backend, one
# after the other, on one control plane (started with --terraform) and
# simulator: Auth0 calls per poll, M2M tokens per hour, apply to Ready, CPU
# and RSS of our provider and of provider-terraform with its terraform
# processes (docs/performance.md, "Native and terraform backends").
# WINDOW (e.g. 3m) counts the steady state over that long instead of one
# poll of each provider. Both providers poll every BACKENDS_POLL (5m, as a
# user would size either for 100 streams; the plane's own test polls are
# 10s): ours with its delivery-health poll at the same interval,
# provider-terraform with a jitter of a thirtieth (its default is 1m on a
# 10m poll).
BACKENDS_POLL ?= 5m
BENCH_BACKENDS_DIR ?= _output/bench-backends
.PHONY: bench-backends
bench-backends: ## Both backends side by side: N (100) Auth0EventStreams through each on one control plane; prints a table and the bench-backends: summary line.
	$(call bench_plane,$(BENCH_BACKENDS_DIR),--backend both --n $(or $(N),100) --rate-limit $(RATE) $(if $(WINDOW),--window $(WINDOW)) --provider-args "--poll=$(BACKENDS_POLL) --delivery-poll=$(BACKENDS_POLL)" --terraform-args "--poll=$(BACKENDS_POLL) --poll-jitter=10s",--terraform)

.PHONY: bench-smoke
bench-smoke: ## Small versions of bench-e2e, soak and bench (N=20) so they cannot rot; fails on duplicates, leaks or secrets in logs, never on times.
	$(MAKE) bench-e2e N=$(or $(N),20)
	$(MAKE) soak N=$(or $(N),20)
	BENCH_STREAMS=$(or $(N),20) bench/run.sh

.PHONY: run-provider
run-provider: ## Run the provider out of cluster against the KUBECONFIG cluster; pass flags in ARGS="...".
	go run ./cmd/provider $(ARGS)
