//! Media bytes, their integrity hashes and the host's chunk store.
//!
//! The source's media is either generated (BLAKE3 in XOF mode keyed by the
//! stream seed, one independent stream per chunk: anyone who knows the seed can
//! recompute chunk `k`, which the tests use) or read from a file, chunk `k`
//! being bytes `k * chunk_bytes ..` of the file (zero-padded past its end).
//!
//! Integrity: a chunk's hash is `blake3(payload)`. Receivers fetch hashes from
//! the source with the host-level [`HostMsg`]s below (never from other peers)
//! and verify every received payload before handing the chunk to the protocol;
//! a mismatch sets `Msg::Chunk::polluted`. A receiver that knows the
//! generated stream's seed may instead compare the payload with the chunk
//! recomputed from it (`HostConfig::local_verify`: no hash traffic).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use protocols::Seq;

/// A 32-byte BLAKE3 digest.
pub type Hash = [u8; 32];

/// Where the source's media comes from.
#[derive(Clone, Debug)]
pub enum MediaSource {
    /// Deterministic bytes from the seed.
    Generated { seed: u64 },
    /// Chunks read from a file.
    File(PathBuf),
}

/// The payload of chunk `seq` of a generated stream of `len`-byte chunks.
pub fn generated_chunk(seed: u64, seq: Seq, len: usize) -> Vec<u8> {
    let key = blake3::derive_key("swarmlab media v1", &seed.to_le_bytes());
    let mut h = blake3::Hasher::new_keyed(&key);
    h.update(&seq.to_le_bytes());
    let mut out = vec![0u8; len];
    h.finalize_xof().fill(&mut out);
    out
}

/// Hash of a payload.
pub fn hash(payload: &[u8]) -> Hash {
    *blake3::hash(payload).as_bytes()
}

/// Reads the source's chunks.
pub struct Media {
    source: MediaSource,
    chunk_len: usize,
    file: Option<File>,
}

impl Media {
    pub fn new(source: MediaSource, chunk_len: usize) -> std::io::Result<Media> {
        let file = match &source {
            MediaSource::File(p) => Some(File::open(p)?),
            MediaSource::Generated { .. } => None,
        };
        Ok(Media { source, chunk_len, file })
    }

    /// The payload of chunk `seq`.
    pub fn chunk(&mut self, seq: Seq) -> Vec<u8> {
        match (&self.source, self.file.as_mut()) {
            (MediaSource::File(_), Some(f)) => {
                let mut out = vec![0u8; self.chunk_len];
                let at = seq as u64 * self.chunk_len as u64;
                if f.seek(SeekFrom::Start(at)).is_ok() {
                    let mut got = 0;
                    while got < out.len() {
                        match f.read(&mut out[got..]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got += n,
                        }
                    }
                }
                out
            }
            (MediaSource::Generated { seed }, _) => generated_chunk(*seed, seq, self.chunk_len),
            (MediaSource::File(_), None) => vec![0u8; self.chunk_len],
        }
    }
}

/// One stored chunk payload.
pub struct Stored {
    pub bytes: Vec<u8>,
    /// The payload failed verification.
    pub polluted: bool,
}

/// The chunk payloads a node holds, at most `cap` (the lowest sequence numbers
/// are evicted first), and the hashes it knows.
pub struct ChunkStore {
    chunks: BTreeMap<Seq, Stored>,
    hashes: BTreeMap<Seq, Hash>,
    cap: usize,
}

impl ChunkStore {
    pub fn new(cap: usize) -> ChunkStore {
        ChunkStore { chunks: BTreeMap::new(), hashes: BTreeMap::new(), cap: cap.max(1) }
    }
    pub fn get(&self, seq: Seq) -> Option<&Stored> {
        self.chunks.get(&seq)
    }
    pub fn insert(&mut self, seq: Seq, s: Stored) {
        self.chunks.insert(seq, s);
        while self.chunks.len() > self.cap {
            self.chunks.pop_first();
        }
    }
    pub fn hash(&self, seq: Seq) -> Option<&Hash> {
        self.hashes.get(&seq)
    }
    pub fn set_hash(&mut self, seq: Seq, h: Hash) {
        self.hashes.insert(seq, h);
        while self.hashes.len() > 4 * self.cap {
            self.hashes.pop_first();
        }
    }
    /// Highest sequence number with a known hash.
    pub fn newest_hash(&self) -> Option<Seq> {
        self.hashes.last_key_value().map(|(k, _)| *k)
    }
}

/// Host-level messages (not protocol messages): hash-list exchange with the
/// source. They use tags the protocol codec never assigns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMsg {
    /// Receiver -> source: hashes of chunks `first .. first + count`.
    HashReq { first: Seq, count: u16 },
    /// Source -> receiver: hashes of chunks `first ..` (only emitted chunks).
    HashList { first: Seq, hashes: Vec<Hash> },
}

/// First byte of a host-level hash request.
pub const TAG_HASH_REQ: u8 = 0xE0;
/// First byte of a host-level hash list.
pub const TAG_HASH_LIST: u8 = 0xE1;
/// Most hashes in one list: one datagram (7 + 32 x 32 = 1031 bytes).
pub const MAX_HASHES: usize = 32;

impl HostMsg {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            HostMsg::HashReq { first, count } => {
                out.push(TAG_HASH_REQ);
                out.extend_from_slice(&first.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
            }
            HostMsg::HashList { first, hashes } => {
                let n = hashes.len().min(MAX_HASHES);
                out.push(TAG_HASH_LIST);
                out.extend_from_slice(&first.to_le_bytes());
                out.extend_from_slice(&(n as u16).to_le_bytes());
                for h in &hashes[..n] {
                    out.extend_from_slice(h);
                }
            }
        }
    }

    /// Decodes a host message; `None` for anything malformed.
    pub fn decode(b: &[u8]) -> Option<HostMsg> {
        let (&tag, rest) = b.split_first()?;
        if rest.len() < 6 {
            return None;
        }
        let first = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let count = u16::from_le_bytes([rest[4], rest[5]]);
        let body = &rest[6..];
        match tag {
            TAG_HASH_REQ if body.is_empty() => Some(HostMsg::HashReq { first, count }),
            TAG_HASH_LIST if count as usize <= MAX_HASHES && body.len() == count as usize * 32 => {
                let hashes = body
                    .chunks_exact(32)
                    .map(|c| {
                        let mut h = [0u8; 32];
                        h.copy_from_slice(c);
                        h
                    })
                    .collect();
                Some(HostMsg::HashList { first, hashes })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_chunks_are_deterministic_and_distinct() {
        assert_eq!(generated_chunk(7, 3, 100), generated_chunk(7, 3, 100));
        assert_ne!(generated_chunk(7, 3, 100), generated_chunk(7, 4, 100));
        assert_ne!(generated_chunk(7, 3, 100), generated_chunk(8, 3, 100));
    }

    #[test]
    fn host_messages_round_trip_and_reject_garbage() {
        let m = HostMsg::HashList { first: 9, hashes: vec![[1; 32], [2; 32]] };
        let mut b = Vec::new();
        m.encode(&mut b);
        assert_eq!(HostMsg::decode(&b), Some(m));
        assert_eq!(HostMsg::decode(&b[..b.len() - 1]), None);
        let r = HostMsg::HashReq { first: 1, count: 5 };
        let mut b = Vec::new();
        r.encode(&mut b);
        assert_eq!(HostMsg::decode(&b), Some(r));
        assert_eq!(HostMsg::decode(&[TAG_HASH_REQ]), None);
    }
}
