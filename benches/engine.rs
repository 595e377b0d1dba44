//! Criterion benchmarks of the engine.
//!
//! - `mesh_pull/quickstart_60s`: a realistic workload, the quickstart scenario
//!   (200 peers, three classes) cut to 60 simulated seconds; throughput is
//!   reported in engine events per second. `protocol/tree_push/quickstart_60s`
//!   and `protocol/hybrid/quickstart_60s`: the same scenario with the other two
//!   protocol families (whole runs: setup, events and the report).
//! - `threads/mesh_pull_2k_30s/<t>`: the multi-core engine on 1 and 2 threads.
//! - `links/<family>_2k_30s/<eager|lazy>`: upload links with one event per
//!   message (`Engine::set_eager_links`, the engine before issue 19's
//!   session 9) against links brought up to date lazily (the default), one
//!   thread, the scale scenario at 2,000 peers and 30 simulated seconds, for
//!   mesh-pull and hybrid; throughput is the eager engine's events per
//!   second, so both rows count the same simulated work.
//! - `phold/<queue>/<n>x16`: PHOLD (Fujimoto 1990) on the bare event queue, in
//!   steady state: `n` logical processes with 16 pending events each; every
//!   popped event schedules one new event at a random process after a delay
//!   uniform on [1 ns, 2 ms] (mean 1 ms). Throughput is events per second.
//!   `queue` is `sim::queue::EventQueue` with 4-byte events, `queue_fat` with
//!   56-byte events (the size of the engine's), `binary_heap` a plain
//!   `BinaryHeap<Reverse<(time, seq, lp)>>`, the naive baseline. The model is
//!   in `phold.rs`, which also runs a fixed number of events (for callgrind).
//!
//! Run: `cargo bench --bench engine` (add `-- --quick` for a fast pass, and a
//! filter such as `phold/queue/` to pick benches). With the environment
//! variable `SWARMLAB_BENCH_CPU_TIME` set, the PHOLD benches report the
//! thread's on-CPU time (Linux) instead of wall time, so that other processes
//! sharing the CPU do not inflate them. Setting up the 10^6-process benches
//! takes a few seconds each; the `binary_heap` one at 10^6 runs ~1 minute.

#![allow(clippy::disallowed_methods, reason = "a benchmark measures wall time")]

mod phold;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use phold::{Fat, NaiveHeap, PER_LP, Payload, Pending, Phold};
use sim::families::{Hybrid, MeshPull};
use sim::queue::EventQueue;
use sim::registry::Family;
use sim::runner::{RunOptions, build_engine, finish_report, run};
use sim::scenario::Scenario;

fn protocols(c: &mut Criterion) {
    let text = std::fs::read_to_string("scenarios/quickstart.toml").expect("run from the repository root");
    let text = text.replace("duration_s = 300", "duration_s = 60");
    let opts = RunOptions { name: "bench".into(), seed: 1, threads: 1, draw: 0 };
    // Group and name of the original mesh-pull bench kept, so results stay comparable.
    for (group, name, proto) in [
        ("mesh_pull", "quickstart_60s", "mesh-pull"),
        ("protocol", "tree_push/quickstart_60s", "tree-push"),
        ("protocol", "hybrid/quickstart_60s", "hybrid"),
    ] {
        let text = text.replace("name = \"mesh-pull\"", &format!("name = \"{proto}\""));
        let sc = Scenario::parse("quickstart.toml", &text).expect("valid scenario");
        let events = run(&sc, &opts, &mut |_, _| {}).info.events;
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(events));
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        g.bench_function(name, |b| b.iter(|| black_box(run(&sc, &opts, &mut |_, _| {}))));
        g.finish();
    }
}

/// `scenarios/scale/<file>.toml` cut to 2,000 peers and 30 simulated seconds.
fn scale_2k_30s(file: &str) -> Scenario {
    let path = format!("scenarios/scale/{file}.toml");
    let text = std::fs::read_to_string(&path).expect("run from the repository root");
    let text = text.replace("duration_s = 600", "duration_s = 30").replace("count = 10000", "count = 2000");
    Scenario::parse(&path, &text).expect("valid scenario")
}

/// `threads/mesh_pull_2k_30s/<t>`: the multi-core engine (issue 19): the
/// 10k scale scenario at 2,000 peers and 30 simulated seconds on `t`
/// threads (windows, mail exchange, sharded collector). Outputs are
/// identical for every `t`; the bench checks it before timing.
fn threads(c: &mut Criterion) {
    let sc = scale_2k_30s("mesh-pull");
    let go = |t: usize| run(&sc, &RunOptions { name: "bench".into(), seed: 1, threads: t, draw: 0 }, &mut |_, _| {});
    let one = go(1);
    assert_eq!(analysis::output::peers_csv(&one), analysis::output::peers_csv(&go(2)), "outputs depend on threads");
    let mut g = c.benchmark_group("threads");
    g.throughput(Throughput::Elements(one.info.events));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for t in [1, 2] {
        g.bench_function(format!("mesh_pull_2k_30s/{t}"), |b| b.iter(|| black_box(go(t))));
    }
    g.finish();
}

/// `links/<family>_2k_30s/<eager|lazy>`: one event per message on upload
/// links against lazy links (issue 19); outputs are identical, which the
/// bench checks before timing.
fn links(c: &mut Criterion) {
    fn go<F: Family>(sc: &Scenario, eager: bool) -> (u64, Vec<u8>) {
        let mut e = build_engine(F::build(sc), sc, sc.seed);
        e.set_eager_links(eager);
        e.set_threads(1);
        e.run_until(protocols::Time::from_secs_f64(sc.duration_s.0));
        let r = finish_report(e, sc, &RunOptions { name: "bench".into(), seed: sc.seed, threads: 1, draw: 0 });
        (r.info.events, analysis::output::peers_csv(&r))
    }
    fn family<F: Family>(c: &mut Criterion, file: &str) {
        let sc = scale_2k_30s(file);
        let (events, eager) = go::<F>(&sc, true);
        assert!(eager == go::<F>(&sc, false).1, "{file}: lazy links change the outputs");
        let mut g = c.benchmark_group("links");
        g.throughput(Throughput::Elements(events));
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        for (mode, eager) in [("eager", true), ("lazy", false)] {
            g.bench_function(format!("{file}_2k_30s/{mode}"), |b| b.iter(|| black_box(go::<F>(&sc, eager))));
        }
        g.finish();
    }
    family::<MeshPull>(c, "mesh-pull");
    family::<Hybrid>(c, "hybrid");
}

/// Events per criterion iteration of the PHOLD benches.
const PHOLD_BATCH: u64 = 100_000;

/// Runs PHOLD in steady state: the queue persists across iterations, each of
/// which processes `PHOLD_BATCH` events.
fn bench_phold<Q: Pending<P>, P: Payload>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, n: u32) {
    let mut state: Option<Phold<Q, P>> = None; // built only if the bench is selected
    let cpu = std::env::var_os("SWARMLAB_BENCH_CPU_TIME").is_some() && phold::cpu_time().is_some();
    g.bench_function(format!("{name}/{n}x{PER_LP}"), |b| {
        let ph = state.get_or_insert_with(|| Phold::new(n));
        b.iter_custom(|iters| {
            let (w0, c0) = (Instant::now(), phold::cpu_time());
            ph.run(iters * PHOLD_BATCH);
            match (cpu, phold::cpu_time(), c0) {
                (true, Some(c), Some(c0)) => c - c0,
                _ => w0.elapsed(),
            }
        })
    });
    black_box(state.map(|ph| ph.checksum));
}

fn phold(c: &mut Criterion) {
    let mut g = c.benchmark_group("phold");
    g.throughput(Throughput::Elements(PHOLD_BATCH));
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
    for n in [10_000, 1_000_000] {
        bench_phold::<EventQueue<u32>, u32>(&mut g, "queue", n);
        bench_phold::<NaiveHeap, u32>(&mut g, "binary_heap", n);
        bench_phold::<EventQueue<Fat>, Fat>(&mut g, "queue_fat", n);
    }
    g.finish();
}

criterion_group!(benches, protocols, threads, links, phold);
criterion_main!(benches);
