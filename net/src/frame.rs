//! Fragmentation of messages into datagrams and bounded reassembly.
//!
//! Every datagram starts with the [`FRAME_HEADER`] of `protocols::wire`:
//! message number (u32), fragment index (u16) and fragment count (u16), little
//! endian, followed by at most [`FRAGMENT_PAYLOAD`] message bytes. Every
//! fragment but the last carries exactly `FRAGMENT_PAYLOAD` bytes, so a
//! message's length is known once its last fragment arrives.
//!
//! Reassembly is bounded three ways: a message may have at most
//! [`MAX_FRAGMENTS`] fragments, at most [`Reassembler::max_pending`] messages
//! (and [`Reassembler::max_bytes`] buffered bytes) are incomplete at once (the
//! oldest is evicted), and an incomplete message expires after
//! [`Reassembler::timeout`]. Every rejected datagram is reported as a [`Drop`].

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use protocols::Time;
use protocols::wire::{FRAGMENT_PAYLOAD, FRAME_HEADER, MAX_CHUNK_BYTES, MAX_DATAGRAM};

/// Most fragments of one message: enough for the largest chunk a decoder accepts.
pub const MAX_FRAGMENTS: usize = (MAX_CHUNK_BYTES as usize + 64).div_ceil(FRAGMENT_PAYLOAD);

/// Why a datagram was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drop {
    /// Shorter than the frame header, or a fragment with no bytes.
    Truncated,
    /// Longer than [`MAX_DATAGRAM`].
    Oversized,
    /// Fragment index/count inconsistent, a non-final fragment of the wrong
    /// size, or a count above [`MAX_FRAGMENTS`].
    BadFragment,
    /// A duplicate fragment of a message being reassembled.
    DuplicateFragment,
    /// An incomplete message evicted to respect the caps.
    Evicted,
    /// An incomplete message that timed out.
    Expired,
}

/// Splits `msg` into datagrams (header + fragment), appending them to `out`.
pub fn fragment(msg_no: u32, msg: &[u8], out: &mut Vec<Vec<u8>>) {
    let count = msg.len().div_ceil(FRAGMENT_PAYLOAD).max(1);
    debug_assert!(count <= u16::MAX as usize);
    for i in 0..count {
        let part = &msg[(i * FRAGMENT_PAYLOAD).min(msg.len())..((i + 1) * FRAGMENT_PAYLOAD).min(msg.len())];
        let mut d = Vec::with_capacity(FRAME_HEADER + part.len());
        d.extend_from_slice(&msg_no.to_le_bytes());
        d.extend_from_slice(&(i as u16).to_le_bytes());
        d.extend_from_slice(&(count as u16).to_le_bytes());
        d.extend_from_slice(part);
        out.push(d);
    }
}

struct Partial {
    first_seen: Time,
    count: u16,
    got: Vec<bool>,
    received: u16,
    buf: Vec<u8>,
    /// Length of the last fragment, once it arrived.
    last_len: Option<usize>,
}

/// Bounded reassembly of fragmented messages, keyed by (sender, message number).
pub struct Reassembler {
    pending: BTreeMap<(SocketAddrV4, u32), Partial>,
    bytes: usize,
    /// Incomplete messages kept at once (default 256).
    pub max_pending: usize,
    /// Bytes buffered for incomplete messages (default 32 MiB).
    pub max_bytes: usize,
    /// An incomplete message older than this is dropped (default 3 s).
    pub timeout: Time,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler {
            pending: BTreeMap::new(),
            bytes: 0,
            max_pending: 256,
            max_bytes: 32 << 20,
            timeout: Time::from_secs(3),
        }
    }
}

/// What one datagram did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A whole message.
    Message(Vec<u8>),
    /// A fragment was stored; the message is not complete yet.
    Stored,
    /// The datagram was rejected.
    Dropped(Drop),
}

impl Reassembler {
    /// Incomplete messages held now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Handles one datagram from `from` at `now`. Returns evictions through
    /// `evicted` (count of incomplete messages dropped to make room).
    pub fn push(&mut self, from: SocketAddrV4, datagram: &[u8], now: Time, evicted: &mut u64) -> Outcome {
        if datagram.len() > MAX_DATAGRAM {
            return Outcome::Dropped(Drop::Oversized);
        }
        if datagram.len() <= FRAME_HEADER {
            return Outcome::Dropped(Drop::Truncated);
        }
        let h = &datagram[..FRAME_HEADER];
        let msg_no = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let index = u16::from_le_bytes([h[4], h[5]]);
        let count = u16::from_le_bytes([h[6], h[7]]);
        let body = &datagram[FRAME_HEADER..];
        if count == 0 || index >= count || count as usize > MAX_FRAGMENTS {
            return Outcome::Dropped(Drop::BadFragment);
        }
        let last = index + 1 == count;
        if !last && body.len() != FRAGMENT_PAYLOAD {
            return Outcome::Dropped(Drop::BadFragment);
        }
        if count == 1 {
            return Outcome::Message(body.to_vec());
        }
        let key = (from, msg_no);
        if let Some(p) = self.pending.get(&key)
            && p.count != count
        {
            return Outcome::Dropped(Drop::BadFragment);
        }
        if !self.pending.contains_key(&key) {
            let size = count as usize * FRAGMENT_PAYLOAD;
            if size > self.max_bytes {
                return Outcome::Dropped(Drop::BadFragment);
            }
            // Make room: evict the oldest incomplete messages.
            while !self.pending.is_empty()
                && (self.pending.len() >= self.max_pending || self.bytes + size > self.max_bytes)
            {
                let oldest = self.pending.iter().min_by_key(|(k, p)| (p.first_seen, **k)).map(|(k, _)| *k);
                if let Some(k) = oldest
                    && let Some(p) = self.pending.remove(&k)
                {
                    self.bytes -= p.buf.len();
                    *evicted += 1;
                }
            }
            self.bytes += size;
            self.pending.insert(
                key,
                Partial {
                    first_seen: now,
                    count,
                    got: vec![false; count as usize],
                    received: 0,
                    buf: vec![0; size],
                    last_len: None,
                },
            );
        }
        let Some(p) = self.pending.get_mut(&key) else { return Outcome::Dropped(Drop::BadFragment) };
        if p.got[index as usize] {
            return Outcome::Dropped(Drop::DuplicateFragment);
        }
        p.got[index as usize] = true;
        p.received += 1;
        let at = index as usize * FRAGMENT_PAYLOAD;
        p.buf[at..at + body.len()].copy_from_slice(body);
        if last {
            p.last_len = Some(body.len());
        }
        if p.received < p.count {
            return Outcome::Stored;
        }
        let Some(mut p) = self.pending.remove(&key) else { return Outcome::Stored };
        self.bytes -= p.buf.len();
        let len = (p.count as usize - 1) * FRAGMENT_PAYLOAD + p.last_len.unwrap_or(0);
        p.buf.truncate(len);
        Outcome::Message(p.buf)
    }

    /// Drops incomplete messages older than the timeout; returns how many.
    pub fn expire(&mut self, now: Time) -> u64 {
        let timeout = self.timeout;
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|_, p| {
            let keep = now.saturating_sub(p.first_seen) < timeout;
            if !keep {
                freed += p.buf.len();
            }
            keep
        });
        self.bytes -= freed;
        (before - self.pending.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr() -> SocketAddrV4 {
        "127.0.0.1:9000".parse().unwrap()
    }

    #[test]
    fn fragments_reassemble_in_any_order() {
        let msg: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut ds = Vec::new();
        fragment(42, &msg, &mut ds);
        assert_eq!(ds.len(), 5);
        assert!(ds.iter().all(|d| d.len() <= MAX_DATAGRAM));
        let mut r = Reassembler::default();
        let mut ev = 0;
        let order = [3, 0, 4, 1, 2];
        for (k, &i) in order.iter().enumerate() {
            let out = r.push(addr(), &ds[i], Time::ZERO, &mut ev);
            if k + 1 < order.len() {
                assert_eq!(out, Outcome::Stored);
            } else {
                assert_eq!(out, Outcome::Message(msg.clone()));
            }
        }
        assert_eq!(r.pending(), 0);
        assert_eq!(r.push(addr(), &ds[0], Time::ZERO, &mut ev), Outcome::Stored);
        assert_eq!(r.push(addr(), &ds[0], Time::ZERO, &mut ev), Outcome::Dropped(Drop::DuplicateFragment));
        assert_eq!(r.expire(Time::from_secs(10)), 1);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn caps_evict_the_oldest() {
        let mut r = Reassembler { max_pending: 2, ..Default::default() };
        let mut ev = 0;
        let msg = vec![1u8; 3000];
        for n in 0..5u32 {
            let mut ds = Vec::new();
            fragment(n, &msg, &mut ds);
            r.push(addr(), &ds[0], Time(n as u64), &mut ev);
        }
        assert_eq!(r.pending(), 2);
        assert_eq!(ev, 3);
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(ds in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1300), 0..20)) {
            let mut r = Reassembler { max_bytes: 1 << 20, ..Default::default() };
            let mut ev = 0;
            for d in &ds {
                let _ = r.push(addr(), d, Time::ZERO, &mut ev);
            }
            prop_assert!(r.bytes <= r.max_bytes);
        }
    }
}
