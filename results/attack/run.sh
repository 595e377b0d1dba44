#!/usr/bin/env bash
# Regenerates results/attack/ and results/dynamics/ (issue 4): every scenario
# of scenarios/attack and scenarios/dynamics through `swarmlab compare` (3
# seeds each, every protocol variant on the same population and attackers).
# Run from the repository root: bash results/attack/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked
for group in attack dynamics; do
    for f in scenarios/$group/*.toml; do
        name=$(basename "$f" .toml)
        out=target/results-$group/$name
        rm -rf "$out"
        ./target/release/swarmlab compare "$f" --out "$out" > "results/$group/$name.txt"
        cp "$out/replications.csv" "results/$group/$name-replications.csv"
        cp "$out/manifest.toml" "results/$group/$name-manifest.toml"
        echo "$f done"
    done
done
