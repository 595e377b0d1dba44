//! How a run's nodes are split into parts, one per thread: which part holds
//! node `id` and at which index of that part's tables.
//!
//! Two layouts, both by node id alone (so every part and every collector
//! shard computes them without asking):
//! - **stride** ([`Layout::stride`]): node `id` in part `id % parts` at index
//!   `id / parts` (a shift and a mask when `parts` is a power of two). Every
//!   family's default.
//! - **weighted** ([`Layout::weighted`]): for a family whose source does a
//!   large share `h` of a run's work (client-server: the server answers every
//!   client), the source's part holds fewer of the other nodes, so the parts
//!   do about equal work. Ids are cut into blocks of `B` (a power of two,
//!   `16 * parts` rounded up, at least 64); in every block the source's part
//!   owns `c0` offsets spread evenly over it and the other parts share the
//!   rest in turn. With `P`
//!   parts, balance asks `h + w (1 - h) = (1 - h)(1 - w) / (P - 1)` for the
//!   source part's share `w` of the other nodes: `w = (1 - P h) / (P (1 - h))`,
//!   and `c0 = round(B w)`, at least one offset (the source's own) and at
//!   most `B / P`. Two small tables (`B` entries) answer `part_of` and
//!   `local`; they stay in the first-level cache.
//!
//! In both layouts a part's nodes, in increasing id order, have the indices
//! 0, 1, 2, ...: the node joining next in a part is the next id of that
//! part ([`Layout::next_in_part`]), and [`crate::Collector::merge`] walks the
//! ids once, taking each node's record from its part in order. Outputs do
//! not depend on the layout (the engine's canonical order does not look at
//! parts; `sim/tests/threads.rs`).

/// Which part holds each node, and at which index.
#[derive(Clone, Debug)]
pub struct Layout {
    parts: u32,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// Part `id % parts`, index `id / parts`; `shift = log2(parts)` when a power of two.
    Stride { shift: Option<u32> },
    /// Blocks of `1 << shift` ids; offset `o` of a block is in part `part[o]`,
    /// at position `pos[o]` among that part's `count[part]` offsets of a block.
    Blocks {
        shift: u32,
        part: Box<[u32]>,
        pos: Box<[u32]>,
        count: Box<[u32]>,
        /// Per part, its offsets of a block in increasing order.
        offsets: Box<[Box<[u32]>]>,
    },
}

impl Layout {
    /// Node `id` in part `id % parts` at index `id / parts`.
    pub fn stride(parts: u32) -> Layout {
        let parts = parts.max(1);
        Layout { parts, kind: Kind::Stride { shift: parts.is_power_of_two().then(|| parts.trailing_zeros()) } }
    }

    /// Part 0 holds node `hot` (the source) and a share of the other nodes
    /// chosen so that, if `hot` does a share `share` of all the work and the
    /// other nodes equal shares, every part does about the same (module
    /// doc). `share <= 0` or one part: [`Layout::stride`].
    pub fn weighted(parts: u32, hot: u32, share: f64) -> Layout {
        let parts = parts.max(1);
        if parts == 1 || share.is_nan() || share <= 0.0 {
            return Layout::stride(parts);
        }
        let p = parts as usize;
        let block = (16 * p).next_power_of_two().max(64);
        let h = share.min(0.999);
        let w = ((1.0 - parts as f64 * h) / (parts as f64 * (1.0 - h))).max(0.0);
        let c0 = ((block as f64 * w).round() as usize).clamp(1, block / p);
        let first = hot as usize % block;
        let mut part = vec![0u32; block];
        let mut others = 0;
        for r in 0..block {
            // Offsets counted from the hot node's (r = 0). Part 0's c0 are
            // spread evenly over the block (`ceil((r+1) c0 / B)` steps up at
            // c0 of the B offsets, r = 0 among them), so that every run of
            // ids, such as the nodes joined so far, splits about as a whole
            // block does; the other parts take the rest in turn.
            let o = (first + r) % block;
            part[o] = if ((r + 1) * c0).div_ceil(block) > (r * c0).div_ceil(block) {
                0
            } else {
                others += 1;
                1 + ((others - 1) % (p - 1)) as u32
            };
        }
        let mut count = vec![0u32; p];
        let mut pos = vec![0u32; block];
        let mut offsets = vec![Vec::new(); p];
        for (o, &k) in part.iter().enumerate() {
            pos[o] = count[k as usize];
            count[k as usize] += 1;
            offsets[k as usize].push(o as u32);
        }
        Layout {
            parts,
            kind: Kind::Blocks {
                shift: block.trailing_zeros(),
                part: part.into(),
                pos: pos.into(),
                count: count.into(),
                offsets: offsets.into_iter().map(Vec::into_boxed_slice).collect(),
            },
        }
    }

    /// Number of parts.
    pub fn parts(&self) -> u32 {
        self.parts
    }

    /// The part of node `id`.
    #[inline]
    pub fn part_of(&self, id: u32) -> usize {
        match &self.kind {
            Kind::Stride { shift: Some(_) } => (id & (self.parts - 1)) as usize,
            Kind::Stride { shift: None } => (id % self.parts) as usize,
            Kind::Blocks { shift, part, .. } => part[(id & ((1 << shift) - 1)) as usize] as usize,
        }
    }

    /// Node `id`'s index in its part.
    #[inline]
    pub fn local(&self, id: u32) -> usize {
        match &self.kind {
            Kind::Stride { shift: Some(k) } => (id >> k) as usize,
            Kind::Stride { shift: None } => (id / self.parts) as usize,
            Kind::Blocks { shift, part, pos, count, .. } => {
                let o = (id & ((1 << shift) - 1)) as usize;
                (id >> shift) as usize * count[part[o] as usize] as usize + pos[o] as usize
            }
        }
    }

    /// The node at index `local` of part `part` (the inverse of
    /// [`Layout::part_of`] and [`Layout::local`]).
    pub fn global(&self, part: usize, local: usize) -> u32 {
        match &self.kind {
            Kind::Stride { .. } => (local * self.parts as usize + part) as u32,
            Kind::Blocks { shift, count, offsets, .. } => {
                let c = count[part] as usize;
                (((local / c) << shift) + offsets[part][local % c] as usize) as u32
            }
        }
    }

    /// The smallest id in part `part`.
    pub fn first(&self, part: usize) -> u32 {
        self.global(part, 0)
    }

    /// The next id after `id` in `id`'s part.
    pub fn next_in_part(&self, id: u32) -> u32 {
        self.global(self.part_of(id), self.local(id) + 1)
    }

    /// How many of the ids `0..n` are in part `part`.
    pub fn count(&self, part: usize, n: u32) -> usize {
        match &self.kind {
            Kind::Stride { .. } => n.saturating_sub(part as u32).div_ceil(self.parts) as usize,
            Kind::Blocks { shift, count, offsets, .. } => {
                let full = (n >> shift) as usize * count[part] as usize;
                let rest = n & ((1 << shift) - 1);
                full + offsets[part].iter().filter(|&&o| o < rest).count()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(l: &Layout, n: u32) {
        let mut next = vec![0usize; l.parts() as usize];
        let mut firsts = vec![None; l.parts() as usize];
        for id in 0..n {
            let p = l.part_of(id);
            assert!(p < l.parts() as usize);
            // A part's nodes, in id order, have the indices 0, 1, 2, ...
            assert_eq!(l.local(id), next[p], "id {id} part {p}");
            next[p] += 1;
            assert_eq!(l.global(p, l.local(id)), id);
            firsts[p].get_or_insert(id);
            let after = l.next_in_part(id);
            assert!(after > id);
            assert_eq!(l.part_of(after), p);
            assert!((id + 1..after).all(|j| l.part_of(j) != p), "next_in_part({id}) = {after} skips one");
        }
        for (p, &k) in next.iter().enumerate() {
            assert_eq!(l.count(p, n), k);
            if let Some(f) = firsts[p] {
                assert_eq!(l.first(p), f);
            }
        }
    }

    #[test]
    fn stride_is_id_mod_parts() {
        for parts in 1..=5 {
            let l = Layout::stride(parts);
            check(&l, 300);
            assert_eq!(l.part_of(7), (7 % parts) as usize);
            assert_eq!(l.local(7), (7 / parts) as usize);
        }
    }

    #[test]
    fn weighted_gives_the_hot_part_its_share() {
        // Two parts, the source doing a quarter of the work: its part holds a
        // third of the other nodes (w = (1 - 0.5) / (2 * 0.75)).
        let l = Layout::weighted(2, 1, 0.25);
        assert_eq!(l.part_of(1), 0);
        let n = 64_000;
        let share = l.count(0, n) as f64 / n as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.01, "{share}");
        // No share: the stride layout.
        assert_eq!(Layout::weighted(2, 1, 0.0).local(9), 4);
        // A share above 1/P: the hot part keeps one offset per block.
        let l = Layout::weighted(4, 1, 0.5);
        assert_eq!(l.count(0, 64_000), 1000);
    }

    proptest! {
        #[test]
        fn every_layout_numbers_each_part_densely(parts in 1u32..20, hot in 0u32..200, share in 0.0f64..0.9, n in 0u32..3000) {
            check(&Layout::weighted(parts, hot, share), n);
            prop_assert_eq!(Layout::weighted(parts, hot, share).part_of(hot), if parts == 1 || share <= 0.0 { (hot % parts) as usize } else { 0 });
        }
    }
}
