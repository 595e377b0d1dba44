//! Mesh-pull streaming in the CoolStreaming/DONet style.
//!
//! Follows X. Zhang, J. Liu, B. Li, T.-S. P. Yum, "CoolStreaming/DONet: A
//! Data-driven Overlay Network for Peer-to-Peer Live Media Streaming",
//! IEEE INFOCOM 2005. Every node keeps a partial membership cache (mCache)
//! filled from the tracker and by gossip, holds up to `partners_max` partners
//! (it seeks `partners`), exchanges buffer maps with its partners every
//! `buffer_map_interval`, and pulls missing chunks with receiver-driven
//! requests every `schedule_interval`, choosing chunks and suppliers with a
//! [`SchedulerSpec`] (DONet's heuristic by default: rarest first, then the
//! supplier that meets the deadline soonest given its estimated bandwidth).
//! Partners are refreshed every `refresh_interval`: those silent for
//! `partner_timeout` are dropped (crash detection), the lowest-scoring one is
//! dropped when its score (bytes exchanged both ways in the last period) is
//! below `underperform_ratio` x the mean, or whatever it is when the node
//! starves: no new chunk arrived since the last refresh while the player's
//! buffer is empty, or before it started while no partner advertises any
//! chunk (the mesh may be cut off from the source, or formed before the
//! source joined); new ones are sought from the mCache (or the tracker when
//! it is empty or the node starves).
//!
//! Departures from the paper: the membership gossip sends a random sample of
//! the mCache to one partner (DONet uses SCAM-style membership messages with
//! TTLs); a supplier refuses at once (`Refuse`) requests that would wait
//! behind more than `max_upload_backlog` of queued upload, and the requester
//! asks again at its next round (DONet leaves this unspecified); the source
//! seeks `partners_max` partners itself at every refresh (DONet leaves the
//! source's partners unmanaged; peers drop it like any other partner);
//! supplier bandwidth is estimated from request-to-arrival times of past
//! chunks, starting from half the partner's advertised upload capacity.
//!
//! The mechanisms live in the partner-mesh core ([`crate::meshcore`]); this
//! module is the DONet family on top of it: the tracker is asked at once
//! whenever members run short, and a peer starts playing from the lower
//! median of its partners' newest chunks.
//!
//! Parameters and defaults ([`MeshParams::default`]):
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `partners` | 4 | partners sought (DONet's M = 4) |
//! | `partners_max` | 8 | most partners accepted |
//! | `window` | 120 | chunks in a buffer map (DONet: 120 one-second segments) |
//! | `buffer_map_interval` | 1 s | period of buffer-map exchange |
//! | `schedule_interval` | 0.5 s | period of the request scheduler |
//! | `gossip_interval` | 5 s | period of membership gossip |
//! | `refresh_interval` | 10 s | period of partner refresh |
//! | `mcache_size` | 32 | mCache entries |
//! | `partner_timeout` | 5 s | silence after which a partner is dropped |
//! | `request_timeout` | 1 s | a request unanswered this long after its expected arrival is re-issued |
//! | `underperform_ratio` | 0.25 | drop the worst partner if below this x mean score |
//! | `max_upload_backlog` | 1 s | a supplier refuses a request that would wait behind more queued upload than this |
//! | `urgent_window` | 3 s | chunks due within this are scheduled before all others |
//! | `tracker_list_size` | 20 | members asked of the tracker |
//! | `tracker_refresh` | 30 s | re-registration period |
//! | `have` | false | true: a `Have` to every partner on each new chunk, full buffer maps only every `max(buffer_map_interval, partner_timeout / 2)` (Chainsaw, Pai et al., IPTPS 2005; Zhang et al., JSAC 2007, discuss the overhead/delay trade-off) |
//! | `degree` | `fixed` | `proportional`: a peer seeks `max(partners, round(partners x up / rate))` partners and accepts `partners_max / partners` times that (PRIME, Magharei & Rejaie, INFOCOM 2007; see [`PartnerMesh::with_degree`](crate::meshcore::PartnerMesh::with_degree)) |

use std::sync::Arc;

use crate::ids::{PeerId, Seq};
use crate::media::{HasMedia, Media, MediaTimer};
use crate::meshcore::{MeshEnv, MeshTimer, PartnerMesh, PullPolicy};
use crate::peer::{Command, Ctx, Peer, StreamParams};
use crate::playback::PlayerParams;
use crate::sched::SchedulerSpec;
use crate::time::Time;
use crate::wire::Msg;

/// Mesh-pull parameters; see the module doc for meanings and sources.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshParams {
    pub partners: usize,
    pub partners_max: usize,
    pub window: u16,
    pub buffer_map_interval: Time,
    pub schedule_interval: Time,
    pub gossip_interval: Time,
    pub refresh_interval: Time,
    pub mcache_size: usize,
    pub partner_timeout: Time,
    pub request_timeout: Time,
    pub underperform_ratio: f64,
    pub max_upload_backlog: Time,
    pub urgent_window: Time,
    pub tracker_list_size: u16,
    pub tracker_refresh: Time,
    pub degree: Degree,
    pub have: bool,
}

/// How many partners a peer seeks ([`PartnerMesh::with_degree`](crate::meshcore::PartnerMesh::with_degree)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Degree {
    /// `partners` and `partners_max` for every peer (DONet).
    #[default]
    Fixed,
    /// Scaled by the peer's upload relative to the stream rate (PRIME).
    Proportional,
}

/// The defaults live in one place, the scenario section ([`MeshSection`](crate::params::mesh::MeshSection)).
impl Default for MeshParams {
    fn default() -> Self {
        crate::params::mesh::MeshSection::default().to_params()
    }
}

/// Everything a mesh node needs to know about the run, shared by all nodes.
#[derive(Clone, Debug)]
pub struct MeshConfig {
    pub stream: StreamParams,
    pub player: PlayerParams,
    pub mesh: MeshParams,
    pub scheduler: SchedulerSpec,
    pub tracker: PeerId,
}

impl MeshConfig {
    /// Bits a chunk occupies on the wire (payload, header and datagram headers).
    pub fn chunk_wire_bits(&self) -> u64 {
        crate::media::chunk_wire_bits(&self.stream)
    }
}

/// Timers of a mesh-pull node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshPullTimer {
    Media(MediaTimer),
    Mesh(MeshTimer),
    TrackerRefresh,
}

crate::timer_from!(MeshPullTimer: Media(MediaTimer), Mesh(MeshTimer));

/// DONet's choices for the mesh core (also the CDN-assisted family's, [`crate::assist`]).
pub(crate) struct Donet<'a> {
    pub(crate) cfg: &'a MeshConfig,
}

impl<T: From<MediaTimer>> PullPolicy<T> for Donet<'_> {
    type Ext = ();
    fn new_ext(&self) {}
    fn ask_tracker(&mut self, _starving: bool, cx: &mut Ctx<'_, T>) {
        cx.send(self.cfg.tracker, Msg::PeerListReq { want: self.cfg.mesh.tracker_list_size });
    }
    /// Start from the newest chunk a majority of partners hold (the lower
    /// median of their newest), not the best partner's: the lag then covers
    /// the delivery delay of a typical path through the mesh.
    fn before_schedule(
        &mut self,
        _partners: &[crate::meshcore::Partner<()>],
        hint: Option<Seq>,
        media: &mut Media,
        cx: &mut Ctx<'_, T>,
    ) {
        if let Some(head) = hint {
            media.choose_start(head, cx);
        }
    }
}

/// A mesh-pull node: the source (`is_source`) or a peer. `repr(C)`: what
/// every message and timer reads comes first (a simulator prefetches the
/// first lines of a node's state).
#[repr(C)]
pub struct MeshPeer {
    cfg: Arc<MeshConfig>,
    mesh: PartnerMesh<()>,
    active: bool,
    media: Media,
}

impl MeshPeer {
    pub fn new(cfg: Arc<MeshConfig>, is_source: bool, up_kbps: u32) -> MeshPeer {
        let mesh = PartnerMesh::new(cfg.scheduler.build(), is_source, up_kbps, cfg.tracker)
            .with_degree(&cfg.mesh, &cfg.stream);
        let media = Media::new(cfg.player);
        MeshPeer { cfg, mesh, active: false, media }
    }

    /// Current partners, in the order they were added.
    pub fn partners(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.mesh.partners().iter().map(|p| p.id)
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, MeshPullTimer>) {
        let env = MeshEnv::new(&self.cfg.mesh, &self.cfg.stream);
        self.mesh.receive(&mut self.media, (from, seq, len, polluted), env, cx);
    }
}

impl HasMedia for MeshPeer {
    fn media(&self) -> &Media {
        &self.media
    }
}

impl Peer for MeshPeer {
    type Timer = MeshPullTimer;

    /// Every message and most timers search or scan the partner list first.
    fn prefetch(&self) {
        self.mesh.prefetch();
    }
    /// A message's sender is usually a partner: its record.
    fn prefetch_from(&self, from: PeerId) {
        self.mesh.prefetch_from(from);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, MeshPullTimer>) {
        self.active = true;
        self.mesh.start_member(&self.cfg.mesh, &self.cfg.stream, MeshPullTimer::TrackerRefresh, cx);
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, MeshPullTimer>) {
        if !self.active {
            return;
        }
        let cfg = &*self.cfg;
        let mut pol = Donet { cfg };
        let env = MeshEnv::new(&cfg.mesh, &cfg.stream);
        let rest = self.mesh.on_message(from, msg, &self.media, env, &mut pol, cx);
        if let Some(Msg::Chunk { seq, len, polluted }) = rest {
            self.on_chunk(from, seq, len, polluted, cx);
        }
    }

    fn on_timer(&mut self, timer: MeshPullTimer, cx: &mut Ctx<'_, MeshPullTimer>) {
        if !self.active {
            return;
        }
        let cfg = &*self.cfg;
        match timer {
            MeshPullTimer::Media(t) => {
                self.media.on_timer(t, &cfg.stream, cx);
            }
            MeshPullTimer::Mesh(t) => {
                let mut pol = Donet { cfg };
                self.mesh.on_timer(t, &mut self.media, MeshEnv::new(&cfg.mesh, &cfg.stream), &mut pol, cx);
            }
            MeshPullTimer::TrackerRefresh => self.mesh.register_every(&cfg.mesh, MeshPullTimer::TrackerRefresh, cx),
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, MeshPullTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                self.mesh.depart(graceful, cx);
                self.active = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkmap::ChunkMap;
    use crate::meshcore::Have;
    use crate::peer::Outbox;
    use crate::wire::ExtCodec;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The tests' clock starts here, so chunks up to 60 have been emitted.
    const T0: Time = Time::from_secs(60);

    fn cfg() -> Arc<MeshConfig> {
        Arc::new(MeshConfig {
            stream: StreamParams { rate_bps: 500_000, chunk_duration: Time::from_secs(1) },
            player: PlayerParams { startup_chunks: 4, startup_timeout: Time::from_secs(30), rebuffer_chunks: None },
            mesh: MeshParams::default(),
            scheduler: crate::sched::default_spec(),
            tracker: PeerId(0),
        })
    }

    /// Runs `f` on `p` (node `me`) at `T0 + at` with `backlog` queued on its upload.
    fn call(
        p: &mut MeshPeer,
        at: Time,
        backlog: Time,
        f: impl FnOnce(&mut MeshPeer, &mut Ctx<'_, MeshPullTimer>),
    ) -> Vec<(PeerId, Msg)> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(T0 + at, PeerId(5), &mut rng, backlog, &mut out);
        f(p, &mut cx);
        out.sends
    }

    fn msg(p: &mut MeshPeer, from: u32, m: Msg) -> Vec<(PeerId, Msg)> {
        call(p, Time::ZERO, Time::ZERO, |p, cx| p.on_message(PeerId(from), m, cx))
    }

    fn map(seqs: impl IntoIterator<Item = Seq>) -> ChunkMap {
        let mut m = ChunkMap::new(0, 120);
        for s in seqs {
            m.insert(s);
        }
        m
    }

    fn started(is_source: bool) -> MeshPeer {
        let mut p = MeshPeer::new(cfg(), is_source, 2000);
        call(&mut p, Time::ZERO, Time::ZERO, |p, cx| p.on_start(cx));
        p
    }

    fn requests(sends: &[(PeerId, Msg)]) -> Vec<(u32, Vec<Seq>)> {
        sends
            .iter()
            .filter_map(|(to, m)| match m {
                Msg::Request(r) => Some((to.0, r.iter().collect())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_busy_supplier_refuses_at_once_and_says_why() {
        let mut p = started(false);
        msg(&mut p, 7, Msg::Hello { up_kbps: 1000 });
        for s in 10..14 {
            msg(&mut p, 7, Msg::Chunk { seq: s, len: 1000, polluted: false });
        }
        // 14 and 15 are not held; the upload queue is 5 s long: nothing is sent.
        let req = map(10..16);
        let s = call(&mut p, Time::ZERO, Time::from_secs(5), |p, cx| p.on_message(PeerId(7), Msg::Request(req), cx));
        let refusals: Vec<(bool, Vec<Seq>)> = s
            .iter()
            .filter_map(|(to, m)| match m {
                Msg::Refuse { chunks, busy } if to.0 == 7 => Some((*busy, chunks.iter().collect())),
                _ => None,
            })
            .collect();
        assert_eq!(refusals, vec![(false, vec![14, 15]), (true, vec![10, 11, 12, 13])], "{s:?}");
        assert!(!s.iter().any(|(_, m)| m.is_media()), "{s:?}");
        // An empty queue: the held chunks are served, the others refused.
        let s = msg(&mut p, 7, Msg::Request(req));
        assert_eq!(s.iter().filter(|(_, m)| m.is_media()).count(), 4, "{s:?}");
        // A request from a non-partner is refused whole.
        let s = msg(&mut p, 9, Msg::Request(req));
        assert!(
            s.iter()
                .any(|(to, m)| to.0 == 9 && matches!(m, Msg::Refuse { chunks, busy: false } if chunks.count() == 6))
        );
    }

    #[test]
    fn a_refused_request_is_asked_again_at_the_next_round_without_waiting_for_a_timeout() {
        let mut p = started(false);
        for id in [7, 8] {
            msg(&mut p, id, Msg::Hello { up_kbps: 1000 });
            msg(&mut p, id, Msg::BufferMap(map(20..40)));
        }
        let round = |p: &mut MeshPeer, at: Time| {
            call(p, at, Time::ZERO, |p, cx| p.on_timer(MeshPullTimer::Mesh(MeshTimer::Schedule), cx))
        };
        let first = requests(&round(&mut p, Time::ZERO));
        let (refuser, asked) = first.iter().max_by_key(|(_, s)| s.len()).cloned().expect("a request");
        assert!(!asked.is_empty(), "{first:?}");
        // Unanswered: the next round does not ask again (the requests are pending).
        assert!(requests(&round(&mut p, Time::from_millis(500))).is_empty());
        let refused = map(asked.iter().copied());
        call(&mut p, Time::from_millis(600), Time::ZERO, |p, cx| {
            p.on_message(PeerId(refuser), Msg::Refuse { chunks: refused, busy: true }, cx)
        });
        let again: Vec<Seq> =
            requests(&round(&mut p, Time::from_millis(1000))).into_iter().flat_map(|(_, s)| s).collect();
        assert!(asked.iter().all(|s| again.contains(s)), "{asked:?} refused, then asked {again:?}");
    }

    #[test]
    fn the_source_seeks_partners_itself() {
        let mut s = started(true);
        let peers: Vec<PeerId> = (10..30).map(PeerId).collect();
        let out = msg(&mut s, 0, Msg::PeerList { peers });
        let hellos = out.iter().filter(|(_, m)| matches!(m, Msg::Hello { .. })).count();
        assert_eq!(hellos, MeshParams::default().partners_max, "{out:?}");
        // With no member known it asks the tracker at its refresh.
        let mut s = started(true);
        let out = call(&mut s, Time::from_secs(10), Time::ZERO, |p, cx| {
            p.on_timer(MeshPullTimer::Mesh(MeshTimer::Refresh), cx)
        });
        assert!(out.iter().any(|(to, m)| to.0 == 0 && matches!(m, Msg::PeerListReq { .. })), "{out:?}");
    }

    #[test]
    fn a_peer_whose_partners_have_nothing_swaps_one_and_asks_the_tracker_again() {
        let mut p = started(false);
        for id in 7..11 {
            msg(&mut p, id, Msg::Hello { up_kbps: 1000 });
        }
        let refresh = |p: &mut MeshPeer, at: Time| {
            call(p, at, Time::ZERO, |p, cx| p.on_timer(MeshPullTimer::Mesh(MeshTimer::Refresh), cx))
        };
        let out = refresh(&mut p, Time::from_secs(3));
        assert!(out.iter().any(|(to, m)| to.0 == 0 && matches!(m, Msg::PeerListReq { .. })), "{out:?}");
        assert_eq!(out.iter().filter(|(_, m)| matches!(m, Msg::Bye)).count(), 1, "{out:?}");
        // Once a partner advertises chunks it is no longer stuck.
        for id in 7..10 {
            msg(&mut p, id, Msg::BufferMap(map(20..30)));
        }
        let out = refresh(&mut p, Time::from_secs(4));
        assert!(!out.iter().any(|(_, m)| matches!(m, Msg::Bye | Msg::PeerListReq { .. })), "{out:?}");
    }

    #[test]
    fn proportional_degree_scales_the_partner_count_with_upload() {
        let stream = cfg().stream;
        let fixed = MeshParams::default();
        let prop = MeshParams { degree: Degree::Proportional, ..MeshParams::default() };
        let limits = |m: &MeshParams, up: u32, src: bool| {
            let pm = PartnerMesh::<()>::new(crate::sched::default_spec().build(), src, up, PeerId(0))
                .with_degree(m, &stream);
            (pm.target(m), pm.max_partners(m))
        };
        // 2,000 kbps is 4 streams of 500 kbps: 4 x 4 partners sought, twice that accepted.
        assert_eq!(limits(&prop, 2000, false), (16, 32));
        assert_eq!(limits(&fixed, 2000, false), (4, 8));
        // Below the stream rate a peer still seeks the fixed degree; the source is unchanged.
        assert_eq!(limits(&prop, 100, false), (4, 8));
        assert_eq!(limits(&prop, 2000, true), (8, 8));
        assert_eq!(limits(&prop, u32::MAX, false), (256, 256));
        // A proportional peer accepts a ninth partner; a fixed one refuses it.
        for (m, accepts) in [(fixed, false), (prop, true)] {
            let c = Arc::new(MeshConfig { mesh: m, ..(*cfg()).clone() });
            let mut p = MeshPeer::new(c, false, 2000);
            call(&mut p, Time::ZERO, Time::ZERO, |p, cx| p.on_start(cx));
            for id in 10..18 {
                msg(&mut p, id, Msg::Hello { up_kbps: 1000 });
            }
            let out = msg(&mut p, 30, Msg::Hello { up_kbps: 1000 });
            assert!(
                out.iter().any(|(_, m)| matches!(m, Msg::HelloAck { accept, .. } if *accept == accepts)),
                "{out:?}"
            );
        }
    }

    #[test]
    fn with_have_on_arrivals_are_announced_and_a_have_makes_the_chunk_requestable() {
        let c = Arc::new(MeshConfig { mesh: MeshParams { have: true, ..MeshParams::default() }, ..(*cfg()).clone() });
        let mut p = MeshPeer::new(c, false, 2000);
        call(&mut p, Time::ZERO, Time::ZERO, |p, cx| p.on_start(cx));
        for id in [7, 8] {
            msg(&mut p, id, Msg::Hello { up_kbps: 1000 });
            msg(&mut p, id, Msg::BufferMap(map(20..40)));
        }
        // A new chunk from 7 is announced to 8 only; a duplicate is not.
        let out = msg(&mut p, 7, Msg::Chunk { seq: 20, len: 1000, polluted: false });
        let haves: Vec<(u32, Option<Have>)> = out
            .iter()
            .filter_map(|(to, m)| match m {
                Msg::Ext(e) => Some((to.0, Have::from_ext(e))),
                _ => None,
            })
            .collect();
        assert_eq!(haves, vec![(8, Some(Have { seq: 20 }))]);
        assert!(
            !msg(&mut p, 8, Msg::Chunk { seq: 20, len: 1000, polluted: false })
                .iter()
                .any(|(_, m)| matches!(m, Msg::Ext(_)))
        );
        // 8 announces 45, beyond its last map: the map slides and 45 can be asked of 8.
        msg(&mut p, 8, Msg::Ext(Have { seq: 45 }.to_ext()));
        assert!(p.mesh.partner(PeerId(8)).is_some_and(|q| q.map.contains(45) && q.map.contains(39)));
        // One from the future is dropped and recorded.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut out = Outbox::default();
        let mut cx = Ctx::new(T0, PeerId(5), &mut rng, Time::ZERO, &mut out);
        p.on_message(PeerId(8), Msg::Ext(Have { seq: Seq::MAX }.to_ext()), &mut cx);
        assert!(
            out.records.contains(&crate::peer::Record::Dropped {
                from: PeerId(8),
                reason: crate::peer::DropReason::FutureMap
            })
        );
        // Without `have` the same message is not the core's and changes nothing.
        let mut q = started(false);
        msg(&mut q, 8, Msg::Hello { up_kbps: 1000 });
        msg(&mut q, 8, Msg::Ext(Have { seq: 45 }.to_ext()));
        assert!(q.mesh.partner(PeerId(8)).is_some_and(|x| !x.map.contains(45)));
        assert_eq!(
            PartnerMesh::<()>::map_interval(&MeshParams { have: true, ..MeshParams::default() }),
            Time::from_millis(2500)
        );
    }

    #[test]
    fn a_map_slides_forward_to_take_a_newer_chunk_and_ignores_an_older_one() {
        use crate::meshcore::map_with;
        let m = map_with(ChunkMap::default(), 300, 120);
        assert_eq!((m.base(), m.len(), m.newest()), (181, 120, Some(300)));
        let m2 = map_with(m, 10, 120);
        assert_eq!(m2, m);
        let m3 = map_with(m, 350, 120);
        assert_eq!(m3.iter().collect::<Vec<_>>(), vec![300, 350]);
    }
}
