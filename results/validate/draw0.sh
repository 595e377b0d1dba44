#!/usr/bin/env bash
# Is the simulator's draw 0 (the seed's own run, the one a validate rep is
# shown beside) systematically different from its other protocol draws?
# Simulator only (about 5 minutes of CPU on one core).
#
# For every dyn-50 family, seeds 1-SEEDS (default 40), this runs draw 0 and
# draws 1-DRAWS (default 10) of the same instance (`swarmlab run --draw`),
# writes draw0.csv (family, seed, draw, continuity_mean, lag_p50) and
# draw0.txt: per family, the paired difference over seeds of draw 0 minus
# the mean of draws 1-DRAWS (continuity absolute, lag relative to that
# mean), its 90% Student-t interval, and the same for draw 1 minus the mean
# of draws 2-DRAWS (a placebo: a draw that is nothing special; its interval
# should cover 0 about 90% of the time).
#
# Usage: bash results/validate/draw0.sh   (SEEDS=N, DRAWS=N: the committed results use 40 and 10)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
B=target/release/swarmlab
SEEDS=${SEEDS:-40}
DRAWS=${DRAWS:-10}
[ -x "$B" ] || { echo "build first: cargo build --release" >&2; exit 2; }
. $R/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "family,seed,draw,continuity_mean,lag_p50" > $R/draw0.csv
for f in $FAMILIES_DYN50; do
    IFS=: read -r fam file proto <<< "$f"
    family_scenario "$file" "$proto" "$tmp/$fam.toml"
    for seed in $(seq 1 "$SEEDS"); do
        for d in $(seq 0 "$DRAWS"); do
            sim_row $B "$tmp/$fam.toml" "$seed" "$d" "$fam" "$tmp" >> $R/draw0.csv
        done
    done
done
awk -F, -v draws="$DRAWS" -v seeds="$SEEDS" '
    # One-sided 95% Student t quantiles (the two-sided 90% interval) by degrees of freedom 1-60.
    function tq(df) {
        split("6.314 2.920 2.353 2.132 2.015 1.943 1.895 1.860 1.833 1.812 1.796 1.782 1.771 1.761 1.753 1.746 1.740 1.734 1.729 1.725 1.721 1.717 1.714 1.711 1.708 1.706 1.703 1.701 1.699 1.697 1.696 1.694 1.692 1.691 1.690 1.688 1.687 1.686 1.685 1.684 1.683 1.682 1.681 1.680 1.679 1.679 1.678 1.677 1.677 1.676 1.675 1.675 1.674 1.674 1.673 1.673 1.672 1.672 1.671 1.671", t, " ")
        return (df in t) ? t[df] : 1.645
    }
    function ci(sum, sq, n,   m, sd, h) {
        m = sum / n; sd = sqrt((sq - n * m * m) / (n - 1)); h = tq(n - 1) * sd / sqrt(n)
        return sprintf("%+.4f [%+.4f, %+.4f] (sd %.4f, t = %+.2f)%s", m, m - h, m + h, sd, m / (sd / sqrt(n)), (m - h > 0 || m + h < 0) ? " *" : "")
    }
    NR == 1 { next }
    { fam[$1] = 1; c[$1, $2, $3] = $4; l[$1, $2, $3] = $5 }
    END {
        printf "dyn-50, seeds 1-%d: the simulator'"'"'s draw 0 (the seed'"'"'s own run) against draws 1-%d of the same instance\n", seeds, draws
        printf "per seed s: d_s = x_s(draw 0) - mean of x_s(draws 1-%d) (lag: relative to that mean); mean of d over seeds, 90%% t interval\n", draws
        printf "placebo: the same for draw 1 against draws 2-%d; * = interval excludes 0\n", draws
        order = "mesh-pull tree-push splitstream treebone pull-push client-server random-push"
        nf = split(order, fl, " ")
        for (i = 1; i <= nf; i++) {
            f = fl[i]
            if (!(f in fam)) continue
            n = 0; sc = 0; qc = 0; sl = 0; ql = 0; pc = 0; pq = 0; plc = 0; plq = 0; pos = 0; m0 = 0; mm = 0; n8 = 0; s8 = 0; q8 = 0
            for (s = 1; s <= seeds; s++) {
                mc = 0; ml = 0; mc2 = 0; ml2 = 0
                for (d = 1; d <= draws; d++) { mc += c[f, s, d]; ml += l[f, s, d] }
                for (d = 2; d <= draws; d++) { mc2 += c[f, s, d]; ml2 += l[f, s, d] }
                mc /= draws; ml /= draws; mc2 /= (draws - 1); ml2 /= (draws - 1)
                x = c[f, s, 0] - mc; y = (l[f, s, 0] - ml) / ml
                u = c[f, s, 1] - mc2; v = (l[f, s, 1] - ml2) / ml2
                n++; sc += x; qc += x * x; sl += y; ql += y * y; pos += (x > 0)
                pc += u; pq += u * u; plc += v; plq += v * v
                m0 += c[f, s, 0]; mm += mc
                if (s <= 8) { n8++; s8 += x; q8 += x * x }
            }
            printf "\n%s: continuity_mean draw 0 %.4f, draws 1-%d %.4f (means over seeds); draw 0 above the draws'"'"' mean in %d of %d seeds\n", f, m0 / n, draws, mm / n, pos, n
            printf "  continuity_mean  draw 0 - draws: %s\n", ci(sc, qc, n)
            printf "  lag_p50 (rel.)   draw 0 - draws: %s\n", ci(sl, ql, n)
            printf "  seeds 1-8 alone (the validate runs'"'"' seeds), continuity_mean draw 0 - draws: %s\n", ci(s8, q8, n8)
            printf "  placebo continuity draw 1 - draws 2-%d: %s\n", draws, ci(pc, pq, n)
            printf "  placebo lag (rel.) draw 1 - draws 2-%d: %s\n", draws, ci(plc, plq, n)
        }
    }' $R/draw0.csv > $R/draw0.txt
cat $R/draw0.txt
