#!/usr/bin/env bash
# Does CPU contention explain a run's differences? (issue 15). For every
# committed run directory with 8 or more reps whose rep.txt files record
# the real processes' timer lateness (the event loop's scheduling delay,
# mean per rep), pairs each rep's lateness with its differences against
# the mean of the simulator's draws (rejudge.txt where `run.sh rejudge`
# wrote one, else validate.txt: the "per rep [...]" lines) and prints the
# Pearson correlation of lateness with the continuity and the lag
# differences, and the mean differences of the reps under 1 ms of mean
# lateness and of those at 1 ms or more. A run whose difference comes from
# CPU steal should show it growing with lateness; "-" where a group is
# empty or the lateness does not vary.
#
# Reads committed files only (a second).
#
# Usage: bash results/validate/lateness.sh   (writes results/validate/lateness.txt)
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
out=$R/lateness.txt
{
    echo "# Timer lateness against the per-rep differences (results/validate/lateness.sh; generated)"
    echo "# late: the real processes' mean timer lateness per rep (ms), range; r: Pearson correlation with the difference"
    echo "# real - mean of the simulator's draws (lag: relative); <1 / >=1: mean difference (reps) of the reps under 1 ms mean lateness / at 1 ms or more"
    printf "%-36s %4s | %-13s | %7s %-18s %-18s | %7s %-18s %-18s\n" run reps "late (ms)" "r cont" "cont <1" "cont >=1" "r lag" "lag <1" "lag >=1"
    for dir in "$R"/*/; do
        name=$(basename "$dir")
        f=$dir/rejudge.txt
        [ -f "$f" ] || f=$dir/validate.txt
        [ -f "$f" ] || continue
        cont=$(grep -m1 "continuity_mean real - draws' mean: per rep" "$f" | sed 's/.*per rep \[\([^]]*\)\].*/\1/') || true
        lag=$(grep -m1 "lag_p50 (real - draws' mean) / draws' mean: per rep" "$f" | sed 's/.*per rep \[\([^]]*\)\].*/\1/') || true
        [ -n "$cont" ] && [ -n "$lag" ] || continue
        n=$(echo "$cont" | awk -F', ' '{ print NF }')
        [ "$n" -ge 8 ] || continue
        late=
        for k in $(seq 1 "$n"); do
            l=$(grep -m1 -o "timer lateness (event-loop scheduling delay): mean [0-9.]* ms" "$dir/rep-$k/rep.txt" 2>/dev/null | awk '{ print $(NF-1) }') || true
            [ -n "$l" ] || { late=; break; }
            late="$late${late:+, }$l"
        done
        [ -n "$late" ] || continue
        echo "$name|$late|$cont|$lag"
    done | awk -F'|' '
        function corr(a, b, n,   i, ma, mb, sab, saa, sbb) {
            ma = 0; mb = 0; for (i = 1; i <= n; i++) { ma += a[i]; mb += b[i] }
            ma /= n; mb /= n; sab = 0; saa = 0; sbb = 0
            for (i = 1; i <= n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma)^2; sbb += (b[i] - mb)^2 }
            return (saa > 0 && sbb > 0) ? sprintf("%+.2f", sab / sqrt(saa * sbb)) : "-"
        }
        function split_mean(late, d, n, hi, scale, fmt,   i, s, k) {
            s = 0; k = 0
            for (i = 1; i <= n; i++) if ((late[i] >= 1) == hi) { s += d[i]; k++ }
            return k ? sprintf(fmt " (%d)", scale * s / k, k) : "-"
        }
        {
            n = split($2, late, ", "); split($3, c, ", "); split($4, l, ", ")
            lo = late[1]; hi = late[1]
            for (i = 2; i <= n; i++) { if (late[i] < lo) lo = late[i]; if (late[i] > hi) hi = late[i] }
            printf "%-36s %4d | %5.2f-%-7.2f | %7s %-18s %-18s | %7s %-18s %-18s\n", $1, n, lo, hi, \
                corr(late, c, n), split_mean(late, c, n, 0, 1, "%+.4f"), split_mean(late, c, n, 1, 1, "%+.4f"), \
                corr(late, l, n), split_mean(late, l, n, 0, 100, "%+.1f%%"), split_mean(late, l, n, 1, 100, "%+.1f%%")
        }'
} > "$out"
cat "$out"
