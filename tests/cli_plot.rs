//! `swarmlab plot`: figures from the CSV files of `run`, `compare`, replicated
//! and sweep outputs, byte-identical SVG across invocations, and exit status 2
//! with a message naming DIR when there is nothing to plot.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_swarmlab"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("swarmlab-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Output directories of the tiny fixtures, simulated once per test binary:
/// a single run, a comparison of three variants, and a comparison replicated over two seeds.
struct Outputs {
    run: PathBuf,
    compare: PathBuf,
    compare_reps: PathBuf,
}

fn outputs() -> &'static Outputs {
    static OUT: OnceLock<Outputs> = OnceLock::new();
    OUT.get_or_init(|| {
        let o = Outputs { run: tmp("run"), compare: tmp("compare"), compare_reps: tmp("compare-reps") };
        ok(bin().args(["run", "tests/fixtures/plot/tiny.toml", "--quiet", "--out"]).arg(&o.run).output().unwrap());
        ok(bin().args(["compare", "tests/fixtures/plot/tiny-compare.toml", "--out"]).arg(&o.compare).output().unwrap());
        ok(bin()
            .args(["compare", "tests/fixtures/plot/tiny-compare.toml", "--reps", "2", "--out"])
            .arg(&o.compare_reps)
            .output()
            .unwrap());
        o
    })
}

fn plot(dir: &Path, out: &Path) -> Output {
    bin().arg("plot").arg(dir).arg("--out").arg(out).output().expect("run swarmlab plot")
}

/// Checks that `stem.png` and `stem.svg` exist in `dir` and look like what they claim to be.
fn assert_figure(dir: &Path, stem: &str) -> String {
    let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap_or_else(|e| panic!("{stem}.png: {e}"));
    assert!(png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "{stem}.png is not a PNG");
    assert!(png.len() < 200_000, "{stem}.png is {} bytes", png.len());
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap_or_else(|e| panic!("{stem}.svg: {e}"));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{stem}.svg is not an SVG document");
    assert!(svg.len() > 1000, "{stem}.svg is nearly empty");
    svg
}

#[test]
fn run_dir_gives_timeseries_and_cdf_figures() {
    let out = tmp("fig-run");
    let o = ok(plot(&outputs().run, &out));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let svg = assert_figure(&out, "timeseries");
    assert!(svg.contains("continuity") && svg.contains("time (s)"), "axis labels with units");
    let svg = assert_figure(&out, "cdf");
    assert!(svg.contains("startup delay (s)") && svg.contains("playback lag (s)"), "axis labels with units");
    assert!(svg.contains("mesh-pull"), "legend names the protocol");
    assert!(!out.join("metrics.svg").exists());
    assert!(stdout.contains("metrics: skipped"), "says what was not drawn:\n{stdout}");
    assert!(stdout.contains("wrote 4 files"), "{stdout}");
}

#[test]
fn compare_dir_gives_one_line_per_variant() {
    let out = tmp("fig-compare");
    let o = ok(plot(&outputs().compare, &out));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for stem in ["timeseries", "cdf", "metrics"] {
        let svg = assert_figure(&out, stem);
        for label in ["mesh-pull/donet", "mesh-pull/edf", "client-server"] {
            assert!(svg.contains(label), "{stem}.svg does not name {label}");
        }
    }
    assert!(stdout.contains("3 variants") && stdout.contains("wrote 6 files"), "{stdout}");
}

#[test]
fn replicated_compare_draws_confidence_intervals() {
    let out = tmp("fig-reps");
    let o = ok(plot(&outputs().compare_reps, &out));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("pooled over 2 seeds"), "{stdout}");
    assert!(stdout.contains("95% CI over 2 seeds") && stdout.contains("replications.csv"), "{stdout}");
    let svg = assert_figure(&out, "metrics");
    assert!(svg.contains("95% CI"), "the title says what the whiskers are");
    assert_figure(&out, "timeseries");
    assert_figure(&out, "cdf");
}

#[test]
fn default_out_is_dir_slash_figures() {
    let src = &outputs().run;
    let dir = tmp("default-out");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["timeseries.csv", "peers.csv"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    ok(bin().arg("plot").arg(&dir).output().unwrap());
    assert_figure(&dir.join("figures"), "timeseries");
    // A second plot ignores the figures directory it wrote.
    ok(bin().arg("plot").arg(&dir).output().unwrap());
}

#[test]
fn svg_and_png_are_byte_identical_across_invocations() {
    let (a, b) = (tmp("det-a"), tmp("det-b"));
    ok(plot(&outputs().compare, &a));
    ok(plot(&outputs().compare, &b));
    let mut names: Vec<_> = std::fs::read_dir(&a).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for n in names {
        let (x, y) = (std::fs::read(a.join(&n)).unwrap(), std::fs::read(b.join(&n)).unwrap());
        assert!(x == y, "{n:?} differs between two invocations");
    }
}

#[test]
fn sweep_csv_gives_metric_vs_parameter_figures() {
    let out = tmp("fig-sweep");
    let o = ok(plot(Path::new("tests/fixtures/plot/sweep"), &out));
    let stdout = String::from_utf8_lossy(&o.stdout);
    // peers.count does not vary: source.up_kbps is the x axis, protocol.name the lines.
    for metric in ["continuity_pooled", "lag_p50"] {
        let svg = assert_figure(&out, &format!("sweep-source.up_kbps-{metric}"));
        assert!(svg.contains("source.up_kbps (kbps)"), "x axis names the key and its unit");
        assert!(svg.contains("mesh-pull") && svg.contains("client-server"), "one line per protocol");
        assert!(svg.contains("95% CI over 3 seeds"));
    }
    assert!(!out.join("sweep-peers.count-lag_p50.svg").exists());
    assert!(!out.join("sweep-point-lag_p50.svg").exists(), "`point` is a row number, not a parameter");
    assert!(stdout.contains("2 lines (sweep.csv)") && stdout.contains("timeseries: skipped"), "{stdout}");
}

#[test]
fn sweep_jobs_are_not_variants() {
    let dir = tmp("sweep-jobs");
    let job = dir.join("jobs").join("0123456789abcdef-p0-s5");
    std::fs::create_dir_all(&job).unwrap();
    std::fs::copy("tests/fixtures/plot/sweep/sweep.csv", dir.join("sweep.csv")).unwrap();
    for f in ["timeseries.csv", "peers.csv"] {
        std::fs::copy(outputs().run.join(f), job.join(f)).unwrap();
    }
    let o = ok(plot(&dir, &dir.join("figs")));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("skipped for the 1 sweep jobs under jobs/"), "{stdout}");
    assert!(!dir.join("figs").join("timeseries.svg").exists());
    assert_figure(&dir.join("figs"), "sweep-source.up_kbps-continuity_pooled");
}

#[test]
fn categorical_sweep_parameter_is_an_axis_of_names() {
    let dir = tmp("sweep-cat");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sweep.csv"),
        "protocol.scheduler,metric,n,mean,sd,ci95_low,ci95_high,unit\n\
         donet,continuity_pooled,1,0.9,,,,ratio\n\
         edf,continuity_pooled,1,0.95,,,,ratio\n\
         random,continuity_pooled,1,0.7,,,,ratio\n",
    )
    .unwrap();
    let out = dir.join("figs");
    ok(plot(&dir, &out));
    let svg = assert_figure(&out, "sweep-protocol.scheduler-continuity_pooled");
    for name in ["donet", "edf", "random"] {
        assert!(svg.contains(&format!(">\n{name}\n</text>")), "tick label {name}");
    }
}

#[test]
fn missing_dir_exits_2_naming_it() {
    let dir = tmp("does-not-exist");
    let o = bin().arg("plot").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(&dir.display().to_string()) && stderr.contains("no such directory"), "{stderr}");
}

#[test]
fn dir_without_csv_exits_2_naming_it() {
    let dir = tmp("empty");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("notes.txt"), "nothing here").unwrap();
    let o = bin().arg("plot").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(&dir.display().to_string()) && stderr.contains("timeseries.csv"), "{stderr}");
    assert!(!dir.join("figures").exists(), "nothing is written on error");
}

#[test]
fn malformed_csv_exits_2_naming_the_file() {
    let dir = tmp("malformed");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("peers.csv"), "peer,startup_delay_s,lag_s\n1,2.5,not-a-number\n").unwrap();
    let o = bin().arg("plot").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("peers.csv") && stderr.contains("lag_s") && stderr.contains("not-a-number"), "{stderr}");
}
