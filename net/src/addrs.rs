//! [`AddrBook`]: the host's [`IdCodec`], mapping socket addresses to dense peer ids.
//!
//! Ids are local to one host (each process numbers the addresses it meets in
//! its own order) and never reused. Id 0 is the tracker and id 1 the source when
//! their addresses are configured, matching the `tracker: PeerId(0)` and
//! `source: PeerId(1)` of the protocol configurations the simulator builds. On
//! the wire an id is the IPv4 address (4 bytes) and the port (2 bytes, big endian).
//! The book is bounded: past `cap` addresses, unknown ones are refused.
//!
//! Member-list defence (issue 14): an address is *verified* when a datagram
//! came from it, when it is configured (tracker, source, this host), or when a
//! trusted node (the tracker or the source) named it; otherwise it is
//! *unverified*, credited to the member whose message named it (the
//! [`AddrBook::set_reporter`] of the decode). A member can have at most
//! `per_reporter` unverified addresses in the book at a time, and unverified
//! addresses together at most half of `cap`: a member gossiping made-up
//! addresses fills its own quota, after which its member lists are refused
//! (the decode fails with `UnknownPeer` and the host counts a `drop_unknown`),
//! and can never crowd out the addresses of nodes that actually talk to this
//! host. An unverified address becomes verified (and stops counting against
//! its reporter) the first time a datagram comes from it. Addresses are never
//! evicted: an id stays valid for the protocol as long as the host runs.
//! Not defended: a forged UDP source address counts as contact (there is no
//! handshake), and many colluding members can still fill the unverified half.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use protocols::PeerId;
use protocols::wire::{ID_BYTES, IdCodec};

/// Default bound on the unverified addresses one member may have in the book.
pub const PER_REPORTER: u32 = 256;

/// Bidirectional address <-> id table.
pub struct AddrBook {
    addrs: Vec<SocketAddrV4>,
    ids: BTreeMap<SocketAddrV4, PeerId>,
    cap: usize,
    per_reporter: u32,
    /// Unverified addresses and who named each.
    unverified: BTreeMap<PeerId, SocketAddrV4>,
    /// Unverified addresses per reporter.
    credited: BTreeMap<SocketAddrV4, u32>,
    /// Nodes whose member lists are believed (tracker, source).
    trusted: Vec<SocketAddrV4>,
    /// Who sent the message being decoded (`None`: addresses are verified).
    reporter: Option<SocketAddrV4>,
}

fn unusable(a: SocketAddrV4) -> bool {
    a.port() == 0 || a.ip().is_unspecified() || a.ip().is_broadcast() || a.ip().is_multicast()
}

impl AddrBook {
    /// An empty book holding at most `cap` addresses, [`PER_REPORTER`]
    /// unverified ones per member.
    pub fn new(cap: usize) -> AddrBook {
        AddrBook::with_quota(cap, PER_REPORTER)
    }

    /// An empty book holding at most `cap` addresses, `per_reporter`
    /// unverified ones per member.
    pub fn with_quota(cap: usize, per_reporter: u32) -> AddrBook {
        AddrBook {
            addrs: Vec::new(),
            ids: BTreeMap::new(),
            cap,
            per_reporter,
            unverified: BTreeMap::new(),
            credited: BTreeMap::new(),
            trusted: Vec::new(),
            reporter: None,
        }
    }

    /// Adds `a` as verified and believes the member lists it sends.
    pub fn trust(&mut self, a: SocketAddrV4) -> Option<PeerId> {
        if !self.trusted.contains(&a) {
            self.trusted.push(a);
        }
        self.intern(a)
    }

    /// Addresses decoded from now on were named by `reporter` (`None`: they
    /// are verified, as for a datagram's own source).
    pub fn set_reporter(&mut self, reporter: Option<SocketAddrV4>) {
        self.reporter = reporter;
    }

    /// The id of `a`, a verified address (a datagram came from it, or it is
    /// configured), assigning the next id if it is new and there is room.
    /// Unspecified, broadcast and multicast addresses and port 0 are refused.
    pub fn intern(&mut self, a: SocketAddrV4) -> Option<PeerId> {
        if unusable(a) {
            return None;
        }
        if let Some(&id) = self.ids.get(&a) {
            if let Some(r) = self.unverified.remove(&id)
                && let Some(n) = self.credited.get_mut(&r)
            {
                *n -= 1;
                if *n == 0 {
                    self.credited.remove(&r);
                }
            }
            return Some(id);
        }
        self.insert(a)
    }

    /// The id of `a` as named in a message from `reporter`: verified if the
    /// reporter is trusted, otherwise unverified within the quotas.
    pub fn intern_reported(&mut self, a: SocketAddrV4, reporter: SocketAddrV4) -> Option<PeerId> {
        if unusable(a) {
            return None;
        }
        if let Some(&id) = self.ids.get(&a) {
            return Some(id);
        }
        if self.trusted.contains(&reporter) {
            return self.insert(a);
        }
        let n = self.credited.get(&reporter).copied().unwrap_or(0);
        if n >= self.per_reporter || self.unverified.len() >= self.cap / 2 {
            return None;
        }
        let id = self.insert(a)?;
        self.unverified.insert(id, reporter);
        *self.credited.entry(reporter).or_insert(0) += 1;
        Some(id)
    }

    fn insert(&mut self, a: SocketAddrV4) -> Option<PeerId> {
        if self.addrs.len() >= self.cap {
            return None;
        }
        let id = PeerId(self.addrs.len() as u32);
        self.addrs.push(a);
        self.ids.insert(a, id);
        Some(id)
    }

    /// Addresses no datagram came from yet (named by untrusted members).
    pub fn unverified_len(&self) -> usize {
        self.unverified.len()
    }

    /// The id of `a` if known.
    pub fn lookup(&self, a: SocketAddrV4) -> Option<PeerId> {
        self.ids.get(&a).copied()
    }

    /// The address of `id`.
    pub fn addr(&self, id: PeerId) -> Option<SocketAddrV4> {
        self.addrs.get(id.index()).copied()
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

/// The wire form of an address.
pub fn addr_bytes(a: SocketAddrV4) -> [u8; ID_BYTES] {
    let ip = a.ip().octets();
    let port = a.port().to_be_bytes();
    [ip[0], ip[1], ip[2], ip[3], port[0], port[1]]
}

impl IdCodec for AddrBook {
    fn put(&self, id: PeerId) -> [u8; ID_BYTES] {
        self.addr(id).map_or([0; ID_BYTES], addr_bytes)
    }
    fn get(&mut self, b: [u8; ID_BYTES]) -> Option<PeerId> {
        let a = SocketAddrV4::new(Ipv4Addr::new(b[0], b[1], b[2], b[3]), u16::from_be_bytes([b[4], b[5]]));
        match self.reporter {
            Some(r) => self.intern_reported(a, r),
            None => self.intern(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_stable_and_bounded() {
        let mut b = AddrBook::new(2);
        let a: SocketAddrV4 = "127.0.0.1:1000".parse().unwrap();
        let c: SocketAddrV4 = "127.0.0.1:1001".parse().unwrap();
        assert_eq!(b.intern(a), Some(PeerId(0)));
        assert_eq!(b.intern(c), Some(PeerId(1)));
        assert_eq!(b.intern(a), Some(PeerId(0)));
        assert_eq!(b.intern("127.0.0.1:1002".parse().unwrap()), None);
        assert_eq!(b.intern("0.0.0.0:5".parse().unwrap()), None);
        let w = b.put(PeerId(1));
        assert_eq!(b.get(w), Some(PeerId(1)));
        assert_eq!(b.addr(PeerId(1)), Some(c));
    }

    fn addr(i: u32) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 + i), 4000)
    }

    #[test]
    fn a_member_naming_made_up_addresses_fills_only_its_own_quota() {
        let mut b = AddrBook::with_quota(100, 8);
        let (tracker, liar, honest) = (addr(1), addr(2), addr(3));
        b.trust(tracker);
        b.intern(liar);
        b.intern(honest);
        b.set_reporter(Some(liar));
        let named: Vec<Option<PeerId>> = (1000..1100).map(|i| b.get(addr_bytes(addr(i)))).collect();
        assert_eq!(named.iter().filter(|x| x.is_some()).count(), 8, "the liar's quota");
        assert_eq!(b.unverified_len(), 8);
        // Another member and the tracker still introduce addresses; contacts always get in.
        b.set_reporter(Some(honest));
        assert!(b.get(addr_bytes(addr(2000))).is_some());
        b.set_reporter(Some(tracker));
        assert!(b.get(addr_bytes(addr(3000))).is_some());
        assert_eq!(b.unverified_len(), 9, "tracker-named addresses are verified");
        b.set_reporter(None);
        assert!(b.intern(addr(4000)).is_some());
        // A datagram from an address the liar named verifies it and frees a slot of its quota.
        assert_eq!(b.intern(addr(1000)), named[0]);
        assert_eq!(b.unverified_len(), 8);
        b.set_reporter(Some(liar));
        assert!(b.get(addr_bytes(addr(5000))).is_some());
        assert!(b.get(addr_bytes(addr(5001))).is_none());
    }

    #[test]
    fn unverified_addresses_never_take_more_than_half_the_book() {
        let mut b = AddrBook::with_quota(20, 1000);
        for m in 0..4 {
            b.set_reporter(Some(addr(m)));
            for i in 0..10 {
                b.get(addr_bytes(addr(100 * (m + 1) + i)));
            }
        }
        assert_eq!(b.unverified_len(), 10);
        b.set_reporter(None);
        let contacts = (0..10).filter(|i| b.intern(addr(9000 + i)).is_some()).count();
        assert_eq!(contacts, 10, "the verified half stays free for nodes that talk to us");
        assert!(b.intern(addr(9999)).is_none(), "and the book stays bounded");
    }
}
