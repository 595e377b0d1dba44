//! CDN-assisted peer-to-peer streaming: peers pull from the swarm and fall
//! back to a CDN edge server for chunks about to miss their deadline.
//!
//! This is peer-assisted delivery as deployed hybrid systems do it: the
//! swarm carries what it can and a CDN covers the rest. LiveSky (Yin et
//! al., "Design and deployment of a hybrid CDN-P2P system for live video
//! streaming", ACM Multimedia 2009) and Akamai NetSession (Zhao et al.,
//! "Peer-assisted content distribution in Akamai NetSession", IMC 2013) serve
//! from edge servers what peers cannot supply in time; Huang et al. (SIGCOMM
//! 2007) measure the server bandwidth such peer assistance saves. The
//! fallback rule here is the simplest form of theirs: a playback-deadline
//! window.
//!
//! Three node kinds:
//! - the **source** (origin) is a mesh source ([`crate::meshcore`]) that also
//!   sends every chunk it emits to the edge, once, over its own upload link
//!   (the origin feeding the CDN);
//! - the **edge** ([`AssistConfig::edge`], a node of the run with its own
//!   upload, download and latency: `[cdn]` in the scenario) stores what the
//!   source sends it and serves any peer's `Request` under an upload-backlog
//!   cap, refusing the rest at once (busy, or not held yet) like a mesh
//!   supplier ([`Media::serve`]); it neither registers with the tracker nor
//!   joins the mesh;
//! - a **peer** is a DONet mesh-pull peer (the policy of [`crate::mesh`],
//!   reused) that, at each scheduling round, first asks the edge in one
//!   `Request` for every chunk it lacks whose playback deadline is within
//!   `edge_window` and that no partner is expected to deliver before it
//!   (not requested, or requested with an expected arrival after the
//!   deadline). Chunks asked of the edge are left out of the mesh's rounds
//!   until they arrive or the edge refuses them; one unanswered for
//!   `request_timeout` of `[protocol.mesh]` (lost on the way) is asked
//!   again at the next round. Before the player starts (no deadlines yet)
//!   nothing is asked of the edge.
//!
//! Parameters and defaults ([`AssistParams::default`], `[protocol.assist]`):
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `edge_window` | 2 s | a missing chunk due within this is asked of the edge |
//! | `edge_backlog` | 1 s | the edge refuses a request that would wait behind more queued upload than this |
//!
//! The mesh parameters are `[protocol.mesh]`'s ([`crate::mesh`]).

use std::sync::Arc;

use crate::chunkmap::ChunkMap;
use crate::ids::{PeerId, Seq};
use crate::media::{HasMedia, Media, MediaTimer, Uplink};
use crate::mesh::{Donet, MeshConfig};
use crate::meshcore::{MeshEnv, MeshTimer, Partner, PartnerMesh, PullPolicy};
use crate::peer::{Command, Ctx, Peer};
use crate::time::Time;
use crate::wire::Msg;

/// Parameters of the CDN fallback; see the module doc.
#[derive(Clone, Debug, PartialEq)]
pub struct AssistParams {
    pub edge_window: Time,
    pub edge_backlog: Time,
}

/// The defaults live in one place, the scenario section ([`AssistSection`](crate::params::assist::AssistSection)).
impl Default for AssistParams {
    fn default() -> Self {
        crate::params::assist::AssistSection::default().to_params()
    }
}

/// Everything a CDN-assisted node needs to know about the run.
#[derive(Clone, Debug)]
pub struct AssistConfig {
    /// The mesh-pull side (stream, player, `[protocol.mesh]`, scheduler, tracker).
    pub mesh: MeshConfig,
    pub assist: AssistParams,
    /// The source (origin), whose chunks the edge accepts.
    pub source: PeerId,
    /// The CDN edge server.
    pub edge: PeerId,
}

/// Timers of a CDN-assisted node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssistTimer {
    Media(MediaTimer),
    Mesh(MeshTimer),
    TrackerRefresh,
}

crate::timer_from!(AssistTimer: Media(MediaTimer), Mesh(MeshTimer));

/// What a node of the family is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssistRole {
    Source,
    Edge,
    Peer,
}

/// DONet's choices, plus: chunks asked of the edge wait for it.
struct Fallback<'a> {
    donet: Donet<'a>,
    asked: &'a [(Seq, Time)],
}

impl PullPolicy<AssistTimer> for Fallback<'_> {
    type Ext = ();
    fn new_ext(&self) {}
    fn ask_tracker(&mut self, starving: bool, cx: &mut Ctx<'_, AssistTimer>) {
        self.donet.ask_tracker(starving, cx);
    }
    fn before_schedule(
        &mut self,
        partners: &[Partner<()>],
        hint: Option<Seq>,
        media: &mut Media,
        cx: &mut Ctx<'_, AssistTimer>,
    ) {
        self.donet.before_schedule(partners, hint, media, cx);
    }
    fn defer(&self, seq: Seq, _deadline: Time, _now: Time) -> bool {
        self.asked.iter().any(|&(s, _)| s == seq)
    }
}

/// A CDN-assisted node: the source, the edge or a peer.
#[repr(C)]
pub struct AssistPeer {
    cfg: Arc<AssistConfig>,
    mesh: PartnerMesh<()>,
    active: bool,
    role: AssistRole,
    media: Media,
    /// Peer: chunks asked of the edge and not yet arrived or refused, with when.
    asked: Vec<(Seq, Time)>,
}

impl AssistPeer {
    pub fn new(cfg: Arc<AssistConfig>, role: AssistRole, up_kbps: u32) -> AssistPeer {
        let m = &cfg.mesh;
        let mesh = PartnerMesh::new(m.scheduler.build(), role == AssistRole::Source, up_kbps, m.tracker)
            .with_degree(&m.mesh, &m.stream);
        let media = Media::new(m.player);
        AssistPeer { cfg, mesh, active: false, role, media, asked: Vec::new() }
    }

    pub fn role(&self) -> AssistRole {
        self.role
    }

    /// Peer: chunks asked of the edge and not yet answered.
    pub fn asked_of_edge(&self) -> impl Iterator<Item = Seq> + '_ {
        self.asked.iter().map(|a| a.0)
    }

    /// Current mesh partners, in the order they were added.
    pub fn partners(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.mesh.partners().iter().map(|p| p.id)
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, AssistTimer>) {
        self.asked.retain(|a| a.0 != seq);
        let env = MeshEnv::new(&self.cfg.mesh.mesh, &self.cfg.mesh.stream);
        self.mesh.receive(&mut self.media, (from, seq, len, polluted), env, cx);
    }

    /// Peer: asks the edge, in one request, for the missing chunks due
    /// within `edge_window` that no partner is expected to deliver in time.
    fn edge_round(&mut self, cx: &mut Ctx<'_, AssistTimer>) {
        let cfg = &*self.cfg;
        let (stream, now) = (&cfg.mesh.stream, cx.now);
        let player = &self.media.player;
        let Some(lo) = player.needed_from().filter(|_| player.is_playing()) else {
            return;
        };
        let have = &self.media.have;
        let timeout = cfg.mesh.mesh.request_timeout;
        self.asked.retain(|&(s, at)| s >= lo && !have.contains(s) && at + timeout > now);
        let window = cfg.mesh.mesh.window;
        let hi = stream.newest_at(now).min(lo.saturating_add(window as u32 - 1));
        let mut req = ChunkMap::new(lo, window);
        for seq in lo..=hi {
            let deadline = player.deadline(seq, stream, now);
            if deadline > now + cfg.assist.edge_window {
                break;
            }
            if deadline <= now || have.contains(seq) || self.asked.iter().any(|a| a.0 == seq) {
                continue;
            }
            let on_time = |q: &crate::meshcore::Pending| q.seq == seq && q.expect <= deadline;
            if self.mesh.requested.contains(seq) && self.mesh.pending.iter().any(on_time) {
                continue;
            }
            req.insert(seq);
            self.asked.push((seq, now));
        }
        if !req.is_empty() {
            cx.send(cfg.edge, Msg::Request(req));
        }
    }

    fn on_edge_message(&mut self, msg: Msg, cx: &mut Ctx<'_, AssistTimer>) {
        match msg {
            Msg::Chunk { seq, len, polluted } => self.on_chunk(self.cfg.edge, seq, len, polluted, cx),
            Msg::Refuse { chunks, .. } => self.asked.retain(|a| !chunks.contains(a.0)),
            _ => {}
        }
    }

    /// The edge: stores the source's chunks, serves requests.
    fn edge_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, AssistTimer>) {
        let cfg = &*self.cfg;
        match msg {
            Msg::Chunk { seq, polluted, .. }
                if from == cfg.source && Media::admit(seq, from, false, &cfg.mesh.stream, cx) =>
            {
                self.media.store(seq, polluted);
            }
            Msg::Request(req) => {
                let up = Uplink { kbps: self.mesh.up_kbps, cap: cfg.assist.edge_backlog };
                self.media.serve(from, req, |_| true, up, &cfg.mesh.stream, cx);
            }
            _ => {}
        }
    }
}

impl HasMedia for AssistPeer {
    fn media(&self) -> &Media {
        &self.media
    }
}

impl Peer for AssistPeer {
    type Timer = AssistTimer;

    fn prefetch(&self) {
        self.mesh.prefetch();
    }
    /// A message's sender is usually a partner: its record.
    fn prefetch_from(&self, from: PeerId) {
        self.mesh.prefetch_from(from);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, AssistTimer>) {
        self.active = true;
        if self.role == AssistRole::Edge {
            return;
        }
        let m = &self.cfg.mesh;
        self.mesh.start_member(&m.mesh, &m.stream, AssistTimer::TrackerRefresh, cx);
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, AssistTimer>) {
        if !self.active {
            return;
        }
        if self.role == AssistRole::Edge {
            return self.edge_message(from, msg, cx);
        }
        if from == self.cfg.edge {
            return self.on_edge_message(msg, cx);
        }
        let cfg = &*self.cfg;
        let mut pol = Fallback { donet: Donet { cfg: &cfg.mesh }, asked: &self.asked };
        let env = MeshEnv::new(&cfg.mesh.mesh, &cfg.mesh.stream);
        let rest = self.mesh.on_message(from, msg, &self.media, env, &mut pol, cx);
        if let Some(Msg::Chunk { seq, len, polluted }) = rest {
            self.on_chunk(from, seq, len, polluted, cx);
        }
    }

    fn on_timer(&mut self, timer: AssistTimer, cx: &mut Ctx<'_, AssistTimer>) {
        if !self.active {
            return;
        }
        if timer == AssistTimer::Mesh(MeshTimer::Schedule) {
            self.edge_round(cx);
        }
        let cfg = &*self.cfg;
        let m = &cfg.mesh;
        match timer {
            AssistTimer::Media(t) => {
                if let Some(seq) = self.media.on_timer(t, &m.stream, cx) {
                    let len = m.stream.chunk_bytes();
                    cx.send(cfg.edge, Msg::Chunk { seq, len, polluted: false });
                }
            }
            AssistTimer::Mesh(t) => {
                let mut pol = Fallback { donet: Donet { cfg: m }, asked: &self.asked };
                self.mesh.on_timer(t, &mut self.media, MeshEnv::new(&m.mesh, &m.stream), &mut pol, cx);
            }
            AssistTimer::TrackerRefresh => self.mesh.register_every(&m.mesh, AssistTimer::TrackerRefresh, cx),
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, AssistTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                if self.role != AssistRole::Edge {
                    self.mesh.depart(graceful, cx);
                }
                self.active = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::MeshParams;
    use crate::peer::{Outbox, StreamParams};
    use crate::playback::PlayerParams;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The tests' clock starts here, so chunks up to 60 have been emitted.
    const T0: Time = Time::from_secs(60);
    const EDGE: PeerId = PeerId(2);

    fn cfg() -> Arc<AssistConfig> {
        Arc::new(AssistConfig {
            mesh: MeshConfig {
                stream: StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
                player: PlayerParams { startup_chunks: 4, startup_timeout: Time::from_secs(30), rebuffer_chunks: None },
                mesh: MeshParams::default(),
                scheduler: crate::sched::default_spec(),
                tracker: PeerId(0),
            },
            assist: AssistParams::default(),
            source: PeerId(1),
            edge: EDGE,
        })
    }

    fn call(
        p: &mut AssistPeer,
        at: Time,
        backlog: Time,
        f: impl FnOnce(&mut AssistPeer, &mut Ctx<'_, AssistTimer>),
    ) -> Vec<(PeerId, Msg)> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(T0 + at, PeerId(5), &mut rng, backlog, &mut out);
        f(p, &mut cx);
        out.sends
    }

    fn started(role: AssistRole) -> AssistPeer {
        let mut p = AssistPeer::new(cfg(), role, 2000);
        call(&mut p, Time::ZERO, Time::ZERO, |p, cx| p.on_start(cx));
        p
    }

    /// Requests sent to `to`, as chunk lists.
    fn asked(sends: &[(PeerId, Msg)], to: PeerId) -> Vec<Seq> {
        sends
            .iter()
            .filter_map(|(t, m)| match m {
                Msg::Request(r) if *t == to => Some(r.iter().collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn cmap(base: Seq, len: u16, seqs: &[Seq]) -> ChunkMap {
        let mut m = ChunkMap::new(base, len);
        for &s in seqs {
            m.insert(s);
        }
        m
    }

    fn round(p: &mut AssistPeer, at: Time) -> Vec<(PeerId, Msg)> {
        call(p, at, Time::ZERO, |p, cx| p.on_timer(AssistTimer::Mesh(MeshTimer::Schedule), cx))
    }

    /// A peer playing from chunk 20 (it holds 20..=23; 24 is due 4 s after T0).
    fn playing() -> AssistPeer {
        let mut p = started(AssistRole::Peer);
        call(&mut p, Time::ZERO, Time::ZERO, |p, cx| {
            p.media.choose_start(23, cx);
            for s in 20..24 {
                p.media.store(s, false);
            }
            p.media.check_startup(cx);
        });
        assert!(p.media.player.is_playing());
        p
    }

    #[test]
    fn the_source_sends_each_new_chunk_to_the_edge_once() {
        let mut s = started(AssistRole::Source);
        let out = call(&mut s, Time::ZERO, Time::ZERO, |p, cx| p.on_timer(AssistTimer::Media(MediaTimer::Emit), cx));
        let to_edge: Vec<&Msg> = out.iter().filter(|(t, _)| *t == EDGE).map(|(_, m)| m).collect();
        assert!(matches!(to_edge[..], [Msg::Chunk { seq: 60, .. }]), "{out:?}");
    }

    #[test]
    fn only_chunks_due_within_the_window_are_asked_of_the_edge() {
        let mut p = playing();
        // 4 s before chunk 24's deadline nothing is urgent.
        assert!(asked(&round(&mut p, Time::ZERO), EDGE).is_empty());
        // 1.5 s before it: 24 (due in 1.5 s) is asked, 25 (2.5 s) is not.
        let out = round(&mut p, Time::from_millis(2500));
        assert_eq!(asked(&out, EDGE), vec![24], "{out:?}");
        assert_eq!(p.asked_of_edge().collect::<Vec<_>>(), vec![24]);
        // Not asked twice while outstanding; a refusal frees it for the next
        // round, and so does the request timeout (1 s: a lost request or chunk).
        assert!(asked(&round(&mut p, Time::from_millis(2600)), EDGE).is_empty());
        let mut lost = playing();
        assert_eq!(asked(&round(&mut lost, Time::from_millis(2500)), EDGE), vec![24]);
        // (25 has become urgent meanwhile.)
        assert_eq!(asked(&round(&mut lost, Time::from_millis(3400)), EDGE), vec![25]);
        assert_eq!(asked(&round(&mut lost, Time::from_millis(3500)), EDGE), vec![24]);
        let refused = Msg::Refuse { chunks: cmap(24, 1, &[24]), busy: true };
        call(&mut p, Time::from_millis(2700), Time::ZERO, |p, cx| p.on_message(EDGE, refused, cx));
        assert_eq!(asked(&round(&mut p, Time::from_millis(2800)), EDGE), vec![24]);
        // Its arrival from the edge is stored like any chunk.
        let chunk = Msg::Chunk { seq: 24, len: 62_500, polluted: false };
        call(&mut p, Time::from_millis(2900), Time::ZERO, |p, cx| p.on_message(EDGE, chunk, cx));
        assert!(p.has_chunk(24) && p.asked_of_edge().next().is_none());
    }

    #[test]
    fn a_chunk_a_partner_will_deliver_in_time_is_not_asked_of_the_edge_and_an_edge_chunk_not_of_partners() {
        let mut p = playing();
        call(&mut p, Time::ZERO, Time::ZERO, |p, cx| {
            p.on_message(PeerId(7), Msg::Hello { up_kbps: 5000 }, cx);
            let m = cmap(0, 120, &(20..40).collect::<Vec<_>>());
            p.on_message(PeerId(7), Msg::BufferMap(m), cx);
        });
        // The mesh round asks the partner for 24 (and more), expected soon.
        let first = round(&mut p, Time::from_millis(100));
        assert!(asked(&first, PeerId(7)).contains(&24), "{first:?}");
        // When 24 becomes urgent the partner is still expected in time: no edge request.
        let out = round(&mut p, Time::from_millis(2500));
        assert!(!asked(&out, EDGE).contains(&24), "{out:?}");
        // Once asked of the edge, a chunk is left out of the mesh's rounds.
        let mut q = playing();
        let out = round(&mut q, Time::from_millis(2500));
        assert_eq!(asked(&out, EDGE), vec![24]);
        call(&mut q, Time::from_millis(2500), Time::ZERO, |p, cx| {
            p.on_message(PeerId(7), Msg::Hello { up_kbps: 5000 }, cx);
            let m = cmap(0, 120, &(20..40).collect::<Vec<_>>());
            p.on_message(PeerId(7), Msg::BufferMap(m), cx);
        });
        let out = round(&mut q, Time::from_millis(2600));
        let from_partner = asked(&out, PeerId(7));
        assert!(!from_partner.is_empty() && !from_partner.contains(&24), "{out:?}");
    }

    #[test]
    fn the_edge_stores_the_sources_chunks_only_and_serves_anyone_under_its_backlog_cap() {
        let mut e = started(AssistRole::Edge);
        let start = call(&mut e, Time::ZERO, Time::ZERO, |p, cx| p.on_start(cx));
        assert!(start.is_empty(), "the edge neither registers nor seeks partners: {start:?}");
        let chunk = |seq| Msg::Chunk { seq, len: 62_500, polluted: false };
        call(&mut e, Time::ZERO, Time::ZERO, |p, cx| {
            p.on_message(PeerId(1), chunk(50), cx);
            p.on_message(PeerId(9), chunk(51), cx);
        });
        assert!(e.has_chunk(50) && !e.has_chunk(51), "only the source feeds the edge");
        let req = Msg::Request(cmap(50, 2, &[50, 51]));
        let out = call(&mut e, Time::ZERO, Time::ZERO, |p, cx| p.on_message(PeerId(9), req.clone(), cx));
        assert!(out.iter().any(|(t, m)| t.0 == 9 && matches!(m, Msg::Chunk { seq: 50, .. })), "{out:?}");
        assert!(out.iter().any(|(t, m)| t.0 == 9 && matches!(m, Msg::Refuse { busy: false, .. })), "{out:?}");
        // Behind more than `edge_backlog` of queued upload it refuses as busy.
        let out = call(&mut e, Time::ZERO, Time::from_secs(2), |p, cx| p.on_message(PeerId(9), req, cx));
        assert!(!out.iter().any(|(_, m)| m.is_media()), "{out:?}");
        assert!(out.iter().any(|(_, m)| matches!(m, Msg::Refuse { busy: true, .. })), "{out:?}");
    }
}
