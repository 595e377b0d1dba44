//! Named random streams derived from the run seed.
//!
//! Every consumer of randomness gets its own `ChaCha8Rng`: the seed key comes
//! from the run seed and the consumer's [`Stream`] kind, the ChaCha stream
//! number from its index (a node id, say). Adding a peer therefore never
//! shifts another peer's draws. [`mix`] is a stateless hash for per-event
//! draws (datagram loss) that need no stored generator.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Kinds of random streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// A node's protocol decisions (index = node id).
    Node = 1,
    /// Arrival times, classes and session lengths.
    Churn = 2,
    /// Datagram loss (hashed per transmission).
    Loss = 3,
    /// Markov bandwidth levels and holding times (hashed per node and draw).
    Bandwidth = 4,
    /// Which side of a partition a peer is on (hashed per node).
    Partition = 5,
    /// Which peers run which attack.
    Adversary = 6,
    /// Which peers are behind a NAT (hashed per node).
    Nat = 7,
}

/// SplitMix64 finalizer: a bijective, well-mixed hash of a 64-bit value.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator for stream `kind`, index `index`, of run `seed`.
pub fn rng(seed: u64, kind: Stream, index: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(kind as u64)));
    r.set_stream(index);
    r
}

/// Node `index`'s protocol generator in protocol draw `draw` of run `seed`:
/// draw 0 is [`rng`]`(seed, Stream::Node, index)`, the run's own; a draw
/// `k > 0` keys every node's protocol decisions differently while every other
/// stream (population, churn, latency, bandwidth, partitions, attackers) stays
/// that of `seed`: the same scenario instance with other protocol randomness.
pub fn node_rng(seed: u64, draw: u64, index: u64) -> ChaCha8Rng {
    if draw > HOST_DRAW - HOST_DRAWS {
        return ChaCha8Rng::seed_from_u64(host_seed(seed, HOST_DRAW - draw, index));
    }
    if draw == 0 {
        return rng(seed, Stream::Node, index);
    }
    let mut r = ChaCha8Rng::seed_from_u64(mix(mix(seed ^ mix(Stream::Node as u64)) ^ mix(draw)));
    r.set_stream(index);
    r
}

/// The protocol draw whose generators are the real processes' of `swarmlab
/// validate` (its default real draw, `--real-draw 0`): node `index` of run
/// `seed` gets `ChaCha8Rng::seed_from_u64(host_seed(seed, 0, index))`, as
/// the real process of that node seeds its protocol generator (`swarmlab
/// peer --seed`). A simulator run with it makes the real run's random
/// protocol choices as long as its events come in the same order (the loss
/// draws stay the simulator's). [`host_draw`]`(r)` is the same for
/// `--real-draw r`.
pub const HOST_DRAW: u64 = u64::MAX;

/// How many real draws [`host_draw`] maps into the top of the draw numbers.
pub const HOST_DRAWS: u64 = 1 << 32;

/// The simulator's protocol draw with the generators of `swarmlab validate
/// --real-draw real_draw` ([`HOST_DRAW`] for 0); `None` past [`HOST_DRAWS`].
pub fn host_draw(real_draw: u64) -> Option<u64> {
    (real_draw < HOST_DRAWS).then(|| HOST_DRAW - real_draw)
}

/// The seed `swarmlab validate --real-draw real_draw` gives the real process
/// of node `index` in a run of `seed` (`swarmlab peer --seed`; the host
/// seeds its protocol generator and its loss draws from it): `seed x
/// 1,000,003 + index` for real draw 0, the default, so every real run of a
/// seed makes the same random choices; another real draw keys them
/// differently, so repeated runs of the same seeds are independent draws
/// (as `swarmlab run --draw` is for the simulator).
pub fn host_seed(seed: u64, real_draw: u64, index: u64) -> u64 {
    let base = seed.wrapping_mul(1_000_003).wrapping_add(index);
    if real_draw == 0 { base } else { mix(mix(base) ^ mix(real_draw ^ 0x5eed_d4a3)) }
}

/// A uniform draw in [0, 1) from a hash of `(seed, kind, a, b)`.
pub fn unit(seed: u64, kind: Stream, a: u64, b: u64) -> f64 {
    let h = mix(mix(mix(seed ^ mix(kind as u64)) ^ a) ^ b);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_independent_of_each_other_and_reproducible() {
        let a1 = rng(42, Stream::Node, 7).next_u64();
        let a2 = rng(42, Stream::Node, 7).next_u64();
        let b = rng(42, Stream::Node, 8).next_u64();
        let c = rng(43, Stream::Node, 7).next_u64();
        let d = rng(42, Stream::Churn, 7).next_u64();
        assert_eq!(a1, a2);
        assert!(a1 != b && a1 != c && a1 != d);
    }

    #[test]
    fn protocol_draw_zero_is_the_runs_own_stream_and_other_draws_differ() {
        let own = rng(42, Stream::Node, 7).next_u64();
        assert_eq!(node_rng(42, 0, 7).next_u64(), own);
        let d1 = node_rng(42, 1, 7).next_u64();
        assert_ne!(d1, own);
        assert_eq!(node_rng(42, 1, 7).next_u64(), d1);
        assert_ne!(node_rng(42, 2, 7).next_u64(), d1);
        assert_ne!(node_rng(42, 1, 8).next_u64(), d1);
        assert_ne!(node_rng(43, 1, 7).next_u64(), d1);
    }

    #[test]
    fn the_host_draws_are_the_real_processes_generators() {
        // `swarmlab validate` (real draw 0, the default) seeds real node i's
        // protocol generator with `ChaCha8Rng::seed_from_u64(seed * 1_000_003 + i)`.
        for (seed, i) in [(2, 0), (2, 13), (7, 45)] {
            let real = ChaCha8Rng::seed_from_u64(seed * 1_000_003 + i).next_u64();
            assert_eq!(host_seed(seed, 0, i), seed * 1_000_003 + i);
            assert_eq!(host_draw(0), Some(HOST_DRAW));
            assert_eq!(node_rng(seed, HOST_DRAW, i).next_u64(), real);
        }
        assert_ne!(node_rng(2, HOST_DRAW, 5).next_u64(), node_rng(2, 0, 5).next_u64());
        // Other real draws: other seeds for every node, distinct per draw,
        // and the simulator's host draw follows them.
        let mut seen = std::collections::BTreeSet::new();
        for r in 0..50 {
            for i in 0..50 {
                assert!(seen.insert(host_seed(3, r, i)), "real draw {r}, node {i}");
            }
            let d = host_draw(r).expect("in range");
            assert_eq!(node_rng(3, d, 9).next_u64(), ChaCha8Rng::seed_from_u64(host_seed(3, r, 9)).next_u64());
        }
        assert_eq!(host_draw(HOST_DRAWS), None);
        // Ordinary draws stay what they were.
        assert_eq!(node_rng(3, 1, 9).next_u64(), node_rng(3, 1, 9).next_u64());
        assert_ne!(node_rng(3, 1, 9).next_u64(), node_rng(3, HOST_DRAW, 9).next_u64());
    }

    #[test]
    fn unit_draws_look_uniform() {
        let n = 20_000;
        let mean = (0..n).map(|i| unit(1, Stream::Loss, i, 0)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
