#!/usr/bin/env bash
# results/perf/layout-ab.sh: client-server, 100,000 peers x 600 simulated s,
# the stride layout (18486c7: node id in part id % 2) against the weighted
# layout (0de8c51: the source's part holds fewer other nodes,
# analysis/src/layout.rs) on two threads, and the weighted commit on one
# thread, alternated by results/perf/ab.sh. Writes results/perf/layout-ab.txt.
#
#   [ROUNDS=3] [STRIDE_BIN=...] [WEIGHTED_BIN=...] results/perf/layout-ab.sh
#
# Without STRIDE_BIN / WEIGHTED_BIN the two commits are built in temporary
# worktrees (cargo build --release --locked).
set -euo pipefail
cd "$(dirname "$0")/../.."
. results/perf/lib.sh
tmp=$(mktemp -d)
trap 'for w in "$tmp"/wt-*; do git worktree remove --force "$w" >/dev/null 2>&1 || true; done; rm -rf "$tmp"' EXIT
build() { # commit -> binary path
    git worktree add -q --detach "$tmp/wt-$1" "$1"
    (cd "$tmp/wt-$1" && cargo build --release --locked -q)
    echo "$tmp/wt-$1/target/release/swarmlab"
}
stride=${STRIDE_BIN:-$(build 18486c7)}
weighted=${WEIGHTED_BIN:-$(build 0de8c51)}
scale_scenario client-server 100000 "$tmp/cs.toml"
{
    echo "# results/perf/layout-ab.sh (ROUNDS=${ROUNDS:-3}) at $(git rev-parse --short HEAD): stride = 18486c7, weighted and one = 0de8c51; scale client-server 100,000 peers x 600 s"
    results/perf/ab.sh "$tmp/cs.toml" "${ROUNDS:-3}" stride="$stride@2" weighted="$weighted@2" one="$weighted@1"
} | tee results/perf/layout-ab.txt
