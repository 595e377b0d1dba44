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

/// `Engine::set_control_interleave` (`network.control_priority =
/// "datagram"`: a kernel queue that sends control datagrams between media
/// datagrams): off, the
/// outputs are the engine's own, byte for byte; on, control no longer waits
/// for the message in service, so a run with busy links changes, bytes stay
/// conserved, the same on 1 and 2 threads and with eager links, and
/// mesh-pull on dyn-50 (seeds 1-3, draw 1) plays at least as well.
#[test]
fn control_interleave_is_off_by_default_and_changes_busy_runs() {
    let path = format!("{}/../scenarios/validate/dyn-50.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let sc = Scenario::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let run_with = |seed: u64, interleave: Option<bool>, threads: usize, eager: bool| {
        let mut e = build_engine(MeshPull::build(&sc), &sc, seed);
        e.set_protocol_draw(1);
        if let Some(on) = interleave {
            e.set_control_interleave(on);
        }
        e.set_eager_links(eager);
        e.set_threads(threads);
        e.run_until(Time::from_secs_f64(sc.duration_s.0));
        let r = finish_report(e, &sc, &RunOptions { name: "links".into(), seed, threads, draw: 1 });
        assert!(r.info.traffic.conserved(), "seed {seed}, interleave {interleave:?}: bytes not conserved");
        let c = r.get("continuity_mean").expect("continuity");
        (c, [summary_csv(&r), peers_csv(&r), timeseries_csv(&r)].concat())
    };
    let run = |seed: u64, interleave: Option<bool>, threads: usize| run_with(seed, interleave, threads, false);
    let (mut off_sum, mut on_sum) = (0.0, 0.0);
    for seed in 1..=3 {
        let (c_default, default) = run(seed, None, 1);
        let (c_off, off) = run(seed, Some(false), 1);
        assert!(default == off, "seed {seed}: interleave off is not the engine's default");
        let (c_on, on) = run(seed, Some(true), 1);
        assert!(on != off, "seed {seed}: interleaving control changed nothing");
        assert!(on == run(seed, Some(true), 2).1, "seed {seed}: interleaving differs on 2 threads");
        assert!(on == run_with(seed, Some(true), 2, true).1, "seed {seed}: interleaving differs with eager links");
        assert_eq!(c_default, c_off);
        off_sum += c_off;
        on_sum += c_on;
    }
    assert!(on_sum >= off_sum, "control interleaved played worse: {on_sum} < {off_sum} (sum over seeds 1-3)");
}

/// A sender that starts a chunk to node 3 at 0 and sends a `Bye` (control)
/// to node 3 at `bye_at`; node 3 notes what arrives when.
struct Pair {
    id: u32,
    chunk_len: u32,
    bye_at: Time,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<(bool, Time)>>>,
}

impl protocols::peer::Peer for Pair {
    type Timer = ();
    fn on_start(&mut self, cx: &mut protocols::peer::Ctx<'_, ()>) {
        if self.id == 2 {
            cx.send(protocols::PeerId(3), protocols::wire::Msg::Chunk { seq: 0, len: self.chunk_len, polluted: false });
            cx.timer_at(self.bye_at, ());
        }
    }
    fn on_message(
        &mut self,
        _from: protocols::PeerId,
        msg: protocols::wire::Msg,
        cx: &mut protocols::peer::Ctx<'_, ()>,
    ) {
        self.arrivals.lock().unwrap().push((msg.is_media(), cx.now));
    }
    fn on_timer(&mut self, _t: (), cx: &mut protocols::peer::Ctx<'_, ()>) {
        cx.send(protocols::PeerId(3), protocols::wire::Msg::Bye);
    }
    fn on_command(&mut self, _c: protocols::peer::Command, _cx: &mut protocols::peer::Ctx<'_, ()>) {}
}

struct PairProto {
    chunk_len: u32,
    bye_at: Time,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<(bool, Time)>>>,
}

impl sim::engine::Protocol for PairProto {
    type Peer = Pair;
    fn name(&self) -> String {
        "pair".into()
    }
    fn source(&self, id: protocols::PeerId, _up: u32) -> Pair {
        Pair { id: id.0, chunk_len: self.chunk_len, bye_at: self.bye_at, arrivals: self.arrivals.clone() }
    }
    fn peer(&self, id: protocols::PeerId, _up: u32) -> Pair {
        Pair { id: id.0, chunk_len: self.chunk_len, bye_at: self.bye_at, arrivals: self.arrivals.clone() }
    }
}

/// `network.control_priority = "datagram"` (`Engine::set_control_interleave`)
/// is exact physics: the control message leaves at once, between two
/// datagrams of the chunk in service, and the chunk's rest waits for it, so
/// the chunk arrives later by exactly the control message's serialization
/// time (the link never carries more than its rate); sent the nanosecond
/// the chunk ends, it follows the chunk; with `message` the control message
/// waits for the whole chunk.
#[test]
fn control_between_datagrams_delays_the_chunk_by_its_own_serialization() {
    use analysis::collector::NodeRole;
    use protocols::wire::{Msg, wire_bytes};
    use sim::engine::{Engine, NodeSpec};
    use sim::latency::{LatencyModel, LatencySpec};
    let up = 1_000_000u64;
    let stream = protocols::StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) };
    let chunk_len = 60_000u32;
    let run = |interleave: bool, bye_at: Time| {
        let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let node = |role| NodeSpec {
            role,
            class: 0,
            up_bps: up,
            down_bps: 100 * up,
            join: Time::ZERO,
            leave: None,
            behaviour: Default::default(),
            nat: false,
        };
        let specs = vec![node(NodeRole::Tracker), node(NodeRole::Source), node(NodeRole::Peer), node(NodeRole::Peer)];
        let latency = LatencyModel::build(&LatencySpec::Constant { ms: 20.0 }, 1);
        let mut e =
            Engine::new(PairProto { chunk_len, bye_at, arrivals: arrivals.clone() }, stream, specs, latency, 0.0, 1);
        e.set_control_interleave(interleave);
        e.run_until(Time::from_secs(5));
        let got = arrivals.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "interleave {interleave}: both messages arrive: {got:?}");
        let at = |media: bool| got.iter().find(|a| a.0 == media).expect("arrived").1;
        (at(true), at(false))
    };
    let tau_chunk =
        Time::transmit(wire_bytes(Msg::Chunk { seq: 0, len: chunk_len, polluted: false }.encoded_len()).1, up);
    let tau_bye = Time::transmit(wire_bytes(Msg::Bye.encoded_len()).1, up);
    let prop = Time::from_millis(20);
    assert!(tau_chunk > Time::from_millis(100), "the chunk is still in service at 100 ms");
    let at_100ms = Time::from_millis(100);
    // Whole messages: the chunk as if alone, the Bye after it.
    let (chunk, bye) = run(false, at_100ms);
    assert_eq!(chunk, tau_chunk + prop);
    assert_eq!(bye, tau_chunk + tau_bye + prop);
    // Sent the very nanosecond the chunk ends (the timer runs before the
    // chunk's completion, queued later): no datagram of the chunk is left,
    // so the Bye follows it and the chunk is not delayed.
    let (chunk, bye) = run(true, tau_chunk);
    assert_eq!(chunk, tau_chunk + prop);
    assert_eq!(bye, tau_chunk + tau_bye + prop);
    // Between datagrams: the Bye at once, the chunk later by the Bye's time.
    let (chunk, bye) = run(true, at_100ms);
    assert_eq!(bye, at_100ms + tau_bye + prop);
    let late = chunk - (tau_chunk + tau_bye + prop);
    assert!(
        late <= Time(1) && (tau_chunk + tau_bye + prop) - chunk <= Time(1),
        "chunk at {chunk:?}, expected {:?}",
        tau_chunk + tau_bye + prop
    );
}
