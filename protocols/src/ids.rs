//! Dense identifiers: peers and chunk sequence numbers.
//!
//! A [`PeerId`] is a dense `u32`; the simulator uses it to index its vectors and
//! the UDP host maps it to a socket address. Ids are never reused within a run.

use std::fmt;

/// A node of the swarm (tracker, source or peer), dense from zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u32);

impl PeerId {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}
impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// Sequence number of a chunk; chunk `k` is emitted by the source at
/// `k * chunk_duration` after the stream starts.
pub type Seq = u32;
