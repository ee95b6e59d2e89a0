#!/usr/bin/env bash
# Runs the end-to-end tests on a real local control plane per API flavour
# (namespaced XR, legacy claim), the two planes side by side: the tests
# mostly wait for Crossplane and the provider, so the flavours overlap on
# two cores. The namespaced plane also runs provider-terraform and the
# terraform backend's tests. Each plane is brought down at the end, passed
# or failed; its logs stay in its folder.
#
#   test/e2e/run.sh                      # both flavours
#   E2E_FLAVOURS=legacy test/e2e/run.sh  # one
#   E2E_BENCH_N=20 test/e2e/run.sh       # then make bench-e2e and make soak at N=20 on the legacy plane
#
# Output lines are prefixed with their flavour; each flavour ends with its
# time, and the run with the figures of both.
set -euo pipefail
cd "$(dirname "$0")/../.."

E2E_DIR=${E2E_DIR:-_output/e2e}
E2E_FLAVOURS=${E2E_FLAVOURS:-namespaced legacy}
E2E_BENCH_N=${E2E_BENCH_N:-}
# The legacy flavour's tests finish first (the provider's and the terraform
# backend's run on the namespaced plane only), so the benchmarks follow
# them there. Its Auth0EventStream is a claim of the same group and kind.
E2E_BENCH_FLAVOUR=${E2E_BENCH_FLAVOUR:-legacy}
# Tests of the provider, the packages and the ProviderConfigs, which do not
# involve the composite or the claim: they run on the namespaced flavour's
# plane only, every other test on both.
E2E_PROVIDER_ONLY='^(TestNamespacedProviderConfigCannotUseEnvironment|TestRuntimeConfigArgs|TestPersistentUnauthorized|TestSafety.*|TestFaultsConverge|TestUpgradeKeepsStreams|TestMissingPackageRefused)$'
# The terraform backend's tests need provider-terraform (up --terraform),
# which only the namespaced flavour's plane runs: its Workspaces are the
# same for both flavours.
E2E_TERRAFORM='^TestTerraform'
# Tests that wait (most of them) run side by side; -parallel bounds them.
E2E_PARALLEL=${E2E_PARALLEL:-16}

bin=_output/bin
mkdir -p "$bin"
# Built once, before the planes start, so the flavours do not compile the
# same packages at the same time.
go build -o "$bin/controlplane" ./test/e2e/cmd/controlplane
go test -c -tags e2e -o "$bin/e2e.test" ./test/e2e

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

flavour() { # flavour
  local f=$1 d="$E2E_DIR-$1" start=$SECONDS rc=0 tf= skip=
  [[ $f == namespaced ]] && tf=--terraform
  [[ $f == namespaced ]] || skip="$E2E_PROVIDER_ONLY|$E2E_TERRAFORM"
  trap '"$bin/controlplane" --dir "$d" down >/dev/null 2>&1; exit 130' INT TERM
  if ! "$bin/controlplane" --dir "$d" up --product --flavour "$f" $tf >/dev/null; then
    "$bin/controlplane" --dir "$d" down >/dev/null 2>&1 || true
    return 1
  fi
  echo "e2e: plane up in $((SECONDS - start))s"
  # The tests read repository files relative to their package folder.
  (cd test/e2e && "../../$bin/e2e.test" -test.v -test.count=1 -test.timeout=45m -test.parallel="$E2E_PARALLEL" -test.skip="$skip" -dir="$(realpath "../../$d")") || rc=$?
  echo "e2e: tests took $((SECONDS - start))s since the start"
  if [[ $rc == 0 && -n $E2E_BENCH_N && $f == "$E2E_BENCH_FLAVOUR" ]]; then
    # The small bench-e2e and soak on this plane, as make bench-smoke runs
    # them on planes of their own: they fail on duplicates, leaks or
    # secrets in logs, never on times.
    make --no-print-directory bench-e2e N="$E2E_BENCH_N" PLANE="$d" || rc=$?
    [[ $rc == 0 ]] && { make --no-print-directory soak N="$E2E_BENCH_N" PLANE="$d" || rc=$?; }
  fi
  "$bin/controlplane" --dir "$d" down >/dev/null || true
  echo "e2e: flavour $f took $((SECONDS - start))s"
  return $rc
}

pids=()
for f in $E2E_FLAVOURS; do
  (
    rc=0
    flavour "$f" || rc=$?
    echo "$rc" >"$logs/$f.rc"
  ) 2>&1 | sed -u "s/^/[$f] /" &
  pids+=("$!")
done
wait "${pids[@]}" || true

rc=0
for f in $E2E_FLAVOURS; do
  r=$(cat "$logs/$f.rc" 2>/dev/null || echo 1)
  echo "e2e: flavour $f: $([[ $r == 0 ]] && echo passed || echo "FAILED ($r)")"
  [[ $r == 0 ]] || rc=1
done
exit $rc
