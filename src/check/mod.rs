//! `swarmlab check`: the regression gate.
//!
//! ```sh
//! swarmlab check scenarios/ci/*.toml --baseline results/baseline            # the gate (CI runs it)
//! swarmlab check scenarios/ci/*.toml --baseline results/baseline --update   # regenerate the baselines
//! swarmlab check scenarios/ci/*.toml --baseline A --candidate B             # compare two stored runs
//! ```
//!
//! `--update` runs each scenario with K seeds (`--reps K`, default the
//! scenario's `reps`) starting at its `seed`, every variant if it has
//! `[[variants]]`, and writes the per-seed values of the judged metrics to
//! `DIR/<scenario name>.csv` ([`baseline`]: format `swarmlab-check/2`). It is
//! the one way to make baselines, from a release build of the code you trust;
//! the diff of the baseline files is then part of the change under review.
//!
//! Without `--update`, each scenario is rerun with **the baseline's seeds**
//! (`--reps K`: its first K only) and every judged metric ([`paired::RULES`]:
//! continuity, median startup delay, median lag, control overhead, duplicate
//! ratio) of every variant is compared seed by seed with the baseline: a
//! paired one-sided test on the per-seed differences, Bonferroni-corrected so
//! that the whole suite's false-alarm rate is at most `--alpha` (0.05), and a
//! tolerance below which a significant change is not a regression
//! (continuity 0.005 absolute; the others `--tolerance`, 5%, of the baseline
//! mean). [`paired`] has the statistic and the reasons; the study that
//! measures the gate's power and false alarms is results/gate-power/.
//!
//! `--candidate DIR` takes the candidate's per-seed values from baseline-format
//! files in DIR (made by `--update` with another build) instead of running.
//!
//! The command prints, per scenario, the judged metrics that moved (baseline
//! and new means, the change, its simultaneous interval, the verdict), and for
//! each regression an explanation: the change and interval, the seed that
//! moved most, and the command that reruns that seed with the baseline's code
//! and with this code side by side. Exit status: 0 when nothing regressed, 1
//! on any regression, 2 on bad input (a scenario error, a missing, old-format
//! or malformed baseline file, seeds the baseline does not have).

pub mod baseline;
pub mod paired;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use analysis::Report;
use baseline::Table;
use paired::{Outcome, RULES, Rule, Verdict};
use sim::runner;
use sim::scenario::Scenario;

/// Arguments of `swarmlab check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario files of the suite (TOML).
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Directory of the baselines: one `<scenario name>.csv` (per-seed values, format swarmlab-check/2) per scenario.
    #[arg(long, value_name = "DIR")]
    pub baseline: PathBuf,
    /// With --update: seeds per scenario (default: the scenario's `reps`).
    /// Otherwise: compare on the baseline's first K seeds only.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub reps: Option<u32>,
    /// Relative tolerance of the metrics judged relative to their baseline
    /// mean (all but continuity, whose tolerance is 0.005 absolute).
    #[arg(long, default_value = "0.05", value_parser = parse_fraction)]
    pub tolerance: f64,
    /// Family-wise false-alarm rate of the whole suite (Bonferroni over every
    /// judged variant and metric).
    #[arg(long, default_value = "0.05", value_parser = parse_alpha)]
    pub alpha: f64,
    /// Take the candidate's per-seed values from the baseline-format files in
    /// DIR instead of running this build.
    #[arg(long, value_name = "DIR", conflicts_with = "update")]
    pub candidate: Option<PathBuf>,
    /// Write (overwrite) the baseline files from this run instead of comparing.
    #[arg(long)]
    pub update: bool,
}

/// `0.05` or `5%`: a finite fraction >= 0.
fn parse_fraction(s: &str) -> Result<f64, String> {
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

/// A false-alarm rate strictly between 0 and 0.5.
fn parse_alpha(s: &str) -> Result<f64, String> {
    match parse_fraction(s) {
        Ok(a) if a > 0.0 && a < 0.5 => Ok(a),
        _ => Err(format!("`{s}` is not a false-alarm rate: expected a fraction in (0, 0.5) such as 0.05, or 5%")),
    }
}

/// The per-seed values of the judged metrics of a fresh run (`rows` as
/// `runner::run_matrix` returns them, run with `seeds`).
pub fn table_of(scenario: &str, rows: &[(String, Vec<Report>)], seeds: &[u64]) -> Table {
    Table {
        scenario: scenario.to_string(),
        metrics: RULES.iter().map(|r| r.metric.to_string()).collect(),
        variants: rows
            .iter()
            .map(|(label, reps)| {
                let per_seed =
                    seeds.iter().zip(reps).map(|(s, r)| (*s, RULES.iter().map(|u| r.get(u.metric)).collect()));
                (label.clone(), per_seed.collect())
            })
            .collect(),
    }
}

/// One judged (variant, metric) of a scenario.
#[derive(Clone, Debug)]
pub struct Line {
    pub variant: String,
    pub rule: &'static Rule,
    /// The paired test, when both sides have values.
    pub outcome: Option<Outcome>,
    pub verdict: Verdict,
}

/// How many (variant, metric) tests a suite of baselines makes: the `m` of the
/// Bonferroni correction.
pub fn tests_in<'a>(baselines: impl IntoIterator<Item = &'a Table>) -> usize {
    baselines
        .into_iter()
        .map(|t| t.variants.len() * t.metrics.iter().filter(|m| paired::rule(m).is_some()).count())
        .sum()
}

/// Compares one scenario's candidate values with its baseline, seed by seed
/// (seeds missing on either side are left out), with `m` tests in the suite.
pub fn compare(base: &Table, new: &Table, m: usize, alpha: f64, tolerance: f64) -> Vec<Line> {
    let mut variants: Vec<&str> = base.variants.iter().map(|v| v.0.as_str()).collect();
    variants.extend(new.variants.iter().map(|v| v.0.as_str()).filter(|v| base.variants.iter().all(|b| b.0 != *v)));
    let mut lines = Vec::new();
    for variant in variants {
        for rule in &RULES {
            let line = |outcome, verdict| Line { variant: variant.to_string(), rule, outcome, verdict };
            let verdict = match (base.series(variant, rule.metric), new.series(variant, rule.metric)) {
                (None, None) => continue,
                (None, Some(n)) if n.iter().any(|x| x.1.is_some()) => Verdict::New,
                (None, Some(_)) => continue,
                (Some(_), None) => Verdict::Gone,
                (Some(b), Some(n)) => {
                    let now: std::collections::BTreeMap<u64, Option<f64>> = n.into_iter().collect();
                    let common: Vec<(u64, Option<f64>, Option<f64>)> =
                        b.iter().filter_map(|&(s, x)| now.get(&s).map(|&y| (s, x, y))).collect();
                    let pairs: Vec<(u64, f64, f64)> =
                        common.iter().filter_map(|&(s, x, y)| Some((s, x?, y?))).collect();
                    let (b_def, n_def) = (common.iter().any(|c| c.1.is_some()), common.iter().any(|c| c.2.is_some()));
                    if !pairs.is_empty() {
                        let o = paired::judge(rule, &pairs, paired::critical(alpha, m, pairs.len()), tolerance);
                        lines.push(line(Some(o), o.verdict));
                        continue;
                    }
                    match (b_def, n_def) {
                        (true, false) => Verdict::NowUndefined,
                        (false, true) => Verdict::NowDefined,
                        _ => Verdict::Unchanged,
                    }
                }
            };
            lines.push(line(None, verdict));
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

fn signed(x: f64) -> String {
    if x < 0.0 { format!("-{}", num(-x)) } else { format!("+{}", num(x)) }
}

/// `+0.0100 (+1.1%)`: a change and its size relative to the baseline mean.
fn change_text(o: &Outcome) -> String {
    let mut s = signed(o.change);
    if o.base_mean != 0.0 {
        let _ =
            write!(s, " ({}{:.1}%)", if o.change < 0.0 { "-" } else { "+" }, (o.change / o.base_mean).abs() * 100.0);
    }
    s
}

fn interval_text(o: &Outcome) -> String {
    if o.n < 2 { "-".into() } else { format!("[{}, {}]", signed(o.change - o.half), signed(o.change + o.half)) }
}

/// The table of the judged metrics that moved.
fn table(lines: &[Line], multi_variant: bool) -> String {
    let moved: Vec<&Line> = lines.iter().filter(|l| l.verdict != Verdict::Unchanged).collect();
    let mut s = String::new();
    if moved.is_empty() {
        let _ = writeln!(s, "  no judged metric moved ({} compared)", lines.len());
        return s;
    }
    const HEADER: [&str; 7] = ["metric", "unit", "baseline", "new", "change", "interval", "verdict"];
    let rows: Vec<[String; 7]> = moved
        .iter()
        .map(|l| {
            let name = if multi_variant { format!("{} {}", l.variant, l.rule.metric) } else { l.rule.metric.into() };
            let (b, n, c, i) = match &l.outcome {
                Some(o) => (num(o.base_mean), num(o.new_mean), change_text(o), interval_text(o)),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            [name, l.rule.unit.into(), b, n, c, i, l.verdict.text().into()]
        })
        .collect();
    let widths: Vec<usize> =
        (0..7).map(|c| rows.iter().map(|r| r[c].chars().count()).chain([HEADER[c].len()]).max().unwrap_or(0)).collect();
    let fmt_row = |cells: [&str; 7]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, x)| {
                if (2..6).contains(&c) { format!("{x:>w$}", w = widths[c]) } else { format!("{x:<w$}", w = widths[c]) }
            })
            .collect();
        format!("  {}", parts.join("  ").trim_end())
    };
    let _ = writeln!(s, "{}", fmt_row(HEADER));
    for r in &rows {
        let _ = writeln!(s, "{}", fmt_row([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]]));
    }
    let _ = writeln!(s, "  ({} judged metrics; {} unchanged)", lines.len(), lines.len() - moved.len());
    s
}

/// The explanation of one regression: what moved, by how much, with what
/// interval, and on which seed most.
fn explain(l: &Line, m: usize, alpha: f64) -> String {
    let mut s = format!("  REGRESSION {} {}", l.variant, l.rule.metric);
    let Some(o) = &l.outcome else {
        let _ = writeln!(s, ": defined in the baseline, undefined now on every seed (no peer got that far)");
        return s;
    };
    let _ = writeln!(
        s,
        " [{}]: {} -> {}, change {}, paired over {} seeds; interval {} (simultaneous {}% over the suite's {m} tests), \
         tolerance {}",
        l.rule.unit,
        num(o.base_mean),
        num(o.new_mean),
        change_text(o),
        o.n,
        interval_text(o),
        (1.0 - alpha) * 100.0,
        num(o.tolerance)
    );
    if let Some((seed, b, n)) = o.worst {
        let _ = writeln!(s, "    moved most on seed {seed}: {} -> {}", num(b), num(n));
    }
    s
}

/// The command that reruns `seed` of a scenario with the code that made the
/// baseline file (the commit that last changed it) and with this code, side
/// by side; `cmd` is `compare` for a scenario with `[[variants]]`, else `run`.
fn reproduce(scenario: &Path, base_file: &Path, seed: u64, cmd: &str) -> String {
    let (sc, bf) = (scenario.display(), base_file.display());
    format!(
        "  reproduce seed {seed} with the baseline's code and with this code, side by side:\n    \
         git worktree add /tmp/swarmlab-baseline \"$(git log -1 --format=%H -- {bf})\" && \
         (cd /tmp/swarmlab-baseline && cargo run --release -- {cmd} {sc} --seed {seed} --reps 1 --out /tmp/gate-baseline) && \
         cargo run --release -- {cmd} {sc} --seed {seed} --reps 1 --out /tmp/gate-new\n"
    )
}

/// The seeds to compare on: the baseline's (its first `reps` if given), which
/// must be consecutive to be run (`--update` writes them so).
fn seeds_to_run(base: &Table, reps: Option<u32>, file: &Path, run: bool) -> Result<Vec<u64>, String> {
    let mut seeds = base.seeds();
    if let Some(k) = reps {
        if k as usize > seeds.len() {
            return Err(format!(
                "--reps {k}: the baseline {} has only {} seeds; use --reps {} or less, or regenerate it with more",
                file.display(),
                seeds.len(),
                seeds.len()
            ));
        }
        seeds.truncate(k as usize);
    }
    if run && seeds.windows(2).any(|w| w[0].checked_add(1) != Some(w[1])) {
        return Err(format!(
            "the seeds of baseline {} are not consecutive: regenerate it with --update (which writes consecutive seeds)",
            file.display()
        ));
    }
    Ok(seeds)
}

fn seed_range(seeds: &[u64]) -> String {
    match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if a != b => format!("{a}..{b}"),
        (Some(a), _) => a.to_string(),
        _ => "none".into(),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
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
                    return fail(&format!(
                        "{} and {} are both named `{name}` and would share the baseline file {name}.csv: \
                         give one of them another `name`",
                        other.display(),
                        p.display()
                    ));
                }
                suite.push((p.clone(), sc, name));
            }
            Err(e) => return fail(&e.to_string()),
        }
    }
    let file_in = |dir: &Path, name: &str| dir.join(format!("{name}.csv"));
    let mut stdout = std::io::stdout().lock();
    if args.update {
        for (_, sc, name) in &suite {
            let reps = args.reps.unwrap_or(*sc.reps.get_ref());
            let seeds: Vec<u64> = (0..u64::from(reps)).map(|i| sc.seed.wrapping_add(i)).collect();
            let rows = runner::run_matrix(sc, name, sc.seed, reps);
            let path = file_in(&args.baseline, name);
            let bytes = table_of(name, &rows, &seeds).to_csv();
            let written = std::fs::create_dir_all(&args.baseline)
                .and_then(|()| analysis::output::write_atomic(&path, bytes.as_bytes()));
            if let Err(e) = written {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(1);
            }
            let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
            let _ = writeln!(
                stdout,
                "wrote {} ({name}: {}; seeds {})",
                path.display(),
                labels.join(", "),
                seed_range(&seeds)
            );
        }
        return ExitCode::SUCCESS;
    }

    let mut bases = Vec::new();
    for (p, _, name) in &suite {
        let how = format!("swarmlab check {} --baseline {} --update", p.display(), args.baseline.display());
        match baseline::read(&file_in(&args.baseline, name), &how) {
            Ok(b) => bases.push(b),
            Err(m) => return fail(&m),
        }
    }
    let mut news = Vec::new();
    for ((_, sc, name), base) in suite.iter().zip(&bases) {
        let seeds = match seeds_to_run(base, args.reps, &file_in(&args.baseline, name), args.candidate.is_none()) {
            Ok(s) => s,
            Err(m) => return fail(&m),
        };
        let new = match &args.candidate {
            Some(dir) => match baseline::read(&file_in(dir, name), "swarmlab check ... --baseline DIR --update") {
                Ok(t) => t,
                Err(m) => return fail(&format!("candidate: {m}")),
            },
            None => {
                let rows = runner::run_matrix(sc, name, seeds[0], seeds.len() as u32);
                table_of(name, &rows, &seeds)
            }
        };
        news.push((seeds, new));
    }
    let m = tests_in(&bases);
    let _ = writeln!(
        stdout,
        "paired test per judged metric (per-seed differences, common random numbers); {m} tests in the suite, \
         false alarms at most {}% over all of them (Bonferroni); tolerance: continuity 0.005, others {}% of the baseline\n",
        args.alpha * 100.0,
        (args.tolerance * 100.0 * 1e6).round() / 1e6
    );
    let mut regressions: Vec<String> = Vec::new();
    for (((p, sc, name), base), (seeds, new)) in suite.iter().zip(&bases).zip(&news) {
        let mut base = base.clone();
        for v in &mut base.variants {
            v.1.retain(|r| seeds.contains(&r.0));
        }
        let lines = compare(&base, new, m, args.alpha, args.tolerance);
        let base_file = file_in(&args.baseline, name);
        let _ = writeln!(
            stdout,
            "{name} ({}): seeds {} ({}) vs baseline {}",
            p.display(),
            seed_range(seeds),
            match &args.candidate {
                Some(d) => format!("candidate {}", file_in(d, name).display()),
                None => "this build".into(),
            },
            base_file.display()
        );
        let multi = base.variants.len() > 1 || new.variants.len() > 1;
        let _ = write!(stdout, "{}", table(&lines, multi));
        let worse: Vec<&Line> = lines.iter().filter(|l| l.verdict.is_regression()).collect();
        for l in &worse {
            let _ = write!(stdout, "{}", explain(l, m, args.alpha));
            let label = if multi { format!("{} {}", l.variant, l.rule.metric) } else { l.rule.metric.to_string() };
            regressions.push(format!("{name}: {label}"));
        }
        if let Some((seed, _, _)) = worse.iter().find_map(|l| l.outcome.and_then(|o| o.worst)) {
            let cmd = if sc.variants.is_empty() { "run" } else { "compare" };
            let _ = write!(stdout, "{}", reproduce(p, &base_file, seed, cmd));
        }
        let _ = writeln!(
            stdout,
            "  => {}\n",
            if worse.is_empty() { "ok".to_string() } else { format!("{} regressions", worse.len()) }
        );
    }
    if regressions.is_empty() {
        let _ = writeln!(stdout, "check passed: no regression in {} scenarios", suite.len());
        ExitCode::SUCCESS
    } else {
        let _ = writeln!(stdout, "check FAILED: {} regressions: {}", regressions.len(), regressions.join(", "));
        let _ = stdout.flush();
        eprintln!(
            "error: {} metrics are worse than the baseline, significantly and beyond tolerance (see the explanations \
             above); if the change is intended, regenerate the baselines with --update",
            regressions.len()
        );
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_and_alphas_parse() {
        assert_eq!(parse_fraction("0.05"), Ok(0.05));
        assert_eq!(parse_fraction("5%"), Ok(0.05));
        assert_eq!(parse_fraction("0"), Ok(0.0));
        assert!(parse_fraction("-1").is_err());
        assert!(parse_fraction("lots").is_err());
        assert!(parse_fraction("NaN").is_err());
        assert_eq!(parse_alpha("1%"), Ok(0.01));
        assert!(parse_alpha("0").is_err() && parse_alpha("0.7").is_err());
    }

    fn tab(variant: &str, vals: &[(u64, Option<f64>)]) -> Table {
        Table {
            scenario: "s".into(),
            metrics: vec!["continuity_mean".into()],
            variants: vec![(variant.into(), vals.iter().map(|&(s, v)| (s, vec![v])).collect())],
        }
    }

    #[test]
    fn compare_pairs_by_seed_and_names_the_undefined() {
        let base = tab("v", &[(1, Some(0.9)), (2, Some(0.8)), (3, Some(0.85))]);
        // Seeds in another order, one missing: paired by seed value.
        let new = tab("v", &[(3, Some(0.75)), (1, Some(0.8))]);
        let l = compare(&base, &new, 1, 0.05, 0.05);
        assert_eq!(l.len(), 1);
        let o = l[0].outcome.unwrap();
        assert_eq!(o.n, 2);
        assert!((o.change + 0.1).abs() < 1e-12 && o.verdict == Verdict::Worse, "{o:?}");
        let gone = tab("v", &[(1, None), (2, None), (3, None)]);
        assert_eq!(compare(&base, &gone, 1, 0.05, 0.05)[0].verdict, Verdict::NowUndefined);
        assert_eq!(compare(&gone, &base, 1, 0.05, 0.05)[0].verdict, Verdict::NowDefined);
        let other = tab("w", &[(1, Some(0.9))]);
        let v: Vec<Verdict> = compare(&base, &other, 1, 0.05, 0.05).iter().map(|l| l.verdict).collect();
        assert_eq!(v, [Verdict::Gone, Verdict::New]);
        assert_eq!(tests_in([&base, &other]), 2);
    }

    #[test]
    fn explanation_names_metric_interval_seed_and_command() {
        let base = tab("v", &[(1, Some(0.9)), (2, Some(0.8)), (3, Some(0.85))]);
        let new = tab("v", &[(1, Some(0.88)), (2, Some(0.7)), (3, Some(0.84))]);
        let l = &compare(&base, &new, 1, 0.05, 0.05)[0];
        let e = explain(l, 1, 0.05);
        assert!(e.contains("REGRESSION v continuity_mean"), "{e}");
        assert!(e.contains("interval [") && e.contains("moved most on seed 2"), "{e}");
        let e = reproduce(Path::new("scenarios/ci/x.toml"), Path::new("results/baseline/x.csv"), 2, "compare");
        assert!(e.contains("compare scenarios/ci/x.toml --seed 2 --reps 1"), "{e}");
        assert!(e.contains("git log -1 --format=%H -- results/baseline/x.csv"), "{e}");
    }
}
