#!/usr/bin/env bash
# results/perf/memtrim.sh: peak RSS and CPU with and without src/memtrim.rs
# (a module of commit 2d3917d, reverted: it did not lower the peak; see
# results/perf/README.md, "malloc_trim between steps"; BIN must be a build of 2d3917d)
# (malloc_trim between the run's steps), one binary, side by side.
#
#   results/perf/memtrim.sh BIN ROUNDS THREADS FAMILY:PEERS...
#
# FAMILY:PEERS is scenarios/scale/FAMILY.toml with `count = PEERS` and
# `arrival_rate_per_s = PEERS / 600`, as results/perf/threads.sh makes it
# (600 simulated s). For each round and scenario: BIN with trimming on (the default), then with
# SWARMLAB_MALLOC_TRIM=0, each under /usr/bin/time (wall, user and system
# CPU, peak RSS), the 1-minute load average before and after; then the
# outputs (summary, peers, timeseries) of the two settings are compared.
# Prints one line per run (results/perf/memtrim-*.txt keep them).
set -uo pipefail
bin=${1:?BIN}
rounds=${2:?ROUNDS}
threads=${3:?THREADS}
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# $(date -u +%FT%TZ) bin=$bin threads=$threads rounds=$rounds"
cd "$(dirname "$0")/../.."
. results/perf/lib.sh
for spec in "$@"; do
    f=${spec%%:*} n=${spec#*:}
    scale_scenario "$f" "$n" "$tmp/$f-$n.toml"
done
for r in $(seq "$rounds"); do
    for spec in "$@"; do
        sc=$tmp/${spec%%:*}-${spec#*:}.toml
        for v in on off; do
            l0=$(cut -d' ' -f1 /proc/loadavg)
            out=$tmp/$(basename "$sc" .toml)-$v
            rm -rf "$out"
            if [ "$v" = on ]; then unset SWARMLAB_MALLOC_TRIM; else export SWARMLAB_MALLOC_TRIM=0; fi
            /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$bin" run "$sc" --out "$out" --threads "$threads" -q >/dev/null || exit 1
            read -r wall user sys rss <"$tmp/time"
            echo "round=$r $(basename "$sc") trim=$v wall_s=$wall user_s=$user sys_s=$sys peak_rss_kb=$rss load1=$l0,$(cut -d' ' -f1 /proc/loadavg) at=$(date -u +%T)"
        done
        same=yes
        for f in peers summary timeseries; do
            cmp -s "$tmp/$(basename "$sc" .toml)-on/$f.csv" "$tmp/$(basename "$sc" .toml)-off/$f.csv" || same=no
        done
        echo "round=$r $(basename "$sc") outputs_identical=$same"
    done
done
