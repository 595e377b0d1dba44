#!/usr/bin/env bash
# SplitStream's pushes real against the simulator, from the traced runs
# (results/validate/README.md, "The delay before the kernel's queue"): for
# every committed traced SplitStream run (dyn-50-splitstream-seed*-trace on
# loopback, netns*-dyn-50-splitstream-seed*-trace under --netns), the
# simulator run with the real processes' own generators (tree-trace with
# protocol draw 18446744073709551615 = sim::rngs::host_draw(0); under
# --netns with network.control_priority = "datagram", as validate judges),
# and order.py's per-hop delays, delivery delays, gaps between a parent's
# children and the forwarders' rank among them -> order.txt; before them,
# every run's delivery_delay_p50 real / simulated per rep (its rep.txt files)
# and the simulator's delivery delay by control discipline. Simulator only,
# seconds; needs `cargo build --release --workspace` and python3.
set -eu
cd "$(dirname "$0")/../.."
R=results/validate
T=target/release/tree-trace
[ -x "$T" ] && [ -x target/release/swarmlab ] || { echo "build first: cargo build --release --workspace" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/^loss = 0.005$/loss = 0.005\ncontrol_priority = "datagram"/' scenarios/validate/dyn-50-splitstream.toml > "$tmp/datagram.toml"
grep -q '^control_priority = "datagram"' "$tmp/datagram.toml"
{
    echo "# SplitStream's pushes, real against the simulator with the real processes' generators (results/validate/order.sh; generated)"
    echo "# hops: child's arrival minus its stripe parent's (s); delivery: arrival minus emission (s); forwarders' rank:"
    echo "# a forwarder's position among a parent's children in arrival order (0 first, 1 last; the protocol sends to forwarders first)"
    echo
    echo "## delivery_delay_p50 per rep, real / simulator (rep.txt: draw 0 as the run recorded it), runs of 8 or more reps"
    for d in $R/*-dyn-50-* $R/dyn-50-*; do
        [ -d "$d/rep-8" ] || continue
        awk -v d="$(basename "$d")" '$1=="delivery_delay_p50" && $2 > 0 { r += $3 / $2; n++; if ($3 > $2) up++ }
            END { if (n) printf "%-34s reps %2d  mean ratio %.3f  real above in %d\n", d, n, r / n, up }' "$d"/rep-*/rep.txt
    done
    echo
    echo "## the simulator alone, dyn-50-splitstream, seeds 1-20, draw 0: delivery_delay_p50 by control discipline (mean over seeds)"
    for disc in message datagram; do
        if [ $disc = datagram ]; then sc=$tmp/datagram.toml; else sc=scenarios/validate/dyn-50-splitstream.toml; fi
        target/release/swarmlab run "$sc" --seed 1 --reps 20 --out "$tmp/$disc" > /dev/null 2>&1
        awk -F, -v d=$disc '$4=="delivery_delay_p50" { printf "%-9s %.3f s (sd %.3f over %d seeds)\n", d, $6, $7, $5 }' "$tmp/$disc/replications.csv"
    done
    echo
    echo "## traced SplitStream runs"
    for d in $R/dyn-50-splitstream-seed*-trace $R/netns*-dyn-50-splitstream-seed*-trace; do
        [ -d "$d/records" ] || continue
        seed=$(sed -n 's/^seeds = \[\([0-9]*\).*/\1/p' "$d/manifest.toml")
        [ -n "$seed" ] || seed=$(sed -n 's/^seed = \([0-9]*\)$/\1/p' "$d/manifest.toml")
        commit=$(sed -n 's/^git_commit = "\(.*\)"$/\1/p' "$d/manifest.toml" | cut -c1-12)
        if grep -q 'validate_mode = "netns"' "$d/manifest.toml"; then sc=$tmp/datagram.toml; else sc=scenarios/validate/dyn-50-splitstream.toml; fi
        "$T" "$sc" "$seed" 18446744073709551615 500 all > "$tmp/trace.txt"
        python3 $R/order.py "$(basename "$d") ($commit)" "$d" "$tmp/trace.txt"
    done
} > $R/order.txt
cat $R/order.txt
