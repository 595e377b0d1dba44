#!/usr/bin/env bash
# Runs the committed validate scenarios (release build); each prints its table
# and writes results/validate/<name>/. mesh-50 and mesh-50-churn run twice to
# show the run-to-run spread of the real side (the simulator side is exact).
set -u
cd "$(dirname "$0")/../.."
B=target/release/swarmlab
run() { # name, args...
  local name=$1; shift
  echo "== $name: load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "wall %e s, user %U s, sys %S s" $B validate "$@" --out results/validate/$name 2>&1 | grep -v '^simulating\|^running'
  echo "exit: ${PIPESTATUS[0]}"
}
run mesh-50 scenarios/validate/mesh-50.toml
run mesh-50-run2 scenarios/validate/mesh-50.toml
run mesh-50-churn scenarios/validate/mesh-50-churn.toml
run mesh-50-churn-run2 scenarios/validate/mesh-50-churn.toml
run mesh-50-tree-push scenarios/validate/mesh-50.toml --protocol tree-push
run mesh-50-hybrid scenarios/validate/mesh-50.toml --protocol hybrid
# Kernel shaping (Linux, root, ip/tc/nft): run separately, see README.md.
# run mesh-50-netns scenarios/validate/mesh-50.toml --netns
