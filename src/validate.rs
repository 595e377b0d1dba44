//! `swarmlab validate SCENARIO`: the simulator versus a real swarm on loopback.
//!
//! The scenario runs twice with the same seed: once in the simulator, once as
//! N real `swarmlab peer` processes (this executable) on 127.0.0.1. The real
//! run uses the simulator's own population (`sim::churn::population`): each
//! node's process starts at its join time with its class's upload and download
//! rates, the scenario's constant one-way delay and per-datagram loss applied
//! by the host's user-space impairment layer, and leaves at its departure time
//! (crash: SIGKILL; graceful: SIGTERM, which the host turns into a graceful
//! `Leave`). The processes' record files are then fed through the same
//! `analysis::Collector` and metric code as the simulator's records, and both
//! metric sets are printed side by side.
//!
//! Verdict (documented tolerances): `continuity_mean` within 0.02 (absolute)
//! and `lag_p50` within 15% (relative) of the simulator. Exit status 0 when
//! both hold, 1 when not, 2 for bad input.
//!
//! `--netns` (Linux, root): each process runs in its own network namespace
//! on a bridge, its rates shaped by the kernel (`tc tbf`) and its loss by
//! nftables; only the delay stays in user space (see `src/netns.rs`).
//!
//! Limits: constant latency only (the host applies one delay per sender, not
//! per pair); no timeline events or bandwidth modulation (the real run cannot
//! replay them yet).

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
use sim::latency::LatencySpec;
use sim::runner::{self, RunOptions};
use sim::scenario::{BandwidthModel, Scenario};

/// Tolerances of the verdict.
pub const CONTINUITY_TOL: f64 = 0.02;
pub const LAG_REL_TOL: f64 = 0.15;

/// Run a scenario in the simulator and as real peer processes on loopback; compare.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario file (TOML): constant latency, no timeline, at most 200 peers.
    pub scenario: PathBuf,
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
    /// tbf` rates, nftables loss; the delay stays in user space). Linux, root,
    /// `ip`, `tc` and `nft` needed.
    #[arg(long)]
    pub netns: bool,
}

fn free_port() -> std::io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
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
fn real_report(sim: &Report, specs: &[NodeSpec], logs: &[NodeLog], end: Time) -> Report {
    let mut c = Collector::new(sim.stream);
    c.set_bucket(sim.bucket);
    let mut traffic = analysis::Traffic::default();
    for (i, (s, log)) in specs.iter().zip(logs).enumerate() {
        let id = PeerId(i as u32);
        c.join(id, s.role, s.class, s.up_bps, s.join);
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

fn check(sc: &Scenario) -> Result<f64, String> {
    if !sc.timeline.is_empty() {
        return Err("validate does not replay [[timeline]] events yet: remove them".into());
    }
    if sc.bandwidth.model != BandwidthModel::Constant {
        return Err("validate does not replay [bandwidth] modulation yet: remove it".into());
    }
    let n = *sc.peers.count.get_ref();
    if n > 200 {
        return Err(format!("validate runs one process per peer: {n} peers is too many for one machine (max 200)"));
    }
    match sc.network.latency {
        LatencySpec::Constant { ms } => Ok(ms),
        _ => {
            Err("validate supports only [network.latency] model = \"constant\" (the host adds one delay per sender)"
                .into())
        }
    }
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

/// Runs the real swarm (in namespaces with kernel shaping when `net` is
/// given); returns the per-node logs.
#[allow(clippy::too_many_arguments)]
fn run_real(
    sc_path: &Path,
    sc: &Scenario,
    specs: &[NodeSpec],
    seed: u64,
    delay_ms: f64,
    dir: &Path,
    lead_s: f64,
    net: Option<&crate::netns::Net>,
) -> Result<Vec<NodeLog>, String> {
    if specs.iter().any(|s| s.role == NodeRole::Edge) {
        return Err(format!("family `{}` needs a CDN edge node, which the UDP host does not run", sc.protocol.name));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let end_s = sc.duration_s.0;
    let role_index = |r: NodeRole| specs.iter().position(|s| s.role == r).unwrap_or(0);
    let (tracker, source) = if net.is_some() {
        (
            format!("{}:7000", crate::netns::addr(role_index(NodeRole::Tracker))),
            format!("{}:7000", crate::netns::addr(role_index(NodeRole::Source))),
        )
    } else {
        let (tp, sp) = (free_port().map_err(|e| e.to_string())?, free_port().map_err(|e| e.to_string())?);
        (format!("127.0.0.1:{tp}"), format!("127.0.0.1:{sp}"))
    };
    let epoch_ns = wall_now() + (lead_s.max(0.5) * 1e9) as u64;
    let epoch_s = format!("{:.6}", epoch_ns as f64 / 1e9);
    // (wall time, node, action): 0 start, 1 graceful leave, 2 crash.
    let mut plan: Vec<(u64, usize, u8)> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let start = (epoch_ns + s.join.as_nanos()).saturating_sub(1_000_000_000);
        plan.push((start, i, 0));
        if let Some((at, graceful)) = s.leave {
            plan.push((epoch_ns + at.as_nanos(), i, if graceful { 1 } else { 2 }));
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
            0 => {
                let (role, bind) = match s.role {
                    NodeRole::Tracker => ("tracker", tracker.clone()),
                    NodeRole::Source => ("source", source.clone()),
                    NodeRole::Peer if net.is_some() => ("peer", format!("{}:7000", crate::netns::addr(i))),
                    NodeRole::Peer | NodeRole::Edge => ("peer", "127.0.0.1:0".to_string()),
                };
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
                    "--delay-ms".into(),
                    format!("{delay_ms}"),
                    "--loss".into(),
                    format!("{}", if net.is_some() { 0.0 } else { sc.network.loss.0 }),
                    "--seed".into(),
                    format!("{}", seed.wrapping_mul(1_000_003).wrapping_add(i as u64)),
                    "--media-seed".into(),
                    format!("{seed}"),
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
            1 => {
                if let Some(p) = &procs[i] {
                    signal(p.child.id(), "TERM");
                }
            }
            _ => {
                if let Some(p) = procs[i].as_mut() {
                    let _ = p.child.kill();
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
];

/// One row: metric, simulator, real, |real - sim|, |real - sim| / |sim|.
pub type Row = (String, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

/// The side-by-side rows of [`SHOWN`].
pub fn rows(sim: &Report, real: &Report) -> Vec<Row> {
    SHOWN
        .iter()
        .map(|&name| {
            let (a, b) = (sim.get(name), real.get(name));
            let abs = a.zip(b).map(|(a, b)| (b - a).abs());
            let rel = a.zip(abs).and_then(|(a, d)| (a.abs() > 0.0).then(|| d / a.abs()));
            (name.to_string(), a, b, abs, rel)
        })
        .collect()
}

/// The verdict: (continuity ok, lag ok).
pub fn verdict(sim: &Report, real: &Report) -> (bool, bool) {
    let c = sim
        .get("continuity_mean")
        .zip(real.get("continuity_mean"))
        .is_some_and(|(a, b)| (a - b).abs() <= CONTINUITY_TOL);
    let l =
        sim.get("lag_p50").zip(real.get("lag_p50")).is_some_and(|(a, b)| a > 0.0 && (a - b).abs() / a <= LAG_REL_TOL);
    (c, l)
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.4}"))
}

pub fn main(a: Args) -> ExitCode {
    let (mut sc, text) = match Scenario::load(&a.scenario) {
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
    let delay_ms = match check(&sc) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}: {e}", a.scenario.display());
            return ExitCode::from(2);
        }
    };
    let name = sc.display_name(&a.scenario);
    let seed = a.seed.unwrap_or(sc.seed);
    let out =
        a.out.clone().unwrap_or_else(|| PathBuf::from("swarmlab-out").join(format!("{name}-validate-seed{seed}")));
    eprintln!("simulating {name} (seed {seed}) ...");
    let sim = runner::run(&sc, &RunOptions { name: name.clone(), seed }, &mut |_, _| {});
    let specs = churn::population(&sc, seed);
    let net = if a.netns {
        let stale = crate::netns::cleanup_stale();
        if stale > 0 {
            eprintln!("deleted {stale} stale swl* network namespaces of dead runs");
        }
        let links: Vec<crate::netns::Link> = specs
            .iter()
            .map(|s| crate::netns::Link { up_bps: s.up_bps, down_bps: s.down_bps, loss: sc.network.loss.0 })
            .collect();
        match crate::netns::Net::setup(&links) {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("error: cannot set up the network namespaces: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let mode = match &net {
        Some(n) => format!(
            "netns (one network namespace per process, {}*; rates by tc tbf, loss by nftables, delay in user space)",
            n.prefix()
        ),
        None => "loopback (127.0.0.1; rates, loss and delay in user space)".to_string(),
    };
    eprintln!(
        "running {} real processes, {mode}, for {:.0} s (records in {}) ...",
        specs.len(),
        sc.duration_s.0,
        out.join("records").display()
    );
    let logs = match run_real(&a.scenario, &sc, &specs, seed, delay_ms, &out.join("records"), a.lead_s, net.as_ref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let kernel_lost = net.as_ref().map(|n| n.lost());
    drop(net);
    let real = real_report(&sim, &specs, &logs, Time::from_secs_f64(sc.duration_s.0));
    let rows = rows(&sim, &real);
    let (c_ok, l_ok) = verdict(&sim, &real);
    let mut table = String::new();
    table.push_str(&format!(
        "{:<22} {:>12} {:>12} {:>10} {:>9}\n",
        "metric", "simulator", "real (udp)", "abs diff", "rel diff"
    ));
    for (n, s, r, d, rel) in &rows {
        let rel = rel.map_or("-".into(), |x| format!("{:.1}%", x * 100.0));
        table.push_str(&format!("{n:<22} {:>12} {:>12} {:>10} {rel:>9}\n", fmt(*s), fmt(*r), fmt(*d)));
    }
    let drops: u64 = logs
        .iter()
        .flat_map(|l| l.stats.iter())
        .filter(|(k, _)| k.starts_with("drop_") && k != "drop_duplicate_fragment")
        .map(|(_, v)| v)
        .sum();
    let lost: u64 = kernel_lost.unwrap_or_else(|| {
        logs.iter().flat_map(|l| l.stats.iter()).filter(|(k, _)| k == "impairment_lost").map(|(_, v)| v).sum()
    });
    table.push_str(&format!(
        "\nreal run: {} processes, {lost} datagrams lost by impairment{}, {drops} datagrams dropped by hosts\n",
        specs.len(),
        if kernel_lost.is_some() { " (nftables)" } else { "" }
    ));
    table.push_str(&format!("mode: {mode}\n"));
    table.push_str(&format!(
        "verdict: continuity_mean within {CONTINUITY_TOL}: {}; lag_p50 within {:.0}%: {} => {}\n",
        if c_ok { "yes" } else { "NO" },
        LAG_REL_TOL * 100.0,
        if l_ok { "yes" } else { "NO" },
        if c_ok && l_ok { "PASS" } else { "FAIL" }
    ));
    print!("{table}");
    let written = (|| -> std::io::Result<()> {
        analysis::output::write_run(&sim, &out.join("sim"))?;
        analysis::output::write_run(&real, &out.join("real"))?;
        let mut csv = String::from("metric,simulator,real,abs_diff,rel_diff\n");
        let o = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
        for (n, s, r, d, rel) in &rows {
            csv.push_str(&format!("{n},{},{},{},{}\n", o(*s), o(*r), o(*d), o(*rel)));
        }
        analysis::output::write_atomic(&out.join("validate.csv"), csv.as_bytes())?;
        analysis::output::write_atomic(&out.join("validate.txt"), table.as_bytes())?;
        crate::manifest::write(&out, &a.scenario, &text, &[seed])?;
        let mut m = std::fs::OpenOptions::new().append(true).open(out.join("manifest.toml"))?;
        writeln!(m, "validate_mode = \"{}\"", if a.netns { "netns" } else { "loopback" })
    })();
    if let Err(e) = written {
        eprintln!("error: cannot write results to {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let _ = writeln!(std::io::stdout(), "\nwrote {}", out.display());
    if c_ok && l_ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
