//! A compact set of node ids, for address exposure ([`crate::Collector`]).
//!
//! Every present learner keeps the set of node ids it has learned; with
//! member lists and root paths a peer learns hundreds to thousands of ids in
//! ten minutes, so these sets were the largest single item of a hybrid run's
//! memory: 112 MB of 286 MB at 10,000 peers (`results/perf/README.md`,
//! "Memory"); at 100,000 peers the quotient tables below took 0.9 GB off a
//! 2.3 GB peak ("Address-exposure sets at 10^5 peers").
//!
//! Three representations, the smallest for the set's ids (one or two probes
//! per lookup):
//!
//! - **Table**: open addressing with linear probing in a power-of-two table
//!   of `u32`, at most 3/4 full, `u32::MAX` marking an empty slot: 5.3 to
//!   10.7 bytes per id. Small sets.
//! - **Bitmap** over ids `0..=max`: one bit per id that exists so far. Node
//!   ids are dense from 0, so when a learner knows a good share of the
//!   population (at 10^4 peers, a hybrid peer learns about one id in ten)
//!   the bitmap is several times smaller than the table.
//! - **Quotient table** ([`Quot`]): a learner that knows a small share of a
//!   large population (10^5 peers and more: a hybrid peer learns one id in
//!   a hundred) keeps 16 bits per id instead of 32. Ids below `2^k` are
//!   scrambled by a bijection `h` of `k` bits; with `nb` buckets of
//!   [`BUCKET`] slots, `h` is bucket `h % nb` plus quotient `h / nb`, and a
//!   slot stores the quotient only: the bucket it sits in gives back the
//!   rest, so the set stays exact. Each id has a second bucket (cuckoo
//!   hashing: `(home + g(quotient)) % nb`) and one bit of the slot says
//!   which of its two it is in. Two buckets of 8 slots fill to 90%, so with
//!   growth by half the table takes 2.2 to 3.3 bytes per id. A lookup reads
//!   the home bucket and, unless the id is found there, the other (16 bytes
//!   each).
//!
//! A set starts as a table; when a table of at least 256 slots must grow it
//! becomes the smallest of a table twice the size, a bitmap and a quotient
//! table. A bitmap whose new ids lie far past the old ones (a long run with
//! churn) and a quotient table that fills up or meets an id of more than
//! `k` bits choose again the same way. (Chunked layouts such as Roaring
//! bitmaps were tried: smaller at 10^5 peers, but the search for the chunk
//! added dependent cache misses to every lookup, +36% CPU for a
//! 100,000-peer hybrid run.)
//!
//! Only the size and membership are used, never the iteration order, so the
//! layout does not affect any output.

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
    /// A quotient table of ids below `2^k`.
    Quot(Quot),
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

/// Slots per bucket of a [`Quot`] table (16 bytes).
const BUCKET: usize = 8;
/// A quotient table is rebuilt larger when more than 9/10 of its slots
/// would be in use, with 3/5 in use after the rebuild.
const QUOT_FULL: (usize, usize) = (9, 10);
const QUOT_REBUILT: (usize, usize) = (3, 5);
/// Evictions of one insertion before a quotient table is rebuilt larger.
const MAX_KICKS: usize = 256;
/// Odd multiplier of the bijection [`mix`], and its inverse modulo `2^32`.
const MUL: u32 = 0x9E37_79B1;
const MUL_INV: u32 = {
    // Newton's iteration doubles the correct low bits each step: 5 steps
    // from the 3 bits of `MUL` itself (an odd `m` is its own inverse mod 8).
    let mut inv = MUL;
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(MUL.wrapping_mul(inv)));
        i += 1;
    }
    inv
};

/// A bijection of `0..2^k` (`1 <= k <= 31`) that scrambles both the low and
/// the high bits of dense ids.
fn mix(x: u32, k: u32) -> u32 {
    let mask = (1u32 << k) - 1;
    let h = x.wrapping_mul(MUL) & mask;
    h ^ (h >> k.div_ceil(2))
}

/// The inverse of [`mix`]: `unmix(mix(x, k), k) == x` for `x < 2^k`.
fn unmix(h: u32, k: u32) -> u32 {
    let mask = (1u32 << k) - 1;
    // `y = h ^ (h >> s)` with `2s >= k` is undone by the same step.
    let h = h ^ (h >> k.div_ceil(2));
    h.wrapping_mul(MUL_INV) & mask
}

/// Bits of the universe of a quotient table made for ids up to `max`: as
/// many as `max` needs, at least 8. A later joiner's larger id rebuilds the
/// table once; a bit of headroom would double the fewest buckets
/// ([`quot_min_buckets`]), which at 10^6 ids (2 KB for 22 bits, 1 KB for
/// 21) is more than a learner of a few hundred ids needs.
fn quot_bits(max: u32) -> Option<u32> {
    let k = (32 - max.leading_zeros()).max(8);
    (k <= 31).then_some(k)
}

/// Fewest buckets for ids below `2^k`: a slot holds `2q + alt + 1 <= 2^16 - 1`
/// for quotients `q < 2^k / nb`.
fn quot_min_buckets(k: u32) -> usize {
    ((1usize << k).div_ceil(32_767)).max(2)
}

/// Buckets of a quotient table rebuilt for `len` ids below `2^k`.
fn quot_buckets(len: usize, k: u32) -> usize {
    (len * QUOT_REBUILT.1).div_ceil(QUOT_REBUILT.0 * BUCKET).max(quot_min_buckets(k))
}

/// `i % nb` for `i < 2 * nb`, without a division.
fn wrap(i: usize, nb: usize) -> usize {
    if i >= nb { i - nb } else { i }
}

/// A bucketed cuckoo table of 16-bit quotients (see the module documentation).
#[derive(Clone, Debug)]
struct Quot {
    /// `nb` buckets; a slot holds `2q + alt + 1` (0: empty), `q` the id's
    /// quotient and `alt` whether this is its second bucket.
    buckets: Box<[[u16; BUCKET]]>,
    /// Ids are below `2^k`.
    k: u32,
}

impl Quot {
    fn new(nb: usize, k: u32) -> Quot {
        Quot { buckets: vec![[0; BUCKET]; nb].into_boxed_slice(), k }
    }

    /// Distance from an id's home bucket to its second one (never 0).
    fn offset(&self, q: u32) -> usize {
        let nb = self.buckets.len();
        1 + ((q.wrapping_mul(0x85EB_CA6B) as u64 * (nb as u64 - 1)) >> 32) as usize
    }

    /// `x`'s home bucket, quotient and second bucket.
    fn place(&self, x: u32) -> (usize, u32, usize) {
        let nb = self.buckets.len();
        let h = mix(x, self.k) as usize;
        let (home, q) = (h % nb, (h / nb) as u32);
        (home, q, wrap(home + self.offset(q), nb))
    }

    /// Whether the id of placement `(home, q, second)` is in the table.
    fn holds(&self, (home, q, second): (usize, u32, usize)) -> bool {
        self.buckets[home].contains(&((2 * q + 1) as u16)) || self.buckets[second].contains(&((2 * q + 2) as u16))
    }

    /// The id a slot of bucket `b` holding `e` stands for.
    fn decode(&self, b: usize, e: u16) -> u32 {
        let nb = self.buckets.len();
        let (q, alt) = ((e as u32 - 1) / 2, (e as u32 - 1) % 2);
        let home = if alt == 0 { b } else { wrap(b + nb - self.offset(q), nb) };
        unmix((q as usize * nb + home) as u32, self.k)
    }

    fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .flat_map(move |(b, s)| s.iter().filter(|&&e| e != 0).map(move |&e| self.decode(b, e)))
    }

    /// Files `x` (absent, below `2^k`). `Err(y)`: the table is too full,
    /// and `y` (`x` or an id it evicted) has no slot; every other id stays.
    fn put(&mut self, x: u32) -> Result<(), u32> {
        self.put_at(self.place(x))
    }

    /// [`Quot::put`] of the id of placement `(home, q, second)`.
    fn put_at(&mut self, (home, q, second): (usize, u32, usize)) -> Result<(), u32> {
        let free = |s: &[u16; BUCKET]| s.iter().position(|&e| e == 0);
        if let Some(i) = free(&self.buckets[home]) {
            self.buckets[home][i] = (2 * q + 1) as u16;
            return Ok(());
        }
        if let Some(i) = free(&self.buckets[second]) {
            self.buckets[second][i] = (2 * q + 2) as u16;
            return Ok(());
        }
        // Evict, in turn, slot n % BUCKET of the bucket at hand to the
        // evicted id's other bucket.
        let nb = self.buckets.len();
        let (mut b, mut e) = (home, (2 * q + 1) as u16);
        for n in 0..MAX_KICKS {
            std::mem::swap(&mut self.buckets[b][n % BUCKET], &mut e);
            let (q, alt) = ((e as u32 - 1) / 2, (e as u32 - 1) % 2);
            let off = self.offset(q);
            b = if alt == 0 { wrap(b + off, nb) } else { wrap(b + nb - off, nb) };
            e = (2 * q + (1 - alt) + 1) as u16;
            if let Some(i) = free(&self.buckets[b]) {
                self.buckets[b][i] = e;
                return Ok(());
            }
        }
        Err(self.decode(b, e))
    }

    /// A cache hint for a later lookup of `x`: both its buckets.
    fn prefetch(&self, x: u32) {
        if x < 1 << self.k {
            let (home, _, second) = self.place(x);
            protocols::prefetch::prefetch(&self.buckets[home], 1);
            protocols::prefetch::prefetch(&self.buckets[second], 1);
        }
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
            Repr::Quot(t) => t.buckets.len() * BUCKET * 2,
        }
    }

    /// Inserts `x`; true when it was absent.
    pub(crate) fn insert(&mut self, x: u32) -> bool {
        match &mut self.repr {
            Repr::Bitmap(words) => {
                let w = x as usize / 64;
                if words.len() <= w {
                    if (w + 1) * 8 > 2 * Self::compact_bytes(self.len as usize + 1, x) {
                        // New ids far past the old ones (a long run with
                        // churn): a table is smaller again.
                        self.rebuild(x, 0);
                        return true;
                    }
                    // Ids arrive roughly in increasing order: grow by an eighth.
                    words.reserve_exact((w + 1 - words.len()).max(words.len() / 8));
                    words.resize(w + 1, 0);
                }
                let new = words[w] >> (x % 64) & 1 == 0;
                words[w] |= 1 << (x % 64);
                self.len += new as u32;
                new
            }
            Repr::Table { slots, has_max } => {
                if x == EMPTY {
                    let new = !*has_max;
                    *has_max = true;
                    self.len += new as u32;
                    return new;
                }
                let free = match probe(slots, x) {
                    Some(Ok(_)) => return false,
                    Some(Err(free)) => Some(free),
                    None => None,
                };
                match free {
                    Some(i) if (self.len as usize + 1) * 4 <= slots.len() * 3 => {
                        slots[i] = x;
                        self.len += 1;
                    }
                    _ => {
                        let size = (slots.len() * 2).max(8);
                        self.rebuild(x, size);
                    }
                }
                true
            }
            Repr::Quot(t) => {
                if x >> t.k != 0 {
                    self.rebuild(x, 0);
                    return true;
                }
                let at = t.place(x);
                if t.holds(at) {
                    return false;
                }
                let full = (self.len as usize + 1) * QUOT_FULL.1 > t.buckets.len() * BUCKET * QUOT_FULL.0;
                match if full { Err(x) } else { t.put_at(at) } {
                    Ok(()) => self.len += 1,
                    Err(homeless) => self.rebuild(homeless, 0),
                }
                true
            }
        }
    }

    /// Bytes of the smaller of a table and a quotient table for `len` ids
    /// up to `max`.
    fn compact_bytes(len: usize, max: u32) -> usize {
        let quot = quot_bits(max).map_or(usize::MAX, |k| quot_buckets(len, k) * BUCKET * 2);
        table_bytes(len).min(quot)
    }

    /// Counts a new id and files `x` (the new id, or for a quotient table
    /// one it evicted to make room for it) in the smallest representation of the set's
    /// ids and `x`: a table of at least `min_slots` slots, a bitmap or a
    /// quotient table (the last two only from 256 slots of table on).
    fn rebuild(&mut self, x: u32, min_slots: usize) {
        let mut ids: Vec<u32> = match &self.repr {
            Repr::Table { slots, .. } => slots.iter().copied().filter(|&y| y != EMPTY).collect(),
            Repr::Bitmap(words) => {
                (0..words.len() * 64).filter(|&y| words[y / 64] >> (y % 64) & 1 == 1).map(|y| y as u32).collect()
            }
            Repr::Quot(t) => t.ids().collect(),
        };
        let has_max = matches!(self.repr, Repr::Table { has_max: true, .. }) || x == EMPTY;
        if x != EMPTY {
            ids.push(x);
        }
        self.len += 1;
        let n = ids.len();
        let max = ids.iter().copied().max().unwrap_or(0);
        let slots = (n * 4).div_ceil(3).next_power_of_two().max(min_slots).max(8);
        let bitmap = (max as usize / 64 + 1) * 8;
        let quot = quot_bits(max).filter(|_| !has_max && slots >= MIN_BITMAP_SLOTS);
        let quot_bytes = quot.map_or(usize::MAX, |k| quot_buckets(n, k) * BUCKET * 2);
        self.repr = if !has_max && slots >= MIN_BITMAP_SLOTS && bitmap <= (slots * 4).min(quot_bytes) {
            let mut bits = vec![0u64; max as usize / 64 + 1];
            for y in ids {
                bits[y as usize / 64] |= 1 << (y % 64);
            }
            Repr::Bitmap(bits)
        } else if let Some(k) = quot.filter(|_| quot_bytes < slots * 4) {
            let mut nb = quot_buckets(n, k);
            loop {
                let mut t = Quot::new(nb, k);
                if ids.iter().all(|&y| t.put(y).is_ok()) {
                    break Repr::Quot(t);
                }
                nb += nb / 2;
            }
        } else {
            let mut table = vec![EMPTY; slots].into_boxed_slice();
            for y in ids {
                put(&mut table, y);
            }
            Repr::Table { slots: table, has_max }
        };
    }

    /// Whether `x` is in the set.
    #[cfg(test)]
    fn contains(&self, x: u32) -> bool {
        match &self.repr {
            Repr::Bitmap(words) => words.get(x as usize / 64).is_some_and(|w| w >> (x % 64) & 1 == 1),
            Repr::Table { has_max, .. } if x == EMPTY => *has_max,
            Repr::Table { slots, .. } => matches!(probe(slots, x), Some(Ok(_))),
            Repr::Quot(t) => x >> t.k == 0 && t.holds(t.place(x)),
        }
    }

    /// A cache hint for a later [`IdSet::insert`] of `x`: its slot, word or
    /// buckets.
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
            Repr::Quot(t) => t.prefetch(x),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every representation and every change between them answers as a
        /// set does: runs of dense ids (joiners), scattered ids in a
        /// universe of up to 2^24, repeats and the empty marker.
        #[test]
        fn an_id_set_is_a_set(parts in proptest::collection::vec(
            (0u32..4, 0u32..1 << 24, 1usize..3_000), 1..6)) {
            let mut ids = Vec::new();
            for (kind, base, n) in parts {
                match kind {
                    0 => ids.extend(base..base + n as u32),
                    1 => ids.extend(lcg(base).take(n).map(|x| (x >> 7) % (base + 1))),
                    2 => ids.extend(lcg(base).take(n).map(|x| x >> 8)),
                    _ => ids.extend([u32::MAX, base, u32::MAX - 1]),
                }
            }
            let mut s = IdSet::default();
            let mut model = std::collections::BTreeSet::new();
            for &id in &ids {
                prop_assert_eq!(s.insert(id), model.insert(id), "insert {}", id);
            }
            prop_assert_eq!(s.len() as usize, model.len());
            for &id in ids.iter().chain(&[0, 1, 1 << 24, u32::MAX - 2]) {
                prop_assert_eq!(s.contains(id), model.contains(&id), "contains {}", id);
                prop_assert_eq!(s.contains(id.wrapping_add(1)), model.contains(&id.wrapping_add(1)));
            }
        }
    }

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
    fn a_learner_of_a_small_share_of_a_large_population_keeps_16_bits_per_id() {
        // 3,000 draws among 2,000,000 ids: a table would take 4,096 slots of
        // 4 bytes (16 KB), a bitmap 250 KB.
        let s = check_against_a_model(lcg(3).take(3_000).map(|x| x % 2_000_000));
        let Repr::Quot(t) = &s.repr else { panic!("a quotient table") };
        assert_eq!(t.k, 21);
        let per_id = s.heap_bytes() as f64 / s.len() as f64;
        assert!((2.2..=3.4).contains(&per_id), "{per_id} bytes per id");
    }

    #[test]
    fn a_learner_of_a_few_hundred_of_a_million_ids_takes_a_kilobyte() {
        // 300 draws among 2,000,000 ids: the fewest buckets for 21 bits (65
        // of 16 bytes); with one bit of headroom it took 129 (2,064 bytes).
        let s = check_against_a_model(lcg(5).take(300).map(|x| x % 2_000_000));
        assert!(matches!(s.repr, Repr::Quot(_)), "a quotient table");
        assert!(s.heap_bytes() <= 65 * 16, "{}", s.heap_bytes());
    }

    #[test]
    fn a_small_set_stays_a_table() {
        let s = check_against_a_model(lcg(3).take(150).map(|x| x % 2_000_000));
        let Repr::Table { slots, .. } = &s.repr else { panic!("a table") };
        assert!(slots.len().is_power_of_two() && s.len() as usize * 4 <= slots.len() * 3);
    }

    #[test]
    fn a_quotient_table_grows_through_many_rebuilds_and_evictions() {
        // 60,000 draws among 10,000,000 ids (some repeated), in random order.
        let s = check_against_a_model(lcg(11).take(60_000).map(|x| (x >> 3) % 10_000_000));
        let Repr::Quot(t) = &s.repr else { panic!("a quotient table") };
        let used = t.buckets.iter().flatten().filter(|&&e| e != 0).count();
        assert_eq!(used, s.len() as usize);
        assert!(used * QUOT_FULL.1 <= t.buckets.len() * BUCKET * QUOT_FULL.0);
    }

    #[test]
    fn a_quotient_table_takes_ids_past_its_universe_and_the_empty_marker() {
        // Ids below 2^14 (a universe of 2^15), then later joiners up to 2^20.
        let small = lcg(21).take(4_000).map(|x| (x >> 5) % 16_384);
        let ids: Vec<u32> = small.chain(lcg(23).take(500).map(|x| 16_384 + (x >> 4) % 1_000_000)).collect();
        let mut s = check_against_a_model(ids.iter().copied());
        assert!(matches!(s.repr, Repr::Quot(_)), "a quotient table");
        assert!(s.insert(u32::MAX) && !s.insert(u32::MAX));
        assert!(matches!(s.repr, Repr::Table { has_max: true, .. }));
        check_against_a_model(ids.into_iter().chain([u32::MAX]));
    }

    #[test]
    fn mix_is_a_bijection_that_unmix_undoes() {
        assert_eq!(MUL.wrapping_mul(MUL_INV), 1);
        for k in 1..=16 {
            let mut seen = vec![false; 1 << k];
            for x in 0..1u32 << k {
                let h = mix(x, k);
                assert!(!std::mem::replace(&mut seen[h as usize], true), "k {k}: {x} collides");
                assert_eq!(unmix(h, k), x);
            }
        }
        for k in 17..=31 {
            for x in lcg(k).take(10_000).map(|x| x & ((1 << k) - 1)) {
                assert_eq!(unmix(mix(x, k), k), x, "k {k}");
            }
        }
    }

    #[test]
    fn a_bitmap_turns_back_into_a_table_when_new_ids_are_far_away() {
        // A bitmap over 0..4,000, then ids up to 4,000,000: a quotient table.
        let ids = (0..1_000u32).map(|i| i * 4).chain(lcg(5).take(200).map(|x| 4_000 + x % 4_000_000));
        let s = check_against_a_model(ids);
        assert!(matches!(s.repr, Repr::Quot(_)));
        assert!(s.heap_bytes() <= table_bytes(1_200), "{}", s.heap_bytes());
    }

    #[test]
    fn the_empty_marker_is_an_ordinary_member() {
        let s = check_against_a_model([5, u32::MAX, 5, u32::MAX, 6].into_iter().chain(lcg(1).take(500)));
        assert!(s.contains(u32::MAX));
    }
}
