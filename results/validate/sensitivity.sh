#!/usr/bin/env bash
# The simulator's own sensitivity on the validate scenarios (simulator only,
# no real processes; a few seconds): the judged metrics of mesh-50 for seeds
# 1-10 when the one-way delay is 38, 39, 40 (the scenario's), 41 or 42 ms,
# and when the source's upload is 2% lower (1470 kbps, about what the real
# source spends on hash pushes). A real run is a perturbed replay of its
# seed (timer jitter, scheduling), so this spread is part of what a single
# real-vs-simulated difference contains. Writes sensitivity.csv and
# sensitivity.txt (per-seed spread over the five delays).
#
# Usage: bash results/validate/sensitivity.sh   (run.sh calls it)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
B=target/release/swarmlab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "variant,seed,continuity_mean,lag_p50,delivery_delay_p50" > $R/sensitivity.csv
one() { # variant label, scenario file, seed
    $B run "$2" --seed "$3" --out "$tmp/out" --quiet >/dev/null 2>&1
    awk -F, -v v="$1" -v s="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { m[$col["metric"]] = $col["value"] }
        END { printf "%s,%s,%s,%s,%s\n", v, s, m["continuity_mean"], m["lag_p50"], m["delivery_delay_p50"] }' \
        "$tmp/out/summary.csv" >> $R/sensitivity.csv
}
for ms in 38 39 40 41 42; do
    sed "s/^ms = 40$/ms = $ms/" scenarios/validate/mesh-50.toml > "$tmp/lat$ms.toml"
    for seed in $(seq 1 10); do one "delay-${ms}ms" "$tmp/lat$ms.toml" "$seed"; done
done
sed "s/^up_kbps = 1500 .*/up_kbps = 1470/" scenarios/validate/mesh-50.toml > "$tmp/src1470.toml"
for seed in $(seq 1 10); do one "source-1470kbps" "$tmp/src1470.toml" "$seed"; done
# Per seed: range (max - min) of continuity_mean and relative range of lag_p50 over the five delays.
awk -F, 'NR > 1 && $1 ~ /^delay-/ {
        s = $2; c = $3 + 0; l = $4 + 0
        if (!(s in cmin) || c < cmin[s]) cmin[s] = c; if (!(s in cmax) || c > cmax[s]) cmax[s] = c
        if (!(s in lmin) || l < lmin[s]) lmin[s] = l; if (!(s in lmax) || l > lmax[s]) lmax[s] = l
        if ($1 == "delay-40ms") l40[s] = l
    }
    END {
        print "mesh-50, simulator only: per seed, spread of the judged metrics over one-way delays 38-42 ms"
        print "seed  continuity_mean min..max (range)   lag_p50 min..max (range / lag at 40 ms)"
        for (s = 1; s <= 10; s++) {
            printf "%4d  %.4f..%.4f (%.4f)        %.2f..%.2f s (%.1f%%)\n", s, cmin[s], cmax[s], cmax[s] - cmin[s], lmin[s], lmax[s], 100 * (lmax[s] - lmin[s]) / l40[s]
            cr += cmax[s] - cmin[s]; lr += (lmax[s] - lmin[s]) / l40[s]
        }
        printf "mean  continuity range %.4f, lag relative range %.1f%%\n", cr / 10, 100 * lr / 10
    }' $R/sensitivity.csv > $R/sensitivity.txt
cat $R/sensitivity.txt
