//! The chunk store and the player every protocol shares.
//!
//! [`SeqRing`] is a fixed-size bitset over the most recent [`SeqRing::SLOTS`]
//! sequence numbers (no allocation, slides forward as newer chunks arrive).
//! [`Player`] is the live playback model of DESIGN.md: after a start position is
//! chosen it buffers until `startup_chunks` consecutive chunks are present (or
//! `startup_timeout` passes), then plays one chunk per chunk duration; a chunk
//! absent at its deadline is skipped and recorded as missed. Lag therefore stays
//! constant once playing (live semantics, no rebuffering).

use crate::chunkmap::ChunkMap;
use crate::ids::Seq;
use crate::peer::{Ctx, Record, StreamParams};
use crate::time::Time;

/// Bitset over the newest `SLOTS` sequence numbers, indexed by `seq % SLOTS`.
#[derive(Clone)]
pub struct SeqRing {
    /// Sequence numbers below `lowest` are forgotten.
    lowest: Seq,
    bits: [u64; Self::WORDS],
}

impl Default for SeqRing {
    fn default() -> Self {
        SeqRing { lowest: 0, bits: [0; Self::WORDS] }
    }
}

impl SeqRing {
    const WORDS: usize = 8;
    /// How many consecutive sequence numbers the ring remembers.
    pub const SLOTS: u32 = 64 * Self::WORDS as u32;

    pub fn lowest(&self) -> Seq {
        self.lowest
    }
    pub fn contains(&self, seq: Seq) -> bool {
        seq >= self.lowest
            && seq - self.lowest < Self::SLOTS
            && self.bits[(seq % Self::SLOTS) as usize / 64] >> (seq % 64) & 1 == 1
    }
    /// Inserts `seq`, forgetting the oldest entries if needed; returns false if
    /// `seq` was already present or is older than the ring remembers.
    pub fn insert(&mut self, seq: Seq) -> bool {
        if seq < self.lowest {
            return false;
        }
        if seq - self.lowest >= Self::SLOTS {
            // `seq >= SLOTS` here, so this cannot overflow (even at `Seq::MAX`).
            self.advance_to(seq - (Self::SLOTS - 1));
        }
        let w = (seq % Self::SLOTS) as usize / 64;
        let b = 1u64 << (seq % 64);
        let fresh = self.bits[w] & b == 0;
        self.bits[w] |= b;
        fresh
    }
    pub fn remove(&mut self, seq: Seq) {
        if seq >= self.lowest && seq - self.lowest < Self::SLOTS {
            self.bits[(seq % Self::SLOTS) as usize / 64] &= !(1u64 << (seq % 64));
        }
    }
    /// Forgets every sequence number below `new_lowest`.
    pub fn advance_to(&mut self, new_lowest: Seq) {
        if new_lowest <= self.lowest {
            return;
        }
        if new_lowest - self.lowest >= Self::SLOTS {
            self.bits = [0; Self::WORDS];
        } else {
            for s in self.lowest..new_lowest {
                self.bits[(s % Self::SLOTS) as usize / 64] &= !(1u64 << (s % 64));
            }
        }
        self.lowest = new_lowest;
    }
    /// The entries in `[base, base + len)` as a [`ChunkMap`].
    pub fn to_map(&self, base: Seq, len: u16) -> ChunkMap {
        let mut m = ChunkMap::new(base, len);
        let lo = base.max(self.lowest);
        let hi = (base as u64 + m.len() as u64).min(self.lowest as u64 + Self::SLOTS as u64);
        for s in lo as u64..hi {
            if self.contains(s as Seq) {
                m.insert(s as Seq);
            }
        }
        m
    }
}

/// Parameters of the player (identical for every protocol).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayerParams {
    /// Consecutive chunks needed before playback starts (default 10, i.e. 10 s of 1 s chunks).
    pub startup_chunks: u32,
    /// Start playing anyway this long after the start position was chosen (default 30 s).
    pub startup_timeout: Time,
}

impl Default for PlayerParams {
    fn default() -> Self {
        PlayerParams { startup_chunks: 10, startup_timeout: Time::from_secs(30) }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PlayerState {
    /// No start position yet.
    Idle,
    /// Waiting for `[first, first + startup_chunks)`; chosen at `since`.
    Buffering { first: Seq, since: Time },
    /// Playing: chunk `next` is due at `start + (next - first) * chunk_duration`.
    Playing { first: Seq, start: Time, next: Seq },
}

/// Live player: startup buffer, deadlines, skip on miss.
#[derive(Clone)]
pub struct Player {
    params: PlayerParams,
    state: PlayerState,
}

/// What the protocol must do after a player call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerAction {
    Nothing,
    /// Arm the play timer for this instant (the next deadline).
    ArmPlay(Time),
    /// Arm the startup timeout for this instant.
    ArmStartupTimeout(Time),
}

impl Player {
    pub fn new(params: PlayerParams) -> Player {
        Player { params, state: PlayerState::Idle }
    }
    pub fn params(&self) -> &PlayerParams {
        &self.params
    }
    pub fn is_idle(&self) -> bool {
        self.state == PlayerState::Idle
    }
    pub fn is_playing(&self) -> bool {
        matches!(self.state, PlayerState::Playing { .. })
    }
    /// True while buffering and `seq` belongs to the startup buffer.
    pub fn in_startup_buffer(&self, seq: Seq) -> bool {
        matches!(self.state, PlayerState::Buffering { first, .. } if seq >= first && seq < first + self.params.startup_chunks)
    }
    /// First chunk the player still needs (the start position while buffering,
    /// the next chunk to play while playing), or `None` while idle.
    pub fn needed_from(&self) -> Option<Seq> {
        match self.state {
            PlayerState::Idle => None,
            PlayerState::Buffering { first, .. } => Some(first),
            PlayerState::Playing { next, .. } => Some(next),
        }
    }
    /// Deadline of `seq`. While buffering it is projected as if the startup
    /// buffer filled at the stream rate from now: playback would then start
    /// `startup_chunks` chunk durations from now.
    pub fn deadline(&self, seq: Seq, stream: &StreamParams, now: Time) -> Time {
        let (first, start) = match self.state {
            PlayerState::Idle => return Time::MAX,
            PlayerState::Buffering { first, .. } => {
                (first, now + Time(stream.chunk_duration.0.saturating_mul(self.params.startup_chunks as u64)))
            }
            PlayerState::Playing { first, start, .. } => (first, start),
        };
        let k = seq.saturating_sub(first) as u64;
        start + Time(stream.chunk_duration.0.saturating_mul(k))
    }
    /// Chooses where to start given the newest chunk the peer's suppliers hold:
    /// `startup_chunks` back from it, so the startup buffer is fetchable now.
    pub fn choose_start(&mut self, newest_available: Seq, now: Time) -> PlayerAction {
        if self.state != PlayerState::Idle {
            return PlayerAction::Nothing;
        }
        let first = (newest_available + 1).saturating_sub(self.params.startup_chunks.max(1));
        self.state = PlayerState::Buffering { first, since: now };
        PlayerAction::ArmStartupTimeout(now + self.params.startup_timeout)
    }
    /// Call after chunks arrive: starts playback once the startup buffer is full.
    pub fn check_startup<T>(&mut self, have: &SeqRing, cx: &mut Ctx<'_, T>) -> PlayerAction {
        if let PlayerState::Buffering { first, .. } = self.state
            && (first..first + self.params.startup_chunks).all(|s| have.contains(s))
        {
            return self.start(first, cx);
        }
        PlayerAction::Nothing
    }
    /// Call when the startup timeout fires: starts playback whatever is buffered.
    pub fn on_startup_timeout<T>(&mut self, cx: &mut Ctx<'_, T>) -> PlayerAction {
        match self.state {
            PlayerState::Buffering { first, since } if cx.now >= since + self.params.startup_timeout => {
                self.start(first, cx)
            }
            _ => PlayerAction::Nothing,
        }
    }
    fn start<T>(&mut self, first: Seq, cx: &mut Ctx<'_, T>) -> PlayerAction {
        self.state = PlayerState::Playing { first, start: cx.now, next: first };
        cx.record(Record::PlayStart { first });
        PlayerAction::ArmPlay(cx.now)
    }
    /// Call when the play timer fires: plays or skips every chunk whose deadline
    /// has come, and returns the next deadline to arm.
    pub fn on_play_timer<T>(
        &mut self,
        have: &SeqRing,
        polluted: &SeqRing,
        stream: &StreamParams,
        cx: &mut Ctx<'_, T>,
    ) -> PlayerAction {
        let PlayerState::Playing { first, start, mut next } = self.state else {
            return PlayerAction::Nothing;
        };
        let due = |s: Seq| start + Time(stream.chunk_duration.0.saturating_mul((s - first) as u64));
        while due(next) <= cx.now {
            if have.contains(next) {
                cx.record(Record::Played { seq: next, polluted: polluted.contains(next) });
            } else {
                cx.record(Record::Missed { seq: next });
            }
            next += 1;
        }
        self.state = PlayerState::Playing { first, start, next };
        PlayerAction::ArmPlay(due(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PeerId;
    use crate::peer::Outbox;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ring_forgets_old_entries_when_sliding() {
        let mut r = SeqRing::default();
        assert!(r.insert(3));
        assert!(!r.insert(3));
        assert!(r.insert(3 + SeqRing::SLOTS));
        assert!(!r.contains(3));
        assert!(r.contains(3 + SeqRing::SLOTS));
        assert!(!r.insert(2), "older than the ring remembers");
        let m = r.to_map(SeqRing::SLOTS, 10);
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![SeqRing::SLOTS + 3]);
    }

    proptest! {
        #[test]
        fn ring_matches_a_set_of_the_newest_slots(xs in proptest::collection::vec(0u32..3000, 1..200)) {
            let mut r = SeqRing::default();
            let mut model = std::collections::BTreeSet::new();
            for &x in &xs {
                r.insert(x);
                if x >= r.lowest() { model.insert(x); }
                let lo = r.lowest();
                model.retain(|&s| s >= lo);
            }
            for s in 0..3200u32 {
                prop_assert_eq!(r.contains(s), model.contains(&s), "seq {}", s);
            }
        }
    }

    #[test]
    fn player_buffers_then_plays_and_skips_missing_chunks() {
        let stream = StreamParams { rate_bps: 8000, chunk_duration: Time::from_secs(1) };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out: Outbox<()> = Outbox::default();
        let mut p = Player::new(PlayerParams { startup_chunks: 2, startup_timeout: Time::from_secs(10) });
        let mut have = SeqRing::default();
        let none = SeqRing::default();
        assert_eq!(p.choose_start(11, Time::ZERO), PlayerAction::ArmStartupTimeout(Time::from_secs(10)));
        assert_eq!(p.needed_from(), Some(10));
        have.insert(10);
        let mut cx = Ctx::new(Time::from_secs(1), PeerId(5), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.check_startup(&have, &mut cx), PlayerAction::Nothing);
        have.insert(11);
        assert_eq!(p.check_startup(&have, &mut cx), PlayerAction::ArmPlay(Time::from_secs(1)));
        // Deadlines: 10 at 1 s, 11 at 2 s, 12 at 3 s (absent).
        let mut cx = Ctx::new(Time::from_secs(3), PeerId(5), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.on_play_timer(&have, &none, &stream, &mut cx), PlayerAction::ArmPlay(Time::from_secs(4)));
        assert_eq!(
            out.records,
            vec![
                Record::PlayStart { first: 10 },
                Record::Played { seq: 10, polluted: false },
                Record::Played { seq: 11, polluted: false },
                Record::Missed { seq: 12 },
            ]
        );
    }

    #[test]
    fn startup_timeout_starts_with_a_partial_buffer() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out: Outbox<()> = Outbox::default();
        let mut p = Player::new(PlayerParams { startup_chunks: 3, startup_timeout: Time::from_secs(4) });
        p.choose_start(2, Time::from_secs(1));
        let mut early = Ctx::new(Time::from_secs(2), PeerId(1), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.on_startup_timeout(&mut early), PlayerAction::Nothing);
        let mut cx = Ctx::new(Time::from_secs(5), PeerId(1), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.on_startup_timeout(&mut cx), PlayerAction::ArmPlay(Time::from_secs(5)));
        assert!(p.is_playing());
    }
}
