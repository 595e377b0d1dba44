#!/usr/bin/env bash
# What the verdict says of a perfect real side (issue 15): for every
# committed run directory with 8 or more seeds and the simulator's draws
# (sim-draws.csv), and for every pool of pool-*.txt, each simulator draw k
# in turn stands in for the real run. Per seed, d = draw k - the mean of the
# other draws of that seed (lag: relative to that mean), as the verdict
# judges a real run against the mean of the draws; then the same 90% t
# interval and tolerances (continuity 0.02 absolute, lag 15% relative) and
# the same verdict (PASS: both intervals inside; FAIL: either entirely
# outside). A draw is the simulator itself with other protocol randomness,
# so it is what a real swarm that the simulator models exactly would give,
# up to the loss draws (shared by a seed's draws, drawn afresh by a real
# run) and the reference of K-1 draws instead of K.
#
# Columns: the seeds and draws; how many of the K stand-ins PASS, are
# INCONCLUSIVE and FAIL (and PASS on continuity alone); the standard
# deviation of their mean continuity difference and its range; the mean
# standard deviation of their per-seed differences and the seeds at which,
# at that spread, a stand-in's continuity would pass 4 times in 5; the real run's mean
# continuity difference and its per-seed standard deviation (rejudge.txt,
# else validate.txt; a pool's runs put together) and how many stand-ins
# read further from zero than it. The share that PASS is the chance a real swarm that the
# simulator models exactly passes at that number of seeds.
#
# Reads committed files only (a second). t quantiles as power.sh.
# Usage: bash results/validate/placebo.sh   (writes results/validate/placebo.txt)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
out=$R/placebo.txt

# real_reps RUN...: the real runs' per-rep continuity differences against
# the draws' mean (rejudge.txt, else validate.txt), comma-separated.
real_reps() {
    local d f
    for d in "$@"; do
        f=$R/$d/rejudge.txt
        [ -f "$f" ] || f=$R/$d/validate.txt
        [ -f "$f" ] || return 0
        grep -m1 "continuity_mean real - draws' mean: per rep" "$f" | sed 's/.*per rep \[\([^]]*\)\].*/\1/'
    done | paste -sd, - | tr -d ' '
}

# group NAME DIR...: one row, the draws (and real reps) of every DIR pooled by seed.
group() {
    local name=$1 real; shift
    real=$(real_reps "$@")
    local files=()
    for d in "$@"; do files+=("$R/$d/sim-draws.csv"); done
    awk -F, -v name="$name" -v real="$real" '
        function tq(df,   z, d) {  # Student t 0.95 quantile, Cornish-Fisher in 1/df
            z = 1.6448536; d = df
            return z + (z^3 + z) / (4 * d) + (5 * z^5 + 16 * z^3 + 3 * z) / (96 * d^2) \
                + (3 * z^7 + 19 * z^5 + 17 * z^3 - 15 * z) / (384 * d^3)
        }
        # outcome of n differences v[1..n] against tol: P, F or I; mean in M
        function judge(v, n, tol,   i, s, m, ss, hw, lo, hi) {
            s = 0; for (i = 1; i <= n; i++) s += v[i]
            m = s / n; M = m
            ss = 0; for (i = 1; i <= n; i++) ss += (v[i] - m)^2
            hw = tq(n - 1) * sqrt(ss / (n - 1) / n)
            SD = sqrt(ss / (n - 1))
            lo = m - hw; hi = m + hw
            if (lo >= -tol && hi <= tol) return "P"
            if (lo > tol || hi < -tol) return "F"
            return "I"
        }
        FNR == 1 { next }
        $3 == "" || $4 == "" { bad[$1] = 1; next }
        {
            s = $1 + 0; k = $2 + 0
            if (!(s in seen)) { seen[s] = 1; seeds[++ns] = s }
            if (!(k in kseen)) { kseen[k] = 1; ks[++nk] = k }
            c[s, k] = $3; l[s, k] = $4; has[s, k] = 1
        }
        END {
            nr = (real == "") ? 0 : split(real, rv, ",")
            if (nr > 1) {
                s = 0; for (i = 1; i <= nr; i++) s += rv[i]
                rm = s / nr; ss = 0; for (i = 1; i <= nr; i++) ss += (rv[i] - rm)^2
                rsd = sqrt(ss / (nr - 1)); real = rm
            } else real = ""
            n = 0
            for (i = 1; i <= ns; i++) if (!(seeds[i] in bad)) use[++n] = seeds[i]
            if (n < 8 || nk < 3) exit
            pass = 0; inc = 0; fail = 0; cpass = 0; sm = 0; ssm = 0; lo = 1e9; hi = -1e9; further = 0
            for (j = 1; j <= nk; j++) {
                k = ks[j]
                for (i = 1; i <= n; i++) {
                    s = use[i]; sc = 0; sl = 0; m = 0
                    for (q = 1; q <= nk; q++) if (q != j && has[s, ks[q]]) { sc += c[s, ks[q]]; sl += l[s, ks[q]]; m++ }
                    dc[i] = c[s, k] - sc / m
                    dl[i] = (l[s, k] - sl / m) / (sl / m)
                }
                oc = judge(dc, n, 0.02); mc = M; psd += SD
                ol = judge(dl, n, 0.15)
                o = (oc == "F" || ol == "F") ? "F" : (oc == "P" && ol == "P") ? "P" : "I"
                if (o == "P") pass++; else if (o == "F") fail++; else inc++
                if (oc == "P") cpass++
                sm += mc; ssm += mc * mc
                if (mc < lo) lo = mc
                if (mc > hi) hi = mc
                if (real != "" && (mc < 0 ? -mc : mc) > (real < 0 ? -real : real)) further++
            }
            sd = sqrt((ssm - sm * sm / nk) / (nk - 1))
            # seeds at which a stand-in passes continuity 80% of the time: |mean| + hw <= 0.02 with
            # mean ~ N(0, rsd / sqrt(n)), hw = t * rsd / sqrt(n), rsd the mean per-seed sd of the stand-ins
            prsd = psd / nk
            for (n80 = 2; (tq(n80 - 1) + 1.2815516) * prsd / sqrt(n80) > 0.02; n80++) ;
            printf "%-34s %5d %5d | %4d %4d %4d %8d | %7.4f %+8.4f %+8.4f %7.4f %5d | %8s %8s %7s\n", name, n, nk, pass, inc, fail, cpass, sd, lo, hi, prsd, n80, \
                (real == "" ? "-" : sprintf("%+.4f", real)), (real == "" ? "-" : further "/" nk), (real == "" ? "-" : sprintf("%.4f", rsd))
        }' "${files[@]}"
}

{
    echo "# Each simulator draw as the real side (results/validate/placebo.sh; generated)"
    echo "# per seed d = draw k - mean of the other draws (lag relative); 90% t interval; tolerances 0.02 and 15%; the verdict's rules"
    echo "# stand-ins: PASS / INCONCLUSIVE / FAIL (combined), PASS on continuity alone; sd, min, max: of the stand-ins' mean continuity d;"
    echo "# rep sd: the stand-ins' mean sd of the per-seed continuity d (the real run's: real sd); n80: seeds at which a stand-in's"
    echo "#   continuity passes 80% of the time (mean ~ normal with sd rep sd / sqrt(n))"
    echo "# real d: the real run's mean continuity d against the draws' mean; further: stand-ins whose |mean d| exceeds the real run's"
    printf "%-34s %5s %5s | %4s %4s %4s %8s | %7s %8s %8s %7s %5s | %8s %8s %7s\n" run seeds draws PASS INC FAIL cont-PASS sd min max "rep sd" n80 "real d" further "real sd"
    for dir in "$R"/*/; do
        name=$(basename "$dir")
        [ -f "$dir/sim-draws.csv" ] || continue
        group "$name" "$name"
    done
    for p in "$R"/pool-*.txt; do
        runs=$(head -1 "$p" | sed 's/^# Pooled verdict of \(.*\) (results.*/\1/')
        # shellcheck disable=SC2086
        group "$(basename "$p" .txt)" $runs
    done
} > "$out"
echo "wrote $out"
