//! `swarmlab check`: the regression gate.
//!
//! ```sh
//! swarmlab check scenarios/ci/*.toml --baseline results/baseline            # the gate (CI runs it)
//! swarmlab check scenarios/ci/*.toml --baseline results/baseline --update   # regenerate the baselines
//! ```
//!
//! Each scenario is rerun with K seeds (`--reps K`, default the scenario's
//! `reps`; 3 or more recommended) starting at its `seed`, every variant if it
//! has `[[variants]]`, and compared with its baseline `DIR/<scenario name>.csv`,
//! a `replications.csv` file (`analysis::output::replications_csv`: one row per
//! variant and metric with n, mean and the 95% confidence interval).
//!
//! Only metrics with a direction (`Better::Higher` or `Better::Lower` in
//! `analysis::report`; taken from the fresh run, since the CSV does not carry
//! it) are judged. With `b` and `n` the baseline and new means, `ci_b` and
//! `ci_n` their 95% confidence half-widths (0 for a single seed) and `worse`
//! the change in the bad direction (`b - n` for Higher, `n - b` for Lower):
//!
//! - noise = sqrt(ci_b^2 + ci_n^2);
//! - tolerance = max(X x |b|, floor(unit)), X = `--tolerance` (default 0.05,
//!   `5%` is accepted too); the absolute floor keeps metrics near zero from
//!   failing on tiny moves: 0.005 for ratios and indices, 0.01 streams
//!   (server load), 0.05 s, 1 chunk / run / peer, 1 kbps, 0 otherwise;
//! - a **regression** ("worse") is `worse > noise` and `worse > tolerance`;
//!   "better" is the same in the other direction; otherwise the move is
//!   "within noise" (|change| <= noise) or "within tolerance".
//!
//! A metric defined in the baseline and undefined now (no peer played) is a
//! regression; a metric missing from the baseline is reported as "new" and one
//! no longer produced as "gone", neither of which fails.
//!
//! The command prints, per scenario, a table of the judged metrics that moved
//! (metric, baseline mean±ci, new mean±ci, change, verdict). Exit status: 0 when
//! nothing regressed, 1 on any regression, 2 on bad input (a scenario error, a
//! missing or malformed baseline file). `--update` writes (overwrites) the
//! baseline files instead of comparing; it is the one way to regenerate them,
//! from a release build of the code you trust, and the diff of the baseline
//! files is then part of the change under review.
//!
//! Runs are deterministic, so a baseline made by the same code with the same
//! seeds compares equal, metric for metric.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use analysis::{Better, Report};
use sim::runner;
use sim::scenario::Scenario;

/// Arguments of `swarmlab check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario files of the suite (TOML).
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Directory of the baselines: one `<scenario name>.csv` (replications.csv format) per scenario.
    #[arg(long, value_name = "DIR")]
    pub baseline: PathBuf,
    /// Seeds per scenario (overrides the scenario's `reps`; 3 or more recommended).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub reps: Option<u32>,
    /// Relative tolerance: a change smaller than this fraction of the baseline
    /// mean (or the unit's absolute floor) is never a regression.
    #[arg(long, default_value = "0.05", value_parser = parse_tolerance)]
    pub tolerance: f64,
    /// Write (overwrite) the baseline files from this run instead of comparing.
    #[arg(long)]
    pub update: bool,
}

/// `0.05` or `5%`: a finite fraction >= 0.
fn parse_tolerance(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.trim().strip_suffix('%') {
        Some(p) => (p, 100.0),
        None => (s.trim(), 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x / scale),
        _ => {
            Err(format!("`{s}` is not a tolerance: expected a fraction >= 0 such as 0.05, or a percentage such as 5%"))
        }
    }
}

/// Absolute tolerance floor by unit (see the module doc).
fn floor(unit: &str) -> f64 {
    match unit {
        "ratio" | "index" => 0.005,
        "streams" => 0.01,
        "s" => 0.05,
        "chunks" | "runs" | "peers" | "kbps" => 1.0,
        _ => 0.0,
    }
}

/// Mean and 95% confidence half-width of one metric over seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    pub n: usize,
    pub mean: f64,
    pub ci: f64,
}

/// How a judged metric moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Unchanged,
    Better,
    Worse,
    WithinNoise,
    WithinTolerance,
    /// Defined in the baseline, undefined now: a regression.
    NowUndefined,
    /// Undefined in the baseline, defined now.
    NowDefined,
    /// Not in the baseline.
    New,
    /// In the baseline, no longer produced.
    Gone,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Unchanged => "unchanged",
            Verdict::Better => "better",
            Verdict::Worse => "WORSE",
            Verdict::WithinNoise => "within noise",
            Verdict::WithinTolerance => "within tolerance",
            Verdict::NowUndefined => "WORSE (now undefined)",
            Verdict::NowDefined => "better (now defined)",
            Verdict::New => "new (not in baseline)",
            Verdict::Gone => "gone (not produced now)",
        }
    }

    fn is_regression(self) -> bool {
        matches!(self, Verdict::Worse | Verdict::NowUndefined)
    }
}

/// The regression rule of the module doc.
pub fn judge(better: Better, unit: &str, base: Stat, new: Stat, tolerance: f64) -> Verdict {
    let worse = match better {
        Better::Higher => base.mean - new.mean,
        Better::Lower => new.mean - base.mean,
        Better::Neither => return Verdict::Unchanged,
    };
    if worse == 0.0 {
        return Verdict::Unchanged;
    }
    let noise = base.ci.hypot(new.ci);
    let tol = (tolerance * base.mean.abs()).max(floor(unit));
    if worse.abs() <= noise {
        Verdict::WithinNoise
    } else if worse.abs() <= tol {
        Verdict::WithinTolerance
    } else if worse > 0.0 {
        Verdict::Worse
    } else {
        Verdict::Better
    }
}

/// A baseline file: (variant, metric) -> statistics (`None`: undefined), and its seeds.
struct Baseline {
    path: PathBuf,
    rows: BTreeMap<(String, String), (Option<Stat>, String)>,
    seeds: String,
}

fn read_baseline(path: &Path, how_to_create: &str) -> Result<Baseline, String> {
    let file = path.display();
    if !path.is_file() {
        return Err(format!("baseline file {file} does not exist: create it with `{how_to_create}`"));
    }
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("cannot read baseline file {file}: {e}"))?;
    let headers = r.headers().map_err(|e| format!("cannot read baseline file {file}: {e}"))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            format!(
                "baseline file {file} is not in the replications.csv format (no `{name}` column): \
                 regenerate it with `{how_to_create}`"
            )
        })
    };
    let (variant, metric, n, mean, low, high, unit) =
        (col("variant")?, col("metric")?, col("n")?, col("mean")?, col("ci95_low")?, col("ci95_high")?, col("unit")?);
    let seeds_col = headers.iter().position(|h| h == "seeds");
    let mut rows = BTreeMap::new();
    let mut seeds = String::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("cannot read baseline file {file}: {e}"))?;
        let field = |c: usize| rec.get(c).unwrap_or("");
        let num = |c: usize, what: &str| -> Result<Option<f64>, String> {
            match field(c) {
                "" => Ok(None),
                s => s
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("{file}: line {line}: `{what}` is `{s}`, not a number")),
            }
        };
        let count: usize =
            field(n).parse().map_err(|_| format!("{file}: line {line}: `n` is `{}`, not a count", field(n)))?;
        let stat = match num(mean, "mean")? {
            Some(m) if count > 0 => {
                let ci = match (num(low, "ci95_low")?, num(high, "ci95_high")?) {
                    (Some(l), Some(h)) => (h - l) / 2.0,
                    _ => 0.0,
                };
                Some(Stat { n: count, mean: m, ci })
            }
            _ => None,
        };
        if seeds.is_empty()
            && let Some(c) = seeds_col
        {
            seeds = field(c).to_string();
        }
        rows.insert((field(variant).to_string(), field(metric).to_string()), (stat, field(unit).to_string()));
    }
    if rows.is_empty() {
        return Err(format!("baseline file {file} has no rows: regenerate it with `{how_to_create}`"));
    }
    Ok(Baseline { path: path.to_path_buf(), rows, seeds })
}

/// One line of the comparison.
struct Line {
    variant: String,
    metric: String,
    unit: String,
    base: Option<Stat>,
    new: Option<Stat>,
    verdict: Verdict,
}

fn stat_of(reps: &[Report], metric: &str) -> Option<Stat> {
    let values: Vec<Option<f64>> = reps.iter().map(|r| r.get(metric)).collect();
    analysis::stats::summarize(&values).map(|s| Stat { n: s.n, mean: s.mean, ci: s.ci95.unwrap_or(0.0) })
}

/// Every judged metric of every variant, compared with the baseline.
fn compare(base: &Baseline, rows: &[(String, Vec<Report>)], tolerance: f64) -> Vec<Line> {
    let mut lines = Vec::new();
    for (variant, reps) in rows {
        let Some(first) = reps.first() else { continue };
        for m in first.metrics.iter().filter(|m| m.better != Better::Neither) {
            let new = stat_of(reps, &m.name);
            let key = (variant.clone(), m.name.clone());
            let (b, verdict) = match base.rows.get(&key) {
                None => (None, if new.is_some() { Verdict::New } else { Verdict::Unchanged }),
                Some((b, _)) => {
                    let v = match (b, new) {
                        (Some(b), Some(n)) => judge(m.better, m.unit, *b, n, tolerance),
                        (Some(_), None) => Verdict::NowUndefined,
                        (None, Some(_)) => Verdict::NowDefined,
                        (None, None) => Verdict::Unchanged,
                    };
                    (*b, v)
                }
            };
            lines.push(Line {
                variant: variant.clone(),
                metric: m.name.clone(),
                unit: m.unit.into(),
                base: b,
                new,
                verdict,
            });
        }
    }
    // Baseline rows this run no longer produces (direction unknown: not judged).
    for ((variant, metric), (b, unit)) in &base.rows {
        let produced = rows
            .iter()
            .any(|(v, reps)| v == variant && reps.iter().any(|r| r.metrics.iter().any(|m| &m.name == metric)));
        if !produced {
            lines.push(Line {
                variant: variant.clone(),
                metric: metric.clone(),
                unit: unit.clone(),
                base: *b,
                new: None,
                verdict: Verdict::Gone,
            });
        }
    }
    lines
}

/// A number with a precision that suits its size.
fn num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

fn mean_ci(s: Option<Stat>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n > 1 => format!("{}±{}", num(s.mean), num(s.ci)),
        Some(s) => num(s.mean),
    }
}

fn change(base: Option<Stat>, new: Option<Stat>) -> String {
    let (Some(b), Some(n)) = (base, new) else { return "-".into() };
    let d = n.mean - b.mean;
    let sign = if d < 0.0 { "-" } else { "+" };
    let mut s = format!("{sign}{}", num(d.abs()));
    if b.mean != 0.0 {
        let _ = write!(s, " ({sign}{:.1}%)", (d / b.mean).abs() * 100.0);
    }
    s
}

/// The table of metrics that moved.
fn table(lines: &[Line], multi_variant: bool) -> String {
    let moved: Vec<&Line> = lines.iter().filter(|l| l.verdict != Verdict::Unchanged).collect();
    let mut s = String::new();
    if moved.is_empty() {
        let _ = writeln!(s, "  no judged metric moved ({} compared)", lines.len());
        return s;
    }
    let header = ["metric", "unit", "baseline", "new", "change", "verdict"];
    let rows: Vec<[String; 6]> = moved
        .iter()
        .map(|l| {
            let name = if multi_variant { format!("{} {}", l.variant, l.metric) } else { l.metric.clone() };
            [name, l.unit.clone(), mean_ci(l.base), mean_ci(l.new), change(l.base, l.new), l.verdict.text().into()]
        })
        .collect();
    let widths: Vec<usize> =
        (0..6).map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].len()]).max().unwrap_or(0)).collect();
    let fmt_row = |cells: [&str; 6]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, x)| {
                if (2..5).contains(&c) { format!("{x:>w$}", w = widths[c]) } else { format!("{x:<w$}", w = widths[c]) }
            })
            .collect();
        format!("  {}", parts.join("  ").trim_end())
    };
    let _ = writeln!(s, "{}", fmt_row(header));
    for r in &rows {
        let _ = writeln!(s, "{}", fmt_row([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
    }
    let unchanged = lines.len() - moved.len();
    let _ = writeln!(s, "  ({} judged metrics; {unchanged} unchanged)", lines.len());
    s
}

/// `swarmlab check`.
pub fn main(args: Args) -> ExitCode {
    use std::io::Write;
    // Load every scenario (and baseline) before running anything.
    let mut suite: Vec<(PathBuf, Scenario, String)> = Vec::new();
    for p in &args.scenarios {
        match Scenario::load(p) {
            Ok((sc, _)) => {
                let name = sc.display_name(p);
                if let Some((other, _, _)) = suite.iter().find(|(_, _, n)| *n == name) {
                    eprintln!(
                        "error: {} and {} are both named `{name}` and would share the baseline file {name}.csv: \
                         give one of them another `name`",
                        other.display(),
                        p.display()
                    );
                    return ExitCode::from(2);
                }
                suite.push((p.clone(), sc, name));
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let baseline_path = |name: &str| args.baseline.join(format!("{name}.csv"));
    let mut baselines = Vec::new();
    if !args.update {
        for (p, _, name) in &suite {
            let how = format!(
                "swarmlab check {} --baseline {} --update` (from a release build of the code you trust: \
                 `cargo run --release -- check ...`",
                p.display(),
                args.baseline.display()
            );
            match read_baseline(&baseline_path(name), &how) {
                Ok(b) => baselines.push(b),
                Err(m) => {
                    eprintln!("error: {m}");
                    return ExitCode::from(2);
                }
            }
        }
    }

    let mut stdout = std::io::stdout().lock();
    let mut regressions: Vec<String> = Vec::new();
    for (k, (p, sc, name)) in suite.iter().enumerate() {
        let reps = args.reps.unwrap_or(*sc.reps.get_ref());
        if reps < 3 && k == 0 {
            eprintln!(
                "note: {reps} seed(s) per scenario: confidence intervals are wide or undefined; 3 or more are recommended"
            );
        }
        let rows = runner::run_matrix(sc, name, sc.seed, reps);
        let seeds: Vec<String> = (0..u64::from(reps)).map(|i| sc.seed.wrapping_add(i).to_string()).collect();
        if args.update {
            let path = baseline_path(name);
            let bytes = analysis::output::replications_csv(&rows);
            let written =
                std::fs::create_dir_all(&args.baseline).and_then(|()| analysis::output::write_atomic(&path, &bytes));
            if let Err(e) = written {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(1);
            }
            let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
            let _ =
                writeln!(stdout, "wrote {} ({name}: {}; seeds {})", path.display(), labels.join(", "), seeds.join(" "));
            continue;
        }
        let base = &baselines[k];
        let lines = compare(base, &rows, args.tolerance);
        let _ = writeln!(
            stdout,
            "{name} ({}): seeds {} vs baseline {} (seeds {}), tolerance {}%",
            p.display(),
            seeds.join(" "),
            base.path.display(),
            if base.seeds.is_empty() { "?" } else { &base.seeds },
            (args.tolerance * 100.0 * 1e6).round() / 1e6
        );
        let _ = write!(stdout, "{}", table(&lines, rows.len() > 1));
        let worse: Vec<&Line> = lines.iter().filter(|l| l.verdict.is_regression()).collect();
        for l in &worse {
            let label = if rows.len() > 1 { format!("{} {}", l.variant, l.metric) } else { l.metric.clone() };
            regressions.push(format!("{name}: {label}"));
        }
        let _ = writeln!(
            stdout,
            "  => {}\n",
            if worse.is_empty() { "ok".to_string() } else { format!("{} regressions", worse.len()) }
        );
    }
    if args.update {
        return ExitCode::SUCCESS;
    }
    if regressions.is_empty() {
        let _ = writeln!(stdout, "check passed: no regression in {} scenarios", suite.len());
        ExitCode::SUCCESS
    } else {
        let _ = writeln!(stdout, "check FAILED: {} regressions: {}", regressions.len(), regressions.join(", "));
        let _ = stdout.flush();
        eprintln!(
            "error: {} metrics are worse than the baseline beyond noise and tolerance (see the table above); \
             if the change is intended, regenerate the baselines with --update",
            regressions.len()
        );
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(mean: f64, ci: f64) -> Stat {
        Stat { n: 3, mean, ci }
    }

    #[test]
    fn regression_needs_both_noise_and_tolerance() {
        let j = |b: Better, unit: &str, base: Stat, new: Stat| judge(b, unit, base, new, 0.05);
        // Continuity (higher is better) 0.90 -> 0.80, tight intervals: worse.
        assert_eq!(j(Better::Higher, "ratio", st(0.9, 0.01), st(0.8, 0.01)), Verdict::Worse);
        assert_eq!(j(Better::Higher, "ratio", st(0.8, 0.01), st(0.9, 0.01)), Verdict::Better);
        // The same drop inside wide intervals: noise.
        assert_eq!(j(Better::Higher, "ratio", st(0.9, 0.08), st(0.8, 0.08)), Verdict::WithinNoise);
        // Beyond the intervals but under 5% of the mean: tolerance.
        assert_eq!(j(Better::Higher, "ratio", st(0.9, 0.001), st(0.88, 0.001)), Verdict::WithinTolerance);
        // Lower is better: a lag increase is worse, a decrease better.
        assert_eq!(j(Better::Lower, "s", st(20.0, 0.5), st(25.0, 0.5)), Verdict::Worse);
        assert_eq!(j(Better::Lower, "s", st(20.0, 0.5), st(15.0, 0.5)), Verdict::Better);
        // Near zero the unit's floor applies: 0 -> 0.003 duplicate ratio is fine, 0 -> 0.01 is not.
        assert_eq!(j(Better::Lower, "ratio", st(0.0, 0.0), st(0.003, 0.0)), Verdict::WithinTolerance);
        assert_eq!(j(Better::Lower, "ratio", st(0.0, 0.0), st(0.01, 0.0)), Verdict::Worse);
        assert_eq!(j(Better::Lower, "chunks", st(0.0, 0.0), st(1.0, 0.0)), Verdict::WithinTolerance);
        assert_eq!(j(Better::Lower, "chunks", st(0.0, 0.0), st(2.0, 0.0)), Verdict::Worse);
        // Identical, or undirected: unchanged.
        assert_eq!(j(Better::Higher, "ratio", st(0.9, 0.01), st(0.9, 0.02)), Verdict::Unchanged);
        assert_eq!(j(Better::Neither, "kbps", st(1.0, 0.0), st(9.0, 0.0)), Verdict::Unchanged);
    }

    #[test]
    fn tolerance_accepts_fractions_and_percentages() {
        assert_eq!(parse_tolerance("0.05"), Ok(0.05));
        assert_eq!(parse_tolerance("5%"), Ok(0.05));
        assert_eq!(parse_tolerance("0"), Ok(0.0));
        assert!(parse_tolerance("-1").is_err());
        assert!(parse_tolerance("lots").is_err());
        assert!(parse_tolerance("NaN").is_err());
    }
}
