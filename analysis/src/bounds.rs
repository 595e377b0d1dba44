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
//!   the last peer, not every peer (Liu, "On the minimum delay peer-to-peer
//!   video streaming", ACM MM 2007, treats heterogeneous uploads).

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
}
