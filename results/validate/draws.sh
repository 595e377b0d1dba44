#!/usr/bin/env bash
# The simulator's own spread on one scenario instance, and the committed
# real-vs-simulated differences measured against it (simulator only, no real
# processes; about a minute of CPU).
#
# A validate rep k compares the real swarm of seed k with the simulator's run
# of seed k. Both run the same instance (population, churn, latency,
# bandwidth, attackers), but the real processes draw their protocol
# decisions from other random streams than the simulator's nodes. `swarmlab
# run --draw D` runs the same instance with other protocol randomness (draw
# 0 is the seed's own run), so the mean over draws 1..N is what the
# simulator predicts for the instance, without the luck of its one draw.
#
# For every family of the dyn-50 runs (seeds 1-8, as `run.sh dynamics` and
# `run.sh netns-dyn8`) this writes draws.csv (family, seed, draw,
# continuity_mean, lag_p50) and draws.txt: per seed, draw 0 and the mean and
# sd of draws 1..N; then, for each committed 8-rep run of the family
# (dyn-50-<family>, netns8-dyn-50-<family>, and the repeats
# dyn-50-treebone-repeat and netns8-dyn-50-treebone-repeat alone and pooled
# with their first runs), the mean per-rep continuity
# difference against draw 0 (the committed verdict's) and against the mean
# of the draws, each with its 90% t interval; and, for treebone, what 40
# and 80 kbps less source upload change (seeds 1-40).
#
# Usage: bash results/validate/draws.sh   (DRAWS=N, default 20: the committed results)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
B=target/release/swarmlab
DRAWS=${DRAWS:-20}
[ -x "$B" ] || { echo "build first: cargo build --release" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# family label, scenario file, protocol name (empty: the file's own)
families="mesh-pull:dyn-50.toml:mesh-pull tree-push:dyn-50.toml:tree-push splitstream:dyn-50-splitstream.toml:
treebone:dyn-50.toml:hybrid pull-push:dyn-50-pull-push.toml: client-server:dyn-50.toml:client-server
random-push:dyn-50.toml:random-push"
echo "family,seed,draw,continuity_mean,lag_p50" > $R/draws.csv
for f in $families; do
    IFS=: read -r fam file proto <<< "$f"
    sc=$tmp/$fam.toml
    if [ -n "$proto" ]; then
        sed "s/^name = \"mesh-pull\"$/name = \"$proto\"/" scenarios/validate/$file > "$sc"
    else
        cp scenarios/validate/$file "$sc"
    fi
    for seed in $(seq 1 8); do
        for d in $(seq 0 "$DRAWS"); do
            $B run "$sc" --seed "$seed" --draw "$d" --threads 1 --out "$tmp/out" --quiet > /dev/null
            awk -F, -v f="$fam" -v s="$seed" -v d="$d" '
                NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                { m[$col["metric"]] = $col["value"] }
                END { printf "%s,%s,%s,%s,%s\n", f, s, d, m["continuity_mean"], m["lag_p50"] }' \
                "$tmp/out/summary.csv" >> $R/draws.csv
        done
    done
done
# Treebone with less source upload (draw 0, seeds 1-40): the real source also
# sends the hosts' hash traffic (HashList pushes and replies, control, before
# media), which the simulator does not charge; 40 and 80 kbps less upload
# bound what that costs.
sed 's/^name = "mesh-pull"$/name = "hybrid"/' scenarios/validate/dyn-50.toml > "$tmp/tb.toml"
for up in 1500 1460 1420; do
    sed "s/^up_kbps = 1500 /up_kbps = $up /" "$tmp/tb.toml" > "$tmp/tb$up.toml"
    for seed in $(seq 1 40); do
        $B run "$tmp/tb$up.toml" --seed "$seed" --threads 1 --out "$tmp/out" --quiet > /dev/null
        awk -F, -v f="treebone-source-${up}kbps" -v s="$seed" '
            NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            { m[$col["metric"]] = $col["value"] }
            END { printf "%s,%s,0,%s,%s\n", f, s, m["continuity_mean"], m["lag_p50"] }' \
            "$tmp/out/summary.csv" >> $R/draws.csv
    done
done
# The committed real continuity_mean of each rep (rep.txt: metric, simulator, real, ...).
for d in $R/dyn-50-* $R/netns8-dyn-50-*; do
    [ -d "$d" ] || continue
    n=$(basename "$d")
    for rep in "$d"/rep-*; do
        k=${rep##*rep-}
        awk -v run="$n" -v k="$k" '$1 == "continuity_mean" { printf "%s,%s,%s,%s\n", run, k, $2, $3 }' "$rep/rep.txt"
    done
done > "$tmp/real.csv"
awk -F, -v draws="$DRAWS" '
    # 90% two-sided Student t quantiles (0.95) by degrees of freedom.
    BEGIN { split("6.314 2.920 2.353 2.132 2.015 1.943 1.895 1.860 1.833 1.812 1.796 1.782 1.771 1.761 1.753 1.746 1.740 1.734 1.729 1.725", tq, " ") }
    function ci(sum, sq, n,   m, sd) {
        m = sum / n; sd = (n > 1) ? sqrt((sq - n * m * m) / (n - 1)) : 0
        return sprintf("%+.4f [%+.4f, %+.4f] (sd %.4f)", m, m - tq[n - 1] * sd / sqrt(n), m + tq[n - 1] * sd / sqrt(n), sd)
    }
    FNR == 1 && FILENAME ~ /draws.csv$/ { next }
    FILENAME ~ /draws.csv$/ && $1 ~ /^treebone-source-/ { src[$1 SUBSEP $2] = $4; next }
    FILENAME ~ /draws.csv$/ {
        fam[$1] = 1; key = $1 SUBSEP $2
        if ($3 == 0) { d0[key] = $4; next }
        s[key] += $4; q[key] += $4 * $4; c[key]++
        next
    }
    { real[$1 SUBSEP $2] = $4; sim[$1 SUBSEP $2] = $3; runs[$1] = 1 }
    END {
        for (up = 1460; up >= 1420; up -= 40) {
            n = 0; sd = 0; qd = 0
            for (k = 1; k <= 40; k++) {
                a = src["treebone-source-1500kbps" SUBSEP k]; b = src["treebone-source-" up "kbps" SUBSEP k]
                n++; sd += b - a; qd += (b - a) * (b - a)
            }
            srcline = srcline sprintf("  source at %d kbps: continuity_mean - at 1500 kbps, paired over seeds 1-40 (draw 0): %+.4f (sd %.4f, standard error %.4f)\n", up, sd / n, sqrt((qd - n * (sd / n) ^ 2) / (n - 1)), sqrt((qd - n * (sd / n) ^ 2) / (n - 1)) / sqrt(n))
        }
        printf "dyn-50, seeds 1-8: continuity_mean of the simulator, draw 0 (the seed'"'"'s own run) and draws 1-%d (other protocol randomness, same instance)\n", draws
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
            # Each committed run of the family; a repeat (run.sh
            # treebone-repeat, netns-treebone-repeat) also pooled with its run.
            for (j = 1; j <= 6; j++) {
                if (j == 1) names = "dyn-50-" f
                else if (j == 2) names = "dyn-50-" f "-repeat"
                else if (j == 3) names = "dyn-50-" f " dyn-50-" f "-repeat"
                else if (j == 4) names = "netns8-dyn-50-" f
                else if (j == 5) names = "netns8-dyn-50-" f "-repeat"
                else names = "netns8-dyn-50-" f " netns8-dyn-50-" f "-repeat"
                nr = split(names, rl, " ")
                n = 0; s0 = 0; q0 = 0; s1 = 0; q1 = 0; bad = 0; have = 0
                for (u = 1; u <= nr; u++) {
                    r = rl[u]
                    if (!(r in runs)) continue
                    have++
                    for (k = 1; k <= 8; k++) {
                        key = f SUBSEP k
                        if (!((r SUBSEP k) in real)) continue
                        if (sim[r SUBSEP k] - d0[key] > 0.00005 || d0[key] - sim[r SUBSEP k] > 0.00005) bad++
                        x = real[r SUBSEP k] - d0[key]; y = real[r SUBSEP k] - mean[key]
                        n++; s0 += x; q0 += x * x; s1 += y; q1 += y * y
                    }
                }
                if (n < 2 || have < nr) continue
                label = (nr == 1) ? names : (j == 3 ? "both loopback runs" : "both --netns runs")
                printf "  %s (%d reps): real - draw 0 %s; real - mean of draws %s%s\n", label, n, ci(s0, q0, n), ci(s1, q1, n), bad ? sprintf("  [%d reps: committed simulator value differs from draw 0]", bad) : ""
            }
            if (f == "treebone") printf "%s", srcline
        }
    }' $R/draws.csv "$tmp/real.csv" > $R/draws.txt
cat $R/draws.txt
