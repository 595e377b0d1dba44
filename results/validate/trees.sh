#!/usr/bin/env bash
# The tree families on dyn-50 after the reruns without the host's hash
# channel (results/validate/README.md, "The tree families without the hash
# channel"): SplitStream's real deficit, tree-push's source, and whether a
# seed's real run repeats itself; from the committed run directories, and
# simulator-only runs.
#
# Part 1 (reads committed files only): per 5-s bin of protocol time, chunks
# played and missed over all reps, real beside the simulator's draw 0
# (lib.sh's time_profile); per rep, simulated and real continuity_mean, peers
# started, chunks rejected by the integrity check, and the two polluters'
# media upload (peers.csv, up_media_bytes of the non-honest peers), for
# dyn-50-splitstream and (if present) netns8-dyn-50-splitstream.
# Part 2 (simulator only, about a minute): dyn-50-splitstream, seeds 1-40 x
# protocol draws 1-10, the scenario as committed and with one thing changed
# (per-pair latency +1 ms and +5 ms; no attackers): mean paired difference of
# continuity_mean and of the relative lag_p50, and their standard errors.
# Part 3 (reads committed files, and simulator only, about 10 s): tree-push
# on dyn-50, the source's upload in stream copies (server_load) per rep, real
# beside draw 0, and per seed the simulator's draws 1-20 (mean, lowest).
# Part 4 (reads committed files): seed 2 run again (run.sh seed2-repeat)
# beside rep 2 of the 8-rep run, both families: the same seed's two real runs.
# Part 5 (simulator only, about a minute): what the kernel queue of --netns
# adds that neither the simulator nor the loopback pacer has, a control
# datagram sent between two media datagrams (examples/control-interleave,
# as in deficit.sh): SplitStream on dyn-50, seeds 1-40 x draws 1-10.
# Everything goes to trees.txt.
#
# Usage: bash results/validate/trees.sh
set -eu
. "$(dirname "$0")/lib.sh"
sweep_setup
out=$R/trees.txt

# per_rep RUN: per rep, real / simulated continuity_mean, peers started,
# rejected chunks and the polluters' media upload (KB).
per_rep() {
    echo "$1: per rep, simulator draw 0 / real: continuity_mean, peers_started, rejected_chunks, polluters' media upload (KB)"
    for rep in "$R/$1"/rep-*; do
        printf "  %s:" "$(basename "$rep")"
        awk '$1 == "continuity_mean" || $1 == "peers_started" || $1 == "rejected_chunks" { printf "  %s %s / %s", $1, $2, $3 }' "$rep/rep.txt"
        for side in sim real; do
            awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                $c["behaviour"] != "honest" { b += $c["up_media_bytes"] }
                END { printf " %d", b / 1000 }' "$rep/$side/peers.csv"
        done | awk '{ printf "  polluters'"'"' upload %s / %s\n", $1, $2 }'
    done
    for side in sim real; do
        for rep in "$R/$1"/rep-*; do
            awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                $c["behaviour"] != "honest" { b += $c["up_media_bytes"] }
                END { print b / 1000 }' "$rep/$side/peers.csv"
        done | awk -v side=$side '{ t += $1 } END { printf "%s %d\n", side, t }'
    done | awk '{ v[$1] = $2 } END { printf "  all reps: polluters'"'"' media upload %d KB simulated, %d KB real (real / simulated %.2f)\n", v["sim"], v["real"], v["real"] / v["sim"] }'
    cat "$R/$1"/rep-*/rep.txt | awk '$1 == "rejected_chunks" { s += $2; r += $3 } END { printf "  all reps: rejected chunks %d simulated, %d real (real / simulated %.2f)\n", s, r, r / s }'
}

{
    echo "# trees.sh: the tree families on dyn-50 (results/validate/README.md)"
    echo
    for run in dyn-50-splitstream netns8-dyn-50-splitstream; do
        [ -d "$R/$run" ] || continue
        time_profile $run
        echo
        per_rep $run
        echo
    done
} > "$out"

# Part 2: simulator sensitivity, seeds 1-40 x draws 1-10.
sc=scenarios/validate/dyn-50-splitstream.toml
cp $sc "$tmp/base.toml"
sed 's/^min_ms = 20$/min_ms = 21/; s/^max_ms = 60$/max_ms = 61/' $sc > "$tmp/lat1.toml"
sed 's/^min_ms = 20$/min_ms = 25/; s/^max_ms = 60$/max_ms = 65/' $sc > "$tmp/lat5.toml"
awk '/^\[\[attack\]\]/ { skip = 1 } /^\[defence\]/ { skip = 0 } !skip' $sc > "$tmp/noattack.toml"
for v in lat1 lat5 noattack; do
    if cmp -s "$tmp/base.toml" "$tmp/$v.toml"; then echo "trees.sh: the $v variant did not change $sc" >&2; exit 1; fi
done
sweep "$B" "$tmp" "base lat1 lat5 noattack" "$(seq 1 40)" 10 continuity_mean lag_p50 > "$tmp/sens.txt"
{
    echo "simulator only: dyn-50-splitstream, seeds 1-40 x protocol draws 1-10 (400 runs per variant), the variant - the committed scenario, paired by (seed, draw)"
    awk '
        $1 == "base" { b[$2 " " $3] = $4; bl[$2 " " $3] = $5; next }
        {
            d = $4 - b[$2 " " $3]; n[$1]++; s[$1] += d; q[$1] += d * d
            e = ($5 - bl[$2 " " $3]) / bl[$2 " " $3]; sl[$1] += e; ql[$1] += e * e
        }
        END {
            split("lat1 lat5 noattack", o, " ")
            name["lat1"] = "per-pair latency 21-61 ms (+1)"; name["lat5"] = "per-pair latency 25-65 ms (+5)"
            name["noattack"] = "no polluters (the 2 attackers honest)"
            for (i = 1; i <= 3; i++) {
                v = o[i]; m = s[v] / n[v]; sd = sqrt((q[v] - n[v] * m * m) / (n[v] - 1))
                ml = sl[v] / n[v]; sdl = sqrt((ql[v] - n[v] * ml * ml) / (n[v] - 1))
                printf "  %-40s continuity_mean %+.4f (standard error %.4f), lag_p50 %+.1f%% (%.1f%%)\n", name[v], m, sd / sqrt(n[v]), 100 * ml, 100 * sdl / sqrt(n[v])
            }
        }' "$tmp/sens.txt"
    awk '$1 == "base" { t += $4; n++ } END { printf "  (the committed scenario: mean continuity_mean %.4f over %d runs)\n", t / n, n }' "$tmp/sens.txt"
} >> "$out"

# Part 3: tree-push's source.
server_load() { # RUN: per rep, draw 0 / real
    printf "  %-28s" "$1"
    for rep in "$R/$1"/rep-*; do
        awk '$1 == "server_load" { printf " %.2f/%.2f", $2, $3 }' "$rep/rep.txt"
    done
    echo
}
{
    echo
    echo "tree-push on dyn-50: the source's upload in stream copies (server_load), per rep (seeds 1-8), simulator draw 0 / real"
    for run in dyn-50-tree-push netns8-dyn-50-tree-push; do
        [ -d "$R/$run" ] && server_load $run
    done
    echo "  the simulator's protocol draws 1-20 of each seed (swarmlab run --draw): mean, lowest"
    sed 's/^name = "mesh-pull"$/name = "tree-push"/' scenarios/validate/dyn-50.toml > "$tmp/tp.toml"
    cmp -s scenarios/validate/dyn-50.toml "$tmp/tp.toml" && { echo "trees.sh: could not set tree-push" >&2; exit 1; }
    for s in 1 2 3 4 5 6 7 8; do
        for d in $(seq 1 20); do
            "$B" run "$tmp/tp.toml" --seed $s --draw $d --threads 1 --out "$tmp/out" --quiet > /dev/null
            awk -F, '$4 == "server_load" { print $5 }' "$tmp/out/summary.csv"
        done | awk -v s=$s 'NR == 1 { lo = $1 } { t += $1; if ($1 < lo) lo = $1 } END { printf "    seed %d: mean %.2f, lowest %.2f\n", s, t / NR, lo }'
    done
} >> "$out"

# Part 4: a seed's real run again.
{
    echo
    echo "seed 2 run again (run.sh seed2-repeat, loopback) beside rep 2 of the 8-rep run: real side (simulator draw 0 in brackets)"
    for pair in "dyn-50-splitstream dyn-50-splitstream-seed2" "dyn-50-tree-push dyn-50-tree-push-seed2"; do
        set -- $pair
        [ -f "$R/$1/rep-2/rep.txt" ] && [ -f "$R/$2/rep.txt" ] || continue
        echo "  $1 rep-2 | $2:"
        for m in continuity_mean lag_p50 peers_started startup_delay_p50 misses server_load rejected_chunks; do
            a=$(awk -v m=$m '$1 == m { print $3 " (" $2 ")" }' "$R/$1/rep-2/rep.txt")
            b=$(awk -v m=$m '$1 == m { print $3 " (" $2 ")" }' "$R/$2/rep.txt")
            printf "    %-18s %-22s | %s\n" "$m" "$a" "$b"
        done
        for f in "$1/rep-2" "$2"; do
            grep -h '^real run:' "$R/$f/rep.txt" | sed 's/^/    /'
        done
    done
} >> "$out"

# Part 5: control interleaving, SplitStream.
{
    echo
    echo "simulator only: SplitStream with control messages interleaved with the message in service (as the --netns kernel queue does) - as the engine models links, paired by (seed, draw)"
    echo "  $("$CI" scenarios/validate/dyn-50-splitstream.toml 40 10)"
} >> "$out"
echo "wrote $out"
