# Shared by draws.sh and draw0.sh (sourced, not run): the dyn-50 families
# of the committed validate runs, and one simulator run's judged metrics.

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
