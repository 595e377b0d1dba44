//! The regression gate's suite (`scenarios/ci/*.toml`) judges every
//! registered protocol family, and mesh-pull with every registered scheduler
//! (issue 18): a family or scheduler added to the registry without a place in
//! the suite fails here, so no protocol escapes the gate.

use std::collections::BTreeSet;
use std::path::PathBuf;

use sim::registry;
use sim::scenario::Scenario;

/// (family, scheduler) of every variant of every suite scenario (a scenario
/// without variants runs its `[protocol]`).
fn suite() -> BTreeSet<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("scenarios/ci")
        .expect("scenarios/ci")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios in scenarios/ci");
    let mut out = BTreeSet::new();
    for p in files {
        let (sc, _) = Scenario::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let runs: Vec<Scenario> = if sc.variants.is_empty() {
            vec![sc.clone()]
        } else {
            sc.variants.iter().map(|v| sc.with_variant(v).0).collect()
        };
        for r in runs {
            out.insert((r.protocol.name.clone(), r.protocol.scheduler.clone()));
        }
    }
    out
}

#[test]
fn the_gate_suite_covers_every_family_and_every_mesh_scheduler() {
    let reg = registry::current();
    let covered = suite();
    for f in reg.family_names() {
        assert!(
            covered.iter().any(|(fam, _)| fam == f),
            "family `{f}` is registered but no scenario of scenarios/ci runs it: add a variant and regenerate \
             the baselines (swarmlab check scenarios/ci/*.toml --baseline results/baseline --update)"
        );
    }
    for s in reg.scheduler_names() {
        assert!(
            covered.contains(&("mesh-pull".to_string(), s.to_string())),
            "scheduler `{s}` is registered but scenarios/ci never runs mesh-pull with it"
        );
    }
}
