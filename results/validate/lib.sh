# Shared by draws.sh, draw0.sh, deficit.sh and trees.sh (sourced, not run): the
# dyn-50 families of the committed validate runs, one simulator run's judged
# metrics, and a run's played / missed chunks per 5 s.

# family label:scenario file:protocol name (empty: the file's own), as run.sh's families().
FAMILIES_DYN50="mesh-pull:dyn-50.toml:mesh-pull tree-push:dyn-50.toml:tree-push splitstream:dyn-50-splitstream.toml:
treebone:dyn-50.toml:hybrid pull-push:dyn-50-pull-push.toml: client-server:dyn-50.toml:client-server
random-push:dyn-50.toml:random-push"

# family_scenario FILE PROTO OUT: writes the scenario with its protocol set to PROTO (if any) to OUT.
family_scenario() {
    if [ -n "$2" ]; then
        sed "s/^name = \"mesh-pull\"$/name = \"$2\"/" "scenarios/validate/$1" > "$3"
    else
        cp "scenarios/validate/$1" "$3"
    fi
}

# sim_row BIN SCENARIO SEED DRAW LABEL TMPDIR: prints LABEL,SEED,DRAW,continuity_mean,lag_p50
# of `swarmlab run SCENARIO --seed SEED --draw DRAW`.
sim_row() {
    "$1" run "$2" --seed "$3" --draw "$4" --threads 1 --out "$6/out" --quiet > /dev/null
    awk -F, -v f="$5" -v s="$3" -v d="$4" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { m[$col["metric"]] = $col["value"] }
        END { printf "%s,%s,%s,%s,%s\n", f, s, d, m["continuity_mean"], m["lag_p50"] }' "$6/out/summary.csv"
}

# time_profile RUN (reads $R/RUN): played/missed per 5-s bin, real and sim, over every rep.
time_profile() {
    echo "$1: chunks played / missed per 5-s bin of protocol time, all reps (real | simulator draw 0); peers' upload (peer_upload_kbps summed over the bin and the reps), real / simulated"
    for side in real sim; do
        for f in "$R/$1"/rep-*/$side/timeseries.csv; do
            awk -F, -v side=$side 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                { printf "%s %d %d %d %f\n", side, int($c["t_s"] / 5) * 5, $c["played"], $c["missed"], $c["peer_upload_kbps"] }' "$f"
        done
    done | awk '
        { p[$1 " " $2] += $3; m[$1 " " $2] += $4; u[$1 " " $2] += $5; bins[$2] = 1 }
        END {
            n = 0; for (b in bins) keys[n++] = b + 0
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (keys[j] < keys[i]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
            for (i = 0; i < n; i++) {
                b = keys[i]; rp = p["real " b]; rm = m["real " b]; sp = p["sim " b]; sm = m["sim " b]
                if (rp + rm == 0 || sp + sm == 0) continue
                rc = rp / (rp + rm); sc = sp / (sp + sm)
                printf "  %2d-%2d s  real %5d / %4d  (%.3f)  sim %5d / %4d  (%.3f)  real - sim %+.3f   peer upload real / sim %.3f\n", b, b + 4, rp, rm, rc, sp, sm, sc, rc - sc, u["real " b] / u["sim " b]
            }
        }'
}

# sweep BIN DIR "VARIANTS" "SEEDS" DRAWS METRIC...: runs DIR/<variant>.toml
# on one thread for every seed and protocol draw 1..DRAWS and prints one
# line per run, "variant seed draw" and the METRICs' values from its
# summary.csv, in order (the sensitivity sweeps of deficit.sh and trees.sh).
sweep() {
    local bin=$1 dir=$2 variants=$3 seeds=$4 draws=$5 v s d
    shift 5
    for v in $variants; do
        for s in $seeds; do
            for d in $(seq 1 "$draws"); do
                "$bin" run "$dir/$v.toml" --seed "$s" --draw "$d" --threads 1 --out "$dir/out" --quiet >/dev/null
                awk -F, -v v="$v" -v s="$s" -v d="$d" -v want="$*" '
                    { val[$4] = $5 }
                    END { n = split(want, w, " "); line = v " " s " " d; for (i = 1; i <= n; i++) line = line " " val[w[i]]; print line }
                ' "$dir/out/summary.csv"
            done
        done
    done
}

# sweep_setup (deficit.sh, trees.sh; after `set -eu` and sourcing this
# file): cd to the repository, R, B and CI set, both binaries built (else
# exit 2 saying how), tmp a scratch directory removed at exit.
sweep_setup() {
    cd "$(dirname "$0")/../.."
    R=results/validate
    B=target/release/swarmlab
    CI=target/release/control-interleave
    [ -x "$B" ] && [ -x "$CI" ] || { echo "build first: cargo build --release; cargo build --release -p control-interleave" >&2; exit 2; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
}
