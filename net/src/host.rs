//! [`Host`]: drives one [`Node`] (tracker, source or peer of any protocol) over a
//! real UDP socket in real time.
//!
//! A single-threaded event loop owns the protocol state, a timer heap, the
//! access link ([`crate::link`]), reassembly ([`crate::frame`]) and the chunk
//! store ([`crate::media`]). A helper thread only reads the socket and hands
//! datagrams over a bounded channel, whose `recv_timeout` (a futex wait with a
//! high-resolution timeout, unlike `SO_RCVTIMEO`, which rounds to scheduler
//! ticks) lets the loop sleep exactly until its next timer or pacer event.
//!
//! The host contains no protocol logic: it calls `on_start`, `on_message`,
//! `on_timer` and `on_command`, and carries out the outbox. What it adds is
//! transport: addresses, fragmentation, pacing and impairment, payload bytes
//! and their BLAKE3 verification, and counted drops for everything it rejects.

use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use protocols::peer::{Command, Ctx, Outbox, Peer, Record, StreamParams};
use protocols::wire::{MAX_DATAGRAM, Msg};
use protocols::{Node, PeerId, Seq, Time};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::addrs::AddrBook;
use crate::clock::Clock;
use crate::frame::{self, Outcome, Reassembler};
use crate::link::{DelayLine, Downlink, Tx, Uplink};
use crate::media::{self, ChunkStore, HostMsg, MAX_HASHES, Media, MediaSource, Stored};

/// What the node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Tracker,
    Source,
    Peer,
    /// A CDN edge server (`cdn-p2p`): a member that receives the source's
    /// chunks and serves peers, verified and stored as a peer's.
    Edge,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Tracker => "tracker",
            Role::Source => "source",
            Role::Peer => "peer",
            Role::Edge => "edge",
        }
    }
}

/// Everything a host needs besides its protocol node and socket.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub role: Role,
    /// The tracker's address (the node's own for the tracker).
    pub tracker: SocketAddrV4,
    /// The source's address: where receivers fetch chunk hashes.
    pub source: Option<SocketAddrV4>,
    pub stream: StreamParams,
    /// Access-link rates (bits per second).
    pub up_bps: u64,
    pub down_bps: u64,
    /// One-way delay added to every datagram this node sends.
    pub delay: Time,
    /// Probability that a datagram this node sends is lost.
    pub loss: f64,
    /// Seeds the protocol's RNG and the loss draws.
    pub seed: u64,
    /// Protocol time at which the node starts, and at which the run ends.
    pub join_at: Time,
    pub stop_at: Time,
    /// The source's media.
    pub media: MediaSource,
    /// Only datagrams from this IPv4 prefix are accepted (None: any).
    pub allow: Option<(Ipv4Addr, u8)>,
    /// Addresses whose datagrams are always dropped.
    pub deny: Vec<SocketAddrV4>,
    /// Upload queue bound (bytes); default: 10 s of upload.
    pub max_upload_queue: u64,
    /// The kernel shapes this node's link (`tc tbf` rates, nftables loss:
    /// `swarmlab validate --netns`): the user-space pacers and loss are off,
    /// and the one-way delay moves to the receiver, which holds what it reads
    /// for the sender's delay (after the kernel's queues, as the simulator
    /// delays after serialization); `up_bps` still bounds the queue and
    /// gives the protocol its upload backlog (a shadow of the kernel queue).
    pub kernel_shaping: bool,
    /// The swarm's address plan (`swarmlab validate`): node `i` of the
    /// scenario's population is at `base + i + 1`, so this host knows which
    /// simulated node an address is (per-pair delays, partitions).
    pub nodes: Option<NodePlan>,
    /// One-way delay to each node of the plan (per-pair latency models);
    /// `delay` for addresses outside the plan or beyond the table.
    pub pair_delay: Vec<Time>,
    /// Scenario dynamics replayed at their protocol times (sorted by time).
    pub events: Vec<(Time, LinkEvent)>,
    /// The node is wrapped in `protocols::adversary::Guarded`, which applies
    /// the implausibility checks (and the blacklist defence) itself.
    pub guarded: bool,
    /// Bytes of signature after each chunk's payload (`[defence] integrity`:
    /// the simulator charges `protocols::adversary::SIGNATURE_BYTES`).
    pub signature_bytes: u32,
    /// A receiver verifies each chunk against the generated media itself
    /// (recomputed from `media`'s seed) instead of against a hash fetched
    /// from the source: no hash requests, no hash pushes, no chunk held
    /// while its hash is on the way. This is what the simulator models (the
    /// integrity defence is a signature carried in the chunk and checked on
    /// arrival; there is no hash channel), so `swarmlab validate` sets it;
    /// the hash channel is the real deployment's, and costs what the
    /// simulator does not charge (results/validate/README.md, "The
    /// mesh-pull deficit on loopback"). Only with [`MediaSource::Generated`];
    /// ignored otherwise, and by the source.
    pub local_verify: bool,
    /// Diagnostics: the records also get every protocol message but chunks
    /// sent and received (`msg_out` / `msg_in`, peer id, the message with
    /// `;` for `,`) and the protocol's neighbour changes (`neighbour_added`
    /// / `neighbour_removed`, peer id). `swarmlab peer` sets it when the
    /// environment has `SWARMLAB_TRACE=1` (`swarmlab validate` passes its
    /// environment on to every process).
    pub trace: bool,
}

/// Where the nodes of a swarm live: node `i` (of `count`) at IPv4 `base + i + 1`, `port`.
///
/// A host with a plan enters every node's address in its address book in
/// node order first, so its peer ids are the simulator's node ids (0 the
/// tracker, 1 the source, then the peers), its own included: protocols that
/// use their own id (SplitStream's home stripe is `me % stripes`) then spread
/// over the nodes as in the simulator. Without a plan every peer is id 2 in
/// its own book (tracker, source, then itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodePlan {
    pub base: Ipv4Addr,
    pub port: u16,
    pub count: u32,
}

impl NodePlan {
    /// The address of node `i`.
    pub fn addr(&self, i: u32) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(u32::from(self.base).wrapping_add(i).wrapping_add(1)), self.port)
    }
    /// The node at `a`, if it is in the plan (the first 65534 addresses after `base`).
    pub fn index(&self, a: SocketAddrV4) -> Option<u32> {
        if a.port() != self.port {
            return None;
        }
        let k = u32::from(*a.ip()).checked_sub(u32::from(self.base))?;
        (1..=self.count.min(0xfffe)).contains(&k).then(|| k - 1)
    }
}

/// A change of the link that the scenario schedules.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkEvent {
    /// Upload and download become these rates (bits per second).
    Rate { up_bps: u64, down_bps: u64 },
    /// Which nodes of the plan this node cannot hear from (outage,
    /// partition; indexed by node, missing entries reachable). Datagrams
    /// from them are dropped on arrival, as the simulator drops messages
    /// crossing a severed pair when they arrive.
    Sever(Vec<bool>),
}

impl HostConfig {
    /// A configuration with the defaults for everything but the essentials.
    pub fn new(role: Role, tracker: SocketAddrV4, stream: StreamParams, up_bps: u64) -> HostConfig {
        HostConfig {
            role,
            tracker,
            source: None,
            stream,
            up_bps,
            down_bps: 100_000_000,
            delay: Time::ZERO,
            loss: 0.0,
            seed: 1,
            join_at: Time::ZERO,
            stop_at: Time::MAX,
            media: MediaSource::Generated { seed: 1 },
            allow: None,
            deny: Vec::new(),
            max_upload_queue: (up_bps * 10 / 8).max(1 << 20),
            kernel_shaping: false,
            nodes: None,
            pair_delay: Vec::new(),
            events: Vec::new(),
            guarded: false,
            signature_bytes: 0,
            local_verify: false,
            trace: false,
        }
    }
}

/// Counters of a host: traffic and every kind of dropped input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// Wire bytes (payload + IP/UDP header) received, by class.
    pub down_media: u64,
    pub down_control: u64,
    pub drop_non_ipv4: u64,
    pub drop_denied: u64,
    pub drop_blacklisted: u64,
    pub drop_unknown: u64,
    pub drop_oversized: u64,
    pub drop_truncated: u64,
    pub drop_bad_fragment: u64,
    pub drop_duplicate_fragment: u64,
    pub drop_evicted: u64,
    pub drop_expired: u64,
    pub drop_decode: u64,
    pub drop_host_msg: u64,
    /// Well-formed messages the protocol dropped for implausible values.
    pub drop_protocol: u64,
    pub drop_rx_queue: u64,
    pub drop_down_queue: u64,
    pub drop_unverified: u64,
    pub drop_after_leave: u64,
    /// Datagrams from a node this one is cut off from (outage, partition).
    pub drop_severed: u64,
    pub send_no_addr: u64,
    pub send_no_payload: u64,
    pub chunks_verified: u64,
    pub chunks_polluted: u64,
    pub blacklistings: u64,
    pub hash_requests: u64,
    /// Protocol timers fired, and how late (the event loop's scheduling
    /// delay: CPU contention shows here): total and largest lateness in
    /// microseconds, and how many were more than 10 ms late.
    pub timers_fired: u64,
    pub timer_late_us: u64,
    pub timer_late_max_us: u64,
    pub timers_late_10ms: u64,
}

impl Stats {
    /// Every counter as (name, value), for the records file.
    pub fn rows(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("datagrams_in", self.datagrams_in),
            ("datagrams_out", self.datagrams_out),
            ("drop_non_ipv4", self.drop_non_ipv4),
            ("drop_denied", self.drop_denied),
            ("drop_blacklisted", self.drop_blacklisted),
            ("drop_unknown", self.drop_unknown),
            ("drop_oversized", self.drop_oversized),
            ("drop_truncated", self.drop_truncated),
            ("drop_bad_fragment", self.drop_bad_fragment),
            ("drop_duplicate_fragment", self.drop_duplicate_fragment),
            ("drop_evicted", self.drop_evicted),
            ("drop_expired", self.drop_expired),
            ("drop_decode", self.drop_decode),
            ("drop_host_msg", self.drop_host_msg),
            ("drop_protocol", self.drop_protocol),
            ("drop_rx_queue", self.drop_rx_queue),
            ("drop_down_queue", self.drop_down_queue),
            ("drop_unverified", self.drop_unverified),
            ("drop_after_leave", self.drop_after_leave),
            ("drop_severed", self.drop_severed),
            ("send_no_addr", self.send_no_addr),
            ("send_no_payload", self.send_no_payload),
            ("chunks_verified", self.chunks_verified),
            ("chunks_polluted", self.chunks_polluted),
            ("blacklistings", self.blacklistings),
            ("hash_requests", self.hash_requests),
            ("timers_fired", self.timers_fired),
            ("timer_late_us", self.timer_late_us),
            ("timer_late_max_us", self.timer_late_max_us),
            ("timers_late_10ms", self.timers_late_10ms),
        ]
    }
    /// Datagrams rejected for being malformed (the junk an attacker sends).
    pub fn malformed(&self) -> u64 {
        self.drop_oversized + self.drop_truncated + self.drop_bad_fragment + self.drop_decode + self.drop_host_msg
    }
}

/// Malformed datagrams from one address within [`STRIKE_WINDOW`] before it is
/// blacklisted for [`BLACKLIST_FOR`].
pub const STRIKES: u32 = 64;
pub const STRIKE_WINDOW: Time = Time::from_secs(10);
pub const BLACKLIST_FOR: Time = Time::from_secs(30);
/// Most addresses blacklisted at once.
pub const MAX_BLACKLIST: usize = 4096;
/// Source: most subscribers to hash pushes, and how long a subscription lasts
/// after the receiver's last request; receivers renew every `RESUBSCRIBE`.
const MAX_SUBSCRIBERS: usize = 1024;
const SUBSCRIPTION: Time = Time::from_secs(30);
const RESUBSCRIBE: Time = Time::from_secs(10);
/// TOS byte of control datagrams under kernel shaping (`swarmlab validate
/// --netns` classifies on it).
pub const CONTROL_TOS: u8 = 0x10;
/// How much before its join time a node starts (see [`Host::run`]).
const START_EARLY: Duration = Duration::from_millis(5);
/// Chunks held while their hash is fetched, and how long at most.
const MAX_UNVERIFIED: usize = 256;
/// Kernel shaping: most payload bytes waiting out their one-way delay at the
/// receiver (as the kernel-mode download queue's bound); beyond it a
/// datagram is dropped and counted (`drop_down_queue`).
const MAX_INBOUND_BYTES: u64 = 64 << 20;
const VERIFY_TIMEOUT: Time = Time::from_secs(5);
/// Chunk payloads kept (the protocols' `SeqRing` remembers 512 chunks).
const STORE_CHUNKS: usize = 512;

struct TimerEntry<T> {
    at: Time,
    seq: u64,
    timer: T,
}
impl<T> PartialEq for TimerEntry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<T> Eq for TimerEntry<T> {}
impl<T> PartialOrd for TimerEntry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for TimerEntry<T> {
    /// Reversed: the max-heap pops the earliest (time, insertion) first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// Where a host writes its records (CSV) and the stream it plays.
#[derive(Default)]
pub struct Sinks {
    pub records: Option<Box<dyn Write + Send>>,
    pub output: Option<Box<dyn Write + Send>>,
    /// Keep every record in memory (tests).
    pub keep: bool,
}

/// One real node.
pub struct Host<P: Peer> {
    cfg: HostConfig,
    node: Node<P>,
    me: PeerId,
    my_addr: SocketAddrV4,
    socket: UdpSocket,
    book: AddrBook,
    rng: ChaCha8Rng,
    timers: BinaryHeap<TimerEntry<P::Timer>>,
    timer_seq: u64,
    out: Outbox<P::Timer>,
    up: Uplink,
    down: Downlink,
    /// Kernel shaping: datagrams read from the socket, waiting out the
    /// sender's one-way delay (the sender hands them to the kernel as soon
    /// as it sends them).
    inbound: DelayLine,
    reasm: Reassembler,
    store: ChunkStore,
    media: Option<Media>,
    unverified: VecDeque<(PeerId, Seq, Vec<u8>, Time)>,
    hash_req: Option<(Seq, Time)>,
    /// Source: receivers that asked for hashes recently (pushed each new hash), and
    /// the newest chunk whose hash was pushed.
    subscribers: BTreeMap<SocketAddrV4, Time>,
    pushed: Option<Seq>,
    /// Receiver: when it last (re)subscribed.
    subscribed_at: Option<Time>,
    msg_no: u32,
    strikes: BTreeMap<SocketAddrV4, (u32, Time)>,
    blacklist: BTreeMap<SocketAddrV4, Time>,
    started: bool,
    left: bool,
    sinks: Sinks,
    /// Records kept in memory when `Sinks::keep`.
    pub kept: Vec<(Time, Record)>,
    pub stats: Stats,
    last_flush: Time,
    /// Index of the next `cfg.events` entry to apply, and the current cut-off set.
    next_link_event: usize,
    severed: Vec<bool>,
    /// Kernel shaping: the TOS byte the socket sends with now.
    tos: Option<u8>,
}

fn v4(a: SocketAddr) -> Option<SocketAddrV4> {
    match a {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped().map(|ip| SocketAddrV4::new(ip, a.port())),
    }
}

fn in_prefix(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len.min(32) as u32) };
    u32::from(ip) & mask == u32::from(net) & mask
}

impl<P: Peer> Host<P> {
    /// A host for `node` on `socket` (bound to a specific IPv4 address).
    pub fn new(cfg: HostConfig, node: Node<P>, socket: UdpSocket, sinks: Sinks) -> std::io::Result<Host<P>> {
        let my_addr = match socket.local_addr()? {
            SocketAddr::V4(a) if !a.ip().is_unspecified() => a,
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("bind to a specific IPv4 address, not {other}"),
                ));
            }
        };
        let mut book = AddrBook::new(1 << 16);
        book.trust(cfg.tracker);
        if let Some(s) = cfg.source {
            book.trust(s);
        }
        if let Some(plan) = cfg.nodes {
            for i in 0..plan.count.min(0xfffe) {
                book.intern(plan.addr(i));
            }
        }
        let me = book.intern(my_addr).unwrap_or(PeerId(0));
        let media = match cfg.role {
            Role::Source => Some(Media::new(cfg.media.clone(), cfg.stream.chunk_bytes() as usize)?),
            _ => None,
        };
        let mut up = Uplink::new(
            cfg.up_bps,
            cfg.delay,
            if cfg.kernel_shaping { 0.0 } else { cfg.loss },
            ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x1055),
            cfg.max_upload_queue,
        );
        up.kernel = cfg.kernel_shaping;
        let down = if cfg.kernel_shaping {
            // The kernel's download qdisc paces; this one releases at once.
            kernel_socket(&socket)?;
            Downlink::new(u64::MAX / 2, 64 << 20)
        } else {
            Downlink::new(cfg.down_bps, (cfg.down_bps / 8).max(4 << 20))
        };
        let mut reasm = Reassembler::default();
        reasm.timeout = reasm.timeout.max(cfg.stream.chunk_duration + cfg.stream.chunk_duration);
        Ok(Host {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg,
            node,
            me,
            my_addr,
            socket,
            book,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            out: Outbox::default(),
            up,
            down,
            inbound: DelayLine::default(),
            reasm,
            store: ChunkStore::new(STORE_CHUNKS),
            media,
            unverified: VecDeque::new(),
            hash_req: None,
            subscribers: BTreeMap::new(),
            pushed: None,
            subscribed_at: None,
            msg_no: 0,
            strikes: BTreeMap::new(),
            blacklist: BTreeMap::new(),
            started: false,
            left: false,
            sinks,
            kept: Vec::new(),
            stats: Stats::default(),
            last_flush: Time::ZERO,
            next_link_event: 0,
            severed: Vec::new(),
            tos: None,
        })
    }

    pub fn addr(&self) -> SocketAddrV4 {
        self.my_addr
    }
    /// The address book (ids of the addresses this host knows; `net::addrs`).
    pub fn book(&self) -> &AddrBook {
        &self.book
    }
    pub fn node(&self) -> &Node<P> {
        &self.node
    }

    fn log(&mut self, line: std::fmt::Arguments<'_>) {
        if let Some(w) = self.sinks.records.as_mut() {
            let _ = w.write_fmt(line);
        }
    }

    /// Calls the protocol, then carries out its outbox.
    fn call(&mut self, now: Time, f: impl FnOnce(&mut Node<P>, &mut Ctx<'_, P::Timer>)) {
        if self.left {
            return;
        }
        let backlog = self.up.backlog(now);
        let mut out = std::mem::take(&mut self.out);
        {
            let mut cx = Ctx::new(now, self.me, &mut self.rng, backlog, &mut out);
            f(&mut self.node, &mut cx);
        }
        for r in out.records.drain(..) {
            self.on_record(now, r);
        }
        for (at, timer) in out.timers.drain(..) {
            self.timer_seq += 1;
            self.timers.push(TimerEntry { at: at.max(now), seq: self.timer_seq, timer });
        }
        let sends: Vec<(PeerId, Msg)> = out.sends.drain(..).collect();
        self.out = out;
        for (to, msg) in sends {
            self.trace(now, "msg_out", to, &msg);
            self.send(to, msg, now);
        }
    }

    fn on_record(&mut self, now: Time, r: Record) {
        let t = now.as_nanos();
        match r {
            Record::PlayStart { first } => self.log(format_args!("{t},play_start,{first},,,\n")),
            Record::Played { seq, polluted } => {
                self.log(format_args!("{t},played,{seq},{},,\n", polluted as u8));
                if let Some(w) = self.sinks.output.as_mut() {
                    match self.store.get(seq) {
                        Some(s) => {
                            let _ = w.write_all(&s.bytes);
                        }
                        None => self.stats.send_no_payload += 1,
                    }
                }
            }
            Record::Missed { seq } => self.log(format_args!("{t},missed,{seq},,,\n")),
            Record::Stall { seq } => self.log(format_args!("{t},stall,{seq},,,\n")),
            Record::Resume { seq } => self.log(format_args!("{t},resume,{seq},,,\n")),
            Record::ChunkArrived { seq, duplicate, late, .. } => {
                self.log(format_args!("{t},arrived,{seq},{},{},\n", duplicate as u8, late as u8))
            }
            Record::Rejected { seq, from } => self.log(format_args!("{t},rejected,{seq},,,{}\n", from.0)),
            Record::Dropped { from, reason } => {
                self.stats.drop_protocol += 1;
                self.log(format_args!("{t},dropped,,,,{} {}\n", from.0, reason.name()))
            }
            Record::NeighbourAdded { peer } if self.cfg.trace => {
                self.log(format_args!("{t},neighbour_added,{},,,\n", peer.0))
            }
            Record::NeighbourRemoved { peer } if self.cfg.trace => {
                self.log(format_args!("{t},neighbour_removed,{},,,\n", peer.0))
            }
            Record::NeighbourAdded { .. } | Record::NeighbourRemoved { .. } => {}
        }
        if self.sinks.keep {
            self.kept.push((now, r));
        }
    }

    /// The payload of chunk `seq` as this node holds it (the source makes it).
    fn payload(&mut self, seq: Seq) -> Option<&Stored> {
        if self.store.get(seq).is_none()
            && let Some(m) = self.media.as_mut()
        {
            let bytes = m.chunk(seq);
            self.store.set_hash(seq, media::hash(&bytes));
            self.store.insert(seq, Stored { bytes, polluted: false });
        }
        self.store.get(seq)
    }

    fn send(&mut self, to: PeerId, msg: Msg, now: Time) {
        let Some(addr) = self.book.addr(to) else {
            self.stats.send_no_addr += 1;
            return;
        };
        let mut buf = Vec::with_capacity(msg.encoded_len());
        msg.encode(&self.book, &mut buf);
        if let Msg::Chunk { seq, len, polluted } = msg {
            let sig = self.cfg.signature_bytes as usize;
            match self.payload(seq) {
                Some(s) if s.bytes.len() + sig == len as usize => {
                    let start = buf.len();
                    let clean = !s.polluted;
                    buf.extend_from_slice(&s.bytes);
                    // A polluter's copy (its `Guarded` marks the chunk): corrupted bytes.
                    if polluted && clean {
                        for b in buf[start..].iter_mut().take(64) {
                            *b ^= 0xa5;
                        }
                    }
                    // The signature's bytes (verification is by the source's hashes).
                    buf.resize(buf.len() + sig, 0x5a);
                }
                _ => {
                    self.stats.send_no_payload += 1;
                    return;
                }
            }
        }
        self.transmit(addr, &buf, msg.is_media(), now);
    }

    fn transmit(&mut self, to: SocketAddrV4, msg: &[u8], media: bool, now: Time) {
        let mut ds = Vec::new();
        frame::fragment(self.msg_no, msg, &mut ds);
        self.msg_no = self.msg_no.wrapping_add(1);
        let bytes = ds.iter().map(|d| (d.len() + protocols::wire::IP_UDP_HEADER) as u64).sum();
        let delay = self.delay_to(to);
        self.up.push(Tx { to, datagrams: ds.into(), media, bytes, delay }, now);
    }

    /// The one-way delay to `to`: its entry in the per-pair table, if any.
    fn delay_to(&self, to: SocketAddrV4) -> Option<Time> {
        let i = self.cfg.nodes?.index(to)?;
        self.cfg.pair_delay.get(i as usize).copied()
    }

    /// Whether datagrams from `from` are cut off now (outage, partition).
    fn is_severed(&self, from: SocketAddrV4) -> bool {
        !self.severed.is_empty()
            && self.cfg.nodes.and_then(|p| p.index(from)).is_some_and(|i| self.severed.get(i as usize) == Some(&true))
    }

    /// Applies the scenario's link changes due by `now`.
    fn link_events(&mut self, now: Time) {
        while let Some((at, e)) = self.cfg.events.get(self.next_link_event) {
            if *at > now {
                break;
            }
            match e {
                LinkEvent::Rate { up_bps, down_bps } => {
                    let (up, down) = (*up_bps, *down_bps);
                    self.up.advance(now);
                    self.up.set_rate(up, now);
                    if !self.cfg.kernel_shaping {
                        self.down.set_rate(down);
                    }
                }
                LinkEvent::Sever(v) => self.severed = v.clone(),
            }
            self.next_link_event += 1;
        }
    }

    fn host_send(&mut self, to: SocketAddrV4, m: &HostMsg, now: Time) {
        let mut buf = Vec::new();
        m.encode(&mut buf);
        self.transmit(to, &buf, false, now);
    }

    /// Counts one malformed datagram against `from`; blacklists repeat offenders.
    fn strike(&mut self, from: SocketAddrV4, now: Time) {
        if self.strikes.len() > 4096 {
            self.strikes.clear();
        }
        let e = self.strikes.entry(from).or_insert((0, now));
        if now.saturating_sub(e.1) > STRIKE_WINDOW {
            *e = (0, now);
        }
        e.0 += 1;
        if e.0 >= STRIKES && Some(from) != self.cfg.source && from != self.cfg.tracker {
            // Bounded: forget expired entries first, and the whole list if still full.
            if self.blacklist.len() >= MAX_BLACKLIST {
                self.blacklist.retain(|_, until| *until > now);
                if self.blacklist.len() >= MAX_BLACKLIST {
                    self.blacklist.clear();
                }
            }
            self.blacklist.insert(from, now + BLACKLIST_FOR);
            self.strikes.remove(&from);
            self.stats.blacklistings += 1;
        }
    }

    /// A datagram as read from the socket at `now`: address checks, size
    /// checks, then the download pacer. Never panics; every rejection is counted.
    pub fn on_datagram(&mut self, from: SocketAddr, d: Vec<u8>, now: Time) {
        self.stats.datagrams_in += 1;
        let Some(from) = v4(from) else {
            self.stats.drop_non_ipv4 += 1;
            return;
        };
        if self.cfg.kernel_shaping {
            // The sender's one-way delay, after the kernel's queues; the
            // checks below run when it is over, as for a datagram that
            // arrives after its delay without kernel shaping.
            let delay = self.delay_to(from).unwrap_or(self.cfg.delay);
            if delay > Time::ZERO {
                if self.inbound.bytes() + d.len() as u64 > MAX_INBOUND_BYTES {
                    self.stats.drop_down_queue += 1;
                } else {
                    self.inbound.hold(now + delay, from, d, false);
                }
                return;
            }
        }
        self.admit(from, d, now);
    }

    /// A datagram whose one-way delay is over: address checks, size checks,
    /// then the download pacer.
    fn admit(&mut self, from: SocketAddrV4, d: Vec<u8>, now: Time) {
        if self.cfg.deny.contains(&from) || self.cfg.allow.is_some_and(|p| !in_prefix(*from.ip(), p)) {
            self.stats.drop_denied += 1;
            return;
        }
        if self.is_severed(from) {
            self.stats.drop_severed += 1;
            return;
        }
        if let Some(&until) = self.blacklist.get(&from) {
            if now < until {
                self.stats.drop_blacklisted += 1;
                return;
            }
            self.blacklist.remove(&from);
        }
        if d.len() > MAX_DATAGRAM {
            self.stats.drop_oversized += 1;
            self.strike(from, now);
            return;
        }
        if self.left {
            self.stats.drop_after_leave += 1;
            return;
        }
        if !self.down.push(from, d, now) {
            self.stats.drop_down_queue += 1;
        }
    }

    /// A datagram released by the download pacer: reassembly, then dispatch.
    fn on_released(&mut self, from: SocketAddrV4, d: Vec<u8>, now: Time) {
        let mut evicted = 0;
        let outcome = self.reasm.push(from, &d, now, &mut evicted);
        self.stats.drop_evicted += evicted;
        match outcome {
            Outcome::Stored => {}
            Outcome::Dropped(why) => {
                match why {
                    frame::Drop::Truncated => self.stats.drop_truncated += 1,
                    frame::Drop::Oversized => self.stats.drop_oversized += 1,
                    frame::Drop::BadFragment => self.stats.drop_bad_fragment += 1,
                    frame::Drop::DuplicateFragment => self.stats.drop_duplicate_fragment += 1,
                    frame::Drop::Evicted => self.stats.drop_evicted += 1,
                    frame::Drop::Expired => self.stats.drop_expired += 1,
                }
                if why != frame::Drop::DuplicateFragment {
                    self.strike(from, now);
                }
            }
            Outcome::Message(m) => self.on_message_bytes(from, m, now),
        }
    }

    fn on_message_bytes(&mut self, from: SocketAddrV4, m: Vec<u8>, now: Time) {
        let wire = protocols::wire::wire_bytes(m.len()).1;
        if matches!(m.first(), Some(&media::TAG_HASH_REQ | &media::TAG_HASH_LIST)) {
            self.stats.down_control += wire;
            match HostMsg::decode(&m) {
                Some(h) => self.on_host_msg(from, h, now),
                None => {
                    self.stats.drop_host_msg += 1;
                    self.strike(from, now);
                }
            }
            return;
        }
        // Addresses in the message are credited to its sender (net::addrs).
        self.book.set_reporter(Some(from));
        let decoded = Msg::decode(&m, &mut self.book);
        self.book.set_reporter(None);
        let msg = match decoded {
            Ok(msg) => msg,
            Err(protocols::wire::DecodeError::UnknownPeer) => {
                self.stats.drop_unknown += 1;
                return;
            }
            Err(_) => {
                self.stats.drop_decode += 1;
                self.strike(from, now);
                return;
            }
        };
        let Some(id) = self.book.intern(from) else {
            self.stats.drop_unknown += 1;
            return;
        };
        if msg.is_media() {
            self.stats.down_media += wire;
        } else {
            self.stats.down_control += wire;
        }
        if let Msg::Chunk { seq, .. } = msg {
            // The decoder checked the payload is exactly `len` bytes after the
            // 9-byte header; the signature bytes (if any) end it.
            let end = m.len().saturating_sub(self.cfg.signature_bytes as usize).max(9);
            let payload = m[9..end].to_vec();
            self.on_chunk(id, seq, payload, now);
            return;
        }
        // Checks every family shares (a stripe no protocol has), as the
        // simulator's `Guarded` (which applies them itself when it wraps the node).
        if !self.cfg.guarded
            && let Some(reason) = protocols::adversary::implausible(&msg)
        {
            self.on_record(now, Record::Dropped { from: id, reason });
            return;
        }
        self.trace(now, "msg_in", id, &msg);
        self.call(now, |n, cx| n.on_message(id, msg, cx));
    }

    /// Logs a protocol message but a chunk ([`HostConfig::trace`]).
    fn trace(&mut self, now: Time, what: &str, peer: PeerId, msg: &Msg) {
        if self.cfg.trace && !matches!(msg, Msg::Chunk { .. }) {
            let m = format!("{msg:?}").replace(',', ";");
            self.log(format_args!("{},{what},{},{m},,\n", now.as_nanos(), peer.0));
        }
    }

    /// The media seed a receiver verifies chunks against ([`HostConfig::local_verify`]).
    fn local_seed(&self) -> Option<u64> {
        match self.cfg.media {
            MediaSource::Generated { seed } if self.cfg.local_verify && self.cfg.role != Role::Source => Some(seed),
            _ => None,
        }
    }

    /// A chunk payload arrived: verify against the source's hash (fetching it
    /// if needed; or against the generated media, [`HostConfig::local_verify`]),
    /// store it, hand the chunk to the protocol.
    fn on_chunk(&mut self, from: PeerId, seq: Seq, payload: Vec<u8>, now: Time) {
        if self.cfg.role == Role::Source {
            // The source holds its own stream; a copy sent back is checked against it.
            let polluted = self.payload(seq).is_some_and(|s| s.bytes != payload);
            self.deliver_chunk(from, seq, payload, polluted, now);
            return;
        }
        if let Some(seed) = self.local_seed() {
            let polluted = payload != media::generated_chunk(seed, seq, self.cfg.stream.chunk_bytes() as usize);
            self.deliver_chunk(from, seq, payload, polluted, now);
            return;
        }
        match self.store.hash(seq).copied() {
            Some(h) => {
                let polluted = media::hash(&payload) != h;
                self.deliver_chunk(from, seq, payload, polluted, now);
                if let Some(next) = seq.checked_add(1)
                    && self.store.hash(next).is_none()
                {
                    self.request_hashes(next, now);
                }
            }
            None => {
                if self.unverified.len() >= MAX_UNVERIFIED {
                    self.unverified.pop_front();
                    self.stats.drop_unverified += 1;
                }
                self.unverified.push_back((from, seq, payload, now));
                let first = self.unverified.iter().map(|u| u.1).min().unwrap_or(seq);
                self.request_hashes(first, now);
            }
        }
    }

    fn deliver_chunk(&mut self, from: PeerId, seq: Seq, payload: Vec<u8>, polluted: bool, now: Time) {
        if polluted {
            self.stats.chunks_polluted += 1;
        } else {
            self.stats.chunks_verified += 1;
        }
        let len = (payload.len() + self.cfg.signature_bytes as usize) as u32;
        // Keep the first clean copy; a polluted one only if nothing better is held.
        let keep = match self.store.get(seq) {
            None => true,
            Some(s) => s.polluted && !polluted,
        };
        if keep && self.media.is_none() {
            self.store.insert(seq, Stored { bytes: payload, polluted });
        }
        self.call(now, |n, cx| n.on_message(from, Msg::Chunk { seq, len, polluted }, cx));
    }

    /// Asks the source for hashes from `first` on, unless a request is in flight.
    fn request_hashes(&mut self, first: Seq, now: Time) {
        let Some(source) = self.cfg.source else { return };
        if self.local_seed().is_some() {
            return;
        }
        let retry = self.cfg.delay + self.cfg.delay + Time::from_millis(100);
        if let Some((f, at)) = self.hash_req
            && now.saturating_sub(at) < retry
            && f <= first
        {
            return;
        }
        self.hash_req = Some((first, now));
        self.subscribed_at = Some(now);
        self.stats.hash_requests += 1;
        self.host_send(source, &HostMsg::HashReq { first, count: MAX_HASHES as u16 }, now);
    }

    fn on_host_msg(&mut self, from: SocketAddrV4, h: HostMsg, now: Time) {
        match h {
            HostMsg::HashReq { first, count } => {
                if self.cfg.role != Role::Source {
                    self.stats.drop_host_msg += 1;
                    return;
                }
                // The requester is subscribed to pushes of new hashes for a while.
                if self.subscribers.len() < MAX_SUBSCRIBERS || self.subscribers.contains_key(&from) {
                    self.subscribers.insert(from, now);
                }
                // Only chunks already emitted have hashes.
                let newest = self.cfg.stream.newest_at(now);
                let end = first.saturating_add(count.min(MAX_HASHES as u16) as u32).min(newest.saturating_add(1));
                let mut hashes = Vec::new();
                for seq in first..end.max(first) {
                    if self.payload(seq).is_some()
                        && let Some(h) = self.store.hash(seq)
                    {
                        hashes.push(*h);
                    }
                }
                self.host_send(from, &HostMsg::HashList { first, hashes }, now);
            }
            HostMsg::HashList { first, hashes } => {
                if Some(from) != self.cfg.source {
                    self.stats.drop_host_msg += 1;
                    return;
                }
                let n = hashes.len() as u32;
                for (k, h) in hashes.into_iter().enumerate() {
                    // Numbers past `Seq::MAX` or beyond the live point are no real chunk's.
                    match first.checked_add(k as u32) {
                        Some(seq) if protocols::media::Media::plausible(seq, &self.cfg.stream, now) => {
                            self.store.set_hash(seq, h)
                        }
                        _ => {
                            self.stats.drop_host_msg += 1;
                            break;
                        }
                    }
                }
                if self.hash_req.is_some_and(|(f, _)| f >= first) {
                    self.hash_req = None;
                }
                self.verify_pending(now);
                if n > 0 && !self.unverified.is_empty() {
                    let first = self.unverified.iter().map(|u| u.1).min().unwrap_or(first);
                    self.request_hashes(first, now);
                }
            }
        }
    }

    fn verify_pending(&mut self, now: Time) {
        let pending = std::mem::take(&mut self.unverified);
        for (from, seq, payload, at) in pending {
            if self.store.hash(seq).is_some() {
                self.on_chunk(from, seq, payload, now);
            } else if now.saturating_sub(at) > VERIFY_TIMEOUT {
                self.stats.drop_unverified += 1;
            } else {
                self.unverified.push_back((from, seq, payload, at));
            }
        }
    }

    /// Starts the node (logs its start and calls `on_start`).
    pub fn start(&mut self, now: Time) {
        self.started = true;
        let (role, up, addr) = (self.cfg.role.name(), self.cfg.up_bps, self.my_addr);
        self.log(format_args!("t_ns,event,a,b,c,d\n{},start,{role},{up},{addr},\n", now.as_nanos()));
        self.call(now, |n, cx| n.on_start(cx));
    }

    /// Leaves the swarm as the simulator's nodes do: the message in service
    /// still goes out, the rest of the upload queue is discarded, and a
    /// graceful leaver's goodbyes queue behind it (then the uplink drains).
    pub fn leave(&mut self, graceful: bool, now: Time) {
        self.up.advance(now);
        self.up.discard_queued();
        self.call(now, |n, cx| n.on_command(Command::Leave { graceful }, cx));
        self.left = true;
        self.log(format_args!("{},leave,{},,,\n", now.as_nanos(), graceful as u8));
    }

    /// Source: pushes the hashes of newly emitted chunks to the subscribers.
    fn push_hashes(&mut self, now: Time) {
        if now < self.cfg.join_at || self.left {
            return;
        }
        let newest = self.cfg.stream.newest_at(now);
        let first = self.pushed.map_or(newest, |p| p + 1);
        if first > newest {
            return;
        }
        self.pushed = Some(newest);
        self.subscribers.retain(|_, at| now.saturating_sub(*at) < SUBSCRIPTION);
        if self.subscribers.is_empty() {
            return;
        }
        let first = first.max(newest.saturating_sub(MAX_HASHES as u32 - 1));
        let mut hashes = Vec::new();
        for seq in first..=newest {
            if self.payload(seq).is_some()
                && let Some(h) = self.store.hash(seq)
            {
                hashes.push(*h);
            }
        }
        let m = HostMsg::HashList { first, hashes };
        let subs: Vec<SocketAddrV4> = self.subscribers.keys().copied().collect();
        for to in subs {
            self.host_send(to, &m, now);
        }
    }

    /// Does everything due at `now`: timers, pacing, released datagrams, housekeeping.
    pub fn tick(&mut self, now: Time) {
        self.link_events(now);
        if self.cfg.role == Role::Source {
            self.push_hashes(now);
        } else if matches!(self.cfg.role, Role::Peer | Role::Edge)
            && self.started
            && self.subscribed_at.is_none_or(|at| now.saturating_sub(at) >= RESUBSCRIBE)
        {
            // (Re)subscribe to the source's hash pushes, asking for what is missing.
            let next = self.store.newest_hash().map_or(self.cfg.stream.newest_at(now), |s| s + 1);
            self.request_hashes(next, now);
        }
        while self.timers.peek().is_some_and(|t| t.at <= now) {
            let Some(t) = self.timers.pop() else { break };
            if self.left {
                continue;
            }
            let late = now.saturating_sub(t.at).as_nanos() / 1000;
            self.stats.timers_fired += 1;
            self.stats.timer_late_us += late;
            self.stats.timer_late_max_us = self.stats.timer_late_max_us.max(late);
            self.stats.timers_late_10ms += (late > 10_000) as u64;
            let timer = t.timer;
            self.call(now, |n, cx| n.on_timer(timer, cx));
        }
        while let Some((from, d, _)) = self.inbound.pop_due(now) {
            self.admit(from, d, now);
        }
        while let Some((from, d)) = self.down.pop_due(now) {
            self.on_released(from, d, now);
        }
        self.up.advance(now);
        while let Some((to, d, media)) = self.up.pop_due(now) {
            if self.cfg.kernel_shaping {
                self.mark(media);
            }
            if self.socket.send_to(&d, to).is_ok() {
                self.stats.datagrams_out += 1;
            }
        }
        if now.saturating_sub(self.last_flush) >= Time::from_millis(500) {
            self.last_flush = now;
            self.stats.drop_expired += self.reasm.expire(now);
            if !self.unverified.is_empty() {
                self.verify_pending(now);
            }
            self.flush(now);
        }
    }

    /// Kernel shaping: control datagrams carry TOS [`CONTROL_TOS`] (the
    /// `prio` qdisc under the `tbf` sends them first), media TOS 0; the
    /// socket option changes only when the class does.
    fn mark(&mut self, media: bool) {
        let tos = if media { 0 } else { CONTROL_TOS };
        if self.tos != Some(tos) {
            #[cfg(target_os = "linux")]
            let _ = rustix::net::sockopt::set_ip_tos(&self.socket, tos);
            self.tos = Some(tos);
        }
    }

    /// Writes the byte counters and flushes the sinks.
    pub fn flush(&mut self, now: Time) {
        let (um, uc, dm, dc) =
            (self.up.sent_media, self.up.sent_control, self.stats.down_media, self.stats.down_control);
        self.log(format_args!("{},bytes,{um},{uc},{dm},{dc}\n", now.as_nanos()));
        if let Some(w) = self.sinks.records.as_mut() {
            let _ = w.flush();
        }
        if let Some(w) = self.sinks.output.as_mut() {
            let _ = w.flush();
        }
    }

    /// Logs the final counters.
    pub fn finish(&mut self, now: Time) {
        self.flush(now);
        let t = now.as_nanos();
        let rows = self.stats.rows();
        let (lost, overflow, down_overflow) = (self.up.lost_datagrams, self.up.overflow_msgs, self.down.overflow);
        let discarded = self.up.discarded;
        for (k, v) in rows {
            self.log(format_args!("{t},stat,{k},{v},,\n"));
        }
        self.log(format_args!("{t},stat,impairment_lost,{lost},,\n"));
        self.log(format_args!("{t},stat,upload_overflow,{overflow},,\n"));
        self.log(format_args!("{t},stat,down_overflow,{down_overflow},,\n"));
        self.log(format_args!("{t},stat,upload_discarded_bytes,{discarded},,\n"));
        self.log(format_args!("{t},end,,,,\n"));
        if let Some(w) = self.sinks.records.as_mut() {
            let _ = w.flush();
        }
        if let Some(w) = self.sinks.output.as_mut() {
            let _ = w.flush();
        }
    }

    /// Next instant at which [`Host::tick`] has work.
    pub fn next_event(&self) -> Option<Time> {
        [
            self.timers.peek().map(|t| t.at),
            self.up.next_event(),
            self.down.next_event(),
            self.inbound.next_at(),
            self.cfg.events.get(self.next_link_event).map(|e| e.0),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the node until `stop_at`, or until `term` is set (then it leaves
    /// gracefully and drains its uplink for at most a second).
    pub fn run(&mut self, clock: &Clock, term: &AtomicBool) -> std::io::Result<()> {
        // Before the join time: wait (a SIGTERM now just exits). The node starts
        // up to START_EARLY before `join_at`: the clock reads zero before the
        // epoch, so a source joining at the epoch usually starts at time zero
        // exactly and emits chunk 0 on time, as in the simulator. One
        // scheduled late all the same (the sleep overran) emits chunk 0 as
        // soon as it starts (`Media::start_source`; it used to skip it, and
        // every peer starting at chunk 0 waited for its startup timeout).
        while let Some(wait) = clock.until(self.cfg.join_at) {
            if term.load(Ordering::Relaxed) {
                return Ok(());
            }
            if wait <= START_EARLY {
                break;
            }
            std::thread::sleep((wait - START_EARLY).min(Duration::from_millis(50)));
        }
        let (tx, rx) = sync_channel(4096);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = spawn_reader(self.socket.try_clone()?, tx, stop.clone());
        let result = self.event_loop(clock, term, &rx);
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        let _ = reader.join();
        result
    }

    fn event_loop(&mut self, clock: &Clock, term: &AtomicBool, rx: &Receiver<Rx>) -> std::io::Result<()> {
        self.start(clock.now());
        let mut leave_deadline = None;
        loop {
            let now = clock.now();
            if now >= self.cfg.stop_at {
                self.finish(now);
                return Ok(());
            }
            if term.load(Ordering::Relaxed) && !self.left {
                self.leave(true, now);
                leave_deadline = Some(now + Time::from_secs(1));
            }
            if let Some(d) = leave_deadline
                && (self.up.idle() || now >= d)
            {
                self.finish(now);
                return Ok(());
            }
            self.tick(now);
            let now = clock.now();
            let next = self.next_event().unwrap_or(Time::MAX).min(self.cfg.stop_at).min(now + Time::from_millis(50));
            let wait = Duration::from_nanos((next - now).as_nanos());
            match rx.recv_timeout(wait) {
                Ok(Rx::Datagram(from, d)) => {
                    self.on_datagram(from, d, clock.now());
                    // Drain what else is waiting, without blocking.
                    for _ in 0..256 {
                        match rx.try_recv() {
                            Ok(Rx::Datagram(from, d)) => self.on_datagram(from, d, clock.now()),
                            Ok(Rx::Overflow(n)) => self.stats.drop_rx_queue += n,
                            Err(_) => break,
                        }
                    }
                }
                Ok(Rx::Overflow(n)) => self.stats.drop_rx_queue += n,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(std::io::Error::other("socket reader stopped"));
                }
            }
        }
    }
}

/// What the socket reader hands to the event loop.
pub enum Rx {
    Datagram(SocketAddr, Vec<u8>),
    /// Datagrams dropped because the channel was full.
    Overflow(u64),
}

/// Kernel shaping: datagrams wait in the `tbf` qdisc, charged to the socket's
/// send buffer, so the buffer is raised to hold the whole shaped queue (SO_SNDBUFFORCE,
/// root; else SO_SNDBUF up to `net.core.wmem_max`), and a send never blocks the
/// event loop for more than 20 ms (a datagram that cannot be queued is dropped).
fn kernel_socket(socket: &UdpSocket) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        const BUF: usize = 32 << 20;
        if rustix::net::sockopt::set_socket_send_buffer_size_force(socket, BUF).is_err() {
            let _ = rustix::net::sockopt::set_socket_send_buffer_size(socket, BUF);
        }
    }
    socket.set_write_timeout(Some(Duration::from_millis(20)))
}

fn spawn_reader(socket: UdpSocket, tx: SyncSender<Rx>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
        // Larger than MAX_DATAGRAM so oversized datagrams are seen (and dropped) as such.
        let mut buf = vec![0u8; 2048];
        let mut overflow = 0u64;
        while !stop.load(Ordering::Relaxed) {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => match tx.try_send(Rx::Datagram(from, buf[..n].to_vec())) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => overflow += 1,
                    Err(TrySendError::Disconnected(_)) => return,
                },
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => {}
            }
            if overflow > 0 && tx.try_send(Rx::Overflow(overflow)).is_ok() {
                overflow = 0;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket on 127.0.0.1 and the config of node 0 of a five-node plan
    /// on 127.0.0.x at the socket's port.
    fn node_0_of_five() -> (UdpSocket, NodePlan, HostConfig) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(me) = socket.local_addr().unwrap() else { panic!() };
        let plan = NodePlan { base: Ipv4Addr::new(127, 0, 0, 0), port: me.port(), count: 5 };
        let mut cfg = HostConfig::new(
            Role::Peer,
            plan.addr(0),
            StreamParams { rate_bps: 64_000, chunk_duration: Time::from_millis(200) },
            1_000_000,
        );
        cfg.nodes = Some(plan);
        (socket, plan, cfg)
    }

    fn tracker() -> Node<protocols::mesh::MeshPeer> {
        Node::Tracker(protocols::tracker::Tracker::new(Default::default()))
    }

    #[test]
    fn the_address_plan_maps_nodes_to_addresses_and_back() {
        let plan = NodePlan { base: Ipv4Addr::new(127, 120, 0, 0), port: 4242, count: 1001 };
        assert_eq!(plan.addr(0), "127.120.0.1:4242".parse().unwrap());
        assert_eq!(plan.addr(300), "127.120.1.45:4242".parse().unwrap());
        for i in [0, 1, 255, 256, 1000] {
            assert_eq!(plan.index(plan.addr(i)), Some(i));
        }
        assert_eq!(plan.index("127.120.0.1:4243".parse().unwrap()), None);
        assert_eq!(plan.index("127.120.0.0:4242".parse().unwrap()), None);
        assert_eq!(plan.index("127.119.255.255:4242".parse().unwrap()), None);
        assert_eq!(plan.index(plan.addr(1001)), None, "beyond the plan");
        // A planned host's ids are the node numbers, its own included.
        let (socket, plan, mut cfg) = node_0_of_five();
        cfg.source = Some(plan.addr(1));
        let h = Host::new(cfg, tracker(), socket, Sinks::default()).unwrap();
        assert_eq!(h.me, PeerId(0), "127.0.0.1 is node 0 of this plan");
        for i in 0..5 {
            assert_eq!(h.book().lookup(plan.addr(i)), Some(PeerId(i)));
        }
    }

    #[test]
    fn kernel_shaping_delays_what_arrives_by_the_senders_one_way_delay() {
        let (socket, plan, mut cfg) = node_0_of_five();
        cfg.kernel_shaping = true;
        let ms = Time::from_millis;
        cfg.pair_delay = vec![ms(0), ms(0), ms(40), ms(10), ms(0)];
        let mut h = Host::new(cfg, tracker(), socket, Sinks::default()).unwrap();
        // Too short to be a frame: the checks after the delay count it.
        let seen = |h: &Host<protocols::mesh::MeshPeer>| h.stats.drop_truncated;
        h.on_datagram(SocketAddr::V4(plan.addr(2)), vec![1, 2, 3], Time::ZERO);
        h.on_datagram(SocketAddr::V4(plan.addr(3)), vec![1, 2, 3], Time::ZERO);
        assert_eq!(h.stats.datagrams_in, 2, "counted when read");
        assert_eq!(h.next_event(), Some(ms(10)));
        // What the delay releases passes the kernel-mode download pacer a
        // nanosecond later: a second tick.
        let us = Time::from_micros;
        let at = |h: &mut Host<protocols::mesh::MeshPeer>, t: u64| {
            h.tick(us(t));
            h.tick(us(t + 1));
        };
        at(&mut h, 9_990);
        assert_eq!(seen(&h), 0, "node 3 is 10 ms away");
        at(&mut h, 10_000);
        assert_eq!(seen(&h), 1);
        at(&mut h, 39_990);
        assert_eq!(seen(&h), 1, "node 2 is 40 ms away");
        at(&mut h, 40_000);
        assert_eq!(seen(&h), 2);
    }
}
