//! CDN-assisted delivery (`cdn-p2p`, `[cdn]`): the byte split between peers
//! and the infrastructure is exact, the edge is a node with a capacity (not
//! an oracle), and without `[cdn]` nothing of it appears.

use analysis::collector::{Collector, NodeRole};
use protocols::Time;
use sim::registry::Family;
use sim::runner::{RunOptions, build_engine, run};
use sim::scenario::Scenario;

const STARVED: &str = "duration_s = 150\n[stream]\nrate_kbps = 500\n[source]\nup_kbps = 1000\n\
    [peers]\ncount = 80\njoin_window_s = 5\n\
    [[peers.classes]]\nshare = 1.0\nup_kbps = 350\ndown_kbps = 4000\n\
    [churn]\nmodel = \"poisson\"\narrival_rate_per_s = 0.3\nsession_mean_s = 100\n\
    [network]\n";

fn scenario(proto: &str, cdn: &str) -> Scenario {
    lossy(proto, cdn, 0.01)
}

fn lossy(proto: &str, cdn: &str, loss: f64) -> Scenario {
    let text = format!("{STARVED}loss = {loss}\n{cdn}\n[protocol]\nname = \"{proto}\"\n");
    Scenario::parse("cdn.toml", &text).expect("valid test scenario")
}

fn collect<F: Family>(sc: &Scenario) -> Collector {
    let end = Time::from_secs_f64(sc.duration_s.0);
    let mut e = build_engine(F::build(sc), sc, 3);
    e.run_until(end);
    e.finish().0
}

/// Media delivered to peers = media from peers + media from the source and
/// the edge, byte for byte, under churn and loss, for every kind of family.
#[test]
fn cdn_bytes_plus_p2p_bytes_are_the_media_bytes_delivered() {
    use sim::families::{CdnAssisted, ClientServer, MeshPull, RandomPush};
    let cdn = "[cdn]\nedge_up_kbps = 5000\n";
    let runs = [
        ("cdn-p2p", collect::<CdnAssisted>(&scenario("cdn-p2p", cdn))),
        ("mesh-pull", collect::<MeshPull>(&scenario("mesh-pull", cdn))),
        ("client-server", collect::<ClientServer>(&scenario("client-server", cdn))),
        ("random-push", collect::<RandomPush>(&scenario("random-push", cdn))),
    ];
    for (name, c) in &runs {
        let to_peers: u64 = c.nodes.iter().filter(|n| n.present && n.role == NodeRole::Peer).map(|n| n.down_media).sum();
        let (p2p, infra) = (c.media_to_peers_from_peers, c.media_to_peers_from_infra);
        assert!(to_peers > 0, "{name}: nothing delivered");
        assert_eq!(p2p + infra, to_peers, "{name}: {p2p} + {infra} != {to_peers}");
        match *name {
            "client-server" => assert_eq!(p2p, 0, "client-server peers upload no media"),
            "cdn-p2p" => assert!(p2p > 0 && infra > 0, "{name}: {p2p} from peers, {infra} from servers"),
            _ => assert!(p2p > infra, "{name}: {p2p} from peers, {infra} from the source"),
        }
        let edges = c.nodes.iter().filter(|n| n.present && n.role == NodeRole::Edge).count();
        assert_eq!(edges, usize::from(*name == "cdn-p2p"), "{name}: edge nodes");
    }
}

/// The edge's upload is a link like any other: it sends no more than its
/// capacity allows, and an edge too small to cover the deficit leaves the
/// swarm below full continuity and within the bound, while an ample one
/// fills it (no datagram loss here: a 62.5 kB chunk is 53 datagrams, lost
/// whole with probability 41% at 1% loss, which no 2 s window recovers).
#[test]
fn the_edge_is_a_node_with_a_capacity_not_an_oracle() {
    let opts = RunOptions { name: "cdn".into(), seed: 3 };
    let get = |sc: &Scenario| run(sc, &opts, &mut |_, _| {});
    let small = get(&lossy("cdn-p2p", "[cdn]\nedge_up_kbps = 2000\n", 0.0));
    let ample = get(&lossy("cdn-p2p", "[cdn]\nedge_up_kbps = 200000\n", 0.0));
    let mesh = get(&lossy("mesh-pull", "[cdn]\n", 0.0));
    let m = |r: &analysis::Report, k: &str| r.get(k).unwrap_or_else(|| panic!("{k} missing"));
    // 2000 kbps for 150 s is 37.5 MB.
    assert!(m(&small, "cdn_edge_gb") <= 2000.0 * 1000.0 / 8.0 * 150.0 / 1e9, "{}", m(&small, "cdn_edge_gb"));
    assert!(m(&small, "cdn_edge_gb") > 0.0);
    for r in [&small, &ample, &mesh] {
        assert!(m(r, "continuity_pooled") <= m(r, "continuity_bound") + 0.02, "{}", r.info.protocol);
        assert!(m(r, "continuity_pooled") <= m(r, "capacity_bound"), "{}", r.info.protocol);
    }
    let (cs, ca, cm) = (m(&small, "continuity_mean"), m(&ample, "continuity_mean"), m(&mesh, "continuity_mean"));
    assert!(ca > 0.97 && ca > cs && ca > cm + 0.05, "ample edge {ca}, small edge {cs}, mesh alone {cm}");
    assert!(m(&ample, "p2p_offload") < m(&mesh, "p2p_offload"), "the edge carries a share");
    assert!(m(&ample, "cdn_egress_peak_mbps") > 0.0 && m(&ample, "cdn_cost") > 0.0);
    assert_eq!(m(&mesh, "cdn_edge_gb"), 0.0);
}

/// Without `[cdn]` (and a family without an edge) no delivery metric is
/// reported and the population has no edge: existing results are unchanged.
#[test]
fn without_cdn_nothing_is_added() {
    let sc = scenario("mesh-pull", "");
    assert!(sc.cdn_spec().is_none() && !sc.has_edge());
    let r = run(&sc, &RunOptions { name: "cdn".into(), seed: 1 }, &mut |_, _| {});
    assert!(r.metrics.iter().all(|m| !m.name.starts_with("cdn_") && m.name != "p2p_offload"));
    let nodes = sim::churn::population(&sc, 1);
    assert!(nodes.iter().all(|n| n.role != NodeRole::Edge));
    let with = sim::churn::population(&scenario("cdn-p2p", ""), 1);
    assert_eq!(with[2].role, NodeRole::Edge);
    assert_eq!(with[2].up_bps, 1_000_000_000, "the default edge: 1 Gbps");
    assert_eq!(with.len(), nodes.len() + 1, "the same peers after the edge");
}
