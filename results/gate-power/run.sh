#!/usr/bin/env bash
# The regression gate's power study (results/gate-power/README.md): runs the
# gate suite (scenarios/ci/*.toml) K seeds deep once per injected change,
# with the gate-power binary (examples/gate-power: swarmlab with every family
# wrapped in an injection), then replays the gate on seed subsets of those
# pools and writes power.csv, false-alarms.csv, effects.csv and power.svg here.
#
#   results/gate-power/run.sh            # K = 400 seeds per pool (about 40 min on 2 shared cores)
#   K=200 results/gate-power/run.sh      # a quicker, coarser study
#   results/gate-power/run.sh --resume   # keep the pools already complete
#
# Pools go to target/gate-power/pool/<injection>/ (baseline-format files,
# one per scenario). Rerun without --resume after any change to the code or
# the suite: the pools are then stale.
set -euo pipefail
cd "$(dirname "$0")/../.."
K=${K:-400}
POOL=target/gate-power/pool
OUT=results/gate-power
RESUME=0
case "${1:-}" in
    --resume) RESUME=1 ;;
    "") ;;
    *) echo "usage: $0 [--resume]  (K=<seeds per pool> in the environment, default 400)" >&2; exit 2 ;;
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
    echo "== $l: $K seeds per scenario"
    GATE_POWER_INJECT="$l" "$BIN" check scenarios/ci/*.toml --baseline "$d" --update --reps "$K"
    echo "$K" >"$d/complete"
done
"$BIN" study --pool "$POOL" --out "$OUT" --levels "${LEVELS[*]}" scenarios/ci/*.toml
echo "== gate-power study done in $(( $(date +%s) - start )) s (K = $K)"
