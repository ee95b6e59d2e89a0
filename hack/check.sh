#!/usr/bin/env bash
# Every test and check, as CI runs them (make check, .ci/run): a fresh
# machine needs only Go, gcc and git; the Makefile builds every tool the
# tests need (cached by version). Each step prints its time;
# docs/development.md has the figures of a cold run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { # command...
  local s=$SECONDS rc=0
  "$@" || rc=$?
  echo "check: $* took $((SECONDS - s))s$([[ $rc == 0 ]] || echo ", FAILED ($rc)")"
  return $rc
}

# The tools the control planes and the tests run, side by side. The lint
# lane builds golangci-lint itself, while the end-to-end tests wait.
step hack/build-tools.sh terraform-provider-auth0 kubernetes tofu promtool crossplane provider-terraform etcd registry
# Before the planes start: it rewrites the generated files in place.
step make generate-check

# The end-to-end tests (both API flavours' control planes side by side,
# then the N=20 bench-e2e and soak on one of them) mostly wait for
# Crossplane and the provider; lint (with golangci-lint's build) and the
# unit and integration tests, which mostly compute, run beside them. The
# small provider benchmark follows the tests: like bench-e2e and soak, it fails on duplicates, leaks
# or secrets in logs, never on times.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
(
  rc=0
  step make e2e E2E_BENCH_N=20 || rc=$?
  echo "$rc" >"$logs/e2e"
) &
e2e=$!
(
  rc=0
  { step make lint && step make test && step make bench BENCH_STREAMS=20; } || rc=$?
  echo "$rc" >"$logs/checks"
)
wait "$e2e" || true

rc=0
for lane in checks e2e; do
  r=$(cat "$logs/$lane" 2>/dev/null || echo 1)
  [[ $r == 0 ]] || { echo "check: $lane failed"; rc=1; }
done
echo "check: done in $((SECONDS - start))s"
exit $rc
