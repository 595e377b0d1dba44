#!/usr/bin/env bash
# What the kernel queue of `validate --netns` is worth to cdn-p2p on dyn-50
# in the simulator (issue 15): control datagrams sent between two media
# datagrams (`Engine::set_control_interleave`, examples/control-interleave)
# against the engine's links (a control message waits for the message in
# service), seeds 1-40 x protocol draws 1-10 paired, as deficit.sh measured
# it for mesh-pull (+0.0174, standard error 0.0018). Simulator only, about
# two minutes of CPU; writes cdn.txt.
#
# Usage: bash results/validate/cdn.sh
set -eu
. "$(dirname "$0")/lib.sh"
sweep_setup
family_scenario dyn-50.toml cdn-p2p "$tmp/dyn-50-cdn-p2p.toml"
{
    echo "# cdn-p2p on dyn-50 (scenarios/validate/dyn-50.toml, protocol cdn-p2p): control interleaved vs not, simulator (results/validate/cdn.sh; generated)"
    echo "# commit $(git rev-parse --short HEAD), $(date -u +%FT%TZ)"
    "$CI" "$tmp/dyn-50-cdn-p2p.toml" 40 10 | sed "s|$tmp/||"
} > $R/cdn.txt
cat $R/cdn.txt
