//! A compact set of node ids, for address exposure ([`crate::Collector`]).
//!
//! Every present learner keeps the set of node ids it has learned; with
//! member lists and root paths a peer learns hundreds to thousands of ids in
//! ten minutes, so these sets were the largest single item of a hybrid run's
//! memory (an open-addressing table took 5-11 bytes per id: 112 MB of 286 MB
//! at 10,000 peers, `results/perf/memory.md`).
//!
//! The layout follows Roaring bitmaps (Chambi, Lemire, Kaser, Godin,
//! "Better bitmap performance with Roaring bitmaps", Software: Practice and
//! Experience 46(5), 2016) with smaller containers: ids are split by their
//! high bits into chunks of [`CHUNK`] ids; a chunk holds its ids' low bits
//! either in a small open-addressing table of `u16` (sparse: linear probing,
//! at most 3/4 full, so one probe in the common case and 2.7-5.3 bytes per
//! id) or, past [`DENSE_AT`] ids, as a bitmap of `CHUNK` bits (512 bytes,
//! the size of the largest table). Node ids are dense from 0 and a learner
//! learns ids from the whole present population, so at 10^4 peers its chunks
//! are mostly bitmaps (about 2.5 KB per learner, whatever it knows) and at
//! 10^5 mostly tables of one or two cache lines.
//!
//! Only the size and membership are used, never the iteration order, so the
//! hash function does not affect any output.

/// Ids per chunk.
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
/// Ids per chunk above which the bitmap is no larger than the table.
const DENSE_AT: usize = CHUNK / 16 * 3 / 4;
/// Empty slot of a sparse table (low bits are below `CHUNK`).
const FREE: u16 = u16::MAX;

#[derive(Clone, Debug)]
enum Low {
    /// Open addressing: `FREE` or an id's low bits; a power-of-two length
    /// (or empty), at most 3/4 full; the second field counts the ids.
    Sparse(Box<[u16]>, u16),
    Dense(Box<[u64; CHUNK / 64]>),
}

impl Low {
    fn slot(low: u16, mask: usize) -> usize {
        (low as u32).wrapping_mul(0x9E37_79B1) as usize >> 16 & mask
    }
}

/// One chunk: its number and its ids' low bits, side by side so that the
/// search for the chunk loads its representation with it.
#[derive(Clone, Debug)]
struct Chunk {
    high: u32,
    low: Low,
}

/// A set of `u32` ids; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdSet {
    /// By increasing `high`.
    chunks: Vec<Chunk>,
    len: u32,
}

impl IdSet {
    /// Number of ids in the set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Heap bytes held (capacity, not length).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self
                .chunks
                .iter()
                .map(|c| match &c.low {
                    Low::Sparse(t, _) => t.len() * 2,
                    Low::Dense(_) => CHUNK / 8,
                })
                .sum::<usize>()
    }

    fn split(x: u32) -> (u32, u16) {
        (x >> CHUNK_BITS, (x as usize & (CHUNK - 1)) as u16)
    }

    /// Inserts `x`; true when it was absent.
    pub(crate) fn insert(&mut self, x: u32) -> bool {
        let (high, low) = Self::split(x);
        let k = match self.chunks.binary_search_by_key(&high, |c| c.high) {
            Ok(k) => k,
            Err(k) => {
                self.chunks.insert(k, Chunk { high, low: Low::Sparse(Box::default(), 0) });
                k
            }
        };
        let c = &mut self.chunks[k].low;
        let new = match c {
            Low::Dense(bits) => {
                let (w, b) = (low as usize / 64, low % 64);
                let new = bits[w] >> b & 1 == 0;
                bits[w] |= 1 << b;
                new
            }
            Low::Sparse(table, n) => {
                if !table.is_empty() {
                    let mask = table.len() - 1;
                    let mut i = Low::slot(low, mask);
                    loop {
                        match table[i] {
                            y if y == low => return false,
                            FREE => break,
                            _ => i = (i + 1) & mask,
                        }
                    }
                }
                let len = *n as usize + 1;
                if len > DENSE_AT {
                    let mut bits = Box::new([0u64; CHUNK / 64]);
                    for &y in table.iter().filter(|&&y| y != FREE).chain(std::iter::once(&low)) {
                        bits[y as usize / 64] |= 1 << (y % 64);
                    }
                    *c = Low::Dense(bits);
                } else {
                    if len * 4 > table.len() * 3 {
                        let size = (table.len() * 2).max(8);
                        let old = std::mem::replace(table, vec![FREE; size].into_boxed_slice());
                        for y in old.iter().copied().filter(|&y| y != FREE) {
                            put(table, y);
                        }
                    }
                    put(table, low);
                    *n = len as u16;
                }
                true
            }
        };
        self.len += new as u32;
        new
    }

    /// Whether `x` is in the set.
    #[cfg(test)]
    fn contains(&self, x: u32) -> bool {
        let (high, low) = Self::split(x);
        match self.chunks.binary_search_by_key(&high, |c| c.high) {
            Err(_) => false,
            Ok(k) => match &self.chunks[k].low {
                Low::Dense(bits) => bits[low as usize / 64] >> (low % 64) & 1 == 1,
                Low::Sparse(t, _) => {
                    let mask = t.len().wrapping_sub(1);
                    let mut i = Low::slot(low, mask);
                    !t.is_empty()
                        && loop {
                            match t[i] {
                                y if y == low => break true,
                                FREE => break false,
                                _ => i = (i + 1) & mask,
                            }
                        }
                }
            },
        }
    }

    /// A cache hint for a later [`IdSet::insert`] of `x`: the chunk entry
    /// where it is if every chunk up to its own is present (usual: ids are
    /// dense), which the search will load.
    pub(crate) fn prefetch(&self, x: u32) {
        let guess = (Self::split(x).0 as usize).min(self.chunks.len().wrapping_sub(1));
        if let Some(c) = self.chunks.get(guess) {
            protocols::prefetch::prefetch(c, 1);
        }
    }
}

/// Files `low` in a table with a free slot.
fn put(table: &mut [u16], low: u16) {
    let mask = table.len() - 1;
    let mut i = Low::slot(low, mask);
    while table[i] != FREE {
        i = (i + 1) & mask;
    }
    table[i] = low;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_set_across_containers_and_representations() {
        let mut s = IdSet::default();
        let mut model = std::collections::BTreeSet::new();
        let mut x: u32 = 12345;
        // Dense in chunks 0 and 1 (past DENSE_AT), sparse above, and the extremes.
        for _ in 0..40_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let id = match x % 4 {
                0 | 1 => x % 8_000,
                2 => 8_192 + x % 2_000_000,
                _ => x,
            };
            assert_eq!(s.insert(id), model.insert(id), "{id}");
        }
        for id in [0, u32::MAX, 65_535, 65_536] {
            assert_eq!(s.insert(id), model.insert(id), "{id}");
        }
        assert_eq!(s.len() as usize, model.len());
        for probe in (0..300_000).step_by(7).chain([u32::MAX, u32::MAX - 1]) {
            assert_eq!(s.contains(probe), model.contains(&probe), "{probe}");
        }
        assert!(matches!(s.chunks[0].low, Low::Dense(_)), "chunk 0 holds > {DENSE_AT} ids");
        assert!(s.chunks.iter().map(|c| &c.low).skip(2).any(|c| matches!(c, Low::Sparse(_, n) if *n > 1)));
        for c in &s.chunks {
            if let Low::Sparse(t, n) = &c.low {
                assert!(t.len().is_power_of_two() && *n as usize * 4 <= t.len() * 3);
            }
        }
        assert!(s.chunks.windows(2).all(|w| w[0].high < w[1].high));
    }

    #[test]
    fn sparse_sets_take_a_few_bytes_per_id() {
        let mut s = IdSet::default();
        // 3,000 ids spread over 200 chunks: 15 per chunk, all sparse.
        for i in 0..3_000u32 {
            s.insert(i * 273 % 819_200);
        }
        assert_eq!(s.len(), 3_000);
        assert!(s.chunks.iter().map(|c| &c.low).all(|c| matches!(c, Low::Sparse(..))));
        // 2 bytes per slot (15 ids in 32 slots) and 32 bytes of index per
        // chunk (of 256 reserved): under 7 bytes per id, where the
        // single table took 8 to 16 (4,096 or 8,192 slots of 4 bytes).
        let bytes = s.heap_bytes();
        assert!(bytes <= 200 * 64 + 256 * 32, "{bytes}");
    }

    #[test]
    fn a_learner_of_a_small_population_costs_its_bitmaps() {
        let mut s = IdSet::default();
        let mut x: u32 = 7;
        // 2,000 distinct ids among 20,000 (5 chunks): every chunk dense.
        while s.len() < 2_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            s.insert(x % 20_000);
        }
        assert!(s.chunks.iter().map(|c| &c.low).all(|c| matches!(c, Low::Dense(_))));
        let bytes = s.heap_bytes();
        // 5 bitmaps of 512 bytes and an index of 8 chunks' capacity.
        assert!(bytes <= 5 * 512 + 8 * 32, "{bytes}");
    }
}
