#!/usr/bin/env bash
# How many seeds a PASS would take (issue 15): for every committed run
# directory with 8 or more reps, the per-rep differences against the mean
# of the simulator's draws (rejudge.txt where `run.sh rejudge` wrote one,
# else validate.txt: the verdict lines "per rep [...]"), their mean and
# standard deviation, the 90% t interval's half-width at the reps run, and
# the smallest number of seeds n whose half-width t(0.95, n-1) * sd / sqrt(n)
# fits inside the tolerance left beside the observed mean (continuity 0.02
# absolute, lag 15% relative): the seeds a PASS takes if further seeds
# spread as these did and the mean stays where it is. "-" when the mean
# itself is at or beyond the tolerance (more seeds cannot make that pass).
# A verdict needs both metrics: the larger n of the two.
#
# Reads committed files only (no simulator, no real run; a second). t
# quantiles: the Cornish-Fisher expansion of Student's t in 1/df (error
# below 0.001 from 7 degrees of freedom on).
#
# Usage: bash results/validate/power.sh   (writes results/validate/power.txt)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
out=$R/power.txt
{
    echo "# Seeds a PASS would take at the observed spread and mean (results/validate/power.sh; generated)"
    echo "# d: per-seed difference real - mean of the simulator's draws 1..=20 (lag: relative); sd: its standard deviation over the reps;"
    echo "# hw: the 90% t interval's half-width now; need: seeds for |mean| + hw <= tolerance (- : the mean alone is at or past it)"
    printf "%-36s %4s | %8s %7s %7s %6s | %8s %7s %7s %6s | %6s\n" run reps "cont d" sd hw need "lag d" sd hw need both
    for dir in "$R"/*/; do
        name=$(basename "$dir")
        f=$dir/rejudge.txt
        [ -f "$f" ] || f=$dir/validate.txt
        [ -f "$f" ] || continue
        cont=$(grep -m1 "continuity_mean real - draws' mean: per rep" "$f" | sed 's/.*per rep \[\([^]]*\)\].*/\1/' || true)
        lag=$(grep -m1 "lag_p50 (real - draws' mean) / draws' mean: per rep" "$f" | sed 's/.*per rep \[\([^]]*\)\].*/\1/' || true)
        [ -n "$cont" ] && [ -n "$lag" ] || continue
        echo "$name|$cont|$lag"
    done | awk -F'|' '
        function tq(df,   z, d) {  # Student t 0.95 quantile, Cornish-Fisher in 1/df
            z = 1.6448536; d = df
            return z + (z^3 + z) / (4 * d) + (5 * z^5 + 16 * z^3 + 3 * z) / (96 * d^2) \
                + (3 * z^7 + 19 * z^5 + 17 * z^3 - 15 * z) / (384 * d^3)
        }
        function stats(list, tol, out,   v, n, i, s, m, ss, sd, hw, room, k) {
            n = split(list, v, ", ")
            s = 0; for (i = 1; i <= n; i++) s += v[i]
            m = s / n
            ss = 0; for (i = 1; i <= n; i++) ss += (v[i] - m)^2
            sd = sqrt(ss / (n - 1)); hw = tq(n - 1) * sd / sqrt(n)
            room = tol - (m < 0 ? -m : m)
            k = "-"
            if (room > 0) { for (k = 2; tq(k - 1) * sd / sqrt(k) > room; k++) if (k > 100000) { k = ">100000"; break } }
            out["n"] = n; out["m"] = m; out["sd"] = sd; out["hw"] = hw; out["need"] = k
        }
        {
            stats($2, 0.02, c); stats($3, 0.15, l)
            if (c["n"] < 8) next
            both = (c["need"] == "-" || l["need"] == "-") ? "-" : (c["need"] + 0 > l["need"] + 0 ? c["need"] : l["need"])
            printf "%-36s %4d | %+8.4f %7.4f %7.4f %6s | %+7.1f%% %6.1f%% %6.1f%% %6s | %6s\n", $1, c["n"], c["m"], c["sd"], c["hw"], c["need"], 100 * l["m"], 100 * l["sd"], 100 * l["hw"], l["need"], both
        }'
} > "$out"
cat "$out"
