#!/usr/bin/env bash
# results/perf/memory.sh: where a run's peak heap goes (issue 19, memory).
#
#   BIN_COMMIT=<commit of BIN> results/perf/memory.sh BIN SCENARIO OUT_TXT
#
# Runs `BIN run SCENARIO --threads 1` under heaptrack (Debian package
# `heaptrack`; huge pages off, GLIBC_TUNABLES empty, so that the binary does
# not re-execute itself away from the profiler) and writes to OUT_TXT the
# peak heap and its largest contributors, each attributed to the first
# function of swarmlab's own crates on its allocation's stack, summed per
# function (heaptrack's units: K = 10^3 bytes, M = 10^6). heaptrack slows the
# run about 2-3x; the figures are bytes, not time.
set -euo pipefail
bin=${1:?BIN}
sc=${2:?SCENARIO}
out=${3:?OUT_TXT}
command -v heaptrack >/dev/null || { echo "needs heaptrack (apt-get install heaptrack)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started="$(date -u +%FT%TZ), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
GLIBC_TUNABLES= heaptrack -o "$tmp/ht" "$bin" run "$sc" --threads 1 --out "$tmp/out" -q >"$tmp/log" 2>&1
heaptrack_print -f "$tmp/ht.zst" --print-peaks 1 --print-allocators 0 --print-temporary 0 --print-leaks 0 \
    --peak-limit 60 --merge-backtraces 0 >"$tmp/peaks.txt" 2>/dev/null
heaptrack_print -f "$tmp/ht.zst" 2>/dev/null | grep -E '^peak heap memory consumption' >"$tmp/total"
{
    echo "# heap profile: $(basename "$bin") run $sc --threads 1"
    echo "# binary: $bin (commit ${BIN_COMMIT:-unknown: set BIN_COMMIT}), started $started"
    cat "$tmp/total"
    echo "# peak bytes attributed to the first swarmlab function on the stack (largest 60 call sites, summed):"
    awk '
        function bytes(s,   n, u) {
            n = s + 0; u = substr(s, length(s), 1)
            if (u == "K") n *= 1e3; else if (u == "M") n *= 1e6; else if (u == "G") n *= 1e9
            return n
        }
        / peak memory consumed over / { cur = bytes($1); want = 1; next }
        want && /^  *(sim|protocols|analysis|swarmlab|net)::/ {
            f = $1; sub(/::h[0-9a-f]+$/, "", f); gsub(/\$LT\$/, "<", f); gsub(/\$GT\$/, ">", f); gsub(/\$u7b\$/, "{", f); gsub(/\$u7d\$/, "}", f)
            sum[f] += cur; want = 0
        }
        END { for (f in sum) printf "%10.2f MB  %s\n", sum[f] / 1e6, f }
    ' "$tmp/peaks.txt" | sort -rn
} >"$out"
cat "$out"
