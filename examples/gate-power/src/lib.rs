//! The regression gate's power study (results/gate-power/README.md):
//! swarmlab with injected changes of known kind and size ([`inject`]), and the
//! analysis that replays the gate on disjoint seed subsets of large pools of
//! runs ([`study`]).

pub mod inject;
pub mod study;
mod svg;
