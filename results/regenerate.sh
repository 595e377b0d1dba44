#!/usr/bin/env bash
# results/regenerate.sh: regenerate every result under results/ that
# deterministic code produces, and report which committed files came out
# identical. See results/README.md for what is compared, masked and skipped.
#
#   results/regenerate.sh [--check | --write] [--only GROUP,...] [--jobs N]
#                         [--scale-peers N,...]
#
#   --check (default)  regenerate into target/regen/new/ and compare it with
#                      results/, which is left untouched. Exit 0 only if every
#                      compared file is identical, 1 otherwise, 2 on bad usage
#                      or a failed build.
#   --write            the same, then copy into results/ every regenerated
#                      scenario of baseline, compare, cdn, attack, dynamics and targets
#                      that differs (its .txt, -replications.csv and
#                      -manifest.toml together), and print
#                      `git status --short results/`. Identical scenarios are
#                      left alone, so their manifests keep their commit. The
#                      groups that mix simulated numbers with wall-clock or
#                      real-network measurements (reference, scale, validate)
#                      are only checked, never written: the report names the
#                      command that refreshes them. Exit 0 unless a
#                      regeneration failed, a file has no rule, or one of
#                      those checked-only groups differs.
#   --only LIST        groups to do (comma-separated) out of:
#                      baseline compare cdn attack dynamics targets reference scale validate perf
#                      (default: all).
#   --jobs N           groups regenerated at once (default 1). `compare`
#                      and `check` already run their seeds and variants in
#                      parallel on every core.
#   --scale-peers LIST populations of results/scale/scale.csv rows to rerun
#                      (default 1000; 10000 adds about 4 minutes, 100000 hours).
#
# Needs bash 4.3+, coreutils, diff, awk, sed, git and the Rust toolchain.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

ALL_GROUPS=(baseline compare cdn attack dynamics targets reference scale validate perf)
WRITTEN_GROUPS=" baseline compare cdn attack dynamics targets " # copied into results/ by --write
mode=check
only=""
jobs=1
scale_peers=1000

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --check) mode=check ;;
        --write) mode=write ;;
        --only) only=${2:-}; shift ;;
        --only=*) only=${1#--only=} ;;
        --jobs) jobs=${2:-}; shift ;;
        --jobs=*) jobs=${1#--jobs=} ;;
        --scale-peers) scale_peers=${2:-}; shift ;;
        --scale-peers=*) scale_peers=${1#--scale-peers=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "error: --jobs needs a positive integer" >&2; exit 2; }
[[ "$scale_peers" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "error: --scale-peers needs populations such as 1000,10000" >&2; exit 2; }

groups=()
if [ -z "$only" ]; then
    groups=("${ALL_GROUPS[@]}")
else
    IFS=, read -r -a wanted <<< "$only"
    for g in "${wanted[@]}"; do
        case " ${ALL_GROUPS[*]} " in
            *" $g "*) groups+=("$g") ;;
            *) echo "error: unknown group '$g' (groups: ${ALL_GROUPS[*]})" >&2; exit 2 ;;
        esac
    done
fi

SCRATCH=target/regen
NEW=$SCRATCH/new     # regenerated files, laid out as results/
LOGS=$SCRATCH/logs
NORM=$SCRATCH/norm   # normalised copies for masked comparisons
BIN=./target/release/swarmlab
t0=$(date +%s.%N)

echo "== results/regenerate.sh --$mode, groups: ${groups[*]}, jobs: $jobs"
echo "== $(uptime)"
rm -rf "$SCRATCH"
mkdir -p "$NEW" "$LOGS" "$NORM"

echo "== cargo build --release --locked"
cargo build --release --locked || { echo "error: the release build failed" >&2; exit 2; }
export SWARMLAB_NO_BUILD=1

# ---------------------------------------------------------------- regeneration
# Each regen_<group> writes $NEW/<group>/... with the command that made the
# committed files (the group's run.sh where there is one). Both modes
# regenerate everything first, so that no manifest sees a results/ already
# rewritten by this script (which would mark its git_commit -dirty).

regen_baseline() { # src/check/mod.rs: `--update` is the one way to make baselines
    mkdir -p "$NEW/baseline"
    "$BIN" check scenarios/ci/*.toml --baseline "$NEW/baseline" --update
}
regen_compare() { RESULTS_DEST=$NEW bash results/compare/run.sh; }
regen_cdn() { RESULTS_DEST=$NEW bash results/cdn/run.sh; }
regen_attack() { RESULTS_DEST=$NEW bash results/attack/run.sh attack; }
regen_dynamics() { RESULTS_DEST=$NEW bash results/attack/run.sh dynamics; }
regen_targets() { RESULTS_DEST=$NEW bash results/targets/run.sh; }
regen_reference() { REFERENCE_OUT=$NEW/reference/runs.csv bash results/reference/run.sh; }
regen_scale() { # results/scale/README.md's command, at the --scale-peers populations
    mkdir -p "$NEW/scale"
    "$BIN" bench --peers "$scale_peers" --protocols mesh-pull,tree-push,hybrid --out "$NEW/scale" --no-plot
}
# The simulator side of each committed `swarmlab validate` run: the same
# scenario, seed and protocol through `swarmlab run` (validate's simulator half
# is runner::run + write_run, as `run` is). The scenario, seeds, --protocol and
# the reference's link discipline come from the directory's manifest.toml.
# --protocol is applied by rewriting the [protocol] name of a copy of the
# scenario (the scenario's `name` stays); `validate_sim_control = "datagram"`
# (the reference of a --netns run since session 19) by setting
# network.control_priority in that copy. A run of one seed has its simulator
# side in sim/, a run with --reps N in rep-K/sim/ (K = 1..N, the manifest's
# seeds in order).
regen_validate() {
    local m dir name cmd scen proto seeds control sc k s
    for m in results/validate/*/manifest.toml; do
        dir=$(dirname "$m"); name=$(basename "$dir")
        cmd=$(sed -n 's/^command = \[\(.*\)\]$/\1/p' "$m" | tr -d '"' | sed 's/, /\n/g')
        scen=$(echo "$cmd" | awk 'prev == "validate" { print; exit } { prev = $0 }')
        proto=$(echo "$cmd" | awk 'prev == "--protocol" { print; exit } { prev = $0 }')
        seeds=$(sed -n 's/^seeds = \[\([0-9, ]*\)\]$/\1/p' "$m" | tr -d ,)
        control=$(sed -n 's/^validate_sim_control = "\(.*\)"$/\1/p' "$m")
        if [ -z "$scen" ] || [ -z "$seeds" ]; then
            echo "error: cannot read the scenario and seeds from $m"; return 1
        fi
        mkdir -p "$NEW/validate/$name"
        sc=$scen
        if [ -n "$proto" ] || [ "$control" = datagram ]; then
            sc=$NEW/validate/$name/scenario.toml
            awk -v p="$proto" -v c="$control" '
                /^\[/ { inproto = ($0 ~ /^\[protocol\][ \t]*(#.*)?$/) }
                p != "" && inproto && /^name[ \t]*=/ { print "name = \"" p "\""; done = 1; next }
                { print }
                c == "datagram" && /^\[network\][ \t]*(#.*)?$/ { print "control_priority = \"datagram\""; net = 1 }
                END { if (c == "datagram" && !net) print "[network]\ncontrol_priority = \"datagram\""
                      if (p != "" && !done) exit 1 }' "$scen" > "$sc" \
                || { echo "error: no [protocol] name in $scen to override"; return 1; }
        fi
        set -- $seeds
        echo "== $name: $scen seeds $*${proto:+ protocol $proto}${control:+ control $control}"
        if [ -d "$dir/sim" ]; then
            "$BIN" run "$sc" --seed "$1" --reps 1 --quiet --out "$NEW/validate/$name/sim" || return 1
        else
            k=0
            for s in "$@"; do
                k=$((k + 1))
                "$BIN" run "$sc" --seed "$s" --reps 1 --quiet --out "$NEW/validate/$name/rep-$k/sim" || return 1
            done
        fi
    done
}
regen_perf() { echo "perf: nothing to regenerate (timings and instruction counts)"; }

run_group() { # group: runs regen_<group>, records exit status, wall and CPU seconds
    local g=$1 s e rc
    s=$(date +%s.%N)
    "regen_$g" > "$LOGS/$g.log" 2>&1
    rc=$?
    e=$(date +%s.%N)
    # `times`' second line: user and system time of this shell's children
    # (not in $(...), whose fork would start from zero).
    times > "$LOGS/$g.times"
    echo "$rc $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", e - s }') $(tail -1 "$LOGS/$g.times")" > "$LOGS/$g.status"
}

echo "== regenerating (logs in $LOGS/)"
# Longest first, so that --jobs 2 packs well.
order=(attack dynamics compare cdn targets scale reference baseline validate perf)
for g in "${order[@]}"; do
    [[ " ${groups[*]} " == *" $g "* ]] || continue
    if [ "$jobs" -gt 1 ]; then
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        ( run_group "$g"; read -r rc w _ < "$LOGS/$g.status"; echo "   $g: exit $rc, ${w} s" ) &
    else
        # A subshell, so that `times` counts this group's processes only.
        ( run_group "$g" ); read -r rc w _ < "$LOGS/$g.status"; echo "   $g: exit $rc, ${w} s"
    fi
done
wait

# ------------------------------------------------------------------ comparison

# How each committed file is compared (path relative to results/):
#   exact | txt | manifest | validate-manifest | reference | scale | validate-csv
#   | skip:REASON | none (documentation and scripts: not results)
rule_for() {
    case "$1" in
        */README.md|*.sh) echo none ;;
        baseline/*.csv) echo exact ;;
        compare/*.txt|cdn/*.txt|attack/*.txt|dynamics/*.txt|targets/*.txt) echo txt ;;
        compare/*-replications.csv|cdn/*-replications.csv|attack/*-replications.csv|dynamics/*-replications.csv|targets/*-replications.csv) echo exact ;;
        targets/targets.csv|targets/*-compare.csv|cdn/summary.csv) echo exact ;;
        compare/*-manifest.toml|cdn/*-manifest.toml|attack/*-manifest.toml|dynamics/*-manifest.toml|targets/*-manifest.toml) echo manifest ;;
        reference/runs.csv) echo reference ;;
        scale/scale.csv) echo scale ;;
        scale/continuity-session5.csv) echo "skip:continuity check of session 5 beside wall times measured under heavy load (rerun: swarmlab bench --peers 1000,10000 --protocols mesh-pull,tree-push,hybrid --no-plot)" ;;
        scale/scale.png|scale/scale.svg|scale/scale.pdf) echo "skip:plot of wall time and peak RSS (timings)" ;;
        perf/profile.md|perf/phold.md) echo "skip:notes on perf and callgrind measurements" ;;
        perf/callgrind.csv|perf/phold_instructions.csv)
            echo "skip:callgrind instruction counts of past commits' binaries (needs valgrind; depends on compiler and commit)" ;;
        perf/*.csv) echo "skip:wall-clock benchmark timings (criterion / before-after runs)" ;;
        perf/scaling.md) echo "skip:notes: the scaling model for 16-128 cores" ;;
        perf/*.txt|perf/*.log)
            echo "skip:measurements of past binaries: alternated CPU times, heaptrack and perf profiles, RSS logs (results/perf/README.md names the script and command of each)" ;;
        perf/*.patch) echo "skip:diagnostic patches of measurements (results/perf/README.md)" ;;
        validate/*/sim/*.csv) echo exact ;;
        validate/*/validate.csv) echo validate-csv ;;
        validate/*/validate.txt) echo "skip:table beside the real run (its simulator column is validate.csv's, rounded; compared there)" ;;
        validate/*/manifest.toml) echo "skip:provenance of a real-UDP run (commit, command, mode); the sim side is rerun through \`swarmlab run\`, whose manifest differs by design" ;;
        validate/*/real/*) echo "skip:real UDP run (not deterministic)" ;;
        validate/*/records/*) echo "skip:raw record files of a real UDP run (not deterministic)" ;;
        validate/runs.log|validate/*/run.log) echo "skip:console log of real UDP runs (wall times, load)" ;;
        validate/*/rep-*/rep.txt|validate/*/rep.txt)
            echo "skip:one rep's table beside the real run, host counters and load (its simulator column is validate.csv's; compared there)" ;;
        validate/*/sim-draws.csv|validate/*/rejudge.txt)
            echo "skip:the simulator's draws 1..=20 of each seed and the verdict against their mean (validate --rejudge: bash results/validate/run.sh rejudge; not rerun here)" ;;
        validate/*/paired.txt) echo "skip:paired.sh's pairing of committed real runs with simulator draws (rerun: bash results/validate/paired.sh)" ;;
        validate/*.txt|validate/*.csv|validate/summary.md)
            echo "skip:analysis of committed real runs by the script beside it (results/validate/README.md names each script)" ;;
        *.py) echo none ;;
        *) echo "none-rule" ;;
    esac
}

declare -A n_same n_diff n_skip
declare -A diff_units  # group/<scenario> (or baseline file) with a difference
skipped=()   # "file: reason"
failures=0   # differences and failures that make the exit status 1

# The unit a file belongs to: a scenario's .txt, -replications.csv (or -compare.csv, one seed) and
# -manifest.toml are written together by --write.
unit_of() { local u=${1%.txt}; u=${u%-replications.csv}; u=${u%-compare.csv}; echo "${u%-manifest.toml}"; }
count_diff() { # group, rel path
    diff_units[$(unit_of "$2")]=1
    # --write copies the written groups' differences into results/: not a failure.
    if [ "$mode" = write ] && [[ "$WRITTEN_GROUPS" == *" $1 "* ]]; then return; fi
    failures=$((failures + 1))
}
for g in "${groups[@]}"; do n_same[$g]=0; n_diff[$g]=0; n_skip[$g]=0; done

note_skip() { # group, shown path, reason
    n_skip[$1]=$(( ${n_skip[$1]} + 1 ))
    skipped+=("$2: $3")
    printf '  SKIPPED    %s (%s)\n' "$2" "$3"
}
note_same() { # group, path, note
    n_same[$1]=$(( ${n_same[$1]} + 1 ))
    printf '  IDENTICAL  %s%s\n' "$2" "${3:+ ($3)}"
}
note_diff() { # group, path, old file, new file, note
    n_diff[$1]=$(( ${n_diff[$1]} + 1 ))
    count_diff "$1" "$2"
    local minus plus
    minus=$(diff "$3" "$4" | grep -c '^<')
    plus=$(diff "$3" "$4" | grep -c '^>')
    printf '  DIFFERS    %s (%s lines only in committed, %s only in regenerated%s)\n' "$2" "$minus" "$plus" "${5:+; $5}"
    case "$2" in *.csv) csv_columns_note "$3" "$4" ;; esac
    diff "$3" "$4" | grep '^[<>]' | head -6 | cut -c1-180 | sed 's/^/               /'
}
# For CSVs whose header changed: which columns came or went, and whether the
# rows agree on the columns both have (a diagnosis; the file still differs).
csv_columns_note() { # old, new
    [ "$(head -1 "$1")" != "$(head -1 "$2")" ] || return 0
    awk -F, '
        FNR == 1 { f++; for (i = 1; i <= NF; i++) { col[f, $i] = i; name[f, i] = $i } nf[f] = NF; next }
        { line[f, FNR] = $0; rows[f] = FNR }
        END {
            for (i = 1; i <= nf[2]; i++) if (!((1, name[2, i]) in col)) added = added " " name[2, i]
            for (i = 1; i <= nf[1]; i++) if (!((2, name[1, i]) in col)) gone = gone " " name[1, i]
            bad = (rows[1] != rows[2])
            for (r = 2; r <= rows[1] && r <= rows[2]; r++) {
                split(line[1, r], a, ","); split(line[2, r], b, ",")
                for (i = 1; i <= nf[1]; i++) if ((2, name[1, i]) in col && a[i] != b[col[2, name[1, i]]]) { bad++; break }
            }
            printf "               header differs: columns only in regenerated:%s; only in committed:%s; ", (added ? added : " none"), (gone ? gone : " none")
            if (bad) printf "rows differ on shared columns (%d rows)\n", bad
            else printf "every row identical on the shared columns\n"
        }' "$1" "$2"
}
note_missing() { # group, path, why
    n_diff[$1]=$(( ${n_diff[$1]} + 1 ))
    count_diff "$1" "$2"
    printf '  DIFFERS    %s (%s)\n' "$2" "$3"
}

# Masked fields of a manifest that differ between two files, for the report.
masked_note() { # old, new, field...
    local f out=""
    local old=$1 new=$2; shift 2
    for f in "$@"; do
        if [ "$(grep "^$f = " "$old")" != "$(grep "^$f = " "$new")" ]; then out+="${out:+, }$f"; fi
    done
    [ -n "$out" ] && echo "masked, differ: $out" || echo "masked: $*"
}

compare_file() { # group, rel path, committed file, regenerated file
    local g=$1 rel=$2 old=$3 new=$4 rule a b note
    rule=$(rule_for "$rel")
    case "$rule" in
        none) return ;;
        none-rule) n_diff[$g]=$(( ${n_diff[$g]} + 1 )); failures=$((failures + 1))
            printf '  NO RULE    %s (results/regenerate.sh has no rule for this file: add one)\n' "$rel"; return ;;
        skip:*) note_skip "$g" "$rel" "${rule#skip:}"; return ;;
    esac
    a=$NORM/old/$rel; b=$NORM/new/$rel
    mkdir -p "$(dirname "$a")" "$(dirname "$b")"
    if [ "$rule" = validate-csv ]; then
        # validate.csv's simulator column against the regenerated sim/summary.csv.
        # With --reps, one row per rep and metric (rep,seed,metric,simulator,...)
        # against rep-K/sim/summary.csv.
        new=$NEW/validate/${rel#validate/}; new=${new%/validate.csv}
        if head -1 "$old" | grep -q '^rep,seed,'; then
            # A run of one seed has its simulator side in sim/, not rep-1/sim/.
            local k one=""; [ -d "$new/rep-1" ] || one=$new/sim/summary.csv
            for k in $(tail -n +2 "$old" | cut -d, -f1 | sort -un); do
                [ -f "${one:-$new/rep-$k/sim/summary.csv}" ] || { note_missing "$g" "$rel" "sim side not regenerated: ${one:-$new/rep-$k/sim/summary.csv} missing"; return; }
            done
            cut -d, -f1-4 "$old" > "$a"
            awk -F, -v d="$new" -v one="$one" 'FNR == 1 { print "rep,seed,metric,simulator"; next }
                 { f = one != "" ? one : d "/rep-" $1 "/sim/summary.csv"
                   if (!(f in read)) { read[f] = 1; while ((getline l < f) > 0) { split(l, x, ","); v[f, x[4]] = x[5] } close(f) }
                   print $1 "," $2 "," $3 "," (((f, $3) in v) ? v[f, $3] : "") }' "$old" > "$b"
        else
            new=$new/sim/summary.csv
            [ -f "$new" ] || { note_missing "$g" "$rel" "sim side not regenerated: $new missing"; return; }
            cut -d, -f1,2 "$old" > "$a"
            awk -F, 'NR == FNR { if (FNR > 1) v[$4] = $5; next }
                     FNR == 1 { print "metric,simulator"; next }
                     { print $1 "," (($1 in v) ? v[$1] : "") }' "$new" "$old" > "$b"
        fi
        if cmp -s "$a" "$b"; then note_same "$g" "$rel" "simulator column only"; else note_diff "$g" "$rel" "$a" "$b" "simulator column only"; fi
        note_skip "$g" "$rel [real, abs_diff, rel_diff columns]" "real UDP run (not deterministic)"
        return
    fi
    [ -f "$new" ] || { note_missing "$g" "$rel" "not regenerated: $new missing"; return; }
    case "$rule" in
        exact)
            if cmp -s "$old" "$new"; then note_same "$g" "$rel"; else note_diff "$g" "$rel" "$old" "$new"; fi ;;
        txt) # the last line names compare's --out directory
            grep -v '^wrote .* in ' "$old" > "$a"; grep -v '^wrote .* in ' "$new" > "$b"
            note="\`wrote ... in DIR\` line masked"
            if cmp -s "$old" "$new"; then note_same "$g" "$rel"
            elif cmp -s "$a" "$b"; then note_same "$g" "$rel" "$note; committed and regenerated differ only there"
            else note_diff "$g" "$rel" "$a" "$b" "$note"; fi ;;
        manifest)
            sed -E 's/^(git_commit|command) = .*/\1 = <masked>/' "$old" > "$a"
            sed -E 's/^(git_commit|command) = .*/\1 = <masked>/' "$new" > "$b"
            note=$(masked_note "$old" "$new" git_commit command)
            if cmp -s "$a" "$b"; then note_same "$g" "$rel" "$note"; else note_diff "$g" "$rel" "$a" "$b" "$note"; fi ;;
        reference) # scenario, seed, simulated_s, events, continuity_pooled, lag_p50_s
            cut -d, -f1,2,3,5,8,9 "$old" > "$a"; cut -d, -f1,2,3,5,8,9 "$new" > "$b"
            note="columns scenario,seed,simulated_s,events,continuity_pooled,lag_p50_s"
            if cmp -s "$a" "$b"; then note_same "$g" "$rel" "$note"; else note_diff "$g" "$rel" "$a" "$b" "$note"; fi
            note_skip "$g" "$rel [wall_s, events_per_s, max_rss_kb, machine, cores, commit, command]" "wall clock, memory and provenance" ;;
        scale) # rows at the --scale-peers populations, simulated columns only
            local sel="protocol,peers,sim_s,events,peers_joined,continuity_pooled"
            awk -F, -v P=",$scale_peers," 'NR == 1 || (index(P, "," $2 ",") && $3 == 600)' "$old" \
                | cut -d, -f1,2,3,6,10,11 | sort > "$a"
            cut -d, -f1,2,3,6,10,11 "$new" | sort > "$b"
            note="rows at $scale_peers peers, 600 s; columns $sel"
            if cmp -s "$a" "$b"; then note_same "$g" "$rel" "$note"; else note_diff "$g" "$rel" "$a" "$b" "$note"; fi
            local other
            other=$(awk -F, -v P=",$scale_peers," 'NR > 1 && !(index(P, "," $2 ",") && $3 == 600) { print $1 "@" $2 "/" $3 "s" }' "$old" | paste -sd' ')
            note_skip "$g" "$rel [wall_s, sim_s_per_wall_s, events_per_s, peak_rss_bytes, bytes_per_peer, commit, load1_*]" "wall clock, memory, load and provenance"
            [ -z "$other" ] || note_skip "$g" "$rel [rows $other]" "not rerun: 10,000 peers take ~4 min, 100,000 peers 5-40 min each, 10^6 ~13 min and 6 GB (--scale-peers selects populations)" ;;
        *) note_missing "$g" "$rel" "unknown rule $rule" ;;
    esac
}

echo
echo "== report (committed: results/, regenerated: $NEW/)"
for g in "${groups[@]}"; do
    read -r rc w cut cst < "$LOGS/$g.status"
    echo "-- $g (regenerated in ${w} s wall, $(awk -v a="${cut%m*}" -v b="${cut#*m}" -v c="${cst%m*}" -v d="${cst#*m}" 'BEGIN { printf "%.1f", a * 60 + b + c * 60 + d }') s CPU; exit $rc)"
    if [ "$rc" != 0 ]; then
        failures=$((failures + 1))
        echo "  FAILED     regeneration of $g exited $rc; last lines of $LOGS/$g.log:"
        tail -5 "$LOGS/$g.log" | sed 's/^/               /'
    fi
    base=results; cur=$NEW
    # Every committed file, real-run directories folded into one line each.
    while IFS= read -r f; do
        rel=${f#"$base"/}
        case "$rel" in
            validate/*/records|validate/*/real)
                note_skip "$g" "$rel/ ($(find "$f" -type f | wc -l) files)" "$(rule_for "$rel/x" | sed 's/^skip://')"
                continue ;;
        esac
        compare_file "$g" "$rel" "$f" "$cur/$rel"
    done < <(find "$base/$g" \( -path '*/validate/*/records' -o -path '*/validate/*/real' \) -prune -print -o -type f -print 2>/dev/null | LC_ALL=C sort)
    # Regenerated files with no committed counterpart.
    if [[ " compare cdn attack dynamics baseline " == *" $g "* ]] && [ -d "$cur/$g" ]; then
        while IFS= read -r f; do
            rel=${f#"$cur"/}
            [ -e "$base/$rel" ] || note_missing "$g" "$rel" "regenerated, not in results/"
        done < <(find "$cur/$g" -type f | LC_ALL=C sort)
    fi
done

echo
echo "== summary"
printf '  %-10s %9s %8s %8s\n' group identical differs skipped
for g in "${groups[@]}"; do
    printf '  %-10s %9s %8s %8s\n' "$g" "${n_same[$g]}" "${n_diff[$g]}" "${n_skip[$g]}"
done
if [ ${#skipped[@]} -gt 0 ]; then
    echo
    echo "== skipped (not compared), with reasons"
    printf '  %s\n' "${skipped[@]}"
fi
if [ "$mode" = write ]; then
    echo
    echo "== writing: every differing scenario of baseline, compare, cdn, attack, dynamics and targets"
    written=0
    for g in "${groups[@]}"; do
        [[ "$WRITTEN_GROUPS" == *" $g "* ]] && [ -d "$NEW/$g" ] || continue
        while IFS= read -r f; do
            rel=${f#"$NEW"/}
            [ -n "${diff_units[$(unit_of "$rel")]:-}" ] || continue
            mkdir -p "results/$(dirname "$rel")"
            cp "$f" "results/$rel" && echo "  wrote results/$rel" && written=$((written + 1))
        done < <(find "$NEW/$g" -type f | LC_ALL=C sort)
    done
    echo "  $written file(s) written"
    for g in reference scale validate; do
        [[ " ${groups[*]} " == *" $g "* ]] && [ "${n_diff[$g]}" -gt 0 ] || continue
        echo
        echo "note: $g differs but was not written (it mixes simulated numbers with measurements); refresh it with:"
        case $g in
            reference) echo "  bash results/reference/run.sh" ;;
            scale) echo "  target/release/swarmlab bench --peers $scale_peers   (see results/scale/README.md)" ;;
            validate) echo "  bash results/validate/run.sh > results/validate/runs.log   (~10 min of real UDP runs)" ;;
        esac
    done
    echo
    echo "== git status --short results/"
    git status --short results/
fi
echo
echo "== wall time: $(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }') s (build included); load: $(cut -d' ' -f1-3 /proc/loadavg)"
total_diff=0
for g in "${groups[@]}"; do total_diff=$((total_diff + ${n_diff[$g]})); done
if [ "$failures" -eq 0 ]; then
    if [ "$total_diff" -eq 0 ]; then
        echo "== result: every compared file is identical"
    else
        echo "== result: $total_diff differing file(s), all in written groups (see above for what was written)"
    fi
    exit 0
fi
if [ "$mode" = write ]; then
    echo "== result: $failures difference(s) in checked-only groups, files without a rule, or failed regenerations"
else
    echo "== result: $failures difference(s) or failure(s)"
fi
exit 1
