#!/usr/bin/env bash
# Builds every tool hack/build-tool.sh knows, cached by version, with the
# groups that share no wrapper module built side by side: on a cold cache
# most of a build is downloading and linking, which overlap well even on
# two cores. Tools of one group share a wrapper module and are built in
# turn. Prints each tool's path and time; fails if any build failed.
#
#   hack/build-tools.sh [GROUP...]   # default: every group
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A groups=(
  [kubernetes]="kube-apiserver kube-controller-manager kubectl"
  [etcd]="etcd"
  [crossplane]="crossplane crank"
  [registry]="registry"
  [golangci-lint]="golangci-lint"
  [provider-terraform]="provider-terraform"
  [tofu]="tofu"
  [terraform-provider-auth0]="terraform-provider-auth0"
  [promtool]="promtool"
)
# Longest builds first, so they start while the short ones fill the gaps.
order=(terraform-provider-auth0 kubernetes tofu golangci-lint promtool crossplane provider-terraform etcd registry)
(($#)) && order=("$@")

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for g in "${order[@]}"; do
  [[ -n "${groups[$g]:-}" ]] || { echo "build-tools.sh: unknown group $g" >&2; exit 2; }
  (
    for t in ${groups[$g]}; do
      start=$SECONDS
      path=$(hack/build-tool.sh "$t")
      echo "$path ($((SECONDS - start))s)"
    done
  ) >"$logs/$g" 2>&1 &
  pids+=("$!:$g")
done
rc=0
for pg in "${pids[@]}"; do
  if wait "${pg%%:*}"; then
    cat "$logs/${pg#*:}"
  else
    rc=1
    echo "build-tools.sh: building ${pg#*:} failed:" >&2
    cat "$logs/${pg#*:}" >&2
  fi
done
exit $rc
