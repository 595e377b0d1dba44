#!/usr/bin/env bash
# results/perf/threads.sh: the multi-core engine side by side with the
# single-threaded engine it replaced (issue 19), on the scale scenarios.
#
#   results/perf/threads.sh BEFORE_BIN PEERS FAMILIES [THREADS] [DURATION_S]
#
#   BEFORE_BIN  a swarmlab binary of the commit before the change (its commit in
#               the environment variable BEFORE_COMMIT; built with
#               `git worktree add /tmp/before <commit> && cargo build --release`);
#               `-` skips it. A BEFORE binary that has `--threads` (issue 19's
#               engine and later) needs BEFORE_THREADS=1 (else it uses every
#               core); binaries before it run one thread anyway.
#   PEERS       populations, comma-separated (e.g. 10000)
#   FAMILIES    scenarios/scale/<family>.toml to run, comma-separated
#   THREADS     thread counts of this tree's binary (default 1,2)
#   DURATION_S  simulated seconds (default: the scenario's, 600)
#
# For each population and family, one after the other on the same machine
# within minutes: the BEFORE binary, then target/release/swarmlab with each
# thread count. Each run is measured by /usr/bin/time (wall, user and system
# CPU, peak RSS); the 1-minute load average is read before and after. The
# outputs (peers.csv, summary.csv, timeseries.csv) of every thread count are
# compared with the one-thread run (they must be byte-identical: `same_as_1`)
# and with the BEFORE run (`same_as_before`: the canonical order of
# same-nanosecond ties changed, so they may differ). Rows are appended to
# results/perf/threads.csv.
set -uo pipefail
cd "$(dirname "$0")/../.."
. results/perf/lib.sh
before=${1:?BEFORE_BIN}
IFS=, read -ra peers <<<"${2:?PEERS}"
IFS=, read -ra families <<<"${3:?FAMILIES}"
IFS=, read -ra threads <<<"${4:-1,2}"
duration=${5:-}
csv=results/perf/threads.csv
[ -f "$csv" ] || echo "commit,binary,family,peers,sim_s,threads,wall_s,user_s,sys_s,cpu_s,peak_rss_kb,events,same_as_1,same_as_before,load1_before,load1_after" >"$csv"
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!results' || echo -dirty)
before_commit=${BEFORE_COMMIT:-unknown}  # the BEFORE binary cannot tell its commit: set BEFORE_COMMIT
cargo build --release --locked -q || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load() { cut -d' ' -f1 /proc/loadavg; }
for n in "${peers[@]}"; do
    for f in "${families[@]}"; do
        sc=$tmp/$f-$n.toml
        scale_scenario "$f" "$n" "$sc"
        if [ -n "$duration" ]; then sed -i "s/^duration_s = .*/duration_s = $duration/" "$sc"; fi
        sim_s=$(awk -F' *= *' '/^duration_s/ { print $2; exit }' "$sc")
        runs=()
        [ "$before" = - ] || runs+=("before:${BEFORE_THREADS:-1}")
        for t in "${threads[@]}"; do runs+=("after:$t"); done
        for r in "${runs[@]}"; do
            kind=${r%%:*} t=${r#*:}
            out=$tmp/out-$kind-$t
            rm -rf "$out"
            if [ "$kind" = before ]; then
                cmd=("$before" run "$sc" --out "$out")
                # A BEFORE binary with the multi-core engine defaults to every core.
                [ -z "${BEFORE_THREADS:-}" ] || cmd+=(--threads "$BEFORE_THREADS")
                c=$before_commit
            else
                cmd=(target/release/swarmlab run "$sc" --out "$out" --threads "$t")
                c=$commit
            fi
            l0=$(load)
            /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "${cmd[@]}" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
            l1=$(load)
            read -r wall user sys rss <"$tmp/time"
            events=$(grep -o '[0-9]\+ events' "$tmp/err" | head -1 | cut -d' ' -f1)
            same() { [ -d "$1" ] || { echo; return; }; cmp -s "$1/peers.csv" "$out/peers.csv" && cmp -s "$1/summary.csv" "$out/summary.csv" && cmp -s "$1/timeseries.csv" "$out/timeseries.csv" && echo yes || echo no; }
            s1=$( [ "$kind" = after ] && same "$tmp/out-after-1")
            sb=$( [ "$kind" = after ] && same "$tmp/out-before-${BEFORE_THREADS:-1}")
            cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
            echo "$c,$kind,$f,$n,$sim_s,$t,$wall,$user,$sys,$cpu,$rss,$events,$s1,$sb,$l0,$l1" | tee -a "$csv"
        done
    done
done
