#!/usr/bin/env bash
# Where the real-minus-simulated continuity deficit of mesh-pull on dyn-50 on
# loopback sits (results/validate/README.md, "The mesh-pull deficit on
# loopback"), from the committed run directories, and what the simulator
# says perturbations of the size the real hosts could add would cost.
#
# Part 1 (reads committed files only): per 5-s bin of protocol time, chunks
# played and missed over all reps of a run, real beside the simulator's draw
# 0 (rep-k/sim/); per peer group (class, joined in the first 10 s or later,
# left before the end or not, attacker), pooled continuity real and draw 0;
# per run, datagrams lost by impairment and dropped by hosts (rep.txt);
# bytes lost on the way (summary.csv: real `bytes_lost` / `bytes_sent`
# against the simulator's (lost + lost_departed) / (sent - discarded - queued)).
# Part 2 (simulator only, about a minute): dyn-50 mesh-pull, seeds 1-8 x
# protocol draws 1-10, the scenario as committed and with one thing changed
# (per-pair latency +20 and +50 ms, datagram loss 0.75% instead of 0.5%,
# every peer class's upload -3%, the source's upload -3%): mean paired
# difference of continuity_mean and its standard error.
# Part 3 (simulator only, about 10 s): what the kernel queue of `--netns`
# adds that neither the simulator nor the loopback pacer has, a control
# datagram sent between two media datagrams instead of after the message in
# service (`Engine::set_control_interleave`, examples/control-interleave):
# dyn-50, mesh-50 and mesh-50-uniform, mesh-pull, seeds 1-40 x draws 1-10.
# Everything goes to deficit.txt.
#
# Usage: bash results/validate/deficit.sh
set -eu
. "$(dirname "$0")/lib.sh"
sweep_setup
out=$R/deficit.txt


# groups RUN: pooled continuity per peer group, real and sim.
groups() {
    echo "$1: pooled continuity (played / (played + missed)) per peer group, all reps"
    for side in real sim; do
        for f in "$R/$1"/rep-*/$side/peers.csv; do
            awk -F, -v side=$side 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                {
                    g1 = ($c["behaviour"] == "honest") ? $c["class"] : "attacker"
                    g2 = ($c["joined_s"] > 10) ? "joined after 10 s" : "joined in the first 10 s"
                    g3 = ($c["left_s"] != "" && $c["left_s"] < 59.9) ? "left before the end" : "stayed to the end"
                    printf "%s|%s|%d|%d\n", side, g1, $c["played"], $c["missed"]
                    printf "%s|%s|%d|%d\n", side, g2, $c["played"], $c["missed"]
                    printf "%s|%s|%d|%d\n", side, g3, $c["played"], $c["missed"]
                    printf "%s|%s|%d|%d\n", side, "all", $c["played"], $c["missed"]
                }' "$f"
        done
    done | awk -F'|' '
        { p[$1 "|" $2] += $3; m[$1 "|" $2] += $4; n[$1 "|" $2]++; g[$2] = 1 }
        END {
            for (k in g) {
                rp = p["real|" k]; rm = m["real|" k]; sp = p["sim|" k]; sm = m["sim|" k]
                if (rp + rm == 0 || sp + sm == 0) continue
                printf "  %-26s %4d peers  real %.3f (%5d missed)  sim %.3f (%5d missed)  real - sim %+.3f\n", k, n["real|" k], rp / (rp + rm), rm, sp / (sp + sm), sm, rp / (rp + rm) - sp / (sp + sm)
            }
        }' | sort
}

# drops RUN: mean per rep of datagrams lost by impairment and dropped by hosts.
drops() {
    cat "$R/$1"/rep-*/rep.txt | awk -v run=$1 '/^real run:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i + 1) == "datagrams" && $(i + 2) == "lost") lost += $i
                if ($(i + 1) == "dropped" && $(i + 2) == "by") drop += $i
            }
            n++
        }
        END { if (n) printf "  %-30s %d reps: lost by impairment %6.1f, dropped by hosts %6.1f per rep (dropped / lost %.2f)\n", run, n, lost / n, drop / n, drop / lost }'
}

# bytes RUN: fraction of sent bytes not delivered, real and sim.
bytes() {
    for side in real sim; do
        cat "$R/$1"/rep-*/$side/summary.csv | awk -F, -v side=$side '
            $4 == "bytes_sent" { s += $5 } $4 == "bytes_lost" { l += $5 } $4 == "bytes_lost_departed" { d += $5 }
            $4 == "bytes_discarded" { x += $5 } $4 == "bytes_queued" { q += $5 }
            END { printf "%s %.4f\n", side, (l + d) / (s - x - q) }'
    done | awk -v run=$1 '{ v[$1] = $2 } END { printf "  %-30s real %.4f  sim %.4f  real - sim %+.4f\n", run, v["real"], v["sim"], v["real"] - v["sim"] }'
}

{
    echo "# deficit.sh: the mesh-pull continuity deficit on dyn-50, loopback (results/validate/README.md)"
    echo
    for run in dyn-50-mesh-pull dyn-50-mesh-pull-repeat netns8-dyn-50-mesh-pull mesh-50-8reps mesh-50-netns-8reps mesh-50-uniform-8reps dyn-50-outage; do
        time_profile $run
        echo
    done
    for run in dyn-50-mesh-pull dyn-50-mesh-pull-repeat netns8-dyn-50-mesh-pull; do
        groups $run
        echo
    done
    echo "datagrams lost by impairment (user space on loopback, nftables under --netns) and dropped by the hosts (every drop_* counter but duplicate fragments and cut-offs), per rep"
    for run in mesh-50-8reps mesh-50-netns-8reps mesh-50-uniform-8reps dyn-50-mesh-pull dyn-50-mesh-pull-repeat netns8-dyn-50-mesh-pull dyn-50-pull-push netns8-dyn-50-pull-push dyn-50-random-push netns8-dyn-50-random-push dyn-50-treebone netns8-dyn-50-treebone dyn-50-client-server netns8-dyn-50-client-server dyn-50-outage; do
        drops $run
    done
    echo
    echo "sent bytes not delivered, all reps: real bytes_lost / bytes_sent (serialized bytes; a real network cannot tell where a byte went); simulator (lost + lost_departed) / (sent - discarded - queued)"
    for run in mesh-50-8reps mesh-50-netns-8reps dyn-50-mesh-pull dyn-50-mesh-pull-repeat netns8-dyn-50-mesh-pull; do
        bytes $run
    done
    echo
} > "$out"

# Part 2: simulator sensitivity, seeds 1-8 x draws 1-10.
sc=scenarios/validate/dyn-50.toml
cp $sc "$tmp/base.toml"
sed 's/^min_ms = 20$/min_ms = 40/; s/^max_ms = 60$/max_ms = 80/' $sc > "$tmp/lat20.toml"
sed 's/^min_ms = 20$/min_ms = 70/; s/^max_ms = 60$/max_ms = 110/' $sc > "$tmp/lat50.toml"
sed 's/^loss = 0.005$/loss = 0.0075/' $sc > "$tmp/loss75.toml"
sed 's/^up_kbps = 512$/up_kbps = 497/; s/^up_kbps = 1000$/up_kbps = 970/' $sc > "$tmp/peers97.toml"
sed 's/^up_kbps = 1500 /up_kbps = 1455 /' $sc > "$tmp/source97.toml"
for v in lat20 lat50 loss75 peers97 source97; do
    if cmp -s "$tmp/base.toml" "$tmp/$v.toml"; then echo "deficit.sh: the $v variant did not change $sc" >&2; exit 1; fi
done
sweep "$B" "$tmp" "base lat20 lat50 loss75 peers97 source97" "1 2 3 4 5 6 7 8" 10 continuity_mean > "$tmp/sens.txt"
{
    echo "simulator only: dyn-50 mesh-pull, seeds 1-8 x protocol draws 1-10 (80 runs per variant), continuity_mean of the variant - the committed scenario, paired by (seed, draw)"
    awk '
        $1 == "base" { b[$2 " " $3] = $4; next }
        { d = $4 - b[$2 " " $3]; n[$1]++; s[$1] += d; q[$1] += d * d }
        END {
            split("lat20 lat50 loss75 peers97 source97", o, " ")
            name["lat20"] = "per-pair latency 40-80 ms (+20)"; name["lat50"] = "per-pair latency 70-110 ms (+50)"
            name["loss75"] = "datagram loss 0.75% (0.5%)"; name["peers97"] = "peer upload -3% (497, 970 kbps)"
            name["source97"] = "source upload -3% (1455 kbps)"
            for (i = 1; i <= 5; i++) {
                v = o[i]; m = s[v] / n[v]; sd = sqrt((q[v] - n[v] * m * m) / (n[v] - 1))
                printf "  %-36s %+.4f (standard error %.4f)\n", name[v], m, sd / sqrt(n[v])
            }
        }' "$tmp/sens.txt"
    awk '$1 == "base" { t += $4; n++ } END { printf "  (the committed scenario: mean continuity_mean %.4f over %d runs)\n", t / n, n }' "$tmp/sens.txt"
} >> "$out"
{
    echo
    echo "simulator only: mesh-pull with control messages interleaved with the message in service (as the --netns kernel queue does) - as the engine models links, paired by (seed, draw)"
    for f in dyn-50 mesh-50 mesh-50-uniform; do
        echo "  $("$CI" scenarios/validate/$f.toml 40 10)"
    done
} >> "$out"
echo "wrote $out"
