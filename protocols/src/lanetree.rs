//! The lane-tree core: push relations in one or more *lanes* (the stripes of
//! a multi-tree, the single tree of a treebone, the substreams of pull-push),
//! for any family that pushes chunks down parent -> child relations.
//!
//! [`LaneTree`] owns, per lane, the parent and its root path, the children
//! with their fanout, the join walk (candidates, tried, attempts, timeouts,
//! back-off) and liveness. It implements the tree mechanics that
//! [`crate::tree`] documents (after SplitStream, Castro et al., SOSP 2003):
//! `Join`/`JoinAck` with root paths, redirects towards children that can
//! forward, push-down of the weakest child, heartbeats down and keep-alive
//! Joins up, parent and child timeouts, rejoin through the former
//! grandparent and the source, loop and depth checks, and `Detach`.
//!
//! What differs between families is a [`LanePolicy`]: the capacity a Join
//! offers, who may have children in which lane, the fanout a joiner gets,
//! whether the node walks the tree to find a parent (trees) or subscribes by
//! its own rule (pull-push), how it asks the tracker, and what it does when
//! a parent is lost or refuses. The core's timers are [`LaneTimer`]s, which
//! the family's timer type wraps (`From<LaneTimer>`); `Tick` is left to the
//! family (it calls [`LaneTree::tick`] and re-arms it), the others go to
//! [`LaneTree::on_timer`]. Lane messages go to [`LaneTree::on_message`],
//! which returns those it does not use.

use rand::RngExt;

use crate::ids::{PeerId, Seq};
use crate::peer::{Ctx, Record};
use crate::time::Time;
use crate::tree::TreeParams;
use crate::wire::{MAX_PEERS_PER_MSG, Msg};

/// Timers of the lane core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneTimer {
    /// Heartbeats to children, keep-alives to parents, child expiry (the
    /// family runs it: [`LaneTree::tick`]).
    Tick,
    /// Is the parent of `lane` still alive?
    ParentCheck { lane: u8 },
    /// The Join number `attempt` of `lane` may have gone unanswered.
    JoinTimeout { lane: u8, attempt: u32 },
    /// Start a new round of joins for `lane`.
    JoinRetry { lane: u8 },
}

/// A child in one lane.
#[derive(Clone, Copy, Debug)]
pub struct Child {
    pub id: PeerId,
    /// Children it can take in this lane (0: a leaf here).
    pub fanout: u32,
    pub heard: Time,
}

/// A node's push relations in one lane.
#[derive(Clone, Debug, Default)]
pub struct Lane {
    pub parent: Option<PeerId>,
    /// The parent's root path (root first, parent last); empty while cut off
    /// from the root or without a parent.
    pub path: Vec<PeerId>,
    /// The path before the parent was lost (rejoin hints).
    pub lost_path: Vec<PeerId>,
    /// Last sign of life from the parent.
    pub heard: Time,
    check_pending: bool,
    /// When the current parent accepted us.
    pub attached_at: Time,
    /// Newest chunk the current parent pushed (initially the floor given at attach).
    pub last_push: Option<Seq>,
    /// Since when the parent has been cut off from the source (empty path).
    pub cut_since: Option<Time>,
    /// Children, largest fanout first (arrival order among equals).
    pub children: Vec<Child>,
    /// Last change of parent or children.
    pub changed: Time,
    /// Outstanding Join.
    pub joining: Option<PeerId>,
    join_gen: u32,
    /// Tree walk: candidates to ask, already asked, Joins this round.
    pub cands: Vec<PeerId>,
    tried: Vec<PeerId>,
    attempts: u32,
    retry_pending: bool,
}

/// What a family decides for the lane core. The family's state (minus the
/// core itself) implements it.
pub trait LanePolicy<T> {
    /// The capacity a Join (and keep-alive) advertises.
    fn offer_kbps(&self) -> u32;
    /// Whether this node may have children in `lane`.
    fn may_parent(&self, lane: usize) -> bool;
    /// Whether a node that may not parent redirects a joiner to its own parent.
    fn redirect_up(&self) -> bool {
        true
    }
    /// Children a joiner offering `up_kbps` could take in `lane`.
    fn fanout(&self, from: PeerId, lane: usize, up_kbps: u32) -> u32;
    /// Whether the node finds parents by walking the tree (candidates from the
    /// tracker, redirects, rejoin hints). Without it the family picks parents
    /// itself ([`LaneTree::send_join`]) and the walk is never started.
    fn walks(&self) -> bool {
        true
    }
    /// Asks the tracker for members (the family rate-limits).
    fn ask_tracker(&mut self, cx: &mut Ctx<'_, T>);
    /// The chunk floor of a new parent in `lane`: chunks up to it are not
    /// expected by push ([`Lane::last_push`]).
    fn push_floor(&self, _lane: usize, _parent: PeerId) -> Option<Seq> {
        None
    }
    /// A Join to `from` in `lane` failed (refused or timed out) and the node
    /// does not walk.
    fn refused(&mut self, _lane: usize, _from: PeerId, _now: Time) {}
    /// The parent `parent` of `lane` was lost, left, or looped.
    fn parent_lost(&mut self, _lane: usize, _parent: PeerId, _now: Time) {}
    /// After an eviction by the parent, whether the source joins the
    /// candidates before the next Join (trees) or after it (treebone).
    fn source_hint_first(&self) -> bool {
        true
    }
}

/// The lane half of a node.
pub struct LaneTree {
    pub lanes: Vec<Lane>,
    pub me: PeerId,
    pub is_source: bool,
    /// Whether the node is up (set by the family).
    pub active: bool,
    /// Lane-children this node can feed in total.
    pub slots: u32,
    /// The root of every lane, learned from root paths (or self).
    pub source: Option<PeerId>,
    pub tracker: PeerId,
}

impl LaneTree {
    pub fn new(lanes: usize, is_source: bool, slots: u32, tracker: PeerId) -> LaneTree {
        LaneTree {
            lanes: vec![Lane::default(); lanes],
            me: PeerId(u32::MAX),
            is_source,
            active: false,
            slots,
            source: None,
            tracker,
        }
    }

    pub fn k(&self) -> u32 {
        self.lanes.len() as u32
    }
    pub fn parent(&self, lane: usize) -> Option<PeerId> {
        self.lanes.get(lane).and_then(|l| l.parent)
    }
    pub fn children_total(&self) -> usize {
        self.lanes.iter().map(|l| l.children.len()).sum()
    }
    /// Whether `id` is a parent or a child in some lane.
    pub fn is_neighbour(&self, id: PeerId) -> bool {
        self.lanes.iter().any(|l| l.parent == Some(id) || l.children.iter().any(|c| c.id == id))
    }
    /// Connected to the root in `l` (the source always is).
    pub fn connected(&self, l: usize) -> bool {
        self.is_source || (self.lanes[l].parent.is_some() && !self.lanes[l].path.is_empty())
    }
    /// Whether `l` has no parent (and the node is an active peer).
    pub fn needs_parent(&self, l: usize) -> bool {
        self.active && !self.is_source && self.lanes[l].parent.is_none()
    }
    /// This node's root path in `l` (root first, self last); empty when cut off.
    pub fn my_path(&self, l: usize) -> Vec<PeerId> {
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
    fn path_ok(&self, path: &[PeerId], t: &TreeParams) -> bool {
        !path.contains(&self.me) && path.len() <= t.max_depth as usize
    }
    fn learn_source(&mut self, path: &[PeerId]) {
        if let Some(&root) = path.first() {
            self.source = Some(root);
        }
    }
    fn record_change(&mut self, l: usize, now: Time) {
        self.lanes[l].changed = now;
    }

    /// Arms the first `Tick` at a random phase.
    pub fn start_tick<T: From<LaneTimer>>(&mut self, t: &TreeParams, cx: &mut Ctx<'_, T>) {
        let j = Time(cx.rng.random_range(0..t.heartbeat_interval.0.max(1)));
        cx.timer_in(j, LaneTimer::Tick.into());
    }

    /// Sends the current root path of `l` to every child (after a change).
    pub fn cascade<T>(&mut self, l: usize, cx: &mut Ctx<'_, T>) {
        if self.lanes[l].children.is_empty() {
            return;
        }
        let path = self.my_path(l);
        for c in &self.lanes[l].children {
            cx.send(c.id, Msg::Heartbeat { stripe: l as u8, path: path.clone() });
        }
    }

    fn arm_check<T: From<LaneTimer>>(&mut self, l: usize, at: Time, cx: &mut Ctx<'_, T>) {
        let lane = &mut self.lanes[l];
        if !lane.check_pending {
            lane.check_pending = true;
            cx.timer_at(at, LaneTimer::ParentCheck { lane: l as u8 }.into());
        }
    }

    /// Arms a new round of joins for `l` after `join_retry` (once).
    pub fn arm_retry<T: From<LaneTimer>>(&mut self, l: usize, t: &TreeParams, cx: &mut Ctx<'_, T>) {
        let lane = &mut self.lanes[l];
        if !lane.retry_pending {
            lane.retry_pending = true;
            cx.timer_in(t.join_retry, LaneTimer::JoinRetry { lane: l as u8 }.into());
        }
    }

    /// Adds join candidates for `l` in front of (`front`) or behind the current ones.
    pub fn add_cands(&mut self, l: usize, ids: &[PeerId], front: bool) {
        let (me, tracker) = (self.me, self.tracker);
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

    /// Sends the next Join of the walk for `l`, or backs off.
    pub fn try_next<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        l: usize,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        if !pol.walks() || !self.needs_parent(l) || self.lanes[l].joining.is_some() {
            return;
        }
        let lane = &mut self.lanes[l];
        if lane.attempts >= t.max_join_attempts {
            lane.cands.clear();
            lane.tried.clear();
            lane.attempts = 0;
            self.arm_retry(l, t, cx);
            return;
        }
        if lane.cands.is_empty() {
            pol.ask_tracker(cx);
            self.arm_retry(l, t, cx);
            return;
        }
        let c = lane.cands.remove(0);
        lane.tried.push(c);
        lane.attempts += 1;
        self.send_join(l, c, pol.offer_kbps(), t, cx);
    }

    /// Sends a Join for `l` to `to` and arms its timeout.
    pub fn send_join<T: From<LaneTimer>>(
        &mut self,
        l: usize,
        to: PeerId,
        offer: u32,
        t: &TreeParams,
        cx: &mut Ctx<'_, T>,
    ) {
        let lane = &mut self.lanes[l];
        lane.joining = Some(to);
        lane.join_gen = lane.join_gen.wrapping_add(1);
        let attempt = lane.join_gen;
        cx.send(to, Msg::Join { stripe: l as u8, up_kbps: offer });
        cx.timer_in(t.join_timeout, LaneTimer::JoinTimeout { lane: l as u8, attempt }.into());
    }

    /// Starts looking for a parent of `l` from the hints of the lost path
    /// (the former grandparent, then the source).
    pub fn rejoin<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        l: usize,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        if !pol.walks() {
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
        self.try_next(l, t, pol, cx);
    }

    fn attach<T: From<LaneTimer>>(
        &mut self,
        l: usize,
        parent: PeerId,
        path: Vec<PeerId>,
        floor: Option<Seq>,
        t: &TreeParams,
        cx: &mut Ctx<'_, T>,
    ) {
        self.learn_source(&path);
        let now = cx.now;
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
        self.arm_check(l, now + t.parent_timeout, cx);
        self.cascade(l, cx);
    }

    /// The parent of `l` is gone (lost, left, evicted us, or we leave it).
    /// Children are kept and told that they are cut off.
    pub fn drop_parent<T>(&mut self, l: usize, send_detach: bool, cx: &mut Ctx<'_, T>) {
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

    /// Removes child `id` from `l`; true if it was one.
    pub fn remove_child<T>(&mut self, l: usize, id: PeerId, cx: &mut Ctx<'_, T>) -> bool {
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
    pub fn expire_children<T>(&mut self, t: &TreeParams, cx: &mut Ctx<'_, T>) {
        let limit = t.child_timeout;
        for l in 0..self.lanes.len() {
            let now = cx.now;
            while let Some(c) = self.lanes[l].children.iter().find(|c| c.heard + limit < now).map(|c| c.id) {
                self.remove_child(l, c, cx);
            }
        }
    }

    /// Up to `redirect_max` recently heard children of `l` able to forward,
    /// largest fanout first (ties in random order).
    fn redirects<T>(&self, l: usize, except: PeerId, t: &TreeParams, cx: &mut Ctx<'_, T>) -> Vec<PeerId> {
        let fresh = t.heartbeat_interval + t.heartbeat_interval;
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
        v.truncate(t.redirect_max as usize);
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// A child to evict so that a joiner of `l` with `fanout` can be adopted:
    /// (lane, id). Push-down: the child of `l` with the smallest fanout if it
    /// is smaller than the joiner's (the most recent among equals). The source
    /// may also evict a leaf of another lane, or, when `l` has no forwarder
    /// under it yet, a forwarder of its most crowded lane.
    fn victim(&self, l: usize, fanout: u32) -> Option<(usize, PeerId)> {
        if fanout == 0 {
            return None;
        }
        let lane = &self.lanes[l];
        if let Some(c) = lane.children.iter().rev().min_by_key(|c| c.fanout)
            && c.fanout < fanout
        {
            return Some((l, c.id));
        }
        if !self.is_source {
            return None;
        }
        let crowded = |leaf_only: bool| {
            (0..self.lanes.len())
                .filter(|&o| o != l)
                .filter_map(|o| {
                    let ch = &self.lanes[o].children;
                    let c = ch.iter().rev().find(|c| c.fanout == 0 || !leaf_only)?;
                    Some((ch.len(), o, c.id))
                })
                .max_by_key(|&(n, o, _)| (n, std::cmp::Reverse(o)))
        };
        if let Some((_, o, id)) = crowded(true) {
            return Some((o, id));
        }
        if lane.children.iter().any(|c| c.fanout > 0) {
            return None;
        }
        crowded(false).filter(|&(n, _, _)| n >= 2).map(|(_, o, id)| (o, id))
    }

    /// A Join (or keep-alive) for `l` from `from` offering `up_kbps`.
    pub fn on_join<T, P: LanePolicy<T>>(
        &mut self,
        from: PeerId,
        l: usize,
        up_kbps: u32,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        let now = cx.now;
        let fanout = pol.fanout(from, l, up_kbps);
        if let Some(i) = self.lanes[l].children.iter().position(|c| c.id == from) {
            // Keep-alive of an existing child, with its current offer (a leaf
            // that became a forwarder now offers its slots): keep the order by fanout.
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
        let refuse = |to: Vec<PeerId>, cx: &mut Ctx<'_, T>| {
            cx.send(from, Msg::JoinAck { stripe: l as u8, accept: false, path: to });
        };
        if !pol.may_parent(l) {
            // Not interior here: point up to our parent.
            let up =
                if pol.redirect_up() { self.lanes[l].parent.filter(|&p| p != from && self.connected(l)) } else { None };
            refuse(up.into_iter().collect(), cx);
            return;
        }
        let path = self.my_path(l);
        if path.is_empty() || path.contains(&from) || path.len() >= t.max_depth as usize {
            // Cut off from the root, the joiner is our ancestor, or too deep.
            refuse(Vec::new(), cx);
            return;
        }
        if self.children_total() as u32 >= self.slots {
            self.expire_children(t, cx);
        }
        let full = self.children_total() as u32 >= self.slots;
        let evict = if full { self.victim(l, fanout) } else { None };
        if full && evict.is_none() {
            let to = self.redirects(l, from, t, cx);
            refuse(to, cx);
            return;
        }
        // Children are kept by fanout, largest first (arrival order among
        // equals): chunks go to forwarders before leaves, so a hop delays the
        // deep part of the tree by as little as possible.
        let ch = &mut self.lanes[l].children;
        let at = ch.iter().position(|c| c.fanout < fanout).unwrap_or(ch.len());
        ch.insert(at, Child { id: from, fanout, heard: now });
        self.record_change(l, now);
        cx.record(Record::NeighbourAdded { peer: from });
        cx.send(from, Msg::JoinAck { stripe: l as u8, accept: true, path });
        if let Some((o, id)) = evict {
            self.remove_child(o, id, cx);
            let to = self.redirects(o, id, t, cx);
            cx.send(id, Msg::JoinAck { stripe: o as u8, accept: false, path: to });
        }
    }

    /// A Join of `l` to `from` failed; `redirect` names other nodes to try.
    fn after_refusal<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        l: usize,
        from: PeerId,
        redirect: &[PeerId],
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        if pol.walks() {
            self.add_cands(l, redirect, true);
            self.try_next(l, t, pol, cx);
        } else {
            pol.refused(l, from, cx.now);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_join_ack<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        from: PeerId,
        l: usize,
        accept: bool,
        path: Vec<PeerId>,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        let lane = &self.lanes[l];
        let (joining, parent) = (lane.joining == Some(from), lane.parent == Some(from));
        if accept {
            if joining && !self.is_source && lane.parent.is_none() {
                self.lanes[l].joining = None;
                if self.path_ok(&path, t) && !path.is_empty() {
                    let floor = pol.push_floor(l, from);
                    self.attach(l, from, path, floor, t, cx);
                } else {
                    cx.send(from, Msg::Detach { stripe: l as u8 });
                    self.after_refusal(l, from, &[], t, pol, cx);
                }
            } else if parent {
                self.on_parent_path(l, path, t, pol, cx);
            } else {
                // A late acceptance: we went elsewhere.
                if joining {
                    self.lanes[l].joining = None;
                }
                cx.send(from, Msg::Detach { stripe: l as u8 });
            }
        } else if joining {
            self.lanes[l].joining = None;
            self.after_refusal(l, from, &path, t, pol, cx);
        } else if parent {
            // Evicted by our parent (push-down): go where it says.
            self.drop_parent(l, false, cx);
            let lane = &mut self.lanes[l];
            lane.tried.clear();
            lane.attempts = 0;
            let src: Vec<PeerId> = self.source.into_iter().collect();
            if pol.source_hint_first() {
                self.add_cands(l, &path, true);
                self.add_cands(l, &src, false);
                self.after_refusal(l, from, &[], t, pol, cx);
            } else {
                self.after_refusal(l, from, &path, t, pol, cx);
                self.add_cands(l, &src, false);
            }
        }
    }

    /// A new root path from the parent of `l` (heartbeat or refreshed ack).
    fn on_parent_path<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        l: usize,
        path: Vec<PeerId>,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        if !self.path_ok(&path, t) {
            // A loop through us, or too deep: leave this parent.
            let p = self.lanes[l].parent;
            self.drop_parent(l, true, cx);
            self.lanes[l].lost_path.clear();
            if let Some(p) = p {
                pol.parent_lost(l, p, cx.now);
            }
            self.rejoin(l, t, pol, cx);
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

    /// The parent of `l` is gone: drop it, tell the policy, rejoin.
    fn lose_parent<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        l: usize,
        p: PeerId,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        self.drop_parent(l, false, cx);
        pol.parent_lost(l, p, cx.now);
        self.rejoin(l, t, pol, cx);
    }

    /// Whether a chunk of lane `l` from `from` comes from its parent (then a
    /// sign of life).
    pub fn from_parent(&mut self, l: usize, from: PeerId, now: Time) -> bool {
        let lane = &mut self.lanes[l];
        if lane.parent == Some(from) {
            lane.heard = now;
            true
        } else {
            false
        }
    }

    /// Heartbeats with the root path to every child and keep-alive Joins to
    /// every parent, after expiring silent children.
    pub fn tick<T, P: LanePolicy<T>>(&mut self, t: &TreeParams, pol: &P, cx: &mut Ctx<'_, T>) {
        self.expire_children(t, cx);
        let offer = pol.offer_kbps();
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
    }

    /// Runs a core timer other than `Tick` (which the family runs).
    pub fn on_timer<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        timer: LaneTimer,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) {
        match timer {
            LaneTimer::Tick => {}
            LaneTimer::ParentCheck { lane } => {
                let l = lane as usize;
                let Some(st) = self.lanes.get_mut(l) else { return };
                st.check_pending = false;
                let Some(p) = st.parent else { return };
                let due = st.heard + t.parent_timeout;
                if due <= cx.now {
                    self.lose_parent(l, p, t, pol, cx);
                } else {
                    self.arm_check(l, due, cx);
                }
            }
            LaneTimer::JoinTimeout { lane, attempt } => {
                let l = lane as usize;
                let Some(st) = self.lanes.get_mut(l) else { return };
                if let Some(to) = st.joining
                    && st.join_gen == attempt
                {
                    st.joining = None;
                    self.after_refusal(l, to, &[], t, pol, cx);
                }
            }
            LaneTimer::JoinRetry { lane } => {
                let l = lane as usize;
                let Some(st) = self.lanes.get_mut(l) else { return };
                st.retry_pending = false;
                if self.needs_parent(l) && self.lanes[l].joining.is_none() {
                    if self.lanes[l].cands.is_empty() {
                        pol.ask_tracker(cx);
                        let src: Vec<PeerId> = self.source.into_iter().collect();
                        self.add_cands(l, &src, true);
                    }
                    self.try_next(l, t, pol, cx);
                }
            }
        }
    }

    /// Handles lane messages (`Join`, `JoinAck`, `Heartbeat`, `Detach` with a
    /// valid lane number); returns everything else.
    pub fn on_message<T: From<LaneTimer>, P: LanePolicy<T>>(
        &mut self,
        from: PeerId,
        msg: Msg,
        t: &TreeParams,
        pol: &mut P,
        cx: &mut Ctx<'_, T>,
    ) -> Option<Msg> {
        let k = self.k();
        match msg {
            Msg::Join { stripe, up_kbps } if (stripe as u32) < k => {
                self.on_join(from, stripe as usize, up_kbps, t, pol, cx)
            }
            Msg::JoinAck { stripe, accept, path } if (stripe as u32) < k => {
                self.on_join_ack(from, stripe as usize, accept, path, t, pol, cx)
            }
            Msg::Heartbeat { stripe, path } if (stripe as u32) < k => {
                let l = stripe as usize;
                if self.lanes[l].parent == Some(from) {
                    self.lanes[l].heard = cx.now;
                    self.on_parent_path(l, path, t, pol, cx);
                } else {
                    cx.send(from, Msg::Detach { stripe });
                }
            }
            Msg::Detach { stripe } if (stripe as u32) < k => {
                let l = stripe as usize;
                if self.lanes[l].parent == Some(from) {
                    self.lose_parent(l, from, t, pol, cx);
                } else {
                    self.remove_child(l, from, cx);
                }
            }
            Msg::Join { .. } | Msg::JoinAck { .. } | Msg::Heartbeat { .. } | Msg::Detach { .. } => {}
            other => return Some(other),
        }
        None
    }

    /// The node leaves: `Detach` to every parent and child when graceful,
    /// and the lanes are reset.
    pub fn leave<T>(&mut self, graceful: bool, cx: &mut Ctx<'_, T>) {
        if graceful {
            for (l, lane) in self.lanes.iter().enumerate() {
                let stripe = l as u8;
                if let Some(p) = lane.parent {
                    cx.send(p, Msg::Detach { stripe });
                }
                for c in &lane.children {
                    cx.send(c.id, Msg::Detach { stripe });
                }
            }
        }
        self.active = false;
        for lane in &mut self.lanes {
            *lane = Lane::default();
        }
    }
}

/// Asks the tracker for `want` members unless it was asked less than
/// `retry` ago (`asked_at` keeps the last time).
pub fn ask_tracker_limited<T>(
    asked_at: &mut Option<Time>,
    retry: Time,
    tracker: PeerId,
    want: u16,
    cx: &mut Ctx<'_, T>,
) {
    let recent = asked_at.is_some_and(|t| t + retry > cx.now);
    if !recent {
        *asked_at = Some(cx.now);
        cx.send(tracker, Msg::PeerListReq { want });
    }
}
