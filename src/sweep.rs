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
//! `manifest.toml` records the swarmlab version, the git commit of the source
//! tree the binary was built from (`git rev-parse HEAD`, run when the sweep
//! starts; `unknown` without git), whether that tree had uncommitted changes,
//! the command line, the scenario file and its hash, the grid, and every point
//! with its seeds. It is provenance, not a result: compare `sweep.csv` and the
//! job files, not manifests.
//!
//! # Shards, clusters and `merge`
//!
//! `--shard I/N` runs only the jobs whose index modulo N is I. Shards write
//! disjoint job directories; `swarmlab merge DIR... --out DIR` copies the done
//! jobs of shard directories into one directory (which may be one of them) and
//! writes its `sweep.csv`, byte for byte the one an unsharded run gives. Merge
//! refuses directories that hold different sweeps, and exits 1 (after writing
//! what it has) when some jobs are done in none of them.
//!
//! As a Slurm job array (16 tasks, each on 4 cores):
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
//! then, once every task has finished:
//!
//! ```sh
//! jobid=$(sbatch --parsable sweep.sbatch)
//! sbatch --dependency=afterok:$jobid --wrap "swarmlab merge sweep-out/shard-* --out sweep-out/all"
//! ```
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

/// FNV-1a, 64 bits: a stable hash (the same on every platform and Rust
/// version, unlike `std`'s `DefaultHasher`).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
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
        other => Err(format!("`{here}` is a {}, not a table", other.type_str())),
    }
}
