//! `[protocol.hybrid]`: hybrid tree/mesh parameters (mTreebone `treebone`,
//! GridMedia / Coolstreaming+ `pull-push`); converted into [`HybridParams`].

use serde::{Deserialize, Serialize};

use super::{Count, ParamCtx, ParamError, Params, Secs};
use crate::Time;
use crate::hybrid::{HybridMode, HybridParams};

/// Buffer-map period of the hybrids' mesh when `protocol.mesh.buffer_map_interval_s`
/// is not set, seconds (mTreebone's).
pub const BUFFER_MAP_INTERVAL_S: f64 = 0.5;

/// `protocol.hybrid.mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HybridModeName {
    /// mTreebone: a push tree of stable peers, mesh pull for gaps.
    #[default]
    Treebone,
    /// GridMedia / Coolstreaming+: pull first, then pushed substreams.
    PullPush,
}

crate::name_param!(HybridModeName { Treebone => "treebone", PullPush => "pull-push" });

impl HybridModeName {
    pub fn mode(self) -> HybridMode {
        match self {
            HybridModeName::Treebone => HybridMode::Treebone,
            HybridModeName::PullPush => HybridMode::PullPush,
        }
    }
}

crate::param_real!(
    /// `stable_fraction`: a number from 0 to 10.
    UpTo10, |v| (0.0..=10.0).contains(&v), "number, 0 to 10", "a number between 0 and 10",
    schema = super::ValueSchema::Number { min: Some(0.0), exclusive: false, max: Some(10.0) }
);

crate::params_section! {
    /// Hybrid tree/mesh parameters (algorithm in `protocols/src/hybrid.rs`).
    /// `treebone` follows mTreebone (ICDCS 2007): a push tree of stable peers,
    /// unstable peers attached to it as leaves, mesh pull for what the tree did
    /// not deliver. `pull-push` follows GridMedia (2005) and Coolstreaming+
    /// (2007): pull first, then subscribe to the partner that served each
    /// substream best, which pushes it; lagging parents are replaced. Both use
    /// `[protocol.mesh]` for the mesh (buffer maps every 0.5 s, as in mTreebone,
    /// unless `protocol.mesh.buffer_map_interval_s` is set), the timers and
    /// limits of `[protocol.tree]` for push relations (`stripes` is ignored),
    /// and the scenario's scheduler for pulls.
    #[section = "hybrid"]
    pub struct HybridSection {
        /// hybrid variant
        pub mode: HybridModeName = HybridModeName::Treebone, unit "—";
        /// treebone: a peer is stable (may have children) once its age reaches this fraction of the expected session
        pub stable_fraction: UpTo10 = UpTo10(0.75), unit "x session";
        /// expected session length the stability threshold refers to
        pub expected_session_s: Option<Secs> = None, unit "s",
            default_note "`churn.session_mean_s` with Poisson churn, the mean session of a trace, 300 without churn";
        /// a chunk expected by push is pulled only this long before its playback deadline
        pub pull_margin_s: Secs = Secs(3.0), unit "s";
        /// pull-push: K, substream s carries the chunks with `seq % K == s`
        pub substreams: Count<1, 64> = Count(4), unit "substreams", type_note ", at most `protocol.mesh.window`";
        /// pull-push: a parent is replaced when a partner advertises a chunk of the substream this many chunks of the substream newer than the newest the parent pushed
        pub reselect_threshold: Count<1, 64> = Count(2), unit "chunks";
        /// pull-push: a partner that refused or was dropped is not asked again for the substream for this long
        pub subscribe_cooldown_s: Secs = Secs(10.0), unit "s";
    }
}

impl Params for HybridSection {
    fn validate(&self, ctx: &ParamCtx) -> Result<(), ParamError> {
        if ctx.stream.chunk_duration == Time::ZERO || ctx.stream.rate_bps == 0 {
            return Err(ParamError { key: "", message: "the stream needs a chunk duration > 0 and a rate > 0".into() });
        }
        let w = ctx.window_chunks;
        if self.substreams.0 > w {
            return Err(ParamError {
                key: "substreams",
                message: format!(
                    "substreams = {} exceeds the {w} chunks of the window: every substream needs a chunk in each \
                     buffer map, so substreams must be between 1 and {}",
                    self.substreams.0,
                    w.clamp(1, 64)
                ),
            });
        }
        Ok(())
    }
}

impl HybridSection {
    /// The runtime parameters (the expected session is the family's: it
    /// depends on the churn model).
    pub fn to_params(&self) -> HybridParams {
        HybridParams {
            mode: self.mode.mode(),
            stable_fraction: self.stable_fraction.0,
            pull_margin: self.pull_margin_s.time(),
            substreams: self.substreams.0,
            reselect_threshold: self.reselect_threshold.0,
            subscribe_cooldown: self.subscribe_cooldown_s.time(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamValue;

    #[test]
    fn the_substream_cap_is_what_a_stripe_byte_and_the_docs_allow() {
        assert_eq!(crate::hybrid::MAX_SUBSTREAMS, 64);
    }

    #[test]
    fn substreams_must_fit_the_window() {
        let ctx = ParamCtx {
            stream: crate::StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
            window_chunks: 6,
        };
        let s = HybridSection { substreams: Count(8), ..Default::default() };
        let e = s.validate(&ctx).unwrap_err();
        assert_eq!(e.key, "substreams");
        assert!(e.message.contains("between 1 and 6"), "{e}");
        assert_eq!(HybridModeName::type_doc(), "one of `\"treebone\"`, `\"pull-push\"`");
    }
}
