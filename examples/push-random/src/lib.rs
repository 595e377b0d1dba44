//! push-random: a protocol family written outside swarmlab's crates, in this
//! one file, to show what extending swarmlab takes (docs/extending.md).
//!
//! Algorithm (epidemic push, no pulls, no buffer maps):
//! - every node registers with the tracker and asks it for `members` live
//!   members, again every `refresh_s`; a peer it receives a chunk from
//!   joins its list too;
//! - the source pushes each chunk it emits to `source_fanout` random members;
//! - a peer that receives a chunk it did not have stores it and pushes it to
//!   `fanout` random members other than the sender, unless its upload queue
//!   is already longer than `max_upload_backlog_s` (it does not know who
//!   holds the chunk, so some pushes are duplicates: they are counted);
//! - playback is the shared player ([`protocols::media::Media`]): the first
//!   chunk received fixes the start position, and a peer that receives
//!   nothing for `live_start_after_s` starts at the live point;
//! - leaving gracefully unregisters from the tracker; nothing else is said.

use std::sync::Arc;

use protocols::media::{Media, MediaTimer};
use protocols::params::{Count, ParamCtx, ParamError, Params, Secs};
use protocols::wire::{Msg, Role};
use protocols::{Command, Ctx, Peer, PeerId, Seq, StreamParams};
use rand::RngExt;
use sim::engine::Protocol;
use sim::registry::Family;
use sim::scenario::Scenario;

protocols::params_section! {
    /// Push-to-random-peers parameters (an example family, see
    /// `examples/push-random/src/lib.rs` and docs/extending.md).
    #[section = "push-random"]
    pub struct PushRandomSection {
        /// random members a peer pushes each new chunk to
        pub fanout: Count<1, 16> = Count(2), unit "peers";
        /// random members the source pushes each chunk to
        pub source_fanout: Count<1, 64> = Count(4), unit "peers";
        /// members asked of the tracker, and most members a node keeps
        pub members: Count<2, 64> = Count(20), unit "members";
        /// period of re-registration and member refresh with the tracker
        pub refresh_s: Secs = Secs(10.0), unit "s";
        /// a node does not forward a chunk while its upload queue is longer than this
        pub max_upload_backlog_s: Secs = Secs(2.0), unit "s";
        /// a peer that has received nothing this long after joining starts its player at the live point
        pub live_start_after_s: Secs = Secs(15.0), unit "s";
    }
}

impl Params for PushRandomSection {
    fn validate(&self, _ctx: &ParamCtx) -> Result<(), ParamError> {
        if self.fanout.0 >= self.members.0 {
            return Err(ParamError {
                key: "fanout",
                message: format!("fanout ({}) must be below members ({})", self.fanout.0, self.members.0),
            });
        }
        Ok(())
    }
}

/// Everything a node needs, shared by all nodes of a run.
#[derive(Clone, Debug)]
pub struct PushConfig {
    pub stream: StreamParams,
    pub player: protocols::playback::PlayerParams,
    pub params: PushRandomSection,
    pub tracker: PeerId,
}

/// Timers of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushTimer {
    Media(MediaTimer),
    /// Re-register and refresh the member list.
    Refresh,
    /// Start at the live point if nothing arrived.
    LiveStart,
}

impl From<MediaTimer> for PushTimer {
    fn from(t: MediaTimer) -> Self {
        PushTimer::Media(t)
    }
}

/// A push-random node (the source or a peer).
pub struct PushPeer {
    cfg: Arc<PushConfig>,
    is_source: bool,
    up_kbps: u32,
    active: bool,
    media: Media,
    members: Vec<PeerId>,
}

impl PushPeer {
    pub fn new(cfg: Arc<PushConfig>, is_source: bool, up_kbps: u32) -> PushPeer {
        let media = Media::new(cfg.player);
        PushPeer { cfg, is_source, up_kbps, active: false, media, members: Vec::new() }
    }

    fn register(&self, cx: &mut Ctx<'_, PushTimer>) {
        let role = if self.is_source { Role::Source } else { Role::Peer };
        cx.send(self.cfg.tracker, Msg::Register { role, up_kbps: self.up_kbps });
        cx.send(self.cfg.tracker, Msg::PeerListReq { want: self.cfg.params.members.0 as u16 });
    }

    fn remember(&mut self, id: PeerId, me: PeerId) {
        if id != me && id != self.cfg.tracker && !self.members.contains(&id) {
            if self.members.len() >= self.cfg.params.members.0 as usize {
                self.members.remove(0);
            }
            self.members.push(id);
        }
    }

    /// Pushes `seq` to `n` distinct random members other than `except`.
    fn push(&mut self, seq: Seq, polluted: bool, n: u32, except: Option<PeerId>, cx: &mut Ctx<'_, PushTimer>) {
        if cx.upload_backlog > self.cfg.params.max_upload_backlog_s.time() {
            return;
        }
        let mut pool: Vec<PeerId> = self.members.iter().copied().filter(|p| Some(*p) != except).collect();
        let len = self.cfg.stream.chunk_bytes();
        for _ in 0..n {
            if pool.is_empty() {
                break;
            }
            let to = pool.swap_remove(cx.rng.random_range(0..pool.len()));
            cx.send(to, Msg::Chunk { seq, len, polluted });
        }
    }
}

impl Peer for PushPeer {
    type Timer = PushTimer;

    fn on_start(&mut self, cx: &mut Ctx<'_, PushTimer>) {
        self.active = true;
        self.register(cx);
        cx.timer_in(self.cfg.params.refresh_s.time(), PushTimer::Refresh);
        if self.is_source {
            Media::start_source(&self.cfg.stream, cx);
        } else {
            cx.timer_in(self.cfg.params.live_start_after_s.time(), PushTimer::LiveStart);
        }
    }

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, PushTimer>) {
        if !self.active {
            return;
        }
        match msg {
            Msg::PeerList { peers } => {
                for p in peers {
                    self.remember(p, cx.me);
                }
            }
            Msg::Chunk { seq, polluted, .. } if !self.is_source => {
                self.remember(from, cx.me);
                let arrival = self.media.arrival(seq, from, true, cx);
                if arrival.duplicate {
                    return;
                }
                self.media.store(seq, polluted);
                if self.media.player.is_idle() {
                    let startup = self.cfg.player.startup_chunks.max(1);
                    self.media.choose_start(seq + startup - 1, cx);
                }
                self.media.check_startup(cx);
                self.push(seq, polluted, self.cfg.params.fanout.0, Some(from), cx);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, timer: PushTimer, cx: &mut Ctx<'_, PushTimer>) {
        if !self.active {
            return;
        }
        match timer {
            PushTimer::Media(t) => {
                if let Some(seq) = self.media.on_timer(t, &self.cfg.stream, cx) {
                    self.push(seq, false, self.cfg.params.source_fanout.0, None, cx);
                }
            }
            PushTimer::Refresh => {
                self.register(cx);
                cx.timer_in(self.cfg.params.refresh_s.time(), PushTimer::Refresh);
            }
            PushTimer::LiveStart => {
                if self.media.player.is_idle() {
                    self.media.live_start(&self.cfg.stream, cx);
                }
            }
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, PushTimer>) {
        let Command::Leave { graceful } = cmd;
        if graceful {
            cx.send(self.cfg.tracker, Msg::Unregister);
        }
        self.active = false;
    }
}

/// The family: engine protocol and registry entry.
pub struct PushRandom {
    cfg: Arc<PushConfig>,
}

impl Protocol for PushRandom {
    type Peer = PushPeer;
    fn name(&self) -> String {
        "push-random".into()
    }
    fn source(&self, _id: PeerId, up_kbps: u32) -> PushPeer {
        PushPeer::new(self.cfg.clone(), true, up_kbps)
    }
    fn peer(&self, _id: PeerId, up_kbps: u32) -> PushPeer {
        PushPeer::new(self.cfg.clone(), false, up_kbps)
    }
}

impl Family for PushRandom {
    const NAME: &'static str = "push-random";
    const ABOUT: &'static str = "each new chunk pushed to random members (an out-of-tree example)";
    const SECTIONS: &'static [&'static str] = &["push-random"];
    type Proto = PushRandom;
    fn build(sc: &Scenario) -> PushRandom {
        let cfg = PushConfig {
            stream: sim::runner::stream_params(sc),
            player: sim::runner::player_params(sc),
            params: sc.protocol.section::<PushRandomSection>(),
            tracker: PeerId(0),
        };
        PushRandom { cfg: Arc::new(cfg) }
    }
    fn label(sc: &Scenario) -> String {
        format!("push-random/f={}", sc.protocol.section::<PushRandomSection>().fanout.0)
    }
}

/// swarmlab's built-ins plus push-random: its section and its family.
pub fn registry() -> swarmlab::Registry {
    swarmlab::Registry::builtins().section::<PushRandomSection>().family::<PushRandom>()
}
