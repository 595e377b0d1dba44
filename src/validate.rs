//! `swarmlab validate SCENARIO`: the simulator versus a real swarm of processes.
//!
//! The scenario runs in the simulator and as N real `swarmlab peer`
//! processes (this executable), with the same seed. The real run uses the
//! simulator's own population (`sim::churn::population`, a CDN edge
//! included: `cdn-p2p`'s node 2 runs as `--role edge`): node `i` runs as
//! `swarmlab peer --node i` at address `base + i + 1` of an address plan
//! (127.x.0.0 on loopback, 10.77.0.0 in namespaces), starts at its join time
//! and leaves at its departure time (crash: SIGKILL; graceful: SIGTERM, which
//! the host turns into a graceful `Leave`). From the scenario, the seed and
//! its node number each process replays what the simulator does to that
//! node (`peer_cmd::replay`, `sim::replay`): its behaviour and the defences
//! (`[[attack]]`, `[defence]`: the node is wrapped in the simulator's
//! `Guarded`), its access-link rates over time (`[[timeline]]` bandwidth
//! events, `[bandwidth]` Markov levels or trace), its one-way delay to each
//! other node (`[network.latency]`, any model; a CDN edge's `[cdn]
//! edge_latency_ms` on its pairs), outages and partitions
//! (`[[timeline]]`: datagrams from a node it is cut off from are dropped on
//! arrival), and the per-datagram loss. What cannot be replayed is refused
//! before anything runs, naming the key ([`check`]). Receivers verify chunks
//! against the generated media (`--local-verify`), as the simulator checks
//! its in-band signature, without the host's hash channel to the source
//! (which the simulator does not model; results/validate/README.md).
//!
//! The processes' record files are fed through the same `analysis::Collector`
//! and metric code as the simulator's records.
//!
//! Verdict (documented tolerances): `continuity_mean` within 0.02 (absolute)
//! and `lag_p50` within 15% (relative) of the simulator. With `--reps N`
//! (N >= 2) the scenario runs N times on both sides, rep k with seed
//! `seed + k` on both (or `seed` for every rep with `--same-seed`). The
//! simulator's reference for a seed is the mean over its protocol draws
//! 1..=K (`--sim-draws K`, default 20; `sim_draws`): the per-rep
//! differences d_k = real_k - mean_k (for the lag (real_k - mean_k) /
//! mean_k) give a 90% Student-t interval of the mean difference, and the
//! verdict is an equivalence test (TOST at 5%): PASS when the interval lies
//! inside the tolerance, FAIL when it lies entirely outside, INCONCLUSIVE
//! otherwise. The same test against draw 0 alone (the seed's own run, the
//! simulator column of the tables and `rep-k/sim/`) is printed beside it,
//! not judged, and so is what the simulator's draws score when each stands
//! in for the real run (`stand_ins`: the verdict's power at these seeds
//! if the simulator were exact). Exit status 0 on PASS, 1 on FAIL, 3 when inconclusive, 2 for
//! bad input. `--rejudge DIR` judges a written directory's real records
//! again against the draws of the current simulator (`rejudge`); with
//! `--paired`, against the simulator run with the real processes' own
//! protocol generators instead (`rejudge::Run::paired`, a diagnostic).
//!
//! `--netns` (Linux, root): each process runs in its own network namespace
//! on a bridge, its rates shaped by the kernel (`tc tbf` charging the
//! simulator's bytes, with a `pfifo_fast` child that sends control datagrams
//! before media), its loss by nftables at the receiver and its neighbours
//! permanent (no ARP); the host gives the kernel one media message at a
//! time, so a departing node's kernel queue holds the message in service
//! and not the ones behind it, as the simulator's link; the delays, outages
//! and partitions stay in user space (see `src/netns.rs`). Scheduled rate
//! changes are applied with `tc qdisc change`.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use analysis::{Collector, NodeRole, Report};
use protocols::{PeerId, Record, Time};
use sim::churn;
use sim::engine::NodeSpec;
use sim::runner::{self, RunOptions};
use sim::scenario::{ControlPriority, Scenario};

use crate::sim_draws::SeedDraws;

/// Tolerances of the verdict.
pub const CONTINUITY_TOL: f64 = 0.02;
pub const LAG_REL_TOL: f64 = 0.15;

/// Run a scenario in the simulator and as real peer processes on loopback; compare.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario file (TOML): at most 200 peers; no `[[variants]]`, no forger attackers.
    #[arg(required_unless_present = "rejudge")]
    pub scenario: Option<PathBuf>,
    /// Seed (overrides the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory [default: swarmlab-out/<scenario>-validate-seed<seed>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Protocol family (overrides the scenario's, for the simulator and every real peer).
    #[arg(long)]
    pub protocol: Option<String>,
    /// Seconds between launching the first processes and the stream epoch.
    #[arg(long, default_value_t = 2.0)]
    pub lead_s: f64,
    /// Run each process in its own network namespace with kernel shaping (`tc
    /// tbf` rates, nftables loss; the delay stays in user space, at the receiver). Linux, root,
    /// `ip`, `tc`, `bridge` and `nft` needed.
    #[arg(long)]
    pub netns: bool,
    /// Repetitions on both sides (rep k uses seed + k on both, paired); with
    /// 2 or more, the verdict is a 90% interval of the mean difference
    /// against the tolerances.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub reps: u32,
    /// Every repetition uses the same seed (real runs of one scenario
    /// instance against its one simulated run).
    #[arg(long)]
    pub same_seed: bool,
    /// The simulator's reference per seed: the mean over its protocol draws
    /// 1..=K (the same instance with other protocol randomness, as a real
    /// run has); the verdict judges real - that mean.
    #[arg(long, default_value_t = crate::sim_draws::DEFAULT_DRAWS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sim_draws: u32,
    /// Judge a written validate directory again without real processes: its
    /// real records (rep-k/real/summary.csv) against the draws of this
    /// simulator; writes DIR/rejudge.txt and DIR/sim-draws.csv (or into
    /// --out). The scenario must be the one of DIR/manifest.toml (same hash).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["scenario", "seed", "protocol", "lead_s", "netns", "reps", "same_seed", "real_draw"])]
    pub rejudge: Option<PathBuf>,
    /// With --rejudge: pair each rep's real run with the simulator run of
    /// its seed that uses the real processes' own protocol generators
    /// (common random numbers), and write DIR/paired.txt (or into --out):
    /// the paired differences, their interval and spread beside the spread
    /// against draw 0. Shown beside the verdict, not replacing it.
    #[arg(long)]
    pub paired: bool,
    /// The real processes' draw of protocol randomness: with 0, the default,
    /// real node i of seed s seeds its generators (protocol decisions, loss)
    /// with `s x 1,000,003 + i`, so every real run of a seed makes the same
    /// random choices; another R keys them by R as well, so repeated runs
    /// of the same seeds are independent draws (as `swarmlab run --draw`
    /// is for the simulator). Below 2^32.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..(1 << 32)))]
    pub real_draw: u64,
    /// The simulator's `network.control_priority` in the reference
    /// [default: the real link's: `message` on loopback, whose user-space
    /// pacer serializes whole messages; `datagram` with --netns, whose
    /// kernel queue serves control first per packet]. For --rejudge too.
    #[arg(long, value_name = "message|datagram", value_parser = ControlPriority::parse)]
    pub sim_control: Option<ControlPriority>,
}

/// The simulator's `network.control_priority` in the reference: `--sim-control`
/// if given, else the real link's ([`mode_control`]). A scenario asking for
/// `datagram` on loopback is refused: the loopback pacer cannot replay it.
pub fn reference_control(
    netns: bool,
    sim_control: Option<ControlPriority>,
    scenario: ControlPriority,
) -> Result<ControlPriority, String> {
    if let Some(c) = sim_control {
        return Ok(c);
    }
    if !netns && scenario == ControlPriority::Datagram {
        return Err("network.control_priority = \"datagram\": the loopback swarm's user-space pacer serializes whole messages (\"message\"); run with --netns, whose kernel queue sends control between datagrams, or remove the key".into());
    }
    Ok(mode_control(netns))
}

/// How the real swarm's links share a busy upload between control and
/// media: the loopback pacer serializes whole messages; under `--netns`
/// the kernel's `pfifo_fast` sends control datagrams between media
/// datagrams.
pub fn mode_control(netns: bool) -> ControlPriority {
    if netns { ControlPriority::Datagram } else { ControlPriority::Message }
}

/// What a real node's records file says, in protocol time.
#[derive(Default)]
struct NodeLog {
    records: Vec<(Time, Record)>,
    /// Cumulative (up media, up control, down media, down control) wire bytes over time.
    bytes: Vec<(Time, [u64; 4])>,
    stats: Vec<(String, u64)>,
}

fn read_log(path: &Path, end: Time) -> NodeLog {
    let mut log = NodeLog::default();
    let Ok(f) = File::open(path) else { return log };
    for line in BufReader::new(f).lines().map_while(Result::ok) {
        let f: Vec<&str> = line.split(',').collect();
        let Some(t) = f.first().and_then(|t| t.parse::<u64>().ok()).map(Time) else { continue };
        let num = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok());
        let rec = match f.get(1).copied() {
            Some("play_start") => num(2).map(|s| Record::PlayStart { first: s as u32 }),
            Some("played") => num(2).map(|s| Record::Played { seq: s as u32, polluted: num(3) == Some(1) }),
            Some("missed") => num(2).map(|s| Record::Missed { seq: s as u32 }),
            Some("stall") => num(2).map(|s| Record::Stall { seq: s as u32 }),
            Some("resume") => num(2).map(|s| Record::Resume { seq: s as u32 }),
            Some("rejected") => num(2).map(|s| Record::Rejected { seq: s as u32, from: PeerId(0) }),
            Some("arrived") => num(2).map(|s| Record::ChunkArrived {
                seq: s as u32,
                from: PeerId(0),
                duplicate: num(3) == Some(1),
                late: num(4) == Some(1),
            }),
            Some("bytes") => {
                if let (Some(a), Some(b), Some(c), Some(d)) = (num(2), num(3), num(4), num(5)) {
                    log.bytes.push((t.min(end), [a, b, c, d]));
                }
                None
            }
            Some("stat") => {
                if let (Some(k), Some(v)) = (f.get(2), num(3)) {
                    log.stats.push((k.to_string(), v));
                }
                None
            }
            _ => None,
        };
        if let Some(r) = rec
            && t <= end
        {
            log.records.push((t, r));
        }
    }
    log
}

/// The real run's report, from the population and the node logs.
fn real_report(
    sim: &Report,
    specs: &[NodeSpec],
    rates: &[sim::replay::RateSchedule],
    logs: &[NodeLog],
    end: Time,
) -> Report {
    let mut c = Collector::new(sim.stream);
    c.set_bucket(sim.bucket);
    let mut traffic = analysis::Traffic::default();
    for (i, (s, log)) in specs.iter().zip(logs).enumerate() {
        if s.join > end {
            // Never started (the simulator's population joins no one after the end).
            continue;
        }
        let id = PeerId(i as u32);
        // The upload capacity over time, as the simulator's collector hears it.
        let sched = rates.get(i).map_or(&[][..], |r| &r[..]);
        let up0 = sched.first().map_or(s.up_bps, |r| r.1);
        c.join(id, s.role, s.class, up0, s.join);
        let stop = s.leave.map_or(end, |(at, _)| at.min(end));
        for &(t, up, _) in sched.iter().skip(1).filter(|r| r.0 < stop) {
            c.capacity(id, t, up);
        }
        if !s.behaviour.is_honest() {
            c.set_behaviour(id, s.behaviour.index());
        }
        for (t, r) in &log.records {
            c.record(id, *t, r);
        }
        let mut prev = [0u64; 4];
        for (t, b) in &log.bytes {
            let d: Vec<u64> = (0..4).map(|k| b[k].saturating_sub(prev[k])).collect();
            if d[0] > 0 {
                c.sent(id, *t, d[0], true);
            }
            if d[1] > 0 {
                c.sent(id, *t, d[1], false);
            }
            if d[2] > 0 {
                c.delivered(id, d[2], true);
            }
            if d[3] > 0 {
                c.delivered(id, d[3], false);
            }
            traffic.sent += d[0] + d[1];
            traffic.delivered += d[2] + d[3];
            prev = *b;
        }
        if let Some((at, _)) = s.leave
            && at < end
        {
            c.leave(id, at);
        }
    }
    // Real networks do not say where a byte went: whatever was not received
    // was lost (impairment, a departed receiver, or still in flight at the end).
    traffic.lost = traffic.sent.saturating_sub(traffic.delivered);
    traffic.sent = traffic.delivered + traffic.lost;
    let mut info = sim.info.clone();
    info.traffic = traffic;
    info.events = 0;
    info.protocol = format!("{} (udp)", sim.info.protocol);
    analysis::report::build(c, info)
}

/// Refuses what the real swarm cannot replay, naming the key.
pub fn check(sc: &Scenario, seed: u64) -> Result<(), String> {
    let n = *sc.peers.count.get_ref();
    if n > 200 {
        return Err(format!("[peers] count = {n}: validate runs one process per peer, at most 200 on one machine"));
    }
    if !sc.variants.is_empty() {
        return Err("[[variants]]: validate runs one protocol; remove the variants and use --protocol".into());
    }
    if sc.nat.is_some() {
        return Err(
            "[nat]: the real hosts on one machine reach each other directly; validate cannot replay NATs".into()
        );
    }
    if sc.isp.is_some() {
        return Err(
            "[isp]: the real tracker does not know the simulator's ISPs (transit-stub domains); remove [isp]".into()
        );
    }
    for a in &sc.attack {
        use sim::scenario::AttackKind as K;
        if a.kind == K::Forger {
            return Err(crate::peer_cmd::unreplayable(protocols::adversary::Behaviour::Forger));
        }
    }
    let specs = churn::population(sc, seed);
    if specs.len() > 250 {
        return Err(format!(
            "[churn]: the population has {} nodes (initial peers and arrivals), at most 250 processes on one machine",
            specs.len()
        ));
    }
    Ok(())
}

/// Where the real nodes live: node i at `base + i + 1`, `port` (`count` is
/// not used here: each process gets the population size from the scenario).
fn address_plan(netns: bool) -> Result<net::NodePlan, String> {
    if netns {
        return Ok(net::NodePlan { base: std::net::Ipv4Addr::new(10, 77, 0, 0), port: 7000, count: 0 });
    }
    // A /16 of 127/8 per validate process (all of it is loopback), one port for every node.
    let base = std::net::Ipv4Addr::new(127, 100 + (std::process::id() % 100) as u8, 0, 0);
    let probe = net::NodePlan { base, port: 0, count: 1 }.addr(0);
    let port =
        UdpSocket::bind(probe).and_then(|s| s.local_addr()).map_err(|e| format!("cannot bind {probe}: {e}"))?.port();
    Ok(net::NodePlan { base, port, count: 0 })
}

struct Proc {
    child: Child,
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status();
}

/// Wall clock (Unix ns): validate schedules real processes on it.
fn wall_now() -> u64 {
    net::clock::unix_now_ns()
}

/// Sleeps until `unix_ns`; false if SIGTERM/SIGINT arrived meanwhile.
fn sleep_until(unix_ns: u64, term: &AtomicBool) -> bool {
    loop {
        if term.load(Ordering::Relaxed) {
            return false;
        }
        let now = wall_now();
        if unix_ns <= now {
            return true;
        }
        std::thread::sleep(Duration::from_nanos(unix_ns - now).min(Duration::from_millis(50)));
    }
}

/// SIGKILLs every process still running (validate itself was interrupted).
fn kill_all(procs: &mut [Option<Proc>]) {
    for p in procs.iter_mut().flatten() {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}

/// What the real run does at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Start,
    Leave,
    Crash,
    /// netns: the kernel shaping of the node changes to (up, down) bps.
    Rate(u64, u64),
}

/// Runs the real swarm (in namespaces with kernel shaping when `net` is
/// given); returns the per-node logs.
#[allow(clippy::too_many_arguments)]
fn run_real(
    sc_path: &Path,
    sc: &Scenario,
    specs: &[NodeSpec],
    seed: u64,
    real_draw: u64,
    plan_addrs: net::NodePlan,
    dir: &Path,
    lead_s: f64,
    net: Option<&crate::netns::Net>,
) -> Result<Vec<NodeLog>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let end_s = sc.duration_s.0;
    let role_index = |r: NodeRole| specs.iter().position(|s| s.role == r).unwrap_or(0);
    let tracker = plan_addrs.addr(role_index(NodeRole::Tracker) as u32).to_string();
    let source = plan_addrs.addr(role_index(NodeRole::Source) as u32).to_string();
    let rates = sim::replay::rates(sc, specs, seed);
    let epoch_ns = wall_now() + (lead_s.max(0.5) * 1e9) as u64;
    let epoch_s = format!("{:.6}", epoch_ns as f64 / 1e9);
    let mut plan: Vec<(u64, usize, Action)> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let start = (epoch_ns + s.join.as_nanos()).saturating_sub(1_000_000_000);
        plan.push((start, i, Action::Start));
        if let Some((at, graceful)) = s.leave {
            plan.push((epoch_ns + at.as_nanos(), i, if graceful { Action::Leave } else { Action::Crash }));
        }
        if net.is_some() {
            for &(t, up, down) in rates[i].iter().skip(1) {
                plan.push((epoch_ns + t.as_nanos(), i, Action::Rate(up, down)));
            }
        }
    }
    plan.sort();
    let mut procs: Vec<Option<Proc>> = (0..specs.len()).map(|_| None).collect();
    let term = net::signals::term_flag().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    for (at, i, action) in plan {
        if !sleep_until(at, &term) {
            kill_all(&mut procs);
            return Err("interrupted: every peer process was killed".into());
        }
        let s = &specs[i];
        match action {
            Action::Start => {
                let role = match s.role {
                    NodeRole::Tracker => "tracker",
                    NodeRole::Source => "source",
                    NodeRole::Edge => "edge",
                    NodeRole::Peer => "peer",
                };
                let bind = plan_addrs.addr(i as u32).to_string();
                let mut args: Vec<String> = vec![
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
                    sc_path.display().to_string(),
                    "--epoch".into(),
                    epoch_s.clone(),
                    "--join-at".into(),
                    format!("{:.9}", s.join.as_secs_f64()),
                    "--duration".into(),
                    format!("{end_s}"),
                    "--up-kbps".into(),
                    format!("{}", s.up_bps as f64 / 1000.0),
                    "--down-kbps".into(),
                    format!("{}", s.down_bps as f64 / 1000.0),
                    "--node".into(),
                    i.to_string(),
                    "--run-seed".into(),
                    seed.to_string(),
                    "--node-base".into(),
                    format!("{}:{}", plan_addrs.base, plan_addrs.port),
                    "--loss".into(),
                    format!("{}", if net.is_some() { 0.0 } else { sc.network.loss.0 }),
                    "--seed".into(),
                    format!("{}", sim::rngs::host_seed(seed, real_draw, i as u64)),
                    "--media-seed".into(),
                    format!("{seed}"),
                    // Chunks are verified against the generated media, as the
                    // simulator's in-band signature: no hash channel to the source.
                    "--local-verify".into(),
                    "--records".into(),
                    dir.join(format!("node-{i}.csv")).display().to_string(),
                    "--protocol".into(),
                    sc.protocol.name.as_str().into(),
                ];
                let mut cmd = match net {
                    Some(net) => {
                        args.push("--kernel-shaping".into());
                        let mut c = Command::new("ip");
                        c.args(["netns", "exec", net.ns(i)]).arg(&exe);
                        c
                    }
                    None => Command::new(&exe),
                };
                let log = File::create(dir.join(format!("node-{i}.log"))).map_err(|e| e.to_string())?;
                let child = cmd
                    .args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .spawn()
                    .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
                procs[i] = Some(Proc { child });
            }
            // Under --netns the kernel goes on sending what the node gave
            // it, which is the message in service (crate::netns, "A departure").
            Action::Leave => {
                if let Some(p) = &procs[i] {
                    signal(p.child.id(), "TERM");
                }
            }
            Action::Crash => {
                if let Some(p) = procs[i].as_mut() {
                    let _ = p.child.kill();
                }
            }
            Action::Rate(up, down) => {
                if let Some(n) = net
                    && let Err(e) = n.set_rate(i, up, down)
                {
                    eprintln!("warning: node {i}: {e}");
                }
            }
        }
    }
    // Every process stops by itself at the end; give them a few seconds more.
    let deadline = epoch_ns + (end_s * 1e9) as u64 + 5_000_000_000;
    for p in procs.iter_mut().flatten() {
        loop {
            match p.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if wall_now() > deadline || term.load(Ordering::Relaxed) => {
                    let _ = p.child.kill();
                    let _ = p.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    let end = Time::from_secs_f64(end_s);
    Ok((0..specs.len()).map(|i| read_log(&dir.join(format!("node-{i}.csv")), end)).collect())
}

/// Metrics shown side by side (the first two are judged).
const SHOWN: &[&str] = &[
    "continuity_mean",
    "lag_p50",
    "continuity_pooled",
    "continuity_p05",
    "peers_started",
    "startup_delay_p50",
    "startup_delay_p95",
    "lag_mean",
    "lag_p95",
    "delivery_delay_p50",
    "delivery_delay_p95",
    "diffusion_delay_p50",
    "misses",
    "duplicate_ratio",
    "control_overhead",
    "server_load",
    "continuity_honest",
    "polluted_played_share",
    "rejected_chunks",
    "recovery_time",
];

/// One row: metric, simulator, real, |real - sim|, |real - sim| / |sim|.
pub type Row = (String, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

/// The side-by-side rows of [`SHOWN`].
pub fn rows(sim: &Report, real: &Report) -> Vec<Row> {
    SHOWN
        .iter()
        .filter(|&&name| sim.get(name).is_some() || real.get(name).is_some())
        .map(|&name| {
            let (a, b) = (sim.get(name), real.get(name));
            let abs = a.zip(b).map(|(a, b)| (b - a).abs());
            let rel = a.zip(abs).and_then(|(a, d)| (a.abs() > 0.0).then(|| d / a.abs()));
            (name.to_string(), a, b, abs, rel)
        })
        .collect()
}

/// One repetition's single-run check: (continuity ok, lag ok).
pub fn verdict(sim: &Report, real: &Report) -> (bool, bool) {
    let (c, l) = diffs(sim, real);
    (c.is_some_and(|d| d.abs() <= CONTINUITY_TOL), l.is_some_and(|d| d.abs() <= LAG_REL_TOL))
}

/// The judged differences of one repetition: continuity real - sim, and
/// the relative lag difference (real - sim) / sim.
pub fn diffs(sim: &Report, real: &Report) -> (Option<f64>, Option<f64>) {
    diffs_of(judged(sim), judged(real))
}

/// The judged metrics of a run: (`continuity_mean`, `lag_p50`).
pub type Judged = (Option<f64>, Option<f64>);

/// [`Judged`] of a report.
pub fn judged(r: &Report) -> Judged {
    (r.get("continuity_mean"), r.get("lag_p50"))
}

/// [`diffs`] of the judged values.
pub fn diffs_of(sim: Judged, real: Judged) -> (Option<f64>, Option<f64>) {
    let c = sim.0.zip(real.0).map(|(a, b)| b - a);
    let l = sim.1.zip(real.1).and_then(|(a, b)| (a > 0.0).then(|| (b - a) / a));
    (c, l)
}

/// The verdict block over the reps (rep k: seed `seeds[k]`, real values
/// `real[k]`, the simulator's draw 0 `sim0[k]`): the table of the draws'
/// means, the judged test against them, the test against draw 0 alone
/// (shown, not judged), and what the draws themselves score as stand-ins
/// for the real run ([`crate::stand_ins`]). `how` says what the reps are.
pub fn judge(how: &str, seeds: &[u64], real: &[Judged], sim0: &[Judged], draws: &[SeedDraws]) -> (String, Outcome) {
    let (dc, dl): (Vec<Option<f64>>, Vec<Option<f64>>) =
        seeds.iter().zip(real).map(|(&s, r)| crate::sim_draws::of(draws, s).diffs(r.0, r.1)).unzip();
    let (cm, ci, co) = test(&dc, CONTINUITY_TOL);
    let (lm, li, lo) = test(&dl, LAG_REL_TOL);
    let verdict = combine(co, lo);
    let k = draws.first().map_or(0, |d| d.continuity.len());
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:+.4}"));
    let per = |d: &[Option<f64>]| d.iter().map(|&x| f(x)).collect::<Vec<_>>().join(", ");
    let mut v = format!("\n{}", crate::sim_draws::table(draws));
    v.push_str(&format!("verdict ({how}; reference: the mean of the simulator's draws 1..={k} of each seed):\n"));
    v.push_str(&format!(
        "  continuity_mean real - draws' mean: per rep [{}], mean {cm:+.4}, interval [{:+.4}, {:+.4}] vs +-{CONTINUITY_TOL}: {}\n",
        per(&dc),
        ci.0,
        ci.1,
        co.name()
    ));
    v.push_str(&format!(
        "  lag_p50 (real - draws' mean) / draws' mean: per rep [{}], mean {lm:+.4}, interval [{:+.4}, {:+.4}] vs +-{LAG_REL_TOL}: {}\n",
        per(&dl),
        li.0,
        li.1,
        lo.name()
    ));
    v.push_str(&format!("  => {}\n", verdict.name()));
    let (ec, el): (Vec<Option<f64>>, Vec<Option<f64>>) = sim0.iter().zip(real).map(|(s, r)| diffs_of(*s, *r)).unzip();
    let (em, eci, eo) = test(&ec, CONTINUITY_TOL);
    let (elm, eli, elo) = test(&el, LAG_REL_TOL);
    v.push_str("against draw 0 alone (the seed's own run; a single draw per seed, not judged):\n");
    v.push_str(&format!(
        "  continuity_mean real - draw 0: per rep [{}], mean {em:+.4}, interval [{:+.4}, {:+.4}]: {}\n",
        per(&ec),
        eci.0,
        eci.1,
        eo.name()
    ));
    v.push_str(&format!(
        "  lag_p50 (real - draw 0) / draw 0: per rep [{}], mean {elm:+.4}, interval [{:+.4}, {:+.4}]: {}\n",
        per(&el),
        eli.0,
        eli.1,
        elo.name()
    ));
    v.push_str(&format!("  => {} against draw 0\n", combine(eo, elo).name()));
    v.push_str(&crate::stand_ins::block(seeds, draws, &dc));
    (v, verdict)
}

/// What the reps are, for the verdict's header.
pub fn reps_how(seeds: &[u64], same_seed: bool) -> String {
    match seeds {
        [] | [_] => "single run: the difference itself, no interval".to_string(),
        [first, .., last] => format!(
            "{} reps, {}; 90% t interval of the mean difference (TOST at 5%)",
            seeds.len(),
            if same_seed { format!("all with seed {first}") } else { format!("seeds {first}..={last}") }
        ),
    }
}

/// One-sided 95% Student-t quantiles for 1..=30 degrees of freedom (the
/// two-sided 90% interval of TOST at 5%).
const T95: [f64; 30] = [
    6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761, 1.753, 1.746,
    1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
];

/// Outcome of the test on one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Inconclusive,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// The test on one metric's per-rep differences: (mean, interval, outcome).
/// One difference: the interval is the point (a single-run check). Two or
/// more: the 90% t interval of the mean (TOST at 5%): inside [-tol, tol]
/// is a pass, entirely outside a fail, anything else inconclusive. A rep
/// without the metric fails.
pub fn test(d: &[Option<f64>], tol: f64) -> (f64, (f64, f64), Outcome) {
    let Some(d) = d.iter().copied().collect::<Option<Vec<f64>>>().filter(|d| !d.is_empty()) else {
        return (f64::NAN, (f64::NAN, f64::NAN), Outcome::Fail);
    };
    let n = d.len();
    let mean = d.iter().sum::<f64>() / n as f64;
    let half = if n < 2 {
        0.0
    } else {
        let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        // Beyond 31 reps: Student's t by its Cornish-Fisher expansion (t(0.95, 39)
        // = 1.685), not the normal 1.645, which narrowed a 40-rep interval by 2.4%.
        let t = T95.get(n - 2).copied().unwrap_or_else(|| crate::check::paired::t_quantile(0.95, (n - 1) as f64));
        t * libm::sqrt(var / n as f64)
    };
    let (lo, hi) = (mean - half, mean + half);
    let outcome = if lo >= -tol && hi <= tol {
        Outcome::Pass
    } else if lo > tol || hi < -tol {
        Outcome::Fail
    } else {
        Outcome::Inconclusive
    };
    (mean, (lo, hi), outcome)
}

/// The combined outcome: fail if either fails, pass if both pass.
pub fn combine(a: Outcome, b: Outcome) -> Outcome {
    match (a, b) {
        (Outcome::Fail, _) | (_, Outcome::Fail) => Outcome::Fail,
        (Outcome::Pass, Outcome::Pass) => Outcome::Pass,
        _ => Outcome::Inconclusive,
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.4}"))
}

/// One repetition's table (and the judged differences).
struct Rep {
    seed: u64,
    sim: Report,
    real: Report,
    rows: Vec<Row>,
    table: String,
}

pub fn main(a: Args) -> ExitCode {
    if a.paired && a.rejudge.is_none() {
        eprintln!("error: --paired judges a written directory again: it needs --rejudge DIR");
        return ExitCode::from(2);
    }
    if let Some(dir) = &a.rejudge {
        return crate::rejudge::main(dir, a.sim_draws, a.out.as_deref(), a.sim_control, a.paired);
    }
    let Some(scenario) = a.scenario.clone() else {
        eprintln!("error: validate needs a scenario file (or --rejudge DIR)");
        return ExitCode::from(2);
    };
    let (mut sc, text) = match Scenario::load(&scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(p) = &a.protocol {
        match crate::peer_cmd::family_name(p) {
            Ok(name) => sc.protocol.name = name,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if a.netns
        && let Err(e) = crate::netns::available()
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match reference_control(a.netns, a.sim_control, sc.network.control_priority) {
        Ok(c) => sc.network.control_priority = c,
        Err(e) => {
            eprintln!("error: {}: {e}", scenario.display());
            return ExitCode::from(2);
        }
    }
    eprintln!("simulator reference: network.control_priority = \"{}\"", sc.network.control_priority.name());
    let name = sc.display_name(&scenario);
    let seed = a.seed.unwrap_or(sc.seed);
    let seeds: Vec<u64> = (0..a.reps as u64).map(|k| if a.same_seed { seed } else { seed.wrapping_add(k) }).collect();
    for &s in &seeds {
        if let Err(e) = check(&sc, s) {
            eprintln!("error: {}: {e}", scenario.display());
            return ExitCode::from(2);
        }
    }
    let out =
        a.out.clone().unwrap_or_else(|| PathBuf::from("swarmlab-out").join(format!("{name}-validate-seed{seed}")));
    let plan = match address_plan(a.netns) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut reps: Vec<Rep> = Vec::new();
    let mut sim_cache: Option<(u64, Report)> = None;
    for (k, &seed) in seeds.iter().enumerate() {
        let dir = if a.reps > 1 { out.join(format!("rep-{}", k + 1)) } else { out.clone() };
        match one_rep(&a, &scenario, &sc, &name, seed, plan, &dir, &mut sim_cache) {
            Ok(r) => {
                if a.reps > 1 {
                    println!("== rep {} of {} (seed {seed}): {}", k + 1, a.reps, dir.display());
                }
                print!("{}", r.table);
                reps.push(r);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    }
    // The verdict over the repetitions: against the mean of the simulator's draws of each seed.
    let draws = crate::sim_draws::for_seeds(&sc, &name, &seeds, a.sim_draws);
    let real: Vec<Judged> = reps.iter().map(|r| judged(&r.real)).collect();
    let sim0: Vec<Judged> = reps.iter().map(|r| judged(&r.sim)).collect();
    let (v, verdict) = judge(&reps_how(&seeds, a.same_seed), &seeds, &real, &sim0, &draws);
    let v = format!(
        "\nthe simulator's links: network.control_priority = \"{}\" (the {} swarm's: {}){v}",
        sc.network.control_priority.name(),
        if a.netns { "--netns" } else { "loopback" },
        mode_control(a.netns).name()
    );
    print!("{v}");
    let written = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(&out)?;
        let mut csv = String::from("rep,seed,metric,simulator,real,abs_diff,rel_diff\n");
        let o = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
        for (k, r) in reps.iter().enumerate() {
            for (n, s, re, d, rel) in &r.rows {
                csv.push_str(&format!("{},{},{n},{},{},{},{}\n", k + 1, r.seed, o(*s), o(*re), o(*d), o(*rel)));
            }
        }
        analysis::output::write_atomic(&out.join("validate.csv"), csv.as_bytes())?;
        let mut txt: String = reps.iter().map(|r| r.table.clone()).collect::<Vec<_>>().join("\n");
        txt.push_str(&v);
        analysis::output::write_atomic(&out.join("validate.txt"), txt.as_bytes())?;
        analysis::output::write_atomic(&out.join("sim-draws.csv"), crate::sim_draws::csv(&draws).as_bytes())?;
        crate::manifest::write(&out, &scenario, &text, &seeds)?;
        let mut m = std::fs::OpenOptions::new().append(true).open(out.join("manifest.toml"))?;
        writeln!(m, "validate_mode = \"{}\"", if a.netns { "netns" } else { "loopback" })?;
        writeln!(m, "validate_protocol = \"{}\"", sc.protocol.name)?;
        writeln!(m, "validate_reps = {}", reps.len())?;
        writeln!(m, "validate_sim_draws = {}", a.sim_draws)?;
        writeln!(m, "validate_sim_control = \"{}\"", sc.network.control_priority.name())?;
        if a.real_draw > 0 {
            writeln!(m, "validate_real_draw = {}", a.real_draw)?;
        }
        writeln!(m, "validate_verdict = \"{}\"", verdict.name())
    })();
    if let Err(e) = written {
        eprintln!("error: cannot write results to {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let _ = writeln!(std::io::stdout(), "\nwrote {}", out.display());
    match verdict {
        Outcome::Pass => ExitCode::SUCCESS,
        Outcome::Fail => ExitCode::from(1),
        Outcome::Inconclusive => ExitCode::from(3),
    }
}

/// One repetition: the simulator (reused when the seed repeats), the real
/// swarm, the side-by-side table; writes `sim/`, `real/` and the records in `dir`.
#[allow(clippy::too_many_arguments)]
fn one_rep(
    a: &Args,
    sc_path: &Path,
    sc: &Scenario,
    name: &str,
    seed: u64,
    plan: net::NodePlan,
    dir: &Path,
    sim_cache: &mut Option<(u64, Report)>,
) -> Result<Rep, String> {
    let sim = match sim_cache {
        Some((s, r)) if *s == seed => r.clone(),
        _ => {
            eprintln!("simulating {name} (seed {seed}) ...");
            let r = runner::run(sc, &RunOptions { name: name.to_string(), seed, threads: 1, draw: 0 }, &mut |_, _| {});
            *sim_cache = Some((seed, r.clone()));
            r
        }
    };
    let specs = churn::population(sc, seed);
    let net = if a.netns {
        let stale = crate::netns::cleanup_stale();
        if stale > 0 {
            eprintln!("deleted {stale} stale swl* network namespaces of dead runs");
        }
        let rates = sim::replay::rates(sc, &specs, seed);
        let links: Vec<crate::netns::Link> = rates
            .iter()
            .zip(&specs)
            .map(|(r, s)| {
                let (up_bps, down_bps) = r.first().map_or((s.up_bps, s.down_bps), |&(_, u, d)| (u, d));
                crate::netns::Link { up_bps, down_bps, loss: sc.network.loss.0 }
            })
            .collect();
        Some(crate::netns::Net::setup(&links).map_err(|e| format!("cannot set up the network namespaces: {e}"))?)
    } else {
        None
    };
    let mode = match &net {
        Some(n) => format!(
            "netns (one network namespace per process, {}*; rates by tc tbf without the Ethernet header, control first (pfifo_fast), permanent neighbours (no ARP), loss by nftables at the receiver, media handed to the kernel a message at a time, delay (at the receiver), outages and partitions in user space)",
            n.prefix()
        ),
        None => format!("loopback ({}.x; rates, loss, delay, outages and partitions in user space)", plan.base),
    };
    eprintln!(
        "running {} real processes, {mode}, for {:.0} s (records in {}) ...",
        specs.len(),
        sc.duration_s.0,
        dir.join("records").display()
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: String = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let neigh_before = net.as_ref().and_then(|_| crate::netns::neigh_stats());
    let logs = run_real(sc_path, sc, &specs, seed, a.real_draw, plan, &dir.join("records"), a.lead_s, net.as_ref())?;
    let neigh = neigh_before.zip(crate::netns::neigh_stats());
    let kernel_lost = net.as_ref().map(|n| n.lost());
    drop(net);
    let rates = sim::replay::rates(sc, &specs, seed);
    let real = real_report(&sim, &specs, &rates, &logs, Time::from_secs_f64(sc.duration_s.0));
    let rows = rows(&sim, &real);
    let mut table = String::new();
    table.push_str(&format!(
        "{:<22} {:>12} {:>12} {:>10} {:>9}\n",
        "metric", "simulator", "real (udp)", "abs diff", "rel diff"
    ));
    for (n, s, r, d, rel) in &rows {
        let rel = rel.map_or("-".into(), |x| format!("{:.1}%", x * 100.0));
        table.push_str(&format!("{n:<22} {:>12} {:>12} {:>10} {rel:>9}\n", fmt(*s), fmt(*r), fmt(*d)));
    }
    let stat =
        |key: &str| -> u64 { logs.iter().flat_map(|l| l.stats.iter()).filter(|(k, _)| k == key).map(|(_, v)| v).sum() };
    let drops: u64 = logs
        .iter()
        .flat_map(|l| l.stats.iter())
        .filter(|(k, _)| k.starts_with("drop_") && k != "drop_duplicate_fragment" && k != "drop_severed")
        .map(|(_, v)| v)
        .sum();
    let lost: u64 = kernel_lost.unwrap_or_else(|| stat("impairment_lost"));
    table.push_str(&format!(
        "\nreal run: {} processes (seed {seed}{}), {lost} datagrams lost by impairment{}, {} cut off (outage/partition), {drops} dropped by hosts, {} polluted chunks received, {} hash requests (receivers verify chunks against the generated media)\n",
        specs.len(),
        if a.real_draw > 0 { format!(", real draw {}", a.real_draw) } else { String::new() },
        if kernel_lost.is_some() { " (nftables)" } else { "" },
        stat("drop_severed"),
        stat("chunks_polluted"),
        stat("hash_requests"),
    ));
    let fired = stat("timers_fired").max(1);
    table.push_str(&format!(
        "timer lateness (event-loop scheduling delay): mean {:.2} ms, max {:.1} ms, {:.2}% of {} timers over 10 ms late\n",
        stat("timer_late_us") as f64 / fired as f64 / 1000.0,
        logs.iter()
            .flat_map(|l| l.stats.iter())
            .filter(|(k, _)| k == "timer_late_max_us")
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0) as f64
            / 1000.0,
        stat("timers_late_10ms") as f64 * 100.0 / fired as f64,
        fired
    ));
    if let Some((b, e)) = neigh {
        table.push_str(&format!(
            "kernel ARP table during the real run (every namespace of the machine): {} resolutions failed, {} neighbour entries refused with the table full (the datagram is dropped)\n",
            e.res_failed.saturating_sub(b.res_failed),
            e.table_fulls.saturating_sub(b.table_fulls),
        ));
    }
    table.push_str(&format!("mode: {mode}\nload average before the real run: {load}\n"));
    let (c_ok, l_ok) = verdict(&sim, &real);
    table.push_str(&format!(
        "this rep against draw 0 (the verdict uses the mean of the draws): continuity_mean within {CONTINUITY_TOL}: {}; lag_p50 within {:.0}%: {}\n",
        if c_ok { "yes" } else { "NO" },
        LAG_REL_TOL * 100.0,
        if l_ok { "yes" } else { "NO" },
    ));
    (|| -> std::io::Result<()> {
        analysis::output::write_run(&sim, &dir.join("sim"))?;
        analysis::output::write_run(&real, &dir.join("real"))?;
        analysis::output::write_atomic(&dir.join("rep.txt"), table.as_bytes())
    })()
    .map_err(|e| format!("cannot write results to {}: {e}", dir.display()))?;
    Ok(Rep { seed, sim, real, rows, table })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(extra: &str) -> Scenario {
        Scenario::parse("t.toml", &format!("duration_s = 30\n[peers]\ncount = 10\n{extra}")).expect("valid")
    }

    #[test]
    fn the_interval_test_passes_fails_or_is_inconclusive() {
        // A single run: the difference itself.
        assert_eq!(test(&[Some(0.01)], 0.02).2, Outcome::Pass);
        assert_eq!(test(&[Some(-0.03)], 0.02).2, Outcome::Fail);
        // Tight repetitions inside the tolerance pass.
        let (m, (lo, hi), o) = test(&[Some(0.010), Some(0.012), Some(0.008)], 0.02);
        assert!((m - 0.010).abs() < 1e-12 && lo < 0.010 && hi > 0.010);
        assert_eq!(o, Outcome::Pass);
        // Spread across the bound: inconclusive, not a pass.
        assert_eq!(test(&[Some(0.0), Some(0.03), Some(0.015)], 0.02).2, Outcome::Inconclusive);
        // Entirely outside: a fail.
        assert_eq!(test(&[Some(0.05), Some(0.06), Some(0.055)], 0.02).2, Outcome::Fail);
        // A rep without the metric fails.
        assert_eq!(test(&[Some(0.0), None], 0.02).2, Outcome::Fail);
        // t(0.95, 2) for three reps: half-width = 2.920 x sd / sqrt(3).
        let (_, (lo, hi), _) = test(&[Some(0.0), Some(0.01), Some(0.02)], 1.0);
        assert!((hi - lo - 2.0 * 2.920 * 0.01 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(combine(Outcome::Pass, Outcome::Inconclusive), Outcome::Inconclusive);
        assert_eq!(combine(Outcome::Inconclusive, Outcome::Fail), Outcome::Fail);
        // Past the table (40 reps): t(0.95, 39) = 1.6849, not the normal 1.6449.
        let d: Vec<Option<f64>> = (0..40).map(|i| Some(if i % 2 == 0 { 0.01 } else { -0.01 })).collect();
        let sd = (40.0 * 0.0001 / 39.0f64).sqrt();
        let (_, (lo, hi), _) = test(&d, 1.0);
        assert!(((hi - lo) / 2.0 - 1.6849 * sd / 40f64.sqrt()).abs() < 1e-5, "half-width {}", (hi - lo) / 2.0);
    }

    #[test]
    fn the_verdict_judges_against_the_draws_mean_not_draw_0() {
        // Two seeds; each real rep is within 0.005 of its seed's draws' mean,
        // while draw 0 of both seeds is 0.1 lower: PASS on the draws' mean,
        // FAIL against draw 0 (shown, not judged).
        let d = |seed, c: [f64; 2], l: [f64; 2]| SeedDraws {
            seed,
            continuity: c.iter().map(|&x| Some(x)).collect(),
            lag: l.iter().map(|&x| Some(x)).collect(),
        };
        let draws = [d(5, [0.80, 0.90], [10.0, 12.0]), d(6, [0.70, 0.72], [8.0, 8.0])];
        let real = [(Some(0.852), Some(11.1)), (Some(0.712), Some(8.1))];
        let sim0 = [(Some(0.75), Some(11.0)), (Some(0.61), Some(8.0))];
        let (text, outcome) = judge(&reps_how(&[5, 6], false), &[5, 6], &real, &sim0, &draws);
        assert_eq!(outcome, Outcome::Pass, "{text}");
        assert!(text.contains("verdict (2 reps, seeds 5..=6; "), "{text}");
        assert!(text.contains("reference: the mean of the simulator's draws 1..=2 of each seed"), "{text}");
        assert!(
            text.contains("  continuity_mean real - draws' mean: per rep [+0.0020, +0.0020], mean +0.0020"),
            "{text}"
        );
        assert!(text.contains("  lag_p50 (real - draws' mean) / draws' mean: per rep [+0.0091, +0.0125]"), "{text}");
        assert!(text.contains("  continuity_mean real - draw 0: per rep [+0.1020, +0.1020]"), "{text}");
        assert!(text.contains("  => FAIL against draw 0"), "{text}");
        assert!(
            text.contains("  seed 6: continuity_mean 0.7100 (sd 0.0141), lag_p50 8.0000 s (sd 0.0000 s)"),
            "{text}"
        );
        // Two draws per seed: too few for stand-ins (each would be judged
        // against a single other draw), so no stand-in block.
        assert!(!text.contains("stand-ins"), "{text}");
        // --same-seed: one seed's draws serve every rep.
        let (text, _) = judge(&reps_how(&[5, 5], true), &[5, 5], &real, &sim0, &draws[..1]);
        assert!(text.contains("2 reps, all with seed 5"), "{text}");
        assert!(!text.contains("stand-ins"), "{text}");
        // Three draws per seed: the block follows the draw-0 test.
        let d3 = |seed, c: [f64; 3]| SeedDraws {
            seed,
            continuity: c.iter().map(|&x| Some(x)).collect(),
            lag: vec![Some(10.0); 3],
        };
        let draws3 = [d3(5, [0.80, 0.81, 0.82]), d3(6, [0.70, 0.70, 0.71])];
        let (text, _) = judge(&reps_how(&[5, 6], false), &[5, 6], &real, &sim0, &draws3);
        let at = text.find("against draw 0").and_then(|i| text[i..].find("stand-ins for the real run"));
        assert!(at.is_some(), "{text}");
        assert!(text.contains(" of 3 stand-ins at these 2 seeds"), "{text}");
    }

    #[test]
    fn the_reference_links_are_the_real_swarms_unless_asked_otherwise() {
        use ControlPriority::{Datagram, Message};
        assert_eq!(reference_control(false, None, Message), Ok(Message));
        assert_eq!(reference_control(true, None, Message), Ok(Datagram));
        assert_eq!(reference_control(true, None, Datagram), Ok(Datagram));
        assert_eq!(reference_control(true, Some(Message), Message), Ok(Message));
        assert_eq!(reference_control(false, Some(Datagram), Datagram), Ok(Datagram));
        let e = reference_control(false, None, Datagram).unwrap_err();
        assert!(e.contains("network.control_priority") && e.contains("--netns"), "{e}");
    }

    #[test]
    fn check_refuses_what_cannot_be_replayed_and_names_the_key() {
        assert!(check(&sc(""), 1).is_ok());
        let e = check(&sc("[[attack]]\nkind = \"forger\"\ncount = 1\n"), 1).unwrap_err();
        assert!(e.contains("kind = \"forger\""), "{e}");
        let e = check(&sc("[nat]\nshare = 0.5\n"), 1).unwrap_err();
        assert!(e.starts_with("[nat]"), "{e}");
        let e = check(&sc("[[variants]]\nprotocol = \"tree-push\"\n"), 1).unwrap_err();
        assert!(e.contains("[[variants]]"), "{e}");
        let e = check(&Scenario::parse("t.toml", "[peers]\ncount = 500\n").unwrap(), 1).unwrap_err();
        assert!(e.contains("[peers] count = 500"), "{e}");
        // Every other dynamic is replayed.
        let ok = "[[timeline]]\nat_s = 5\nevent = \"partition\"\n[[timeline]]\nat_s = 6\nevent = \"heal\"\n\
                  [bandwidth]\nmodel = \"markov\"\n[network.latency]\nmodel = \"coordinates\"\n\
                  [[attack]]\nkind = \"polluter\"\ncount = 2\n[[attack]]\nkind = \"free-rider\"\ncount = 1\n[[attack]]\nkind = \"sybil\"\ncount = 1\n\
                  [defence]\nintegrity = true\nblacklist = true\nscoring = true\n";
        assert!(check(&sc(ok), 1).is_ok());
    }

    #[test]
    fn a_cdn_edge_replays_as_an_edge_with_the_edge_delay_on_its_pairs() {
        let s = sc("[protocol]\nname = \"cdn-p2p\"\n[cdn]\nedge_latency_ms = 7\n\
                    [network.latency]\nmodel = \"uniform\"\nmin_ms = 10\nmax_ms = 90\n");
        assert!(check(&s, 3).is_ok());
        let base: std::net::SocketAddrV4 = "127.9.0.0:4000".parse().unwrap();
        let n = churn::population(&s, 3).len();
        let edge = crate::peer_cmd::replay(&s, 2, 3, base).unwrap();
        assert_eq!(edge.role, net::Role::Edge);
        assert_eq!(edge.pair_delay, vec![Time::from_millis(7); n]);
        let peer = crate::peer_cmd::replay(&s, 5, 3, base).unwrap();
        assert_eq!(peer.role, net::Role::Peer);
        let lat = sim::latency::LatencyModel::build(&s.network.latency, 3);
        for (j, d) in peer.pair_delay.iter().enumerate() {
            let want = if j == 2 { Time::from_millis(7) } else { lat.latency(5, j as u32) };
            assert_eq!(*d, want, "pair (5, {j})");
        }
    }

    #[test]
    fn a_real_node_replays_its_simulated_node() {
        let s = sc("[network.latency]\nmodel = \"uniform\"\nmin_ms = 10\nmax_ms = 90\n\
                    [[timeline]]\nat_s = 5\nevent = \"source-down\"\n[[attack]]\nkind = \"polluter\"\ncount = 10\n");
        let base: std::net::SocketAddrV4 = "127.9.0.0:4000".parse().unwrap();
        let r = crate::peer_cmd::replay(&s, 3, 7, base).unwrap();
        assert_eq!(r.role, net::Role::Peer);
        assert!(matches!(r.behaviour, protocols::adversary::Behaviour::Polluter { .. }));
        let lat = sim::latency::LatencyModel::build(&s.network.latency, 7);
        assert_eq!(r.pair_delay.len(), churn::population(&s, 7).len());
        for (j, d) in r.pair_delay.iter().enumerate() {
            assert_eq!(*d, lat.latency(3, j as u32));
        }
        assert!(
            r.events
                .iter()
                .any(|(t, e)| *t == Time::from_secs(5) && matches!(e, net::LinkEvent::Sever(v) if v[1] && !v[0]))
        );
        let e = crate::peer_cmd::replay(&s, 99, 7, base).err().unwrap();
        assert!(e.contains("--node 99"), "{e}");
    }
}
