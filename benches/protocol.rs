//! Criterion benchmarks of the protocol core's hot operations (issue 7).
//!
//! - `sched/<rule>/w<window>/p<partners>`: one call of
//!   `protocols::sched::Scheduler::schedule`, the chunk scheduler of
//!   mesh-pull, for windows of 30, 120 (DONet's default) and 250 chunks and
//!   4, 8 and 16 partners. Inputs are drawn once from a fixed seed: each
//!   partner advertises a random 60% of the window, the peer misses the
//!   newest half of the window (the candidates), the oldest tenth of those
//!   is urgent; rates 0.2-5 Mbit/s. Suppliers are restored before each call
//!   (outside the timing), so every call does the same work. Throughput is
//!   calls per second; the time is the cost of one decision round.
//! - `wire/encode/<kind>` and `wire/decode/<kind>`: the exact-length codec on
//!   the message kinds mesh-pull sends most (buffer map and request with a
//!   120-chunk window, chunk header, a 32-peer gossip list), throughput in
//!   messages per second. `wire/encoded_len/mix` is the size computation the
//!   engine does for every message.
//! - `chunkmap/*`: buffer-map operations on a 256-bit window: insert,
//!   contains, count, iterate, newest, and the word-level intersection of two
//!   maps that a scheduler pass does per partner.
//!
//! Run: `cargo bench --bench protocol` (about 1.5 minutes; add a filter such
//! as `sched/` to pick a group, `-- --quick` for a rough pass).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocols::chunkmap::ChunkMap;
use protocols::ids::{PeerId, Seq};
use protocols::sched::{Assignment, Candidate, SchedInput, Supplier};
use protocols::time::Time;
use protocols::wire::{DenseIds, Msg};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Shorter than criterion's defaults: the machine has two cores, shared.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// A scheduling problem: window `w` starting at `base`, `p` partners.
fn problem(w: u16, p: usize, seed: u64) -> (Vec<Candidate>, Vec<Supplier>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base: Seq = 1_000;
    let now = Time::from_secs(1_000);
    let suppliers = (0..p)
        .map(|i| {
            let mut map = ChunkMap::new(base, w);
            for s in base..base + w as Seq {
                if rng.random::<f64>() < 0.6 {
                    map.insert(s);
                }
            }
            Supplier {
                id: protocols::PeerId(i as u32),
                in_flight: 0,
                map,
                rate_bps: rng.random_range(200_000..5_000_000),
                free_at: now + Time::from_millis(rng.random_range(0..2_000)),
            }
        })
        .collect();
    let first = base + w as Seq / 2;
    let n = w as Seq - w as Seq / 2;
    let candidates = (first..first + n)
        .map(|s| Candidate {
            seq: s,
            deadline: now + Time::from_secs((s - first) as u64 + 3),
            urgent: (s - first) < n / 10,
        })
        .collect();
    (candidates, suppliers)
}

fn sched(c: &mut Criterion) {
    let mut g = c.benchmark_group("sched");
    g.throughput(Throughput::Elements(1));
    let now = Time::from_secs(1_000);
    let chunk_bits = 500_000 + 8 * 1_200;
    for name in ["donet", "random", "latest-useful"] {
        let spec = protocols::sched::builtin(name).expect("built-in");
        for w in [30u16, 120, 250] {
            for p in [4usize, 8, 16] {
                // Only DONet (the default) over the whole grid; the others at the default window.
                if name != "donet" && w != 120 {
                    continue;
                }
                let (cands, sups) = problem(w, p, 7);
                let mut kind = spec.build();
                let mut out: Vec<Assignment> = Vec::new();
                let mut rng = ChaCha8Rng::seed_from_u64(1);
                g.bench_function(BenchmarkId::new(name, format!("w{w}/p{p}")), |b| {
                    b.iter_batched_ref(
                        || sups.clone(),
                        |s| {
                            out.clear();
                            let input = SchedInput {
                                now,
                                urgent: Time::from_secs(3),
                                chunk_wire_bits: chunk_bits,
                                candidates: black_box(&cands),
                                playback: None,
                                upload_backlog: Time::ZERO,
                            };
                            kind.schedule(&input, s, &mut out, &mut rng);
                            black_box(out.len())
                        },
                        BatchSize::SmallInput,
                    )
                });
            }
        }
    }
    g.finish();
}

fn messages() -> Vec<(&'static str, Msg)> {
    let mut map = ChunkMap::new(5_000, 120);
    for s in (5_000..5_120).filter(|s| s % 3 != 0) {
        map.insert(s);
    }
    let mut req = ChunkMap::new(5_000, 120);
    for s in [5_010, 5_011, 5_050, 5_090] {
        req.insert(s);
    }
    vec![
        ("buffer_map", Msg::BufferMap(map)),
        ("request", Msg::Request(req)),
        ("chunk", Msg::Chunk { seq: 5_001, len: 62_500, polluted: false }),
        ("gossip32", Msg::Gossip { peers: (0..32).map(|i| PeerId(i * 7_919)).collect() }),
    ]
}

fn wire(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    let ids = DenseIds;
    for (name, msg) in messages() {
        let mut buf = Vec::with_capacity(256);
        g.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| {
                buf.clear();
                black_box(&msg).encode(&ids, &mut buf);
                black_box(buf.len())
            })
        });
        let mut bytes = Vec::new();
        msg.encode(&ids, &mut bytes);
        g.bench_function(BenchmarkId::new("decode", name), |b| {
            let mut ids = DenseIds;
            b.iter(|| black_box(Msg::decode(black_box(&bytes), &mut ids)).is_ok())
        });
    }
    let mix: Vec<Msg> = messages().into_iter().map(|(_, m)| m).collect();
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("encoded_len/mix", |b| {
        b.iter(|| black_box(&mix).iter().map(|m| protocols::wire::wire_bytes(m.encoded_len()).1).sum::<u64>())
    });
    g.finish();
}

fn chunkmap(c: &mut Criterion) {
    let mut g = c.benchmark_group("chunkmap");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let base: Seq = 10_000;
    let seqs: Vec<Seq> = (0..256).map(|_| base + rng.random_range(0..300)).collect();
    let mut full = ChunkMap::new(base, 256);
    let mut half = ChunkMap::new(base, 256);
    for s in base..base + 256 {
        if rng.random::<bool>() {
            full.insert(s);
        }
        if s % 2 == 0 {
            half.insert(s);
        }
    }
    g.throughput(Throughput::Elements(seqs.len() as u64));
    g.bench_function("insert/256", |b| {
        b.iter(|| {
            let mut m = ChunkMap::new(base, 256);
            for &s in black_box(&seqs) {
                m.insert(s);
            }
            black_box(m)
        })
    });
    g.bench_function("contains/256", |b| {
        b.iter(|| black_box(&seqs).iter().filter(|&&s| black_box(&full).contains(s)).count())
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("count", |b| b.iter(|| black_box(&full).count()));
    g.bench_function("newest", |b| b.iter(|| black_box(&full).newest()));
    g.bench_function("iter_sum", |b| b.iter(|| black_box(&full).iter().map(|s| s as u64).sum::<u64>()));
    g.bench_function("intersect_count", |b| {
        b.iter(|| {
            let (x, y) = (black_box(&full).words(), black_box(&half).words());
            x.iter().zip(y).map(|(a, b)| (a & b).count_ones()).sum::<u32>()
        })
    });
    g.bench_function("from_words", |b| b.iter(|| ChunkMap::from_words(base, 120, *black_box(&full).words())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = sched, wire, chunkmap
}
criterion_main!(benches);
