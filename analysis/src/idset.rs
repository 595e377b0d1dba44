//! A compact set of node ids, for address exposure ([`crate::Collector`]).
//!
//! Every present learner keeps the set of node ids it has learned; with
//! member lists and root paths a peer learns hundreds to thousands of ids in
//! ten minutes, so these sets were the largest single item of a hybrid run's
//! memory: 112 MB of 286 MB at 10,000 peers (`results/perf/memory.md`).
//!
//! Two representations, both one probe per lookup in the common case:
//!
//! - **Table**: open addressing with linear probing in a power-of-two table
//!   of `u32`, at most 3/4 full, `u32::MAX` marking an empty slot: 5.3 to
//!   10.7 bytes per id.
//! - **Bitmap** over ids `0..=max`: one bit per id that exists so far. Node
//!   ids are dense from 0, so when a learner knows a good share of the
//!   population (at 10^4 peers, a hybrid peer learns about one id in ten)
//!   the bitmap is several times smaller than the table.
//!
//! A set starts as a table and becomes a bitmap when a table of at least
//! 256 slots would have to grow past the bitmap's size; it turns back into
//! a table when new ids lie so far past the old ones that the bitmap would
//! take over twice the table (a long run with churn). At 10^5 and more
//! peers a learner knows a small share of the ids and stays a table. (Chunked layouts such as Roaring bitmaps were tried: smaller at
//! 10^5 peers, but the search for the chunk added dependent cache misses to
//! every lookup, +36% CPU for a 100,000-peer hybrid run.)
//!
//! Only the size and membership are used, never the iteration order, so the
//! hash function does not affect any output.

/// A set of `u32` ids; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdSet {
    repr: Repr,
    len: u32,
}

#[derive(Clone, Debug)]
enum Repr {
    /// Slots of the table; `has_max`: whether `u32::MAX` (the empty marker)
    /// is in the set.
    Table { slots: Box<[u32]>, has_max: bool },
    /// Bit `x` of the words: `x` is in the set.
    Bitmap(Vec<u64>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Table { slots: Box::default(), has_max: false }
    }
}

const EMPTY: u32 = u32::MAX;
/// Smallest table (slots) that may turn into a bitmap: small sets stay
/// tables, whatever their ids.
const MIN_BITMAP_SLOTS: usize = 256;

/// Bytes of the table a set of `len` ids takes (at most 3/4 full).
fn table_bytes(len: usize) -> usize {
    4 * (len * 4).div_ceil(3).next_power_of_two().max(8)
}

fn slot(x: u32, mask: usize) -> usize {
    (x.wrapping_mul(0x9E37_79B1) as usize) & mask
}

/// Where `x` (not `EMPTY`) is in a table: `Ok(slot)` if present, else
/// `Err(the free slot it would take)`; `None` for an empty table.
fn probe(slots: &[u32], x: u32) -> Option<Result<usize, usize>> {
    let mask = slots.len().checked_sub(1)?;
    let mut i = slot(x, mask);
    loop {
        match slots[i] {
            y if y == x => return Some(Ok(i)),
            EMPTY => return Some(Err(i)),
            _ => i = (i + 1) & mask,
        }
    }
}

/// Files `x` (absent) in a table with a free slot.
fn put(slots: &mut [u32], x: u32) {
    if let Some(Err(i)) = probe(slots, x) {
        slots[i] = x;
    }
}

impl IdSet {
    /// Number of ids in the set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Table { slots, .. } => slots.len() * 4,
            Repr::Bitmap(words) => words.capacity() * 8,
        }
    }

    /// Inserts `x`; true when it was absent.
    pub(crate) fn insert(&mut self, x: u32) -> bool {
        let new = match &mut self.repr {
            Repr::Bitmap(words) => {
                let w = x as usize / 64;
                if words.len() <= w {
                    if (w + 1) * 8 > 2 * table_bytes(self.len as usize + 1) {
                        // New ids far past the old ones (a long run with
                        // churn): a table is smaller again.
                        self.turn_into_table(x);
                        self.len += 1;
                        return true;
                    }
                    // Ids arrive roughly in increasing order: grow by an eighth.
                    words.reserve_exact((w + 1 - words.len()).max(words.len() / 8));
                    words.resize(w + 1, 0);
                }
                let new = words[w] >> (x % 64) & 1 == 0;
                words[w] |= 1 << (x % 64);
                new
            }
            Repr::Table { slots, has_max } => {
                if x == EMPTY {
                    let new = !*has_max;
                    *has_max = true;
                    new
                } else {
                    let free = match probe(slots, x) {
                        Some(Ok(_)) => return false,
                        Some(Err(free)) => Some(free),
                        None => None,
                    };
                    match free {
                        Some(i) if (self.len as usize + 1) * 4 <= slots.len() * 3 => slots[i] = x,
                        _ => self.grow(x),
                    }
                    true
                }
            }
        };
        self.len += new as u32;
        new
    }

    /// Files `x` (absent) in a table that is full: into a table twice the
    /// size, or into a bitmap if that is no larger.
    fn grow(&mut self, x: u32) {
        let Repr::Table { slots, has_max } = &mut self.repr else { unreachable!("only a table grows") };
        let size = (slots.len() * 2).max(8);
        let max = slots.iter().copied().filter(|&y| y != EMPTY).chain([x]).max().unwrap_or(x);
        let words = max as usize / 64 + 1;
        if !*has_max && size >= MIN_BITMAP_SLOTS && words * 8 <= size * 4 {
            let mut bits = vec![0u64; words];
            for y in slots.iter().copied().filter(|&y| y != EMPTY).chain([x]) {
                bits[y as usize / 64] |= 1 << (y % 64);
            }
            self.repr = Repr::Bitmap(bits);
        } else {
            let old = std::mem::replace(slots, vec![EMPTY; size].into_boxed_slice());
            for y in old.iter().copied().filter(|&y| y != EMPTY) {
                put(slots, y);
            }
            put(slots, x);
        }
    }

    /// Turns a bitmap into a table holding its ids and `x` (absent).
    fn turn_into_table(&mut self, x: u32) {
        let Repr::Bitmap(words) = &self.repr else { unreachable!("only a bitmap turns back") };
        let mut slots = vec![EMPTY; table_bytes(self.len as usize + 1) / 4].into_boxed_slice();
        for (k, &w) in words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                put(&mut slots, (k * 64) as u32 + w.trailing_zeros());
                w &= w - 1;
            }
        }
        put(&mut slots, x);
        self.repr = Repr::Table { slots, has_max: false };
    }

    /// Whether `x` is in the set.
    #[cfg(test)]
    fn contains(&self, x: u32) -> bool {
        match &self.repr {
            Repr::Bitmap(words) => words.get(x as usize / 64).is_some_and(|w| w >> (x % 64) & 1 == 1),
            Repr::Table { has_max, .. } if x == EMPTY => *has_max,
            Repr::Table { slots, .. } => matches!(probe(slots, x), Some(Ok(_))),
        }
    }

    /// A cache hint for a later [`IdSet::insert`] of `x`: its slot or word.
    pub(crate) fn prefetch(&self, x: u32) {
        match &self.repr {
            Repr::Table { slots, .. } if !slots.is_empty() => {
                protocols::prefetch::prefetch(&slots[slot(x, slots.len() - 1)], 1)
            }
            Repr::Bitmap(words) => {
                if let Some(w) = words.get(x as usize / 64) {
                    protocols::prefetch::prefetch(w, 1);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_against_a_model(ids: impl Iterator<Item = u32>) -> IdSet {
        let mut s = IdSet::default();
        let mut model = std::collections::BTreeSet::new();
        for id in ids {
            assert_eq!(s.insert(id), model.insert(id), "{id}");
        }
        assert_eq!(s.len() as usize, model.len());
        let max = model.last().copied().unwrap_or(0);
        for probe in (0..max.min(3_000_000) + 100).step_by(3).chain([u32::MAX, u32::MAX - 1]) {
            assert_eq!(s.contains(probe), model.contains(&probe), "{probe}");
        }
        s
    }

    fn lcg(seed: u32) -> impl Iterator<Item = u32> {
        std::iter::successors(Some(seed), |x| Some(x.wrapping_mul(1_103_515_245).wrapping_add(12_345)))
    }

    #[test]
    fn a_learner_of_a_share_of_a_small_population_becomes_a_bitmap() {
        // 2,000 draws among 20,000 ids, then larger ids (later joiners).
        let ids = lcg(7).take(2_000).map(|x| x % 20_000).chain(lcg(9).take(300).map(|x| 20_000 + x % 5_000));
        let s = check_against_a_model(ids);
        assert!(matches!(s.repr, Repr::Bitmap(_)));
        // 25,000 bits with an eighth of slack, where a table of ~2,200 ids
        // takes 4,096 slots of 4 bytes.
        assert!(s.heap_bytes() <= 25_000 / 8 * 9 / 8 + 16, "{}", s.heap_bytes());
    }

    #[test]
    fn a_learner_of_a_small_share_of_a_large_population_stays_a_table() {
        let s = check_against_a_model(lcg(3).take(3_000).map(|x| x % 2_000_000));
        let Repr::Table { slots, .. } = &s.repr else { panic!("a table") };
        assert!(slots.len().is_power_of_two() && s.len() as usize * 4 <= slots.len() * 3);
    }

    #[test]
    fn a_bitmap_turns_back_into_a_table_when_new_ids_are_far_away() {
        // A bitmap over 0..4,000, then ids up to 4,000,000.
        let ids = (0..1_000u32).map(|i| i * 4).chain(lcg(5).take(200).map(|x| 4_000 + x % 4_000_000));
        let s = check_against_a_model(ids);
        assert!(matches!(s.repr, Repr::Table { .. }));
        assert!(s.heap_bytes() <= table_bytes(1_200), "{}", s.heap_bytes());
    }

    #[test]
    fn the_empty_marker_is_an_ordinary_member() {
        let s = check_against_a_model([5, u32::MAX, 5, u32::MAX, 6].into_iter().chain(lcg(1).take(500)));
        assert!(s.contains(u32::MAX));
    }
}
