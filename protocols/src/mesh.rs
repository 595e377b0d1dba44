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
//! below `underperform_ratio` x the mean, or whatever it is when the player's
//! buffer is empty and no new chunk arrived since the last refresh
//! (starvation: the mesh may be cut off from the source), and new ones are sought from the mCache (or the tracker when
//! it is empty or the node starves).
//!
//! Departures from the paper: the membership gossip sends a random sample of
//! the mCache to one partner (DONet uses SCAM-style membership messages with
//! TTLs); a supplier drops requests that would wait behind more than
//! `max_upload_backlog` of queued upload (DONet leaves this unspecified);
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
//! | `max_upload_backlog` | 1 s | a supplier serves no request queued longer than this |
//! | `urgent_window` | 3 s | chunks due within this are scheduled before all others |
//! | `tracker_list_size` | 20 | members asked of the tracker |
//! | `tracker_refresh` | 30 s | re-registration period |

use std::sync::Arc;

use crate::ids::{PeerId, Seq};
use crate::media::{HasMedia, Media, MediaTimer};
use crate::meshcore::{MeshEnv, MeshTimer, PartnerMesh, PullPolicy};
use crate::peer::{Command, Ctx, Peer, StreamParams};
use crate::playback::PlayerParams;
use crate::prefetch::prefetch_slice;
use crate::sched::SchedulerSpec;
use crate::time::Time;
use crate::wire::{Msg, Role};

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

/// DONet's choices for the mesh core.
struct Donet<'a> {
    cfg: &'a MeshConfig,
}

impl PullPolicy<MeshPullTimer> for Donet<'_> {
    type Ext = ();
    fn new_ext(&self) {}
    fn ask_tracker(&mut self, _starving: bool, cx: &mut Ctx<'_, MeshPullTimer>) {
        cx.send(self.cfg.tracker, Msg::PeerListReq { want: self.cfg.mesh.tracker_list_size });
    }
    /// Start from the newest chunk a majority of partners hold (the lower
    /// median of their newest), not the best partner's: the lag then covers
    /// the delivery delay of a typical path through the mesh.
    fn before_schedule(
        &mut self,
        partners: &[crate::meshcore::Partner<()>],
        media: &mut Media,
        cx: &mut Ctx<'_, MeshPullTimer>,
    ) {
        if !media.player.is_idle() {
            return;
        }
        let mut heads: Vec<Seq> = partners.iter().filter_map(|p| p.map.newest()).collect();
        if heads.is_empty() {
            return;
        }
        heads.sort_unstable();
        media.choose_start(heads[(heads.len() - 1) / 2], cx);
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
        let mesh = PartnerMesh::new(cfg.scheduler.build(), is_source, up_kbps, cfg.tracker);
        let media = Media::new(cfg.player);
        MeshPeer { cfg, mesh, active: false, media }
    }

    /// Current partners, in the order they were added.
    pub fn partners(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.mesh.partners.iter().map(|p| p.id)
    }

    fn role(&self) -> Role {
        if self.mesh.is_source { Role::Source } else { Role::Peer }
    }

    fn on_chunk(&mut self, from: PeerId, seq: Seq, len: u32, polluted: bool, cx: &mut Ctx<'_, MeshPullTimer>) {
        if !Media::admit(seq, from, self.mesh.is_source, &self.cfg.stream, cx) {
            return;
        }
        let wire_bits = self.cfg.chunk_wire_bits();
        self.mesh.on_chunk(from, seq, len, wire_bits, cx.now);
        let a = self.media.arrival(seq, from, false, cx);
        if a.duplicate || a.late {
            return;
        }
        self.media.store(seq, polluted);
        self.media.check_startup(cx);
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
        prefetch_slice(&self.mesh.partners, 3);
        prefetch_slice(&self.mesh.pending, 2);
    }

    fn on_start(&mut self, cx: &mut Ctx<'_, MeshPullTimer>) {
        self.active = true;
        let cfg = self.cfg.clone();
        cx.send(cfg.tracker, Msg::Register { role: self.role(), up_kbps: self.mesh.up_kbps });
        cx.timer_in(cfg.mesh.tracker_refresh, MeshPullTimer::TrackerRefresh);
        self.mesh.start(&cfg.mesh, cx);
        if self.mesh.is_source {
            Media::start_source(&cfg.stream, cx);
        } else {
            cx.send(cfg.tracker, Msg::PeerListReq { want: cfg.mesh.tracker_list_size });
            self.mesh.start_schedule(&cfg.mesh, cx);
        }
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
            MeshPullTimer::TrackerRefresh => {
                cx.send(cfg.tracker, Msg::Register { role: self.role(), up_kbps: self.mesh.up_kbps });
                cx.timer_in(cfg.mesh.tracker_refresh, MeshPullTimer::TrackerRefresh);
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, MeshPullTimer>) {
        match cmd {
            Command::Leave { graceful } => {
                self.mesh.leave(graceful, cx);
                if graceful {
                    cx.send(self.cfg.tracker, Msg::Unregister);
                }
                self.active = false;
            }
        }
    }
}
