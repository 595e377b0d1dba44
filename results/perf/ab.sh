#!/usr/bin/env bash
# results/perf/ab.sh: two or more swarmlab binaries on one scenario, runs
# alternated (A B A B ...) so that a drift of the machine's speed hits them
# alike; prints every run's user CPU seconds, sorted, per binary, with the
# 1-minute load average at the end (one thread each: --threads 1), and
# every run's peak RSS (kB, sorted).
#
#   [THREADS=N] results/perf/ab.sh SCENARIO ROUNDS LABEL=BINARY[@T] [LABEL=BINARY[@T] ...]
#
# THREADS (default 1) sets --threads; BINARY@T runs that entry on T threads
# instead (so one thread and two alternate in one set). Where any entry
# runs more than one thread the wall times (elapsed s) are printed too,
# sorted the same way, one line each.
set -euo pipefail
sc=${1:?SCENARIO}
rounds=${2:?ROUNDS}
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A runs walls rss
multi=
for r in $(seq "$rounds"); do
    for lb in "$@"; do
        label=${lb%%=*} bin=${lb#*=} t=${THREADS:-1}
        case $bin in *@*) t=${bin##*@} bin=${bin%@*} ;; esac
        [ "$t" = 1 ] || multi=1
        /usr/bin/time -f "%U %e %M" -o "$tmp/t" "$bin" run "$sc" --out "$tmp/out-$label" --threads "$t" -q >/dev/null 2>&1
        read -r user wall kb <"$tmp/t"
        runs[$label]="${runs[$label]:-} $user"
        rss[$label]="${rss[$label]:-} $kb"
        walls[$label]="${walls[$label]:-} $wall"
    done
done
echo "# $(date -u +%FT%TZ) $sc, $rounds rounds, --threads ${THREADS:-1} unless @T, user CPU s sorted; load1 $(cut -d' ' -f1 /proc/loadavg)"
for lb in "$@"; do
    label=${lb%%=*}
    echo "$label: $(echo ${runs[$label]} | tr ' ' '\n' | sort -n | tr '\n' ' ')"
    echo "$label peak RSS kB: $(echo ${rss[$label]} | tr ' ' '\n' | sort -n | tr '\n' ' ')"
    if [ -n "$multi" ]; then
        echo "$label wall: $(echo ${walls[$label]} | tr ' ' '\n' | sort -n | tr '\n' ' ')"
    fi
done
first=${1%%=*}
for lb in "${@:2}"; do
    label=${lb%%=*} same=yes
    for f in peers.csv summary.csv timeseries.csv; do cmp -s "$tmp/out-$first/$f" "$tmp/out-$label/$f" || same=no; done
    echo "$label outputs same as $first: $same"
done
