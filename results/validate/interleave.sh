#!/usr/bin/env bash
# What `network.control_priority = "datagram"` (the kernel queue of
# `validate --netns`: control between two datagrams of the chunk in
# service) is worth in the simulator to the families deficit.sh, cdn.sh and
# trees.sh do not measure (mesh-pull, cdn-p2p, SplitStream): random-push,
# tree-push, treebone, pull-push and client-server on dyn-50, seeds 1-40 x
# protocol draws 1-10 paired (examples/control-interleave). Simulator
# only, about five minutes. Writes interleave.txt.
#
# Usage: bash results/validate/interleave.sh
set -eu
. "$(dirname "$0")/lib.sh"
sweep_setup
family_scenario dyn-50.toml random-push "$tmp/dyn-50-random-push.toml"
family_scenario dyn-50.toml tree-push "$tmp/dyn-50-tree-push.toml"
family_scenario dyn-50.toml hybrid "$tmp/dyn-50-treebone.toml"
family_scenario dyn-50.toml client-server "$tmp/dyn-50-client-server.toml"
cp scenarios/validate/dyn-50-pull-push.toml "$tmp/dyn-50-pull-push.toml"
{
    echo "# dyn-50: continuity_mean with control between datagrams (network.control_priority = \"datagram\") - with whole messages, simulator (results/validate/interleave.sh; generated)"
    echo "# commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ)"
    for f in random-push tree-push treebone pull-push client-server; do
        "$CI" "$tmp/dyn-50-$f.toml" 40 10 | sed "s|$tmp/||"
    done
} > $R/interleave.txt
cat $R/interleave.txt
