//! In-process swarms on loopback: every node is a `Host` on its own thread and
//! socket. Checks the stream arrives byte-exact, and that junk never panics.

use std::net::{SocketAddrV4, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread;

use net::media::generated_chunk;
use net::{Clock, Host, HostConfig, MediaSource, Role, Sinks};
use proptest::prelude::*;
use protocols::mesh::{MeshConfig, MeshParams, MeshPeer};
use protocols::playback::PlayerParams;
use protocols::tracker::Tracker;
use protocols::{Node, PeerId, Record, StreamParams, Time};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn stream() -> StreamParams {
    StreamParams { rate_bps: 64_000, chunk_duration: Time::from_millis(200) }
}

fn mesh_cfg() -> Arc<MeshConfig> {
    let mesh = MeshParams {
        partners: 3,
        partners_max: 6,
        buffer_map_interval: Time::from_millis(200),
        schedule_interval: Time::from_millis(100),
        request_timeout: Time::from_millis(500),
        urgent_window: Time::from_millis(600),
        ..MeshParams::default()
    };
    Arc::new(MeshConfig {
        stream: stream(),
        player: PlayerParams { startup_chunks: 5, startup_timeout: Time::from_secs(3), rebuffer_chunks: None },
        mesh,
        scheduler: protocols::sched::default_spec(),
        tracker: PeerId(0),
    })
}

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind loopback")
}

fn v4(s: &UdpSocket) -> SocketAddrV4 {
    match s.local_addr().expect("local addr") {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("not v4: {other}"),
    }
}

#[test]
fn in_process_swarm_plays_exact_bytes() {
    let seed = 99;
    let epoch = net::clock::unix_now_ns() + 200_000_000;
    let stop = Time::from_secs(5);
    let (ts, ss) = (bind(), bind());
    let (tracker, source) = (v4(&ts), v4(&ss));
    let mut cfg = HostConfig::new(Role::Tracker, tracker, stream(), 10_000_000);
    cfg.stop_at = stop;
    cfg.source = Some(source);
    cfg.media = MediaSource::Generated { seed };
    let term = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    {
        let (cfg, term) = (cfg.clone(), term.clone());
        handles.push(thread::spawn(move || {
            let node: Node<MeshPeer> = Node::Tracker(Tracker::new(Default::default()));
            let mut h = Host::new(cfg, node, ts, Sinks::default()).expect("host");
            h.run(&Clock::new(epoch), &term).expect("run");
            (Vec::new(), Vec::new())
        }));
    }
    {
        let mut cfg = HostConfig { role: Role::Source, up_bps: 1_000_000, ..cfg.clone() };
        cfg.seed = 2;
        let term = term.clone();
        handles.push(thread::spawn(move || {
            let node = Node::Member(MeshPeer::new(mesh_cfg(), true, 1000));
            let mut h = Host::new(cfg, node, ss, Sinks::default()).expect("host");
            h.run(&Clock::new(epoch), &term).expect("run");
            (Vec::new(), Vec::new())
        }));
    }
    for i in 0..4u64 {
        let mut cfg = HostConfig { role: Role::Peer, up_bps: 500_000, ..cfg.clone() };
        cfg.seed = 10 + i;
        cfg.delay = Time::from_millis(5);
        cfg.join_at = Time::from_millis(100 * i);
        let term = term.clone();
        handles.push(thread::spawn(move || {
            let out = Buf::default();
            let node = Node::Member(MeshPeer::new(mesh_cfg(), false, 500));
            let sinks = Sinks { records: None, output: Some(Box::new(out.clone())), keep: true };
            let mut h = Host::new(cfg, node, bind(), sinks).expect("host");
            h.run(&Clock::new(epoch), &term).expect("run");
            let bytes = out.0.lock().expect("lock").clone();
            (h.kept.clone(), bytes)
        }));
    }
    let results: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
    let len = stream().chunk_bytes() as usize;
    for (records, bytes) in &results[2..] {
        let played: Vec<u32> = records
            .iter()
            .filter_map(|(_, r)| match r {
                Record::Played { seq, polluted: false } => Some(*seq),
                _ => None,
            })
            .collect();
        assert!(played.len() >= 5, "a peer played only {} chunks: {records:?}", played.len());
        let expected: Vec<u8> = played.iter().flat_map(|&s| generated_chunk(seed, s, len)).collect();
        assert!(bytes == &expected, "played bytes differ from the source's");
    }
}

/// Cases per property: `PROPTEST_CASES` when set (`.ci/run`'s bounded fuzz
/// step runs more), else 64 (plain `cargo test`).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    /// Arbitrary datagrams into a live host's receive path: no panic, every
    /// datagram either stored as a fragment or counted as a drop.
    #[test]
    fn arbitrary_datagrams_are_dropped_and_counted(
        ds in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1400), 1..40),
        port in 1u16..,
    ) {
        let s = bind();
        let cfg = HostConfig::new(Role::Peer, "127.0.0.1:9".parse().unwrap(), stream(), 1_000_000);
        let node = Node::Member(MeshPeer::new(mesh_cfg(), false, 1000));
        let mut h = Host::new(cfg, node, s, Sinks::default()).unwrap();
        h.start(Time::ZERO);
        let from: std::net::SocketAddr = SocketAddrV4::new([127, 0, 0, 2].into(), port).into();
        for (k, d) in ds.iter().enumerate() {
            h.on_datagram(from, d.clone(), Time::from_millis(k as u64));
            h.tick(Time::from_millis(k as u64 + 1));
        }
        h.tick(Time::from_secs(10));
        prop_assert_eq!(h.stats.datagrams_in, ds.len() as u64);
    }
}

/// A chunk whose payload does not match the source's hash reaches the
/// protocol with `polluted` set; a matching one is verified.
#[test]
fn chunk_payloads_are_verified_against_the_source_hashes() {
    use net::media::{HostMsg, hash};
    let source: SocketAddrV4 = "127.0.0.1:9001".parse().unwrap();
    let mut cfg = HostConfig::new(Role::Peer, "127.0.0.1:9000".parse().unwrap(), stream(), 1_000_000);
    cfg.source = Some(source);
    let node = Node::Member(MeshPeer::new(mesh_cfg(), false, 1000));
    let mut h = Host::new(cfg, node, bind(), Sinks::default()).unwrap();
    h.start(Time::ZERO);
    let len = stream().chunk_bytes() as usize;
    let good = generated_chunk(5, 3, len);
    // The source's hash list for chunks 3 and 4.
    let mut list = Vec::new();
    HostMsg::HashList { first: 3, hashes: vec![hash(&good), hash(&generated_chunk(5, 4, len))] }.encode(&mut list);
    let mut ds = Vec::new();
    net::frame::fragment(1, &list, &mut ds);
    let mut t = 1;
    for d in ds {
        h.on_datagram(source.into(), d, Time::from_millis(t));
        t += 1;
    }
    // Chunk 3 intact, chunk 4 corrupted, from another peer.
    let peer: std::net::SocketAddr = "127.0.0.1:9002".parse().unwrap();
    feed_chunks(&mut h, peer, [(2, 3, good.clone()), (3, 4, vec![0u8; len])], &mut t);
    h.tick(Time::from_secs(1));
    assert_eq!((h.stats.chunks_verified, h.stats.chunks_polluted), (1, 1), "{:?}", h.stats);
}

/// Frames each `(message number, seq, payload)` as a chunk from `peer` into
/// `h`, one datagram per millisecond from `*t` ms on.
fn feed_chunks<const K: usize>(
    h: &mut Host<MeshPeer>,
    peer: std::net::SocketAddr,
    chunks: [(u32, u32, Vec<u8>); K],
    t: &mut u64,
) {
    use protocols::wire::{DenseIds, Msg};
    for (n, seq, payload) in chunks {
        let mut m = Vec::new();
        Msg::Chunk { seq, len: payload.len() as u32, polluted: false }.encode(&DenseIds, &mut m);
        m.extend_from_slice(&payload);
        let mut ds = Vec::new();
        net::frame::fragment(n, &m, &mut ds);
        for d in ds {
            h.on_datagram(peer, d, Time::from_millis(*t));
            *t += 1;
        }
    }
}

/// Frames `msg` (ids encoded by `ids`) as message `n` from `from` into `h` at `t` ms.
fn inject(h: &mut Host<MeshPeer>, ids: &net::addrs::AddrBook, from: SocketAddrV4, msg: &protocols::wire::Msg, n: u32) {
    let mut m = Vec::new();
    msg.encode(ids, &mut m);
    let mut ds = Vec::new();
    net::frame::fragment(n, &m, &mut ds);
    for d in ds {
        h.on_datagram(from.into(), d, Time::from_millis(n as u64));
    }
    h.tick(Time::from_millis(n as u64 + 1));
}

/// A member gossiping made-up addresses (issue 14) fills only its own quota
/// of the host's address book ([`net::addrs::PER_REPORTER`]); its later
/// member lists are refused and counted, and addresses named by the tracker
/// and datagrams from new nodes still get in.
#[test]
fn a_member_gossiping_made_up_addresses_cannot_fill_the_address_book() {
    use net::addrs::{AddrBook, PER_REPORTER};
    use protocols::wire::Msg;
    let tracker: SocketAddrV4 = "127.0.0.1:9100".parse().unwrap();
    let cfg = HostConfig::new(Role::Peer, tracker, stream(), 1_000_000);
    let node = Node::Member(MeshPeer::new(mesh_cfg(), false, 1000));
    let mut h = Host::new(cfg, node, bind(), Sinks::default()).unwrap();
    h.start(Time::ZERO);
    let before = h.book().len();
    // The sender's own book gives the made-up addresses ids to encode.
    let mut theirs = AddrBook::new(1 << 20);
    let liar: SocketAddrV4 = "127.0.0.1:9101".parse().unwrap();
    let mut n = 1;
    for k in 0..100u32 {
        let peers = (0..50)
            .map(|i| theirs.intern(SocketAddrV4::new([10, 9, (k >> 8) as u8, k as u8].into(), 1000 + i)).unwrap())
            .collect();
        inject(&mut h, &theirs, liar, &Msg::Gossip { peers }, n);
        n += 1;
    }
    let book = h.book();
    assert!(book.unverified_len() > 0, "some made-up addresses were taken (up to the quota)");
    assert!(book.unverified_len() <= PER_REPORTER as usize, "{} unverified", book.unverified_len());
    assert!(book.len() <= before + 1 + PER_REPORTER as usize, "5,000 made-up addresses: book of {}", book.len());
    assert!(h.stats.drop_unknown >= 90, "refused member lists are counted: {:?}", h.stats.rows());
    // The tracker's member list and a new node's datagram still get in.
    let real = SocketAddrV4::new([10, 1, 1, 1].into(), 7000);
    let list = Msg::PeerList { peers: vec![theirs.intern(real).unwrap()] };
    inject(&mut h, &theirs, tracker, &list, n);
    assert!(h.book().lookup(real).is_some(), "the tracker's member list is believed");
    let newcomer: SocketAddrV4 = "127.0.0.1:9102".parse().unwrap();
    inject(&mut h, &theirs, newcomer, &Msg::Hello { up_kbps: 100 }, n + 1);
    assert!(h.book().lookup(newcomer).is_some(), "a node that talks to the host gets in");
}

/// A tree message for a stripe no protocol has is dropped by the host before
/// its protocol sees it, recorded and counted (as the simulator's `Guarded`).
#[test]
fn bad_stripes_are_dropped_and_counted_by_the_host() {
    use protocols::wire::Msg;
    let cfg = HostConfig::new(Role::Peer, "127.0.0.1:9200".parse().unwrap(), stream(), 1_000_000);
    let node = Node::Member(MeshPeer::new(mesh_cfg(), false, 1000));
    let sinks = Sinks { records: None, output: None, keep: true };
    let mut h = Host::new(cfg, node, bind(), sinks).unwrap();
    h.start(Time::ZERO);
    let from: SocketAddrV4 = "127.0.0.1:9201".parse().unwrap();
    let ids = net::addrs::AddrBook::new(16);
    inject(&mut h, &ids, from, &Msg::Join { stripe: 200, up_kbps: 100 }, 1);
    inject(&mut h, &ids, from, &Msg::Detach { stripe: 3 }, 2);
    assert_eq!(h.stats.drop_protocol, 1, "{:?}", h.stats.rows());
    assert!(h.kept.iter().any(|(_, r)| matches!(r, Record::Dropped { reason: protocols::DropReason::BadStripe, .. })));
}

/// With `local_verify` a receiver checks payloads against the generated media
/// itself (as the simulator's in-band signature): an intact chunk is verified
/// and a corrupted one flagged polluted at once, with no hash request (no
/// subscription either). Without it the same chunks wait for hashes that the
/// receiver asks the source for.
#[test]
fn local_verification_needs_no_hash_channel() {
    let len = stream().chunk_bytes() as usize;
    for local in [false, true] {
        let mut cfg = HostConfig::new(Role::Peer, "127.0.0.1:9000".parse().unwrap(), stream(), 1_000_000);
        cfg.source = Some("127.0.0.1:9001".parse().unwrap());
        cfg.media = MediaSource::Generated { seed: 5 };
        cfg.local_verify = local;
        let node = Node::Member(MeshPeer::new(mesh_cfg(), false, 1000));
        let mut h = Host::new(cfg, node, bind(), Sinks::default()).unwrap();
        h.start(Time::ZERO);
        h.tick(Time::from_millis(1));
        // Chunk 3 intact, chunk 4 corrupted, from another peer.
        let peer: std::net::SocketAddr = "127.0.0.1:9002".parse().unwrap();
        let mut t = 2;
        feed_chunks(&mut h, peer, [(2, 3, generated_chunk(5, 3, len)), (3, 4, vec![0u8; len])], &mut t);
        h.tick(Time::from_secs(1));
        let s = &h.stats;
        if local {
            assert_eq!((s.chunks_verified, s.chunks_polluted, s.hash_requests), (1, 1, 0), "{s:?}");
        } else {
            assert_eq!((s.chunks_verified, s.chunks_polluted), (0, 0), "{s:?}");
            assert!(s.hash_requests > 0, "{s:?}");
        }
    }
}

/// With `trace` the records carry every protocol message but chunks, both
/// ways, and the protocol's neighbour changes (the diagnostics of
/// `SWARMLAB_TRACE=1`); without it, none of them.
#[test]
fn trace_records_protocol_messages_and_neighbours() {
    use protocols::wire::Msg;
    for trace in [false, true] {
        let tracker: SocketAddrV4 = "127.0.0.1:9300".parse().unwrap();
        let mut cfg = HostConfig::new(Role::Peer, tracker, stream(), 1_000_000);
        cfg.trace = trace;
        let node = Node::Member(MeshPeer::new(mesh_cfg(), false, 1000));
        let out = Buf::default();
        let sinks = Sinks { records: Some(Box::new(out.clone())), output: None, keep: false };
        let mut h = Host::new(cfg, node, bind(), sinks).unwrap();
        h.start(Time::ZERO);
        let ids = net::addrs::AddrBook::new(16);
        inject(&mut h, &ids, "127.0.0.1:9301".parse().unwrap(), &Msg::Hello { up_kbps: 100 }, 1);
        h.flush(Time::from_millis(5));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let has = |s: &str| text.lines().any(|l| l.contains(s));
        assert_eq!(has(",msg_out,0,Register {"), trace, "{text}");
        assert_eq!(has(",msg_in,"), trace, "{text}");
        assert_eq!(has(",neighbour_added,"), trace, "{text}");
        assert!(text.lines().filter(|l| l.contains(",msg_")).all(|l| l.split(',').count() == 6), "{text}");
    }
}
