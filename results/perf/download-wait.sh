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
# Then a bound on what the link's queue does to the metrics: the patch's
# SWARMLAB_DIAG_NO_DOWN_QUEUE=1 lets every message pass the download link as
# if it were idle (no message waits for another; not a model: a link could
# then carry more than its rate), seeds 1-10 of the quickstart and of
# dyn-50 as mesh-pull and as tree-push, paired by seed: mean of each metric
# in both settings and the mean paired difference with its standard error.
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
    echo "# seeds 1-10, standard download link vs SWARMLAB_DIAG_NO_DOWN_QUEUE=1 (idle link for every message): mean standard, mean idle, mean of (idle - standard) and its standard error"
    for sc in scenarios/quickstart.toml scenarios/validate/dyn-50.toml "$wt/tree-push-dyn-50.toml"; do
        case $sc in */tree-push-dyn-50.toml) name="dyn-50 as tree-push" ;; *) name=$sc ;; esac
        for s in $(seq 1 10); do
            "$bin" run "$sc" --seed "$s" --out "$wt/std-$s" --threads 1 -q >/dev/null 2>&1
            SWARMLAB_DIAG_NO_DOWN_QUEUE=1 "$bin" run "$sc" --seed "$s" --out "$wt/idle-$s" --threads 1 -q >/dev/null 2>&1
        done
        for k in continuity_mean lag_p50 delivery_delay_p50 delivery_delay_p95 diffusion_delay_p50; do
            for s in $(seq 1 10); do
                a=$(awk -F, -v k="$k" '$4 == k { print $5; exit }' "$wt/std-$s/summary.csv")
                b=$(awk -F, -v k="$k" '$4 == k { print $5; exit }' "$wt/idle-$s/summary.csv")
                echo "$a $b"
            done | awk -v name="$name" -v k="$k" '{ a += $1; b += $2; d = $2 - $1; sd += d; sdd += d * d; n++ }
                END { m = sd / n; se = sqrt((sdd - n * m * m) / (n - 1) / n); printf "%s %s: standard %.4f, idle download %.4f, difference %+.4f (se %.4f)\n", name, k, a / n, b / n, m, se }'
        done
    done
} >"$out"
cat "$out"
