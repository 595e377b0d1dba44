//! `swarmlab bench`: the scale benchmark (issue 7).
//!
//! Runs each protocol's scale scenario (`scenarios/scale/<protocol>.toml`) at
//! each population N: `peers.count = N` and, with Poisson churn,
//! `churn.arrival_rate_per_s = N / churn.session_mean_s`, so that arrivals
//! balance departures and the population stays near N (Little's law). Every
//! run happens in a child process (this binary, `bench --child`), one at a
//! time, so that each run's peak resident memory (`VmHWM` of
//! `/proc/self/status`, Linux) is its own and each run has one core.
//!
//! Recorded per run, in `OUT/scale.csv` (rows of earlier invocations for
//! other configurations are kept, so the big runs can be done one by one):
//! wall time, simulated seconds per wall second, engine events and events
//! per wall second, peak RSS and peak RSS / N ("bytes per peer"), peers that
//! joined in all, the pooled continuity (a sanity check that the protocol
//! still works at that size), the commit, and the 1-minute load average
//! before and after the run (the machine may be shared). `OUT/scale.svg`,
//! `.pdf` and `.png` plot wall time and peak memory against N, log-log
//! (`--replot` redraws them from `OUT/scale.csv` without running anything).
//! `OUT` defaults to `target/swarmlab-bench`: the recorded results in
//! `results/scale/` change only when `--out results/scale` is given.
//!
//! Wall time is measured here and only here: it goes to the benchmark CSV,
//! never into a run's deterministic outputs (the simulation itself reads no
//! clock). Exit status: 0 when every run finished, 1 when a run or a write
//! failed, 2 for bad arguments or a bad scenario.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;

/// Arguments of `swarmlab bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Populations to run (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000u32, 10_000, 100_000])]
    pub peers: Vec<u32>,
    /// Protocols to run (comma-separated): scenario files `<DIR>/<protocol>.toml`
    /// [default: every registered family with such a file].
    #[arg(long, value_delimiter = ',')]
    pub protocols: Vec<String>,
    /// Directory of the scale scenarios.
    #[arg(long, default_value = "scenarios/scale")]
    pub scenarios: PathBuf,
    /// Simulated seconds [default: the scenario's `duration_s`, 600].
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Where scale.csv and the plot go (the recorded results: `--out results/scale`).
    #[arg(long, default_value = "target/swarmlab-bench")]
    pub out: PathBuf,
    /// Do not draw the plot.
    #[arg(long, conflicts_with = "replot")]
    pub no_plot: bool,
    /// Run nothing: redraw the plot from OUT/scale.csv.
    #[arg(long)]
    pub replot: bool,
    /// Engine threads of each run (comma-separated: each count is a row)
    /// [default: one per core].
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Vec<u32>,
    /// Internal: run one configuration in this process and print its figures.
    #[arg(long, hide = true)]
    pub child: bool,
}

/// Columns of scale.csv.
const HEADER: &[&str] = &[
    "protocol",
    "peers",
    "sim_s",
    "wall_s",
    "sim_s_per_wall_s",
    "events",
    "events_per_s",
    "peak_rss_bytes",
    "bytes_per_peer",
    "peers_joined",
    "continuity_pooled",
    "commit",
    "load1_before",
    "load1_after",
    "threads",
    "cpu_s",
    "windows",
    "part_imbalance",
];

/// Cores of this machine (1 when unknown): the default thread count.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn main(mut a: Args) -> ExitCode {
    if a.child {
        return child(&a);
    }
    if a.replot {
        let csv_path = a.out.join("scale.csv");
        let rows = read_rows(&csv_path);
        if rows.is_empty() {
            eprintln!("error: {}: no rows to plot (run the benchmark first)", csv_path.display());
            return ExitCode::from(2);
        }
        return match plot(&rows, &a.out) {
            Ok(()) => {
                println!("wrote {}.{{svg,pdf,png}} from {}", a.out.join("scale").display(), csv_path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: plot: {e}");
                ExitCode::from(1)
            }
        };
    }
    if a.protocols.is_empty() {
        let reg = sim::registry::current();
        a.protocols = reg
            .family_names()
            .into_iter()
            .filter(|p| scenario_path(&a.scenarios, p).is_file())
            .map(str::to_string)
            .collect();
    }
    if a.threads.is_empty() {
        a.threads = vec![cores() as u32];
    }
    if a.peers.is_empty() || a.protocols.is_empty() || a.peers.contains(&0) {
        eprintln!("error: --peers and --protocols need at least one value each, and populations must be positive");
        return ExitCode::from(2);
    }
    for p in &a.protocols {
        let path = scenario_path(&a.scenarios, p);
        if let Err(e) = configure(&path, 1, a.duration_s) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        eprintln!("error: cannot create {}: {e}", a.out.display());
        return ExitCode::from(1);
    }
    let csv_path = a.out.join("scale.csv");
    // Filled from the file before each write (below), which is the truth.
    let mut rows = Vec::new();
    let commit = crate::manifest::git_commit();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find this executable to start child runs: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "{:<10} {:>8} {:>7} {:>9} {:>9} {:>10} {:>10} {:>9} {:>11} {:>10}",
        "protocol", "peers", "threads", "wall s", "cpu s", "sim-s/s", "M ev/s", "peak MB", "bytes/peer", "continuity"
    );
    for &n in &a.peers {
        for p in &a.protocols {
            for &threads in &a.threads {
                let load_before = load1();
                let mut cmd = std::process::Command::new(&exe);
                cmd.args(["bench", "--child", "--protocols", p, "--peers", &n.to_string(), "--scenarios"])
                    .arg(&a.scenarios)
                    .args(["--threads", &threads.to_string()]);
                if let Some(d) = a.duration_s {
                    cmd.args(["--duration-s", &d.to_string()]);
                }
                let out = match cmd.stderr(std::process::Stdio::inherit()).output() {
                    Ok(o) if o.status.success() => o,
                    Ok(o) => {
                        eprintln!("error: the run of {p} at {n} peers failed ({})", o.status);
                        return ExitCode::from(1);
                    }
                    Err(e) => {
                        eprintln!("error: cannot start the run of {p} at {n} peers: {e}");
                        return ExitCode::from(1);
                    }
                };
                let Some(r) = parse_child(&String::from_utf8_lossy(&out.stdout)) else {
                    eprintln!("error: the run of {p} at {n} peers printed no result line");
                    return ExitCode::from(1);
                };
                let load_after = load1();
                let row = Row {
                    protocol: p.clone(),
                    peers: n,
                    threads,
                    run: r,
                    commit: commit.clone(),
                    load_before,
                    load_after,
                };
                println!(
                    "{:<10} {:>8} {:>7} {:>9.1} {:>9.1} {:>10.1} {:>10.2} {:>9.1} {:>11.0} {:>10}",
                    row.protocol,
                    row.peers,
                    row.threads,
                    row.run.wall_s,
                    row.run.cpu_s.unwrap_or(f64::NAN),
                    row.run.sim_s / row.run.wall_s,
                    row.run.events as f64 / row.run.wall_s / 1e6,
                    row.run.peak_rss as f64 / 1e6,
                    row.run.peak_rss as f64 / n as f64,
                    row.run.continuity.map_or("-".into(), |c| format!("{c:.4}")),
                );
                // Re-read first: another benchmark may have written rows to the
                // same file meanwhile (a short race remains; there is no lock).
                rows = read_rows(&csv_path);
                rows.retain(|x| {
                    !(x.protocol == row.protocol
                        && x.peers == row.peers
                        && x.run.sim_s == row.run.sim_s
                        && x.threads == row.threads)
                });
                rows.push(row);
                rows.sort_by(|x, y| order(x).partial_cmp(&order(y)).unwrap_or(std::cmp::Ordering::Equal));
                // Written after every run: an interrupted benchmark keeps what finished.
                if let Err(e) = analysis::output::write_atomic(&csv_path, &write_rows(&rows)) {
                    eprintln!("error: cannot write {}: {e}", csv_path.display());
                    return ExitCode::from(1);
                }
            }
        }
    }
    println!("wrote {}", csv_path.display());
    if !a.no_plot {
        if let Err(e) = plot(&rows, &a.out) {
            eprintln!("error: plot: {e}");
            return ExitCode::from(1);
        }
        println!("wrote {}.{{svg,pdf,png}}", a.out.join("scale").display());
    }
    ExitCode::SUCCESS
}

/// Sort key of scale.csv rows: registered families in registration order
/// (mesh-pull, tree-push, hybrid first), then others by name.
fn order(r: &Row) -> (usize, &str, u32, f64, u32) {
    let names = sim::registry::current().family_names().iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let rank = names.iter().position(|p| *p == r.protocol).unwrap_or(names.len());
    (rank, r.protocol.as_str(), r.peers, r.run.sim_s, r.threads)
}

fn scenario_path(dir: &Path, protocol: &str) -> PathBuf {
    dir.join(format!("{protocol}.toml"))
}

/// The scale scenario of `path` at `n` peers (and `duration_s`, when given).
fn configure(path: &Path, n: u32, duration_s: Option<f64>) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut t: toml::Table = text.parse().map_err(|e| format!("{}: {e}", path.display()))?;
    let table = |t: &mut toml::Table, k: &str| -> Result<toml::Table, String> {
        match t.get(k) {
            Some(toml::Value::Table(x)) => Ok(x.clone()),
            None => Ok(toml::Table::new()),
            Some(_) => Err(format!("{}: `{k}` is not a table", path.display())),
        }
    };
    let mut peers = table(&mut t, "peers")?;
    peers.insert("count".into(), toml::Value::Integer(n as i64));
    t.insert("peers".into(), toml::Value::Table(peers));
    let mut churn = table(&mut t, "churn")?;
    if churn.get("model").and_then(|m| m.as_str()) == Some("poisson") {
        let session = churn.get("session_mean_s").and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)));
        let session = session.unwrap_or(600.0);
        churn.insert("arrival_rate_per_s".into(), toml::Value::Float(n as f64 / session));
    }
    t.insert("churn".into(), toml::Value::Table(churn));
    if let Some(d) = duration_s {
        t.insert("duration_s".into(), toml::Value::Float(d));
    }
    let text = toml::to_string(&t).map_err(|e| format!("{}: {e}", path.display()))?;
    Scenario::parse(&path.display().to_string(), &text).map_err(|e| e.to_string())
}

/// One configuration, run in this (child) process.
fn child(a: &Args) -> ExitCode {
    let (Some(p), Some(&n)) = (a.protocols.first(), a.peers.first()) else {
        eprintln!("error: --child needs one protocol and one population");
        return ExitCode::from(2);
    };
    let sc = match configure(&scenario_path(&a.scenarios, p), n, a.duration_s) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let threads = a.threads.first().map_or_else(cores, |&t| t as usize);
    let opts = RunOptions { name: format!("scale-{p}-{n}"), seed: sc.seed, threads, draw: 0 };
    // The benchmark harness measures wall time; nothing it measures reaches
    // the run's outputs (they are not even written).
    #[allow(clippy::disallowed_methods, reason = "the scale benchmark measures wall time")]
    let started = std::time::Instant::now();
    let report = runner::run(&sc, &opts, &mut |_, _| {});
    let wall = started.elapsed().as_secs_f64();
    let peak = peak_rss().unwrap_or(0);
    let cpu = cpu_seconds().map_or(String::new(), |c| format!("{c:.2}"));
    let parts = &report.info.part_events;
    let mean = parts.iter().sum::<u64>() as f64 / parts.len().max(1) as f64;
    let imbalance = parts.iter().copied().max().unwrap_or(0) as f64 / mean.max(1.0);
    println!(
        "RESULT sim_s={} wall_s={wall:.3} cpu_s={cpu} windows={} imbalance={imbalance:.4} events={} peak_rss={peak} peers_joined={} continuity={}",
        report.info.end.as_secs_f64(),
        report.info.windows,
        report.info.events,
        report.get("peers_joined").unwrap_or(0.0),
        report.get("continuity_pooled").map_or("".into(), |c| format!("{c:.6}")),
    );
    ExitCode::SUCCESS
}

/// Peak resident set size of this process, bytes (`VmHWM`, Linux only).
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system, every thread) of this process so far, seconds
/// (Linux: `/proc/self/stat`, in the kernel's fixed 100 ticks per second).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses;
    // utime and stime are fields 14 and 15 of the whole line.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The 1-minute load average (Linux), or NaN.
fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// What one child run measured (its `RESULT` line, or a row of scale.csv).
struct ChildResult {
    sim_s: f64,
    wall_s: f64,
    /// CPU time of the child (every thread), when known.
    cpu_s: Option<f64>,
    /// Windows the engine advanced in, and the busiest part's events over
    /// the mean part's (1: perfect balance), when known.
    windows: Option<u64>,
    imbalance: Option<f64>,
    events: u64,
    peak_rss: u64,
    peers_joined: u64,
    continuity: Option<f64>,
}

fn parse_child(out: &str) -> Option<ChildResult> {
    let line = out.lines().find(|l| l.starts_with("RESULT "))?;
    let get = |k: &str| line.split_whitespace().find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='));
    Some(ChildResult {
        sim_s: get("sim_s")?.parse().ok()?,
        wall_s: get("wall_s")?.parse().ok()?,
        cpu_s: get("cpu_s").and_then(|c| c.parse().ok()),
        windows: get("windows").and_then(|c| c.parse().ok()),
        imbalance: get("imbalance").and_then(|c| c.parse().ok()),
        events: get("events")?.parse().ok()?,
        peak_rss: get("peak_rss")?.parse().ok()?,
        peers_joined: get("peers_joined")?.parse::<f64>().ok()? as u64,
        continuity: get("continuity").and_then(|c| c.parse().ok()),
    })
}

struct Row {
    protocol: String,
    peers: u32,
    /// Engine threads (1 for rows measured before the engine had threads).
    threads: u32,
    run: ChildResult,
    commit: String,
    load_before: f64,
    load_after: f64,
}

fn write_rows(rows: &[Row]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(HEADER);
    for r in rows {
        let _ = w.write_record([
            r.protocol.clone(),
            r.peers.to_string(),
            format!("{}", r.run.sim_s),
            format!("{:.3}", r.run.wall_s),
            format!("{:.3}", r.run.sim_s / r.run.wall_s),
            r.run.events.to_string(),
            format!("{:.0}", r.run.events as f64 / r.run.wall_s),
            r.run.peak_rss.to_string(),
            format!("{:.0}", r.run.peak_rss as f64 / r.peers as f64),
            r.run.peers_joined.to_string(),
            r.run.continuity.map_or(String::new(), |c| format!("{c:.4}")),
            r.commit.clone(),
            format!("{:.2}", r.load_before),
            format!("{:.2}", r.load_after),
            r.threads.to_string(),
            r.run.cpu_s.map_or(String::new(), |c| format!("{c:.2}")),
            r.run.windows.map_or(String::new(), |c| c.to_string()),
            r.run.imbalance.map_or(String::new(), |c| format!("{c:.4}")),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// Rows of an existing scale.csv (none if it is missing or unreadable).
fn read_rows(path: &Path) -> Vec<Row> {
    let Ok(mut rd) = csv::Reader::from_path(path) else { return Vec::new() };
    let Ok(h) = rd.headers().cloned() else { return Vec::new() };
    let col = |name: &str| h.iter().position(|x| x == name);
    let mut rows = Vec::new();
    for rec in rd.records().flatten() {
        let f = |name: &str| col(name).and_then(|i| rec.get(i)).unwrap_or("");
        let (Ok(peers), Ok(sim_s), Ok(wall_s), Ok(events), Ok(peak_rss)) = (
            f("peers").parse(),
            f("sim_s").parse(),
            f("wall_s").parse(),
            f("events").parse(),
            f("peak_rss_bytes").parse(),
        ) else {
            continue;
        };
        rows.push(Row {
            protocol: f("protocol").to_string(),
            peers,
            threads: f("threads").parse().unwrap_or(1),
            run: ChildResult {
                sim_s,
                wall_s,
                cpu_s: f("cpu_s").parse().ok(),
                windows: f("windows").parse().ok(),
                imbalance: f("part_imbalance").parse().ok(),
                events,
                peak_rss,
                peers_joined: f("peers_joined").parse().unwrap_or(0),
                continuity: f("continuity_pooled").parse().ok(),
            },
            commit: f("commit").to_string(),
            load_before: f("load1_before").parse().unwrap_or(f64::NAN),
            load_after: f("load1_after").parse().unwrap_or(f64::NAN),
        });
    }
    rows
}

/// Log-log plot (`scale.svg`, `.pdf`, `.png`): wall time and peak RSS
/// against the population, one line per protocol (rows of the longest
/// simulated duration only), in the style of `swarmlab plot`.
fn plot(rows: &[Row], out: &Path) -> Result<(), String> {
    crate::plot::register_font()?;
    let sim_s = rows.iter().map(|r| r.run.sim_s).fold(0.0, f64::max);
    let mut lines: Vec<(String, Vec<crate::plot::ScalePoint>)> = Vec::new();
    // One line per protocol and thread count.
    for r in rows.iter().filter(|r| r.run.sim_s == sim_s) {
        let p = (r.peers as f64, r.run.wall_s, r.run.peak_rss as f64);
        let name = match r.threads {
            1 => r.protocol.clone(),
            t => format!("{} ({t} threads)", r.protocol),
        };
        match lines.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(p),
            None => lines.push((name, vec![p])),
        }
    }
    let fig = crate::plot::Figure::Scale(crate::plot::ScaleFig { sim_s, lines });
    crate::plot::save(&fig, out, "scale", crate::plot::Formats::default()).map(|_| ())
}
