//! The deterministic discrete-event simulator of swarmlab.
//!
//! - [`scenario`]: the TOML scenario format and its validation;
//! - [`churn`]: the population (tracker, source, peers), classes, arrivals, sessions;
//! - [`latency`]: propagation models of the uncongested core;
//! - [`engine`]: the event loop and the access-link physics;
//! - [`queue`], [`rngs`]: the event queue and the named random streams;
//! - [`runner`]: scenario in, [`analysis::Report`] out;
//! - [`registry`]: protocol families, parameter sections and schedulers by name;
//! - [`families`]: the built-in families and their config builders.
//!
//! Determinism contract: a scenario and a seed give identical reports on any
//! machine; equal-time events run in insertion order; every random draw comes
//! from a stream named by (seed, kind, index).

pub mod churn;
pub mod dist;
pub mod engine;
pub mod families;
pub mod latency;
pub mod queue;
pub mod registry;
pub mod replay;
pub mod rngs;
pub mod runner;
pub mod scenario;
pub mod schema;
