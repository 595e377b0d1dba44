//! The event queue: a binary min-heap ordered by `(time, insertion sequence)`.
//!
//! Equal-time events pop in the order they were pushed (FIFO ties), which
//! makes runs reproducible. Time and sequence are packed into one `u128` key
//! so a comparison is a single integer compare.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use protocols::Time;

struct Entry<E> {
    key: u128,
    ev: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> Ordering {
        o.key.cmp(&self.key) // reversed: BinaryHeap is a max-heap
    }
}

/// Min-queue of events by `(time, push order)`.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), seq: 0 }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, at: Time, ev: E) {
        let key = ((at.0 as u128) << 64) | self.seq as u128;
        self.seq += 1;
        self.heap.push(Entry { key, ev });
    }
    /// Pops the earliest event if it is due at or before `limit`.
    pub fn pop_until(&mut self, limit: Time) -> Option<(Time, E)> {
        let top = self.heap.peek()?;
        if (top.key >> 64) as u64 > limit.0 {
            return None;
        }
        self.heap.pop().map(|e| (Time((e.key >> 64) as u64), e.ev))
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    /// Events still queued, in no particular order (for end-of-run accounting only).
    pub fn iter_unordered(&self) -> impl Iterator<Item = (Time, &E)> {
        self.heap.iter().map(|e| (Time((e.key >> 64) as u64), &e.ev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    }

    #[test]
    fn pop_until_respects_the_limit() {
        let mut q = EventQueue::default();
        q.push(Time(5), 'a');
        assert!(q.pop_until(Time(4)).is_none());
        assert_eq!(q.pop_until(Time(5)), Some((Time(5), 'a')));
    }
}
