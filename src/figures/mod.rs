//! Figures of `swarmlab plot`: what to draw from the CSV files of an output
//! directory ([`data`]), and how ([`draw`]). Each figure is written as SVG and
//! PNG at 800 x 500 pixels with the bundled DejaVu Sans font, so no system
//! font configuration is needed and the same CSV files give byte-identical SVG.

pub mod data;
mod draw;
pub mod table;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use data::{Found, Metrics, Sweep};

/// Size of every figure, pixels.
pub const SIZE: (u32, u32) = (800, 500);

/// Most lines drawn in one figure: beyond that a figure is unreadable.
pub const MAX_LINES: usize = 10;

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font as plotters' `sans-serif`.
pub fn register_font() -> Result<(), String> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| "the bundled font assets/fonts/DejaVuSans.ttf is not a valid TrueType font".to_string())
}

/// Metrics shown per variant and per sweep point: (metric, axis name).
pub const MAIN_METRICS: &[(&str, &str)] = &[
    ("continuity_pooled", "continuity"),
    ("startup_delay_p50", "startup delay p50"),
    ("lag_p50", "playback lag p50"),
    ("control_overhead", "control overhead"),
    ("duplicate_ratio", "duplicate ratio"),
    ("server_load", "server load"),
];

/// A readable name for a metric.
pub fn metric_name(metric: &str) -> String {
    MAIN_METRICS.iter().find(|(m, _)| *m == metric).map_or_else(|| metric.replace('_', " "), |(_, n)| n.to_string())
}

/// `name (unit)`, or `name` for a unitless value.
pub fn with_unit(name: &str, unit: &str) -> String {
    if unit.is_empty() { name.to_string() } else { format!("{name} ({unit})") }
}

/// The unit implied by a scenario key's suffix (`source.up_kbps` -> kbps).
pub fn key_unit(key: &str) -> &'static str {
    let last = key.rsplit('.').next().unwrap_or(key);
    [("_per_s", "1/s"), ("_kbps", "kbps"), ("_ms", "ms"), ("_s", "s")]
        .iter()
        .find(|(suffix, _)| last.ends_with(suffix))
        .map_or("", |(_, u)| u)
}

/// One figure to draw.
pub enum Figure<'a> {
    /// Continuity and population over time, one line per variant.
    Timeseries(Vec<&'a data::Variant>),
    /// CDFs of startup delay and playback lag, one line per variant.
    Cdf(Vec<&'a data::Variant>),
    /// Main metrics per variant, with 95% CIs when the metrics have them.
    Metrics(&'a Metrics),
    /// One metric against one swept parameter, one line per group of the other parameters.
    Sweep(SweepFig),
}

/// A sweep figure's data, prepared from [`Sweep`].
pub struct SweepFig {
    pub param: String,
    pub metric: String,
    pub unit: String,
    /// Largest number of seeds behind one point.
    pub max_n: usize,
    /// Category names when the parameter is not numeric (x = index).
    pub categories: Option<Vec<String>>,
    pub lines: Vec<SweepLine>,
}

/// One point of a sweep line: x, mean and 95% confidence interval.
pub type SweepPoint = (f64, f64, Option<(f64, f64)>);

pub struct SweepLine {
    pub label: String,
    pub points: Vec<SweepPoint>,
}

/// A planned figure: file stem, what it shows, and its data.
pub struct Planned<'a> {
    pub stem: String,
    pub what: String,
    pub figure: Figure<'a>,
}

/// Decides what to draw from what was found; returns the figures and a note
/// for every figure that was skipped, with the reason.
pub fn plan(found: &Found) -> (Vec<Planned<'_>>, Vec<String>) {
    let mut figs = Vec::new();
    let mut notes = Vec::new();
    let seeds_note = |vs: &[&data::Variant]| {
        let max = vs.iter().map(|v| v.runs).max().unwrap_or(1);
        if max > 1 { format!(", pooled over {max} seeds") } else { String::new() }
    };
    let plural = |n: usize| if n == 1 { "1 variant".to_string() } else { format!("{n} variants") };

    let sweep_only = found.sweep_jobs > 0 && found.variants.is_empty();
    if sweep_only {
        notes.push(format!(
            "timeseries, cdf: skipped for the {} sweep jobs under jobs/: plot one job directory for its figures",
            found.sweep_jobs
        ));
    }
    type Has = fn(&data::Variant) -> bool;
    let kinds: [(&str, &str, Has); 2] =
        [("timeseries", "timeseries.csv", |v| v.timeseries.is_some()), ("cdf", "peers.csv", |v| v.peers.is_some())];
    for (stem, file, has) in kinds {
        let with: Vec<&data::Variant> = found.variants.iter().filter(|v| has(v)).collect();
        if sweep_only {
            continue;
        } else if with.is_empty() {
            notes.push(format!("{stem}: skipped: no {file}"));
        } else if with.len() > MAX_LINES {
            notes.push(format!(
                "{stem}: skipped: {} run directories is more than {MAX_LINES} lines; plot a subdirectory instead",
                with.len()
            ));
        } else {
            let what = match stem {
                "timeseries" => "continuity and population over time",
                _ => "CDFs of startup delay and playback lag",
            };
            let what = format!("{what}, {}{} ({file})", plural(with.len()), seeds_note(&with));
            let figure = if stem == "timeseries" { Figure::Timeseries(with) } else { Figure::Cdf(with) };
            figs.push(Planned { stem: stem.into(), what, figure });
        }
    }

    let metrics = found.replications.as_ref().or(found.compare.as_ref());
    match metrics {
        None => notes.push("metrics: skipped: no replications.csv or compare.csv".into()),
        Some(m) if !MAIN_METRICS.iter().any(|(k, _)| m.has_metric(k)) => {
            notes.push(format!("metrics: skipped: {} has none of the main metrics", m.file.display()))
        }
        Some(m) => {
            let file = m.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            let ci = if m.rows.iter().any(|r| r.ci.is_some()) {
                format!(", mean and 95% CI over {} seeds", m.max_n)
            } else {
                String::new()
            };
            figs.push(Planned {
                stem: "metrics".into(),
                what: format!("main metrics per variant, {}{ci} ({file})", plural(m.variants.len())),
                figure: Figure::Metrics(m),
            });
        }
    }

    if let Some(s) = &found.sweep {
        let (sweep_figs, sweep_notes) = plan_sweep(s);
        notes.extend(sweep_notes);
        figs.extend(sweep_figs);
    }
    (figs, notes)
}

fn plan_sweep(s: &Sweep) -> (Vec<Planned<'static>>, Vec<String>) {
    let mut notes = Vec::new();
    let k = s.params.len();
    // Distinct values of every parameter, in order of appearance.
    let mut values: Vec<Vec<String>> = vec![Vec::new(); k];
    for r in &s.rows {
        for (i, v) in r.point.iter().enumerate() {
            if !values[i].contains(v) {
                values[i].push(v.clone());
            }
        }
    }
    let numeric: Vec<bool> =
        values.iter().map(|vs| vs.iter().all(|v| v.trim().parse::<f64>().is_ok_and(f64::is_finite))).collect();
    let varying: Vec<usize> = (0..k).filter(|&i| values[i].len() > 1).collect();
    let mut xs: Vec<usize> = varying.iter().copied().filter(|&i| numeric[i]).collect();
    if xs.is_empty() {
        xs.extend(varying.first());
    }
    if xs.is_empty() {
        notes.push(format!("sweep: skipped: every point of {} has the same parameters", s.file.display()));
        return (Vec::new(), notes);
    }
    let mut metrics: Vec<String> = Vec::new();
    for r in &s.rows {
        if !metrics.contains(&r.metric) {
            metrics.push(r.metric.clone());
        }
    }
    let main: Vec<String> = MAIN_METRICS.iter().map(|(m, _)| m.to_string()).filter(|m| metrics.contains(m)).collect();
    let metrics = if main.is_empty() { metrics.into_iter().take(12).collect() } else { main };

    let mut figs = Vec::new();
    for &x in &xs {
        let others: Vec<usize> = varying.iter().copied().filter(|&i| i != x).collect();
        let label_of = |point: &[String]| -> String {
            match others.as_slice() {
                [] => "all points".to_string(),
                [i] if !numeric[*i] => point[*i].clone(),
                _ => others.iter().map(|&i| format!("{}={}", s.params[i], point[i])).collect::<Vec<_>>().join(", "),
            }
        };
        let categories = (!numeric[x]).then(|| values[x].clone());
        for metric in &metrics {
            let mut lines: Vec<SweepLine> = Vec::new();
            let mut unit = String::new();
            let mut max_n = 0;
            for r in s.rows.iter().filter(|r| &r.metric == metric) {
                let Some(mean) = r.mean else { continue };
                unit.clone_from(&r.unit);
                max_n = max_n.max(r.n);
                let xv = match &categories {
                    Some(c) => c.iter().position(|v| *v == r.point[x]).unwrap_or(0) as f64,
                    None => r.point[x].trim().parse::<f64>().unwrap_or(0.0),
                };
                let label = label_of(&r.point);
                let line = match lines.iter_mut().position(|l| l.label == label) {
                    Some(i) => &mut lines[i],
                    None => {
                        lines.push(SweepLine { label, points: Vec::new() });
                        lines.last_mut().expect("just pushed")
                    }
                };
                line.points.push((xv, mean, r.ci));
            }
            if lines.is_empty() {
                continue;
            }
            if lines.len() > MAX_LINES {
                notes.push(format!(
                    "sweep: {metric} vs {}: drew the first {MAX_LINES} of {} lines",
                    s.params[x],
                    lines.len()
                ));
                lines.truncate(MAX_LINES);
            }
            for l in &mut lines {
                l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            let n = lines.len();
            figs.push(Planned {
                stem: format!("sweep-{}-{}", file_safe(&s.params[x]), file_safe(metric)),
                what: format!(
                    "{metric} vs {}, {} (sweep.csv)",
                    s.params[x],
                    if n == 1 { "1 line".to_string() } else { format!("{n} lines") }
                ),
                figure: Figure::Sweep(SweepFig {
                    param: s.params[x].clone(),
                    metric: metric.clone(),
                    unit,
                    max_n,
                    categories: categories.clone(),
                    lines,
                }),
            });
        }
    }
    (figs, notes)
}

/// A file-name-safe version of `s` (letters, digits, `-`, `_` and `.`).
fn file_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// Draws `fig` on `root` (any backend).
fn render<DB: DrawingBackend>(fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match fig {
        Figure::Timeseries(v) => draw::timeseries(root, v),
        Figure::Cdf(v) => draw::cdf(root, v),
        Figure::Metrics(m) => draw::metrics(root, m),
        Figure::Sweep(s) => draw::sweep(root, s),
    }
}

/// Writes `dir/stem.svg` and `dir/stem.png` (each to a temporary name first,
/// then renamed); returns the two paths.
pub fn save(fig: &Figure, dir: &Path, stem: &str) -> Result<[PathBuf; 2], String> {
    let svg_path = dir.join(format!("{stem}.svg"));
    let png_path = dir.join(format!("{stem}.png"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        render(fig, &root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let tmp = dir.join(format!(".{stem}.svg.pending"));
    std::fs::write(&tmp, svg.as_bytes())
        .and_then(|_| std::fs::rename(&tmp, &svg_path))
        .map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    // The bitmap encoder picks the format from the extension: keep `.png` last.
    let tmp = dir.join(format!(".{stem}.pending.png"));
    {
        let root = BitMapBackend::new(&tmp, SIZE).into_drawing_area();
        render(fig, &root)?;
        root.present().map_err(|e| format!("cannot write {}: {e}", png_path.display()))?;
    }
    std::fs::rename(&tmp, &png_path).map_err(|e| format!("cannot write {}: {e}", png_path.display()))?;
    Ok([png_path, svg_path])
}
