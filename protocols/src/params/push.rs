//! `[protocol.push]`: sender-driven random-useful push parameters (the
//! `random-push` family, `protocols/src/push.rs`); converted into
//! [`PushParams`].

use serde::{Deserialize, Serialize};

use super::{Count, ParamCtx, ParamError, Params};
use crate::push::{ChunkRule, PeerRule, PushParams};

/// `protocol.push.peer`: how a sender picks the receiver of its next push.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerRuleName {
    /// Bonald et al.'s "random peer": a uniformly random partner; if it needs
    /// nothing the sender holds, the transmission opportunity is lost.
    #[default]
    Random,
    /// Bonald et al.'s "random useful peer": a random partner among those that
    /// lack a chunk the sender would send them.
    RandomUseful,
}

/// `protocol.push.chunk`: which chunk the sender pushes to the chosen peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChunkRuleName {
    /// "latest useful chunk": the newest chunk the receiver lacks.
    #[default]
    LatestUseful,
    /// "random useful chunk": a uniformly random chunk the receiver lacks.
    RandomUseful,
    /// "latest blind chunk": the sender's newest chunk, whether or not the
    /// receiver has it.
    LatestBlind,
}

crate::name_param!(PeerRuleName { Random => "random", RandomUseful => "random-useful" });
crate::name_param!(ChunkRuleName {
    LatestUseful => "latest-useful",
    RandomUseful => "random-useful",
    LatestBlind => "latest-blind",
});

impl PeerRuleName {
    pub fn rule(self) -> PeerRule {
        match self {
            PeerRuleName::Random => PeerRule::Random,
            PeerRuleName::RandomUseful => PeerRule::RandomUseful,
        }
    }
}

impl ChunkRuleName {
    pub fn rule(self) -> ChunkRule {
        match self {
            ChunkRuleName::LatestUseful => ChunkRule::LatestUseful,
            ChunkRuleName::RandomUseful => ChunkRule::RandomUseful,
            ChunkRuleName::LatestBlind => ChunkRule::LatestBlind,
        }
    }
}

crate::params_section! {
    /// Sender-driven push after Massoulié et al. (INFOCOM 2007) and Bonald et
    /// al. (SIGMETRICS 2008), read by `random-push` (algorithm in
    /// `protocols/src/push.rs`). Partnership, membership and buffer maps are
    /// those of `[protocol.mesh]`; whenever its upload link is free a peer
    /// pushes one chunk to one partner, chosen by `peer` and `chunk`
    /// (the defaults are the paper's rate- and delay-optimal "random peer,
    /// latest useful chunk").
    #[section = "push"]
    pub struct PushSection {
        /// receiver of each push: `random` partner (a push slot is lost when it needs nothing), or `random-useful` (a random partner that needs something)
        pub peer: PeerRuleName = PeerRuleName::Random, unit "—";
        /// chunk pushed: `latest-useful`, `random-useful` (a chunk the receiver lacks) or `latest-blind` (the sender's newest, even if the receiver has it)
        pub chunk: ChunkRuleName = ChunkRuleName::LatestUseful, unit "—";
        /// distinct random partners the source pushes each fresh chunk to (the papers' source sends it once)
        pub source_copies: Count<1, 64> = Count(1), unit "copies";
        /// on each new chunk, tell every partner with a small `have` message (the up-to-date knowledge the papers assume); false: partners learn only from the periodic buffer maps of `[protocol.mesh]`
        pub have: bool = true, unit "—";
    }
}

impl Params for PushSection {
    fn validate(&self, _ctx: &ParamCtx) -> Result<(), ParamError> {
        Ok(())
    }
}

impl PushSection {
    /// The runtime parameters.
    pub fn to_params(&self) -> PushParams {
        PushParams {
            peer: self.peer.rule(),
            chunk: self.chunk.rule(),
            source_copies: self.source_copies.0,
            have: self.have,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{ParamValue, SectionDoc};

    fn parse<T: for<'de> Deserialize<'de>>(v: &str) -> Result<T, String> {
        use serde::de::IntoDeserializer;
        let d: serde::de::value::StrDeserializer<serde::de::value::Error> = v.into_deserializer();
        T::deserialize(d).map_err(|e| e.to_string())
    }

    #[test]
    fn names_parse_and_bad_names_say_what_is_allowed() {
        assert_eq!(parse::<PeerRuleName>("random-useful").map(PeerRuleName::rule), Ok(PeerRule::RandomUseful));
        assert_eq!(parse::<ChunkRuleName>("latest-blind").map(ChunkRuleName::rule), Ok(ChunkRule::LatestBlind));
        let e = parse::<ChunkRuleName>("oldest").unwrap_err();
        assert!(e.contains("latest-useful") && e.contains("oldest"), "{e}");
        assert_eq!(ChunkRuleName::type_doc(), "one of `\"latest-useful\"`, `\"random-useful\"`, `\"latest-blind\"`");
    }

    #[test]
    fn every_field_is_documented() {
        let names: Vec<&str> = PushSection::keys().iter().map(|k| k.name).collect();
        assert_eq!(names, ["peer", "chunk", "source_copies", "have"]);
        assert_eq!(PushSection::default().to_params(), PushParams::default());
    }
}
