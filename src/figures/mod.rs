//! Figures of `swarmlab plot` and `swarmlab bench`: what to draw from the CSV
//! files of an output directory ([`data`]), how ([`draw`], one style for every
//! figure), and how it is written ([`export`]: SVG, PDF with the font
//! embedded, PNG at print resolution). Figures are sized for a two-column
//! paper: one column ([`export::ONE_COLUMN`], sweep figures) or both
//! ([`export::TWO_COLUMN`], the rest), with text at 8.5-10 pt at that size.
//! Only the bundled DejaVu Sans font is used, so no system font configuration
//! is needed and the same CSV files give byte-identical files.

pub mod data;
pub mod draw;
pub mod export;
pub mod table;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use data::{Found, Metrics, Sweep};

/// Most lines drawn in one figure: beyond that a figure is unreadable.
pub const MAX_LINES: usize = 10;

/// Registers the bundled font as plotters' `sans-serif` (plotters measures
/// text with it to lay figures out).
pub fn register_font() -> Result<(), String> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, export::FONT)
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

/// `name (unit)`, or `name` for a unitless value (`ratio`, `index`).
pub fn with_unit(name: &str, unit: &str) -> String {
    if unit.is_empty() || unit == "ratio" || unit == "index" { name.to_string() } else { format!("{name} ({unit})") }
}

/// The physical limits of a metric's values (from the glossary; none for
/// unknown metrics): confidence intervals are clipped to them.
pub fn metric_limits(metric: &str) -> (f64, f64) {
    analysis::glossary::lookup(metric).map_or((f64::NEG_INFINITY, f64::INFINITY), |d| d.range.bounds())
}

/// Words for a swept scenario key, with its unit: `peers.count` -> `peers
/// (initial population)`, `churn.session_mean_s` -> `mean session (s)`.
pub fn key_words(key: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("peers.count", "number of peers"),
        ("peers.join_window_s", "join window"),
        ("protocol.name", "protocol"),
        ("protocol.scheduler", "chunk scheduler"),
        ("protocol.mesh.partners", "mesh partners per peer"),
        ("protocol.mesh.partners_max", "most mesh partners per peer"),
        ("protocol.mesh.window", "buffer window (chunks)"),
        ("protocol.tree.stripes", "stripes (trees)"),
        ("stream.rate_kbps", "stream rate"),
        ("stream.chunk_s", "chunk duration"),
        ("source.up_kbps", "source upload"),
        ("churn.session_mean_s", "mean session"),
        ("churn.arrival_rate_per_s", "arrival rate"),
        ("churn.graceful_share", "share of graceful departures"),
        ("network.loss", "datagram loss probability"),
        ("network.latency", "latency model"),
        ("player.startup_s", "startup buffer"),
        ("duration_s", "simulated duration"),
    ];
    let unit = key_unit(key);
    let words = KNOWN.iter().find(|(k, _)| *k == key).map_or_else(
        || {
            // `peers.classes.0.up_kbps` -> `class 0 up`; others: the last part in words.
            let parts: Vec<&str> = key.split('.').collect();
            let last = parts.last().copied().unwrap_or(key);
            let stem = [("_per_s", ""), ("_kbps", ""), ("_ms", ""), ("_s", "")]
                .iter()
                .find_map(|(suf, _)| last.strip_suffix(suf))
                .unwrap_or(last)
                .replace('_', " ");
            match parts.as_slice() {
                ["peers", "classes", i, _] => format!("class {i} {stem}"),
                [.., parent, _] if *parent != "protocol" => format!("{} {stem}", parent.replace('_', " ")),
                _ => stem,
            }
        },
        |(_, w)| (*w).to_string(),
    );
    with_unit(&words, unit)
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
    /// Wall time and peak memory against the population (`swarmlab bench`).
    Scale(draw::ScaleFig),
}

impl Figure<'_> {
    /// Physical size: sweep figures fit one column, the others span two.
    pub fn size(&self) -> export::Size {
        use export::{ONE_COLUMN, Size, TWO_COLUMN};
        match self {
            Figure::Timeseries(_) | Figure::Metrics(_) => Size { width_in: TWO_COLUMN, height_in: 4.6 },
            Figure::Cdf(_) | Figure::Scale(_) => Size { width_in: TWO_COLUMN, height_in: 3.2 },
            Figure::Sweep(_) => Size { width_in: ONE_COLUMN, height_in: 3.0 },
        }
    }
}

/// A sweep figure's data, prepared from [`Sweep`].
pub struct SweepFig {
    pub param: String,
    /// The other varying parameters, which name the lines (the legend's title).
    pub groups: Vec<String>,
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
                    groups: others.iter().map(|&i| s.params[i].clone()).collect(),
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
        Figure::Scale(s) => draw::scale(root, s),
    }
}

/// The figure as plotters' SVG (canvas in drawing units, see [`export`]).
pub fn to_svg(fig: &Figure) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size().canvas()).into_drawing_area();
        render(fig, &root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Writes `dir/stem.{svg,pdf,png}` (those `formats` asks for, each to a
/// temporary name first, then renamed); returns the paths written.
pub fn save(fig: &Figure, dir: &Path, stem: &str, formats: export::Formats) -> Result<Vec<PathBuf>, String> {
    export::write(&to_svg(fig)?, fig.size(), dir, stem, formats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swept_keys_read_as_words_with_units() {
        assert_eq!(key_words("peers.count"), "number of peers");
        assert_eq!(key_words("churn.session_mean_s"), "mean session (s)");
        assert_eq!(key_words("peers.classes.0.up_kbps"), "class 0 up (kbps)");
        assert_eq!(key_words("protocol.mesh.request_timeout_s"), "mesh request timeout (s)");
        assert_eq!(key_words("protocol.hybrid.stable_fraction"), "hybrid stable fraction");
        assert_eq!(key_words("seed"), "seed");
    }

    #[test]
    fn limits_come_from_the_glossary() {
        assert_eq!(metric_limits("continuity_pooled"), (0.0, 1.0));
        assert_eq!(metric_limits("duplicate_ratio"), (0.0, f64::INFINITY));
        assert_eq!(metric_limits("made_up").0, f64::NEG_INFINITY);
    }
}
