//! Mesh-pull with each of the five chunk schedulers on one 100-peer scenario:
//! every rule must run to the end with decent continuity and conserve bytes.
//! Run with `--nocapture` to see the comparison table.

use std::sync::Arc;

use protocols::PeerId;
use protocols::mesh::{MeshConfig, MeshPeer};
use sim::engine::Protocol;
use sim::runner::{RunOptions, mesh_config, run_with};
use sim::scenario::Scenario;

/// Mesh-pull with an explicit configuration (the scheduler overridden).
struct Mesh {
    cfg: Arc<MeshConfig>,
}

impl Protocol for Mesh {
    type Peer = MeshPeer;
    fn name(&self) -> String {
        format!("mesh-pull/{}", self.cfg.scheduler.name())
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> MeshPeer {
        MeshPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> MeshPeer {
        MeshPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

const SCENARIO: &str = r#"
duration_s = 120
[stream]
rate_kbps = 500
[source]
up_kbps = 2000
[peers]
count = 100
join_window_s = 10
[[peers.classes]]
name = "dsl"
share = 0.5
up_kbps = 512
down_kbps = 4000
[[peers.classes]]
name = "cable"
share = 0.4
up_kbps = 1000
down_kbps = 10000
[[peers.classes]]
name = "fiber"
share = 0.1
up_kbps = 5000
down_kbps = 50000
[network.latency]
model = "constant"
ms = 40
"#;

#[test]
fn every_scheduler_streams_the_same_scenario() {
    let sc = Scenario::parse("t.toml", SCENARIO).expect("valid scenario");
    let opts = RunOptions { name: "schedulers".into(), seed: 1, threads: 1, draw: 0 };
    let get = |r: &analysis::Report, m: &str| r.get(m).unwrap_or(f64::NAN);
    println!(
        "{:<14} {:>10} {:>8} {:>8} {:>10} {:>9}",
        "scheduler", "continuity", "lag_p50", "startup", "duplicate", "ctrl_ovh"
    );
    let mut failures = Vec::new();
    for kind in protocols::sched::builtins() {
        let mut cfg = mesh_config(&sc);
        cfg.scheduler = kind.clone();
        let r = run_with(Mesh { cfg: Arc::new(cfg) }, &sc, &opts, &mut |_, _| {});
        let cont = get(&r, "continuity_pooled");
        println!(
            "{:<14} {:>10.4} {:>8.2} {:>8.2} {:>10.4} {:>9.4}",
            kind.name(),
            cont,
            get(&r, "lag_p50"),
            get(&r, "startup_delay_p50"),
            get(&r, "duplicate_ratio"),
            get(&r, "control_overhead"),
        );
        if cont.is_nan() || cont <= 0.5 {
            failures.push(format!("{}: continuity_pooled {cont}", kind.name()));
        }
        if !r.info.traffic.conserved() {
            failures.push(format!("{}: bytes not conserved {:?}", kind.name(), r.info.traffic));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
