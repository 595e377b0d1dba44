#!/usr/bin/env bash
# results/validate/drophead.sh: how much of a `--netns` run's real-worse
# reading the kernel path's departure purge of session 25 explains. That
# purge (`Net::purge_upload`, removed in session 26) deleted a departing
# node's upload qdisc and with it the rest of the message in service, which
# the simulator still sends. drophead.patch (a diagnostic, never on main)
# makes the simulator drop that message too when SWARMLAB_DROP_HEAD is set;
# each run directory given is rejudged (validate --rejudge, 20 draws per
# seed) by the patched simulator with and without it. Simulator only, no
# root; writes drophead.txt.
#
#   results/validate/drophead.sh RUN_DIR...   (e.g. netns20ph-dyn-50-random-push)
set -euo pipefail
cd "$(dirname "$0")/../.."
R=results/validate
base=$(git rev-parse --short HEAD)
wt=$(mktemp -d /tmp/drophead.XXXXXX)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$wt" HEAD >/dev/null
(cd "$wt" && git apply "$OLDPWD/$R/drophead.patch" && cargo build --release --quiet)
B=$wt/target/release/swarmlab
{
    echo "# drophead.sh at $base + drophead.patch, $(date -u +%FT%TZ); validate --rejudge DIR --sim-draws 20"
    echo "# 'as is': the simulator of this commit; 'head dropped': a leaving node's message in service discarded too"
    for run in "$@"; do
        d=$R/$(basename "$run")
        for mode in as-is head-dropped; do
            out=$(mktemp -d)
            if [ $mode = head-dropped ]; then export SWARMLAB_DROP_HEAD=1; else unset SWARMLAB_DROP_HEAD; fi
            # Exit 0/1/3 is the verdict; rejudge.txt holds it.
            $B validate --rejudge "$d" --sim-draws 20 --out "$out" > /dev/null 2>&1 || true
            echo "== $(basename "$d"), $mode"
            grep -E '^  (continuity|lag)|^  =>' "$out/rejudge.txt" | sed 's/per rep \[[^]]*\], //'
            rm -rf "$out"
        done
    done
} | tee $R/drophead.txt
