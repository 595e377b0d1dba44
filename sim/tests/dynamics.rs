//! Timeline events and time-varying bandwidth: the link model reschedules a
//! message in service when capacity changes, outages cut a node off, and the
//! bounds follow the time-varying capacities.

use std::sync::Arc;
use std::sync::Mutex;

use analysis::Report;
use analysis::collector::NodeRole;
use protocols::peer::{Command, Ctx, Peer};
use protocols::wire::{Msg, wire_bytes};
use protocols::{PeerId, StreamParams, Time};
use sim::engine::{Control, Engine, NodeSpec, Protocol};
use sim::latency::{LatencyModel, LatencySpec};
use sim::runner::{RunOptions, run};
use sim::scenario::Scenario;

/// Node 2 sends one chunk message to node 3 at time zero; arrivals are logged.
struct OneShot(Arc<Mutex<Vec<Time>>>, bool);

impl Peer for OneShot {
    type Timer = ();
    fn on_start(&mut self, cx: &mut Ctx<'_, ()>) {
        if self.1 {
            cx.send(PeerId(3), Msg::Chunk { seq: 0, len: 100_000, polluted: false });
        }
    }
    fn on_message(&mut self, _f: PeerId, _m: Msg, cx: &mut Ctx<'_, ()>) {
        self.0.lock().unwrap().push(cx.now);
    }
    fn on_timer(&mut self, _t: (), _cx: &mut Ctx<'_, ()>) {}
    fn on_command(&mut self, _c: Command, _cx: &mut Ctx<'_, ()>) {}
}

struct OneShotProto(Arc<Mutex<Vec<Time>>>);

impl Protocol for OneShotProto {
    type Peer = OneShot;
    fn name(&self) -> String {
        "one-shot".into()
    }
    fn source(&self, _id: PeerId, _up: u32) -> OneShot {
        OneShot(self.0.clone(), false)
    }
    fn peer(&self, id: PeerId, _up: u32) -> OneShot {
        OneShot(self.0.clone(), id == PeerId(2))
    }
}

/// Tracker, source, peer 2 (class 0) and peer 3 (class 1), all present from the start.
fn four_nodes(up_bps: u64, down_bps: u64) -> Vec<NodeSpec> {
    let node = |role, class| NodeSpec {
        role,
        class,
        up_bps,
        down_bps,
        join: Time::ZERO,
        leave: None,
        behaviour: Default::default(),
        nat: false,
    };
    vec![node(NodeRole::Tracker, 0), node(NodeRole::Source, 0), node(NodeRole::Peer, 0), node(NodeRole::Peer, 1)]
}

#[test]
fn a_capacity_change_reschedules_the_message_in_service() {
    let stream = StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) };
    let up = 1_000_000u64;
    let specs = four_nodes(up, 100 * up);
    let bytes = wire_bytes(Msg::Chunk { seq: 0, len: 100_000, polluted: false }.encoded_len()).1;
    let full = Time::transmit(bytes, up);
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let latency = LatencyModel::build(&LatencySpec::Constant { ms: 0.0 }, 1);
    let mut e = Engine::new(OneShotProto(arrivals.clone()), stream, specs, latency, 0.0, 1);
    // Halfway through, class 0 (the sender) drops to a quarter of its upload.
    let half = Time(full.0 / 2);
    e.add_control(half, Control::ClassBandwidth { class: Some(0), factor: 0.25 });
    e.run_until(Time::from_secs(60));
    let got = arrivals.lock().unwrap();
    assert_eq!(got.len(), 1);
    // The first half went at full rate; the remaining half takes four times as long.
    let sent_bits = half.0 as u128 * up as u128 / 1_000_000_000;
    let left = bytes as u128 * 8 - sent_bits;
    let expected = half.0 + (left * 1_000_000_000).div_ceil(up as u128 / 4) as u64;
    assert_eq!(got[0].0, expected, "arrival {:?}, expected {:?}", got[0], Time(expected));
    assert!(got[0] > full, "slower than without the drop");
}

fn run_text(text: &str, seed: u64) -> Report {
    let sc = Scenario::parse("dyn.toml", text).expect("valid scenario");
    run(&sc, &RunOptions { name: "dyn".into(), seed, threads: 1, draw: 0 }, &mut |_, _| {})
}

/// Continuity per time bucket from the report.
fn continuity_at(r: &Report, from_s: f64, to_s: f64) -> f64 {
    let w = r.bucket.as_secs_f64();
    let (mut played, mut due) = (0u64, 0u64);
    for (k, b) in r.buckets.iter().enumerate() {
        let t = k as f64 * w;
        if t >= from_s && t < to_s {
            played += b.played as u64;
            due += (b.played + b.missed) as u64;
        }
    }
    played as f64 / due.max(1) as f64
}

#[test]
fn a_source_outage_starves_everyone_after_their_buffers_drain_and_they_recover() {
    let text = "duration_s = 240\n[source]\nup_kbps = 3000\n[peers]\ncount = 60\n\
                [[timeline]]\nat_s = 80\nevent = \"source-down\"\n[[timeline]]\nat_s = 130\nevent = \"source-up\"\n";
    for proto in ["mesh-pull", "tree-push"] {
        let r = run_text(&format!("{text}[protocol]\nname = \"{proto}\"\n"), 2);
        let lag = r.get("lag_p50").expect("lag");
        let before = continuity_at(&r, 40.0, 80.0);
        // Chunks emitted during the outage (80-130 s) are due at 80 + lag .. 130 + lag.
        let during = continuity_at(&r, 80.0 + lag + 5.0, 130.0 + lag - 5.0);
        let after = continuity_at(&r, 130.0 + lag + 40.0, 240.0);
        let rec = r.get("recovery_time");
        println!(
            "{proto}: lag {lag:.1} s, continuity before {before:.3}, during {during:.3}, after {after:.3}, recovery {rec:?} s"
        );
        assert!(before > 0.9, "{proto}: before the outage {before}");
        assert!(during < 0.05, "{proto}: nothing emitted during the outage can be played ({during})");
        // Mesh-pull recovers (about 0.84 here: starving peers swap one partner
        // per refresh until they find the source again). Tree-push rebuilds its tree within seconds
        // (every peer receives new chunks again), but the rebuilt tree is
        // deeper for some peers than the lag they chose at startup, and the
        // player never re-buffers, so those keep missing (about 0.78 here).
        let floor = if proto == "mesh-pull" { 0.8 } else { 0.6 };
        assert!(after > floor, "{proto}: no recovery after the source returned ({after})");
        if proto == "mesh-pull" {
            // Service returns once chunks emitted after the outage reach their deadline: not before the lag.
            let rec = rec.expect("mesh-pull recovers within the run");
            assert!(rec >= lag - 5.0 && rec < 110.0 - 10.0, "recovery time {rec} s");
        }
        assert!(r.info.traffic.conserved());
    }
}

#[test]
fn markov_bandwidth_lowers_the_bounds_and_continuity_respects_them() {
    let base = "duration_s = 200\n[stream]\nrate_kbps = 500\n[source]\nup_kbps = 1000\n[peers]\ncount = 60\n\
                [[peers.classes]]\nshare = 1.0\nup_kbps = 600\ndown_kbps = 5000\n";
    let steady = run_text(base, 4);
    let varying =
        run_text(&format!("{base}[bandwidth]\nmodel = \"markov\"\nlevels = [1.0, 0.2]\nmean_hold_s = 20\n"), 4);
    let (b0, b1) = (steady.get("capacity_bound").unwrap(), varying.get("capacity_bound").unwrap());
    let (r0, r1) = (steady.get("r_max").unwrap(), varying.get("r_max").unwrap());
    println!("capacity bound {b0:.3} -> {b1:.3}, r_max {r0:.1} -> {r1:.1} kbps");
    // Levels 1.0 and 0.2 held equally long on average: mean upload ~0.6 x nominal.
    assert!(r1 < 0.8 * r0 && r1 > 0.45 * r0, "r_max did not follow the modulated capacity: {r0} -> {r1}");
    let c1 = varying.get("continuity_pooled").unwrap();
    assert!(c1 <= b1, "continuity {c1} beats the capacity bound {b1}");
    assert!(c1 <= varying.get("continuity_bound").unwrap() + 0.02);
    assert!(varying.info.traffic.conserved());
    // Used upload never exceeds the time-varying capacity.
    for (_, p) in &varying.peers {
        let used = (p.up_media + p.up_control) as f64 * 8.0;
        assert!(used <= p.capacity_bits(varying.info.end) * 1.0001 + 1e4, "peer used {used} bits");
    }
}

#[test]
fn a_partition_cuts_off_a_share_of_the_peers_until_it_heals() {
    let text = "duration_s = 240\n[source]\nup_kbps = 3000\n[peers]\ncount = 80\n\
                [[timeline]]\nat_s = 80\nevent = \"partition\"\nfraction = 0.5\n\
                [[timeline]]\nat_s = 130\nevent = \"heal\"\n";
    let r = run_text(text, 3);
    let lag = r.get("lag_p50").expect("lag");
    let during = continuity_at(&r, 80.0 + lag + 10.0, 130.0 + lag - 5.0);
    let after = continuity_at(&r, 130.0 + lag + 40.0, 240.0);
    println!("partition: during {during:.3}, after {after:.3}");
    // Half the peers lose the source: continuity falls to about one half.
    assert!(during < 0.75 && during > 0.2, "during the partition {during}");
    assert!(after > 0.8, "after healing {after}");
}

#[test]
fn a_bandwidth_trace_changes_one_peer_and_one_class_and_the_bounds_follow() {
    let dir = std::env::temp_dir().join(format!("swarmlab-bwtrace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scen = dir.join("s.toml");
    let text = |model: &str| {
        format!(
            "duration_s = 100\n[peers]\ncount = 20\njoin_window_s = 1\n\
             [[peers.classes]]\nname = \"slow\"\nshare = 0.5\nup_kbps = 600\ndown_kbps = 5000\n\
             [[peers.classes]]\nname = \"fast\"\nshare = 0.5\nup_kbps = 2000\ndown_kbps = 5000\n{model}"
        )
    };
    std::fs::write(&scen, text("")).unwrap();
    let (plain, _) = Scenario::load(&scen).unwrap();
    std::fs::write(&scen, text("[bandwidth]\nmodel = \"trace\"\ntrace_file = \"bw.csv\"\n")).unwrap();
    std::fs::write(dir.join("bw.csv"), "t_s,target,up_factor\n50,peer:5,0\n# the fast class halves\n60,fast,0.5\n")
        .unwrap();
    let (traced, _) = Scenario::load(&scen).unwrap();
    let go = |sc: &Scenario| run(sc, &RunOptions { name: "bw".into(), seed: 3, threads: 1, draw: 0 }, &mut |_, _| {});
    let (a, b) = (go(&plain), go(&traced));
    let end = Time::from_secs(100);
    let cap = |r: &Report, id: u32| r.peers.iter().find(|(i, _)| *i == id).unwrap().1.capacity_bits(end);
    let cls = |r: &Report, id: u32| r.peers.iter().find(|(i, _)| *i == id).unwrap().1.class;
    // Peer 5 uploads nothing after 50 s: its capacity over the run halves at most
    // (it joined within the first second).
    let ratio = cap(&b, 5) / cap(&a, 5);
    assert!((0.49..0.501).contains(&ratio), "peer 5 kept {ratio} of its capacity");
    let fast = (2..22).find(|&i| i != 5 && cls(&a, i) == 1).expect("a fast peer");
    let ratio = cap(&b, fast) / cap(&a, fast);
    assert!((ratio - 0.8).abs() < 0.01, "fast peers: 60 s at full + 40 s at half = 0.8 of the capacity, got {ratio}");
    assert!(b.get("r_max").unwrap() < a.get("r_max").unwrap(), "the bound follows the time-varying capacity");

    std::fs::write(dir.join("bw.csv"), "t_s,target,up_factor\n50,peer:5,0\n60,turbo,2\n").unwrap();
    let e = Scenario::load(&scen).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("unknown target `turbo`") && e.contains("slow, fast"), "{e}");
    std::fs::write(dir.join("bw.csv"), "t_s,target,up_factor\n-1,,1\n").unwrap();
    assert!(Scenario::load(&scen).unwrap_err().to_string().contains("line 2: t_s `-1`"));
    std::fs::write(dir.join("bw.csv"), "t_s,peer\n").unwrap();
    assert!(Scenario::load(&scen).unwrap_err().to_string().contains("expected the header"));
    std::fs::remove_file(dir.join("bw.csv")).unwrap();
    let e = Scenario::load(&scen).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("bandwidth.trace_file"));
    assert!(e.to_string().contains("cannot read the bandwidth trace file"), "{e}");
    std::fs::write(&scen, text("[bandwidth]\nmodel = \"trace\"\n")).unwrap();
    assert!(Scenario::load(&scen).unwrap_err().to_string().contains("needs bandwidth.trace_file"));
}

#[test]
fn a_download_change_slows_what_the_receiver_takes_in() {
    let stream = StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) };
    let up = 1_000_000u64;
    let specs = four_nodes(up, up);
    let bytes = wire_bytes(Msg::Chunk { seq: 0, len: 100_000, polluted: false }.encoded_len()).1;
    for (control, down) in [
        (Control::Download { class: Some(1), node: None, factor: 0.1 }, up / 10),
        (Control::Download { class: None, node: Some(3), factor: 0.5 }, up / 2),
        (Control::Download { class: Some(0), node: None, factor: 0.1 }, up),
    ] {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let latency = LatencyModel::build(&LatencySpec::Constant { ms: 0.0 }, 1);
        let mut e = Engine::new(OneShotProto(arrivals.clone()), stream, specs.clone(), latency, 0.0, 1);
        e.add_control(Time::ZERO, control.clone());
        e.run_until(Time::from_secs(60));
        // Upload and download are pipelined: the slower link sets the arrival.
        let expected = Time::transmit(bytes, down.min(up));
        assert_eq!(arrivals.lock().unwrap().as_slice(), &[expected], "{control:?}");
    }
}

#[test]
fn a_bandwidth_trace_may_change_downloads_too() {
    let dir = std::env::temp_dir().join(format!("swarmlab-bwdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scen = dir.join("s.toml");
    std::fs::write(&scen, "[peers]\ncount = 5\n[bandwidth]\nmodel = \"trace\"\ntrace_file = \"bw.csv\"\n").unwrap();
    std::fs::write(dir.join("bw.csv"), "t_s,target,up_factor,down_factor\n10,,1,0.5\n20,peer:3,0.5,\n").unwrap();
    let (sc, _) = Scenario::load(&scen).unwrap();
    let downs: Vec<Option<f64>> = sc.bandwidth.trace.iter().map(|r| r.down_factor).collect();
    assert_eq!(downs, vec![Some(0.5), None]);
    std::fs::write(dir.join("bw.csv"), "t_s,target,up_factor,down_factor\n10,,1,fast\n").unwrap();
    let e = Scenario::load(&scen).unwrap_err().to_string();
    assert!(e.contains("line 2: down_factor `fast`"), "{e}");
    std::fs::write(dir.join("bw.csv"), "t_s,target,up_factor,down_factor\n10,,1\n").unwrap();
    let e = Scenario::load(&scen).unwrap_err().to_string();
    assert!(e.contains("expected 4 comma-separated fields"), "{e}");
}
