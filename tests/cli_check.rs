//! `swarmlab check`, the regression gate, on the real binary: it passes
//! against a baseline made by the same code, fails (exit 1, naming the metric,
//! its change and interval, and the command that reproduces the two runs)
//! against a baseline that is better by construction, passes again after
//! `--update`, compares two stored runs with `--candidate`, and rejects bad
//! input (the old baseline format among it) with exit 2.
//!
//! Fixtures: tests/fixtures/check/gate.toml (24 peers whose uploads cannot
//! carry the stream: continuity about 0.6) and gate-better.toml (the same
//! scenario and name with enough upload: continuity about 0.97).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GATE: &str = "tests/fixtures/check/gate.toml";
const BETTER: &str = "tests/fixtures/check/gate-better.toml";

struct Tmp(PathBuf);

impl Tmp {
    fn new(test: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("swarmlab-cli-check-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create the test directory");
        Tmp(d)
    }
    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check(args: &[&str]) -> Output {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    Command::new(env!("CARGO_BIN_EXE_swarmlab")).args(&all).output().expect("run the swarmlab binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn update(scenario: &str, baseline: &Path) {
    let o = check(&[scenario, "--baseline", s(baseline), "--update"]);
    assert!(o.status.success(), "--update failed: {}", text(&o.stderr));
    assert!(text(&o.stdout).contains("wrote"), "{}", text(&o.stdout));
}

/// The table line of `metric` in the output.
fn line_of<'a>(stdout: &'a str, metric: &str) -> Option<&'a str> {
    stdout.lines().find(|l| l.trim_start().starts_with(&format!("{metric} ")))
}

#[test]
fn passes_against_a_baseline_made_by_the_same_code() {
    let t = Tmp::new("same");
    let base = t.join("baseline");
    update(GATE, &base);
    let file = base.join("gate.csv");
    let csv = std::fs::read_to_string(&file).expect("baseline written as <scenario name>.csv");
    let header =
        "format,scenario,variant,seed,continuity_mean,startup_delay_p50,lag_p50,control_overhead,duplicate_ratio\n";
    assert!(csv.starts_with(header), "{csv}");
    // One row per seed: 21..=30 (the fixture's seed and reps).
    assert_eq!(csv.lines().count(), 11, "{csv}");
    assert!(
        csv.contains("\nswarmlab-check/2,gate,mesh-pull/donet,21,") && csv.contains(",mesh-pull/donet,30,"),
        "{csv}"
    );
    // Regenerating gives the same bytes.
    update(GATE, &base);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv);

    let o = check(&[GATE, "--baseline", s(&base)]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    assert!(stdout.contains("no judged metric moved"), "{stdout}");
    assert!(stdout.contains("check passed"), "{stdout}");
}

#[test]
fn fails_against_a_better_baseline_and_passes_after_update() {
    let t = Tmp::new("worse");
    let base = t.join("baseline");
    // The baseline has more upload capacity than the scenario under test, so
    // continuity is higher and lag lower there: the current run must look
    // like a regression.
    update(BETTER, &base);
    let o = check(&[GATE, "--baseline", s(&base)]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    let line = line_of(&stdout, "continuity_mean").unwrap_or_else(|| panic!("no continuity_mean row:\n{stdout}"));
    assert!(line.contains("WORSE"), "{line}");
    assert!(line.contains('-') && line.contains('%') && line.contains('['), "change and interval shown: {line}");
    assert!(stdout.contains("check FAILED") && stdout.contains("gate: continuity_mean"), "{stdout}");
    // The explanation: metric, change, interval, seeds, the worst seed and the command.
    assert!(stdout.contains("REGRESSION mesh-pull/donet continuity_mean [ratio]"), "{stdout}");
    assert!(stdout.contains("paired over 10 seeds; interval [-"), "{stdout}");
    assert!(stdout.contains("moved most on seed "), "{stdout}");
    // No [[variants]] in the fixture: `run` reproduces it (`compare` would refuse it).
    assert!(stdout.contains("-- run tests/fixtures/check/gate.toml --seed "), "{stdout}");
    assert!(stdout.contains(&format!("git log -1 --format=%H -- {}", s(&base.join("gate.csv")))), "{stdout}");
    assert!(stderr.contains("error:") && stderr.contains("--update"), "{stderr}");

    // The same verdict from stored per-seed values (--candidate), without running.
    let cand = t.join("candidate");
    update(GATE, &cand);
    let o = check(&[GATE, "--baseline", s(&base), "--candidate", s(&cand)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("REGRESSION mesh-pull/donet continuity_mean"), "{}", text(&o.stdout));
    // --reps K compares on the baseline's first K seeds.
    let o = check(&[GATE, "--baseline", s(&base), "--reps", "2", "--alpha", "0.0001"]);
    assert!(text(&o.stdout).contains("seeds 21..22"), "{}", text(&o.stdout));

    // Accepting the change: --update, then the gate passes.
    update(GATE, &base);
    let o = check(&[GATE, "--baseline", s(&base)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}

#[test]
fn an_improvement_is_reported_as_better_and_passes() {
    let t = Tmp::new("better");
    let base = t.join("baseline");
    update(GATE, &base);
    let o = check(&[BETTER, "--baseline", s(&base)]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    let line = line_of(&stdout, "continuity_mean").unwrap_or_else(|| panic!("no continuity_mean row:\n{stdout}"));
    assert!(line.ends_with("better"), "{line}");
    assert!(!stdout.contains("WORSE"), "{stdout}");
}

/// `check ARGS` must exit 2 with an `error:` naming each of `expect`.
fn bad(args: &[&str], expect: &[&str]) {
    let o = check(args);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains("error:"), "{stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: `{e}` not in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_exits_2_with_clear_messages() {
    let t = Tmp::new("bad");
    let base = t.join("baseline");
    let missing = base.join("gate.csv");
    bad(&[GATE, "--baseline", s(&base)], &[s(&missing), "does not exist", "--update"]);
    assert!(!base.exists(), "a failed check must not create the baseline directory");

    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(&missing, "metric,value\ncontinuity_mean,0.9\n").unwrap();
    bad(&[GATE, "--baseline", s(&base)], &[s(&missing), "no `format` column", "--update"]);
    // The first format (means and intervals, no per-seed values) is refused, saying how to regenerate.
    std::fs::write(
        &missing,
        "scenario,variant,protocol,metric,n,mean,sd,ci95_low,ci95_high,unit,seeds\n\
         gate,mesh-pull/donet,mesh-pull,continuity_pooled,3,0.6,0.01,0.58,0.62,ratio,21 22 23\n",
    )
    .unwrap();
    bad(&[GATE, "--baseline", s(&base)], &[s(&missing), "old replications.csv format", "per-seed", "--update"]);
    let head = "format,scenario,variant,seed,continuity_mean\n";
    std::fs::write(&missing, format!("{head}swarmlab-check/2,gate,mesh-pull/donet,21,high\n")).unwrap();
    bad(&[GATE, "--baseline", s(&base)], &[s(&missing), "line 2", "`continuity_mean` is `high`"]);
    std::fs::write(&missing, format!("{head}swarmlab-check/3,gate,mesh-pull/donet,21,0.5\n")).unwrap();
    bad(&[GATE, "--baseline", s(&base)], &[s(&missing), "swarmlab-check/3", "swarmlab-check/2"]);
    std::fs::write(
        &missing,
        format!("{head}swarmlab-check/2,gate,mesh-pull/donet,21,0.5\nswarmlab-check/2,gate,mesh-pull/donet,25,0.5\n"),
    )
    .unwrap();
    bad(&[GATE, "--baseline", s(&base)], &[s(&missing), "not consecutive"]);
    bad(&[GATE, "--baseline", s(&base), "--reps", "5"], &["--reps 5", "only 2 seeds"]);
    bad(&[GATE, "--baseline", s(&base), "--alpha", "0.9"], &["not a false-alarm rate"]);
    bad(&[GATE, "--baseline", s(&base), "--candidate", s(&t.join("nowhere"))], &["candidate", "does not exist"]);
    bad(&["tests/fixtures/check/absent.toml", "--baseline", s(&base)], &["absent.toml", "cannot read"]);
    bad(&[GATE, "--baseline", s(&base), "--tolerance=-3"], &["not a tolerance"]);
    bad(&[GATE, "--baseline", s(&base), "--tolerance", "lots"], &["not a tolerance"]);
    bad(&[GATE, GATE, "--baseline", s(&base)], &["both named `gate`"]);
    bad(&[GATE], &["--baseline"]);
}
