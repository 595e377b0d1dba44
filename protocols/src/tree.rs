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
//!   least behind a whole-chunk burst). Nothing is ever requested, and a chunk
//!   lost on the way (or emitted while a subtree is cut off) is not recovered.
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
//!   in that buffer below a newer chunk of the same stripe (lost during a
//!   parent change) will never be filled by a push tree, so buffering restarts
//!   just after it instead of waiting for the startup timeout. A peer
//!   that has received nothing `live_start_after` after joining starts its
//!   player at the live point of the stream schedule, so a peer the tree cannot
//!   serve is counted as missing chunks instead of vanishing from the metrics.
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

use crate::ids::{PeerId, Seq};
use crate::peer::{Command, Ctx, Peer, Record, StreamParams};
use crate::playback::{Player, PlayerAction, PlayerParams, SeqRing};
use crate::prefetch::prefetch_slice;
use crate::time::Time;
use crate::wire::{MAX_PEERS_PER_MSG, Msg, Role, wire_bytes};

/// Most stripes a multi-tree may have (a stripe number travels as one byte;
/// 64 keeps per-node state small).
pub const MAX_STRIPES: u32 = 64;

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
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams {
            stripes: 1,
            heartbeat_interval: Time::from_secs(1),
            parent_timeout: Time::from_secs(3),
            child_timeout: Time::from_secs(3),
            join_timeout: Time::from_secs(1),
            join_retry: Time::from_secs(1),
            max_join_attempts: 16,
            redirect_max: 8,
            max_depth: 32,
            max_slots: 64,
            start_wait: Time::from_secs(5),
            live_start_after: Time::from_secs(15),
            tracker_list_size: 20,
            tracker_refresh: Time::from_secs(30),
        }
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
        let len = Msg::Chunk { seq: 0, len: self.stream.chunk_bytes(), polluted: false }.encoded_len();
        wire_bytes(len).1 * 8
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
    /// Source: emit the next chunk.
    Emit,
    Play,
    StartupTimeout,
    /// Choose the start position with the stripes seen so far.
    StartWait,
    /// Nothing received yet: start the player at the live point.
    LiveStart,
    /// Heartbeats to children, keep-alives to parents, child expiry.
    Tick,
    /// Is the parent of `stripe` still alive?
    ParentCheck {
        stripe: u8,
    },
    /// The Join number `attempt` of `stripe` may have gone unanswered.
    JoinTimeout {
        stripe: u8,
        attempt: u32,
    },
    /// Start a new round of joins for `stripe`.
    JoinRetry {
        stripe: u8,
    },
    TrackerRefresh,
}

#[derive(Clone, Copy, Debug)]
struct Child {
    id: PeerId,
    /// Children it can take in this stripe: its slots if this is its home
    /// stripe, else zero (a leaf here).
    fanout: u32,
    heard: Time,
}

/// A node's state in one stripe tree.
#[derive(Clone, Debug, Default)]
struct Stripe {
    parent: Option<PeerId>,
    /// The parent's root path (root first, parent last); empty while cut off
    /// from the root or without a parent.
    path: Vec<PeerId>,
    /// The path before the parent was lost (rejoin hints).
    lost_path: Vec<PeerId>,
    /// Last sign of life from the parent.
    heard: Time,
    check_pending: bool,
    children: Vec<Child>,
    /// Last change of parent or children (for tests of stable relations).
    changed: Time,
    /// Outstanding Join.
    joining: Option<PeerId>,
    join_gen: u32,
    cands: Vec<PeerId>,
    tried: Vec<PeerId>,
    attempts: u32,
    retry_pending: bool,
    /// First chunk of this stripe received (before the player started).
    first_seen: Option<Seq>,
    /// Newest chunk of this stripe received.
    newest: Option<Seq>,
}

/// A tree-push node: the source (`is_source`) or a peer.
///
/// Inputs are the [`Peer`] methods; the getters below are read-only views for
/// tests and tools.
pub struct TreePeer {
    cfg: Arc<TreeConfig>,
    is_source: bool,
    up_kbps: u32,
    slots: u32,
    me: PeerId,
    home: Option<u8>,
    active: bool,
    stripes: Vec<Stripe>,
    have: SeqRing,
    polluted: SeqRing,
    newest: Option<Seq>,
    player: Player,
    start_wait_armed: bool,
    /// The root of every tree, learned from root paths (or self).
    source: Option<PeerId>,
    list_asked_at: Option<Time>,
}

impl TreePeer {
    pub fn new(cfg: Arc<TreeConfig>, is_source: bool, up_kbps: u32) -> TreePeer {
        let k = cfg.tree.stripes.clamp(1, MAX_STRIPES) as usize;
        let slots = cfg.slots_for(up_kbps);
        let player = Player::new(cfg.player);
        TreePeer {
            cfg,
            is_source,
            up_kbps,
            slots,
            me: PeerId(u32::MAX),
            home: None,
            active: false,
            stripes: vec![Stripe::default(); k],
            have: SeqRing::default(),
            polluted: SeqRing::default(),
            newest: None,
            player,
            start_wait_armed: false,
            source: None,
            list_asked_at: None,
        }
    }

    // ----- read-only getters -----

    /// Number of stripes.
    pub fn stripe_count(&self) -> u8 {
        self.stripes.len() as u8
    }
    pub fn is_source(&self) -> bool {
        self.is_source
    }
    /// Parent in `stripe` (`None` for the source, while joining, or for an invalid stripe).
    pub fn parent(&self, stripe: u8) -> Option<PeerId> {
        self.stripes.get(stripe as usize).and_then(|s| s.parent)
    }
    /// Children in `stripe`, in push order: largest fanout first, then by arrival.
    pub fn children(&self, stripe: u8) -> impl Iterator<Item = PeerId> + '_ {
        self.stripes.get(stripe as usize).into_iter().flat_map(|s| s.children.iter().map(|c| c.id))
    }
    /// Children over all stripes.
    pub fn children_total(&self) -> usize {
        self.stripes.iter().map(|s| s.children.len()).sum()
    }
    /// The only stripe in which this peer may have children; `None` for a peer
    /// without a slot (a leaf everywhere) and for the source (interior everywhere).
    pub fn home_stripe(&self) -> Option<u8> {
        self.home
    }
    /// Stripe-children this node can feed, from its upload capacity.
    pub fn slots(&self) -> u32 {
        self.slots
    }
    /// The parent's root path in `stripe` (root first, parent last); empty
    /// while cut off from the root.
    pub fn path(&self, stripe: u8) -> &[PeerId] {
        self.stripes.get(stripe as usize).map_or(&[], |s| &s.path)
    }
    /// Last time the parent or the children of `stripe` changed.
    pub fn last_change(&self, stripe: u8) -> Time {
        self.stripes.get(stripe as usize).map_or(Time::ZERO, |s| s.changed)
    }
    pub fn is_playing(&self) -> bool {
        self.player.is_playing()
    }
    pub fn has_chunk(&self, seq: Seq) -> bool {
        self.have.contains(seq)
    }
    /// Newest chunk received (emitted, for the source).
    pub fn newest(&self) -> Option<Seq> {
        self.newest
    }

    // ----- helpers -----

    fn k(&self) -> u32 {
        self.stripes.len() as u32
    }
    fn home_of(&self, id: PeerId) -> u8 {
        (id.0 % self.k()) as u8
    }
    fn interior_in(&self, s: u8) -> bool {
        self.is_source || self.home == Some(s)
    }
    fn connected(&self, s: u8) -> bool {
        self.is_source || {
            let st = &self.stripes[s as usize];
            st.parent.is_some() && !st.path.is_empty()
        }
    }
    /// This node's root path in `s` (root first, self last), empty when cut off.
    fn my_path(&self, s: u8) -> Vec<PeerId> {
        if self.is_source {
            return vec![self.me];
        }
        let st = &self.stripes[s as usize];
        if st.parent.is_none() || st.path.is_empty() {
            return Vec::new();
        }
        let mut p = Vec::with_capacity(st.path.len() + 1);
        p.extend_from_slice(&st.path);
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

    fn apply(&mut self, a: PlayerAction, cx: &mut Ctx<'_, TreeTimer>) {
        match a {
            PlayerAction::Nothing => {}
            PlayerAction::ArmPlay(at) => cx.timer_at(at, TreeTimer::Play),
            PlayerAction::ArmStartupTimeout(at) => cx.timer_at(at, TreeTimer::StartupTimeout),
        }
    }

    fn record_change(&mut self, s: u8, now: Time) {
        self.stripes[s as usize].changed = now;
    }

    /// Sends the current root path of `s` to every child (after a change).
    fn cascade(&mut self, s: u8, cx: &mut Ctx<'_, TreeTimer>) {
        if self.stripes[s as usize].children.is_empty() {
            return;
        }
        let path = self.my_path(s);
        for c in &self.stripes[s as usize].children {
            cx.send(c.id, Msg::Heartbeat { stripe: s, path: path.clone() });
        }
    }

    fn arm_check(&mut self, s: u8, at: Time, cx: &mut Ctx<'_, TreeTimer>) {
        let st = &mut self.stripes[s as usize];
        if !st.check_pending {
            st.check_pending = true;
            cx.timer_at(at, TreeTimer::ParentCheck { stripe: s });
        }
    }

    fn arm_retry(&mut self, s: u8, cx: &mut Ctx<'_, TreeTimer>) {
        let st = &mut self.stripes[s as usize];
        if !st.retry_pending {
            st.retry_pending = true;
            cx.timer_in(self.cfg.tree.join_retry, TreeTimer::JoinRetry { stripe: s });
        }
    }

    fn ask_tracker(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        let recent = self.list_asked_at.is_some_and(|t| t + self.cfg.tree.join_retry > cx.now);
        if !recent {
            self.list_asked_at = Some(cx.now);
            cx.send(self.cfg.tracker, Msg::PeerListReq { want: self.cfg.tree.tracker_list_size });
        }
    }

    fn needs_parent(&self, s: u8) -> bool {
        let st = &self.stripes[s as usize];
        self.active && !self.is_source && st.parent.is_none()
    }

    /// Adds candidates for `s` in front of (`front`) or behind the current ones.
    fn add_cands(&mut self, s: u8, ids: &[PeerId], front: bool) {
        let (me, tracker) = (self.me, self.cfg.tracker);
        let st = &mut self.stripes[s as usize];
        let fresh: Vec<PeerId> = ids
            .iter()
            .copied()
            .filter(|&c| c != me && c != tracker && !st.tried.contains(&c))
            .fold(Vec::new(), |mut v, c| {
                if !v.contains(&c) {
                    v.push(c);
                }
                v
            });
        st.cands.retain(|c| !fresh.contains(c));
        if front {
            let mut v = fresh;
            v.append(&mut st.cands);
            st.cands = v;
        } else {
            st.cands.extend(fresh);
        }
        st.cands.truncate(MAX_PEERS_PER_MSG);
    }

    /// Sends the next Join of `s`, or backs off.
    fn try_next(&mut self, s: u8, cx: &mut Ctx<'_, TreeTimer>) {
        if !self.needs_parent(s) || self.stripes[s as usize].joining.is_some() {
            return;
        }
        let max = self.cfg.tree.max_join_attempts;
        let st = &mut self.stripes[s as usize];
        if st.attempts >= max {
            st.cands.clear();
            st.tried.clear();
            st.attempts = 0;
            self.arm_retry(s, cx);
            return;
        }
        if st.cands.is_empty() {
            self.ask_tracker(cx);
            self.arm_retry(s, cx);
            return;
        }
        let c = st.cands.remove(0);
        st.joining = Some(c);
        st.tried.push(c);
        st.attempts += 1;
        st.join_gen = st.join_gen.wrapping_add(1);
        let attempt = st.join_gen;
        cx.send(c, Msg::Join { stripe: s, up_kbps: self.up_kbps });
        cx.timer_in(self.cfg.tree.join_timeout, TreeTimer::JoinTimeout { stripe: s, attempt });
    }

    /// Starts looking for a parent of `s` from the hints of the lost path.
    fn rejoin(&mut self, s: u8, cx: &mut Ctx<'_, TreeTimer>) {
        let st = &self.stripes[s as usize];
        let mut hints = Vec::with_capacity(2);
        if st.lost_path.len() >= 2 {
            hints.push(st.lost_path[st.lost_path.len() - 2]);
        }
        if let Some(src) = self.source {
            hints.push(src);
        }
        let st = &mut self.stripes[s as usize];
        st.tried.clear();
        st.attempts = 0;
        self.add_cands(s, &hints, true);
        self.try_next(s, cx);
    }

    fn attach(&mut self, s: u8, parent: PeerId, path: Vec<PeerId>, cx: &mut Ctx<'_, TreeTimer>) {
        self.learn_source(&path);
        let now = cx.now;
        let st = &mut self.stripes[s as usize];
        st.parent = Some(parent);
        st.path = path;
        st.lost_path.clear();
        st.heard = now;
        st.joining = None;
        st.cands.clear();
        st.tried.clear();
        st.attempts = 0;
        self.record_change(s, now);
        cx.record(Record::NeighbourAdded { peer: parent });
        let at = now + self.cfg.tree.parent_timeout;
        self.arm_check(s, at, cx);
        self.cascade(s, cx);
    }

    /// The parent of `s` is gone (lost, left, evicted us, or we leave it).
    /// Children are kept and told that they are cut off.
    fn drop_parent(&mut self, s: u8, send_detach: bool, cx: &mut Ctx<'_, TreeTimer>) {
        let now = cx.now;
        let st = &mut self.stripes[s as usize];
        let Some(p) = st.parent.take() else { return };
        st.lost_path = std::mem::take(&mut st.path);
        if send_detach {
            cx.send(p, Msg::Detach { stripe: s });
        }
        self.record_change(s, now);
        cx.record(Record::NeighbourRemoved { peer: p });
        self.cascade(s, cx);
    }

    fn remove_child(&mut self, s: u8, id: PeerId, cx: &mut Ctx<'_, TreeTimer>) -> bool {
        let st = &mut self.stripes[s as usize];
        if let Some(i) = st.children.iter().position(|c| c.id == id) {
            st.children.remove(i);
            let now = cx.now;
            self.record_change(s, now);
            cx.record(Record::NeighbourRemoved { peer: id });
            true
        } else {
            false
        }
    }

    /// Drops children whose keep-alives stopped `child_timeout` ago.
    fn expire_children(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        let limit = self.cfg.tree.child_timeout;
        for s in 0..self.k() as u8 {
            let now = cx.now;
            while let Some(c) = self.stripes[s as usize].children.iter().find(|c| c.heard + limit < now).map(|c| c.id) {
                self.remove_child(s, c, cx);
            }
        }
    }

    /// Up to `redirect_max` recently heard children of `s` able to forward,
    /// largest fanout first (ties in random order).
    fn redirects(&self, s: u8, except: PeerId, cx: &mut Ctx<'_, TreeTimer>) -> Vec<PeerId> {
        let fresh = self.cfg.tree.heartbeat_interval + self.cfg.tree.heartbeat_interval;
        let mut v: Vec<(u32, PeerId)> = self.stripes[s as usize]
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

    /// A child to evict so that a joiner of `s` with `fanout` can be adopted:
    /// (stripe, id). Push-down: the child of `s` with the smallest fanout if it
    /// is smaller than the joiner's (the most recent among equals). The source
    /// may also evict a leaf of another stripe, or, when `s` has no forwarder
    /// under it yet, a forwarder of its most crowded stripe.
    fn victim(&self, s: u8, fanout: u32) -> Option<(u8, PeerId)> {
        if fanout == 0 {
            return None;
        }
        let st = &self.stripes[s as usize];
        if let Some(c) = st.children.iter().rev().min_by_key(|c| c.fanout)
            && c.fanout < fanout
        {
            return Some((s, c.id));
        }
        if !self.is_source {
            return None;
        }
        let crowded = |leaf_only: bool| {
            (0..self.k() as u8)
                .filter(|&t| t != s)
                .filter_map(|t| {
                    let ch = &self.stripes[t as usize].children;
                    let c = ch.iter().rev().find(|c| c.fanout == 0 || !leaf_only)?;
                    Some((ch.len(), t, c.id))
                })
                .max_by_key(|&(n, t, _)| (n, std::cmp::Reverse(t)))
        };
        if let Some((_, t, id)) = crowded(true) {
            return Some((t, id));
        }
        if st.children.iter().any(|c| c.fanout > 0) {
            return None;
        }
        crowded(false).filter(|&(n, _, _)| n >= 2).map(|(_, t, id)| (t, id))
    }

    fn on_join(&mut self, from: PeerId, s: u8, up_kbps: u32, cx: &mut Ctx<'_, TreeTimer>) {
        let now = cx.now;
        if let Some(c) = self.stripes[s as usize].children.iter_mut().find(|c| c.id == from) {
            c.heard = now; // keep-alive of an existing child
            return;
        }
        let refuse = |to: Vec<PeerId>, cx: &mut Ctx<'_, TreeTimer>| {
            cx.send(from, Msg::JoinAck { stripe: s, accept: false, path: to });
        };
        if !self.interior_in(s) {
            // A leaf here: point up to our parent, which is interior in `s`.
            let up = self.stripes[s as usize].parent.filter(|&p| p != from && self.connected(s));
            refuse(up.into_iter().collect(), cx);
            return;
        }
        let path = self.my_path(s);
        if path.is_empty() || path.contains(&from) || path.len() >= self.cfg.tree.max_depth as usize {
            // Cut off from the root, the joiner is our ancestor, or too deep.
            refuse(Vec::new(), cx);
            return;
        }
        let fanout = if self.home_of(from) == s { self.cfg.slots_for(up_kbps) } else { 0 };
        if self.children_total() as u32 >= self.slots {
            self.expire_children(cx);
        }
        let full = self.children_total() as u32 >= self.slots;
        let evict = if full { self.victim(s, fanout) } else { None };
        if full && evict.is_none() {
            let to = self.redirects(s, from, cx);
            refuse(to, cx);
            return;
        }
        // Children are kept by fanout, largest first (arrival order among
        // equals): chunks go to forwarders before leaves, so a hop delays the
        // deep part of the tree by as little as possible.
        let ch = &mut self.stripes[s as usize].children;
        let at = ch.iter().position(|c| c.fanout < fanout).unwrap_or(ch.len());
        ch.insert(at, Child { id: from, fanout, heard: now });
        self.record_change(s, now);
        cx.record(Record::NeighbourAdded { peer: from });
        cx.send(from, Msg::JoinAck { stripe: s, accept: true, path });
        if let Some((t, id)) = evict {
            self.remove_child(t, id, cx);
            let to = self.redirects(t, id, cx);
            cx.send(id, Msg::JoinAck { stripe: t, accept: false, path: to });
        }
    }

    fn on_join_ack(&mut self, from: PeerId, s: u8, accept: bool, path: Vec<PeerId>, cx: &mut Ctx<'_, TreeTimer>) {
        let st = &self.stripes[s as usize];
        let (joining, parent) = (st.joining == Some(from), st.parent == Some(from));
        if accept {
            if joining && !self.is_source {
                self.stripes[s as usize].joining = None;
                if self.path_ok(&path) && !path.is_empty() {
                    self.attach(s, from, path, cx);
                } else {
                    cx.send(from, Msg::Detach { stripe: s });
                    self.try_next(s, cx);
                }
            } else if parent {
                self.on_parent_path(s, path, cx);
            } else {
                // A late acceptance: we went elsewhere.
                cx.send(from, Msg::Detach { stripe: s });
            }
        } else if joining {
            self.stripes[s as usize].joining = None;
            self.add_cands(s, &path, true);
            self.try_next(s, cx);
        } else if parent {
            // Evicted by our parent (push-down): go where it says.
            self.drop_parent(s, false, cx);
            let st = &mut self.stripes[s as usize];
            st.tried.clear();
            st.attempts = 0;
            self.add_cands(s, &path, true);
            if let Some(src) = self.source {
                self.add_cands(s, &[src], false);
            }
            self.try_next(s, cx);
        }
    }

    /// A new root path from the parent of `s` (heartbeat or refreshed ack).
    fn on_parent_path(&mut self, s: u8, path: Vec<PeerId>, cx: &mut Ctx<'_, TreeTimer>) {
        if !self.path_ok(&path) {
            // A loop through us, or too deep: leave this parent and rejoin.
            self.drop_parent(s, true, cx);
            self.stripes[s as usize].lost_path.clear();
            self.rejoin(s, cx);
            return;
        }
        if self.stripes[s as usize].path != path {
            self.learn_source(&path);
            self.stripes[s as usize].path = path;
            self.cascade(s, cx);
        }
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, TreeTimer>) {
        let s = (seq % self.k()) as u8;
        let now = cx.now;
        if self.stripes[s as usize].parent == Some(from) {
            self.stripes[s as usize].heard = now;
        } else if !self.is_source {
            // A stray push from a node that still takes us for its child.
            cx.send(from, Msg::Detach { stripe: s });
        }
        if self.is_source {
            return;
        }
        let late = self.player.is_playing() && self.player.needed_from().is_some_and(|n| seq < n);
        let duplicate = self.have.contains(seq) || seq < self.have.lowest();
        cx.record(Record::ChunkArrived { seq, from, duplicate, late });
        if duplicate {
            return;
        }
        self.have.insert(seq);
        if polluted {
            self.polluted.insert(seq);
        }
        self.newest = Some(self.newest.map_or(seq, |n| n.max(seq)));
        let st = &mut self.stripes[s as usize];
        st.newest = Some(st.newest.map_or(seq, |n| n.max(seq)));
        for c in &self.stripes[s as usize].children {
            cx.send(c.id, Msg::Chunk { seq, len, polluted });
        }
        if self.player.is_idle() {
            let st = &mut self.stripes[s as usize];
            if st.first_seen.is_none() {
                st.first_seen = Some(seq);
            }
            if self.stripes.iter().all(|st| st.first_seen.is_some()) {
                self.choose_start(cx);
            } else if !self.start_wait_armed {
                self.start_wait_armed = true;
                cx.timer_in(self.cfg.tree.start_wait, TreeTimer::StartWait);
            }
        }
        if !late {
            self.check_startup(cx);
        }
    }

    /// Starts playback once the startup buffer is complete. A push tree never
    /// re-sends a chunk: a hole in the startup buffer below a newer chunk of
    /// the same stripe (lost during a parent change) stays a hole, so the
    /// buffer restarts after it instead of waiting for the startup timeout.
    fn check_startup(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        if !self.player.is_playing()
            && let Some(first) = self.player.needed_from()
        {
            let startup = self.player.params().startup_chunks.max(1);
            let k = self.k();
            let hole = (first..first + startup)
                .rev()
                .find(|&h| !self.have.contains(h) && self.stripes[(h % k) as usize].newest.is_some_and(|n| n > h));
            if let Some(h) = hole {
                self.player = Player::new(self.cfg.player);
                let a = self.player.choose_start(h + startup, cx.now);
                self.apply(a, cx);
            }
        }
        let a = self.player.check_startup(&self.have, cx);
        self.apply(a, cx);
    }

    /// Start position: the smallest `x` such that every chunk `>= x` belongs to
    /// a stripe already flowing, i.e. `max_s(first_s) - k + 1`.
    fn choose_start(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        let k = self.k();
        let Some(x) = self.stripes.iter().filter_map(|st| st.first_seen).map(|f| (f + 1).saturating_sub(k)).max()
        else {
            return;
        };
        let startup = self.player.params().startup_chunks.max(1);
        let a = self.player.choose_start(x + startup - 1, cx.now);
        self.apply(a, cx);
    }

    fn tick(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        self.expire_children(cx);
        for s in 0..self.k() as u8 {
            let st = &self.stripes[s as usize];
            if !st.children.is_empty() {
                let path = self.my_path(s);
                for c in &self.stripes[s as usize].children {
                    cx.send(c.id, Msg::Heartbeat { stripe: s, path: path.clone() });
                }
            }
            if let Some(p) = self.stripes[s as usize].parent {
                cx.send(p, Msg::Join { stripe: s, up_kbps: self.up_kbps });
            }
        }
    }
}

impl Peer for TreePeer {
    type Timer = TreeTimer;

    /// Chunks and heartbeats go to the stripe's state and its children.
    fn prefetch(&self) {
        prefetch_slice(&self.stripes, 4);
        if let Some(s) = self.stripes.first() {
            prefetch_slice(&s.children, 4);
        }
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        self.active = true;
        self.me = cx.me;
        let k = self.k();
        self.home = (!self.is_source && self.slots > 0).then_some((cx.me.0 % k) as u8);
        let t = self.cfg.tree.clone();
        let role = if self.is_source { Role::Source } else { Role::Peer };
        cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
        cx.timer_in(t.tracker_refresh, TreeTimer::TrackerRefresh);
        let j = Time(cx.rng.random_range(0..t.heartbeat_interval.0.max(1)));
        cx.timer_in(j, TreeTimer::Tick);
        if self.is_source {
            self.source = Some(cx.me);
            let first = self.cfg.stream.newest_at(cx.now);
            let at = self.cfg.stream.emission(first);
            let first = if at < cx.now { first + 1 } else { first };
            cx.timer_at(self.cfg.stream.emission(first), TreeTimer::Emit);
        } else {
            self.ask_tracker(cx);
            cx.timer_in(t.live_start_after, TreeTimer::LiveStart);
            for s in 0..k as u8 {
                self.arm_retry(s, cx);
            }
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, TreeTimer>) {
        if !self.active {
            return;
        }
        let k = self.k();
        match msg {
            Msg::PeerList { peers } => {
                if self.is_source {
                    return;
                }
                for s in 0..k as u8 {
                    if !self.needs_parent(s) {
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
                    let src: Vec<PeerId> = self.source.into_iter().collect();
                    self.add_cands(s, &src, false);
                    self.add_cands(s, &own, false);
                    self.add_cands(s, &other, false);
                    self.try_next(s, cx);
                }
            }
            Msg::Join { stripe, up_kbps } if (stripe as u32) < k => self.on_join(from, stripe, up_kbps, cx),
            Msg::JoinAck { stripe, accept, path } if (stripe as u32) < k => {
                self.on_join_ack(from, stripe, accept, path, cx)
            }
            Msg::Heartbeat { stripe, path } if (stripe as u32) < k => {
                if self.stripes[stripe as usize].parent == Some(from) {
                    self.stripes[stripe as usize].heard = cx.now;
                    self.on_parent_path(stripe, path, cx);
                } else {
                    cx.send(from, Msg::Detach { stripe });
                }
            }
            Msg::Detach { stripe } if (stripe as u32) < k => {
                if self.stripes[stripe as usize].parent == Some(from) {
                    self.drop_parent(stripe, false, cx);
                    self.rejoin(stripe, cx);
                } else {
                    self.remove_child(stripe, from, cx);
                }
            }
            Msg::Chunk { seq, len, polluted } => self.on_chunk(from, seq, len, polluted, cx),
            Msg::Register { .. }
            | Msg::Unregister
            | Msg::PeerListReq { .. }
            | Msg::Hello { .. }
            | Msg::HelloAck { .. }
            | Msg::Bye
            | Msg::Gossip { .. }
            | Msg::BufferMap(_)
            | Msg::Request(_)
            | Msg::Join { .. }
            | Msg::JoinAck { .. }
            | Msg::Detach { .. }
            | Msg::Heartbeat { .. } => {}
        }
    }

    fn on_timer(&mut self, timer: TreeTimer, cx: &mut Ctx<'_, TreeTimer>) {
        if !self.active {
            return;
        }
        match timer {
            TreeTimer::Emit => {
                let seq = self.cfg.stream.newest_at(cx.now);
                self.have.insert(seq);
                self.newest = Some(seq);
                let s = (seq % self.k()) as usize;
                let len = self.cfg.stream.chunk_bytes();
                for c in &self.stripes[s].children {
                    cx.send(c.id, Msg::Chunk { seq, len, polluted: false });
                }
                cx.timer_at(self.cfg.stream.emission(seq + 1), TreeTimer::Emit);
            }
            TreeTimer::Play => {
                let stream = self.cfg.stream;
                let a = self.player.on_play_timer(&self.have, &self.polluted, &stream, cx);
                self.apply(a, cx);
            }
            TreeTimer::StartupTimeout => {
                let a = self.player.on_startup_timeout(cx);
                self.apply(a, cx);
            }
            TreeTimer::StartWait => {
                if self.player.is_idle() {
                    self.choose_start(cx);
                    self.check_startup(cx);
                }
            }
            TreeTimer::LiveStart => {
                if self.player.is_idle() && self.stripes.iter().all(|st| st.first_seen.is_none()) {
                    // Nothing arrived: start from the next chunk of the schedule.
                    let next = self.cfg.stream.newest_at(cx.now) + 1;
                    let startup = self.player.params().startup_chunks.max(1);
                    let a = self.player.choose_start(next + startup - 1, cx.now);
                    self.apply(a, cx);
                }
            }
            TreeTimer::Tick => {
                self.tick(cx);
                cx.timer_in(self.cfg.tree.heartbeat_interval, TreeTimer::Tick);
            }
            TreeTimer::ParentCheck { stripe } => {
                let Some(st) = self.stripes.get_mut(stripe as usize) else { return };
                st.check_pending = false;
                if st.parent.is_none() {
                    return;
                }
                let due = st.heard + self.cfg.tree.parent_timeout;
                if due <= cx.now {
                    self.drop_parent(stripe, false, cx);
                    self.rejoin(stripe, cx);
                } else {
                    self.arm_check(stripe, due, cx);
                }
            }
            TreeTimer::JoinTimeout { stripe, attempt } => {
                let Some(st) = self.stripes.get_mut(stripe as usize) else { return };
                if st.joining.is_some() && st.join_gen == attempt {
                    st.joining = None;
                    self.try_next(stripe, cx);
                }
            }
            TreeTimer::JoinRetry { stripe } => {
                let Some(st) = self.stripes.get_mut(stripe as usize) else { return };
                st.retry_pending = false;
                if self.needs_parent(stripe) && self.stripes[stripe as usize].joining.is_none() {
                    if self.stripes[stripe as usize].cands.is_empty() {
                        self.ask_tracker(cx);
                        let src: Vec<PeerId> = self.source.into_iter().collect();
                        self.add_cands(stripe, &src, true);
                    }
                    self.try_next(stripe, cx);
                }
            }
            TreeTimer::TrackerRefresh => {
                let role = if self.is_source { Role::Source } else { Role::Peer };
                cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
                cx.timer_in(self.cfg.tree.tracker_refresh, TreeTimer::TrackerRefresh);
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, TreeTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                if graceful && self.active {
                    for (s, st) in self.stripes.iter().enumerate() {
                        let s = s as u8;
                        if let Some(p) = st.parent {
                            cx.send(p, Msg::Detach { stripe: s });
                        }
                        for c in &st.children {
                            cx.send(c.id, Msg::Detach { stripe: s });
                        }
                    }
                    cx.send(self.cfg.tracker, Msg::Unregister);
                }
                self.active = false;
                for st in &mut self.stripes {
                    *st = Stripe::default();
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
        let out = call(&mut p, 5, Time::from_secs(3), |p, cx| p.on_timer(TreeTimer::ParentCheck { stripe: 0 }, cx));
        assert_eq!(p.parent(0), Some(PeerId(7)));
        assert!(out.timers.contains(&(Time::from_secs(4), TreeTimer::ParentCheck { stripe: 0 })));
        let out = call(&mut p, 5, Time::from_secs(4), |p, cx| p.on_timer(TreeTimer::ParentCheck { stripe: 0 }, cx));
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
}
