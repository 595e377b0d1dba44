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
# dyn-50-splitstream and (if present) netns8-dyn-50-splitstream and the
# loopback reruns with other real draws (dyn-50-splitstream-rd1, -rd2).
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
# Part 6 (reads the committed records of dyn-50-tree-push-seed2-trace, made
# by `run.sh seed2-trace` with SWARMLAB_TRACE=1, and simulator only, about
# 10 s; needs `cargo build --release -p tree-trace`): tree-push's source in
# seed 2. The real run beside the simulator run with the real processes'
# protocol generators (examples/tree-trace with sim::rngs::HOST_DRAW), with
# and without the one early chunk the real run lost on the way (chunk 1 from
# the source to node 2, `drop=2:1`), and beside draw 0: per node the parents
# it attached to (and when), the source's children every 5 s, how many
# nodes' first Join went to the source, and server_load / continuity_mean.
# Part 7 (simulator only, about a minute): the polluters' media upload in
# SplitStream, the simulator's draws 1-20 of seeds 1-8 beside draw 0 and the
# real runs. Part 8 (reads dyn-50-splitstream-seed6-trace, made by `run.sh
# seed6-trace`, and simulator only): seed 6's polluter node 14 in its home
# stripe, real beside the simulator with the real processes' generators.
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
    for run in dyn-50-splitstream netns8-dyn-50-splitstream dyn-50-splitstream-rd1 dyn-50-splitstream-rd2; do
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

# Part 6: tree-push's source in seed 2, the real run beside the simulator with
# the real processes' generators.
TT=target/release/tree-trace
rec=$R/dyn-50-tree-push-seed2-trace/records
if [ -x "$TT" ] && [ -d "$rec" ]; then
    H=18446744073709551615 # sim::rngs::HOST_DRAW
    "$TT" "$tmp/tp.toml" 2 $H 1000 msgs > "$tmp/host.txt"
    "$TT" "$tmp/tp.toml" 2 $H 1000 msgs drop=2:1 > "$tmp/host-drop.txt"
    "$TT" "$tmp/tp.toml" 2 0 1000 msgs > "$tmp/d0.txt"
    # sim_parents FILE NODE: "parent@t ..." of the JoinAcks that accepted NODE.
    sim_parents() { awk -v n="$2" '$1 == "msg" && $3 == n && $4 == "msg_in" && /accept: true/ { printf "%s@%.2f ", $5, $2 / 1e9 }' "$1" | cut -c1-40; }
    real_parents() { awk -F, '$2 == "msg_in" && $4 ~ /accept: true/ { printf "%s@%.2f ", $3, $1 / 1e9 }' "$rec/node-$1.csv" 2>/dev/null | cut -c1-40; }
    # first_joins: how many nodes sent their first Join to the source (node 1), of how many.
    sim_first() { awk '$1 == "msg" && $4 == "msg_out" && $6 == "Join" && !($3 in j) { j[$3] = 1; n++; s += ($5 == 1) } END { printf "%d of %d", s, n }' "$1"; }
    real_first() { for f in "$rec"/node-*.csv; do awk -F, '$2 == "msg_out" && $4 ~ /^Join / { print ($3 == 1); exit }' "$f"; done | awk '{ n++; s += $1 } END { printf "%d of %d", s, n }'; }
    {
        echo
        echo "tree-push on dyn-50, seed 2: the real run with SWARMLAB_TRACE=1 (run.sh seed2-trace, records in dyn-50-tree-push-seed2-trace/records) beside the simulator run with the real processes' protocol generators (sim::rngs::HOST_DRAW, examples/tree-trace), the same with chunk 1 dropped on its way to node 2 (drop=2:1), and draw 0"
        echo "  parents each node attached to, parent@time (s), nodes 2-16:"
        printf "    %-4s %-40s | %-40s | %-40s | %s\n" node real "sim, real generators" "sim, real generators, chunk 1 to node 2 lost" "sim draw 0"
        for n in $(seq 2 16); do
            printf "    %-4s %-40s | %-40s | %-40s | %s\n" "$n" "$(real_parents $n)" "$(sim_parents "$tmp/host.txt" $n)" "$(sim_parents "$tmp/host-drop.txt" $n)" "$(sim_parents "$tmp/d0.txt" $n)"
        done
        echo "  the source's children (node ids) at 5, 10, ..., 60 s:"
        for t in 5 10 15 20 25 30 35 40 45 50 55 60; do
            r=$(awk -F, -v t="$t" '$1 / 1e9 <= t && $2 == "neighbour_added" { c[$3] = 1 } $1 / 1e9 <= t && $2 == "neighbour_removed" { delete c[$3] } END { for (k in c) printf "%s ", k }' "$rec/node-1.csv" | tr ' ' '\n' | sort -n | tr '\n' ' ')
            row() { awk -v t="$t" '$1 == "tree" && $2 + 0 == t && $3 == 1 { for (i = 5; i <= NF; i++) printf "%s ", $i }' "$1" | tr ' ' '\n' | sort -n | tr '\n' ' '; }
            printf "    %2d s  real: %-14s sim, real generators: %-14s with chunk 1 lost: %-14s draw 0: %s\n" "$t" "$r" "$(row "$tmp/host.txt")" "$(row "$tmp/host-drop.txt")" "$(row "$tmp/d0.txt")"
        done
        echo "  the real source: nodes that sent it a Join $(awk -F, '$2 == "msg_in" && $4 ~ /^Join / { j[$3] = 1 } END { for (k in j) printf "%s ", k }' "$rec/node-1.csv" | tr ' ' '\n' | sort -n | tr '\n' ' ')(Joins of its children included); refusals it sent $(awk -F, '$2 == "msg_out" && $4 ~ /accept: false/ { n++ } END { print n + 0 }' "$rec/node-1.csv"); children added $(awk -F, '$2 == "neighbour_added" { printf "%s@%.2f ", $3, $1 / 1e9 }' "$rec/node-1.csv")removed $(awk -F, '$2 == "neighbour_removed" { printf "%s@%.2f ", $3, $1 / 1e9 }' "$rec/node-1.csv")"
        echo "  nodes whose first Join went to the source: real $(real_first); sim, real generators $(sim_first "$tmp/host.txt"); with chunk 1 lost $(sim_first "$tmp/host-drop.txt"); draw 0 $(sim_first "$tmp/d0.txt")"
        echo "  node 2 in the real run: first chunk arrived $(awk -F, '$2 == "arrived" { print "seq " $3 " at " $1 / 1e9 " s"; exit }' "$rec/node-2.csv"); the source's upload of media by 1.6 s $(awk -F, '$2 == "bytes" && $1 < 1.6e9 { b = $3 } END { print b }' "$rec/node-1.csv") bytes (one chunk, to its only child, node 2); node 2's reassembly expiries (incomplete messages) $(awk -F, '$2 == "stat" && $3 == "drop_expired" { print $4 }' "$rec/node-2.csv")"
        printf "  server_load, continuity_mean: real %s, %s (draw 0 %s, %s); sim, real generators %s, %s; with chunk 1 lost %s, %s\n" \
            "$(awk '$1 == "server_load" { print $3 }' "$R/dyn-50-tree-push-seed2-trace/rep.txt")" "$(awk '$1 == "continuity_mean" { print $3 }' "$R/dyn-50-tree-push-seed2-trace/rep.txt")" \
            "$(awk '$1 == "summary" { print $3 }' "$tmp/d0.txt")" "$(awk '$1 == "summary" { print $5 }' "$tmp/d0.txt")" \
            "$(awk '$1 == "summary" { print $3 }' "$tmp/host.txt")" "$(awk '$1 == "summary" { print $5 }' "$tmp/host.txt")" \
            "$(awk '$1 == "summary" { print $3 }' "$tmp/host-drop.txt")" "$(awk '$1 == "summary" { print $5 }' "$tmp/host-drop.txt")"
        echo "  nodes 17 and 18 (joining 5.4 ms apart; one-way delays to the tracker, node 0: $("$TT" "$tmp/tp.toml" 2 0 60000 lat=17:0 lat=18:0 | awk '$1 == "latency" { printf "%s%s %s ms", (n++ ? ", " : ""), $2, $4 }')): Register sent, member list received (its length, whether it names the other)"
        for n in 17 18; do
            o=$((35 - n))
            printf "    node %s real: %s\n" "$n" "$(awk -F, -v o=$o '$2 == "msg_out" && $4 ~ /^Register/ && !r { r = 1; printf "Register %.4f s, ", $1 / 1e9 } $2 == "msg_in" && $4 ~ /^PeerList / && !p { p = 1; k = gsub(/p[0-9]+/, "&", $4); printf "list at %.4f s, %d members, names %s: %s", $1 / 1e9, k, o, ($4 ~ ("p" o "[];]") ? "yes" : "no") }' "$rec/node-$n.csv")"
            printf "    node %s sim, real generators: %s\n" "$n" "$(awk -v n=$n -v o=$o '$1 == "msg" && $3 == n && $6 == "Register" && !r { r = 1; printf "Register %.4f s, ", $2 / 1e9 } $1 == "msg" && $3 == n && $4 == "msg_in" && $6 == "PeerList" && !p { p = 1; k = gsub(/p[0-9]+/, "&"); printf "list at %.4f s, %d members, names %s: %s", $2 / 1e9, k, o, ($0 ~ ("p" o "[];]") ? "yes" : "no") }' "$tmp/host.txt")"
        done
        printf "  the simulator's draws 1-20 of seed 2: draws in which node 2 received chunk 1 from the source: "
        for d in $(seq 1 20); do
            "$TT" "$tmp/tp.toml" 2 "$d" 60000 all | awk '$1 == "msg" && $3 == 2 && $4 == "msg_in" && $5 == 1 && $6 == "Chunk" && $9 == "1;" { f = 1 } END { print f + 0 }'
        done | awk '{ s += $1 } END { printf "%d of %d\n", s, NR }'
        echo "  the simulator with the real generators, every seed of the 8-rep run (server_load, continuity_mean), beside the real rep of the seed (dyn-50-tree-push):"
        for s in 1 2 3 4 5 6 7 8; do
            printf "    seed %d: sim, real generators %s; real %s\n" "$s" "$("$TT" "$tmp/tp.toml" $s $H 60000 | awk '$1 == "summary" { print $3 ", " $5 }')" \
                "$(awk '$1 == "server_load" { l = $3 } $1 == "continuity_mean" { c = $3 } END { print l ", " c }' "$R/dyn-50-tree-push/rep-$s/rep.txt")"
        done
    } >> "$out"
else
    echo "trees.sh: part 6 skipped (needs $TT, cargo build --release -p tree-trace, and $rec, run.sh seed2-trace)" >&2
fi

# Part 7 (simulator only, about a minute): SplitStream on dyn-50, the two
# polluters' media upload (peers.csv, up_media_bytes of the non-honest
# peers) in the simulator's draws 1-20 of seeds 1-8, beside draw 0 and the
# real runs (part 1 compares the real runs with draw 0 only).
{
    echo
    echo "dyn-50-splitstream: the polluters' media upload (KB) per seed, the simulator's draws 1-20 (mean, lowest, highest) beside draw 0 and the real runs (real draw 0; with --real-draw 1 and 2 where present)"
    tot_mean=0
    for s in 1 2 3 4 5 6 7 8; do
        for d in $(seq 1 20); do
            "$B" run scenarios/validate/dyn-50-splitstream.toml --seed $s --draw $d --threads 1 --out "$tmp/pol" --quiet > /dev/null
            awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["behaviour"] != "honest" { b += $c["up_media_bytes"] } END { print b / 1000 }' "$tmp/pol/peers.csv"
        done > "$tmp/pol-$s.txt"
        real=""
        for run in dyn-50-splitstream dyn-50-splitstream-rd1 dyn-50-splitstream-rd2; do
            f=$R/$run/rep-$s/real/peers.csv
            [ -f "$f" ] && real="$real $(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["behaviour"] != "honest" { b += $c["up_media_bytes"] } END { printf "%d", b / 1000 }' "$f")"
        done
        d0=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["behaviour"] != "honest" { b += $c["up_media_bytes"] } END { printf "%d", b / 1000 }' "$R/dyn-50-splitstream/rep-$s/sim/peers.csv")
        awk -v s=$s -v d0="$d0" -v real="$real" 'NR == 1 { lo = $1; hi = $1 } { t += $1; if ($1 < lo) lo = $1; if ($1 > hi) hi = $1 } END { printf "  seed %d: draws 1-20 mean %d (lowest %d, highest %d); draw 0 %d; real%s\n", s, t / NR, lo, hi, d0, real }' "$tmp/pol-$s.txt"
    done
    cat "$tmp"/pol-*.txt | awk '{ t += $1 } END { printf "  sum over seeds 1-8 of the draws'"'"' means: %d KB\n", t / 20 }'
    for run in dyn-50-splitstream dyn-50-splitstream-rd1 dyn-50-splitstream-rd2; do
        [ -d "$R/$run" ] || continue
        for f in "$R/$run"/rep-*/real/peers.csv; do
            awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["behaviour"] != "honest" { b += $c["up_media_bytes"] } END { print b / 1000 }' "$f"
        done | awk -v run=$run '{ t += $1 } END { printf "  %s: real, sum over the reps %d KB\n", run, t }'
    done
} >> "$out"

# Part 8 (reads the committed records of dyn-50-splitstream-seed6-trace, made
# by `run.sh seed6-trace`, and simulator only, a second): seed 6's polluter
# node 14 (home stripe 2) in the traced real run and in the simulator with
# the real processes' generators: its parents in stripe 2 and the children
# it accepted there.
rec6=$R/dyn-50-splitstream-seed6-trace/records
if [ -x "$TT" ] && [ -d "$rec6" ]; then
    "$TT" scenarios/validate/dyn-50-splitstream.toml 6 18446744073709551615 1000 msgs > "$tmp/s6host.txt"
    {
        echo
        echo "dyn-50-splitstream, seed 6: polluter node 14 in stripe 2 (its home stripe), the traced real run (run.sh seed6-trace) beside the simulator with the real processes' generators"
        echo "  real: parents $(awk -F, '$2 == "msg_in" && $4 ~ /^JoinAck \{ stripe: 2; accept: true/ { printf "%s@%.1f ", $3, $1 / 1e9 }' "$rec6/node-14.csv"); children accepted $(awk -F, '$2 == "msg_out" && $4 ~ /^JoinAck \{ stripe: 2; accept: true/ { printf "%s@%.1f ", $3, $1 / 1e9 }' "$rec6/node-14.csv"); media upload $(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["peer"] == 14 { printf "%d KB", $c["up_media_bytes"] / 1000 }' "$R/dyn-50-splitstream-seed6-trace/real/peers.csv")"
        echo "  sim, real generators: parents $(awk '$1 == "msg" && $3 == 14 && $4 == "msg_in" && $6 == "JoinAck" && $9 == "2;" && /accept: true/ { printf "%s@%.1f ", $5, $2 / 1e9 }' "$tmp/s6host.txt"); children accepted $(awk '$1 == "msg" && $3 == 14 && $4 == "msg_out" && $6 == "JoinAck" && $9 == "2;" && /accept: true/ { printf "%s@%.1f ", $5, $2 / 1e9 }' "$tmp/s6host.txt")"
    } >> "$out"
fi
