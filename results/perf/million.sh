#!/usr/bin/env bash
# results/perf/million.sh: one family at 1,000,000 peers x 600 simulated s
# (issue 19's bytes per peer at 10^6), with its resident memory logged.
#
#   results/perf/million.sh FAMILY [THREADS]
#
# Runs `results/perf/threads.sh - 1000000 FAMILY THREADS` (default 2
# threads; it builds target/release and appends a row to threads.csv) and,
# every 30 s while the simulation runs, appends VmHWM (peak RSS) and VmRSS
# from /proc/PID/status, the process's user+system CPU seconds and the
# 1-minute load average to results/perf/million-FAMILY-<commit>-rss.log.
# Such a run takes one to three hours of both cores and 5-15 GB: give it the
# machine.
set -uo pipefail
cd "$(dirname "$0")/../.."
family=${1:?FAMILY}
threads=${2:-2}
peers=${PEERS:-1000000}  # PEERS=1000 tries the script in seconds
commit=$(git rev-parse --short HEAD)
log=results/perf/million-$family-$commit-rss.log
[ "$peers" = 1000000 ] || log=$(mktemp)
{
    echo "# $peers-peer $family, 600 simulated s, --threads $threads: resident memory of the running process, every 30 s"
    echo "# command: PEERS=$peers results/perf/million.sh $family $threads (results/perf/threads.sh - $peers $family $threads; binary of $commit); started $(date -u '+%H:%M UTC, %F')"
    echo "# columns: time (UTC), VmHWM and VmRSS (kB), user+system CPU seconds, 1-minute load average"
} >"$log"
results/perf/threads.sh - "$peers" "$family" "$threads" &
runner=$!
tick=$(getconf CLK_TCK)
while kill -0 "$runner" 2>/dev/null; do
    pid=$(pgrep -f "^target/release/swarmlab run .*/$family-$peers.toml" | head -1)
    if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
        hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
        cpu=$(awk -v t="$tick" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$pid/stat")
        echo "$(date -u +%T) $hwm $rss $cpu $(cut -d' ' -f1 /proc/loadavg)" >>"$log"
    fi
    sleep 30
done
wait "$runner"
rc=$?
if [ "$rc" = 0 ]; then
    echo "# finished at $(date -u +%T), threads.sh exit status 0; the row is the last of results/perf/threads.csv" >>"$log"
else
    echo "# finished at $(date -u +%T), threads.sh exit status $rc: the run failed or was stopped, no row in results/perf/threads.csv" >>"$log"
fi
[ "$peers" = 1000000 ] || cat "$log"
exit "$rc"
