//! [`AddrBook`]: the host's [`IdCodec`], mapping socket addresses to dense peer ids.
//!
//! Ids are local to one host (each process numbers the addresses it meets in
//! its own order) and never reused. Id 0 is the tracker and id 1 the source when
//! their addresses are configured, matching the `tracker: PeerId(0)` and
//! `source: PeerId(1)` of the protocol configurations the simulator builds. On
//! the wire an id is the IPv4 address (4 bytes) and the port (2 bytes, big endian).
//! The book is bounded: past `cap` addresses, unknown ones are refused.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use protocols::PeerId;
use protocols::wire::{ID_BYTES, IdCodec};

/// Bidirectional address <-> id table.
pub struct AddrBook {
    addrs: Vec<SocketAddrV4>,
    ids: BTreeMap<SocketAddrV4, PeerId>,
    cap: usize,
}

impl AddrBook {
    /// An empty book holding at most `cap` addresses.
    pub fn new(cap: usize) -> AddrBook {
        AddrBook { addrs: Vec::new(), ids: BTreeMap::new(), cap }
    }

    /// The id of `a`, assigning the next one if it is new and there is room.
    /// Unspecified addresses and port 0 are refused.
    pub fn intern(&mut self, a: SocketAddrV4) -> Option<PeerId> {
        if a.port() == 0 || a.ip().is_unspecified() || a.ip().is_broadcast() || a.ip().is_multicast() {
            return None;
        }
        if let Some(&id) = self.ids.get(&a) {
            return Some(id);
        }
        if self.addrs.len() >= self.cap {
            return None;
        }
        let id = PeerId(self.addrs.len() as u32);
        self.addrs.push(a);
        self.ids.insert(a, id);
        Some(id)
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
        self.intern(a)
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
}
