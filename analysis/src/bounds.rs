//! Theoretical bounds every run is compared with.
//!
//! - Maximum streaming rate (Kumar, Liu, Ross, "Stochastic Fluid Theory for P2P
//!   Streaming Systems", INFOCOM 2007): `r_max = min(u_s, (u_s + sum_i u_i) / N)`.
//!   If the stream rate `r` exceeds `r_max`, mean continuity cannot exceed
//!   `r_max / r`. With churn the population varies; [`time_averaged_r_max`]
//!   averages `r_max(t)` over the time at least one peer is present.
//! - Minimum store-and-forward delay: when every node (source included) uploads
//!   at `u`, a chunk of `c` bits takes `tau = c / u` per copy and the number of
//!   holders at most doubles every `tau`, so it reaches all `N` peers no earlier
//!   than `tau * ceil(log2(N + 1))` after emission, plus propagation. This bounds
//!   the last peer, not every peer.
//! - With heterogeneous uploads (Liu, "On the minimum delay peer-to-peer video
//!   streaming: how realtime can it be?", ACM MM 2007, shows that the upload
//!   distribution, not the fastest node, sets the delay) the fastest upload
//!   for every hop is loose. [`DiffusionBound`] adds a bound from the real
//!   distribution, a fluid relaxation: while `k` nodes hold a chunk (the source
//!   and `k - 1` peers) they upload at most `U(k)` = the source's upload plus
//!   the `k - 1` largest peer uploads, and a receiver can forward only once it
//!   holds the whole chunk, so the `k`-th copy cannot complete earlier than
//!   `sum_{j=1..k} c / U(j)` after emission, even if copies could be split
//!   over several senders (which only helps). Finding the fastest real
//!   schedule is NP-hard (Khuller and Kim, "Broadcasting in heterogeneous
//!   networks", Algorithmica 2007) and serving the fastest node first is a
//!   1.5-approximation, not optimal, so no greedy schedule is used as a bound. The bound reported is
//!   the larger of the two lower bounds, plus the smallest propagation delay.

use protocols::Time;

/// `r_max = min(u_s, (u_s + sum_u) / n)` in bits per second; `u_s` when `n == 0`.
pub fn r_max(source_up_bps: f64, sum_peer_up_bps: f64, n: usize) -> f64 {
    if n == 0 {
        return source_up_bps;
    }
    source_up_bps.min((source_up_bps + sum_peer_up_bps) / n as f64)
}

/// Sweeps the population over `[0, end)`: calls `f(n, sum_up_bps, dt_ns)` for
/// every stretch of time with `n > 0` peers present whose uploads sum to
/// `sum_up_bps`. `intervals` are `(join, leave, up_bps)`; at equal instants
/// leaves go before joins, so consecutive capacity segments of one peer never
/// count it twice.
fn sweep_population(intervals: &[(Time, Time, f64)], end: Time, mut f: impl FnMut(usize, f64, f64)) {
    let mut ev: Vec<(Time, i8, f64)> = Vec::with_capacity(intervals.len() * 2);
    for &(a, b, u) in intervals {
        let b = b.min(end);
        if a < b {
            ev.push((a, 1, u));
            ev.push((b, -1, u));
        }
    }
    // Ties broken by rate for determinism.
    ev.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.total_cmp(&y.2)));
    let (mut n, mut sum) = (0usize, 0f64);
    let mut last = Time::ZERO;
    for (t, d, u) in ev {
        if n > 0 && t > last {
            f(n, sum, (t - last).as_nanos() as f64);
        }
        last = t;
        if d > 0 {
            n += 1;
            sum += u;
        } else {
            n -= 1;
            sum -= u;
        }
    }
}

/// Time average of `r_max(t)` over `[0, end)`, counting only instants when at
/// least one peer is present. `intervals` are `(join, leave, up_bps)` per peer
/// (or per constant-capacity segment of a peer).
/// Returns `None` when no peer is ever present. `helper_bps`: upload of
/// servers that relay the stream but do not originate it (a CDN edge fed by
/// the source), added to the peers' supply but not to the source term.
pub fn time_averaged_r_max(
    source_up_bps: f64,
    helper_bps: f64,
    intervals: &[(Time, Time, f64)],
    end: Time,
) -> Option<f64> {
    let (mut acc, mut covered) = (0f64, 0f64);
    sweep_population(intervals, end, |n, sum, dt| {
        acc += r_max(source_up_bps, sum + helper_bps, n) * dt;
        covered += dt;
    });
    (covered > 0.0).then(|| acc / covered)
}

/// Upper bound on pooled continuity with a varying population: the
/// peer-weighted time average of `min(1, r_max(t) / r)`,
/// `sum n(t) min(1, r_max(t)/r) dt / sum n(t) dt`. Averaging r_max first and
/// capping after would let a short, sparsely populated start (huge r_max)
/// inflate the bound. `None` when no peer is ever present. `helper_bps` as
/// in [`time_averaged_r_max`].
pub fn weighted_continuity_bound(
    source_up_bps: f64,
    helper_bps: f64,
    intervals: &[(Time, Time, f64)],
    end: Time,
    rate_bps: f64,
) -> Option<f64> {
    let (mut num, mut den) = (0f64, 0f64);
    sweep_population(intervals, end, |n, sum, dt| {
        let w = n as f64 * dt;
        num += w * continuity_bound(r_max(source_up_bps, sum + helper_bps, n), rate_bps);
        den += w;
    });
    (den > 0.0).then(|| num / den)
}

/// Upper bound on mean continuity: `min(1, r_max / r)`.
pub fn continuity_bound(r_max_bps: f64, rate_bps: f64) -> f64 {
    if rate_bps <= 0.0 { 1.0 } else { (r_max_bps / rate_bps).min(1.0) }
}

/// Lower bound on the time for one chunk to reach all `n` peers when every
/// node uploads at `up_bps`: `ceil(log2(n + 1)) * tau + propagation`,
/// `tau = chunk_bits / up_bps` (rounded up like the links).
pub fn min_diffusion_delay(n: usize, chunk_bytes_on_wire: u64, up_bps: u64, propagation: Time) -> Time {
    // ceil(log2(n + 1)) in integers (no platform log2).
    let hops = (n as u64 + 1).next_power_of_two().trailing_zeros() as u64;
    let tau = Time::transmit(chunk_bytes_on_wire, up_bps);
    Time(tau.0.saturating_mul(hops)) + propagation
}

/// Lower bound on the time for one chunk to reach `n` peers, the larger of
/// [`min_diffusion_delay`] at the fastest upload and the fluid bound with the
/// real upload distribution (module doc). Built once per run from every
/// upload that was ever present (more nodes only lower the bound, so it stays
/// valid with churn).
#[derive(Clone, Debug)]
pub struct DiffusionBound {
    chunk_bytes: u64,
    u_max: u64,
    propagation: Time,
    /// `fluid[k - 1]` = `sum_{j=1..k} c / U(j)` in seconds (infinite once `U(j)` is 0).
    fluid: Vec<f64>,
}

impl DiffusionBound {
    pub fn new(chunk_bytes_on_wire: u64, source_up_bps: u64, peer_up_bps: &[u64], propagation: Time) -> Self {
        let mut ups = peer_up_bps.to_vec();
        ups.sort_unstable_by(|a, b| b.cmp(a));
        let bits = chunk_bytes_on_wire as f64 * 8.0;
        let (mut rate, mut acc) = (source_up_bps as f64, 0f64);
        let mut fluid = Vec::with_capacity(ups.len());
        for u in &ups {
            acc += if rate > 0.0 { bits / rate } else { f64::INFINITY };
            fluid.push(acc);
            rate += *u as f64;
        }
        let u_max = ups.first().copied().unwrap_or(0).max(source_up_bps);
        DiffusionBound { chunk_bytes: chunk_bytes_on_wire, u_max, propagation, fluid }
    }

    /// The fluid bound alone for `n` receivers, seconds (without propagation).
    pub fn fluid_secs(&self, n: usize) -> f64 {
        if n == 0 { 0.0 } else { self.fluid.get(n - 1).or(self.fluid.last()).copied().unwrap_or(0.0) }
    }

    /// The bound for a chunk that reached `n` peers; `None` when no node can
    /// upload (no finite bound).
    pub fn bound(&self, n: usize) -> Option<Time> {
        if self.u_max == 0 {
            return None;
        }
        let sf = min_diffusion_delay(n, self.chunk_bytes, self.u_max, Time::ZERO);
        let fl = self.fluid_secs(n);
        if !fl.is_finite() {
            return None;
        }
        // Rounded down to whole nanoseconds: the bound must not exceed the truth.
        let fl = Time((fl * 1e9) as u64);
        Some(sf.max(fl) + self.propagation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_max_is_the_smaller_of_source_and_average_capacity() {
        assert_eq!(r_max(1000.0, 3000.0, 4), 1000.0);
        assert_eq!(r_max(1000.0, 1000.0, 4), 500.0);
        assert_eq!(r_max(700.0, 0.0, 0), 700.0);
    }

    #[test]
    fn time_average_weights_by_duration_and_skips_empty_time() {
        let s = Time::from_secs;
        // One peer of 1000 for 10 s, then nobody, then two peers of 0 for 10 s.
        let iv = [(s(0), s(10), 1000.0), (s(20), s(30), 0.0), (s(20), s(30), 0.0)];
        let avg = time_averaged_r_max(1000.0, 0.0, &iv, s(40)).unwrap();
        // r_max = 1000 for 10 s and (1000 + 0) / 2 = 500 for 10 s.
        assert!((avg - 750.0).abs() < 1e-9, "{avg}");
        assert_eq!(time_averaged_r_max(1.0, 0.0, &[], s(1)), None);
    }

    #[test]
    fn weighted_bound_caps_before_averaging() {
        let s = Time::from_secs;
        // 10 s with one peer (r_max huge, capped at 1), then 90 s with 10 peers
        // of zero upload and a 1000 bps source: r_max = 100, bound 0.2 at r = 500.
        let mut iv = vec![(s(0), s(100), 0.0)];
        iv.extend((0..9).map(|_| (s(10), s(100), 0.0)));
        let b = weighted_continuity_bound(1000.0, 0.0, &iv, s(100), 500.0).unwrap();
        let expected = (10.0 * 1.0 + 900.0 * 0.2) / (10.0 + 900.0);
        assert!((b - expected).abs() < 1e-12, "{b} vs {expected}");
    }

    #[test]
    fn diffusion_bound_doubles_per_chunk_time() {
        // 7 peers + source = 8 holders after 3 doublings; 1 s per copy.
        assert_eq!(min_diffusion_delay(7, 125, 1000, Time::ZERO), Time::from_secs(3));
        assert_eq!(min_diffusion_delay(8, 125, 1000, Time::from_millis(20)), Time::from_millis(4020));
        assert_eq!(continuity_bound(400.0, 500.0), 0.8);
        assert_eq!(continuity_bound(900.0, 500.0), 1.0);
    }

    #[test]
    fn fluid_bound_uses_the_upload_distribution() {
        // Source 1000 bps, peers 1000 and 0 bps, 125-byte (1000-bit) chunks.
        // U(1) = 1000, U(2) = 2000: 1 s for the first copy, 0.5 s more for the
        // second; the store-and-forward bound at the fastest upload gives
        // ceil(log2 3) = 2 copies' time = 2 s, the larger.
        let b = DiffusionBound::new(125, 1000, &[0, 1000], Time::ZERO);
        assert_eq!(b.fluid_secs(1), 1.0);
        assert_eq!(b.fluid_secs(2), 1.5);
        assert_eq!(b.bound(2), Some(Time::from_secs(2)));
        // Many slow peers and one fast source: the fluid bound dominates.
        // Source 8000 bps, 7 peers of 1000: U(j) = 8000 + 1000 (j - 1).
        let b = DiffusionBound::new(125, 8000, &[1000; 7], Time::from_millis(20));
        let want: f64 = (1..=7).map(|j| 1000.0 / (8000.0 + 1000.0 * (j - 1) as f64)).sum();
        assert!((b.fluid_secs(7) - want).abs() < 1e-12);
        // Store-and-forward at 8000 bps: 3 doublings of 0.125 s = 0.375 s < fluid (~0.69 s).
        assert_eq!(b.bound(7), Some(Time((want * 1e9) as u64) + Time::from_millis(20)));
        // Homogeneous uploads: the fluid bound (harmonic) is below log2, which wins.
        let b = DiffusionBound::new(125, 1000, &[1000; 7], Time::ZERO);
        assert_eq!(b.bound(7), Some(Time::from_secs(3)));
        // Nobody can upload: no bound.
        assert_eq!(DiffusionBound::new(125, 0, &[0, 0], Time::ZERO).bound(2), None);
    }

    /// The fluid bound never exceeds an achievable schedule: a binary tree on
    /// homogeneous nodes (each holder sends back to back) finishes n copies in
    /// ceil(log2(n+1)) copy times, and the fluid bound is at most that.
    #[test]
    fn fluid_bound_is_below_an_achievable_schedule() {
        for n in 1..200usize {
            let b = DiffusionBound::new(125, 1000, &vec![1000; n], Time::ZERO);
            let achievable = min_diffusion_delay(n, 125, 1000, Time::ZERO).as_nanos() as f64 / 1e9;
            assert!(b.fluid_secs(n) <= achievable + 1e-9, "n = {n}");
        }
    }
}
