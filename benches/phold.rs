//! PHOLD (Fujimoto 1990) on the bare event queue: the model shared by the
//! criterion benches in `engine.rs` (which include this file as a module), and
//! a fixed-count runner for instruction counts under callgrind.
//!
//! Model: `n` logical processes (LPs) with 16 pending events each. Popping an
//! event schedules one new event at a uniformly random LP after a delay
//! uniform on [1 ns, 2 ms] (mean 1 ms). The `16 n` initial events are drawn
//! from the stationary distribution of time-to-go (density proportional to
//! `P(delay > x)`, here `x = 2 ms (1 - sqrt(1 - u))`), so the queue is in
//! steady state from the first pop. Each event carries its LP id; the `fat`
//! variant carries 56 bytes, the size of the engine's event enum. The cost of
//! the ChaCha8 draws (two per event) is included, as in PHOLD.
//!
//! Queues: `queue` (`sim::queue::EventQueue`), `binary_heap` (a plain
//! `BinaryHeap<Reverse<(time, seq, lp)>>`, the naive baseline), `queue_fat`.
//!
//! Fixed-count run (prints events per second of on-CPU and wall time):
//!
//! ```text
//! cargo bench --bench phold --no-run        # builds target/release/deps/phold-<hash>
//! target/release/deps/phold-<hash> queue 10000 4000000
//! valgrind --tool=callgrind target/release/deps/phold-<hash> queue 10000 1000000
//! ```
//!
//! Instructions per event under callgrind: run with two event counts and
//! divide the difference of the totals by the difference of the counts (this
//! removes the setup).

#![allow(dead_code)] // engine.rs uses the model, not `main`

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use protocols::Time;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::queue::EventQueue;

/// Pending events per LP.
pub const PER_LP: u32 = 16;
/// Delays are uniform on [1, MAX_DELAY_NS] nanoseconds.
pub const MAX_DELAY_NS: u64 = 2_000_000;

/// What an event carries: at least its LP.
pub trait Payload: Copy {
    fn at(lp: u32) -> Self;
}
impl Payload for u32 {
    fn at(lp: u32) -> Self {
        lp
    }
}
/// 56 bytes, like the engine's `Ev` (a `Deliver` with its message).
#[derive(Clone, Copy)]
pub struct Fat(pub [u64; 7]);
impl Payload for Fat {
    fn at(lp: u32) -> Self {
        Fat([lp as u64; 7])
    }
}

/// A pending-event set under test.
pub trait Pending<P>: Default {
    fn push(&mut self, t: u64, ev: P);
    fn pop(&mut self) -> (u64, P);
}

impl<P> Pending<P> for EventQueue<P> {
    #[inline]
    fn push(&mut self, t: u64, ev: P) {
        EventQueue::push(self, Time(t), ev)
    }
    #[inline]
    fn pop(&mut self) -> (u64, P) {
        let (t, ev) = self.pop_until(Time::MAX).expect("PHOLD never drains");
        (t.0, ev)
    }
}

/// The naive baseline: a std binary heap of `(time, seq, lp)`, FIFO ties by `seq`.
#[derive(Default)]
pub struct NaiveHeap {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    seq: u64,
}

impl Pending<u32> for NaiveHeap {
    #[inline]
    fn push(&mut self, t: u64, lp: u32) {
        self.heap.push(Reverse((t, self.seq, lp)));
        self.seq += 1;
    }
    #[inline]
    fn pop(&mut self) -> (u64, u32) {
        let Reverse((t, _, lp)) = self.heap.pop().expect("PHOLD never drains");
        (t, lp)
    }
}

/// A PHOLD run in progress.
pub struct Phold<Q, P> {
    q: Q,
    rng: ChaCha8Rng,
    n: u32,
    /// Sum of popped times, so that the work cannot be optimized away.
    pub checksum: u64,
    _payload: std::marker::PhantomData<P>,
}

impl<P: Payload, Q: Pending<P>> Phold<Q, P> {
    /// `n` LPs with 16 pending events each, in steady state.
    pub fn new(n: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut q = Q::default();
        for lp in 0..n {
            for _ in 0..PER_LP {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                q.push((MAX_DELAY_NS as f64 * (1.0 - (1.0 - u).sqrt())) as u64, P::at(lp));
            }
        }
        Phold { q, rng, n, checksum: 0, _payload: std::marker::PhantomData }
    }

    /// Processes `events` events.
    #[inline(never)]
    pub fn run(&mut self, events: u64) {
        for _ in 0..events {
            let (t, ev) = self.q.pop();
            std::hint::black_box(&ev);
            self.checksum = self.checksum.wrapping_add(t);
            let lp = (self.rng.next_u64() % self.n as u64) as u32;
            let delay = 1 + self.rng.next_u64() % MAX_DELAY_NS;
            self.q.push(t + delay, P::at(lp));
        }
    }
}

/// This thread's on-CPU time (Linux, from `/proc/thread-self/schedstat`), which
/// other processes sharing the CPU do not inflate.
pub fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(s.split_whitespace().next()?.parse().ok()?))
}

#[allow(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn wall() -> std::time::Instant {
    std::time::Instant::now()
}

fn measure<Q: Pending<P>, P: Payload>(name: &str, n: u32, events: u64) {
    let mut ph: Phold<Q, P> = Phold::new(n);
    let (w0, c0) = (wall(), cpu_time());
    ph.run(events);
    let (w, c) = (w0.elapsed(), cpu_time().zip(c0).map(|(c, c0)| c - c0));
    let rate = |d: Duration| events as f64 / d.as_secs_f64() / 1e6;
    let cpu = c.map_or("n/a".to_string(), |c| format!("{:.2}", rate(c)));
    println!("{name} n={n} events={events} cpu_Mev/s={cpu} wall_Mev/s={:.2} checksum={}", rate(w), ph.checksum);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let usage = "usage: phold <queue|binary_heap|queue_fat> <n> <events>";
    let (Some(which), Some(n), Some(events)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        return;
    };
    let (n, events): (u32, u64) = (n.parse().expect("n"), events.parse().expect("events"));
    match which.as_str() {
        "queue" => measure::<EventQueue<u32>, u32>(which, n, events),
        "queue_fat" => measure::<EventQueue<Fat>, Fat>(which, n, events),
        "binary_heap" => measure::<NaiveHeap, u32>(which, n, events),
        _ => eprintln!("{usage}"),
    }
}
