//! Criterion benchmarks of the engine.
//!
//! - `mesh_pull/quickstart_60s`: a realistic workload, the quickstart scenario
//!   (200 peers, three classes) cut to 60 simulated seconds; throughput is
//!   reported in engine events per second.
//! - `phold/<n>x16`: PHOLD (Fujimoto 1990) on the bare event queue: `n` logical
//!   processes with 16 pending events each; every popped event schedules one
//!   new event at a random process after a random delay. Measures the queue
//!   alone, the engine's floor.
//!
//! Run: `cargo bench --bench engine` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use protocols::Time;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::queue::EventQueue;
use sim::runner::{RunOptions, run};
use sim::scenario::Scenario;

fn mesh_pull(c: &mut Criterion) {
    let text = std::fs::read_to_string("scenarios/quickstart.toml").expect("run from the repository root");
    let text = text.replace("duration_s = 300", "duration_s = 60");
    let sc = Scenario::parse("quickstart.toml", &text).expect("valid scenario");
    let opts = RunOptions { name: "bench".into(), seed: 1 };
    let events = run(&sc, &opts, &mut |_, _| {}).info.events;
    let mut g = c.benchmark_group("mesh_pull");
    g.throughput(Throughput::Elements(events));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("quickstart_60s", |b| b.iter(|| black_box(run(&sc, &opts, &mut |_, _| {}))));
    g.finish();
}

fn phold(c: &mut Criterion) {
    let mut g = c.benchmark_group("phold");
    for n in [10_000u32, 1_000_000] {
        let pops: u64 = 2_000_000;
        g.throughput(Throughput::Elements(pops));
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        g.bench_function(format!("{n}x16"), |b| {
            b.iter_batched(
                || {
                    let mut rng = ChaCha8Rng::seed_from_u64(1);
                    let mut q = EventQueue::default();
                    for lp in 0..n {
                        for _ in 0..16 {
                            q.push(Time(rng.next_u64() % 1_000_000), lp);
                        }
                    }
                    (q, rng)
                },
                |(mut q, mut rng)| {
                    for _ in 0..pops {
                        let (t, _lp) = q.pop_until(Time::MAX).expect("PHOLD never drains");
                        let to = (rng.next_u64() % n as u64) as u32;
                        q.push(Time(t.0 + 1 + rng.next_u64() % 1_000_000), to);
                    }
                    black_box(q.len())
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, mesh_pull, phold);
criterion_main!(benches);
