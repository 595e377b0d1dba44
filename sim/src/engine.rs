//! The discrete-event engine and the access-link network model.
//!
//! Events are ordered by time (integer nanoseconds, [`crate::queue`]). Each
//! node has an upload and a download access link. The core is uncongested
//! (the standard P2P-streaming assumption): a message crosses it in the
//! propagation delay of the latency model.
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
//!   The download link serves messages in the order their senders finished
//!   serializing them (`up_end`, then sender id).
//! - each of the message's datagrams is lost with probability `loss`; losing
//!   any loses the message (no retransmission below the protocol). Lost
//!   messages still occupy both links (conservative).
//!
//! A link's messages need no event each: the link changes only by its own
//! node's actions, so it is brought up to date lazily ([`Part::catch_up`])
//! before the node's next event and at the end of each window in which one
//! of its messages ends ([`Part::flush`]). A message ending in the same
//! nanosecond as an event of the node counts as ended for that event only
//! if the event was queued after the message started (events carry their
//! queueing sequence number), which is the order an event per message
//! queued at its start would give. Without windows every message still
//! gets its [`Ev::UpDone`] event.
//!
//! Bytes are conserved: `sent = delivered + lost + lost_departed + discarded + queued`
//! ([`analysis::Traffic`]). When a node leaves, the message it is serializing
//! still goes out, the rest of its queue is discarded, and a graceful leaver's
//! goodbye messages queue behind it; messages arriving at a departed node count
//! as `lost_departed`.
//!
//! # Threads and the canonical order
//!
//! Nodes are split into parts, one per thread ([`Engine::set_threads`]):
//! node `id` in part `id % parts`, or, for a family whose source does a
//! large share of the work ([`Protocol::source_share`]), with fewer other
//! nodes in the source's part ([`Layout`]). Time advances in windows no longer than
//! the smallest one-way propagation delay `Lmin` ([`LatencyModel::min_latency`]):
//! the windows are `[k*Lmin, (k+1)*Lmin)`, also cut at every scenario action
//! ([`Control`]). A message whose upload ends in a window is delivered at
//! least `Lmin` later, so in a later window: within a window the parts share
//! nothing and run in parallel. At the window's end each part hands the
//! messages it finished uploading to the receivers' parts ("mail"); each
//! receiver's part passes them through its download link in the order
//! `(upload end, sender)` and queues their deliveries. Scenario actions run
//! between windows, on one thread.
//!
//! The order of a node's events is canonical, the same for any number of
//! parts: by time; at equal times its join first, then the scenario actions
//! due then, then its other events in the order they were queued, where a
//! node's own events (timers, departures) are queued when it creates them
//! and deliveries at the end of the window in which their upload ended (the
//! end of a message on its upload link falls among them as said above). What a node does depends only on its own events; the
//! collector's per-node records are the node's own, and everything it sums
//! over nodes is an integer sum, a maximum, or a list sorted when the parts'
//! collectors are merged. So the outputs are byte-identical for 1, 2, ... N
//! threads. Latency models with no positive lower bound run on one thread,
//! with deliveries queued at once (no windows).

use std::collections::VecDeque;

use std::sync::Arc;

use analysis::collector::NodeInfo;
use analysis::layout::Layout;
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

/// How many events [`Part::run`] takes from the queue ahead of the
/// one it runs, to prefetch the state they touch.
const LOOKAHEAD: usize = 8;
/// Position in the lookahead at which [`Part::prefetch_live`] runs.
const LIVE: usize = 5;
/// Position in the lookahead at which [`Part::prefetch_deep`] runs.
const DEEP: usize = 3;
/// Capacity (messages) an idle upload queue keeps; a larger one is freed
/// when the link goes idle.
const IDLE_QUEUE_KEEP: usize = 4;
/// Capacity (messages) an emptied control queue keeps while media waits.
const CTRL_QUEUE_KEEP: usize = 8;

/// Datagram counts whose message loss probability is tabulated.
const LOSS_TABLE: u32 = 256;

/// Bytes of a node's [`Live`] state prefetched ahead of its timers and
/// deliveries: all of it for the families here (a hybrid's is about 1 KB).
/// With only the first 256 bytes of the protocol state, the protocol's own
/// [`Peer::prefetch`](protocols::Peer::prefetch) stalled on the headers of its
/// vectors further on (5.9% of a 10,000-peer hybrid run's samples; 1.1%
/// with the whole state).
const LIVE_PREFETCH: usize = 1024;

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

/// The CDN edge of `specs` (the node whose role is [`NodeRole::Edge`]) with
/// its one-way delay to every other node, when both exist.
pub fn edge_link(specs: &[NodeSpec], latency: Option<Time>) -> Option<(u32, Time)> {
    specs.iter().position(|s| s.role == NodeRole::Edge).map(|i| i as u32).zip(latency)
}

/// One-way propagation delay from `a` to `b`: the edge's on every pair with
/// the CDN edge ([`edge_link`]), the latency model's otherwise.
#[inline]
pub fn propagation(latency: &LatencyModel, edge: Option<(u32, Time)>, a: u32, b: u32) -> Time {
    match edge {
        Some((e, l)) if a == e || b == e => l,
        _ => latency.latency(a, b),
    }
}

/// Smallest one-way propagation delay of a run: the latency model's lower
/// bound, or the CDN edge's delay if it has one and it is smaller. The
/// engine's windows are this long; zero means one thread.
pub fn smallest_delay(latency: &LatencyModel, edge: Option<Time>) -> Time {
    let m = latency.min_latency();
    edge.map_or(m, |l| m.min(l))
}

/// A protocol family as the engine sees it: a factory of member nodes.
/// Shared by the engine's threads (`Sync`); its nodes move between them (`Send`).
pub trait Protocol: Sync {
    type Peer: Peer + Send;
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
    /// The share of a run's work (CPU time) the source's node does, when it
    /// is large enough to unbalance the threads (client-server: the server
    /// answers every client). With several threads the source's part then
    /// holds fewer other nodes ([`analysis::layout::Layout::weighted`]).
    /// Only the speed depends on it, never the outputs. Default 0: every
    /// part holds the same number of nodes.
    fn source_share(&self) -> f64 {
        0.0
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

/// A chunk waiting on an upload link: a [`Tx`] of a `Msg::Chunk` in 16
/// bytes instead of 72 (`Msg` is as large as its largest variant). Most of
/// a busy link's queue is media; its size on the wire is computed again
/// when it leaves the queue.
#[derive(Clone, Copy)]
struct ChunkTx {
    to: u32,
    seq: protocols::Seq,
    len: u32,
    polluted: bool,
}

impl ChunkTx {
    fn msg(self) -> Msg {
        Msg::Chunk { seq: self.seq, len: self.len, polluted: self.polluted }
    }
    fn tx(self) -> Tx {
        let msg = self.msg();
        let (datagrams, bytes) = wire_bytes(msg.encoded_len());
        Tx { to: self.to, msg, bytes, datagrams }
    }
    fn bytes(self) -> u64 {
        self.tx().bytes
    }
}

/// A message whose upload ended, on its way to the receiver's download link
/// (handed to the receiver's part at the end of the window).
struct Mail {
    /// When the sender finished serializing it, and when it started.
    up_end: Time,
    up_start: Time,
    prop: Time,
    bytes: u64,
    from: u32,
    to: u32,
    /// `None`: lost on the way (it still occupies the download link).
    msg: Option<Msg>,
}

impl Mail {
    /// A placeholder left behind when a mail is taken out of a vector.
    const EMPTY: Mail =
        Mail { up_end: Time::ZERO, up_start: Time::ZERO, prop: Time::ZERO, bytes: 0, from: 0, to: 0, msg: None };
}

/// The per-node state most events read for nodes other than the one they
/// run: download links, liveness, stale-completion checks. Kept apart from
/// [`Slot`] and its [`Live`] state in one dense array, so that
/// these reads hit the cache instead of costing a miss each.
#[derive(Clone, Copy)]
struct Hot {
    down_bps: u64,
    down_free: Time,
    /// Bumped when the head's end is rescheduled (capacity change): older
    /// `UpDone` events are stale (runs without windows).
    head_gen: u32,
    /// Present (joined and not left): its `Slot::live` is `Some`.
    alive: bool,
}

#[repr(C)]
struct Slot<P: Peer> {
    up_bps: u64,
    /// The message being serialized, then control messages (sent first), then media.
    head: Option<Tx>,
    ctrlq: VecDeque<Tx>,
    mediaq: VecDeque<ChunkTx>,
    head_start: Time,
    head_end: Time,
    /// Where the head's completion falls among the node's events of time
    /// `head_end`: after those queued before this sequence number
    /// ([`Part::catch_up`]).
    head_seq: u64,
    /// When the link is due to be brought up to date at a window's end
    /// ([`Part::arm`]; [`Time::MAX`]: not armed).
    flush_at: Time,
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
    /// The node's state while it is present, boxed: a departed node keeps
    /// only the link state above (a run with churn joins about twice as
    /// many nodes as are ever present at once, and a slot is never reused).
    live: Option<Box<Live<P>>>,
}

impl<P: Peer> Slot<P> {
    /// Counts the head's bits served at `up_bps` from its mark to `now`
    /// and moves the mark there; nothing while the mark is later (control
    /// interleaved before it still going out).
    fn serve_head_until(&mut self, now: Time) {
        if now > self.head_mark {
            let sent = ((now - self.head_mark).as_nanos() as u128 * self.up_bps as u128 / 1_000_000_000) as u64;
            self.head_left_bits = self.head_left_bits.saturating_sub(sent);
            self.head_mark = now;
        }
    }
}

/// What a present node holds beyond its link: the protocol state and its
/// random stream (dropped when the node leaves).
struct Live<P: Peer> {
    node: Node<Guarded<P>>,
    rng: ChaCha8Rng,
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
    Leave(u32, bool),
    Timer(u32, T),
    /// The message in service on the node's upload link ends (runs
    /// without windows only; with windows, links are brought up to date by
    /// [`Part::catch_up`]). The second field is the link's `head_gen`.
    UpDone(u32, u32),
    /// The message is `Part::inflight[slot]` (kept out of the event so
    /// that queued events are small).
    Deliver {
        from: u32,
        to: u32,
        slot: u32,
    },
    Modulate(u32),
}

/// What every part reads and only scenario actions (between windows) write.
struct Shared<F> {
    proto: F,
    stream: StreamParams,
    specs: Vec<NodeSpec>,
    /// Which part holds node `id`, at which index ([`Layout`]).
    layout: Layout,
    /// Window length (the smallest propagation delay); zero: one part, no windows.
    window: Time,
    latency: LatencyModel,
    loss: f64,
    /// `message_loss(loss, d)` for `d` below its length (a chunk has about
    /// 45 datagrams): computed once, not per message.
    loss_by_datagrams: Vec<f64>,
    seed: u64,
    /// Protocol draw ([`Engine::set_protocol_draw`]; 0: the seed's own).
    draw: u64,
    /// Per node: cut off from the network (outage).
    cut: Vec<bool>,
    /// Whether any node was ever cut off; until then [`Shared::severed`]
    /// need not look at the nodes.
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
    /// One [`Ev::UpDone`] per message even with windows
    /// ([`Engine::set_eager_links`]).
    eager_links: bool,
    /// Control messages do not wait for the message in service
    /// ([`Engine::set_control_interleave`]).
    control_interleave: bool,
    /// `[isp]`: each node's ISP and the tracker's locality share.
    isp: Option<(Vec<u32>, f64)>,
}

impl<F> Shared<F> {
    /// Node `id`'s index in its part.
    #[inline]
    fn local(&self, id: u32) -> usize {
        self.layout.local(id)
    }

    /// The part of node `id`.
    #[inline]
    fn part_of(&self, id: u32) -> usize {
        self.layout.part_of(id)
    }

    /// Upload links are brought up to date lazily ([`Part::catch_up`]):
    /// with windows, unless [`Engine::set_eager_links`] asked for an event
    /// per message.
    fn lazy_links(&self) -> bool {
        self.window > Time::ZERO && !self.eager_links
    }

    /// One-way propagation delay from `a` to `b`.
    fn propagation(&self, a: u32, b: u32) -> Time {
        propagation(&self.latency, self.edge, a, b)
    }

    /// Nodes that joined at or before `t` (ids are dense in joining order).
    fn joined_by(&self, t: Time) -> usize {
        self.specs.partition_point(|s| s.join <= t)
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

    /// True when a message from `a` to `b` cannot cross the network now.
    fn severed(&self, a: u32, b: u32) -> bool {
        if !self.any_cut && self.partition.is_none() {
            return false;
        }
        let cut = |i: u32| self.cut.get(i as usize).copied().unwrap_or(false);
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
}

type Timer<F> = <<F as Protocol>::Peer as Peer>::Timer;

/// The nodes of one part, their events and their share of the statistics.
///
/// Aligned to 128 bytes (two cache lines, the unit of the adjacent-line
/// prefetcher), so that two parts side by side in [`Engine::parts`] share
/// no line: each thread writes its part's counters on every event.
#[repr(align(128))]
struct Part<F: Protocol> {
    now: Time,
    /// Events with their sequence numbers (the order they were queued in).
    queue: EventQueue<(u64, Ev<Timer<F>>)>,
    /// The next events, already taken from `queue` in order (at most
    /// [`LOOKAHEAD`]), so the state they will touch can be prefetched while
    /// earlier events run. See [`Part::push`] for why the order is unchanged.
    staged: VecDeque<(Time, u64, Ev<Timer<F>>)>,
    /// Sequence number of the next event queued (from 1).
    seq: u64,
    /// Sequence number of the event running (0 between windows, `u64::MAX`
    /// in [`Part::flush`]).
    cur_seq: u64,
    slots: Vec<Slot<F::Peer>>,
    hot: Vec<Hot>,
    out: Outbox<Timer<F>>,
    collector: Collector,
    traffic: Traffic,
    events: u64,
    /// The next node of this part to join (global id), and its join time
    /// ([`Time::MAX`]: none; read on every event, so kept here).
    next_join: u32,
    next_join_at: Time,
    /// Nodes of the whole run that joined at or before `now` (ids are dense
    /// in joining order), advanced as `now` does ([`Part::joined`]).
    joined_upto: usize,
    /// Mail for each part (by index), filled during a window.
    outgoing: Vec<Vec<Mail>>,
    /// Mail from each part, to pass through the download links before the
    /// next window's events.
    incoming: Vec<Vec<Mail>>,
    /// Scratch for sorting the incoming mail.
    sorted: Vec<Mail>,
    /// Messages of the queued deliveries with their bytes on the wire
    /// ([`Ev::Deliver`]), and the free entries (reused last-freed first).
    inflight: Vec<(Msg, u64)>,
    free_inflight: Vec<u32>,
    /// Scratch: the incoming mail's sort keys (upload end, sender, index).
    order: Vec<(Time, u32, u32)>,
    /// Upload links to bring up to date at the end of the window: node id
    /// by [`Slot::flush_at`] (lazy links only, [`Shared::lazy_links`]).
    flushes: EventQueue<u32>,
    /// Scratch: the nodes [`Part::flush`] takes from `flushes`.
    flushing: Vec<(Time, u32)>,
    /// Nodes of the whole run that had joined when the current [`Part::run`]
    /// started: every upload it completes ends no earlier ([`Part::complete`]).
    joined_floor: usize,
}

/// The simulator of one run.
pub struct Engine<F: Protocol> {
    sh: Shared<F>,
    /// Empty until the run starts ([`Engine::start`]).
    parts: Vec<Part<F>>,
    /// Scenario actions, in the order added; run by time (then that order).
    controls: Vec<(Time, Control)>,
    next_control: usize,
    /// Start of the current window.
    window_start: Time,
    now: Time,
    /// Scenario actions applied (each counts as an event).
    control_events: u64,
    /// Windows completed.
    windows: u64,
    threads: usize,
    bucket: Option<Time>,
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
        let any_nat = specs.iter().any(|s| s.nat);
        let n = specs.len();
        Engine {
            sh: Shared {
                proto,
                stream,
                specs,
                layout: Layout::stride(1),
                window: Time::ZERO,
                latency,
                loss,
                loss_by_datagrams: (0..LOSS_TABLE).map(|d| message_loss(loss, d)).collect(),
                seed,
                draw: 0,
                cut: vec![false; n],
                any_cut: false,
                partition: None,
                class_factor: Vec::new(),
                node_factor: Default::default(),
                class_down: Vec::new(),
                node_down: Default::default(),
                modulation: None,
                defences: Arc::new(Defences::none(stream)),
                edge: None,
                any_nat,
                eager_links: false,
                control_interleave: false,
                isp: None,
            },
            parts: Vec::new(),
            controls: Vec::new(),
            next_control: 0,
            window_start: Time::ZERO,
            now: Time::ZERO,
            control_events: 0,
            windows: 0,
            threads: 1,
            bucket: None,
        }
    }

    /// Runs the nodes on `threads` threads (call before running; default 1).
    /// Outputs do not depend on it. With a latency model whose smallest delay
    /// is zero the run stays on one thread ([`Engine::parallel`]).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Threads the run uses: the requested ones, or 1 when the smallest
    /// propagation delay is zero (no window in which parts can run apart).
    pub fn parallel(&self) -> usize {
        if self.min_propagation() == Time::ZERO { 1 } else { self.threads }
    }

    /// Gives every node's protocol decisions the random stream of draw
    /// `draw` ([`rngs::node_rng`]; call before running): 0, the default, is
    /// the seed's own; another draw is the same scenario instance
    /// (population, churn, latency, bandwidth and the other named streams)
    /// with other protocol randomness.
    pub fn set_protocol_draw(&mut self, draw: u64) {
        self.sh.draw = draw;
    }

    /// Sets the propagation delay between the CDN edge (the node whose role
    /// is [`NodeRole::Edge`]) and every other node (call before running).
    pub fn set_edge_latency(&mut self, latency: Time) {
        self.sh.edge = edge_link(&self.sh.specs, Some(latency));
    }

    /// Tracks ISPs (call before running): every node's is its stub domain
    /// in the latency model (a CDN edge is in none), and the tracker draws
    /// `locality` of each list from the asker's ISP.
    pub fn set_isp(&mut self, locality: f64) {
        let isp: Vec<u32> = (0..self.sh.specs.len() as u32)
            .map(|i| match self.sh.specs[i as usize].role {
                NodeRole::Edge => u32::MAX,
                _ => self.sh.latency.stub_domain(i).unwrap_or(u32::MAX),
            })
            .collect();
        self.sh.isp = Some((isp, locality));
    }

    /// With `on`, every message on an upload link is an event of its own
    /// ([`Ev::UpDone`]), as in the engine before issue 19's lazy links,
    /// instead of links being brought up to date lazily (call before
    /// running). Outputs are the same either way (`sim/tests/links.rs`
    /// checks it); this is slower and exists for that check.
    pub fn set_eager_links(&mut self, on: bool) {
        self.sh.eager_links = on;
    }

    /// With `on`, a control message sent while the upload link serializes
    /// a media message does not wait for the rest of it: it goes out at
    /// once, between two of its datagrams, and the media message's rest
    /// waits for it (the link never carries more than its rate). Control
    /// messages sent back to back go out one after the other; a control
    /// message sent while the link serializes a control message queues as
    /// without `on`. This is a kernel queue that serves control first at
    /// datagram granularity (`swarmlab validate --netns`: `tc tbf` over a
    /// priority `pfifo_fast`); scenarios select it with
    /// `network.control_priority = "datagram"`. Off by default (the
    /// engine's links serialize whole messages).
    pub fn set_control_interleave(&mut self, on: bool) {
        self.sh.control_interleave = on;
    }

    /// Sets the defences every member applies (call before running).
    pub fn set_defences(&mut self, d: Defences) {
        self.sh.defences = Arc::new(d);
    }

    /// Schedules a scenario action at `at` (call before running).
    pub fn add_control(&mut self, at: Time, c: Control) {
        self.controls.push((at, c));
    }

    /// Turns on Markov-modulated upload for every peer (call before running).
    pub fn set_modulation(&mut self, m: Modulation) {
        if !m.levels.is_empty() {
            self.sh.modulation = Some(m);
        }
    }

    /// Sets the width of the metrics' time buckets (timeseries.csv; call before running).
    pub fn set_time_bucket(&mut self, width: Time) {
        self.bucket = Some(width);
    }

    pub fn now(&self) -> Time {
        self.now
    }
    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.control_events + self.parts.iter().map(|p| p.events).sum::<u64>()
    }
    /// Events each part processed so far (joins included, controls not).
    pub fn part_events(&self) -> Vec<u64> {
        self.parts.iter().map(|p| p.events).collect()
    }
    /// Nodes each part holds that have joined so far.
    pub fn part_nodes(&self) -> Vec<usize> {
        self.parts.iter().map(|p| p.slots.len()).collect()
    }
    /// Windows completed so far (each ends with a synchronization of the parts).
    pub fn windows(&self) -> u64 {
        self.windows
    }
    pub fn latency(&self) -> &LatencyModel {
        &self.sh.latency
    }
    /// Smallest one-way propagation delay between two nodes (the CDN edge's included).
    pub fn min_propagation(&self) -> Time {
        smallest_delay(&self.sh.latency, self.sh.edge.map(|(_, l)| l))
    }
    /// The protocol factory this engine runs.
    pub fn protocol(&self) -> &F {
        &self.sh.proto
    }
    /// The member protocol state of node `id`, while it is present.
    pub fn member(&self, id: u32) -> Option<&F::Peer> {
        let part = self.parts.get(self.sh.part_of(id))?;
        match &part.slots.get(self.sh.local(id))?.live.as_ref()?.node {
            Node::Member(p) => Some(&p.inner),
            Node::Tracker(_) => None,
        }
    }
    /// Number of nodes that have joined so far.
    pub fn joined(&self) -> usize {
        self.parts.iter().map(|p| p.slots.len()).sum()
    }

    /// Splits the nodes into parts and sets everything up for the run.
    fn start(&mut self) {
        let parts = self.parallel() as u32;
        let window = self.min_propagation();
        let sh = &mut self.sh;
        let source = sh.specs.iter().position(|s| s.role == NodeRole::Source).unwrap_or(0) as u32;
        sh.layout = Layout::weighted(parts, source, sh.proto.source_share());
        sh.window = window;
        if let Some(last) = sh.specs.len().checked_sub(1) {
            // Placement depends only on (seed, id): place everyone now, as parts read it.
            sh.latency.place(last as u32);
        }
        // Stable: equal times keep the order they were added in.
        self.controls.sort_by_key(|c| c.0);
        let info = Arc::new(NodeInfo {
            role: sh.specs.iter().map(|s| s.role).collect(),
            behaviour: sh.specs.iter().map(|s| s.behaviour.index()).collect(),
            leave: sh.specs.iter().map(|s| s.leave.map_or(Time::MAX, |(t, _)| t.max(s.join))).collect(),
        });
        self.parts = (0..parts)
            .map(|k| {
                let mut collector = Collector::shard(sh.stream, k, sh.layout.clone(), info.clone());
                if let Some(b) = self.bucket {
                    collector.set_bucket(b);
                }
                if let Some((isp, _)) = &sh.isp {
                    collector.isp = isp.clone();
                }
                let first = sh.layout.first(k as usize);
                let mut i = first;
                while let Some(s) = sh.specs.get(i as usize) {
                    if !s.behaviour.is_honest() {
                        collector.set_behaviour(PeerId(i), s.behaviour.index());
                    }
                    if s.nat {
                        collector.set_nat(PeerId(i));
                    }
                    i = sh.layout.next_in_part(i);
                }
                // Every node that will ever join this part, so that the
                // per-node tables are allocated once, at their final size.
                let local = sh.layout.count(k as usize, sh.specs.len() as u32);
                collector.reserve_nodes(local);
                Part {
                    now: Time::ZERO,
                    queue: EventQueue::default(),
                    staged: VecDeque::with_capacity(2 * LOOKAHEAD),
                    seq: 1,
                    cur_seq: 0,
                    slots: Vec::with_capacity(local),
                    hot: Vec::with_capacity(local),
                    out: Outbox::default(),
                    collector,
                    traffic: Traffic::default(),
                    events: 0,
                    next_join: first,
                    next_join_at: sh.specs.get(first as usize).map_or(Time::MAX, |s| s.join),
                    joined_upto: 0,
                    outgoing: (0..parts).map(|_| Vec::new()).collect(),
                    incoming: (0..parts).map(|_| Vec::new()).collect(),
                    sorted: Vec::new(),
                    order: Vec::new(),
                    inflight: Vec::new(),
                    free_inflight: Vec::new(),
                    flushes: EventQueue::default(),
                    flushing: Vec::new(),
                    joined_floor: 0,
                }
            })
            .collect();
    }

    /// Processes every event due at or before `limit`.
    pub fn run_until(&mut self, limit: Time) {
        if self.parts.is_empty() {
            self.start();
        }
        loop {
            // Windows up to the next scenario action (or past `limit`) run
            // without leaving the parts' threads.
            let action = self.controls.get(self.next_control).map(|c| c.0);
            let stop = action.unwrap_or(Time::MAX);
            self.run_windows(stop, limit);
            if action.is_none_or(|a| a > limit) {
                break;
            }
            // At the action's time: mail first (a download change applies to
            // later uploads only), then the joins due now, then the actions.
            for p in &mut self.parts {
                p.absorb(&self.sh);
                p.joins(&self.sh, stop);
            }
            while let Some((at, c)) = self.controls.get(self.next_control).cloned()
                && at == stop
            {
                self.next_control += 1;
                self.control_events += 1;
                self.control(stop, c);
            }
            self.window_start = stop;
        }
        self.now = self.now.max(limit);
    }

    /// Runs the windows from `window_start` up to `stop` (exclusive: an
    /// action's time), or up to `limit` inclusive if that comes first (the
    /// window in progress is then left open). One thread per part; the
    /// calling thread runs part 0.
    fn run_windows(&mut self, stop: Time, limit: Time) {
        let (sh, start) = (&self.sh, self.window_start);
        let (windows, next) = if self.parts.len() == 1 {
            let p = &mut self.parts[0];
            windows_of(sh, p, start, stop, limit, |p| {
                // One part: its mail is its own.
                std::mem::swap(&mut p.outgoing[0], &mut p.incoming[0]);
            })
        } else {
            let n = self.parts.len();
            let boxes: Vec<std::sync::Mutex<Vec<Mail>>> = (0..2 * n * n).map(|_| Default::default()).collect();
            let barrier = SpinBarrier::new(n);
            let (boxes, barrier) = (&boxes, &barrier);
            // Window k's mail goes through the boxes of parity k % 2: a part
            // that runs ahead into window k+1 cannot overwrite mail of
            // window k not yet collected (the barrier of window k+1 waits
            // for every part to have collected it).
            let exchange = move |p: &mut Part<F>, k: usize, parity: usize| {
                let slot = |s: usize, d: usize| &boxes[(parity * n + s) * n + d];
                for d in 0..n {
                    let mut b = slot(k, d).lock().unwrap_or_else(|e| e.into_inner());
                    std::mem::swap(&mut *b, &mut p.outgoing[d]);
                }
                barrier.wait();
                for s in 0..n {
                    let mut b = slot(s, k).lock().unwrap_or_else(|e| e.into_inner());
                    std::mem::swap(&mut *b, &mut p.incoming[s]);
                }
            };
            let exchange = &exchange;
            let mut parts = self.parts.iter_mut().enumerate();
            let first = parts.next();
            std::thread::scope(|scope| {
                for (k, p) in parts {
                    scope.spawn(move || {
                        let _poison = PoisonOnPanic(barrier);
                        let mut parity = 0;
                        windows_of(sh, p, start, stop, limit, |p| {
                            exchange(p, k, parity);
                            parity ^= 1;
                        })
                    });
                }
                let (k, p) = first.unwrap_or_else(|| unreachable!("two parts or more"));
                let _poison = PoisonOnPanic(barrier);
                let mut parity = 0;
                windows_of(sh, p, start, stop, limit, |p| {
                    exchange(p, k, parity);
                    parity ^= 1;
                })
            })
        };
        self.windows += windows;
        self.window_start = next;
    }

    /// Ends the run at `end` (after `run_until(end)`): counts bytes still queued
    /// or in flight, and hands back the collector and the traffic account.
    pub fn finish(mut self) -> (Collector, Traffic) {
        if self.parts.is_empty() {
            self.start();
        }
        let mut traffic = Traffic::default();
        let mut shards = Vec::new();
        for mut p in self.parts {
            let mut queued: u64 = p.slots.iter().map(|s| s.queued_bytes).sum();
            let staged = p.staged.iter().map(|(_, _, ev)| ev);
            for ev in p.queue.iter_unordered().map(|(_, (_, ev))| ev).chain(staged) {
                if let Ev::Deliver { slot, .. } = ev {
                    queued += p.inflight[*slot as usize].1;
                }
            }
            for m in p.outgoing.iter().chain(&p.incoming).flatten() {
                if m.msg.is_some() {
                    queued += m.bytes;
                }
            }
            let t = &p.traffic;
            traffic.sent += t.sent;
            traffic.delivered += t.delivered;
            traffic.lost += t.lost;
            traffic.lost_departed += t.lost_departed;
            traffic.discarded += t.discarded;
            traffic.queued += queued;
            p.collector.close_relations();
            shards.push(p.collector);
        }
        (Collector::merge(shards), traffic)
    }

    /// Applies a scenario action at `now` (between windows).
    fn control(&mut self, now: Time, c: Control) {
        for p in &mut self.parts {
            p.now = now;
            // Between windows: a link's completion at `now` comes after the action.
            p.cur_seq = 0;
        }
        let joined = self.sh.joined_by(now) as u32;
        match c {
            Control::Outage { node, down } => {
                if node < joined {
                    self.sh.cut[node as usize] = down;
                    self.sh.any_cut |= down;
                }
            }
            Control::Partition { fraction } => self.sh.partition = fraction,
            Control::ClassBandwidth { class, factor } => {
                let n = self.sh.specs.iter().map(|s| s.class as usize + 1).max().unwrap_or(1);
                set_class_factor(&mut self.sh.class_factor, n, class, factor);
                for i in 0..joined {
                    let part = &mut self.parts[self.sh.part_of(i)];
                    let s = &part.slots[self.sh.local(i)];
                    if self.sh.specs[i as usize].role == NodeRole::Peer && class.is_none_or(|c| c == s.class) {
                        let bps = (s.nominal_up_bps as f64 * self.sh.factor(i, s.class, s.level)).round() as u64;
                        part.set_upload(&self.sh, i, bps);
                    }
                }
            }
            Control::Download { class, node, factor } => {
                match node {
                    Some(n) => {
                        self.sh.node_down.insert(n, factor);
                    }
                    None => {
                        let n = self.sh.specs.iter().map(|s| s.class as usize + 1).max().unwrap_or(1);
                        set_class_factor(&mut self.sh.class_down, n, class, factor);
                    }
                }
                for i in 0..joined {
                    let spec = &self.sh.specs[i as usize];
                    let hit = node.map_or(class.is_none_or(|c| c == spec.class), |n| n == i);
                    if spec.role == NodeRole::Peer && hit {
                        let bps = (spec.down_bps as f64 * self.sh.down_factor(i, spec.class)).round() as u64;
                        self.parts[self.sh.part_of(i)].hot[self.sh.local(i)].down_bps = bps;
                    }
                }
            }
            Control::PeerBandwidth { node, factor } => {
                self.sh.node_factor.insert(node, factor);
                if node < joined && self.sh.specs[node as usize].role == NodeRole::Peer {
                    let part = &mut self.parts[self.sh.part_of(node)];
                    let s = &part.slots[self.sh.local(node)];
                    let bps = (s.nominal_up_bps as f64 * self.sh.factor(node, s.class, s.level)).round() as u64;
                    part.set_upload(&self.sh, node, bps);
                }
            }
        }
    }
}

/// Runs part `p` through the windows from `start` up to `stop` (exclusive)
/// or `limit` (inclusive), calling `exchange` at the end of each complete
/// window (the same windows in every part: they depend only on `start`,
/// the window length, `stop` and `limit`). Returns the windows completed
/// and the start of the window in progress.
fn windows_of<F: Protocol>(
    sh: &Shared<F>,
    p: &mut Part<F>,
    start: Time,
    stop: Time,
    limit: Time,
    mut exchange: impl FnMut(&mut Part<F>),
) -> (u64, Time) {
    let (mut ws, mut done) = (start, 0);
    loop {
        let grid = match sh.window {
            Time::ZERO => Time::MAX,
            w => Time((ws.0 / w.0).saturating_add(1).saturating_mul(w.0)),
        };
        let end = grid.min(stop);
        if end > limit {
            p.run(sh, limit);
            return (done, ws);
        }
        if end > ws {
            p.run(sh, Time(end.0 - 1));
            exchange(p);
            done += 1;
        }
        ws = end;
        if end == stop {
            return (done, ws);
        }
    }
}

/// A barrier for the parts' threads at the end of each window: spins (a
/// window's work is often shorter than waking a sleeping thread), then
/// yields the core.
struct SpinBarrier {
    n: usize,
    count: std::sync::atomic::AtomicUsize,
    generation: std::sync::atomic::AtomicUsize,
    /// A part's thread panicked: the others must not wait for it forever.
    poisoned: std::sync::atomic::AtomicBool,
}

/// Poisons the barrier if its thread unwinds (a panic in a protocol), so
/// that the other parts' threads panic too instead of waiting forever.
struct PoisonOnPanic<'a>(&'a SpinBarrier);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

impl SpinBarrier {
    fn new(n: usize) -> SpinBarrier {
        SpinBarrier { n, count: 0.into(), generation: 0.into(), poisoned: false.into() }
    }

    fn wait(&self) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
        let generation = self.generation.load(Acquire);
        if self.count.fetch_add(1, AcqRel) + 1 == self.n {
            self.count.store(0, Relaxed);
            self.generation.fetch_add(1, Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Acquire) == generation {
            if self.poisoned.load(Acquire) {
                panic!("another thread of the run panicked");
            }
            if spins < 2_000 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

impl<F: Protocol> Part<F> {
    /// Queues `ev` at `at` (`at >= now`).
    ///
    /// Staged events come before everything in `queue`, so an event earlier
    /// than the last staged one must be staged too: after the staged events
    /// of its time or earlier (pushed before it, so first among equal times)
    /// and before later ones. Any other event goes to `queue`, behind the
    /// staged ones and behind queued events of its time. The processing order
    /// is therefore exactly `queue`'s order without staging.
    fn push(&mut self, sh: &Shared<F>, at: Time, ev: Ev<Timer<F>>) {
        let seq = self.seq;
        self.seq += 1;
        match self.staged.back() {
            Some(&(last, _, _)) if at < last => {
                self.prefetch_event(sh, &ev);
                let pos = self.staged.partition_point(|(t, _, _)| *t <= at);
                self.staged.insert(pos, (at, seq, ev));
            }
            _ => self.queue.push(at, (seq, ev)),
        }
    }

    /// Starts loading what an event will touch first: the node's dense
    /// state and its `Slot` (a performance hint; no effect on results).
    fn prefetch_event(&self, sh: &Shared<F>, ev: &Ev<Timer<F>>) {
        let i = match ev {
            Ev::Leave(i, _) | Ev::Timer(i, _) | Ev::UpDone(i, _) | Ev::Modulate(i) => *i,
            Ev::Deliver { to, .. } => *to,
        };
        let l = sh.local(i);
        if let Some(h) = self.hot.get(l) {
            prefetch(h, 1);
        }
        if let Some(s) = self.slots.get(l) {
            prefetch(s, std::mem::size_of::<Slot<F::Peer>>());
        }
        if let Ev::Deliver { slot, .. } = ev
            && let Some(m) = self.inflight.get(*slot as usize)
        {
            prefetch(m, std::mem::size_of::<(Msg, u64)>());
        }
        self.collector.prefetch_node(PeerId(i));
    }

    /// Second stage of [`Part::prefetch_event`], when the node's `Slot`
    /// should be in cache: its [`Live`] state, for timers and deliveries.
    fn prefetch_live(&self, sh: &Shared<F>, ev: &Ev<Timer<F>>) {
        let i = match ev {
            Ev::Timer(i, _) => *i,
            Ev::Deliver { to, .. } => *to,
            _ => return,
        };
        if let Some(live) = self.slots.get(sh.local(i)).and_then(|s| s.live.as_deref()) {
            prefetch(live, LIVE_PREFETCH.min(std::mem::size_of::<Live<F::Peer>>()));
        }
    }

    /// Third stage of [`Part::prefetch_event`], a few events later, when
    /// the node's `Live` state should be in cache: what lies behind its
    /// pointers.
    fn prefetch_deep(&self, sh: &Shared<F>, ev: &Ev<Timer<F>>) {
        let node = |i: u32| self.slots.get(sh.local(i)).and_then(|s| s.live.as_deref()).map(|l| &l.node);
        match ev {
            Ev::Timer(i, _) => {
                if let Some(n) = node(*i) {
                    n.prefetch();
                }
            }
            Ev::Deliver { from, to, .. } => {
                if let Some(n) = node(*to) {
                    n.prefetch_from(PeerId(*from));
                }
                self.collector.prefetch_delivery(PeerId(*to), PeerId(*from));
            }
            Ev::UpDone(i, _) => {
                if let Some(head) = self.slots.get(sh.local(*i)).and_then(|s| s.head.as_ref()) {
                    sh.latency.prefetch(*i);
                    sh.latency.prefetch(head.to);
                }
            }
            _ => {}
        }
    }

    /// Join time of this part's next joiner, if it is at or before `limit`.
    fn join_due(&self, limit: Time) -> Option<Time> {
        Some(self.next_join_at).filter(|&t| t <= limit)
    }

    /// Nodes of the whole run that joined at or before `now`: ids below it
    /// exist (`Shared::joined_by`, amortized O(1) as `now` only grows).
    fn joined(&mut self, sh: &Shared<F>) -> usize {
        while sh.specs.get(self.joined_upto).is_some_and(|s| s.join <= self.now) {
            self.joined_upto += 1;
        }
        self.joined_upto
    }

    /// Runs the joins due at or before `limit`.
    fn joins(&mut self, sh: &Shared<F>, limit: Time) {
        while let Some(t) = self.join_due(limit) {
            self.now = t;
            self.events += 1;
            let i = self.next_join;
            self.next_join = sh.layout.next_in_part(i);
            self.next_join_at = sh.specs.get(self.next_join as usize).map_or(Time::MAX, |s| s.join);
            self.join(sh, i);
        }
    }

    /// Passes the mail received through the download links, in the order
    /// `(upload end, sender)`, and queues the deliveries.
    fn absorb(&mut self, sh: &Shared<F>) {
        let mut sorted = std::mem::take(&mut self.sorted);
        for v in &mut self.incoming {
            sorted.append(v);
        }
        if sorted.is_empty() {
            self.sorted = sorted;
            return;
        }
        // Sorted by key (16 bytes each, not the mail). The key is unique (a
        // link sends one message at a time), so any sort gives the same order.
        let mut order = std::mem::take(&mut self.order);
        order.extend(sorted.iter().enumerate().map(|(k, m)| (m.up_end, m.from, k as u32)));
        order.sort_unstable();
        // The receivers' download links are random nodes' `Hot` entries:
        // prefetch a few mails ahead (a hint; no effect on results).
        const AHEAD: usize = 8;
        for &(_, _, k) in order.iter().take(AHEAD) {
            self.prefetch_hot(sh, sorted[k as usize].to);
        }
        for n in 0..order.len() {
            if let Some(&(_, _, k)) = order.get(n + AHEAD) {
                self.prefetch_hot(sh, sorted[k as usize].to);
            }
            // Taken out in order; the vector is cleared below.
            let m = std::mem::replace(&mut sorted[order[n].2 as usize], Mail::EMPTY);
            self.arrive(sh, m);
        }
        order.clear();
        self.order = order;
        sorted.clear();
        self.sorted = sorted;
    }

    fn prefetch_hot(&self, sh: &Shared<F>, id: u32) {
        if let Some(h) = self.hot.get(sh.local(id)) {
            prefetch(h, 1);
        }
    }

    /// A message reaches the receiver's download link.
    fn arrive(&mut self, sh: &Shared<F>, m: Mail) {
        let r = &mut self.hot[sh.local(m.to)];
        let start = r.down_free.max(m.up_start + m.prop);
        let t = (m.up_end + m.prop).max(start + Time::transmit(m.bytes, r.down_bps));
        r.down_free = t;
        if let Some(msg) = m.msg {
            let slot = match self.free_inflight.pop() {
                Some(k) => {
                    // A free slot holds `(Msg::Bye, 0)` (see `Ev::Deliver`),
                    // which owns nothing: overwrite it without dropping it.
                    // A plain assignment would drop the old value, which
                    // reads it first, and the slot was freed windows ago
                    // (a cache miss the CPU waits for; a store does not wait).
                    std::mem::forget(std::mem::replace(&mut self.inflight[k as usize], (msg, m.bytes)));
                    k
                }
                None => {
                    self.inflight.push((msg, m.bytes));
                    (self.inflight.len() - 1) as u32
                }
            };
            self.push(sh, t, Ev::Deliver { from: m.from, to: m.to, slot });
        }
    }

    /// Processes every event (and join) of this part due at or before `limit`.
    fn run(&mut self, sh: &Shared<F>, limit: Time) {
        self.absorb(sh);
        self.joined_floor = self.joined(sh);
        loop {
            while self.staged.len() < LOOKAHEAD {
                let Some((t, (seq, ev))) = self.queue.pop_until(limit) else { break };
                self.prefetch_event(sh, &ev);
                self.staged.push_back((t, seq, ev));
            }
            // A node joins before any other event of its time.
            let next = self.staged.front().map_or(limit, |&(t, _, _)| t);
            if self.join_due(next).is_some() {
                self.joins(sh, next);
                continue;
            }
            let Some((t, seq, ev)) = self.staged.pop_front() else { break };
            if let Some((_, _, next)) = self.staged.get(LIVE) {
                self.prefetch_live(sh, next);
            }
            if let Some((_, _, next)) = self.staged.get(DEEP) {
                self.prefetch_deep(sh, next);
            }
            self.now = t;
            self.cur_seq = seq;
            self.events += 1;
            match ev {
                Ev::Leave(i, graceful) => self.leave(sh, i, graceful),
                Ev::Timer(i, timer) => self.call(sh, i, |n, cx| n.on_timer(timer, cx)),
                Ev::UpDone(i, generation) => {
                    if self.hot[sh.local(i)].head_gen == generation {
                        self.complete(sh, i, t);
                        self.arm(sh, i);
                    }
                }
                Ev::Deliver { from, to, slot } => {
                    // `Bye` holds nothing: a placeholder in the free slot.
                    let (msg, bytes) = std::mem::replace(&mut self.inflight[slot as usize], (Msg::Bye, 0));
                    self.free_inflight.push(slot);
                    self.deliver(sh, from, to, msg, bytes)
                }
                Ev::Modulate(i) => self.modulate(sh, i),
            }
        }
        self.now = self.now.max(limit);
        if sh.window > Time::ZERO {
            self.flush(sh);
        }
    }

    /// Brings up to date (to `now`, the end of the window) every upload
    /// link with a message due to end by then, so that the mail of the
    /// window is complete. The links' state is prefetched a few nodes ahead
    /// (a hint; no effect on results).
    fn flush(&mut self, sh: &Shared<F>) {
        let mut due = std::mem::take(&mut self.flushing);
        while let Some((t, i)) = self.flushes.pop_until(self.now) {
            due.push((t, i));
        }
        // Two stages: the link's state, then (once it is in cache) what
        // its first completion reads: the next message and both ends'
        // coordinates.
        const AHEAD: usize = 8;
        const DEEP: usize = 4;
        let link = std::mem::size_of::<Slot<F::Peer>>();
        let fetch = |p: &Self, i: u32| {
            if let Some(s) = p.slots.get(sh.local(i)) {
                prefetch(s, link);
            }
            p.collector.prefetch_node(PeerId(i));
        };
        let deep = |p: &Self, i: u32| {
            if let Some(s) = p.slots.get(sh.local(i)) {
                if let Some(h) = &s.head {
                    sh.latency.prefetch(i);
                    sh.latency.prefetch(h.to);
                }
                match s.ctrlq.front() {
                    Some(tx) => prefetch(tx, std::mem::size_of::<Tx>()),
                    None => {
                        if let Some(c) = s.mediaq.front() {
                            prefetch(c, std::mem::size_of::<ChunkTx>());
                        }
                    }
                }
            }
        };
        for &(_, i) in due.iter().take(AHEAD) {
            fetch(self, i);
        }
        self.cur_seq = u64::MAX;
        for k in 0..due.len() {
            if let Some(&(_, i)) = due.get(k + AHEAD) {
                fetch(self, i);
            }
            if let Some(&(_, i)) = due.get(k + DEEP) {
                deep(self, i);
            }
            let (t, i) = due[k];
            let slot = &mut self.slots[sh.local(i)];
            // Stale when the link was armed again, earlier, since.
            if slot.flush_at == t {
                slot.flush_at = Time::MAX;
                self.catch_up(sh, i);
            }
        }
        due.clear();
        self.flushing = due;
    }

    /// Completes, in order, every message of node `i`'s upload link that
    /// ends before the event running (or the end of the window), starting
    /// the next one at each end. A completion at the event's own time comes
    /// first if the message started before the event was queued, as an
    /// event of its own queued when the message started would. Without
    /// windows, [`Ev::UpDone`] events do this instead.
    fn catch_up(&mut self, sh: &Shared<F>, i: u32) {
        if !sh.lazy_links() {
            return;
        }
        let l = sh.local(i);
        loop {
            let slot = &self.slots[l];
            if slot.head.is_none() {
                return;
            }
            let end = slot.head_end;
            if end > self.now || (end == self.now && slot.head_seq > self.cur_seq) {
                break;
            }
            self.complete(sh, i, end);
        }
        self.arm(sh, i);
    }

    /// Makes sure the end of the message in service on node `i`'s upload
    /// link is processed: an [`Ev::UpDone`] without windows, else a flush at
    /// the end of the window it falls in (unless one is due earlier).
    fn arm(&mut self, sh: &Shared<F>, i: u32) {
        let l = sh.local(i);
        let slot = &mut self.slots[l];
        if slot.head.is_none() {
            return;
        }
        let end = slot.head_end;
        if !sh.lazy_links() {
            let generation = self.hot[l].head_gen;
            self.push(sh, end, Ev::UpDone(i, generation));
        } else if end < slot.flush_at {
            slot.flush_at = end;
            self.flushes.push(end, i);
        }
    }

    /// The message in service on the link at local index `l` now ends at
    /// `end`: its completion is ordered among the events queued from now
    /// on, and earlier `UpDone` events are stale (the caller re-arms).
    fn reschedule_head(&mut self, l: usize, end: Time) {
        let slot = &mut self.slots[l];
        slot.head_end = end;
        slot.head_seq = self.seq;
        let hot = &mut self.hot[l];
        hot.head_gen = hot.head_gen.wrapping_add(1);
    }

    /// Sets node `i`'s upload rate, rescheduling the message in service so the
    /// bits already sent keep their time and the rest go at the new rate.
    fn set_upload(&mut self, sh: &Shared<F>, i: u32, bps: u64) {
        let now = self.now;
        let l = sh.local(i);
        self.catch_up(sh, i);
        let slot = &mut self.slots[l];
        if slot.live.is_none() || slot.up_bps == bps {
            slot.up_bps = bps;
            return;
        }
        if slot.head.is_some() {
            // Interleaved control still going out (the mark in the future,
            // `Engine::set_control_interleave`) keeps its times.
            slot.serve_head_until(now);
            let end = slot.head_mark + Time::transmit_bits(slot.head_left_bits as u128, bps);
            self.reschedule_head(l, end);
        }
        self.slots[l].up_bps = bps;
        self.arm(sh, i);
        self.collector.capacity(PeerId(i), now, bps);
    }

    fn modulate(&mut self, sh: &Shared<F>, i: u32) {
        let Some(m) = &sh.modulation else { return };
        let s = &mut self.slots[sh.local(i)];
        if s.live.is_none() {
            return;
        }
        if m.levels.len() > 1 {
            s.level_draws += 1;
            let u = rngs::unit(sh.seed, Stream::Bandwidth, i as u64, s.level_draws as u64);
            let next = (u * (m.levels.len() - 1) as f64) as usize % (m.levels.len() - 1);
            s.level = if next >= s.level as usize { next + 1 } else { next } as u8;
        }
        let (class, level, nominal) = (s.class, s.level, s.nominal_up_bps);
        let bps = (nominal as f64 * sh.factor(i, class, level)).round() as u64;
        self.set_upload(sh, i, bps);
        self.schedule_modulation(sh, i);
    }

    fn schedule_modulation(&mut self, sh: &Shared<F>, i: u32) {
        let Some(m) = &sh.modulation else { return };
        let s = &mut self.slots[sh.local(i)];
        s.level_draws += 1;
        let u = rngs::unit(sh.seed, Stream::Bandwidth, i as u64, s.level_draws as u64);
        let hold = Time::from_secs_f64(-m.mean_hold.as_secs_f64() * libm::log(1.0 - u));
        let at = self.now + hold.max(Time(1));
        self.push(sh, at, Ev::Modulate(i));
    }

    fn join(&mut self, sh: &Shared<F>, i: u32) {
        debug_assert_eq!(sh.local(i), self.slots.len(), "nodes join in id order");
        let s = &sh.specs[i as usize];
        let id = PeerId(i);
        // A peer's initial Markov level is drawn uniformly.
        let level = match (&sh.modulation, s.role) {
            (Some(m), NodeRole::Peer) => {
                let u = rngs::unit(sh.seed, Stream::Bandwidth, i as u64, 0);
                ((u * m.levels.len() as f64) as usize).min(m.levels.len() - 1) as u8
            }
            _ => 0,
        };
        let up_bps = match s.role {
            NodeRole::Peer => (s.up_bps as f64 * sh.factor(i, s.class, level)).round() as u64,
            _ => s.up_bps,
        };
        // Protocols learn their nominal capacity (what a peer would advertise;
        // free-riders and capacity liars advertise something else).
        let up_kbps = s.behaviour.advertised_kbps((s.up_bps / 1000).min(u32::MAX as u64) as u32);
        let guard = |p| Node::Member(Guarded::new(p, s.behaviour, sh.defences.clone()));
        let node = match s.role {
            NodeRole::Tracker => {
                let mut t = protocols::tracker::Tracker::new(Default::default());
                if sh.any_nat {
                    t = t.with_restricted(sh.specs.iter().map(|s| s.nat).collect());
                }
                if let Some((isp, locality)) = &sh.isp {
                    t = t.with_isp(isp.clone(), *locality);
                }
                Node::Tracker(t)
            }
            NodeRole::Source => guard(sh.proto.source(id, up_kbps)),
            NodeRole::Peer => guard(sh.proto.peer(id, up_kbps)),
            NodeRole::Edge => guard(sh.proto.edge(id, up_kbps)),
        };
        let rng = rngs::node_rng(sh.seed, sh.draw, i as u64);
        self.slots.push(Slot {
            live: Some(Box::new(Live { node, rng })),
            up_bps,
            head: None,
            ctrlq: VecDeque::new(),
            mediaq: VecDeque::new(),
            head_start: Time::ZERO,
            head_end: Time::ZERO,
            head_seq: 0,
            flush_at: Time::MAX,
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
            NodeRole::Peer => (s.down_bps as f64 * sh.down_factor(i, s.class)).round() as u64,
            _ => s.down_bps,
        };
        self.hot.push(Hot { down_bps, down_free: Time::ZERO, head_gen: 0, alive: true });
        self.collector.join(id, s.role, s.class, up_bps, self.now);
        if s.role == NodeRole::Peer && sh.modulation.as_ref().is_some_and(|m| m.levels.len() > 1) {
            self.schedule_modulation(sh, i);
        }
        if let Some((at, graceful)) = s.leave {
            self.push(sh, at.max(self.now), Ev::Leave(i, graceful));
        }
        self.call(sh, i, |n, cx| n.on_start(cx));
    }

    fn leave(&mut self, sh: &Shared<F>, i: u32, graceful: bool) {
        let l = sh.local(i);
        let slot = &mut self.slots[l];
        if slot.live.is_none() {
            return;
        }
        self.catch_up(sh, i);
        let slot = &mut self.slots[l];
        // Keep the message being serialized; discard the rest of the queue.
        let dropped = slot.ctrlq.drain(..).map(|tx| tx.bytes).chain(slot.mediaq.drain(..).map(ChunkTx::bytes));
        for bytes in dropped {
            slot.queued_bytes -= bytes;
            self.traffic.discarded += bytes;
        }
        self.call(sh, i, |n, cx| n.on_command(Command::Leave { graceful }, cx));
        self.slots[l].live = None;
        self.hot[l].alive = false;
        self.collector.leave(PeerId(i), self.now);
    }

    /// Calls the node's protocol with a context, then applies its outbox.
    fn call(&mut self, sh: &Shared<F>, i: u32, f: impl FnOnce(&mut Node<Guarded<F::Peer>>, &mut Ctx<'_, Timer<F>>)) {
        let now = self.now;
        let l = sh.local(i);
        if self.slots[l].live.is_none() {
            return;
        }
        self.catch_up(sh, i);
        let slot = &mut self.slots[l];
        let Some(live) = slot.live.as_deref_mut() else {
            return;
        };
        let Live { node, rng } = live;
        let backlog = match &slot.head {
            None => Time::ZERO,
            Some(head) => (slot.head_end - now) + Time::transmit(slot.queued_bytes - head.bytes, slot.up_bps),
        };
        let mut out = std::mem::take(&mut self.out);
        {
            let mut cx = Ctx::new(now, PeerId(i), rng, backlog, &mut out);
            f(node, &mut cx);
        }
        for r in out.records.drain(..) {
            self.collector.record(PeerId(i), now, &r);
        }
        for (at, t) in out.timers.drain(..) {
            self.push(sh, at.max(now), Ev::Timer(i, t));
        }
        for (to, msg) in out.sends.drain(..) {
            self.enqueue(sh, i, to.0, msg);
        }
        self.out = out;
    }

    fn enqueue(&mut self, sh: &Shared<F>, from: u32, to: u32, msg: Msg) {
        let (datagrams, bytes) = wire_bytes(msg.encoded_len());
        self.traffic.sent += bytes;
        let slot = &mut self.slots[sh.local(from)];
        let media = msg.is_media();
        // A chunk whose end is due now (its completion ordered after this
        // event) has no datagram left to go between: control queues.
        if sh.control_interleave
            && !media
            && slot.head_end > self.now
            && slot.head.as_ref().is_some_and(|h| h.msg.is_media())
        {
            self.interleave(sh, from, to, msg, bytes, datagrams);
            return;
        }
        slot.queued_bytes += bytes;
        if slot.head.is_none() {
            slot.head = Some(Tx { to, msg, bytes, datagrams });
            let now = self.now;
            self.start_head(sh, from, now);
            self.arm(sh, from);
        } else if let Msg::Chunk { seq, len, polluted } = msg {
            slot.mediaq.push_back(ChunkTx { to, seq, len, polluted });
        } else {
            slot.ctrlq.push_back(Tx { to, msg, bytes, datagrams });
        }
    }

    /// [`Engine::set_control_interleave`]: control message `msg` from
    /// `from` goes out now, or when the control messages interleaved before
    /// it are out, between two datagrams of the media message in service,
    /// whose rest is pushed back by its serialization time. Its upload is
    /// counted now; loss is drawn as for any message.
    fn interleave(&mut self, sh: &Shared<F>, from: u32, to: u32, msg: Msg, bytes: u64, datagrams: u32) {
        let now = self.now;
        let l = sh.local(from);
        let slot = &mut self.slots[l];
        slot.serve_head_until(now);
        let start = slot.head_mark;
        let end = start + Time::transmit(bytes, slot.up_bps);
        slot.head_mark = end;
        slot.tx_count += 1;
        let n = slot.tx_count;
        let head_end = end + Time::transmit_bits(slot.head_left_bits as u128, slot.up_bps);
        self.reschedule_head(l, head_end);
        self.collector.sent(PeerId(from), now, bytes, false);
        self.post(sh, from, Tx { to, msg, bytes, datagrams }, n, (start, end), now);
        self.arm(sh, from);
    }

    /// Message `tx`, the `n`-th of node `from`'s link, used the link over
    /// `up` (start, end): it is lost if its destination is no node at `at`
    /// (a hostile member list can name ids no node has, or has yet) or by
    /// the loss draw; otherwise it leaves as mail for the receiver's part.
    fn post(&mut self, sh: &Shared<F>, from: u32, tx: Tx, n: u64, up: (Time, Time), at: Time) {
        let to = tx.to as usize;
        let known = to < self.joined_floor || (to < self.joined(sh) && sh.specs[to].join <= at);
        if !known {
            self.traffic.lost += tx.bytes;
            return;
        }
        let lost = sh.loss > 0.0 && {
            let p_msg = match sh.loss_by_datagrams.get(tx.datagrams as usize) {
                Some(&p) => p,
                None => message_loss(sh.loss, tx.datagrams),
            };
            rngs::unit(sh.seed, Stream::Loss, from as u64, n) < p_msg
        };
        if lost {
            self.traffic.lost += tx.bytes;
        }
        let mail = Mail {
            up_end: up.1,
            up_start: up.0,
            prop: sh.propagation(from, tx.to),
            bytes: tx.bytes,
            from,
            to: tx.to,
            msg: (!lost).then_some(tx.msg),
        };
        if sh.window == Time::ZERO {
            self.arrive(sh, mail);
        } else {
            self.outgoing[sh.part_of(tx.to)].push(mail);
        }
    }

    /// Starts serializing the head of node `i`'s upload link at `now`
    /// (the caller arms the link's flush).
    fn start_head(&mut self, sh: &Shared<F>, i: u32, now: Time) {
        let seq = self.seq;
        let slot = &mut self.slots[sh.local(i)];
        let Some(head) = &slot.head else { return };
        slot.head_seq = seq;
        slot.head_start = now;
        slot.head_mark = now;
        slot.head_left_bits = head.bytes * 8;
        slot.head_end = now + Time::transmit(head.bytes, slot.up_bps);
    }

    /// The message in service on node `i`'s upload link ends at `now`
    /// (at most the part's clock): it leaves as mail, the next one starts.
    fn complete(&mut self, sh: &Shared<F>, i: u32, now: Time) {
        let l = sh.local(i);
        let slot = &mut self.slots[l];
        let Some(tx) = slot.head.take() else {
            return;
        };
        slot.queued_bytes -= tx.bytes;
        let up_start = slot.head_start;
        // Upload is counted once serialized: queued or discarded bytes never used the link.
        self.collector.sent(PeerId(i), now, tx.bytes, tx.msg.is_media());
        if let Msg::Chunk { polluted: true, .. } = tx.msg {
            self.collector.sent_polluted(PeerId(i), tx.bytes);
        }
        slot.tx_count += 1;
        let n = slot.tx_count;
        // A made-up destination (a hostile member list can name ids no node
        // has, or has yet) is lost in the core: the sender's link was used all the same.
        self.post(sh, i, tx, n, (up_start, now), now);
        let slot = &mut self.slots[l];
        slot.head = match slot.ctrlq.pop_front() {
            Some(tx) => {
                // The control queue drained behind a busy link (media
                // waiting): give back a burst's memory now, as an idle link
                // does below, since a link that is never idle would keep it.
                if slot.ctrlq.is_empty() {
                    give_back(&mut slot.ctrlq, CTRL_QUEUE_KEEP);
                }
                Some(tx)
            }
            None => slot.mediaq.pop_front().map(ChunkTx::tx),
        };
        if slot.head.is_none() {
            // The link went idle: give back a backlog's memory (a queue
            // keeps its largest size otherwise, for the rest of the run and
            // after the node left). Small queues keep theirs, so that a
            // busy link does not reallocate each time it drains.
            let keep = if slot.live.is_none() { 0 } else { IDLE_QUEUE_KEEP };
            give_back(&mut slot.ctrlq, keep);
            give_back(&mut slot.mediaq, keep);
        }
        self.start_head(sh, i, now);
    }

    /// `msg` of `bytes` on the wire reaches node `to`.
    fn deliver(&mut self, sh: &Shared<F>, from: u32, to: u32, msg: Msg, bytes: u64) {
        if sh.severed(from, to) {
            self.traffic.lost += bytes;
            return;
        }
        if sh.any_nat
            && sh.specs.get(from as usize).is_some_and(|s| s.nat)
            && sh.specs.get(to as usize).is_some_and(|s| s.nat)
        {
            // Neither NAT lets the other's packets in: lost at the receiver's NAT.
            self.traffic.lost += bytes;
            self.collector.nat_blocked += 1;
            return;
        }
        let alive = self.hot.get(sh.local(to)).is_some_and(|h| h.alive);
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
        let lists =
            matches!(&msg, Msg::PeerList { .. } | Msg::Gossip { .. } | Msg::JoinAck { .. } | Msg::Heartbeat { .. });
        if lists {
            let n = self.joined(sh);
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
        }
        self.call(sh, to, |n, cx| n.on_message(PeerId(from), msg, cx));
    }
}

/// An empty upload queue with a capacity above `keep` messages gives all
/// of it back.
fn give_back<T>(q: &mut VecDeque<T>, keep: usize) {
    if q.capacity() > keep {
        *q = VecDeque::new();
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
