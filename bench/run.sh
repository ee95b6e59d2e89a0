#!/usr/bin/env bash
# Measures the provider binary against a real kube-apiserver/etcd (envtest)
# and the Auth0 simulator. Tunables: BENCH_STREAMS (1000),
# BENCH_PROVIDER_CONFIGS (2), BENCH_POLL (30s), BENCH_MAX_RECONCILE_RATE (50),
# BENCH_DELIVERY_POLL (BENCH_POLL), BENCH_OBSERVE_FROM_LISTS (1, the
# provider's default: observe from listings; 0: a GET per stream),
# BENCH_RATE_LIMIT (300: the simulator's limit, requests/s), BENCH_RATE_BUDGET (half of it: --auth0-rate-budget),
# BENCH_UNRELATED_SECRETS (0) and BENCH_UNRELATED_SECRET_KIB (64): Secrets
# nothing references.
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(hack/build-tool.sh envtest-assets)}"
exec go test -run '^$' -bench BenchmarkProvider -benchtime 1x -timeout 60m -v ./bench/
