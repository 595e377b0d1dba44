#!/usr/bin/env bash
# Where each family stands (issue 15): for every family and mode, the
# committed runs of the current code (listed below with the reason they
# count as current), pooled into one verdict by pool.sh, with the seed count
# the pool was planned for and the stand-ins' chance to pass at that count
# (placebo.txt's n80 reasoning: how often a simulator draw standing in for
# the real run passes). Writes standing.md; reads committed files only
# (seconds).
#
# Usage: bash results/validate/standing.sh   (writes results/validate/standing.md)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
out=$R/standing.md
tmp=.standing.tmp
trap 'rm -f "$R/$tmp"' EXIT

# commits RUN...: the distinct commits in the runs' manifests (8 hex digits, -dirty kept).
commits() {
    local r
    for r in "$@"; do
        sed -n 's/^git_commit = "\([0-9a-f]\{8\}\)[0-9a-f]*\(-dirty\)\{0,1\}"$/\1\2/p' "$R/$r/manifest.toml"
    done | awk '!seen[$0]++' | paste -sd' ' - | sed 's/ /, /g'
}

# row FAMILY MODE WHY RUN...: one table row (pooled over the runs).
row() {
    local fam=$1 mode=$2 why=$3 r line seeds cont lag verdict
    shift 3
    for r in "$@"; do
        if [ ! -f "$R/$r/validate.txt" ]; then
            echo "| $fam | $mode | $(printf '`%s` ' "$@")| - | not run yet (\`$r\`) | | | | $why |"
            return
        fi
    done
    bash "$R/pool.sh" "$tmp" "$@" > /dev/null
    line=$(grep '^pooled ' "$R/$tmp")
    seeds=$(echo "$line" | awk '{ print $2 }')
    cont=$(echo "$line" | sed 's/.*continuity \([^]]*\]\).*/\1/')
    lag=$(echo "$line" | sed 's/.*lag \([^]]*\]\).*/\1/')
    verdict=$(echo "$line" | awk -F'|' '{ gsub(/ /, "", $NF); print $NF }')
    echo "| $fam | $mode | $(printf '`%s` ' "$@")| $seeds | $cont | $lag | **$verdict** | $(commits "$@") | $why |"
}

HO="the kernel path of session 26 (a message at a time to the kernel)"
TS="loopback unchanged since session 23 (later changes: the kernel path, and a mesh refactor with byte-identical outputs)"
CUR="session 27's code"
{
    echo "# Where each family stands (results/validate/standing.sh; generated)"
    echo
    echo "Per family and mode, the committed runs of the current code pooled into one verdict (pool.sh: per-seed difference real -"
    echo "mean of the simulator's 20 draws, 90% t interval, continuity +-0.02, lag +-15%). A pool's seed count was fixed before its"
    echo "runs (run.sh's sections say how); a pool of several runs is judged here once, at that count."
    echo
    echo "| family | mode | runs | seeds | continuity d [interval] | lag d [interval] | verdict | commits | why these runs |"
    echo "|---|---|---|---|---|---|---|---|---|"
    row mesh-pull "--netns" "$HO" netns20ho-dyn-50-mesh-pull
    row tree-push "--netns" "$HO; 60 seeds planned (placebo n80)" netns20ho-dyn-50-tree-push netns20bho-dyn-50-tree-push netns20cho-dyn-50-tree-push
    row SplitStream "--netns" "$HO; 40 seeds planned (placebo n80)" netns20ho-dyn-50-splitstream netns20bho-dyn-50-splitstream
    row treebone "--netns" "$HO" netns20ho-dyn-50-treebone
    row pull-push "--netns" "$HO" netns20ho-dyn-50-pull-push
    row client-server "--netns" "$HO" netns20ho-dyn-50-client-server
    row random-push "--netns" "$HO; 60 seeds planned (placebo n80), the pool's second look (the first, at 28, INCONCLUSIVE)" netns20ho-dyn-50-random-push netns8bho-dyn-50-random-push netns32cho-dyn-50-random-push
    row cdn-p2p "--netns" "$HO" netns20ho-dyn-50-cdn-p2p
    row mesh-pull loopback "$CUR" loop20cur-dyn-50-mesh-pull
    row tree-push loopback "$TS; 40 seeds" loop20ts-dyn-50-tree-push loop20bts-dyn-50-tree-push
    row SplitStream loopback "$TS; 65 seeds planned in session 25" loop20ts-dyn-50-splitstream loop20bts-dyn-50-splitstream loop25cts-dyn-50-splitstream
    row treebone loopback "$CUR" loop20cur-dyn-50-treebone
    row pull-push loopback "$CUR" loop20cur-dyn-50-pull-push
    row client-server loopback "$CUR" loop20cur-dyn-50-client-server
    row random-push loopback "$CUR; 60 seeds planned (placebo n80 54)" loop20cur-dyn-50-random-push loop20bcur-dyn-50-random-push loop20ccur-dyn-50-random-push
    row cdn-p2p loopback "$CUR" loop20cur-dyn-50-cdn-p2p
} > "$out"
cat "$out"
