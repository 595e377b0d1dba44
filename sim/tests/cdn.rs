//! Client-server baseline (protocols::cdn) in the simulator: the source's
//! upload is the only capacity, so it serves N copies when it can and
//! continuity is capped by source_up / (N x rate) when it cannot.

use std::sync::Arc;

use protocols::cdn::{CdnConfig, CdnPeer};
use protocols::{PeerId, Time};
use sim::engine::Protocol;
use sim::runner::{RunOptions, mesh_config, run_with, stream_params};
use sim::scenario::Scenario;

/// The client-server baseline as an engine protocol (node 0 tracker, node 1 source).
struct Cdn {
    cfg: Arc<CdnConfig>,
}

impl Cdn {
    fn new(sc: &Scenario, max_upload_backlog: Option<Time>) -> Cdn {
        let player = mesh_config(sc).player;
        let mut cfg = CdnConfig::new(stream_params(sc), player, PeerId(0), PeerId(1));
        if let Some(cap) = max_upload_backlog {
            cfg.max_upload_backlog = Some(cap);
        }
        Cdn { cfg: Arc::new(cfg) }
    }
}

impl Protocol for Cdn {
    type Peer = CdnPeer;
    fn name(&self) -> String {
        "client-server".into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> CdnPeer {
        CdnPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> CdnPeer {
        CdnPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

const N: u32 = 100;
const RATE_KBPS: f64 = 500.0;

fn scenario(source_up_kbps: f64, peer_up_kbps: f64) -> Scenario {
    let text = format!(
        r#"
duration_s = 120
[stream]
rate_kbps = {RATE_KBPS}
[source]
up_kbps = {source_up_kbps}
[peers]
count = {N}
join_window_s = 10
[[peers.classes]]
share = 1.0
up_kbps = {peer_up_kbps}
down_kbps = 8000
[network.latency]
model = "constant"
ms = 40
"#
    );
    Scenario::parse("t.toml", &text).expect("valid scenario")
}

/// Runs `sc`; `cap` overrides the source's upload-backlog cap (default 2 s).
fn run(sc: &Scenario, cap: Option<Time>) -> analysis::Report {
    let opts = RunOptions { name: "cdn".into(), seed: 1, threads: 1, draw: 0 };
    run_with(Cdn::new(sc, cap), sc, &opts, &mut |_, _| {})
}

fn metric(r: &analysis::Report, name: &str) -> f64 {
    r.get(name).unwrap_or_else(|| panic!("metric {name} undefined"))
}

#[test]
fn well_provisioned_source_serves_n_copies_with_full_continuity() {
    let up = (N as f64 * RATE_KBPS * 1.1).round();
    let r = run(&scenario(up, 1000.0), None);
    let (cont, load) = (metric(&r, "continuity_pooled"), metric(&r, "server_load"));
    println!(
        "cdn source_up={up} kbps: continuity_pooled={cont:.4} server_load={load:.2} lag_p50={:.2}s startup_p50={:.2}s \
         duplicate_ratio={:.4} started={}",
        metric(&r, "lag_p50"),
        metric(&r, "startup_delay_p50"),
        metric(&r, "duplicate_ratio"),
        metric(&r, "peers_started"),
    );
    assert_eq!(metric(&r, "peers_started"), N as f64);
    assert!(cont >= 0.99, "continuity {cont}");
    assert!((load - N as f64).abs() <= 0.1 * N as f64, "server load {load}, expected about {N}");
    assert!(r.info.traffic.conserved(), "{:?}", r.info.traffic);
}

#[test]
fn half_provisioned_source_caps_continuity_at_its_share() {
    let up = N as f64 * RATE_KBPS / 2.0;
    // Peers upload only their control messages (5 kbps each), so the report's
    // r_max, which counts peer uploads, stays close to the source's share.
    let r = run(&scenario(up, 5.0), Some(Time::from_secs(30)));
    let cont = metric(&r, "continuity_pooled");
    let bound = metric(&r, "continuity_bound");
    let load = metric(&r, "server_load");
    let physics = up / (N as f64 * RATE_KBPS);
    println!(
        "cdn source_up={up} kbps, backlog cap 30 s: continuity_pooled={cont:.4} bound={bound:.4} (source share \
         {physics:.2}) server_load={load:.2} lag_p50={:.2}s duplicate_ratio={:.4}",
        metric(&r, "lag_p50"),
        metric(&r, "duplicate_ratio"),
    );
    assert!(cont <= 0.5 + 0.05, "continuity {cont}");
    assert!(cont <= physics + 0.02, "continuity {cont} above source_up / (N x rate) = {physics}");
    assert!(cont <= bound + 0.02, "continuity {cont} above the report's bound {bound}");
    // The source stays busy: it accepts at least its capacity's worth of streams.
    assert!(load >= 0.9 * up / RATE_KBPS, "server load {load}");
    assert!(r.info.traffic.conserved(), "{:?}", r.info.traffic);
}

/// With a 30 s cap an overloaded FIFO source builds a queue longer than the
/// players' lag, so most chunks arrive late (bufferbloat). The default 2 s cap
/// drops instead of queueing, and peers get about the source's share.
#[test]
fn a_short_backlog_cap_lets_an_overloaded_source_deliver_its_share() {
    let up = N as f64 * RATE_KBPS / 2.0;
    let r = run(&scenario(up, 5.0), None);
    let cont = metric(&r, "continuity_pooled");
    println!(
        "cdn source_up={up} kbps, backlog cap 2 s: continuity_pooled={cont:.4} continuity_p05={:.4} \
         server_load={:.2} lag_p50={:.2}s duplicate_ratio={:.4}",
        metric(&r, "continuity_p05"),
        metric(&r, "server_load"),
        metric(&r, "lag_p50"),
        metric(&r, "duplicate_ratio"),
    );
    // Finite-horizon effect: chunks played in [start, end] were emitted in
    // [start - lag, end - lag], so continuity may exceed the share slightly.
    assert!((0.4..=0.65).contains(&cont), "continuity {cont}");
    assert!(r.info.traffic.conserved(), "{:?}", r.info.traffic);
}

/// A source whose buffer maps alone need more than its upload (200 clients x
/// 45-byte maps each second on a 40 kbps = 5,000 B/s link: 9,000 B of maps a
/// second) keeps at most one `buffer_map_interval` of control queued, so its
/// queue stays bounded. Queueing every map, as the source did before the cap,
/// left 683,309 B queued at the end of this run (21,733 B with the cap).
#[test]
fn a_source_that_cannot_carry_its_maps_keeps_its_queue_bounded() {
    let text = r#"
duration_s = 120
[stream]
rate_kbps = 64
[source]
up_kbps = 40
[peers]
count = 200
join_window_s = 10
[[peers.classes]]
share = 1.0
up_kbps = 100
down_kbps = 8000
[network.latency]
model = "constant"
ms = 40
"#;
    let sc = Scenario::parse("t.toml", text).expect("valid scenario");
    let r = run(&sc, None);
    let t = r.info.traffic;
    // One second of control (5,000 B) plus the message that crosses it, two
    // seconds of media plus the chunk that crosses them (8,000 B of payload,
    // 6 datagrams' headers), and the peers' own small queues.
    let bound = 5_000 + 100 + 10_000 + 8_300 + 200 * 100;
    println!("cdn control-bound source: queued at the end {} B (bound {bound} B), sent {} B", t.queued, t.sent);
    assert!(t.queued <= bound, "{} B still queued at the end, more than {bound} B", t.queued);
    assert!(t.conserved(), "{t:?}");
}
