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
        let lo = base.max(self.lowest) as u64;
        let hi = (base as u64 + m.len() as u64).min(self.lowest as u64 + Self::SLOTS as u64);
        // Up to 64 entries at a time (a buffer map is built every second by
        // every peer; bit by bit this was a few percent of a run).
        let mut s = lo;
        while s < hi {
            let n = (hi - s).min(64) as u32;
            m.or_word((s - base as u64) as u32, self.word(s as Seq, n));
            s += n as u64;
        }
        m
    }

    /// The entries `seq .. seq + n` (`1 <= n <= 64`, all within the ring's
    /// range) as the low `n` bits of a word.
    fn word(&self, seq: Seq, n: u32) -> u64 {
        let p = seq % Self::SLOTS;
        let (w, off) = (p as usize / 64, p % 64);
        let mut v = self.bits[w] >> off;
        if off > 0 {
            v |= self.bits[(w + 1) % Self::WORDS] << (64 - off);
        }
        if n < 64 { v & ((1u64 << n) - 1) } else { v }
    }
}

/// Parameters of the player (identical for every protocol).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayerParams {
    /// Consecutive chunks needed before playback starts (default 10, i.e. 10 s of 1 s chunks).
    pub startup_chunks: u32,
    /// Start playing anyway this long after the start position was chosen (default 30 s).
    pub startup_timeout: Time,
    /// What the player does when the next chunk is missing at its deadline:
    /// `None` skips it (a live player that keeps the schedule; the default),
    /// `Some(n)` stalls and re-buffers until the `n` chunks from the missing
    /// one are held, then resumes with every later deadline shifted by the
    /// stall. A stall longer than `startup_timeout` gives up on the missing
    /// chunks: it resumes at the first held chunk after them once the `n`
    /// chunks from there are held (the skipped ones count as missed).
    pub rebuffer_chunks: Option<u32>,
}

impl Default for PlayerParams {
    fn default() -> Self {
        PlayerParams { startup_chunks: 10, startup_timeout: Time::from_secs(30), rebuffer_chunks: None }
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
    /// Re-buffering (`rebuffer_chunks`): chunk `at` was missing at its
    /// deadline; stalled since `since`.
    Stalled { at: Seq, since: Time },
}

/// Live player: startup buffer, deadlines, skip or re-buffer on a miss.
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
    /// Started: playing, or stalled while re-buffering.
    pub fn is_playing(&self) -> bool {
        matches!(self.state, PlayerState::Playing { .. } | PlayerState::Stalled { .. })
    }
    /// Stalled, re-buffering.
    pub fn is_stalled(&self) -> bool {
        matches!(self.state, PlayerState::Stalled { .. })
    }
    /// True while buffering (or re-buffering) and `seq` belongs to the buffer it waits for.
    pub fn in_startup_buffer(&self, seq: Seq) -> bool {
        match self.state {
            PlayerState::Buffering { first, .. } => seq >= first && seq < first + self.params.startup_chunks,
            PlayerState::Stalled { at, .. } => seq >= at && seq < at + self.params.rebuffer_chunks.unwrap_or(1).max(1),
            _ => false,
        }
    }
    /// First chunk the player still needs (the start position while buffering,
    /// the next chunk to play while playing), or `None` while idle.
    pub fn needed_from(&self) -> Option<Seq> {
        match self.state {
            PlayerState::Idle => None,
            PlayerState::Buffering { first, .. } => Some(first),
            PlayerState::Playing { next, .. } => Some(next),
            PlayerState::Stalled { at, .. } => Some(at),
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
            PlayerState::Stalled { at, .. } => {
                let n = self.params.rebuffer_chunks.unwrap_or(1).max(1) as u64;
                (at, now + Time(stream.chunk_duration.0.saturating_mul(n)))
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
    /// While buffering, moves the start position forward to `first` (a
    /// startup buffer with a hole that will not be filled). The startup
    /// timeout still counts from the first choice of a start: moving the
    /// buffer does not make the peer wait longer than `startup_timeout` in
    /// all. Does nothing in any other state or if `first` is not ahead.
    pub fn move_start(&mut self, first: Seq) {
        if let PlayerState::Buffering { first: old, since } = self.state
            && first > old
        {
            self.state = PlayerState::Buffering { first, since };
        }
    }
    /// Call after chunks arrive: starts playback once the startup buffer is
    /// full, or resumes a stall once the re-buffer is.
    pub fn check_startup<T>(&mut self, have: &SeqRing, cx: &mut Ctx<'_, T>) -> PlayerAction {
        match self.state {
            PlayerState::Buffering { first, .. }
                if (first..first + self.params.startup_chunks).all(|s| have.contains(s)) =>
            {
                self.start(first, cx)
            }
            PlayerState::Stalled { at, since } => {
                let n = self.params.rebuffer_chunks.unwrap_or(1).max(1);
                let from = if cx.now >= since + self.params.startup_timeout {
                    // Given up on the missing chunks: resume at the first held one after them.
                    match (at..at.saturating_add(SeqRing::SLOTS)).find(|&s| have.contains(s)) {
                        Some(s) => s,
                        None => return PlayerAction::Nothing,
                    }
                } else {
                    at
                };
                if (from..from + n).all(|s| have.contains(s)) {
                    self.resume(at, from, cx)
                } else {
                    PlayerAction::Nothing
                }
            }
            _ => PlayerAction::Nothing,
        }
    }
    /// Call when the startup timeout fires: starts playback whatever is
    /// buffered, or lets a stall give up on its missing chunks.
    pub fn on_startup_timeout<T>(&mut self, have: &SeqRing, cx: &mut Ctx<'_, T>) -> PlayerAction {
        match self.state {
            PlayerState::Buffering { first, since } if cx.now >= since + self.params.startup_timeout => {
                self.start(first, cx)
            }
            PlayerState::Stalled { since, .. } if cx.now >= since + self.params.startup_timeout => {
                self.check_startup(have, cx)
            }
            _ => PlayerAction::Nothing,
        }
    }
    /// Ends a stall at `at`: playback resumes now at `from` (the chunks in
    /// between, if it gave up on them, are missed).
    fn resume<T>(&mut self, at: Seq, from: Seq, cx: &mut Ctx<'_, T>) -> PlayerAction {
        for seq in at..from {
            cx.record(Record::Missed { seq });
        }
        self.state = PlayerState::Playing { first: from, start: cx.now, next: from };
        cx.record(Record::Resume { seq: from });
        PlayerAction::ArmPlay(cx.now)
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
            } else if self.params.rebuffer_chunks.is_some() {
                self.state = PlayerState::Stalled { at: next, since: cx.now };
                cx.record(Record::Stall { seq: next });
                return PlayerAction::ArmStartupTimeout(cx.now + self.params.startup_timeout);
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

    proptest! {
        /// The word-wise map equals the entry-by-entry definition, for any
        /// ring (slid forward by inserts far ahead) and any window.
        #[test]
        fn to_map_matches_entries(
            seqs in proptest::collection::vec(0u32..3000, 0..300),
            base in 0u32..3200,
            len in 0u16..=256,
        ) {
            let mut ring = SeqRing::default();
            for s in seqs {
                ring.insert(s);
            }
            let mut want = ChunkMap::new(base, len);
            for s in base as u64..base as u64 + want.len() as u64 {
                if ring.contains(s as Seq) {
                    want.insert(s as Seq);
                }
            }
            prop_assert_eq!(ring.to_map(base, len), want);
        }
    }

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
        let mut p = Player::new(PlayerParams {
            startup_chunks: 2,
            startup_timeout: Time::from_secs(10),
            rebuffer_chunks: None,
        });
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
    fn moving_the_start_keeps_the_startup_timeout_of_the_first_choice() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out: Outbox<()> = Outbox::default();
        let mut p =
            Player::new(PlayerParams { startup_chunks: 3, startup_timeout: Time::from_secs(4), rebuffer_chunks: None });
        p.move_start(9);
        assert!(p.is_idle(), "an idle player has no start to move");
        assert_eq!(p.choose_start(4, Time::from_secs(1)), PlayerAction::ArmStartupTimeout(Time::from_secs(5)));
        assert_eq!(p.needed_from(), Some(2));
        p.move_start(1);
        assert_eq!(p.needed_from(), Some(2), "never backwards");
        p.move_start(6);
        assert_eq!(p.needed_from(), Some(6));
        let mut have = SeqRing::default();
        have.insert(6);
        // Still the timeout of the choice at 1 s: not before 5 s, then start at 6.
        let mut cx = Ctx::new(Time::from_secs(4), PeerId(1), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.on_startup_timeout(&have, &mut cx), PlayerAction::Nothing);
        let mut cx = Ctx::new(Time::from_secs(5), PeerId(1), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.on_startup_timeout(&have, &mut cx), PlayerAction::ArmPlay(Time::from_secs(5)));
        assert_eq!(out.records, vec![Record::PlayStart { first: 6 }]);
        p.move_start(20);
        assert_eq!(p.needed_from(), Some(6), "a playing player keeps its position");
    }

    #[test]
    fn startup_timeout_starts_with_a_partial_buffer() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out: Outbox<()> = Outbox::default();
        let mut p =
            Player::new(PlayerParams { startup_chunks: 3, startup_timeout: Time::from_secs(4), rebuffer_chunks: None });
        p.choose_start(2, Time::from_secs(1));
        let mut early = Ctx::new(Time::from_secs(2), PeerId(1), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.on_startup_timeout(&SeqRing::default(), &mut early), PlayerAction::Nothing);
        let mut cx = Ctx::new(Time::from_secs(5), PeerId(1), &mut rng, Time::ZERO, &mut out);
        assert_eq!(p.on_startup_timeout(&SeqRing::default(), &mut cx), PlayerAction::ArmPlay(Time::from_secs(5)));
        assert!(p.is_playing());
    }

    #[test]
    fn a_rebuffering_player_stalls_on_a_miss_and_resumes_later() {
        let stream = StreamParams { rate_bps: 8000, chunk_duration: Time::from_secs(1) };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out: Outbox<()> = Outbox::default();
        let params = PlayerParams { startup_chunks: 2, startup_timeout: Time::from_secs(10), rebuffer_chunks: Some(2) };
        let mut p = Player::new(params);
        let (mut have, none) = (SeqRing::default(), SeqRing::default());
        p.choose_start(11, Time::ZERO);
        have.insert(10);
        have.insert(11);
        macro_rules! at {
            ($s:expr) => {
                &mut Ctx::new(Time::from_secs($s), PeerId(5), &mut rng, Time::ZERO, &mut out)
            };
        }
        assert_eq!(p.check_startup(&have, at!(1)), PlayerAction::ArmPlay(Time::from_secs(1)));
        // 10 at 1 s, 11 at 2 s, 12 missing at 3 s: stall instead of a miss.
        assert_eq!(
            p.on_play_timer(&have, &none, &stream, at!(3)),
            PlayerAction::ArmStartupTimeout(Time::from_secs(13))
        );
        assert!(p.is_playing() && p.is_stalled() && p.in_startup_buffer(13) && !p.in_startup_buffer(14));
        have.insert(12);
        assert_eq!(p.check_startup(&have, at!(5)), PlayerAction::Nothing, "13 missing still");
        have.insert(13);
        assert_eq!(p.check_startup(&have, at!(6)), PlayerAction::ArmPlay(Time::from_secs(6)));
        // Resumed: 12 is due now, 13 one second later.
        assert_eq!(p.on_play_timer(&have, &none, &stream, at!(7)), PlayerAction::ArmPlay(Time::from_secs(8)));
        assert_eq!(
            out.records,
            vec![
                Record::PlayStart { first: 10 },
                Record::Played { seq: 10, polluted: false },
                Record::Played { seq: 11, polluted: false },
                Record::Stall { seq: 12 },
                Record::Resume { seq: 12 },
                Record::Played { seq: 12, polluted: false },
                Record::Played { seq: 13, polluted: false },
            ]
        );
    }

    #[test]
    fn a_stall_longer_than_the_timeout_gives_up_on_the_missing_chunks() {
        let stream = StreamParams { rate_bps: 8000, chunk_duration: Time::from_secs(1) };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out: Outbox<()> = Outbox::default();
        let params = PlayerParams { startup_chunks: 1, startup_timeout: Time::from_secs(5), rebuffer_chunks: Some(2) };
        let mut p = Player::new(params);
        let (mut have, none) = (SeqRing::default(), SeqRing::default());
        p.choose_start(0, Time::ZERO);
        have.insert(0);
        macro_rules! at {
            ($s:expr) => {
                &mut Ctx::new(Time::from_secs($s), PeerId(5), &mut rng, Time::ZERO, &mut out)
            };
        }
        p.check_startup(&have, at!(0));
        p.on_play_timer(&have, &none, &stream, at!(1)); // stalls at 1
        for s in [4, 5] {
            have.insert(s);
        }
        assert_eq!(p.check_startup(&have, at!(3)), PlayerAction::Nothing, "1 may still come");
        assert_eq!(p.on_startup_timeout(&have, at!(6)), PlayerAction::ArmPlay(Time::from_secs(6)));
        assert_eq!(p.needed_from(), Some(4));
        let tail: Vec<Record> = out.records[out.records.len() - 4..].to_vec();
        assert_eq!(
            tail,
            vec![
                Record::Missed { seq: 1 },
                Record::Missed { seq: 2 },
                Record::Missed { seq: 3 },
                Record::Resume { seq: 4 }
            ]
        );
    }
}
