//! Fuzzing of the receive path of every role (tracker, source, peer) of every
//! protocol family with well-formed messages carrying hostile values
//! (sequence numbers up to `Seq::MAX`, buffer maps far beyond the live point,
//! stripe numbers past the last stripe, made-up member ids, extreme
//! capacities, family envelopes), interleaved with the node's own timers.
//!
//! Checked: no panic (debug build: also no arithmetic overflow); no chunk
//! from the future is ever stored; a source keeps holding every chunk it
//! emits afterwards; a chunk numbered `Seq::MAX` sent to a source or a peer
//! is dropped and recorded as such.
//!
//! `from` is always a plausible dense id: drivers assign sender ids (the
//! simulator's node numbers, the UDP host's bounded address book), so a
//! protocol may index by them; every id *inside* a message is arbitrary.

use std::sync::Arc;

use proptest::prelude::*;
use protocols::ExtCodec;
use protocols::assist::{AssistConfig, AssistParams, AssistPeer, AssistRole};
use protocols::cdn::{CdnConfig, CdnPeer};
use protocols::hybrid::{HybridConfig, HybridMode, HybridParams, HybridPeer};
use protocols::media::{HasMedia, MAX_CLOCK_SKEW, Media};
use protocols::mesh::{MeshConfig, MeshParams, MeshPeer};
use protocols::playback::PlayerParams;
use protocols::push::{PushConfig, PushParams, PushPeer};
use protocols::tracker::{Tracker, TrackerParams};
use protocols::tree::{TreeConfig, TreeParams, TreePeer};
use protocols::wire::{ExtMsg, Role};
use protocols::{ChunkMap, Ctx, DropReason, Msg, Outbox, Peer, PeerId, Record, Seq, StreamParams, Time};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const STREAM: StreamParams = StreamParams { rate_bps: 400_000, chunk_duration: Time::from_secs(1) };
const PLAYER: PlayerParams =
    PlayerParams { startup_chunks: 4, startup_timeout: Time::from_secs(10), rebuffer_chunks: None };

/// Drives one node: its timers in time order, messages in between.
struct Driver<P: Peer> {
    node: P,
    me: PeerId,
    now: Time,
    rng: ChaCha8Rng,
    timers: Vec<(Time, u64, P::Timer)>,
    armed: u64,
    records: Vec<Record>,
}

impl<P: Peer> Driver<P> {
    fn start(node: P, me: u32) -> Self {
        let mut d = Driver {
            node,
            me: PeerId(me),
            now: Time::ZERO,
            rng: ChaCha8Rng::seed_from_u64(me as u64),
            timers: Vec::new(),
            armed: 0,
            records: Vec::new(),
        };
        d.call(|p, cx| p.on_start(cx));
        d
    }
    fn call(&mut self, f: impl FnOnce(&mut P, &mut Ctx<'_, P::Timer>)) {
        let mut out = Outbox::default();
        {
            let mut cx = Ctx::new(self.now, self.me, &mut self.rng, Time::ZERO, &mut out);
            f(&mut self.node, &mut cx);
        }
        for (at, t) in out.timers {
            self.armed += 1;
            self.timers.push((at.max(self.now), self.armed, t));
        }
        self.records.extend(out.records);
    }
    /// Runs every timer due by `until`, then sets the clock there.
    fn advance(&mut self, until: Time) {
        loop {
            let next = self.timers.iter().enumerate().filter(|(_, t)| t.0 <= until).min_by_key(|(_, t)| (t.0, t.1));
            let Some((i, _)) = next else { break };
            let (at, _, t) = self.timers.swap_remove(i);
            self.now = self.now.max(at);
            self.call(|p, cx| p.on_timer(t, cx));
        }
        self.now = self.now.max(until);
    }
    fn deliver(&mut self, from: u32, msg: Msg) {
        self.call(|p, cx| p.on_message(PeerId(from), msg, cx));
    }
}

/// Sequence numbers an attacker would pick: around zero, around the live
/// point, just beyond it, far beyond, at the top of the range.
fn hostile_seq() -> impl Strategy<Value = Seq> {
    prop_oneof![0u32..8, 0u32..200, 200u32..400, Just(Seq::MAX), (0u32..600).prop_map(|k| Seq::MAX - k), any::<u32>(),]
}

fn hostile_map() -> impl Strategy<Value = ChunkMap> {
    (hostile_seq(), 0u16..=256, any::<[u64; 4]>()).prop_map(|(b, l, w)| ChunkMap::from_words(b, l, w))
}

fn ids() -> impl Strategy<Value = Vec<PeerId>> {
    proptest::collection::vec(
        prop_oneof![0u32..12, Just(u32::MAX), any::<u32>()].prop_map(PeerId),
        0..=protocols::wire::MAX_PEERS_PER_MSG,
    )
}

fn hostile_msg() -> impl Strategy<Value = Msg> {
    let kbps = prop_oneof![Just(0u32), Just(u32::MAX), 1u32..10_000];
    prop_oneof![
        (any::<bool>(), kbps.clone())
            .prop_map(|(s, up_kbps)| Msg::Register { role: if s { Role::Source } else { Role::Peer }, up_kbps }),
        Just(Msg::Unregister),
        any::<u16>().prop_map(|want| Msg::PeerListReq { want }),
        ids().prop_map(|peers| Msg::PeerList { peers }),
        ids().prop_map(|peers| Msg::Gossip { peers }),
        kbps.clone().prop_map(|up_kbps| Msg::Hello { up_kbps }),
        (any::<bool>(), kbps.clone()).prop_map(|(accept, up_kbps)| Msg::HelloAck { accept, up_kbps }),
        Just(Msg::Bye),
        hostile_map().prop_map(Msg::BufferMap),
        hostile_map().prop_map(Msg::Request),
        (hostile_map(), any::<bool>()).prop_map(|(chunks, busy)| Msg::Refuse { chunks, busy }),
        (hostile_seq(), prop_oneof![Just(0u32), 1u32..60_000, Just(16 << 20)], any::<bool>())
            .prop_map(|(seq, len, polluted)| Msg::Chunk { seq, len, polluted }),
        (any::<u8>(), kbps).prop_map(|(stripe, up_kbps)| Msg::Join { stripe, up_kbps }),
        (any::<u8>(), any::<bool>(), ids()).prop_map(|(stripe, accept, path)| Msg::JoinAck { stripe, accept, path }),
        any::<u8>().prop_map(|stripe| Msg::Detach { stripe }),
        (any::<u8>(), ids()).prop_map(|(stripe, path)| Msg::Heartbeat { stripe, path }),
        (any::<u8>(), ids(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(kind, peers, data)| Msg::Ext(ExtMsg { kind, peers, data })),
        // random-push's own message, with hostile chunk numbers.
        hostile_seq().prop_map(|seq| Msg::Ext(protocols::meshcore::Have { seq }.to_ext())),
    ]
}

/// One step: a message from a plausible sender, or time passing.
#[derive(Clone, Debug)]
enum Step {
    Msg(u32, Msg),
    Wait(u64),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            4 => (0u32..12, hostile_msg()).prop_map(|(f, m)| Step::Msg(f, m)),
            1 => (1u64..3_000).prop_map(Step::Wait),
        ],
        1..120,
    )
}

/// Every family, as source (`true`) or peer, behind one constructor.
/// Builds a started node of one family, as the source (`true`) or a peer.
type Make = Box<dyn Fn(bool) -> Box<dyn Fuzzed>>;

fn families() -> Vec<(&'static str, Make)> {
    let mesh_with = |have| {
        Arc::new(MeshConfig {
            stream: STREAM,
            player: PLAYER,
            mesh: MeshParams { have, ..MeshParams::default() },
            scheduler: protocols::sched::default_spec(),
            tracker: PeerId(0),
        })
    };
    let (mesh, mesh_have) = (mesh_with(false), mesh_with(true));
    let tree = |stripes| {
        Arc::new(TreeConfig {
            stream: STREAM,
            player: PLAYER,
            tree: TreeParams { stripes, ..TreeParams::default() },
            tracker: PeerId(0),
        })
    };
    let (tree1, tree4) = (tree(1), tree(4));
    let hybrid = |mode| {
        Arc::new(HybridConfig {
            stream: STREAM,
            player: PLAYER,
            mesh: MeshParams::default(),
            tree: TreeParams::default(),
            hybrid: HybridParams { mode, ..HybridParams::default() },
            scheduler: protocols::sched::default_spec(),
            tracker: PeerId(0),
            expected_session: Time::from_secs(30),
        })
    };
    let (treebone, pullpush) = (hybrid(HybridMode::Treebone), hybrid(HybridMode::PullPush));
    let cdn = Arc::new(CdnConfig::new(STREAM, PLAYER, PeerId(0), PeerId(1)));
    let push = |have| {
        Arc::new(PushConfig {
            stream: STREAM,
            player: PLAYER,
            mesh: MeshParams::default(),
            push: PushParams { have, ..PushParams::default() },
            scheduler: protocols::sched::default_spec(),
            tracker: PeerId(0),
        })
    };
    let (push_have, push_maps) = (push(true), push(false));
    let assist = Arc::new(AssistConfig {
        mesh: (*mesh_with(false)).clone(),
        assist: AssistParams::default(),
        source: PeerId(1),
        edge: PeerId(2),
    });
    let assist_role = |s| if s { AssistRole::Source } else { AssistRole::Peer };
    vec![
        ("mesh-pull", Box::new(move |s| Box::new(Driver::start(MeshPeer::new(mesh.clone(), s, 2_000), me(s))))),
        (
            "mesh-pull/have",
            Box::new(move |s| Box::new(Driver::start(MeshPeer::new(mesh_have.clone(), s, 2_000), me(s)))),
        ),
        ("tree-push", Box::new(move |s| Box::new(Driver::start(TreePeer::new(tree1.clone(), s, 2_000), me(s))))),
        ("tree-push/k=4", Box::new(move |s| Box::new(Driver::start(TreePeer::new(tree4.clone(), s, 2_000), me(s))))),
        (
            "hybrid/treebone",
            Box::new(move |s| Box::new(Driver::start(HybridPeer::new(treebone.clone(), s, 2_000), me(s)))),
        ),
        (
            "hybrid/pull-push",
            Box::new(move |s| Box::new(Driver::start(HybridPeer::new(pullpush.clone(), s, 2_000), me(s)))),
        ),
        ("client-server", Box::new(move |s| Box::new(Driver::start(CdnPeer::new(cdn.clone(), s, 2_000), me(s))))),
        ("random-push", Box::new(move |s| Box::new(Driver::start(PushPeer::new(push_have.clone(), s, 2_000), me(s))))),
        (
            "random-push/maps-only",
            Box::new(move |s| Box::new(Driver::start(PushPeer::new(push_maps.clone(), s, 2_000), me(s)))),
        ),
        (
            "cdn-p2p",
            Box::new(move |s| Box::new(Driver::start(AssistPeer::new(assist.clone(), assist_role(s), 2_000), me(s)))),
        ),
    ]
}

fn me(source: bool) -> u32 {
    if source { 1 } else { 5 }
}

/// What the checks need of a driven node, whatever its type.
trait Fuzzed {
    fn step(&mut self, s: &Step);
    fn advance(&mut self, until: Time);
    fn now(&self) -> Time;
    fn media(&self) -> &Media;
    fn records(&self) -> &[Record];
}

impl<P: Peer + HasMedia> Fuzzed for Driver<P> {
    fn step(&mut self, s: &Step) {
        match s {
            Step::Msg(from, m) => self.deliver(*from, m.clone()),
            Step::Wait(ms) => {
                let until = self.now + Time::from_millis(*ms);
                self.advance(until);
            }
        }
    }
    fn advance(&mut self, until: Time) {
        Driver::advance(self, until)
    }
    fn now(&self) -> Time {
        self.now
    }
    fn media(&self) -> &Media {
        self.node.media()
    }
    fn records(&self) -> &[Record] {
        &self.records
    }
}

/// No chunk beyond the live point (plus the skew allowance) is ever held.
fn no_future_chunk(name: &str, n: &dyn Fuzzed) -> Result<(), TestCaseError> {
    if let Some(newest) = n.media().newest {
        prop_assert!(
            Media::plausible(newest, &STREAM, n.now()),
            "{}: holds chunk {} at {:?} (live point {})",
            name,
            newest,
            n.now(),
            STREAM.newest_at(n.now())
        );
    }
    Ok(())
}

/// Cases per property: `PROPTEST_CASES` when set (`.ci/run`'s bounded fuzz
/// step runs more), else 64 (plain `cargo test`).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// A source fed hostile messages keeps emitting and holding every chunk.
    #[test]
    fn sources_keep_streaming(steps in steps()) {
        for (name, make) in families() {
            let mut n = make(true);
            n.advance(Time::from_secs(3));
            for s in &steps {
                n.step(s);
                no_future_chunk(name, n.as_ref())?;
            }
            let end = n.now() + Time::from_secs(20);
            n.advance(end);
            let live = STREAM.newest_at(end);
            for seq in live - 15..=live {
                prop_assert!(n.media().have.contains(seq), "{}: source lost chunk {} (live {})", name, seq, live);
            }
        }
    }

    /// A peer fed hostile messages never stores a chunk from the future and
    /// never panics.
    #[test]
    fn peers_store_nothing_from_the_future(steps in steps()) {
        for (name, make) in families() {
            let mut n = make(false);
            for s in &steps {
                n.step(s);
                no_future_chunk(name, n.as_ref())?;
            }
        }
    }

    /// The tracker answers whatever it is sent.
    #[test]
    fn the_tracker_survives(steps in steps()) {
        let mut t = Driver::start(Tracker::new(TrackerParams::default()), 0);
        for s in &steps {
            match s {
                Step::Msg(from, m) => t.deliver(*from, m.clone()),
                Step::Wait(ms) => {
                    let until = t.now + Time::from_millis(*ms);
                    t.advance(until);
                }
            }
        }
        t.deliver(3, Msg::PeerListReq { want: 10 });
    }
}

/// The exact datagram of the issue: `Chunk { seq: Seq::MAX }` to a source, and
/// to a peer, is dropped, recorded with its reason, and changes nothing.
#[test]
fn a_chunk_numbered_seq_max_is_dropped_everywhere() {
    for (name, make) in families() {
        for source in [true, false] {
            let mut n = make(source);
            n.advance(Time::from_secs(5));
            let before = n.media().newest;
            // To a peer it comes from the source (client-server peers hear nobody else).
            let from = if source { 7 } else { 1 };
            n.step(&Step::Msg(from, Msg::Chunk { seq: Seq::MAX, len: 50_000, polluted: false }));
            assert_eq!(n.media().newest, before, "{name} (source: {source}) stored it");
            let want = if source { DropReason::ChunkToSource } else { DropReason::FutureChunk };
            assert!(
                n.records().contains(&Record::Dropped { from: PeerId(from), reason: want }),
                "{name} (source: {source}): no {want:?} record"
            );
            if source {
                n.advance(Time::from_secs(30));
                let live = STREAM.newest_at(Time::from_secs(30));
                assert!(
                    (live - 20..=live).all(|s| n.media().have.contains(s)),
                    "{name}: source stopped holding chunks"
                );
            }
        }
    }
}

/// The allowance: a chunk just inside the skew window is taken, one beyond
/// it is not.
#[test]
fn plausibility_is_the_schedule_plus_the_skew_allowance() {
    let now = Time::from_secs(100);
    let live = STREAM.newest_at(now);
    let skew = (MAX_CLOCK_SKEW.as_nanos() / STREAM.chunk_duration.as_nanos()) as Seq;
    assert!(Media::plausible(live, &STREAM, now));
    assert!(Media::plausible(live + skew, &STREAM, now));
    assert!(!Media::plausible(live + skew + 1, &STREAM, now));
    assert!(!Media::plausible(Seq::MAX, &STREAM, now));
}
