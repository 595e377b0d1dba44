//! Chunk schedulers: which missing chunk to request from which partner.
//!
//! A scheduler is a value with state behind the [`Scheduler`] trait; every
//! pulling peer holds its own (built by a [`SchedulerSpec`], chosen by name
//! from a registry: [`builtins`] are the first entries, an outside crate adds
//! its own). At each scheduling round the partner-mesh core
//! ([`crate::meshcore`]) hands it a [`SchedInput`] (now, the playback point,
//! the candidate chunks with their deadlines, the peer's own upload backlog)
//! and the [`Supplier`]s (each partner's latest buffer map, estimated rate,
//! requests in flight and when they are expected to have arrived); the
//! scheduler appends [`Assignment`]s. The core then tells it what became of
//! each request through the feedback hooks ([`Scheduler::on_arrival`],
//! [`Scheduler::on_refused`],
//! [`Scheduler::on_expired`], [`Scheduler::on_partner_removed`]), so a
//! scheduler can learn per-partner history of its own.
//!
//! Contract every scheduler must keep (the built-ins' property test checks it;
//! the core relies on it):
//! - a chunk goes only to a supplier whose buffer map contains it;
//! - no chunk is assigned twice in one call, and only candidates are assigned;
//! - the chosen supplier's `free_at` becomes the assignment's `expect`, and
//!   `free_at` never moves backwards;
//! - randomness comes only from the `rng` passed in (the peer's own stream).
//!
//! The five built-in rules are in [`mod@builtin`]; an example of a stateful
//! scheduler written outside this crate is in `examples/` (docs/extending.md).

pub mod builtin;

use std::fmt;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::time::Time;

pub use builtin::{Donet, Edf, LatestUseful, Random, RarestFirst};

/// A chunk the scheduler may request: missing, not requested yet, deadline
/// not passed (or the player has not started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub seq: Seq,
    pub deadline: Time,
    /// Scheduled before every non-urgent chunk (part of the startup buffer;
    /// the input's `urgent` window adds chunks due soon).
    pub urgent: bool,
}

/// A partner as the scheduler sees it.
#[derive(Clone, Copy, Debug)]
pub struct Supplier {
    /// The partner.
    pub id: PeerId,
    /// Latest buffer map received from it.
    pub map: ChunkMap,
    /// Estimated rate it delivers to us, bits per second (> 0).
    pub rate_bps: u64,
    /// When the requests already outstanding at it are expected to have arrived.
    pub free_at: Time,
    /// Requests outstanding at it (sent, neither answered nor expired).
    pub in_flight: u32,
}

/// One scheduling decision: request `seq` from `suppliers[supplier]`, expected to arrive at `expect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub seq: Seq,
    pub supplier: usize,
    pub expect: Time,
}

/// What a scheduler knows at one decision, besides the suppliers.
#[derive(Clone, Copy, Debug)]
pub struct SchedInput<'a> {
    pub now: Time,
    /// Chunks due before `now + urgent` count as urgent.
    pub urgent: Time,
    /// Bits one chunk occupies on the wire (payload, header, datagram headers).
    pub chunk_wire_bits: u64,
    /// The candidates, in increasing sequence order.
    pub candidates: &'a [Candidate],
    /// The next chunk the player needs (`None` before a start position is chosen).
    pub playback: Option<Seq>,
    /// How long this peer's own upload link needs to send what is queued.
    pub upload_backlog: Time,
}

/// A chunk scheduler with per-peer state.
pub trait Scheduler: Send {
    /// Appends assignments for some of `input.candidates` to `out` and moves
    /// the chosen suppliers' `free_at` (see the module contract).
    fn schedule(
        &mut self,
        input: &SchedInput<'_>,
        suppliers: &mut [Supplier],
        out: &mut Vec<Assignment>,
        rng: &mut ChaCha8Rng,
    );
    /// A requested chunk arrived from `from` (requested at `asked_at`).
    fn on_arrival(&mut self, _from: PeerId, _seq: Seq, _asked_at: Time, _now: Time) {}
    /// A request to `from` went unanswered past its expected arrival plus the
    /// request timeout, and was dropped.
    fn on_expired(&mut self, _from: PeerId, _seq: Seq, _now: Time) {}
    /// `from` refused a request for `seq` (busy, or it lacks the chunk); the
    /// request was dropped and the chunk is a candidate again.
    fn on_refused(&mut self, _from: PeerId, _seq: Seq, _now: Time) {}
    /// `id` stopped being a partner (its outstanding requests are dropped).
    fn on_partner_removed(&mut self, _id: PeerId) {}
}

type Factory = dyn Fn() -> Box<dyn Scheduler> + Send + Sync;

/// A named scheduler: its registry entry, building one fresh instance per peer.
#[derive(Clone)]
pub struct SchedulerSpec {
    name: &'static str,
    about: &'static str,
    factory: Arc<Factory>,
}

impl SchedulerSpec {
    /// `name` as written in scenarios (`[protocol] scheduler`), a one-line
    /// description with its source, and the per-peer constructor.
    pub fn new(
        name: &'static str,
        about: &'static str,
        factory: impl Fn() -> Box<dyn Scheduler> + Send + Sync + 'static,
    ) -> SchedulerSpec {
        SchedulerSpec { name, about, factory: Arc::new(factory) }
    }
    pub fn name(&self) -> &'static str {
        self.name
    }
    pub fn about(&self) -> &'static str {
        self.about
    }
    /// A fresh scheduler for one peer.
    pub fn build(&self) -> Box<dyn Scheduler> {
        (self.factory)()
    }
}

impl fmt::Debug for SchedulerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SchedulerSpec({})", self.name)
    }
}

impl PartialEq for SchedulerSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// The built-in schedulers, DONet's (the default) first.
pub fn builtins() -> Vec<SchedulerSpec> {
    vec![
        SchedulerSpec::new("donet", Donet::ABOUT, || Box::new(Donet)),
        SchedulerSpec::new("random", Random::ABOUT, || Box::new(Random)),
        SchedulerSpec::new("rarest-first", RarestFirst::ABOUT, || Box::new(RarestFirst)),
        SchedulerSpec::new("edf", Edf::ABOUT, || Box::new(Edf)),
        SchedulerSpec::new("latest-useful", LatestUseful::ABOUT, || Box::new(LatestUseful)),
    ]
}

/// The built-in scheduler called `name`.
pub fn builtin(name: &str) -> Option<SchedulerSpec> {
    builtins().into_iter().find(|s| s.name == name)
}

/// The default scheduler (DONet's heuristic).
pub fn default_spec() -> SchedulerSpec {
    builtins().swap_remove(0)
}
