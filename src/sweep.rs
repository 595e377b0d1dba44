//! `swarmlab sweep` and `swarmlab merge`: parameter sweeps for papers, resumable,
//! parallel, and split into shards for clusters.
//!
//! # The sweep file
//!
//! ```toml
//! scenario = "quickstart.toml"   # path relative to the sweep file
//! reps = 3                        # seeds scenario.seed .. scenario.seed + reps - 1 (default: the scenario's reps)
//! [grid]                          # dotted scenario keys -> lists of values; the grid is their cartesian product
//! "peers.count" = [100, 200]
//! "protocol.scheduler" = ["donet", "edf"]
//! ```
//!
//! Any scenario key can be swept: a grid point is applied by parsing the
//! scenario into a TOML table, setting each dotted key (tables are created as
//! needed; a number selects an entry of an array of tables, as in
//! `"peers.classes.0.up_kbps"`), writing the table back to text and validating
//! it like a scenario file. A key the scenario format does not know is an error
//! that names the grid key; a bad value is an error that names the key and the
//! grid point. Unquoted dotted keys (`peers.count = [...]`) mean the same as
//! quoted ones.
//!
//! Points are numbered in the cartesian product of the grid keys in file order,
//! the last key varying fastest (above: 0 = 100/donet, 1 = 100/edf,
//! 2 = 200/donet, 3 = 200/edf). Jobs are points x seeds in that order, seeds
//! ascending: job `k` is point `k / reps`, seed `seed + k % reps`.
//!
//! # The output directory
//!
//! ```text
//! DIR/manifest.toml                       provenance and the job plan (read by `swarmlab merge`)
//! DIR/jobs/<hash>-p<point>-s<seed>/       one finished job: summary.csv, peers.csv, ... and `done`
//! DIR/sweep.csv                           one row per point x metric
//! ```
//!
//! A job is keyed by (scenario, point, seed): `<hash>` is the FNV-1a 64-bit hash
//! of the scenario name and the point's scenario text (the base scenario with
//! the point applied), so editing the scenario or a grid value gives new job
//! directories instead of reusing stale results. Each job writes its files
//! atomically (temporary `*.pending` file, then rename), flushes them to disk,
//! and writes the `done` marker last, the same way. When a sweep starts, jobs
//! whose `done` marker exists are skipped and every other job directory is
//! cleared and run again: a sweep stopped by Ctrl-C, `kill` or a cluster time
//! limit resumes with the same command, without duplicate or missing rows.
//!
//! `sweep.csv` is tidy: columns `scenario, point, <one column per grid key,
//! named by the dotted key>, metric, n, mean, sd, ci95_low, ci95_high, unit,
//! seeds`, one row per point and metric, over the done jobs of the point (`n`
//! and `seeds` say which). It is computed from the job directories in job
//! order, so its bytes are the same whatever the thread count, the sharding,
//! or how many times the sweep was interrupted and resumed.
//!
//! `manifest.toml` records (as in `run` and `compare` outputs, see
//! `src/manifest.rs`) the swarmlab version, the git commit of the source tree
//! the binary was built from (`git rev-parse HEAD`, run when the sweep starts;
//! `-dirty` when the tree had uncommitted changes, `unknown` without git), the
//! command line, the scenario file and its hash, the seeds, and the plan: the
//! grid and every point with its values, hash and seeds. It is provenance, not a result: compare `sweep.csv` and the
//! job files, not manifests.
//!
//! # Shards, clusters and `merge`
//!
//! `--shard I/N` runs only the jobs whose index modulo N is I; give each shard
//! its own `--out` (shards sharing one directory would race on `sweep.csv`).
//! `swarmlab merge DIR... --out DIR` copies the done jobs of shard directories
//! into one directory (which may be one of them) and writes its `sweep.csv`,
//! byte for byte the one an unsharded run gives. Merge refuses directories
//! that hold different sweeps, and exits 1 (after writing what it has) when
//! some jobs are done in none of them.
//!
//! As a Slurm job array, `sweep.sbatch` (16 tasks, each on 4 cores; `swarmlab`
//! must be on the nodes' PATH, e.g. `cargo install --path . --locked`, or
//! write the full path of `target/release/swarmlab`):
//!
//! ```sh
//! #!/bin/bash
//! #SBATCH --job-name=swarmlab-sweep
//! #SBATCH --array=0-15
//! #SBATCH --cpus-per-task=4
//! #SBATCH --time=04:00:00
//! swarmlab sweep scenarios/sweep-example.toml --out sweep-out/shard-$SLURM_ARRAY_TASK_ID \
//!     --shard $SLURM_ARRAY_TASK_ID/16 --threads $SLURM_CPUS_PER_TASK --quiet
//! ```
//!
//! and submit it with the merge, which waits until every task has succeeded:
//!
//! ```sh
//! jobid=$(sbatch --parsable sweep.sbatch)
//! sbatch --dependency=afterok:$jobid --wrap "swarmlab merge sweep-out/shard-* --out sweep-out/all"
//! ```
//!
//! `.ci/run` runs this recipe on a single-node Slurm (`scripts/slurm-ci.sh`)
//! and checks that the merged files equal an unsharded sweep's byte for byte.
//!
//! A task that hit its time limit or failed is resubmitted as is
//! (`sbatch --array=7 sweep.sbatch`): it resumes and skips its done jobs.
//! `swarmlab sweep FILE --dry-run` prints the points and the number of jobs
//! without running anything, to size the array.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use analysis::output::write_atomic;
use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;
use toml::{Table, Value};

use crate::manifest::{fnv1a64, git_commit};

/// Arguments of `swarmlab sweep`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Sweep file (TOML): `scenario`, `reps` and a `[grid]` of dotted scenario keys
    /// (see scenarios/sweep-example.toml).
    pub sweep: PathBuf,
    /// Output directory [default: swarmlab-out/<sweep file stem>]. Running again
    /// into the same directory resumes: done jobs are skipped.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only the jobs whose index modulo N is I (0 <= I < N), e.g.
    /// `--shard $SLURM_ARRAY_TASK_ID/16`; combine shards with `swarmlab merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Worker threads [default: RAYON_NUM_THREADS, or one per core].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
    /// Check the sweep file and print its points and jobs without running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not print a line for each finished job.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `swarmlab merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Output directories of `swarmlab sweep` (typically one per shard).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Directory to merge into (created if needed; it may be one of the inputs).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// One shard of a sweep: the jobs whose index modulo `count` is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// Parses `I/N` with `0 <= I < N`.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let Some((i, n)) = s.split_once('/') else {
        return Err("expected I/N, e.g. 0/4 for the first of four shards".into());
    };
    let num = |x: &str, what: &str| {
        x.trim().parse::<u64>().map_err(|_| format!("the shard {what} `{x}` is not a whole number >= 0 (expected I/N)"))
    };
    let (index, count) = (num(i, "index")?, num(n, "count")?);
    if count == 0 {
        return Err("the shard count must be at least 1".into());
    }
    if index >= count {
        return Err(format!(
            "shard index {index} must be below the shard count {count} (shards are numbered 0 to {})",
            count - 1
        ));
    }
    Ok(Shard { index, count })
}

/// Why a command stopped: bad input (exit 2) or a failure while running (exit 1).
enum Fail {
    Input(String),
    Run(String),
}

impl Fail {
    fn exit(self) -> ExitCode {
        match self {
            Fail::Input(m) => {
                eprintln!("error: {m}");
                ExitCode::from(2)
            }
            Fail::Run(m) => {
                eprintln!("error: {m}");
                ExitCode::from(1)
            }
        }
    }
}

/// 1-based line and column of byte `offset` in `src`.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut o = offset.min(src.len());
    while !src.is_char_boundary(o) {
        o -= 1;
    }
    let before = &src[..o];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

fn place(file: &str, src: &str, span: Option<Range<usize>>) -> String {
    match span {
        Some(s) => {
            let (l, c) = line_col(src, s.start);
            format!("{file}:{l}:{c}")
        }
        None => file.to_string(),
    }
}

fn toml_error(file: &str, src: &str, e: &toml::de::Error) -> String {
    format!("{}: {}", place(file, src, e.span()), e.message().trim())
}

/// A parsed sweep file.
struct SweepFile {
    /// The sweep file as given on the command line.
    file: String,
    /// `scenario` as written, and resolved against the sweep file's directory.
    scenario_rel: String,
    scenario: PathBuf,
    reps: Option<u32>,
    /// Grid keys in file order with their values.
    grid: Vec<(String, Vec<Value>)>,
}

/// Leaf keys of a (spanned) grid table: segment path and the span of the key.
fn grid_leaves(t: &toml::de::DeTable<'_>, prefix: &[String], out: &mut Vec<(Vec<String>, Range<usize>)>) {
    for (k, v) in t.iter() {
        let mut path = prefix.to_vec();
        path.push(k.get_ref().to_string());
        match v.get_ref() {
            toml::de::DeValue::Table(inner) => grid_leaves(inner, &path, out),
            _ => out.push((path, k.span())),
        }
    }
}

fn parse_sweep_file(path: &Path, text: &str) -> Result<SweepFile, Fail> {
    let file = path.display().to_string();
    let doc = toml::de::DeTable::parse(text).map_err(|e| Fail::Input(toml_error(&file, text, &e)))?;
    let table: Table = toml::from_str(text).map_err(|e| Fail::Input(toml_error(&file, text, &e)))?;
    let at = |span: Range<usize>| place(&file, text, Some(span));
    let mut scenario = None;
    let mut reps = None;
    let mut leaves = Vec::new();
    for (k, v) in doc.get_ref().iter() {
        let key = k.get_ref().as_ref();
        let value = table.get(key);
        match key {
            "scenario" => match value.and_then(Value::as_str) {
                Some(s) if !s.is_empty() => scenario = Some(s.to_string()),
                _ => {
                    return Err(Fail::Input(format!(
                        "{}: key `scenario`: expected the path of a scenario file, relative to the sweep file \
                         (e.g. scenario = \"quickstart.toml\")",
                        at(v.span())
                    )));
                }
            },
            "reps" => match value.and_then(Value::as_integer) {
                Some(r) if (1..=10_000).contains(&r) => reps = Some(r as u32),
                _ => {
                    return Err(Fail::Input(format!(
                        "{}: key `reps`: invalid value {}: expected a whole number between 1 and 10000",
                        at(v.span()),
                        value.map(ToString::to_string).unwrap_or_default()
                    )));
                }
            },
            "grid" => match v.get_ref() {
                toml::de::DeValue::Table(g) => grid_leaves(g, &[], &mut leaves),
                _ => {
                    return Err(Fail::Input(format!(
                        "{}: `grid` must be a table of dotted scenario keys, e.g.\n\n[grid]\n\"peers.count\" = [100, 200]",
                        at(k.span())
                    )));
                }
            },
            other => {
                return Err(Fail::Input(format!(
                    "{}: unknown key `{other}`: a sweep file has `scenario`, `reps` and `[grid]`",
                    at(k.span())
                )));
            }
        }
    }
    let Some(scenario_rel) = scenario else {
        return Err(Fail::Input(format!(
            "{file}: missing `scenario`: name the scenario file to sweep, relative to the sweep file \
             (e.g. scenario = \"quickstart.toml\")"
        )));
    };
    leaves.sort_by_key(|(_, span)| span.start);
    let mut grid: Vec<(String, Vec<Value>)> = Vec::new();
    for (segments, span) in leaves {
        let key = segments.join(".");
        let mut v = table.get("grid");
        for s in &segments {
            v = v.and_then(|x| x.get(s.as_str()));
        }
        let values = match v {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            Some(Value::Array(_)) => {
                return Err(Fail::Input(format!("{}: grid key `{key}` has no values: list at least one", at(span))));
            }
            _ => {
                return Err(Fail::Input(format!(
                    "{}: grid key `{key}`: list its values in an array, e.g. \"{key}\" = [{}]",
                    at(span),
                    v.map(ToString::to_string).unwrap_or_default()
                )));
            }
        };
        if key.split('.').any(str::is_empty) {
            return Err(Fail::Input(format!("{}: grid key `{key}` has an empty part", at(span))));
        }
        if grid.iter().any(|(k, _)| *k == key) {
            return Err(Fail::Input(format!("{}: grid key `{key}` is given twice", at(span))));
        }
        grid.push((key, values));
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    Ok(SweepFile { file, scenario: dir.join(&scenario_rel), scenario_rel, reps, grid })
}

/// Sets dotted `key` in `root` to `v`, creating tables as needed; a numeric part
/// selects an entry of an array (of tables).
fn set_key(root: &mut Table, key: &str, v: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    set_in_table(root, &parts, 0, v)
}

/// Sets `parts[i..]` inside table `t` (which sits at `parts[..i]`).
fn set_in_table(t: &mut Table, parts: &[&str], i: usize, v: Value) -> Result<(), String> {
    if i + 1 == parts.len() {
        t.insert(parts[i].to_string(), v);
        return Ok(());
    }
    let slot = t.entry(parts[i].to_string()).or_insert_with(|| Value::Table(Table::new()));
    set_in_value(slot, parts, i + 1, v)
}

/// Sets `parts[i..]` inside `slot` (the value at `parts[..i]`).
fn set_in_value(slot: &mut Value, parts: &[&str], i: usize, v: Value) -> Result<(), String> {
    let here = parts[..i].join(".");
    match slot {
        Value::Table(t) => set_in_table(t, parts, i, v),
        Value::Array(a) => {
            let (part, len) = (parts[i], a.len());
            let idx: usize = part.parse().map_err(|_| {
                format!("`{here}` is an array: the next part must be an entry number below {len}, not `{part}`")
            })?;
            let e = a.get_mut(idx).ok_or_else(|| format!("`{here}` has {len} entries: entry {idx} does not exist"))?;
            if i + 1 == parts.len() {
                *e = v;
                Ok(())
            } else {
                set_in_value(e, parts, i + 1, v)
            }
        }
        other => {
            let t = other.type_str();
            let a = if t.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            Err(format!("`{here}` is {a} {t}, not a table"))
        }
    }
}

/// At most this many grid points, and this many jobs, in one sweep.
const MAX_POINTS: usize = 1_000_000;
const MAX_JOBS: usize = 10_000_000;

/// The marker a finished job writes last.
const DONE: &str = "done";

/// The jobs of a sweep, as recorded in `manifest.toml`: all that `merge`
/// needs to rebuild `sweep.csv`.
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    scenario_name: String,
    scenario_file: String,
    /// FNV-1a 64 of the scenario file's bytes.
    scenario_hash: u64,
    keys: Vec<String>,
    grid: Vec<Vec<Value>>,
    points: Vec<Point>,
}

/// One grid point: its values (in key order), the hash of its scenario text
/// and its seeds.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    params: Vec<Value>,
    hash: u64,
    seeds: Vec<u64>,
}

/// One job: a point and a seed; `index` is its place in the job order.
#[derive(Clone, Copy, Debug)]
struct Job {
    index: usize,
    point: usize,
    seed: u64,
}

impl Plan {
    /// Every job, points first, then seeds.
    fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for (p, point) in self.points.iter().enumerate() {
            for &seed in &point.seeds {
                jobs.push(Job { index: jobs.len(), point: p, seed });
            }
        }
        jobs
    }

    /// The job's directory name under `jobs/`.
    fn job_dir(&self, j: &Job) -> String {
        format!("{:016x}-p{}-s{}", self.points[j.point].hash, j.point, j.seed)
    }

    /// `key = value, ...` of a point, values in TOML syntax.
    fn describe(&self, p: usize) -> String {
        let params = &self.points[p].params;
        let parts: Vec<String> = self.keys.iter().zip(params).map(|(k, v)| format!("{k} = {v}")).collect();
        if parts.is_empty() { "the scenario as is".into() } else { parts.join(", ") }
    }

    /// Why `other` is not the same sweep, if it is not.
    fn differs(&self, other: &Plan) -> Option<String> {
        if self.scenario_name != other.scenario_name {
            return Some(format!("scenario `{}` vs `{}`", self.scenario_name, other.scenario_name));
        }
        if self.keys != other.keys || self.grid != other.grid {
            return Some(format!("grid keys {:?} vs {:?} or their values differ", self.keys, other.keys));
        }
        if self.points != other.points {
            return Some("the scenario text or the seeds differ".into());
        }
        None
    }
}

/// Builds every point's scenario and the plan.
fn build_plan(sf: &SweepFile) -> Result<(Plan, Vec<Scenario>), Fail> {
    let scen_file = sf.scenario.display().to_string();
    let text = std::fs::read_to_string(&sf.scenario).map_err(|e| {
        Fail::Input(format!("{}: scenario `{}`: cannot read {scen_file}: {e}", sf.file, sf.scenario_rel))
    })?;
    let base_sc = Scenario::parse(&scen_file, &text).map_err(|e| Fail::Input(e.to_string()))?;
    let name = base_sc.display_name(&sf.scenario);
    let base: Table = toml::from_str(&text).map_err(|e| Fail::Input(toml_error(&scen_file, &text, &e)))?;
    let to_text = |t: &Table| {
        toml::to_string(t).map_err(|e| Fail::Input(format!("{}: cannot write a grid point as TOML: {e}", sf.file)))
    };

    // Each grid key alone: a key the scenario format does not know is named as such.
    for (key, values) in &sf.grid {
        let mut t = base.clone();
        set_key(&mut t, key, values[0].clone())
            .map_err(|m| Fail::Input(format!("{}: grid key `{key}`: {m}", sf.file)))?;
        if let Err(e) = Scenario::parse(&scen_file, &to_text(&t)?)
            && e.message.contains("unknown field")
            && e.key.as_deref().is_some_and(|k| key == k || key.starts_with(&format!("{k}.")))
        {
            return Err(Fail::Input(format!("{}: grid key `{key}` is not a scenario key: {}", sf.file, e.message)));
        }
    }

    let keys: Vec<String> = sf.grid.iter().map(|(k, _)| k.clone()).collect();
    let counts: Vec<usize> = sf.grid.iter().map(|(_, v)| v.len()).collect();
    let total = counts
        .iter()
        .try_fold(1usize, |a, &n| a.checked_mul(n))
        .filter(|&n| n <= MAX_POINTS)
        .ok_or_else(|| Fail::Input(format!("{}: the grid has more than {MAX_POINTS} points", sf.file)))?;
    let mut plan = Plan {
        scenario_name: name.clone(),
        scenario_file: scen_file.clone(),
        scenario_hash: fnv1a64(text.as_bytes()),
        keys,
        grid: sf.grid.iter().map(|(_, v)| v.clone()).collect(),
        points: Vec::with_capacity(total),
    };
    let mut scenarios = Vec::with_capacity(total);
    let mut jobs = 0usize;
    for idx in 0..total {
        // Mixed radix, the last key varying fastest.
        let mut params = vec![Value::Boolean(false); counts.len()];
        let mut rem = idx;
        for i in (0..counts.len()).rev() {
            params[i] = sf.grid[i].1[rem % counts[i]].clone();
            rem /= counts[i];
        }
        let mut t = base.clone();
        for (key, v) in plan.keys.iter().zip(&params) {
            set_key(&mut t, key, v.clone()).map_err(|m| Fail::Input(format!("{}: grid key `{key}`: {m}", sf.file)))?;
        }
        let txt = to_text(&t)?;
        plan.points.push(Point { params, hash: 0, seeds: Vec::new() });
        let point_error = |key: Option<&str>, message: &str| {
            let key = key.map(|k| format!("key `{k}`: ")).unwrap_or_default();
            Fail::Input(format!("{}: grid point {idx} ({}): {key}{message}", sf.file, plan.describe(idx)))
        };
        let mut sc = Scenario::parse(&scen_file, &txt).map_err(|e| point_error(e.key.as_deref(), &e.message))?;
        let mut hashed = format!("{name}\n{txt}").into_bytes();
        // A churn trace is read relative to the scenario file, as `Scenario::load`
        // does, and is part of what the job's hash covers.
        if let Some(t) = sc.churn.trace_file.clone() {
            let path = sf.scenario.parent().unwrap_or(Path::new(".")).join(t.get_ref());
            sc.churn.trace = sc.read_trace(&path).map_err(|m| point_error(Some("churn.trace_file"), &m))?;
            hashed.extend(std::fs::read(&path).unwrap_or_default());
        }
        let reps = sf.reps.unwrap_or(*sc.reps.get_ref());
        let point = &mut plan.points[idx];
        point.seeds = (0..u64::from(reps)).map(|k| sc.seed.wrapping_add(k)).collect();
        point.hash = fnv1a64(&hashed);
        jobs += point.seeds.len();
        if jobs > MAX_JOBS {
            return Err(Fail::Input(format!("{}: the sweep has more than {MAX_JOBS} jobs", sf.file)));
        }
        scenarios.push(sc);
    }
    Ok((plan, scenarios))
}

fn seed_value(s: u64) -> Value {
    i64::try_from(s).map(Value::Integer).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// `manifest.toml`: provenance, then the plan.
fn manifest_text(plan: &Plan, extra: Vec<(&str, Value)>) -> Result<String, Fail> {
    let mut t = Table::new();
    let s = |x: &str| Value::String(x.to_string());
    t.insert("swarmlab_version".into(), s(env!("CARGO_PKG_VERSION")));
    t.insert("git_commit".into(), s(&git_commit()));
    let command = std::env::args_os().map(|a| s(&a.to_string_lossy())).collect();
    t.insert("command".into(), Value::Array(command));
    for (k, v) in extra {
        t.insert(k.into(), v);
    }
    t.insert("scenario".into(), s(&plan.scenario_file));
    t.insert("scenario_name".into(), s(&plan.scenario_name));
    t.insert("scenario_hash".into(), s(&format!("fnv1a64:{:016x}", plan.scenario_hash)));
    let seeds: std::collections::BTreeSet<u64> = plan.points.iter().flat_map(|p| p.seeds.iter().copied()).collect();
    t.insert("seeds".into(), Value::Array(seeds.into_iter().map(seed_value).collect()));
    t.insert("jobs".into(), Value::Integer(plan.points.iter().map(|p| p.seeds.len() as i64).sum()));
    t.insert("grid_keys".into(), Value::Array(plan.keys.iter().map(|k| s(k)).collect()));
    let mut grid = Table::new();
    for (k, v) in plan.keys.iter().zip(&plan.grid) {
        grid.insert(k.clone(), Value::Array(v.clone()));
    }
    t.insert("grid".into(), Value::Table(grid));
    let points = plan
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut pt = Table::new();
            pt.insert("index".into(), Value::Integer(i as i64));
            pt.insert("hash".into(), s(&format!("{:016x}", p.hash)));
            pt.insert("seeds".into(), Value::Array(p.seeds.iter().map(|&x| seed_value(x)).collect()));
            pt.insert("params".into(), Value::Array(p.params.clone()));
            Value::Table(pt)
        })
        .collect();
    t.insert("points".into(), Value::Array(points));
    let body = toml::to_string(&t).map_err(|e| Fail::Run(format!("cannot write manifest.toml: {e}")))?;
    Ok(format!(
        "# Provenance of this swarmlab sweep directory, and its job plan (read by `swarmlab merge`).\n\
         # Not a result: compare sweep.csv and jobs/, not this file.\n{body}"
    ))
}

/// Reads `dir/manifest.toml`: the plan and the raw table.
fn read_manifest(dir: &Path) -> Result<(Plan, Table), Fail> {
    let path = dir.join("manifest.toml");
    let file = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Fail::Input(format!(
            "{file}: cannot read it ({e}): is {} an output directory of `swarmlab sweep`?",
            dir.display()
        ))
    })?;
    let t: Table = toml::from_str(&text).map_err(|e| Fail::Input(toml_error(&file, &text, &e)))?;
    let bad = |what: &str| Fail::Input(format!("{file}: not a swarmlab sweep manifest: {what}"));
    let string = |v: Option<&Value>, what: &str| v.and_then(Value::as_str).map(str::to_string).ok_or_else(|| bad(what));
    let hex = |v: Option<&Value>, what: &str| {
        string(v, what).and_then(|h| u64::from_str_radix(&h, 16).map_err(|_| bad(&format!("`{what}` is not a hash"))))
    };
    let keys: Vec<String> = t
        .get("grid_keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `grid_keys`"))?
        .iter()
        .map(|k| k.as_str().map(str::to_string).ok_or_else(|| bad("a grid key is not a string")))
        .collect::<Result<_, _>>()?;
    let grid_table = t.get("grid").and_then(Value::as_table).ok_or_else(|| bad("no `[grid]`"))?;
    let grid = keys
        .iter()
        .map(|k| {
            grid_table.get(k).and_then(Value::as_array).cloned().ok_or_else(|| bad(&format!("no values for `{k}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut points = Vec::new();
    for (i, p) in t.get("points").and_then(Value::as_array).ok_or_else(|| bad("no `points`"))?.iter().enumerate() {
        let what = format!("point {i}");
        let p = p.as_table().ok_or_else(|| bad(&what))?;
        if p.get("index").and_then(Value::as_integer) != Some(i as i64) {
            return Err(bad(&format!("{what} is out of order")));
        }
        let seeds = p
            .get("seeds")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(&format!("{what} has no seeds")))?
            .iter()
            .map(|s| match s {
                Value::Integer(x) => u64::try_from(*x).ok(),
                Value::String(x) => x.parse().ok(),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| bad(&format!("{what}: a seed is not a whole number")))?;
        let params = p.get("params").and_then(Value::as_array).cloned().ok_or_else(|| bad(&what))?;
        if params.len() != keys.len() {
            return Err(bad(&format!("{what} has {} values for {} grid keys", params.len(), keys.len())));
        }
        points.push(Point { params, hash: hex(p.get("hash"), &format!("{what} hash"))?, seeds });
    }
    let plan = Plan {
        scenario_name: string(t.get("scenario_name"), "no `scenario_name`")?,
        scenario_file: string(t.get("scenario"), "no `scenario`")?,
        scenario_hash: string(t.get("scenario_hash"), "no `scenario_hash`")?
            .strip_prefix("fnv1a64:")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| bad("`scenario_hash` is not `fnv1a64:<hex>`"))?,
        keys,
        grid,
        points,
    };
    Ok((plan, t))
}

/// `version (commit c)` of a manifest, for warnings.
fn made_by(t: &Table) -> String {
    let get = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("unknown").to_string();
    format!("swarmlab {} (commit {})", get("swarmlab_version"), get("git_commit"))
}

/// A job is done when its `done` marker and its summary exist.
fn is_done(dir: &Path) -> bool {
    dir.join(DONE).is_file() && dir.join("summary.csv").is_file()
}

/// Flushes every file of `dir` to disk.
fn sync_files(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::File::open(e.path())?.sync_all()?;
        }
    }
    Ok(())
}

/// Runs one job into `dir` (cleared first: it may hold an interrupted attempt).
fn run_job(sc: &Scenario, name: &str, seed: u64, dir: &Path, marker: &str) -> Result<(), String> {
    let ctx = |e: std::io::Error| format!("cannot write {}: {e}", dir.display());
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(ctx)?;
    }
    let report = runner::run(sc, &RunOptions { name: name.to_string(), seed, threads: 1, draw: 0 }, &mut |_, _| {});
    analysis::output::write_run(&report, dir).map_err(ctx)?;
    sync_files(dir).map_err(ctx)?;
    write_atomic(&dir.join(DONE), marker.as_bytes()).map_err(ctx)?;
    std::fs::File::open(dir.join(DONE)).and_then(|f| f.sync_all()).map_err(ctx)
}

/// A metric row of a job's summary.csv: name, value, unit.
type SummaryRow = (String, Option<f64>, String);

fn read_summary(path: &Path) -> Result<Vec<SummaryRow>, String> {
    let file = path.display();
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("cannot read {file}: {e}"))?;
    let h = r.headers().map_err(|e| format!("cannot read {file}: {e}"))?.clone();
    let col = |name: &str| h.iter().position(|x| x == name).ok_or_else(|| format!("{file}: no `{name}` column"));
    let (m, v, u) = (col("metric")?, col("value")?, col("unit")?);
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("cannot read {file}: {e}"))?;
        let (Some(metric), Some(value), Some(unit)) = (rec.get(m), rec.get(v), rec.get(u)) else {
            return Err(format!("{file}: row {} is short", i + 2));
        };
        let value = match value {
            "" => None,
            s => Some(s.parse::<f64>().map_err(|_| format!("{file}: row {}: `{s}` is not a number", i + 2))?),
        };
        rows.push((metric.to_string(), value, unit.to_string()));
    }
    Ok(rows)
}

/// A grid value as a CSV cell: strings bare, numbers in Rust's shortest form.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// What `sweep.csv` covers.
struct Coverage {
    jobs_done: usize,
    points: usize,
}

/// `sweep.csv` from the done jobs under `jobs_dir`, in job order.
fn sweep_csv(plan: &Plan, jobs_dir: &Path) -> Result<(Vec<u8>, Coverage), Fail> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["scenario".to_string(), "point".to_string()];
    header.extend(plan.keys.iter().cloned());
    header.extend(["metric", "n", "mean", "sd", "ci95_low", "ci95_high", "unit", "seeds"].map(String::from));
    let csv_err = |e: csv::Error| Fail::Run(format!("cannot format sweep.csv: {e}"));
    w.write_record(&header).map_err(csv_err)?;
    let jobs = plan.jobs();
    let mut cov = Coverage { jobs_done: 0, points: 0 };
    for (p, point) in plan.points.iter().enumerate() {
        let mut runs: Vec<(u64, Vec<SummaryRow>)> = Vec::new();
        for j in jobs.iter().filter(|j| j.point == p) {
            let dir = jobs_dir.join(plan.job_dir(j));
            if is_done(&dir) {
                let rows = read_summary(&dir.join("summary.csv")).map_err(|m| {
                    Fail::Run(format!("{m} (the job is marked done; delete {} to run it again)", dir.display()))
                })?;
                runs.push((j.seed, rows));
            }
        }
        let Some((_, first)) = runs.first() else { continue };
        cov.jobs_done += runs.len();
        cov.points += 1;
        let seeds: Vec<String> = runs.iter().map(|(s, _)| s.to_string()).collect();
        let seeds = seeds.join(" ");
        for (metric, _, unit) in first {
            let values: Vec<Option<f64>> = runs
                .iter()
                .map(|(_, rows)| rows.iter().find(|(m, _, _)| m == metric).and_then(|(_, v, _)| *v))
                .collect();
            let s = analysis::stats::summarize(&values);
            let mut rec = vec![plan.scenario_name.clone(), p.to_string()];
            rec.extend(point.params.iter().map(cell));
            rec.extend([
                metric.clone(),
                s.map_or(0, |s| s.n).to_string(),
                opt(s.map(|s| s.mean)),
                opt(s.and_then(|s| s.sd)),
                opt(s.and_then(|s| s.ci95.map(|c| s.mean - c))),
                opt(s.and_then(|s| s.ci95.map(|c| s.mean + c))),
                unit.clone(),
                seeds.clone(),
            ]);
            w.write_record(&rec).map_err(csv_err)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| Fail::Run(format!("cannot format sweep.csv: {e}")))?;
    Ok((bytes, cov))
}

/// The `done` marker's text (informative only: its existence is what counts).
fn marker(plan: &Plan, j: &Job) -> String {
    format!(
        "job {} of sweep `{}`: point {} ({}), seed {}\n",
        j.index,
        plan.scenario_name,
        j.point,
        plan.describe(j.point),
        j.seed
    )
}

/// `swarmlab sweep`.
pub fn main(args: Args) -> ExitCode {
    match sweep(args) {
        Ok(code) => code,
        Err(f) => f.exit(),
    }
}

fn sweep(args: Args) -> Result<ExitCode, Fail> {
    use rayon::prelude::*;
    use std::io::Write;
    let file = args.sweep.display().to_string();
    let text = std::fs::read_to_string(&args.sweep)
        .map_err(|e| Fail::Input(format!("{file}: cannot read the sweep file: {e}")))?;
    let sf = parse_sweep_file(&args.sweep, &text)?;
    let (plan, scenarios) = build_plan(&sf)?;
    let shard = args.shard.unwrap_or(Shard { index: 0, count: 1 });
    let jobs = plan.jobs();
    let mine: Vec<Job> = jobs.iter().copied().filter(|j| j.index as u64 % shard.count == shard.index).collect();

    let mut stdout = std::io::stdout().lock();
    let reps: Vec<usize> = plan.points.iter().map(|p| p.seeds.len()).collect();
    let shape = if reps.windows(2).all(|w| w[0] == w[1]) {
        let seeds = if reps[0] == 1 { "1 seed".to_string() } else { format!("{} seeds", reps[0]) };
        format!("{} points x {seeds} = {} jobs", plan.points.len(), jobs.len())
    } else {
        format!("{} points, {} jobs", plan.points.len(), jobs.len())
    };
    let _ = write!(stdout, "sweep {} ({}): {shape}", plan.scenario_name, plan.scenario_file);
    if shard.count > 1 {
        let _ = write!(stdout, "; shard {}/{}: {} jobs", shard.index, shard.count, mine.len());
    }
    let _ = writeln!(stdout);
    if args.dry_run {
        let _ = write!(stdout, "{}", points_table(&plan));
        return Ok(ExitCode::SUCCESS);
    }

    let stem = args.sweep.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into());
    let out = args.out.unwrap_or_else(|| PathBuf::from("swarmlab-out").join(stem));
    let jobs_dir = out.join("jobs");
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| Fail::Run(format!("cannot write {what}: {e}"))
    };
    std::fs::create_dir_all(&jobs_dir).map_err(io(&jobs_dir))?;
    let manifest_path = out.join("manifest.toml");
    if manifest_path.is_file()
        && let Ok((_, old)) = read_manifest(&out)
    {
        let (before, now) = (made_by(&old), made_by(&manifest_table_now()));
        if before != now {
            eprintln!(
                "warning: {} was started by {before}; this is {now}. Its done jobs are kept, so results may \
                 mix versions: use a fresh --out to avoid that.",
                out.display()
            );
        }
    }
    let shard_text = if shard.count > 1 { format!("{}/{}", shard.index, shard.count) } else { "all".into() };
    let extra = vec![
        ("created_by", Value::String("sweep".into())),
        ("sweep_file", Value::String(file.clone())),
        ("shard", Value::String(shard_text)),
    ];
    write_atomic(&manifest_path, manifest_text(&plan, extra)?.as_bytes()).map_err(io(&manifest_path))?;

    let pending: Vec<Job> = mine.iter().copied().filter(|j| !is_done(&jobs_dir.join(plan.job_dir(j)))).collect();
    let skipped = mine.len() - pending.len();
    let finished = AtomicUsize::new(0);
    #[allow(clippy::disallowed_methods, reason = "the CLI may read the wall clock to report elapsed time")]
    let started = std::time::Instant::now();
    let run_one = |j: &Job| -> Result<(), String> {
        let dir = jobs_dir.join(plan.job_dir(j));
        run_job(&scenarios[j.point], &plan.scenario_name, j.seed, &dir, &marker(&plan, j))?;
        let k = finished.fetch_add(1, Ordering::Relaxed) + 1;
        if !args.quiet {
            eprintln!(
                "[{k}/{}] job {}: point {} ({}), seed {}",
                pending.len(),
                j.index,
                j.point,
                plan.describe(j.point),
                j.seed
            );
        }
        Ok(())
    };
    let results: Vec<Result<(), String>> = match args.threads {
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n as usize)
                .build()
                .map_err(|e| Fail::Run(format!("cannot start {n} worker threads: {e}")))?;
            pool.install(|| pending.par_iter().map(&run_one).collect())
        }
        None => pending.par_iter().map(&run_one).collect(),
    };
    let wall = started.elapsed().as_secs_f64();
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    let ran = pending.len() - failed.len();
    let _ = writeln!(stdout, "ran {ran} jobs, skipped {skipped} already done, in {wall:.2} s");

    let (bytes, cov) = sweep_csv(&plan, &jobs_dir)?;
    let csv_path = out.join("sweep.csv");
    write_atomic(&csv_path, &bytes).map_err(io(&csv_path))?;
    let _ = writeln!(
        stdout,
        "wrote {} ({} points; {} of {} jobs done{})",
        csv_path.display(),
        cov.points,
        cov.jobs_done,
        jobs.len(),
        if shard.count > 1 { "; merge the shards for the rest" } else { "" }
    );
    if let Some(first) = failed.first() {
        return Err(Fail::Run(format!("{} jobs failed; the first: {first}", failed.len())));
    }
    Ok(ExitCode::SUCCESS)
}

/// Provenance fields of a manifest written now (for comparing with an old one).
fn manifest_table_now() -> Table {
    let mut t = Table::new();
    t.insert("swarmlab_version".into(), Value::String(env!("CARGO_PKG_VERSION").into()));
    t.insert("git_commit".into(), Value::String(git_commit()));
    t
}

/// The `--dry-run` listing: one line per point.
fn points_table(plan: &Plan) -> String {
    let mut cols: Vec<Vec<String>> =
        vec![std::iter::once("point".to_string()).chain((0..plan.points.len()).map(|p| p.to_string())).collect()];
    for (k, key) in plan.keys.iter().enumerate() {
        cols.push(std::iter::once(key.clone()).chain(plan.points.iter().map(|p| cell(&p.params[k]))).collect());
    }
    let seeds = plan.points.iter().map(|p| p.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(" "));
    cols.push(std::iter::once("seeds".to_string()).chain(seeds).collect());
    let widths: Vec<usize> = cols.iter().map(|c| c.iter().map(|x| x.chars().count()).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for row in 0..=plan.points.len() {
        let line: Vec<String> = cols.iter().zip(&widths).map(|(c, &w)| format!("{:<w$}", c[row])).collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
    }
    s
}

/// Copies a done job directory: its files first, the `done` marker last.
fn copy_job(src: &Path, dest: &Path) -> std::io::Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    std::fs::create_dir_all(dest)?;
    let mut names = Vec::new();
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let name = e.file_name();
        let n = name.to_string_lossy();
        if e.file_type()?.is_file() && n != DONE && !n.ends_with(".pending") {
            names.push(name);
        }
    }
    names.sort();
    for n in names {
        write_atomic(&dest.join(&n), &std::fs::read(src.join(&n))?)?;
    }
    sync_files(dest)?;
    write_atomic(&dest.join(DONE), &std::fs::read(src.join(DONE))?)
}

/// `swarmlab merge`.
pub fn merge(args: MergeArgs) -> ExitCode {
    match merge_dirs(args) {
        Ok(code) => code,
        Err(f) => f.exit(),
    }
}

fn merge_dirs(args: MergeArgs) -> Result<ExitCode, Fail> {
    use std::io::Write;
    let mut inputs = Vec::new();
    for d in &args.dirs {
        let (plan, raw) = read_manifest(d)?;
        inputs.push((d.as_path(), plan, raw));
    }
    let (first_dir, plan, _) = &inputs[0];
    for (d, p, _) in &inputs[1..] {
        if let Some(why) = plan.differs(p) {
            return Err(Fail::Input(format!(
                "{} and {} hold different sweeps ({why}): merge only the shards of one sweep",
                first_dir.display(),
                d.display()
            )));
        }
    }
    let makers: std::collections::BTreeSet<String> = inputs.iter().map(|(_, _, raw)| made_by(raw)).collect();
    if makers.len() > 1 {
        let list: Vec<&str> = makers.iter().map(String::as_str).collect();
        eprintln!("warning: the inputs were made by different builds: {}", list.join("; "));
    }
    let out = &args.out;
    let same_dir = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    if out.join("manifest.toml").is_file() && !args.dirs.iter().any(|d| same_dir(d, out)) {
        let (existing, _) = read_manifest(out)?;
        if let Some(why) = plan.differs(&existing) {
            return Err(Fail::Input(format!(
                "{} already holds a different sweep ({why}): choose another --out",
                out.display()
            )));
        }
    }
    let jobs_dir = out.join("jobs");
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| Fail::Run(format!("cannot write {what}: {e}"))
    };
    std::fs::create_dir_all(&jobs_dir).map_err(io(&jobs_dir))?;
    let jobs = plan.jobs();
    let (mut copied, mut missing) = (0usize, Vec::new());
    for j in &jobs {
        let name = plan.job_dir(j);
        let dest = jobs_dir.join(&name);
        let sources: Vec<PathBuf> =
            args.dirs.iter().map(|d| d.join("jobs").join(&name)).filter(|s| is_done(s)).collect();
        if !is_done(&dest) {
            let Some(src) = sources.first() else {
                missing.push(*j);
                continue;
            };
            copy_job(src, &dest).map_err(io(&dest))?;
            copied += 1;
        }
        // Shards are disjoint; a job done twice must have given the same result.
        let reference = std::fs::read(dest.join("summary.csv")).ok();
        for s in sources.iter().filter(|s| !same_dir(s, &dest)) {
            if std::fs::read(s.join("summary.csv")).ok() != reference {
                eprintln!(
                    "warning: job {} ({name}) differs between {} and {}; kept the latter",
                    j.index,
                    s.display(),
                    dest.display()
                );
            }
        }
    }
    let merged_from = args.dirs.iter().map(|d| Value::String(d.display().to_string())).collect();
    let extra = vec![
        ("created_by", Value::String("merge".into())),
        ("merged_from", Value::Array(merged_from)),
        ("shard", Value::String("all".into())),
    ];
    let manifest_path = out.join("manifest.toml");
    write_atomic(&manifest_path, manifest_text(plan, extra)?.as_bytes()).map_err(io(&manifest_path))?;
    let (bytes, cov) = sweep_csv(plan, &jobs_dir)?;
    let csv_path = out.join("sweep.csv");
    write_atomic(&csv_path, &bytes).map_err(io(&csv_path))?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "merged {} directories into {}: copied {copied} jobs; {} of {} jobs done\nwrote {} ({} points)",
        args.dirs.len(),
        out.display(),
        cov.jobs_done,
        jobs.len(),
        csv_path.display(),
        cov.points
    );
    if let Some(j) = missing.first() {
        eprintln!(
            "error: {} of {} jobs are done in none of the inputs (the first: job {}, point {} ({}), seed {}); \
             sweep.csv covers the done ones. Run the missing shards (rerunning a shard resumes it) and merge again.",
            missing.len(),
            jobs.len(),
            j.index,
            j.point,
            plan.describe(j.point),
            j.seed
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_are_validated() {
        assert_eq!(parse_shard("0/1"), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(parse_shard("15/16"), Ok(Shard { index: 15, count: 16 }));
        assert!(parse_shard("2/2").unwrap_err().contains("below the shard count 2"));
        assert!(parse_shard("0/0").unwrap_err().contains("at least 1"));
        assert!(parse_shard("3").unwrap_err().contains("I/N"));
        assert!(parse_shard("-1/2").unwrap_err().contains("not a whole number"));
        assert!(parse_shard("a/b").unwrap_err().contains("not a whole number"));
    }

    #[test]
    fn dotted_keys_create_tables_and_index_arrays() {
        let mut t: Table = toml::from_str("[peers]\ncount = 3\n[[peers.classes]]\nup_kbps = 1\n").unwrap();
        set_key(&mut t, "peers.count", Value::Integer(5)).unwrap();
        set_key(&mut t, "protocol.mesh.partners", Value::Integer(6)).unwrap();
        set_key(&mut t, "peers.classes.0.up_kbps", Value::Integer(7)).unwrap();
        let txt = toml::to_string(&t).unwrap();
        let back: Table = toml::from_str(&txt).unwrap();
        assert_eq!(back["peers"]["count"].as_integer(), Some(5));
        assert_eq!(back["protocol"]["mesh"]["partners"].as_integer(), Some(6));
        assert_eq!(back["peers"]["classes"][0]["up_kbps"].as_integer(), Some(7));
        assert!(
            set_key(&mut t, "peers.count.x", Value::Integer(1)).unwrap_err().contains("`peers.count` is an integer")
        );
        assert!(set_key(&mut t, "peers.classes.3.up_kbps", Value::Integer(1)).unwrap_err().contains("1 entries"));
        assert!(set_key(&mut t, "peers.classes.name", Value::Integer(1)).unwrap_err().contains("entry number"));
    }

    #[test]
    fn points_enumerate_the_grid_with_the_last_key_fastest() {
        let dir = std::env::temp_dir().join(format!("swarmlab-sweep-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("s.toml"), "seed = 5\nreps = 2\n[peers]\ncount = 3\n").unwrap();
        let text = "scenario = \"s.toml\"\n[grid]\n\"peers.count\" = [1, 2]\nprotocol.scheduler = [\"edf\", \"donet\", \"random\"]\n";
        let sf = parse_sweep_file(&dir.join("sweep.toml"), text).ok().unwrap();
        let (plan, _) = build_plan(&sf).ok().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(plan.keys, ["peers.count", "protocol.scheduler"]);
        let cells: Vec<String> =
            plan.points.iter().map(|p| format!("{}/{}", cell(&p.params[0]), cell(&p.params[1]))).collect();
        assert_eq!(cells, ["1/edf", "1/donet", "1/random", "2/edf", "2/donet", "2/random"]);
        assert!(plan.points.iter().all(|p| p.seeds == [5, 6]));
        let jobs = plan.jobs();
        assert_eq!(jobs.len(), 12);
        assert_eq!((jobs[7].point, jobs[7].seed), (3, 6));
        let mut hashes: Vec<u64> = plan.points.iter().map(|p| p.hash).collect();
        hashes.dedup();
        assert_eq!(hashes.len(), 6, "every point has its own hash");
    }
}
