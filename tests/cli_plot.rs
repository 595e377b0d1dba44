//! `swarmlab plot`: figures from the CSV files of `run`, `compare`, replicated
//! and sweep outputs (SVG, PDF, PNG at print resolution), byte-identical files
//! across invocations, and exit status 2
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

/// Width and height in pixels and the resolution (pixels per metre, both
/// axes, from the `pHYs` chunk) of a PNG file.
fn png_info(png: &[u8]) -> ((u32, u32), Option<(u32, u32)>) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    assert_eq!(&png[12..16], b"IHDR");
    let size = (be(16), be(20));
    // Walk the chunks: length, type, data, CRC.
    let mut i = 8;
    let mut phys = None;
    while i + 8 <= png.len() {
        let (len, kind) = (be(i) as usize, &png[i + 4..i + 8]);
        if kind == b"pHYs" {
            assert_eq!(png[i + 16], 1, "pHYs unit is the metre");
            phys = Some((be(i + 8), be(i + 12)));
        }
        i += 12 + len;
    }
    (size, phys)
}

/// Checks one figure's three files: the PNG at 300 dpi (pHYs: 11,811 pixels
/// per metre) and `width_in` inches wide, the SVG with its text as `<text>`
/// elements and its physical width, the PDF with an embedded font; returns the SVG.
fn assert_print_ready(dir: &Path, stem: &str, width_in: f64) -> String {
    let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap_or_else(|e| panic!("{stem}.png: {e}"));
    let ((w, h), phys) = png_info(&png);
    assert_eq!(phys, Some((11_811, 11_811)), "{stem}.png: 300 dpi recorded in pHYs");
    assert_eq!(w, (width_in * 300.0).round() as u32, "{stem}.png: {width_in} in at 300 dpi");
    assert!(h > 600 && h < w, "{stem}.png: {w} x {h}");
    assert!(png.len() > 20_000 && png.len() < 2_000_000, "{stem}.png is {} bytes", png.len());
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap_or_else(|e| panic!("{stem}.svg: {e}"));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{stem}.svg is not an SVG document");
    assert!(svg.starts_with(&format!("<svg width=\"{width_in}in\"")), "{stem}.svg: physical width {width_in} in");
    assert!(svg.matches("<text").count() >= 6, "{stem}.svg keeps its text as <text> elements");
    assert!(svg.contains("font-family=\"DejaVu Sans, sans-serif\""), "{stem}.svg names the bundled font");
    let pdf = std::fs::read(dir.join(format!("{stem}.pdf"))).unwrap_or_else(|e| panic!("{stem}.pdf: {e}"));
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 5_000, "{stem}.pdf is not a PDF");
    let has = |needle: &[u8]| pdf.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"/FontFile2") && has(b"DejaVuSans"), "{stem}.pdf embeds the DejaVu Sans font");
    let page = format!("/MediaBox [0 0 {} ", width_in * 72.0);
    assert!(has(page.as_bytes()), "{stem}.pdf: a {width_in}-inch page ({page})");
    svg
}

/// Checks that `stem.{svg,pdf,png}` exist in `dir`, print-ready at two-column width.
fn assert_figure(dir: &Path, stem: &str) -> String {
    let width = if stem.starts_with("sweep-") { 3.5 } else { 7.0 };
    assert_print_ready(dir, stem, width)
}

#[test]
fn committed_figures_are_print_ready() {
    for stem in ["timeseries", "cdf", "metrics"] {
        assert_print_ready(Path::new("docs/figures"), stem, 7.0);
    }
    let svg = assert_print_ready(Path::new("results/scale"), "scale", 7.0);
    for tick in ["1,000", "10,000", "100,000"] {
        assert!(svg.contains(&format!(">\n{tick}\n</text>")), "scale.svg has the tick label {tick}");
    }
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
    assert!(stdout.contains("wrote 6 files"), "{stdout}");
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
    assert!(stdout.contains("3 variants") && stdout.contains("wrote 9 files"), "{stdout}");
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
fn svg_pdf_and_png_are_byte_identical_across_invocations() {
    let (a, b) = (tmp("det-a"), tmp("det-b"));
    ok(plot(&outputs().compare, &a));
    ok(plot(&outputs().compare, &b));
    let mut names: Vec<_> = std::fs::read_dir(&a).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
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
        assert!(svg.contains("source upload (kbps)"), "x axis names the key in words, with its unit");
        assert!(svg.contains("protocol:"), "the legend has a title");
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

#[test]
fn confidence_intervals_stop_at_physical_limits_and_axes_fit_the_data() {
    let dir = tmp("sweep-clip");
    std::fs::create_dir_all(&dir).unwrap();
    // Continuity 0.94-0.955 whose intervals cross 1; duplicates whose interval crosses 0.
    std::fs::write(
        dir.join("sweep.csv"),
        "peers.count,metric,n,mean,sd,ci95_low,ci95_high,unit\n\
         100,continuity_pooled,3,0.955,0.02,0.90,1.01,ratio\n\
         200,continuity_pooled,3,0.94,0.02,0.92,0.96,ratio\n\
         100,duplicate_ratio,3,0.002,0.001,-0.001,0.005,ratio\n\
         200,duplicate_ratio,3,0.003,0.001,0.001,0.005,ratio\n",
    )
    .unwrap();
    let out = dir.join("figs");
    ok(plot(&dir, &out));
    let svg = assert_figure(&out, "sweep-peers.count-continuity_pooled");
    let ticks: Vec<f64> =
        svg.split("</text>").filter_map(|t| t.rsplit('>').next().and_then(|x| x.trim().parse::<f64>().ok())).collect();
    let y_ticks: Vec<f64> = ticks.iter().copied().filter(|t| *t < 2.0).collect();
    assert!(!y_ticks.is_empty(), "{ticks:?}");
    assert!(
        y_ticks.iter().all(|t| *t >= 0.85 && *t <= 1.0),
        "axis fitted to 0.90-1.00, not 0-1 or above 1: {y_ticks:?}"
    );
    assert!(svg.contains("number of peers"), "x axis in words");
    let svg = assert_figure(&out, "sweep-peers.count-duplicate_ratio");
    assert!(!svg.contains(">\n-0.001\n</text>") && !svg.contains(">\n-0.002\n</text>"), "no tick below 0");
}

#[test]
fn formats_and_dpi_are_chosen_and_checked() {
    let out = tmp("fig-formats");
    let o = bin()
        .arg("plot")
        .arg(&outputs().run)
        .args(["--formats", "png", "--dpi", "150", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    ok(o);
    assert!(!out.join("cdf.svg").exists() && !out.join("cdf.pdf").exists());
    let ((w, _), phys) = png_info(&std::fs::read(out.join("cdf.png")).unwrap());
    assert_eq!((w, phys), (1050, Some((5906, 5906))), "7 in at 150 dpi");
    let o = bin().arg("plot").arg(&outputs().run).args(["--formats", "svg,jpeg"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown format `jpeg`"));
    let o = bin().arg("plot").arg(&outputs().run).args(["--dpi", "20"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
