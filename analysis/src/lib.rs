//! Metrics, theoretical bounds, statistics and output for swarmlab runs.
//!
//! - [`collector`]: online aggregation of protocol records and traffic;
//! - [`glossary`]: every metric's definition as data (name, unit, direction, coverage, source);
//! - [`report`]: every metric computed from a finished run;
//! - [`bounds`]: r_max (Kumar-Liu-Ross) and the store-and-forward delay bound;
//! - [`layout`]: which part (thread) holds each node, and at which index;
//! - [`histogram`]: constant-memory deterministic percentiles;
//! - [`output`]: tidy CSV files and the printed summary table.

pub mod bounds;
pub mod collector;
pub mod glossary;
pub mod histogram;
mod idset;
pub mod layout;
pub mod output;
pub mod report;
pub mod stats;

pub use collector::{Collector, NodeRole, PeerStats};
pub use report::{Better, Metric, Report, RunInfo, Traffic};
