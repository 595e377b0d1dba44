//! What every node does with the stream itself, whatever its family: the
//! chunk store, the player, and the source's emission schedule.
//!
//! [`Media`] holds the chunks a node has (and which of them are polluted), the
//! newest one, and the shared [`Player`]; [`MediaTimer`] is the part of a
//! family's timer enum it needs (a family's timer type implements
//! `From<MediaTimer>`, and routes these variants back to [`Media::on_timer`]).
//! The source emits chunk `n` at `StreamParams::emission(n)`, starting with the
//! chunk due at its start (at once if its emission time has just passed).

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::peer::{Ctx, DropReason, Record, StreamParams};
use crate::playback::{Player, PlayerAction, PlayerParams, SeqRing};
use crate::time::Time;
use crate::wire::{Msg, wire_bytes};

/// Implements `From<Core>` for a family's timer enum, one line per wrapped
/// core timer: `protocols::timer_from!(MyTimer: Media(MediaTimer), Mesh(MeshTimer));`
#[macro_export]
macro_rules! timer_from {
    ($family:ident: $($variant:ident($core:ty)),+ $(,)?) => {
        $(impl From<$core> for $family {
            fn from(t: $core) -> Self {
                $family::$variant(t)
            }
        })+
    };
}

/// Timers of the stream part of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaTimer {
    /// Source: emit the next chunk.
    Emit,
    /// Player: play the chunks now due.
    Play,
    /// Player: start even if the startup buffer is incomplete.
    StartupTimeout,
}

/// Bits one chunk of `stream` occupies on the wire (payload, chunk header
/// and datagram headers).
pub fn chunk_wire_bits(stream: &StreamParams) -> u64 {
    let len = Msg::Chunk { seq: 0, len: stream.chunk_bytes(), polluted: false }.encoded_len();
    wire_bytes(len).1 * 8
}

/// A node's chunks and player.
#[derive(Clone)]
pub struct Media {
    pub have: SeqRing,
    /// Held chunks whose content is corrupted.
    pub polluted: SeqRing,
    /// Newest chunk held (emitted, at the source).
    pub newest: Option<Seq>,
    pub player: Player,
}

/// How a chunk arrival relates to what the node holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Already held (or, with `below_store`, older than anything the store keeps).
    pub duplicate: bool,
    /// Behind the playback point: useless.
    pub late: bool,
}

/// How far ahead of a receiver's own view of the live point a sender's clock
/// may be: over UDP every node maps a shared epoch to its own clock, so
/// honest chunks and buffer maps can appear that much early. Anything beyond
/// is dropped ([`Media::plausible`]).
pub const MAX_CLOCK_SKEW: Time = Time::from_secs(5);

impl Media {
    /// Whether chunk `seq` can exist at `now`: emitted no later than
    /// `now + MAX_CLOCK_SKEW` by the stream's schedule. Every number a
    /// receiver takes from the wire is checked against this before it
    /// touches its state (a chunk numbered `Seq::MAX` would otherwise slide
    /// the chunk store past every real chunk).
    pub fn plausible(seq: Seq, stream: &StreamParams, now: Time) -> bool {
        stream.emission(seq) <= now + MAX_CLOCK_SKEW
    }

    /// Checks an incoming chunk before anything else sees it: a source takes
    /// no chunks, and no chunk may be newer than the live point. Records the
    /// drop and returns false when the chunk must be ignored.
    pub fn admit<T>(seq: Seq, from: PeerId, is_source: bool, stream: &StreamParams, cx: &mut Ctx<'_, T>) -> bool {
        let reason = if is_source {
            DropReason::ChunkToSource
        } else if !Self::plausible(seq, stream, cx.now) {
            DropReason::FutureChunk
        } else {
            return true;
        };
        cx.record(Record::Dropped { from, reason });
        false
    }

    pub fn new(player: PlayerParams) -> Media {
        Media { have: SeqRing::default(), polluted: SeqRing::default(), newest: None, player: Player::new(player) }
    }

    /// Arms the timer a player action asks for.
    pub fn apply<T: From<MediaTimer>>(a: PlayerAction, cx: &mut Ctx<'_, T>) {
        match a {
            PlayerAction::Nothing => {}
            PlayerAction::ArmPlay(at) => cx.timer_at(at, MediaTimer::Play.into()),
            PlayerAction::ArmStartupTimeout(at) => cx.timer_at(at, MediaTimer::StartupTimeout.into()),
        }
    }

    /// Source start: arms the emission of the chunk due now, at its emission
    /// time, or at once if that time has just passed. A source that starts
    /// late (a real process scheduled after the stream epoch, even by half a
    /// millisecond) therefore emits chunk 0 late rather than never: skipped,
    /// every peer that chose to start at chunk 0 waited for its startup
    /// timeout (results/validate/README.md, "The source that skipped chunk
    /// 0"). The simulator starts the source at time zero, where this makes
    /// no difference.
    pub fn start_source<T: From<MediaTimer>>(stream: &StreamParams, cx: &mut Ctx<'_, T>) {
        let first = stream.newest_at(cx.now);
        cx.timer_at(stream.emission(first).max(cx.now), MediaTimer::Emit.into());
    }

    /// Handles a [`MediaTimer`]. On `Emit` the source stores the chunk due
    /// now, arms the next emission and returns the chunk's number (the
    /// family pushes it or advertises it).
    pub fn on_timer<T: From<MediaTimer>>(
        &mut self,
        t: MediaTimer,
        stream: &StreamParams,
        cx: &mut Ctx<'_, T>,
    ) -> Option<Seq> {
        match t {
            MediaTimer::Emit => {
                let seq = stream.newest_at(cx.now);
                self.have.insert(seq);
                self.newest = Some(seq);
                cx.timer_at(stream.emission(seq + 1), MediaTimer::Emit.into());
                return Some(seq);
            }
            MediaTimer::Play => {
                let a = self.player.on_play_timer(&self.have, &self.polluted, stream, cx);
                Self::apply(a, cx);
            }
            MediaTimer::StartupTimeout => {
                let a = self.player.on_startup_timeout(&self.have, cx);
                Self::apply(a, cx);
            }
        }
        None
    }

    /// The buffer map of the newest `window` chunks (ending at the newest held).
    pub fn map(&self, window: u16) -> ChunkMap {
        let newest = self.newest.unwrap_or(0);
        let base = (newest + 1).saturating_sub(window as u32);
        self.have.to_map(base, window)
    }

    /// Classifies and records the arrival of `seq` from `from`
    /// ([`Record::ChunkArrived`]). With `below_store`, a chunk older than the
    /// store's lowest also counts as a duplicate.
    pub fn arrival<T>(&self, seq: Seq, from: PeerId, below_store: bool, cx: &mut Ctx<'_, T>) -> Arrival {
        let late = self.player.is_playing() && self.player.needed_from().is_some_and(|n| seq < n);
        let duplicate = self.have.contains(seq) || (below_store && seq < self.have.lowest());
        cx.record(Record::ChunkArrived { seq, from, duplicate, late });
        Arrival { duplicate, late }
    }

    /// Stores a new chunk.
    pub fn store(&mut self, seq: Seq, polluted: bool) {
        self.have.insert(seq);
        if polluted {
            self.polluted.insert(seq);
        }
        self.newest = Some(self.newest.map_or(seq, |n| n.max(seq)));
    }

    /// Serves a request from `from`: the chunks of `req` that `may` allows and
    /// the store holds, in increasing order, while the upload backlog is at
    /// most `up.cap`; the rest is refused at once, one `Refuse` per reason
    /// (`busy`: the queue passed the cap; otherwise not held or not
    /// allowed). Returns the media bytes sent. Mesh partners and tree
    /// children (recovery) are served this way.
    pub fn serve<T>(
        &self,
        from: PeerId,
        req: ChunkMap,
        may: impl Fn(Seq) -> bool,
        up: Uplink,
        stream: &StreamParams,
        cx: &mut Ctx<'_, T>,
    ) -> u64 {
        let len = stream.chunk_bytes();
        let per_chunk = Time::transmit(chunk_wire_bits(stream) / 8, up.kbps as u64 * 1000);
        let mut backlog = cx.upload_backlog;
        let mut missing = ChunkMap::new(req.base(), req.len());
        let mut busy = missing;
        let mut served = 0u64;
        for seq in req.iter() {
            if !self.have.contains(seq) || !may(seq) {
                missing.insert(seq);
            } else if backlog > up.cap {
                busy.insert(seq);
            } else {
                backlog += per_chunk;
                served += len as u64;
                cx.send(from, Msg::Chunk { seq, len, polluted: self.polluted.contains(seq) });
            }
        }
        for (chunks, busy) in [(missing, false), (busy, true)] {
            if !chunks.is_empty() {
                cx.send(from, Msg::Refuse { chunks, busy });
            }
        }
        served
    }

    /// Starts the player when the startup buffer is complete.
    pub fn check_startup<T: From<MediaTimer>>(&mut self, cx: &mut Ctx<'_, T>) {
        let a = self.player.check_startup(&self.have, cx);
        Self::apply(a, cx);
    }

    /// Chooses the start position (if the player is idle) so that the
    /// startup buffer ends at `head`.
    pub fn choose_start<T: From<MediaTimer>>(&mut self, head: Seq, cx: &mut Ctx<'_, T>) {
        let a = self.player.choose_start(head, cx.now);
        Self::apply(a, cx);
    }

    /// Nothing arrived yet: start from the next chunk of the live schedule,
    /// so an unserved peer counts as missing chunks instead of vanishing from
    /// the metrics.
    pub fn live_start<T: From<MediaTimer>>(&mut self, stream: &StreamParams, cx: &mut Ctx<'_, T>) {
        let next = stream.newest_at(cx.now) + 1;
        let startup = self.player.params().startup_chunks.max(1);
        self.choose_start(next + startup - 1, cx);
    }
}

/// A server's upload for [`Media::serve`]: its capacity and the longest
/// upload backlog behind which it still takes a request.
#[derive(Clone, Copy, Debug)]
pub struct Uplink {
    pub kbps: u32,
    pub cap: Time,
}

/// Read-only views of a node's stream, for tests and tools: every family
/// implements [`HasMedia::media`] and gets the rest.
pub trait HasMedia {
    fn media(&self) -> &Media;
    fn is_playing(&self) -> bool {
        self.media().player.is_playing()
    }
    fn has_chunk(&self, seq: Seq) -> bool {
        self.media().have.contains(seq)
    }
    /// Newest chunk held (emitted, for the source).
    fn newest(&self) -> Option<Seq> {
        self.media().newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Outbox;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Starts a source at `now` and fires its emission timers until `until`;
    /// returns the chunks it emitted, with their times.
    fn emitted(now: Time, until: Time) -> Vec<(Time, Seq)> {
        let stream = StreamParams { rate_bps: 300_000, chunk_duration: Time::from_secs(1) };
        let mut media = Media::new(PlayerParams::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out: Outbox<MediaTimer> = Outbox::default();
        Media::start_source(&stream, &mut Ctx::new(now, PeerId(1), &mut rng, Time::ZERO, &mut out));
        let mut got = Vec::new();
        while let Some((at, t)) = out.timers.pop().filter(|&(at, _)| at <= until) {
            let mut next = Outbox::default();
            let seq = media.on_timer(t, &stream, &mut Ctx::new(at, PeerId(1), &mut rng, Time::ZERO, &mut next));
            got.extend(seq.map(|s| (at, s)));
            out = next;
        }
        got
    }

    #[test]
    fn a_source_that_starts_late_emits_the_chunk_due_at_once_and_skips_none() {
        let s = Time::from_secs;
        // On time (the simulator): chunk 0 at zero, then one a second.
        assert_eq!(emitted(Time::ZERO, s(2)), vec![(s(0), 0), (s(1), 1), (s(2), 2)]);
        // Half a millisecond late (a real source process): chunk 0 at once.
        let late = Time::from_micros(517);
        assert_eq!(emitted(late, s(2)), vec![(late, 0), (s(1), 1), (s(2), 2)]);
        // Mid-stream: the chunk due now, then on schedule.
        let mid = Time::from_millis(10_300);
        assert_eq!(emitted(mid, s(12)), vec![(mid, 10), (s(11), 11), (s(12), 12)]);
    }
}
