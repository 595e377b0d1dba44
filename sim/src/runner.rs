//! Runs a scenario: builds the population, the network and the protocol, drives
//! the engine to the end and returns the [`analysis::Report`].

use std::sync::Arc;

use analysis::{Report, RunInfo};
use protocols::adversary::Defences;
use protocols::cdn::{CdnConfig, CdnPeer};
use protocols::hybrid::{HybridConfig, HybridPeer};
use protocols::mesh::{MeshConfig, MeshParams, MeshPeer};
use protocols::playback::PlayerParams;
use protocols::tree::{TreeConfig, TreePeer};
use protocols::{PeerId, StreamParams, Time};

use crate::churn;
use crate::engine::{Engine, Protocol};
use crate::latency::LatencyModel;
use crate::scenario::{ChurnModel, ProtocolName, Scenario};

/// Mesh-pull as an engine protocol.
pub struct MeshPull {
    cfg: Arc<MeshConfig>,
}

impl Protocol for MeshPull {
    type Peer = MeshPeer;
    fn name(&self) -> String {
        "mesh-pull".into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> MeshPeer {
        MeshPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> MeshPeer {
        MeshPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

/// The client-server baseline as an engine protocol.
pub struct ClientServer {
    cfg: Arc<CdnConfig>,
}

impl Protocol for ClientServer {
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

/// Tree-push (single tree, or SplitStream multi-tree with `stripes > 1`) as an engine protocol.
pub struct TreePush {
    pub cfg: Arc<TreeConfig>,
}

impl Protocol for TreePush {
    type Peer = TreePeer;
    fn name(&self) -> String {
        "tree-push".into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> TreePeer {
        TreePeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> TreePeer {
        TreePeer::new(self.cfg.clone(), false, up_kbps)
    }
}

/// Tree-push configuration of a scenario (`[protocol.tree]`, defaults from
/// [`protocols::tree::TreeParams::default`]; the player as for every protocol).
pub fn tree_config(sc: &Scenario) -> TreeConfig {
    let m = mesh_config(sc);
    TreeConfig { stream: m.stream, player: m.player, tree: sc.protocol.tree.params(), tracker: PeerId(0) }
}

/// Hybrid tree/mesh (mTreebone treebone, or GridMedia / Coolstreaming+
/// pull-push) as an engine protocol.
pub struct Hybrid {
    pub cfg: Arc<HybridConfig>,
}

impl Protocol for Hybrid {
    type Peer = HybridPeer;
    fn name(&self) -> String {
        "hybrid".into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> HybridPeer {
        HybridPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> HybridPeer {
        HybridPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

/// Hybrid configuration of a scenario: `[protocol.hybrid]` (defaults from
/// [`protocols::hybrid::HybridParams::default`]), the mesh of `[protocol.mesh]`
/// with mTreebone's 0.5 s buffer maps unless `buffer_map_interval_s` is set,
/// the timers of `[protocol.tree]`, the scenario's scheduler and player. The
/// expected session is `expected_session_s`, else the mean session of the
/// churn model (Poisson: `session_mean_s`; trace: the mean of the sessions
/// that end), else 300 s.
pub fn hybrid_config(sc: &Scenario) -> HybridConfig {
    let m = mesh_config(sc);
    let mut mesh = m.mesh.clone();
    if sc.protocol.mesh.buffer_map_interval_s.is_none() {
        mesh.buffer_map_interval = Time::from_millis(500);
    }
    let hy = &sc.protocol.hybrid;
    let expected_session = match (hy.expected_session_s, sc.churn.model) {
        (Some(s), _) => Time::from_secs_f64(s.0),
        (None, ChurnModel::Poisson) => Time::from_secs_f64(sc.churn.session_mean_s.0),
        (None, ChurnModel::Trace) => {
            let ended: Vec<f64> =
                sc.churn.trace.iter().filter_map(|r| r.leave_s.map(|l| (l - r.join_s).max(0.0))).collect();
            if ended.is_empty() {
                HybridConfig::DEFAULT_SESSION
            } else {
                Time::from_secs_f64(ended.iter().sum::<f64>() / ended.len() as f64)
            }
        }
        (None, ChurnModel::None) => HybridConfig::DEFAULT_SESSION,
    };
    HybridConfig {
        stream: m.stream,
        player: m.player,
        mesh,
        tree: sc.protocol.tree.params(),
        hybrid: hy.params(),
        scheduler: m.scheduler,
        tracker: PeerId(0),
        expected_session,
    }
}

/// Client-server configuration of a scenario.
pub fn cdn_config(sc: &Scenario) -> CdnConfig {
    CdnConfig::new(stream_params(sc), mesh_config(sc).player, PeerId(0), PeerId(1))
}

/// Stream parameters of a scenario.
pub fn stream_params(sc: &Scenario) -> StreamParams {
    StreamParams {
        rate_bps: (sc.stream.rate_kbps.0 * 1000.0).round() as u64,
        chunk_duration: Time::from_secs_f64(sc.stream.chunk_s.0),
    }
}

/// Mesh configuration of a scenario (defaults from [`MeshParams::default`]).
pub fn mesh_config(sc: &Scenario) -> MeshConfig {
    let d = MeshParams::default();
    let m = &sc.protocol.mesh;
    let u = |v: &Option<toml::Spanned<u32>>, d: usize| v.as_ref().map_or(d, |x| *x.get_ref() as usize);
    let t = |v: Option<crate::scenario::Positive>, d: Time| v.map_or(d, |x| Time::from_secs_f64(x.0));
    let partners = u(&m.partners, d.partners);
    let mesh = MeshParams {
        partners,
        partners_max: u(&m.partners_max, d.partners_max.max(partners)),
        window: u(&m.window, d.window as usize) as u16,
        buffer_map_interval: t(m.buffer_map_interval_s, d.buffer_map_interval),
        schedule_interval: t(m.schedule_interval_s, d.schedule_interval),
        gossip_interval: t(m.gossip_interval_s, d.gossip_interval),
        refresh_interval: t(m.refresh_interval_s, d.refresh_interval),
        mcache_size: u(&m.mcache_size, d.mcache_size),
        partner_timeout: t(m.partner_timeout_s, d.partner_timeout),
        // Switching the defence off: requests wait as long as their partner stays.
        request_timeout: if sc.defence.request_timeout {
            t(m.request_timeout_s, d.request_timeout)
        } else {
            Time(u64::MAX / 4)
        },
        underperform_ratio: m.underperform_ratio.map_or(d.underperform_ratio, |x| x.0),
        max_upload_backlog: t(m.max_upload_backlog_s, d.max_upload_backlog),
        urgent_window: d.urgent_window,
        tracker_list_size: d.tracker_list_size,
        tracker_refresh: d.tracker_refresh,
    };
    let stream = stream_params(sc);
    let startup_chunks = (sc.player.startup_s.0 / sc.stream.chunk_s.0).ceil().max(1.0) as u32;
    MeshConfig {
        stream,
        player: PlayerParams { startup_chunks, startup_timeout: Time::from_secs_f64(sc.player.startup_timeout_s.0) },
        mesh,
        scheduler: protocols::sched::builtin(sc.protocol.scheduler.as_str()).expect("a built-in scheduler"),
        tracker: PeerId(0),
    }
}

/// Options of one run that do not come from the scenario file.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub name: String,
    pub seed: u64,
}

/// Runs `sc` to its end. `progress` is called with the simulated time now and then.
pub fn run(sc: &Scenario, opts: &RunOptions, progress: &mut dyn FnMut(Time, Time)) -> Report {
    match sc.protocol.name {
        ProtocolName::MeshPull => {
            let proto = MeshPull { cfg: Arc::new(mesh_config(sc)) };
            run_with(proto, sc, opts, progress)
        }
        ProtocolName::ClientServer => {
            let proto = ClientServer { cfg: Arc::new(cdn_config(sc)) };
            run_with(proto, sc, opts, progress)
        }
        ProtocolName::TreePush => {
            let proto = TreePush { cfg: Arc::new(tree_config(sc)) };
            run_with(proto, sc, opts, progress)
        }
        ProtocolName::Hybrid => {
            let proto = Hybrid { cfg: Arc::new(hybrid_config(sc)) };
            run_with(proto, sc, opts, progress)
        }
    }
}

/// Schedules the scenario's timeline and bandwidth model on `engine`.
pub fn apply_dynamics<F: Protocol>(engine: &mut Engine<F>, sc: &Scenario) {
    use crate::engine::{Control, Modulation};
    use crate::scenario::{BandwidthModel, TimelineEvent as E};
    let classes = churn::classes(sc);
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
        engine.add_control(at, c);
        if let (E::Bandwidth, Some(d)) = (t.event, t.down_factor) {
            let class =
                t.class.as_ref().and_then(|c| classes.iter().position(|k| &k.name == c.get_ref())).map(|i| i as u16);
            engine.add_control(at, Control::Download { class, node: None, factor: d.0 });
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
            engine.add_control(at, c);
            if let Some(d) = row.down_factor {
                let (class, node) = match row.target {
                    T::AllPeers => (None, None),
                    T::Class(k) => (Some(k as u16), None),
                    T::Peer(n) => (None, Some(n)),
                };
                engine.add_control(at, Control::Download { class, node, factor: d });
            }
        }
    }
    if sc.bandwidth.model == BandwidthModel::Markov {
        engine.set_modulation(Modulation {
            levels: sc.bandwidth.levels.as_ref().map_or(vec![1.0, 0.5], |l| l.get_ref().clone()),
            mean_hold: sc.bandwidth.mean_hold_s.map_or(Time::from_secs(30), |h| Time::from_secs_f64(h.0)),
        });
    }
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
        stripes: match sc.protocol.name {
            ProtocolName::TreePush | ProtocolName::Hybrid => protocols::tree::MAX_STRIPES as u8,
            ProtocolName::MeshPull | ProtocolName::ClientServer => 0,
        },
        stream: base.stream,
        window: mesh_config(sc).mesh.window,
    }
}

/// Ends a run built by [`build_engine`] (after `run_until(end)`) and computes its report.
pub fn finish_report<F: Protocol>(engine: Engine<F>, sc: &Scenario, opts: &RunOptions) -> Report {
    let min_propagation = engine.latency().min_latency();
    let name = engine.protocol().name();
    let events = engine.events();
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
    };
    analysis::report::build(collector, info)
}

/// Runs every `[[variants]]` entry of `sc` (or `sc` alone when it lists none)
/// with `reps` seeds each (`seed`, `seed + 1`, ...), on the same population,
/// network and seeds for every variant. Jobs run in parallel; results come back
/// grouped by variant in file order and by seed, whatever the thread count.
pub fn run_matrix(sc: &Scenario, name: &str, seed: u64, reps: u32) -> Vec<(String, Vec<Report>)> {
    use rayon::prelude::*;
    let variants: Vec<(Scenario, String)> = if sc.variants.is_empty() {
        vec![(sc.clone(), sc.variant_label())]
    } else {
        sc.variants.iter().map(|v| sc.with_variant(v)).collect()
    };
    let jobs: Vec<(usize, u64)> =
        (0..variants.len()).flat_map(|v| (0..reps as u64).map(move |k| (v, seed.wrapping_add(k)))).collect();
    let reports: Vec<Report> = jobs
        .par_iter()
        .map(|&(v, s)| run(&variants[v].0, &RunOptions { name: name.to_string(), seed: s }, &mut |_, _| {}))
        .collect();
    let mut it = reports.into_iter();
    variants.into_iter().map(|(_, label)| (label, it.by_ref().take(reps as usize).collect())).collect()
}
