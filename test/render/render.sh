#!/usr/bin/env bash
# Renders an Auth0EventStream with the real `crossplane render` and this
# repository's function, run as a local process (the Development runtime of
# example/functions.yaml). Nothing needs a cluster or Docker.
#
#   test/render/render.sh XR.yaml [OBSERVED.yaml|DIR]
#
# FN_ADDR (default 127.0.0.1:9443) is where the function listens.
set -euo pipefail
cd "$(dirname "$0")/../.."
xr=${1:?usage: render.sh XR.yaml [OBSERVED]}
observed=${2:-}
addr=${FN_ADDR:-127.0.0.1:9443}

crank=$(hack/build-tool.sh crank)
mkdir -p _output/bin
go build -o _output/bin/function-auth0-eventstream .
_output/bin/function-auth0-eventstream --insecure --address="$addr" --metrics-address= 2>_output/bin/function.log &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT

# Wait until the function listens.
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then break; fi
  kill -0 $pid 2>/dev/null || { cat _output/bin/function.log >&2; exit 1; }
  sleep 0.1
done

# The legacy flavour's composite has its own XRD and Composition.
if grep -q '^kind: XAuth0EventStream' "$xr"; then
  composition=package/configuration-legacy/composition.yaml xrd=package/configuration-legacy/definition.yaml
else
  composition=example/composition.yaml xrd=package/configuration/definition.yaml
fi
# The Secrets the examples reference (example/secrets.yaml) are what the
# function may require: it composes a stream that reads a Secret only when
# the Secret offers itself (its label).
"$crank" render "$xr" "$composition" example/functions.yaml \
  --xrd="$xrd" --include-function-results --required-resources=example/secrets.yaml \
  --function-annotations=render.crossplane.io/runtime-development-target="$addr" \
  ${observed:+--observed-resources="$observed"}
