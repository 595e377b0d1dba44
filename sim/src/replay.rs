//! What a real swarm must replay of a scenario, node by node (`swarmlab
//! validate`): each node's access-link rates over time (timeline bandwidth
//! events, bandwidth traces, Markov modulation) and, over time, the set of
//! nodes it is cut off from (outages, partitions), and its one-way delay to
//! every node (the latency model's, or the CDN edge's).
//!
//! The engine ([`crate::engine`]) applies the same rules as it runs; this
//! module computes them up front from the scenario, the population and the
//! seed alone, with the engine's arithmetic (`round(nominal x class factor x
//! Markov level x node factor)`, the Markov draws of `rngs::Stream::Bandwidth`,
//! the partition sides of `rngs::Stream::Partition`). A test runs the engine
//! and checks every change against it.

use std::collections::BTreeMap;

use analysis::NodeRole;
use protocols::Time;

use crate::engine::{Control, NodeSpec, set_class_factor};
use crate::rngs::{self, Stream};
use crate::runner;
use crate::scenario::Scenario;

/// Rate changes of one node: (time, upload bps, download bps), the first at
/// its join time; only changes are listed.
pub type RateSchedule = Vec<(Time, u64, u64)>;

/// Every node's rate schedule until `end` (or its departure).
pub fn rates(sc: &Scenario, specs: &[NodeSpec], seed: u64) -> Vec<RateSchedule> {
    let end = Time::from_secs_f64(sc.duration_s.0);
    let controls = runner::controls(sc);
    let modulation = runner::modulation(sc);
    let classes = specs.iter().map(|s| s.class as usize + 1).max().unwrap_or(1);
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let stop = s.leave.map_or(end, |(at, _)| at.min(end));
            if s.role != NodeRole::Peer {
                return vec![(s.join, s.up_bps, s.down_bps)];
            }
            // Markov levels: (time, level index) from the join on.
            let mut levels: Vec<(Time, usize)> = Vec::new();
            if let Some(m) = modulation.as_ref().filter(|m| !m.levels.is_empty()) {
                let n = m.levels.len();
                let u = rngs::unit(seed, Stream::Bandwidth, i as u64, 0);
                let mut level = ((u * n as f64) as usize).min(n - 1);
                levels.push((s.join, level));
                if n > 1 {
                    let mut draws = 0u64;
                    let mut now = s.join;
                    loop {
                        draws += 1;
                        let u = rngs::unit(seed, Stream::Bandwidth, i as u64, draws);
                        let hold = Time::from_secs_f64(-m.mean_hold.as_secs_f64() * libm::log(1.0 - u));
                        now += hold.max(Time(1));
                        if now >= stop {
                            break;
                        }
                        draws += 1;
                        let u = rngs::unit(seed, Stream::Bandwidth, i as u64, draws);
                        let next = (u * (n - 1) as f64) as usize % (n - 1);
                        level = if next >= level { next + 1 } else { next };
                        levels.push((now, level));
                    }
                }
            }
            let level_factor = |k: usize| modulation.as_ref().and_then(|m| m.levels.get(k)).copied().unwrap_or(1.0);
            // Walk the controls and level changes in time order (controls first at equal times).
            let mut class_up = vec![1.0; classes];
            let mut class_down = vec![1.0; classes];
            let mut node_up: BTreeMap<u32, f64> = BTreeMap::new();
            let mut node_down: BTreeMap<u32, f64> = BTreeMap::new();
            let mut level = levels.first().map_or(0, |l| l.1);
            let mut out: RateSchedule = Vec::new();
            let rate = |class_up: &[f64], class_down: &[f64], nu: &BTreeMap<u32, f64>, nd: &BTreeMap<u32, f64>, l| {
                let c = s.class as usize;
                let up = class_up.get(c).copied().unwrap_or(1.0)
                    * level_factor(l)
                    * nu.get(&(i as u32)).copied().unwrap_or(1.0);
                let down = class_down.get(c).copied().unwrap_or(1.0) * nd.get(&(i as u32)).copied().unwrap_or(1.0);
                ((s.up_bps as f64 * up).round() as u64, (s.down_bps as f64 * down).round() as u64)
            };
            // Controls (kind 0) and level changes (kind 1) in time order; those
            // up to the join set the initial rates.
            let mut acts: Vec<(Time, u8, usize)> = controls.iter().enumerate().map(|(k, (t, _))| (*t, 0, k)).collect();
            acts.extend(levels.iter().enumerate().skip(1).map(|(k, (t, _))| (*t, 1, k)));
            acts.sort();
            let mut pushed = false;
            for (t, kind, k) in acts {
                if t > s.join && !pushed {
                    let (up, down) = rate(&class_up, &class_down, &node_up, &node_down, level);
                    out.push((s.join, up, down));
                    pushed = true;
                }
                if t >= stop {
                    break;
                }
                if kind == 1 {
                    level = levels[k].1;
                } else {
                    match &controls[k].1 {
                        Control::ClassBandwidth { class, factor } => {
                            set_class_factor(&mut class_up, classes, *class, *factor)
                        }
                        Control::PeerBandwidth { node, factor } => {
                            node_up.insert(*node, *factor);
                        }
                        Control::Download { node: Some(n), factor, .. } => {
                            node_down.insert(*n, *factor);
                        }
                        Control::Download { class, node: None, factor } => {
                            set_class_factor(&mut class_down, classes, *class, *factor)
                        }
                        Control::Outage { .. } | Control::Partition { .. } => {}
                    }
                }
                if pushed {
                    let (up, down) = rate(&class_up, &class_down, &node_up, &node_down, level);
                    // Changes at one instant are one change.
                    if out.len() > 1 && out.last().is_some_and(|l| l.0 == t) {
                        out.pop();
                    }
                    if out.last().is_none_or(|&(_, u, d)| (u, d) != (up, down)) {
                        out.push((t, up, down));
                    }
                }
            }
            if !pushed {
                let (up, down) = rate(&class_up, &class_down, &node_up, &node_down, level);
                out.push((s.join, up, down));
            }
            out
        })
        .collect()
}

/// Node `me`'s one-way propagation delay to every node of `specs`, by the
/// engine's own rule ([`crate::engine::propagation`]): the CDN edge's delay (`[cdn] edge_latency_ms`) on every pair
/// with the edge, the latency model's (placed over the whole population) on
/// the others.
pub fn pair_delays(sc: &Scenario, specs: &[NodeSpec], seed: u64, me: u32) -> Vec<Time> {
    let mut latency = crate::latency::LatencyModel::build(&sc.network.latency, seed);
    latency.place(specs.len() as u32);
    let edge = crate::engine::edge_link(specs, sc.edge_latency());
    (0..specs.len() as u32).map(|j| crate::engine::propagation(&latency, edge, me, j)).collect()
}

/// Over time, which nodes node `me` cannot hear from (`v[j]`: a message from
/// `j` to `me` is lost on arrival): the engine's `severed(j, me)` after
/// each outage or partition change. Empty when the scenario has none.
pub fn severed(sc: &Scenario, specs: &[NodeSpec], seed: u64, me: usize) -> Vec<(Time, Vec<bool>)> {
    let mut cut = vec![false; specs.len()];
    let mut partition: Option<f64> = None;
    let mut out = Vec::new();
    let side =
        |i: usize, f: f64| specs[i].role == NodeRole::Peer && rngs::unit(seed, Stream::Partition, i as u64, 0) < f;
    for (at, c) in runner::controls(sc) {
        match c {
            Control::Outage { node, down } => {
                if let Some(x) = cut.get_mut(node as usize) {
                    *x = down;
                }
            }
            Control::Partition { fraction } => partition = fraction,
            _ => continue,
        }
        let v = (0..specs.len())
            .map(|j| j != me && (cut[j] || cut[me] || partition.is_some_and(|f| side(j, f) != side(me, f))))
            .collect();
        out.push((at, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::churn;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "duration_s = 60\n[peers]\ncount = 12\njoin_window_s = 5\n\
             [[peers.classes]]\nname = \"a\"\nshare = 0.5\nup_kbps = 500\ndown_kbps = 4000\n\
             [[peers.classes]]\nname = \"b\"\nshare = 0.5\nup_kbps = 1000\ndown_kbps = 8000\n{extra}"
        );
        Scenario::parse("t.toml", &text).expect("valid scenario")
    }

    #[test]
    fn without_dynamics_every_node_keeps_its_class_rates() {
        let sc = scenario("");
        let specs = churn::population(&sc, 3);
        let r = rates(&sc, &specs, 3);
        for (s, sched) in specs.iter().zip(&r) {
            assert_eq!(sched, &vec![(s.join, s.up_bps, s.down_bps)]);
        }
        assert!(severed(&sc, &specs, 3, 2).is_empty());
    }

    #[test]
    fn timeline_bandwidth_and_markov_levels_follow_the_engine_rules() {
        let sc = scenario(
            "[[timeline]]\nat_s = 20\nevent = \"bandwidth\"\nclass = \"a\"\nup_factor = 0.25\ndown_factor = 0.5\n\
             [[timeline]]\nat_s = 40\nevent = \"bandwidth\"\nclass = \"a\"\nup_factor = 1\ndown_factor = 1\n\
             [bandwidth]\nmodel = \"markov\"\nlevels = [1.0, 0.5, 0.2]\nmean_hold_s = 10\n",
        );
        let specs = churn::population(&sc, 5);
        let r = rates(&sc, &specs, 5);
        let levels = [1.0, 0.5, 0.2];
        for (i, (s, sched)) in specs.iter().zip(&r).enumerate() {
            if s.role != NodeRole::Peer {
                continue;
            }
            assert_eq!(sched[0].0, s.join);
            // Every rate is nominal x level (x 0.25 for class a between 20 and 40 s).
            for &(t, up, down) in sched {
                let tl = if s.class == 0 && t >= Time::from_secs(20) && t < Time::from_secs(40) { 0.25 } else { 1.0 };
                let ok = levels.iter().any(|l| up == (s.up_bps as f64 * tl * l).round() as u64);
                assert!(ok, "node {i}: {up} at {t:?}");
                let d = if tl < 1.0 { 0.5 } else { 1.0 };
                assert_eq!(down, (s.down_bps as f64 * d).round() as u64, "node {i} at {t:?}: {sched:?}");
            }
            assert!(sched.windows(2).all(|w| w[0].0 <= w[1].0));
        }
        // Roughly 60 s / 10 s hold changes per peer.
        let changes: usize = r.iter().map(|s| s.len() - 1).sum();
        assert!(changes > 20, "{changes}");
    }

    #[test]
    fn outages_and_partitions_cut_the_right_pairs() {
        let sc = scenario(
            "[[timeline]]\nat_s = 10\nevent = \"source-down\"\n[[timeline]]\nat_s = 20\nevent = \"source-up\"\n\
             [[timeline]]\nat_s = 30\nevent = \"partition\"\nfraction = 0.5\n[[timeline]]\nat_s = 50\nevent = \"heal\"\n",
        );
        let specs = churn::population(&sc, 1);
        let s = severed(&sc, &specs, 1, 5);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].0, Time::from_secs(10));
        assert!(s[0].1[1] && !s[0].1[0] && !s[0].1[5]);
        assert!(s[1].1.iter().all(|x| !x));
        let side = |i: usize| rngs::unit(1, Stream::Partition, i as u64, 0) < 0.5;
        for j in 2..specs.len() {
            assert_eq!(s[2].1[j], j != 5 && side(j) != side(5), "{j}");
        }
        // Tracker and source are on the un-cut side.
        assert_eq!(s[2].1[0], side(5));
        assert!(s[3].1.iter().all(|x| !x));
        // The source, while down, hears from nobody.
        let src = severed(&sc, &specs, 1, 1);
        assert!(src[0].1.iter().enumerate().all(|(j, &x)| x == (j != 1)));
    }
}
