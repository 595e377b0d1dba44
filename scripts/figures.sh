#!/usr/bin/env bash
# Regenerates every committed figure (SVG, PDF, 300-dpi PNG) from a release build:
#   docs/figures/{timeseries,cdf,metrics}.*  from `compare scenarios/compare/schedulers-200.toml`
#                                            (5 variants x 5 seeds, a few seconds), then `plot`;
#   results/scale/scale.*                    redrawn from results/scale/scale.csv (`bench --replot`;
#                                            the benchmark itself takes hours: results/scale/README.md).
# Outputs are deterministic: rerunning this on the same code gives the same bytes.
# Usage: bash scripts/figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
bin=target/release/swarmlab
rm -rf target/schedulers-200
"$bin" compare scenarios/compare/schedulers-200.toml --out target/schedulers-200 --quiet >/dev/null
"$bin" plot target/schedulers-200 --out docs/figures
"$bin" bench --replot --out results/scale
