//! The real-time UDP host of swarmlab: the same sans-IO protocol code as the
//! simulator, driven over `std::net::UdpSocket` with a real clock.
//!
//! - [`clock`]: real time mapped to protocol `Time` (ns since a shared stream epoch);
//! - [`addrs`]: the `IdCodec` mapping IPv4 socket addresses to dense peer ids;
//! - [`frame`]: fragmentation into datagrams of at most 1,200 bytes, bounded reassembly;
//! - [`link`]: user-space access link: upload pacer (control before media),
//!   impairment (one-way delay, seeded per-datagram loss), download pacer;
//! - [`media`]: media bytes (generated or from a file), BLAKE3 hashes, the
//!   chunk store, host-level hash-list messages exchanged with the source;
//! - [`host`]: the event loop driving one `Node<P>`.
//!
//! No protocol logic lives here: the host only calls the `Peer` trait and
//! carries out its outbox.

pub mod addrs;
pub mod clock;
pub mod frame;
pub mod host;
pub mod link;
pub mod media;
pub mod signals;

pub use clock::Clock;
pub use host::{Host, HostConfig, LinkEvent, NodePlan, Role, Sinks, Stats};
pub use media::MediaSource;
