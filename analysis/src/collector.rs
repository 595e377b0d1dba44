//! Online aggregation of a run's records into per-peer and per-chunk state.
//!
//! The driver calls [`Collector`] for every join, leave, protocol [`Record`],
//! transmission and delivery. State is O(peers + chunks) and nothing is kept
//! per event, so a 10^5-peer run does not store 10^8 records. The
//! [`crate::report`] module turns the final state into metrics.

use std::sync::Arc;

use protocols::prefetch::prefetch;
use protocols::{PeerId, Record, Seq, StreamParams, Time};

use crate::histogram::Histogram;
use crate::idset::IdSet;
use crate::layout::Layout;

/// What a node is in the swarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NodeRole {
    #[default]
    Peer,
    Source,
    Tracker,
    /// A CDN edge server (families that fall back to a CDN, [`NodeRole::is_infrastructure`]).
    Edge,
}

impl NodeRole {
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Peer => "peer",
            NodeRole::Source => "source",
            NodeRole::Tracker => "tracker",
            NodeRole::Edge => "edge",
        }
    }
    /// Paid-for servers that deliver media: the source (origin) and a CDN edge.
    pub fn is_infrastructure(self) -> bool {
        matches!(self, NodeRole::Source | NodeRole::Edge)
    }
}

/// Everything measured about one node. `repr(C)` puts what every message
/// updates (byte counters, role) in the first cache line, the only one the
/// engine prefetches ([`Collector::prefetch_node`]).
#[derive(Clone, Debug, Default)]
#[repr(C, align(64))]
pub struct PeerStats {
    pub up_media: u64,
    pub up_control: u64,
    pub down_media: u64,
    pub down_control: u64,
    pub role: NodeRole,
    /// Set by [`Collector::join`]; ids never joined stay absent from reports.
    pub present: bool,
    /// [`protocols::adversary::Behaviour::index`] of the node (0 = honest).
    pub behaviour: u8,
    /// Behind a NAT that accepts no unsolicited connection (`[nat]`).
    pub nat: bool,
    pub class: u16,
    pub played: u32,
    pub missed: u32,
    pub polluted_played: u32,
    pub stall_runs: u32,
    pub longest_stall: u32,
    cur_run: u32,
    pub useful_chunks: u32,
    pub duplicate_chunks: u32,
    pub late_chunks: u32,
    pub first_seq: Seq,
    pub up_bps: u64,
    pub joined: Time,
    pub left: Option<Time>,
    pub play_start: Option<Time>,
    /// Upload capacity in bits accumulated up to `cap_since` (time-varying
    /// capacity); `up_bps` is the capacity since then.
    pub cap_bits: f64,
    pub cap_since: Time,
    /// Chunks it dropped because they failed the integrity check.
    pub rejected_chunks: u32,
    /// Wire bytes of corrupted chunks it uploaded (its own or relayed).
    pub up_polluted: u64,
    /// Re-buffering player: stalls, their total time, and the open one.
    pub rebuffers: u32,
    pub rebuffer_time: Time,
    pub stalled_since: Option<Time>,
}

impl PeerStats {
    /// Upload capacity in bits over the node's presence up to `end`.
    pub fn capacity_bits(&self, end: Time) -> f64 {
        let until = self.left.unwrap_or(end).min(end);
        self.cap_bits + self.up_bps as f64 * (until - self.cap_since).as_secs_f64()
    }
}

impl PeerStats {
    /// Chunks whose deadline came while playing.
    pub fn due(&self) -> u32 {
        self.played + self.missed
    }
    /// played / due, `None` before any deadline.
    pub fn continuity(&self) -> Option<f64> {
        (self.due() > 0).then(|| self.played as f64 / self.due() as f64)
    }
    /// Playback lag: playout of the first chunk minus its emission.
    pub fn lag(&self, stream: &StreamParams) -> Option<Time> {
        self.play_start.map(|t| t - stream.emission(self.first_seq))
    }
    pub fn startup_delay(&self) -> Option<Time> {
        self.play_start.map(|t| t - self.joined)
    }
}

/// Per-chunk diffusion: how many peers received it, and when the last did.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChunkStat {
    pub receivers: u32,
    pub last_arrival: Time,
}

/// What happened in one time bucket (see [`Collector::set_bucket`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub joins: u32,
    pub leaves: u32,
    /// Peers that started playing / stopped playing (left) in the bucket.
    pub play_starts: u32,
    pub play_stops: u32,
    pub played: u32,
    pub missed: u32,
    /// Upload bytes serialized by peers (source and tracker excluded).
    pub peer_upload: u64,
    /// Upload bytes serialized by the source.
    pub source_upload: u64,
    /// Upload bytes serialized by a CDN edge.
    pub edge_upload: u64,
}

/// Accumulates a run.
pub struct Collector {
    pub stream: StreamParams,
    pub nodes: Vec<PeerStats>,
    pub chunks: Vec<ChunkStat>,
    /// Source emission -> first arrival at a peer, per chunk per peer.
    pub delivery: Histogram,
    /// Width of a time bucket of [`Collector::buckets`].
    pub bucket: Time,
    pub buckets: Vec<Bucket>,
    /// Closed constant-capacity periods `(from, to, up_bps)` of peers whose
    /// upload changed during the run (the open period is in `PeerStats`).
    pub segments: Vec<(Time, Time, f64)>,
    /// Address exposure: for each node, how many other nodes learned its
    /// address (received a message from it, or its id in a member list or
    /// root path). The tracker is not counted as a learner. See [`Collector::exposure`].
    pub known_by: Vec<u32>,
    /// For each present learner, the set of subjects it learned (freed when
    /// it leaves: ids are never reused, so it learns nothing more). Kept on
    /// the learner's side because a message's ids all go to one learner; the
    /// subject's counter is touched only for a new pair.
    known: Vec<IdSet>,
    /// Per learner, a direct-mapped cache of subjects it is already recorded
    /// as knowing (`subject + 1`, 0 = empty), indexed by `subject % LEARN_WAYS`.
    /// Most calls of [`Collector::learns`] repeat a pair (every message between
    /// partners); the cache answers them from one cache line without a search.
    /// It only skips pairs already recorded, so the result is unchanged.
    recent: Vec<[u32; LEARN_WAYS]>,
    /// Open relations of an honest node with an attacker: (honest, attacker) -> since.
    attack_relations: std::collections::BTreeMap<(u32, u32), Time>,
    /// Durations of honest-attacker relations the honest side ended (time to eject).
    pub eject_times: Vec<Time>,
    /// Honest-attacker relations that ended because either side left, or were open at the end.
    pub relations_not_ejected: u32,
    /// Well-formed messages protocols dropped for implausible values, by reason.
    pub dropped: std::collections::BTreeMap<protocols::DropReason, u64>,
    /// Media wire bytes delivered to peers, by the sender's kind: from peers
    /// (peer-to-peer) and from the infrastructure (source and CDN edge).
    pub media_to_peers_from_peers: u64,
    pub media_to_peers_from_infra: u64,
    /// Messages lost because sender and receiver are both behind a NAT.
    pub nat_blocked: u64,
    /// Per node id, its ISP (`[isp]`; empty: ISPs not tracked).
    pub isp: Vec<u32>,
    /// Media wire bytes delivered to peers from a node of another ISP.
    pub media_to_peers_cross_isp: u64,
    /// Which nodes a shard records (one part of a multi-threaded run,
    /// [`Collector::shard`]): those of its part, node `id` at index
    /// `layout.local(id)`; one part for a whole run.
    layout: Layout,
    /// Roles, behaviours and departure times of every node, known before the
    /// run, for what a shard asks about nodes it does not record (empty: ask
    /// `nodes`).
    info: Arc<NodeInfo>,
    /// The node of each entry of `segments` (to merge shards in a fixed order).
    segment_nodes: Vec<u32>,
}

/// What every shard of a run's collector knows of every node before the run
/// ([`Collector::shard`]).
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub role: Vec<NodeRole>,
    pub behaviour: Vec<u8>,
    /// When the node leaves ([`Time::MAX`]: it stays to the end).
    pub leave: Vec<Time>,
}

/// Entries of the per-learner cache of [`Collector::learns`] (64 bytes).
const LEARN_WAYS: usize = 16;

impl Collector {
    pub fn new(stream: StreamParams) -> Collector {
        Collector {
            stream,
            nodes: Vec::new(),
            chunks: Vec::new(),
            delivery: Histogram::default(),
            bucket: Time::from_secs(1),
            buckets: Vec::new(),
            segments: Vec::new(),
            known_by: Vec::new(),
            known: Vec::new(),
            recent: Vec::new(),
            attack_relations: Default::default(),
            eject_times: Vec::new(),
            relations_not_ejected: 0,
            dropped: std::collections::BTreeMap::new(),
            media_to_peers_from_peers: 0,
            media_to_peers_from_infra: 0,
            nat_blocked: 0,
            isp: Vec::new(),
            media_to_peers_cross_isp: 0,
            layout: Layout::stride(1),
            info: Arc::new(NodeInfo::default()),
            segment_nodes: Vec::new(),
        }
    }

    /// The collector of part `part` of a run split by `layout`: it records
    /// the nodes of that part, and learns what it needs of the others from
    /// `info`. Shards are combined by [`Collector::merge`]; the result does
    /// not depend on how the nodes were split.
    pub fn shard(stream: StreamParams, part: u32, layout: Layout, info: Arc<NodeInfo>) -> Collector {
        debug_assert!(part < layout.parts());
        Collector { layout, info, ..Collector::new(stream) }
    }

    /// Node `id`'s index in this collector's per-node tables.
    #[inline]
    fn local(&self, id: PeerId) -> usize {
        self.layout.local(id.0)
    }

    /// Node `id`'s role, while it has joined (any node, for a shard).
    fn role_of(&self, id: PeerId) -> Option<NodeRole> {
        match self.info.role.get(id.index()) {
            Some(&r) => Some(r),
            None if self.info.role.is_empty() => self.nodes.get(self.local(id)).map(|n| n.role),
            None => None,
        }
    }

    /// Combines the shards of one run (in part order: shard `k` recorded the
    /// nodes of part `k` of their layout) into the collector of the whole run.
    /// Every combined quantity is a per-node record, an integer sum, a
    /// maximum, or a list put in a fixed order, so the result is the same for
    /// any number of shards.
    pub fn merge(mut shards: Vec<Collector>) -> Collector {
        let parts = shards.len();
        if parts == 1 && shards[0].info.role.is_empty() {
            return shards.pop().unwrap_or_else(|| unreachable!());
        }
        let first = &shards[0];
        let mut c = Collector::new(first.stream);
        c.bucket = first.bucket;
        c.isp = first.isp.clone();
        c.info = first.info.clone();
        let layout = first.layout.clone();
        debug_assert_eq!(layout.parts() as usize, parts);
        let n = shards
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.nodes.is_empty())
            .map(|(k, s)| layout.global(k, s.nodes.len() - 1) as usize + 1)
            .max()
            .unwrap_or(0);
        let mut tables: Vec<_> = shards.iter_mut().map(|s| std::mem::take(&mut s.nodes).into_iter()).collect();
        c.nodes = (0..n).map(|i| tables[layout.part_of(i as u32)].next().unwrap_or_default()).collect();
        let mut segments = Vec::new();
        for s in shards {
            for (i, k) in s.chunks.iter().enumerate() {
                if c.chunks.len() <= i {
                    c.chunks.resize(i + 1, ChunkStat::default());
                }
                c.chunks[i].receivers += k.receivers;
                c.chunks[i].last_arrival = c.chunks[i].last_arrival.max(k.last_arrival);
            }
            c.delivery.merge(&s.delivery);
            if c.buckets.len() < s.buckets.len() {
                c.buckets.resize(s.buckets.len(), Bucket::default());
            }
            for (a, b) in c.buckets.iter_mut().zip(&s.buckets) {
                a.joins += b.joins;
                a.leaves += b.leaves;
                a.play_starts += b.play_starts;
                a.play_stops += b.play_stops;
                a.played += b.played;
                a.missed += b.missed;
                a.peer_upload += b.peer_upload;
                a.source_upload += b.source_upload;
                a.edge_upload += b.edge_upload;
            }
            segments.extend(s.segments.into_iter().zip(s.segment_nodes));
            if c.known_by.len() < s.known_by.len() {
                c.known_by.resize(s.known_by.len(), 0);
            }
            for (a, b) in c.known_by.iter_mut().zip(&s.known_by) {
                *a += b;
            }
            c.attack_relations.extend(s.attack_relations);
            c.eject_times.extend(s.eject_times);
            c.relations_not_ejected += s.relations_not_ejected;
            for (reason, k) in s.dropped {
                *c.dropped.entry(reason).or_insert(0) += k;
            }
            c.media_to_peers_from_peers += s.media_to_peers_from_peers;
            c.media_to_peers_from_infra += s.media_to_peers_from_infra;
            c.nat_blocked += s.nat_blocked;
            c.media_to_peers_cross_isp += s.media_to_peers_cross_isp;
        }
        // Capacity periods by their end, then by node (the order in which a
        // single-threaded run closes them, up to ties of the same instant).
        segments.sort_by_key(|&((_, to, _), node)| (to, node));
        (c.segments, c.segment_nodes) = segments.into_iter().unzip();
        c.eject_times.sort_unstable();
        c
    }

    /// Node `id` is behind a NAT; call before it joins.
    pub fn set_nat(&mut self, id: PeerId) {
        self.node(id).nat = true;
    }

    /// Node `id` runs behaviour `index` (0 = honest); call before it joins.
    pub fn set_behaviour(&mut self, id: PeerId, index: u8) {
        self.node(id).behaviour = index;
    }

    fn is_attacker(&self, id: PeerId) -> bool {
        match self.info.behaviour.get(id.index()) {
            Some(&b) => b != 0,
            None => self.info.behaviour.is_empty() && self.nodes.get(self.local(id)).is_some_and(|n| n.behaviour != 0),
        }
    }

    /// Whether the attack relation with `attacker` begun at `since` ended
    /// because the attacker left at or before `now` (a shard does not see
    /// other nodes leave; it knows when they do).
    fn ended_by_leave(&self, attacker: PeerId, since: Time, now: Time) -> bool {
        self.info.leave.get(attacker.index()).is_some_and(|&left| since < left && left <= now)
    }

    /// Closes every open honest-attacker relation (relations still open at the end of the run).
    pub fn close_relations(&mut self) {
        self.relations_not_ejected += self.attack_relations.len() as u32;
        self.attack_relations.clear();
    }

    /// Sets the width of the time buckets (default 1 s); call before the run.
    pub fn set_bucket(&mut self, width: Time) {
        self.bucket = Time(width.0.max(1));
    }

    fn at(&mut self, now: Time) -> &mut Bucket {
        let k = (now.0 / self.bucket.0) as usize;
        if self.buckets.len() <= k {
            self.buckets.resize(k + 1, Bucket::default());
        }
        &mut self.buckets[k]
    }

    /// Reserves the per-node tables for `n` nodes of this collector (its
    /// shard's share of every node that will join), so that they are not
    /// grown by doubling (a memory hint; no effect on results).
    pub fn reserve_nodes(&mut self, n: usize) {
        self.nodes.reserve_exact(n.saturating_sub(self.nodes.len()));
        self.recent.reserve_exact(n.saturating_sub(self.recent.len()));
        self.known.reserve_exact(n.saturating_sub(self.known.len()));
    }

    fn node(&mut self, id: PeerId) -> &mut PeerStats {
        let i = self.local(id);
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, PeerStats::default);
        }
        &mut self.nodes[i]
    }

    pub fn join(&mut self, id: PeerId, role: NodeRole, class: u16, up_bps: u64, now: Time) {
        let n = self.node(id);
        n.present = true;
        n.role = role;
        n.class = class;
        n.up_bps = up_bps;
        n.joined = now;
        n.cap_since = now;
        if role == NodeRole::Peer {
            self.at(now).joins += 1;
        }
    }

    pub fn leave(&mut self, id: PeerId, now: Time) {
        let n = self.node(id);
        if n.left.is_some() {
            return;
        }
        n.left = Some(now);
        n.cur_run = 0;
        if let Some(since) = n.stalled_since.take() {
            n.rebuffer_time += now - since;
        }
        if !self.attack_relations.is_empty() {
            // A shard keeps the relations of its honest nodes; those with an
            // attacker that left end in `ended_by_leave`'s reckoning.
            let lazy = !self.info.leave.is_empty();
            let before = self.attack_relations.len();
            self.attack_relations.retain(|&(h, a), _| h != id.0 && (lazy || a != id.0));
            self.relations_not_ejected += (before - self.attack_relations.len()) as u32;
        }
        let l = self.local(id);
        let n = &mut self.nodes[l];
        let (peer, playing) = (n.role == NodeRole::Peer, n.play_start.is_some());
        if let Some(k) = self.known.get_mut(l) {
            *k = IdSet::default();
        }
        let b = self.at(now);
        if peer {
            b.leaves += 1;
            b.play_stops += playing as u32;
        }
    }

    /// Node `id`'s upload capacity changed to `up_bps` at `now`.
    pub fn capacity(&mut self, id: PeerId, now: Time, up_bps: u64) {
        let n = self.node(id);
        let (since, old, role) = (n.cap_since, n.up_bps, n.role);
        n.cap_bits += old as f64 * (now - since).as_secs_f64();
        n.cap_since = now;
        n.up_bps = up_bps;
        if role == NodeRole::Peer && now > since {
            self.segments.push((since, now, old as f64));
            self.segment_nodes.push(id.0);
        }
    }

    /// `learner` now knows `subject`'s address (no-op for itself, or when the
    /// learner is the tracker, node 0, which every member registers with).
    pub fn learns(&mut self, learner: PeerId, subject: PeerId) {
        if learner == subject || learner.0 == 0 {
            return;
        }
        let l = self.local(learner);
        if self.recent.len() <= l {
            self.recent.resize(l + 1, [0; LEARN_WAYS]);
        }
        // `u32::MAX` would tag as 0 (empty) and is never cached.
        let tag = subject.0.wrapping_add(1);
        let way = &mut self.recent[l][subject.index() % LEARN_WAYS];
        if tag != 0 && *way == tag {
            return;
        }
        *way = tag;
        if self.known.len() <= l {
            self.known.resize_with(l + 1, IdSet::default);
        }
        if self.known[l].insert(subject.0) {
            let i = subject.index();
            if self.known_by.len() <= i {
                self.known_by.resize(i + 1, 0);
            }
            self.known_by[i] += 1;
        }
    }

    /// Cache hint: node `id` will send or receive soon: its stats, its
    /// learner cache and set header (no effect on results).
    pub fn prefetch_node(&self, id: PeerId) {
        let i = self.local(id);
        if let Some(n) = self.nodes.get(i) {
            prefetch(n, 1);
        }
        if let Some(r) = self.recent.get(i) {
            prefetch(r, 1);
        }
        if let Some(k) = self.known.get(i) {
            prefetch(k, 1);
        }
    }

    /// Cache hint, after [`Collector::prefetch_node`] of `to`: the slot of
    /// `from` in `to`'s learner set.
    pub fn prefetch_delivery(&self, to: PeerId, from: PeerId) {
        if let Some(k) = self.known.get(self.local(to)) {
            k.prefetch(from.0);
        }
    }

    /// Distinct nodes that learned node `id`'s address (address exposure).
    pub fn exposure(&self, id: PeerId) -> u32 {
        self.known_by.get(id.index()).copied().unwrap_or(0)
    }

    /// `from` finished serializing `wire_bytes` at `now`.
    pub fn sent(&mut self, from: PeerId, now: Time, wire_bytes: u64, media: bool) {
        let n = self.node(from);
        if media {
            n.up_media += wire_bytes
        } else {
            n.up_control += wire_bytes
        }
        let role = n.role;
        match role {
            NodeRole::Peer => self.at(now).peer_upload += wire_bytes,
            NodeRole::Source => self.at(now).source_upload += wire_bytes,
            NodeRole::Edge => self.at(now).edge_upload += wire_bytes,
            NodeRole::Tracker => {}
        }
    }

    /// `from` finished serializing a corrupted chunk of `wire_bytes`.
    pub fn sent_polluted(&mut self, from: PeerId, wire_bytes: u64) {
        self.node(from).up_polluted += wire_bytes;
    }

    pub fn delivered(&mut self, to: PeerId, wire_bytes: u64, media: bool) {
        let n = self.node(to);
        if media { n.down_media += wire_bytes } else { n.down_control += wire_bytes }
    }

    /// A media message of `wire_bytes` from `from` was delivered to `to`
    /// (after [`Collector::delivered`]): counted by sender kind when `to` is
    /// a peer (P2P offload, CDN accounting).
    pub fn media_from(&mut self, to: PeerId, from: PeerId, wire_bytes: u64) {
        let role = |c: &Collector, id: PeerId| c.role_of(id);
        if role(self, to) != Some(NodeRole::Peer) {
            return;
        }
        if !self.isp.is_empty() && self.isp.get(from.index()) != self.isp.get(to.index()) {
            self.media_to_peers_cross_isp += wire_bytes;
        }
        match role(self, from) {
            Some(NodeRole::Peer) => self.media_to_peers_from_peers += wire_bytes,
            Some(r) if r.is_infrastructure() => self.media_to_peers_from_infra += wire_bytes,
            _ => {}
        }
    }

    pub fn record(&mut self, id: PeerId, now: Time, r: &Record) {
        let stream = self.stream;
        match *r {
            Record::PlayStart { first } => {
                let n = self.node(id);
                if n.play_start.is_none() {
                    n.play_start = Some(now);
                    n.first_seq = first;
                    self.at(now).play_starts += 1;
                }
            }
            Record::Played { polluted, .. } => {
                let n = self.node(id);
                n.played += 1;
                n.polluted_played += polluted as u32;
                n.cur_run = 0;
                self.at(now).played += 1;
            }
            Record::Stall { .. } => {
                let n = self.node(id);
                n.rebuffers += 1;
                n.stalled_since = Some(now);
            }
            Record::Resume { .. } => {
                let n = self.node(id);
                if let Some(since) = n.stalled_since.take() {
                    n.rebuffer_time += now - since;
                }
            }
            Record::Missed { .. } => {
                let n = self.node(id);
                n.missed += 1;
                if n.cur_run == 0 {
                    n.stall_runs += 1;
                }
                n.cur_run += 1;
                n.longest_stall = n.longest_stall.max(n.cur_run);
                self.at(now).missed += 1;
            }
            Record::ChunkArrived { seq, duplicate, late, .. } => {
                let n = self.node(id);
                if duplicate {
                    n.duplicate_chunks += 1;
                } else if late {
                    n.late_chunks += 1;
                } else {
                    n.useful_chunks += 1;
                    self.delivery.add((now - stream.emission(seq)).as_nanos());
                    let i = seq as usize;
                    if self.chunks.len() <= i {
                        self.chunks.resize(i + 1, ChunkStat::default());
                    }
                    let c = &mut self.chunks[i];
                    c.receivers += 1;
                    c.last_arrival = c.last_arrival.max(now);
                }
            }
            Record::NeighbourAdded { peer } => {
                if self.is_attacker(peer) && !self.is_attacker(id) {
                    let since = self.attack_relations.get(&(id.0, peer.0)).copied();
                    match since {
                        Some(s) if self.ended_by_leave(peer, s, now) => {
                            // The old relation ended when the attacker left; this is a new one.
                            self.relations_not_ejected += 1;
                            self.attack_relations.insert((id.0, peer.0), now);
                        }
                        Some(_) => {}
                        None => {
                            self.attack_relations.insert((id.0, peer.0), now);
                        }
                    }
                }
            }
            Record::NeighbourRemoved { peer } => {
                if let Some(since) = self.attack_relations.remove(&(id.0, peer.0)) {
                    if self.ended_by_leave(peer, since, now) {
                        self.relations_not_ejected += 1;
                    } else {
                        self.eject_times.push(now - since);
                    }
                }
            }
            Record::Rejected { .. } => self.node(id).rejected_chunks += 1,
            Record::Dropped { reason, .. } => *self.dropped.entry(reason).or_insert(0) += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_counts_distinct_learners_but_not_the_tracker_or_itself() {
        let stream = StreamParams { rate_bps: 8000, chunk_duration: Time::from_secs(1) };
        let mut c = Collector::new(stream);
        for (learner, subject) in [(5, 3), (7, 3), (5, 3), (0, 3), (3, 3), (9, 4)] {
            c.learns(PeerId(learner), PeerId(subject));
        }
        assert_eq!((c.exposure(PeerId(3)), c.exposure(PeerId(4)), c.exposure(PeerId(5))), (2, 1, 0));
        // A learner that left learns nothing more, and its list is freed.
        c.leave(PeerId(5), Time::from_secs(1));
        assert_eq!((c.known[5].len(), c.known[5].heap_bytes()), (0, 0));
        assert_eq!(c.exposure(PeerId(3)), 2);
    }

    #[test]
    fn stalls_count_runs_of_consecutive_misses() {
        let stream = StreamParams { rate_bps: 8000, chunk_duration: Time::from_secs(1) };
        let mut c = Collector::new(stream);
        let p = PeerId(3);
        c.join(p, NodeRole::Peer, 0, 1000, Time::from_secs(2));
        c.record(p, Time::from_secs(7), &Record::PlayStart { first: 4 });
        for r in [
            Record::Played { seq: 4, polluted: false },
            Record::Missed { seq: 5 },
            Record::Missed { seq: 6 },
            Record::Played { seq: 7, polluted: true },
            Record::Missed { seq: 8 },
        ] {
            c.record(p, Time::from_secs(8), &r);
        }
        let s = &c.nodes[3];
        assert_eq!((s.played, s.missed, s.stall_runs, s.longest_stall, s.polluted_played), (2, 3, 2, 2, 1));
        assert_eq!(s.continuity(), Some(0.4));
        assert_eq!(s.startup_delay(), Some(Time::from_secs(5)));
        assert_eq!(s.lag(&stream), Some(Time::from_secs(3)));
    }
}
