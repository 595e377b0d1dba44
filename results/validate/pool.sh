#!/usr/bin/env bash
# Pools the reps of several committed validate runs of one scenario and
# family into one verdict (issue 15): the runs must use disjoint seeds
# (e.g. loop20-dyn-50-mesh-pull, seeds 1-20, and loop20b-dyn-50-mesh-pull,
# seeds 21-40, made with `validate --seed 21 --reps 20`). Reads each run's
# per-rep differences against the mean of the simulator's draws
# (rejudge.txt where `run.sh rejudge` wrote one, else validate.txt: the
# verdict lines "per rep [...]") and judges them as `validate` does: a 90%
# t interval of the mean difference (TOST at 5%) against continuity +-0.02
# (absolute) and median lag +-15% (relative); PASS when both intervals lie
# inside, FAIL when one lies entirely outside, else INCONCLUSIVE. Also
# prints each run alone, so that the pooled verdict can be read beside the
# verdicts the runs printed. t quantiles as in power.sh (Cornish-Fisher).
#
# Reads committed files only (a second).
#
# Usage: bash results/validate/pool.sh OUT RUN...
#   (OUT: a file under results/validate/, RUN: run directory names there)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
out=$R/${1:?OUT}
shift
[ $# -ge 1 ] || { echo "usage: pool.sh OUT RUN..." >&2; exit 2; }
{
    echo "# Pooled verdict of $* (results/validate/pool.sh; generated)"
    echo "# d: per-seed difference real - mean of the simulator's draws 1..=20 (lag: relative); 90% t interval; tolerances 0.02 and 15%"
    for name in "$@"; do
        f=$R/$name/rejudge.txt
        [ -f "$f" ] || f=$R/$name/validate.txt
        [ -f "$f" ] || { echo "no $R/$name/validate.txt" >&2; exit 2; }
        seeds=$(grep -m1 "^verdict (" "$f" | sed 's/.*seeds \([0-9.=]*\).*/\1/')
        cont=$(grep -m1 "continuity_mean real - draws' mean: per rep" "$f" | sed 's/.*per rep \[\([^]]*\)\].*/\1/')
        lag=$(grep -m1 "lag_p50 (real - draws' mean) / draws' mean: per rep" "$f" | sed 's/.*per rep \[\([^]]*\)\].*/\1/')
        [ -n "$cont" ] && [ -n "$lag" ] || { echo "$f: no per-rep lines" >&2; exit 2; }
        echo "$name|$seeds|$cont|$lag"
    done | awk -F'|' '
        function tq(df,   z, d) {
            z = 1.6448536; d = df
            return z + (z^3 + z) / (4 * d) + (5 * z^5 + 16 * z^3 + 3 * z) / (96 * d^2) \
                + (3 * z^7 + 19 * z^5 + 17 * z^3 - 15 * z) / (384 * d^3)
        }
        function judge(list, tol, out,   v, n, i, s, m, ss, hw, lo, hi) {
            n = split(list, v, ", ")
            s = 0; for (i = 1; i <= n; i++) s += v[i]
            m = s / n
            ss = 0; for (i = 1; i <= n; i++) ss += (v[i] - m)^2
            hw = tq(n - 1) * sqrt(ss / (n - 1)) / sqrt(n)
            lo = m - hw; hi = m + hw
            out["n"] = n; out["m"] = m; out["lo"] = lo; out["hi"] = hi
            out["v"] = (lo >= -tol && hi <= tol) ? "PASS" : ((lo > tol || hi < -tol) ? "FAIL" : "INCONCLUSIVE")
        }
        function line(label, seeds, c, l,   v) {
            v = (c["v"] == "FAIL" || l["v"] == "FAIL") ? "FAIL" : ((c["v"] == "PASS" && l["v"] == "PASS") ? "PASS" : "INCONCLUSIVE")
            printf "%-32s %-10s %4d | continuity %+.4f [%+.4f, %+.4f] %-12s | lag %+.1f%% [%+.1f%%, %+.1f%%] %-12s | %s\n", \
                label, seeds, c["n"], c["m"], c["lo"], c["hi"], c["v"], 100 * l["m"], 100 * l["lo"], 100 * l["hi"], l["v"], v
        }
        {
            judge($3, 0.02, c); judge($4, 0.15, l); line($1, $2, c, l)
            allc = allc (NR > 1 ? ", " : "") $3; alll = alll (NR > 1 ? ", " : "") $4
        }
        END { judge(allc, 0.02, c); judge(alll, 0.15, l); line("pooled", "", c, l) }'
} > "$out"
cat "$out"
