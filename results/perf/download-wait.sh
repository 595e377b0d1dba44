#!/usr/bin/env bash
# results/perf/download-wait.sh: how long messages wait at their receiver's
# download link in the engine's model, and how much of it is behind a
# message whose first bit arrived later (a diagnostic, not part of swarmlab).
#
#   results/perf/download-wait.sh    # writes results/perf/download-wait.txt
#
# Builds this tree with download-wait.patch applied (counters in
# `Part::arrive`, printed by `swarmlab run` as a DIAG line; outputs
# unchanged) in a temporary worktree, and runs: scenarios/validate/dyn-50.toml
# as mesh-pull and as tree-push, the quickstart, and the 10,000-peer
# mesh-pull scale file for 240 simulated s, each on one thread.
# Columns of a DIAG line: messages handed to a download link; those that
# waited (delivered later than the same message on an idle download link,
# `max(up_end + L, up_start + L + B*8/down)`), their share, the mean wait over
# all messages; those that waited behind a message whose first bit arrived
# later (`up_start + L` greater: the link serves in the order messages are
# handed to it, `(upload end, sender)` per window, not in arrival order),
# their share and their wait per message (over all messages); the same
# waiting figures for chunks.
set -euo pipefail
cd "$(dirname "$0")/../.."
. results/perf/lib.sh
root=$(pwd)
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$wt"' EXIT
git worktree add -q --detach "$wt" HEAD
(cd "$wt" && git apply "$root/results/perf/download-wait.patch" && cargo build --release --locked -q)
bin=$wt/target/release/swarmlab
sed 's/^name = "mesh-pull"$/name = "tree-push"/' scenarios/validate/dyn-50.toml >"$wt/tree-push-dyn-50.toml"
scale_scenario mesh-pull 10000 "$wt/mp.toml"
sed -i 's/^duration_s = .*/duration_s = 240/' "$wt/mp.toml"
out=results/perf/download-wait.txt
{
    echo "# results/perf/download-wait.sh at $(git rev-parse --short HEAD), $(date -u +%FT%TZ), load $(cut -d' ' -f1 /proc/loadavg)"
    for sc in scenarios/validate/dyn-50.toml "$wt/tree-push-dyn-50.toml" scenarios/quickstart.toml "$wt/mp.toml"; do
        case $sc in
            */tree-push-dyn-50.toml) name="dyn-50 as tree-push" ;;
            */mp.toml) name="scale mesh-pull, 10,000 peers x 240 s" ;;
            *) name=$sc ;;
        esac
        echo "$name: $("$bin" run "$sc" --out "$wt/out" --threads 1 2>&1 | grep '^DIAG')"
    done
} >"$out"
cat "$out"
