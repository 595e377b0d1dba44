#!/usr/bin/env bash
# Regenerates results/attack/ and results/dynamics/ (issue 4): every scenario
# of scenarios/attack and scenarios/dynamics through `swarmlab compare` (3
# seeds each, every protocol variant on the same population and attackers).
# Run from anywhere: bash results/attack/run.sh [attack] [dynamics]
# (no argument: both groups).
#
# Every run writes under target/ first and the files are copied into results/
# at the end, so that each manifest's git_commit is not marked -dirty by the
# results this script itself has already rewritten.
#
# Used by results/regenerate.sh through two environment variables:
#   RESULTS_DEST=DIR     copy to DIR/<group>/<name>.txt etc. instead of results/
#   SWARMLAB_NO_BUILD=1  skip the cargo build (the caller built the binary)
# The --out directory stays target/results-<group>/<name> whatever RESULTS_DEST
# is, because it is printed in <name>.txt and recorded in the manifest.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${RESULTS_DEST:-results}
[ "${SWARMLAB_NO_BUILD:-}" = 1 ] || cargo build --release --locked
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(attack dynamics)
for group in "${groups[@]}"; do
    mkdir -p "target/results-$group"
    for f in scenarios/$group/*.toml; do
        name=$(basename "$f" .toml)
        out=target/results-$group/$name
        rm -rf "$out"
        ./target/release/swarmlab compare "$f" --out "$out" > "$out.txt"
        echo "$f done"
    done
done
for group in "${groups[@]}"; do
    mkdir -p "$dest/$group"
    for f in scenarios/$group/*.toml; do
        name=$(basename "$f" .toml)
        out=target/results-$group/$name
        cp "$out.txt" "$dest/$group/$name.txt"
        cp "$out/replications.csv" "$dest/$group/$name-replications.csv"
        cp "$out/manifest.toml" "$dest/$group/$name-manifest.toml"
    done
done
