//! Metrics of a finished run, with their definitions, and the bounds beside them.
//!
//! Every metric is defined once here (its doc is the formula) and carried as a
//! [`Metric`] row: name, value, unit and which direction is better (for the
//! regression gate). A value is `None` when it is undefined (no peer played).
//!
//! | metric | definition |
//! |---|---|
//! | `continuity_mean` | mean over peers with a deadline of played / due |
//! | `continuity_pooled` | sum played / sum due over all peers |
//! | `continuity_p05` | 5th percentile of per-peer continuity |
//! | `startup_delay_*` | join -> first chunk played (mean, p50, p95) |
//! | `lag_*` | source emission of a chunk -> its playout (constant per peer) |
//! | `sync_spread` | mean over sample instants of p95 - p5 lag across playing peers |
//! | `delivery_delay_*` | emission -> first arrival, per chunk per peer |
//! | `diffusion_delay_p50` | median over chunks of emission -> last arrival at any peer |
//! | `diffusion_bound_ratio_min` | min over chunks of diffusion delay / store-and-forward bound for its receiver count (>= 1 by physics) |
//! | `misses`, `stall_runs`, `longest_stall` | missed chunks, runs of consecutive misses, longest run |
//! | `control_overhead` | control bytes / media bytes delivered (wire bytes) |
//! | `duplicate_ratio` | duplicate chunk arrivals / useful chunk arrivals |
//! | `server_load` | source upload bytes / bytes of the stream emitted |
//! | `upload_util.<class>` | upload bytes sent / (capacity x time present), per class |
//! | `upload_fairness` | Jain's index of per-peer upload utilization |
//! | `r_max`, `continuity_bound`, `efficiency` | Kumar-Liu-Ross r_max (time-averaged), the peer-weighted time average of min(1, r_max(t) / r), continuity_pooled / bound |
//! | `capacity_bound` | min(1, upload capacity of all nodes over the run / (chunk bytes on the wire x chunks due)): a hard finite-horizon bound on `continuity_pooled` |
//! | `address_exposure_mean`, `address_exposure_p95`, `source_exposure` | distinct nodes that learned a peer's (the source's) address: sent it a message, or listed it in a member list or root path (the privacy cost of an overlay) |
//! | `recovery_time` | seconds from the last restoring timeline event until 10 s of buckets all reach 0.9 x the continuity before the first disruption |
//! | `attackers` | peers running an attack (security metrics, reported when a run has attackers or defences) |
//! | `continuity_honest` | `continuity_mean` over honest peers only |
//! | `clean_continuity_honest` | mean over honest peers of (played - polluted played) / due |
//! | `polluted_played_share` | corrupted chunks played / chunks played, honest peers |
//! | `rejected_chunks` | chunks dropped by the integrity check |
//! | `wasted_upload_share` | wire bytes of corrupted chunks uploaded (by anyone) / media bytes uploaded |
//! | `attacker_upload_share` | media bytes uploaded by attackers / media bytes uploaded |
//! | `eject_time_p50`, `eject_time_mean` | duration of honest-attacker relations (partner, parent, child) that the honest side ended while both were present |
//! | `ejected_share` | such relations ended by the honest side / all honest-attacker relations |
//! | `victim_continuity` | the Sybil victim's continuity |
//! | `bytes_*` | conservation: sent = delivered + lost + lost_departed + discarded + queued |

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
    /// Timeline events: when, and whether they restore service (source or
    /// tracker back up, partition healed, bandwidth restored) or disrupt it.
    pub timeline: Vec<(Time, bool)>,
    /// The run has attackers or defences: report the security metrics.
    pub security: bool,
    /// The Sybil attack's victim, if any.
    pub victim: Option<u32>,
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
    let mut put = |name: &str, value: Option<f64>, unit: &'static str, better: Better| {
        m.push(Metric { name: name.to_string(), value, unit, better });
    };
    let peers: Vec<(u32, PeerStats)> = c
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, s)| s.present && s.role == NodeRole::Peer)
        .map(|(i, s)| (i as u32, s.clone()))
        .collect();
    let source = c.nodes.iter().find(|s| s.present && s.role == NodeRole::Source).cloned().unwrap_or_default();

    // Population.
    let started = peers.iter().filter(|(_, s)| s.play_start.is_some()).count();
    put("peers_joined", Some(peers.len() as f64), "peers", Better::Neither);
    put("peers_started", Some(started as f64), "peers", Better::Neither);
    put("peers_never_started", Some((peers.len() - started) as f64), "peers", Better::Lower);

    // Continuity.
    let cont = sorted(peers.iter().filter_map(|(_, s)| s.continuity()).collect());
    let (played, due): (u64, u64) =
        peers.iter().fold((0, 0), |(p, d), (_, s)| (p + s.played as u64, d + s.due() as u64));
    let pooled = (due > 0).then(|| played as f64 / due as f64);
    put("continuity_mean", mean(&cont), "ratio", Better::Higher);
    put("continuity_pooled", pooled, "ratio", Better::Higher);
    put("continuity_p05", quantile_sorted(&cont, 0.05), "ratio", Better::Higher);

    // Startup and lag.
    let startup = sorted(peers.iter().filter_map(|(_, s)| s.startup_delay()).map(secs).collect());
    put("startup_delay_mean", mean(&startup), "s", Better::Lower);
    put("startup_delay_p50", quantile_sorted(&startup, 0.5), "s", Better::Lower);
    put("startup_delay_p95", quantile_sorted(&startup, 0.95), "s", Better::Lower);
    let lags = sorted(peers.iter().filter_map(|(_, s)| s.lag(&stream)).map(secs).collect());
    put("lag_mean", mean(&lags), "s", Better::Lower);
    put("lag_p50", quantile_sorted(&lags, 0.5), "s", Better::Lower);
    put("lag_p95", quantile_sorted(&lags, 0.95), "s", Better::Lower);
    put("sync_spread", sync_spread(&peers, &stream, end), "s", Better::Lower);

    // Delivery and diffusion.
    let q = |x: f64| c.delivery.quantile(x).map(|ns| ns as f64 / 1e9);
    put("delivery_delay_p50", q(0.5), "s", Better::Lower);
    put("delivery_delay_p95", q(0.95), "s", Better::Lower);
    put("delivery_delay_p99", q(0.99), "s", Better::Lower);
    let chunk_len = protocols::Msg::Chunk { seq: 0, len: stream.chunk_bytes(), polluted: false }.encoded_len();
    let chunk_wire = wire::wire_bytes(chunk_len).1;
    let u_max = peers.iter().map(|(_, s)| s.up_bps).chain([info.source_up_bps]).max().unwrap_or(0);
    let mut diff = Vec::new();
    let mut ratio_min: Option<f64> = None;
    for (seq, ch) in c.chunks.iter().enumerate() {
        if ch.receivers == 0 {
            continue;
        }
        let d = ch.last_arrival - stream.emission(seq as u32);
        diff.push(secs(d));
        let b = bounds::min_diffusion_delay(ch.receivers as usize, chunk_wire, u_max, info.min_propagation);
        if b > Time::ZERO {
            let r = d.as_nanos() as f64 / b.as_nanos() as f64;
            ratio_min = Some(ratio_min.map_or(r, |x: f64| x.min(r)));
        }
    }
    put("diffusion_delay_p50", quantile_sorted(&sorted(diff), 0.5), "s", Better::Lower);
    put("diffusion_bound_ratio_min", ratio_min, "ratio", Better::Neither);

    // Stalls.
    let misses: u64 = peers.iter().map(|(_, s)| s.missed as u64).sum();
    put("misses", Some(misses as f64), "chunks", Better::Lower);
    put("stall_runs", Some(peers.iter().map(|(_, s)| s.stall_runs as f64).sum()), "runs", Better::Lower);
    put("longest_stall", peers.iter().map(|(_, s)| s.longest_stall as f64).reduce(f64::max), "chunks", Better::Lower);
    put("polluted_played", Some(peers.iter().map(|(_, s)| s.polluted_played as f64).sum()), "chunks", Better::Lower);

    // Overheads and load.
    let (down_media, down_ctrl) = c.nodes.iter().fold((0u64, 0u64), |(a, b), s| (a + s.down_media, b + s.down_control));
    put("control_overhead", (down_media > 0).then(|| down_ctrl as f64 / down_media as f64), "ratio", Better::Lower);
    let (useful, dup) =
        peers.iter().fold((0u64, 0u64), |(a, b), (_, s)| (a + s.useful_chunks as u64, b + s.duplicate_chunks as u64));
    put("duplicate_ratio", (useful > 0).then(|| dup as f64 / useful as f64), "ratio", Better::Lower);
    let emitted_bytes = stream.chunk_bytes() as f64 * (stream.newest_at(end) as f64 + 1.0);
    put("server_load", Some((source.up_media + source.up_control) as f64 / emitted_bytes), "streams", Better::Lower);

    // Upload utilization.
    for (k, name) in info.class_names.iter().enumerate() {
        let (used, cap) = peers.iter().filter(|(_, s)| s.class as usize == k).fold((0f64, 0f64), |(u, c), (_, s)| {
            (u + (s.up_media + s.up_control) as f64 * 8.0, c + s.capacity_bits(end))
        });
        put(&format!("upload_util.{name}"), (cap > 0.0).then(|| used / cap), "ratio", Better::Neither);
    }
    let utils: Vec<f64> = peers
        .iter()
        .filter(|(_, s)| s.capacity_bits(end) > 0.0)
        .map(|(_, s)| (s.up_media + s.up_control) as f64 * 8.0 / s.capacity_bits(end))
        .collect();
    let sq: f64 = utils.iter().map(|x| x * x).sum();
    put(
        "upload_fairness",
        (sq > 0.0).then(|| utils.iter().sum::<f64>().powi(2) / (utils.len() as f64 * sq)),
        "index",
        Better::Neither,
    );

    // Bounds.
    // Constant-capacity periods of every peer: closed ones from capacity
    // changes, then each peer's open period to its departure or the end.
    let mut intervals: Vec<(Time, Time, f64)> = c.segments.clone();
    intervals.extend(peers.iter().map(|(_, s)| (s.cap_since, s.left.unwrap_or(end), s.up_bps as f64)));
    let rmax = bounds::time_averaged_r_max(info.source_up_bps as f64, &intervals, end);
    let bound = bounds::weighted_continuity_bound(info.source_up_bps as f64, &intervals, end, stream.rate_bps as f64);
    put("stream_rate", Some(stream.rate_bps as f64 / 1000.0), "kbps", Better::Neither);
    put("r_max", rmax.map(|r| r / 1000.0), "kbps", Better::Neither);
    put("continuity_bound", bound, "ratio", Better::Neither);
    // Finite-horizon capacity bound: every played chunk is one chunk message
    // (chunk_wire bytes) that some node's upload carried within the run.
    let capacity_bytes = info.source_up_bps as f64 / 8.0 * secs(end)
        + peers.iter().map(|(_, s)| s.capacity_bits(end) / 8.0).sum::<f64>();
    let capacity_bound = (due > 0).then(|| (capacity_bytes / (chunk_wire as f64 * due as f64)).min(1.0));
    put("capacity_bound", capacity_bound, "ratio", Better::Neither);
    put("efficiency", pooled.zip(bound).map(|(p, b)| p / b), "ratio", Better::Higher);

    // Conservation.
    let t = info.traffic;
    put("bytes_sent", Some(t.sent as f64), "bytes", Better::Neither);
    put("bytes_delivered", Some(t.delivered as f64), "bytes", Better::Neither);
    put("bytes_lost", Some(t.lost as f64), "bytes", Better::Neither);
    put("bytes_lost_departed", Some(t.lost_departed as f64), "bytes", Better::Neither);
    put("bytes_discarded", Some(t.discarded as f64), "bytes", Better::Neither);
    put("bytes_queued", Some(t.queued as f64), "bytes", Better::Neither);

    if info.security {
        security_metrics(&c, &peers, &info, &mut m);
    }

    // Address exposure: distinct nodes that learned each peer's (and the source's) address.
    let exposure = |id: u32| c.exposure(PeerId(id)) as f64;
    let exp = sorted(peers.iter().map(|&(id, _)| exposure(id)).collect());
    m.push(Metric { name: "address_exposure_mean".into(), value: mean(&exp), unit: "peers", better: Better::Lower });
    m.push(Metric {
        name: "address_exposure_p95".into(),
        value: quantile_sorted(&exp, 0.95),
        unit: "peers",
        better: Better::Lower,
    });
    let source_id = c.nodes.iter().position(|s| s.present && s.role == NodeRole::Source);
    m.push(Metric {
        name: "source_exposure".into(),
        value: source_id.map(|i| exposure(i as u32)),
        unit: "peers",
        better: Better::Neither,
    });
    let recovery = recovery_time(&c.buckets, c.bucket, &info.timeline);
    m.push(Metric { name: "recovery_time".into(), value: recovery, unit: "s", better: Better::Lower });
    let mut buckets = c.buckets;
    let n_buckets = (end.0.div_ceil(c.bucket.0.max(1))) as usize;
    buckets.resize(n_buckets.max(buckets.len()), Default::default());
    Report { info, metrics: m, peers, stream, bucket: c.bucket, buckets }
}

/// Attack and defence metrics (see the module table).
fn security_metrics(c: &Collector, peers: &[(u32, PeerStats)], info: &RunInfo, m: &mut Vec<Metric>) {
    let mut put = |name: &str, value: Option<f64>, unit: &'static str, better: Better| {
        m.push(Metric { name: name.to_string(), value, unit, better });
    };
    let honest: Vec<&PeerStats> = peers.iter().map(|(_, s)| s).filter(|s| s.behaviour == 0).collect();
    put("attackers", Some((peers.len() - honest.len()) as f64), "peers", Better::Neither);
    let cont: Vec<f64> = honest.iter().filter_map(|s| s.continuity()).collect();
    put("continuity_honest", mean(&cont), "ratio", Better::Higher);
    let clean: Vec<f64> =
        honest.iter().filter(|s| s.due() > 0).map(|s| (s.played - s.polluted_played) as f64 / s.due() as f64).collect();
    put("clean_continuity_honest", mean(&clean), "ratio", Better::Higher);
    let (played, polluted) =
        honest.iter().fold((0u64, 0u64), |(p, q), s| (p + s.played as u64, q + s.polluted_played as u64));
    put("polluted_played_share", (played > 0).then(|| polluted as f64 / played as f64), "ratio", Better::Lower);
    put("rejected_chunks", Some(peers.iter().map(|(_, s)| s.rejected_chunks as f64).sum()), "chunks", Better::Neither);
    let media: u64 = c.nodes.iter().map(|s| s.up_media).sum();
    let wasted: u64 = c.nodes.iter().map(|s| s.up_polluted).sum();
    let by_attackers: u64 = peers.iter().filter(|(_, s)| s.behaviour != 0).map(|(_, s)| s.up_media).sum();
    let share = |x: u64| (media > 0).then(|| x as f64 / media as f64);
    put("wasted_upload_share", share(wasted), "ratio", Better::Lower);
    put("attacker_upload_share", share(by_attackers), "ratio", Better::Neither);
    let ejects = sorted(c.eject_times.iter().map(|&t| secs(t)).collect());
    put("eject_time_p50", quantile_sorted(&ejects, 0.5), "s", Better::Lower);
    put("eject_time_mean", mean(&ejects), "s", Better::Lower);
    let relations = ejects.len() as f64 + c.relations_not_ejected as f64;
    put("ejected_share", (relations > 0.0).then(|| ejects.len() as f64 / relations), "ratio", Better::Higher);
    if let Some(v) = info.victim {
        let victim = c.nodes.get(v as usize).and_then(|s| s.continuity());
        put("victim_continuity", victim, "ratio", Better::Higher);
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
