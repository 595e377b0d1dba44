//! `reliable`: a stateful chunk scheduler written outside swarmlab's crates
//! (docs/extending.md). Each peer keeps, per partner, an exponentially
//! weighted success rate of its requests (arrived: 1, expired: 0); chunks go
//! in deadline order (urgent first) to the supplier with the least expected
//! finish time divided by that success rate, among those that can meet the
//! deadline. A partner that keeps dropping requests is thus avoided while it
//! has rivals, and forgiven as soon as it delivers again.

use std::collections::BTreeMap;

use protocols::sched::{Assignment, SchedInput, Scheduler, SchedulerSpec, Supplier};
use protocols::{PeerId, Seq, Time};
use rand_chacha::ChaCha8Rng;

/// Weight of the newest outcome in a partner's success rate.
const ALPHA: f64 = 0.2;

/// Per-peer state: each partner's success rate (absent: 1, trusted).
#[derive(Default)]
pub struct Reliable {
    success: BTreeMap<PeerId, f64>,
}

impl Reliable {
    fn learn(&mut self, from: PeerId, outcome: f64) {
        let s = self.success.entry(from).or_insert(1.0);
        *s = (1.0 - ALPHA) * *s + ALPHA * outcome;
    }
}

impl Scheduler for Reliable {
    fn schedule(
        &mut self,
        input: &SchedInput<'_>,
        sup: &mut [Supplier],
        out: &mut Vec<Assignment>,
        _: &mut ChaCha8Rng,
    ) {
        let mut order: Vec<_> = input.candidates.iter().collect();
        order.sort_by_key(|c| (!c.urgent, c.deadline, c.seq));
        for c in order {
            let mut best: Option<(f64, usize, Time)> = None;
            for (i, s) in sup.iter().enumerate().filter(|(_, s)| s.map.contains(c.seq)) {
                let finish = s.free_at.max(input.now) + Time::transmit(input.chunk_wire_bits / 8, s.rate_bps);
                if input.playback.is_some() && finish > c.deadline {
                    continue;
                }
                let trust = self.success.get(&s.id).copied().unwrap_or(1.0).max(0.05);
                let cost = (finish - input.now).as_secs_f64() / trust;
                if best.is_none_or(|b| cost < b.0) {
                    best = Some((cost, i, finish));
                }
            }
            if let Some((_, i, finish)) = best {
                sup[i].free_at = finish;
                out.push(Assignment { seq: c.seq, supplier: i, expect: finish });
            }
        }
    }
    fn on_arrival(&mut self, from: PeerId, _: Seq, _: Time, _: Time) {
        self.learn(from, 1.0);
    }
    fn on_expired(&mut self, from: PeerId, _: Seq, _: Time) {
        self.learn(from, 0.0);
    }
    fn on_partner_removed(&mut self, id: PeerId) {
        self.success.remove(&id);
    }
}

/// swarmlab's built-ins plus the `reliable` scheduler.
pub fn registry() -> swarmlab::Registry {
    let about = "deadline order, supplier by expected finish over its learned success rate (example)";
    swarmlab::Registry::builtins().scheduler(SchedulerSpec::new("reliable", about, || Box::new(Reliable::default())))
}
