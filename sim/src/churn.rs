//! Who joins when, with which bandwidth, and for how long.
//!
//! [`population`] turns a scenario into the full list of [`NodeSpec`]s before
//! the run starts: node 0 the tracker, node 1 the source, then the initial
//! peers (joining uniformly over the join window) and the Poisson arrivals,
//! in order of joining. Classes are drawn by share; session lengths are
//! exponential. All draws come from the churn stream of the run seed.

use analysis::NodeRole;
use protocols::Time;
use protocols::adversary::Behaviour;
use rand::RngExt;

use crate::engine::NodeSpec;
use crate::rngs::{self, Stream};
use crate::scenario::{ChurnModel, FlashShape, Scenario};

/// A bandwidth class after defaults are applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Class {
    pub name: String,
    pub share: f64,
    pub up_bps: u64,
    pub down_bps: u64,
}

/// The scenario's classes, or the default single class (1000 kbps up, 8000 down).
pub fn classes(sc: &Scenario) -> Vec<Class> {
    match &sc.peers.classes {
        None => vec![Class { name: "default".into(), share: 1.0, up_bps: 1_000_000, down_bps: 8_000_000 }],
        Some(cs) => cs
            .get_ref()
            .iter()
            .enumerate()
            .map(|(i, c)| Class {
                name: c.name.clone().unwrap_or_else(|| format!("class{i}")),
                share: c.share.0,
                up_bps: (c.up_kbps.0 * 1000.0).round() as u64,
                down_bps: (c.down_kbps.0 * 1000.0).round() as u64,
            })
            .collect(),
    }
}

fn pick_class(classes: &[Class], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, c) in classes.iter().enumerate() {
        acc += c.share;
        if u < acc {
            return i;
        }
    }
    classes.len() - 1
}

/// Exponential draw with the given mean (seconds), via inversion; `libm`'s
/// `log`, so the same on every platform (`sim::dist`).
pub fn exponential(rng: &mut impl rand::Rng, mean_s: f64) -> f64 {
    let u: f64 = rng.random::<f64>();
    -mean_s * libm::log(1.0 - u)
}

/// Every node of the run, in join order (tracker, source, peers).
pub fn population(sc: &Scenario, seed: u64) -> Vec<NodeSpec> {
    let end = Time::from_secs_f64(sc.duration_s.0);
    let classes = classes(sc);
    let mut rng = rngs::rng(seed, Stream::Churn, 0);
    let big = (sc.tracker.up_kbps.0 * 1000.0) as u64;
    let mut nodes = vec![
        NodeSpec {
            role: NodeRole::Tracker,
            class: 0,
            up_bps: big,
            down_bps: big,
            join: Time::ZERO,
            leave: None,
            behaviour: Behaviour::Honest,
            nat: false,
        },
        NodeSpec {
            role: NodeRole::Source,
            class: 0,
            up_bps: (sc.source.up_kbps.0 * 1000.0).round() as u64,
            down_bps: (sc.source.down_kbps.0 * 1000.0).round() as u64,
            join: Time::ZERO,
            leave: None,
            behaviour: Behaviour::Honest,
            nat: false,
        },
    ];
    if let Some(cdn) = sc.cdn_spec().filter(|_| sc.has_edge()) {
        nodes.push(NodeSpec {
            role: NodeRole::Edge,
            class: 0,
            up_bps: (cdn.edge_up_kbps.0 * 1000.0).round() as u64,
            down_bps: (cdn.edge_down_kbps.0 * 1000.0).round() as u64,
            join: Time::ZERO,
            leave: None,
            behaviour: Behaviour::Honest,
            nat: false,
        });
    }
    // Departures are drawn for every model but `none`; trace rows carry their own.
    let churn = sc.churn.model != ChurnModel::None;
    let session = sc.churn.session_dist();
    let peer = |rng: &mut rand_chacha::ChaCha8Rng, join: Time, may_leave: bool| {
        let c = pick_class(&classes, rng.random::<f64>());
        let length = session.sample(rng);
        let graceful = rng.random::<f64>() < sc.churn.graceful_share.0;
        let leave = (churn && may_leave).then(|| (join + Time::from_secs_f64(length), graceful)).filter(|l| l.0 < end);
        NodeSpec {
            role: NodeRole::Peer,
            class: c as u16,
            up_bps: classes[c].up_bps,
            down_bps: classes[c].down_bps,
            join,
            leave,
            behaviour: Behaviour::Honest,
            nat: false,
        }
    };
    let window = sc.peers.join_window_s.0;
    let mut initial: Vec<NodeSpec> = (0..*sc.peers.count.get_ref())
        .map(|_| {
            let at = Time::from_secs_f64(rng.random::<f64>() * window);
            peer(&mut rng, at, sc.churn.initial_peers_leave)
        })
        .collect();
    let mut arrivals = Vec::new();
    if sc.churn.model == ChurnModel::Poisson && sc.churn.arrival_rate_per_s.0 > 0.0 {
        let mean_gap = 1.0 / sc.churn.arrival_rate_per_s.0;
        let mut t = 0.0;
        loop {
            t += exponential(&mut rng, mean_gap);
            let at = Time::from_secs_f64(t);
            if at >= end {
                break;
            }
            arrivals.push(peer(&mut rng, at, true));
        }
    }
    for f in &sc.churn.flash {
        for _ in 0..*f.peers.get_ref() {
            let offset = match f.shape {
                FlashShape::Step => 0.0,
                FlashShape::Uniform => rng.random::<f64>() * f.duration_s.0,
                FlashShape::Exponential => exponential(&mut rng, f.duration_s.0 / 3.0),
            };
            let at = Time::from_secs_f64(f.at_s.0 + offset);
            let p = peer(&mut rng, at, true);
            if at < end {
                arrivals.push(p);
            }
        }
    }
    for row in &sc.churn.trace {
        let join = Time::from_secs_f64(row.join_s);
        let mut p = peer(&mut rng, join, false);
        if let Some(c) = row.class {
            p.class = c as u16;
            p.up_bps = classes[c].up_bps;
            p.down_bps = classes[c].down_bps;
        }
        let graceful = p.leave.map_or(rng.random::<f64>() < sc.churn.graceful_share.0, |l| l.1);
        p.leave = row.leave_s.map(|l| (Time::from_secs_f64(l), graceful)).filter(|l| l.0 < end);
        if join < end {
            arrivals.push(p);
        }
    }
    initial.append(&mut arrivals);
    // Stable sort: equal join instants keep draw order, so ids are reproducible.
    initial.sort_by_key(|n| n.join);
    nodes.extend(initial);
    assign_attacks(sc, seed, &mut nodes);
    assign_nat(sc, seed, &classes, &mut nodes);
    nodes
}

/// Marks peers behind a NAT (`[nat]`): each peer independently with its
/// class's share, from a hash of its id on the NAT stream of the run seed
/// (so no other draw moves).
fn assign_nat(sc: &Scenario, seed: u64, classes: &[Class], nodes: &mut [NodeSpec]) {
    let Some(nat) = &sc.nat else { return };
    let share: Vec<f64> = classes
        .iter()
        .map(|c| nat.classes.iter().rev().find(|k| k.class.get_ref() == &c.name).map_or(nat.share.0, |k| k.share.0))
        .collect();
    for (i, n) in nodes.iter_mut().enumerate().filter(|(_, n)| n.role == NodeRole::Peer) {
        let s = share.get(n.class as usize).copied().unwrap_or(nat.share.0);
        n.nat = rngs::unit(seed, Stream::Nat, i as u64, 0) < s;
    }
}

/// Gives each `[[attack]]` group its peers: a uniformly random set of the
/// run's peers (the Sybil victim excepted) of size `count`, or `share` x peers
/// rounded, drawn from the adversary stream of the run seed.
fn assign_attacks(sc: &Scenario, seed: u64, nodes: &mut [NodeSpec]) {
    use crate::scenario::AttackKind as K;
    if sc.attack.is_empty() {
        return;
    }
    let victim = sc.sybil_victim();
    let mut ids: Vec<usize> =
        (2..nodes.len()).filter(|&i| nodes[i].role == NodeRole::Peer && Some(i as u32) != victim).collect();
    let mut rng = rngs::rng(seed, Stream::Adversary, 0);
    for k in 0..ids.len() {
        let j = rng.random_range(k..ids.len());
        ids.swap(k, j);
    }
    let peers = nodes.iter().filter(|n| n.role == NodeRole::Peer).count() as f64;
    let mut next = ids.into_iter();
    for a in &sc.attack {
        let n = match (&a.count, a.share) {
            (Some(c), _) => *c.get_ref() as usize,
            (None, Some(f)) => (f.0 * peers).round() as usize,
            (None, None) => 0,
        };
        let b = match a.kind {
            K::Polluter => Behaviour::Polluter {
                on: a.on_s.map_or(Time::ZERO, |x| Time::from_secs_f64(x.0)),
                off: a.off_s.map_or(Time::ZERO, |x| Time::from_secs_f64(x.0)),
            },
            K::FreeRider => Behaviour::FreeRider,
            K::MapLiar => Behaviour::MapLiar,
            K::Withholder => Behaviour::Withholder,
            K::Sybil => Behaviour::Sybil { victim: protocols::PeerId(victim.unwrap_or(2)) },
            K::CapacityLiar => Behaviour::CapacityLiar { factor: a.factor.as_ref().map_or(10, |f| *f.get_ref()) },
            K::Forger => Behaviour::Forger,
        };
        for i in next.by_ref().take(n) {
            nodes[i].behaviour = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(src: &str) -> Scenario {
        Scenario::parse("t.toml", src).unwrap()
    }

    #[test]
    fn poisson_arrivals_and_exponential_sessions_match_their_means() {
        let s = sc(
            "duration_s = 20000\n[peers]\ncount = 1\n[churn]\nmodel = \"poisson\"\narrival_rate_per_s = 0.5\nsession_mean_s = 100\n",
        );
        let nodes = population(&s, 3);
        let arrivals = nodes.len() - 3;
        // Expected 10,000 arrivals; sd = 100.
        assert!((9_600..=10_400).contains(&arrivals), "{arrivals}");
        let sessions: Vec<f64> = nodes[2..]
            .iter()
            .filter(|n| n.join < Time::from_secs(10_000))
            .map(|n| {
                n.leave.expect("sessions of 100 s end long before 20,000 s").0.as_secs_f64() - n.join.as_secs_f64()
            })
            .collect();
        let mean = sessions.iter().sum::<f64>() / sessions.len() as f64;
        assert!((mean - 100.0).abs() < 5.0, "{mean}");
        let mut sorted = sessions.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        // Exponential median = mean x ln 2.
        assert!((median - 69.3).abs() < 5.0, "{median}");
        assert!(nodes.windows(2).all(|w| w[0].join <= w[1].join));
    }

    #[test]
    fn flash_crowds_arrive_in_their_window_with_their_shape() {
        let s = sc("duration_s = 100\n[peers]\ncount = 1\n\
                    [[churn.flash]]\nat_s = 20\npeers = 3000\nduration_s = 30\n\
                    [[churn.flash]]\nat_s = 60\npeers = 500\nshape = \"step\"\n\
                    [[churn.flash]]\nat_s = 70\npeers = 3000\nshape = \"exponential\"\nduration_s = 15\n");
        let nodes = population(&s, 2);
        let joins: Vec<f64> = nodes[3..].iter().map(|n| n.join.as_secs_f64()).collect();
        let uniform: Vec<f64> = joins.iter().copied().filter(|&t| (20.0..50.0).contains(&t)).collect();
        assert_eq!(uniform.len(), 3000, "uniform burst stays in [20, 50)");
        let mean = uniform.iter().sum::<f64>() / 3000.0;
        assert!((mean - 35.0).abs() < 0.6, "uniform burst mean {mean}");
        assert_eq!(joins.iter().filter(|&&t| t == 60.0).count(), 500, "step burst at 60 s");
        let exp: Vec<f64> = joins.iter().copied().filter(|&t| t >= 70.0).map(|t| t - 70.0).collect();
        // Exponential with mean 5 s, truncated at the 30 s left in the run (P(>30) = e^-6).
        let mean = exp.iter().sum::<f64>() / exp.len() as f64;
        assert!((mean - 5.0).abs() < 0.3, "exponential burst mean offset {mean}");
        assert!(nodes.iter().all(|n| n.leave.is_none()), "churn model none: flash peers stay");
    }

    #[test]
    fn trace_rows_become_joins_and_leaves_and_bad_lines_are_named() {
        let dir = std::env::temp_dir().join(format!("swarmlab-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scen = dir.join("t.toml");
        std::fs::write(
            &scen,
            "duration_s = 100\n[peers]\ncount = 0\n[[peers.classes]]\nname = \"a\"\nshare = 0.5\nup_kbps = 1\ndown_kbps = 1\n\
             [[peers.classes]]\nname = \"b\"\nshare = 0.5\nup_kbps = 2\ndown_kbps = 1\n\
             [churn]\nmodel = \"trace\"\ntrace_file = \"trace.csv\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("trace.csv"), "join_s,leave_s,class\n1.5,10,b\n# comment\n3,,a\n200,300\n").unwrap();
        let (s, _) = Scenario::load(&scen).expect("valid trace");
        let nodes = population(&s, 1);
        assert_eq!(nodes.len(), 4, "two trace peers join before the end");
        assert_eq!((nodes[2].join, nodes[2].class), (Time::from_millis(1500), 1));
        assert_eq!(nodes[2].leave.map(|l| l.0), Some(Time::from_secs(10)));
        assert_eq!((nodes[3].class, nodes[3].leave), (0, None));
        std::fs::write(dir.join("trace.csv"), "join_s,leave_s,class\n1,2,a\n5,oops,a\n").unwrap();
        let e = Scenario::load(&scen).unwrap_err();
        assert!(e.to_string().contains("line 3") && e.to_string().contains("oops"), "{e}");
        std::fs::write(dir.join("trace.csv"), "join_s,leave_s,class\n1,2,zzz\n").unwrap();
        assert!(Scenario::load(&scen).unwrap_err().to_string().contains("unknown class `zzz`"));
        std::fs::remove_file(dir.join("trace.csv")).unwrap();
        let e = Scenario::load(&scen).unwrap_err();
        assert!(e.to_string().contains("cannot read the trace file"), "{e}");
        assert_eq!(e.key.as_deref(), Some("churn.trace_file"));
    }

    #[test]
    fn classes_follow_their_shares() {
        let s = sc(
            "[peers]\ncount = 10000\n[[peers.classes]]\nshare = 0.2\nup_kbps = 1\ndown_kbps = 1\n[[peers.classes]]\nshare = 0.8\nup_kbps = 2\ndown_kbps = 1\n",
        );
        let nodes = population(&s, 1);
        let first = nodes[2..].iter().filter(|n| n.class == 0).count();
        assert!((1_850..=2_150).contains(&first), "{first}");
        assert!(nodes[2..].iter().all(|n| n.leave.is_none()), "no churn model: nobody leaves");
    }

    /// The population of a Poisson-churn scenario, join and leave times to
    /// the nanosecond: drawn with `libm`'s `log` only, so the same on every
    /// platform; a platform `ln` that rounds differently would move them.
    #[test]
    fn poisson_population_is_pinned() {
        let s = sc(
            "duration_s = 100\n[peers]\ncount = 1\n[churn]\nmodel = \"poisson\"\narrival_rate_per_s = 1\nsession_mean_s = 30\n",
        );
        let nodes = population(&s, 5);
        let got: Vec<(u64, Option<u64>)> =
            nodes[2..6].iter().map(|n| (n.join.as_nanos(), n.leave.map(|t| t.0.as_nanos()))).collect();
        assert_eq!(
            got,
            [
                (1327942712, Some(34347798685)),
                (3159308563, Some(23382976779)),
                (3196551506, Some(5613532319)),
                (3588212615, Some(29492685023))
            ],
            "{got:?}"
        );
    }
}
