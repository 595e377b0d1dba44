//! The partner-mesh core: everything a pull mesh does, for any family that
//! keeps mesh partners (mesh-pull, both hybrids, a researcher's own).
//!
//! [`PartnerMesh`] owns the partners (their buffer maps, estimated rates,
//! exchanged bytes), the pending requests, the outstanding hellos, the
//! membership cache (mCache) and the node's [`Scheduler`]. It implements the
//! mechanisms of CoolStreaming/DONet (Zhang, Liu, Li, Yum, INFOCOM 2005) as
//! [`crate::mesh`] documents them: partnership by `Hello`/`HelloAck`/`Bye`,
//! gossip, periodic buffer maps, receiver-driven requests chosen by the
//! scheduler, serving requests up to an upload-backlog cap, and the periodic
//! partner refresh (timeouts, the worst-scoring partner, starvation).
//!
//! What differs between families is a [`PullPolicy`], implemented by the
//! family's own state: how it asks the tracker, which partners are never
//! dropped for a low score, which chunks it defers (a hybrid waits for the
//! push), when the player starts, and what it keeps per partner
//! ([`PullPolicy::Ext`]). The core's periodic work is driven by
//! [`MeshTimer`]s, which the family's timer type wraps (`From<MeshTimer>`)
//! and hands back to [`PartnerMesh::on_timer`]; the core's messages are
//! handed to [`PartnerMesh::on_message`], which returns those it does not use.

use rand::RngExt;

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::media::{Media, Uplink};
use crate::mesh::{Degree, MeshParams};
use crate::peer::{Ctx, DropReason, Record, StreamParams};
use crate::playback::SeqRing;
use crate::sched::{Assignment, Candidate, SchedInput, Scheduler, Supplier};
use crate::time::Time;
use crate::wire::{ExtCodec, ExtMsg, Msg, Role};

/// "I now hold chunk `seq`": the per-arrival notification of
/// `[protocol.mesh] have = true` (Chainsaw-style, instead of periodic
/// buffer maps) and of random-push. Travels in `Msg::Ext` (kind 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Have {
    pub seq: Seq,
}

impl Have {
    const KIND: u8 = 1;
}

impl ExtCodec for Have {
    fn to_ext(&self) -> ExtMsg {
        ExtMsg { kind: Self::KIND, peers: Vec::new(), data: self.seq.to_le_bytes().to_vec() }
    }
    fn from_ext(m: &ExtMsg) -> Option<Have> {
        let b: [u8; 4] = m.data.as_slice().try_into().ok()?;
        (m.kind == Self::KIND && m.peers.is_empty()).then_some(Have { seq: Seq::from_le_bytes(b) })
    }
}

/// `map` with `seq` added, slid forward (keeping its length, `window` for an
/// empty map) when `seq` is beyond its end; unchanged when `seq` is below it.
pub fn map_with(map: ChunkMap, seq: Seq, window: u16) -> ChunkMap {
    if map.covers(seq) {
        let mut m = map;
        m.insert(seq);
        return m;
    }
    // A map of no length (a partner's before its first buffer map) takes `window`.
    let zero_len = map.end() == map.base() as u64;
    if !zero_len && seq < map.base() {
        return map;
    }
    let len = if zero_len { window } else { map.len() };
    let mut m = ChunkMap::new((seq + 1).saturating_sub(len as u32), len);
    for s in map.iter() {
        m.insert(s);
    }
    m.insert(seq);
    m
}

/// The run's settings a mesh call needs.
#[derive(Clone, Copy, Debug)]
pub struct MeshEnv<'a> {
    pub mesh: &'a MeshParams,
    pub stream: &'a StreamParams,
}

impl<'a> MeshEnv<'a> {
    pub fn new(mesh: &'a MeshParams, stream: &'a StreamParams) -> MeshEnv<'a> {
        MeshEnv { mesh, stream }
    }
    /// Bits one chunk occupies on the wire (computed where a call needs it,
    /// not for every message: most are buffer maps).
    pub fn wire_bits(&self) -> u64 {
        crate::media::chunk_wire_bits(self.stream)
    }
}

/// Periodic work of the mesh core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshTimer {
    BufferMap,
    Schedule,
    Gossip,
    Refresh,
}

/// A mesh partner as the core keeps it; `ext` is the family's own data.
#[derive(Clone, Debug)]
pub struct Partner<X> {
    pub id: PeerId,
    /// Latest buffer map received from it.
    pub map: ChunkMap,
    /// Last time a buffer map (or the acceptance) arrived.
    pub heard_at: Time,
    /// Estimated rate it delivers to us (bits per second).
    pub rate_bps: u64,
    /// When the requests outstanding at it are expected to have arrived.
    pub free_at: Time,
    /// Media bytes from it / to it since the last refresh.
    pub bytes_from: u64,
    pub bytes_to: u64,
    /// Arrival time of the last chunk from it (for rate samples).
    pub last_rx: Time,
    pub ext: X,
}

/// A request in flight.
#[derive(Clone, Copy, Debug)]
pub struct Pending {
    pub seq: Seq,
    pub from: PeerId,
    pub at: Time,
    /// Expected arrival, from the scheduler's estimate.
    pub expect: Time,
}

/// What a family decides for the mesh core. The family's state (minus the
/// core itself) implements it.
pub trait PullPolicy<T> {
    /// Per-partner data of the family.
    type Ext: Clone + std::fmt::Debug;
    fn new_ext(&self) -> Self::Ext;
    /// Asks the tracker for members. `starving`: the mesh may be cut off
    /// from the source (asked from the partner refresh).
    fn ask_tracker(&mut self, starving: bool, cx: &mut Ctx<'_, T>);
    /// `id` stopped being a partner (after the core's bookkeeping).
    fn partner_removed(&mut self, _id: PeerId, _cx: &mut Ctx<'_, T>) {}
    /// Partners never dropped for a low score (e.g. push relations).
    fn keep(&self, _id: PeerId) -> bool {
        false
    }
    /// Before each scheduling round, after expired requests are dropped:
    /// choose the player's start position when it is idle. `hint` is the
    /// core's suggestion ([`PartnerMesh::start_hint`]): the lower median of
    /// the partners' newest chunks once enough of them have advertised any.
    fn before_schedule(
        &mut self,
        partners: &[Partner<Self::Ext>],
        hint: Option<Seq>,
        media: &mut Media,
        cx: &mut Ctx<'_, T>,
    );
    /// Whether a missing chunk is left out of this round (e.g. expected by push).
    fn defer(&self, _seq: Seq, _deadline: Time, _now: Time) -> bool {
        false
    }
    /// At each partner refresh, for each partner (after its scores are reset).
    fn on_refresh(&self, _ext: &mut Self::Ext) {}
}

/// Partner ids kept inline in [`PartnerMesh`] (the default `partners_max`
/// is 10; a longer list searches the records past these).
pub const INLINE_IDS: usize = 12;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    cands: Vec<Candidate>,
    sups: Vec<Supplier>,
    out: Vec<Assignment>,
}

/// The mesh half of a node. `repr(C)`: what every message and timer reads
/// first comes first (a simulator prefetches the first lines of a node).
#[repr(C)]
pub struct PartnerMesh<X> {
    /// The partners, in the order they were added ([`PartnerMesh::partners`]).
    partners: Vec<Partner<X>>,
    pub pending: Vec<Pending>,
    /// The ids of the first [`INLINE_IDS`] partners, in `partners` order:
    /// a search by id (every buffer map, chunk and request) reads this one
    /// line of the node's own state instead of a line per partner record.
    ids: [PeerId; INLINE_IDS],
    /// `media.newest` at the previous partner refresh (starvation detection).
    newest_at_refresh: Option<Seq>,
    pub up_kbps: u32,
    pub is_source: bool,
    pub tracker: PeerId,
    /// Chunks requested and not yet arrived.
    pub requested: SeqRing,
    /// Hellos sent and not answered, with when.
    pub hellos: Vec<(PeerId, Time)>,
    /// The membership cache.
    pub mcache: Vec<PeerId>,
    /// Partners sought and most accepted when set by [`PartnerMesh::with_degree`]
    /// (`degree = "proportional"`); `None`: `partners` and `partners_max`.
    degree: Option<(usize, usize)>,
    sched: Box<dyn Scheduler>,
}

impl<X: Clone + std::fmt::Debug> PartnerMesh<X> {
    pub fn new(sched: Box<dyn Scheduler>, is_source: bool, up_kbps: u32, tracker: PeerId) -> Self {
        PartnerMesh {
            partners: Vec::new(),
            pending: Vec::new(),
            ids: [PeerId(0); INLINE_IDS],
            newest_at_refresh: None,
            up_kbps,
            is_source,
            tracker,
            requested: SeqRing::default(),
            hellos: Vec::new(),
            mcache: Vec::new(),
            degree: None,
            sched,
        }
    }

    /// Applies `[protocol.mesh] degree`. With [`Degree::Proportional`] a
    /// peer's partner count scales with its upload, after PRIME (Magharei &
    /// Rejaie, INFOCOM 2007): every partnership is meant to carry about the
    /// same bandwidth, `rate / partners` each way, so a peer seeks
    /// `max(partners, round(partners x up / rate))` partners (its upload
    /// divided by the per-partner share) and accepts up to
    /// `partners_max / partners` times that (at most 256). PRIME's incoming
    /// degree (proportional to download) is the fixed `partners`: a DONet
    /// partnership is two-way, so one count serves both directions and no
    /// peer seeks fewer than the fixed degree. The source keeps `partners_max`.
    pub fn with_degree(mut self, m: &MeshParams, stream: &StreamParams) -> Self {
        if m.degree == Degree::Proportional && !self.is_source && stream.rate_bps > 0 {
            let share = self.up_kbps as f64 * 1000.0 / stream.rate_bps as f64;
            let want = ((m.partners as f64 * share).round() as usize).clamp(m.partners, 256);
            let most = (want * m.partners_max).div_ceil(m.partners.max(1)).clamp(want, 256);
            self.degree = Some((want, most));
        }
        self
    }

    /// Most partners accepted: `partners_max`, or the proportional maximum.
    pub fn max_partners(&self, m: &MeshParams) -> usize {
        self.degree.map_or(m.partners_max, |d| d.1)
    }

    /// The partners, in the order they were added.
    pub fn partners(&self) -> &[Partner<X>] {
        &self.partners
    }
    /// The partners, to update what the core keeps of them (a partner's
    /// `id` must not be changed: add and remove partners through the core).
    pub fn partners_mut(&mut self) -> &mut [Partner<X>] {
        &mut self.partners
    }
    /// Index of partner `id` in [`PartnerMesh::partners`].
    pub fn position(&self, id: PeerId) -> Option<usize> {
        let n = self.partners.len();
        let inline = n.min(INLINE_IDS);
        let found = self.ids[..inline]
            .iter()
            .position(|&p| p == id)
            .or_else(|| self.partners[inline..].iter().position(|p| p.id == id).map(|i| i + inline));
        debug_assert_eq!(found, self.partners.iter().position(|p| p.id == id), "partner ids out of step");
        found
    }
    pub fn partner(&self, id: PeerId) -> Option<&Partner<X>> {
        self.position(id).map(|i| &self.partners[i])
    }
    pub fn partner_mut(&mut self, id: PeerId) -> Option<&mut Partner<X>> {
        self.position(id).map(|i| &mut self.partners[i])
    }
    pub fn is_partner(&self, id: PeerId) -> bool {
        self.position(id).is_some()
    }
    /// Cache hint for a message from `from` (a simulator's lookahead): the
    /// partner record the handler will touch, found through the inline ids,
    /// else the first partners; and the first pending requests.
    pub fn prefetch_from(&self, from: PeerId) {
        self.prefetch_partner(from);
        crate::prefetch::prefetch_slice(&self.pending, 2);
    }
    /// Cache hint: partner `from`'s record (found through the inline ids),
    /// else the first partners.
    pub fn prefetch_partner(&self, from: PeerId) {
        match self.position(from) {
            Some(i) => crate::prefetch::prefetch(&self.partners[i], std::mem::size_of::<Partner<X>>()),
            None => crate::prefetch::prefetch_slice(&self.partners, 3),
        }
    }
    /// Cache hint for a timer: the first partners and pending requests.
    pub fn prefetch(&self) {
        crate::prefetch::prefetch_slice(&self.partners, 3);
        crate::prefetch::prefetch_slice(&self.pending, 2);
    }
    /// Refreshes the inline ids from index `from` on (after a change there).
    fn sync_ids(&mut self, from: usize) {
        for i in from..self.partners.len().min(INLINE_IDS) {
            self.ids[i] = self.partners[i].id;
        }
    }

    /// Arms the core's periodic timers with random phases (start of a node).
    /// The schedule timer runs on peers only.
    pub fn start<T: From<MeshTimer>>(&mut self, m: &MeshParams, cx: &mut Ctx<'_, T>) {
        for (period, t) in [
            (Self::map_interval(m), MeshTimer::BufferMap),
            (m.gossip_interval, MeshTimer::Gossip),
            (m.refresh_interval, MeshTimer::Refresh),
        ] {
            let j = jitter(period, cx);
            cx.timer_in(j, t.into());
        }
    }
    /// Starts a node of a pull-mesh family (mesh-pull, cdn-p2p): registers
    /// with the tracker, arms the family's tracker-refresh timer `refresh`
    /// and the core's timers, then the source's emission, or a peer's first
    /// tracker request and scheduling round.
    pub fn start_member<T: From<MeshTimer> + From<crate::media::MediaTimer>>(
        &mut self,
        m: &MeshParams,
        stream: &StreamParams,
        refresh: T,
        cx: &mut Ctx<'_, T>,
    ) {
        self.register_every(m, refresh, cx);
        self.start(m, cx);
        if self.is_source {
            Media::start_source(stream, cx);
        } else {
            cx.send(self.tracker, Msg::PeerListReq { want: m.tracker_list_size });
            self.start_schedule(m, cx);
        }
    }

    /// (Re-)registers with the tracker and arms the family's `refresh`
    /// timer to do it again after `tracker_refresh` (at start, and on that
    /// timer).
    pub fn register_every<T>(&self, m: &MeshParams, refresh: T, cx: &mut Ctx<'_, T>) {
        self.register(cx);
        cx.timer_in(m.tracker_refresh, refresh);
    }

    /// Arms the first scheduling round (peers).
    pub fn start_schedule<T: From<MeshTimer>>(&mut self, m: &MeshParams, cx: &mut Ctx<'_, T>) {
        let j = jitter(m.schedule_interval, cx);
        cx.timer_in(j, MeshTimer::Schedule.into());
    }

    /// Adds `id` as a partner (at most `max` are ever held: the list's
    /// capacity stops there) and sends it our buffer map.
    pub fn add_partner<T, P: PullPolicy<T, Ext = X>>(
        &mut self,
        id: PeerId,
        max: usize,
        up_kbps: u32,
        map: ChunkMap,
        pol: &P,
        cx: &mut Ctx<'_, T>,
    ) {
        if self.is_partner(id) || id == cx.me {
            return;
        }
        grow_capped(&mut self.partners, max);
        self.partners.push(Partner {
            id,
            map: ChunkMap::default(),
            heard_at: cx.now,
            rate_bps: (up_kbps as u64 * 1000 / 2).max(1),
            free_at: cx.now,
            bytes_from: 0,
            bytes_to: 0,
            last_rx: Time::ZERO,
            ext: pol.new_ext(),
        });
        self.sync_ids(self.partners.len() - 1);
        cx.record(Record::NeighbourAdded { peer: id });
        cx.send(id, Msg::BufferMap(map));
    }

    /// Ends the partnership with `id` (no message sent): its outstanding
    /// requests are dropped, then the policy is told.
    pub fn remove_partner<T, P: PullPolicy<T, Ext = X>>(&mut self, id: PeerId, pol: &mut P, cx: &mut Ctx<'_, T>) {
        let Some(i) = self.position(id) else {
            return;
        };
        self.partners.remove(i);
        self.sync_ids(i);
        self.sched.on_partner_removed(id);
        cx.record(Record::NeighbourRemoved { peer: id });
        let requested = &mut self.requested;
        self.pending.retain(|p| {
            if p.from == id {
                requested.remove(p.seq);
                false
            } else {
                true
            }
        });
        pol.partner_removed(id, cx);
    }

    /// Adds `id` to the mCache (replacing a random entry when full).
    pub fn remember<T>(&mut self, id: PeerId, m: &MeshParams, cx: &mut Ctx<'_, T>) {
        if id == cx.me || id == self.tracker || self.mcache.contains(&id) {
            return;
        }
        if self.mcache.len() < m.mcache_size {
            self.mcache.push(id);
        } else if !self.mcache.is_empty() {
            let i = cx.rng.random_range(0..self.mcache.len());
            self.mcache[i] = id;
        }
    }

    /// A chunk arrived from `from`: matches it to its request (feeding the
    /// scheduler and the rate estimate) and counts its bytes. Returns when it
    /// was requested (`None`: not requested, e.g. pushed).
    pub fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, wire_bits: u64, now: Time) -> Option<Time> {
        let asked_at = match self.pending.iter().position(|p| p.seq == seq && p.from == from) {
            Some(i) => {
                let p = self.pending.swap_remove(i);
                self.requested.remove(seq);
                self.sched.on_arrival(from, seq, p.at, now);
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
        asked_at
    }

    /// Serves a partner's request: the chunks held, in increasing order,
    /// while the upload backlog is at most `max_upload_backlog`. What it does
    /// not send (chunks it lacks, or past the backlog cap, or everything when
    /// `from` is not a partner) it refuses at once with one `Refuse`, saying
    /// how long its queue needs before it could serve again, so the requester
    /// asks again at its next round instead of waiting for a timeout.
    pub fn serve<T>(&mut self, from: PeerId, req: ChunkMap, media: &Media, env: MeshEnv<'_>, cx: &mut Ctx<'_, T>) {
        let partner = self.is_partner(from);
        let up = Uplink { kbps: self.up_kbps, cap: env.mesh.max_upload_backlog };
        let served = media.serve(from, req, |_| partner, up, env.stream, cx);
        if let Some(p) = self.partner_mut(from) {
            p.bytes_to += served;
        }
    }

    /// A supplier refused some of our requests: they are dropped at once, so
    /// the next round asks again, without the rate penalty of a timeout. The
    /// supplier's expected free time stays where the refused requests put it:
    /// a refusal says its queue is full, so the next round prefers other
    /// suppliers until that time has passed. (Measured on quickstart with
    /// Poisson arrivals, 3 seeds: resetting it to the requests still held,
    /// or to the time the refuser's queue needs, sent the chunks back to the
    /// same full queue and lowered continuity from 0.99 to 0.65-0.87.)
    pub fn on_refuse(&mut self, from: PeerId, chunks: ChunkMap, now: Time) {
        let requested = &mut self.requested;
        let sched = &mut self.sched;
        self.pending.retain(|p| {
            if p.from == from && chunks.contains(p.seq) {
                requested.remove(p.seq);
                sched.on_refused(from, p.seq, now);
                false
            } else {
                true
            }
        });
    }

    /// One scheduling round: expire unanswered requests (halving their
    /// supplier's rate estimate), let the policy start the player, then ask
    /// the scheduler and send one `Request` per chosen supplier.
    pub fn schedule<T, P: PullPolicy<T, Ext = X>>(
        &mut self,
        media: &mut Media,
        env: MeshEnv<'_>,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        let (m, stream, wire_bits) = (env.mesh, env.stream, env.wire_bits());
        let now = cx.now;
        let timeout = m.request_timeout;
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].expect + timeout <= now {
                let p = self.pending.swap_remove(i);
                self.requested.remove(p.seq);
                self.sched.on_expired(p.from, p.seq, now);
                if let Some(pt) = self.partner_mut(p.from) {
                    pt.rate_bps = (pt.rate_bps / 2).max(1);
                }
            } else {
                i += 1;
            }
        }
        let hint = if media.player.is_idle() && !self.is_source { self.start_hint() } else { None };
        pol.before_schedule(&self.partners, hint, media, cx);
        let Some(newest_adv) = self.partners.iter().filter_map(|p| p.map.newest()).max() else {
            return;
        };
        let Some(lo) = media.player.needed_from() else {
            return;
        };
        let hi = newest_adv.min(lo.saturating_add(m.window as u32 - 1));
        if hi < lo {
            return;
        }
        SCRATCH.with_borrow_mut(|s| {
            s.cands.clear();
            // `hi - lo < window <= ChunkMap::CAPACITY`: the span fits a map.
            let span = (hi - lo + 1) as u16;
            let mut known = media.have.to_map(lo, span);
            known.union_with(&self.requested.to_map(lo, span));
            for seq in known.absent() {
                let deadline = media.player.deadline(seq, stream, now);
                if deadline <= now && media.player.is_playing() {
                    continue;
                }
                if pol.defer(seq, deadline, now) {
                    continue;
                }
                let urgent = media.player.in_startup_buffer(seq);
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
                urgent: m.urgent_window,
                chunk_wire_bits: wire_bits,
                candidates: cands,
                playback: media.player.needed_from(),
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
                let mut req = ChunkMap::new(lo, m.window);
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

    /// Where an idle player should start: the lower median of the newest
    /// chunks its partners advertise (`None` until one advertises any).
    /// Waiting for more partners' maps first (3 maps or 2 s) was measured on
    /// quickstart (3 seeds): +2 s of lag, no gain in continuity.
    pub fn start_hint(&self) -> Option<Seq> {
        let mut heads: Vec<Seq> = self.partners.iter().filter_map(|p| p.map.newest()).collect();
        if heads.is_empty() {
            return None;
        }
        heads.sort_unstable();
        Some(heads[(heads.len() - 1) / 2])
    }

    /// Partner refresh: drop silent partners, then (peers with enough
    /// partners) the worst-scoring one when its score is below
    /// `underperform_ratio` x the mean, or any one when starving (playing, an
    /// empty buffer and no new chunk since the last refresh: the mesh may be
    /// cut off from the source, so a partner is swapped and the tracker
    /// asked); reset the scores and seek partners.
    pub fn refresh<T, P: PullPolicy<T, Ext = X>>(
        &mut self,
        media: &Media,
        m: &MeshParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        let now = cx.now;
        let timeout = m.partner_timeout;
        let silent: Vec<PeerId> = self.partners.iter().filter(|p| p.heard_at + timeout < now).map(|p| p.id).collect();
        for id in silent {
            self.remove_partner(id, pol, cx);
            self.mcache.retain(|&m| m != id);
        }
        self.hellos.retain(|&(_, at)| at + timeout >= now);
        let player = &media.player;
        let drained = player.is_playing() && media.newest.is_some_and(|n| player.needed_from().is_some_and(|x| n < x));
        // Not started and no partner has anything to offer: the partners may
        // all have joined before the source did (or be cut off from it).
        let stuck = !player.is_playing() && media.newest.is_none() && self.partners.iter().all(|p| p.map.is_empty());
        let starving = !self.is_source && (drained || stuck) && media.newest == self.newest_at_refresh;
        self.newest_at_refresh = media.newest;
        if !self.is_source && self.partners.len() >= self.target(m) {
            let score = |p: &Partner<X>| p.bytes_from + p.bytes_to;
            let mean = self.partners.iter().map(score).sum::<u64>() as f64 / self.partners.len() as f64;
            let worst =
                self.partners.iter().filter(|p| !pol.keep(p.id)).min_by_key(|p| score(p)).map(|p| (p.id, score(p)));
            if let Some((id, s)) = worst
                && (starving || (mean > 0.0 && (s as f64) < m.underperform_ratio * mean))
            {
                cx.send(id, Msg::Bye);
                self.remove_partner(id, pol, cx);
            }
        }
        if starving {
            pol.ask_tracker(true, cx);
        }
        for p in &mut self.partners {
            p.bytes_from = 0;
            p.bytes_to = 0;
            pol.on_refresh(&mut p.ext);
        }
        self.seek_partners(m, pol, cx);
    }

    /// Partners sought: `partners` (or the proportional target), or
    /// `partners_max` for the source.
    pub fn target(&self, m: &MeshParams) -> usize {
        if self.is_source { m.partners_max } else { self.degree.map_or(m.partners, |d| d.0) }
    }

    /// Sends `Hello` to random mCache members until `partners` partners (and
    /// hellos in flight) are reached; asks the tracker when the mCache is short.
    /// The source seeks `partners_max`: peers drop it like any partner, and
    /// only partners can pull from it, so it keeps its own partner set full
    /// (a departure from DONet, which leaves the source's partners unmanaged).
    pub fn seek_partners<T, P: PullPolicy<T, Ext = X>>(&mut self, m: &MeshParams, pol: &mut P, cx: &mut Ctx<'_, T>) {
        let want = self.target(m).saturating_sub(self.partners.len() + self.hellos.len());
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
            pol.ask_tracker(false, cx);
        }
        for k in 0..want.min(cands.len()) {
            let j = cx.rng.random_range(k..cands.len());
            cands.swap(k, j);
            let c = cands[k];
            self.hellos.push((c, cx.now));
            cx.send(c, Msg::Hello { up_kbps: self.up_kbps });
        }
    }

    /// Sends a random sample of the mCache (and ourselves) to a random partner.
    pub fn gossip<T>(&mut self, cx: &mut Ctx<'_, T>) {
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

    /// Runs a core timer and re-arms it.
    pub fn on_timer<T: From<MeshTimer>, P: PullPolicy<T, Ext = X>>(
        &mut self,
        t: MeshTimer,
        media: &mut Media,
        env: MeshEnv<'_>,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        let m = env.mesh;
        match t {
            MeshTimer::BufferMap => {
                if media.newest.is_some() {
                    let map = media.map(m.window);
                    for p in &self.partners {
                        cx.send(p.id, Msg::BufferMap(map));
                    }
                }
                cx.timer_in(Self::map_interval(m), MeshTimer::BufferMap.into());
            }
            MeshTimer::Schedule => {
                self.schedule(media, env, pol, cx);
                cx.timer_in(m.schedule_interval, MeshTimer::Schedule.into());
            }
            MeshTimer::Gossip => {
                self.gossip(cx);
                cx.timer_in(m.gossip_interval, MeshTimer::Gossip.into());
            }
            MeshTimer::Refresh => {
                self.refresh(media, m, pol, cx);
                cx.timer_in(m.refresh_interval, MeshTimer::Refresh.into());
            }
        }
    }

    /// Handles the mesh's messages; returns the ones it does not use.
    /// `PeerList` is handled (members remembered, partners sought) and also
    /// returned, since other parts of a node may use the list too.
    pub fn on_message<T, P: PullPolicy<T, Ext = X>>(
        &mut self,
        from: PeerId,
        msg: Msg,
        media: &Media,
        env: MeshEnv<'_>,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) -> Option<Msg> {
        let m = env.mesh;
        match msg {
            Msg::PeerList { ref peers } => {
                for &p in peers {
                    self.remember(p, m, cx);
                }
                if self.partners.len() < self.target(m) {
                    self.seek_partners(m, pol, cx);
                }
                return Some(msg);
            }
            Msg::Gossip { peers } => {
                for p in peers {
                    self.remember(p, m, cx);
                }
                if self.partners.len() < self.target(m) {
                    self.seek_partners(m, pol, cx);
                }
            }
            Msg::Hello { up_kbps } => {
                self.remember(from, m, cx);
                let max = self.max_partners(m);
                let accept = self.is_partner(from) || self.partners.len() < max;
                if accept {
                    self.add_partner(from, max, up_kbps, media.map(m.window), pol, cx);
                }
                cx.send(from, Msg::HelloAck { accept, up_kbps: self.up_kbps });
            }
            Msg::HelloAck { accept, up_kbps } => {
                let asked = self.hellos.iter().position(|&(h, _)| h == from);
                if let Some(i) = asked {
                    self.hellos.swap_remove(i);
                }
                if accept && asked.is_some() {
                    let max = self.max_partners(m);
                    if self.partners.len() < max {
                        self.add_partner(from, max, up_kbps, media.map(m.window), pol, cx);
                    } else {
                        cx.send(from, Msg::Bye);
                    }
                } else if !accept {
                    self.mcache.retain(|&m| m != from);
                }
            }
            Msg::Bye => {
                self.remove_partner(from, pol, cx);
                self.mcache.retain(|&m| m != from);
            }
            Msg::BufferMap(map) => {
                let now = cx.now;
                if map.newest().is_some_and(|n| !Media::plausible(n, env.stream, now)) {
                    cx.record(Record::Dropped { from, reason: DropReason::FutureMap });
                    return None;
                }
                if let Some(p) = self.partner_mut(from) {
                    p.map = map;
                    p.heard_at = now;
                }
            }
            Msg::Ext(ref e) if m.have => {
                let Some(Have { seq }) = Have::from_ext(e) else {
                    return Some(msg);
                };
                let now = cx.now;
                if !Media::plausible(seq, env.stream, now) {
                    cx.record(Record::Dropped { from, reason: DropReason::FutureMap });
                    return None;
                }
                if let Some(p) = self.partner_mut(from) {
                    p.map = map_with(p.map, seq, m.window);
                    p.heard_at = now;
                }
            }
            Msg::Request(req) => self.serve(from, req, media, env, cx),
            Msg::Refuse { chunks, .. } => self.on_refuse(from, chunks, cx.now),
            other => return Some(other),
        }
        None
    }

    /// A chunk from `from` reaches a pull-mesh peer (mesh-pull, cdn-p2p):
    /// checked ([`Media::admit`]), matched to its request, classified and
    /// recorded; a new one is stored, announced (with `have`) and may start
    /// the player. Returns whether it was new and stored.
    pub fn receive<T: From<crate::media::MediaTimer>>(
        &mut self,
        media: &mut Media,
        chunk: (PeerId, Seq, u32, bool),
        env: MeshEnv<'_>,
        cx: &mut Ctx<'_, T>,
    ) -> bool {
        let (from, seq, len, polluted) = chunk;
        if !Media::admit(seq, from, self.is_source, env.stream, cx) {
            return false;
        }
        self.on_chunk(from, seq, len, env.wire_bits(), cx.now);
        let a = media.arrival(seq, from, false, cx);
        if a.duplicate || a.late {
            return false;
        }
        media.store(seq, polluted);
        self.announce(seq, from, env.mesh, cx);
        media.check_startup(cx);
        true
    }

    /// A new chunk was stored: with `have` on, every partner but `except`
    /// (its sender) is told at once.
    pub fn announce<T>(&self, seq: Seq, except: PeerId, m: &MeshParams, cx: &mut Ctx<'_, T>) {
        if m.have {
            let msg = Msg::Ext(Have { seq }.to_ext());
            for p in self.partners.iter().filter(|p| p.id != except) {
                cx.send(p.id, msg.clone());
            }
        }
    }

    /// Period of full buffer maps: `buffer_map_interval`, or with `have`
    /// on (changes travel as `Have`s) at least `partner_timeout / 2`, as the
    /// keep-alive that partner liveness needs and to resynchronise.
    pub fn map_interval(m: &MeshParams) -> Time {
        if m.have { m.buffer_map_interval.max(Time(m.partner_timeout.0 / 2)) } else { m.buffer_map_interval }
    }

    /// (Re-)registers with the tracker, as the source or a peer.
    pub fn register<T>(&self, cx: &mut Ctx<'_, T>) {
        let role = if self.is_source { Role::Source } else { Role::Peer };
        cx.send(self.tracker, Msg::Register { role, up_kbps: self.up_kbps });
    }

    /// The node leaves the swarm: [`PartnerMesh::leave`], then, when
    /// graceful, `Unregister` to the tracker.
    pub fn depart<T>(&mut self, graceful: bool, cx: &mut Ctx<'_, T>) {
        self.leave(graceful, cx);
        if graceful {
            cx.send(self.tracker, Msg::Unregister);
        }
    }

    /// Graceful or not, the node leaves: `Bye` to every partner when graceful,
    /// and the mesh state is dropped.
    pub fn leave<T>(&mut self, graceful: bool, cx: &mut Ctx<'_, T>) {
        if graceful {
            for p in &self.partners {
                cx.send(p.id, Msg::Bye);
            }
        }
        self.partners = Vec::new();
        self.pending = Vec::new();
        self.mcache = Vec::new();
        self.hellos = Vec::new();
    }
}

/// A random phase in `[0, period)` for a periodic timer.
pub fn jitter<T>(period: Time, cx: &mut Ctx<'_, T>) -> Time {
    Time(cx.rng.random_range(0..period.0.max(1)))
}

/// Makes room in `v` for one more element: the capacity doubles from 4, as
/// `Vec::push` would, but stops at `max` (the most elements `v` will ever
/// hold; at least `len + 1`), so that a full list holds no spare slots
/// (10 partners of at most 10 take 10 slots, not 16).
fn grow_capped<T>(v: &mut Vec<T>, max: usize) {
    if v.len() == v.capacity() {
        let want = (v.capacity() * 2).max(4).min(max).max(v.len() + 1);
        v.reserve_exact(want - v.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Outbox;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    struct NoPolicy;
    impl PullPolicy<()> for NoPolicy {
        type Ext = ();
        fn new_ext(&self) {}
        fn ask_tracker(&mut self, _starving: bool, _cx: &mut Ctx<'_, ()>) {}
        fn before_schedule(&mut self, _: &[Partner<()>], _: Option<Seq>, _: &mut Media, _: &mut Ctx<'_, ()>) {}
    }

    proptest! {
        /// The inline ids find every partner where a search of the records
        /// does, past [`INLINE_IDS`] partners too, through any sequence of
        /// additions and removals (`(true, id)`: add `id`, `(false, id)`:
        /// remove it).
        #[test]
        fn a_partner_is_found_where_the_records_hold_it(
            ops in proptest::collection::vec((any::<bool>(), 1u32..40), 0..200),
        ) {
            let mut mesh: PartnerMesh<()> = PartnerMesh::new(crate::sched::default_spec().build(), false, 1000, PeerId(0));
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let mut out = Outbox::default();
            let mut cx = Ctx::new(Time::ZERO, PeerId(99), &mut rng, Time::ZERO, &mut out);
            for (add, id) in ops {
                if add {
                    mesh.add_partner(PeerId(id), 30, 1000, ChunkMap::default(), &NoPolicy, &mut cx);
                } else {
                    mesh.remove_partner(PeerId(id), &mut NoPolicy, &mut cx);
                }
                for q in 0..41 {
                    let naive = mesh.partners().iter().position(|p| p.id == PeerId(q));
                    prop_assert_eq!(mesh.position(PeerId(q)), naive);
                    prop_assert_eq!(mesh.partner(PeerId(q)).map(|p| p.id), naive.map(|_| PeerId(q)));
                }
            }
        }
    }

    #[test]
    fn capacity_doubles_from_four_and_stops_at_the_maximum() {
        let caps = |max: usize, n: usize| {
            let mut v: Vec<u64> = Vec::new();
            let mut seen = Vec::new();
            for k in 0..n {
                grow_capped(&mut v, max);
                v.push(k as u64);
                if seen.last() != Some(&v.capacity()) {
                    seen.push(v.capacity());
                }
            }
            seen
        };
        assert_eq!(caps(10, 10), vec![4, 8, 10]);
        assert_eq!(caps(16, 16), vec![4, 8, 16]);
        assert_eq!(caps(3, 3), vec![3]);
        // Past `max` (never in the mesh) it still makes room, one at a time.
        assert_eq!(caps(2, 4), vec![2, 3, 4]);
    }
}
