#!/usr/bin/env bash
# results/perf/layout.sh: client-server on two threads with the source's
# part holding fewer other nodes (the weighted layout, analysis/src/layout.rs,
# as committed in 97a2687 with an assumed source share of 0.25), at several
# assumed source shares, and where each part's time goes (a diagnostic, not
# part of swarmlab). Client-server's share is 0.2 since, chosen from this.
#
#   results/perf/layout.sh [ROUNDS]    # writes results/perf/layout.txt
#
# Builds commit 97a2687 with layout-diag.patch applied in a temporary
# worktree: DIAG_SHARE=h overrides the family's source share (0: the stride
# layout, node id in part id % 2, the source, node 1, in part 1; h > 0: the
# source in part 0 with a share w = (1 - 2h) / (2 (1 - h)) of the other
# nodes), and `swarmlab run` prints a DIAG line: each part's wall seconds
# spent waiting at the window barrier, its nodes and its events. Runs the
# 100,000-peer client-server scale file (600 simulated s): once on one
# thread, then ROUNDS (default 3) rounds alternating the shares on two
# threads. Each line: share, wall s, user s, system s, then the DIAG line.
# A part's busy time is about the wall minus its barrier wait.
set -euo pipefail
cd "$(dirname "$0")/../.."
. results/perf/lib.sh
root=$(pwd)
rounds=${1:-3}
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$wt"' EXIT
git worktree add -q --detach "$wt" 97a2687
(cd "$wt" && git apply "$root/results/perf/layout-diag.patch" && cargo build --release --locked -q)
bin=$wt/target/release/swarmlab
scale_scenario client-server 100000 "$wt/cs.toml"
out=results/perf/layout.txt
run() { # threads share
    DIAG_SHARE=$2 /usr/bin/time -f "%e %U %S" -o "$wt/t" "$bin" run "$wt/cs.toml" --out "$wt/out" --threads "$1" -q >/dev/null 2>"$wt/err"
    echo "threads $1 share $2 wall,user,sys $(cat "$wt/t") $(grep '^DIAG' "$wt/err")"
}
{
    echo "# results/perf/layout.sh $rounds at $(git rev-parse --short HEAD) (binary: 97a2687 + layout-diag.patch), $(date -u +%FT%TZ), load $(cut -d' ' -f1 /proc/loadavg)"
    run 1 0
    for r in $(seq "$rounds"); do
        for h in 0 0.15 0.2 0.25; do run 2 "$h"; done
    done
    echo "# finished $(date -u +%FT%TZ), load $(cut -d' ' -f1 /proc/loadavg)"
} | tee "$out"
