//! Mesh-pull streaming in the CoolStreaming/DONet style.
//!
//! Follows X. Zhang, J. Liu, B. Li, T.-S. P. Yum, "CoolStreaming/DONet: A
//! Data-driven Overlay Network for Peer-to-Peer Live Media Streaming",
//! IEEE INFOCOM 2005. Every node keeps a partial membership cache (mCache)
//! filled from the tracker and by gossip, holds up to `partners_max` partners
//! (it seeks `partners`), exchanges buffer maps with its partners every
//! `buffer_map_interval`, and pulls missing chunks with receiver-driven
//! requests every `schedule_interval`, choosing chunks and suppliers with a
//! [`SchedulerSpec`] (DONet's heuristic by default: rarest first, then the
//! supplier that meets the deadline soonest given its estimated bandwidth).
//! Partners are refreshed every `refresh_interval`: those silent for
//! `partner_timeout` are dropped (crash detection), the lowest-scoring one is
//! dropped when its score (bytes exchanged both ways in the last period) is
//! below `underperform_ratio` x the mean, or whatever it is when the player's
//! buffer is empty and no new chunk arrived since the last refresh
//! (starvation: the mesh may be cut off from the source), and new ones are sought from the mCache (or the tracker when
//! it is empty or the node starves).
//!
//! Departures from the paper: the membership gossip sends a random sample of
//! the mCache to one partner (DONet uses SCAM-style membership messages with
//! TTLs); a supplier drops requests that would wait behind more than
//! `max_upload_backlog` of queued upload (DONet leaves this unspecified);
//! supplier bandwidth is estimated from request-to-arrival times of past
//! chunks, starting from half the partner's advertised upload capacity.
//!
//! Parameters and defaults ([`MeshParams::default`]):
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `partners` | 4 | partners sought (DONet's M = 4) |
//! | `partners_max` | 8 | most partners accepted |
//! | `window` | 120 | chunks in a buffer map (DONet: 120 one-second segments) |
//! | `buffer_map_interval` | 1 s | period of buffer-map exchange |
//! | `schedule_interval` | 0.5 s | period of the request scheduler |
//! | `gossip_interval` | 5 s | period of membership gossip |
//! | `refresh_interval` | 10 s | period of partner refresh |
//! | `mcache_size` | 32 | mCache entries |
//! | `partner_timeout` | 5 s | silence after which a partner is dropped |
//! | `request_timeout` | 1 s | a request unanswered this long after its expected arrival is re-issued |
//! | `underperform_ratio` | 0.25 | drop the worst partner if below this x mean score |
//! | `max_upload_backlog` | 1 s | a supplier serves no request queued longer than this |
//! | `urgent_window` | 3 s | chunks due within this are scheduled before all others |
//! | `tracker_list_size` | 20 | members asked of the tracker |
//! | `tracker_refresh` | 30 s | re-registration period |

use std::sync::Arc;

use rand::RngExt;

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::peer::{Command, Ctx, Peer, Record, StreamParams};
use crate::playback::{Player, PlayerAction, PlayerParams, SeqRing};
use crate::prefetch::prefetch_slice;
use crate::sched::{Candidate, SchedInput, Scheduler, SchedulerSpec, Supplier};
use crate::time::Time;
use crate::wire::{Msg, Role, wire_bytes};

/// Mesh-pull parameters; see the module doc for meanings and sources.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshParams {
    pub partners: usize,
    pub partners_max: usize,
    pub window: u16,
    pub buffer_map_interval: Time,
    pub schedule_interval: Time,
    pub gossip_interval: Time,
    pub refresh_interval: Time,
    pub mcache_size: usize,
    pub partner_timeout: Time,
    pub request_timeout: Time,
    pub underperform_ratio: f64,
    pub max_upload_backlog: Time,
    pub urgent_window: Time,
    pub tracker_list_size: u16,
    pub tracker_refresh: Time,
}

impl Default for MeshParams {
    fn default() -> Self {
        MeshParams {
            partners: 4,
            partners_max: 8,
            window: 120,
            buffer_map_interval: Time::from_secs(1),
            schedule_interval: Time::from_millis(500),
            gossip_interval: Time::from_secs(5),
            refresh_interval: Time::from_secs(10),
            mcache_size: 32,
            partner_timeout: Time::from_secs(5),
            request_timeout: Time::from_secs(1),
            underperform_ratio: 0.25,
            max_upload_backlog: Time::from_secs(1),
            urgent_window: Time::from_secs(3),
            tracker_list_size: 20,
            tracker_refresh: Time::from_secs(30),
        }
    }
}

/// Everything a mesh node needs to know about the run, shared by all nodes.
#[derive(Clone, Debug)]
pub struct MeshConfig {
    pub stream: StreamParams,
    pub player: PlayerParams,
    pub mesh: MeshParams,
    pub scheduler: SchedulerSpec,
    pub tracker: PeerId,
}

impl MeshConfig {
    /// Bits a chunk occupies on the wire (payload, header and datagram headers).
    pub fn chunk_wire_bits(&self) -> u64 {
        let len = Msg::Chunk { seq: 0, len: self.stream.chunk_bytes(), polluted: false }.encoded_len();
        wire_bytes(len).1 * 8
    }
}

/// Timers of a mesh node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshTimer {
    /// Source: emit the next chunk.
    Emit,
    Play,
    StartupTimeout,
    BufferMap,
    Schedule,
    Gossip,
    Refresh,
    TrackerRefresh,
}

#[derive(Clone, Debug)]
struct Partner {
    id: PeerId,
    map: ChunkMap,
    /// Last time a buffer map (or the acceptance) arrived.
    heard_at: Time,
    rate_bps: u64,
    free_at: Time,
    bytes_from: u64,
    bytes_to: u64,
    /// Arrival time of the last chunk from it (for rate samples).
    last_rx: Time,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: Seq,
    from: PeerId,
    at: Time,
    /// Expected arrival, from the scheduler's estimate.
    expect: Time,
}

/// A mesh-pull node: the source (`is_source`) or a peer. `repr(C)`: what
/// every message and timer reads comes first (a simulator prefetches the
/// first lines of a node's state).
#[repr(C)]
pub struct MeshPeer {
    cfg: Arc<MeshConfig>,
    partners: Vec<Partner>,
    pending: Vec<Pending>,
    newest: Option<Seq>,
    /// `newest` at the previous partner refresh (starvation detection).
    newest_at_refresh: Option<Seq>,
    up_kbps: u32,
    is_source: bool,
    active: bool,
    player: Player,
    have: SeqRing,
    requested: SeqRing,
    hellos: Vec<(PeerId, Time)>,
    mcache: Vec<PeerId>,
    polluted: SeqRing,
    /// This peer's chunk scheduler (built from the configuration's spec).
    sched: Box<dyn Scheduler>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    cands: Vec<Candidate>,
    sups: Vec<Supplier>,
    out: Vec<crate::sched::Assignment>,
}

impl MeshPeer {
    pub fn new(cfg: Arc<MeshConfig>, is_source: bool, up_kbps: u32) -> MeshPeer {
        let player = Player::new(cfg.player);
        let sched = cfg.scheduler.build();
        MeshPeer {
            sched,
            cfg,
            is_source,
            up_kbps,
            active: false,
            have: SeqRing::default(),
            polluted: SeqRing::default(),
            requested: SeqRing::default(),
            pending: Vec::new(),
            newest: None,
            player,
            partners: Vec::new(),
            hellos: Vec::new(),
            mcache: Vec::new(),
            newest_at_refresh: None,
        }
    }

    /// Current partners, in the order they were added.
    pub fn partners(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.partners.iter().map(|p| p.id)
    }
    pub fn is_playing(&self) -> bool {
        self.player.is_playing()
    }
    pub fn has_chunk(&self, seq: Seq) -> bool {
        self.have.contains(seq)
    }

    fn max_partners(&self) -> usize {
        self.cfg.mesh.partners_max
    }
    fn partner_mut(&mut self, id: PeerId) -> Option<&mut Partner> {
        self.partners.iter_mut().find(|p| p.id == id)
    }
    fn is_partner(&self, id: PeerId) -> bool {
        self.partners.iter().any(|p| p.id == id)
    }

    fn my_map(&self) -> ChunkMap {
        let w = self.cfg.mesh.window;
        let newest = self.newest.unwrap_or(0);
        let base = (newest + 1).saturating_sub(w as u32);
        self.have.to_map(base, w)
    }

    fn add_partner(&mut self, id: PeerId, up_kbps: u32, cx: &mut Ctx<'_, MeshTimer>) {
        if self.is_partner(id) || id == cx.me {
            return;
        }
        self.partners.push(Partner {
            id,
            map: ChunkMap::default(),
            heard_at: cx.now,
            rate_bps: (up_kbps as u64 * 1000 / 2).max(1),
            free_at: cx.now,
            bytes_from: 0,
            bytes_to: 0,
            last_rx: Time::ZERO,
        });
        cx.record(Record::NeighbourAdded { peer: id });
        cx.send(id, Msg::BufferMap(self.my_map()));
    }

    fn remove_partner(&mut self, id: PeerId, cx: &mut Ctx<'_, MeshTimer>) {
        if let Some(i) = self.partners.iter().position(|p| p.id == id) {
            self.partners.remove(i);
            self.sched.on_partner_removed(id);
            cx.record(Record::NeighbourRemoved { peer: id });
            // Requests outstanding at it will never be answered.
            let requested = &mut self.requested;
            self.pending.retain(|p| {
                if p.from == id {
                    requested.remove(p.seq);
                    false
                } else {
                    true
                }
            });
        }
    }

    fn remember(&mut self, id: PeerId, cx: &mut Ctx<'_, MeshTimer>) {
        if id == cx.me || id == self.cfg.tracker || self.mcache.contains(&id) {
            return;
        }
        if self.mcache.len() < self.cfg.mesh.mcache_size {
            self.mcache.push(id);
        } else if !self.mcache.is_empty() {
            let i = cx.rng.random_range(0..self.mcache.len());
            self.mcache[i] = id;
        }
    }

    fn apply(&mut self, a: PlayerAction, cx: &mut Ctx<'_, MeshTimer>) {
        match a {
            PlayerAction::Nothing => {}
            PlayerAction::ArmPlay(at) => cx.timer_at(at, MeshTimer::Play),
            PlayerAction::ArmStartupTimeout(at) => cx.timer_at(at, MeshTimer::StartupTimeout),
        }
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, MeshTimer>) {
        let wire_bits = self.cfg.chunk_wire_bits();
        let now = cx.now;
        let asked_at = match self.pending.iter().position(|p| p.seq == seq && p.from == from) {
            Some(i) => {
                let p = self.pending.swap_remove(i);
                self.requested.remove(seq);
                self.sched.on_arrival(from, seq, p.at, cx.now);
                Some(p.at)
            }
            None => None,
        };
        if let Some(pt) = self.partner_mut(from) {
            pt.bytes_from += len as u64;
            if let Some(at) = asked_at {
                // Service time of this chunk: from when the supplier could start
                // on it (our request, or its previous chunk to us) to arrival.
                let took = (now - at.max(pt.last_rx)).as_nanos().max(1);
                let sample = (wire_bits as u128 * 1_000_000_000 / took as u128) as u64;
                pt.rate_bps = ((pt.rate_bps as u128 * 7 + sample as u128 * 3) / 10).max(1) as u64;
            }
            pt.last_rx = now;
        }
        let late = self.player.is_playing() && self.player.needed_from().is_some_and(|n| seq < n);
        let duplicate = self.have.contains(seq);
        cx.record(Record::ChunkArrived { seq, from, duplicate, late });
        if duplicate || late {
            return;
        }
        self.have.insert(seq);
        if polluted {
            self.polluted.insert(seq);
        }
        self.newest = Some(self.newest.map_or(seq, |n| n.max(seq)));
        let a = self.player.check_startup(&self.have, cx);
        self.apply(a, cx);
    }

    fn serve(&mut self, from: PeerId, req: ChunkMap, cx: &mut Ctx<'_, MeshTimer>) {
        if !self.is_partner(from) {
            return;
        }
        let len = self.cfg.stream.chunk_bytes();
        let per_chunk = Time::transmit(self.cfg.chunk_wire_bits() / 8, self.up_kbps as u64 * 1000);
        let mut backlog = cx.upload_backlog;
        let mut served = 0u64;
        for seq in req.iter() {
            if !self.have.contains(seq) {
                continue;
            }
            if backlog > self.cfg.mesh.max_upload_backlog {
                break;
            }
            backlog += per_chunk;
            served += len as u64;
            cx.send(from, Msg::Chunk { seq, len, polluted: self.polluted.contains(seq) });
        }
        if let Some(p) = self.partner_mut(from) {
            p.bytes_to += served;
        }
    }

    fn schedule(&mut self, cx: &mut Ctx<'_, MeshTimer>) {
        let now = cx.now;
        let timeout = self.cfg.mesh.request_timeout;
        // Expire unanswered requests and penalise their suppliers.
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].expect + timeout <= now {
                let p = self.pending.swap_remove(i);
                self.requested.remove(p.seq);
                self.sched.on_expired(p.from, p.seq, now);
                if let Some(pt) = self.partners.iter_mut().find(|x| x.id == p.from) {
                    pt.rate_bps = (pt.rate_bps / 2).max(1);
                }
            } else {
                i += 1;
            }
        }
        let newest_adv = self.partners.iter().filter_map(|p| p.map.newest()).max();
        let Some(newest_adv) = newest_adv else { return };
        if self.player.is_idle() {
            // Start from the newest chunk a majority of partners hold (the lower
            // median of their newest), not the best partner's: the lag then
            // covers the delivery delay of a typical path through the mesh.
            let mut heads: Vec<Seq> = self.partners.iter().filter_map(|p| p.map.newest()).collect();
            heads.sort_unstable();
            let a = self.player.choose_start(heads[(heads.len() - 1) / 2], now);
            self.apply(a, cx);
        }
        let Some(lo) = self.player.needed_from() else {
            return;
        };
        let hi = newest_adv.min(lo.saturating_add(self.cfg.mesh.window as u32 - 1));
        if hi < lo {
            return;
        }
        let stream = self.cfg.stream;
        let wire_bits = self.cfg.chunk_wire_bits();
        SCRATCH.with_borrow_mut(|s| {
            s.cands.clear();
            for seq in lo..=hi {
                if self.have.contains(seq) || self.requested.contains(seq) {
                    continue;
                }
                let deadline = self.player.deadline(seq, &stream, now);
                if deadline <= now && self.player.is_playing() {
                    continue;
                }
                let urgent = self.player.in_startup_buffer(seq);
                s.cands.push(Candidate { seq, deadline, urgent });
            }
            if s.cands.is_empty() {
                return;
            }
            s.sups.clear();
            let pending = &self.pending;
            s.sups.extend(self.partners.iter().map(|p| Supplier {
                id: p.id,
                map: p.map,
                rate_bps: p.rate_bps,
                free_at: p.free_at.max(now),
                in_flight: pending.iter().filter(|q| q.from == p.id).count() as u32,
            }));
            s.out.clear();
            let Scratch { cands, sups, out } = s;
            let input = SchedInput {
                now,
                urgent: self.cfg.mesh.urgent_window,
                chunk_wire_bits: wire_bits,
                candidates: cands,
                playback: self.player.needed_from(),
                upload_backlog: cx.upload_backlog,
            };
            self.sched.schedule(&input, sups, out, cx.rng);
            for (k, p) in self.partners.iter_mut().enumerate() {
                p.free_at = sups[k].free_at;
            }
            out.sort_unstable_by_key(|a| (a.supplier, a.seq));
            let mut k = 0;
            while k < out.len() {
                let i = out[k].supplier;
                let mut req = ChunkMap::new(lo, self.cfg.mesh.window);
                while k < out.len() && out[k].supplier == i {
                    let a = out[k];
                    req.insert(a.seq);
                    self.requested.insert(a.seq);
                    self.pending.push(Pending { seq: a.seq, from: self.partners[i].id, at: now, expect: a.expect });
                    k += 1;
                }
                cx.send(self.partners[i].id, Msg::Request(req));
            }
        });
    }

    fn refresh(&mut self, cx: &mut Ctx<'_, MeshTimer>) {
        let now = cx.now;
        let timeout = self.cfg.mesh.partner_timeout;
        let silent: Vec<PeerId> = self.partners.iter().filter(|p| p.heard_at + timeout < now).map(|p| p.id).collect();
        for id in silent {
            self.remove_partner(id, cx);
            self.mcache.retain(|&m| m != id);
        }
        self.hellos.retain(|&(_, at)| at + timeout >= now);
        // Starving: playing with an empty buffer and no new chunk since the
        // last refresh. Every partner is then replaceable, so one is swapped for a
        // fresh candidate (the tracker is asked too): otherwise a mesh cut off
        // from the source (outage, partition) would never find it again.
        let drained =
            self.player.is_playing() && self.newest.is_some_and(|n| self.player.needed_from().is_some_and(|x| n < x));
        let starving = !self.is_source && drained && self.newest == self.newest_at_refresh;
        self.newest_at_refresh = self.newest;
        if !self.is_source && self.partners.len() >= self.cfg.mesh.partners {
            let score = |p: &Partner| p.bytes_from + p.bytes_to;
            let mean = self.partners.iter().map(score).sum::<u64>() as f64 / self.partners.len() as f64;
            let worst = self.partners.iter().min_by_key(|p| score(p)).map(|p| (p.id, score(p)));
            if let Some((id, s)) = worst
                && (starving || (mean > 0.0 && (s as f64) < self.cfg.mesh.underperform_ratio * mean))
            {
                cx.send(id, Msg::Bye);
                self.remove_partner(id, cx);
            }
        }
        if starving {
            cx.send(self.cfg.tracker, Msg::PeerListReq { want: self.cfg.mesh.tracker_list_size });
        }
        for p in &mut self.partners {
            p.bytes_from = 0;
            p.bytes_to = 0;
        }
        if !self.is_source {
            self.seek_partners(cx);
        }
    }

    fn seek_partners(&mut self, cx: &mut Ctx<'_, MeshTimer>) {
        let want = self.cfg.mesh.partners.saturating_sub(self.partners.len() + self.hellos.len());
        if want == 0 {
            return;
        }
        let mut cands: Vec<PeerId> = self
            .mcache
            .iter()
            .copied()
            .filter(|&c| !self.is_partner(c) && !self.hellos.iter().any(|&(h, _)| h == c))
            .collect();
        if cands.len() < want {
            cx.send(self.cfg.tracker, Msg::PeerListReq { want: self.cfg.mesh.tracker_list_size });
        }
        for k in 0..want.min(cands.len()) {
            let j = cx.rng.random_range(k..cands.len());
            cands.swap(k, j);
            let c = cands[k];
            self.hellos.push((c, cx.now));
            cx.send(c, Msg::Hello { up_kbps: self.up_kbps });
        }
    }

    fn gossip(&mut self, cx: &mut Ctx<'_, MeshTimer>) {
        if self.partners.is_empty() {
            return;
        }
        let to = self.partners[cx.rng.random_range(0..self.partners.len())].id;
        let mut sample = vec![cx.me];
        for _ in 0..7.min(self.mcache.len()) {
            let c = self.mcache[cx.rng.random_range(0..self.mcache.len())];
            if c != to && !sample.contains(&c) {
                sample.push(c);
            }
        }
        cx.send(to, Msg::Gossip { peers: sample });
    }

    fn jitter(&self, period: Time, cx: &mut Ctx<'_, MeshTimer>) -> Time {
        Time(cx.rng.random_range(0..period.0.max(1)))
    }
}

impl Peer for MeshPeer {
    type Timer = MeshTimer;

    /// Every message and most timers search or scan the partner list first.
    fn prefetch(&self) {
        prefetch_slice(&self.partners, 3);
        prefetch_slice(&self.pending, 2);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, MeshTimer>) {
        self.active = true;
        let m = self.cfg.mesh.clone();
        let role = if self.is_source { Role::Source } else { Role::Peer };
        cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
        cx.timer_in(m.tracker_refresh, MeshTimer::TrackerRefresh);
        let j = self.jitter(m.buffer_map_interval, cx);
        cx.timer_in(j, MeshTimer::BufferMap);
        let j = self.jitter(m.gossip_interval, cx);
        cx.timer_in(j, MeshTimer::Gossip);
        let j = self.jitter(m.refresh_interval, cx);
        cx.timer_in(j, MeshTimer::Refresh);
        if self.is_source {
            let first = self.cfg.stream.newest_at(cx.now);
            let at = self.cfg.stream.emission(first);
            let first = if at < cx.now { first + 1 } else { first };
            cx.timer_at(self.cfg.stream.emission(first), MeshTimer::Emit);
        } else {
            cx.send(self.cfg.tracker, Msg::PeerListReq { want: m.tracker_list_size });
            let j = self.jitter(m.schedule_interval, cx);
            cx.timer_in(j, MeshTimer::Schedule);
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, MeshTimer>) {
        if !self.active {
            return;
        }
        match msg {
            Msg::PeerList { peers } | Msg::Gossip { peers } => {
                for p in peers {
                    self.remember(p, cx);
                }
                if !self.is_source && self.partners.len() < self.cfg.mesh.partners {
                    self.seek_partners(cx);
                }
            }
            Msg::Hello { up_kbps } => {
                self.remember(from, cx);
                let accept = self.is_partner(from) || self.partners.len() < self.max_partners();
                if accept {
                    self.add_partner(from, up_kbps, cx);
                }
                cx.send(from, Msg::HelloAck { accept, up_kbps: self.up_kbps });
            }
            Msg::HelloAck { accept, up_kbps } => {
                let asked = self.hellos.iter().position(|&(h, _)| h == from);
                if let Some(i) = asked {
                    self.hellos.swap_remove(i);
                }
                if accept && asked.is_some() {
                    if self.partners.len() < self.max_partners() {
                        self.add_partner(from, up_kbps, cx);
                    } else {
                        cx.send(from, Msg::Bye);
                    }
                } else if !accept {
                    self.mcache.retain(|&m| m != from);
                }
            }
            Msg::Bye => {
                self.remove_partner(from, cx);
                self.mcache.retain(|&m| m != from);
            }
            Msg::BufferMap(map) => {
                let now = cx.now;
                if let Some(p) = self.partner_mut(from) {
                    p.map = map;
                    p.heard_at = now;
                }
            }
            Msg::Request(req) => self.serve(from, req, cx),
            Msg::Chunk { seq, len, polluted } => self.on_chunk(from, seq, len, polluted, cx),
            Msg::Register { .. }
            | Msg::Unregister
            | Msg::PeerListReq { .. }
            | Msg::Join { .. }
            | Msg::JoinAck { .. }
            | Msg::Detach { .. }
            | Msg::Heartbeat { .. } => {}
        }
    }

    fn on_timer(&mut self, timer: MeshTimer, cx: &mut Ctx<'_, MeshTimer>) {
        if !self.active {
            return;
        }
        let m = &self.cfg.mesh;
        match timer {
            MeshTimer::Emit => {
                let seq = self.cfg.stream.newest_at(cx.now);
                self.have.insert(seq);
                self.newest = Some(seq);
                cx.timer_at(self.cfg.stream.emission(seq + 1), MeshTimer::Emit);
            }
            MeshTimer::Play => {
                let stream = self.cfg.stream;
                let a = self.player.on_play_timer(&self.have, &self.polluted, &stream, cx);
                self.apply(a, cx);
            }
            MeshTimer::StartupTimeout => {
                let a = self.player.on_startup_timeout(cx);
                self.apply(a, cx);
            }
            MeshTimer::BufferMap => {
                let period = m.buffer_map_interval;
                if self.newest.is_some() {
                    let map = self.my_map();
                    for p in &self.partners {
                        cx.send(p.id, Msg::BufferMap(map));
                    }
                }
                cx.timer_in(period, MeshTimer::BufferMap);
            }
            MeshTimer::Schedule => {
                let period = m.schedule_interval;
                self.schedule(cx);
                cx.timer_in(period, MeshTimer::Schedule);
            }
            MeshTimer::Gossip => {
                let period = m.gossip_interval;
                self.gossip(cx);
                cx.timer_in(period, MeshTimer::Gossip);
            }
            MeshTimer::Refresh => {
                let period = m.refresh_interval;
                self.refresh(cx);
                cx.timer_in(period, MeshTimer::Refresh);
            }
            MeshTimer::TrackerRefresh => {
                let period = m.tracker_refresh;
                let role = if self.is_source { Role::Source } else { Role::Peer };
                cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
                cx.timer_in(period, MeshTimer::TrackerRefresh);
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, MeshTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                if graceful {
                    for p in &self.partners {
                        cx.send(p.id, Msg::Bye);
                    }
                    cx.send(self.cfg.tracker, Msg::Unregister);
                }
                self.active = false;
                self.partners = Vec::new();
                self.pending = Vec::new();
                self.mcache = Vec::new();
                self.hellos = Vec::new();
            }
        }
    }
}
