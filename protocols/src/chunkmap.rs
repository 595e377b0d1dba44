//! Fixed-size sliding bitsets over chunk sequence numbers.
//!
//! [`ChunkMap`] is the buffer map of DONet-style protocols (which chunks a peer
//! holds in a window) and the body of batched requests. It holds up to
//! [`ChunkMap::CAPACITY`] chunks from `base`, with no heap allocation, so it can
//! travel inside messages and events cheaply.

use crate::ids::Seq;

/// A set of chunk sequence numbers in `[base, base + len)`, `len <= CAPACITY`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkMap {
    base: Seq,
    len: u16,
    bits: [u64; 4],
}

impl ChunkMap {
    /// The largest window a map can describe (and so the largest buffer-map window).
    pub const CAPACITY: u16 = 256;

    /// An empty map over `[base, base + len)`; `len` is clamped to
    /// [`Self::CAPACITY`] and so that the window ends at or before `Seq::MAX`
    /// (a map from the wire may name any base).
    pub fn new(base: Seq, len: u16) -> ChunkMap {
        ChunkMap { base, len: Self::fit(base, len), bits: [0; 4] }
    }
    fn fit(base: Seq, len: u16) -> u16 {
        let room = (Seq::MAX - base) as u64 + 1;
        (len.min(Self::CAPACITY) as u64).min(room) as u16
    }
    pub fn base(&self) -> Seq {
        self.base
    }
    pub fn len(&self) -> u16 {
        self.len
    }
    /// One past the last sequence number the window covers.
    pub fn end(&self) -> u64 {
        self.base as u64 + self.len as u64
    }
    pub fn covers(&self, seq: Seq) -> bool {
        seq >= self.base && (seq as u64) < self.end()
    }
    pub fn contains(&self, seq: Seq) -> bool {
        if !self.covers(seq) {
            return false;
        }
        let i = (seq - self.base) as usize;
        self.bits[i / 64] >> (i % 64) & 1 == 1
    }
    /// Inserts `seq`; returns false (and changes nothing) when it is outside the window.
    pub fn insert(&mut self, seq: Seq) -> bool {
        if !self.covers(seq) {
            return false;
        }
        let i = (seq - self.base) as usize;
        self.bits[i / 64] |= 1 << (i % 64);
        true
    }
    /// Sets the entries at offsets `i ..` from the base where `word` has a
    /// one bit (bit `k` is offset `i + k`); the caller keeps them within the
    /// window.
    pub(crate) fn or_word(&mut self, i: u32, word: u64) {
        let (w, off) = ((i / 64) as usize, i % 64);
        self.bits[w] |= word << off;
        if off > 0 && w + 1 < self.bits.len() {
            self.bits[w + 1] |= word >> (64 - off);
        }
    }
    pub fn remove(&mut self, seq: Seq) {
        if self.covers(seq) {
            let i = (seq - self.base) as usize;
            self.bits[i / 64] &= !(1 << (i % 64));
        }
    }
    pub fn count(&self) -> u32 {
        self.bits.iter().map(|w| w.count_ones()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }
    /// Highest sequence number present, if any.
    pub fn newest(&self) -> Option<Seq> {
        for (w, &word) in self.bits.iter().enumerate().rev() {
            if word != 0 {
                let bit = 63 - word.leading_zeros() as usize;
                return Some(self.base + (w * 64 + bit) as Seq);
            }
        }
        None
    }
    /// Sequence numbers of the window that are absent, in increasing order.
    pub fn absent(&self) -> impl Iterator<Item = Seq> + '_ {
        let mut gaps = *self;
        for (w, word) in gaps.bits.iter_mut().enumerate() {
            let start = w as u32 * 64;
            let valid = match (self.len as u32).saturating_sub(start) {
                0 => 0,
                n if n >= 64 => u64::MAX,
                n => (1u64 << n) - 1,
            };
            *word = !*word & valid;
        }
        ones(gaps.base, gaps.bits)
    }
    /// Adds every entry of `other`, which has the same base and length.
    pub fn union_with(&mut self, other: &ChunkMap) {
        debug_assert!(self.base == other.base && self.len == other.len);
        for (a, b) in self.bits.iter_mut().zip(other.bits) {
            *a |= b;
        }
    }
    /// Present sequence numbers in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = Seq> + '_ {
        ones(self.base, self.bits)
    }
    /// Raw words, bit `i` standing for `base + i` (for the codec).
    pub fn words(&self) -> &[u64; 4] {
        &self.bits
    }
    /// Builds a map from raw words; bits at or beyond `len` are cleared.
    pub fn from_words(base: Seq, len: u16, mut bits: [u64; 4]) -> ChunkMap {
        let len = Self::fit(base, len);
        for (w, word) in bits.iter_mut().enumerate() {
            let lo = w as u16 * 64;
            if len <= lo {
                *word = 0;
            } else if len < lo + 64 {
                *word &= (1u64 << (len - lo)) - 1;
            }
        }
        ChunkMap { base, len, bits }
    }
}

impl std::fmt::Debug for ChunkMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkMap[{}..{}){{", self.base, self.end())?;
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{s}")?;
        }
        write!(f, "}}")
    }
}

/// `base + i` for every one bit `i` of `bits`, in increasing order.
fn ones(base: Seq, bits: [u64; 4]) -> impl Iterator<Item = Seq> {
    (0..bits.len()).flat_map(move |w| {
        let mut word = bits[w];
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let bit = word.trailing_zeros();
            word &= word - 1;
            Some(base + (w as u32) * 64 + bit)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `absent` lists exactly the window's sequence numbers that
        /// `contains` denies, in order; `union_with` is the union.
        #[test]
        fn absent_and_union_follow_contains(
            base in prop_oneof![0u32..1000, (Seq::MAX - 300)..=Seq::MAX],
            len in 0u16..=256,
            a in proptest::collection::vec(0u32..300, 0..120),
            b in proptest::collection::vec(0u32..300, 0..120),
        ) {
            let (mut x, mut y) = (ChunkMap::new(base, len), ChunkMap::new(base, len));
            for d in a { x.insert(base.saturating_add(d)); }
            for d in b { y.insert(base.saturating_add(d)); }
            let window = base as u64..base as u64 + x.len() as u64;
            let want: Vec<Seq> = window.clone().map(|s| s as Seq).filter(|&s| !x.contains(s)).collect();
            prop_assert_eq!(x.absent().collect::<Vec<_>>(), want);
            let mut u = x;
            u.union_with(&y);
            for s in window {
                let s = s as Seq;
                prop_assert_eq!(u.contains(s), x.contains(s) || y.contains(s));
            }
        }
    }

    #[test]
    fn insert_outside_window_is_refused() {
        let mut m = ChunkMap::new(100, 10);
        assert!(m.insert(100));
        assert!(m.insert(109));
        assert!(!m.insert(110));
        assert!(!m.insert(99));
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![100, 109]);
        assert_eq!(m.newest(), Some(109));
        m.remove(109);
        assert_eq!(m.newest(), Some(100));
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_set(base in 0u32..1_000_000, len in 0u16..=256, xs in proptest::collection::vec(0u32..300, 0..80)) {
            let mut m = ChunkMap::new(base, len);
            let mut model = std::collections::BTreeSet::new();
            for x in xs {
                let s = base + x;
                let inside = x < len as u32;
                prop_assert_eq!(m.insert(s), inside);
                if inside { model.insert(s); }
            }
            prop_assert_eq!(m.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(m.count() as usize, model.len());
            prop_assert_eq!(m.newest(), model.iter().next_back().copied());
            let back = ChunkMap::from_words(m.base(), m.len(), *m.words());
            prop_assert_eq!(back, m);
        }
    }
}
