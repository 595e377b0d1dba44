#!/usr/bin/env bash
# results/perf/ab.sh: two or more swarmlab binaries on one scenario, runs
# alternated (A B A B ...) so that a drift of the machine's speed hits them
# alike; prints every run's user CPU seconds, sorted, per binary, with the
# 1-minute load average at the end (one thread each: --threads 1).
#
#   results/perf/ab.sh SCENARIO ROUNDS LABEL=BINARY [LABEL=BINARY ...]
set -euo pipefail
sc=${1:?SCENARIO}
rounds=${2:?ROUNDS}
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A runs
for r in $(seq "$rounds"); do
    for lb in "$@"; do
        label=${lb%%=*} bin=${lb#*=}
        /usr/bin/time -f "%U" -o "$tmp/t" "$bin" run "$sc" --out "$tmp/out-$label" --threads 1 -q >/dev/null 2>&1
        runs[$label]="${runs[$label]:-} $(cat "$tmp/t")"
    done
done
echo "# $(date -u +%FT%TZ) $sc, $rounds rounds, user CPU s sorted; load1 $(cut -d' ' -f1 /proc/loadavg)"
for lb in "$@"; do
    label=${lb%%=*}
    echo "$label: $(echo ${runs[$label]} | tr ' ' '\n' | sort -n | tr '\n' ' ')"
done
