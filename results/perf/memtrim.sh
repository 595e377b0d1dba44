#!/usr/bin/env bash
# results/perf/memtrim.sh: peak RSS and CPU with and without src/memtrim.rs
# (malloc_trim between a run's steps; a module of commit 2d3917d, reverted:
# it did not lower the peak; results/perf/README.md, "malloc_trim between
# steps"). BIN must be a build of 2d3917d.
#
#   results/perf/memtrim.sh BIN ROUNDS THREADS FAMILY:PEERS...
#
# One binary, trimming on (its default) and off (SWARMLAB_MALLOC_TRIM=0),
# side by side: results/perf/alloc-ab.sh with those two settings.
# memtrim-ab.txt was written by this script's first version (in git at
# ffc53cb), which printed `trim=on`/`trim=off` where alloc-ab.sh prints
# `setting=on`/`setting=off`; the runs and columns are the same.
set -uo pipefail
bin=${1:?BIN} rounds=${2:?ROUNDS} threads=${3:?THREADS}
shift 3
exec "$(dirname "$0")/alloc-ab.sh" "$bin" "$rounds" "$threads" on= off=SWARMLAB_MALLOC_TRIM=0 -- "$@"
