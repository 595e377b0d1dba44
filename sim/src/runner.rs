//! Runs a scenario: builds the population, the network and the protocol, drives
//! the engine to the end and returns the [`analysis::Report`].

use analysis::{Report, RunInfo};
use protocols::Time;
use protocols::adversary::Defences;

use crate::churn;
use crate::engine::{Engine, Protocol};
pub use crate::families::{
    ClientServer, Hybrid, MeshPull, TreePush, cdn_config, hybrid_config, mesh_config, player_params, stream_params,
    tree_config,
};
use crate::latency::LatencyModel;
use crate::registry;
use crate::scenario::Scenario;

/// Options of one run that do not come from the scenario file.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub name: String,
    pub seed: u64,
    /// Threads of the run's engine ([`Engine::set_threads`]); outputs do not
    /// depend on it.
    pub threads: usize,
    /// Protocol draw ([`Engine::set_protocol_draw`]): 0 for the seed's own
    /// run; `k > 0` runs the same instance with other protocol randomness.
    pub draw: u64,
}

/// Runs `sc` to its end with its family from the installed registry
/// ([`registry::current`]). `progress` is called with the simulated time now and then.
///
/// # Panics
/// When the scenario's family is not registered: parse and run with the same registry.
pub fn run(sc: &Scenario, opts: &RunOptions, progress: &mut dyn FnMut(Time, Time)) -> Report {
    let reg = registry::current();
    match reg.find_family(&sc.protocol.name) {
        Some(f) => (f.run)(sc, opts, progress),
        None => panic!(
            "protocol `{}` is not in the installed registry ({}): parse and run with the same registry",
            sc.protocol.name,
            reg.family_names().join(", ")
        ),
    }
}

/// Schedules the scenario's timeline and bandwidth model on `engine`.
pub fn apply_dynamics<F: Protocol>(engine: &mut Engine<F>, sc: &Scenario) {
    for (at, c) in controls(sc) {
        engine.add_control(at, c);
    }
    if let Some(m) = modulation(sc) {
        engine.set_modulation(m);
    }
}

/// The scenario's timeline and bandwidth-trace actions, in the order the
/// engine is given them (`swarmlab validate` replays the same list).
pub fn controls(sc: &Scenario) -> Vec<(Time, crate::engine::Control)> {
    use crate::engine::Control;
    use crate::scenario::{BandwidthModel, TimelineEvent as E};
    let classes = churn::classes(sc);
    let mut out = Vec::new();
    for t in &sc.timeline {
        let at = Time::from_secs_f64(t.at_s.0);
        let c = match t.event {
            E::SourceDown => Control::Outage { node: 1, down: true },
            E::SourceUp => Control::Outage { node: 1, down: false },
            E::TrackerDown => Control::Outage { node: 0, down: true },
            E::TrackerUp => Control::Outage { node: 0, down: false },
            E::Partition => Control::Partition { fraction: Some(t.fraction.map_or(0.5, |f| f.0)) },
            E::Heal => Control::Partition { fraction: None },
            E::Bandwidth => Control::ClassBandwidth {
                class: t
                    .class
                    .as_ref()
                    .and_then(|c| classes.iter().position(|k| &k.name == c.get_ref()))
                    .map(|i| i as u16),
                factor: t.up_factor.map_or(0.5, |f| f.0),
            },
        };
        out.push((at, c));
        if let (E::Bandwidth, Some(d)) = (t.event, t.down_factor) {
            let class =
                t.class.as_ref().and_then(|c| classes.iter().position(|k| &k.name == c.get_ref())).map(|i| i as u16);
            out.push((at, Control::Download { class, node: None, factor: d.0 }));
        }
    }
    if sc.bandwidth.model == BandwidthModel::Trace {
        use crate::scenario::BandwidthTarget as T;
        for row in &sc.bandwidth.trace {
            let at = Time::from_secs_f64(row.t_s);
            let c = match row.target {
                T::AllPeers => Control::ClassBandwidth { class: None, factor: row.up_factor },
                T::Class(k) => Control::ClassBandwidth { class: Some(k as u16), factor: row.up_factor },
                T::Peer(node) => Control::PeerBandwidth { node, factor: row.up_factor },
            };
            out.push((at, c));
            if let Some(d) = row.down_factor {
                let (class, node) = match row.target {
                    T::AllPeers => (None, None),
                    T::Class(k) => (Some(k as u16), None),
                    T::Peer(n) => (None, Some(n)),
                };
                out.push((at, Control::Download { class, node, factor: d }));
            }
        }
    }
    out
}

/// The scenario's Markov bandwidth modulation, if any.
pub fn modulation(sc: &Scenario) -> Option<crate::engine::Modulation> {
    (sc.bandwidth.model == crate::scenario::BandwidthModel::Markov).then(|| crate::engine::Modulation {
        levels: sc.bandwidth.levels.as_ref().map_or(vec![1.0, 0.5], |l| l.get_ref().clone()),
        mean_hold: sc.bandwidth.mean_hold_s.map_or(Time::from_secs(30), |h| Time::from_secs_f64(h.0)),
    })
}

/// Whether a run of `sc` can use several threads: its smallest one-way
/// propagation delay is positive ([`Engine::parallel`]).
pub fn parallel_capable(sc: &Scenario) -> bool {
    let latency = LatencyModel::build(&sc.network.latency, sc.seed);
    crate::engine::smallest_delay(&latency, sc.edge_latency()) > Time::ZERO
}

/// Runs `sc` with an explicit protocol factory.
pub fn run_with<F: Protocol>(
    proto: F,
    sc: &Scenario,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Time, Time),
) -> Report {
    let end = Time::from_secs_f64(sc.duration_s.0);
    let mut engine = build_engine(proto, sc, opts.seed);
    engine.set_threads(opts.threads);
    engine.set_protocol_draw(opts.draw);
    let step = Time((end.0 / 200).max(1));
    let mut t = Time::ZERO;
    while t < end {
        t = (t + step).min(end);
        engine.run_until(t);
        progress(t, end);
    }
    finish_report(engine, sc, opts)
}

/// The engine of a run of `sc` with `proto` and `seed`, population, latency,
/// time buckets, timeline and bandwidth model in place, not yet started
/// (tests drive it with `run_until` and inspect nodes between steps).
pub fn build_engine<F: Protocol>(proto: F, sc: &Scenario, seed: u64) -> Engine<F> {
    let end = Time::from_secs_f64(sc.duration_s.0);
    let specs = churn::population(sc, seed);
    let latency = LatencyModel::build(&sc.network.latency, seed);
    let mut engine = Engine::new(proto, stream_params(sc), specs, latency, sc.network.loss.0, seed);
    // About 600 buckets per run, never narrower than one second.
    engine.set_time_bucket(Time((end.0 / 600).max(1_000_000_000)));
    apply_dynamics(&mut engine, sc);
    engine.set_defences(defences(sc));
    engine.set_control_interleave(sc.network.control_priority == crate::scenario::ControlPriority::Datagram);
    if let Some(l) = sc.edge_latency() {
        engine.set_edge_latency(l);
    }
    if let Some(isp) = &sc.isp {
        engine.set_isp(isp.locality.0);
    }
    engine
}

/// The defences of a scenario (`[defence]`; defaults from [`Defences::none`]).
pub fn defences(sc: &Scenario) -> Defences {
    let d = &sc.defence;
    let base = Defences::none(stream_params(sc));
    Defences {
        integrity: d.integrity,
        blacklist: d.blacklist,
        scoring: d.scoring,
        check_interval: d.check_interval_s.map_or(base.check_interval, |x| Time::from_secs_f64(x.0)),
        score_min_requests: d.score_min_requests.as_ref().map_or(base.score_min_requests, |x| *x.get_ref()),
        score_min_ratio: d.score_min_ratio.map_or(base.score_min_ratio, |x| x.0),
        ban: d.ban_s.map_or(base.ban, |x| Time::from_secs_f64(x.0)),
        stripes: registry::current().find_family(&sc.protocol.name).map_or(0, |f| (f.stripes)(sc)),
        stream: base.stream,
        window: mesh_config(sc).mesh.window,
    }
}

/// Ends a run built by [`build_engine`] (after `run_until(end)`) and computes its report.
pub fn finish_report<F: Protocol>(engine: Engine<F>, sc: &Scenario, opts: &RunOptions) -> Report {
    let min_propagation = engine.min_propagation();
    let name = engine.protocol().name();
    let events = engine.events();
    let (part_events, windows) = (engine.part_events(), engine.windows());
    let (collector, traffic) = engine.finish();
    let info = RunInfo {
        scenario: opts.name.clone(),
        protocol: name,
        seed: opts.seed,
        end: Time::from_secs_f64(sc.duration_s.0),
        source_up_bps: (sc.source.up_kbps.0 * 1000.0).round() as u64,
        class_names: churn::classes(sc).into_iter().map(|c| c.name).collect(),
        min_propagation,
        traffic,
        events,
        part_events,
        windows,
        timeline: sc
            .timeline
            .iter()
            .map(|t| {
                use crate::scenario::TimelineEvent as E;
                let restores = match t.event {
                    E::SourceUp | E::TrackerUp | E::Heal => true,
                    E::Bandwidth => t.up_factor.is_some_and(|f| f.0 >= 1.0),
                    E::SourceDown | E::TrackerDown | E::Partition => false,
                };
                (Time::from_secs_f64(t.at_s.0), restores)
            })
            .collect(),
        security: !sc.attack.is_empty() || sc.defence.any(),
        victim: sc.sybil_victim(),
        startup_timeout: Time::from_secs_f64(sc.player.startup_timeout_s.0),
        rebuffer: sc.player.on_miss == crate::scenario::OnMiss::Rebuffer,
        cdn: sc.cdn_spec().map(|c| analysis::report::CdnPricing { price_per_gb: c.price_per_gb.0 }),
        energy: sc.energy_model(),
        nat: sc.nat.is_some(),
        isp: sc.isp.is_some(),
    };
    analysis::report::build(collector, info)
}

/// The variants of `sc` (its `[[variants]]` applied, or `sc` alone when it
/// lists none) with their labels, and the jobs of a matrix run: `(variant
/// index, seed)` for seeds `seed .. seed + reps`, variant-major. Every driver
/// of a matrix (this module, the CLI's progress-showing one) uses this order.
#[allow(clippy::type_complexity)]
pub fn matrix_jobs(sc: &Scenario, seed: u64, reps: u32) -> (Vec<(Scenario, String)>, Vec<(usize, u64)>) {
    let variants: Vec<(Scenario, String)> = if sc.variants.is_empty() {
        vec![(sc.clone(), sc.variant_label())]
    } else {
        sc.variants.iter().map(|v| sc.with_variant(v)).collect()
    };
    let jobs = (0..variants.len()).flat_map(|v| (0..reps as u64).map(move |k| (v, seed.wrapping_add(k)))).collect();
    (variants, jobs)
}

/// Runs every `[[variants]]` entry of `sc` (or `sc` alone when it lists none)
/// with `reps` seeds each (`seed`, `seed + 1`, ...), on the same population,
/// network and seeds for every variant. Jobs run in parallel; results come back
/// grouped by variant in file order and by seed, whatever the thread count.
pub fn run_matrix(sc: &Scenario, name: &str, seed: u64, reps: u32) -> Vec<(String, Vec<Report>)> {
    use rayon::prelude::*;
    let (variants, jobs) = matrix_jobs(sc, seed, reps);
    let reports: Vec<Report> = jobs
        .par_iter()
        .map(|&(v, s)| {
            run(&variants[v].0, &RunOptions { name: name.to_string(), seed: s, threads: 1, draw: 0 }, &mut |_, _| {})
        })
        .collect();
    let mut it = reports.into_iter();
    variants.into_iter().map(|(_, label)| (label, it.by_ref().take(reps as usize).collect())).collect()
}
