//! Hybrid tree/mesh streaming: a push tree (or push substreams) for speed, a
//! pull mesh for resilience. Two variants, selected by [`HybridParams::mode`].
//!
//! # `treebone` (mTreebone)
//!
//! Follows F. Wang, Y. Xiong, J. Liu, "mTreebone: A Hybrid Tree/Mesh Overlay
//! for Application-Layer Live Video Multicast", IEEE ICDCS 2007.
//!
//! - **Backbone of stable peers.** The source is the root of a single push
//!   tree, the *treebone*. A peer is *stable* once its age (time since it
//!   joined) reaches `stable_fraction x expected_session`
//!   ([`HybridConfig::stable_age`]; `expected_session` is the scenario's mean
//!   session length, or 300 s without churn). Only the source and stable peers
//!   with upload for at least one child are interior (*backbone nodes*); a peer
//!   never leaves the backbone once in it.
//! - **Leaves.** Until it is stable a peer is a leaf: it attaches as a child of
//!   a backbone node and receives the pushed stream, but accepts no child of its
//!   own (a Join sent to it is redirected to its parent). A peer for which no
//!   backbone node has a free slot pulls only. When a leaf becomes stable it
//!   joins the backbone in place: it starts accepting children under the parent
//!   it already has.
//! - **Tree mechanics** are those of [`crate::tree`] with one stripe: Join /
//!   JoinAck with root paths, redirects down the tree, heartbeats, keep-alive
//!   Joins, parent and child timeouts, rejoin via the former grandparent, loop
//!   and depth checks. A backbone node has `slots = min(max_slots,
//!   floor(up / r_wire))` children (`r_wire` the stream's on-wire rate). The
//!   `up_kbps` of a Join is the upload the joiner offers the backbone: 0 for a
//!   leaf, its upload once stable, so keep-alives tell the parent when a leaf
//!   child became a backbone node. *High-degree preemption*: a full node adopts
//!   a joiner able to feed more children than its weakest child and evicts that
//!   child (a leaf first) towards the newcomer and its other backbone children,
//!   so backbone nodes end up near the root.
//! - **Mesh.** Every peer (backbone or leaf) also keeps mesh partners exactly
//!   as [`crate::mesh`] does (tracker, gossip, `partners`, refresh), exchanges
//!   buffer maps (mTreebone: every 0.5 s) and pulls with the scenario's
//!   [`SchedulerSpec`] the chunks the tree did not deliver (below).
//!
//! # `pull-push` (GridMedia, Coolstreaming+)
//!
//! Follows M. Zhang, L. Zhao, Y. Tang, J.-G. Luo, S.-Q. Yang, "Large-scale live
//! media streaming over peer-to-peer networks through global internet" (the
//! GridMedia pull-push protocol), ACM MM P2PMMS workshop 2005, and S. Xie,
//! B. Li, G. Y. Keung, X. Zhang, "Coolstreaming: Design, Theory, and
//! Practice", IEEE Trans. Multimedia 2007 (Coolstreaming+).
//!
//! - The stream is split into `K = substreams` substreams; substream `s`
//!   carries the chunks with `seq % K == s`.
//! - A peer starts as a mesh-pull peer (partners, buffer maps, requests) and
//!   pulls its startup buffer. Once playing, for each substream without a
//!   parent it *subscribes* (`Join { stripe: s }`) to the partner that served
//!   that substream best recently: most chunks of `s` pulled from it (a count
//!   halved every `refresh_interval`), ties by the newest chunk of `s` in its
//!   buffer map.
//! - A node accepts a subscription when it is itself fed by push in `s` from
//!   the source (its root path is known, as in the tree), the subscriber is not
//!   on that path, and it has a free slot: `slots = min(max_slots,
//!   floor(up x K / r_wire))` substream children in total. It then pushes every
//!   chunk of `s` it receives *by push* to its children in `s` as soon as it
//!   arrives (the source pushes what it emits).
//! - **Parent reselection** (Coolstreaming+'s inequality on substream heads):
//!   once the parent has had `parent_timeout` to deliver, a subscription is
//!   dropped (`Detach`) when some partner advertises a chunk of `s` at least
//!   `reselect_threshold` chunks of the substream newer than the newest chunk
//!   the parent pushed, or when the parent has been cut off from the source
//!   (empty root path) for `parent_timeout`. A dropped or refusing partner is
//!   not asked again for that substream for `subscribe_cooldown`. A silent
//!   parent (nothing for `parent_timeout`) is lost as in the tree.
//!
//! # Push and pull together (both modes)
//!
//! A chunk is *expected by push* when its lane (the tree in `treebone`, its
//! substream in `pull-push`) has a parent connected to the source and the chunk
//! is newer than the newest chunk pushed by that parent (pushes from one parent
//! arrive in order, so a hole below a pushed chunk will never be pushed). A
//! chunk expected by push is not requested before its *pull deadline*,
//! `pull_margin` before its playback deadline; every other missing chunk is a
//! candidate for the scheduler at once. A node forwards to its children only
//! the chunks it received by push (pulled chunks fill its own holes; children
//! see the same hole and pull it themselves), and skips a child whose latest
//! buffer map shows the chunk. So a chunk is fetched twice only when a push
//! was overtaken by its pull deadline, or across a parent change; such
//! arrivals are recorded as duplicates ([`Record::ChunkArrived`]) and counted
//! per node ([`HybridStats`]).
//!
//! **Playback** uses the shared [`Player`]. A peer whose first chunks come by
//! push starts, as in tree-push, at the first pushed chunk and waits for
//! `startup_chunks` from there (they come by push), so its lag is the tree's.
//! (Starting `startup_chunks` earlier and pulling the older part of the buffer
//! would start faster, but the pull competes with the pushes for the
//! partners' upload and adds seconds of lag.) A peer not fed by push starts
//! from the lower median of its partners' newest chunks, as mesh-pull; in
//! `treebone` only after waiting up to `start_wait` (from its first buffer
//! map) for a push. A peer that has received nothing `live_start_after` after
//! joining starts at the live point and counts its misses.
//!
//! # Parameters
//!
//! [`HybridParams::default`]:
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `mode` | `treebone` | `treebone` (mTreebone) or `pull-push` (GridMedia / Coolstreaming+) |
//! | `stable_fraction` | 0.75 | treebone: a peer is stable once its age is this fraction of `expected_session` (0.75 as in a public mTreebone simulator's configuration) |
//! | `pull_margin` | 3 s | a chunk expected by push is pulled only this long before its playback deadline |
//! | `substreams` | 4 | pull-push: number of substreams `K` (1 to 64, at most the window) |
//! | `reselect_threshold` | 2 | pull-push: drop a parent that trails a partner by this many chunks of the substream |
//! | `subscribe_cooldown` | 10 s | pull-push: a partner that refused or was dropped is not asked again for the substream for this long |
//!
//! Also used: every [`MeshParams`] field for the mesh (the runner sets
//! `buffer_map_interval` to mTreebone's 0.5 s unless the scenario sets it);
//! from [`TreeParams`] `heartbeat_interval`, `parent_timeout`, `child_timeout`,
//! `join_timeout`, `join_retry`, `max_join_attempts`, `redirect_max`,
//! `max_depth`, `max_slots`, `start_wait`, `live_start_after`,
//! `tracker_list_size` and `tracker_refresh` with the tree's meanings
//! (`stripes` is ignored: the tree has one lane, pull-push has `substreams`);
//! [`HybridConfig::expected_session`] (the run's mean session length).
//!
//! # Departures from the papers
//!
//! - The stability threshold is a fixed fraction of a mean session length
//!   passed in the configuration (c = 0.75 from a public mTreebone simulator's
//!   configuration, REFERENCES.md), not derived from a model of session
//!   lengths. The rationale of an age threshold is that old peers tend to stay
//!   longer, which holds for heavy-tailed sessions; with exponential sessions
//!   (memoryless) age predicts nothing and the backbone is no more stable than
//!   any other peers.
//! - Treebone optimisations other than high-degree preemption are not
//!   implemented: a node that becomes stable stays where it is in the tree.
//!   Joins use the tree walk of [`crate::tree`] (tracker candidates and
//!   redirects down the tree).
//! - Pushed units are whole chunks, the unit of pulls; substreams are
//!   `seq % K` as in Coolstreaming+. Coolstreaming+'s balance condition
//!   between a node's own substreams is not used: with pulls filling holes,
//!   only a lagging parent matters. A subscribed peer keeps pulling what the
//!   push did not bring.
//! - Pull-push parents must be fed by push themselves (root paths as in the
//!   tree), which excludes subscription loops; the papers do not say how they
//!   avoid loops.

use std::sync::Arc;

use rand::RngExt;

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::mesh::MeshParams;
use crate::peer::{Command, Ctx, Peer, Record, StreamParams};
use crate::playback::{Player, PlayerAction, PlayerParams, SeqRing};
use crate::prefetch::prefetch_slice;
use crate::sched::{Candidate, SchedInput, Scheduler, SchedulerSpec, Supplier};
use crate::time::Time;
use crate::tree::TreeParams;
use crate::wire::{MAX_PEERS_PER_MSG, Msg, Role, wire_bytes};

/// Most substreams a pull-push stream may have (a substream number travels as
/// one byte; 64 keeps per-node state small).
pub const MAX_SUBSTREAMS: u32 = 64;

/// Which hybrid variant runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HybridMode {
    /// mTreebone: a push tree of stable peers, leaves attached to it, mesh pull for gaps.
    #[default]
    Treebone,
    /// GridMedia / Coolstreaming+: pull first, then subscribe to pushed substreams.
    PullPush,
}

impl HybridMode {
    /// Every mode name a scenario may use.
    pub const NAMES: &'static [&'static str] = &["treebone", "pull-push"];

    pub fn name(self) -> &'static str {
        match self {
            HybridMode::Treebone => "treebone",
            HybridMode::PullPush => "pull-push",
        }
    }
    pub fn from_name(name: &str) -> Option<HybridMode> {
        [HybridMode::Treebone, HybridMode::PullPush].into_iter().find(|m| m.name() == name)
    }
}

/// Hybrid parameters; see the module doc for meanings and sources.
#[derive(Clone, Debug, PartialEq)]
pub struct HybridParams {
    /// `treebone` or `pull-push` (default `treebone`).
    pub mode: HybridMode,
    /// Treebone: a peer is stable (may become interior) once its age reaches
    /// this fraction of the expected session length (default 0.75; 0 to 10).
    pub stable_fraction: f64,
    /// A chunk expected by push is pulled only this long before its playback
    /// deadline (default 3 s; more than 0 s).
    pub pull_margin: Time,
    /// Pull-push: number of substreams `K` (default 4; 1 to 64 and at most the
    /// chunks of the window). Ignored by `treebone`.
    pub substreams: u32,
    /// Pull-push: a parent is dropped when a partner advertises a chunk of the
    /// substream this many chunks of the substream newer than the newest the
    /// parent pushed (default 2; 1 to 64).
    pub reselect_threshold: u32,
    /// Pull-push: a partner that refused a subscription, or a parent dropped for
    /// lagging, is not asked again for that substream for this long (default 10 s).
    pub subscribe_cooldown: Time,
}

impl Default for HybridParams {
    fn default() -> Self {
        HybridParams {
            mode: HybridMode::Treebone,
            stable_fraction: 0.75,
            pull_margin: Time::from_secs(3),
            substreams: 4,
            reselect_threshold: 2,
            subscribe_cooldown: Time::from_secs(10),
        }
    }
}

impl HybridParams {
    /// Checks the parameters against the stream and the window (in chunks) of
    /// the run; every message names the parameter and the allowed range.
    pub fn validate(&self, stream: &StreamParams, window_chunks: u32) -> Result<(), String> {
        if stream.chunk_duration == Time::ZERO || stream.rate_bps == 0 {
            return Err("the stream needs a chunk duration > 0 and a rate > 0".into());
        }
        if self.substreams == 0 || self.substreams > MAX_SUBSTREAMS {
            return Err(format!("substreams = {}: must be between 1 and {MAX_SUBSTREAMS}", self.substreams));
        }
        if self.substreams > window_chunks {
            return Err(format!(
                "substreams = {} exceeds the {window_chunks} chunks of the window: every substream needs a \
                 chunk in each buffer map, so substreams must be between 1 and {}",
                self.substreams,
                window_chunks.clamp(1, MAX_SUBSTREAMS)
            ));
        }
        if !self.stable_fraction.is_finite() || !(0.0..=10.0).contains(&self.stable_fraction) {
            return Err(format!("stable_fraction = {}: must be between 0 and 10", self.stable_fraction));
        }
        if self.pull_margin == Time::ZERO {
            return Err("pull_margin = 0 s: must be > 0 s".into());
        }
        if self.reselect_threshold == 0 || self.reselect_threshold > 64 {
            return Err(format!("reselect_threshold = {}: must be between 1 and 64", self.reselect_threshold));
        }
        if self.subscribe_cooldown == Time::ZERO {
            return Err("subscribe_cooldown = 0 s: must be > 0 s".into());
        }
        Ok(())
    }
}

/// Everything a hybrid node needs to know about the run, shared by all nodes.
#[derive(Clone, Debug)]
pub struct HybridConfig {
    pub stream: StreamParams,
    pub player: PlayerParams,
    pub mesh: MeshParams,
    pub tree: TreeParams,
    pub hybrid: HybridParams,
    pub scheduler: SchedulerSpec,
    pub tracker: PeerId,
    /// Mean session length of the run (the scenario's, or 300 s without churn).
    pub expected_session: Time,
}

impl HybridConfig {
    /// Expected session used when the scenario has no churn.
    pub const DEFAULT_SESSION: Time = Time::from_secs(300);

    /// Bits a chunk occupies on the wire (payload, header and datagram headers).
    pub fn chunk_wire_bits(&self) -> u64 {
        let len = Msg::Chunk { seq: 0, len: self.stream.chunk_bytes(), polluted: false }.encoded_len();
        wire_bytes(len).1 * 8
    }
    /// Push lanes: 1 (the tree) in `treebone`, `substreams` in `pull-push`.
    pub fn lanes(&self) -> u32 {
        match self.hybrid.mode {
            HybridMode::Treebone => 1,
            HybridMode::PullPush => self.hybrid.substreams.clamp(1, MAX_SUBSTREAMS),
        }
    }
    /// Lane-children a node with `up_kbps` of upload can feed:
    /// `min(max_slots, floor(up x lanes / r_wire))`.
    pub fn slots_for(&self, up_kbps: u32) -> u32 {
        let k = self.lanes() as u128;
        let num = up_kbps as u128 * 1000 * k * self.stream.chunk_duration.as_nanos() as u128;
        let den = self.chunk_wire_bits() as u128 * 1_000_000_000;
        (num / den.max(1)).min(self.tree.max_slots as u128) as u32
    }
    /// Age at which a peer becomes stable: `stable_fraction x expected_session`.
    pub fn stable_age(&self) -> Time {
        Time::from_secs_f64(self.expected_session.as_secs_f64() * self.hybrid.stable_fraction)
    }
}

/// Timers of a hybrid node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HybridTimer {
    /// Source: emit the next chunk.
    Emit,
    Play,
    StartupTimeout,
    /// Nothing received yet: start the player at the live point.
    LiveStart,
    BufferMap,
    Schedule,
    Gossip,
    Refresh,
    TrackerRefresh,
    /// Heartbeats to children, keep-alives to parents, child expiry, subscriptions.
    Tick,
    /// Is the parent of `lane` still alive?
    ParentCheck {
        lane: u8,
    },
    /// The Join number `attempt` of `lane` may have gone unanswered.
    JoinTimeout {
        lane: u8,
        attempt: u32,
    },
    /// Treebone: start a new round of joins.
    JoinRetry {
        lane: u8,
    },
    /// Treebone: the peer's age reaches the stability threshold.
    Promote,
}

/// Per-node counters, for tests and tools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HybridStats {
    /// Useful chunks received by push.
    pub pushed: u32,
    /// Useful chunks received by pull (or outside a push relation).
    pub pulled: u32,
    /// Pushed chunks that were already held.
    pub duplicate_pushes: u32,
    /// Pulled chunks that were already held.
    pub duplicate_pulls: u32,
    /// Pull-push: subscriptions dropped because the parent lagged.
    pub reselections: u32,
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
    /// Chunks of each lane pulled from it; halved every refresh.
    served: Vec<u32>,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: Seq,
    from: PeerId,
    at: Time,
    expect: Time,
}

#[derive(Clone, Copy, Debug)]
struct Child {
    id: PeerId,
    /// Treebone: children it can take (0 for a leaf). Pull-push: 0.
    fanout: u32,
    heard: Time,
}

/// A node's push relations in one lane (the tree, or one substream).
#[derive(Clone, Debug, Default)]
struct Lane {
    parent: Option<PeerId>,
    /// The parent's root path (root first, parent last); empty while cut off.
    path: Vec<PeerId>,
    /// The path before the parent was lost (rejoin hints).
    lost_path: Vec<PeerId>,
    /// Last sign of life from the parent.
    heard: Time,
    check_pending: bool,
    attached_at: Time,
    /// Newest chunk the current parent pushed (initially the parent's head at attach).
    last_push: Option<Seq>,
    /// Since when the parent has been cut off from the source (empty path).
    cut_since: Option<Time>,
    children: Vec<Child>,
    /// Last change of parent or children.
    changed: Time,
    joining: Option<PeerId>,
    join_gen: u32,
    /// Treebone tree walk.
    cands: Vec<PeerId>,
    tried: Vec<PeerId>,
    attempts: u32,
    retry_pending: bool,
    /// Pull-push: partners not to ask again until the given time.
    cooldown: Vec<(PeerId, Time)>,
}

/// Most entries of a lane's cooldown list.
const COOLDOWN_MAX: usize = 16;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    cands: Vec<Candidate>,
    sups: Vec<Supplier>,
    out: Vec<crate::sched::Assignment>,
}

/// A hybrid node: the source (`is_source`) or a peer.
///
/// Inputs are the [`Peer`] methods; the getters are read-only views for tests
/// and tools.
pub struct HybridPeer {
    cfg: Arc<HybridConfig>,
    is_source: bool,
    up_kbps: u32,
    slots: u32,
    me: PeerId,
    active: bool,
    started_at: Time,
    in_backbone: bool,
    have: SeqRing,
    polluted: SeqRing,
    requested: SeqRing,
    pending: Vec<Pending>,
    newest: Option<Seq>,
    /// `newest` at the previous partner refresh (starvation detection).
    newest_at_refresh: Option<Seq>,
    /// Newest chunk received by push.
    pushed_head: Option<Seq>,
    player: Player,
    /// Treebone: the player may start from partners' maps (no push) from this time.
    start_wait_until: Option<Time>,
    partners: Vec<Partner>,
    hellos: Vec<(PeerId, Time)>,
    mcache: Vec<PeerId>,
    lanes: Vec<Lane>,
    source: Option<PeerId>,
    list_asked_at: Option<Time>,
    stats: HybridStats,
    /// This peer's chunk scheduler (built from the configuration's spec).
    sched: Box<dyn Scheduler>,
}

/// Newest chunk of lane `l` (of `k`) in `map`.
fn lane_head(map: &ChunkMap, l: u32, k: u32) -> Option<Seq> {
    let n = map.newest()?;
    let back = (n % k + k - l) % k;
    let mut s = n.checked_sub(back)?;
    while s >= map.base() {
        if map.contains(s) {
            return Some(s);
        }
        s = s.checked_sub(k)?;
    }
    None
}

impl HybridPeer {
    pub fn new(cfg: Arc<HybridConfig>, is_source: bool, up_kbps: u32) -> HybridPeer {
        let k = cfg.lanes() as usize;
        let slots = cfg.slots_for(up_kbps);
        let player = Player::new(cfg.player);
        let sched = cfg.scheduler.build();
        HybridPeer {
            sched,
            cfg,
            is_source,
            up_kbps,
            slots,
            me: PeerId(u32::MAX),
            active: false,
            started_at: Time::ZERO,
            in_backbone: is_source,
            have: SeqRing::default(),
            polluted: SeqRing::default(),
            requested: SeqRing::default(),
            pending: Vec::new(),
            newest: None,
            newest_at_refresh: None,
            pushed_head: None,
            player,
            start_wait_until: None,
            partners: Vec::new(),
            hellos: Vec::new(),
            mcache: Vec::new(),
            lanes: vec![Lane::default(); k],
            source: None,
            list_asked_at: None,
            stats: HybridStats::default(),
        }
    }

    // ----- read-only getters -----

    pub fn is_source(&self) -> bool {
        self.is_source
    }
    pub fn mode(&self) -> HybridMode {
        self.cfg.hybrid.mode
    }
    /// Treebone: whether this node is a backbone node (the source, or a stable
    /// peer with upload for a child). Always false for pull-push peers.
    pub fn in_backbone(&self) -> bool {
        self.in_backbone
    }
    /// When the node came up.
    pub fn started_at(&self) -> Time {
        self.started_at
    }
    /// Push lanes: 1 in treebone, `substreams` in pull-push.
    pub fn lane_count(&self) -> u8 {
        self.lanes.len() as u8
    }
    /// Treebone: the parent in the tree (`None` for the source, while joining,
    /// or for a peer that pulls only).
    pub fn tree_parent(&self) -> Option<PeerId> {
        self.parent(0)
    }
    /// The parent of `lane` (the tree in treebone, a substream in pull-push).
    pub fn parent(&self, lane: u8) -> Option<PeerId> {
        self.lanes.get(lane as usize).and_then(|l| l.parent)
    }
    /// Children of `lane`, in push order (largest fanout first, then by arrival).
    pub fn children(&self, lane: u8) -> impl Iterator<Item = PeerId> + '_ {
        self.lanes.get(lane as usize).into_iter().flat_map(|l| l.children.iter().map(|c| c.id))
    }
    /// Children over all lanes.
    pub fn children_total(&self) -> usize {
        self.lanes.iter().map(|l| l.children.len()).sum()
    }
    /// Lane-children this node can feed, from its upload capacity.
    pub fn slots(&self) -> u32 {
        self.slots
    }
    /// The parent's root path in `lane` (root first, parent last); empty while cut off.
    pub fn path(&self, lane: u8) -> &[PeerId] {
        self.lanes.get(lane as usize).map_or(&[], |l| &l.path)
    }
    /// Last time the parent or the children of `lane` changed.
    pub fn last_change(&self, lane: u8) -> Time {
        self.lanes.get(lane as usize).map_or(Time::ZERO, |l| l.changed)
    }
    /// Current subscriptions: `(lane, parent)` for every lane with a parent.
    pub fn subscriptions(&self) -> impl Iterator<Item = (u8, PeerId)> + '_ {
        self.lanes.iter().enumerate().filter_map(|(i, l)| l.parent.map(|p| (i as u8, p)))
    }
    /// Current mesh partners, in the order they were added.
    pub fn partners(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.partners.iter().map(|p| p.id)
    }
    pub fn is_playing(&self) -> bool {
        self.player.is_playing()
    }
    pub fn has_chunk(&self, seq: Seq) -> bool {
        self.have.contains(seq)
    }
    pub fn stats(&self) -> HybridStats {
        self.stats
    }

    // ----- helpers -----

    fn k(&self) -> u32 {
        self.lanes.len() as u32
    }
    fn lane_of(&self, seq: Seq) -> usize {
        (seq % self.k()) as usize
    }
    fn treebone(&self) -> bool {
        self.cfg.hybrid.mode == HybridMode::Treebone
    }
    /// Whether this node may have children.
    fn may_parent(&self) -> bool {
        self.slots > 0 && (self.is_source || !self.treebone() || self.in_backbone)
    }
    /// The capacity a Join advertises: what the joiner offers as a forwarder.
    fn offer_kbps(&self) -> u32 {
        if self.treebone() && !self.in_backbone { 0 } else { self.up_kbps }
    }
    fn fanout_of(&self, up_kbps: u32) -> u32 {
        if self.treebone() { self.cfg.slots_for(up_kbps) } else { 0 }
    }
    fn connected(&self, l: usize) -> bool {
        self.is_source || (self.lanes[l].parent.is_some() && !self.lanes[l].path.is_empty())
    }
    /// This node's root path in lane `l` (root first, self last); empty when cut off.
    fn my_path(&self, l: usize) -> Vec<PeerId> {
        if self.is_source {
            return vec![self.me];
        }
        let lane = &self.lanes[l];
        if lane.parent.is_none() || lane.path.is_empty() {
            return Vec::new();
        }
        let mut p = Vec::with_capacity(lane.path.len() + 1);
        p.extend_from_slice(&lane.path);
        p.push(self.me);
        p
    }
    fn path_ok(&self, path: &[PeerId]) -> bool {
        !path.contains(&self.me) && path.len() <= self.cfg.tree.max_depth as usize
    }
    fn learn_source(&mut self, path: &[PeerId]) {
        if let Some(&root) = path.first() {
            self.source = Some(root);
        }
    }
    /// True when `seq` will be pushed by the parent of its lane (see the module doc).
    fn expected_by_push(&self, seq: Seq) -> bool {
        if self.is_source {
            return false;
        }
        let lane = &self.lanes[self.lane_of(seq)];
        lane.parent.is_some() && !lane.path.is_empty() && lane.last_push.is_none_or(|lp| seq > lp)
    }
    /// Newest chunk of lane `l` held.
    fn own_lane_head(&self, l: usize) -> Option<Seq> {
        let k = self.k();
        let n = self.newest?;
        let back = (n % k + k - l as u32) % k;
        let mut s = n.checked_sub(back)?;
        let lowest = self.have.lowest().max(n.saturating_sub(self.cfg.mesh.window as u32));
        while s >= lowest {
            if self.have.contains(s) {
                return Some(s);
            }
            s = s.checked_sub(k)?;
        }
        None
    }

    fn partner_mut(&mut self, id: PeerId) -> Option<&mut Partner> {
        self.partners.iter_mut().find(|p| p.id == id)
    }
    fn partner(&self, id: PeerId) -> Option<&Partner> {
        self.partners.iter().find(|p| p.id == id)
    }
    fn is_partner(&self, id: PeerId) -> bool {
        self.partners.iter().any(|p| p.id == id)
    }
    fn is_tree_neighbour(&self, id: PeerId) -> bool {
        self.lanes.iter().any(|l| l.parent == Some(id) || l.children.iter().any(|c| c.id == id))
    }

    fn my_map(&self) -> ChunkMap {
        let w = self.cfg.mesh.window;
        let newest = self.newest.unwrap_or(0);
        let base = (newest + 1).saturating_sub(w as u32);
        self.have.to_map(base, w)
    }

    fn apply(&mut self, a: PlayerAction, cx: &mut Ctx<'_, HybridTimer>) {
        match a {
            PlayerAction::Nothing => {}
            PlayerAction::ArmPlay(at) => cx.timer_at(at, HybridTimer::Play),
            PlayerAction::ArmStartupTimeout(at) => cx.timer_at(at, HybridTimer::StartupTimeout),
        }
    }

    fn jitter(&self, period: Time, cx: &mut Ctx<'_, HybridTimer>) -> Time {
        Time(cx.rng.random_range(0..period.0.max(1)))
    }

    // ----- playback -----

    /// Chooses the start position if the player is idle (module doc, Playback).
    fn maybe_start(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        if self.is_source || !self.player.is_idle() {
            return;
        }
        let head = if let Some(h) = self.pushed_head {
            // The first pushed chunk opens the startup buffer.
            h + self.player.params().startup_chunks.max(1) - 1
        } else {
            let mut heads: Vec<Seq> = self.partners.iter().filter_map(|p| p.map.newest()).collect();
            if heads.is_empty() {
                return;
            }
            if self.treebone() {
                let until = *self.start_wait_until.get_or_insert(cx.now + self.cfg.tree.start_wait);
                if cx.now < until {
                    return;
                }
            }
            heads.sort_unstable();
            heads[(heads.len() - 1) / 2]
        };
        let a = self.player.choose_start(head, cx.now);
        self.apply(a, cx);
        let a = self.player.check_startup(&self.have, cx);
        self.apply(a, cx);
    }

    // ----- media -----

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, HybridTimer>) {
        let now = cx.now;
        let wire_bits = self.cfg.chunk_wire_bits();
        let asked_at = match self.pending.iter().position(|p| p.seq == seq && p.from == from) {
            Some(i) => {
                let p = self.pending.swap_remove(i);
                self.requested.remove(seq);
                self.sched.on_arrival(from, seq, p.at, cx.now);
                Some(p.at)
            }
            None => None,
        };
        let l = self.lane_of(seq);
        let pushed = asked_at.is_none() && self.lanes[l].parent == Some(from);
        if let Some(pt) = self.partner_mut(from) {
            pt.bytes_from += len as u64;
            if let Some(at) = asked_at {
                let took = (now - at.max(pt.last_rx)).as_nanos().max(1);
                let sample = (wire_bits as u128 * 1_000_000_000 / took as u128) as u64;
                pt.rate_bps = ((pt.rate_bps as u128 * 7 + sample as u128 * 3) / 10).max(1) as u64;
                pt.served[l] = pt.served[l].saturating_add(1);
            }
            pt.last_rx = now;
        }
        if pushed {
            let lane = &mut self.lanes[l];
            lane.heard = now;
            lane.last_push = Some(lane.last_push.map_or(seq, |x| x.max(seq)));
        }
        if self.is_source {
            return;
        }
        let late = self.player.is_playing() && self.player.needed_from().is_some_and(|n| seq < n);
        let duplicate = self.have.contains(seq) || seq < self.have.lowest();
        cx.record(Record::ChunkArrived { seq, from, duplicate, late });
        if duplicate {
            if pushed {
                self.stats.duplicate_pushes += 1;
            } else {
                self.stats.duplicate_pulls += 1;
            }
            return;
        }
        if pushed {
            self.stats.pushed += 1;
        } else {
            self.stats.pulled += 1;
        }
        self.have.insert(seq);
        if polluted {
            self.polluted.insert(seq);
        }
        self.newest = Some(self.newest.map_or(seq, |n| n.max(seq)));
        if pushed {
            self.pushed_head = Some(self.pushed_head.map_or(seq, |n| n.max(seq)));
            self.forward(l, seq, len, polluted, cx);
            self.maybe_start(cx);
        }
        if !late {
            let a = self.player.check_startup(&self.have, cx);
            self.apply(a, cx);
        }
    }

    /// Pushes `seq` to the children of lane `l`, except those whose latest
    /// buffer map shows it.
    fn forward(&mut self, l: usize, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, HybridTimer>) {
        for i in 0..self.lanes[l].children.len() {
            let c = self.lanes[l].children[i].id;
            if self.partner(c).is_some_and(|p| p.map.contains(seq)) {
                continue;
            }
            cx.send(c, Msg::Chunk { seq, len, polluted });
        }
    }

    fn serve(&mut self, from: PeerId, req: ChunkMap, cx: &mut Ctx<'_, HybridTimer>) {
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

    /// The pull scheduler (mesh-pull's, with pull deadlines for chunks expected by push).
    fn schedule(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        let now = cx.now;
        let timeout = self.cfg.mesh.request_timeout;
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
        self.maybe_start(cx);
        let Some(newest_adv) = self.partners.iter().filter_map(|p| p.map.newest()).max() else {
            return;
        };
        let Some(lo) = self.player.needed_from() else {
            return;
        };
        let hi = newest_adv.min(lo.saturating_add(self.cfg.mesh.window as u32 - 1));
        if hi < lo {
            return;
        }
        let stream = self.cfg.stream;
        let wire_bits = self.cfg.chunk_wire_bits();
        let margin = self.cfg.hybrid.pull_margin;
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
                if self.expected_by_push(seq) && now + margin < deadline {
                    continue; // the push should come first
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

    // ----- mesh membership (as mesh-pull) -----

    fn add_partner(&mut self, id: PeerId, up_kbps: u32, cx: &mut Ctx<'_, HybridTimer>) {
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
            served: vec![0; self.lanes.len()],
        });
        cx.record(Record::NeighbourAdded { peer: id });
        cx.send(id, Msg::BufferMap(self.my_map()));
    }

    /// Ends the partnership with `id`. In pull-push a subscription needs the
    /// partnership, so push relations with `id` end too.
    fn remove_partner(&mut self, id: PeerId, cx: &mut Ctx<'_, HybridTimer>) {
        let Some(i) = self.partners.iter().position(|p| p.id == id) else {
            return;
        };
        self.partners.remove(i);
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
        if !self.treebone() {
            for l in 0..self.lanes.len() {
                if self.lanes[l].parent == Some(id) {
                    self.drop_parent(l, true, cx);
                    self.cool(l, id, cx.now);
                }
                if self.remove_child(l, id, cx) {
                    cx.send(id, Msg::Detach { stripe: l as u8 });
                }
            }
        }
    }

    fn remember(&mut self, id: PeerId, cx: &mut Ctx<'_, HybridTimer>) {
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

    fn refresh(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        let now = cx.now;
        let timeout = self.cfg.mesh.partner_timeout;
        let silent: Vec<PeerId> = self.partners.iter().filter(|p| p.heard_at + timeout < now).map(|p| p.id).collect();
        for id in silent {
            self.remove_partner(id, cx);
            self.mcache.retain(|&m| m != id);
        }
        self.hellos.retain(|&(_, at)| at + timeout >= now);
        // Starving (as in mesh-pull): playing with an empty buffer and no new
        // chunk since the last refresh. One mesh partner is then swapped for a
        // fresh candidate and the tracker is asked, so a mesh cut off from the
        // source (outage, partition) finds it again.
        let drained =
            self.player.is_playing() && self.newest.is_some_and(|n| self.player.needed_from().is_some_and(|x| n < x));
        let starving = !self.is_source && drained && self.newest == self.newest_at_refresh;
        self.newest_at_refresh = self.newest;
        if !self.is_source && self.partners.len() >= self.cfg.mesh.partners {
            let score = |p: &Partner| p.bytes_from + p.bytes_to;
            let mean = self.partners.iter().map(score).sum::<u64>() as f64 / self.partners.len() as f64;
            // Push relations are never dropped for a low score.
            let worst = self
                .partners
                .iter()
                .filter(|p| !self.is_tree_neighbour(p.id))
                .min_by_key(|p| score(p))
                .map(|p| (p.id, score(p)));
            if let Some((id, s)) = worst
                && (starving || (mean > 0.0 && (s as f64) < self.cfg.mesh.underperform_ratio * mean))
            {
                cx.send(id, Msg::Bye);
                self.remove_partner(id, cx);
            }
        }
        if starving {
            self.list_asked_at = None;
            self.ask_tracker(cx);
        }
        for p in &mut self.partners {
            p.bytes_from = 0;
            p.bytes_to = 0;
            for s in &mut p.served {
                *s /= 2;
            }
        }
        if !self.is_source {
            self.seek_partners(cx);
        }
    }

    fn seek_partners(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
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
            self.ask_tracker(cx);
        }
        for k in 0..want.min(cands.len()) {
            let j = cx.rng.random_range(k..cands.len());
            cands.swap(k, j);
            let c = cands[k];
            self.hellos.push((c, cx.now));
            cx.send(c, Msg::Hello { up_kbps: self.up_kbps });
        }
    }

    fn gossip(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
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

    fn ask_tracker(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        let recent = self.list_asked_at.is_some_and(|t| t + self.cfg.tree.join_retry > cx.now);
        if !recent {
            self.list_asked_at = Some(cx.now);
            let want = self.cfg.mesh.tracker_list_size.max(self.cfg.tree.tracker_list_size);
            cx.send(self.cfg.tracker, Msg::PeerListReq { want });
        }
    }

    // ----- push relations (tree mechanics, one lane per tree/substream) -----

    fn record_change(&mut self, l: usize, now: Time) {
        self.lanes[l].changed = now;
    }

    /// Sends the current root path of `l` to every child (after a change).
    fn cascade(&mut self, l: usize, cx: &mut Ctx<'_, HybridTimer>) {
        if self.lanes[l].children.is_empty() {
            return;
        }
        let path = self.my_path(l);
        for c in &self.lanes[l].children {
            cx.send(c.id, Msg::Heartbeat { stripe: l as u8, path: path.clone() });
        }
    }

    fn arm_check(&mut self, l: usize, at: Time, cx: &mut Ctx<'_, HybridTimer>) {
        let lane = &mut self.lanes[l];
        if !lane.check_pending {
            lane.check_pending = true;
            cx.timer_at(at, HybridTimer::ParentCheck { lane: l as u8 });
        }
    }

    fn arm_retry(&mut self, l: usize, cx: &mut Ctx<'_, HybridTimer>) {
        let lane = &mut self.lanes[l];
        if !lane.retry_pending {
            lane.retry_pending = true;
            cx.timer_in(self.cfg.tree.join_retry, HybridTimer::JoinRetry { lane: l as u8 });
        }
    }

    fn needs_parent(&self, l: usize) -> bool {
        self.active && !self.is_source && self.lanes[l].parent.is_none()
    }

    /// Pull-push: do not ask `id` again for lane `l` for `subscribe_cooldown`.
    fn cool(&mut self, l: usize, id: PeerId, now: Time) {
        let until = now + self.cfg.hybrid.subscribe_cooldown;
        let cd = &mut self.lanes[l].cooldown;
        cd.retain(|&(p, t)| p != id && t > now);
        if cd.len() >= COOLDOWN_MAX {
            cd.remove(0);
        }
        cd.push((id, until));
    }

    /// Treebone: adds join candidates in front of (`front`) or behind the current ones.
    fn add_cands(&mut self, l: usize, ids: &[PeerId], front: bool) {
        let (me, tracker) = (self.me, self.cfg.tracker);
        let lane = &mut self.lanes[l];
        let mut fresh: Vec<PeerId> = Vec::with_capacity(ids.len());
        for &c in ids {
            if c != me && c != tracker && !lane.tried.contains(&c) && !fresh.contains(&c) {
                fresh.push(c);
            }
        }
        lane.cands.retain(|c| !fresh.contains(c));
        if front {
            fresh.append(&mut lane.cands);
            lane.cands = fresh;
        } else {
            lane.cands.extend(fresh);
        }
        lane.cands.truncate(MAX_PEERS_PER_MSG);
    }

    /// Treebone: sends the next Join of the tree walk, or backs off.
    fn try_next(&mut self, l: usize, cx: &mut Ctx<'_, HybridTimer>) {
        if !self.treebone() || !self.needs_parent(l) || self.lanes[l].joining.is_some() {
            return;
        }
        let max = self.cfg.tree.max_join_attempts;
        let lane = &mut self.lanes[l];
        if lane.attempts >= max {
            lane.cands.clear();
            lane.tried.clear();
            lane.attempts = 0;
            self.arm_retry(l, cx);
            return;
        }
        if lane.cands.is_empty() {
            self.ask_tracker(cx);
            self.arm_retry(l, cx);
            return;
        }
        let c = lane.cands.remove(0);
        lane.tried.push(c);
        lane.attempts += 1;
        self.send_join(l, c, cx);
    }

    fn send_join(&mut self, l: usize, to: PeerId, cx: &mut Ctx<'_, HybridTimer>) {
        let offer = self.offer_kbps();
        let lane = &mut self.lanes[l];
        lane.joining = Some(to);
        lane.join_gen = lane.join_gen.wrapping_add(1);
        let attempt = lane.join_gen;
        cx.send(to, Msg::Join { stripe: l as u8, up_kbps: offer });
        cx.timer_in(self.cfg.tree.join_timeout, HybridTimer::JoinTimeout { lane: l as u8, attempt });
    }

    /// Treebone: starts looking for a parent from the hints of the lost path.
    fn rejoin(&mut self, l: usize, cx: &mut Ctx<'_, HybridTimer>) {
        if !self.treebone() {
            return;
        }
        let lane = &self.lanes[l];
        let mut hints = Vec::with_capacity(2);
        if lane.lost_path.len() >= 2 {
            hints.push(lane.lost_path[lane.lost_path.len() - 2]);
        }
        if let Some(src) = self.source {
            hints.push(src);
        }
        let lane = &mut self.lanes[l];
        lane.tried.clear();
        lane.attempts = 0;
        self.add_cands(l, &hints, true);
        self.try_next(l, cx);
    }

    fn attach(&mut self, l: usize, parent: PeerId, path: Vec<PeerId>, cx: &mut Ctx<'_, HybridTimer>) {
        self.learn_source(&path);
        let now = cx.now;
        // Chunks up to the parent's head (or our own, when its map is unknown)
        // were received by the parent before we subscribed: they are not pushed.
        let k = self.k();
        let parent_head = self.partner(parent).and_then(|p| lane_head(&p.map, l as u32, k));
        let floor = parent_head.max(self.own_lane_head(l));
        let lane = &mut self.lanes[l];
        lane.parent = Some(parent);
        lane.path = path;
        lane.lost_path.clear();
        lane.heard = now;
        lane.attached_at = now;
        lane.last_push = floor;
        lane.cut_since = None;
        lane.joining = None;
        lane.cands.clear();
        lane.tried.clear();
        lane.attempts = 0;
        self.record_change(l, now);
        cx.record(Record::NeighbourAdded { peer: parent });
        let at = now + self.cfg.tree.parent_timeout;
        self.arm_check(l, at, cx);
        self.cascade(l, cx);
    }

    /// The parent of `l` is gone (lost, left, evicted us, or we leave it).
    /// Children are kept and told that they are cut off.
    fn drop_parent(&mut self, l: usize, send_detach: bool, cx: &mut Ctx<'_, HybridTimer>) {
        let now = cx.now;
        let lane = &mut self.lanes[l];
        let Some(p) = lane.parent.take() else { return };
        lane.lost_path = std::mem::take(&mut lane.path);
        lane.last_push = None;
        lane.cut_since = None;
        if send_detach {
            cx.send(p, Msg::Detach { stripe: l as u8 });
        }
        self.record_change(l, now);
        cx.record(Record::NeighbourRemoved { peer: p });
        self.cascade(l, cx);
    }

    fn remove_child(&mut self, l: usize, id: PeerId, cx: &mut Ctx<'_, HybridTimer>) -> bool {
        let lane = &mut self.lanes[l];
        if let Some(i) = lane.children.iter().position(|c| c.id == id) {
            lane.children.remove(i);
            let now = cx.now;
            self.record_change(l, now);
            cx.record(Record::NeighbourRemoved { peer: id });
            true
        } else {
            false
        }
    }

    /// Drops children whose keep-alives stopped `child_timeout` ago.
    fn expire_children(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        let limit = self.cfg.tree.child_timeout;
        for l in 0..self.lanes.len() {
            let now = cx.now;
            while let Some(c) = self.lanes[l].children.iter().find(|c| c.heard + limit < now).map(|c| c.id) {
                self.remove_child(l, c, cx);
            }
        }
    }

    /// Treebone: up to `redirect_max` recently heard backbone children,
    /// largest fanout first (ties in random order).
    fn redirects(&self, l: usize, except: PeerId, cx: &mut Ctx<'_, HybridTimer>) -> Vec<PeerId> {
        if !self.treebone() {
            return Vec::new();
        }
        let fresh = self.cfg.tree.heartbeat_interval + self.cfg.tree.heartbeat_interval;
        let mut v: Vec<(u32, PeerId)> = self.lanes[l]
            .children
            .iter()
            .filter(|c| c.fanout > 0 && c.id != except && c.heard + fresh >= cx.now)
            .map(|c| (c.fanout, c.id))
            .collect();
        for i in 0..v.len() {
            let j = cx.rng.random_range(i..v.len());
            v.swap(i, j);
        }
        v.sort_by_key(|&(f, _)| std::cmp::Reverse(f));
        v.truncate(self.cfg.tree.redirect_max as usize);
        v.into_iter().map(|(_, id)| id).collect()
    }

    fn on_join(&mut self, from: PeerId, l: usize, up_kbps: u32, cx: &mut Ctx<'_, HybridTimer>) {
        let now = cx.now;
        let fanout = self.fanout_of(up_kbps);
        if let Some(i) = self.lanes[l].children.iter().position(|c| c.id == from) {
            // Keep-alive of an existing child, with its current offer (a leaf
            // that became stable now offers its slots): keep the order by fanout.
            let ch = &mut self.lanes[l].children;
            ch[i].heard = now;
            if ch[i].fanout != fanout {
                let mut c = ch.remove(i);
                c.fanout = fanout;
                let at = ch.iter().position(|x| x.fanout < fanout).unwrap_or(ch.len());
                ch.insert(at, c);
            }
            return;
        }
        let refuse = |to: Vec<PeerId>, cx: &mut Ctx<'_, HybridTimer>| {
            cx.send(from, Msg::JoinAck { stripe: l as u8, accept: false, path: to });
        };
        if !self.may_parent() {
            // A leaf: point up to our parent.
            let up =
                if self.treebone() { self.lanes[l].parent.filter(|&p| p != from && self.connected(l)) } else { None };
            refuse(up.into_iter().collect(), cx);
            return;
        }
        let path = self.my_path(l);
        if path.is_empty() || path.contains(&from) || path.len() >= self.cfg.tree.max_depth as usize {
            refuse(Vec::new(), cx);
            return;
        }
        if self.children_total() as u32 >= self.slots {
            self.expire_children(cx);
        }
        let full = self.children_total() as u32 >= self.slots;
        // High-degree preemption: the weakest child (most recent among equals)
        // makes room for a joiner that can feed more children.
        let evict = if full && fanout > 0 {
            self.lanes[l].children.iter().rev().min_by_key(|c| c.fanout).filter(|c| c.fanout < fanout).map(|c| c.id)
        } else {
            None
        };
        if full && evict.is_none() {
            let to = self.redirects(l, from, cx);
            refuse(to, cx);
            return;
        }
        let ch = &mut self.lanes[l].children;
        let at = ch.iter().position(|c| c.fanout < fanout).unwrap_or(ch.len());
        ch.insert(at, Child { id: from, fanout, heard: now });
        self.record_change(l, now);
        cx.record(Record::NeighbourAdded { peer: from });
        cx.send(from, Msg::JoinAck { stripe: l as u8, accept: true, path });
        if let Some(id) = evict {
            self.remove_child(l, id, cx);
            let to = self.redirects(l, id, cx);
            cx.send(id, Msg::JoinAck { stripe: l as u8, accept: false, path: to });
        }
    }

    fn on_join_ack(&mut self, from: PeerId, l: usize, accept: bool, path: Vec<PeerId>, cx: &mut Ctx<'_, HybridTimer>) {
        let lane = &self.lanes[l];
        let (joining, parent) = (lane.joining == Some(from), lane.parent == Some(from));
        if accept {
            if joining && !self.is_source && lane.parent.is_none() {
                self.lanes[l].joining = None;
                if self.path_ok(&path) && !path.is_empty() {
                    self.attach(l, from, path, cx);
                } else {
                    cx.send(from, Msg::Detach { stripe: l as u8 });
                    self.after_refusal(l, from, &[], cx);
                }
            } else if parent {
                self.on_parent_path(l, path, cx);
            } else {
                // A late acceptance: we went elsewhere.
                if joining {
                    self.lanes[l].joining = None;
                }
                cx.send(from, Msg::Detach { stripe: l as u8 });
            }
        } else if joining {
            self.lanes[l].joining = None;
            self.after_refusal(l, from, &path, cx);
        } else if parent {
            // Evicted by our parent (preemption): go where it says.
            self.drop_parent(l, false, cx);
            let lane = &mut self.lanes[l];
            lane.tried.clear();
            lane.attempts = 0;
            self.after_refusal(l, from, &path, cx);
            if let Some(src) = self.source {
                self.add_cands(l, &[src], false);
            }
        }
    }

    /// A Join of `l` to `from` failed; `redirect` names other nodes to try.
    fn after_refusal(&mut self, l: usize, from: PeerId, redirect: &[PeerId], cx: &mut Ctx<'_, HybridTimer>) {
        if self.treebone() {
            self.add_cands(l, redirect, true);
            self.try_next(l, cx);
        } else {
            self.cool(l, from, cx.now);
        }
    }

    /// A new root path from the parent of `l` (heartbeat or refreshed ack).
    fn on_parent_path(&mut self, l: usize, path: Vec<PeerId>, cx: &mut Ctx<'_, HybridTimer>) {
        if !self.path_ok(&path) {
            // A loop through us, or too deep: leave this parent.
            let p = self.lanes[l].parent;
            self.drop_parent(l, true, cx);
            self.lanes[l].lost_path.clear();
            if let Some(p) = p
                && !self.treebone()
            {
                self.cool(l, p, cx.now);
            }
            self.rejoin(l, cx);
            return;
        }
        if self.lanes[l].path != path {
            self.learn_source(&path);
            let lane = &mut self.lanes[l];
            lane.cut_since = if path.is_empty() { lane.cut_since.or(Some(cx.now)) } else { None };
            lane.path = path;
            self.cascade(l, cx);
        }
    }

    fn tick(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        self.expire_children(cx);
        let offer = self.offer_kbps();
        for l in 0..self.lanes.len() {
            if !self.lanes[l].children.is_empty() {
                let path = self.my_path(l);
                for c in &self.lanes[l].children {
                    cx.send(c.id, Msg::Heartbeat { stripe: l as u8, path: path.clone() });
                }
            }
            if let Some(p) = self.lanes[l].parent {
                cx.send(p, Msg::Join { stripe: l as u8, up_kbps: offer });
            }
        }
        if !self.treebone() && !self.is_source {
            self.manage_subscriptions(cx);
        }
    }

    /// Pull-push: drops lagging parents and subscribes lanes without one.
    fn manage_subscriptions(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        let now = cx.now;
        let k = self.k();
        let threshold = self.cfg.hybrid.reselect_threshold as u64 * k as u64;
        for l in 0..self.lanes.len() {
            self.lanes[l].cooldown.retain(|&(_, t)| t > now);
            if let Some(p) = self.lanes[l].parent {
                let lane = &self.lanes[l];
                let patience = self.cfg.tree.parent_timeout;
                if lane.attached_at + patience > now {
                    continue;
                }
                let best = self.partners.iter().filter_map(|q| lane_head(&q.map, l as u32, k)).max();
                let lagging = match (best, lane.last_push) {
                    // Cut off from the source for longer than a parent may be silent.
                    _ if lane.path.is_empty() => lane.cut_since.is_some_and(|t| t + patience <= now),
                    (Some(b), Some(m)) => b as u64 >= m as u64 + threshold,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if lagging {
                    self.drop_parent(l, true, cx);
                    self.cool(l, p, now);
                    self.stats.reselections += 1;
                } else {
                    continue;
                }
            }
            // Pull first: the startup buffer is pulled, pushes serve the playing peer.
            if self.lanes[l].joining.is_some() || !self.player.is_playing() {
                continue;
            }
            let lane = &self.lanes[l];
            let best = self
                .partners
                .iter()
                .filter(|q| {
                    !lane.cooldown.iter().any(|&(c, _)| c == q.id) && !lane.children.iter().any(|c| c.id == q.id)
                })
                .filter_map(|q| lane_head(&q.map, l as u32, k).map(|h| ((q.served[l], h), q.id)))
                .max_by_key(|&(key, _)| key)
                .map(|(_, id)| id);
            if let Some(to) = best {
                self.send_join(l, to, cx);
            }
        }
    }
}

impl Peer for HybridPeer {
    type Timer = HybridTimer;

    /// As mesh-pull's partner list, plus the push lanes.
    fn prefetch(&self) {
        prefetch_slice(&self.partners, 3);
        prefetch_slice(&self.pending, 2);
        prefetch_slice(&self.lanes, 2);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        self.active = true;
        self.me = cx.me;
        self.started_at = cx.now;
        let m = self.cfg.mesh.clone();
        let role = if self.is_source { Role::Source } else { Role::Peer };
        cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
        cx.timer_in(m.tracker_refresh, HybridTimer::TrackerRefresh);
        let j = self.jitter(m.buffer_map_interval, cx);
        cx.timer_in(j, HybridTimer::BufferMap);
        let j = self.jitter(m.gossip_interval, cx);
        cx.timer_in(j, HybridTimer::Gossip);
        let j = self.jitter(m.refresh_interval, cx);
        cx.timer_in(j, HybridTimer::Refresh);
        let j = self.jitter(self.cfg.tree.heartbeat_interval, cx);
        cx.timer_in(j, HybridTimer::Tick);
        if self.is_source {
            self.source = Some(cx.me);
            let first = self.cfg.stream.newest_at(cx.now);
            let at = self.cfg.stream.emission(first);
            let first = if at < cx.now { first + 1 } else { first };
            cx.timer_at(self.cfg.stream.emission(first), HybridTimer::Emit);
        } else {
            self.ask_tracker(cx);
            let j = self.jitter(m.schedule_interval, cx);
            cx.timer_in(j, HybridTimer::Schedule);
            cx.timer_in(self.cfg.tree.live_start_after, HybridTimer::LiveStart);
            if self.treebone() {
                self.arm_retry(0, cx);
                if self.slots > 0 {
                    cx.timer_in(self.cfg.stable_age(), HybridTimer::Promote);
                }
            }
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, HybridTimer>) {
        if !self.active {
            return;
        }
        let k = self.k();
        match msg {
            Msg::PeerList { peers } => {
                for &p in &peers {
                    self.remember(p, cx);
                }
                if !self.is_source && self.partners.len() < self.cfg.mesh.partners {
                    self.seek_partners(cx);
                }
                if self.treebone() && self.needs_parent(0) {
                    let mut list = peers;
                    for i in 0..list.len() {
                        let j = cx.rng.random_range(i..list.len());
                        list.swap(i, j);
                    }
                    let src: Vec<PeerId> = self.source.into_iter().collect();
                    self.add_cands(0, &src, false);
                    self.add_cands(0, &list, false);
                    self.try_next(0, cx);
                }
            }
            Msg::Gossip { peers } => {
                for p in peers {
                    self.remember(p, cx);
                }
                if !self.is_source && self.partners.len() < self.cfg.mesh.partners {
                    self.seek_partners(cx);
                }
            }
            Msg::Hello { up_kbps } => {
                self.remember(from, cx);
                let accept = self.is_partner(from) || self.partners.len() < self.cfg.mesh.partners_max;
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
                    if self.partners.len() < self.cfg.mesh.partners_max {
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
            Msg::Join { stripe, up_kbps } if (stripe as u32) < k => self.on_join(from, stripe as usize, up_kbps, cx),
            Msg::JoinAck { stripe, accept, path } if (stripe as u32) < k => {
                self.on_join_ack(from, stripe as usize, accept, path, cx)
            }
            Msg::Heartbeat { stripe, path } if (stripe as u32) < k => {
                let l = stripe as usize;
                if self.lanes[l].parent == Some(from) {
                    self.lanes[l].heard = cx.now;
                    self.on_parent_path(l, path, cx);
                } else {
                    cx.send(from, Msg::Detach { stripe });
                }
            }
            Msg::Detach { stripe } if (stripe as u32) < k => {
                let l = stripe as usize;
                if self.lanes[l].parent == Some(from) {
                    self.drop_parent(l, false, cx);
                    if self.treebone() {
                        self.rejoin(l, cx);
                    } else {
                        self.cool(l, from, cx.now);
                    }
                } else {
                    self.remove_child(l, from, cx);
                }
            }
            Msg::Register { .. }
            | Msg::Unregister
            | Msg::PeerListReq { .. }
            | Msg::Join { .. }
            | Msg::JoinAck { .. }
            | Msg::Detach { .. }
            | Msg::Heartbeat { .. } => {}
        }
    }

    fn on_timer(&mut self, timer: HybridTimer, cx: &mut Ctx<'_, HybridTimer>) {
        if !self.active {
            return;
        }
        match timer {
            HybridTimer::Emit => {
                let seq = self.cfg.stream.newest_at(cx.now);
                self.have.insert(seq);
                self.newest = Some(seq);
                let l = self.lane_of(seq);
                let len = self.cfg.stream.chunk_bytes();
                self.forward(l, seq, len, false, cx);
                cx.timer_at(self.cfg.stream.emission(seq + 1), HybridTimer::Emit);
            }
            HybridTimer::Play => {
                let stream = self.cfg.stream;
                let a = self.player.on_play_timer(&self.have, &self.polluted, &stream, cx);
                self.apply(a, cx);
            }
            HybridTimer::StartupTimeout => {
                let a = self.player.on_startup_timeout(cx);
                self.apply(a, cx);
            }
            HybridTimer::LiveStart => {
                if self.player.is_idle() && self.newest.is_none() {
                    let next = self.cfg.stream.newest_at(cx.now) + 1;
                    let startup = self.player.params().startup_chunks.max(1);
                    let a = self.player.choose_start(next + startup - 1, cx.now);
                    self.apply(a, cx);
                }
            }
            HybridTimer::BufferMap => {
                if self.newest.is_some() {
                    let map = self.my_map();
                    for p in &self.partners {
                        cx.send(p.id, Msg::BufferMap(map));
                    }
                }
                cx.timer_in(self.cfg.mesh.buffer_map_interval, HybridTimer::BufferMap);
            }
            HybridTimer::Schedule => {
                self.schedule(cx);
                cx.timer_in(self.cfg.mesh.schedule_interval, HybridTimer::Schedule);
            }
            HybridTimer::Gossip => {
                self.gossip(cx);
                cx.timer_in(self.cfg.mesh.gossip_interval, HybridTimer::Gossip);
            }
            HybridTimer::Refresh => {
                self.refresh(cx);
                cx.timer_in(self.cfg.mesh.refresh_interval, HybridTimer::Refresh);
            }
            HybridTimer::TrackerRefresh => {
                let role = if self.is_source { Role::Source } else { Role::Peer };
                cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
                cx.timer_in(self.cfg.mesh.tracker_refresh, HybridTimer::TrackerRefresh);
            }
            HybridTimer::Tick => {
                self.tick(cx);
                cx.timer_in(self.cfg.tree.heartbeat_interval, HybridTimer::Tick);
            }
            HybridTimer::ParentCheck { lane } => {
                let l = lane as usize;
                let Some(st) = self.lanes.get_mut(l) else { return };
                st.check_pending = false;
                let Some(p) = st.parent else { return };
                let due = st.heard + self.cfg.tree.parent_timeout;
                if due <= cx.now {
                    self.drop_parent(l, false, cx);
                    if self.treebone() {
                        self.rejoin(l, cx);
                    } else {
                        self.cool(l, p, cx.now);
                    }
                } else {
                    self.arm_check(l, due, cx);
                }
            }
            HybridTimer::JoinTimeout { lane, attempt } => {
                let l = lane as usize;
                let Some(st) = self.lanes.get_mut(l) else { return };
                if let Some(to) = st.joining
                    && st.join_gen == attempt
                {
                    st.joining = None;
                    self.after_refusal(l, to, &[], cx);
                }
            }
            HybridTimer::JoinRetry { lane } => {
                let l = lane as usize;
                let Some(st) = self.lanes.get_mut(l) else { return };
                st.retry_pending = false;
                if self.needs_parent(l) && self.lanes[l].joining.is_none() {
                    if self.lanes[l].cands.is_empty() {
                        self.ask_tracker(cx);
                        let src: Vec<PeerId> = self.source.into_iter().collect();
                        self.add_cands(l, &src, true);
                    }
                    self.try_next(l, cx);
                }
            }
            HybridTimer::Promote => {
                if self.treebone() && !self.is_source && self.slots > 0 {
                    self.in_backbone = true;
                    // Tell the parent at once that this child can now forward.
                    if let Some(p) = self.lanes[0].parent {
                        cx.send(p, Msg::Join { stripe: 0, up_kbps: self.up_kbps });
                    }
                }
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, HybridTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                if graceful && self.active {
                    for p in &self.partners {
                        cx.send(p.id, Msg::Bye);
                    }
                    for (l, lane) in self.lanes.iter().enumerate() {
                        let stripe = l as u8;
                        if let Some(p) = lane.parent {
                            cx.send(p, Msg::Detach { stripe });
                        }
                        for c in &lane.children {
                            cx.send(c.id, Msg::Detach { stripe });
                        }
                    }
                    cx.send(self.cfg.tracker, Msg::Unregister);
                }
                self.active = false;
                self.partners = Vec::new();
                self.pending = Vec::new();
                self.mcache = Vec::new();
                self.hellos = Vec::new();
                for lane in &mut self.lanes {
                    *lane = Lane::default();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Outbox;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const LEN: u32 = 62_500;

    fn cfg(hybrid: HybridParams, startup_chunks: u32) -> Arc<HybridConfig> {
        Arc::new(HybridConfig {
            stream: StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
            player: PlayerParams { startup_chunks, startup_timeout: Time::from_secs(30) },
            mesh: MeshParams::default(),
            tree: TreeParams::default(),
            hybrid,
            scheduler: crate::sched::default_spec(),
            tracker: PeerId(0),
            expected_session: Time::from_secs(100),
        })
    }

    fn call(
        p: &mut HybridPeer,
        me: u32,
        now: Time,
        f: impl FnOnce(&mut HybridPeer, &mut Ctx<'_, HybridTimer>),
    ) -> Outbox<HybridTimer> {
        let mut rng = ChaCha8Rng::seed_from_u64(me as u64);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(now, PeerId(me), &mut rng, Time::ZERO, &mut out);
        f(p, &mut cx);
        out
    }

    fn msg(p: &mut HybridPeer, now: Time, from: u32, m: Msg) -> Vec<(PeerId, Msg)> {
        call(p, 5, now, |p, cx| p.on_message(PeerId(from), m, cx)).sends
    }

    fn map(lo: Seq, hi: Seq) -> ChunkMap {
        let mut m = ChunkMap::new(0, 120);
        for s in lo..=hi {
            m.insert(s);
        }
        m
    }

    fn chunk(seq: Seq) -> Msg {
        Msg::Chunk { seq, len: LEN, polluted: false }
    }

    fn requested(sends: &[(PeerId, Msg)]) -> Vec<Seq> {
        sends
            .iter()
            .filter_map(|(_, m)| match m {
                Msg::Request(r) => Some(r.iter().collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Peer 5 (2000 kbps) with partner 7 holding chunks `0..=hi`, attached in
    /// the tree (lane 0) under the source 1.
    fn attached_peer(hybrid: HybridParams, startup: u32, hi: Seq) -> HybridPeer {
        let mut p = HybridPeer::new(cfg(hybrid, startup), false, 2000);
        call(&mut p, 5, Time::ZERO, |p, cx| p.on_start(cx));
        msg(&mut p, Time::ZERO, 7, Msg::Hello { up_kbps: 2000 });
        msg(&mut p, Time::ZERO, 7, Msg::BufferMap(map(0, hi)));
        let s = msg(&mut p, Time::ZERO, 0, Msg::PeerList { peers: vec![PeerId(1)] });
        assert!(s.iter().any(|(to, m)| to.0 == 1 && matches!(m, Msg::Join { stripe: 0, up_kbps: 0 })), "{s:?}");
        msg(&mut p, Time::ZERO, 1, Msg::JoinAck { stripe: 0, accept: true, path: vec![PeerId(1)] });
        assert_eq!(p.tree_parent(), Some(PeerId(1)));
        p
    }

    #[test]
    fn chunks_expected_by_push_wait_for_their_pull_deadline_and_holes_are_pulled_at_once() {
        let hybrid = HybridParams { pull_margin: Time::from_secs(1), ..HybridParams::default() };
        let mut p = attached_peer(hybrid, 2, 30);
        let t = Time::from_millis(100);
        // The first push opens the startup buffer [15, 17); 16 is lost, 17 follows.
        msg(&mut p, t, 1, chunk(15));
        msg(&mut p, t, 1, chunk(17));
        assert!(!p.is_playing());
        let s = call(&mut p, 5, t, |p, cx| p.on_timer(HybridTimer::Schedule, cx)).sends;
        assert_eq!(requested(&s), vec![16], "only the hole below the pushed chunks is pulled");
        // 16 arrives: playback starts at 200 ms; chunk s is due at 0.2 + (s - 15) s.
        msg(&mut p, Time::from_millis(200), 7, chunk(16));
        assert!(p.is_playing());
        // At 1.5 s, 18 is due at 3.2 s: not yet within the 1 s pull margin.
        let s = call(&mut p, 5, Time::from_millis(1_500), |p, cx| p.on_timer(HybridTimer::Schedule, cx)).sends;
        assert!(requested(&s).is_empty(), "{:?}", requested(&s));
        // At 2.3 s it is: 18 is pulled, 19 (due 4.2 s) still waits for the push.
        let s = call(&mut p, 5, Time::from_millis(2_300), |p, cx| p.on_timer(HybridTimer::Schedule, cx)).sends;
        assert_eq!(requested(&s), vec![18]);
        // Its push arrives anyway: a duplicate, counted.
        msg(&mut p, Time::from_millis(2_400), 1, chunk(18));
        msg(&mut p, Time::from_millis(2_500), 7, chunk(18));
        let st = p.stats();
        assert_eq!((st.pushed, st.pulled, st.duplicate_pulls), (3, 1, 1), "{st:?}");
        // Without a parent everything missing is pulled at once.
        msg(&mut p, Time::from_millis(2_600), 1, Msg::Detach { stripe: 0 });
        assert_eq!(p.tree_parent(), None);
        let s = call(&mut p, 5, Time::from_millis(2_700), |p, cx| p.on_timer(HybridTimer::Schedule, cx)).sends;
        assert_eq!(requested(&s).first(), Some(&19));
    }

    #[test]
    fn only_pushed_chunks_are_forwarded_and_not_to_children_that_hold_them() {
        let hybrid = HybridParams { stable_fraction: 0.0, ..HybridParams::default() };
        let mut p = attached_peer(hybrid, 10, 30);
        let t = Time::from_millis(100);
        // A leaf refuses children and points to its parent.
        let s = msg(&mut p, t, 9, Msg::Join { stripe: 0, up_kbps: 0 });
        assert_eq!(s, vec![(PeerId(9), Msg::JoinAck { stripe: 0, accept: false, path: vec![PeerId(1)] })]);
        call(&mut p, 5, t, |p, cx| p.on_timer(HybridTimer::Promote, cx));
        assert!(p.in_backbone());
        for c in [9, 7] {
            let s = msg(&mut p, t, c, Msg::Join { stripe: 0, up_kbps: 0 });
            assert_eq!(s[0], (PeerId(c), Msg::JoinAck { stripe: 0, accept: true, path: vec![PeerId(1), PeerId(5)] }));
        }
        // 7 is also a partner whose map shows chunk 30: only 9 gets the push.
        let s = msg(&mut p, t, 1, chunk(30));
        assert_eq!(s, vec![(PeerId(9), chunk(30))]);
        let s = msg(&mut p, t, 1, chunk(40));
        assert_eq!(s, vec![(PeerId(9), chunk(40)), (PeerId(7), chunk(40))]);
        // A chunk that did not come from the parent is not forwarded.
        assert!(msg(&mut p, t, 7, chunk(39)).is_empty());
        // Full (3 slots: 9, 7 and a third leaf), a backbone joiner preempts the newest leaf.
        msg(&mut p, t, 11, Msg::Join { stripe: 0, up_kbps: 0 });
        let s = msg(&mut p, t, 12, Msg::Join { stripe: 0, up_kbps: 2000 });
        assert!(s.iter().any(|(to, m)| to.0 == 12 && matches!(m, Msg::JoinAck { accept: true, .. })));
        let evicted = s.iter().find_map(|(to, m)| match m {
            Msg::JoinAck { accept: false, path, .. } => Some((to.0, path.clone())),
            _ => None,
        });
        assert_eq!(evicted, Some((11, vec![PeerId(12)])), "the leaf goes to the new backbone child");
        assert_eq!(p.children(0).collect::<Vec<_>>(), vec![PeerId(12), PeerId(9), PeerId(7)]);
    }

    #[test]
    fn pull_push_subscribes_to_the_best_partner_and_drops_a_lagging_parent() {
        let hybrid = HybridParams { mode: HybridMode::PullPush, substreams: 2, ..HybridParams::default() };
        let mut p = HybridPeer::new(cfg(hybrid, 1), false, 2000);
        call(&mut p, 5, Time::ZERO, |p, cx| p.on_start(cx));
        for (q, hi) in [(7, 20), (8, 22)] {
            msg(&mut p, Time::ZERO, q, Msg::Hello { up_kbps: 2000 });
            msg(&mut p, Time::ZERO, q, Msg::BufferMap(map(0, hi)));
        }
        // Pull first: no subscription before the player plays. The start
        // position (the lower median of the partners' heads, 20) is pulled.
        let no_join = |s: &[(PeerId, Msg)]| !s.iter().any(|(_, m)| matches!(m, Msg::Join { .. }));
        assert!(no_join(&call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Tick, cx)).sends));
        let s = call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Schedule, cx)).sends;
        assert_eq!(requested(&s), vec![20, 21, 22]);
        assert!(no_join(&call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Tick, cx)).sends));
        let from = s.iter().find_map(|(to, m)| matches!(m, Msg::Request(r) if r.contains(20)).then_some(to.0));
        msg(&mut p, Time::ZERO, from.unwrap(), chunk(20));
        assert!(p.is_playing());
        let s = call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Tick, cx)).sends;
        let joins: Vec<(u32, u8)> = s
            .iter()
            .filter_map(|(to, m)| match m {
                Msg::Join { stripe, .. } => Some((to.0, *stripe)),
                _ => None,
            })
            .collect();
        // Substream 0: the partner that served chunk 20; substream 1: none
        // served it, the one with the freshest chunk of it (8: 21 against 19).
        let (p0, other) = (from.unwrap(), if from == Some(7) { 8 } else { 7 });
        assert_eq!(joins, vec![(p0, 0), (8, 1)]);
        for (l, q) in [(0, p0), (1, 8)] {
            msg(&mut p, Time::ZERO, q, Msg::JoinAck { stripe: l, accept: true, path: vec![PeerId(1), PeerId(q)] });
        }
        assert_eq!(p.subscriptions().collect::<Vec<_>>(), vec![(0, PeerId(p0)), (1, PeerId(8))]);
        // 8 pushes chunk 27 of substream 1; nothing of substream 0 comes.
        // The other partner advertises both up to 30.
        msg(&mut p, Time::from_secs(1), 8, chunk(27));
        msg(&mut p, Time::from_secs(4), other, Msg::BufferMap(map(0, 30)));
        msg(&mut p, Time::from_secs(4), p0, Msg::BufferMap(map(0, 27)));
        let s = call(&mut p, 5, Time::from_secs(4), |p, cx| p.on_timer(HybridTimer::Tick, cx)).sends;
        // Substream 0: 30 >= (parent's head at attach, at most 22) + 2 x 2: reselect.
        assert!(s.contains(&(PeerId(p0), Msg::Detach { stripe: 0 })), "{s:?}");
        assert!(s.iter().any(|(to, m)| to.0 == other && matches!(m, Msg::Join { stripe: 0, .. })));
        // Substream 1: 29 < 27 + 4, the parent keeps up.
        assert!(!s.contains(&(PeerId(8), Msg::Detach { stripe: 1 })));
        assert_eq!(p.parent(1), Some(PeerId(8)));
        assert_eq!(p.stats().reselections, 1);
    }

    #[test]
    fn lane_heads_and_validation() {
        let m = map(3, 9);
        assert_eq!(lane_head(&m, 0, 4), Some(8));
        assert_eq!(lane_head(&m, 1, 4), Some(9));
        assert_eq!(lane_head(&m, 3, 4), Some(7));
        assert_eq!(lane_head(&ChunkMap::new(0, 8), 0, 4), None);
        let stream = StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) };
        assert_eq!(HybridParams::default().validate(&stream, 120), Ok(()));
        assert_eq!(HybridMode::from_name("pull-push"), Some(HybridMode::PullPush));
        assert_eq!(HybridMode::from_name("mesh"), None);
    }
}
