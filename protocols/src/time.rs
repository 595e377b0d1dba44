//! Integer simulation time: nanoseconds since the scenario started.
//!
//! Time is never a float and never read from a clock inside the protocol core;
//! the driver (simulator or UDP host) passes `now` in. One type serves for
//! instants and spans, as both are counts of nanoseconds.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds since the scenario start (an instant) or a span of nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);
    pub const MAX: Time = Time(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Time {
        Time(ns)
    }
    pub const fn from_micros(us: u64) -> Time {
        Time(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Time {
        Time(s * 1_000_000_000)
    }
    /// Rounds to the nearest nanosecond; negative or NaN inputs give zero.
    pub fn from_secs_f64(s: f64) -> Time {
        if s.is_nan() || s <= 0.0 { Time(0) } else { Time((s * 1e9).round().min(u64::MAX as f64) as u64) }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn saturating_sub(self, rhs: Time) -> Time {
        Time(self.0.saturating_sub(rhs.0))
    }
    pub fn max(self, rhs: Time) -> Time {
        if self >= rhs { self } else { rhs }
    }
    pub fn min(self, rhs: Time) -> Time {
        if self <= rhs { self } else { rhs }
    }

    /// Time to serialize `bytes` onto a link of `bits_per_sec`, rounded up so that
    /// a link is never faster than its rate. A zero rate means "never" ([`Time::MAX`]).
    pub fn transmit(bytes: u64, bits_per_sec: u64) -> Time {
        Time::transmit_bits(bytes as u128 * 8, bits_per_sec)
    }

    /// [`Time::transmit`] for a number of bits (what is left of a message
    /// whose link changed rate mid-way).
    pub fn transmit_bits(bits: u128, bits_per_sec: u64) -> Time {
        if bits_per_sec == 0 {
            return Time::MAX;
        }
        // In 64 bits when the product fits (any message below 2.3 GB): the
        // same value as the 128-bit division, without its library call.
        if let Ok(bits) = u64::try_from(bits)
            && let Some(bits_ns) = bits.checked_mul(1_000_000_000)
        {
            return Time(bits_ns.div_ceil(bits_per_sec));
        }
        let ns = (bits * 1_000_000_000).div_ceil(bits_per_sec as u128);
        Time(ns.min(u64::MAX as u128) as u64)
    }
}

impl Add for Time {
    type Output = Time;
    fn add(self, rhs: Time) -> Time {
        Time(self.0.saturating_add(rhs.0))
    }
}
impl AddAssign for Time {
    fn add_assign(&mut self, rhs: Time) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}
impl Sub for Time {
    type Output = Time;
    /// Saturating: an earlier minus a later instant is zero.
    fn sub(self, rhs: Time) -> Time {
        Time(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmit_rounds_up_and_zero_rate_is_never() {
        // 1 byte at 3 bit/s = 2.666..s, rounded up to the next nanosecond.
        assert_eq!(Time::transmit(1, 3), Time(2_666_666_667));
        assert_eq!(Time::transmit(62_500, 500_000), Time::from_secs(1));
        assert_eq!(Time::transmit(10, 0), Time::MAX);
    }

    #[test]
    fn secs_f64_roundtrip_and_clamps() {
        assert_eq!(Time::from_secs_f64(1.5), Time::from_millis(1500));
        assert_eq!(Time::from_secs_f64(-3.0), Time::ZERO);
        assert_eq!(Time::from_secs_f64(f64::NAN), Time::ZERO);
        assert_eq!(Time::from_millis(250).as_secs_f64(), 0.25);
        assert_eq!(Time::from_secs(1) - Time::from_secs(2), Time::ZERO);
    }
}
