#!/usr/bin/env bash
# The simulator's own spread on one scenario instance, from the draws that
# `run.sh rejudge` (`swarmlab validate --rejudge`) wrote: run that first.
#
# A validate rep k compares the real swarm of seed k with the simulator on
# the same instance (population, churn, latency, bandwidth, attackers); the
# real processes draw their protocol decisions from other random streams
# than the simulator's nodes. `swarmlab run --draw D` runs the instance with
# other protocol randomness (draw 0 is the seed's own run), and validate
# judges each rep against the mean of draws 1..K of its seed; each run's
# rejudge.txt has that verdict and the one against draw 0 (summary.md has
# both for every run). This script adds what a single run's rejudge does
# not say:
# - per dyn-50 family, seeds 1-8: draw 0 (rep-k/sim/summary.csv of
#   dyn-50-<family>) beside the mean and sd of draws 1..K
#   (dyn-50-<family>/sim-draws.csv), and the within-seed sd;
# - treebone's two loopback runs pooled (dyn-50-treebone and
#   dyn-50-treebone-repeat, 16 reps) and its two --netns runs pooled, against
#   draw 0 and against the draws' mean, each with its 90% t interval;
# - what 40 and 80 kbps less source upload change for treebone (draw 0, seeds
#   1-40: simulator runs, about 10 s of CPU), written to draws.csv.
# draws.txt gets all of it.
#
# Usage: bash results/validate/draws.sh
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
B=target/release/swarmlab
[ -x "$B" ] || { echo "build first: cargo build --release" >&2; exit 2; }
. $R/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# continuity_mean of a summary.csv
cont() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } $col["metric"] == "continuity_mean" { print $col["value"] }' "$1"; }
# Treebone with less source upload (draw 0, seeds 1-40): the real source also
# sends the hosts' hash traffic (HashList pushes and replies, control, before
# media), which the simulator does not charge; 40 and 80 kbps less upload
# bound what that costs.
echo "family,seed,draw,continuity_mean,lag_p50" > $R/draws.csv
family_scenario dyn-50.toml hybrid "$tmp/tb.toml"
for up in 1500 1460 1420; do
    sed "s/^up_kbps = 1500 /up_kbps = $up /" "$tmp/tb.toml" > "$tmp/tb$up.toml"
    for seed in $(seq 1 40); do
        sim_row $B "$tmp/tb$up.toml" "$seed" 0 "treebone-source-${up}kbps" "$tmp" >> $R/draws.csv
    done
done
# kind,name,seed,draw,continuity_mean: draws (sim-draws.csv), draw 0 and real (rep-k/*/summary.csv).
for f in $FAMILIES_DYN50; do
    fam=${f%%:*}
    d=$R/dyn-50-$fam
    [ -f "$d/sim-draws.csv" ] || { echo "no $d/sim-draws.csv: run bash $R/run.sh rejudge first" >&2; exit 2; }
    awk -F, -v f="$fam" 'NR > 1 { printf "draw,%s,%s,%s,%s\n", f, $1, $2, $3 }' "$d/sim-draws.csv"
    for k in $(seq 1 8); do
        echo "d0,$fam,$k,0,$(cont "$d/rep-$k/sim/summary.csv")"
    done
done > "$tmp/all.csv"
for n in dyn-50-treebone dyn-50-treebone-repeat netns8-dyn-50-treebone netns8-dyn-50-treebone-repeat; do
    for k in $(seq 1 8); do
        echo "real,$n,$k,,$(cont "$R/$n/rep-$k/real/summary.csv")"
    done
done >> "$tmp/all.csv"
awk -F, '
    # 90% two-sided Student t quantiles (0.95) by degrees of freedom.
    BEGIN { split("6.314 2.920 2.353 2.132 2.015 1.943 1.895 1.860 1.833 1.812 1.796 1.782 1.771 1.761 1.753 1.746 1.740 1.734 1.729 1.725", tq, " ") }
    function ci(sum, sq, n,   m, sd) {
        m = sum / n; sd = (n > 1) ? sqrt((sq - n * m * m) / (n - 1)) : 0
        return sprintf("%+.4f [%+.4f, %+.4f] (sd %.4f)", m, m - tq[n - 1] * sd / sqrt(n), m + tq[n - 1] * sd / sqrt(n), sd)
    }
    FILENAME ~ /draws.csv$/ { if (FNR > 1) src[$1 SUBSEP $2] = $4; next }
    $1 == "draw" { fam[$2] = 1; key = $2 SUBSEP $3; s[key] += $5; q[key] += $5 * $5; c[key]++; if ($4 > draws) draws = $4; next }
    $1 == "d0" { d0[$2 SUBSEP $3] = $5; next }
    $1 == "real" { real[$2 SUBSEP $3] = $5; next }
    END {
        printf "dyn-50, seeds 1-8: continuity_mean of the simulator, draw 0 (the seed'"'"'s own run) and draws 1-%d (other protocol randomness, same instance)\n", draws
        printf "(every run against both references: summary.md and <run>/rejudge.txt)\n"
        order = "mesh-pull tree-push splitstream treebone pull-push client-server random-push"
        nf = split(order, fl, " ")
        for (i = 1; i <= nf; i++) {
            f = fl[i]
            if (!(f in fam)) continue
            printf "\n%s\nseed  draw 0   draws 1-%d: mean (sd)\n", f, draws
            a0 = 0; am = 0; w = 0
            for (k = 1; k <= 8; k++) {
                key = f SUBSEP k; m = s[key] / c[key]
                sd = sqrt((q[key] - c[key] * m * m) / (c[key] - 1))
                printf "%4d  %.4f   %.4f (%.4f)\n", k, d0[key], m, sd
                mean[key] = m; a0 += d0[key]; am += m; w += sd * sd
            }
            printf "mean  %.4f   %.4f (within-seed sd %.4f); draw 0 - mean of draws: %+.4f\n", a0 / 8, am / 8, sqrt(w / 8), (a0 - am) / 8
            if (f != "treebone") continue
            for (j = 1; j <= 2; j++) {
                names = (j == 1) ? "dyn-50-treebone dyn-50-treebone-repeat" : "netns8-dyn-50-treebone netns8-dyn-50-treebone-repeat"
                nr = split(names, rl, " ")
                n = 0; s0 = 0; q0 = 0; s1 = 0; q1 = 0
                for (u = 1; u <= nr; u++)
                    for (k = 1; k <= 8; k++) {
                        x = real[rl[u] SUBSEP k] - d0[f SUBSEP k]; y = real[rl[u] SUBSEP k] - mean[f SUBSEP k]
                        n++; s0 += x; q0 += x * x; s1 += y; q1 += y * y
                    }
                printf "  %s (%s, %d reps): real - draw 0 %s; real - mean of draws %s\n", (j == 1) ? "both loopback runs" : "both --netns runs", names, n, ci(s0, q0, n), ci(s1, q1, n)
            }
            for (up = 1460; up >= 1420; up -= 40) {
                n = 0; sd = 0; qd = 0
                for (k = 1; k <= 40; k++) {
                    a = src["treebone-source-1500kbps" SUBSEP k]; b = src["treebone-source-" up "kbps" SUBSEP k]
                    n++; sd += b - a; qd += (b - a) * (b - a)
                }
                printf "  source at %d kbps: continuity_mean - at 1500 kbps, paired over seeds 1-40 (draw 0): %+.4f (sd %.4f, standard error %.4f)\n", up, sd / n, sqrt((qd - n * (sd / n) ^ 2) / (n - 1)), sqrt((qd - n * (sd / n) ^ 2) / (n - 1)) / sqrt(n)
            }
        }
    }' $R/draws.csv "$tmp/all.csv" > $R/draws.txt
cat $R/draws.txt
