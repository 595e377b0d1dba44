#!/usr/bin/env bash
# Reference runs: wall time and engine events per second for the quickstart
# and the 2,000-peer scenario, with the machine, commit and command that
# produced them. Writes results/reference/runs.csv and prints it.
#   bash results/reference/run.sh
# results/regenerate.sh sets REFERENCE_OUT=FILE to write FILE instead, and
# SWARMLAB_NO_BUILD=1 to skip the build it has already done.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${SWARMLAB_NO_BUILD:-}" = 1 ] || cargo build --release --locked >/dev/null 2>&1
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
commit=$(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!results' || echo "-dirty")
out=${REFERENCE_OUT:-results/reference/runs.csv}
mkdir -p "$(dirname "$out")"
# Peak RSS needs GNU time (Debian package `time`); without it max_rss_kb is empty.
timed() { if [ -x /usr/bin/time ]; then /usr/bin/time -f "RSS %M" "$@"; else "$@"; fi; }
echo "scenario,seed,simulated_s,wall_s,events,events_per_s,max_rss_kb,continuity_pooled,lag_p50_s,machine,cores,commit,command" > "$out"
for s in quickstart mesh-2000-churn; do
    cmd="target/release/swarmlab run scenarios/$s.toml --out target/reference/$s"
    err=$( { timed $cmd >/dev/null; } 2>&1 )
    line=$(echo "$err" | grep "events/s")
    sim=$(echo "$line" | sed -n 's/simulated \([0-9.]*\) s in.*/\1/p')
    wall=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s of wall.*/\1/p')
    ev=$(echo "$line" | sed -n 's/.*time: \([0-9]*\) events.*/\1/p')
    rss=$(echo "$err" | sed -n 's/^RSS //p')
    eps=$(awk -v e="$ev" -v w="$wall" 'BEGIN { printf "%.0f", e / w }')
    cont=$(grep ',continuity_pooled,' target/reference/$s/summary.csv | cut -d, -f5)
    lag=$(grep ',lag_p50,' target/reference/$s/summary.csv | cut -d, -f5)
    seed=$(grep ',continuity_pooled,' target/reference/$s/summary.csv | cut -d, -f3)
    echo "$s,$seed,$sim,$wall,$ev,$eps,$rss,$cont,$lag,\"$cpu\",$cores,$commit,\"$cmd\"" >> "$out"
done
cat "$out"
