//! The sans-IO [`Peer`] trait and the context a driver passes to it.
//!
//! A protocol is a state machine. Its inputs are the `on_*` methods, called by a
//! driver (the simulator or the UDP host) with the current time and the node's
//! own seeded RNG in a [`Ctx`]. Its outputs are collected in an [`Outbox`]:
//! messages to send, timers to arm and [`Record`]s for the metrics. The driver
//! drains the outbox after every call. Protocol code never reads a clock, opens a
//! socket or draws from an unseeded RNG.
//!
//! Driver contract, in order: `on_start` once when the node comes up; then any
//! interleaving of `on_message` and `on_timer` in time order; `on_command` for
//! scenario actions; after `Command::Leave` the driver delivers nothing more.

use rand_chacha::ChaCha8Rng;

use crate::ids::{PeerId, Seq};
use crate::time::Time;
use crate::wire::Msg;

/// Parameters of the stream every protocol shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamParams {
    /// Media rate in bits per second.
    pub rate_bps: u64,
    /// Duration of media in one chunk.
    pub chunk_duration: Time,
}

impl StreamParams {
    /// Payload bytes of one chunk: rate x duration, rounded up.
    pub fn chunk_bytes(&self) -> u32 {
        let bits = self.rate_bps as u128 * self.chunk_duration.as_nanos() as u128;
        bits.div_ceil(8 * 1_000_000_000).min(u32::MAX as u128) as u32
    }
    /// Instant at which the source emits chunk `seq` (the stream starts at time zero).
    pub fn emission(&self, seq: Seq) -> Time {
        Time(self.chunk_duration.0.saturating_mul(seq as u64))
    }
    /// Newest chunk the source has emitted by `now`.
    pub fn newest_at(&self, now: Time) -> Seq {
        (now.0 / self.chunk_duration.0.max(1)).min(u32::MAX as u64) as Seq
    }
}

/// A scenario action delivered to a node by its driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Leave the swarm. `graceful` nodes tell their partners and the tracker;
    /// crashed ones vanish silently. No input follows.
    Leave { graceful: bool },
}

/// Observable facts a protocol reports for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// The player filled its startup buffer (or timed out) and plays `first` now.
    PlayStart {
        first: Seq,
    },
    /// Chunk `seq` was played at its deadline; `polluted` if its content was corrupted.
    Played {
        seq: Seq,
        polluted: bool,
    },
    /// Chunk `seq` was absent at its deadline and skipped.
    Missed {
        seq: Seq,
    },
    /// Re-buffering player: chunk `seq` was absent at its deadline and
    /// playback stalled.
    Stall {
        seq: Seq,
    },
    /// A stall ended: playback resumes at `seq` now.
    Resume {
        seq: Seq,
    },
    /// A media message arrived. `duplicate` if the chunk was already held (or
    /// arrived after its deadline, when it is useless).
    ChunkArrived {
        seq: Seq,
        from: PeerId,
        duplicate: bool,
        late: bool,
    },
    /// A partner (mesh) or parent/child (tree) relation began or ended.
    NeighbourAdded {
        peer: PeerId,
    },
    NeighbourRemoved {
        peer: PeerId,
    },
    /// A chunk from `from` failed the integrity check and was dropped.
    Rejected {
        seq: Seq,
        from: PeerId,
    },
    /// A well-formed message from `from` carried values no honest node sends
    /// and was dropped before it touched the protocol's state.
    Dropped {
        from: PeerId,
        reason: DropReason,
    },
}

/// Why a protocol dropped a well-formed message ([`Record::Dropped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// A chunk numbered beyond the live point (plus the clock-skew allowance).
    FutureChunk,
    /// A buffer map advertising chunks beyond the live point.
    FutureMap,
    /// A chunk sent to the source, which never takes chunks.
    ChunkToSource,
    /// A tree message (`Join`, `JoinAck`, `Detach`, `Heartbeat`) for a stripe
    /// no protocol has (at least [`crate::tree::MAX_STRIPES`]); checked by
    /// [`crate::adversary::Guarded`] for every family.
    BadStripe,
}

impl DropReason {
    /// Every reason, in order (the report has one metric per reason).
    pub const ALL: [DropReason; 4] =
        [DropReason::FutureChunk, DropReason::FutureMap, DropReason::ChunkToSource, DropReason::BadStripe];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::FutureChunk => "future-chunk",
            DropReason::FutureMap => "future-map",
            DropReason::ChunkToSource => "chunk-to-source",
            DropReason::BadStripe => "bad-stripe",
        }
    }
}

/// What a protocol asks of its driver during one call.
pub struct Outbox<T> {
    pub sends: Vec<(PeerId, Msg)>,
    pub timers: Vec<(Time, T)>,
    pub records: Vec<Record>,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox { sends: Vec::new(), timers: Vec::new(), records: Vec::new() }
    }
}

impl<T> Outbox<T> {
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.timers.is_empty() && self.records.is_empty()
    }
}

/// Everything a protocol may touch during one call.
pub struct Ctx<'a, T> {
    /// Current time.
    pub now: Time,
    /// This node.
    pub me: PeerId,
    /// This node's own random stream (seeded by the driver).
    pub rng: &'a mut ChaCha8Rng,
    /// How long until this node's upload link has sent everything queued so far
    /// (zero when idle). The UDP host reports its pacer's backlog the same way.
    pub upload_backlog: Time,
    out: &'a mut Outbox<T>,
}

impl<'a, T> Ctx<'a, T> {
    pub fn new(now: Time, me: PeerId, rng: &'a mut ChaCha8Rng, upload_backlog: Time, out: &'a mut Outbox<T>) -> Self {
        Ctx { now, me, rng, upload_backlog, out }
    }
    /// Queues `msg` for `to` behind everything already queued on the upload link.
    pub fn send(&mut self, to: PeerId, msg: Msg) {
        self.out.sends.push((to, msg));
    }
    /// Arms a timer that fires at `at` (immediately if `at <= now`). Timers are
    /// never cancelled: a protocol ignores the ones it no longer needs.
    pub fn timer_at(&mut self, at: Time, timer: T) {
        self.out.timers.push((at, timer));
    }
    /// Arms a timer that fires `after` from now.
    pub fn timer_in(&mut self, after: Time, timer: T) {
        let at = self.now + after;
        self.out.timers.push((at, timer));
    }
    pub fn record(&mut self, r: Record) {
        self.out.records.push(r);
    }
    /// Records made so far in this call's outbox (a wrapper marks where its inner call began).
    pub fn records_since(&self, start: usize) -> &[Record] {
        self.out.records.get(start..).unwrap_or(&[])
    }
    pub fn records_len(&self) -> usize {
        self.out.records.len()
    }
    /// Messages queued so far in this call's outbox (a wrapper marks where its inner call began).
    pub fn sends_len(&self) -> usize {
        self.out.sends.len()
    }
    /// The queued messages, for a wrapper that rewrites what its inner protocol sent.
    pub fn sends_mut(&mut self) -> &mut Vec<(PeerId, Msg)> {
        &mut self.out.sends
    }
}

/// A sans-IO protocol node (peer, source or tracker).
pub trait Peer {
    /// The node's timer kinds; small and `Copy` so events stay small.
    /// `Send`: a multi-threaded run moves nodes' events between threads.
    type Timer: Copy + std::fmt::Debug + Send;

    /// The node comes up (joins the swarm, or starts streaming for a source).
    fn on_start(&mut self, cx: &mut Ctx<'_, Self::Timer>);
    /// A whole message arrived from `from`.
    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, Self::Timer>);
    /// A timer armed earlier fired.
    fn on_timer(&mut self, timer: Self::Timer, cx: &mut Ctx<'_, Self::Timer>);
    /// A scenario action.
    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, Self::Timer>);
    /// Cache hint from a simulator about to call this node: start loading
    /// the heap data the next call will read first ([`crate::prefetch`]).
    /// Must not change any state; the default does nothing.
    fn prefetch(&self) {}
    /// Cache hint from a simulator about to hand this node a message from
    /// `from`: what that call will read (e.g. the sender's partner record).
    /// Must not change any state; the default is [`Peer::prefetch`].
    fn prefetch_from(&self, _from: PeerId) {
        self.prefetch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_are_all_listed_once_with_distinct_names() {
        // Exhaustive: a new reason fails to compile here until it is listed.
        let position = |r: DropReason| match r {
            DropReason::FutureChunk => 0,
            DropReason::FutureMap => 1,
            DropReason::ChunkToSource => 2,
            DropReason::BadStripe => 3,
        };
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(position(*r), i, "{r:?}");
            assert!(DropReason::ALL[..i].iter().all(|q| q.name() != r.name()), "{r:?}");
        }
    }

    #[test]
    fn chunk_bytes_and_emission() {
        let s = StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) };
        assert_eq!(s.chunk_bytes(), 62_500);
        assert_eq!(s.emission(3), Time::from_secs(3));
        assert_eq!(s.newest_at(Time::from_millis(2_999)), 2);
        let odd = StreamParams { rate_bps: 1_000, chunk_duration: Time::from_millis(1) };
        assert_eq!(odd.chunk_bytes(), 1); // 1 bit rounds up to one byte
    }
}
