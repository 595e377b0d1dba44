//! Tree-push streaming: a single tree (`stripes = 1`) or a SplitStream-style
//! multi-tree (`stripes = k > 1`).
//!
//! Follows M. Castro, P. Druschel, A.-M. Kermarrec, A. Nandi, A. Rowstron,
//! A. Singh, "SplitStream: High-Bandwidth Multicast in Cooperative
//! Environments", ACM SOSP 2003. The stream is split into `k` stripes: stripe
//! `s` carries the chunks with `seq % k == s`, and each stripe is pushed down
//! its own tree rooted at the source. Every peer subscribes to all `k` stripes
//! (one parent per stripe) and is *interior* (has children) in at most one of
//! them, its home stripe; it is a leaf in all the others. With `k = 1` this is
//! a classic single push tree whose interior is made of every peer able to
//! forward.
//!
//! # Algorithm
//!
//! - **Capacity.** A child in one stripe costs `r / k` of upload, where `r` is
//!   the stream's on-wire rate (chunk payload plus chunk header plus per-datagram
//!   headers, the bytes the links really carry). A node has
//!   `slots = min(max_slots, floor(up x k / r))` stripe-children in total, and
//!   never more children than slots. A peer with no slot is a leaf everywhere.
//!   The source is interior in every stripe and shares its slots among them.
//! - **Home stripe.** A peer with at least one slot has home stripe
//!   `id mod k` (SplitStream: the stripe whose id shares the node id's first
//!   digit; with dense ids the residue is the same idea and lets every node
//!   compute any other node's home stripe). It accepts children only there.
//! - **Join.** A peer registers with the tracker, asks for `tracker_list_size`
//!   members and, for every stripe, sends `Join` to one candidate at a time:
//!   the source first when known, then members whose home is that stripe, then
//!   the others. A node accepts when it is interior in the stripe, connected to
//!   the root, has a free slot, the joiner is not on its own root path and the
//!   child would not be deeper than `max_depth`; the `JoinAck` carries its root
//!   path. Otherwise it refuses and redirects: a full interior node names up to
//!   `redirect_max` of its children that can forward in the stripe (the joiner
//!   tries them first, so the search walks down the tree), a node that is a leaf
//!   in the stripe names its own parent there. A refused joiner tries its next
//!   candidate; after `max_join_attempts` Joins (or when it has no candidates
//!   left) it waits `join_retry` and starts over from a fresh tracker list. A
//!   Join unanswered after `join_timeout` counts as refused.
//! - **Push-down (preemption).** A full node that receives a Join from a peer
//!   that could feed more children in that stripe than its weakest child (a
//!   leaf there has fanout 0) adopts it and evicts that child (for the source
//!   also a leaf child of another stripe, or, if the stripe has no forwarder
//!   under the source yet, a forwarder of the stripe with most source
//!   children). The eviction is an unsolicited refusal (`JoinAck { accept:
//!   false }`) from the current parent, listing where to go instead (the
//!   newcomer among them); an evicted forwarder takes its subtree along.
//!   Forwarders therefore end up near the root, as in SplitStream.
//! - **Push.** The source emits chunk `n` at `StreamParams::emission(n)` and
//!   sends it to its children in stripe `n % k`; a node forwards every new chunk
//!   to all its children of that stripe as soon as it arrives, largest fanout
//!   first (forwarders before leaves, so that the deep part of the tree waits
//!   least behind a whole-chunk burst).
//! - **Recovery** (`recover`, default on). One lost datagram loses a whole
//!   chunk (0.1% datagram loss loses a 53-datagram chunk 5.2% of the time per
//!   hop), and a pure push tree never sends it again. A child that receives a
//!   chunk of a stripe above a chunk of that stripe it lacks (a hole: lost on
//!   the way, or pushed while it changed parents) asks its parent for the
//!   holes at once with a `Request`, and again at its heartbeats while a hole
//!   is still missing and useful to the player: at once after a refusal for a
//!   full upload queue, otherwise once `parent_timeout` has passed since it
//!   was last asked. A parent serves a request from its child in
//!   the stripe with the chunks it holds while its upload backlog is at most
//!   [`RECOVERY_BACKLOG`], behind the pushes already queued, and refuses the
//!   rest (`Refuse`); holes it lacks itself it recovers from its own parent,
//!   and the child asks again at its next heartbeat. `recover = false` is the
//!   pure push tree of the paper.
//! - **Liveness and repair.** Every `heartbeat_interval` a parent sends each
//!   child a `Heartbeat` with its root path, and each child re-sends `Join` to
//!   its parent as a keep-alive. Chunks also count as a sign of life. A child
//!   that hears nothing from its parent for `parent_timeout` treats it as lost;
//!   a parent drops a child silent for `child_timeout`. A node that loses its
//!   parent keeps its own children (the subtree rejoins as a whole), tells them
//!   at once that they are cut off (a `Heartbeat` with an empty path), and
//!   rejoins: first its former grandparent (from the last path), then the
//!   source, then tracker candidates. A graceful leaver sends `Detach` to its
//!   parents and children (children rejoin at once) and `Unregister` to the
//!   tracker; a crash is silent.
//! - **Loops and depth.** Root paths travel in `JoinAck` and `Heartbeat`, and a
//!   node that learns a new path forwards it to its children at once. A node
//!   never accepts a joiner on its own root path, nor accepts while cut off
//!   from the root (empty path). A child that finds itself on its parent's
//!   path (a loop built by two concurrent rejoins) or a path longer than
//!   `max_depth` detaches and rejoins.
//! - **Playback.** The shared [`Player`]. With `k` stripes the start position
//!   waits until a chunk of every stripe arrived (or `start_wait` after the
//!   first chunk): it is the smallest `x` such that every chunk `>= x` belongs
//!   to a stripe that was already flowing, and playback starts when
//!   `[x, x + startup_chunks)` is present (or on the startup timeout). A hole
//!   in that buffer below a newer chunk of the same stripe (lost, or pushed
//!   during a parent change) may never be filled, so the buffer moves to
//!   just after it (recovery fills holes during playback). The startup
//!   timeout still counts from the first start position chosen: a peer whose
//!   every buffer has a hole starts at that timeout with what it holds. A peer
//!   that has received nothing `live_start_after` after joining starts its
//!   player at the live point of the stream schedule, so a peer the tree cannot
//!   serve is counted as missing chunks instead of vanishing from the metrics.
//!
//! The mechanisms live in the lane-tree core ([`crate::lanetree`]); this
//! module is the SplitStream family on top of it: `k` lanes (stripes), a
//! peer interior only in its home stripe, candidates from its home stripe
//! tried first, pushes to every child of the stripe, and the multi-stripe
//! start position below.
//!
//! # Parameters ([`TreeParams::default`])
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `stripes` | 1 | number of stripes `k` (1 = single tree; SplitStream used 16) |
//! | `heartbeat_interval` | 1 s | parent -> child heartbeat and child -> parent keep-alive period |
//! | `parent_timeout` | 3 s | silence after which a child declares its parent lost |
//! | `child_timeout` | 3 s | silence after which a parent drops a child |
//! | `join_timeout` | 1 s | a Join unanswered this long counts as refused |
//! | `join_retry` | 1 s | back-off before a new round of joins |
//! | `max_join_attempts` | 16 | Joins per round before backing off |
//! | `redirect_max` | 8 | nodes named in a redirect |
//! | `max_depth` | 32 | deepest position in a tree (the source is depth 0) |
//! | `max_slots` | 64 | cap on stripe-children per node |
//! | `start_wait` | 5 s | after the first chunk, wait at most this long for the other stripes |
//! | `live_start_after` | 15 s | an unserved peer starts its player at the live point after this |
//! | `tracker_list_size` | 20 | members asked of the tracker |
//! | `tracker_refresh` | 30 s | re-registration period |
//! | `recover` | true | ask the parent again for chunks lost on the way |
//!
//! # Departures from the paper
//!
//! - A tracker and explicit tree walks replace Pastry routing and Scribe's
//!   reverse-path tree construction; there is no spare-capacity group
//!   (anycast) for orphans: they retry from tracker candidates.
//! - The unit of striping is a whole chunk (`seq % k`), not a packet.
//! - Capacity is counted in on-wire bytes, so a 1,000 kbps peer has one slot
//!   (not two) for a 500 kbps stream: headers make 500 kbps of media about
//!   515 kbps on the wire, and a node promised more than its link carries
//!   would fall ever further behind.
//! - Liveness uses explicit heartbeats and keep-alive Joins (Scribe relies on
//!   Pastry's failure detection), and root paths guard against loops.
//! - Push-down prefers capacity: a full node adopts a joiner whose fanout in
//!   the stripe exceeds its weakest child's and evicts that child (SplitStream
//!   evicts by id prefix only), and redirects list the largest fanouts first.
//!   This keeps trees shallow when capacities differ, and so exposes fewer
//!   peers to each interior crash.

use std::sync::Arc;

use rand::RngExt;

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::lanetree::{LanePolicy, LaneTimer, LaneTree, ask_tracker_limited};
use crate::media::{HasMedia, Media, MediaTimer, Uplink};
use crate::peer::{Command, Ctx, Peer, StreamParams};
use crate::playback::PlayerParams;
use crate::prefetch::prefetch_slice;
use crate::time::Time;
use crate::wire::{MAX_PEERS_PER_MSG, Msg, Role};

/// Most stripes a multi-tree may have (a stripe number travels as one byte;
/// 64 keeps per-node state small).
pub const MAX_STRIPES: u32 = 64;

/// A parent serves recovery requests while its upload backlog is at most this.
pub const RECOVERY_BACKLOG: Time = Time::from_secs(1);

/// Tree-push parameters; see the module doc for meanings and sources.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeParams {
    /// Number of stripes `k`: 1 is a single tree, `k > 1` a SplitStream
    /// multi-tree where stripe `s` carries the chunks with `seq % k == s`
    /// (default 1; allowed 1 to 64 and at most the chunks in a window).
    pub stripes: u32,
    /// Period of parent -> child heartbeats and child -> parent keep-alives (default 1 s).
    pub heartbeat_interval: Time,
    /// A child that hears nothing (heartbeat or chunk) from its parent for this
    /// long treats it as lost and rejoins (default 3 s).
    pub parent_timeout: Time,
    /// A parent drops a child whose keep-alives stopped this long ago (default 3 s).
    pub child_timeout: Time,
    /// A Join unanswered this long counts as refused (default 1 s).
    pub join_timeout: Time,
    /// Back-off before a new round of joins, after `max_join_attempts` or when
    /// no candidate is left (default 1 s).
    pub join_retry: Time,
    /// Joins sent per round before backing off (default 16).
    pub max_join_attempts: u32,
    /// Most nodes a refusal names as alternatives (default 8).
    pub redirect_max: u32,
    /// Deepest position a node may take in a tree; the source is at depth 0
    /// and its children at depth 1 (default 32; at most 63 so that a root path
    /// fits one message).
    pub max_depth: u32,
    /// Cap on a node's stripe-children, whatever its upload (default 64).
    pub max_slots: u32,
    /// After the first chunk, how long the player waits for a chunk of every
    /// other stripe before choosing its start position (default 5 s).
    pub start_wait: Time,
    /// A peer that has received no chunk this long after joining starts its
    /// player at the live point of the stream schedule (default 15 s).
    pub live_start_after: Time,
    /// Members asked of the tracker (default 20).
    pub tracker_list_size: u16,
    /// Re-registration period with the tracker (default 30 s).
    pub tracker_refresh: Time,
    /// Recovery of lost chunks from the parent (default on; see the module doc).
    pub recover: bool,
}

/// The defaults live in one place, the scenario section ([`TreeSection`](crate::params::tree::TreeSection)).
impl Default for TreeParams {
    fn default() -> Self {
        crate::params::tree::TreeSection::default().to_params()
    }
}

impl TreeParams {
    /// Checks the parameters against the stream and the window (in chunks) of
    /// the run; every message names the parameter and the allowed range.
    pub fn validate(&self, stream: &StreamParams, window_chunks: u32) -> Result<(), String> {
        if self.stripes == 0 || self.stripes > MAX_STRIPES {
            return Err(format!("stripes = {}: must be between 1 and {MAX_STRIPES}", self.stripes));
        }
        if self.stripes > window_chunks {
            return Err(format!(
                "stripes = {} exceeds the {window_chunks} chunks of the window: every stripe needs a chunk \
                 in each window, so stripes must be between 1 and {}",
                self.stripes,
                window_chunks.min(MAX_STRIPES)
            ));
        }
        if stream.chunk_duration == Time::ZERO || stream.rate_bps == 0 {
            return Err("the stream needs a chunk duration > 0 and a rate > 0".into());
        }
        let positive = [
            ("heartbeat_interval", self.heartbeat_interval),
            ("join_timeout", self.join_timeout),
            ("join_retry", self.join_retry),
        ];
        for (name, v) in positive {
            if v == Time::ZERO {
                return Err(format!("{name} = 0 s: must be > 0 s"));
            }
        }
        for (name, v) in [("parent_timeout", self.parent_timeout), ("child_timeout", self.child_timeout)] {
            if v <= self.heartbeat_interval {
                return Err(format!(
                    "{name} = {v}: must be longer than heartbeat_interval ({})",
                    self.heartbeat_interval
                ));
            }
        }
        if self.max_join_attempts == 0 {
            return Err("max_join_attempts = 0: must be at least 1".into());
        }
        if self.redirect_max == 0 || self.redirect_max as usize > MAX_PEERS_PER_MSG {
            return Err(format!("redirect_max = {}: must be between 1 and {MAX_PEERS_PER_MSG}", self.redirect_max));
        }
        if self.max_depth == 0 || self.max_depth as usize >= MAX_PEERS_PER_MSG {
            return Err(format!("max_depth = {}: must be between 1 and {}", self.max_depth, MAX_PEERS_PER_MSG - 1));
        }
        if self.max_slots == 0 || self.max_slots > 4096 {
            return Err(format!("max_slots = {}: must be between 1 and 4096", self.max_slots));
        }
        if self.tracker_list_size == 0 || self.tracker_list_size as usize > MAX_PEERS_PER_MSG {
            return Err(format!(
                "tracker_list_size = {}: must be between 1 and {MAX_PEERS_PER_MSG}",
                self.tracker_list_size
            ));
        }
        if self.tracker_refresh == Time::ZERO {
            return Err("tracker_refresh = 0 s: must be > 0 s".into());
        }
        Ok(())
    }
}

/// Everything a tree node needs to know about the run, shared by all nodes.
#[derive(Clone, Debug)]
pub struct TreeConfig {
    pub stream: StreamParams,
    pub player: PlayerParams,
    pub tree: TreeParams,
    pub tracker: PeerId,
}

impl TreeConfig {
    /// Bits a chunk occupies on the wire (payload, header and datagram headers).
    pub fn chunk_wire_bits(&self) -> u64 {
        crate::media::chunk_wire_bits(&self.stream)
    }
    /// Stripe-children a node with `up_kbps` of upload can feed:
    /// `min(max_slots, floor(up x k / r_wire))`, `r_wire` the stream's on-wire rate.
    pub fn slots_for(&self, up_kbps: u32) -> u32 {
        let k = self.tree.stripes.clamp(1, MAX_STRIPES) as u128;
        // up x k / (wire_bits / chunk_duration), in integers.
        let num = up_kbps as u128 * 1000 * k * self.stream.chunk_duration.as_nanos() as u128;
        let den = self.chunk_wire_bits() as u128 * 1_000_000_000;
        (num / den.max(1)).min(self.tree.max_slots as u128) as u32
    }
}

/// Timers of a tree node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeTimer {
    Media(MediaTimer),
    Lane(LaneTimer),
    /// Choose the start position with the stripes seen so far.
    StartWait,
    /// Nothing received yet: start the player at the live point.
    LiveStart,
    TrackerRefresh,
}

crate::timer_from!(TreeTimer: Media(MediaTimer), Lane(LaneTimer));

/// What a peer has seen of one stripe before its player started.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// First chunk of this stripe received.
    first: Option<Seq>,
    /// Newest chunk of this stripe received.
    newest: Option<Seq>,
}

/// SplitStream's choices for the lane core.
struct Stripes<'a> {
    cfg: &'a TreeConfig,
    is_source: bool,
    home: Option<u8>,
    up_kbps: u32,
    asked: &'a mut Option<Time>,
}

impl LanePolicy<TreeTimer> for Stripes<'_> {
    fn offer_kbps(&self) -> u32 {
        self.up_kbps
    }
    /// Interior only in the home stripe (the source everywhere).
    fn may_parent(&self, lane: usize) -> bool {
        self.is_source || self.home == Some(lane as u8)
    }
    /// A joiner forwards only in its home stripe, `id mod k`.
    fn fanout(&self, from: PeerId, lane: usize, up_kbps: u32) -> u32 {
        let k = self.cfg.tree.stripes.clamp(1, MAX_STRIPES);
        if (from.0 % k) as usize == lane { self.cfg.slots_for(up_kbps) } else { 0 }
    }
    fn ask_tracker(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        let t = &self.cfg.tree;
        ask_tracker_limited(self.asked, t.join_retry, self.cfg.tracker, t.tracker_list_size, cx);
    }
}

/// A tree-push node: the source (`is_source`) or a peer.
///
/// Inputs are the [`Peer`] methods; the getters below are read-only views for
/// tests and tools.
pub struct TreePeer {
    cfg: Arc<TreeConfig>,
    tree: LaneTree,
    up_kbps: u32,
    home: Option<u8>,
    seen: Vec<Seen>,
    media: Media,
    start_wait_armed: bool,
    list_asked_at: Option<Time>,
    /// Recovery requests in flight: chunk, when asked.
    recovering: Vec<(Seq, Time)>,
}

impl TreePeer {
    pub fn new(cfg: Arc<TreeConfig>, is_source: bool, up_kbps: u32) -> TreePeer {
        let k = cfg.tree.stripes.clamp(1, MAX_STRIPES) as usize;
        let slots = cfg.slots_for(up_kbps);
        let media = Media::new(cfg.player);
        let tree = LaneTree::new(k, is_source, slots, cfg.tracker);
        TreePeer {
            cfg,
            tree,
            up_kbps,
            home: None,
            seen: vec![Seen::default(); k],
            media,
            start_wait_armed: false,
            list_asked_at: None,
            recovering: Vec::new(),
        }
    }

    // ----- read-only getters -----

    /// Number of stripes.
    pub fn stripe_count(&self) -> u8 {
        self.tree.lanes.len() as u8
    }
    pub fn is_source(&self) -> bool {
        self.tree.is_source
    }
    /// Parent in `stripe` (`None` for the source, while joining, or for an invalid stripe).
    pub fn parent(&self, stripe: u8) -> Option<PeerId> {
        self.tree.parent(stripe as usize)
    }
    /// Children in `stripe`, in push order: largest fanout first, then by arrival.
    pub fn children(&self, stripe: u8) -> impl Iterator<Item = PeerId> + '_ {
        self.tree.lanes.get(stripe as usize).into_iter().flat_map(|s| s.children.iter().map(|c| c.id))
    }
    /// Children over all stripes.
    pub fn children_total(&self) -> usize {
        self.tree.children_total()
    }
    /// The only stripe in which this peer may have children; `None` for a peer
    /// without a slot (a leaf everywhere) and for the source (interior everywhere).
    pub fn home_stripe(&self) -> Option<u8> {
        self.home
    }
    /// Stripe-children this node can feed, from its upload capacity.
    pub fn slots(&self) -> u32 {
        self.tree.slots
    }
    /// The parent's root path in `stripe` (root first, parent last); empty
    /// while cut off from the root.
    pub fn path(&self, stripe: u8) -> &[PeerId] {
        self.tree.lanes.get(stripe as usize).map_or(&[], |s| &s.path)
    }
    /// Last time the parent or the children of `stripe` changed.
    pub fn last_change(&self, stripe: u8) -> Time {
        self.tree.lanes.get(stripe as usize).map_or(Time::ZERO, |s| s.changed)
    }

    // ----- helpers -----

    fn k(&self) -> u32 {
        self.tree.k()
    }
    fn home_of(&self, id: PeerId) -> u8 {
        (id.0 % self.k()) as u8
    }
    fn role(&self) -> Role {
        if self.tree.is_source { Role::Source } else { Role::Peer }
    }

    /// Splits the borrows: the configuration, the lane core, and the policy
    /// over the rest. (The configuration is borrowed, never cloned per event:
    /// an `Arc` clone is an atomic update of a count that every node of the
    /// run, on every engine thread, shares.)
    fn parts(&mut self) -> (&TreeConfig, &mut LaneTree, Stripes<'_>) {
        let pol = Stripes {
            cfg: &self.cfg,
            is_source: self.tree.is_source,
            home: self.home,
            up_kbps: self.up_kbps,
            asked: &mut self.list_asked_at,
        };
        (&self.cfg, &mut self.tree, pol)
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, TreeTimer>) {
        if !Media::admit(seq, from, self.tree.is_source, &self.cfg.stream, cx) {
            return;
        }
        let s = (seq % self.k()) as usize;
        let now = cx.now;
        if !self.tree.from_parent(s, from, now) && !self.tree.is_source {
            // A stray push from a node that still takes us for its child.
            cx.send(from, Msg::Detach { stripe: s as u8 });
        }
        if self.tree.is_source {
            return;
        }
        let a = self.media.arrival(seq, from, true, cx);
        if a.duplicate {
            return;
        }
        self.media.store(seq, polluted);
        let k = self.k();
        let seen = &mut self.seen[s];
        let gap = seen.newest.is_some_and(|n| seq > n + k);
        seen.newest = Some(seen.newest.map_or(seq, |n| n.max(seq)));
        for c in &self.tree.lanes[s].children {
            cx.send(c.id, Msg::Chunk { seq, len, polluted });
        }
        if gap {
            self.recover(s, cx);
        }
        if self.media.player.is_idle() {
            let seen = &mut self.seen[s];
            if seen.first.is_none() {
                seen.first = Some(seq);
            }
            if self.seen.iter().all(|st| st.first.is_some()) {
                self.choose_start(cx);
            } else if !self.start_wait_armed {
                self.start_wait_armed = true;
                cx.timer_in(self.cfg.tree.start_wait, TreeTimer::StartWait);
            }
        }
        if !a.late {
            self.check_startup(cx);
        }
    }

    /// Starts playback once the startup buffer is complete. A hole in the
    /// startup buffer below a newer chunk of the same stripe (lost, or pushed
    /// during a parent change) moves the buffer to just after it, with or
    /// without recovery: the hole may be missing all the way up to the root
    /// (waiting for holes to be recovered was measured to raise lag p95 from
    /// 15 s to 34 s on churn-300, 3 seeds). The startup timeout keeps
    /// counting from the first start position: until session 23 a hole
    /// started buffering afresh, timeout included, so with about 15% of
    /// chunks lost per hop (0.5% datagram loss) a peer deep in the tree could
    /// find a hole in every buffer and never play (on `dyn-50`, seeds 1-20,
    /// 47% of the peers that joined never started; 19% with the fix).
    fn check_startup(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        let player = &self.media.player;
        if !player.is_playing()
            && let Some(first) = player.needed_from()
        {
            let startup = player.params().startup_chunks.max(1);
            let k = self.k();
            let hole = (first..first + startup)
                .rev()
                .find(|&h| !self.media.have.contains(h) && self.seen[(h % k) as usize].newest.is_some_and(|n| n > h));
            if let Some(h) = hole {
                self.media.player.move_start(h + 1);
            }
        }
        self.media.check_startup(cx);
    }

    /// Asks the parent of stripe `s` for the holes of the stripe: chunks
    /// below its newest that are missing, still useful to the player and not
    /// asked for in the last `parent_timeout` (or refused since).
    fn recover(&mut self, s: usize, cx: &mut Ctx<'_, TreeTimer>) {
        let t = &self.cfg.tree;
        if !t.recover || self.tree.is_source {
            return;
        }
        let (Some(parent), Some(newest)) = (self.tree.parent(s), self.seen[s].newest) else {
            return;
        };
        let k = self.k();
        let now = cx.now;
        self.recovering.retain(|&(_, at)| at + t.parent_timeout > now);
        // The oldest chunk worth asking: the next one the player needs, else
        // the first chunk of the stripe that arrived.
        let Some(first) = self.media.player.needed_from().or(self.seen[s].first) else {
            return;
        };
        let lo = first.max((newest + 1).saturating_sub(ChunkMap::CAPACITY as u32));
        let lo = lo + (s as u32 + k - lo % k) % k;
        let mut req = ChunkMap::new(lo, (newest - lo.min(newest)).min(ChunkMap::CAPACITY as u32) as u16);
        let mut seq = lo;
        while seq < newest {
            if !self.media.have.contains(seq) && !self.recovering.iter().any(|&(q, _)| q == seq) {
                req.insert(seq);
                self.recovering.push((seq, now));
            }
            seq += k;
        }
        if !req.is_empty() {
            cx.send(parent, Msg::Request(req));
        }
    }

    /// A child's recovery request: the chunks held, while the upload backlog
    /// allows; the rest refused.
    fn serve(&mut self, from: PeerId, req: ChunkMap, cx: &mut Ctx<'_, TreeTimer>) {
        let k = self.k();
        let lanes = &self.tree.lanes;
        let child = |seq: Seq| lanes[(seq % k) as usize].children.iter().any(|c| c.id == from);
        let up = Uplink { kbps: self.up_kbps, cap: RECOVERY_BACKLOG };
        self.media.serve(from, req, child, up, &self.cfg.stream, cx);
    }

    /// Start position: the smallest `x` such that every chunk `>= x` belongs to
    /// a stripe already flowing, i.e. `max_s(first_s) - k + 1`.
    fn choose_start(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        let k = self.k();
        let Some(x) = self.seen.iter().filter_map(|st| st.first).map(|f| (f + 1).saturating_sub(k)).max() else {
            return;
        };
        let startup = self.media.player.params().startup_chunks.max(1);
        self.media.choose_start(x + startup - 1, cx);
    }
}

impl HasMedia for TreePeer {
    fn media(&self) -> &Media {
        &self.media
    }
}

impl Peer for TreePeer {
    type Timer = TreeTimer;

    /// Chunks and heartbeats go to the stripe's state and its children.
    fn prefetch(&self) {
        prefetch_slice(&self.tree.lanes, 4);
        if let Some(s) = self.tree.lanes.first() {
            prefetch_slice(&s.children, 4);
        }
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        self.tree.active = true;
        self.tree.me = cx.me;
        let k = self.k();
        self.home = (!self.tree.is_source && self.tree.slots > 0).then_some((cx.me.0 % k) as u8);
        let role = self.role();
        let (cfg, tree, mut pol) = self.parts();
        let t = &cfg.tree;
        cx.send(cfg.tracker, Msg::Register { role, up_kbps: pol.up_kbps });
        cx.timer_in(t.tracker_refresh, TreeTimer::TrackerRefresh);
        tree.start_tick(t, cx);
        if tree.is_source {
            tree.source = Some(cx.me);
            Media::start_source(&cfg.stream, cx);
        } else {
            pol.ask_tracker(cx);
            cx.timer_in(t.live_start_after, TreeTimer::LiveStart);
            for s in 0..k as usize {
                tree.arm_retry(s, t, cx);
            }
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, TreeTimer>) {
        if !self.tree.active {
            return;
        }
        let k = self.k();
        let (cfg, tree, mut pol) = self.parts();
        let recover = cfg.tree.recover;
        match tree.on_message(from, msg, &cfg.tree, &mut pol, cx) {
            Some(Msg::PeerList { peers }) => {
                if self.tree.is_source {
                    return;
                }
                for s in 0..k as u8 {
                    if !self.tree.needs_parent(s as usize) {
                        continue;
                    }
                    let mut own: Vec<PeerId> = peers.iter().copied().filter(|&p| self.home_of(p) == s).collect();
                    let mut other: Vec<PeerId> = peers.iter().copied().filter(|&p| self.home_of(p) != s).collect();
                    for v in [&mut own, &mut other] {
                        for i in 0..v.len() {
                            let j = cx.rng.random_range(i..v.len());
                            v.swap(i, j);
                        }
                    }
                    let (cfg, tree, mut pol) = self.parts();
                    let src: Vec<PeerId> = tree.source.into_iter().collect();
                    let l = s as usize;
                    tree.add_cands(l, &src, false);
                    tree.add_cands(l, &own, false);
                    tree.add_cands(l, &other, false);
                    tree.try_next(l, &cfg.tree, &mut pol, cx);
                }
            }
            Some(Msg::Chunk { seq, len, polluted }) => self.on_chunk(from, seq, len, polluted, cx),
            Some(Msg::Request(req)) if recover => self.serve(from, req, cx),
            // Busy: asked again at the next heartbeat. Not held: the parent
            // is recovering it too and will push it down when it arrives.
            Some(Msg::Refuse { chunks, busy: true }) => self.recovering.retain(|&(q, _)| !chunks.contains(q)),
            _ => {}
        }
    }

    fn on_timer(&mut self, timer: TreeTimer, cx: &mut Ctx<'_, TreeTimer>) {
        if !self.tree.active {
            return;
        }
        match timer {
            TreeTimer::Media(m) => {
                if let Some(seq) = self.media.on_timer(m, &self.cfg.stream, cx) {
                    let s = (seq % self.k()) as usize;
                    let len = self.cfg.stream.chunk_bytes();
                    for c in &self.tree.lanes[s].children {
                        cx.send(c.id, Msg::Chunk { seq, len, polluted: false });
                    }
                }
            }
            TreeTimer::StartWait => {
                if self.media.player.is_idle() {
                    self.choose_start(cx);
                    self.check_startup(cx);
                }
            }
            TreeTimer::LiveStart => {
                if self.media.player.is_idle() && self.seen.iter().all(|st| st.first.is_none()) {
                    self.media.live_start(&self.cfg.stream, cx);
                }
            }
            TreeTimer::Lane(LaneTimer::Tick) => {
                let (cfg, tree, pol) = self.parts();
                tree.tick(&cfg.tree, &pol, cx);
                cx.timer_in(cfg.tree.heartbeat_interval, LaneTimer::Tick.into());
                for s in 0..self.k() as usize {
                    self.recover(s, cx);
                }
            }
            TreeTimer::Lane(l) => {
                let (cfg, tree, mut pol) = self.parts();
                tree.on_timer(l, &cfg.tree, &mut pol, cx);
            }
            TreeTimer::TrackerRefresh => {
                cx.send(self.cfg.tracker, Msg::Register { role: self.role(), up_kbps: self.up_kbps });
                cx.timer_in(self.cfg.tree.tracker_refresh, TreeTimer::TrackerRefresh);
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, TreeTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                let graceful = graceful && self.tree.active;
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
    use crate::peer::{Outbox, Record};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn cfg(stripes: u32) -> Arc<TreeConfig> {
        Arc::new(TreeConfig {
            stream: StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
            player: PlayerParams::default(),
            tree: TreeParams { stripes, ..TreeParams::default() },
            tracker: PeerId(0),
        })
    }

    /// Runs one call of node `me` at `now` and returns what it output.
    fn call(
        p: &mut TreePeer,
        me: u32,
        now: Time,
        f: impl FnOnce(&mut TreePeer, &mut Ctx<'_, TreeTimer>),
    ) -> Outbox<TreeTimer> {
        let mut rng = ChaCha8Rng::seed_from_u64(me as u64);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(now, PeerId(me), &mut rng, Time::ZERO, &mut out);
        f(p, &mut cx);
        out
    }

    fn msg(p: &mut TreePeer, me: u32, now: Time, from: u32, m: Msg) -> Vec<(PeerId, Msg)> {
        call(p, me, now, |p, cx| p.on_message(PeerId(from), m, cx)).sends
    }

    /// Peer `me` with `up_kbps`, attached in stripe 0 under `parent` whose root path is `path`.
    fn attached(stripes: u32, me: u32, up_kbps: u32, parent: u32, path: &[u32]) -> TreePeer {
        let mut p = TreePeer::new(cfg(stripes), false, up_kbps);
        call(&mut p, me, Time::ZERO, |p, cx| p.on_start(cx));
        msg(&mut p, me, Time::ZERO, 0, Msg::PeerList { peers: vec![PeerId(parent)] });
        let path = path.iter().map(|&i| PeerId(i)).collect();
        msg(&mut p, me, Time::ZERO, parent, Msg::JoinAck { stripe: 0, accept: true, path });
        assert_eq!(p.parent(0), Some(PeerId(parent)));
        p
    }

    fn ack(sends: &[(PeerId, Msg)], to: u32) -> Option<(bool, Vec<PeerId>)> {
        sends.iter().find_map(|(t, m)| match m {
            Msg::JoinAck { accept, path, .. } if t.0 == to => Some((*accept, path.clone())),
            _ => None,
        })
    }

    #[test]
    fn slots_count_on_wire_bytes() {
        // 500 kbps of media is ~515 kbps on the wire.
        let c = cfg(1);
        assert_eq!(c.slots_for(1000), 1);
        assert_eq!(c.slots_for(2000), 3);
        assert_eq!(c.slots_for(515), 0);
        let c4 = cfg(4);
        assert_eq!(c4.slots_for(1000), 7);
        assert_eq!(c4.slots_for(100), 0);
        assert_eq!(c4.slots_for(1_000_000), 64, "capped by max_slots");
    }

    #[test]
    fn full_node_redirects_leaves_and_pushes_them_down_for_forwarders() {
        let t = Time::from_secs(1);
        let mut p = attached(1, 5, 2000, 1, &[1]);
        assert_eq!((p.slots(), p.home_stripe()), (3, Some(0)));
        // A forwarder and two leaves fill the three slots.
        for (id, up) in [(10, 2000), (11, 100), (12, 100)] {
            let s = msg(&mut p, 5, t, id, Msg::Join { stripe: 0, up_kbps: up });
            assert_eq!(ack(&s, id), Some((true, vec![PeerId(1), PeerId(5)])), "root path in the acceptance");
        }
        // A leaf finds it full: redirected to the forwarder child only.
        let s = msg(&mut p, 5, t, 13, Msg::Join { stripe: 0, up_kbps: 100 });
        assert_eq!(ack(&s, 13), Some((false, vec![PeerId(10)])));
        // A forwarder is adopted; the newest leaf is evicted towards the forwarders.
        let s = msg(&mut p, 5, t, 14, Msg::Join { stripe: 0, up_kbps: 2000 });
        assert_eq!(ack(&s, 14).map(|a| a.0), Some(true));
        let (accept, to) = ack(&s, 12).expect("eviction notice");
        assert!(!accept && to.contains(&PeerId(10)) && to.contains(&PeerId(14)), "{to:?}");
        assert_eq!(p.children(0).collect::<Vec<_>>(), vec![PeerId(10), PeerId(14), PeerId(11)], "forwarders first");
        // A keep-alive Join of a child is no new join.
        assert!(msg(&mut p, 5, t, 10, Msg::Join { stripe: 0, up_kbps: 2000 }).is_empty());
        assert_eq!(p.children_total(), 3);
    }

    #[test]
    fn refuses_ancestors_and_leaves_a_parent_whose_path_loops() {
        let t = Time::from_secs(1);
        let mut p = attached(1, 5, 2000, 7, &[1, 7]);
        let s = msg(&mut p, 5, t, 1, Msg::Join { stripe: 0, up_kbps: 2000 });
        assert_eq!(ack(&s, 1), Some((false, vec![])), "the root is an ancestor");
        // The parent's path now runs through us: a loop.
        let s = msg(&mut p, 5, t, 7, Msg::Heartbeat { stripe: 0, path: vec![PeerId(1), PeerId(5), PeerId(7)] });
        assert_eq!(p.parent(0), None);
        assert!(s.iter().any(|(to, m)| to.0 == 7 && matches!(m, Msg::Detach { stripe: 0 })));
        assert!(s.iter().any(|(to, m)| to.0 == 1 && matches!(m, Msg::Join { stripe: 0, .. })), "rejoins at the source");
    }

    #[test]
    fn leaf_of_a_stripe_points_up_and_cut_off_nodes_refuse() {
        let t = Time::from_secs(1);
        // Peer 5 in a 2-stripe forest has home stripe 1: a leaf in stripe 0.
        let mut p = attached(2, 5, 2000, 7, &[1, 7]);
        assert_eq!(p.home_stripe(), Some(1));
        let s = msg(&mut p, 5, t, 9, Msg::Join { stripe: 0, up_kbps: 2000 });
        assert_eq!(ack(&s, 9), Some((false, vec![PeerId(7)])));
        // Not attached in its home stripe yet: cut off, it refuses.
        let s = msg(&mut p, 5, t, 9, Msg::Join { stripe: 1, up_kbps: 2000 });
        assert_eq!(ack(&s, 9), Some((false, vec![])));
        assert_eq!(p.children_total(), 0);
    }

    #[test]
    fn silent_parent_is_replaced_and_children_are_told_they_are_cut_off() {
        let mut p = attached(1, 5, 2000, 7, &[1, 7]);
        msg(&mut p, 5, Time::ZERO, 20, Msg::Join { stripe: 0, up_kbps: 100 });
        // Heard at 1 s; the check at 3 s re-arms for 4 s, which declares the loss.
        msg(&mut p, 5, Time::from_secs(1), 7, Msg::Heartbeat { stripe: 0, path: vec![PeerId(1), PeerId(7)] });
        let out = call(&mut p, 5, Time::from_secs(3), |p, cx| {
            p.on_timer(TreeTimer::Lane(LaneTimer::ParentCheck { lane: 0 }), cx)
        });
        assert_eq!(p.parent(0), Some(PeerId(7)));
        assert!(out.timers.contains(&(Time::from_secs(4), TreeTimer::Lane(LaneTimer::ParentCheck { lane: 0 }))));
        let out = call(&mut p, 5, Time::from_secs(4), |p, cx| {
            p.on_timer(TreeTimer::Lane(LaneTimer::ParentCheck { lane: 0 }), cx)
        });
        assert_eq!(p.parent(0), None);
        assert_eq!(p.children(0).collect::<Vec<_>>(), vec![PeerId(20)], "the subtree stays");
        assert!(out.sends.iter().any(|(to, m)| to.0 == 20 && *m == Msg::Heartbeat { stripe: 0, path: vec![] }));
        // The grandparent (here the source) is tried first.
        assert!(matches!(out.sends.last(), Some((PeerId(1), Msg::Join { stripe: 0, .. }))));
        assert!(out.records.contains(&Record::NeighbourRemoved { peer: PeerId(7) }));
    }

    #[test]
    fn chunks_are_pushed_to_the_children_of_their_stripe() {
        let t = Time::from_secs(1);
        let mut p = attached(1, 5, 2000, 1, &[1]);
        msg(&mut p, 5, t, 10, Msg::Join { stripe: 0, up_kbps: 2000 });
        msg(&mut p, 5, t, 11, Msg::Join { stripe: 0, up_kbps: 100 });
        let chunk = Msg::Chunk { seq: 3, len: 62_500, polluted: false };
        let s = msg(&mut p, 5, t, 1, chunk.clone());
        assert_eq!(s, vec![(PeerId(10), chunk.clone()), (PeerId(11), chunk.clone())]);
        assert!(msg(&mut p, 5, t, 1, chunk).is_empty(), "a duplicate is not forwarded");
        // A push from a node that is not our parent is stopped.
        let s = msg(&mut p, 5, t, 8, Msg::Chunk { seq: 4, len: 62_500, polluted: false });
        assert_eq!(s[0], (PeerId(8), Msg::Detach { stripe: 0 }));
    }

    fn requested(sends: &[(PeerId, Msg)], to: u32) -> Vec<Seq> {
        sends
            .iter()
            .filter_map(|(t, m)| match m {
                Msg::Request(r) if t.0 == to => Some(r.iter().collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Every startup buffer the peer chooses has a hole below a newer chunk:
    /// it moves its buffer past each hole, but still starts at the startup
    /// timeout counted from its first choice (it used to start buffering
    /// afresh, timeout included, at every hole, and some peers never played).
    #[test]
    fn a_startup_buffer_with_holes_starts_at_the_timeout_of_the_first_choice() {
        let chunk = |seq| Msg::Chunk { seq, len: 62_500, polluted: false };
        let c =
            Arc::new(TreeConfig { tree: TreeParams { recover: false, ..TreeParams::default() }, ..(*cfg(1)).clone() });
        let timeout = c.player.startup_timeout;
        assert!(c.player.startup_chunks > 3, "every buffer must be able to hold a hole");
        let mut p = TreePeer::new(c, false, 2000);
        call(&mut p, 5, Time::ZERO, |p, cx| p.on_start(cx));
        msg(&mut p, 5, Time::ZERO, 0, Msg::PeerList { peers: vec![PeerId(1)] });
        msg(&mut p, 5, Time::ZERO, 1, Msg::JoinAck { stripe: 0, accept: true, path: vec![PeerId(1)] });
        // Chunk n at n s (on time), every third one lost on the way.
        let mut armed = Vec::new();
        for s in 1..(timeout.0 / Time::from_secs(1).0 + 10) {
            let now = Time::from_secs(s);
            for (at, t) in call(&mut p, 5, now, |p, cx| p.on_timer(TreeTimer::Lane(LaneTimer::Tick), cx)).timers {
                armed.push((at, t));
            }
            let fired: Vec<_> = armed.iter().filter(|(at, _)| *at <= now).cloned().collect();
            armed.retain(|(at, _)| *at > now);
            for (_, t) in fired {
                if matches!(t, TreeTimer::Media(MediaTimer::StartupTimeout)) {
                    armed.extend(call(&mut p, 5, now, |p, cx| p.on_timer(t, cx)).timers);
                }
            }
            let seq = s as Seq;
            if !seq.is_multiple_of(3) {
                armed.extend(call(&mut p, 5, now, |p, cx| p.on_message(PeerId(1), chunk(seq), cx)).timers);
            }
            if now < Time::from_secs(1) + timeout {
                assert!(!p.is_playing(), "no startup buffer is ever complete, so it waits for the timeout ({s} s)");
            }
        }
        assert!(p.is_playing(), "started at the startup timeout of its first start position");
    }

    #[test]
    fn a_child_asks_its_parent_for_lost_chunks_and_the_parent_serves_them() {
        let t = Time::from_secs(20);
        let chunk = |seq| Msg::Chunk { seq, len: 62_500, polluted: false };
        let mut p = attached(1, 5, 2000, 1, &[1]);
        for seq in 10..20 {
            msg(&mut p, 5, t, 1, chunk(seq));
        }
        assert!(p.is_playing());
        // 20 and 21 were lost on the way: 22 reveals the hole, asked for at once.
        assert_eq!(requested(&msg(&mut p, 5, t, 1, chunk(22)), 1), vec![20, 21]);
        // Not again while the request is in flight; 21 arrives.
        msg(&mut p, 5, t, 1, chunk(21));
        let tick = |p: &mut TreePeer, at| call(p, 5, at, |p, cx| p.on_timer(LaneTimer::Tick.into(), cx)).sends;
        assert!(requested(&tick(&mut p, t + Time::from_secs(1)), 1).is_empty());
        // Still missing after `parent_timeout`: asked again.
        assert_eq!(requested(&tick(&mut p, t + Time::from_secs(4)), 1), vec![20]);
        // The parent's side: a child's request is served from what it holds.
        let mut parent = attached(1, 1, 4000, 9, &[9]);
        msg(&mut parent, 1, t, 5, Msg::Join { stripe: 0, up_kbps: 2000 });
        msg(&mut parent, 1, t, 9, chunk(4));
        let mut req = ChunkMap::new(4, 2);
        req.insert(4);
        req.insert(5);
        let s = msg(&mut parent, 1, t, 5, Msg::Request(req));
        assert!(s.contains(&(PeerId(5), chunk(4))), "{s:?}");
        assert!(
            s.iter()
                .any(|(to, m)| to.0 == 5 && matches!(m, Msg::Refuse { chunks, busy: false } if chunks.iter().eq([5])))
        );
        // Without recovery nothing is asked.
        let mut c = TreePeer::new(
            Arc::new(TreeConfig { tree: TreeParams { recover: false, ..TreeParams::default() }, ..(*cfg(1)).clone() }),
            false,
            2000,
        );
        call(&mut c, 5, Time::ZERO, |p, cx| p.on_start(cx));
        msg(&mut c, 5, Time::ZERO, 0, Msg::PeerList { peers: vec![PeerId(1)] });
        msg(&mut c, 5, Time::ZERO, 1, Msg::JoinAck { stripe: 0, accept: true, path: vec![PeerId(1)] });
        for seq in 10..20 {
            msg(&mut c, 5, t, 1, chunk(seq));
        }
        assert!(requested(&msg(&mut c, 5, t, 1, chunk(22)), 1).is_empty());
    }
}
