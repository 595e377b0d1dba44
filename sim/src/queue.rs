//! The event queue: a binary min-heap ordered by `(time, insertion sequence)`.
//!
//! Equal-time events pop in the order they were pushed (FIFO ties), which
//! makes runs reproducible. The heap holds 24-byte `(time, sequence, slot)`
//! entries; events live in a slab with a free list, so no allocation happens
//! per event once the slab has grown.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use protocols::Time;

/// A heap entry: 24 bytes, so sifting moves little memory; the event itself
/// stays put in a slab.
struct Entry {
    time: u64,
    seq: u64,
    slot: u32,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

/// Min-queue of events by `(time, push order)`.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), slab: Vec::new(), free: Vec::new(), seq: 0 }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, at: Time, ev: E) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(ev);
                s
            }
            None => {
                self.slab.push(Some(ev));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Entry { time: at.0, seq: self.seq, slot });
        self.seq += 1;
    }
    /// Pops the earliest event if it is due at or before `limit`.
    pub fn pop_until(&mut self, limit: Time) -> Option<(Time, E)> {
        if self.heap.peek()?.time > limit.0 {
            return None;
        }
        let e = self.heap.pop()?;
        self.free.push(e.slot);
        let ev = self.slab[e.slot as usize].take()?;
        Some((Time(e.time), ev))
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    /// Events still queued, in no particular order (for end-of-run accounting only).
    pub fn iter_unordered(&self) -> impl Iterator<Item = (Time, &E)> {
        self.heap.iter().filter_map(|e| self.slab[e.slot as usize].as_ref().map(|ev| (Time(e.time), ev)))
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
