//! `[protocol.mesh]`: mesh-pull (CoolStreaming/DONet) parameters, read by
//! mesh-pull and by both hybrids; converted into [`MeshParams`].

use serde::{Deserialize, Serialize};

use super::{Count, Frac, ParamCtx, ParamError, Params, Secs};
use crate::Time;
use crate::mesh::{Degree, MeshParams};

/// `protocol.mesh.degree`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DegreeName {
    /// Every peer seeks `partners` (DONet).
    #[default]
    Fixed,
    /// Partners scale with upload / stream rate (PRIME).
    Proportional,
}

crate::name_param!(DegreeName { Fixed => "fixed", Proportional => "proportional" });

/// Buffer-map period when `buffer_map_interval_s` is not set, seconds.
pub const BUFFER_MAP_INTERVAL_S: f64 = 1.0;
/// Most partners accepted when `partners_max` is not set (or `partners` if larger).
pub const PARTNERS_MAX: u32 = 8;

crate::params_section! {
    /// Mesh-pull (CoolStreaming/DONet) parameters (see the module doc of
    /// `protocols/src/mesh.rs` for the algorithm).
    #[section = "mesh"]
    pub struct MeshSection {
        /// partners a node seeks (DONet's M = 4)
        pub partners: Count<1, 64> = Count(4), unit "partners";
        /// most partners a node accepts
        pub partners_max: Option<Count<1, 256>> = None, unit "partners",
            type_note ", at least `partners`", default_note "`8`, or `partners` when larger";
        /// chunks in a buffer map; `player.startup_s` must fit in it
        pub window: Count<1, 256> = Count(120), unit "chunks";
        /// period of buffer-map exchange with partners
        pub buffer_map_interval_s: Option<Secs> = None, unit "s",
            default_note "`1` (hybrid: `0.5`, as in mTreebone)";
        /// period of the request scheduler
        pub schedule_interval_s: Secs = Secs(0.5), unit "s";
        /// period of membership gossip
        pub gossip_interval_s: Secs = Secs(5.0), unit "s";
        /// period of partner refresh
        pub refresh_interval_s: Secs = Secs(10.0), unit "s";
        /// membership-cache (mCache) entries
        pub mcache_size: Count<1, 4096> = Count(32), unit "entries";
        /// silence after which a partner is dropped (crash detection)
        pub partner_timeout_s: Secs = Secs(5.0), unit "s";
        /// a request unanswered this long after its expected arrival is re-issued
        pub request_timeout_s: Secs = Secs(1.0), unit "s";
        /// at refresh, drop the worst partner if its score is below this x the mean score
        pub underperform_ratio: Frac = Frac(0.25), unit "—";
        /// a supplier serves no request that would wait behind more than this much queued upload
        pub max_upload_backlog_s: Secs = Secs(1.0), unit "s";
        /// partner count: `fixed` (`partners` for every peer, DONet) or `proportional` (a peer seeks max(`partners`, round(`partners` x its upload / the stream rate)) and accepts `partners_max`/`partners` times that, at most 256; after PRIME, Magharei & Rejaie 2007); the source always seeks `partners_max`
        pub degree: DegreeName = DegreeName::Fixed, unit "—";
        /// notify-on-arrival (Chainsaw, Pai et al. 2005): on each new chunk a node sends every partner a small `have` message, and full buffer maps only every max(`buffer_map_interval_s`, `partner_timeout_s` / 2) as keep-alives; false: DONet's periodic buffer maps only
        pub have: bool = false, unit "—";
    }
}

impl Params for MeshSection {
    fn validate(&self, _ctx: &ParamCtx) -> Result<(), ParamError> {
        if let Some(pm) = self.partners_max
            && pm.0 < self.partners.0
        {
            return Err(ParamError {
                key: "partners_max",
                message: format!("partners_max ({}) must be >= partners ({})", pm.0, self.partners.0),
            });
        }
        Ok(())
    }
}

impl MeshSection {
    /// The runtime parameters (keys that are not scenario keys take their
    /// fixed values here: urgent window 3 s, 20 members per tracker list,
    /// tracker refresh every 30 s).
    pub fn to_params(&self) -> MeshParams {
        let partners = self.partners.0 as usize;
        MeshParams {
            partners,
            partners_max: self.partners_max.map_or((PARTNERS_MAX as usize).max(partners), |p| p.0 as usize),
            window: self.window.0 as u16,
            buffer_map_interval: self
                .buffer_map_interval_s
                .map_or(Time::from_secs_f64(BUFFER_MAP_INTERVAL_S), Secs::time),
            schedule_interval: self.schedule_interval_s.time(),
            gossip_interval: self.gossip_interval_s.time(),
            refresh_interval: self.refresh_interval_s.time(),
            mcache_size: self.mcache_size.0 as usize,
            partner_timeout: self.partner_timeout_s.time(),
            request_timeout: self.request_timeout_s.time(),
            underperform_ratio: self.underperform_ratio.0,
            max_upload_backlog: self.max_upload_backlog_s.time(),
            urgent_window: Time::from_secs(3),
            tracker_list_size: 20,
            tracker_refresh: Time::from_secs(30),
            degree: match self.degree {
                DegreeName::Fixed => Degree::Fixed,
                DegreeName::Proportional => Degree::Proportional,
            },
            have: self.have,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::SectionDoc;

    #[test]
    fn partners_max_follows_partners_unless_set() {
        let s = MeshSection { partners: Count(12), ..Default::default() };
        assert_eq!(s.to_params().partners_max, 12);
        let s = MeshSection { partners: Count(12), partners_max: Some(Count(10)), ..Default::default() };
        let e = s.validate(&ctx()).unwrap_err();
        assert_eq!(e.key, "partners_max");
        assert!(e.message.contains("must be >= partners (12)"), "{e}");
    }

    fn ctx() -> ParamCtx {
        ParamCtx {
            stream: crate::StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
            window_chunks: 120,
        }
    }

    #[test]
    fn every_field_is_documented_in_order() {
        let names: Vec<&str> = MeshSection::keys().iter().map(|k| k.name).collect();
        assert_eq!(names.len(), 14);
        assert_eq!(names[0], "partners");
        assert_eq!(names[11], "max_upload_backlog_s");
        assert_eq!(names[12], "degree");
        assert!(MeshSection::keys().iter().all(|k| !k.meaning.is_empty()));
    }
}
