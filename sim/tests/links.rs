//! Lazy upload links (issue 19): bringing a node's upload link up to date at
//! its next event and at window ends gives byte-identical outputs to the
//! engine with one `UpDone` event per message (`Engine::set_eager_links`),
//! for every family, including the same-nanosecond ties between a message's
//! end and the node's other events (quickstart's constant latency makes
//! them occur: ordering those ties "completions first" instead of by the
//! events' queueing order changes its outputs, and this test fails).

use analysis::output::{peers_csv, summary_csv, timeseries_csv};
use protocols::Time;
use sim::families::{CdnAssisted, ClientServer, Hybrid, MeshPull, RandomPush, TreePush};
use sim::registry::Family;
use sim::runner::{RunOptions, build_engine, finish_report};
use sim::scenario::Scenario;

fn outputs<F: Family>(sc: &Scenario, eager: bool, threads: usize) -> Vec<u8> {
    let mut e = build_engine(F::build(sc), sc, sc.seed);
    e.set_eager_links(eager);
    e.set_threads(threads);
    e.run_until(Time::from_secs_f64(sc.duration_s.0));
    let r = finish_report(e, sc, &RunOptions { name: "links".into(), seed: sc.seed, threads, draw: 0 });
    assert!(r.info.traffic.conserved(), "{:?}: bytes not conserved", sc.name);
    [summary_csv(&r), peers_csv(&r), timeseries_csv(&r)].concat()
}

fn same<F: Family>(file: &str) {
    let path = format!("{}/../scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let sc = Scenario::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.protocol.name, F::NAME, "{file}");
    let eager = outputs::<F>(&sc, true, 1);
    assert!(eager == outputs::<F>(&sc, false, 1), "{file}: lazy links differ from one event per message");
    assert!(eager == outputs::<F>(&sc, false, 2), "{file}: lazy links on 2 threads differ");
}

#[test]
fn mesh_pull_with_churn() {
    same::<MeshPull>("ci/mesh-churn.toml");
}

#[test]
fn mesh_pull_quickstart() {
    same::<MeshPull>("quickstart.toml");
}

#[test]
fn tree_push() {
    same::<TreePush>("ci/tree-single.toml");
}

#[test]
fn client_server() {
    same::<ClientServer>("ci/client-server.toml");
}

#[test]
fn random_push() {
    same::<RandomPush>("ci/random-push.toml");
}

#[test]
fn cdn_assisted() {
    same::<CdnAssisted>("ci/cdn-p2p.toml");
}

#[test]
fn hybrid_with_every_dynamic() {
    // Timeline events, Markov bandwidth (rate changes mid-message) and attackers.
    same::<Hybrid>("validate/dyn-50-pull-push.toml");
}

/// `Engine::set_control_interleave` (a diagnostic: how much a kernel queue
/// that sends control datagrams between media datagrams is worth): off, the
/// outputs are the engine's own, byte for byte; on, control no longer waits
/// for the message in service, so a run with busy links changes, bytes stay
/// conserved, the same on 1 and 2 threads, and mesh-pull on dyn-50 (seeds
/// 1-3, draw 1) plays at least as well.
#[test]
fn control_interleave_is_off_by_default_and_changes_busy_runs() {
    let path = format!("{}/../scenarios/validate/dyn-50.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let sc = Scenario::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let run = |seed: u64, interleave: Option<bool>, threads: usize| {
        let mut e = build_engine(MeshPull::build(&sc), &sc, seed);
        e.set_protocol_draw(1);
        if let Some(on) = interleave {
            e.set_control_interleave(on);
        }
        e.set_threads(threads);
        e.run_until(Time::from_secs_f64(sc.duration_s.0));
        let r = finish_report(e, &sc, &RunOptions { name: "links".into(), seed, threads, draw: 1 });
        assert!(r.info.traffic.conserved(), "seed {seed}, interleave {interleave:?}: bytes not conserved");
        let c = r.get("continuity_mean").expect("continuity");
        (c, [summary_csv(&r), peers_csv(&r), timeseries_csv(&r)].concat())
    };
    let (mut off_sum, mut on_sum) = (0.0, 0.0);
    for seed in 1..=3 {
        let (c_default, default) = run(seed, None, 1);
        let (c_off, off) = run(seed, Some(false), 1);
        assert!(default == off, "seed {seed}: interleave off is not the engine's default");
        let (c_on, on) = run(seed, Some(true), 1);
        assert!(on != off, "seed {seed}: interleaving control changed nothing");
        assert!(on == run(seed, Some(true), 2).1, "seed {seed}: interleaving differs on 2 threads");
        assert_eq!(c_default, c_off);
        off_sum += c_off;
        on_sum += c_on;
    }
    assert!(on_sum >= off_sum, "control interleaved played worse: {on_sum} < {off_sum} (sum over seeds 1-3)");
}
