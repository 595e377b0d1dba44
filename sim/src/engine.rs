//! The discrete-event engine and the access-link network model.
//!
//! Events are ordered by `(time, insertion sequence)` ([`crate::queue`]); time
//! is integer nanoseconds. Each node has an upload and a download access link.
//! The core is uncongested (the standard P2P-streaming assumption): a message
//! crosses it in the propagation delay of the latency model.
//!
//! Link physics, per message of `B` bytes on the wire ([`protocols::wire::wire_bytes`]:
//! encoded length plus IP/UDP and fragmentation headers per datagram):
//! - the sender's upload link serializes one message at a time for `B*8/up`
//!   seconds each; waiting control messages go before waiting media messages
//!   (two FIFO classes, no preemption), as a UDP host's pacer does, so buffer
//!   maps and requests do not wait behind seconds of queued chunks;
//! - its bits reach the receiver's download link after the propagation delay
//!   `L`; the download link is a FIFO too and takes `B*8/down` seconds, starting
//!   no earlier than the first bit arrives and no earlier than the link is
//!   free. The message is delivered when its last bit is through both:
//!   `max(up_end + L, max(down_free, up_start + L) + B*8/down)`.
//!   A message is therefore never delivered faster than either link allows,
//!   and it is forwarded only after it was wholly received (store and forward).
//! - each of the message's datagrams is lost with probability `loss`; losing
//!   any loses the message (no retransmission below the protocol). Lost
//!   messages still occupy both links (conservative).
//!
//! Bytes are conserved: `sent = delivered + lost + lost_departed + discarded + queued`
//! ([`analysis::Traffic`]). When a node leaves, the message it is serializing
//! still goes out, the rest of its queue is discarded, and a graceful leaver's
//! goodbye messages queue behind it; messages arriving at a departed node count
//! as `lost_departed`.

use std::collections::VecDeque;

use std::sync::Arc;

use analysis::{Collector, NodeRole, Traffic};
use protocols::adversary::{Behaviour, Defences, Guarded};
use protocols::peer::{Command, Ctx, Outbox, Peer};
use protocols::prefetch::prefetch;
use protocols::wire::{Msg, wire_bytes};
use protocols::{Node, PeerId, StreamParams, Time};
use rand_chacha::ChaCha8Rng;

use crate::latency::LatencyModel;
use crate::queue::EventQueue;
use crate::rngs::{self, Stream};

/// How many events [`Engine::run_until`] takes from the queue ahead of the
/// one it runs, to prefetch the state they touch.
const LOOKAHEAD: usize = 8;
/// Position in the lookahead at which [`Engine::prefetch_deep`] runs.
const DEEP: usize = 3;

/// Bytes of a node's protocol state prefetched ahead of its events.
const NODE_PREFETCH: usize = 256;

/// Time to serialize `bits` at `bps`, rounded up; [`Time::MAX`] at zero rate.
fn transmit_bits(bits: u64, bps: u64) -> Time {
    if bps == 0 {
        return Time::MAX;
    }
    Time((bits as u128 * 1_000_000_000).div_ceil(bps as u128).min(u64::MAX as u128) as u64)
}

/// Probability that a message of `datagrams` datagrams is lost when each is
/// lost with probability `loss`: `1 - (1 - loss)^datagrams`, with `libm`'s
/// `pow` (`f64::powi` is not documented to give the same result everywhere).
fn message_loss(loss: f64, datagrams: u32) -> f64 {
    1.0 - libm::pow(1.0 - loss, datagrams as f64)
}

/// Sets the factor of class `class` (every class for `None`) in a per-class
/// table covering `classes` classes (missing entries are 1).
pub(crate) fn set_class_factor(table: &mut Vec<f64>, classes: usize, class: Option<u16>, factor: f64) {
    if table.len() < classes {
        table.resize(classes, 1.0);
    }
    for (c, f) in table.iter_mut().enumerate() {
        if class.is_none_or(|x| x as usize == c) {
            *f = factor;
        }
    }
}

/// A protocol family as the engine sees it: a factory of member nodes.
pub trait Protocol {
    type Peer: Peer;
    /// The name reports use (`mesh-pull`, ...).
    fn name(&self) -> String;
    /// The source node.
    fn source(&self, id: PeerId, up_kbps: u32) -> Self::Peer;
    /// An ordinary peer.
    fn peer(&self, id: PeerId, up_kbps: u32) -> Self::Peer;
    /// The CDN edge server, in families that have one
    /// ([`crate::registry::Family::EDGE`]; default: an ordinary peer).
    fn edge(&self, id: PeerId, up_kbps: u32) -> Self::Peer {
        self.peer(id, up_kbps)
    }
}

/// A node of the run, known before it joins.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    pub role: NodeRole,
    pub class: u16,
    pub up_bps: u64,
    pub down_bps: u64,
    pub join: Time,
    /// Departure time and whether it is graceful.
    pub leave: Option<(Time, bool)>,
    /// Honest, or the attack it runs (peers only).
    pub behaviour: Behaviour,
    /// Behind a NAT that accepts no unsolicited connection (`[nat]`): it
    /// cannot exchange anything with another such node.
    pub nat: bool,
}

struct Tx {
    to: u32,
    msg: Msg,
    bytes: u64,
    datagrams: u32,
}

/// The per-node state most events read for nodes other than the one they
/// run: receivers' download links, liveness, stale-completion checks. Kept
/// apart from [`Slot`] (about 1 KB with the protocol state) in one dense
/// array, so that these reads hit the cache instead of costing a miss each.
#[derive(Clone, Copy)]
struct Hot {
    down_bps: u64,
    down_free: Time,
    /// Bumped when the head's end is rescheduled (capacity change): older
    /// `UpDone` events are stale.
    head_gen: u32,
    /// Present (joined and not left): its `Slot::node` is `Some`.
    alive: bool,
    /// Cut off from the network (outage): messages to and from it are lost.
    cut: bool,
}

#[repr(C)]
struct Slot<P: Peer> {
    up_bps: u64,
    /// The message being serialized, then control messages (sent first), then media.
    head: Option<Tx>,
    ctrlq: VecDeque<Tx>,
    mediaq: VecDeque<Tx>,
    head_start: Time,
    head_end: Time,
    /// Bits of the message in service not yet serialized at `head_mark`.
    head_left_bits: u64,
    head_mark: Time,
    queued_bytes: u64,
    tx_count: u64,
    /// Nominal upload (from its class) and the current Markov level index.
    nominal_up_bps: u64,
    class: u16,
    level: u8,
    level_draws: u32,
    /// Last: the link state above fits in the first lines.
    node: Option<Node<Guarded<P>>>,
}

/// A scenario action the engine applies at a given time.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    /// Node `node` loses (`down: true`) or regains its network connection.
    Outage { node: u32, down: bool },
    /// Peers whose hashed id falls below `fraction` are cut off from the rest
    /// (tracker and source stay on the other side); `None` heals.
    Partition { fraction: Option<f64> },
    /// Upload of class `class` (all peer classes for `None`) becomes
    /// `factor` x nominal, for present and future members.
    ClassBandwidth { class: Option<u16>, factor: f64 },
    /// Upload of node `node` becomes `factor` x its class's current upload
    /// (a bandwidth trace line for one peer; applies when it joins later, too).
    PeerBandwidth { node: u32, factor: f64 },
    /// Download of `node` (or of class `class`, or of every peer when both
    /// are `None`) becomes `factor` x nominal, now and for later joiners.
    /// Messages already scheduled on a download link keep their delivery time.
    Download { class: Option<u16>, node: Option<u32>, factor: f64 },
}

/// Markov-modulated upload: each peer's upload is nominal x `levels[k]`; the
/// level is held for an exponential time of mean `mean_hold`, then a uniformly
/// chosen other level follows.
#[derive(Clone, Debug, PartialEq)]
pub struct Modulation {
    pub levels: Vec<f64>,
    pub mean_hold: Time,
}

enum Ev<T> {
    Join(u32),
    Leave(u32, bool),
    Timer(u32, T),
    UpDone(u32, u32),
    Deliver { from: u32, to: u32, msg: Msg },
    Control(u32),
    Modulate(u32),
}

/// The simulator of one run.
pub struct Engine<F: Protocol> {
    proto: F,
    specs: Vec<NodeSpec>,
    now: Time,
    queue: EventQueue<Ev<<F::Peer as Peer>::Timer>>,
    /// The next events, already taken from `queue` in order (at most
    /// [`LOOKAHEAD`]), so the state they will touch can be prefetched while
    /// earlier events run. See [`Engine::push`] for why the order is unchanged.
    staged: VecDeque<(Time, Ev<<F::Peer as Peer>::Timer>)>,
    slots: Vec<Slot<F::Peer>>,
    hot: Vec<Hot>,
    /// Each node's random stream, apart from its `Slot`: 304 bytes that
    /// most events do not touch.
    rngs: Vec<ChaCha8Rng>,
    latency: LatencyModel,
    loss: f64,
    seed: u64,
    out: Outbox<<F::Peer as Peer>::Timer>,
    collector: Collector,
    traffic: Traffic,
    events: u64,
    controls: Vec<Control>,
    /// Whether any node was ever cut off ([`Control::Outage`]); until then
    /// [`Engine::severed`] need not look at the nodes (a cache miss each).
    any_cut: bool,
    partition: Option<f64>,
    class_factor: Vec<f64>,
    /// Per-node upload factors from bandwidth traces (sparse).
    node_factor: std::collections::BTreeMap<u32, f64>,
    /// Download factors per class and per node (bandwidth traces, timeline).
    class_down: Vec<f64>,
    node_down: std::collections::BTreeMap<u32, f64>,
    modulation: Option<Modulation>,
    defences: Arc<Defences>,
    /// The CDN edge node and its one-way propagation delay to every node
    /// (it replaces the latency model's for messages to or from it).
    edge: Option<(u32, Time)>,
    /// Some node is behind a NAT (`NodeSpec::nat`).
    any_nat: bool,
    /// `[isp]`: each node's ISP and the tracker's locality share.
    isp: Option<(Vec<u32>, f64)>,
}

impl<F: Protocol> Engine<F> {
    /// Node 0 must be the tracker and node 1 the source; the others are peers in
    /// order of joining.
    pub fn new(
        proto: F,
        stream: StreamParams,
        specs: Vec<NodeSpec>,
        latency: LatencyModel,
        loss: f64,
        seed: u64,
    ) -> Engine<F> {
        let mut queue = EventQueue::default();
        let mut collector = Collector::new(stream);
        let specs_nat = specs.iter().any(|s| s.nat);
        for (i, s) in specs.iter().enumerate() {
            queue.push(s.join, Ev::Join(i as u32));
            if !s.behaviour.is_honest() {
                collector.set_behaviour(PeerId(i as u32), s.behaviour.index());
            }
            if s.nat {
                collector.set_nat(PeerId(i as u32));
            }
        }
        Engine {
            proto,
            specs,
            now: Time::ZERO,
            queue,
            staged: VecDeque::with_capacity(2 * LOOKAHEAD),
            slots: Vec::new(),
            hot: Vec::new(),
            rngs: Vec::new(),
            latency,
            loss,
            seed,
            out: Outbox::default(),
            collector,
            traffic: Traffic::default(),
            events: 0,
            controls: Vec::new(),
            any_cut: false,
            partition: None,
            class_factor: Vec::new(),
            node_factor: Default::default(),
            class_down: Vec::new(),
            node_down: Default::default(),
            modulation: None,
            any_nat: specs_nat,
            isp: None,
            defences: Arc::new(Defences::none(stream)),
            edge: None,
        }
    }

    /// Sets the propagation delay between the CDN edge (the node whose role
    /// is [`NodeRole::Edge`]) and every other node (call before running).
    pub fn set_edge_latency(&mut self, latency: Time) {
        self.edge = self.specs.iter().position(|s| s.role == NodeRole::Edge).map(|i| (i as u32, latency));
    }

    /// One-way propagation delay from `a` to `b`.
    fn propagation(&self, a: u32, b: u32) -> Time {
        match self.edge {
            Some((e, l)) if a == e || b == e => l,
            _ => self.latency.latency(a, b),
        }
    }

    /// Tracks ISPs (call before running): every node's is its stub domain
    /// in the latency model (a CDN edge is in none), and the tracker draws
    /// `locality` of each list from the asker's ISP.
    pub fn set_isp(&mut self, locality: f64) {
        let isp: Vec<u32> = (0..self.specs.len() as u32)
            .map(|i| match self.specs[i as usize].role {
                NodeRole::Edge => u32::MAX,
                _ => self.latency.stub_domain(i).unwrap_or(u32::MAX),
            })
            .collect();
        self.collector.isp = isp.clone();
        self.isp = Some((isp, locality));
    }

    /// Sets the defences every member applies (call before running).
    pub fn set_defences(&mut self, d: Defences) {
        self.defences = Arc::new(d);
    }

    /// Schedules a scenario action at `at` (call before running).
    pub fn add_control(&mut self, at: Time, c: Control) {
        self.push(at, Ev::Control(self.controls.len() as u32));
        self.controls.push(c);
    }

    /// Turns on Markov-modulated upload for every peer (call before running).
    pub fn set_modulation(&mut self, m: Modulation) {
        if !m.levels.is_empty() {
            self.modulation = Some(m);
        }
    }

    fn factor(&self, node: u32, class: u16, level: u8) -> f64 {
        let c = self.class_factor.get(class as usize).copied().unwrap_or(1.0);
        let l = self.modulation.as_ref().and_then(|m| m.levels.get(level as usize)).copied().unwrap_or(1.0);
        let n = self.node_factor.get(&node).copied().unwrap_or(1.0);
        c * l * n
    }

    fn down_factor(&self, node: u32, class: u16) -> f64 {
        self.class_down.get(class as usize).copied().unwrap_or(1.0) * self.node_down.get(&node).copied().unwrap_or(1.0)
    }

    /// Sets node `i`'s upload rate, rescheduling the message in service so the
    /// bits already sent keep their time and the rest go at the new rate.
    fn set_upload(&mut self, i: u32, bps: u64) {
        let now = self.now;
        let slot = &mut self.slots[i as usize];
        if slot.node.is_none() || slot.up_bps == bps {
            slot.up_bps = bps;
            return;
        }
        if slot.head.is_some() {
            let sent = ((now - slot.head_mark).as_nanos() as u128 * slot.up_bps as u128 / 1_000_000_000) as u64;
            slot.head_left_bits = slot.head_left_bits.saturating_sub(sent);
            slot.head_mark = now;
            let hot = &mut self.hot[i as usize];
            hot.head_gen = hot.head_gen.wrapping_add(1);
            slot.head_end = now + transmit_bits(slot.head_left_bits, bps);
            let (end, generation) = (slot.head_end, hot.head_gen);
            self.push(end, Ev::UpDone(i, generation));
        }
        self.slots[i as usize].up_bps = bps;
        self.collector.capacity(PeerId(i), now, bps);
    }

    fn control(&mut self, k: u32) {
        match self.controls[k as usize].clone() {
            Control::Outage { node, down } => {
                if let Some(h) = self.hot.get_mut(node as usize) {
                    h.cut = down;
                    self.any_cut |= down;
                }
            }
            Control::Partition { fraction } => self.partition = fraction,
            Control::ClassBandwidth { class, factor } => {
                let n = self.specs.iter().map(|s| s.class as usize + 1).max().unwrap_or(1);
                set_class_factor(&mut self.class_factor, n, class, factor);
                for i in 0..self.slots.len() as u32 {
                    let s = &self.slots[i as usize];
                    if self.specs[i as usize].role == NodeRole::Peer && class.is_none_or(|c| c == s.class) {
                        let bps = (s.nominal_up_bps as f64 * self.factor(i, s.class, s.level)).round() as u64;
                        self.set_upload(i, bps);
                    }
                }
            }
            Control::Download { class, node, factor } => {
                match node {
                    Some(n) => {
                        self.node_down.insert(n, factor);
                    }
                    None => {
                        let n = self.specs.iter().map(|s| s.class as usize + 1).max().unwrap_or(1);
                        set_class_factor(&mut self.class_down, n, class, factor);
                    }
                }
                for i in 0..self.slots.len() as u32 {
                    let spec = &self.specs[i as usize];
                    let hit = node.map_or(class.is_none_or(|c| c == spec.class), |n| n == i);
                    if spec.role == NodeRole::Peer && hit {
                        let bps = (spec.down_bps as f64 * self.down_factor(i, spec.class)).round() as u64;
                        self.hot[i as usize].down_bps = bps;
                    }
                }
            }
            Control::PeerBandwidth { node, factor } => {
                self.node_factor.insert(node, factor);
                if let Some(s) = self.slots.get(node as usize)
                    && self.specs[node as usize].role == NodeRole::Peer
                {
                    let bps = (s.nominal_up_bps as f64 * self.factor(node, s.class, s.level)).round() as u64;
                    self.set_upload(node, bps);
                }
            }
        }
    }

    fn modulate(&mut self, i: u32) {
        let Some(m) = self.modulation.clone() else { return };
        let seed = self.seed;
        let s = &mut self.slots[i as usize];
        if s.node.is_none() {
            return;
        }
        if m.levels.len() > 1 {
            s.level_draws += 1;
            let u = rngs::unit(seed, Stream::Bandwidth, i as u64, s.level_draws as u64);
            let next = (u * (m.levels.len() - 1) as f64) as usize % (m.levels.len() - 1);
            s.level = if next >= s.level as usize { next + 1 } else { next } as u8;
        }
        let (class, level, nominal) = (s.class, s.level, s.nominal_up_bps);
        let bps = (nominal as f64 * self.factor(i, class, level)).round() as u64;
        self.set_upload(i, bps);
        self.schedule_modulation(i);
    }

    fn schedule_modulation(&mut self, i: u32) {
        let Some(m) = &self.modulation else { return };
        let s = &mut self.slots[i as usize];
        s.level_draws += 1;
        let u = rngs::unit(self.seed, Stream::Bandwidth, i as u64, s.level_draws as u64);
        let hold = Time::from_secs_f64(-m.mean_hold.as_secs_f64() * libm::log(1.0 - u));
        let at = self.now + hold.max(Time(1));
        self.push(at, Ev::Modulate(i));
    }

    /// True when a message from `a` to `b` cannot cross the network now.
    fn severed(&self, a: u32, b: u32) -> bool {
        if !self.any_cut && self.partition.is_none() {
            return false;
        }
        let cut = |i: u32| self.hot.get(i as usize).is_some_and(|h| h.cut);
        if cut(a) || cut(b) {
            return true;
        }
        match self.partition {
            None => false,
            Some(f) => {
                let side = |i: u32| {
                    self.specs.get(i as usize).is_some_and(|s| s.role == NodeRole::Peer)
                        && rngs::unit(self.seed, Stream::Partition, i as u64, 0) < f
                };
                side(a) != side(b)
            }
        }
    }

    pub fn now(&self) -> Time {
        self.now
    }
    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }
    pub fn latency(&self) -> &LatencyModel {
        &self.latency
    }
    /// Smallest one-way propagation delay between two nodes (the CDN edge's included).
    pub fn min_propagation(&self) -> Time {
        let m = self.latency.min_latency();
        self.edge.map_or(m, |(_, l)| m.min(l))
    }
    /// The protocol factory this engine runs.
    pub fn protocol(&self) -> &F {
        &self.proto
    }
    /// The member protocol state of node `id`, while it is present.
    pub fn member(&self, id: u32) -> Option<&F::Peer> {
        match self.slots.get(id as usize)?.node.as_ref()? {
            Node::Member(p) => Some(&p.inner),
            Node::Tracker(_) => None,
        }
    }
    /// Number of nodes that have joined so far.
    pub fn joined(&self) -> usize {
        self.slots.len()
    }

    /// Sets the width of the metrics' time buckets (timeseries.csv).
    pub fn set_time_bucket(&mut self, width: Time) {
        self.collector.set_bucket(width);
    }

    /// Queues `ev` at `at` (`at >= now`).
    ///
    /// Staged events come before everything in `queue`, so an event earlier
    /// than the last staged one must be staged too: after the staged events
    /// of its time or earlier (pushed before it, so first among equal times)
    /// and before later ones. Any other event goes to `queue`, behind the
    /// staged ones and behind queued events of its time. The processing order
    /// is therefore exactly `queue`'s order without staging.
    fn push(&mut self, at: Time, ev: Ev<<F::Peer as Peer>::Timer>) {
        match self.staged.back() {
            Some(&(last, _)) if at < last => {
                self.prefetch_event(&ev);
                let pos = self.staged.partition_point(|(t, _)| *t <= at);
                self.staged.insert(pos, (at, ev));
            }
            _ => self.queue.push(at, ev),
        }
    }

    /// Starts loading what an event will touch first: the node's dense
    /// state and its `Slot` (a performance hint; no effect on results).
    fn prefetch_event(&self, ev: &Ev<<F::Peer as Peer>::Timer>) {
        let i = match ev {
            Ev::Join(_) | Ev::Control(_) => return,
            Ev::Leave(i, _) | Ev::Timer(i, _) | Ev::UpDone(i, _) | Ev::Modulate(i) => *i,
            Ev::Deliver { to, .. } => *to,
        } as usize;
        if let Some(h) = self.hot.get(i) {
            prefetch(h, 1);
        }
        if let Some(s) = self.slots.get(i) {
            let link = std::mem::offset_of!(Slot<F::Peer>, node);
            let bytes = match ev {
                Ev::UpDone(..) => link,
                _ => (link + NODE_PREFETCH).min(std::mem::size_of::<Slot<F::Peer>>()),
            };
            prefetch(s, bytes);
        }
        self.collector.prefetch_node(PeerId(i as u32));
    }

    /// Second stage of [`Engine::prefetch_event`], a few events later, when
    /// the node's `Slot` should be in cache: what lies behind its pointers.
    fn prefetch_deep(&self, ev: &Ev<<F::Peer as Peer>::Timer>) {
        let node = |i: u32| self.slots.get(i as usize).and_then(|s| s.node.as_ref());
        match ev {
            Ev::Timer(i, _) => {
                if let Some(n) = node(*i) {
                    n.prefetch();
                }
            }
            Ev::Deliver { from, to, .. } => {
                if let Some(n) = node(*to) {
                    n.prefetch();
                }
                self.collector.prefetch_delivery(PeerId(*to), PeerId(*from));
            }
            Ev::UpDone(i, _) => {
                if let Some(head) = self.slots.get(*i as usize).and_then(|s| s.head.as_ref()) {
                    if let Some(h) = self.hot.get(head.to as usize) {
                        prefetch(h, 1);
                    }
                    self.latency.prefetch(*i);
                    self.latency.prefetch(head.to);
                }
            }
            _ => {}
        }
    }

    /// Processes every event due at or before `limit`.
    pub fn run_until(&mut self, limit: Time) {
        loop {
            while self.staged.len() < LOOKAHEAD {
                let Some((t, ev)) = self.queue.pop_until(limit) else { break };
                self.prefetch_event(&ev);
                self.staged.push_back((t, ev));
            }
            let Some((t, ev)) = self.staged.pop_front() else { break };
            if let Some((_, next)) = self.staged.get(DEEP) {
                self.prefetch_deep(next);
            }
            self.now = t;
            self.events += 1;
            match ev {
                Ev::Join(i) => self.join(i),
                Ev::Leave(i, graceful) => self.leave(i, graceful),
                Ev::Timer(i, timer) => self.call(i, |n, cx| n.on_timer(timer, cx)),
                Ev::UpDone(i, generation) => {
                    if self.hot[i as usize].head_gen == generation {
                        self.up_done(i)
                    }
                }
                Ev::Deliver { from, to, msg } => self.deliver(from, to, msg),
                Ev::Control(k) => self.control(k),
                Ev::Modulate(i) => self.modulate(i),
            }
        }
        self.now = self.now.max(limit);
    }

    /// Ends the run at `end` (after `run_until(end)`): counts bytes still queued
    /// or in flight, and hands back the collector and the traffic account.
    pub fn finish(mut self) -> (Collector, Traffic) {
        let mut queued: u64 = self.slots.iter().map(|s| s.queued_bytes).sum();
        let staged = self.staged.iter().map(|(_, ev)| ev);
        for ev in self.queue.iter_unordered().map(|(_, ev)| ev).chain(staged) {
            if let Ev::Deliver { msg, .. } = ev {
                queued += wire_bytes(msg.encoded_len()).1;
            }
        }
        self.traffic.queued = queued;
        self.collector.close_relations();
        (self.collector, self.traffic)
    }

    fn join(&mut self, i: u32) {
        debug_assert_eq!(i as usize, self.slots.len(), "nodes join in id order");
        let s = self.specs[i as usize].clone();
        let id = PeerId(i);
        // A peer's initial Markov level is drawn uniformly.
        let level = match (&self.modulation, s.role) {
            (Some(m), NodeRole::Peer) => {
                let u = rngs::unit(self.seed, Stream::Bandwidth, i as u64, 0);
                ((u * m.levels.len() as f64) as usize).min(m.levels.len() - 1) as u8
            }
            _ => 0,
        };
        let up_bps = match s.role {
            NodeRole::Peer => (s.up_bps as f64 * self.factor(i, s.class, level)).round() as u64,
            _ => s.up_bps,
        };
        // Protocols learn their nominal capacity (what a peer would advertise;
        // free-riders and capacity liars advertise something else).
        let up_kbps = s.behaviour.advertised_kbps((s.up_bps / 1000).min(u32::MAX as u64) as u32);
        let guard = |p| Node::Member(Guarded::new(p, s.behaviour, self.defences.clone()));
        let node = match s.role {
            NodeRole::Tracker => {
                let mut t = protocols::tracker::Tracker::new(Default::default());
                if self.any_nat {
                    t = t.with_restricted(self.specs.iter().map(|s| s.nat).collect());
                }
                if let Some((isp, locality)) = &self.isp {
                    t = t.with_isp(isp.clone(), *locality);
                }
                Node::Tracker(t)
            }
            NodeRole::Source => guard(self.proto.source(id, up_kbps)),
            NodeRole::Peer => guard(self.proto.peer(id, up_kbps)),
            NodeRole::Edge => guard(self.proto.edge(id, up_kbps)),
        };
        self.latency.place(i);
        self.slots.push(Slot {
            node: Some(node),
            up_bps,
            head: None,
            ctrlq: VecDeque::new(),
            mediaq: VecDeque::new(),
            head_start: Time::ZERO,
            head_end: Time::ZERO,
            head_left_bits: 0,
            head_mark: Time::ZERO,
            queued_bytes: 0,
            tx_count: 0,
            nominal_up_bps: s.up_bps,
            class: s.class,
            level,
            level_draws: 0,
        });
        let down_bps = match s.role {
            NodeRole::Peer => (s.down_bps as f64 * self.down_factor(i, s.class)).round() as u64,
            _ => s.down_bps,
        };
        self.rngs.push(rngs::rng(self.seed, Stream::Node, i as u64));
        self.hot.push(Hot { down_bps, down_free: Time::ZERO, head_gen: 0, alive: true, cut: false });
        self.collector.join(id, s.role, s.class, up_bps, self.now);
        if s.role == NodeRole::Peer && self.modulation.as_ref().is_some_and(|m| m.levels.len() > 1) {
            self.schedule_modulation(i);
        }
        if let Some((at, graceful)) = s.leave {
            self.push(at.max(self.now), Ev::Leave(i, graceful));
        }
        self.call(i, |n, cx| n.on_start(cx));
    }

    fn leave(&mut self, i: u32, graceful: bool) {
        let slot = &mut self.slots[i as usize];
        if slot.node.is_none() {
            return;
        }
        // Keep the message being serialized; discard the rest of the queue.
        for tx in slot.ctrlq.drain(..).chain(slot.mediaq.drain(..)) {
            slot.queued_bytes -= tx.bytes;
            self.traffic.discarded += tx.bytes;
        }
        self.call(i, |n, cx| n.on_command(Command::Leave { graceful }, cx));
        self.slots[i as usize].node = None;
        self.hot[i as usize].alive = false;
        self.collector.leave(PeerId(i), self.now);
    }

    /// Calls the node's protocol with a context, then applies its outbox.
    fn call(&mut self, i: u32, f: impl FnOnce(&mut Node<Guarded<F::Peer>>, &mut Ctx<'_, <F::Peer as Peer>::Timer>)) {
        let now = self.now;
        let slot = &mut self.slots[i as usize];
        let Some(node) = slot.node.as_mut() else {
            return;
        };
        let backlog = match &slot.head {
            None => Time::ZERO,
            Some(head) => (slot.head_end - now) + Time::transmit(slot.queued_bytes - head.bytes, slot.up_bps),
        };
        let mut out = std::mem::take(&mut self.out);
        {
            let mut cx = Ctx::new(now, PeerId(i), &mut self.rngs[i as usize], backlog, &mut out);
            f(node, &mut cx);
        }
        for r in out.records.drain(..) {
            self.collector.record(PeerId(i), now, &r);
        }
        for (at, t) in out.timers.drain(..) {
            self.push(at.max(now), Ev::Timer(i, t));
        }
        for (to, msg) in out.sends.drain(..) {
            self.enqueue(i, to.0, msg);
        }
        self.out = out;
    }

    fn enqueue(&mut self, from: u32, to: u32, msg: Msg) {
        let (datagrams, bytes) = wire_bytes(msg.encoded_len());
        self.traffic.sent += bytes;
        let slot = &mut self.slots[from as usize];
        let media = msg.is_media();
        let tx = Tx { to, msg, bytes, datagrams };
        slot.queued_bytes += bytes;
        if slot.head.is_none() {
            slot.head = Some(tx);
            self.start_head(from);
        } else if media {
            slot.mediaq.push_back(tx);
        } else {
            slot.ctrlq.push_back(tx);
        }
    }

    fn start_head(&mut self, i: u32) {
        let now = self.now;
        let slot = &mut self.slots[i as usize];
        let Some(head) = &slot.head else { return };
        slot.head_start = now;
        slot.head_mark = now;
        slot.head_left_bits = head.bytes * 8;
        slot.head_end = now + Time::transmit(head.bytes, slot.up_bps);
        let (end, generation) = (slot.head_end, self.hot[i as usize].head_gen);
        self.push(end, Ev::UpDone(i, generation));
    }

    fn up_done(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        let Some(tx) = slot.head.take() else {
            return;
        };
        slot.queued_bytes -= tx.bytes;
        let up_start = slot.head_start;
        // Upload is counted once serialized: queued or discarded bytes never used the link.
        self.collector.sent(PeerId(i), self.now, tx.bytes, tx.msg.is_media());
        if let Msg::Chunk { polluted: true, .. } = tx.msg {
            self.collector.sent_polluted(PeerId(i), tx.bytes);
        }
        slot.tx_count += 1;
        let n = slot.tx_count;
        // A made-up destination (a hostile member list can name ids no node
        // has) is lost in the core: the sender's link was used all the same.
        let known = (tx.to as usize) < self.hot.len();
        let prop = if known { self.propagation(i, tx.to) } else { Time::ZERO };
        let lost = !known
            || (self.loss > 0.0 && {
                let p_msg = message_loss(self.loss, tx.datagrams);
                rngs::unit(self.seed, Stream::Loss, i as u64, n) < p_msg
            });
        let deliver_at = match self.hot.get_mut(tx.to as usize) {
            Some(r) => {
                let start = r.down_free.max(up_start + prop);
                let t = (self.now + prop).max(start + Time::transmit(tx.bytes, r.down_bps));
                r.down_free = t;
                t
            }
            None => self.now + prop,
        };
        if lost {
            self.traffic.lost += tx.bytes;
        } else {
            self.push(deliver_at, Ev::Deliver { from: i, to: tx.to, msg: tx.msg });
        }
        let slot = &mut self.slots[i as usize];
        slot.head = slot.ctrlq.pop_front().or_else(|| slot.mediaq.pop_front());
        self.start_head(i);
    }

    fn deliver(&mut self, from: u32, to: u32, msg: Msg) {
        let bytes = wire_bytes(msg.encoded_len()).1;
        if self.severed(from, to) {
            self.traffic.lost += bytes;
            return;
        }
        if self.any_nat
            && self.specs.get(from as usize).is_some_and(|s| s.nat)
            && self.specs.get(to as usize).is_some_and(|s| s.nat)
        {
            // Neither NAT lets the other's packets in: lost at the receiver's NAT.
            self.traffic.lost += bytes;
            self.collector.nat_blocked += 1;
            return;
        }
        let alive = self.hot.get(to as usize).is_some_and(|h| h.alive);
        if !alive {
            self.traffic.lost_departed += bytes;
            return;
        }
        self.traffic.delivered += bytes;
        self.collector.delivered(PeerId(to), bytes, msg.is_media());
        if msg.is_media() {
            self.collector.media_from(PeerId(to), PeerId(from), bytes);
        }
        self.collector.learns(PeerId(to), PeerId(from));
        // Address exposure counts real nodes only (a hostile list may name
        // ids that no node has).
        let n = self.hot.len();
        match &msg {
            Msg::PeerList { peers } | Msg::Gossip { peers } => {
                for &p in peers.iter().filter(|p| p.index() < n) {
                    self.collector.learns(PeerId(to), p);
                }
            }
            Msg::JoinAck { path, .. } | Msg::Heartbeat { path, .. } => {
                for &p in path.iter().filter(|p| p.index() < n) {
                    self.collector.learns(PeerId(to), p);
                }
            }
            _ => {}
        }
        self.call(to, |n, cx| n.on_message(PeerId(from), msg, cx));
    }
}

#[cfg(test)]
mod tests {
    use super::message_loss;

    /// Pinned bit for bit (libm and IEEE-754 basic operations only, so the
    /// same on every platform), and checked against the definition.
    #[test]
    fn message_loss_is_pinned() {
        let got = [message_loss(0.01, 1), message_loss(0.01, 3), message_loss(0.2, 45), message_loss(0.0, 9)];
        assert_eq!(
            got.map(f64::to_bits),
            [4576918229304087680, 4584217951810505920, 4607182026481158946, 0],
            "{got:?}"
        );
        assert!((got[1] - (1.0 - 0.99 * 0.99 * 0.99)).abs() < 1e-15);
        assert_eq!(got[3], 0.0);
    }
}
