#!/usr/bin/env bash
# Reference runs: wall time and engine events per second for the quickstart
# and the 2,000-peer scenario, with the machine, commit and command that
# produced them. Writes results/reference/runs.csv and prints it.
#   bash results/reference/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked >/dev/null 2>&1
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
commit=$(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!results' || echo "-dirty")
out=results/reference/runs.csv
echo "scenario,seed,simulated_s,wall_s,events,events_per_s,max_rss_kb,continuity_pooled,lag_p50_s,machine,cores,commit,command" > "$out"
for s in quickstart mesh-2000-churn; do
    cmd="target/release/swarmlab run scenarios/$s.toml --out target/reference/$s"
    err=$( { /usr/bin/time -f "RSS %M" $cmd >/dev/null; } 2>&1 )
    line=$(echo "$err" | grep "events/s")
    sim=$(echo "$line" | sed -n 's/simulated \([0-9.]*\) s in.*/\1/p')
    wall=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s of wall.*/\1/p')
    ev=$(echo "$line" | sed -n 's/.*time: \([0-9]*\) events.*/\1/p')
    rss=$(echo "$err" | sed -n 's/^RSS //p')
    eps=$(python3 -c "print(round($ev / $wall))")
    cont=$(grep ',continuity_pooled,' target/reference/$s/summary.csv | cut -d, -f5)
    lag=$(grep ',lag_p50,' target/reference/$s/summary.csv | cut -d, -f5)
    seed=$(grep ',continuity_pooled,' target/reference/$s/summary.csv | cut -d, -f3)
    echo "$s,$seed,$sim,$wall,$ev,$eps,$rss,$cont,$lag,\"$cpu\",$cores,$commit,\"$cmd\"" >> "$out"
done
cat "$out"
