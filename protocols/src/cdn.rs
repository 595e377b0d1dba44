//! Client-server baseline: every peer fetches every chunk from the source, as
//! from a CDN.
//!
//! What it models: the source's upload link is the only capacity in the
//! system; peers never upload media. It is the reference row of every
//! comparison: its `server_load` is N copies of the stream (times the wire
//! overhead of headers), which is what peer-to-peer distribution saves, and
//! its continuity cannot exceed `source upload / (N x stream rate)` when the
//! source is under-provisioned.
//!
//! Protocol:
//! - every node registers with the tracker once (the tracker is not needed
//!   otherwise: every peer knows the source from [`CdnConfig::source`]);
//! - a peer registers with the source by `Hello`; the source answers
//!   `HelloAck { accept: true }` (it admits everyone) followed by its buffer
//!   map. The source then sends a `BufferMap` (its newest `map_window` chunks)
//!   to every registered client every `buffer_map_interval`. A peer repeats
//!   `Hello` until acknowledged, as a keepalive every `client_timeout / 3`, and
//!   when no buffer map has come for three intervals; the source forgets a
//!   client silent for `client_timeout` (crash) or that says `Bye`;
//! - a peer starts its player `startup_chunks` back from the newest chunk it
//!   learns of (the shared [`Player`](crate::playback::Player)), then every `schedule_interval` and on
//!   every buffer map requests the missing chunks of
//!   `[next needed, next needed + max(request_ahead, startup_chunks))` that the
//!   source holds and that it has not requested yet, in one `Request` bitmap.
//!   A chunk asked for before one that has arrived was dropped or lost (the
//!   source and the links are FIFO) and is asked again in the next round.
//!   Otherwise a request unanswered after `max(request_timeout, srtt + 4 x
//!   rttvar)` of the request-to-arrival time (RFC 6298 estimator, Karn's rule,
//!   timeout doubled per consecutive round with a timeout) is issued again.
//!   A chunk that cannot arrive before its deadline (now + srtt) is not asked
//!   again;
//! - the source serves each `Request` at once, FIFO behind its upload queue.
//!   The only admission limit is `max_upload_backlog`: a chunk that would wait
//!   behind more than this much queued upload is not sent (the peer asks again
//!   when a later chunk arrives, or after its timeout). `None` disables the
//!   cap (an unbounded queue). With a long cap (30 s) an overloaded source
//!   builds a queue longer than the players' lag and most chunks arrive late
//!   (bufferbloat); the default 2 s makes it drop instead, and peers then get
//!   about the source's share (see `sim/tests/cdn.rs`).
//! - the source never queues more than `buffer_map_interval` of control: a
//!   buffer map or a `Hello` answer that would wait longer behind the control
//!   it has already queued (its own count at its nominal upload rate; control
//!   goes before media on the link) is not sent, and a buffer-map round cut
//!   short this way resumes at the next client in the next round. A map that
//!   cannot leave before the next round's is superseded by it. Without this
//!   cap an overloaded source's queue grows for the whole run: at 100,000
//!   clients a round of 45-byte maps needs 7 s of a 5 Mbps source's upload
//!   each second, and the maps queued ahead of every chunk starve the media.
//!
//! Parameters and defaults ([`CdnConfig::new`]):
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `request_ahead` | 10 | chunks requested ahead of the playback point |
//! | `max_upload_backlog` | 2 s | the source drops a chunk that would wait longer than this in its upload queue (`None`: never) |
//! | `buffer_map_interval` | 1 s | period of the source's buffer map to each client |
//! | `schedule_interval` | 0.5 s | period of a peer's request round |
//! | `request_timeout` | 4 s | least time before a request is re-issued |
//! | `client_timeout` | 30 s | the source forgets a client silent this long |

use std::sync::Arc;

use rand::RngExt;

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::media::{HasMedia, Media, MediaTimer};
use crate::peer::{Command, Ctx, DropReason, Peer, Record, StreamParams};
use crate::playback::{PlayerParams, SeqRing};
use crate::time::Time;
use crate::wire::{Msg, Role};

/// Client-server parameters; see the module doc for meanings and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct CdnConfig {
    pub stream: StreamParams,
    pub player: PlayerParams,
    pub tracker: PeerId,
    pub source: PeerId,
    /// Chunks requested ahead of the playback point (default 10).
    pub request_ahead: u16,
    /// Upload-backlog cap at the source (default 2 s; `None`: unbounded).
    pub max_upload_backlog: Option<Time>,
    pub buffer_map_interval: Time,
    pub schedule_interval: Time,
    pub request_timeout: Time,
    pub client_timeout: Time,
}

impl CdnConfig {
    /// A configuration with the documented defaults.
    pub fn new(stream: StreamParams, player: PlayerParams, tracker: PeerId, source: PeerId) -> CdnConfig {
        CdnConfig {
            stream,
            player,
            tracker,
            source,
            request_ahead: 10,
            max_upload_backlog: Some(Time::from_secs(2)),
            buffer_map_interval: Time::from_secs(1),
            schedule_interval: Time::from_millis(500),
            request_timeout: Time::from_secs(4),
            client_timeout: Time::from_secs(30),
        }
    }
    /// Bits a chunk occupies on the wire (payload, header and datagram headers).
    pub fn chunk_wire_bits(&self) -> u64 {
        crate::media::chunk_wire_bits(&self.stream)
    }
    /// Chunks a peer keeps requested ahead, and the source's buffer-map window:
    /// `max(request_ahead, startup_chunks)`, within `[1, ChunkMap::CAPACITY]`.
    pub fn map_window(&self) -> u16 {
        let startup = self.player.startup_chunks.min(ChunkMap::CAPACITY as u32) as u16;
        self.request_ahead.max(startup).clamp(1, ChunkMap::CAPACITY)
    }
}

/// Timers of a client-server node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdnTimer {
    /// Source: emission; peer: playback.
    Media(MediaTimer),
    /// Source: send the buffer map to every client.
    BufferMap,
    /// Peer: request round (new chunks and timed-out requests).
    Schedule,
    /// Peer: (re-)register with the source, or keep the registration alive.
    Hello,
}

crate::timer_from!(CdnTimer: Media(MediaTimer));

const ABSENT: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: Seq,
    /// When it was last requested.
    at: Time,
    /// Number of the `Request` that last asked for it.
    round: u64,
    /// Re-requested after a timeout while an earlier request may still be
    /// served: its arrival is ambiguous, so it gives no delay sample (Karn's
    /// rule) and no drop inference.
    retried: bool,
    /// Known dropped: a chunk asked for later has arrived first.
    dropped: bool,
}

/// A client-server node: the source (`is_source`) or a peer.
pub struct CdnPeer {
    cfg: Arc<CdnConfig>,
    is_source: bool,
    up_kbps: u32,
    active: bool,
    /// Chunks held, the player; at the source `media.newest` is the newest emitted.
    media: Media,
    /// Peer: newest chunk the source advertised.
    advertised: Option<Seq>,
    // Source side: registered clients, a dense position index, and when each was last heard.
    clients: Vec<PeerId>,
    heard: Vec<Time>,
    pos: Vec<u32>,
    /// Source: when the control messages it queued would all be out at its
    /// nominal upload rate (its own count; see [`CdnPeer::send_control`]).
    ctrl_free: Time,
    /// Source: the client position the next buffer-map round starts at.
    next_map: usize,
    // Peer side.
    registered: bool,
    map_at: Time,
    requested: SeqRing,
    pending: Vec<Pending>,
    /// Smoothed request-to-arrival time and its mean deviation (RFC 6298), nanoseconds.
    srtt: Option<(u64, u64)>,
    /// Consecutive request rounds with a timeout: the retry timeout doubles per round (max 2^6).
    backoff: u32,
    /// `Request`s sent so far.
    rounds: u64,
}

impl CdnPeer {
    pub fn new(cfg: Arc<CdnConfig>, is_source: bool, up_kbps: u32) -> CdnPeer {
        let media = Media::new(cfg.player);
        CdnPeer {
            cfg,
            is_source,
            up_kbps,
            active: false,
            media,
            advertised: None,
            clients: Vec::new(),
            heard: Vec::new(),
            pos: Vec::new(),
            ctrl_free: Time::ZERO,
            next_map: 0,
            registered: false,
            map_at: Time::ZERO,
            requested: SeqRing::default(),
            pending: Vec::new(),
            srtt: None,
            backoff: 0,
            rounds: 0,
        }
    }

    /// Source: the registered clients, in no particular order.
    pub fn clients(&self) -> &[PeerId] {
        &self.clients
    }

    fn my_map(&self) -> ChunkMap {
        self.media.map(self.cfg.map_window())
    }

    // ---- source ----

    fn add_client(&mut self, id: PeerId, now: Time) {
        let i = id.index();
        if self.pos.len() <= i {
            self.pos.resize(i + 1, ABSENT);
        }
        if self.pos[i] == ABSENT {
            self.pos[i] = self.clients.len() as u32;
            self.clients.push(id);
            self.heard.push(now);
        } else {
            self.heard[self.pos[i] as usize] = now;
        }
    }

    fn touch_client(&mut self, id: PeerId, now: Time) {
        if let Some(&p) = self.pos.get(id.index())
            && p != ABSENT
        {
            self.heard[p as usize] = now;
        }
    }

    fn remove_client(&mut self, id: PeerId) {
        let Some(&p) = self.pos.get(id.index()) else { return };
        if p == ABSENT {
            return;
        }
        let p = p as usize;
        self.clients.swap_remove(p);
        self.heard.swap_remove(p);
        if p < self.clients.len() {
            self.pos[self.clients[p].index()] = p as u32;
        }
        self.pos[id.index()] = ABSENT;
    }

    fn serve(&mut self, from: PeerId, req: ChunkMap, cx: &mut Ctx<'_, CdnTimer>) {
        self.touch_client(from, cx.now);
        let len = self.cfg.stream.chunk_bytes();
        let per_chunk = Time::transmit(self.cfg.chunk_wire_bits() / 8, self.up_kbps as u64 * 1000);
        let mut backlog = cx.upload_backlog;
        for seq in req.iter() {
            if !self.media.have.contains(seq) {
                continue;
            }
            if self.cfg.max_upload_backlog.is_some_and(|cap| backlog > cap) {
                break;
            }
            backlog += per_chunk;
            cx.send(from, Msg::Chunk { seq, len, polluted: false });
        }
    }

    /// Source: queues a control message unless the control it has queued
    /// already needs more than `buffer_map_interval` to go out (by its own
    /// count at its nominal upload rate; control goes before media, so this is
    /// how long the message would wait). A map that could not leave before the
    /// next round's map is superseded; queueing it anyway would only grow the
    /// queue. Returns false when the message was not sent.
    fn send_control(&mut self, to: PeerId, msg: Msg, cx: &mut Ctx<'_, CdnTimer>) -> bool {
        if self.ctrl_free.saturating_sub(cx.now) > self.cfg.buffer_map_interval {
            return false;
        }
        let wire = crate::wire::wire_bytes(msg.encoded_len()).1;
        self.ctrl_free = self.ctrl_free.max(cx.now) + Time::transmit(wire, self.up_kbps as u64 * 1000);
        cx.send(to, msg);
        true
    }

    fn broadcast_map(&mut self, cx: &mut Ctx<'_, CdnTimer>) {
        let now = cx.now;
        let timeout = self.cfg.client_timeout;
        let mut i = 0;
        while i < self.clients.len() {
            if self.heard[i] + timeout < now {
                self.remove_client(self.clients[i]);
            } else {
                i += 1;
            }
        }
        if self.media.newest.is_none() || self.clients.is_empty() {
            return;
        }
        let map = self.my_map();
        // A round cut short by `send_control` resumes where it stopped, so
        // that every client gets its share of the maps the source can send.
        let n = self.clients.len();
        let start = self.next_map % n;
        for k in 0..n {
            let c = self.clients[(start + k) % n];
            if !self.send_control(c, Msg::BufferMap(map), cx) {
                self.next_map = (start + k) % n;
                return;
            }
        }
        self.next_map = start;
    }

    // ---- peer ----

    fn hello(&mut self, cx: &mut Ctx<'_, CdnTimer>) {
        cx.send(self.cfg.source, Msg::Hello { up_kbps: self.up_kbps });
    }

    /// Retry timeout: `max(request_timeout, srtt + 4 x rttvar)`, doubled per
    /// consecutive round that had a timeout.
    fn retry_after(&self) -> Time {
        let rto = self.srtt.map_or(0, |(s, v)| s.saturating_add(v.saturating_mul(4)));
        Time(self.cfg.request_timeout.0.max(rto).saturating_mul(1 << self.backoff.min(6)))
    }

    fn schedule(&mut self, cx: &mut Ctx<'_, CdnTimer>) {
        let now = cx.now;
        let player = &self.media.player;
        let Some(lo) = player.needed_from() else { return };
        let Some(newest) = self.advertised else { return };
        let w = self.cfg.map_window();
        let stream = self.cfg.stream;
        let playing = player.is_playing();
        let mut req = ChunkMap::new(lo, w);
        let round = self.rounds + 1;
        // Outstanding requests: forget those the player no longer needs or
        // that can no longer arrive in time; re-issue those known dropped or
        // timed out.
        // The timeout is evaluated now, with the freshest delay estimate.
        let expected_delay = Time(self.srtt.map_or(0, |(s, _)| s));
        let rto = self.retry_after();
        let mut timed_out = false;
        let mut i = 0;
        while i < self.pending.len() {
            let p = self.pending[i];
            let deadline = self.media.player.deadline(p.seq, &stream, now);
            let useless = p.seq < lo || (playing && deadline <= now);
            let due = p.dropped || p.at + rto <= now;
            if useless || (due && playing && now + expected_delay > deadline) {
                self.requested.remove(p.seq);
                self.pending.swap_remove(i);
                timed_out |= !useless && !p.dropped;
                continue;
            }
            if due && req.insert(p.seq) {
                // A known drop leaves no other copy on its way: unambiguous.
                timed_out |= !p.dropped;
                self.pending[i] = Pending { at: now, round, retried: !p.dropped, dropped: false, ..p };
            }
            i += 1;
        }
        if timed_out {
            self.backoff = (self.backoff + 1).min(6);
        }
        let hi = newest.min(lo.saturating_add(w as u32 - 1));
        for seq in lo..=hi {
            if self.media.have.contains(seq) || self.requested.contains(seq) {
                continue;
            }
            if playing && self.media.player.deadline(seq, &stream, now) <= now {
                continue;
            }
            req.insert(seq);
            self.requested.insert(seq);
            self.pending.push(Pending { seq, at: now, round, retried: false, dropped: false });
        }
        if !req.is_empty() {
            self.rounds = round;
            cx.send(self.cfg.source, Msg::Request(req));
        }
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, polluted: bool, cx: &mut Ctx<'_, CdnTimer>) {
        if !Media::admit(seq, from, self.is_source, &self.cfg.stream, cx) {
            return;
        }
        let now = cx.now;
        if let Some(i) = self.pending.iter().position(|p| p.seq == seq) {
            let p = self.pending.swap_remove(i);
            self.requested.remove(seq);
            if !p.retried {
                let r = (now - p.at).0;
                self.srtt = Some(match self.srtt {
                    None => (r, r / 2),
                    Some((s, v)) => (s - s / 8 + r / 8, v - v / 4 + s.abs_diff(r) / 4),
                });
                self.backoff = 0;
                // The source serves requests in order and each request in
                // increasing sequence order, and links are FIFO: whatever was
                // asked before this chunk and has not arrived was dropped
                // (backlog cap) or lost.
                for q in &mut self.pending {
                    if (q.round, q.seq) < (p.round, p.seq) {
                        q.dropped = true;
                    }
                }
            }
        }
        let a = self.media.arrival(seq, from, false, cx);
        if a.duplicate || a.late {
            return;
        }
        // The source sends only genuine chunks, but over UDP a chunk whose
        // payload failed verification (e.g. a spoofed datagram) arrives marked
        // polluted: it is kept as such, and the player reports it.
        self.media.store(seq, polluted);
        self.media.check_startup(cx);
    }

    fn on_buffer_map(&mut self, map: ChunkMap, cx: &mut Ctx<'_, CdnTimer>) {
        if map.newest().is_some_and(|n| !Media::plausible(n, &self.cfg.stream, cx.now)) {
            cx.record(Record::Dropped { from: self.cfg.source, reason: DropReason::FutureMap });
            return;
        }
        self.map_at = cx.now;
        self.registered = true;
        let Some(n) = map.newest() else { return };
        self.advertised = Some(self.advertised.map_or(n, |x| x.max(n)));
        if self.media.player.is_idle() {
            self.media.choose_start(n, cx);
        }
        self.schedule(cx);
    }
}

impl HasMedia for CdnPeer {
    fn media(&self) -> &Media {
        &self.media
    }
}

impl Peer for CdnPeer {
    type Timer = CdnTimer;

    fn on_start(&mut self, cx: &mut Ctx<'_, CdnTimer>) {
        self.active = true;
        let role = if self.is_source { Role::Source } else { Role::Peer };
        cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
        if self.is_source {
            Media::start_source(&self.cfg.stream, cx);
        } else {
            self.hello(cx);
            cx.timer_in(self.cfg.request_timeout, CdnTimer::Hello);
            let j = Time(cx.rng.random_range(0..self.cfg.schedule_interval.0.max(1)));
            cx.timer_in(j, CdnTimer::Schedule);
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, CdnTimer>) {
        if !self.active {
            return;
        }
        if self.is_source {
            match msg {
                Msg::Hello { .. } => {
                    self.add_client(from, cx.now);
                    let ack = Msg::HelloAck { accept: true, up_kbps: self.up_kbps };
                    if self.send_control(from, ack, cx) && self.media.newest.is_some() {
                        self.send_control(from, Msg::BufferMap(self.my_map()), cx);
                    }
                }
                Msg::Request(req) => self.serve(from, req, cx),
                Msg::Bye => self.remove_client(from),
                Msg::Chunk { seq, .. } => {
                    Media::admit(seq, from, true, &self.cfg.stream, cx);
                }
                _ => {}
            }
            return;
        }
        if from != self.cfg.source {
            return;
        }
        match msg {
            Msg::HelloAck { accept: true, .. } => {
                if !self.registered {
                    cx.record(Record::NeighbourAdded { peer: from });
                }
                self.registered = true;
                self.map_at = cx.now;
            }
            Msg::BufferMap(map) => self.on_buffer_map(map, cx),
            Msg::Chunk { seq, polluted, .. } => self.on_chunk(from, seq, polluted, cx),
            Msg::Bye => {
                self.registered = false;
                cx.record(Record::NeighbourRemoved { peer: from });
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, timer: CdnTimer, cx: &mut Ctx<'_, CdnTimer>) {
        if !self.active {
            return;
        }
        match timer {
            CdnTimer::Media(m) => {
                let first = self.media.newest.is_none();
                let emitted = self.media.on_timer(m, &self.cfg.stream, cx).is_some();
                if emitted && first {
                    // Armed after the next emission so that, at equal instants,
                    // buffer maps always go out after the chunk is emitted.
                    cx.timer_in(self.cfg.buffer_map_interval, CdnTimer::BufferMap);
                }
            }
            CdnTimer::BufferMap => {
                self.broadcast_map(cx);
                cx.timer_in(self.cfg.buffer_map_interval, CdnTimer::BufferMap);
            }
            CdnTimer::Schedule => {
                self.schedule(cx);
                cx.timer_in(self.cfg.schedule_interval, CdnTimer::Schedule);
            }
            CdnTimer::Hello => {
                let stale = cx.now.saturating_sub(self.map_at) > Time(self.cfg.buffer_map_interval.0.saturating_mul(3));
                if stale {
                    self.registered = false;
                }
                // Unregistered: retry soon. Registered: keep the registration alive.
                self.hello(cx);
                let period =
                    if self.registered { Time(self.cfg.client_timeout.0 / 3) } else { self.cfg.request_timeout };
                cx.timer_in(period.max(Time(1)), CdnTimer::Hello);
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, CdnTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                if graceful {
                    if !self.is_source {
                        cx.send(self.cfg.source, Msg::Bye);
                    }
                    cx.send(self.cfg.tracker, Msg::Unregister);
                }
                self.active = false;
                self.clients = Vec::new();
                self.heard = Vec::new();
                self.pos = Vec::new();
                self.pending = Vec::new();
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

    const SRC: PeerId = PeerId(1);

    fn cfg() -> Arc<CdnConfig> {
        let stream = StreamParams { rate_bps: 8_000, chunk_duration: Time::from_secs(1) };
        let player = PlayerParams { startup_chunks: 3, startup_timeout: Time::from_secs(30), rebuffer_chunks: None };
        Arc::new(CdnConfig {
            request_ahead: 4,
            request_timeout: Time::from_secs(2),
            ..CdnConfig::new(stream, player, PeerId(0), SRC)
        })
    }

    struct Harness {
        rng: ChaCha8Rng,
        out: Outbox<CdnTimer>,
    }

    impl Harness {
        fn new() -> Harness {
            Harness { rng: ChaCha8Rng::seed_from_u64(3), out: Outbox::default() }
        }
        fn call(
            &mut self,
            now: Time,
            me: u32,
            backlog: Time,
            f: impl FnOnce(&mut Ctx<'_, CdnTimer>),
        ) -> Vec<(PeerId, Msg)> {
            self.out = Outbox::default();
            let mut cx = Ctx::new(now, PeerId(me), &mut self.rng, backlog, &mut self.out);
            f(&mut cx);
            std::mem::take(&mut self.out.sends)
        }
    }

    #[test]
    fn peer_registers_requests_the_startup_window_and_plays() {
        let mut h = Harness::new();
        let mut p = CdnPeer::new(cfg(), false, 100);
        let sent = h.call(Time::ZERO, 5, Time::ZERO, |cx| p.on_start(cx));
        assert!(sent.contains(&(SRC, Msg::Hello { up_kbps: 100 })));
        // The source holds 0..=9; window = max(4, 3) = 4 chunks from the start 7.
        let mut m = ChunkMap::new(6, 4);
        for s in 6..=9 {
            m.insert(s);
        }
        let sent = h.call(Time::from_secs(10), 5, Time::ZERO, |cx| p.on_message(SRC, Msg::BufferMap(m), cx));
        let reqs: Vec<Seq> = sent
            .iter()
            .filter_map(|(to, msg)| match msg {
                Msg::Request(r) if *to == SRC => Some(r.iter().collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(reqs, vec![7, 8, 9]);
        // Nothing is requested twice before the timeout.
        let sent = h.call(Time::from_millis(10_500), 5, Time::ZERO, |cx| p.on_timer(CdnTimer::Schedule, cx));
        assert!(sent.is_empty(), "{sent:?}");
        for s in 7..=9 {
            h.call(Time::from_millis(10_100), 5, Time::ZERO, |cx| {
                p.on_message(SRC, Msg::Chunk { seq: s, len: 1000, polluted: false }, cx)
            });
        }
        assert!(p.is_playing());
        // Playing from 10.1 s: chunk k is due at 10.1 + (k - 7) s. At 11.5 s
        // chunks 7 and 8 have played; the next buffer map brings 10 and 11.
        h.call(Time::from_millis(11_500), 5, Time::ZERO, |cx| p.on_timer(CdnTimer::Media(MediaTimer::Play), cx));
        let mut m = ChunkMap::new(8, 4);
        for s in 8..=11 {
            m.insert(s);
        }
        let sent = h.call(Time::from_millis(11_500), 5, Time::ZERO, |cx| p.on_message(SRC, Msg::BufferMap(m), cx));
        assert!(sent.iter().any(|(_, msg)| matches!(msg, Msg::Request(r) if r.iter().eq([10, 11]))), "{sent:?}");
        let sent = h.call(Time::from_secs(13), 5, Time::ZERO, |cx| p.on_timer(CdnTimer::Schedule, cx));
        assert!(sent.is_empty());
        // The timeout, max(2 s, 0.1 s + 4 x 0.05 s), later: 11 is asked again;
        // 10 (due at 13.1 s) is no longer worth asking for.
        let sent = h.call(Time::from_millis(13_500), 5, Time::ZERO, |cx| p.on_timer(CdnTimer::Schedule, cx));
        assert!(sent.iter().any(|(_, msg)| matches!(msg, Msg::Request(r) if r.iter().eq([11]))), "{sent:?}");
        // Not again before the doubled timeout, and never once 11 is due (14.1 s).
        let sent = h.call(Time::from_millis(14_000), 5, Time::ZERO, |cx| p.on_timer(CdnTimer::Schedule, cx));
        assert!(sent.is_empty(), "{sent:?}");
        let sent = h.call(Time::from_millis(17_000), 5, Time::ZERO, |cx| p.on_timer(CdnTimer::Schedule, cx));
        assert!(sent.is_empty(), "{sent:?}");
    }

    #[test]
    fn source_accepts_everyone_and_caps_its_upload_backlog() {
        let mut h = Harness::new();
        // 8,000-bit chunks at 8 kbps: about 1 s each on the wire.
        let mut s = CdnPeer::new(cfg(), true, 8);
        h.call(Time::ZERO, 1, Time::ZERO, |cx| s.on_start(cx));
        for t in 0..5 {
            h.call(Time::from_secs(t), 1, Time::ZERO, |cx| s.on_timer(CdnTimer::Media(MediaTimer::Emit), cx));
        }
        let sent =
            h.call(Time::from_secs(5), 1, Time::ZERO, |cx| s.on_message(PeerId(7), Msg::Hello { up_kbps: 0 }, cx));
        assert_eq!(sent[0], (PeerId(7), Msg::HelloAck { accept: true, up_kbps: 8 }));
        assert!(matches!(sent[1], (PeerId(7), Msg::BufferMap(m)) if m.newest() == Some(4)));
        assert_eq!(s.clients(), &[PeerId(7)]);
        let mut req = ChunkMap::new(0, 8);
        for q in 0..5 {
            req.insert(q);
        }
        // 0.5 s already queued and 1.045 s per chunk on the wire: chunks 0 and 1
        // start within the 2 s cap, chunk 2 would wait 2.59 s and is dropped.
        let sent =
            h.call(Time::from_secs(5), 1, Time::from_millis(500), |cx| s.on_message(PeerId(7), Msg::Request(req), cx));
        let seqs: Vec<Seq> =
            sent.iter().filter_map(|(_, m)| if let Msg::Chunk { seq, .. } = m { Some(*seq) } else { None }).collect();
        assert_eq!(seqs, vec![0, 1]);
        // Silent clients are forgotten.
        h.call(Time::from_secs(40), 1, Time::ZERO, |cx| s.on_timer(CdnTimer::BufferMap, cx));
        assert!(s.clients().is_empty());
    }

    #[test]
    fn source_queues_at_most_one_interval_of_control_and_rotates_its_maps() {
        let mut h = Harness::new();
        // 8 kbps: 1,000 bytes a second. A buffer map of this window is 8 bytes
        // encoded, 44 on the wire (44 ms); a HelloAck 42 (42 ms).
        let mut s = CdnPeer::new(cfg(), true, 8);
        h.call(Time::ZERO, 1, Time::ZERO, |cx| s.on_start(cx));
        h.call(Time::ZERO, 1, Time::ZERO, |cx| s.on_timer(CdnTimer::Media(MediaTimer::Emit), cx));
        // 40 clients register 100 ms apart: each answer (86 ms) is out before the next.
        for c in 0..40u32 {
            let at = Time::from_millis(100 * c as u64);
            let sent = h.call(at, 1, Time::ZERO, |cx| s.on_message(PeerId(10 + c), Msg::Hello { up_kbps: 0 }, cx));
            assert_eq!(sent.len(), 2, "client {c}: {sent:?}");
        }
        let order: Vec<PeerId> = s.clients().to_vec();
        assert_eq!(order.len(), 40);
        let maps = |sent: &[(PeerId, Msg)]| -> Vec<PeerId> {
            sent.iter().filter(|(_, m)| matches!(m, Msg::BufferMap(_))).map(|(to, _)| *to).collect()
        };
        // Round one: the k-th map would wait k x 44 ms; from k = 23 (1.012 s)
        // on, longer than the 1 s interval, so 23 maps go out.
        let r1 = maps(&h.call(Time::from_secs(10), 1, Time::ZERO, |cx| s.on_timer(CdnTimer::BufferMap, cx)));
        assert_eq!(r1, order[..23].to_vec());
        // A Hello now is not answered: its answer would wait 1.012 s.
        let sent =
            h.call(Time::from_secs(10), 1, Time::ZERO, |cx| s.on_message(PeerId(99), Msg::Hello { up_kbps: 0 }, cx));
        assert!(sent.is_empty(), "{sent:?}");
        // Round two resumes where round one stopped (the Hello's client was
        // added last): 12 ms are still queued, so again 23 maps.
        let order: Vec<PeerId> = s.clients().to_vec();
        let r2 = maps(&h.call(Time::from_secs(11), 1, Time::ZERO, |cx| s.on_timer(CdnTimer::BufferMap, cx)));
        let want: Vec<PeerId> = (0..23).map(|k| order[(23 + k) % order.len()]).collect();
        assert_eq!(r2, want);
    }
}
