#!/usr/bin/env bash
# Every committed `--netns` run judged against the simulator with each of
# the two link disciplines of `network.control_priority` (issue 15):
# `message` (a control message waits for the chunk in service: the
# simulator's default, and the reference of every `--netns` verdict before
# commit 04c4196) and `datagram` (control goes out between two datagrams of
# the chunk in service, whose rest waits for it: what the kernel's
# `pfifo_fast` under `tc tbf` does, and the reference of `--netns` verdicts
# since). `validate --rejudge DIR --sim-control C --out TMP`: the committed
# real records against the mean of the simulator's draws 1..=20 of each
# seed; nothing in the run directories is touched. Simulator only, about a
# minute. Writes control.txt.
#
# Usage: bash results/validate/control.sh
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
B=target/release/swarmlab
[ -x "$B" ] || { echo "build first: cargo build --release" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# line FILE METRIC: "mean [lo, hi] VERDICT" of the judged line of METRIC.
line() {
    grep -m1 "^  $2 (\?real - draws' mean" "$1" \
        | sed -E 's/.*mean ([-+][0-9.]+), interval \[([-+][0-9.]+), ([-+][0-9.]+)\] vs [^:]*: ([A-Z]+)$/\1 [\2, \3] \4/'
}
{
    echo "# --netns runs: continuity_mean real - mean of the simulator's draws 1..=20, 90% t interval, verdict of both metrics"
    echo "# with the simulator's links network.control_priority = \"message\" and = \"datagram\" (results/validate/control.sh; generated)"
    printf '%-34s %4s  %-40s %-40s\n' run reps "message: continuity d [interval] => verdict" "datagram: continuity d [interval] => verdict"
    for d in $R/*/; do
        m=$d/manifest.toml
        [ -f "$m" ] && [ -f "$d/validate.txt" ] && grep -q 'validate_mode = "netns"' "$m" || continue
        name=$(basename "$d")
        reps=$(awk -F' = ' '$1 == "validate_reps" { print $2 }' "$m")
        [ -n "$reps" ] || reps=1
        row=()
        for c in message datagram; do
            o=$tmp/$name-$c
            rc=0
            "$B" validate --rejudge "$d" --sim-control $c --sim-draws 20 --out "$o" > /dev/null 2> "$tmp/err" || rc=$?
            if [ $rc != 0 ] && [ $rc != 1 ] && [ $rc != 3 ]; then cat "$tmp/err" >&2; exit 1; fi
            v=$(grep -m1 '^  =>' "$o/rejudge.txt" | awk '{ print $2 }')
            row+=("$(line "$o/rejudge.txt" continuity_mean | awk '{ print $1, $2, $3 }') => $v")
        done
        printf '%-34s %4s  %-40s %-40s\n' "$name" "$reps" "${row[0]}" "${row[1]}"
    done
} > $R/control.txt
cat $R/control.txt
