#!/usr/bin/env bash
# Regenerates results/compare/ (issue 3): the static and churn comparisons
# (3 seeds each), the bandwidth-starved one (one seed), and issue 13's
# reference protocols (reference-300, 5 seeds; degree-static-300 and
# degree-starved-300, 3 seeds) through
# `swarmlab compare`, every variant on the same population, network and seeds.
# Run from anywhere: bash results/compare/run.sh
#
# Every run writes under target/ first and the files are copied into results/
# at the end, so that each manifest's git_commit is not marked -dirty by the
# results this script itself has already rewritten.
#
# Used by results/regenerate.sh through two environment variables:
#   RESULTS_DEST=DIR     copy to DIR/compare/<name>.txt etc. instead of results/
#   SWARMLAB_NO_BUILD=1  skip the cargo build (the caller built the binary)
# The --out directory stays target/compare-<name> whatever RESULTS_DEST is,
# because it is printed in <name>.txt and recorded in the manifest.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${RESULTS_DEST:-results}/compare
[ "${SWARMLAB_NO_BUILD:-}" = 1 ] || cargo build --release --locked
scenarios=(scenarios/compare/static-300.toml scenarios/compare/churn-300.toml scenarios/starved-300.toml
    scenarios/compare/reference-300.toml scenarios/compare/degree-static-300.toml scenarios/compare/degree-starved-300.toml)
for f in "${scenarios[@]}"; do
    out=target/compare-$(basename "$f" .toml)
    rm -rf "$out"
    ./target/release/swarmlab compare "$f" --out "$out" > "$out.txt"
    echo "$f done"
done
mkdir -p "$dest"
for f in "${scenarios[@]}"; do
    name=$(basename "$f" .toml)
    out=target/compare-$name
    cp "$out.txt" "$dest/$name.txt"
    # A single-seed comparison (starved-300) writes no replications.csv.
    if [ -f "$out/replications.csv" ]; then
        cp "$out/replications.csv" "$dest/$name-replications.csv"
    fi
    cp "$out/manifest.toml" "$dest/$name-manifest.toml"
done
