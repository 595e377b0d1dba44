#!/usr/bin/env bash
# The targets of issue 13 ("Protocols a reviewer would trust"), measured on
# several seeds with 95% confidence intervals. Runs every scenario of
# scenarios/targets/ through `swarmlab compare` (5 seeds each, every variant
# on the same population, network and seeds), copies the tables,
# replications and manifests into results/targets/ and writes
# results/targets/targets.csv: one row per target and variant with the
# statistic's mean over seeds, its 95% interval (Student t), the threshold
# and a verdict: `met` (the whole interval clears the threshold), `missed`
# (the whole interval falls short) or `undecided`.
#
#   bash results/targets/run.sh
#
# Targets (issue 13):
#   ample-1.2x        mesh-pull continuity_pooled >= 0.99 (upload 1.2 x demand, no churn)
#   starved-300,      efficiency (continuity / r_max bound): best protocol >= 0.90,
#   starved-hetero    mesh-pull/donet >= 0.80
#   late-joiners      median startup delay of the peers that joined after 30 s
#                     (and before 270 s) <= 5 s, per seed from peers.csv
#   scale-10k         best protocol continuity_pooled >= 0.98 at 10,000 peers
#                     (the scale benchmark's mesh-pull scenario, one seed)
# and two studies behind them (tables only, no target rows):
#   degree-ample-1.2x, degree-starved-300: DONet with several partner counts,
#                     and other mesh parameters changed one at a time
#
# Environment (as results/compare/run.sh): RESULTS_DEST=DIR writes to
# DIR/targets/ instead of results/targets/; SWARMLAB_NO_BUILD=1 skips the build.
# Needs bash, awk, coreutils.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${RESULTS_DEST:-results}/targets
[ "${SWARMLAB_NO_BUILD:-}" = 1 ] || cargo build --release --locked
names=(ample-1.2x starved-300 starved-hetero late-joiners scale-10k degree-ample-1.2x degree-starved-300)
for n in "${names[@]}"; do
    out=target/targets-$n
    rm -rf "$out"
    ./target/release/swarmlab compare "scenarios/targets/$n.toml" --out "$out" > "$out.txt"
    echo "$n done"
done
mkdir -p "$dest"
for n in "${names[@]}"; do
    out=target/targets-$n
    cp "$out.txt" "$dest/$n.txt"
    if [ -f "$out/replications.csv" ]; then
        cp "$out/replications.csv" "$dest/$n-replications.csv"
    else # one seed: compare writes compare.csv (one value per metric) instead
        cp "$out/compare.csv" "$dest/$n-compare.csv"
    fi
    cp "$out/manifest.toml" "$dest/$n-manifest.toml"
done

# t quantile (two-sided 95%) for n - 1 degrees of freedom, n <= 31.
tq='function tq(df) { split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086 2.080 2.074 2.069 2.064 2.060 2.056 2.052 2.048 2.045 2.042", t, " "); return df >= 1 && df <= 30 ? t[df] : 1.96 }'
verdict='function verdict(lo, hi, thr, dir) {
    if (dir == ">=") return lo >= thr ? "met" : (hi < thr ? "missed" : "undecided")
    return hi <= thr ? "met" : (lo > thr ? "missed" : "undecided") }'
csv=$dest/targets.csv
echo "target,scenario,variant,statistic,n,mean,ci95_low,ci95_high,threshold,verdict" > "$csv"
# Targets read from replications.csv (mean and interval over seeds).
rep_target() { # target scenario metric dir threshold variant-filter(regex)
    awk -F, -v tg="$1" -v sc="$2" -v m="$3" -v dir="$4" -v thr="$5" -v vf="$6" "$verdict"'
        $4 == m && $2 ~ vf { lo = $8 == "" ? $6 : $8; hi = $9 == "" ? $6 : $9  # one seed: no interval
            printf "%s,%s,%s,%s,%s,%.4f,%.4f,%.4f,%s,%s\n", tg, sc, $2, m, $5, $6, lo, hi, thr, verdict(lo, hi, thr, dir) }' \
        "$dest/$2-replications.csv" >> "$csv"
}
rep_target "mesh-pull continuity >= 0.99 at 1.2x upload" ample-1.2x continuity_pooled ">=" 0.99 "."
for sc in starved-300 starved-hetero; do
    rep_target "best protocol efficiency >= 0.90" "$sc" efficiency ">=" 0.90 "."
    rep_target "DONet efficiency >= 0.80" "$sc" efficiency ">=" 0.80 "^mesh-pull/donet"
done
# One seed (compare.csv: scenario,variant,protocol,seed,metric,value,unit):
# the interval is the point itself.
awk -F, -v tg="best protocol continuity >= 0.98 at 10000 peers" -v thr=0.98 "$verdict"'
    $5 == "continuity_pooled" { printf "%s,scale-10k,%s,%s,1,%.4f,%.4f,%.4f,%s,%s\n", tg, $2, $5, $6, $6, $6, thr, verdict($6, $6, thr, ">=") }' \
    "$dest/scale-10k-compare.csv" >> "$csv"
# Late joiners: per variant and seed, the median startup delay of the peers
# that joined in (30 s, 270 s); then mean and interval over seeds.
out=target/targets-late-joiners
for d in "$out"/*/; do
    variant=$(basename "$d")
    label=$(awk -F, -v v="$variant" 'NR > 1 { l = $2; gsub(/[^A-Za-z0-9-]/, "_", l); if (l == v) { print $2; exit } }' "$dest/late-joiners-replications.csv")
    for s in "$d"seed*/peers.csv; do
        # A late joiner that never started counts as never (1e9 s).
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            $c["joined_s"] > 30 && $c["joined_s"] < 270 {
                print ($c["startup_delay_s"] == "" ? 1e9 : $c["startup_delay_s"]) }' "$s" |
            sort -g | awk '{ v[NR] = $1 } END { if (!NR) exit 1; print v[int((NR + 1) / 2)] }'
    done | awk -v tg="late joiners start <= 5 s (p50)" -v vl="$label" "$tq""$verdict"'
        { x[++n] = $1; s += $1 }
        END { m = s / n; for (i = 1; i <= n; i++) q += (x[i] - m) ^ 2
              h = n > 1 ? tq(n - 1) * sqrt(q / (n - 1)) / sqrt(n) : 0
              printf "%s,late-joiners,%s,late_startup_delay_p50,%d,%.4f,%.4f,%.4f,5,%s\n", tg, vl, n, m, m - h, m + h, verdict(m - h, m + h, 5, "<=") }' >> "$csv"
done
column -s, -t < "$csv"
