//! Metrics of a finished run, with their definitions, and the bounds beside them.
//!
//! Every metric is defined once, as data, in [`crate::glossary`] (name,
//! unit, direction of improvement, range, the peers it covers, the work it
//! follows, definition); `docs/metrics.md` and `swarmlab metrics` are
//! generated from it. Here each is computed and carried as a [`Metric`] row
//! whose unit and direction come from the glossary. A value is `None` when it
//! is undefined (no peer played).

use protocols::{PeerId, Time, wire};

use crate::bounds;
use crate::collector::{Collector, NodeRole, PeerStats};

/// Which direction of change is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Descriptive (population, bounds, byte counts): not judged.
    Neither,
}

/// One metric of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: Option<f64>,
    pub unit: &'static str,
    pub better: Better,
}

/// Byte accounting of the network, from the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes accepted onto upload queues.
    pub sent: u64,
    /// Bytes handed to a live receiver.
    pub delivered: u64,
    /// Bytes dropped by per-datagram loss.
    pub lost: u64,
    /// Bytes that arrived after their receiver had left.
    pub lost_departed: u64,
    /// Bytes still queued at a sender when it left.
    pub discarded: u64,
    /// Bytes queued or in flight when the run ended.
    pub queued: u64,
}

impl Traffic {
    pub fn conserved(&self) -> bool {
        self.sent == self.delivered + self.lost + self.lost_departed + self.discarded + self.queued
    }
}

/// Facts about the run that the collector does not see.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub scenario: String,
    pub protocol: String,
    pub seed: u64,
    pub end: Time,
    pub source_up_bps: u64,
    pub class_names: Vec<String>,
    /// Smallest one-way propagation delay between two nodes.
    pub min_propagation: Time,
    pub traffic: Traffic,
    /// Events the engine processed (for throughput figures; not a metric).
    pub events: u64,
    /// Events each part of the engine processed (one entry per thread; for
    /// load-balance figures, not a metric), and the windows it advanced in.
    pub part_events: Vec<u64>,
    pub windows: u64,
    /// Timeline events: when, and whether they restore service (source or
    /// tracker back up, partition healed, bandwidth restored) or disrupt it.
    pub timeline: Vec<(Time, bool)>,
    /// The run has attackers or defences: report the security metrics.
    pub security: bool,
    /// The Sybil attack's victim, if any.
    pub victim: Option<u32>,
    /// The player's startup timeout: from `join + startup_timeout` a peer
    /// that never started counts as missing in `continuity_all`.
    pub startup_timeout: Time,
    /// The player re-buffers on a miss (`player.on_miss = "rebuffer"`):
    /// report the re-buffering metrics.
    pub rebuffer: bool,
    /// Report the delivery-cost metrics (P2P offload, CDN egress and cost):
    /// the scenario has a `[cdn]` table or its family uses a CDN edge.
    pub cdn: Option<CdnPricing>,
    /// The energy model (`[energy]`): report the energy metrics.
    pub energy: Option<EnergyModel>,
    /// Peers may be behind NATs (`[nat]`): report the NAT metrics.
    pub nat: bool,
    /// ISPs are tracked (`[isp]`): report `cross_isp_share`.
    pub isp: bool,
}

/// Energy of one kind of node: idle power while present, energy per bit it
/// serializes on its upload link and per bit delivered to it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeEnergy {
    pub idle_w: f64,
    pub up_nj_per_bit: f64,
    pub down_nj_per_bit: f64,
}

impl NodeEnergy {
    /// Joules of a node present for `online_s` seconds that sent `up` and
    /// received `down` wire bytes.
    pub fn joules(&self, online_s: f64, up: u64, down: u64) -> f64 {
        self.idle_w * online_s + (self.up_nj_per_bit * up as f64 + self.down_nj_per_bit * down as f64) * 8.0 * 1e-9
    }
}

/// The per-node energy model of `[energy]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnergyModel {
    /// Peers, per bandwidth class (indexed by class).
    pub classes: Vec<NodeEnergy>,
    pub source: NodeEnergy,
    pub edge: NodeEnergy,
    /// Network energy per byte carried (every byte a node serialized), J.
    pub network_j_per_byte: f64,
}

/// Energy of a run by part, joules.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EnergySplit {
    pub peers: f64,
    pub source: f64,
    pub cdn: f64,
    pub network: f64,
    /// Bytes the network carried (every byte serialized by a node).
    pub carried_bytes: u64,
    /// Peer-seconds online.
    pub viewer_s: f64,
}

impl EnergySplit {
    pub fn total(&self) -> f64 {
        self.peers + self.source + self.cdn + self.network
    }
}

/// The energy model applied to every node's bytes and presence (the tracker
/// is not modelled): peers by class, the source, CDN edges, and the network
/// per byte carried.
pub fn energy(c: &Collector, m: &EnergyModel, end: Time) -> EnergySplit {
    let mut e = EnergySplit::default();
    for n in c.nodes.iter().filter(|n| n.present) {
        let online = secs(n.left.unwrap_or(end).min(end).max(n.joined) - n.joined);
        let (up, down) = (n.up_media + n.up_control, n.down_media + n.down_control);
        e.carried_bytes += up;
        match n.role {
            NodeRole::Peer => {
                let model = m.classes.get(n.class as usize).copied().unwrap_or_default();
                e.peers += model.joules(online, up, down);
                e.viewer_s += online;
            }
            NodeRole::Source => e.source += m.source.joules(online, up, down),
            NodeRole::Edge => e.cdn += m.edge.joules(online, up, down),
            NodeRole::Tracker => {}
        }
    }
    e.network = m.network_j_per_byte * e.carried_bytes as f64;
    e
}

/// What CDN delivery costs (`[cdn]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CdnPricing {
    /// Price of one GB (10^9 bytes) of egress.
    pub price_per_gb: f64,
}

/// The metrics of a run plus its per-peer rows.
#[derive(Clone)]
pub struct Report {
    pub info: RunInfo,
    pub metrics: Vec<Metric>,
    pub peers: Vec<(u32, PeerStats)>,
    pub stream: protocols::StreamParams,
    /// Width of the time buckets and what happened in each.
    pub bucket: Time,
    pub buckets: Vec<crate::collector::Bucket>,
}

impl Metric {
    /// A metric with its unit and direction from the glossary
    /// ([`crate::glossary::METRICS`]).
    ///
    /// # Panics
    /// When `name` is not in the glossary: every metric must be defined there
    /// (the tests run every metric through here).
    pub fn new(name: &str, value: Option<f64>) -> Metric {
        let d = crate::glossary::lookup(name)
            .unwrap_or_else(|| panic!("metric `{name}` is not in analysis/src/glossary.rs"));
        Metric { name: name.to_string(), value, unit: d.unit, better: d.better }
    }
}

impl Report {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.name == name).and_then(|m| m.value)
    }
}

/// Nearest-rank quantile of sorted values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).max(1);
    Some(sorted[rank - 1])
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn sorted(mut xs: Vec<f64>) -> Vec<f64> {
    xs.sort_by(f64::total_cmp);
    xs
}

fn secs(t: Time) -> f64 {
    t.as_secs_f64()
}

/// Computes every metric of a finished run.
pub fn build(c: Collector, info: RunInfo) -> Report {
    let stream = c.stream;
    let end = info.end;
    let mut m: Vec<Metric> = Vec::new();
    let mut put = |name: &str, value: Option<f64>| m.push(Metric::new(name, value));
    let peers: Vec<(u32, PeerStats)> = c
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, s)| s.present && s.role == NodeRole::Peer)
        .map(|(i, s)| (i as u32, s.clone()))
        .collect();
    let source = c.nodes.iter().find(|s| s.present && s.role == NodeRole::Source).cloned().unwrap_or_default();
    // CDN edges relay the stream: their upload adds to the supply in every
    // bound (not to the source term: they get the stream from the source).
    let edges: Vec<&PeerStats> = c.nodes.iter().filter(|s| s.present && s.role == NodeRole::Edge).collect();
    let helper_bps: f64 = edges.iter().map(|s| s.up_bps as f64).sum();

    // Population.
    let started = peers.iter().filter(|(_, s)| s.play_start.is_some()).count();
    put("peers_joined", Some(peers.len() as f64));
    put("peers_started", Some(started as f64));
    put("peers_never_started", Some((peers.len() - started) as f64));

    // Continuity.
    let cont = sorted(peers.iter().filter_map(|(_, s)| s.continuity()).collect());
    let (played, due): (u64, u64) =
        peers.iter().fold((0, 0), |(p, d), (_, s)| (p + s.played as u64, d + s.due() as u64));
    let pooled = (due > 0).then(|| played as f64 / due as f64);
    put("continuity_mean", mean(&cont));
    put("continuity_pooled", pooled);
    put("continuity_p05", quantile_sorted(&cont, 0.05));
    // Every peer, never-started ones included: a peer that never played
    // counts as missing every chunk due from join + startup timeout (when
    // any player would have started) until it left or the run ended.
    let never_due: u64 = peers
        .iter()
        .filter(|(_, s)| s.play_start.is_none())
        .map(|(_, s)| {
            let from = s.joined + info.startup_timeout;
            let until = s.left.unwrap_or(end).min(end);
            if until > from { (until - from).as_nanos() / stream.chunk_duration.as_nanos().max(1) } else { 0 }
        })
        .sum();
    put("continuity_all", (due + never_due > 0).then(|| played as f64 / (due + never_due) as f64));

    // Startup and lag.
    let startup = sorted(peers.iter().filter_map(|(_, s)| s.startup_delay()).map(secs).collect());
    put("startup_delay_mean", mean(&startup));
    put("startup_delay_p50", quantile_sorted(&startup, 0.5));
    put("startup_delay_p95", quantile_sorted(&startup, 0.95));
    let lags = sorted(peers.iter().filter_map(|(_, s)| s.lag(&stream)).map(secs).collect());
    put("lag_mean", mean(&lags));
    put("lag_p50", quantile_sorted(&lags, 0.5));
    put("lag_p95", quantile_sorted(&lags, 0.95));
    put("sync_spread", sync_spread(&peers, &stream, end));

    // Delivery and diffusion.
    let q = |x: f64| c.delivery.quantile(x).map(|ns| ns as f64 / 1e9);
    put("delivery_delay_p50", q(0.5));
    put("delivery_delay_p95", q(0.95));
    put("delivery_delay_p99", q(0.99));
    let chunk_len = protocols::Msg::Chunk { seq: 0, len: stream.chunk_bytes(), polluted: false }.encoded_len();
    let chunk_wire = wire::wire_bytes(chunk_len).1;
    // A CDN edge uploads too, and is one more receiver (from the source).
    let ups: Vec<u64> = peers.iter().map(|(_, s)| s.up_bps).chain(edges.iter().map(|s| s.up_bps)).collect();
    let bound = bounds::DiffusionBound::new(chunk_wire, info.source_up_bps, &ups, info.min_propagation);
    let mut diff = Vec::new();
    let mut ratio_min: Option<f64> = None;
    for (seq, ch) in c.chunks.iter().enumerate() {
        if ch.receivers == 0 {
            continue;
        }
        let d = ch.last_arrival - stream.emission(seq as u32);
        diff.push(secs(d));
        if let Some(b) = bound.bound(ch.receivers as usize + edges.len())
            && b > Time::ZERO
        {
            let r = d.as_nanos() as f64 / b.as_nanos() as f64;
            ratio_min = Some(ratio_min.map_or(r, |x: f64| x.min(r)));
        }
    }
    put("diffusion_delay_p50", quantile_sorted(&sorted(diff), 0.5));
    put("diffusion_bound_ratio_min", ratio_min);

    // Stalls.
    let misses: u64 = peers.iter().map(|(_, s)| s.missed as u64).sum();
    put("misses", Some(misses as f64));
    put("stall_runs", Some(peers.iter().map(|(_, s)| s.stall_runs as f64).sum()));
    put("longest_stall", peers.iter().map(|(_, s)| s.longest_stall as f64).reduce(f64::max));
    put("polluted_played", Some(peers.iter().map(|(_, s)| s.polluted_played as f64).sum()));
    if info.rebuffer {
        // A stall still open at the end counts until the end.
        let stall = |s: &PeerStats| s.rebuffer_time + s.stalled_since.map_or(Time::ZERO, |t| end.max(t) - t);
        let played: Vec<&PeerStats> = peers.iter().map(|(_, s)| s).filter(|s| s.play_start.is_some()).collect();
        put("rebuffer_events", Some(played.iter().map(|s| s.rebuffers as f64).sum()));
        put("rebuffer_time_mean", mean(&played.iter().map(|s| secs(stall(s))).collect::<Vec<_>>()));
        let total: f64 = played.iter().map(|s| secs(s.left.unwrap_or(end).min(end) - s.play_start.unwrap())).sum();
        let stalled: f64 = played.iter().map(|s| secs(stall(s))).sum();
        put("rebuffer_ratio", (total > 0.0).then(|| stalled / total));
    }

    // Overheads and load.
    let (down_media, down_ctrl) = c.nodes.iter().fold((0u64, 0u64), |(a, b), s| (a + s.down_media, b + s.down_control));
    put("control_overhead", (down_media > 0).then(|| down_ctrl as f64 / down_media as f64));
    let (useful, dup) =
        peers.iter().fold((0u64, 0u64), |(a, b), (_, s)| (a + s.useful_chunks as u64, b + s.duplicate_chunks as u64));
    put("duplicate_ratio", (useful > 0).then(|| dup as f64 / useful as f64));
    let emitted_bytes = stream.chunk_bytes() as f64 * (stream.newest_at(end) as f64 + 1.0);
    put("server_load", Some((source.up_media + source.up_control) as f64 / emitted_bytes));
    if let Some(pricing) = info.cdn {
        cdn_metrics(&c, pricing, &mut put);
    }
    if info.isp {
        let all = c.media_to_peers_from_peers + c.media_to_peers_from_infra;
        put("cross_isp_share", (all > 0).then(|| c.media_to_peers_cross_isp as f64 / all as f64));
    }
    if info.nat {
        let cont = |nat: bool| {
            mean(&peers.iter().filter(|(_, s)| s.nat == nat).filter_map(|(_, s)| s.continuity()).collect::<Vec<_>>())
        };
        put("nat_peers", Some(peers.iter().filter(|(_, s)| s.nat).count() as f64));
        put("nat_blocked_messages", Some(c.nat_blocked as f64));
        put("continuity_nat", cont(true));
        put("continuity_public", cont(false));
    }
    if let Some(model) = &info.energy {
        let e = energy(&c, model, end);
        const KWH: f64 = 3.6e6;
        put("energy_total_kwh", Some(e.total() / KWH));
        put("energy_peers_kwh", Some(e.peers / KWH));
        put("energy_source_kwh", Some(e.source / KWH));
        put("energy_cdn_kwh", Some(e.cdn / KWH));
        put("energy_network_kwh", Some(e.network / KWH));
        put("energy_per_viewer_hour_wh", (e.viewer_s > 0.0).then(|| e.total() / 3600.0 / (e.viewer_s / 3600.0)));
    }

    // Upload utilization.
    for (k, name) in info.class_names.iter().enumerate() {
        let (used, cap) = peers.iter().filter(|(_, s)| s.class as usize == k).fold((0f64, 0f64), |(u, c), (_, s)| {
            (u + (s.up_media + s.up_control) as f64 * 8.0, c + s.capacity_bits(end))
        });
        put(&format!("upload_util.{name}"), (cap > 0.0).then(|| used / cap));
    }
    let utils: Vec<f64> = peers
        .iter()
        .filter(|(_, s)| s.capacity_bits(end) > 0.0)
        .map(|(_, s)| (s.up_media + s.up_control) as f64 * 8.0 / s.capacity_bits(end))
        .collect();
    let (sum, sq): (f64, f64) = (utils.iter().sum(), utils.iter().map(|x| x * x).sum());
    put("upload_fairness", (sq > 0.0).then(|| sum * sum / (utils.len() as f64 * sq)));

    // Bounds.
    // Constant-capacity periods of every peer: closed ones from capacity
    // changes, then each peer's open period to its departure or the end.
    let mut intervals: Vec<(Time, Time, f64)> = c.segments.clone();
    intervals.extend(peers.iter().map(|(_, s)| (s.cap_since, s.left.unwrap_or(end), s.up_bps as f64)));
    let rmax = bounds::time_averaged_r_max(info.source_up_bps as f64, helper_bps, &intervals, end);
    let bound = bounds::weighted_continuity_bound(
        info.source_up_bps as f64,
        helper_bps,
        &intervals,
        end,
        stream.rate_bps as f64,
    );
    put("stream_rate", Some(stream.rate_bps as f64 / 1000.0));
    put("r_max", rmax.map(|r| r / 1000.0));
    put("continuity_bound", bound);
    // Finite-horizon capacity bound: every played chunk is one chunk message
    // (chunk_wire bytes) that some node's upload carried within the run.
    let capacity_bytes = info.source_up_bps as f64 / 8.0 * secs(end)
        + peers.iter().map(|(_, s)| s.capacity_bits(end) / 8.0).sum::<f64>()
        + edges.iter().map(|s| s.capacity_bits(end) / 8.0).sum::<f64>();
    let capacity_bound = (due > 0).then(|| (capacity_bytes / (chunk_wire as f64 * due as f64)).min(1.0));
    put("capacity_bound", capacity_bound);
    put("efficiency", pooled.zip(bound).map(|(p, b)| p / b));

    // Conservation.
    let t = info.traffic;
    put("bytes_sent", Some(t.sent as f64));
    put("bytes_delivered", Some(t.delivered as f64));
    put("bytes_lost", Some(t.lost as f64));
    put("bytes_lost_departed", Some(t.lost_departed as f64));
    put("bytes_discarded", Some(t.discarded as f64));
    put("bytes_queued", Some(t.queued as f64));

    // Well-formed messages dropped for implausible values (issue 14), by reason.
    put("dropped_messages", Some(c.dropped.values().sum::<u64>() as f64));
    for r in protocols::DropReason::ALL {
        let reason = r.name();
        put(&format!("dropped.{reason}"), Some(c.dropped.get(&r).copied().unwrap_or(0) as f64));
    }

    if info.security {
        security_metrics(&c, &peers, &info, &mut m);
    }

    // Address exposure: distinct nodes that learned each peer's (and the source's) address.
    let exposure = |id: u32| c.exposure(PeerId(id)) as f64;
    let exp = sorted(peers.iter().map(|&(id, _)| exposure(id)).collect());
    m.push(Metric::new("address_exposure_mean", mean(&exp)));
    m.push(Metric::new("address_exposure_p95", quantile_sorted(&exp, 0.95)));
    let source_id = c.nodes.iter().position(|s| s.present && s.role == NodeRole::Source);
    m.push(Metric::new("source_exposure", source_id.map(|i| exposure(i as u32))));
    let recovery = recovery_time(&c.buckets, c.bucket, &info.timeline);
    m.push(Metric::new("recovery_time", recovery));
    let mut buckets = c.buckets;
    let n_buckets = (end.0.div_ceil(c.bucket.0.max(1))) as usize;
    buckets.resize(n_buckets.max(buckets.len()), Default::default());
    Report { info, metrics: m, peers, stream, bucket: c.bucket, buckets }
}

/// Delivery-cost metrics: where peers' media came from and what the
/// infrastructure (source and CDN edge) uploaded.
fn cdn_metrics(c: &Collector, pricing: CdnPricing, put: &mut impl FnMut(&str, Option<f64>)) {
    let (p2p, infra) = (c.media_to_peers_from_peers, c.media_to_peers_from_infra);
    put("p2p_offload", (p2p + infra > 0).then(|| p2p as f64 / (p2p + infra) as f64));
    let up = |s: &PeerStats| s.up_media + s.up_control;
    let egress: u64 = c.nodes.iter().filter(|s| s.present && s.role.is_infrastructure()).map(up).sum();
    let edge: u64 = c.nodes.iter().filter(|s| s.present && s.role == NodeRole::Edge).map(up).sum();
    let gb = egress as f64 / 1e9;
    put("cdn_egress_gb", Some(gb));
    put("cdn_edge_gb", Some(edge as f64 / 1e9));
    let width = c.bucket.as_secs_f64();
    let peak = c.buckets.iter().map(|b| b.source_upload + b.edge_upload).max().unwrap_or(0);
    put("cdn_egress_peak_mbps", Some(peak as f64 * 8.0 / width / 1e6));
    put("cdn_cost", Some(gb * pricing.price_per_gb));
}

/// Attack and defence metrics (see the module table).
fn security_metrics(c: &Collector, peers: &[(u32, PeerStats)], info: &RunInfo, m: &mut Vec<Metric>) {
    let mut put = |name: &str, value: Option<f64>| m.push(Metric::new(name, value));
    let honest: Vec<&PeerStats> = peers.iter().map(|(_, s)| s).filter(|s| s.behaviour == 0).collect();
    put("attackers", Some((peers.len() - honest.len()) as f64));
    let cont: Vec<f64> = honest.iter().filter_map(|s| s.continuity()).collect();
    put("continuity_honest", mean(&cont));
    let clean: Vec<f64> =
        honest.iter().filter(|s| s.due() > 0).map(|s| (s.played - s.polluted_played) as f64 / s.due() as f64).collect();
    put("clean_continuity_honest", mean(&clean));
    let (played, polluted) =
        honest.iter().fold((0u64, 0u64), |(p, q), s| (p + s.played as u64, q + s.polluted_played as u64));
    put("polluted_played_share", (played > 0).then(|| polluted as f64 / played as f64));
    put("rejected_chunks", Some(peers.iter().map(|(_, s)| s.rejected_chunks as f64).sum()));
    let media: u64 = c.nodes.iter().map(|s| s.up_media).sum();
    let wasted: u64 = c.nodes.iter().map(|s| s.up_polluted).sum();
    let by_attackers: u64 = peers.iter().filter(|(_, s)| s.behaviour != 0).map(|(_, s)| s.up_media).sum();
    let share = |x: u64| (media > 0).then(|| x as f64 / media as f64);
    put("wasted_upload_share", share(wasted));
    put("attacker_upload_share", share(by_attackers));
    let ejects = sorted(c.eject_times.iter().map(|&t| secs(t)).collect());
    put("eject_time_p50", quantile_sorted(&ejects, 0.5));
    put("eject_time_mean", mean(&ejects));
    let relations = ejects.len() as f64 + c.relations_not_ejected as f64;
    put("ejected_share", (relations > 0.0).then(|| ejects.len() as f64 / relations));
    if let Some(v) = info.victim {
        let victim = c.nodes.get(v as usize).and_then(|s| s.continuity());
        put("victim_continuity", victim);
    }
}

/// Time from the last restoring timeline event until continuity is back:
/// the first bucket from which 10 s of buckets all reach 0.9 x the
/// continuity of the 60 s before the first disruptive event. `None` without
/// a disruption followed by a restoration, or when it never recovers.
fn recovery_time(buckets: &[crate::collector::Bucket], width: Time, timeline: &[(Time, bool)]) -> Option<f64> {
    let first_bad = timeline.iter().find(|(_, restores)| !restores)?.0;
    let restore = timeline.iter().rev().find(|(t, restores)| *restores && *t >= first_bad)?.0;
    let w = width.0.max(1);
    let idx = |t: Time| (t.0 / w) as usize;
    let cont = |range: std::ops::Range<usize>| {
        let (p, d) = buckets
            .get(range)?
            .iter()
            .fold((0u64, 0u64), |(p, d), b| (p + b.played as u64, d + (b.played + b.missed) as u64));
        (d > 0).then(|| p as f64 / d as f64)
    };
    let before = cont(idx(first_bad.saturating_sub(Time::from_secs(60)))..idx(first_bad))?;
    let target = 0.9 * before;
    let span = (10_000_000_000u64.div_ceil(w) as usize).max(1);
    (idx(restore)..buckets.len().saturating_sub(span - 1)).find_map(|k| {
        let ok = (k..k + span).all(|j| cont(j..j + 1).is_none_or(|c| c >= target));
        ok.then(|| ((k as u64 * w) as f64 - restore.as_secs_f64() * 1e9).max(0.0) / 1e9)
    })
}

/// Mean over sample instants of the p95 - p5 spread of playing peers' lags.
fn sync_spread(peers: &[(u32, PeerStats)], stream: &protocols::StreamParams, end: Time) -> Option<f64> {
    let step = Time((end.0 / 100).max(1_000_000_000));
    let mut spreads = Vec::new();
    let mut t = step;
    let mut lags = Vec::new();
    while t < end {
        lags.clear();
        for (_, s) in peers {
            if let (Some(start), Some(lag)) = (s.play_start, s.lag(stream))
                && start <= t
                && s.left.is_none_or(|l| l > t)
            {
                lags.push(secs(lag));
            }
        }
        if lags.len() >= 2 {
            lags.sort_by(f64::total_cmp);
            let hi = quantile_sorted(&lags, 0.95).unwrap_or(0.0);
            let lo = quantile_sorted(&lags, 0.05).unwrap_or(0.0);
            spreads.push(hi - lo);
        }
        t += step;
    }
    mean(&spreads)
}
