//! The five built-in chunk schedulers.
//!
//! They share one skeleton: collect the candidates some supplier advertises,
//! order them by the rule, then give each to a supplier. On top of the
//! module contract of [`super`]:
//! - urgent chunks (flagged `urgent`, or due before `now + urgent`) are
//!   considered before all others, except by `latest-useful` (below);
//! - the chosen supplier's `free_at` becomes `max(free_at, now) + transmission
//!   time of one chunk at its rate`;
//! - a candidate no supplier advertises is skipped; duplicate candidates count once;
//! - nothing is allocated beyond growing a thread-local scratch and `out`.
//!
//! They hold no state, so one value serves every peer.
//!
//! Rules:
//! - **donet** (Zhang, Liu, Li, Yum, "CoolStreaming/DONet", INFOCOM 2005):
//!   chunks with fewer potential suppliers first (rarest first; ties by earlier
//!   deadline); each goes to the supplier with the earliest expected finish that
//!   still meets the deadline, so faster, less-loaded partners win. The urgent
//!   split is ours: the paper orders by rarity only.
//! - **random** (classic baseline, as in Chainsaw's random requests): a
//!   uniformly random order of the candidates (within the urgent group, then
//!   within the rest); each goes to a uniformly random supplier among those that
//!   advertised it and can deliver it before its deadline.
//! - **rarest-first** (classic baseline, BitTorrent's rule): fewest suppliers
//!   first, ties by lower sequence number; each goes to the supplier with the
//!   earliest expected finish. Deadline-blind: it may request a chunk that
//!   cannot arrive in time, which is what distinguishes it from `donet`.
//! - **edf** (classic baseline, earliest deadline first): chunks by deadline,
//!   ties by sequence number; supplier as in `donet` (earliest expected finish
//!   that meets the deadline; otherwise the chunk is skipped).
//! - **latest-useful** (after Bonald, Massoulié, Mathieu, Perino, Twigg,
//!   "Epidemic live streaming: optimal performance trade-offs", SIGMETRICS
//!   2008, whose rule is sender-driven: a random peer gets the latest chunk it
//!   lacks; here receiver-driven): the most recent chunk first (highest
//!   sequence number), each to a uniformly random supplier that advertised it,
//!   deadline-blind. Newest-first is the rule itself, so the urgent split does
//!   not apply.
//!
//! Caveat for callers: mesh-pull batches a call's assignments per supplier in
//! one `Request` bitmap, which the supplier serves in increasing sequence
//! order; the order of assignments therefore decides supplier choice, `expect`
//! and deadline feasibility, not the order chunks leave a given supplier.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{Assignment, Candidate, SchedInput, Scheduler, Supplier};
use crate::ids::Seq;
use crate::time::Time;

/// Flag (top bit of a scratch rank) of a non-urgent chunk; the low bits hold
/// its number of potential suppliers.
const NON_URGENT: u32 = 1 << 31;

/// Suppliers whose chunk transmission time [`assign`] precomputes on the
/// stack (mesh-pull's `partners_max` is at most 256 but typically 8-16).
const TX_CACHE: usize = 64;

/// How a rule picks among the suppliers that advertised a chunk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pick {
    /// The earliest expected finish (ties: lowest index).
    Earliest,
    /// Uniformly at random.
    Random,
}

/// The five orderings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    Donet,
    Random,
    RarestFirst,
    Edf,
    LatestUseful,
}

thread_local! {
    /// `(rank, deadline, seq)` per collected candidate, reused between calls.
    static ORDER: std::cell::RefCell<Vec<(u32, Time, Seq)>> = const { std::cell::RefCell::new(Vec::new()) };
}

macro_rules! rule {
    ($(#[$doc:meta])* $name:ident, $about:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl $name {
            /// One-line description for listings.
            pub const ABOUT: &'static str = $about;
        }

        impl Scheduler for $name {
            fn schedule(
                &mut self,
                input: &SchedInput<'_>,
                suppliers: &mut [Supplier],
                out: &mut Vec<Assignment>,
                rng: &mut ChaCha8Rng,
            ) {
                ORDER.with_borrow_mut(|order| assign(Rule::$name, input, suppliers, order, out, rng));
            }
        }
    };
}

rule!(
    /// DONet's heuristic: rarest first, earliest-finishing supplier meeting the deadline.
    Donet,
    "rarest first, earliest-finishing supplier that meets the deadline (Zhang et al., INFOCOM 2005)"
);
rule!(
    /// Random order, random supplier that can meet the deadline.
    Random,
    "random order, random supplier that meets the deadline (baseline)"
);
rule!(
    /// Fewest suppliers first, earliest-finishing supplier (deadline-blind).
    RarestFirst,
    "fewest suppliers first, earliest-finishing supplier, deadline-blind (BitTorrent's rule)"
);
rule!(
    /// Earliest deadline first, earliest-finishing supplier meeting the deadline.
    Edf,
    "earliest deadline first, earliest-finishing supplier that meets the deadline (baseline)"
);
rule!(
    /// Newest chunk first, random supplier (after Bonald et al. 2008).
    LatestUseful,
    "newest chunk first, random supplier, deadline-blind (receiver-driven, after Bonald et al., SIGMETRICS 2008)"
);

/// Assigns candidates to suppliers by `rule`, appending decisions to `out`;
/// updates each chosen supplier's `free_at`. `order` is scratch space.
fn assign(
    rule: Rule,
    input: &SchedInput<'_>,
    suppliers: &mut [Supplier],
    order: &mut Vec<(u32, Time, Seq)>,
    out: &mut Vec<Assignment>,
    rng: &mut ChaCha8Rng,
) {
    let now = input.now;
    collect(now + input.urgent, input.candidates, suppliers, order);
    // Order the collected (rank, deadline, seq) entries; rank = NON_URGENT
    // flag | number of suppliers.
    let (pick, meet_deadline) = match rule {
        Rule::Donet => {
            order.sort_unstable();
            (Pick::Earliest, true)
        }
        Rule::Random => {
            order.sort_unstable_by_key(|&(r, _, seq)| (r & NON_URGENT, seq));
            let urgent_n = order.partition_point(|&(r, _, _)| r & NON_URGENT == 0);
            let (u, rest) = order.split_at_mut(urgent_n);
            shuffle(u, rng);
            shuffle(rest, rng);
            (Pick::Random, true)
        }
        Rule::RarestFirst => {
            order.sort_unstable_by_key(|&(r, _, seq)| (r, seq));
            (Pick::Earliest, false)
        }
        Rule::Edf => {
            order.sort_unstable_by_key(|&(r, deadline, seq)| (r & NON_URGENT, deadline, seq));
            (Pick::Earliest, true)
        }
        Rule::LatestUseful => {
            order.sort_unstable_by_key(|&(_, _, seq)| std::cmp::Reverse(seq));
            (Pick::Random, false)
        }
    };
    let tx_bytes = input.chunk_wire_bits / 8;
    // One chunk's transmission time per supplier, computed once per call
    // (a 128-bit division each) rather than per candidate and supplier.
    // Beyond `TX_CACHE` suppliers the rest are computed on the fly.
    let mut tx_cache = [Time::ZERO; TX_CACHE];
    for (t, s) in tx_cache.iter_mut().zip(suppliers.iter()) {
        *t = Time::transmit(tx_bytes, s.rate_bps.max(1));
    }
    let tx = |i: usize, s: &Supplier| match tx_cache.get(i) {
        Some(&t) => t,
        None => Time::transmit(tx_bytes, s.rate_bps.max(1)),
    };
    for &(_, deadline, seq) in order.iter() {
        let finish = |i: usize, s: &Supplier| s.free_at.max(now) + tx(i, s);
        let eligible = |i: usize, s: &Supplier| s.map.contains(seq) && (!meet_deadline || finish(i, s) <= deadline);
        let chosen = match pick {
            Pick::Earliest => {
                let mut best: Option<(Time, usize)> = None;
                for (i, s) in suppliers.iter().enumerate() {
                    if s.map.contains(seq) {
                        let f = finish(i, s);
                        if (!meet_deadline || f <= deadline) && best.is_none_or(|(b, _)| f < b) {
                            best = Some((f, i));
                        }
                    }
                }
                best.map(|(_, i)| i)
            }
            Pick::Random => {
                let n = suppliers.iter().enumerate().filter(|&(i, s)| eligible(i, s)).count();
                let k = if n > 1 { rng.random_range(0..n) } else { 0 };
                suppliers.iter().enumerate().filter(|&(i, s)| eligible(i, s)).nth(k).map(|(i, _)| i)
            }
        };
        if let Some(i) = chosen {
            let expect = finish(i, &suppliers[i]);
            suppliers[i].free_at = expect;
            out.push(Assignment { seq, supplier: i, expect });
        }
    }
}

/// Fills `scratch` with `(rank, deadline, seq)` for every candidate at least one
/// supplier advertises, once per sequence number. `rank` is [`NON_URGENT`]
/// (unless the chunk is flagged urgent or due by `horizon`) plus the number of
/// suppliers that advertise it.
fn collect(horizon: Time, candidates: &[Candidate], suppliers: &[Supplier], scratch: &mut Vec<(u32, Time, Seq)>) {
    scratch.clear();
    for c in candidates {
        let n = suppliers.iter().filter(|s| s.map.contains(c.seq)).count().min((NON_URGENT - 1) as usize) as u32;
        if n > 0 {
            let flag = if c.urgent || c.deadline <= horizon { 0 } else { NON_URGENT };
            scratch.push((flag | n, c.deadline, c.seq));
        }
    }
    // Callers pass candidates in increasing sequence order; anything else may
    // hold duplicates, which are merged keeping the most urgent entry.
    if !scratch.windows(2).all(|w| w[0].2 < w[1].2) {
        scratch.sort_unstable_by_key(|&(r, deadline, seq)| (seq, r, deadline));
        scratch.dedup_by_key(|e| e.2);
    }
}

/// Fisher-Yates shuffle drawing from `rng` (stable across `rand` versions'
/// shuffle implementations, as long as `random_range` is).
fn shuffle<T>(xs: &mut [T], rng: &mut ChaCha8Rng) {
    for k in (1..xs.len()).rev() {
        let j = rng.random_range(0..=k);
        xs.swap(k, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkmap::ChunkMap;
    use crate::ids::PeerId;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn map(base: Seq, seqs: &[Seq]) -> ChunkMap {
        let mut m = ChunkMap::new(base, 64);
        for &s in seqs {
            m.insert(s);
        }
        m
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn input(now: Time, urgent: Time, bits: u64, c: &[Candidate]) -> SchedInput<'_> {
        SchedInput { now, urgent, chunk_wire_bits: bits, candidates: c, playback: None, upload_backlog: Time::ZERO }
    }

    fn run(
        mut kind: impl Scheduler,
        now: Time,
        urgent: Time,
        c: &[Candidate],
        sup: &mut [Supplier],
    ) -> Vec<(Seq, usize)> {
        let mut out = Vec::new();
        kind.schedule(&input(now, urgent, 8_000, c), sup, &mut out, &mut rng());
        out.iter().map(|a| (a.seq, a.supplier)).collect()
    }

    fn cand(seq: Seq, deadline_s: u64, urgent: bool) -> Candidate {
        Candidate { seq, deadline: Time::from_secs(deadline_s), urgent }
    }

    #[test]
    fn registry_names_and_lookup() {
        let names: Vec<&str> = super::super::builtins().iter().map(|s| s.name()).collect();
        assert_eq!(names, ["donet", "random", "rarest-first", "edf", "latest-useful"]);
        for n in &names {
            assert_eq!(super::super::builtin(n).map(|s| s.name()), Some(*n));
        }
        assert!(super::super::builtin("fifo").is_none());
        assert_eq!(super::super::default_spec().name(), "donet");
    }

    #[test]
    fn donet_serves_rarest_first_and_prefers_the_faster_supplier() {
        let fast = Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[1, 2]), rate_bps: 8_000, free_at: Time::ZERO };
        let slow = Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[2]), rate_bps: 1_000, free_at: Time::ZERO };
        let mut sup = [fast, slow];
        let c = [cand(1, 100, false), cand(2, 100, false)];
        // 8,000 bits per chunk: 1 s at the fast one, 8 s at the slow one.
        let got = run(Donet, Time::ZERO, Time::ZERO, &c, &mut sup);
        // Chunk 1 has one supplier so it goes first, to `fast`; chunk 2 then
        // finishes at 2 s on `fast` versus 8 s on `slow`.
        assert_eq!(got, vec![(1, 0), (2, 0)]);
        assert_eq!(sup[0].free_at, Time::from_secs(2));
    }

    #[test]
    fn donet_skips_chunks_no_supplier_can_deliver_in_time() {
        let mut sup =
            [Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[5]), rate_bps: 1_000, free_at: Time::ZERO }];
        let c = [cand(5, 7, true)];
        assert!(run(Donet, Time::ZERO, Time::ZERO, &c, &mut sup).is_empty());
    }

    /// Chunks 1..=3 advertised by everyone, chunk 4 by one supplier: rarity
    /// puts 4 first (ties by seq), and deadlines do not matter.
    #[test]
    fn rarest_first_orders_by_supplier_count_then_seq_and_ignores_deadlines() {
        let a =
            Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[1, 2, 3, 4]), rate_bps: 8_000, free_at: Time::ZERO };
        let b = Supplier {
            id: PeerId(0),
            in_flight: 0,
            map: map(0, &[1, 2, 3]),
            rate_bps: 8_000,
            free_at: Time::from_millis(500),
        };
        let mut sup = [a, b];
        // Chunk 2 is due at 1 s; nobody can deliver it by then except `a` at 1 s
        // if it went first, but rarity decides: 4 goes first to `a` (finish 1 s),
        // 1 to `b` (finish 1.5 s) rather than `a` (2 s), 2 to `a` (2 s, past its
        // deadline: deadline-blind), 3 to `b` (2.5 s).
        let c = [cand(1, 100, false), cand(2, 1, false), cand(3, 100, false), cand(4, 100, false)];
        let got = run(RarestFirst, Time::ZERO, Time::ZERO, &c, &mut sup);
        assert_eq!(got, vec![(4, 0), (1, 1), (2, 0), (3, 1)]);
        assert_eq!((sup[0].free_at, sup[1].free_at), (Time::from_secs(2), Time::from_millis(2_500)));
    }

    /// EDF follows deadlines, not rarity or sequence numbers, and skips what
    /// cannot arrive in time.
    #[test]
    fn edf_orders_by_deadline_and_drops_infeasible_chunks() {
        let a =
            Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[1, 2, 3, 4]), rate_bps: 8_000, free_at: Time::ZERO };
        let b = Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[1, 2, 3]), rate_bps: 4_000, free_at: Time::ZERO };
        let mut sup = [a, b];
        // Deadlines: 3 at 1 s, 1 at 2 s, 2 at 3 s, 4 at 1.5 s (rarest, but later than 3).
        let c = [
            cand(1, 2, false),
            Candidate { seq: 2, deadline: Time::from_secs(3), urgent: false },
            cand(3, 1, false),
            Candidate { seq: 4, deadline: Time::from_millis(1_500), urgent: false },
        ];
        let got = run(Edf, Time::ZERO, Time::ZERO, &c, &mut sup);
        // 3 -> a (1 s); 4 -> a would finish at 2 s > 1.5 s and b lacks it: skipped;
        // 1 -> a or b, both finishing at 2 s: the tie goes to the lower index;
        // 2 -> b (2 s, before a's 3 s).
        assert_eq!(got, vec![(3, 0), (1, 0), (2, 1)]);
        // Same input under donet: the rare chunk 4 goes first and gets served.
        let mut sup2 = [a, b];
        let got = run(Donet, Time::ZERO, Time::ZERO, &c, &mut sup2);
        assert_eq!(got[0], (4, 0));
    }

    #[test]
    fn latest_useful_takes_the_newest_first_even_over_urgent_chunks() {
        let a =
            Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[1, 2, 3, 9]), rate_bps: 8_000, free_at: Time::ZERO };
        let mut sup = [a];
        let c = [cand(1, 1, true), cand(2, 2, false), cand(3, 3, false), cand(9, 9, false), cand(7, 7, false)];
        let got = run(LatestUseful, Time::ZERO, Time::from_secs(5), &c, &mut sup);
        // Newest first, deadline-blind (chunk 1 finishes at 4 s, past its 1 s
        // deadline, and is still requested); 7 is advertised by nobody.
        assert_eq!(got, vec![(9, 0), (3, 0), (2, 0), (1, 0)]);
    }

    #[test]
    fn latest_useful_spreads_requests_over_random_suppliers() {
        let s = Supplier {
            id: PeerId(0),
            in_flight: 0,
            map: map(0, &(0..40).collect::<Vec<_>>()),
            rate_bps: 8_000,
            free_at: Time::ZERO,
        };
        let mut sup = [s, s, s];
        let c: Vec<Candidate> = (0..40).map(|q| cand(q, 1000, false)).collect();
        let got = run(LatestUseful, Time::ZERO, Time::ZERO, &c, &mut sup);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), (0..40).rev().collect::<Vec<_>>());
        for i in 0..3 {
            let n = got.iter().filter(|g| g.1 == i).count();
            assert!((5..=25).contains(&n), "supplier {i} got {n} of 40");
        }
    }

    #[test]
    fn random_shuffles_within_urgency_groups_and_respects_deadlines() {
        let s = Supplier {
            id: PeerId(0),
            in_flight: 0,
            map: map(0, &(0..40).collect::<Vec<_>>()),
            rate_bps: 8_000,
            free_at: Time::ZERO,
        };
        let slow = Supplier { rate_bps: 100, ..s };
        let mut sup = [s, s, slow];
        // 0..10 urgent; the rest not. Deadlines are loose for the fast suppliers
        // and impossible for `slow` (80 s per chunk).
        let c: Vec<Candidate> = (0..40).map(|q| cand(q, 60, q < 10)).collect();
        let got = run(Random, Time::ZERO, Time::ZERO, &c, &mut sup);
        assert_eq!(got.len(), 40);
        let (u, rest) = got.split_at(10);
        assert!(u.iter().all(|g| g.0 < 10) && rest.iter().all(|g| g.0 >= 10));
        let seqs: Vec<Seq> = got.iter().map(|g| g.0).collect();
        assert!(!seqs.windows(2).all(|w| w[0] < w[1]), "not shuffled: {seqs:?}");
        assert!(got.iter().all(|g| g.1 != 2), "slow supplier cannot meet any deadline");
        let n0 = got.iter().filter(|g| g.1 == 0).count();
        assert!((10..=30).contains(&n0), "supplier 0 got {n0} of 40");
        // Same seed, same decisions.
        let mut sup2 = [s, s, slow];
        assert_eq!(run(Random, Time::ZERO, Time::ZERO, &c, &mut sup2), got);
    }

    #[test]
    fn duplicate_candidates_are_assigned_once() {
        let a = Supplier { id: PeerId(0), in_flight: 0, map: map(0, &[1, 2]), rate_bps: 8_000, free_at: Time::ZERO };
        let c = [cand(2, 100, false), cand(1, 100, false), cand(2, 100, true)];
        for spec in super::super::builtins() {
            let mut sup = [a];
            let mut out = Vec::new();
            spec.build().schedule(&input(Time::ZERO, Time::ZERO, 8_000, &c), &mut sup, &mut out, &mut rng());
            let mut got: Vec<(Seq, usize)> = out.iter().map(|a| (a.seq, a.supplier)).collect();
            got.sort();
            assert_eq!(got, vec![(1, 0), (2, 0)], "{}", spec.name());
        }
    }

    #[test]
    fn scratch_and_out_are_reused_without_growth() {
        let s = Supplier {
            id: PeerId(0),
            in_flight: 0,
            map: map(0, &(0..64).collect::<Vec<_>>()),
            rate_bps: 8_000_000,
            free_at: Time::ZERO,
        };
        let c: Vec<Candidate> = (0..64).map(|q| cand(q, 100, q.is_multiple_of(2))).collect();
        let mut out = Vec::new();
        let mut r = rng();
        let mut all: Vec<Box<dyn Scheduler>> = super::super::builtins().iter().map(|s| s.build()).collect();
        for k in &mut all {
            let mut sup = [s, s];
            out.clear();
            k.schedule(&input(Time::ZERO, Time::ZERO, 8_000, &c), &mut sup, &mut out, &mut r);
        }
        let caps = (ORDER.with_borrow(|o| o.capacity()), out.capacity());
        for k in &mut all {
            let mut sup = [s, s];
            out.clear();
            k.schedule(&input(Time::ZERO, Time::ZERO, 8_000, &c), &mut sup, &mut out, &mut r);
            assert_eq!(out.len(), 64);
        }
        assert_eq!((ORDER.with_borrow(|o| o.capacity()), out.capacity()), caps);
    }

    proptest! {
        /// Every scheduler: assignments are advertised, unique, drawn from the
        /// candidates; `free_at` only moves forward and equals the last
        /// `expect` at that supplier; urgent chunks come first (newest first
        /// for latest-useful); deadline-aware rules meet deadlines.
        #[test]
        fn every_scheduler_keeps_the_contract(
            kind in 0usize..5,
            maps in proptest::collection::vec(proptest::collection::vec(0u32..64, 0..40), 1..8),
            rates in proptest::collection::vec(1_000u64..10_000_000, 8),
            busy in proptest::collection::vec(0u64..20, 8),
            cands in proptest::collection::btree_set(0u32..64, 0..64),
            urgent_s in 0u64..20,
            seed in any::<u64>(),
        ) {
            let spec = &super::super::builtins()[kind];
            let name = spec.name();
            let now = Time::from_secs(2);
            let mut sup: Vec<Supplier> = maps.iter().enumerate()
                .map(|(i, m)| Supplier { id: PeerId(0), in_flight: 0, map: map(0, m), rate_bps: rates[i], free_at: Time::from_secs(busy[i]) })
                .collect();
            let before: Vec<Time> = sup.iter().map(|s| s.free_at).collect();
            let c: Vec<Candidate> = cands.iter()
                .map(|&s| Candidate { seq: s, deadline: Time::from_secs(5 + s as u64), urgent: s.is_multiple_of(3) })
                .collect();
            let urgent = Time::from_secs(urgent_s);
            let is_urgent = |seq: Seq| seq.is_multiple_of(3) || Time::from_secs(5 + seq as u64) <= now + urgent;
            let mut out = Vec::new();
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            spec.build().schedule(&input(now, urgent, 100_000, &c), &mut sup, &mut out, &mut r);
            let mut seen = std::collections::BTreeSet::new();
            let mut last: Vec<Time> = before.iter().map(|&t| t.max(now)).collect();
            for a in &out {
                let (seq, i) = (a.seq, a.supplier);
                prop_assert!(maps[i].contains(&seq), "chunk {} not advertised by supplier {}", seq, i);
                prop_assert!(seen.insert(seq), "chunk {} requested twice", seq);
                prop_assert!(cands.contains(&seq));
                prop_assert!(a.expect > last[i], "expect not after the supplier's previous finish");
                last[i] = a.expect;
                if matches!(name, "donet" | "random" | "edf") {
                    prop_assert!(a.expect <= Time::from_secs(5 + seq as u64), "chunk {} misses its deadline", seq);
                }
            }
            for (i, s) in sup.iter().enumerate() {
                prop_assert!(s.free_at >= before[i]);
                let assigned = out.iter().any(|a| a.supplier == i);
                prop_assert_eq!(s.free_at, if assigned { last[i] } else { before[i] });
            }
            if name == "latest-useful" {
                prop_assert!(out.windows(2).all(|w| w[0].seq > w[1].seq), "not newest first");
            } else {
                let first_lazy = out.iter().position(|a| !is_urgent(a.seq)).unwrap_or(out.len());
                prop_assert!(out[first_lazy..].iter().all(|a| !is_urgent(a.seq)), "urgent chunk after a non-urgent one");
            }
            // Deadline-blind rules assign every advertised candidate.
            if matches!(name, "rarest-first" | "latest-useful") {
                let advertised = cands.iter().filter(|&&s| maps.iter().any(|m| m.contains(&s))).count();
                prop_assert_eq!(out.len(), advertised);
            }
        }
    }
}
