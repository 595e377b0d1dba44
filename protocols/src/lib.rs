//! The sans-IO protocol core of swarmlab.
//!
//! This crate contains no networking code and never reads a clock: every input
//! (time, messages, timers, commands, a seeded RNG) is passed in by a driver,
//! either the discrete-event simulator (`sim`) or the real-time UDP host.
//!
//! Layers, bottom up:
//! - [`time`], [`ids`]: integer nanoseconds, dense peer ids, chunk sequence numbers;
//! - [`chunkmap`], [`playback`]: bitsets over chunks, the shared player model;
//! - [`wire`]: the [`Msg`] enum, the [`ExtMsg`] envelope for a family's own
//!   messages, and the exact-length codec;
//! - [`peer`]: the [`Peer`] trait, [`Ctx`] and [`Outbox`], [`Record`]s for metrics;
//! - [`tracker`], [`node`]: the bootstrap tracker and the node wrapper drivers hold;
//! - the protocol kit: [`media`] (chunk store, player, emission: every node),
//!   [`meshcore`] (the partner-mesh core) and [`lanetree`] (the lane-tree
//!   core), each steered by a family's policy; [`sched`]: chunk schedulers
//!   with per-peer state behind one trait;
//! - the families built from the kit: [`mesh`] (mesh-pull, CoolStreaming/DONet),
//!   [`tree`] (tree-push, SplitStream stripes), [`hybrid`] (mTreebone and
//!   GridMedia/Coolstreaming+ pull-push), [`cdn`] (client-server), [`push`]
//!   (random-push), [`assist`] (CDN-assisted mesh-pull with a CDN edge);
//! - [`adversary`]: malicious behaviours and defences wrapped around any protocol;
//! - [`prefetch`]: cache hints for the simulator's event loop;
//! - [`params`]: the scenario parameter sections (`[protocol.<section>]`), defaults in one place.

pub mod adversary;
pub mod assist;
pub mod cdn;
pub mod chunkmap;
pub mod hybrid;
pub mod ids;
pub mod lanetree;
pub mod media;
pub mod mesh;
pub mod meshcore;
pub mod node;
pub mod params;
pub mod peer;
pub mod playback;
pub mod prefetch;
pub mod push;
pub mod sched;
pub mod time;
pub mod tracker;
pub mod tree;
pub mod wire;

pub use chunkmap::ChunkMap;
pub use ids::{PeerId, Seq};
pub use node::Node;
pub use peer::{Command, Ctx, DropReason, Outbox, Peer, Record, StreamParams};
pub use time::Time;
pub use wire::{ExtCodec, ExtMsg, Msg};
