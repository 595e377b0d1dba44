//! Physics of the simulator: no protocol may beat the theoretical bounds, bytes
//! are conserved, and runs are deterministic. Every protocol family is run
//! through the same checks (`protocols()`, from the registry).

use analysis::Report;
use analysis::collector::NodeRole;
use protocols::peer::{Command, Ctx, Peer};
use protocols::wire::{Msg, wire_bytes};
use protocols::{PeerId, StreamParams, Time};
use sim::engine::{Engine, NodeSpec, Protocol};
use sim::latency::{LatencyModel, LatencySpec};
use sim::runner::{RunOptions, run};
use sim::scenario::Scenario;

/// Every registered protocol family; each physics test runs them all.
/// Tree-push runs as a 4-stripe multi-tree: in a single tree a peer whose
/// upload is below the stream rate cannot forward at all.
fn protocols() -> Vec<String> {
    let names: Vec<String> = sim::registry::current().family_names().iter().map(|n| n.to_string()).collect();
    assert!(names.len() >= 4, "the built-in families are registered: {names:?}");
    names
}

fn run_text(text: &str, seed: u64) -> Report {
    let sc = Scenario::parse("physics.toml", text).expect("valid test scenario");
    run(&sc, &RunOptions { name: "physics".into(), seed, threads: 1, draw: 0 }, &mut |_, _| {})
}

/// Upload of the CDN edge in the runs of a family that has one, kbps: small
/// enough that the bounds stay below 1, so they are tested.
const EDGE_KBPS: f64 = 600.0;

fn edge_kbps(proto: &str) -> f64 {
    let has_edge = sim::registry::current().find_family(proto).is_some_and(|f| f.edge);
    if has_edge { EDGE_KBPS } else { 0.0 }
}

fn with_protocol(body: &str, proto: &str) -> String {
    let extra = if proto == "tree-push" { "[protocol.tree]\nstripes = 4\n" } else { "" };
    let edge = if edge_kbps(proto) > 0.0 { format!("[cdn]\nedge_up_kbps = {EDGE_KBPS}\n") } else { String::new() };
    format!("{body}\n{edge}[protocol]\nname = \"{proto}\"\n{extra}")
}

/// (a) Total upload below N x rate: mean continuity cannot exceed r_max / r.
/// Slack: 0.02, for chunks played from the startup download, which the
/// time-averaged bound does not credit.
#[test]
fn continuity_never_beats_the_r_max_bound() {
    let body = "duration_s = 240\n[stream]\nrate_kbps = 500\n[source]\nup_kbps = 1000\n\
                [peers]\ncount = 60\njoin_window_s = 5\n\
                [[peers.classes]]\nshare = 1.0\nup_kbps = 300\ndown_kbps = 4000\n";
    for proto in &protocols() {
        let r = run_text(&with_protocol(body, proto), 1);
        let bound = r.get("continuity_bound").expect("bound");
        // r_max = min(1000, (1000 + 60 x 300) / 60) = 316.7 kbps -> bound 0.633
        // once all have joined (slightly more while they join over 5 s); a
        // CDN edge's upload adds to the supply.
        let r_max = (1000.0 + 60.0 * 300.0 + edge_kbps(proto)) / 60.0;
        assert!((bound - r_max / 500.0).abs() < 0.01, "{proto}: bound {bound}");
        let pooled = r.get("continuity_pooled").expect("continuity");
        let mean = r.get("continuity_mean").expect("continuity");
        assert!(pooled <= bound + 0.02, "{proto}: pooled continuity {pooled} beats the bound {bound}");
        let hard = r.get("capacity_bound").expect("capacity bound");
        assert!(pooled <= hard, "{proto}: pooled continuity {pooled} beats the capacity bound {hard}");
        assert!(mean <= bound + 0.02, "{proto}: mean continuity {mean} beats the bound {bound}");
        // The bound is not met trivially: the client-server baseline gets about the
        // source's share, 1000 / (60 x 500) = 0.033, and a P2P protocol must use
        // the peers' upload to get at least three times that.
        let share = 1000.0 / (60.0 * 500.0);
        let floor = if *proto == "client-server" { 0.6 * share } else { 3.0 * share };
        assert!(pooled > floor, "{proto}: continuity {pooled} implausibly low");
    }
}

/// (b) Homogeneous swarm, every node uploads at u: no chunk reaches all N
/// peers sooner than ceil(log2(N + 1)) x tau + propagation.
#[test]
fn no_chunk_reaches_everyone_faster_than_store_and_forward_doubling() {
    let body = "duration_s = 120\n[stream]\nrate_kbps = 400\n[source]\nup_kbps = 2000\n\
                [peers]\ncount = 63\njoin_window_s = 2\n\
                [[peers.classes]]\nshare = 1.0\nup_kbps = 2000\ndown_kbps = 20000\n\
                [network.latency]\nmodel = \"constant\"\nms = 10\n";
    for proto in &protocols() {
        let r = run_text(&with_protocol(body, proto), 3);
        let ratio = r.get("diffusion_bound_ratio_min").expect("some chunk diffused");
        assert!(ratio >= 1.0, "{proto}: a chunk diffused faster than the bound allows (ratio {ratio})");
    }
}

/// (c) Bytes are conserved under churn and loss, and each term is exercised.
#[test]
fn bytes_are_conserved_under_churn_and_loss() {
    let body = "duration_s = 150\n[peers]\ncount = 80\n\
                [churn]\nmodel = \"poisson\"\narrival_rate_per_s = 0.5\nsession_mean_s = 60\n\
                [network]\nloss = 0.002\n";
    for proto in &protocols() {
        let r = run_text(&with_protocol(body, proto), 5);
        let t = r.info.traffic;
        assert!(t.conserved(), "{proto}: {t:?}");
        assert!(t.lost > 0 && t.lost_departed > 0 && t.delivered > 0, "{proto}: {t:?}");
        let up: u64 = r.peers.iter().map(|(_, s)| s.up_media + s.up_control).sum();
        assert!(up <= t.sent, "{proto}: peers sent more than the network carried");
    }
}

/// (d) Same scenario and seed: identical outputs, also when runs happen on two
/// threads at once; another seed: different outputs.
#[test]
fn runs_are_deterministic_across_repeats_and_threads() {
    let body = "duration_s = 60\n[peers]\ncount = 40\n\
                [churn]\nmodel = \"poisson\"\narrival_rate_per_s = 0.2\nsession_mean_s = 40\n\
                [network]\nloss = 0.001\n[network.latency]\nmodel = \"coordinates\"\n";
    for proto in &protocols() {
        let text = with_protocol(body, proto);
        let bytes = |r: &Report| (analysis::output::summary_csv(r), analysis::output::peers_csv(r));
        let a = bytes(&run_text(&text, 9));
        let b = bytes(&run_text(&text, 9));
        assert!(a == b, "{proto}: repeated run differs");
        let (t1, t2) = std::thread::scope(|s| {
            let h1 = s.spawn(|| bytes(&run_text(&text, 9)));
            let h2 = s.spawn(|| bytes(&run_text(&text, 9)));
            (h1.join().expect("thread"), h2.join().expect("thread"))
        });
        assert!(t1 == a && t2 == a, "{proto}: run on another thread differs");
        let c = bytes(&run_text(&text, 10));
        assert!(c.0 != a.0, "{proto}: another seed gave the same summary");
    }
}

/// An ideal push protocol for the engine test: the source and every holder
/// forward each chunk along a binomial tree (holder rank r sends at step j to
/// rank r + 2^j), the fastest schedule store-and-forward allows.
struct Binomial {
    rank: u32,
    n: u32,
    stream: StreamParams,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<(u32, Time)>>>,
}

impl Peer for Binomial {
    type Timer = ();
    fn on_start(&mut self, cx: &mut Ctx<'_, ()>) {
        if self.rank == 0 {
            cx.timer_at(self.stream.emission(0), ());
        }
    }
    fn on_message(&mut self, _from: PeerId, msg: Msg, cx: &mut Ctx<'_, ()>) {
        if let Msg::Chunk { .. } = msg {
            self.arrivals.lock().unwrap().push((self.rank, cx.now));
            self.forward(cx);
        }
    }
    fn on_timer(&mut self, _t: (), cx: &mut Ctx<'_, ()>) {
        self.forward(cx);
    }
    fn on_command(&mut self, _c: Command, _cx: &mut Ctx<'_, ()>) {}
}

impl Binomial {
    fn forward(&self, cx: &mut Ctx<'_, ()>) {
        // A holder of rank r got the chunk at step floor(log2 r) + 1 (r > 0) and
        // then sends at each later step j to r + 2^j.
        let first_step = if self.rank == 0 { 0 } else { 32 - self.rank.leading_zeros() };
        for j in first_step..32 {
            let to = self.rank + (1 << j);
            if to > self.n {
                break;
            }
            let len = self.stream.chunk_bytes();
            // Node ids: 0 tracker, 1 source (rank 0), rank r at id r + 1.
            cx.send(PeerId(to + 1), Msg::Chunk { seq: 0, len, polluted: false });
        }
    }
}

struct BinomialProto {
    n: u32,
    stream: StreamParams,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<(u32, Time)>>>,
}

impl Protocol for BinomialProto {
    type Peer = Binomial;
    fn name(&self) -> String {
        "binomial".into()
    }
    fn source(&self, _id: PeerId, _up: u32) -> Binomial {
        Binomial { rank: 0, n: self.n, stream: self.stream, arrivals: self.arrivals.clone() }
    }
    fn peer(&self, id: PeerId, _up: u32) -> Binomial {
        Binomial { rank: id.0 - 1, n: self.n, stream: self.stream, arrivals: self.arrivals.clone() }
    }
}

/// The engine's links are exactly as fast as their rates: the ideal binomial
/// push meets the doubling bound to within propagation, never beats it.
#[test]
fn ideal_binomial_push_meets_the_bound_and_links_are_not_faster_than_their_rate() {
    let stream = StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) };
    let up = 1_000_000;
    for n in [1u32, 7, 63, 100] {
        let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let node = |role, down| NodeSpec {
            role,
            class: 0,
            up_bps: up,
            down_bps: down,
            join: Time::ZERO,
            leave: None,
            behaviour: Default::default(),
            nat: false,
        };
        let mut specs = vec![node(NodeRole::Tracker, up), node(NodeRole::Source, up)];
        specs.extend((0..n).map(|_| node(NodeRole::Peer, 10 * up)));
        let prop = Time::from_millis(20);
        let latency = LatencyModel::build(&LatencySpec::Constant { ms: 20.0 }, 1);
        let proto = BinomialProto { n, stream, arrivals: arrivals.clone() };
        let mut e = Engine::new(proto, stream, specs, latency, 0.0, 1);
        e.run_until(Time::from_secs(60));
        let got = arrivals.lock().unwrap();
        assert_eq!(got.len(), n as usize, "every peer receives the chunk once");
        let last = got.iter().map(|&(_, t)| t).max().expect("arrivals");
        let len = Msg::Chunk { seq: 0, len: stream.chunk_bytes(), polluted: false }.encoded_len();
        let tau = Time::transmit(wire_bytes(len).1, up);
        let hops = (n as u64 + 1).next_power_of_two().trailing_zeros() as u64;
        let bound = Time(tau.0 * hops) + prop;
        assert!(last >= bound, "n={n}: last arrival {last:?} beats the bound {bound:?}");
        // Each hop costs exactly tau + propagation on an otherwise idle network.
        assert!(last <= Time((tau.0 + prop.0) * hops) + Time(hops), "n={n}: {last:?} slower than ideal");
    }
}
