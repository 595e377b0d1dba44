#!/usr/bin/env bash
# results/perf/alloc-ab.sh: one binary under several allocator settings
# (environment variables), side by side: peak RSS and CPU.
#
#   results/perf/alloc-ab.sh BIN ROUNDS THREADS 'LABEL=VAR=VALUE,...' ... -- FAMILY:PEERS...
#
# A setting is a label and the environment it runs with, e.g.
# 'default=' (nothing set) or 'arena1=GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1'
# (one VAR=VALUE; a setting of GLIBC_TUNABLES replaces the huge-page
# tunable the binary would set itself, src/hugepages.rs, so name it again).
# FAMILY:PEERS is scenarios/scale/FAMILY.toml with `count = PEERS` and
# `arrival_rate_per_s = PEERS / 600` (600 simulated s), as
# results/perf/threads.sh makes it. For each round and scenario, every
# setting in turn under /usr/bin/time (wall, user and system CPU, peak
# RSS) with the 1-minute load average before and after; then the outputs
# (summary, peers, timeseries) of every setting are compared with the first.
set -uo pipefail
bin=${1:?BIN}
rounds=${2:?ROUNDS}
threads=${3:?THREADS}
shift 3
settings=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do settings+=("$1"); shift; done
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$(dirname "$0")/../.."
. results/perf/lib.sh
echo "# $(date -u +%FT%TZ) bin=$bin threads=$threads rounds=$rounds settings: ${settings[*]}"
for spec in "$@"; do
    f=${spec%%:*} n=${spec#*:}
    scale_scenario "$f" "$n" "$tmp/$f-$n.toml"
done
for r in $(seq "$rounds"); do
    for spec in "$@"; do
        name=${spec%%:*}-${spec#*:}
        for s in "${settings[@]}"; do
            label=${s%%=*} envset=${s#*=}
            out=$tmp/$name-$label
            rm -rf "$out"
            l0=$(cut -d' ' -f1 /proc/loadavg)
            env $envset /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$bin" run "$tmp/$name.toml" --out "$out" --threads "$threads" -q >/dev/null || exit 1
            read -r wall user sys rss <"$tmp/time"
            echo "round=$r $name setting=$label wall_s=$wall user_s=$user sys_s=$sys peak_rss_kb=$rss load1=$l0,$(cut -d' ' -f1 /proc/loadavg) at=$(date -u +%T)"
        done
        first=${settings[0]%%=*}
        for s in "${settings[@]:1}"; do
            same=yes
            for f in peers summary timeseries; do cmp -s "$tmp/$name-$first/$f.csv" "$tmp/$name-${s%%=*}/$f.csv" || same=no; done
            echo "round=$r $name ${s%%=*}_outputs_as_$first=$same"
        done
    done
done
