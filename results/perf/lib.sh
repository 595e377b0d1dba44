# results/perf/lib.sh: shared by the scripts of results/perf (sourced).

# scale_scenario FAMILY PEERS OUT: writes scenarios/scale/FAMILY.toml with
# `count = PEERS` and `arrival_rate_per_s = PEERS / 600` (sessions of 600 s)
# to OUT; the rate is rounded down where rounding up would take count +
# arrivals past the parser's 2,000,000-node limit (10^6). Run from the
# repository's root.
scale_scenario() {
    local f=$1 n=$2 out=$3 rate
    rate=$(awk -v n="$n" 'BEGIN { r = sprintf("%.6f", n / 600); if (n + r * 600 > 2000000) r = sprintf("%.6f", int(n / 600 * 1e6) / 1e6); print r }')
    sed -e "s/^count = .*/count = $n/" -e "s/^arrival_rate_per_s = [0-9.]*/arrival_rate_per_s = $rate/" \
        "scenarios/scale/$f.toml" >"$out"
}
