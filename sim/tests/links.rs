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
