#!/usr/bin/env bash
# The regression gate's power study (results/gate-power/README.md): runs the
# gate suite (scenarios/ci/*.toml) FACTOR x reps seeds deep (per scenario:
# its own `reps`, the seeds one gate run uses) once per injected change,
# with the gate-power binary (examples/gate-power: swarmlab with every family
# wrapped in an injection), then replays the gate on seed subsets of those
# pools and writes power.csv, false-alarms.csv, effects.csv and power.svg here.
#
#   results/gate-power/run.sh            # FACTOR = 2: pools of 2 x reps seeds
#   FACTOR=4 results/gate-power/run.sh   # deeper pools: more disjoint gate runs, finer effects
#   results/gate-power/run.sh --resume   # keep the pools already complete
#
# Pools go to target/gate-power/pool/<injection>/ (baseline-format files,
# one per scenario). Rerun without --resume after any change to the code or
# the suite: the pools are then stale.
set -euo pipefail
cd "$(dirname "$0")/../.."
FACTOR=${FACTOR:-2}
POOL=target/gate-power/pool
OUT=results/gate-power
RESUME=0
case "${1:-}" in
    --resume) RESUME=1 ;;
    "") ;;
    *) echo "usage: $0 [--resume]  (FACTOR=<pool seeds / reps> in the environment, default 2)" >&2; exit 2 ;;
esac
LEVELS=(none neutral drop=0.005 drop=0.01 drop=0.02 drop=0.04 drop=0.08 drop=0.16 delay=0.1 delay=0.18 delay=0.25 delay=0.5 delay=1 delay=2)

cargo build --release --locked -p gate-power
BIN=target/release/gate-power
[ "$RESUME" = 1 ] || rm -rf "$POOL"
start=$(date +%s)
for l in "${LEVELS[@]}"; do
    d="$POOL/$l"
    if [ -f "$d/complete" ]; then
        echo "== $l: kept (--resume)"
        continue
    fi
    for sc in scenarios/ci/*.toml; do
        reps=$(awk -F'[= ]+' '$1 == "reps" { print $2; exit }' "$sc")
        k=$((FACTOR * reps))
        echo "== $l: $sc, $k seeds"
        GATE_POWER_INJECT="$l" "$BIN" check "$sc" --baseline "$d" --update --reps "$k"
    done
    echo "$FACTOR" >"$d/complete"
done
"$BIN" study --pool "$POOL" --out "$OUT" --levels "${LEVELS[*]}" scenarios/ci/*.toml
echo "== gate-power study done in $(( $(date +%s) - start )) s (FACTOR = $FACTOR)"
