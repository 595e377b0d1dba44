#!/usr/bin/env bash
# Tree-push's startup timeout (issue 15, session 23): the tree families on
# dyn-50 in the simulator, seeds 1-20, with two binaries side by side: the
# share of the peers that joined and never started playing, the mean and
# standard deviation over seeds of continuity_mean (the metric validate
# judges: the mean over the peers that started) and of continuity_all (every
# peer; one that never started counts as missing every chunk due from its
# join plus the startup timeout), and the medians of startup_delay_p95 and
# lag_p95. Until the fix a hole in the startup buffer started buffering
# afresh, timeout included, so a peer that found a hole in every buffer
# never played and left every continuity figure but continuity_all.
#
# Usage: bash results/validate/treestart.sh OLD_BIN OLD_COMMIT NEW_BIN NEW_COMMIT
#   (simulator only, about 10 s; writes results/validate/treestart.txt)
#   The committed file: OLD_BIN a release build of 41990dd (the parent of
#   the fix), NEW_BIN of the fix.
set -eu
cd "$(dirname "$0")/../.."
[ $# -eq 4 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
out=results/validate/treestart.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/^name = "mesh-pull"/name = "tree-push"/' scenarios/validate/dyn-50.toml > "$tmp/tree-push.toml"
cp scenarios/validate/dyn-50-splitstream.toml "$tmp/splitstream.toml"
grep -q '^name = "tree-push"' "$tmp/tree-push.toml" || { echo "dyn-50.toml: [protocol] name not found" >&2; exit 1; }
{
    echo "# Tree families on dyn-50 in the simulator, seeds 1-20 (results/validate/treestart.sh; generated)"
    echo "# never: share of the peers that joined and never started (mean over seeds); cont_mean / cont_all: mean and sd over seeds;"
    echo "# st_p95, lag_p95: medians over seeds (s)"
    printf "%-12s %-10s %6s | %7s %6s | %7s %6s | %7s %7s\n" family binary never cont_mean sd cont_all sd st_p95 lag_p95
    for fam in tree-push splitstream; do
        for which in old new; do
            if [ $which = old ]; then bin=$1 commit=$2; else bin=$3 commit=$4; fi
            for s in $(seq 1 20); do
                "$bin" run "$tmp/$fam.toml" --seed "$s" --out "$tmp/o" -q > /dev/null
                awk -F, '{v[$4]=$5} END{print 1 - v["peers_started"]/v["peers_joined"], v["continuity_mean"], v["continuity_all"], v["startup_delay_p95"], v["lag_p95"]}' "$tmp/o/summary.csv"
            done > "$tmp/rows"
            awk -v f=$fam -v c="$commit" '
                { n++; nv += $1; a += $2; aa += $2*$2; b += $3; bb += $3*$3; st[n] = $4; lg[n] = $5 }
                function med(x, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j-1] > x[j]; j--) { t = x[j]; x[j] = x[j-1]; x[j-1] = t }
                    return n % 2 ? x[(n+1)/2] : (x[n/2] + x[n/2+1]) / 2 }
                END { ma = a/n; mb = b/n
                    printf "%-12s %-10s %6.3f | %7.4f %6.4f | %7.4f %6.4f | %7.2f %7.2f\n", f, c, nv/n, ma, sqrt((aa - n*ma*ma)/(n-1)), mb, sqrt((bb - n*mb*mb)/(n-1)), med(st, n), med(lg, n) }' "$tmp/rows"
        done
    done
} > "$out"
cat "$out"
