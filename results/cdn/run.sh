#!/usr/bin/env bash
# Regenerates results/cdn/ (issue 17): CDN only (client-server with an ample
# server) vs CDN-assisted P2P (cdn-p2p) vs pure P2P (mesh-pull, random-push)
# at 1,000 peers (300 s, 3 seeds; static, with churn, with 30% free-riders)
# and 10,000 peers (180 s, 2 seeds); every family with and without NATs, and
# the P2P families with uniform and ISP-biased tracker sampling, at 300
# peers (3 seeds); through `swarmlab compare`, every variant of a file on
# the same population, network and seeds. About 4-7 minutes on 2 cores.
# Run from anywhere: bash results/cdn/run.sh
#
# Every run writes under target/ first and the files are copied into results/
# at the end, so that each manifest's git_commit is not marked -dirty by the
# results this script itself has already rewritten.
#
# Used by results/regenerate.sh through two environment variables:
#   RESULTS_DEST=DIR     copy to DIR/cdn/<name>.txt etc. instead of results/
#   SWARMLAB_NO_BUILD=1  skip the cargo build (the caller built the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${RESULTS_DEST:-results}/cdn
[ "${SWARMLAB_NO_BUILD:-}" = 1 ] || cargo build --release --locked
scenarios=(scenarios/cdn/cdn-only-1k.toml scenarios/cdn/assisted-1k.toml scenarios/cdn/assisted-churn-1k.toml scenarios/cdn/attack-1k.toml
    scenarios/cdn/cdn-only-10k.toml scenarios/cdn/assisted-10k.toml scenarios/cdn/nat-off-300.toml scenarios/cdn/nat-300.toml
    scenarios/cdn/isp-uniform-300.toml scenarios/cdn/isp-local-300.toml)
for f in "${scenarios[@]}"; do
    out=target/cdn-$(basename "$f" .toml)
    rm -rf "$out"
    ./target/release/swarmlab compare "$f" --out "$out" > "$out.txt"
    echo "$f done"
done
mkdir -p "$dest"
for f in "${scenarios[@]}"; do
    name=$(basename "$f" .toml)
    out=target/cdn-$name
    cp "$out.txt" "$dest/$name.txt"
    cp "$out/replications.csv" "$dest/$name-replications.csv"
    cp "$out/manifest.toml" "$dest/$name-manifest.toml"
done
# The metrics results/cdn/README.md discusses, one row per scenario, variant
# and metric (mean over the seeds and the 95% half-width), from the
# replications files just copied.
metrics=" continuity_all continuity_honest continuity_mean startup_delay_p50 lag_p50 lag_p95 p2p_offload cdn_egress_gb cdn_edge_gb cdn_egress_peak_mbps cdn_cost energy_total_kwh energy_network_kwh energy_per_viewer_hour_wh nat_peers nat_blocked_messages continuity_nat continuity_public cross_isp_share "
{
    echo "scenario,variant,metric,mean,ci95_half,unit,n"
    for f in "${scenarios[@]}"; do
        name=$(basename "$f" .toml)
        awk -F, -v want="$metrics" 'NR > 1 && index(want, " " $4 " ") {
            half = ($9 == "" || $8 == "") ? "" : ($9 - $8) / 2
            print $1 "," $2 "," $4 "," $6 "," half "," $10 "," $5
        }' "$dest/$name-replications.csv"
    done
} > "$dest/summary.csv"
