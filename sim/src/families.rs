//! The built-in protocol families as engine protocols and registry entries
//! ([`Family`]), with the config builders that turn a scenario into each
//! family's runtime configuration (also used by `swarmlab peer`).

use std::sync::Arc;

use protocols::assist::{AssistConfig, AssistPeer, AssistRole};
use protocols::cdn::{CdnConfig, CdnPeer};
use protocols::hybrid::{HybridConfig, HybridPeer};
use protocols::mesh::{MeshConfig, MeshPeer};
use protocols::params::{AssistSection, HybridSection, MeshSection, PushSection, TreeSection};
use protocols::playback::PlayerParams;
use protocols::push::{PushConfig, PushPeer};
use protocols::tree::{TreeConfig, TreePeer};
use protocols::{PeerId, StreamParams, Time};

use crate::engine::Protocol;
use crate::registry::{self, AddFamily, Family};
use crate::scenario::{ChurnModel, Scenario};

/// Registers the built-in families, in their documented order (the first is
/// the default of `[protocol] name`). The one list of them: the simulator's
/// registry and the CLI's (which adds a UDP host per family) both use it.
pub fn builtin_families<R: AddFamily>(r: R) -> R {
    r.family::<MeshPull>()
        .family::<TreePush>()
        .family::<Hybrid>()
        .family::<ClientServer>()
        .family::<RandomPush>()
        .family::<CdnAssisted>()
}

/// CDN-assisted mesh-pull (peers fall back to a CDN edge for urgent chunks)
/// as an engine protocol.
pub struct CdnAssisted {
    pub cfg: Arc<AssistConfig>,
}

impl Protocol for CdnAssisted {
    type Peer = AssistPeer;
    fn name(&self) -> String {
        <Self as Family>::NAME.into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> AssistPeer {
        AssistPeer::new(self.cfg.clone(), AssistRole::Source, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> AssistPeer {
        AssistPeer::new(self.cfg.clone(), AssistRole::Peer, up_kbps)
    }
    fn edge(&self, _id: PeerId, up_kbps: u32) -> AssistPeer {
        AssistPeer::new(self.cfg.clone(), AssistRole::Edge, up_kbps)
    }
}

impl Family for CdnAssisted {
    const NAME: &'static str = "cdn-p2p";
    const ABOUT: &'static str = "CDN-assisted mesh-pull: peers ask a CDN edge (`[cdn]`) for chunks about to miss their deadline (LiveSky, Yin et al. 2009)";
    const SECTIONS: &'static [&'static str] = &["assist", "mesh"];
    const EDGE: bool = true;
    type Proto = CdnAssisted;
    fn build(sc: &Scenario) -> CdnAssisted {
        CdnAssisted { cfg: Arc::new(assist_config(sc)) }
    }
    fn label(sc: &Scenario) -> String {
        format!("cdn-p2p/{}", sc.protocol.scheduler)
    }
}

/// CDN-assisted configuration of a scenario: the mesh of `[protocol.mesh]`,
/// `[protocol.assist]`, the edge at node 2.
pub fn assist_config(sc: &Scenario) -> AssistConfig {
    AssistConfig {
        mesh: mesh_config(sc),
        assist: sc.protocol.section::<AssistSection>().to_params(),
        source: PeerId(1),
        edge: PeerId(2),
    }
}

/// Mesh-pull as an engine protocol.
pub struct MeshPull {
    pub cfg: Arc<MeshConfig>,
}

impl Protocol for MeshPull {
    type Peer = MeshPeer;
    fn name(&self) -> String {
        <Self as Family>::NAME.into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> MeshPeer {
        MeshPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> MeshPeer {
        MeshPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

impl Family for MeshPull {
    const NAME: &'static str = "mesh-pull";
    const ABOUT: &'static str = "CoolStreaming/DONet-style mesh pull";
    const SECTIONS: &'static [&'static str] = &["mesh"];
    type Proto = MeshPull;
    fn build(sc: &Scenario) -> MeshPull {
        MeshPull { cfg: Arc::new(mesh_config(sc)) }
    }
    fn label(sc: &Scenario) -> String {
        format!("mesh-pull/{}", sc.protocol.scheduler)
    }
}

/// The client-server baseline as an engine protocol.
pub struct ClientServer {
    pub cfg: Arc<CdnConfig>,
}

impl Protocol for ClientServer {
    type Peer = CdnPeer;
    fn name(&self) -> String {
        <Self as Family>::NAME.into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> CdnPeer {
        CdnPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> CdnPeer {
        CdnPeer::new(self.cfg.clone(), false, up_kbps)
    }
    /// The server answers every client. 0.2 balanced the two threads best
    /// of 0.15, 0.2 and 0.25 on the 100,000-peer scale file (each part's
    /// wait at the window barrier; results/perf/layout.txt, and
    /// results/perf/README.md, "Client-server: a weighted layout").
    fn source_share(&self) -> f64 {
        0.2
    }
}

impl Family for ClientServer {
    const NAME: &'static str = "client-server";
    const ABOUT: &'static str = "every peer served by the source alone (the baseline)";
    const SECTIONS: &'static [&'static str] = &[];
    type Proto = ClientServer;
    fn build(sc: &Scenario) -> ClientServer {
        ClientServer { cfg: Arc::new(cdn_config(sc)) }
    }
}

/// Tree-push (single tree, or SplitStream multi-tree with `stripes > 1`) as an engine protocol.
pub struct TreePush {
    pub cfg: Arc<TreeConfig>,
}

impl Protocol for TreePush {
    type Peer = TreePeer;
    fn name(&self) -> String {
        <Self as Family>::NAME.into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> TreePeer {
        TreePeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> TreePeer {
        TreePeer::new(self.cfg.clone(), false, up_kbps)
    }
}

impl Family for TreePush {
    const NAME: &'static str = "tree-push";
    const ABOUT: &'static str = "a push tree, or a SplitStream multi-tree with `stripes > 1`";
    const SECTIONS: &'static [&'static str] = &["tree"];
    type Proto = TreePush;
    fn build(sc: &Scenario) -> TreePush {
        TreePush { cfg: Arc::new(tree_config(sc)) }
    }
    fn label(sc: &Scenario) -> String {
        match sc.protocol.section::<TreeSection>().stripes.0 {
            k if k > 1 => format!("tree-push/k={k}"),
            _ => "tree-push".to_string(),
        }
    }
    fn stripes(_sc: &Scenario) -> u8 {
        protocols::tree::MAX_STRIPES as u8
    }
}

/// Hybrid tree/mesh (mTreebone treebone, or GridMedia / Coolstreaming+
/// pull-push) as an engine protocol.
pub struct Hybrid {
    pub cfg: Arc<HybridConfig>,
}

impl Protocol for Hybrid {
    type Peer = HybridPeer;
    fn name(&self) -> String {
        <Self as Family>::NAME.into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> HybridPeer {
        HybridPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> HybridPeer {
        HybridPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

impl Family for Hybrid {
    const NAME: &'static str = "hybrid";
    const ABOUT: &'static str = "hybrid tree/mesh, mTreebone (`treebone`) or GridMedia/Coolstreaming+ (`pull-push`)";
    const SECTIONS: &'static [&'static str] = &["hybrid", "mesh", "tree"];
    type Proto = Hybrid;
    fn build(sc: &Scenario) -> Hybrid {
        Hybrid { cfg: Arc::new(hybrid_config(sc)) }
    }
    fn label(sc: &Scenario) -> String {
        format!("hybrid/{}/{}", sc.protocol.section::<HybridSection>().mode.as_str(), sc.protocol.scheduler)
    }
    fn stripes(_sc: &Scenario) -> u8 {
        protocols::tree::MAX_STRIPES as u8
    }
}

/// Sender-driven random-useful push (Massoulié et al. 2007, Bonald et al.
/// 2008) as an engine protocol.
pub struct RandomPush {
    pub cfg: Arc<PushConfig>,
}

impl Protocol for RandomPush {
    type Peer = PushPeer;
    fn name(&self) -> String {
        <Self as Family>::NAME.into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> PushPeer {
        PushPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> PushPeer {
        PushPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

impl Family for RandomPush {
    const NAME: &'static str = "random-push";
    const ABOUT: &'static str = "sender-driven push to a random partner whenever the upload link is free (Massoulié et al. 2007, Bonald et al. 2008)";
    const SECTIONS: &'static [&'static str] = &["push", "mesh"];
    type Proto = RandomPush;
    fn build(sc: &Scenario) -> RandomPush {
        RandomPush { cfg: Arc::new(push_config(sc)) }
    }
    fn label(sc: &Scenario) -> String {
        let p = sc.protocol.section::<PushSection>();
        format!("random-push/{}/{}", p.peer.as_str(), p.chunk.as_str())
    }
}

/// Random-push configuration of a scenario: `[protocol.push]` and the mesh of
/// `[protocol.mesh]` (its scheduler is built but never run).
pub fn push_config(sc: &Scenario) -> PushConfig {
    let m = mesh_config(sc);
    PushConfig {
        stream: m.stream,
        player: m.player,
        mesh: m.mesh,
        push: sc.protocol.section::<PushSection>().to_params(),
        scheduler: m.scheduler,
        tracker: PeerId(0),
    }
}

/// Tree-push configuration of a scenario (`[protocol.tree]`; the player as
/// for every protocol).
pub fn tree_config(sc: &Scenario) -> TreeConfig {
    TreeConfig {
        stream: stream_params(sc),
        player: player_params(sc),
        tree: sc.protocol.section::<TreeSection>().to_params(),
        tracker: PeerId(0),
    }
}

/// Hybrid configuration of a scenario: `[protocol.hybrid]`, the mesh of
/// `[protocol.mesh]` with mTreebone's 0.5 s buffer maps unless
/// `buffer_map_interval_s` is set, the timers of `[protocol.tree]`, the
/// scenario's scheduler and player. The expected session is
/// `expected_session_s`, else the mean session of the churn model (Poisson:
/// `session_mean_s`; trace: the mean of the sessions that end), else 300 s.
pub fn hybrid_config(sc: &Scenario) -> HybridConfig {
    let m = mesh_config(sc);
    let mut mesh = m.mesh.clone();
    if sc.protocol.section::<MeshSection>().buffer_map_interval_s.is_none() {
        mesh.buffer_map_interval = Time::from_secs_f64(protocols::params::hybrid::BUFFER_MAP_INTERVAL_S);
    }
    let hy = sc.protocol.section::<HybridSection>();
    let expected_session = match (hy.expected_session_s, sc.churn.model) {
        (Some(s), _) => s.time(),
        (None, ChurnModel::Poisson) => Time::from_secs_f64(sc.churn.session_mean_s.0),
        (None, ChurnModel::Trace) => {
            let ended: Vec<f64> =
                sc.churn.trace.iter().filter_map(|r| r.leave_s.map(|l| (l - r.join_s).max(0.0))).collect();
            if ended.is_empty() {
                HybridConfig::DEFAULT_SESSION
            } else {
                Time::from_secs_f64(ended.iter().sum::<f64>() / ended.len() as f64)
            }
        }
        (None, ChurnModel::None) => HybridConfig::DEFAULT_SESSION,
    };
    HybridConfig {
        stream: m.stream,
        player: m.player,
        mesh,
        tree: sc.protocol.section::<TreeSection>().to_params(),
        hybrid: hy.to_params(),
        scheduler: m.scheduler,
        tracker: PeerId(0),
        expected_session,
    }
}

/// Client-server configuration of a scenario.
pub fn cdn_config(sc: &Scenario) -> CdnConfig {
    CdnConfig::new(stream_params(sc), player_params(sc), PeerId(0), PeerId(1))
}

/// Stream parameters of a scenario.
pub fn stream_params(sc: &Scenario) -> StreamParams {
    StreamParams {
        rate_bps: (sc.stream.rate_kbps.0 * 1000.0).round() as u64,
        chunk_duration: Time::from_secs_f64(sc.stream.chunk_s.0),
    }
}

/// Player parameters of a scenario (`[player]`), the same for every family.
pub fn player_params(sc: &Scenario) -> PlayerParams {
    let startup_chunks = (sc.player.startup_s.0 / sc.stream.chunk_s.0).ceil().max(1.0) as u32;
    let rebuffer_chunks = (sc.player.on_miss == crate::scenario::OnMiss::Rebuffer)
        .then(|| (sc.player.rebuffer_s.0 / sc.stream.chunk_s.0).ceil().max(1.0) as u32);
    PlayerParams {
        startup_chunks,
        startup_timeout: Time::from_secs_f64(sc.player.startup_timeout_s.0),
        rebuffer_chunks,
    }
}

/// Mesh configuration of a scenario (`[protocol.mesh]`, the scenario's
/// scheduler looked up in the registry; switching the request-timeout defence
/// off makes requests wait as long as their partner stays).
pub fn mesh_config(sc: &Scenario) -> MeshConfig {
    let mut mesh = sc.protocol.section::<MeshSection>().to_params();
    if !sc.defence.request_timeout {
        mesh.request_timeout = Time(u64::MAX / 4);
    }
    let reg = registry::current();
    let scheduler = match reg.find_scheduler(&sc.protocol.scheduler) {
        Some(s) => s.clone(),
        None => panic!(
            "scheduler `{}` is not in the installed registry ({}): parse and run with the same registry",
            sc.protocol.scheduler,
            reg.scheduler_names().join(", ")
        ),
    };
    MeshConfig { stream: stream_params(sc), player: player_params(sc), mesh, scheduler, tracker: PeerId(0) }
}
