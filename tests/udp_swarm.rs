//! Real swarm on loopback: `swarmlab peer` processes (a tracker, a source and
//! 12 peers) stream a short 64 kbps / 200 ms-chunk stream over UDP. Checks:
//! - every surviving peer played the stream, and the bytes it wrote for the
//!   chunks it played are exactly the source's (generated from the media seed);
//! - one peer, flooded with junk datagrams from another socket, keeps playing
//!   and counts the junk as dropped;
//! - the source, sent a chunk numbered u32::MAX and a buffer map of the far
//!   future, and the tracker, sent registrations and greedy member requests,
//!   both also flooded with junk, keep the stream flowing (the source counts
//!   the hostile messages as protocol-level drops);
//! - one peer SIGKILLed mid-stream does not stop the others;
//! - one peer sent SIGTERM mid-stream leaves gracefully (logs `leave` with
//!   graceful = 1 and its final counters).

use std::net::UdpSocket;

use protocols::Msg;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_swarmlab");
const PEERS: usize = 12;
const DURATION_S: f64 = 8.0;
const MEDIA_SEED: u64 = 4242;

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("free port")
}

fn spawn(args: &[String]) -> Child {
    Command::new(BIN).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn swarmlab peer")
}

struct Played {
    seqs: Vec<u32>,
    polluted: usize,
    stats: Vec<(String, u64)>,
}

fn read_records(p: &Path) -> Played {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let mut out = Played { seqs: Vec::new(), polluted: 0, stats: Vec::new() };
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        match f.get(1).copied() {
            Some("played") => {
                out.seqs.push(f[2].parse().expect("seq"));
                out.polluted += (f[3] == "1") as usize;
            }
            Some("stat") => out.stats.push((f[2].to_string(), f[3].parse().expect("stat value"))),
            _ => {}
        }
    }
    out
}

#[test]
fn real_peers_stream_exact_bytes_despite_junk_and_a_crash() {
    let dir = std::env::temp_dir().join(format!("swarmlab-udp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/udp-mini.toml");
    let epoch = net::clock::unix_now_ns() as f64 / 1e9 + 1.0;
    let (tp, sp, victim_port) = (free_port(), free_port(), free_port());
    let tracker = format!("127.0.0.1:{tp}");
    let source = format!("127.0.0.1:{sp}");
    let common = |role: &str, bind: String, rec: &Path| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "peer".into(),
            "--role".into(),
            role.into(),
            "--bind".into(),
            bind,
            "--tracker".into(),
            tracker.clone(),
            "--source".into(),
            source.clone(),
            "--scenario".into(),
            scenario.display().to_string(),
            "--epoch".into(),
            format!("{epoch:.6}"),
            "--duration".into(),
            DURATION_S.to_string(),
            "--records".into(),
            rec.display().to_string(),
        ];
        v.extend(["--media-seed".into(), MEDIA_SEED.to_string()]);
        v
    };
    let mut children = vec![
        spawn(&common("tracker", tracker.clone(), &dir.join("tracker.csv"))),
        spawn(
            &[common("source", source.clone(), &dir.join("source.csv")), vec!["--up-kbps".into(), "2000".into()]]
                .concat(),
        ),
    ];
    for i in 0..PEERS {
        let bind = if i == 0 { format!("127.0.0.1:{victim_port}") } else { "127.0.0.1:0".into() };
        let mut a = common("peer", bind, &dir.join(format!("peer{i}.csv")));
        a.extend([
            "--output".into(),
            dir.join(format!("peer{i}.bin")).display().to_string(),
            "--seed".into(),
            (100 + i).to_string(),
            "--delay-ms".into(),
            "10".into(),
            "--up-kbps".into(),
            "400".into(),
            "--join-at".into(),
            format!("{:.2}", i as f64 * 0.05),
        ]);
        children.push(spawn(&a));
    }
    // Junk at peer 0 for three seconds: random sizes and bytes, bad fragment
    // headers, undecodable messages, spoofed hash lists.
    let junk = UdpSocket::bind("127.0.0.1:0").expect("junk socket");
    std::thread::sleep(Duration::from_millis(1500));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Well-formed hostile messages (from a socket of their own, so that the
    // junk's blacklisting does not hide them): a chunk numbered u32::MAX and a
    // buffer map of the far future at the source, registrations and greedy
    // member requests at the tracker.
    let hostile = UdpSocket::bind("127.0.0.1:0").expect("hostile socket");
    let frames = |msg_no: u32, m: Msg| {
        let mut bytes = Vec::new();
        m.encode(&protocols::wire::DenseIds, &mut bytes);
        if let Msg::Chunk { len, .. } = m {
            bytes.resize(bytes.len() + len as usize, 0x5A);
        }
        let mut out = Vec::new();
        net::frame::fragment(msg_no, &bytes, &mut out);
        out
    };
    let mut future = protocols::ChunkMap::new(u32::MAX - 100, 120);
    future.insert(u32::MAX - 1);
    let at_source = [Msg::Chunk { seq: u32::MAX, len: 16, polluted: false }, Msg::BufferMap(future)];
    let at_tracker =
        [Msg::Register { role: protocols::wire::Role::Source, up_kbps: u32::MAX }, Msg::PeerListReq { want: u16::MAX }];
    for k in 0..20u32 {
        for d in frames(2 * k, at_source[k as usize % 2].clone()) {
            let _ = hostile.send_to(&d, ("127.0.0.1", sp));
        }
        for d in frames(2 * k + 1, at_tracker[k as usize % 2].clone()) {
            let _ = hostile.send_to(&d, ("127.0.0.1", tp));
        }
    }
    for k in 0..1500u32 {
        let len = (next() % 1500) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if k % 3 == 0 && d.len() > 9 {
            // A plausible frame header: one fragment of a message with an unknown tag.
            d[..8].copy_from_slice(&[k as u8, 0, 0, 0, 0, 0, 1, 0]);
        }
        if k % 5 == 0 {
            d = vec![1, 0, 0, 0, 0, 0, 1, 0, 0xE1, 0, 0, 0, 0, 1, 0];
            d.extend([7u8; 32]);
        }
        let _ = junk.send_to(&d, ("127.0.0.1", victim_port));
        // The source and the tracker get their share of the junk too.
        if k % 3 == 0 {
            let _ = junk.send_to(&d, ("127.0.0.1", [sp, tp][(k / 3) as usize % 2]));
        }
        if k % 100 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Crash peer 11 mid-stream (Child::kill is SIGKILL on Unix); peer 10 leaves gracefully.
    std::thread::sleep(Duration::from_millis(1500));
    let _ = children[2 + PEERS - 1].kill();
    let graceful = children[2 + PEERS - 2].id();
    let _ = Command::new("kill").args(["-TERM", &graceful.to_string()]).status();
    for c in &mut children {
        let _ = c.wait();
    }
    let len = 64_000 / 8 / 5; // 64 kbps x 0.2 s
    for i in 0..PEERS - 1 {
        let p = read_records(&dir.join(format!("peer{i}.csv")));
        if i == PEERS - 2 {
            let text = std::fs::read_to_string(dir.join(format!("peer{i}.csv"))).unwrap_or_default();
            assert!(text.lines().any(|l| l.contains(",leave,1,")), "no graceful leave logged:\n{text}");
            assert!(text.lines().any(|l| l.contains(",end,")), "no final counters after SIGTERM");
        } else {
            assert!(p.seqs.len() >= 15, "peer {i} played only {} chunks", p.seqs.len());
        }
        assert_eq!(p.polluted, 0, "peer {i} played polluted chunks");
        let bytes = std::fs::read(dir.join(format!("peer{i}.bin"))).expect("output file");
        let expected: Vec<u8> = p.seqs.iter().flat_map(|&s| net::media::generated_chunk(MEDIA_SEED, s, len)).collect();
        assert!(bytes == expected, "peer {i}: played bytes differ from the source's");
        if i == 0 {
            let dropped: u64 = p
                .stats
                .iter()
                .filter(|(k, _)| k.starts_with("drop_") && k != "drop_duplicate_fragment")
                .map(|(_, v)| v)
                .sum();
            assert!(dropped >= 1000, "the flooded peer counted only {dropped} drops: {:?}", p.stats);
        }
    }
    // The source dropped the hostile chunk (and stale maps) and kept streaming:
    // the peers above played on after it.
    let src = read_records(&dir.join("source.csv"));
    let dropped = src.stats.iter().find(|(k, _)| k == "drop_protocol").map_or(0, |s| s.1);
    assert!(dropped >= 1, "the source recorded no protocol-level drop: {:?}", src.stats);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `swarmlab validate tests/fixtures/udp-mini.toml --sim-draws 1
/// [extra...]` into a fresh temporary directory named by `tag`; asserts that
/// the run completed and returns the directory and stdout.
fn validate_mini(tag: &str, extra: &[&str]) -> (PathBuf, String) {
    validate_fixture("tests/fixtures/udp-mini.toml", tag, extra)
}

/// `validate_mini` on another fixture.
fn validate_fixture(fixture: &str, tag: &str, extra: &[&str]) -> (PathBuf, String) {
    let out = std::env::temp_dir().join(format!("swarmlab-validate-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(BIN)
        .args(["validate", fixture, "--sim-draws", "1"])
        .args(extra)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run swarmlab validate");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    // 0 PASS, 1 FAIL, 3 INCONCLUSIVE: the run completed (2 is bad input).
    assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{stdout}\n{stderr}");
    (out, stdout.into_owned())
}

/// `swarmlab validate` on loopback (tests/fixtures/udp-mini.toml, 14
/// processes, 8 s): its receivers verify chunks against the generated media
/// (`--local-verify`, as the simulator's in-band signature), so the real run
/// makes no hash request, and they still verify every chunk they take.
#[test]
fn validate_runs_without_a_hash_channel() {
    let (out, stdout) = validate_mini("lv", &[]);
    assert!(stdout.contains(", 0 hash requests (receivers verify chunks against the generated media)"), "{stdout}");
    // The default real draw (0) is not mentioned anywhere.
    assert!(stdout.contains("real run: 14 processes (seed 1), "), "{stdout}");
    let manifest = std::fs::read_to_string(out.join("manifest.toml")).expect("manifest");
    assert!(!manifest.contains("validate_real_draw"), "{manifest}");
    let mut verified = 0;
    for e in std::fs::read_dir(out.join("records")).expect("records") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "csv") {
            let r = read_records(&p);
            let stat = |k: &str| r.stats.iter().find(|s| s.0 == k).map(|s| s.1);
            assert_eq!(stat("hash_requests"), Some(0), "{}", p.display());
            verified += stat("chunks_verified").unwrap_or(0);
        }
    }
    assert!(verified > 100, "only {verified} chunks verified");
    let _ = std::fs::remove_dir_all(&out);
}

/// A summary.csv metric's value (`None`: missing or undefined).
fn metric(summary: &Path, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(summary).expect("summary.csv");
    text.lines().map(|l| l.split(',').collect::<Vec<_>>()).find(|f| f.get(3) == Some(&name))?.get(4)?.parse().ok()
}

/// `swarmlab validate` runs the CDN-assisted family (tests/fixtures/udp-cdn-mini.toml):
/// its edge (node 2) is a real process (`swarmlab peer --role edge`) that
/// takes the source's chunks and serves the peers, whose upload cannot carry
/// the stream among themselves; the real run joins the nodes the simulator
/// joins (not those due after the end).
#[test]
fn validate_runs_the_cdn_edge_as_a_real_node() {
    let (out, stdout) = validate_fixture("tests/fixtures/udp-cdn-mini.toml", "cdn", &[]);
    assert!(stdout.contains("real run: 15 processes (seed 1), "), "{stdout}");
    let log = std::fs::read_to_string(out.join("records/node-2.log")).expect("the edge's log");
    assert!(log.starts_with("edge "), "{log}");
    let edge = read_records(&out.join("records/node-2.csv"));
    let verified = edge.stats.iter().find(|s| s.0 == "chunks_verified").map_or(0, |s| s.1);
    assert!(verified >= 20, "the edge verified only {verified} chunks of the source: {log}");
    let (sim, real) = (out.join("sim/summary.csv"), out.join("real/summary.csv"));
    for s in [&sim, &real] {
        let gb = metric(s, "cdn_edge_gb").expect("cdn_edge_gb");
        assert!(gb > 0.0, "{}: the edge uploaded nothing", s.display());
    }
    assert_eq!(metric(&sim, "peers_joined"), metric(&real, "peers_joined"), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

/// `swarmlab validate --real-draw R` keys the real processes' generators by
/// R as well (`sim::rngs::host_seed`), says so and records it; out of range
/// it is refused before anything runs, and `--rejudge` takes none.
#[test]
fn validate_real_draw_is_recorded_and_checked() {
    let (out, stdout) = validate_mini("rd", &["--real-draw", "7"]);
    assert!(stdout.contains("real run: 14 processes (seed 1, real draw 7), "), "{stdout}");
    let manifest = std::fs::read_to_string(out.join("manifest.toml")).expect("manifest");
    assert!(manifest.contains("validate_real_draw = 7\n"), "{manifest}");
    let _ = std::fs::remove_dir_all(&out);
    for args in [
        &["validate", "tests/fixtures/udp-mini.toml", "--real-draw", "4294967296"][..],
        &["validate", "--rejudge", "results/validate/mesh-50", "--real-draw", "1"][..],
    ] {
        let o = Command::new(BIN).args(args).output().expect("run swarmlab validate");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}
