//! Messages of every protocol family and their wire codec.
//!
//! One [`Msg`] enum serves all protocols so that the simulator and the UDP host
//! share a single codec. [`Msg::encoded_len`] is exact: the simulator charges a
//! message exactly `encoded_len` bytes plus per-datagram headers
//! ([`wire_bytes`]), the same bytes the UDP host puts on a socket.
//!
//! Layout: one tag byte, then the fields in little-endian order. A peer id takes
//! [`ID_BYTES`] bytes: over UDP it is the IPv4 address and port of the peer (the
//! host translates through an [`IdCodec`]); in the simulator it is the dense id.
//! A [`Msg::Chunk`] is a 9-byte header followed by `len` payload bytes; the
//! payload is not part of `Msg` (the simulator has no media bytes, the UDP host
//! appends them from its chunk store), but it is counted in `encoded_len`.
//!
//! The decoder never panics: truncated, oversized, unknown or trailing bytes are
//! a [`DecodeError`].

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};

/// Largest UDP payload the transport sends (bytes): the IPv6 minimum MTU minus headroom.
pub const MAX_DATAGRAM: usize = 1200;
/// Fragmentation header in every datagram: message number (u32), fragment index (u16), fragment count (u16).
pub const FRAME_HEADER: usize = 8;
/// Message bytes carried per datagram.
pub const FRAGMENT_PAYLOAD: usize = MAX_DATAGRAM - FRAME_HEADER;
/// IPv4 (20) + UDP (8) header bytes per datagram, charged on every link.
pub const IP_UDP_HEADER: usize = 28;
/// Bytes of a peer id on the wire (IPv4 address + port).
pub const ID_BYTES: usize = 6;
/// Most peers one `PeerList` or `Gossip` may carry.
pub const MAX_PEERS_PER_MSG: usize = 64;
/// Largest chunk payload accepted (bytes).
pub const MAX_CHUNK_BYTES: u32 = 16 << 20;
/// Largest opaque data part of a family message ([`ExtMsg`]), bytes.
pub const MAX_EXT_DATA: usize = 4096;

/// Number of datagrams and total bytes on the wire (headers included) for a
/// message of `encoded_len` bytes.
pub fn wire_bytes(encoded_len: usize) -> (u32, u64) {
    let n = encoded_len.div_ceil(FRAGMENT_PAYLOAD).max(1);
    (n as u32, (encoded_len + n * (FRAME_HEADER + IP_UDP_HEADER)) as u64)
}

/// Role a node registers with at the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Peer = 0,
    Source = 1,
}

/// A family's own message, carried by every driver without knowing it: the
/// envelope a new protocol family uses instead of adding variants to [`Msg`]
/// (so no other protocol changes). `kind` numbers the family's message types;
/// `peers` carries peer ids (translated by the [`IdCodec`] like every id on
/// the wire, so the same message works in the simulator and over UDP; at most
/// [`MAX_PEERS_PER_MSG`]); `data` is opaque (at most [`MAX_EXT_DATA`] bytes).
/// A family converts its own message type to and from this with [`ExtCodec`].
/// It is a control message: media travels as [`Msg::Chunk`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtMsg {
    pub kind: u8,
    pub peers: Vec<PeerId>,
    pub data: Vec<u8>,
}

/// A family's message type, carried in an [`ExtMsg`].
pub trait ExtCodec: Sized {
    fn to_ext(&self) -> ExtMsg;
    /// `None` for a kind or data the family does not know (the caller drops it).
    fn from_ext(m: &ExtMsg) -> Option<Self>;
}

/// Every message any swarmlab protocol sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Node -> tracker: (re-)register, advertising upload capacity.
    Register { role: Role, up_kbps: u32 },
    /// Node -> tracker: graceful departure.
    Unregister,
    /// Node -> tracker: ask for up to `want` known members.
    PeerListReq { want: u16 },
    /// Tracker -> node: members.
    PeerList { peers: Vec<PeerId> },
    /// Partnership request, advertising upload capacity.
    Hello { up_kbps: u32 },
    /// Partnership answer.
    HelloAck { accept: bool, up_kbps: u32 },
    /// Partnership (or tree relation) ends; sent on graceful leave and on drop.
    Bye,
    /// Membership gossip: a sample of known members.
    Gossip { peers: Vec<PeerId> },
    /// The chunks the sender holds within its window.
    BufferMap(ChunkMap),
    /// Receiver-driven request for the chunks in the map.
    Request(ChunkMap),
    /// Answer to a `Request`: the chunks in `chunks` will not be sent.
    /// `busy`: the supplier's upload queue is full; otherwise it does not
    /// hold them (or the requester is not its partner).
    Refuse { chunks: ChunkMap, busy: bool },
    /// Media: chunk `seq` with a payload of `len` bytes. `polluted` describes the
    /// payload (corrupted bytes), it is not a header field: the UDP host sets it
    /// from the integrity check, the simulator from the sender's behaviour.
    Chunk { seq: Seq, len: u32, polluted: bool },
    /// Tree or substream attach: the sender asks to become a child of the
    /// receiver for `stripe` (a tree of a multi-tree, or a pushed substream).
    Join { stripe: u8, up_kbps: u32 },
    /// Answer to `Join`. Accepted: `path` is the receiver's path from the root
    /// (root first, receiver last). Refused: `path` lists other nodes to try.
    JoinAck { stripe: u8, accept: bool, path: Vec<PeerId> },
    /// The sender stops being the receiver's parent or child for `stripe`.
    Detach { stripe: u8 },
    /// Parent -> child liveness for `stripe`, with the parent's path from the root.
    Heartbeat { stripe: u8, path: Vec<PeerId> },
    /// A family's own message ([`ExtMsg`]).
    Ext(ExtMsg),
}

/// Why a datagram or message could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty message")]
    Empty,
    #[error("unknown message tag {0}")]
    UnknownTag(u8),
    #[error("message truncated: needed {needed} bytes, had {had}")]
    Truncated { needed: usize, had: usize },
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    #[error("field `{field}` out of range: {value}")]
    OutOfRange { field: &'static str, value: u64 },
    #[error("unknown peer address")]
    UnknownPeer,
}

/// Translates peer ids to and from their [`ID_BYTES`]-byte wire form.
pub trait IdCodec {
    fn put(&self, id: PeerId) -> [u8; ID_BYTES];
    fn get(&mut self, bytes: [u8; ID_BYTES]) -> Option<PeerId>;
}

/// The simulator's codec: the dense id in the first four bytes.
pub struct DenseIds;

impl IdCodec for DenseIds {
    fn put(&self, id: PeerId) -> [u8; ID_BYTES] {
        let b = id.0.to_le_bytes();
        [b[0], b[1], b[2], b[3], 0, 0]
    }
    fn get(&mut self, b: [u8; ID_BYTES]) -> Option<PeerId> {
        Some(PeerId(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }
}

mod tag {
    pub const REGISTER: u8 = 1;
    pub const UNREGISTER: u8 = 2;
    pub const PEER_LIST_REQ: u8 = 3;
    pub const PEER_LIST: u8 = 4;
    pub const HELLO: u8 = 5;
    pub const HELLO_ACK: u8 = 6;
    pub const BYE: u8 = 7;
    pub const GOSSIP: u8 = 8;
    pub const BUFFER_MAP: u8 = 9;
    pub const REQUEST: u8 = 10;
    pub const CHUNK: u8 = 11;
    pub const JOIN: u8 = 12;
    pub const JOIN_ACK: u8 = 13;
    pub const DETACH: u8 = 14;
    pub const HEARTBEAT: u8 = 15;
    pub const EXT: u8 = 16;
    pub const REFUSE: u8 = 17;
}

fn map_len(m: &ChunkMap) -> usize {
    4 + 2 + (m.len() as usize).div_ceil(8)
}

impl Msg {
    /// Exact size in bytes of the encoded message (for `Chunk`, header plus payload).
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Msg::Register { .. } => 1 + 4,
            Msg::Unregister | Msg::Bye => 0,
            Msg::PeerListReq { .. } => 2,
            Msg::PeerList { peers } | Msg::Gossip { peers } => 1 + ID_BYTES * peers.len(),
            Msg::Hello { .. } => 4,
            Msg::HelloAck { .. } => 1 + 4,
            Msg::BufferMap(m) | Msg::Request(m) => map_len(m),
            Msg::Refuse { chunks, .. } => 1 + map_len(chunks),
            Msg::Chunk { len, .. } => 4 + 4 + *len as usize,
            Msg::Join { .. } => 1 + 4,
            Msg::JoinAck { path, .. } => 1 + 1 + 1 + ID_BYTES * path.len(),
            Msg::Detach { .. } => 1,
            Msg::Heartbeat { path, .. } => 1 + 1 + ID_BYTES * path.len(),
            Msg::Ext(e) => 1 + 1 + ID_BYTES * e.peers.len() + 2 + e.data.len(),
        }
    }

    /// True for media (chunk) messages, false for control messages.
    pub fn is_media(&self) -> bool {
        matches!(self, Msg::Chunk { .. })
    }

    /// Short name for logs and per-type byte counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Register { .. } => "register",
            Msg::Unregister => "unregister",
            Msg::PeerListReq { .. } => "peer-list-req",
            Msg::PeerList { .. } => "peer-list",
            Msg::Hello { .. } => "hello",
            Msg::HelloAck { .. } => "hello-ack",
            Msg::Bye => "bye",
            Msg::Gossip { .. } => "gossip",
            Msg::BufferMap(_) => "buffer-map",
            Msg::Request(_) => "request",
            Msg::Refuse { .. } => "refuse",
            Msg::Chunk { .. } => "chunk",
            Msg::Join { .. } => "join",
            Msg::JoinAck { .. } => "join-ack",
            Msg::Detach { .. } => "detach",
            Msg::Heartbeat { .. } => "heartbeat",
            Msg::Ext(_) => "ext",
        }
    }

    /// Appends the encoding to `out`. For `Chunk` only the header is written; the
    /// caller appends `len` payload bytes. Lists longer than
    /// [`MAX_PEERS_PER_MSG`] are truncated to it (callers never build longer ones).
    pub fn encode(&self, ids: &impl IdCodec, out: &mut Vec<u8>) {
        match self {
            Msg::Register { role, up_kbps } => {
                out.push(tag::REGISTER);
                out.push(*role as u8);
                out.extend_from_slice(&up_kbps.to_le_bytes());
            }
            Msg::Unregister => out.push(tag::UNREGISTER),
            Msg::PeerListReq { want } => {
                out.push(tag::PEER_LIST_REQ);
                out.extend_from_slice(&want.to_le_bytes());
            }
            Msg::PeerList { peers } | Msg::Gossip { peers } => {
                out.push(if matches!(self, Msg::PeerList { .. }) { tag::PEER_LIST } else { tag::GOSSIP });
                put_peers(peers, ids, out);
            }
            Msg::Hello { up_kbps } => {
                out.push(tag::HELLO);
                out.extend_from_slice(&up_kbps.to_le_bytes());
            }
            Msg::HelloAck { accept, up_kbps } => {
                out.push(tag::HELLO_ACK);
                out.push(*accept as u8);
                out.extend_from_slice(&up_kbps.to_le_bytes());
            }
            Msg::Bye => out.push(tag::BYE),
            Msg::BufferMap(m) | Msg::Request(m) => {
                out.push(if matches!(self, Msg::BufferMap(_)) { tag::BUFFER_MAP } else { tag::REQUEST });
                put_map(m, out);
            }
            Msg::Refuse { chunks, busy } => {
                out.extend_from_slice(&[tag::REFUSE, *busy as u8]);
                put_map(chunks, out);
            }
            Msg::Chunk { seq, len, .. } => {
                out.push(tag::CHUNK);
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
            }
            Msg::Join { stripe, up_kbps } => {
                out.push(tag::JOIN);
                out.push(*stripe);
                out.extend_from_slice(&up_kbps.to_le_bytes());
            }
            Msg::JoinAck { stripe, accept, path } => {
                out.extend_from_slice(&[tag::JOIN_ACK, *stripe, *accept as u8]);
                put_peers(path, ids, out);
            }
            Msg::Detach { stripe } => out.extend_from_slice(&[tag::DETACH, *stripe]),
            Msg::Heartbeat { stripe, path } => {
                out.extend_from_slice(&[tag::HEARTBEAT, *stripe]);
                put_peers(path, ids, out);
            }
            Msg::Ext(e) => {
                out.extend_from_slice(&[tag::EXT, e.kind]);
                put_peers(&e.peers, ids, out);
                let n = e.data.len().min(MAX_EXT_DATA);
                out.extend_from_slice(&(n as u16).to_le_bytes());
                out.extend_from_slice(&e.data[..n]);
            }
        }
    }

    /// Decodes one whole message. For `Chunk`, `buf` holds the header and the
    /// payload; the payload must be exactly `len` bytes. `polluted` is false.
    pub fn decode(buf: &[u8], ids: &mut impl IdCodec) -> Result<Msg, DecodeError> {
        let mut r = Reader { buf, pos: 0 };
        let tag = r.u8().map_err(|_| DecodeError::Empty)?;
        let msg = match tag {
            tag::REGISTER => {
                let role = match r.u8()? {
                    0 => Role::Peer,
                    1 => Role::Source,
                    v => {
                        return Err(DecodeError::OutOfRange { field: "role", value: v as u64 });
                    }
                };
                Msg::Register { role, up_kbps: r.u32()? }
            }
            tag::UNREGISTER => Msg::Unregister,
            tag::PEER_LIST_REQ => Msg::PeerListReq { want: r.u16()? },
            tag::PEER_LIST | tag::GOSSIP => {
                let peers = r.peers(ids)?;
                if tag == tag::PEER_LIST { Msg::PeerList { peers } } else { Msg::Gossip { peers } }
            }
            tag::JOIN => Msg::Join { stripe: r.u8()?, up_kbps: r.u32()? },
            tag::JOIN_ACK => {
                let stripe = r.u8()?;
                let accept = match r.u8()? {
                    0 => false,
                    1 => true,
                    v => return Err(DecodeError::OutOfRange { field: "accept", value: v as u64 }),
                };
                Msg::JoinAck { stripe, accept, path: r.peers(ids)? }
            }
            tag::DETACH => Msg::Detach { stripe: r.u8()? },
            tag::HEARTBEAT => Msg::Heartbeat { stripe: r.u8()?, path: r.peers(ids)? },
            tag::HELLO => Msg::Hello { up_kbps: r.u32()? },
            tag::HELLO_ACK => {
                let accept = match r.u8()? {
                    0 => false,
                    1 => true,
                    v => {
                        return Err(DecodeError::OutOfRange { field: "accept", value: v as u64 });
                    }
                };
                Msg::HelloAck { accept, up_kbps: r.u32()? }
            }
            tag::BYE => Msg::Bye,
            tag::BUFFER_MAP | tag::REQUEST => {
                let m = r.map()?;
                if tag == tag::BUFFER_MAP { Msg::BufferMap(m) } else { Msg::Request(m) }
            }
            tag::REFUSE => {
                let busy = r.flag("busy")?;
                Msg::Refuse { chunks: r.map()?, busy }
            }
            tag::CHUNK => {
                let seq = r.u32()?;
                let len = r.u32()?;
                if len > MAX_CHUNK_BYTES {
                    return Err(DecodeError::OutOfRange { field: "chunk length", value: len as u64 });
                }
                r.take(len as usize)?;
                Msg::Chunk { seq, len, polluted: false }
            }
            tag::EXT => {
                let kind = r.u8()?;
                let peers = r.peers(ids)?;
                let n = r.u16()? as usize;
                if n > MAX_EXT_DATA {
                    return Err(DecodeError::OutOfRange { field: "ext data length", value: n as u64 });
                }
                Msg::Ext(ExtMsg { kind, peers, data: r.take(n)?.to_vec() })
            }
            t => return Err(DecodeError::UnknownTag(t)),
        };
        if r.pos != buf.len() {
            return Err(DecodeError::Trailing(buf.len() - r.pos));
        }
        Ok(msg)
    }
}

fn put_map(m: &ChunkMap, out: &mut Vec<u8>) {
    out.extend_from_slice(&m.base().to_le_bytes());
    out.extend_from_slice(&m.len().to_le_bytes());
    let nbytes = (m.len() as usize).div_ceil(8);
    let mut bytes = [0u8; 32];
    for (w, word) in m.words().iter().enumerate() {
        bytes[w * 8..w * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&bytes[..nbytes]);
}

fn put_peers(peers: &[PeerId], ids: &impl IdCodec, out: &mut Vec<u8>) {
    let n = peers.len().min(MAX_PEERS_PER_MSG);
    out.push(n as u8);
    for p in &peers[..n] {
        out.extend_from_slice(&ids.put(*p));
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(e) => {
                let s = &self.buf[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => Err(DecodeError::Truncated { needed: self.pos + n, had: self.buf.len() }),
        }
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::OutOfRange { field, value: v as u64 }),
        }
    }
    fn map(&mut self) -> Result<ChunkMap, DecodeError> {
        let base = self.u32()?;
        let len = self.u16()?;
        if len > ChunkMap::CAPACITY {
            return Err(DecodeError::OutOfRange { field: "map length", value: len as u64 });
        }
        let nbytes = (len as usize).div_ceil(8);
        let raw = self.take(nbytes)?;
        let mut bytes = [0u8; 32];
        bytes[..nbytes].copy_from_slice(raw);
        let mut words = [0u64; 4];
        for (w, word) in words.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[w * 8..w * 8 + 8]);
            *word = u64::from_le_bytes(b);
        }
        Ok(ChunkMap::from_words(base, len, words))
    }
    fn peers(&mut self, ids: &mut impl IdCodec) -> Result<Vec<PeerId>, DecodeError> {
        let n = self.u8()? as usize;
        if n > MAX_PEERS_PER_MSG {
            return Err(DecodeError::OutOfRange { field: "peer count", value: n as u64 });
        }
        let mut peers = Vec::with_capacity(n);
        for _ in 0..n {
            let b = self.take(ID_BYTES)?;
            let mut a = [0u8; ID_BYTES];
            a.copy_from_slice(b);
            peers.push(ids.get(a).ok_or(DecodeError::UnknownPeer)?);
        }
        Ok(peers)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_map() -> impl Strategy<Value = ChunkMap> {
        (any::<u32>(), 0u16..=256, any::<[u64; 4]>()).prop_map(|(b, l, w)| ChunkMap::from_words(b, l, w))
    }

    fn arb_peers() -> impl Strategy<Value = Vec<PeerId>> {
        proptest::collection::vec(any::<u32>().prop_map(PeerId), 0..=MAX_PEERS_PER_MSG)
    }

    pub(crate) fn arb_msg() -> impl Strategy<Value = Msg> {
        prop_oneof![
            (any::<bool>(), any::<u32>())
                .prop_map(|(s, up_kbps)| Msg::Register { role: if s { Role::Source } else { Role::Peer }, up_kbps }),
            Just(Msg::Unregister),
            any::<u16>().prop_map(|want| Msg::PeerListReq { want }),
            arb_peers().prop_map(|peers| Msg::PeerList { peers }),
            any::<u32>().prop_map(|up_kbps| Msg::Hello { up_kbps }),
            (any::<bool>(), any::<u32>()).prop_map(|(accept, up_kbps)| Msg::HelloAck { accept, up_kbps }),
            Just(Msg::Bye),
            arb_peers().prop_map(|peers| Msg::Gossip { peers }),
            arb_map().prop_map(Msg::BufferMap),
            arb_map().prop_map(Msg::Request),
            (arb_map(), any::<bool>()).prop_map(|(chunks, busy)| Msg::Refuse { chunks, busy }),
            (any::<u32>(), 0u32..5000).prop_map(|(seq, len)| Msg::Chunk { seq, len, polluted: false }),
            (any::<u8>(), any::<u32>()).prop_map(|(stripe, up_kbps)| Msg::Join { stripe, up_kbps }),
            (any::<u8>(), any::<bool>(), arb_peers()).prop_map(|(stripe, accept, path)| Msg::JoinAck {
                stripe,
                accept,
                path
            }),
            any::<u8>().prop_map(|stripe| Msg::Detach { stripe }),
            (any::<u8>(), arb_peers()).prop_map(|(stripe, path)| Msg::Heartbeat { stripe, path }),
            (any::<u8>(), arb_peers(), proptest::collection::vec(any::<u8>(), 0..=MAX_EXT_DATA))
                .prop_map(|(kind, peers, data)| Msg::Ext(ExtMsg { kind, peers, data })),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip_with_exact_length(msg in arb_msg()) {
            let mut buf = Vec::new();
            msg.encode(&DenseIds, &mut buf);
            if let Msg::Chunk { len, .. } = msg {
                buf.extend(std::iter::repeat_n(0xAB, len as usize));
            }
            prop_assert_eq!(buf.len(), msg.encoded_len());
            let back = Msg::decode(&buf, &mut DenseIds).unwrap();
            prop_assert_eq!(back, msg);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Msg::decode(&bytes, &mut DenseIds);
        }

        #[test]
        fn every_strict_prefix_is_rejected(msg in arb_msg()) {
            let mut buf = Vec::new();
            msg.encode(&DenseIds, &mut buf);
            if let Msg::Chunk { len, .. } = msg {
                buf.extend(std::iter::repeat_n(0, len as usize));
            }
            for cut in 0..buf.len().min(64) {
                prop_assert!(Msg::decode(&buf[..cut], &mut DenseIds).is_err());
            }
        }
    }

    #[test]
    fn malformed_inputs_name_the_problem() {
        assert_eq!(Msg::decode(&[], &mut DenseIds), Err(DecodeError::Empty));
        assert_eq!(Msg::decode(&[200], &mut DenseIds), Err(DecodeError::UnknownTag(200)));
        assert_eq!(Msg::decode(&[tag::BYE, 0], &mut DenseIds), Err(DecodeError::Trailing(1)));
        // A buffer map claiming 300 chunks exceeds the 256-chunk capacity.
        let mut b = vec![tag::BUFFER_MAP, 0, 0, 0, 0];
        b.extend_from_slice(&300u16.to_le_bytes());
        assert!(matches!(Msg::decode(&b, &mut DenseIds), Err(DecodeError::OutOfRange { .. })));
        // A family message claiming more data than the envelope allows.
        let mut b = vec![tag::EXT, 3, 0];
        b.extend_from_slice(&(MAX_EXT_DATA as u16 + 1).to_le_bytes());
        b.resize(b.len() + MAX_EXT_DATA + 1, 0);
        assert_eq!(
            Msg::decode(&b, &mut DenseIds),
            Err(DecodeError::OutOfRange { field: "ext data length", value: MAX_EXT_DATA as u64 + 1 })
        );
    }

    /// A family's own message type travels through the envelope and the
    /// codec unchanged, with peer ids translated like every other id.
    #[test]
    fn a_family_message_round_trips_through_the_envelope() {
        #[derive(Debug, PartialEq)]
        enum Have {
            Chunk { seq: Seq, from: PeerId },
        }
        impl ExtCodec for Have {
            fn to_ext(&self) -> ExtMsg {
                let Have::Chunk { seq, from } = self;
                ExtMsg { kind: 7, peers: vec![*from], data: seq.to_le_bytes().to_vec() }
            }
            fn from_ext(m: &ExtMsg) -> Option<Have> {
                let seq = Seq::from_le_bytes(m.data.as_slice().try_into().ok()?);
                (m.kind == 7 && m.peers.len() == 1).then(|| Have::Chunk { seq, from: m.peers[0] })
            }
        }
        let have = Have::Chunk { seq: 42, from: PeerId(9) };
        let msg = Msg::Ext(have.to_ext());
        let mut buf = Vec::new();
        msg.encode(&DenseIds, &mut buf);
        assert_eq!(buf.len(), msg.encoded_len());
        assert_eq!(buf.len(), 1 + 1 + 1 + ID_BYTES + 2 + 4);
        let Ok(Msg::Ext(back)) = Msg::decode(&buf, &mut DenseIds) else { panic!("not an ext message") };
        assert_eq!(Have::from_ext(&back), Some(have));
        assert_eq!(Have::from_ext(&ExtMsg { kind: 8, ..back }), None);
        assert!(!msg.is_media());
        assert_eq!(msg.kind(), "ext");
    }

    #[test]
    fn wire_bytes_counts_fragments_and_headers() {
        assert_eq!(wire_bytes(0), (1, 36));
        assert_eq!(wire_bytes(FRAGMENT_PAYLOAD), (1, FRAGMENT_PAYLOAD as u64 + 36));
        assert_eq!(wire_bytes(FRAGMENT_PAYLOAD + 1), (2, FRAGMENT_PAYLOAD as u64 + 1 + 72));
        // A 1 s chunk at 500 kbps: 62,500 payload bytes + 9-byte header = 53 datagrams.
        let len = Msg::Chunk { seq: 0, len: 62_500, polluted: false }.encoded_len();
        assert_eq!(wire_bytes(len), (53, 62_509 + 53 * 36));
    }
}
