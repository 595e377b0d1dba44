//! The multi-threaded engine: every family gives byte-identical outputs
//! (summary, per-peer and time-series CSV) on 1 to 4 threads, in scenarios
//! with churn, loss, Markov bandwidth, timeline events (source outage,
//! partition, bandwidth and download changes), attackers with defences,
//! NATs and ISP locality; and a latency model with a zero smallest delay
//! falls back to one thread with the same outputs.

use analysis::output::{peers_csv, summary_csv, timeseries_csv};
use sim::runner::{RunOptions, parallel_capable, run};
use sim::scenario::Scenario;

/// Everything dynamic at once, for family `family`.
fn dynamic(family: &str) -> String {
    format!(
        r#"
name = "threads-dynamic"
seed = 11
duration_s = 90

[stream]
rate_kbps = 400

[source]
up_kbps = 3000

[peers]
count = 50
join_window_s = 10

[[peers.classes]]
name = "dsl"
share = 0.5
up_kbps = 600
down_kbps = 4000

[[peers.classes]]
name = "fiber"
share = 0.5
up_kbps = 2000
down_kbps = 20000

[churn]
model = "poisson"
arrival_rate_per_s = 0.3
session_mean_s = 60

[network]
loss = 0.01

[network.latency]
model = "coordinates"
base_ms = 3

[bandwidth]
model = "markov"
levels = [1.0, 0.5]
mean_hold_s = 20

[[timeline]]
at_s = 30
event = "source-down"

[[timeline]]
at_s = 36
event = "source-up"

[[timeline]]
at_s = 45
event = "partition"
fraction = 0.3

[[timeline]]
at_s = 55
event = "heal"

[[timeline]]
at_s = 60
event = "bandwidth"
class = "fiber"
up_factor = 0.5
down_factor = 0.8

[[attack]]
kind = "polluter"
share = 0.1

[[attack]]
kind = "forger"
count = 2

[defence]
integrity = true
blacklist = true

[protocol]
name = "{family}"
"#
    )
}

/// NATs and ISP locality on the transit-stub model.
fn nat_isp(family: &str) -> String {
    format!(
        r#"
name = "threads-nat"
seed = 5
duration_s = 60

[peers]
count = 40
join_window_s = 10

[network.latency]
model = "transit-stub"

[nat]
share = 0.5

[isp]
locality = 0.75

[protocol]
name = "{family}"
"#
    )
}

fn outputs(sc: &Scenario, threads: usize) -> Vec<u8> {
    let r = run(sc, &RunOptions { name: "threads".into(), seed: sc.seed, threads, draw: 0 }, &mut |_, _| {});
    assert!(r.info.traffic.conserved(), "{:?}: bytes not conserved on {threads} threads", sc.name);
    [summary_csv(&r), peers_csv(&r), timeseries_csv(&r)].concat()
}

fn same_on_every_thread_count(text: &str, threads: &[usize]) {
    let sc = Scenario::parse("threads.toml", text).unwrap_or_else(|e| panic!("{e}"));
    assert!(parallel_capable(&sc), "{:?}: the scenario must be able to run on several threads", sc.name);
    let one = outputs(&sc, 1);
    for &t in threads {
        assert!(
            one == outputs(&sc, t),
            "{} with {}: outputs on {t} threads differ from 1 thread",
            sc.name.as_deref().unwrap_or("?"),
            text
        );
    }
}

fn families() -> Vec<String> {
    sim::registry::current().family_names().into_iter().map(str::to_string).collect()
}

#[test]
fn every_family_is_identical_on_1_to_4_threads_with_every_dynamic() {
    let fams = families();
    assert!(fams.len() >= 6, "{fams:?}");
    for f in fams {
        same_on_every_thread_count(&dynamic(&f), &[2, 3, 4]);
    }
}

#[test]
fn every_family_is_identical_on_several_threads_with_nat_and_isp() {
    for f in families() {
        same_on_every_thread_count(&nat_isp(&f), &[2, 3]);
    }
}

#[test]
fn a_zero_smallest_delay_runs_on_one_thread_with_the_same_outputs() {
    let text = nat_isp("mesh-pull").replace("model = \"transit-stub\"", "model = \"constant\"\nms = 0");
    let text = text.replace("[isp]\nlocality = 0.75\n", "");
    let sc = Scenario::parse("zero.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(!parallel_capable(&sc));
    assert!(outputs(&sc, 1) == outputs(&sc, 3));
}

/// A peer that panics when its message arrives (node 3, in the second part
/// of two), and otherwise keeps a timer going so the other part has work.
struct Crashy;

impl protocols::peer::Peer for Crashy {
    type Timer = ();
    fn on_start(&mut self, cx: &mut protocols::peer::Ctx<'_, ()>) {
        if cx.me == protocols::PeerId(2) {
            cx.send(protocols::PeerId(3), protocols::wire::Msg::Chunk { seq: 0, len: 1000, polluted: false });
        }
        cx.timer_in(protocols::Time::from_millis(1), ());
    }
    fn on_message(&mut self, _f: protocols::PeerId, _m: protocols::wire::Msg, _cx: &mut protocols::peer::Ctx<'_, ()>) {
        panic!("protocol bug");
    }
    fn on_timer(&mut self, _t: (), cx: &mut protocols::peer::Ctx<'_, ()>) {
        cx.timer_in(protocols::Time::from_millis(1), ());
    }
    fn on_command(&mut self, _c: protocols::peer::Command, _cx: &mut protocols::peer::Ctx<'_, ()>) {}
}

struct CrashyProto;

impl sim::engine::Protocol for CrashyProto {
    type Peer = Crashy;
    fn name(&self) -> String {
        "crashy".into()
    }
    fn source(&self, _id: protocols::PeerId, _up: u32) -> Crashy {
        Crashy
    }
    fn peer(&self, _id: protocols::PeerId, _up: u32) -> Crashy {
        Crashy
    }
}

#[test]
fn a_panic_in_one_part_reaches_the_caller_instead_of_hanging_the_others() {
    use analysis::collector::NodeRole;
    use protocols::Time;
    use sim::engine::{Engine, NodeSpec};
    let node = |role| NodeSpec {
        role,
        class: 0,
        up_bps: 1_000_000,
        down_bps: 10_000_000,
        join: Time::ZERO,
        leave: None,
        behaviour: Default::default(),
        nat: false,
    };
    let specs = vec![node(NodeRole::Tracker), node(NodeRole::Source), node(NodeRole::Peer), node(NodeRole::Peer)];
    let stream = protocols::StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) };
    let latency = sim::latency::LatencyModel::build(&sim::latency::LatencySpec::Constant { ms: 10.0 }, 1);
    let mut e = Engine::new(CrashyProto, stream, specs, latency, 0.0, 1);
    e.set_threads(2);
    assert_eq!(e.parallel(), 2);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.run_until(Time::from_secs(5))));
    assert!(r.is_err(), "the protocol's panic was lost");
}

/// A protocol draw (`RunOptions::draw`, `swarmlab run --draw`) runs the same
/// scenario instance with other protocol randomness (draw 0, the seed's own
/// run, is `rngs::node_rng`'s unit test): draw 1 keeps every peer's join,
/// departure, class and behaviour, changes what the protocol does, and is
/// reproducible.
#[test]
fn a_protocol_draw_keeps_the_instance_and_changes_the_protocol_randomness() {
    let sc = Scenario::parse("draws.toml", &dynamic("hybrid")).unwrap_or_else(|e| panic!("{e}"));
    let go =
        |draw: u64| run(&sc, &RunOptions { name: "draws".into(), seed: sc.seed, threads: 1, draw }, &mut |_, _| {});
    let csv = |r: &analysis::Report| [summary_csv(r), peers_csv(r), timeseries_csv(r)].concat();
    let (own, other) = (go(0), go(1));
    assert!(csv(&other) == csv(&go(1)), "a draw must be reproducible");
    assert_eq!(own.peers.len(), other.peers.len());
    for ((a, s), (b, t)) in own.peers.iter().zip(&other.peers) {
        assert_eq!(a, b);
        assert_eq!(
            (s.role, s.class, s.behaviour, s.joined, s.left),
            (t.role, t.class, t.behaviour, t.joined, t.left),
            "node {a}: the population must not change with the draw"
        );
    }
    let played = |r: &analysis::Report| r.peers.iter().map(|(_, s)| (s.played, s.missed)).collect::<Vec<_>>();
    assert_ne!(played(&own), played(&other), "draw 1 must change the protocol's decisions");
}

#[test]
fn client_server_puts_fewer_clients_beside_the_server() {
    // The server does a large share `h` of a run's work (`source_share`):
    // on two threads its part holds a share `(1 - 2h) / (2 (1 - h))` of the
    // other nodes, so both parts do about the same (analysis::layout). The
    // outputs are checked equal to one thread's by the family test above.
    use sim::registry::Family;
    let sc = Scenario::parse("threads.toml", &dynamic("client-server")).unwrap_or_else(|e| panic!("{e}"));
    let proto = sim::families::ClientServer::build(&sc);
    let h = sim::engine::Protocol::source_share(&proto);
    assert!(h > 0.0);
    let mut engine = sim::runner::build_engine(proto, &sc, sc.seed);
    engine.set_threads(2);
    engine.run_until(protocols::Time::from_secs_f64(sc.duration_s.0));
    let nodes = engine.part_nodes();
    let (hot, other) = (nodes[0] as f64, nodes[1] as f64);
    let (share, want) = (hot / (hot + other), (1.0 - 2.0 * h) / (2.0 * (1.0 - h)));
    assert!(
        (share - want).abs() < 0.06 && want < 0.45,
        "the server's part holds {nodes:?} of the nodes, want a share {want}"
    );
    // Mesh-pull declares no hot source: equal parts.
    let sc = Scenario::parse("threads.toml", &dynamic("mesh-pull")).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = sim::runner::build_engine(sim::families::MeshPull::build(&sc), &sc, sc.seed);
    engine.set_threads(2);
    engine.run_until(protocols::Time::from_secs_f64(sc.duration_s.0));
    let nodes = engine.part_nodes();
    assert!(nodes[0].abs_diff(nodes[1]) <= 1, "{nodes:?}");
}
