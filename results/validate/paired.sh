#!/usr/bin/env bash
# Common random numbers (issue 15): is a real run closer to the simulator
# run that makes the same random protocol choices? For every committed run
# directory with 8 or more reps, `swarmlab validate --rejudge DIR --paired`
# (simulator only, a second per directory) runs each rep's seed in the
# simulator with the real processes' own protocol generators
# (sim::rngs::host_draw of the run's real draw) and writes DIR/paired.txt;
# this script then tabulates, per run, the standard deviation of the
# per-rep continuity and lag differences three ways: against the mean of
# the simulator's draws 1..=20 (the verdict's; rejudge.txt, else
# validate.txt), against draw 0 (one independent draw), and paired (the
# same generators), with the paired mean, 90% t interval and outcome.
# Pairing pays where its sd is well below draw 0's; it can only beat the
# verdict's reference (a mean of 20 draws) if it is also below that.
#
# Needs target/release/swarmlab (cargo build --release). Writes
# results/validate/paired.txt and DIR/paired.txt of each run.
#
# Usage: bash results/validate/paired.sh
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
bin=target/release/swarmlab
out=$R/paired.txt
per() { grep -m1 "$2" "$1" | sed 's/.*per rep \[\([^]]*\)\].*/\1/'; }
{
    echo "# Paired with the real processes' own generators (results/validate/paired.sh; generated; swarmlab validate --rejudge DIR --paired)"
    echo "# sd of the per-rep differences real - reference: mean = the mean of the simulator's draws 1..=20 (the verdict's), draw0 = the seed's own run,"
    echo "# paired = the simulator with the real processes' generators; then the paired mean, 90% t interval and outcome (tolerances 0.02 and 15%)"
    printf "%-36s %4s | %-22s %-26s | %-22s %s\n" run reps "cont sd mean/d0/paired" "cont paired" "lag sd mean/d0/paired" "lag paired"
    for dir in "$R"/*/; do
        name=$(basename "$dir")
        f=$dir/rejudge.txt
        [ -f "$f" ] || f=$dir/validate.txt
        [ -f "$f" ] && [ -f "$dir/manifest.toml" ] || continue
        cm=$(per "$f" "continuity_mean real - draws' mean: per rep") || true
        lm=$(per "$f" "lag_p50 (real - draws' mean) / draws' mean: per rep") || true
        [ -n "$cm" ] && [ -n "$lm" ] || continue
        [ "$(echo "$cm" | awk -F', ' '{ print NF }')" -ge 8 ] || continue
        "$bin" validate --rejudge "$dir" --paired >/dev/null 2>&1 || [ $? -ne 2 ] || { echo "$name: --paired failed" >&2; continue; }
        p=$dir/paired.txt
        line=$(grep -m1 "continuity_mean real - paired simulator" "$p")
        lline=$(grep -m1 "lag_p50 (real - paired simulator)" "$p")
        echo "$name|$cm|$lm|$line|$lline"
    done | awk -F'|' '
        function sd(list,   v, n, i, m, ss) {
            n = split(list, v, ", "); m = 0
            for (i = 1; i <= n; i++) m += v[i]
            m /= n; ss = 0
            for (i = 1; i <= n; i++) ss += (v[i] - m)^2
            return sqrt(ss / (n - 1))
        }
        function field(line, re,   s) {
            if (!match(line, re)) return "-"
            s = substr(line, RSTART, RLENGTH); return s
        }
        {
            n = split($2, tmp, ", ")
            # paired lines: "... mean M, interval [A, B] vs +-T: OUTCOME; sd S (against draw 0: sd D)"
            cpm = field($4, "mean [-+0-9.]+, interval \\[[-+0-9.]+, [-+0-9.]+\\]"); sub(/^mean /, "", cpm); sub(/, interval /, " ", cpm)
            cpo = field($4, "(PASS|FAIL|INCONCLUSIVE);"); sub(/;/, "", cpo)
            cps = field($4, "; sd [0-9.]+"); sub(/; sd /, "", cps)
            cd0 = field($4, "draw 0: sd [-0-9.]+"); sub(/draw 0: sd /, "", cd0)
            lpm = field($5, "mean [-+0-9.]+, interval \\[[-+0-9.]+, [-+0-9.]+\\]"); sub(/^mean /, "", lpm); sub(/, interval /, " ", lpm)
            lpo = field($5, "(PASS|FAIL|INCONCLUSIVE);"); sub(/;/, "", lpo)
            lps = field($5, "; sd [0-9.]+"); sub(/; sd /, "", lps)
            ld0 = field($5, "draw 0: sd [-0-9.]+"); sub(/draw 0: sd /, "", ld0)
            printf "%-36s %4d | %.4f %6s %6s   %-26s | %.3f %5s %5s    %s\n", $1, n, sd($2), cd0, cps, cpm " " cpo, sd($3), ld0, lps, lpm " " lpo
        }'
} > "$out"
cat "$out"
