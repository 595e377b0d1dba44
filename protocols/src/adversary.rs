//! Malicious behaviours and defences as a layer around any protocol.
//!
//! [`Guarded`] wraps a protocol node `P` and rewrites what crosses its edge:
//! the messages it sends (an attacker's behaviour) and the messages it accepts
//! (an honest node's defences). Protocol code stays honest and unaware, so
//! every attack and every defence composes with every protocol: mesh-pull,
//! tree-push, hybrid and the client-server baseline. A driver (simulator or
//! UDP host) wraps every member node; an honest node without defences passes
//! everything through untouched.
//!
//! Behaviours ([`Behaviour`]), after the attacks surveyed in
//! Dhungel, Hei, Ross, Saxena, "The pollution attack in P2P live video
//! streaming: measurement results and defenses", P2P-TV 2007 (pollution, on-off
//! pollution), Li, Wu, Cui, IEEE TMM 2009 (buffer-map lying), and the
//! free-rider / Sybil literature (Douceur, "The Sybil Attack", IPTPS 2002; the
//! list with what each contributes is docs/references.md):
//!
//! | behaviour | what the node does |
//! |---|---|
//! | `Polluter` | every chunk it uploads is corrupted; on-off: only during `on` of each `on + off` period |
//! | `FreeRider` | advertises zero upload capacity and an empty buffer map, uploads no chunk |
//! | `MapLiar` | advertises every chunk of the window ending at the stream's newest chunk; serves what it really has |
//! | `Withholder` | advertises honestly and accepts requests and children, but uploads no chunk |
//! | `Sybil` | one of many identities aimed at `victim`: asks the victim for a partnership every `check_interval`, lies in buffer maps, uploads no chunk |
//! | `CapacityLiar` | advertises `factor` x its real upload (to be placed high in a tree); otherwise honest |
//! | `Forger` | otherwise honest, but every `check_interval` sends each of the last [`FORGER_TARGETS`] nodes it talked to a batch of well-formed hostile messages ([`forged`]): a chunk numbered [`FORGED_AHEAD`] past the live point, a full buffer map of the window starting that far ahead, gossip of [`FORGED_IDS`] made-up member ids, and a `Join` and a `Heartbeat` (with made-up path) for stripe [`FORGED_STRIPE`] |
//!
//! Defences ([`Defences`]), each switchable:
//!
//! | defence | effect |
//! |---|---|
//! | `integrity` | the source signs every chunk (PPSPP's sign-all, an ECDSA P-256 signature of [`SIGNATURE_BYTES`] carried with each chunk and charged on every hop); every receiver (attackers too: it is the client software) drops chunks that fail verification (`Record::Rejected`) |
//! | `blacklist` | a peer that sent a chunk failing verification, or a message its receiver's protocol dropped as implausible (`Record::Dropped`, issue 14), is ejected for the rest of the run: the protocol is told it left (a `Bye` and a `Detach` per stripe), and nothing to or from it passes again |
//! | `scoring` | every `check_interval`, a neighbour that was asked for at least `score_min_requests` chunks (not counting those it refused as busy) and delivered fewer than `score_min_ratio` of them is ejected for `ban` |
//!
//! Whatever the defences, every node drops (and records as
//! `DropReason::BadStripe`) a tree message for a stripe no protocol has
//! (`stripe >= tree::MAX_STRIPES`); a stripe below that but beyond the
//! protocol's own count is ignored by the protocol (`lanetree`) without a
//! record. The UDP host, which does not wrap its node in `Guarded`, applies
//! the same check ([`implausible`]) before its protocol sees a message.
//! Made-up member ids cannot be told from real ones by a node: the
//! simulator loses what is sent to them in the core (the sender's upload is
//! spent) and the UDP host bounds its address book (`net::addrs`).
//!
//! The fourth defence of the issue, request timeouts and re-requests, is a
//! protocol parameter (`MeshParams::request_timeout`); the simulator switches
//! it off by making the timeout longer than the run.
//!
//! Parameters and defaults ([`Defences::none`]):
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `check_interval` | 10 s | period of the scoring check and of Sybil partnership requests |
//! | `score_min_requests` | 8 | chunks asked of a neighbour in one period before it is judged |
//! | `score_min_ratio` | 0.25 | a judged neighbour delivering less than this share of what it was asked is ejected |
//! | `ban` | 120 s | how long a scoring ejection lasts (integrity blacklisting is permanent) |

use std::sync::Arc;

use crate::chunkmap::ChunkMap;
use crate::ids::PeerId;
use crate::peer::DropReason;
use crate::peer::{Command, Ctx, Peer, Record, StreamParams};
use crate::time::Time;
use crate::tree::MAX_STRIPES;
use crate::wire::Msg;

/// How many recent contacts a [`Behaviour::Forger`] sends its batch to.
pub const FORGER_TARGETS: usize = 16;
/// How far past the live point a forger's chunk and buffer map are numbered.
pub const FORGED_AHEAD: u32 = 1_000_000;
/// Made-up member ids in a forger's gossip.
pub const FORGED_IDS: u32 = 8;
/// The stripe of a forger's tree messages (no protocol has it).
pub const FORGED_STRIPE: u8 = 200;
/// First made-up id a forger gossips (no run has this many nodes).
const FORGED_ID_BASE: u32 = 3_000_000_000;

/// Bytes of the per-chunk source signature when integrity is on (ECDSA P-256, as PPSPP's sign-all).
pub const SIGNATURE_BYTES: u32 = 64;

/// What a node does with the protocol it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    #[default]
    Honest,
    /// Corrupts the chunks it uploads; `off == ZERO` means always, otherwise
    /// only during the first `on` of every `on + off` period (from time zero).
    Polluter {
        on: Time,
        off: Time,
    },
    FreeRider,
    MapLiar,
    Withholder,
    /// A Sybil identity attacking `victim`'s partner set.
    Sybil {
        victim: PeerId,
    },
    /// Advertises `factor` x its real upload capacity.
    CapacityLiar {
        factor: u32,
    },
    /// Honest, plus a batch of well-formed hostile messages every
    /// `check_interval` to its recent contacts ([`forged`]).
    Forger,
}

impl Behaviour {
    /// Every behaviour's name, in [`Behaviour::index`] order.
    pub const NAMES: [&'static str; 8] =
        ["honest", "polluter", "free-rider", "map-liar", "withholder", "sybil", "capacity-liar", "forger"];

    /// Dense index (0 = honest), for per-behaviour counters.
    pub fn index(self) -> u8 {
        match self {
            Behaviour::Honest => 0,
            Behaviour::Polluter { .. } => 1,
            Behaviour::FreeRider => 2,
            Behaviour::MapLiar => 3,
            Behaviour::Withholder => 4,
            Behaviour::Sybil { .. } => 5,
            Behaviour::CapacityLiar { .. } => 6,
            Behaviour::Forger => 7,
        }
    }
    pub fn name(self) -> &'static str {
        Self::NAMES[self.index() as usize]
    }
    pub fn is_honest(self) -> bool {
        self == Behaviour::Honest
    }
    /// The upload capacity the node's protocol believes and advertises.
    pub fn advertised_kbps(self, real_kbps: u32) -> u32 {
        match self {
            Behaviour::FreeRider => 0,
            Behaviour::CapacityLiar { factor } => real_kbps.saturating_mul(factor),
            _ => real_kbps,
        }
    }
    /// True when it uploads no chunk at all.
    fn withholds(self) -> bool {
        matches!(self, Behaviour::FreeRider | Behaviour::Withholder | Behaviour::Sybil { .. })
    }
    fn pollutes_at(self, now: Time) -> bool {
        match self {
            Behaviour::Polluter { off, .. } if off == Time::ZERO => true,
            Behaviour::Polluter { on, off } => now.0 % (on.0 + off.0).max(1) < on.0,
            _ => false,
        }
    }
}

/// A forger's batch for one target at `now`: well-formed messages with
/// values no honest node sends (issue 14).
pub fn forged(me: PeerId, now: Time, stream: StreamParams, window: u16) -> Vec<Msg> {
    let ahead = stream.newest_at(now).saturating_add(FORGED_AHEAD);
    let w = window.clamp(1, ChunkMap::CAPACITY);
    let mut map = ChunkMap::new(ahead, w);
    for s in ahead..ahead.saturating_add(w as u32) {
        map.insert(s);
    }
    let fake = |i: u32| PeerId(FORGED_ID_BASE.wrapping_add(me.0.wrapping_mul(FORGED_IDS)).wrapping_add(i));
    vec![
        Msg::Chunk { seq: ahead, len: stream.chunk_bytes(), polluted: false },
        Msg::BufferMap(map),
        Msg::Gossip { peers: (0..FORGED_IDS).map(fake).collect() },
        Msg::Join { stripe: FORGED_STRIPE, up_kbps: u32::MAX / 2 },
        Msg::Heartbeat { stripe: FORGED_STRIPE, path: vec![fake(0), fake(1)] },
    ]
}

/// Why `msg` is dropped whatever the protocol, if it is: a tree message for
/// a stripe no protocol has. [`Guarded`] and the UDP host both apply it.
pub fn implausible(msg: &Msg) -> Option<DropReason> {
    match msg {
        Msg::Join { stripe, .. }
        | Msg::JoinAck { stripe, .. }
        | Msg::Detach { stripe }
        | Msg::Heartbeat { stripe, .. }
            if *stripe as u32 >= MAX_STRIPES =>
        {
            Some(DropReason::BadStripe)
        }
        _ => None,
    }
}

/// Defences every node of a run applies (attackers included: the chunk format is swarm-wide).
#[derive(Clone, Debug, PartialEq)]
pub struct Defences {
    pub integrity: bool,
    pub blacklist: bool,
    pub scoring: bool,
    pub check_interval: Time,
    pub score_min_requests: u32,
    pub score_min_ratio: f64,
    pub ban: Time,
    /// Stripes (trees, lanes) of the protocol: an ejection detaches each.
    pub stripes: u8,
    pub stream: StreamParams,
    /// Buffer-map window of the protocol (what a liar claims).
    pub window: u16,
}

impl Defences {
    /// No defence on, default parameters.
    pub fn none(stream: StreamParams) -> Defences {
        Defences {
            integrity: false,
            blacklist: false,
            scoring: false,
            check_interval: Time::from_secs(10),
            score_min_requests: 8,
            score_min_ratio: 0.25,
            ban: Time::from_secs(120),
            stripes: 1,
            stream,
            window: 120,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Score {
    peer: PeerId,
    asked: u32,
    got: u32,
}

/// A protocol node with a behaviour and the swarm's defences; see the module doc.
#[repr(C)]
pub struct Guarded<P> {
    behaviour: Behaviour,
    def: Arc<Defences>,
    pub inner: P,
    /// Ejected peers and until when (`Time::MAX`: for good).
    banned: Vec<(PeerId, Time)>,
    scores: Vec<Score>,
    next_check: Time,
    /// A forger's most recent contacts (at most [`FORGER_TARGETS`]).
    contacts: Vec<PeerId>,
}

impl<P: Peer> Guarded<P> {
    pub fn new(inner: P, behaviour: Behaviour, def: Arc<Defences>) -> Guarded<P> {
        Guarded {
            inner,
            behaviour,
            def,
            banned: Vec::new(),
            scores: Vec::new(),
            next_check: Time::ZERO,
            contacts: Vec::new(),
        }
    }
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }
    /// True when `peer` is ejected at `now`.
    pub fn is_banned(&self, peer: PeerId, now: Time) -> bool {
        self.banned.iter().any(|&(p, until)| p == peer && now < until)
    }
    /// Nothing to rewrite: an honest node with no defence on.
    fn transparent(&self) -> bool {
        self.behaviour.is_honest()
            && !self.def.integrity
            && !self.def.blacklist
            && !self.def.scoring
            && self.banned.is_empty()
    }

    /// Ejects `peer` until `until`: the protocol hears that it left every relation.
    fn eject(&mut self, peer: PeerId, until: Time, cx: &mut Ctx<'_, P::Timer>) {
        if self.is_banned(peer, cx.now) {
            return;
        }
        self.banned.retain(|&(p, u)| p != peer && u > cx.now);
        self.banned.push((peer, until));
        self.scores.retain(|s| s.peer != peer);
        self.inner.on_message(peer, Msg::Bye, cx);
        for stripe in 0..self.def.stripes {
            self.inner.on_message(peer, Msg::Detach { stripe }, cx);
        }
    }

    fn score(&mut self, peer: PeerId) -> &mut Score {
        match self.scores.iter().position(|s| s.peer == peer) {
            Some(i) => &mut self.scores[i],
            None => {
                self.scores.push(Score { peer, asked: 0, got: 0 });
                self.scores.last_mut().expect("just pushed")
            }
        }
    }

    /// Rewrites the messages the protocol queued since `start`.
    fn outgoing(&mut self, start: usize, cx: &mut Ctx<'_, P::Timer>) {
        let now = cx.now;
        let b = self.behaviour;
        let (integrity, scoring, window, stream) =
            (self.def.integrity, self.def.scoring, self.def.window, self.def.stream);
        let mut sends = std::mem::take(cx.sends_mut());
        let mut keep = start;
        for k in start..sends.len() {
            let to = sends[k].0;
            if self.is_banned(to, now) {
                continue;
            }
            if b == Behaviour::Forger && !self.contacts.contains(&to) {
                if self.contacts.len() == FORGER_TARGETS {
                    self.contacts.remove(0);
                }
                self.contacts.push(to);
            }
            let msg = &mut sends[k].1;
            match msg {
                Msg::Chunk { len, polluted, .. } => {
                    if b.withholds() {
                        continue;
                    }
                    if b.pollutes_at(now) {
                        *polluted = true;
                    }
                    if integrity {
                        *len = len.saturating_add(SIGNATURE_BYTES);
                    }
                }
                Msg::BufferMap(map) => match b {
                    Behaviour::FreeRider => *map = ChunkMap::new(map.base(), map.len()),
                    Behaviour::MapLiar | Behaviour::Sybil { .. } => {
                        let w = window.min(ChunkMap::CAPACITY);
                        let newest = stream.newest_at(now);
                        let base = (newest + 1).saturating_sub(w as u32);
                        let mut full = ChunkMap::new(base, w);
                        for s in base..=newest {
                            full.insert(s);
                        }
                        *map = full;
                    }
                    _ => {}
                },
                Msg::Request(req) if scoring => {
                    let n = req.count();
                    self.score(to).asked += n;
                }
                _ => {}
            }
            sends.swap(keep, k);
            keep += 1;
        }
        sends.truncate(keep);
        *cx.sends_mut() = sends;
    }

    /// Periodic work (scoring, Sybil requests), run on any input once due.
    fn periodic(&mut self, cx: &mut Ctx<'_, P::Timer>) {
        if cx.now < self.next_check {
            return;
        }
        self.next_check = cx.now + self.def.check_interval;
        if let Behaviour::Sybil { victim } = self.behaviour
            && victim != cx.me
        {
            cx.send(victim, Msg::Hello { up_kbps: u32::MAX / 2 });
        }
        if self.behaviour == Behaviour::Forger {
            for &to in &self.contacts {
                for m in forged(cx.me, cx.now, self.def.stream, self.def.window) {
                    cx.send(to, m);
                }
            }
        }
        if self.def.scoring {
            let min = self.def.score_min_requests;
            let ratio = self.def.score_min_ratio;
            let bad: Vec<PeerId> = self
                .scores
                .iter()
                .filter(|s| s.asked >= min && (s.got as f64) < ratio * s.asked as f64)
                .map(|s| s.peer)
                .collect();
            let until = cx.now + self.def.ban;
            for p in bad {
                self.eject(p, until, cx);
            }
            self.scores.clear();
        }
    }
}

impl<P: Peer> Peer for Guarded<P> {
    type Timer = P::Timer;

    fn prefetch(&self) {
        self.inner.prefetch();
    }
    fn prefetch_from(&self, from: PeerId) {
        self.inner.prefetch_from(from);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, P::Timer>) {
        self.next_check = cx.now;
        let start = cx.sends_len();
        self.inner.on_start(cx);
        if self.transparent() {
            return;
        }
        self.periodic(cx);
        self.outgoing(start, cx);
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, P::Timer>) {
        if self.is_banned(from, cx.now) {
            return;
        }
        if let Some(reason) = implausible(&msg) {
            cx.record(Record::Dropped { from, reason });
            if self.def.blacklist {
                let start = cx.sends_len();
                self.eject(from, Time::MAX, cx);
                self.outgoing(start, cx);
            }
            return;
        }
        if self.transparent() {
            return self.inner.on_message(from, msg, cx);
        }
        let start = cx.sends_len();
        let records = cx.records_len();
        match msg {
            Msg::Chunk { seq, len, polluted } => {
                let len = if self.def.integrity { len.saturating_sub(SIGNATURE_BYTES) } else { len };
                // Every client verifies (attackers too: they run the same software).
                if polluted && self.def.integrity {
                    cx.record(Record::Rejected { seq, from });
                    if self.def.blacklist {
                        self.eject(from, Time::MAX, cx);
                    }
                } else {
                    if self.def.scoring {
                        self.score(from).got += 1;
                    }
                    self.inner.on_message(from, Msg::Chunk { seq, len, polluted }, cx);
                }
            }
            // Refusing for a full upload queue is honest: those chunks are not
            // held against the supplier's score. Refusing chunks it advertised
            // but does not hold is what a buffer-map liar does: they count.
            Msg::Refuse { chunks, busy } => {
                if self.def.scoring && busy {
                    let s = self.score(from);
                    s.asked = s.asked.saturating_sub(chunks.count());
                }
                self.inner.on_message(from, Msg::Refuse { chunks, busy }, cx);
            }
            // Ejected peers are never learned again from member lists or redirects.
            Msg::PeerList { mut peers } => {
                peers.retain(|&p| !self.is_banned(p, cx.now));
                self.inner.on_message(from, Msg::PeerList { peers }, cx);
            }
            Msg::Gossip { mut peers } => {
                peers.retain(|&p| !self.is_banned(p, cx.now));
                self.inner.on_message(from, Msg::Gossip { peers }, cx);
            }
            Msg::JoinAck { stripe, accept: false, mut path } => {
                path.retain(|&p| !self.is_banned(p, cx.now));
                self.inner.on_message(from, Msg::JoinAck { stripe, accept: false, path }, cx);
            }
            msg => self.inner.on_message(from, msg, cx),
        }
        // The protocol dropped what `from` sent as implausible: eject it.
        if self.def.blacklist
            && cx.records_since(records).iter().any(|r| matches!(r, Record::Dropped { from: f, .. } if *f == from))
        {
            self.eject(from, Time::MAX, cx);
        }
        self.periodic(cx);
        self.outgoing(start, cx);
    }

    fn on_timer(&mut self, timer: P::Timer, cx: &mut Ctx<'_, P::Timer>) {
        if self.transparent() {
            return self.inner.on_timer(timer, cx);
        }
        let start = cx.sends_len();
        self.inner.on_timer(timer, cx);
        self.periodic(cx);
        self.outgoing(start, cx);
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, P::Timer>) {
        let start = cx.sends_len();
        self.inner.on_command(cmd, cx);
        if !self.transparent() {
            self.outgoing(start, cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Outbox;
    use rand::SeedableRng;

    /// A protocol that replays a fixed list of sends on every input and logs what it hears.
    struct Echo {
        sends: Vec<(PeerId, Msg)>,
        heard: Vec<(PeerId, Msg)>,
    }
    impl Peer for Echo {
        type Timer = ();
        fn on_start(&mut self, _: &mut Ctx<'_, ()>) {}
        fn on_message(&mut self, from: PeerId, msg: Msg, _: &mut Ctx<'_, ()>) {
            self.heard.push((from, msg));
        }
        fn on_timer(&mut self, _: (), cx: &mut Ctx<'_, ()>) {
            for (to, m) in self.sends.clone() {
                cx.send(to, m);
            }
        }
        fn on_command(&mut self, _: Command, _: &mut Ctx<'_, ()>) {}
    }

    fn stream() -> StreamParams {
        StreamParams { rate_bps: 8_000, chunk_duration: Time::from_secs(1) }
    }

    fn guarded(b: Behaviour, def: Defences, sends: Vec<(PeerId, Msg)>) -> Guarded<Echo> {
        Guarded::new(Echo { sends, heard: Vec::new() }, b, Arc::new(def))
    }

    fn fire(g: &mut Guarded<Echo>, now: Time) -> Outbox<()> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(now, PeerId(9), &mut rng, Time::ZERO, &mut out);
        g.on_timer((), &mut cx);
        out
    }

    fn deliver(g: &mut Guarded<Echo>, now: Time, from: u32, msg: Msg) -> Outbox<()> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(now, PeerId(9), &mut rng, Time::ZERO, &mut out);
        g.on_message(PeerId(from), msg, &mut cx);
        out
    }

    fn chunk(seq: u32, polluted: bool) -> Msg {
        Msg::Chunk { seq, len: 1000, polluted }
    }

    #[test]
    fn withholders_free_riders_and_sybils_upload_no_chunk_but_still_talk() {
        let sends = vec![(PeerId(3), chunk(1, false)), (PeerId(3), Msg::Bye)];
        for b in [Behaviour::Withholder, Behaviour::FreeRider, Behaviour::Sybil { victim: PeerId(3) }] {
            let out = fire(&mut guarded(b, Defences::none(stream()), sends.clone()), Time::ZERO);
            assert!(out.sends.iter().all(|(_, m)| !m.is_media()), "{b:?}");
            assert!(out.sends.iter().any(|(_, m)| *m == Msg::Bye), "{b:?}");
        }
        let out = fire(&mut guarded(Behaviour::Honest, Defences::none(stream()), sends), Time::ZERO);
        assert_eq!(out.sends.len(), 2);
    }

    #[test]
    fn on_off_polluters_corrupt_only_during_their_on_phase() {
        let b = Behaviour::Polluter { on: Time::from_secs(5), off: Time::from_secs(15) };
        let mut g = guarded(b, Defences::none(stream()), vec![(PeerId(3), chunk(1, false))]);
        let polluted = |out: Outbox<()>| matches!(out.sends[0].1, Msg::Chunk { polluted: true, .. });
        assert!(polluted(fire(&mut g, Time::from_secs(2))));
        assert!(!polluted(fire(&mut g, Time::from_secs(7))));
        assert!(polluted(fire(&mut g, Time::from_secs(21))));
        let mut persistent = guarded(
            Behaviour::Polluter { on: Time::ZERO, off: Time::ZERO },
            Defences::none(stream()),
            vec![(PeerId(3), chunk(1, false))],
        );
        assert!(polluted(fire(&mut persistent, Time::from_secs(7))));
    }

    #[test]
    fn map_liars_claim_the_whole_window_and_free_riders_nothing() {
        let mut real = ChunkMap::new(0, 16);
        real.insert(3);
        let def = Defences { window: 16, ..Defences::none(stream()) };
        let out = fire(
            &mut guarded(Behaviour::MapLiar, def.clone(), vec![(PeerId(3), Msg::BufferMap(real))]),
            Time::from_secs(40),
        );
        let Msg::BufferMap(m) = out.sends[0].1 else { panic!() };
        assert_eq!((m.base(), m.count(), m.newest()), (25, 16, Some(40)));
        let out =
            fire(&mut guarded(Behaviour::FreeRider, def, vec![(PeerId(3), Msg::BufferMap(real))]), Time::from_secs(40));
        let Msg::BufferMap(m) = out.sends[0].1 else { panic!() };
        assert!(m.is_empty());
    }

    #[test]
    fn integrity_rejects_polluted_chunks_charges_the_signature_and_blacklisting_ejects_the_sender() {
        let def = Defences { integrity: true, blacklist: true, stripes: 2, ..Defences::none(stream()) };
        let mut g = guarded(Behaviour::Honest, def, vec![(PeerId(4), chunk(2, false)), (PeerId(5), Msg::Bye)]);
        let out = deliver(&mut g, Time::from_secs(1), 4, chunk(1, false));
        assert!(out.records.is_empty());
        assert_eq!(g.inner.heard[0], (PeerId(4), Msg::Chunk { seq: 1, len: 1000 - SIGNATURE_BYTES, polluted: false }));
        let out = deliver(&mut g, Time::from_secs(2), 5, chunk(7, true));
        assert_eq!(out.records, vec![Record::Rejected { seq: 7, from: PeerId(5) }]);
        // The protocol hears that 5 left every relation; the chunk never reaches it.
        assert_eq!(
            &g.inner.heard[1..],
            &[(PeerId(5), Msg::Bye), (PeerId(5), Msg::Detach { stripe: 0 }), (PeerId(5), Msg::Detach { stripe: 1 })]
        );
        assert!(g.is_banned(PeerId(5), Time::from_secs(1_000_000)));
        // Nothing passes to or from it again; others are unaffected, and chunks grow by the signature.
        deliver(&mut g, Time::from_secs(3), 5, chunk(8, false));
        assert_eq!(g.inner.heard.len(), 4);
        let out = fire(&mut g, Time::from_secs(4));
        assert_eq!(out.sends, vec![(PeerId(4), Msg::Chunk { seq: 2, len: 1000 + SIGNATURE_BYTES, polluted: false })]);
    }

    #[test]
    fn without_integrity_polluted_chunks_pass_and_nobody_is_ejected() {
        let def = Defences { blacklist: true, ..Defences::none(stream()) };
        let mut g = guarded(Behaviour::Honest, def, vec![]);
        let out = deliver(&mut g, Time::from_secs(2), 5, chunk(7, true));
        assert!(out.records.is_empty());
        assert_eq!(g.inner.heard, vec![(PeerId(5), chunk(7, true))]);
        assert!(!g.is_banned(PeerId(5), Time::from_secs(3)));
    }

    #[test]
    fn scoring_ejects_a_neighbour_that_ignores_requests_for_the_ban_only() {
        let def = Defences { scoring: true, ..Defences::none(stream()) };
        let mut req = ChunkMap::new(0, 16);
        for s in 0..10 {
            req.insert(s);
        }
        let sends = vec![(PeerId(4), Msg::Request(req)), (PeerId(5), Msg::Request(req))];
        let mut g = guarded(Behaviour::Honest, def, sends);
        fire(&mut g, Time::ZERO); // arms the first check and asks 10 chunks of each
        for s in 0..5 {
            deliver(&mut g, Time::from_secs(1), 4, chunk(s, false));
        }
        deliver(&mut g, Time::from_secs(1), 5, chunk(0, false));
        fire(&mut g, Time::from_secs(10)); // check: 4 delivered 5/10, 5 only 1/10
        assert!(!g.is_banned(PeerId(4), Time::from_secs(11)));
        assert!(g.is_banned(PeerId(5), Time::from_secs(11)));
        assert!(g.inner.heard.contains(&(PeerId(5), Msg::Bye)));
        assert!(!g.is_banned(PeerId(5), Time::from_secs(131)), "the ban lasts 120 s");
    }

    #[test]
    fn sybils_ask_their_victim_every_check_interval() {
        let mut g = guarded(Behaviour::Sybil { victim: PeerId(2) }, Defences::none(stream()), vec![]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut out = Outbox::default();
        g.on_start(&mut Ctx::new(Time::ZERO, PeerId(9), &mut rng, Time::ZERO, &mut out));
        assert!(out.sends.iter().any(|(to, m)| to.0 == 2 && matches!(m, Msg::Hello { .. })));
        assert!(fire(&mut g, Time::from_secs(5)).sends.is_empty());
        assert!(fire(&mut g, Time::from_secs(10)).sends.iter().any(|(to, _)| to.0 == 2));
    }

    #[test]
    fn forgers_send_their_batch_to_recent_contacts_every_check_interval() {
        let mut g = guarded(Behaviour::Forger, Defences::none(stream()), vec![(PeerId(3), Msg::Bye)]);
        let out = fire(&mut g, Time::ZERO); // arms the check before it knows anyone: honest sends only
        assert_eq!(out.sends, vec![(PeerId(3), Msg::Bye)]);
        let out = fire(&mut g, Time::from_secs(10));
        let forged = forged(PeerId(9), Time::from_secs(10), stream(), 120);
        assert_eq!(out.sends.len(), 1 + forged.len());
        assert_eq!(out.sends[1..], forged.into_iter().map(|m| (PeerId(3), m)).collect::<Vec<_>>());
        let Msg::Chunk { seq, .. } = out.sends[1].1 else { panic!() };
        assert_eq!(seq, 10 + FORGED_AHEAD);
        let Msg::BufferMap(m) = out.sends[2].1 else { panic!() };
        assert_eq!((m.base(), m.count()), (10 + FORGED_AHEAD, 120));
        assert!(fire(&mut g, Time::from_secs(15)).sends.len() == 1, "once per check_interval");
    }

    #[test]
    fn bad_stripes_are_dropped_by_every_node_and_blacklisting_ejects_the_sender() {
        let join = Msg::Join { stripe: FORGED_STRIPE, up_kbps: 1 };
        let mut g = guarded(Behaviour::Honest, Defences::none(stream()), vec![]);
        let out = deliver(&mut g, Time::ZERO, 4, join.clone());
        assert_eq!(out.records, vec![Record::Dropped { from: PeerId(4), reason: DropReason::BadStripe }]);
        assert!(g.inner.heard.is_empty() && !g.is_banned(PeerId(4), Time::ZERO));
        let ok = Msg::Join { stripe: (MAX_STRIPES - 1) as u8, up_kbps: 1 };
        assert!(deliver(&mut g, Time::ZERO, 4, ok).records.is_empty());
        let def = Defences { integrity: true, blacklist: true, ..Defences::none(stream()) };
        let mut g = guarded(Behaviour::Honest, def, vec![]);
        deliver(&mut g, Time::ZERO, 4, join);
        assert!(g.is_banned(PeerId(4), Time::from_secs(1_000_000)));
        assert_eq!(g.inner.heard, vec![(PeerId(4), Msg::Bye), (PeerId(4), Msg::Detach { stripe: 0 })]);
    }

    /// A protocol that drops every chunk as implausible, as `media` does a future one.
    struct Picky;
    impl Peer for Picky {
        type Timer = ();
        fn on_start(&mut self, _: &mut Ctx<'_, ()>) {}
        fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, ()>) {
            if msg.is_media() {
                cx.record(Record::Dropped { from, reason: DropReason::FutureChunk });
            }
        }
        fn on_timer(&mut self, _: (), _: &mut Ctx<'_, ()>) {}
        fn on_command(&mut self, _: Command, _: &mut Ctx<'_, ()>) {}
    }

    #[test]
    fn blacklisting_ejects_a_sender_whose_message_the_protocol_dropped() {
        for blacklist in [false, true] {
            let def = Defences { integrity: true, blacklist, ..Defences::none(stream()) };
            let mut g = Guarded::new(Picky, Behaviour::Honest, Arc::new(def));
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let mut out = Outbox::default();
            let mut cx = Ctx::new(Time::ZERO, PeerId(9), &mut rng, Time::ZERO, &mut out);
            g.on_message(PeerId(4), Msg::Hello { up_kbps: 1 }, &mut cx);
            assert!(!g.is_banned(PeerId(4), Time::ZERO), "a plausible message ejects nobody");
            g.on_message(PeerId(4), chunk(1, false), &mut cx);
            assert_eq!(g.is_banned(PeerId(4), Time::from_secs(1_000_000)), blacklist);
        }
    }

    #[test]
    fn capacity_liars_and_free_riders_advertise_what_they_claim() {
        assert_eq!(Behaviour::CapacityLiar { factor: 10 }.advertised_kbps(500), 5000);
        assert_eq!(Behaviour::FreeRider.advertised_kbps(500), 0);
        assert_eq!(Behaviour::Withholder.advertised_kbps(500), 500);
        for (i, n) in Behaviour::NAMES.iter().enumerate() {
            let b = [
                Behaviour::Honest,
                Behaviour::Polluter { on: Time::ZERO, off: Time::ZERO },
                Behaviour::FreeRider,
                Behaviour::MapLiar,
                Behaviour::Withholder,
                Behaviour::Sybil { victim: PeerId(2) },
                Behaviour::CapacityLiar { factor: 2 },
                Behaviour::Forger,
            ][i];
            assert_eq!((b.index() as usize, b.name()), (i, *n));
        }
    }
}
