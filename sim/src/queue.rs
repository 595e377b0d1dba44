//! The event queue: a monotone radix heap ordered by `(time, insertion sequence)`.
//!
//! Contract: [`EventQueue::pop_until`] returns events in increasing time, and
//! events with equal times in the order they were pushed (FIFO ties), exactly;
//! runs are reproducible because of it.
//!
//! # Data structure
//!
//! A radix heap (Ahuja, Mehlhorn, Orlin, Tarjan 1990, "Faster algorithms for
//! the shortest path problem", J. ACM 37(2)) with 256-way digits instead of
//! binary ones, i.e. the multi-level buckets of Denardo and Fox (1979; see
//! Cherkassky, Goldberg, Silverstein 1999, "Buckets, heaps, lists, and
//! monotone priority queues"). It exploits what a discrete-event simulator
//! guarantees: no event is scheduled before the last one popped (the engine
//! pushes at `at.max(now)`). Let `last` be the time of the last popped event.
//!
//! - Events at `last` wait in `due`, a FIFO.
//! - Any other time `t > last` goes to bucket `(level, digit)`: `level` is the
//!   highest 8-bit digit in which `t` and `last` differ, `digit` is `t`'s value
//!   in it. Buckets in index order hold disjoint, increasing ranges of times,
//!   so the first non-empty bucket holds the earliest events. Each bucket keeps
//!   its minimum time; a bitmap finds the first non-empty one.
//! - To pop with `due` empty: take the first non-empty bucket, set `last` to its
//!   minimum, and redistribute its events. They now agree with `last` in that
//!   digit, so each lands on a lower level (the minimum ones in `due`). A
//!   bucket holding a single event hands it out directly. An event is filed at
//!   most 9 times (once per level, then `due`); with PHOLD's 1 ms delays about
//!   3 times, in sequential memory, where a binary heap of 10^5 to 10^7 events
//!   takes 17 to 23 dependent, mostly cache-missing steps per pop.
//!
//! FIFO ties need no sequence numbers: equal times always share one bucket;
//! a push appends; a redistribution moves a whole bucket, in order, into
//! buckets that are empty (it is the first non-empty one, and `due` is empty).
//! So within a bucket, events of equal time stay in push order.
//!
//! Buckets are linked lists of fixed-size blocks (as in calendar and ladder
//! queues: Brown 1988, Tang, Goh, Thng 2005) carved from one arena; a drained
//! block returns to a free list and is reused first, while still in cache.
//! Memory is the live events plus at most one partly filled block per
//! non-empty bucket. (A vector per bucket is up to 2x faster for tiny events
//! at 10^7 events, but keeps every bucket's high-water mark: 2.8 times the
//! live events after a short PHOLD run, growing as time sweeps the digits.)
//! Nothing is allocated per event once the arena has grown to the largest
//! queue seen.
//!
//! Pushing an event earlier than `last` breaks the engine's contract, but stays
//! correct: the queue is rebuilt around the new minimum (O(n), allocating).
//!
//! Measurements (PHOLD against the previous binary heap and a plain
//! `BinaryHeap`): `results/perf/phold.md`.

use std::collections::VecDeque;

use protocols::Time;

/// Bits per digit: 8 levels of 256 buckets for 64-bit times.
const DIGIT_BITS: u32 = 8;
const RADIX: usize = 1 << DIGIT_BITS;
const BUCKETS: usize = (u64::BITS / DIGIT_BITS) as usize * RADIX;
/// Events per block.
const BLOCK: usize = 32;
/// No block.
const NIL: u32 = u32::MAX;

/// A list of blocks holding events of one time range.
#[derive(Clone, Copy)]
struct Bucket {
    head: u32,
    tail: u32,
    /// Events in the tail block; `BLOCK` when the bucket is empty, so that the
    /// first push links a block.
    fill: u32,
    /// Earliest time in the bucket (`u64::MAX` when empty).
    min: u64,
}

const EMPTY: Bucket = Bucket { head: NIL, tail: NIL, fill: BLOCK as u32, min: u64::MAX };

/// Min-queue of events by `(time, push order)`.
pub struct EventQueue<E> {
    /// Time of the last popped event; no queued event is earlier.
    last: u64,
    /// Events at `last`, in push order.
    due: VecDeque<E>,
    buckets: Vec<Bucket>,
    /// Bit `b` set when bucket `b` is not empty.
    occupied: [u64; BUCKETS / 64],
    /// The arena: block `i` is `slots[i * BLOCK..(i + 1) * BLOCK]`; a slot is
    /// `None` when free or already moved.
    slots: Vec<Option<(u64, E)>>,
    /// Per block: the next block of its bucket, or `NIL`.
    next: Vec<u32>,
    /// Free blocks; the last one pushed is reused first.
    free: Vec<u32>,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            last: 0,
            due: VecDeque::new(),
            buckets: vec![EMPTY; BUCKETS],
            occupied: [0; BUCKETS / 64],
            slots: Vec::new(),
            next: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Queues `ev` at `at`, after any event already queued at `at`.
    pub fn push(&mut self, at: Time, ev: E) {
        if at.0 < self.last {
            self.rebuild(at.0);
        }
        self.len += 1;
        self.put(at.0, ev);
    }

    /// Pops the earliest event if it is due at or before `limit`.
    pub fn pop_until(&mut self, limit: Time) -> Option<(Time, E)> {
        if self.due.is_empty() {
            let b = self.first_bucket()?;
            let min = self.buckets[b].min;
            if min > limit.0 {
                return None;
            }
            self.last = min;
            let bucket = self.buckets[b];
            if bucket.head == bucket.tail && bucket.fill == 1 {
                // A lone event, the common case on the lowest level: skip `due`.
                self.take_bucket(b);
                self.free.push(bucket.head);
                self.len -= 1;
                let ev = self.slots[bucket.head as usize * BLOCK].take().map(|(t, ev)| (Time(t), ev));
                self.prefetch_next();
                return ev;
            }
            self.drain(b, |q, t, ev| q.put(t, ev));
        } else if self.last > limit.0 {
            return None;
        }
        let ev = self.due.pop_front()?;
        self.len -= 1;
        Some((Time(self.last), ev))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Events still queued, in no particular order (for end-of-run accounting only).
    pub fn iter_unordered(&self) -> impl Iterator<Item = (Time, &E)> {
        let last = Time(self.last);
        let queued = self.slots.iter().filter_map(|s| s.as_ref().map(|(t, ev)| (Time(*t), ev)));
        self.due.iter().map(move |ev| (last, ev)).chain(queued)
    }

    /// Files an event at `t >= last` (the length is the caller's business).
    #[inline(always)]
    fn put(&mut self, t: u64, ev: E) {
        let diff = t ^ self.last;
        if diff == 0 {
            self.due.push_back(ev);
            return;
        }
        let level = (u64::BITS - 1 - diff.leading_zeros()) / DIGIT_BITS;
        let b = ((level as usize) << DIGIT_BITS) | ((t >> (level * DIGIT_BITS)) as usize & (RADIX - 1));
        if self.buckets[b].fill as usize == BLOCK {
            self.link_block(b);
        }
        let bucket = &mut self.buckets[b];
        let old = self.slots[bucket.tail as usize * BLOCK + bucket.fill as usize].replace((t, ev));
        debug_assert!(old.is_none(), "slots past a tail block's fill are free");
        std::mem::forget(old); // `None`: skips the drop check of an event type with a destructor
        bucket.fill += 1;
        bucket.min = bucket.min.min(t);
    }

    /// Appends an empty block to bucket `b`.
    fn link_block(&mut self, b: usize) {
        let block = match self.free.pop() {
            Some(block) => block,
            None => {
                let block = u32::try_from(self.next.len()).expect("fewer than 2^32 blocks");
                self.next.push(NIL);
                self.slots.resize_with(self.slots.len() + BLOCK, || None);
                block
            }
        };
        let bucket = &mut self.buckets[b];
        if bucket.tail == NIL {
            bucket.head = block;
            self.occupied[b / 64] |= 1 << (b % 64);
        } else {
            self.next[bucket.tail as usize] = block;
        }
        bucket.tail = block;
        bucket.fill = 0;
    }

    /// Cache hint: the first block of the bucket the next pop will take
    /// (with `due` empty). Its events were filed long ago, so they are out
    /// of the cache; the load starts while the caller handles this event.
    #[inline(always)]
    fn prefetch_next(&self) {
        if let Some(s) = self.first_bucket().and_then(|b| self.slots.get(self.buckets[b].head as usize * BLOCK)) {
            protocols::prefetch::prefetch(s, 2 * protocols::prefetch::LINE);
        }
    }

    /// The first non-empty bucket (it holds the earliest events).
    #[inline(always)]
    fn first_bucket(&self) -> Option<usize> {
        let w = self.occupied.iter().position(|&w| w != 0)?;
        Some(w * 64 + self.occupied[w].trailing_zeros() as usize)
    }

    /// Marks bucket `b` empty and returns what it was; its blocks are the caller's.
    #[inline(always)]
    fn take_bucket(&mut self, b: usize) -> Bucket {
        self.occupied[b / 64] &= !(1 << (b % 64));
        std::mem::replace(&mut self.buckets[b], EMPTY)
    }

    /// Empties bucket `b`, handing its events to `sink` in push order and its
    /// blocks to the free list.
    #[inline(always)]
    fn drain(&mut self, b: usize, mut sink: impl FnMut(&mut Self, u64, E)) {
        let Bucket { head, tail, fill, .. } = self.take_bucket(b);
        let mut block = head;
        while block != NIL {
            let start = block as usize * BLOCK;
            let n = if block == tail { fill as usize } else { BLOCK };
            if let Some(s) = self.slots.get(self.next[block as usize] as usize * BLOCK) {
                // Cache hint: the next block of the list.
                protocols::prefetch::prefetch(s, BLOCK * std::mem::size_of::<Option<(u64, E)>>());
            }
            for i in start..start + n {
                if let Some((t, ev)) = self.slots[i].take() {
                    sink(self, t, ev);
                }
            }
            let next = std::mem::replace(&mut self.next[block as usize], NIL);
            self.free.push(block);
            block = next;
        }
    }

    /// Re-files every event around a new `last = t` below the current one
    /// (only reached when a caller pushes into the past).
    #[cold]
    fn rebuild(&mut self, t: u64) {
        let mut all: Vec<(u64, E)> = Vec::with_capacity(self.len);
        let last = self.last;
        all.extend(self.due.drain(..).map(|ev| (last, ev)));
        for b in 0..BUCKETS {
            if self.buckets[b].head != NIL {
                self.drain(b, |_, t, ev| all.push((t, ev)));
            }
        }
        self.last = t;
        for (t, ev) in all {
            self.put(t, ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;

    /// One step of a test run.
    #[derive(Clone, Debug)]
    enum Op {
        /// Push at `now + d` (saturating), or at `d` in the non-monotone test.
        Push(u64),
        /// `pop_until(now + d)`.
        Pop(u64),
    }

    /// Spans that hit ties, every digit level, and the end of time.
    fn span() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => 0u64..3,
            4 => 0u64..5_000,
            2 => 0u64..(1 << 40),
            1 => Just(u64::MAX),
        ]
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        proptest::collection::vec(prop_oneof![3 => span().prop_map(Op::Push), 2 => span().prop_map(Op::Pop)], 0..400)
    }

    /// Runs `ops` on the queue and on a model (a map keyed by time and push
    /// number) and checks every answer, the length and (every 8 steps) the
    /// pending set. With `monotone`, pushes are never earlier than `now`,
    /// which follows the engine: the time of the last pop, or the limit of a
    /// pop that found nothing due.
    fn check(ops: &[Op], monotone: bool) -> Result<(), TestCaseError> {
        let mut q = EventQueue::default();
        let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut now = 0u64;
        for (seq, op) in (0u64..).zip(ops) {
            match *op {
                Op::Push(d) => {
                    let t = if monotone { now.saturating_add(d) } else { d };
                    q.push(Time(t), seq);
                    model.insert((t, seq), seq);
                }
                Op::Pop(d) => {
                    let limit = now.saturating_add(d);
                    let expected = match model.first_key_value() {
                        Some((&(t, _), _)) if t <= limit => model.pop_first().map(|((t, _), id)| (Time(t), id)),
                        _ => None,
                    };
                    let got = q.pop_until(Time(limit));
                    prop_assert_eq!(got, expected);
                    now = got.map_or(limit, |(t, _)| t.0);
                }
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(q.is_empty(), model.is_empty());
            if seq % 8 == 7 || seq as usize + 1 == ops.len() {
                check_pending(&q, &model)?;
            }
        }
        let mut rest = Vec::new();
        while let Some((t, id)) = q.pop_until(Time::MAX) {
            rest.push((t.0, id));
        }
        let want: Vec<(u64, u64)> = model.into_iter().map(|((t, _), id)| (t, id)).collect();
        prop_assert_eq!(rest, want);
        prop_assert!(q.is_empty());
        Ok(())
    }

    /// `iter_unordered` sees exactly the model's pending events.
    fn check_pending(q: &EventQueue<u64>, model: &BTreeMap<(u64, u64), u64>) -> Result<(), TestCaseError> {
        let mut pending: Vec<(u64, u64)> = q.iter_unordered().map(|(t, &id)| (t.0, id)).collect();
        pending.sort_unstable();
        let mut want: Vec<(u64, u64)> = model.iter().map(|(&(t, _), &id)| (t, id)).collect();
        want.sort_unstable();
        prop_assert_eq!(pending, want);
        Ok(())
    }

    proptest! {
        #[test]
        fn pops_by_time_then_fifo(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut q = EventQueue::default();
            for (i, &t) in times.iter().enumerate() {
                q.push(Time(t), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let mut got = Vec::new();
            while let Some((t, i)) = q.pop_until(Time::MAX) {
                got.push((t.0, i));
            }
            prop_assert_eq!(got, expected);
        }

        /// The engine's pattern: pushes at or after `now`, interleaved with pops.
        #[test]
        fn interleaved_monotone_matches_model(ops in ops()) {
            check(&ops, true)?;
        }

        /// Pushes into the past (outside the engine's contract) are still ordered.
        #[test]
        fn interleaved_any_order_matches_model(ops in ops()) {
            check(&ops, false)?;
        }
    }

    #[test]
    fn pop_until_respects_the_limit() {
        let mut q = EventQueue::default();
        assert!(q.pop_until(Time::MAX).is_none());
        q.push(Time(5), 'a');
        assert!(q.pop_until(Time(4)).is_none());
        assert_eq!(q.pop_until(Time(5)), Some((Time(5), 'a')));
        q.push(Time(5), 'b');
        q.push(Time(9), 'c');
        assert!(q.pop_until(Time(4)).is_none(), "an event at `last` is still not due before it");
        assert_eq!(q.pop_until(Time(8)), Some((Time(5), 'b')));
        assert!(q.pop_until(Time(8)).is_none());
        assert_eq!(q.pop_until(Time::MAX), Some((Time(9), 'c')));
        assert!(q.is_empty());
    }

    #[test]
    fn long_ties_and_full_blocks_stay_fifo() {
        // Several blocks per bucket, ties at `last`, at a far time and at the end of time.
        let mut q = EventQueue::default();
        let times = [1_000_000u64, 7, u64::MAX, 7, 1_000_000, 0];
        for i in 0..1000u32 {
            q.push(Time(times[i as usize % times.len()]), i);
        }
        let mut expected: Vec<(u64, u32)> = (0..1000).map(|i| (times[i as usize % times.len()], i)).collect();
        expected.sort();
        let got: Vec<(u64, u32)> = std::iter::from_fn(|| q.pop_until(Time::MAX)).map(|(t, i)| (t.0, i)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn blocks_are_reused() {
        // PHOLD-like steady state: the arena stops growing.
        let mut q = EventQueue::default();
        let mut x = 1u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..1000 {
            q.push(Time(rand() % 1_000_000), i);
        }
        let mut grown = 0;
        for round in 0..20 {
            let before = q.slots.len();
            for _ in 0..10_000 {
                let (t, i) = q.pop_until(Time::MAX).expect("never drains");
                q.push(Time(t.0 + 1 + rand() % 1_000_000), i);
            }
            if round >= 10 && q.slots.len() > before {
                grown += 1;
            }
        }
        assert_eq!(q.len(), 1000);
        assert!(grown <= 1, "the arena kept growing: {} slots", q.slots.len());
    }
}
