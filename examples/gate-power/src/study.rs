//! `gate-power study`: replays the gate (`swarmlab::check::compare`, the
//! very function `swarmlab check` calls) on seed subsets of pools of runs,
//! one pool per injected change, and writes what it finds:
//!
//! - `effects.csv`: each injection's true effect on every judged metric of
//!   every variant, measured over the whole pool (K seeds, paired with the
//!   `none` pool) with its standard error;
//! - `power.csv`: per injection and variant, how often the gate fails on that
//!   variant (any metric, and continuity, startup or lag specifically);
//! - `false-alarms.csv`: per no-change condition (`neutral`; `none`, which is
//!   identical by determinism), how often the whole suite fails;
//! - `power.svg`: detection rate against the measured effect;
//! - `summary.csv`: per variant, detection interpolated at the targets (a
//!   0.01 continuity drop, a 10% rise of median lag and of startup delay).
//!
//! A gate run uses each scenario's `reps` seeds, as CI does. Two kinds of
//! runs: **disjoint** runs take consecutive, non-overlapping blocks of the
//! pool (independent, but only K / reps of them); **resampled** runs draw
//! `reps` seeds with replacement from the pool, `--runs` times (a bootstrap:
//! runs share seeds, so their outcomes are correlated, and the rates are
//! those of the gate under the pool's empirical distribution of seeds).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use swarmlab::check::baseline::{self, Table};
use swarmlab::check::paired::RULES;
use swarmlab::check::{compare, tests_in};

/// Parsed arguments.
#[derive(Debug)]
struct Opts {
    pool: PathBuf,
    out: PathBuf,
    levels: Vec<String>,
    runs: usize,
    scenarios: Vec<PathBuf>,
}

const USAGE: &str =
    "usage: gate-power study --pool DIR --out DIR --levels \"none neutral drop=P ...\" [--runs B] SCENARIO...";

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o =
        Opts { pool: PathBuf::new(), out: PathBuf::new(), levels: Vec::new(), runs: 1000, scenarios: Vec::new() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value; {USAGE}"));
        match a.as_str() {
            "--pool" => o.pool = val("--pool")?.into(),
            "--out" => o.out = val("--out")?.into(),
            "--levels" => o.levels = val("--levels")?.split_whitespace().map(String::from).collect(),
            "--runs" => {
                let v = val("--runs")?;
                o.runs = v
                    .parse()
                    .ok()
                    .filter(|&r| (1..=100_000).contains(&r))
                    .ok_or_else(|| format!("--runs `{v}`: expected a whole number from 1 to 100000"))?;
            }
            s if s.starts_with("--") => return Err(format!("unknown option `{s}`; {USAGE}")),
            s => o.scenarios.push(s.into()),
        }
    }
    if o.pool.as_os_str().is_empty() || o.out.as_os_str().is_empty() || o.scenarios.is_empty() {
        return Err(USAGE.into());
    }
    if !o.levels.iter().any(|l| l == "none") {
        return Err(format!("--levels must include `none` (the unchanged code, the gate's baseline); {USAGE}"));
    }
    for l in &o.levels {
        crate::inject::Inject::parse(l)?;
    }
    Ok(o)
}

/// One scenario of the suite: name, seeds per gate run, and its table per level.
struct Suite {
    name: String,
    reps: usize,
    /// Seeds in this scenario's pools (the same at every level).
    k: usize,
    tables: BTreeMap<String, Table>,
}

fn load(o: &Opts) -> Result<Vec<Suite>, String> {
    crate::inject::registry().install();
    let mut suite = Vec::new();
    for p in &o.scenarios {
        let mut k = None;
        let (sc, _) = sim::scenario::Scenario::load(p).map_err(|e| e.to_string())?;
        let name = sc.display_name(p);
        let mut tables = BTreeMap::new();
        for l in &o.levels {
            let file = o.pool.join(l).join(format!("{name}.csv"));
            let t = baseline::read(&file, &format!("results/gate-power/run.sh (pool {})", o.pool.display()))?;
            let seeds = t.seeds();
            if *k.get_or_insert(seeds.len()) != seeds.len() || tables.values().any(|b: &Table| b.seeds() != seeds) {
                return Err(format!("{}: the pools do not all have the same seeds: rerun run.sh", file.display()));
            }
            tables.insert(l.clone(), t);
        }
        suite.push(Suite { name, reps: *sc.reps.get_ref() as usize, k: k.unwrap_or(0), tables });
    }
    Ok(suite)
}

/// The location-shift cross-check: the `neutral` pool with one metric moved
/// by exactly a target's size on every seed (name, metric, new value of x).
/// A shift: its level name, the metric it moves and how.
type Shift = (&'static str, &'static str, fn(f64) -> f64);

const SHIFTS: [Shift; 3] = [
    ("shift:continuity_mean-0.01", "continuity_mean", |x| x - 0.01),
    ("shift:lag_p50+10%", "lag_p50", |x| x * 1.1),
    ("shift:startup_delay_p50+10%", "startup_delay_p50", |x| x * 1.1),
];

/// `t` with `metric` mapped through `f` on every seed.
fn shifted(t: &Table, metric: &str, f: fn(f64) -> f64) -> Table {
    let mut t = t.clone();
    if let Some(c) = t.metrics.iter().position(|m| m == metric) {
        for (_, rows) in &mut t.variants {
            for (_, vals) in rows {
                vals[c] = vals[c].map(f);
            }
        }
    }
    t
}

/// `t` restricted to the pool rows `idx` (positions, repeats allowed),
/// relabelled with seeds 0.. so repeated seeds stay distinct pairs.
fn subset(t: &Table, idx: &[usize]) -> Table {
    let variants = t
        .variants
        .iter()
        .map(|(v, rows)| (v.clone(), idx.iter().enumerate().map(|(i, &j)| (i as u64, rows[j].1.clone())).collect()))
        .collect();
    Table { scenario: t.scenario.clone(), metrics: t.metrics.clone(), variants }
}

/// Per (level, scenario, variant): gate runs, failures on any metric, and per metric.
#[derive(Default, Clone)]
struct Tally {
    runs: usize,
    any: usize,
    metric: BTreeMap<&'static str, usize>,
}

type Key = (String, String, String);

/// Replays the gate on every subset: per-variant tallies and, per level,
/// how many runs failed the whole suite.
fn replay(
    suite: &[Suite],
    levels: &[String],
    m: usize,
    subsets: &[Vec<Vec<usize>>],
) -> (BTreeMap<Key, Tally>, BTreeMap<String, (usize, usize)>) {
    let mut tally: BTreeMap<Key, Tally> = BTreeMap::new();
    let mut suite_fail: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for run in subsets {
        for l in levels.iter().filter(|l| *l != "none") {
            let mut failed = false;
            for (s, idx) in suite.iter().zip(run) {
                let base = subset(&s.tables["none"], idx);
                let new = subset(&s.tables[l], idx);
                let lines = compare(&base, &new, m, 0.05, 0.05);
                for (v, _) in &base.variants {
                    let t = tally.entry((l.clone(), s.name.clone(), v.clone())).or_default();
                    t.runs += 1;
                    let bad: Vec<&'static str> = lines
                        .iter()
                        .filter(|x| &x.variant == v && x.verdict.is_regression())
                        .map(|x| x.rule.metric)
                        .collect();
                    if !bad.is_empty() {
                        t.any += 1;
                        failed = true;
                    }
                    for b in bad {
                        *t.metric.entry(b).or_default() += 1;
                    }
                }
            }
            let e = suite_fail.entry(l.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(failed);
        }
    }
    (tally, suite_fail)
}

/// The true effect of `level` on `metric` of `variant`: paired mean change over
/// the whole pool, its standard error, and the baseline mean.
fn effect(s: &Suite, level: &str, variant: &str, metric: &str) -> Option<(usize, f64, f64, f64)> {
    let all: Vec<usize> = (0..s.tables["none"].seeds().len()).collect();
    let line = compare(&subset(&s.tables["none"], &all), &subset(&s.tables[level], &all), 1, 0.05, 0.05)
        .into_iter()
        .find(|l| l.variant == variant && l.rule.metric == metric)?;
    let o = line.outcome?;
    // With m = 1 and alpha 0.05 the half-width is t(0.95, n-1) x se.
    let se = o.half / swarmlab::check::paired::critical(0.05, 1, o.n).max(f64::MIN_POSITIVE);
    Some((o.n, o.base_mean, o.change, se))
}

/// The effect in the bad direction used on the plot's x axis: continuity drop
/// (absolute) for `drop` levels, relative lag rise for `delay` levels.
fn bad_direction(metric: &str, base: f64, change: f64) -> f64 {
    match metric {
        "continuity_mean" => -change,
        _ if base != 0.0 => change / base,
        _ => 0.0,
    }
}

/// A variant's name on the plot and in summary.csv: scenario and variant
/// (two scenarios may have a variant of the same name).
fn label(scenario: &str, variant: &str) -> String {
    format!("{scenario} {variant}")
}

/// Linear interpolation of detection at effect `x` over points sorted by effect;
/// `None` when `x` is outside the measured effects.
fn at(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let mut p: Vec<(f64, f64)> = points.to_vec();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    p.windows(2).find(|w| w[0].0 <= x && x <= w[1].0).map(|w| {
        let (a, b) = (w[0], w[1]);
        if b.0 == a.0 { b.1 } else { a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0) }
    })
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.3}")).unwrap_or_default()
}

/// `gate-power study ...`.
pub fn main(args: &[String]) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let suite = load(&o)?;
    let m = tests_in(suite.iter().map(|s| &s.tables["none"]));
    // Disjoint blocks, then bootstrap draws (fixed generator: reproducible).
    let blocks = suite.iter().map(|s| s.k / s.reps.max(1)).min().unwrap_or(0);
    let disjoint: Vec<Vec<Vec<usize>>> =
        (0..blocks).map(|b| suite.iter().map(|s| (b * s.reps..(b + 1) * s.reps).collect()).collect()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let resampled: Vec<Vec<Vec<usize>>> = (0..o.runs)
        .map(|_| suite.iter().map(|s| (0..s.reps).map(|_| rng.random_range(0..s.k)).collect()).collect())
        .collect();
    // The shifts of the neutral pool join the injected levels.
    let mut suite = suite;
    let mut levels = o.levels.clone();
    if o.levels.iter().any(|l| l == "neutral") {
        for s in &mut suite {
            for (name, metric, f) in SHIFTS {
                let t = shifted(&s.tables["neutral"], metric, f);
                s.tables.insert(name.to_string(), t);
            }
        }
        levels.extend(SHIFTS.iter().map(|s| s.0.to_string()));
    }
    let (tally_d, fail_d) = replay(&suite, &levels, m, &disjoint);
    let (tally_r, fail_r) = replay(&suite, &levels, m, &resampled);

    std::fs::create_dir_all(&o.out).map_err(|e| format!("cannot create {}: {e}", o.out.display()))?;
    let write = |name: &str, text: &str| {
        let p = o.out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };

    // effects.csv
    let mut eff = String::from("injection,scenario,variant,metric,n,baseline_mean,change,se,change_bad_direction\n");
    for l in levels.iter().filter(|l| *l != "none") {
        for s in &suite {
            for (v, _) in &s.tables["none"].variants {
                for r in &RULES {
                    if let Some((n, b, c, se)) = effect(s, l, v, r.metric) {
                        let bad = bad_direction(r.metric, b, c);
                        let _ = writeln!(eff, "{l},{},{v},{},{n},{b},{c},{se},{bad}", s.name, r.metric);
                    }
                }
            }
        }
    }
    write("effects.csv", &eff)?;

    // power.csv and the points of the plot and summary.
    let mut pow = String::from(
        "injection,scenario,variant,runs_kind,runs,seeds_per_run,continuity_drop,startup_rise,lag_rise,\
         detected,detection_rate,detected_on_continuity,detected_on_startup,detected_on_lag\n",
    );
    let mut points: BTreeMap<(String, &'static str), Vec<(f64, f64)>> = BTreeMap::new();
    for ((l, sname, v), t) in &tally_r {
        let s = suite.iter().find(|s| &s.name == sname).expect("a scenario of the suite");
        let eff_of = |metric| effect(s, l, v, metric).map(|(_, b, c, _)| bad_direction(metric, b, c));
        let (cd, sr, lr) = (eff_of("continuity_mean"), eff_of("startup_delay_p50"), eff_of("lag_p50"));
        for (kind, tl) in [("resampled", Some(t)), ("disjoint", tally_d.get(&(l.clone(), sname.clone(), v.clone())))] {
            let Some(tl) = tl else { continue };
            let rate = tl.any as f64 / tl.runs.max(1) as f64;
            let on = |m: &str| tl.metric.get(m).copied().unwrap_or(0);
            let _ = writeln!(
                pow,
                "{l},{sname},{v},{kind},{},{},{},{},{},{},{rate:.4},{},{},{}",
                tl.runs,
                s.reps,
                fmt_opt(cd),
                fmt_opt(sr),
                fmt_opt(lr),
                tl.any,
                on("continuity_mean"),
                on("startup_delay_p50"),
                on("lag_p50")
            );
        }
        let key = |axis| (label(sname, v), axis);
        // The no-change condition is every panel's first point.
        if l == "neutral" {
            for (axis, x) in [("continuity", cd), ("lag", lr), ("startup", sr)] {
                if let Some(x) = x {
                    points.entry(key(axis)).or_default().push((x, t.any as f64 / t.runs.max(1) as f64));
                }
            }
        }
        if l.starts_with("drop=")
            && let Some(x) = cd
        {
            points.entry(key("continuity")).or_default().push((x, t.any as f64 / t.runs.max(1) as f64));
        }
        if l.starts_with("delay=") {
            if let Some(x) = lr {
                points.entry(key("lag")).or_default().push((x, t.any as f64 / t.runs.max(1) as f64));
            }
            if let Some(x) = sr {
                points.entry(key("startup")).or_default().push((x, t.any as f64 / t.runs.max(1) as f64));
            }
        }
    }
    write("power.csv", &pow)?;

    // false-alarms.csv: the no-change conditions.
    let mut fa = String::from("injection,runs_kind,runs,seeds_per_run,suite_false_alarms,suite_false_alarm_rate\n");
    for l in o.levels.iter().filter(|l| *l == "neutral") {
        for (kind, f) in [("resampled", &fail_r), ("disjoint", &fail_d)] {
            if let Some(&(runs, fails)) = f.get(l) {
                let reps = suite.iter().map(|s| s.reps).max().unwrap_or(0);
                let _ = writeln!(fa, "{l},{kind},{runs},{reps},{fails},{:.4}", fails as f64 / runs.max(1) as f64);
            }
        }
    }
    write("false-alarms.csv", &fa)?;

    // summary.csv: detection at the targets, per variant.
    let mut sum = String::from(
        "scenario,variant,detection_at_continuity_drop_0.01,detection_at_lag_rise_10pct,detection_at_startup_rise_10pct,\
         shift_continuity_drop_0.01,shift_lag_rise_10pct,shift_startup_rise_10pct\n",
    );
    let variants: Vec<String> =
        suite.iter().flat_map(|s| s.tables["none"].variants.iter().map(|v| label(&s.name, &v.0))).collect();
    for v in &variants {
        let get = |axis, x| points.get(&(v.clone(), axis)).and_then(|p| at(p, x));
        let _ = write!(
            sum,
            "{},{},{},{}",
            v.replacen(' ', ",", 1),
            fmt_opt(get("continuity", 0.01)),
            fmt_opt(get("lag", 0.10)),
            fmt_opt(get("startup", 0.10))
        );
        let (sname, variant) = v.split_once(' ').expect("a label");
        for (shift, _, _) in SHIFTS {
            let rate = tally_r
                .get(&(shift.to_string(), sname.to_string(), variant.to_string()))
                .map(|t| t.any as f64 / t.runs.max(1) as f64);
            let _ = write!(sum, ",{}", fmt_opt(rate));
        }
        sum.push('\n');
    }
    write("summary.csv", &sum)?;
    write("power.svg", &crate::svg::plot(&points, &variants))?;
    println!(
        "gate-power study: {} scenarios, seeds per pool {}, {m} tests per gate run, {} disjoint and {} resampled gate runs; wrote {}",
        suite.len(),
        suite.iter().map(|s| format!("{} {}", s.name, s.k)).collect::<Vec<_>>().join(", "),
        blocks,
        o.runs,
        ["effects.csv", "power.csv", "false-alarms.csv", "summary.csv", "power.svg"]
            .map(|f| o.out.join(f).display().to_string())
            .join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_and_bounds() {
        let p = [(0.02, 1.0), (0.005, 0.2), (0.01, 0.6)];
        assert!((at(&p, 0.01).unwrap() - 0.6).abs() < 1e-12);
        assert!((at(&p, 0.015).unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(at(&p, 0.03), None);
        assert_eq!(at(&p, 0.001), None);
    }

    #[test]
    fn arguments_are_checked() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(parse(&s(&["--pool", "p", "--out", "o", "--levels", "none neutral", "x.toml"])).is_ok());
        assert!(
            parse(&s(&["--pool", "p", "--out", "o", "--levels", "neutral", "x.toml"])).unwrap_err().contains("none")
        );
        assert!(
            parse(&s(&["--pool", "p", "--out", "o", "--levels", "none slow", "x.toml"])).unwrap_err().contains("slow")
        );
        assert!(parse(&s(&["--pool", "p"])).unwrap_err().contains("usage"));
        assert!(parse(&s(&["--pool", "p", "--out", "o", "--levels", "none", "--runs", "0", "x"])).is_err());
    }
}
