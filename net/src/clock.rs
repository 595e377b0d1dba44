//! The real clock, mapped to protocol [`Time`].
//!
//! Protocol time is nanoseconds since the stream epoch, a Unix timestamp every
//! process of a swarm is given (the source emits chunk `k` at epoch + k x chunk
//! duration, so `StreamParams::newest_at` agrees across processes). The clock
//! reads the system time once, then advances with the monotonic clock.
//!
//! This module is the only wall-clock reader of the host; `clippy.toml` forbids
//! clocks elsewhere in the protocol and simulator code.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocols::Time;

/// Real time since a stream epoch.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    start_unix_ns: u64,
    epoch_unix_ns: u64,
}

/// Nanoseconds since the Unix epoch now.
#[allow(clippy::disallowed_methods, reason = "the real-time host needs the wall clock to share a stream epoch")]
pub fn unix_now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
}

impl Clock {
    /// A clock whose time zero is `epoch_unix_ns`.
    #[allow(clippy::disallowed_methods, reason = "the real-time host needs a monotonic clock")]
    pub fn new(epoch_unix_ns: u64) -> Clock {
        Clock { start: Instant::now(), start_unix_ns: unix_now_ns(), epoch_unix_ns }
    }

    fn unix_ns(&self) -> u64 {
        self.start_unix_ns.saturating_add(self.start.elapsed().as_nanos().min(u64::MAX as u128) as u64)
    }

    /// Protocol time now (zero before the epoch).
    pub fn now(&self) -> Time {
        Time(self.unix_ns().saturating_sub(self.epoch_unix_ns))
    }

    /// How long until protocol time `t`; `None` once it has passed.
    pub fn until(&self, t: Time) -> Option<Duration> {
        let target = self.epoch_unix_ns.saturating_add(t.0);
        let now = self.unix_ns();
        (target > now).then(|| Duration::from_nanos(target - now))
    }
}
