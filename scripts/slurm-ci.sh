#!/usr/bin/env bash
# The documented Slurm recipe (README "Sweeps, clusters and the regression
# gate"; the sbatch script in the doc of src/sweep.rs), run for real on a
# single-node Slurm cluster started here:
#
#   1. install Debian's slurm-wlm and munge when missing (apt-get; needs root);
#   2. start munged, slurmctld and slurmd with a generated minimal
#      configuration in a temporary directory (own key, socket and ports, so
#      nothing of the machine's own munge or Slurm is used or touched);
#   3. submit `swarmlab sweep --shard $SLURM_ARRAY_TASK_ID/N` as an
#      `sbatch --array=0-(N-1)` job and `swarmlab merge` as a job depending on
#      it (afterok), wait for both;
#   4. run the same sweep unsharded and compare sweep.csv and every job's CSV
#      files byte for byte with the merged result.
#
# Exits non-zero, saying why, when Slurm cannot be installed or started, a job
# fails or times out, or any byte differs (SLURM_CI_TAMPER=1 changes one byte
# of the merged result to show that the comparison catches it). The daemons are stopped and the
# temporary directory removed on every exit path. Takes about 30-60 s after
# the release build. Usage (from anywhere): bash scripts/slurm-ci.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SHARDS=${1:-4}
SWEEP=scenarios/sweep-example.toml
BIN="$REPO/target/release/swarmlab"

fail() { echo "slurm-ci: FAIL: $*" >&2; exit 1; }
say() { echo "slurm-ci: $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (to install slurm-wlm and munge and to run slurmd); run .ci/run as root"
[ -x "$BIN" ] || fail "$BIN is missing: run 'cargo build --release --locked' first"

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends slurm-wlm munge >/tmp/slurm-ci-apt.log 2>&1; then
        apt-get update -qq >>/tmp/slurm-ci-apt.log 2>&1 || true
        apt-get install -y -qq --no-install-recommends slurm-wlm munge >>/tmp/slurm-ci-apt.log 2>&1 \
            || { tail -20 /tmp/slurm-ci-apt.log >&2; fail "could not install slurm-wlm and munge (log above)"; }
    fi
fi
say "$(slurmctld -V), $(munged -V 2>&1 | head -1)"

# 2. A private single-node cluster.
T=$(mktemp -d /tmp/swarmlab-slurm.XXXXXX)
chmod 700 "$T"
PIDS=()
cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    if [ "$rc" != 0 ]; then
        for f in "$T"/slurmctld.log "$T"/slurmd.log "$T"/munged.log "$T"/out/*; do
            [ -f "$f" ] && { echo "--- $f (last 15 lines)" >&2; tail -15 "$f" >&2; }
        done
    fi
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/out"
chmod 700 "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
SOCK="$T/munge/munge.socket"
munged --force --foreground --key-file="$T/munge/munge.key" --socket="$SOCK" \
    --pid-file="$T/munge/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/seed" \
    >"$T/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || fail "munged did not start (no socket $SOCK)"

# Ports from the process id, so that concurrent CI runs on one machine do not collide.
BASE=$((20000 + ($$ % 20000) * 2))
HOST=$(hostname -s)
CPUS=$(nproc)
export SLURM_CONF="$T/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=swarmlabci
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$BASE
SlurmdPort=$((BASE + 1))
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -i -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$T/slurmd.out" 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 100); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then up=1; break; fi
    sleep 0.2
done
[ "$up" = 1 ] || fail "the Slurm node did not come up (sinfo: $(sinfo -h 2>&1 | head -3))"
say "cluster up: $(sinfo -h -o '%P %D nodes %c cpus %t')"

# 3. The recipe: an array of shards, then a dependent merge.
OUT="$T/sweep-out"
mkdir -p "$OUT"
cat >"$T/sweep.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=swarmlab-sweep
#SBATCH --cpus-per-task=1
#SBATCH --output=$T/out/sweep-%A_%a.log
"$BIN" sweep $SWEEP --out "$OUT/shard-\$SLURM_ARRAY_TASK_ID" \\
    --shard \$SLURM_ARRAY_TASK_ID/$SHARDS --threads \$SLURM_CPUS_PER_TASK --quiet
EOF
started=$SECONDS
jobid=$(sbatch --parsable --chdir="$REPO" --array=0-$((SHARDS - 1)) "$T/sweep.sbatch") \
    || fail "sbatch of the sweep array failed"
mergeid=$(sbatch --parsable --chdir="$REPO" --dependency=afterok:"$jobid" --job-name=swarmlab-merge \
    --output="$T/out/merge-%j.log" --wrap "\"$BIN\" merge \"$OUT\"/shard-* --out \"$OUT/all\"") \
    || fail "sbatch of the merge job failed"
say "submitted sweep array $jobid (0-$((SHARDS - 1))) and merge job $mergeid (afterok:$jobid)"
while [ -n "$(squeue -h -j "$jobid,$mergeid" 2>/dev/null)" ]; do
    [ $((SECONDS - started)) -lt 150 ] || { squeue >&2; fail "jobs still queued or running after 150 s"; }
    sleep 1
done
for j in $(seq 0 $((SHARDS - 1))); do
    state=$(scontrol -o show job "${jobid}_$j" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
    [ "$state" = JobState=COMPLETED ] || fail "array task ${jobid}_$j: ${state:-no record}"
done
state=$(scontrol -o show job "$mergeid" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
[ "$state" = JobState=COMPLETED ] || fail "merge job $mergeid: ${state:-no record}"
say "array and merge completed in $((SECONDS - started)) s"

# 4. Byte comparison with the unsharded sweep.
"$BIN" sweep $SWEEP --out "$T/full" --quiet >/dev/null
[ -s "$OUT/all/sweep.csv" ] || fail "the merge wrote no sweep.csv"
if [ "${SLURM_CI_TAMPER:-}" = 1 ]; then
    # Self-test of the comparison: change one byte of the merged result.
    say "SLURM_CI_TAMPER=1: changing one byte of the merged sweep.csv (this run must fail)"
    sed -i '2s/,/;/' "$OUT/all/sweep.csv"
fi
cmp "$T/full/sweep.csv" "$OUT/all/sweep.csv" || fail "merged sweep.csv differs from the unsharded sweep"
n=0
while IFS= read -r f; do
    cmp "$T/full/$f" "$OUT/all/$f" || fail "jobs file $f differs from the unsharded sweep"
    n=$((n + 1))
done < <(cd "$T/full" && find jobs -name '*.csv' | sort)
[ "$n" -gt 0 ] || fail "the unsharded sweep wrote no job CSV files"
diff <(cd "$T/full" && find jobs -name '*.csv' | sort) <(cd "$OUT/all" && find jobs -name '*.csv' | sort) \
    || fail "the merged sweep has different job files"
say "OK: merged sweep.csv and $n job CSV files equal the unsharded sweep byte for byte ($SHARDS shards; ${SECONDS} s in all)"
