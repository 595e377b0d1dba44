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
//! arrivals are recorded as duplicates ([`Record::ChunkArrived`](crate::peer::Record::ChunkArrived)) and counted
//! per node ([`HybridStats`]).
//!
//! **Playback** uses the shared [`Player`](crate::playback::Player). A peer whose first chunks come by
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
//! # Composition
//!
//! A hybrid node is the partner-mesh core ([`crate::meshcore`]) and the
//! lane-tree core ([`crate::lanetree`]) side by side over one [`Media`];
//! this module holds only what is hybrid: the policies that tie them
//! together (pull deadlines for chunks expected by push, push relations never
//! dropped by the mesh refresh, pull-push subscriptions and parent
//! reselection, the treebone's stability and preemption by offered
//! capacity, where the player starts).
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
//!   configuration; docs/references.md), not derived from a model of session
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
use crate::lanetree::{LanePolicy, LaneTimer, LaneTree, ask_tracker_limited};
use crate::media::{HasMedia, Media, MediaTimer};
use crate::mesh::MeshParams;
use crate::meshcore::{MeshEnv, MeshTimer, Partner, PartnerMesh, PullPolicy};
use crate::peer::{Command, Ctx, Peer, StreamParams};
use crate::playback::PlayerParams;
use crate::prefetch::prefetch_slice;
use crate::sched::SchedulerSpec;
use crate::time::Time;
use crate::tree::TreeParams;
use crate::wire::{Msg, Role};

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

/// The defaults live in one place, the scenario section ([`HybridSection`](crate::params::hybrid::HybridSection)).
impl Default for HybridParams {
    fn default() -> Self {
        crate::params::hybrid::HybridSection::default().to_params()
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
        crate::media::chunk_wire_bits(&self.stream)
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
    Media(MediaTimer),
    Mesh(MeshTimer),
    Lane(LaneTimer),
    /// Nothing received yet: start the player at the live point.
    LiveStart,
    TrackerRefresh,
    /// Treebone: the peer's age reaches the stability threshold.
    Promote,
}

crate::timer_from!(HybridTimer: Media(MediaTimer), Mesh(MeshTimer), Lane(LaneTimer));

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

/// Most entries of a lane's cooldown list.
const COOLDOWN_MAX: usize = 16;

/// Per-partner data of a hybrid: chunks of each lane pulled from it, halved
/// every refresh (pull-push picks parents by it; empty in treebone).
type Served = Vec<u32>;

/// What a hybrid node keeps besides its two cores and its media.
struct State {
    up_kbps: u32,
    started_at: Time,
    in_backbone: bool,
    /// Newest chunk received by push.
    pushed_head: Option<Seq>,
    /// Treebone: the player may start from partners' maps (no push) from this time.
    start_wait_until: Option<Time>,
    list_asked_at: Option<Time>,
    stats: HybridStats,
    /// Pull-push, per lane: partners not to ask again until the given time.
    cooldown: Vec<Vec<(PeerId, Time)>>,
}

impl State {
    /// Pull-push: do not ask `id` again for lane `l` for `subscribe_cooldown`.
    fn cool(&mut self, cfg: &HybridConfig, l: usize, id: PeerId, now: Time) {
        let until = now + cfg.hybrid.subscribe_cooldown;
        let cd = &mut self.cooldown[l];
        cd.retain(|&(p, t)| p != id && t > now);
        if cd.len() >= COOLDOWN_MAX {
            cd.remove(0);
        }
        cd.push((id, until));
    }
    fn ask_tracker(&mut self, cfg: &HybridConfig, cx: &mut Ctx<'_, HybridTimer>) {
        let want = cfg.mesh.tracker_list_size.max(cfg.tree.tracker_list_size);
        ask_tracker_limited(&mut self.list_asked_at, cfg.tree.join_retry, cfg.tracker, want, cx);
    }
}

fn treebone(cfg: &HybridConfig) -> bool {
    cfg.hybrid.mode == HybridMode::Treebone
}

/// True when `seq` will be pushed by the parent of its lane (see the module doc).
fn expected_by_push(tree: &LaneTree, seq: Seq) -> bool {
    if tree.is_source {
        return false;
    }
    let lane = &tree.lanes[(seq % tree.k()) as usize];
    lane.parent.is_some() && !lane.path.is_empty() && lane.last_push.is_none_or(|lp| seq > lp)
}

/// Chooses the start position if the player is idle (module doc, Playback).
fn maybe_start(
    cfg: &HybridConfig,
    st: &mut State,
    is_source: bool,
    hint: Option<Seq>,
    media: &mut Media,
    cx: &mut Ctx<'_, HybridTimer>,
) {
    if is_source || !media.player.is_idle() {
        return;
    }
    let head = if let Some(h) = st.pushed_head {
        // The first pushed chunk opens the startup buffer.
        h + media.player.params().startup_chunks.max(1) - 1
    } else {
        let Some(head) = hint else {
            return;
        };
        if treebone(cfg) {
            let until = *st.start_wait_until.get_or_insert(cx.now + cfg.tree.start_wait);
            if cx.now < until {
                return;
            }
        }
        head
    };
    media.choose_start(head, cx);
    media.check_startup(cx);
}

/// The hybrid's choices for the mesh core.
struct MeshSide<'a> {
    cfg: &'a HybridConfig,
    st: &'a mut State,
    tree: &'a mut LaneTree,
}

impl PullPolicy<HybridTimer> for MeshSide<'_> {
    type Ext = Served;
    fn new_ext(&self) -> Served {
        // Only pull-push reads it (`manage_subscriptions`): a treebone
        // partner allocates nothing.
        if treebone(self.cfg) { Vec::new() } else { vec![0; self.tree.lanes.len()] }
    }
    fn ask_tracker(&mut self, starving: bool, cx: &mut Ctx<'_, HybridTimer>) {
        if starving {
            self.st.list_asked_at = None;
        }
        self.st.ask_tracker(self.cfg, cx);
    }
    /// In pull-push a subscription needs the partnership, so push relations
    /// with `id` end too.
    fn partner_removed(&mut self, id: PeerId, cx: &mut Ctx<'_, HybridTimer>) {
        if treebone(self.cfg) {
            return;
        }
        for l in 0..self.tree.lanes.len() {
            if self.tree.lanes[l].parent == Some(id) {
                self.tree.drop_parent(l, true, cx);
                self.st.cool(self.cfg, l, id, cx.now);
            }
            if self.tree.remove_child(l, id, cx) {
                cx.send(id, Msg::Detach { stripe: l as u8 });
            }
        }
    }
    /// Push relations are never dropped for a low score.
    fn keep(&self, id: PeerId) -> bool {
        self.tree.is_neighbour(id)
    }
    fn before_schedule(
        &mut self,
        _partners: &[Partner<Served>],
        hint: Option<Seq>,
        media: &mut Media,
        cx: &mut Ctx<'_, HybridTimer>,
    ) {
        maybe_start(self.cfg, self.st, self.tree.is_source, hint, media, cx);
    }
    /// A chunk expected by push waits for its pull deadline.
    fn defer(&self, seq: Seq, deadline: Time, now: Time) -> bool {
        expected_by_push(self.tree, seq) && now + self.cfg.hybrid.pull_margin < deadline
    }
    fn on_refresh(&self, served: &mut Served) {
        for s in served {
            *s /= 2;
        }
    }
}

/// The hybrid's choices for the lane core.
struct LaneSide<'a> {
    cfg: &'a HybridConfig,
    st: &'a mut State,
    mesh: &'a PartnerMesh<Served>,
    media: &'a Media,
    is_source: bool,
    slots: u32,
    k: u32,
}

impl LaneSide<'_> {
    /// Newest chunk of lane `l` held.
    fn own_lane_head(&self, l: usize) -> Option<Seq> {
        let k = self.k;
        let n = self.media.newest?;
        let back = (n % k + k - l as u32) % k;
        let mut s = n.checked_sub(back)?;
        let lowest = self.media.have.lowest().max(n.saturating_sub(self.cfg.mesh.window as u32));
        while s >= lowest {
            if self.media.have.contains(s) {
                return Some(s);
            }
            s = s.checked_sub(k)?;
        }
        None
    }
}

impl LanePolicy<HybridTimer> for LaneSide<'_> {
    /// What the joiner offers as a forwarder: 0 for a treebone leaf.
    fn offer_kbps(&self) -> u32 {
        if treebone(self.cfg) && !self.st.in_backbone { 0 } else { self.st.up_kbps }
    }
    fn may_parent(&self, _lane: usize) -> bool {
        self.slots > 0 && (self.is_source || !treebone(self.cfg) || self.st.in_backbone)
    }
    fn redirect_up(&self) -> bool {
        treebone(self.cfg)
    }
    fn fanout(&self, _from: PeerId, _lane: usize, up_kbps: u32) -> u32 {
        if treebone(self.cfg) { self.cfg.slots_for(up_kbps) } else { 0 }
    }
    fn walks(&self) -> bool {
        treebone(self.cfg)
    }
    fn ask_tracker(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        self.st.ask_tracker(self.cfg, cx);
    }
    /// Chunks up to the parent's head (or our own, when its map is unknown)
    /// were received by the parent before we subscribed: they are not pushed.
    fn push_floor(&self, l: usize, parent: PeerId) -> Option<Seq> {
        let parent_head = self.mesh.partner(parent).and_then(|p| lane_head(&p.map, l as u32, self.k));
        parent_head.max(self.own_lane_head(l))
    }
    fn refused(&mut self, l: usize, from: PeerId, now: Time) {
        self.st.cool(self.cfg, l, from, now);
    }
    fn parent_lost(&mut self, l: usize, parent: PeerId, now: Time) {
        if !treebone(self.cfg) {
            self.st.cool(self.cfg, l, parent, now);
        }
    }
    fn source_hint_first(&self) -> bool {
        false
    }
}

/// A hybrid node: the source (`is_source`) or a peer.
///
/// Inputs are the [`Peer`] methods; the getters are read-only views for tests
/// and tools.
pub struct HybridPeer {
    cfg: Arc<HybridConfig>,
    mesh: PartnerMesh<Served>,
    tree: LaneTree,
    media: Media,
    st: State,
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
        let mesh = PartnerMesh::new(cfg.scheduler.build(), is_source, up_kbps, cfg.tracker)
            .with_degree(&cfg.mesh, &cfg.stream);
        let tree = LaneTree::new(k, is_source, slots, cfg.tracker);
        let media = Media::new(cfg.player);
        let st = State {
            up_kbps,
            started_at: Time::ZERO,
            in_backbone: is_source,
            pushed_head: None,
            start_wait_until: None,
            list_asked_at: None,
            stats: HybridStats::default(),
            cooldown: vec![Vec::new(); k],
        };
        HybridPeer { cfg, mesh, tree, media, st }
    }

    // ----- read-only getters -----

    pub fn is_source(&self) -> bool {
        self.tree.is_source
    }
    pub fn mode(&self) -> HybridMode {
        self.cfg.hybrid.mode
    }
    /// Treebone: whether this node is a backbone node (the source, or a stable
    /// peer with upload for a child). Always false for pull-push peers.
    pub fn in_backbone(&self) -> bool {
        self.st.in_backbone
    }
    /// When the node came up.
    pub fn started_at(&self) -> Time {
        self.st.started_at
    }
    /// Push lanes: 1 in treebone, `substreams` in pull-push.
    pub fn lane_count(&self) -> u8 {
        self.tree.lanes.len() as u8
    }
    /// Treebone: the parent in the tree (`None` for the source, while joining,
    /// or for a peer that pulls only).
    pub fn tree_parent(&self) -> Option<PeerId> {
        self.parent(0)
    }
    /// The parent of `lane` (the tree in treebone, a substream in pull-push).
    pub fn parent(&self, lane: u8) -> Option<PeerId> {
        self.tree.parent(lane as usize)
    }
    /// Children of `lane`, in push order (largest fanout first, then by arrival).
    pub fn children(&self, lane: u8) -> impl Iterator<Item = PeerId> + '_ {
        self.tree.lanes.get(lane as usize).into_iter().flat_map(|l| l.children.iter().map(|c| c.id))
    }
    /// Children over all lanes.
    pub fn children_total(&self) -> usize {
        self.tree.children_total()
    }
    /// Lane-children this node can feed, from its upload capacity.
    pub fn slots(&self) -> u32 {
        self.tree.slots
    }
    /// The parent's root path in `lane` (root first, parent last); empty while cut off.
    pub fn path(&self, lane: u8) -> &[PeerId] {
        self.tree.lanes.get(lane as usize).map_or(&[], |l| &l.path)
    }
    /// Last time the parent or the children of `lane` changed.
    pub fn last_change(&self, lane: u8) -> Time {
        self.tree.lanes.get(lane as usize).map_or(Time::ZERO, |l| l.changed)
    }
    /// Current subscriptions: `(lane, parent)` for every lane with a parent.
    pub fn subscriptions(&self) -> impl Iterator<Item = (u8, PeerId)> + '_ {
        self.tree.lanes.iter().enumerate().filter_map(|(i, l)| l.parent.map(|p| (i as u8, p)))
    }
    /// Current mesh partners, in the order they were added.
    pub fn partners(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.mesh.partners().iter().map(|p| p.id)
    }
    pub fn stats(&self) -> HybridStats {
        self.st.stats
    }

    // ----- helpers -----

    fn lane_of(&self, seq: Seq) -> usize {
        (seq % self.tree.k()) as usize
    }
    fn role(&self) -> Role {
        if self.tree.is_source { Role::Source } else { Role::Peer }
    }

    /// The configuration, the mesh core and its policy over the rest of the
    /// node. (The configuration is borrowed, never cloned per event: an
    /// `Arc` clone is an atomic read-modify-write of a count every node of
    /// the run shares, which the engine's threads would fight over.)
    fn mesh_side(&mut self) -> (&HybridConfig, &mut PartnerMesh<Served>, &mut Media, MeshSide<'_>) {
        let pol = MeshSide { cfg: &self.cfg, st: &mut self.st, tree: &mut self.tree };
        (&self.cfg, &mut self.mesh, &mut self.media, pol)
    }
    /// The configuration, the lane core and its policy over the rest of the node.
    fn lane_side(&mut self) -> (&HybridConfig, &mut LaneTree, LaneSide<'_>) {
        let pol = LaneSide {
            cfg: &self.cfg,
            st: &mut self.st,
            mesh: &self.mesh,
            media: &self.media,
            is_source: self.tree.is_source,
            slots: self.tree.slots,
            k: self.tree.k(),
        };
        (&self.cfg, &mut self.tree, pol)
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, HybridTimer>) {
        if !Media::admit(seq, from, self.tree.is_source, &self.cfg.stream, cx) {
            return;
        }
        let now = cx.now;
        let wire_bits = self.cfg.chunk_wire_bits();
        let asked_at = self.mesh.on_chunk(from, seq, len, wire_bits, now);
        let l = self.lane_of(seq);
        if asked_at.is_some()
            && let Some(pt) = self.mesh.partner_mut(from)
            && let Some(s) = pt.ext.get_mut(l)
        {
            *s = s.saturating_add(1);
        }
        let pushed = asked_at.is_none() && self.tree.lanes[l].parent == Some(from);
        if pushed {
            let lane = &mut self.tree.lanes[l];
            lane.heard = now;
            lane.last_push = Some(lane.last_push.map_or(seq, |x| x.max(seq)));
        }
        if self.tree.is_source {
            return;
        }
        let a = self.media.arrival(seq, from, true, cx);
        let stats = &mut self.st.stats;
        if a.duplicate {
            if pushed {
                stats.duplicate_pushes += 1;
            } else {
                stats.duplicate_pulls += 1;
            }
            return;
        }
        if pushed {
            stats.pushed += 1;
        } else {
            stats.pulled += 1;
        }
        self.media.store(seq, polluted);
        self.mesh.announce(seq, from, &self.cfg.mesh, cx);
        if pushed {
            self.st.pushed_head = Some(self.st.pushed_head.map_or(seq, |n| n.max(seq)));
            self.forward(l, seq, len, polluted, cx);
            let is_source = self.tree.is_source;
            maybe_start(&self.cfg, &mut self.st, is_source, None, &mut self.media, cx);
        }
        if !a.late {
            self.media.check_startup(cx);
        }
    }

    /// Pushes `seq` to the children of lane `l`, except those whose latest
    /// buffer map shows it.
    fn forward(&mut self, l: usize, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, HybridTimer>) {
        for c in &self.tree.lanes[l].children {
            if self.mesh.partner(c.id).is_some_and(|p| p.map.contains(seq)) {
                continue;
            }
            cx.send(c.id, Msg::Chunk { seq, len, polluted });
        }
    }

    /// Pull-push: drops lagging parents and subscribes lanes without one.
    fn manage_subscriptions(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        let now = cx.now;
        let k = self.tree.k();
        let threshold = self.cfg.hybrid.reselect_threshold as u64 * k as u64;
        let patience = self.cfg.tree.parent_timeout;
        for l in 0..self.tree.lanes.len() {
            self.st.cooldown[l].retain(|&(_, t)| t > now);
            if let Some(p) = self.tree.lanes[l].parent {
                let lane = &self.tree.lanes[l];
                if lane.attached_at + patience > now {
                    continue;
                }
                let best = self.mesh.partners().iter().filter_map(|q| lane_head(&q.map, l as u32, k)).max();
                let lagging = match (best, lane.last_push) {
                    // Cut off from the source for longer than a parent may be silent.
                    _ if lane.path.is_empty() => lane.cut_since.is_some_and(|t| t + patience <= now),
                    (Some(b), Some(m)) => b as u64 >= m as u64 + threshold,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if lagging {
                    self.tree.drop_parent(l, true, cx);
                    self.st.cool(&self.cfg, l, p, now);
                    self.st.stats.reselections += 1;
                } else {
                    continue;
                }
            }
            // Pull first: the startup buffer is pulled, pushes serve the playing peer.
            if self.tree.lanes[l].joining.is_some() || !self.media.player.is_playing() {
                continue;
            }
            let lane = &self.tree.lanes[l];
            let cooldown = &self.st.cooldown[l];
            let best = self
                .mesh
                .partners()
                .iter()
                .filter(|q| !cooldown.iter().any(|&(c, _)| c == q.id) && !lane.children.iter().any(|c| c.id == q.id))
                .filter_map(|q| lane_head(&q.map, l as u32, k).map(|h| ((q.ext[l], h), q.id)))
                .max_by_key(|&(key, _)| key)
                .map(|(_, id)| id);
            if let Some(to) = best {
                let offer = self.lane_side().2.offer_kbps();
                self.tree.send_join(l, to, offer, &self.cfg.tree, cx);
            }
        }
    }
}

impl HasMedia for HybridPeer {
    fn media(&self) -> &Media {
        &self.media
    }
}

impl Peer for HybridPeer {
    type Timer = HybridTimer;

    /// As mesh-pull's partner list, plus the push lanes.
    fn prefetch(&self) {
        self.mesh.prefetch();
        prefetch_slice(&self.tree.lanes, 2);
    }
    /// The sender's partner record instead of the first partners.
    fn prefetch_from(&self, from: PeerId) {
        self.mesh.prefetch_from(from);
        prefetch_slice(&self.tree.lanes, 2);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, HybridTimer>) {
        self.tree.active = true;
        self.tree.me = cx.me;
        self.st.started_at = cx.now;
        let cfg = self.cfg.clone();
        cx.send(cfg.tracker, Msg::Register { role: self.role(), up_kbps: self.st.up_kbps });
        cx.timer_in(cfg.mesh.tracker_refresh, HybridTimer::TrackerRefresh);
        self.mesh.start(&cfg.mesh, cx);
        self.tree.start_tick(&cfg.tree, cx);
        if self.tree.is_source {
            self.tree.source = Some(cx.me);
            Media::start_source(&cfg.stream, cx);
        } else {
            self.st.ask_tracker(&cfg, cx);
            self.mesh.start_schedule(&cfg.mesh, cx);
            cx.timer_in(cfg.tree.live_start_after, HybridTimer::LiveStart);
            if treebone(&cfg) {
                self.tree.arm_retry(0, &cfg.tree, cx);
                if self.tree.slots > 0 {
                    cx.timer_in(cfg.stable_age(), HybridTimer::Promote);
                }
            }
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, HybridTimer>) {
        if !self.tree.active {
            return;
        }
        let (cfg, mesh, media, mut pol) = self.mesh_side();
        let Some(msg) = mesh.on_message(from, msg, media, MeshEnv::new(&cfg.mesh, &cfg.stream), &mut pol, cx) else {
            return;
        };
        let (cfg, tree, mut pol) = self.lane_side();
        let treebone = treebone(cfg);
        match tree.on_message(from, msg, &cfg.tree, &mut pol, cx) {
            Some(Msg::PeerList { peers }) if treebone && self.tree.needs_parent(0) => {
                let mut list = peers;
                for i in 0..list.len() {
                    let j = cx.rng.random_range(i..list.len());
                    list.swap(i, j);
                }
                let (cfg, tree, mut pol) = self.lane_side();
                let src: Vec<PeerId> = tree.source.into_iter().collect();
                tree.add_cands(0, &src, false);
                tree.add_cands(0, &list, false);
                tree.try_next(0, &cfg.tree, &mut pol, cx);
            }
            Some(Msg::Chunk { seq, len, polluted }) => self.on_chunk(from, seq, len, polluted, cx),
            _ => {}
        }
    }

    fn on_timer(&mut self, timer: HybridTimer, cx: &mut Ctx<'_, HybridTimer>) {
        if !self.tree.active {
            return;
        }
        match timer {
            HybridTimer::Media(m) => {
                let bytes = self.cfg.stream.chunk_bytes();
                if let Some(seq) = self.media.on_timer(m, &self.cfg.stream, cx) {
                    let l = self.lane_of(seq);
                    self.forward(l, seq, bytes, false, cx);
                }
            }
            HybridTimer::Mesh(t) => {
                let (cfg, mesh, media, mut pol) = self.mesh_side();
                mesh.on_timer(t, media, MeshEnv::new(&cfg.mesh, &cfg.stream), &mut pol, cx);
            }
            HybridTimer::Lane(LaneTimer::Tick) => {
                let (cfg, tree, pol) = self.lane_side();
                tree.tick(&cfg.tree, &pol, cx);
                let (pull_push, heartbeat) = (!treebone(cfg), cfg.tree.heartbeat_interval);
                if pull_push && !self.tree.is_source {
                    self.manage_subscriptions(cx);
                }
                cx.timer_in(heartbeat, LaneTimer::Tick.into());
            }
            HybridTimer::Lane(t) => {
                let (cfg, tree, mut pol) = self.lane_side();
                tree.on_timer(t, &cfg.tree, &mut pol, cx);
            }
            HybridTimer::LiveStart => {
                if self.media.player.is_idle() && self.media.newest.is_none() {
                    self.media.live_start(&self.cfg.stream, cx);
                }
            }
            HybridTimer::TrackerRefresh => {
                cx.send(self.cfg.tracker, Msg::Register { role: self.role(), up_kbps: self.st.up_kbps });
                cx.timer_in(self.cfg.mesh.tracker_refresh, HybridTimer::TrackerRefresh);
            }
            HybridTimer::Promote => {
                if treebone(&self.cfg) && !self.tree.is_source && self.tree.slots > 0 {
                    self.st.in_backbone = true;
                    // Tell the parent at once that this child can now forward.
                    if let Some(p) = self.tree.lanes[0].parent {
                        cx.send(p, Msg::Join { stripe: 0, up_kbps: self.st.up_kbps });
                    }
                }
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, HybridTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                let graceful = graceful && self.tree.active;
                self.mesh.leave(graceful, cx);
                self.tree.leave(graceful, cx);
                if graceful {
                    cx.send(self.cfg.tracker, Msg::Unregister);
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
            player: PlayerParams { startup_chunks, startup_timeout: Time::from_secs(30), rebuffer_chunks: None },
            mesh: MeshParams::default(),
            tree: TreeParams::default(),
            hybrid,
            scheduler: crate::sched::default_spec(),
            tracker: PeerId(0),
            expected_session: Time::from_secs(100),
        })
    }

    /// The tests' clock starts here, so that the chunks they use (up to 40)
    /// have been emitted by the stream's schedule (later chunks are dropped as
    /// coming from the future).
    const T0: Time = Time::from_secs(60);

    fn call(
        p: &mut HybridPeer,
        me: u32,
        now: Time,
        f: impl FnOnce(&mut HybridPeer, &mut Ctx<'_, HybridTimer>),
    ) -> Outbox<HybridTimer> {
        let mut rng = ChaCha8Rng::seed_from_u64(me as u64);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(T0 + now, PeerId(me), &mut rng, Time::ZERO, &mut out);
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
        let s = call(&mut p, 5, t, |p, cx| p.on_timer(HybridTimer::Mesh(MeshTimer::Schedule), cx)).sends;
        assert_eq!(requested(&s), vec![16], "only the hole below the pushed chunks is pulled");
        // 16 arrives: playback starts at 200 ms; chunk s is due at 0.2 + (s - 15) s.
        msg(&mut p, Time::from_millis(200), 7, chunk(16));
        assert!(p.is_playing());
        // At 1.5 s, 18 is due at 3.2 s: not yet within the 1 s pull margin.
        let s =
            call(&mut p, 5, Time::from_millis(1_500), |p, cx| p.on_timer(HybridTimer::Mesh(MeshTimer::Schedule), cx))
                .sends;
        assert!(requested(&s).is_empty(), "{:?}", requested(&s));
        // At 2.3 s it is: 18 is pulled, 19 (due 4.2 s) still waits for the push.
        let s =
            call(&mut p, 5, Time::from_millis(2_300), |p, cx| p.on_timer(HybridTimer::Mesh(MeshTimer::Schedule), cx))
                .sends;
        assert_eq!(requested(&s), vec![18]);
        // Its push arrives anyway: a duplicate, counted.
        msg(&mut p, Time::from_millis(2_400), 1, chunk(18));
        msg(&mut p, Time::from_millis(2_500), 7, chunk(18));
        let st = p.stats();
        assert_eq!((st.pushed, st.pulled, st.duplicate_pulls), (3, 1, 1), "{st:?}");
        // Without a parent everything missing is pulled at once.
        msg(&mut p, Time::from_millis(2_600), 1, Msg::Detach { stripe: 0 });
        assert_eq!(p.tree_parent(), None);
        let s =
            call(&mut p, 5, Time::from_millis(2_700), |p, cx| p.on_timer(HybridTimer::Mesh(MeshTimer::Schedule), cx))
                .sends;
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
        assert!(no_join(
            &call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Lane(LaneTimer::Tick), cx)).sends
        ));
        let s = call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Mesh(MeshTimer::Schedule), cx)).sends;
        assert_eq!(requested(&s), vec![20, 21, 22]);
        assert!(no_join(
            &call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Lane(LaneTimer::Tick), cx)).sends
        ));
        let from = s.iter().find_map(|(to, m)| matches!(m, Msg::Request(r) if r.contains(20)).then_some(to.0));
        msg(&mut p, Time::ZERO, from.unwrap(), chunk(20));
        assert!(p.is_playing());
        let s = call(&mut p, 5, Time::ZERO, |p, cx| p.on_timer(HybridTimer::Lane(LaneTimer::Tick), cx)).sends;
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
        let s = call(&mut p, 5, Time::from_secs(4), |p, cx| p.on_timer(HybridTimer::Lane(LaneTimer::Tick), cx)).sends;
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
