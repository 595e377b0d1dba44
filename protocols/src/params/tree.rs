//! `[protocol.tree]`: tree-push parameters (single tree or SplitStream
//! multi-tree), read by tree-push and, for their timers, by both hybrids;
//! converted into [`TreeParams`].

use super::{Count, ParamCtx, ParamError, Params, Secs};
use crate::Time;
use crate::tree::TreeParams;

crate::params_section! {
    /// Tree-push parameters: a single tree (`stripes = 1`) or a SplitStream
    /// multi-tree (Castro et al., SOSP 2003); algorithm in `protocols/src/tree.rs`.
    #[section = "tree"]
    pub struct TreeSection {
        /// k: stripe s carries the chunks with `seq % k == s`, each pushed down its own tree
        pub stripes: Count<1, 64> = Count(1), unit "stripes", type_note ", at most `protocol.mesh.window`";
        /// period of parent -> child heartbeats and child -> parent keep-alives
        pub heartbeat_interval_s: Secs = Secs(1.0), unit "s";
        /// a child that hears nothing from its parent this long treats it as lost and rejoins
        pub parent_timeout_s: Secs = Secs(3.0), unit "s", type_note ", above `heartbeat_interval_s`";
        /// a parent drops a child whose keep-alives stopped this long ago
        pub child_timeout_s: Secs = Secs(3.0), unit "s", type_note ", above `heartbeat_interval_s`";
        /// a Join unanswered this long counts as refused
        pub join_timeout_s: Secs = Secs(1.0), unit "s";
        /// back-off before a new round of joins
        pub join_retry_s: Secs = Secs(1.0), unit "s";
        /// Joins sent per round before backing off
        pub max_join_attempts: Count<1, 1000> = Count(16), unit "joins";
        /// most nodes a refusal names as alternatives
        pub redirect_max: Count<1, 64> = Count(8), unit "nodes";
        /// deepest position in a tree (the source is at depth 0)
        pub max_depth: Count<1, 63> = Count(32), unit "hops";
        /// cap on a node's stripe-children, whatever its upload
        pub max_slots: Count<1, 4096> = Count(64), unit "children";
        /// after the first chunk, how long the player waits for a chunk of every other stripe before choosing its start
        pub start_wait_s: Secs = Secs(5.0), unit "s";
        /// a peer that has received no chunk this long after joining starts its player at the live point
        pub live_start_after_s: Secs = Secs(15.0), unit "s";
        /// members asked of the tracker
        pub tracker_list_size: Count<1, 64> = Count(20), unit "members";
        /// tree-push: a child asks its parent again for chunks lost on the way (holes below a newer chunk of the stripe); `false` is a pure push tree
        pub recover: bool = true, unit "—";
    }
}

impl Params for TreeSection {
    fn validate(&self, ctx: &ParamCtx) -> Result<(), ParamError> {
        if ctx.stream.chunk_duration == Time::ZERO || ctx.stream.rate_bps == 0 {
            return Err(ParamError { key: "", message: "the stream needs a chunk duration > 0 and a rate > 0".into() });
        }
        let w = ctx.window_chunks;
        if self.stripes.0 > w {
            return Err(ParamError {
                key: "stripes",
                message: format!(
                    "stripes = {} exceeds the {w} chunks of the window: every stripe needs a chunk in each window, \
                     so stripes must be between 1 and {}",
                    self.stripes.0,
                    w.min(64)
                ),
            });
        }
        let hb = self.heartbeat_interval_s.time();
        for (key, v) in [("parent_timeout_s", self.parent_timeout_s), ("child_timeout_s", self.child_timeout_s)] {
            if v.time() <= hb {
                return Err(ParamError {
                    key,
                    message: format!(
                        "{key} = {} s: must be longer than heartbeat_interval_s ({} s)",
                        v.0, self.heartbeat_interval_s.0
                    ),
                });
            }
        }
        Ok(())
    }
}

impl TreeSection {
    /// The runtime parameters (tracker re-registration every 30 s is not a scenario key).
    pub fn to_params(&self) -> TreeParams {
        TreeParams {
            stripes: self.stripes.0,
            heartbeat_interval: self.heartbeat_interval_s.time(),
            parent_timeout: self.parent_timeout_s.time(),
            child_timeout: self.child_timeout_s.time(),
            join_timeout: self.join_timeout_s.time(),
            join_retry: self.join_retry_s.time(),
            max_join_attempts: self.max_join_attempts.0,
            redirect_max: self.redirect_max.0,
            max_depth: self.max_depth.0,
            max_slots: self.max_slots.0,
            start_wait: self.start_wait_s.time(),
            live_start_after: self.live_start_after_s.time(),
            tracker_list_size: self.tracker_list_size.0 as u16,
            tracker_refresh: Time::from_secs(30),
            recover: self.recover,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(window_chunks: u32) -> ParamCtx {
        ParamCtx {
            stream: crate::StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
            window_chunks,
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(TreeSection::default().validate(&ctx(120)), Ok(()));
        let s = TreeSection::default().to_params();
        assert_eq!(s.validate(&ctx(120).stream, 120), Ok(()));
    }

    #[test]
    fn bounds_match_the_protocol_limits() {
        use crate::params::ParamValue;
        assert_eq!(Count::<1, 64>::type_doc(), format!("whole number, 1 to {}", crate::tree::MAX_STRIPES));
        assert_eq!(crate::wire::MAX_PEERS_PER_MSG, 64, "redirect_max, max_depth and tracker_list_size bounds");
    }

    #[test]
    fn cross_key_rules_name_the_key() {
        let s = TreeSection { stripes: Count(16), ..Default::default() };
        let e = s.validate(&ctx(8)).unwrap_err();
        assert_eq!(e.key, "stripes");
        assert!(e.message.contains("between 1 and 8"), "{e}");
        let s = TreeSection { heartbeat_interval_s: Secs(3.0), ..Default::default() };
        assert_eq!(s.validate(&ctx(120)).unwrap_err().key, "parent_timeout_s");
    }
}
