//! Sender-driven random-useful push (the `random-push` family).
//!
//! Follows L. Massoulié, A. Twigg, C. Gkantsidis, P. Rodriguez,
//! "Randomized decentralized broadcasting algorithms", IEEE INFOCOM 2007,
//! and T. Bonald, L. Massoulié, F. Mathieu, D. Perino, A. Twigg, "Epidemic
//! live streaming: optimal performance trade-offs", ACM SIGMETRICS 2008.
//! Whenever a peer's upload link is free it picks a receiver among its
//! partners and pushes it one chunk; the receiver and the chunk are chosen by
//! the rules of Bonald et al. ([`PeerRule`], [`ChunkRule`]): "random peer,
//! latest useful chunk" by default, the scheme they prove rate- and
//! delay-optimal up to an additive constant. The source pushes each fresh
//! chunk to one random partner (the papers' source rule), and nothing else.
//!
//! "Free" is read from the node's upload queue: a peer pushes when its queued
//! upload has drained (`Ctx::upload_backlog` is zero), then arms a timer for
//! the time the chunk takes to leave at its upload rate, so it keeps exactly
//! one chunk on the link and decides each push with the newest information.
//! A peer with nothing to push to anyone sleeps until a chunk or a buffer map
//! arrives.
//!
//! Membership, partnership and buffer maps are those of the partner-mesh
//! core ([`crate::meshcore`], with `[protocol.mesh]`): the "peers" of the
//! papers are a node's partners (the papers' complete graph is replaced by
//! the mesh, which Bonald et al. show costs little with enough neighbours).
//! The core's pull scheduler never runs. What a sender knows of a partner is
//! its latest buffer map, plus the chunks it pushed to it or received from
//! it since ([`Known`]), so a stale map does not make it push the same chunk
//! twice to the same partner; chunks other senders pushed meanwhile are not
//! known (the papers assume exact knowledge: the duplicates this costs are
//! counted in the run's duplicate figures).
//!
//! Departures from the papers: a sender pushes any chunk of its buffer-map
//! window (the papers' peers discard chunks past the playback delay; here a
//! sender does not know the receiver's playback point, so "random useful"
//! may push a chunk the receiver has already skipped: counted as late); the receiver is a partner, not any peer of the swarm; a
//! peer starts its player as mesh-pull does (the lower median of its
//! partners' newest chunks, [`PartnerMesh::start_hint`]).
//!
//! Parameters and defaults (`[protocol.push]`, [`PushParams::default`]; the
//! mesh keys of [`crate::mesh`] apply too, except the scheduler's):
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `peer` | `random` | receiver: a random partner ("random peer"), or a random partner that needs something ("random useful peer") |
//! | `chunk` | `latest-useful` | chunk: newest the receiver lacks, a random one it lacks, or the sender's newest ("latest blind") |
//! | `source_copies` | 1 | distinct random partners the source pushes each fresh chunk to |

use std::sync::Arc;

use rand::RngExt;

use crate::ids::{PeerId, Seq};
use crate::media::{HasMedia, Media, MediaTimer};
use crate::mesh::MeshParams;
use crate::meshcore::{Have, MeshEnv, MeshTimer, Partner, PartnerMesh, PullPolicy};
use crate::peer::{Command, Ctx, DropReason, Peer, Record, StreamParams};
use crate::playback::{PlayerParams, SeqRing};
use crate::prefetch::prefetch_slice;
use crate::sched::SchedulerSpec;
use crate::time::Time;
use crate::wire::{ExtCodec, ExtMsg, Msg};

/// How a sender picks the receiver of a push.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PeerRule {
    /// A uniformly random partner; nothing is sent (the slot is lost) when it
    /// needs nothing the sender would push.
    #[default]
    Random,
    /// A random partner among those that need something.
    RandomUseful,
}

/// Which chunk a sender pushes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChunkRule {
    /// The newest chunk the receiver is not known to hold.
    #[default]
    LatestUseful,
    /// A uniformly random chunk the receiver is not known to hold.
    RandomUseful,
    /// The sender's newest chunk, whatever the receiver holds. With
    /// [`PeerRule::RandomUseful`] the receiver is a random partner lacking it.
    LatestBlind,
}

/// Push parameters; see the module doc.
#[derive(Clone, Debug, PartialEq)]
pub struct PushParams {
    pub peer: PeerRule,
    pub chunk: ChunkRule,
    pub source_copies: u32,
    pub have: bool,
}

/// The defaults live in one place, the scenario section ([`PushSection`](crate::params::PushSection)).
impl Default for PushParams {
    fn default() -> Self {
        crate::params::PushSection::default().to_params()
    }
}

/// Everything a push node needs to know about the run.
#[derive(Clone, Debug)]
pub struct PushConfig {
    pub stream: StreamParams,
    pub player: PlayerParams,
    pub mesh: MeshParams,
    pub push: PushParams,
    /// The mesh core needs a scheduler; it is never run.
    pub scheduler: SchedulerSpec,
    pub tracker: PeerId,
}

/// Timers of a push node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushTimer {
    Media(MediaTimer),
    Mesh(MeshTimer),
    /// The upload link should be free: push the next chunk.
    Push,
    TrackerRefresh,
}

crate::timer_from!(PushTimer: Media(MediaTimer), Mesh(MeshTimer));

/// Chunks a partner is known to hold besides its last buffer map: those
/// pushed to it and received from it since.
#[derive(Clone, Default)]
pub struct Known(SeqRing);

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Known(from {})", self.0.lowest())
    }
}

/// Whether partner `p` is known to hold `seq`.
fn holds(p: &Partner<Known>, seq: Seq) -> bool {
    p.map.contains(seq) || p.ext.0.contains(seq)
}

/// The push family's choices for the mesh core.
struct Pusher<'a> {
    cfg: &'a PushConfig,
}

impl PullPolicy<PushTimer> for Pusher<'_> {
    type Ext = Known;
    fn new_ext(&self) -> Known {
        Known::default()
    }
    fn ask_tracker(&mut self, _starving: bool, cx: &mut Ctx<'_, PushTimer>) {
        cx.send(self.cfg.tracker, Msg::PeerListReq { want: self.cfg.mesh.tracker_list_size });
    }
    /// Never called: the core's scheduling round is not armed.
    fn before_schedule(&mut self, _: &[Partner<Known>], _: Option<Seq>, _: &mut Media, _: &mut Ctx<'_, PushTimer>) {}
}

/// A random-push node: the source (`is_source`) or a peer.
#[repr(C)]
pub struct PushPeer {
    cfg: Arc<PushConfig>,
    mesh: PartnerMesh<Known>,
    active: bool,
    /// A `Push` timer is pending.
    armed: bool,
    /// Source: fresh chunks emitted while it had no partner, not yet pushed.
    unsent: Vec<Seq>,
    media: Media,
}

/// The chunks a sender may push: those of its buffer-map window (what a
/// pull supplier would serve). Its own playback point is no bound: a peer
/// that started later than the receiver would then never pass on the older
/// chunks the receiver's startup buffer waits for (measured: every peer of
/// static-300 waited the 30 s startup timeout for one such chunk).
fn pushable(media: &Media, window: u16) -> Option<(Seq, Seq)> {
    let newest = media.newest?;
    let lo = (newest + 1).saturating_sub(window as u32);
    Some((lo, newest))
}

/// The chunk `rule` pushes to `p` among `lo..=hi` held in `media`, if any.
fn choose_chunk(
    rule: ChunkRule,
    p: &Partner<Known>,
    media: &Media,
    (lo, hi): (Seq, Seq),
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Option<Seq> {
    let useful = |s: Seq| media.have.contains(s) && !holds(p, s);
    match rule {
        ChunkRule::LatestBlind => Some(hi),
        ChunkRule::LatestUseful => (lo..=hi).rev().find(|&s| useful(s)),
        ChunkRule::RandomUseful => {
            let n = (lo..=hi).filter(|&s| useful(s)).count();
            if n == 0 {
                return None;
            }
            let k = rng.random_range(0..n);
            (lo..=hi).filter(|&s| useful(s)).nth(k)
        }
    }
}

/// A sender's push decision ([`select`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Push this chunk to the partner at this index.
    Push(usize, Seq),
    /// The random partner chosen needs nothing: this transmission slot is lost.
    Lost,
    /// No partner needs anything the sender holds: it may sleep.
    Idle,
}

/// The push decision of a sender under `params`' rules.
pub fn select(
    params: &PushParams,
    partners: &[Partner<Known>],
    media: &Media,
    window: u16,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Decision {
    let Some(range) = pushable(media, window) else {
        return Decision::Idle;
    };
    if partners.is_empty() {
        return Decision::Idle;
    }
    let decide = |i: usize, c: Option<Seq>| c.map_or(Decision::Lost, |s| Decision::Push(i, s));
    let needs = |p: &Partner<Known>| match params.chunk {
        ChunkRule::LatestBlind => !holds(p, range.1),
        _ => (range.0..=range.1).any(|s| media.have.contains(s) && !holds(p, s)),
    };
    match params.peer {
        PeerRule::Random => {
            if !partners.iter().any(needs) {
                return Decision::Idle;
            }
            let i = rng.random_range(0..partners.len());
            decide(i, choose_chunk(params.chunk, &partners[i], media, range, rng))
        }
        PeerRule::RandomUseful => {
            let n = partners.iter().filter(|p| needs(p)).count();
            if n == 0 {
                return Decision::Idle;
            }
            let k = rng.random_range(0..n);
            match partners.iter().enumerate().filter(|(_, p)| needs(p)).nth(k) {
                Some((i, p)) => decide(i, choose_chunk(params.chunk, p, media, range, rng)),
                None => Decision::Idle,
            }
        }
    }
}

impl PushPeer {
    pub fn new(cfg: Arc<PushConfig>, is_source: bool, up_kbps: u32) -> PushPeer {
        let mesh = PartnerMesh::new(cfg.scheduler.build(), is_source, up_kbps, cfg.tracker)
            .with_degree(&cfg.mesh, &cfg.stream);
        let media = Media::new(cfg.player);
        PushPeer { cfg, mesh, active: false, armed: false, unsent: Vec::new(), media }
    }

    /// Current partners, in the order they were added.
    pub fn partners(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.mesh.partners().iter().map(|p| p.id)
    }

    /// Time one chunk takes to leave at this node's upload rate.
    fn chunk_time(&self) -> Time {
        let bits = crate::media::chunk_wire_bits(&self.cfg.stream);
        Time::transmit(bits / 8, self.mesh.up_kbps as u64 * 1000)
    }

    /// Arms a push now unless one is pending (peers with upload only).
    fn wake(&mut self, cx: &mut Ctx<'_, PushTimer>) {
        if !self.armed && !self.mesh.is_source && self.mesh.up_kbps > 0 {
            self.armed = true;
            cx.timer_in(Time::ZERO, PushTimer::Push);
        }
    }

    /// Sends `seq` to partner `i` and remembers that it holds it.
    fn push_to(&mut self, i: usize, seq: Seq, cx: &mut Ctx<'_, PushTimer>) {
        let len = self.cfg.stream.chunk_bytes();
        let p = &mut self.mesh.partners_mut()[i];
        p.ext.0.insert(seq);
        p.bytes_to += len as u64;
        cx.send(p.id, Msg::Chunk { seq, len, polluted: self.media.polluted.contains(seq) });
    }

    /// The `Push` timer: one push if the link is free, then the next timer.
    fn on_push(&mut self, cx: &mut Ctx<'_, PushTimer>) {
        self.armed = false;
        if self.mesh.is_source || self.mesh.up_kbps == 0 {
            return;
        }
        if cx.upload_backlog > Time::ZERO {
            self.armed = true;
            cx.timer_in(cx.upload_backlog, PushTimer::Push);
            return;
        }
        let cfg = &*self.cfg;
        match select(&cfg.push, self.mesh.partners(), &self.media, cfg.mesh.window, cx.rng) {
            // Nobody needs anything: sleep until a chunk or a buffer map arrives.
            Decision::Idle => {}
            d => {
                if let Decision::Push(i, seq) = d {
                    self.push_to(i, seq, cx);
                }
                // A lost slot (random peer needing nothing) costs a chunk time too.
                self.armed = true;
                let t = self.chunk_time();
                cx.timer_in(t, PushTimer::Push);
            }
        }
    }

    /// The source's rule: each fresh chunk to `source_copies` random
    /// partners. Chunks emitted while it has no partner (before anyone
    /// joined) are pushed the same way, oldest first, at the first emission
    /// that finds a partner, as long as they are within the buffer-map
    /// window; otherwise no copy of them would ever exist.
    fn push_fresh(&mut self, seq: Seq, cx: &mut Ctx<'_, PushTimer>) {
        let n = self.mesh.partners().len();
        let oldest = (seq + 1).saturating_sub(self.cfg.mesh.window as u32);
        self.unsent.retain(|&s| s >= oldest);
        self.unsent.push(seq);
        if n == 0 {
            return;
        }
        let copies = (self.cfg.push.source_copies as usize).min(n);
        let mut idx: Vec<usize> = (0..n).collect();
        for s in std::mem::take(&mut self.unsent) {
            for k in 0..copies {
                let j = cx.rng.random_range(k..n);
                idx.swap(k, j);
                self.push_to(idx[k], s, cx);
            }
        }
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, PushTimer>) {
        if !Media::admit(seq, from, self.mesh.is_source, &self.cfg.stream, cx) {
            return;
        }
        let wire_bits = crate::media::chunk_wire_bits(&self.cfg.stream);
        self.mesh.on_chunk(from, seq, len, wire_bits, cx.now);
        if let Some(p) = self.mesh.partner_mut(from) {
            p.ext.0.insert(seq);
        }
        let a = self.media.arrival(seq, from, false, cx);
        if a.duplicate || a.late {
            return;
        }
        self.media.store(seq, polluted);
        if self.cfg.push.have {
            let have = Msg::Ext(Have { seq }.to_ext());
            for p in self.mesh.partners() {
                if p.id != from {
                    cx.send(p.id, have.clone());
                }
            }
        }
        self.start_player(cx);
        self.media.check_startup(cx);
        self.wake(cx);
    }

    /// An idle player starts from the lower median of the partners' newest chunks.
    fn start_player(&mut self, cx: &mut Ctx<'_, PushTimer>) {
        if !self.mesh.is_source
            && self.media.player.is_idle()
            && let Some(head) = self.mesh.start_hint()
        {
            self.media.choose_start(head, cx);
        }
    }

    /// A partner's `Have`: checked against the live point, then remembered.
    fn on_have(&mut self, from: PeerId, e: &ExtMsg, cx: &mut Ctx<'_, PushTimer>) {
        let Some(Have { seq }) = Have::from_ext(e) else {
            return;
        };
        if !Media::plausible(seq, &self.cfg.stream, cx.now) {
            cx.record(Record::Dropped { from, reason: DropReason::FutureMap });
            return;
        }
        if let Some(p) = self.mesh.partner_mut(from) {
            p.ext.0.insert(seq);
        }
    }

    /// A partner's buffer map arrived (the core stored it).
    fn on_map(&mut self, from: PeerId, cx: &mut Ctx<'_, PushTimer>) {
        // The partner's map replaces what we knew from before it.
        if let Some(p) = self.mesh.partner_mut(from) {
            let base = p.map.base();
            p.ext.0.advance_to(base);
        }
        self.start_player(cx);
        self.wake(cx);
    }
}

impl HasMedia for PushPeer {
    fn media(&self) -> &Media {
        &self.media
    }
}

impl Peer for PushPeer {
    type Timer = PushTimer;

    fn prefetch(&self) {
        prefetch_slice(self.mesh.partners(), 3);
    }
    /// A message's sender is usually a partner: its record.
    fn prefetch_from(&self, from: PeerId) {
        self.mesh.prefetch_partner(from);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, PushTimer>) {
        self.active = true;
        let cfg = self.cfg.clone();
        self.mesh.register(cx);
        cx.timer_in(cfg.mesh.tracker_refresh, PushTimer::TrackerRefresh);
        self.mesh.start(&cfg.mesh, cx);
        if self.mesh.is_source {
            Media::start_source(&cfg.stream, cx);
        } else {
            cx.send(cfg.tracker, Msg::PeerListReq { want: cfg.mesh.tracker_list_size });
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, PushTimer>) {
        if !self.active {
            return;
        }
        // Borrowed, not cloned: an `Arc` clone per event is an atomic update
        // of a count that every node of the run (on every engine thread) shares.
        let cfg = &*self.cfg;
        let mut pol = Pusher { cfg };
        let env = MeshEnv::new(&cfg.mesh, &cfg.stream);
        let map = matches!(msg, Msg::BufferMap(_));
        let rest = self.mesh.on_message(from, msg, &self.media, env, &mut pol, cx);
        match rest {
            Some(Msg::Chunk { seq, len, polluted }) => self.on_chunk(from, seq, len, polluted, cx),
            Some(Msg::Ext(e)) => self.on_have(from, &e, cx),
            _ if map => self.on_map(from, cx),
            _ => {}
        }
    }

    fn on_timer(&mut self, timer: PushTimer, cx: &mut Ctx<'_, PushTimer>) {
        if !self.active {
            return;
        }
        match timer {
            PushTimer::Media(t) => {
                if let Some(seq) = self.media.on_timer(t, &self.cfg.stream, cx) {
                    self.push_fresh(seq, cx);
                }
            }
            PushTimer::Mesh(t) => {
                let cfg = &*self.cfg;
                let mut pol = Pusher { cfg };
                self.mesh.on_timer(t, &mut self.media, MeshEnv::new(&cfg.mesh, &cfg.stream), &mut pol, cx);
            }
            PushTimer::Push => self.on_push(cx),
            PushTimer::TrackerRefresh => self.mesh.register_every(&self.cfg.mesh, PushTimer::TrackerRefresh, cx),
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, PushTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                self.mesh.depart(graceful, cx);
                self.active = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkmap::ChunkMap;
    use crate::peer::Outbox;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The tests' clock starts here, so chunks up to 60 have been emitted.
    const T0: Time = Time::from_secs(60);

    fn cfg(push: PushParams) -> Arc<PushConfig> {
        Arc::new(PushConfig {
            stream: StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
            player: PlayerParams { startup_chunks: 4, startup_timeout: Time::from_secs(30), rebuffer_chunks: None },
            mesh: MeshParams::default(),
            push,
            scheduler: crate::sched::default_spec(),
            tracker: PeerId(0),
        })
    }

    fn call(
        p: &mut PushPeer,
        backlog: Time,
        f: impl FnOnce(&mut PushPeer, &mut Ctx<'_, PushTimer>),
    ) -> Outbox<PushTimer> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(T0, PeerId(5), &mut rng, backlog, &mut out);
        f(p, &mut cx);
        out
    }

    fn msg(p: &mut PushPeer, from: u32, m: Msg) -> Outbox<PushTimer> {
        call(p, Time::ZERO, |p, cx| p.on_message(PeerId(from), m, cx))
    }

    fn started(push: PushParams, is_source: bool) -> PushPeer {
        let mut p = PushPeer::new(cfg(push), is_source, 2000);
        call(&mut p, Time::ZERO, |p, cx| p.on_start(cx));
        p
    }

    fn map(seqs: impl IntoIterator<Item = Seq>) -> ChunkMap {
        let mut m = ChunkMap::new(0, 120);
        for s in seqs {
            m.insert(s);
        }
        m
    }

    fn chunks(out: &Outbox<PushTimer>) -> Vec<(u32, Seq)> {
        out.sends
            .iter()
            .filter_map(|(to, m)| match m {
                Msg::Chunk { seq, .. } => Some((to.0, *seq)),
                _ => None,
            })
            .collect()
    }

    /// A peer holding 10..=20 with partners 7 (holds 10..=18) and 8 (holds all).
    fn peer_with_partners(push: PushParams) -> PushPeer {
        let mut p = started(push, false);
        for id in [7, 8] {
            msg(&mut p, id, Msg::Hello { up_kbps: 1000 });
        }
        for s in 10..=20 {
            msg(&mut p, 9, Msg::Chunk { seq: s, len: 1000, polluted: false });
        }
        msg(&mut p, 7, Msg::BufferMap(map(10..=18)));
        msg(&mut p, 8, Msg::BufferMap(map(10..=20)));
        p
    }

    #[test]
    fn a_free_link_pushes_the_latest_useful_chunk_and_a_busy_one_waits_for_it_to_drain() {
        let push = PushParams { peer: PeerRule::RandomUseful, ..PushParams::default() };
        let mut p = peer_with_partners(push);
        let out = call(&mut p, Time::ZERO, |p, cx| p.on_timer(PushTimer::Push, cx));
        assert_eq!(chunks(&out), vec![(7, 20)]);
        // The next push comes when that chunk has left (500 kbit at 2 Mbps: about 0.25 s).
        let (at, _) = out.timers.iter().find(|(_, t)| *t == PushTimer::Push).copied().expect("re-armed");
        assert!(at > T0 + Time::from_millis(250) && at < T0 + Time::from_millis(260), "{at:?}");
        // 20 is now known to be at 7: the next push is 19.
        let out = call(&mut p, Time::ZERO, |p, cx| p.on_timer(PushTimer::Push, cx));
        assert_eq!(chunks(&out), vec![(7, 19)]);
        // A queue still draining: nothing is pushed, the timer waits for it.
        let out = call(&mut p, Time::from_millis(300), |p, cx| p.on_timer(PushTimer::Push, cx));
        assert!(chunks(&out).is_empty());
        assert_eq!(out.timers, vec![(T0 + Time::from_millis(300), PushTimer::Push)]);
        // 7 now has everything: nobody needs anything, the peer sleeps.
        let out = call(&mut p, Time::ZERO, |p, cx| p.on_timer(PushTimer::Push, cx));
        assert!(chunks(&out).is_empty() && out.timers.is_empty(), "{:?}", out.timers);
        // A new chunk wakes it (and is announced to partners other than its sender).
        let out = msg(&mut p, 9, Msg::Chunk { seq: 21, len: 1000, polluted: false });
        assert!(out.timers.contains(&(T0, PushTimer::Push)));
        let haves: Vec<u32> = out.sends.iter().filter(|(_, m)| matches!(m, Msg::Ext(_))).map(|(to, _)| to.0).collect();
        assert_eq!(haves, vec![7, 8]);
    }

    #[test]
    fn the_chunk_rules_differ_as_named() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let rule = |chunk, peer| PushParams { peer, chunk, ..PushParams::default() };
        let p = peer_with_partners(rule(ChunkRule::LatestBlind, PeerRule::Random));
        let partners = p.mesh.partners();
        // Latest blind to a random peer: always 20, to 8 (which has it) too.
        let mut to = Vec::new();
        for _ in 0..40 {
            let Decision::Push(i, s) =
                select(&rule(ChunkRule::LatestBlind, PeerRule::Random), partners, &p.media, 120, &mut rng)
            else {
                panic!("latest blind always pushes")
            };
            assert_eq!(s, 20);
            to.push(partners[i].id.0);
        }
        assert!(to.contains(&7) && to.contains(&8), "{to:?}");
        // Latest blind to a random useful peer: only 7 lacks 20.
        for _ in 0..20 {
            let c = select(&rule(ChunkRule::LatestBlind, PeerRule::RandomUseful), partners, &p.media, 120, &mut rng);
            assert!(matches!(c, Decision::Push(i, 20) if partners[i].id.0 == 7), "{c:?}");
        }
        // Random useful chunk: 19 or 20, both seen.
        let mut seen = Vec::new();
        for _ in 0..40 {
            let c = select(&rule(ChunkRule::RandomUseful, PeerRule::RandomUseful), partners, &p.media, 120, &mut rng);
            let Decision::Push(_, s) = c else { panic!("{c:?}") };
            seen.push(s);
        }
        assert!(seen.iter().all(|s| [19, 20].contains(s)) && seen.contains(&19) && seen.contains(&20), "{seen:?}");
        // Random peer, latest useful: 8 needs nothing, so some slots are lost.
        let outcomes: Vec<Option<u32>> = (0..40)
            .map(|_| {
                match select(&rule(ChunkRule::LatestUseful, PeerRule::Random), partners, &p.media, 120, &mut rng) {
                    Decision::Push(i, _) => Some(partners[i].id.0),
                    Decision::Lost => None,
                    Decision::Idle => panic!("7 needs something"),
                }
            })
            .collect();
        assert!(outcomes.contains(&None) && outcomes.contains(&Some(7)), "{outcomes:?}");
    }

    #[test]
    fn the_source_pushes_each_fresh_chunk_once_including_those_emitted_before_it_had_partners() {
        let mut s = started(PushParams::default(), true);
        let emit = |s: &mut PushPeer| call(s, Time::ZERO, |s, cx| s.on_timer(PushTimer::Media(MediaTimer::Emit), cx));
        assert!(chunks(&emit(&mut s)).is_empty());
        for id in [7, 8, 9] {
            msg(&mut s, id, Msg::Hello { up_kbps: 1000 });
        }
        let sent = chunks(&emit(&mut s));
        // The clock stands still, so both emissions are chunk 60: the one held
        // back for want of partners and the new one, one copy each.
        assert_eq!(sent.len(), 2, "{sent:?}");
        let s2 = started(PushParams { source_copies: 3, ..PushParams::default() }, true);
        let mut s2 = s2;
        for id in [7, 8, 9] {
            msg(&mut s2, id, Msg::Hello { up_kbps: 1000 });
        }
        let mut to: Vec<u32> = chunks(&emit(&mut s2)).into_iter().map(|(t, _)| t).collect();
        to.sort_unstable();
        assert_eq!(to, vec![7, 8, 9]);
    }

    #[test]
    fn a_have_from_the_future_is_dropped_and_a_plausible_one_is_remembered() {
        let push = PushParams { peer: PeerRule::RandomUseful, ..PushParams::default() };
        let mut p = peer_with_partners(push);
        let out = msg(&mut p, 7, Msg::Ext(Have { seq: Seq::MAX }.to_ext()));
        assert!(out.records.contains(&Record::Dropped { from: PeerId(7), reason: DropReason::FutureMap }));
        msg(&mut p, 7, Msg::Ext(Have { seq: 20 }.to_ext()));
        msg(&mut p, 7, Msg::Ext(Have { seq: 19 }.to_ext()));
        let out = call(&mut p, Time::ZERO, |p, cx| p.on_timer(PushTimer::Push, cx));
        assert!(chunks(&out).is_empty(), "{:?}", chunks(&out));
        assert_eq!(Have::from_ext(&ExtMsg { kind: 2, ..Have { seq: 3 }.to_ext() }), None);
    }
}
