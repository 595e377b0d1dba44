#!/usr/bin/env bash
# Two real draws of the same seeds (results/validate/README.md, "The real
# side's own draw"): a run made with validate's default real draw 0 beside
# the same seeds run again with --real-draw 1 (run.sh real-draw1), both
# judged against the mean of the simulator's draws 1..=20 of each seed.
# Reads the committed verdicts only (rejudge.txt if present, else
# validate.txt: the per-rep d of continuity_mean against the draws' mean);
# prints, for each pair of runs of the same seeds with two real draws A and
# B (0 and 1, 0 and 2, 1 and 2), per seed d with each, their mean, and over
# the 8 seeds the mean and 90% t interval (t 0.95 with 7 degrees of
# freedom, 1.8946) of d with each draw, of the per-seed mean of the two and
# of the difference B - A.
# The same for the --netns runs of SplitStream and tree-push (run.sh
# netns-real-draw1).
# Writes realdraws.txt.
#
# Usage: bash results/validate/realdraws.sh
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
out=$R/realdraws.txt
# rd RUN: its real draw (the -rdN suffix; 0 without one).
rd() { case $1 in *-rd*) echo "${1##*-rd}" ;; *) echo 0 ;; esac; }
# d RUN: the per-rep continuity d against the draws' mean, one per line.
d() {
    local f=$R/$1/rejudge.txt
    [ -f "$f" ] || f=$R/$1/validate.txt
    grep -m1 "^  continuity_mean real - draws' mean: per rep" "$f" | sed 's/.*per rep \[//; s/\].*//' | tr ',' '\n' | tr -d ' '
}
{
    echo "# realdraws.sh: runs of seeds 1-8 with different real draws (validate --real-draw; 0, the default, for runs without an -rdN suffix), continuity_mean d = real - the mean of the simulator's draws 1..=20 of the seed"
    for pair in "dyn-50-splitstream dyn-50-splitstream-rd1" "dyn-50-splitstream dyn-50-splitstream-rd2" "dyn-50-splitstream-rd1 dyn-50-splitstream-rd2" "dyn-50-tree-push dyn-50-tree-push-rd1" "netns8-dyn-50-splitstream netns8-dyn-50-splitstream-rd1" "netns8-dyn-50-tree-push netns8-dyn-50-tree-push-rd1"; do
        set -- $pair
        [ -f "$R/$1/validate.txt" ] && [ -f "$R/$2/validate.txt" ] || continue
        echo
        echo "$1 (real draw $(rd "$1")) | $2 (real draw $(rd "$2")):"
        paste <(d "$1") <(d "$2") | awk '
            { n++; a[n] = $1; b[n] = $2; printf "  seed %d: d %+.4f | %+.4f   mean %+.4f   second - first %+.4f\n", n, $1, $2, ($1 + $2) / 2, $2 - $1 }
            function iv(x, m,   i, s, q, sd) { s = 0; for (i = 1; i <= n; i++) s += x[i]; m = s / n; q = 0; for (i = 1; i <= n; i++) q += (x[i] - m) ^ 2; sd = sqrt(q / (n - 1)); return sprintf("%+.4f [%+.4f, %+.4f] (sd %.4f)", m, m - 1.8946 * sd / sqrt(n), m + 1.8946 * sd / sqrt(n), sd) }
            END {
                if (n != 8) { print "  (not 8 seeds: no interval)"; exit }
                for (i = 1; i <= n; i++) { m[i] = (a[i] + b[i]) / 2; df[i] = b[i] - a[i] }
                print "  first run: mean d " iv(a)
                print "  second run: mean d " iv(b)
                print "  per-seed mean of the two draws: " iv(m)
                print "  second - first: " iv(df)
            }'
    done
    # Every real draw of SplitStream's seeds: per seed the mean d over the draws.
    runs="dyn-50-splitstream dyn-50-splitstream-rd1 dyn-50-splitstream-rd2"
    have=1
    for r in $runs; do [ -f "$R/$r/validate.txt" ] || have=0; done
    if [ $have = 1 ]; then
        echo
        echo "dyn-50-splitstream, real draws 0, 1 and 2: per seed the mean d over the three draws"
        paste <(d dyn-50-splitstream) <(d dyn-50-splitstream-rd1) <(d dyn-50-splitstream-rd2) | awk '
            { n++; m[n] = ($1 + $2 + $3) / 3; printf "  seed %d: %+.4f %+.4f %+.4f   mean %+.4f\n", n, $1, $2, $3, m[n] }
            END {
                if (n != 8) { print "  (not 8 seeds: no interval)"; exit }
                s = 0; for (i = 1; i <= n; i++) s += m[i]; mu = s / n
                q = 0; for (i = 1; i <= n; i++) q += (m[i] - mu) ^ 2; sd = sqrt(q / (n - 1))
                printf "  mean of the per-seed means %+.4f [%+.4f, %+.4f] (sd %.4f)\n", mu, mu - 1.8946 * sd / sqrt(n), mu + 1.8946 * sd / sqrt(n), sd
            }'
    fi
} > "$out"
cat "$out"
