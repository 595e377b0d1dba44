//! What an output directory holds, read from its CSV files.
//!
//! Layouts (all optional, combined as found):
//! - a `run` output: `timeseries.csv`, `peers.csv` (and `summary.csv`) in DIR;
//! - `run --reps`: `replications.csv` in DIR, one run per `seed<N>/` subdirectory;
//! - `compare`: `compare.csv` in DIR, one run per variant subdirectory (named
//!   by [`analysis::output::label_dir`] of the label), with `seed<N>/` below it
//!   and `replications.csv` in DIR when replicated;
//! - `sweep`: `sweep.csv` in DIR (`scenario, point`, the parameters as columns
//!   named by dotted key, then `metric, n, mean, sd, ci95_low, ci95_high, unit,
//!   seeds`) and one directory per job under `jobs/`, which are not variants
//!   and are left out of the per-run figures.
//!
//! Runs of one variant over several seeds are pooled: the time series is
//! averaged bucket by bucket (continuity pooled over chunks), and the CDFs
//! take the peers of every seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::table::Table;

/// How deep below DIR run directories are looked for (DIR/variant/seedN).
const MAX_DEPTH: usize = 3;

/// Everything found in an output directory.
#[derive(Debug, Default)]
pub struct Found {
    /// One entry per variant with per-run files, in the order of compare.csv
    /// (or replications.csv), then by directory name.
    pub variants: Vec<Variant>,
    /// Per-variant metrics with 95% confidence intervals (replications.csv).
    pub replications: Option<Metrics>,
    /// Per-variant metrics of single runs (compare.csv), without intervals.
    pub compare: Option<Metrics>,
    /// Parameter sweep summary (sweep.csv).
    pub sweep: Option<Sweep>,
    /// Run directories of a sweep's jobs (DIR/jobs/*), not plotted as variants.
    pub sweep_jobs: usize,
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.variants.is_empty() && self.replications.is_none() && self.compare.is_none() && self.sweep.is_none()
    }
}

/// The runs of one variant (one or several seeds).
#[derive(Debug)]
pub struct Variant {
    pub label: String,
    /// Number of run directories (seeds) pooled.
    pub runs: usize,
    pub timeseries: Option<TimeSeries>,
    /// Startup delays and playback lags of all peers (pooled over seeds).
    pub peers: Option<PeerDist>,
}

/// One value per time bucket, averaged over the runs that have the bucket.
#[derive(Debug, Default)]
pub struct TimeSeries {
    pub t: Vec<f64>,
    /// Chunks played / chunks due in the bucket (pooled over runs); `None`
    /// when nothing was due.
    pub continuity: Vec<Option<f64>>,
    pub peers: Vec<f64>,
    pub playing: Vec<f64>,
}

/// Startup delay and playback lag of every peer.
#[derive(Debug, Default)]
pub struct PeerDist {
    /// Sorted defined startup delays, seconds.
    pub startup: Vec<f64>,
    /// Sorted defined playback lags, seconds.
    pub lag: Vec<f64>,
    /// All peers (the CDFs' denominator: peers that never started keep it below 1).
    pub total: usize,
}

/// Per-variant metric values, in the order of first appearance.
#[derive(Debug, Default)]
pub struct Metrics {
    pub file: PathBuf,
    pub variants: Vec<String>,
    pub rows: Vec<MetricRow>,
    /// Largest number of seeds behind one value.
    pub max_n: usize,
}

#[derive(Debug, Clone)]
pub struct MetricRow {
    pub variant: String,
    pub metric: String,
    pub mean: f64,
    /// 95% confidence interval, when there is one (two or more seeds).
    pub ci: Option<(f64, f64)>,
    pub unit: String,
}

impl Metrics {
    pub fn get(&self, variant: &str, metric: &str) -> Option<&MetricRow> {
        self.rows.iter().find(|r| r.variant == variant && r.metric == metric)
    }
    pub fn has_metric(&self, metric: &str) -> bool {
        self.rows.iter().any(|r| r.metric == metric)
    }
}

/// A sweep summary: one row per grid point and metric.
#[derive(Debug, Default)]
pub struct Sweep {
    pub file: PathBuf,
    /// Parameter columns (dotted keys), in file order.
    pub params: Vec<String>,
    pub rows: Vec<SweepRow>,
}

#[derive(Debug, Clone)]
pub struct SweepRow {
    /// The point's parameter values, one per [`Sweep::params`], as written.
    pub point: Vec<String>,
    pub metric: String,
    pub n: usize,
    pub mean: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub unit: String,
}

/// Reads every recognised CSV file under `dir`.
pub fn load(dir: &Path) -> Result<Found, String> {
    let mut found = Found::default();
    let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
    if let Some(p) = file("replications.csv") {
        found.replications = Some(read_replications(&p)?);
    }
    if let Some(p) = file("compare.csv") {
        found.compare = Some(read_compare(&p)?);
    }
    if let Some(p) = file("sweep.csv") {
        found.sweep = Some(read_sweep(&p)?);
    }

    // Labels by directory name, in the order the summaries list them.
    let mut labels: Vec<String> = Vec::new();
    for m in [&found.compare, &found.replications].into_iter().flatten() {
        for v in &m.variants {
            if !labels.contains(v) {
                labels.push(v.clone());
            }
        }
    }

    let mut run_dirs = Vec::new();
    collect_run_dirs(dir, 0, &mut run_dirs)?;
    if found.sweep.is_some() {
        let jobs = dir.join("jobs");
        let before = run_dirs.len();
        run_dirs.retain(|d| !d.starts_with(&jobs));
        found.sweep_jobs = before - run_dirs.len();
    }
    // Group by variant key: the relative path without a trailing `seed<N>`.
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for d in run_dirs {
        let rel = d.strip_prefix(dir).unwrap_or(&d);
        let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        if parts.last().is_some_and(|p| is_seed_dir(p)) {
            parts.pop();
        }
        groups.entry(parts.join("/")).or_default().push(d);
    }
    let mut variants: Vec<(usize, String, Variant)> = Vec::new();
    for (key, dirs) in groups {
        let by_dir = labels.iter().position(|l| analysis::output::label_dir(l) == key);
        let label = match by_dir {
            Some(i) => labels[i].clone(),
            None if key.is_empty() && labels.len() == 1 => labels[0].clone(),
            None if key.is_empty() => protocol_of(&dirs[0])?.unwrap_or_else(|| "run".to_string()),
            None => key.clone(),
        };
        let order = by_dir.unwrap_or(usize::MAX);
        variants.push((order, key, read_variant(label, &dirs)?));
    }
    variants.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    found.variants = variants.into_iter().map(|(_, _, v)| v).collect();
    Ok(found)
}

fn is_seed_dir(name: &str) -> bool {
    name.strip_prefix("seed").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn has_run_files(d: &Path) -> bool {
    d.join("timeseries.csv").is_file() || d.join("peers.csv").is_file()
}

/// Directories at most [`MAX_DEPTH`] below `dir` holding per-run files, sorted by path.
fn collect_run_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if has_run_files(dir) {
        out.push(dir.to_path_buf());
    }
    if depth == MAX_DEPTH {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    let mut subdirs: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for s in subdirs {
        collect_run_dirs(&s, depth + 1, out)?;
    }
    Ok(())
}

/// The `protocol` column of the first row of a run's files.
fn protocol_of(dir: &Path) -> Result<Option<String>, String> {
    for name in ["timeseries.csv", "peers.csv"] {
        let p = dir.join(name);
        if p.is_file() {
            let t = Table::read(&p)?;
            if let (Some(c), Some(r)) = (t.col("protocol"), t.rows.first()) {
                return Ok(Some(r[c].clone()));
            }
        }
    }
    Ok(None)
}

fn read_variant(label: String, dirs: &[PathBuf]) -> Result<Variant, String> {
    // Time series: sums per bucket start (microseconds), averaged at the end.
    #[derive(Default)]
    struct Acc {
        played: f64,
        missed: f64,
        peers: f64,
        playing: f64,
        runs: f64,
    }
    let mut buckets: BTreeMap<i64, (f64, Acc)> = BTreeMap::new();
    let mut any_ts = false;
    let mut dist: Option<PeerDist> = None;
    for d in dirs {
        let p = d.join("timeseries.csv");
        if p.is_file() {
            any_ts = true;
            let t = Table::read(&p)?;
            let [ct, cpe, cpl, cpd, cm] = ["t_s", "peers", "playing", "played", "missed"].map(|c| t.need(c));
            let (ct, cpe, cpl, cpd, cm) = (ct?, cpe?, cpl?, cpd?, cm?);
            for r in 0..t.rows.len() {
                let Some(ts) = t.num(r, ct)? else { continue };
                let (_, a) = buckets.entry((ts * 1e6).round() as i64).or_insert((ts, Acc::default()));
                a.played += t.num(r, cpd)?.unwrap_or(0.0);
                a.missed += t.num(r, cm)?.unwrap_or(0.0);
                a.peers += t.num(r, cpe)?.unwrap_or(0.0);
                a.playing += t.num(r, cpl)?.unwrap_or(0.0);
                a.runs += 1.0;
            }
        }
        let p = d.join("peers.csv");
        if p.is_file() {
            let t = Table::read(&p)?;
            let (cs, cl) = (t.need("startup_delay_s")?, t.need("lag_s")?);
            let dd = dist.get_or_insert_with(PeerDist::default);
            dd.total += t.rows.len();
            for r in 0..t.rows.len() {
                dd.startup.extend(t.num(r, cs)?);
                dd.lag.extend(t.num(r, cl)?);
            }
        }
    }
    let timeseries = any_ts.then(|| {
        let mut s = TimeSeries::default();
        for (ts, a) in buckets.into_values() {
            s.t.push(ts);
            let due = a.played + a.missed;
            s.continuity.push((due > 0.0).then(|| a.played / due));
            s.peers.push(a.peers / a.runs);
            s.playing.push(a.playing / a.runs);
        }
        s
    });
    if let Some(d) = &mut dist {
        d.startup.sort_by(f64::total_cmp);
        d.lag.sort_by(f64::total_cmp);
    }
    Ok(Variant { label, runs: dirs.len(), timeseries, peers: dist })
}

fn push_variant(variants: &mut Vec<String>, v: &str) {
    if !variants.iter().any(|x| x == v) {
        variants.push(v.to_string());
    }
}

/// replications.csv: `scenario,variant,protocol,metric,n,mean,sd,ci95_low,ci95_high,unit,seeds`.
fn read_replications(path: &Path) -> Result<Metrics, String> {
    let t = Table::read(path)?;
    let [cv, cm, cn, cmean, clo, chi, cu] =
        ["variant", "metric", "n", "mean", "ci95_low", "ci95_high", "unit"].map(|c| t.need(c));
    let (cv, cm, cn, cmean, clo, chi, cu) = (cv?, cm?, cn?, cmean?, clo?, chi?, cu?);
    let mut m = Metrics { file: path.to_path_buf(), ..Metrics::default() };
    for r in 0..t.rows.len() {
        let row = &t.rows[r];
        push_variant(&mut m.variants, &row[cv]);
        let n = t.num(r, cn)?.unwrap_or(0.0) as usize;
        m.max_n = m.max_n.max(n);
        let Some(mean) = t.num(r, cmean)? else { continue };
        let ci = match (t.num(r, clo)?, t.num(r, chi)?) {
            (Some(lo), Some(hi)) => Some((lo, hi)),
            _ => None,
        };
        m.rows.push(MetricRow { variant: row[cv].clone(), metric: row[cm].clone(), mean, ci, unit: row[cu].clone() });
    }
    Ok(m)
}

/// compare.csv: `scenario,variant,protocol,seed,metric,value,unit`. Several
/// seeds of one variant (a replicated comparison) are averaged.
fn read_compare(path: &Path) -> Result<Metrics, String> {
    let t = Table::read(path)?;
    let [cv, cs, cm, cval, cu] = ["variant", "seed", "metric", "value", "unit"].map(|c| t.need(c));
    let (cv, cs, cm, cval, cu) = (cv?, cs?, cm?, cval?, cu?);
    let mut m = Metrics { file: path.to_path_buf(), ..Metrics::default() };
    let mut sums: BTreeMap<(usize, String), (f64, usize, String)> = BTreeMap::new();
    let mut metric_order: Vec<String> = Vec::new();
    let mut seeds: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in 0..t.rows.len() {
        let row = &t.rows[r];
        push_variant(&mut m.variants, &row[cv]);
        push_variant(&mut metric_order, &row[cm]);
        let s = seeds.entry(row[cv].clone()).or_default();
        if !s.contains(&row[cs]) {
            s.push(row[cs].clone());
        }
        let Some(v) = t.num(r, cval)? else { continue };
        let vi = m.variants.iter().position(|x| *x == row[cv]).unwrap_or(0);
        let e = sums.entry((vi, row[cm].clone())).or_insert((0.0, 0, row[cu].clone()));
        e.0 += v;
        e.1 += 1;
    }
    m.max_n = seeds.values().map(Vec::len).max().unwrap_or(0);
    for ((vi, metric), (sum, n, unit)) in sums {
        m.rows.push(MetricRow { variant: m.variants[vi].clone(), metric, mean: sum / n as f64, ci: None, unit });
    }
    Ok(m)
}

/// Columns before `metric` in sweep.csv that are not parameters.
const NOT_PARAMS: &[&str] = &["scenario", "point"];

/// sweep.csv: (`scenario`, `point`,) parameter columns named by dotted key, then
/// `metric, n, mean, sd, ci95_low, ci95_high, unit` (and `seeds`); columns after
/// `metric` are found by name, unknown ones are ignored.
pub fn read_sweep(path: &Path) -> Result<Sweep, String> {
    let t = Table::read(path)?;
    let cm = t.need("metric")?;
    let [cn, cmean, clo, chi, cu] = ["n", "mean", "ci95_low", "ci95_high", "unit"].map(|c| t.need(c));
    let (cn, cmean, clo, chi, cu) = (cn?, cmean?, clo?, chi?, cu?);
    let pcols: Vec<usize> = (0..cm).filter(|&i| !NOT_PARAMS.contains(&t.header[i].as_str())).collect();
    if pcols.is_empty() {
        return Err(format!("{}: no parameter columns before `metric`", path.display()));
    }
    let params = pcols.iter().map(|&i| t.header[i].clone()).collect();
    let mut s = Sweep { file: path.to_path_buf(), params, rows: Vec::new() };
    for r in 0..t.rows.len() {
        let row = &t.rows[r];
        let ci = match (t.num(r, clo)?, t.num(r, chi)?) {
            (Some(lo), Some(hi)) => Some((lo, hi)),
            _ => None,
        };
        s.rows.push(SweepRow {
            point: pcols.iter().map(|&i| row[i].clone()).collect(),
            metric: row[cm].clone(),
            n: t.num(r, cn)?.unwrap_or(0.0) as usize,
            mean: t.num(r, cmean)?,
            ci,
            unit: row[cu].clone(),
        });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_dirs_are_recognised() {
        assert!(is_seed_dir("seed12"));
        assert!(!is_seed_dir("seed") && !is_seed_dir("seedx") && !is_seed_dir("mesh_seed1"));
    }

    #[test]
    fn sweep_rows_keep_parameters_and_intervals() {
        let text = "scenario,point,source.up_kbps,protocol.name,metric,n,mean,sd,ci95_low,ci95_high,unit,seeds\n\
                    s,0,1000,mesh-pull,continuity_pooled,3,0.5,0.1,0.25,0.75,ratio,1 2 3\n\
                    s,1,2000,mesh-pull,continuity_pooled,1,0.9,,,,ratio,1\n";
        let dir = std::env::temp_dir().join(format!("swarmlab-sweep-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("sweep.csv");
        std::fs::write(&p, text).unwrap();
        let s = read_sweep(&p).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(s.params, ["source.up_kbps", "protocol.name"]);
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.rows[0].point, ["1000", "mesh-pull"]);
        assert_eq!(s.rows[0].ci, Some((0.25, 0.75)));
        assert_eq!((s.rows[1].n, s.rows[1].mean, s.rows[1].ci), (1, Some(0.9), None));
    }
}
