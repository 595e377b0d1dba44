//! `[protocol.assist]`: the CDN fallback of the `cdn-p2p` family
//! (`protocols/src/assist.rs`); converted into [`AssistParams`]. The edge
//! server itself (capacity, latency, price) is the scenario's `[cdn]` table.

use super::{ParamCtx, ParamError, Params, Secs};
use crate::Time;
use crate::assist::AssistParams;

crate::params_section! {
    /// CDN-assisted peer-to-peer (`cdn-p2p`, algorithm in
    /// `protocols/src/assist.rs`): peers pull from the mesh of
    /// `[protocol.mesh]` and ask the CDN edge for the chunks about to miss
    /// their playback deadline; the edge is the node `[cdn]` describes.
    #[section = "assist"]
    pub struct AssistSection {
        /// urgent window: a chunk a peer lacks whose playback deadline is this close, and that no partner is expected to deliver before it, is asked of the edge
        pub edge_window_s: Secs = Secs(2.0), unit "s";
        /// the edge refuses a request that would wait behind more queued upload than this
        pub edge_backlog_s: Secs = Secs(1.0), unit "s";
    }
}

impl Params for AssistSection {
    fn validate(&self, _ctx: &ParamCtx) -> Result<(), ParamError> {
        Ok(())
    }
}

impl AssistSection {
    /// The runtime parameters.
    pub fn to_params(&self) -> AssistParams {
        AssistParams {
            edge_window: Time::from_secs_f64(self.edge_window_s.0),
            edge_backlog: Time::from_secs_f64(self.edge_backlog_s.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::SectionDoc;

    #[test]
    fn every_field_is_documented_and_defaults_convert() {
        let names: Vec<&str> = AssistSection::keys().iter().map(|k| k.name).collect();
        assert_eq!(names, ["edge_window_s", "edge_backlog_s"]);
        assert_eq!(AssistParams::default().edge_window, Time::from_secs(2));
        assert_eq!(AssistParams::default().edge_backlog, Time::from_secs(1));
    }
}
