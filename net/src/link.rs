//! The user-space access link: upload pacer, impairment and download pacer.
//!
//! The same physics as the simulator's engine (`sim::engine`), in real time:
//! - **upload pacer**: one message in service at a time, its datagrams
//!   serialized back to back at the access-link rate (each occupies the link for
//!   `(datagram + IP/UDP header) x 8 / up_bps`); waiting control messages go
//!   before waiting media messages; a message is never preempted. The backlog
//!   (time until everything queued is out) is what the protocol sees as
//!   `Ctx::upload_backlog`. The queue is bounded in bytes; a message that does
//!   not fit is dropped and counted.
//! - **impairment**: a datagram whose serialization ended is lost with
//!   probability `loss` (a seeded ChaCha8 draw per datagram), otherwise it is
//!   held for the one-way `delay` and then handed to the socket.
//! - **download pacer**: a received datagram is released to the host after
//!   `max(arrival, previous release) + bytes x 8 / down_bps` (FIFO, bounded).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddrV4;

use protocols::Time;
use protocols::wire::IP_UDP_HEADER;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// One message queued for upload: its datagrams to one destination.
pub struct Tx {
    pub to: SocketAddrV4,
    pub datagrams: VecDeque<Vec<u8>>,
    pub media: bool,
    /// Wire bytes still queued (datagrams plus IP/UDP headers).
    pub bytes: u64,
    /// One-way delay to `to` (per-pair latency models); `None`: the uplink's `delay`.
    pub delay: Option<Time>,
}

/// A datagram waiting out its one-way delay, ordered by (release, sequence).
struct Delayed {
    at: Time,
    seq: u64,
    to: SocketAddrV4,
    d: Vec<u8>,
    media: bool,
}
impl PartialEq for Delayed {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Delayed {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Datagrams waiting out a one-way delay, released in (release time,
/// arrival) order: with per-pair delays a later datagram may leave first.
/// The uplink's delay after serialization, and under kernel shaping the
/// receiver's delay after the kernel's queues.
#[derive(Default)]
pub struct DelayLine {
    heap: BinaryHeap<Reverse<Delayed>>,
    seq: u64,
    bytes: u64,
}

impl DelayLine {
    /// Holds `d` (to or from `addr`) until `at`.
    pub fn hold(&mut self, at: Time, addr: SocketAddrV4, d: Vec<u8>, media: bool) {
        self.seq += 1;
        self.bytes += d.len() as u64;
        self.heap.push(Reverse(Delayed { at, seq: self.seq, to: addr, d, media }));
    }
    /// The next datagram due by `now`: (address, bytes, media or control).
    pub fn pop_due(&mut self, now: Time) -> Option<(SocketAddrV4, Vec<u8>, bool)> {
        if self.heap.peek().is_some_and(|d| d.0.at <= now) {
            let Reverse(d) = self.heap.pop()?;
            self.bytes -= d.d.len() as u64;
            Some((d.to, d.d, d.media))
        } else {
            None
        }
    }
    /// When the next datagram is due.
    pub fn next_at(&self) -> Option<Time> {
        self.heap.peek().map(|d| d.0.at)
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    /// Payload bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Upload pacer with control-before-media queues, loss and delay.
pub struct Uplink {
    pub up_bps: u64,
    pub delay: Time,
    pub loss: f64,
    rng: ChaCha8Rng,
    head: Option<Tx>,
    ctrl: VecDeque<Tx>,
    media: VecDeque<Tx>,
    queued_bytes: u64,
    /// End of serialization of the datagram in service.
    busy_until: Option<Time>,
    max_queued_bytes: u64,
    /// Datagrams waiting out their one-way delay.
    delayed: DelayLine,
    /// Counters: datagrams lost by impairment, messages refused (queue full).
    pub lost_datagrams: u64,
    pub overflow_msgs: u64,
    /// Wire bytes discarded by [`Uplink::discard_queued`].
    pub discarded: u64,
    /// Wire bytes serialized, per class (media, control).
    pub sent_media: u64,
    pub sent_control: u64,
    /// Kernel shaping (`swarmlab validate --netns`): a `tc tbf` qdisc paces
    /// and nftables drops, so a message goes to the socket whole (no
    /// pacing of its datagrams, no loss, no delay: the receiving host
    /// delays); control at once, media one message at a time, when the
    /// kernel has sent what it was given before ([`Uplink::push`]).
    /// `up_bps` drives a shadow of the kernel queue for those hand-overs,
    /// [`Uplink::backlog`] and the queue bound.
    pub kernel: bool,
    /// Kernel mode: when the kernel will have sent everything handed to it
    /// (the shadow of its queue at `up_bps`).
    shadow_free: Time,
}

fn wire(d: &[u8]) -> u64 {
    (d.len() + IP_UDP_HEADER) as u64
}

impl Uplink {
    pub fn new(up_bps: u64, delay: Time, loss: f64, rng: ChaCha8Rng, max_queued_bytes: u64) -> Uplink {
        Uplink {
            up_bps: up_bps.max(1),
            delay,
            loss,
            rng,
            head: None,
            ctrl: VecDeque::new(),
            media: VecDeque::new(),
            queued_bytes: 0,
            busy_until: None,
            max_queued_bytes,
            delayed: DelayLine::default(),
            lost_datagrams: 0,
            overflow_msgs: 0,
            discarded: 0,
            sent_media: 0,
            sent_control: 0,
            kernel: false,
            shadow_free: Time::ZERO,
        }
    }

    /// Kernel mode: a control message's datagrams go to the socket at once,
    /// in order (the `tbf`'s control band sends them before media, as the
    /// simulator's control goes between a chunk's datagrams); a media
    /// message waits here until the kernel, by the shadow, has sent
    /// everything handed to it before ([`Uplink::advance`]). So the kernel
    /// holds the media message in service and nothing queued behind it, as
    /// the simulator's link does when a node leaves: the message in service
    /// still goes out from the kernel after the process is gone, the ones
    /// queued behind it die with the process (or [`Uplink::discard_queued`]
    /// drops them). The one-way delay is the receiver's to apply (the host
    /// holds what it reads for the sender's delay): held here, before the
    /// kernel's queue, per-pair delays would reorder that queue, and a
    /// node's pushes would leave in the order of their delays instead of
    /// the order the protocol sent them (the simulator serializes first,
    /// then delays).
    fn push_kernel(&mut self, tx: Tx, now: Time) -> bool {
        if Time::transmit(tx.bytes, self.up_bps) + self.backlog(now)
            > Time::transmit(self.max_queued_bytes, self.up_bps)
        {
            self.overflow_msgs += 1;
            return false;
        }
        if tx.media && (!self.media.is_empty() || self.shadow_free > now) {
            self.queued_bytes += tx.bytes;
            self.media.push_back(tx);
            return true;
        }
        let start = self.shadow_free.max(now);
        self.hand_over(tx, start, now);
        true
    }

    /// Kernel mode: `tx` goes to the socket now; the shadow serializes it
    /// from `start`.
    fn hand_over(&mut self, tx: Tx, start: Time, now: Time) {
        self.shadow_free = start + Time::transmit(tx.bytes, self.up_bps);
        if tx.media {
            self.sent_media += tx.bytes;
        } else {
            self.sent_control += tx.bytes;
        }
        for d in tx.datagrams {
            self.hold(now, tx.to, d, tx.media);
        }
    }

    fn hold(&mut self, at: Time, to: SocketAddrV4, d: Vec<u8>, media: bool) {
        self.delayed.hold(at, to, d, media);
    }

    /// Changes the upload rate at `now` (a bandwidth change of the scenario):
    /// the bits of the datagram in service already sent keep their time, the
    /// rest go at the new rate (as the simulator reschedules its message in service).
    pub fn set_rate(&mut self, bps: u64, now: Time) {
        let bps = bps.max(1);
        if let Some(end) = self.busy_until
            && end > now
        {
            let left = (end - now).as_nanos() as u128 * self.up_bps as u128 / bps as u128;
            self.busy_until = Some(now + Time(left.min(u64::MAX as u128 / 2) as u64));
        }
        if self.kernel && self.shadow_free > now {
            let left = (self.shadow_free - now).as_nanos() as u128 * self.up_bps as u128 / bps as u128;
            self.shadow_free = now + Time(left.min(u64::MAX as u128 / 2) as u64);
        }
        self.up_bps = bps;
    }

    /// Queues a message; false (and counted) when the queue is full.
    pub fn push(&mut self, tx: Tx, now: Time) -> bool {
        if self.kernel {
            return self.push_kernel(tx, now);
        }
        if self.queued_bytes + tx.bytes > self.max_queued_bytes {
            self.overflow_msgs += 1;
            return false;
        }
        self.queued_bytes += tx.bytes;
        if tx.media {
            self.media.push_back(tx);
        } else {
            self.ctrl.push_back(tx);
        }
        if self.busy_until.is_none() {
            self.start_next(now);
        }
        true
    }

    /// Starts serializing the next datagram at `at`, if any.
    fn start_next(&mut self, at: Time) {
        if self.head.as_ref().is_none_or(|h| h.datagrams.is_empty()) {
            self.head = self.ctrl.pop_front().or_else(|| self.media.pop_front());
        }
        self.busy_until =
            self.head.as_ref().and_then(|h| h.datagrams.front()).map(|d| at + Time::transmit(wire(d), self.up_bps));
    }

    /// Drops every queued message but the one in service (a node leaving, as
    /// in the simulator); returns the wire bytes discarded.
    pub fn discard_queued(&mut self) -> u64 {
        let bytes: u64 = self.ctrl.drain(..).chain(self.media.drain(..)).map(|t| t.bytes).sum();
        self.queued_bytes -= bytes;
        self.discarded += bytes;
        bytes
    }

    /// Time until everything queued has been serialized.
    pub fn backlog(&self, now: Time) -> Time {
        if self.kernel {
            return self.shadow_free.saturating_sub(now) + Time::transmit(self.queued_bytes, self.up_bps);
        }
        match self.busy_until {
            None => Time::ZERO,
            Some(end) => {
                let cur = self.head.as_ref().and_then(|h| h.datagrams.front()).map_or(0, |d| wire(d));
                (end - now) + Time::transmit(self.queued_bytes.saturating_sub(cur), self.up_bps)
            }
        }
    }

    /// Moves every datagram whose serialization ended by `now` to the delay
    /// line (or loses it); datagrams follow back to back. Kernel mode: hands
    /// over the media messages whose turn came by `now`, each from the
    /// shadow's end of the one before (a late wake-up does not delay the
    /// shadow: the `tbf`'s burst catches up).
    pub fn advance(&mut self, now: Time) {
        while self.kernel && self.shadow_free <= now {
            let Some(tx) = self.media.pop_front() else { break };
            self.queued_bytes -= tx.bytes;
            let start = self.shadow_free;
            self.hand_over(tx, start, now);
        }
        while let Some(end) = self.busy_until {
            if end > now {
                break;
            }
            if let Some(h) = self.head.as_mut()
                && let Some(d) = h.datagrams.pop_front()
            {
                let w = wire(&d);
                h.bytes -= w;
                self.queued_bytes -= w;
                if h.media {
                    self.sent_media += w;
                } else {
                    self.sent_control += w;
                }
                let lost = self.loss > 0.0 && self.rng.random::<f64>() < self.loss;
                let (to, delay, media) = (h.to, h.delay.unwrap_or(self.delay), h.media);
                if lost {
                    self.lost_datagrams += 1;
                } else {
                    self.hold(end + delay, to, d, media);
                }
            }
            self.busy_until = None;
            self.start_next(end);
        }
    }

    /// The next datagram whose delay is over by `now` (destination, bytes, media or control).
    pub fn pop_due(&mut self, now: Time) -> Option<(SocketAddrV4, Vec<u8>, bool)> {
        self.delayed.pop_due(now)
    }

    /// Earliest instant something changes (serialization end, a kernel-mode
    /// hand-over or delay release).
    pub fn next_event(&self) -> Option<Time> {
        let a = if self.kernel && !self.media.is_empty() { Some(self.shadow_free) } else { self.busy_until };
        let b = self.delayed.next_at();
        match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    /// Nothing queued, in service or delayed (kernel mode: nothing left to
    /// hand to the kernel).
    pub fn idle(&self) -> bool {
        self.busy_until.is_none() && self.delayed.is_empty() && self.media.is_empty()
    }
}

/// Download pacer: releases received datagrams at the access-link rate.
pub struct Downlink {
    pub down_bps: u64,
    free_at: Time,
    queue: VecDeque<(Time, SocketAddrV4, Vec<u8>)>,
    queued_bytes: u64,
    max_queued_bytes: u64,
    pub overflow: u64,
}

impl Downlink {
    pub fn new(down_bps: u64, max_queued_bytes: u64) -> Downlink {
        Downlink {
            down_bps: down_bps.max(1),
            free_at: Time::ZERO,
            queue: VecDeque::new(),
            queued_bytes: 0,
            max_queued_bytes,
            overflow: 0,
        }
    }
    /// Queues a datagram that arrived at `now`; false (counted) when full.
    pub fn push(&mut self, from: SocketAddrV4, d: Vec<u8>, now: Time) -> bool {
        let w = wire(&d);
        if self.queued_bytes + w > self.max_queued_bytes {
            self.overflow += 1;
            return false;
        }
        let release = self.free_at.max(now) + Time::transmit(w, self.down_bps);
        self.free_at = release;
        self.queued_bytes += w;
        self.queue.push_back((release, from, d));
        true
    }
    /// Changes the download rate (datagrams already queued keep their release time).
    pub fn set_rate(&mut self, bps: u64) {
        self.down_bps = bps.max(1);
    }
    pub fn pop_due(&mut self, now: Time) -> Option<(SocketAddrV4, Vec<u8>)> {
        if self.queue.front().is_some_and(|d| d.0 <= now) {
            let (_, from, d) = self.queue.pop_front()?;
            self.queued_bytes -= wire(&d);
            Some((from, d))
        } else {
            None
        }
    }
    pub fn next_event(&self) -> Option<Time> {
        self.queue.front().map(|d| d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tx(to: SocketAddrV4, n: usize, size: usize, media: bool) -> Tx {
        let datagrams: VecDeque<Vec<u8>> = (0..n).map(|_| vec![0u8; size]).collect();
        let bytes = datagrams.iter().map(|d| wire(d)).sum();
        Tx { to, datagrams, media, bytes, delay: None }
    }

    #[test]
    fn pacer_serializes_at_rate_control_first_then_delays() {
        let to: SocketAddrV4 = "127.0.0.1:1".parse().unwrap();
        // 972 + 28 = 1000 bytes per datagram at 8 Mbps: 1 ms each.
        let mut u = Uplink::new(8_000_000, Time::from_millis(10), 0.0, ChaCha8Rng::seed_from_u64(1), 1 << 20);
        u.push(tx(to, 3, 972, true), Time::ZERO);
        u.push(tx(to, 2, 972, true), Time::ZERO);
        u.push(tx(to, 1, 972, false), Time::ZERO);
        assert_eq!(u.backlog(Time::ZERO), Time::from_millis(6));
        u.advance(Time::from_millis(3));
        // The first media message is not preempted; control goes next.
        assert_eq!(u.backlog(Time::from_millis(3)), Time::from_millis(3));
        u.advance(Time::from_millis(4));
        assert_eq!(u.sent_control, 1000);
        assert!(u.pop_due(Time::from_millis(10)).is_none());
        assert!(u.pop_due(Time::from_millis(11)).is_some());
        u.advance(Time::from_millis(100));
        assert_eq!(u.sent_media, 5000);
        let mut n = 0;
        while u.pop_due(Time::from_millis(100)).is_some() {
            n += 1;
        }
        assert_eq!(n, 5);
        assert!(u.idle());
        u.push(tx(to, 2, 972, true), Time::from_millis(200));
        u.push(tx(to, 1, 972, true), Time::from_millis(200));
        assert_eq!(u.discard_queued(), 1000);
        assert_eq!(u.backlog(Time::from_millis(200)), Time::from_millis(2));
    }

    #[test]
    fn per_pair_delays_release_in_time_order_and_rate_changes_rescale_the_datagram_in_service() {
        let (a, b): (SocketAddrV4, SocketAddrV4) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap());
        let mut u = Uplink::new(8_000_000, Time::from_millis(10), 0.0, ChaCha8Rng::seed_from_u64(1), 1 << 20);
        let mut far = tx(a, 1, 972, false);
        far.delay = Some(Time::from_millis(50));
        let mut near = tx(b, 1, 972, false);
        near.delay = Some(Time::from_millis(5));
        u.push(far, Time::ZERO);
        u.push(near, Time::ZERO);
        u.advance(Time::from_millis(2));
        // Sent second (ends at 2 ms), released first (7 ms).
        assert_eq!(u.next_event(), Some(Time::from_millis(7)));
        assert_eq!(u.pop_due(Time::from_millis(7)).map(|d| d.0), Some(b));
        assert!(u.pop_due(Time::from_millis(50)).is_none());
        assert_eq!(u.pop_due(Time::from_millis(51)).map(|d| d.0), Some(a));
        // Half a datagram at 8 Mbps, the other half at 4 Mbps: 0.5 + 1 ms.
        u.push(tx(a, 1, 972, true), Time::from_millis(100));
        u.set_rate(4_000_000, Time::from_micros(100_500));
        assert_eq!(u.backlog(Time::from_micros(100_500)), Time::from_millis(1));
        let mut d = Downlink::new(8_000_000, 1 << 20);
        d.set_rate(4_000_000);
        assert!(d.push(a, vec![0; 972], Time::ZERO));
        assert_eq!(d.next_event(), Some(Time::from_millis(2)));
    }

    #[test]
    fn downlink_paces_and_is_bounded() {
        let from: SocketAddrV4 = "127.0.0.1:1".parse().unwrap();
        let mut d = Downlink::new(8_000_000, 2500);
        assert!(d.push(from, vec![0; 972], Time::ZERO));
        assert!(d.push(from, vec![0; 972], Time::ZERO));
        assert!(!d.push(from, vec![0; 972], Time::ZERO));
        assert_eq!(d.overflow, 1);
        assert!(d.pop_due(Time::from_micros(999)).is_none());
        assert!(d.pop_due(Time::from_millis(1)).is_some());
        assert_eq!(d.next_event(), Some(Time::from_millis(2)));
    }

    #[test]
    fn kernel_mode_hands_a_message_over_whole_in_send_order_whatever_its_delay() {
        let (a, b): (SocketAddrV4, SocketAddrV4) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap());
        let mut u = Uplink::new(8_000_000, Time::from_millis(10), 0.0, ChaCha8Rng::seed_from_u64(1), 1 << 20);
        u.kernel = true;
        let mut far = tx(a, 2, 972, false);
        far.delay = Some(Time::from_millis(50));
        let mut near = tx(b, 1, 972, false);
        near.delay = Some(Time::from_millis(5));
        u.push(far, Time::ZERO);
        u.push(near, Time::ZERO);
        // The kernel's queue serializes; the shadow says how long.
        assert_eq!(u.backlog(Time::ZERO), Time::from_millis(3));
        let order: Vec<SocketAddrV4> = std::iter::from_fn(|| u.pop_due(Time::ZERO).map(|d| d.0)).collect();
        assert_eq!(order, [a, a, b], "the order sent, not the order of the delays");
        assert!(u.idle());
    }

    #[test]
    fn kernel_mode_gives_the_kernel_one_media_message_at_a_time_and_a_leaver_keeps_only_it() {
        let (a, b, c): (SocketAddrV4, SocketAddrV4, SocketAddrV4) =
            ("127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap(), "127.0.0.1:3".parse().unwrap());
        let mut u = Uplink::new(8_000_000, Time::from_millis(10), 0.0, ChaCha8Rng::seed_from_u64(1), 1 << 20);
        u.kernel = true;
        let drain = |u: &mut Uplink, now: Time| -> Vec<SocketAddrV4> {
            u.advance(now);
            std::iter::from_fn(|| u.pop_due(now).map(|d| d.0)).collect()
        };
        // 1 ms per datagram: media to a (3 ms), media to b (2 ms), control to c (1 ms).
        u.push(tx(a, 3, 972, true), Time::ZERO);
        u.push(tx(b, 2, 972, true), Time::ZERO);
        u.push(tx(c, 1, 972, false), Time::ZERO);
        assert_eq!(u.backlog(Time::ZERO), Time::from_millis(6));
        // The first media message and the control go to the kernel now; b's
        // waits until the kernel has sent them (4 ms by the shadow).
        assert_eq!(drain(&mut u, Time::ZERO), [a, a, a, c]);
        assert_eq!(u.next_event(), Some(Time::from_millis(4)));
        assert!(!u.idle());
        assert!(drain(&mut u, Time::from_micros(3_999)).is_empty());
        assert_eq!(drain(&mut u, Time::from_millis(4)), [b, b]);
        assert_eq!((u.sent_media, u.sent_control), (5000, 1000));
        // A leaver: the message handed over (in service in the kernel) is
        // not taken back, the two behind it are dropped.
        u.push(tx(a, 2, 972, true), Time::from_millis(10));
        u.push(tx(b, 1, 972, true), Time::from_millis(10));
        u.push(tx(c, 1, 972, true), Time::from_millis(10));
        assert_eq!(drain(&mut u, Time::from_millis(10)), [a, a]);
        assert_eq!(u.discard_queued(), 2000);
        assert_eq!(u.backlog(Time::from_millis(11)), Time::from_millis(1));
        assert!(u.idle());
        assert_eq!(u.next_event(), None);
        // A rate change moves the next hand-over with the shadow: half of a
        // 2 ms message is left at 8 Mbps, 2 ms of it at 4 Mbps.
        u.push(tx(a, 2, 972, true), Time::from_millis(100));
        u.push(tx(b, 1, 972, true), Time::from_millis(100));
        assert_eq!(drain(&mut u, Time::from_millis(100)), [a, a]);
        u.set_rate(4_000_000, Time::from_millis(101));
        assert_eq!(u.next_event(), Some(Time::from_millis(103)));
        assert_eq!(u.backlog(Time::from_millis(101)), Time::from_millis(4));
        // Woken late, the shadow keeps its own time: b's message went from
        // 103 ms by the shadow, so the next one waits only until 105 ms.
        assert_eq!(drain(&mut u, Time::from_micros(104_500)), [b]);
        u.push(tx(c, 1, 972, true), Time::from_micros(104_500));
        assert!(drain(&mut u, Time::from_micros(104_999)).is_empty());
        assert_eq!(drain(&mut u, Time::from_millis(105)), [c]);
    }
}
