//! Drawing the five kinds of figure on any plotters backend, in one style:
//! text sizes of [`super::export::text`] (points at the printed size), the
//! Okabe-Ito palette, light grid lines, legends (with a title when the
//! lines stand for a parameter) in rows above the plot, never over data, and
//! axes fitted to the data, confidence intervals clipped to the metric's
//! physical range (continuity <= 1, ratios >= 0).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::{Metrics, Variant};
use super::export::text::{AXIS, SUBTITLE, TICK, TITLE};
use super::{MAIN_METRICS, SweepFig, key_words, metric_limits, metric_name, with_unit};

type R = Result<(), String>;

/// Error messages of plotters as strings.
trait Ctx<T> {
    fn ctx(self) -> Result<T, String>;
}
impl<T, E: std::fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Okabe-Ito colours (distinguishable with colour-vision deficiencies), then greys.
const PALETTE: [RGBColor; 9] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(136, 34, 85),
    RGBColor(120, 120, 120),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().into()
}

/// Line widths, drawing units (0.5 pt each).
const LINE: u32 = 3;
const THIN: u32 = 2;

/// A title and, when given, a smaller subtitle line below it; returns the rest.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: Option<&str>,
) -> Result<DrawingArea<DB, Shift>, String> {
    let rest = root.titled(title, font(TITLE)).ctx()?;
    match subtitle {
        Some(sub) => rest.titled(sub, font(SUBTITLE)).ctx(),
        None => Ok(rest),
    }
}

/// `value` clipped to `limits`.
fn clip(v: f64, (lo, hi): (f64, f64)) -> f64 {
    v.clamp(lo, hi)
}

/// An axis range fitted to data in `[lo, hi]`: padded by `pad` of its width,
/// but not further than 3% of the width beyond the physical `limits`.
fn fit(lo: f64, hi: f64, limits: (f64, f64), pad: f64) -> (f64, f64) {
    let (a, b) = padded(lo, hi, pad);
    let w = b - a;
    (a.max(limits.0 - 0.03 * w), b.min(limits.1 + 0.03 * w))
}

/// A log axis range from whole decades, with room around the extreme points
/// (so that even a single point gets labelled ticks on both sides).
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = (lo.max(1e-9), hi.max(lo.max(1e-9)));
    (libm::pow(10.0, (libm::log10(lo) - 0.15).floor()), libm::pow(10.0, (libm::log10(hi) + 0.15).ceil()))
}

/// Tick labels of a log axis: 1, 2 and 5 times powers of ten, with
/// thousands separators.
fn log_tick(v: &f64) -> String {
    let m = v / libm::pow(10.0, libm::log10(*v).floor());
    if ![1.0, 2.0, 5.0].iter().any(|k| (m - k).abs() < 1e-6) {
        return String::new();
    }
    if *v >= 1.0 { thousands(v.round() as u64) } else { tick(v) }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Tick labels: at most four decimals, no trailing zeros.
fn tick(v: &f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" | "" => "0".to_string(),
        "0" if a > 0.0 => format!("{v:.1e}"),
        _ => s.to_string(),
    }
}

/// The category index at an axis tick: ticks at whole numbers only.
fn category(v: f64) -> Option<usize> {
    let r = v.round();
    ((v - r).abs() < 1e-6 && r >= 0.0).then_some(r as usize)
}

/// `(lo, hi)` padded by `pad` of its width on both sides; a zero width
/// becomes a small interval around the value.
fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    let w = hi - lo;
    if w <= f64::EPSILON * hi.abs().max(1.0) {
        let d = (lo.abs() * 0.1).max(0.01);
        return (lo - d, hi + d);
    }
    (lo - w * pad, hi + w * pad)
}

/// One legend entry: a line of colour `color` (dashed or solid) and a label.
pub struct Entry {
    pub label: String,
    pub color: RGBColor,
    pub dashed: bool,
}

impl Entry {
    fn solid(label: &str, color: RGBColor) -> Entry {
        Entry { label: label.to_string(), color, dashed: false }
    }
}

/// A legend in centred rows across the top of `area`, starting with `title`
/// (when given) and never over the plots below it; returns the rest of the area.
fn legend_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: Option<&str>,
    entries: &[Entry],
) -> Result<DrawingArea<DB, Shift>, String> {
    let style = font(TICK);
    let (w, _) = area.dim_in_pixel();
    let line = TICK * 3 / 2;
    let gap = TICK / 3;
    let space = TICK * 3 / 2;
    let row_h = TICK * 3 / 2;
    // Items: the title (text only), then entries (line + gap + text).
    let mut widths = Vec::new();
    if let Some(t) = title {
        widths.push(area.estimate_text_size(&format!("{t}:"), &style).ctx()?.0);
    }
    for e in entries {
        widths.push(line + gap + area.estimate_text_size(&e.label, &style).ctx()?.0);
    }
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut x = 0;
    for (i, ew) in widths.iter().enumerate() {
        let row = rows.last_mut().expect("non-empty");
        if !row.is_empty() && x + space + ew > w.saturating_sub(2 * TICK) {
            rows.push(vec![i]);
            x = *ew;
        } else {
            x += if row.is_empty() { *ew } else { space + ew };
            row.push(i);
        }
    }
    let (top, rest) = area.split_vertically(rows.len() as u32 * row_h + TICK / 2);
    let anchored = style.pos(Pos::new(HPos::Left, VPos::Center));
    let offset = usize::from(title.is_some());
    for (r, row) in rows.iter().enumerate() {
        let total: u32 = row.iter().map(|&i| widths[i]).sum::<u32>() + space * (row.len() as u32 - 1);
        let mut x = (w.saturating_sub(total) / 2) as i32;
        let y = (r as u32 * row_h + row_h / 2 + TICK / 4) as i32;
        for &i in row {
            if i < offset {
                top.draw_text(&format!("{}:", title.unwrap_or_default()), &anchored, (x, y)).ctx()?;
            } else {
                let e = &entries[i - offset];
                let l = line as i32;
                if e.dashed {
                    for k in 0..3 {
                        let x0 = x + k * l * 3 / 8 + if k == 2 { l / 8 } else { 0 };
                        let seg = vec![(x0, y), ((x0 + l / 4).min(x + l), y)];
                        top.draw(&PathElement::new(seg, e.color.stroke_width(THIN))).ctx()?;
                    }
                } else {
                    top.draw(&PathElement::new(vec![(x, y), (x + l, y)], e.color.stroke_width(LINE))).ctx()?;
                }
                top.draw_text(&e.label, &anchored, (x + (line + gap) as i32, y)).ctx()?;
            }
            x += (widths[i] + space) as i32;
        }
    }
    Ok(rest)
}

/// The mesh style of every chart: axis descriptions, tick labels, light grid.
macro_rules! style_mesh {
    ($mesh:expr) => {
        $mesh
            .axis_desc_style(font(AXIS))
            .label_style(font(TICK))
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
    };
}

/// Continuity (top) and online / playing peers (bottom) over time.
pub fn timeseries<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, vs: &[&Variant]) -> R {
    let root = titled(root, "Playback continuity and population over time", None)?;
    let series: Vec<_> = vs.iter().filter_map(|v| v.timeseries.as_ref().map(|s| (v.label.as_str(), s))).collect();
    let grey = RGBColor(80, 80, 80);
    let mut entries: Vec<Entry> = series.iter().enumerate().map(|(i, (l, _))| Entry::solid(l, color(i))).collect();
    entries.push(Entry { label: "online peers".into(), color: grey, dashed: true });
    entries.push(Entry { label: "playing peers".into(), color: grey, dashed: false });
    let root = legend_rows(&root, Some(if series.len() == 1 { "run" } else { "variant" }), &entries)?;
    let (_, h) = root.dim_in_pixel();
    let (top, bottom) = root.split_vertically(h * 52 / 100);
    let t_end = series
        .iter()
        .map(|(_, s)| {
            let n = s.t.len();
            let step = if n >= 2 { s.t[n - 1] - s.t[n - 2] } else { 0.0 };
            s.t.last().copied().unwrap_or(0.0) + step
        })
        .fold(0.0f64, f64::max)
        .max(1.0);

    // Continuity: one line per variant, broken where nothing was due.
    let segments: Vec<Vec<Vec<(f64, f64)>>> = series
        .iter()
        .map(|(_, s)| {
            let mut segs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (t, c) in s.t.iter().zip(&s.continuity) {
                match c {
                    Some(c) => segs.last_mut().expect("non-empty").push((*t, *c)),
                    None if !segs.last().is_some_and(Vec::is_empty) => segs.push(Vec::new()),
                    None => {}
                }
            }
            segs.retain(|s| !s.is_empty());
            segs
        })
        .collect();
    let values = segments.iter().flatten().flatten().map(|p| p.1);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (y0, y1) = if lo.is_finite() { fit(lo, hi, (0.0, 1.0), 0.06) } else { (0.0, 1.0) };
    let mut c = ChartBuilder::on(&top)
        .margin_left(TICK)
        .margin_right(2 * TICK)
        .margin_top(TICK / 2)
        .x_label_area_size(TICK / 2)
        .y_label_area_size(5 * TICK)
        .build_cartesian_2d(0.0..t_end, y0..y1)
        .ctx()?;
    style_mesh!(
        c.configure_mesh()
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&tick)
            .y_labels(6)
            .y_desc("continuity")
    )
    .draw()
    .ctx()?;
    for (i, segs) in segments.iter().enumerate() {
        let col = color(i);
        for s in segs {
            if let [p] = s.as_slice() {
                c.draw_series(std::iter::once(Circle::new(*p, 3, col.filled()))).ctx()?;
            } else {
                c.draw_series(LineSeries::new(s.iter().copied(), col.stroke_width(LINE))).ctx()?;
            }
        }
    }

    // Population: online (dashed) and playing (solid) peers.
    let y_max = series.iter().flat_map(|(_, s)| s.peers.iter().chain(&s.playing)).fold(1.0f64, |a, &b| a.max(b)) * 1.08;
    let mut c = ChartBuilder::on(&bottom)
        .margin_left(TICK)
        .margin_right(2 * TICK)
        .margin_bottom(TICK / 2)
        .x_label_area_size(3 * TICK)
        .y_label_area_size(5 * TICK)
        .build_cartesian_2d(0.0..t_end, 0.0..y_max)
        .ctx()?;
    style_mesh!(
        c.configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .x_desc("time (s)")
            .y_desc("peers")
            .y_labels(5)
    )
    .draw()
    .ctx()?;
    for (i, (_, s)) in series.iter().enumerate() {
        let col = color(i);
        let online = s.t.iter().copied().zip(s.peers.iter().copied());
        let playing = s.t.iter().copied().zip(s.playing.iter().copied());
        c.draw_series(DashedLineSeries::new(online, 8, 6, col.stroke_width(THIN))).ctx()?;
        c.draw_series(LineSeries::new(playing, col.stroke_width(LINE))).ctx()?;
    }
    Ok(())
}

/// Points of an empirical CDF as steps over `total` peers, at most about
/// 500 steps (evenly spaced ranks beyond that: finer than a panel's pixels),
/// ending at `x_end`.
fn cdf_steps(sorted: &[f64], total: usize, x_end: f64) -> Vec<(f64, f64)> {
    let m = sorted.len();
    let n = total.max(1) as f64;
    let mut pts = vec![(0.0, 0.0)];
    if m == 0 {
        pts.push((x_end, 0.0));
        return pts;
    }
    let stride = m.div_ceil(500).max(1);
    let mut prev = 0.0;
    let mut k = stride - 1;
    loop {
        let k_now = k.min(m - 1);
        let x = sorted[k_now];
        pts.push((x, prev));
        prev = (k_now + 1) as f64 / n;
        pts.push((x, prev));
        if k_now == m - 1 {
            break;
        }
        k += stride;
    }
    pts.push((x_end.max(sorted[m - 1]), prev));
    pts
}

/// CDFs of startup delay (left) and playback lag (right).
pub fn cdf<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, vs: &[&Variant]) -> R {
    let root = titled(root, "Startup delay and playback lag: CDF over all peers", None)?;
    let dists: Vec<_> = vs.iter().filter_map(|v| v.peers.as_ref().map(|d| (v.label.as_str(), d))).collect();
    let entries: Vec<Entry> = dists.iter().enumerate().map(|(i, (l, _))| Entry::solid(l, color(i))).collect();
    let root = legend_rows(&root, Some(if dists.len() == 1 { "run" } else { "variant" }), &entries)?;
    let (w, _) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(w / 2);
    type Values = fn(&super::data::PeerDist) -> &[f64];
    let panels: [(&DrawingArea<DB, Shift>, &str, Values); 2] =
        [(&left, "startup delay (s)", |d| &d.startup), (&right, "playback lag (s)", |d| &d.lag)];
    for (p, (area, xdesc, values)) in panels.into_iter().enumerate() {
        let x_max = dists.iter().filter_map(|(_, d)| values(d).last().copied()).fold(0.0f64, f64::max);
        let x_end = if x_max > 0.0 { x_max * 1.05 } else { 1.0 };
        let mut c = ChartBuilder::on(area)
            .margin_left(TICK)
            .margin_right(2 * TICK)
            .margin_top(TICK / 2)
            .margin_bottom(TICK / 2)
            .x_label_area_size(3 * TICK)
            .y_label_area_size(if p == 0 { 4 * TICK } else { 3 * TICK })
            .build_cartesian_2d(0.0..x_end, 0.0..1.02)
            .ctx()?;
        let mut mesh = c.configure_mesh();
        style_mesh!(mesh.x_label_formatter(&tick).y_label_formatter(&tick).x_desc(xdesc).x_labels(6));
        if p == 0 {
            mesh.y_desc("fraction of peers");
        }
        mesh.draw().ctx()?;
        for (i, (_, d)) in dists.iter().enumerate() {
            let pts = cdf_steps(values(d), d.total, x_end);
            c.draw_series(LineSeries::new(pts, color(i).stroke_width(LINE))).ctx()?;
        }
    }
    Ok(())
}

/// Main metrics per variant: one panel per metric, variants as rows, a point
/// at the mean and whiskers over the 95% confidence interval (clipped to the
/// metric's physical range) when known. Each panel's axis fits its data.
pub fn metrics<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, m: &Metrics) -> R {
    let with_ci = m.rows.iter().any(|r| r.ci.is_some());
    let subtitle = if with_ci {
        format!("mean and 95% CI over {} seeds", m.max_n)
    } else if m.max_n > 1 {
        format!("mean over {} seeds", m.max_n)
    } else {
        "one run per variant".to_string()
    };
    let shown: Vec<(&str, &str)> = MAIN_METRICS.iter().copied().filter(|(k, _)| m.has_metric(k)).collect();
    // Per panel: the clipped interval of every variant, and the axis range.
    let ci_of = |r: &super::data::MetricRow| {
        let limits = metric_limits(&r.metric);
        r.ci.map(|(a, b)| (clip(a, limits), clip(b, limits)))
    };
    let ranges: Vec<(f64, f64)> = shown
        .iter()
        .map(|(metric, _)| {
            let spans: Vec<(f64, f64)> = m
                .variants
                .iter()
                .filter_map(|v| m.get(v, metric))
                .map(|r| {
                    let (a, b) = ci_of(r).unwrap_or((r.mean, r.mean));
                    (a.min(r.mean), b.max(r.mean))
                })
                .collect();
            let (lo, hi) = main_cluster(&spans);
            fit(lo, hi, metric_limits(metric), 0.12)
        })
        .collect();
    let off_scale = shown
        .iter()
        .zip(&ranges)
        .any(|((metric, _), (x0, x1))| m.rows.iter().any(|r| r.metric == *metric && (r.mean < *x0 || r.mean > *x1)));
    let subtitle = if off_scale {
        format!("{subtitle}; a triangle at an axis end marks a value beyond it, printed beside it")
    } else {
        subtitle
    };
    let root = titled(root, "Main metrics per variant", Some(&subtitle))?;
    let n = shown.len().max(1);
    let cols = n.min(3);
    let rows = n.div_ceil(cols);
    let k = m.variants.len();
    let mut longest = 0;
    for v in &m.variants {
        longest = longest.max(root.estimate_text_size(v, &font(TICK)).ctx()?.0);
    }
    let label_w = (longest + TICK).clamp(3 * TICK, 16 * TICK);
    let (w, _) = root.dim_in_pixel();
    let panel_w = (w.saturating_sub(label_w)) / cols as u32;
    // Columns: the first one carries the variant names.
    let mut columns = Vec::new();
    let mut rest = root.clone();
    for c in 0..cols {
        if c + 1 == cols {
            columns.push(rest.clone());
            break;
        }
        let width = if c == 0 { label_w + panel_w } else { panel_w };
        let (a, b) = rest.split_horizontally(width);
        columns.push(a);
        rest = b;
    }
    let y_of = |i: usize| (k - 1 - i) as f64;
    for (idx, (metric, name)) in shown.iter().enumerate() {
        let (row, col) = (idx / cols, idx % cols);
        let cells = columns[col].split_evenly((rows, 1));
        let area = &cells[row];
        let unit = m.rows.iter().find(|r| r.metric == *metric).map_or("", |r| r.unit.as_str());
        let ci = ci_of;
        let (x0, x1) = ranges[idx];
        let names = m.variants.clone();
        let label_fmt = move |y: &f64| match category(*y) {
            Some(j) if col == 0 && j < k => names[k - 1 - j].clone(),
            _ => String::new(),
        };
        let mut c = ChartBuilder::on(area)
            .caption(with_unit(name, unit), font(AXIS))
            .margin_left(TICK / 2)
            .margin_right(TICK)
            .margin_top(TICK / 4)
            .margin_bottom(TICK / 4)
            .x_label_area_size(2 * TICK)
            .y_label_area_size(if col == 0 { label_w } else { TICK / 2 })
            .build_cartesian_2d(x0..x1, -0.6..k as f64 - 0.4)
            .ctx()?;
        style_mesh!(
            c.configure_mesh().x_labels(4).y_labels(k + 1).x_label_formatter(&tick).y_label_formatter(&label_fmt)
        )
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .ctx()?;
        for (i, v) in m.variants.iter().enumerate() {
            let Some(r) = m.get(v, metric) else { continue };
            let col = color(i);
            let y = y_of(i);
            if r.mean < x0 || r.mean > x1 {
                // Off the axis: a triangle at the edge pointing at it, and its value.
                let left = r.mean < x0;
                let (sx, d) = if left { (x0, 1) } else { (x1, -1) };
                let h = TICK as i32 / 2;
                let anchor = Pos::new(if left { HPos::Left } else { HPos::Right }, VPos::Center);
                let marker = EmptyElement::at((sx, y))
                    + Polygon::new(vec![(d * h, -h), (d * h, h), (0, 0)], col.filled())
                    + Text::new(tick(&r.mean), (d * (h + h / 2), 0), font(TICK).pos(anchor).color(&col));
                c.draw_series(std::iter::once(marker)).ctx()?;
                continue;
            }
            if let Some((a, b)) = ci(r) {
                let cap = 0.18;
                c.draw_series([
                    PathElement::new(vec![(a, y), (b, y)], col.stroke_width(LINE)),
                    PathElement::new(vec![(a, y - cap), (a, y + cap)], col.stroke_width(LINE)),
                    PathElement::new(vec![(b, y - cap), (b, y + cap)], col.stroke_width(LINE)),
                ])
                .ctx()?;
            }
            c.draw_series(std::iter::once(Circle::new((r.mean, y), 6, col.filled()))).ctx()?;
        }
    }
    Ok(())
}

/// The range of the main cluster of intervals: when one side of the widest
/// gap between them holds at most half as many intervals as the other and the
/// gap is more than 80% of the whole span, the axis is fitted to the larger
/// side (the others are marked off-scale with their values), so that 0.94 vs
/// 0.955 stays visible next to a baseline at 0.02.
fn main_cluster(spans: &[(f64, f64)]) -> (f64, f64) {
    let all = spans.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| (a.min(s.0), b.max(s.1)));
    let mut sorted = spans.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = all.1 - all.0;
    if sorted.len() < 3 || total.is_nan() || total <= 0.0 {
        return all;
    }
    // Widest gap between the intervals sorted by start.
    let mut best = (0.0, 0);
    let mut reach = sorted[0].1;
    for (k, s) in sorted.iter().enumerate().skip(1) {
        if s.0 - reach > best.0 {
            best = (s.0 - reach, k);
        }
        reach = reach.max(s.1);
    }
    let (gap, k) = best;
    let (below, above) = (&sorted[..k], &sorted[k..]);
    if gap <= 0.8 * total || below.is_empty() {
        return all;
    }
    let keep = if below.len() * 2 <= above.len() {
        above
    } else if above.len() * 2 <= below.len() {
        below
    } else {
        return all;
    };
    keep.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| (a.min(s.0), b.max(s.1)))
}

/// One metric against one swept parameter, with 95% CI whiskers clipped to
/// the metric's physical range; the legend, titled with the parameter(s)
/// that tell the lines apart, sits above the plot.
pub fn sweep<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &SweepFig) -> R {
    let n_cats = s.categories.as_ref().map_or(0, Vec::len);
    let (x0, x1) = if n_cats > 0 {
        (-0.5, n_cats as f64 - 0.5)
    } else {
        let xs = s.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        padded(lo, hi, 0.08)
    };
    let limits = metric_limits(&s.metric);
    let ci = |p: &super::SweepPoint| p.2.map(|(a, b)| (clip(a, limits), clip(b, limits)));
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in s.lines.iter().flat_map(|l| &l.points) {
        let (a, b) = ci(p).unwrap_or((p.1, p.1));
        lo = lo.min(a.min(p.1));
        hi = hi.max(b.max(p.1));
    }
    let (y0, y1) = fit(lo, hi, limits, 0.08);
    let name = metric_name(&s.metric);
    let with_ci = s.lines.iter().flat_map(|l| &l.points).any(|p| p.2.is_some());
    let x_words = key_words(&s.param);
    let subtitle = match s.max_n {
        0 | 1 => None,
        n if with_ci => Some(format!("mean and 95% CI over {n} seeds")),
        n => Some(format!("mean over {n} seeds")),
    };
    let title = format!("{name} vs {}", key_words_bare(&s.param));
    let root = titled(root, &title, subtitle.as_deref())?;
    let root = if s.lines.len() > 1 || !s.groups.is_empty() {
        let entries: Vec<Entry> = s.lines.iter().enumerate().map(|(i, l)| Entry::solid(&l.label, color(i))).collect();
        let legend_title: Vec<String> = s.groups.iter().map(|g| key_words_bare(g)).collect();
        let legend_title = legend_title.join(", ");
        legend_rows(&root, (!legend_title.is_empty()).then_some(legend_title.as_str()), &entries)?
    } else {
        root
    };
    let cats = s.categories.clone().unwrap_or_default();
    let x_fmt = move |x: &f64| {
        if cats.is_empty() { tick(x) } else { category(*x).and_then(|j| cats.get(j).cloned()).unwrap_or_default() }
    };
    let mut c = ChartBuilder::on(&root)
        .margin_left(TICK / 2)
        .margin_right(TICK)
        .margin_top(TICK / 2)
        .margin_bottom(TICK / 2)
        .x_label_area_size(3 * TICK)
        .y_label_area_size(4 * TICK)
        .build_cartesian_2d(x0..x1, y0..y1)
        .ctx()?;
    let ydesc = with_unit(&name, &s.unit);
    let mut mesh = c.configure_mesh();
    if n_cats > 0 {
        // Ticks at whole numbers only: one per category.
        mesh.x_labels(n_cats + 1);
    } else {
        mesh.x_labels(5);
    }
    style_mesh!(mesh.x_label_formatter(&x_fmt).y_label_formatter(&tick).y_labels(5).x_desc(x_words.as_str()))
        .y_desc(ydesc.as_str())
        .draw()
        .ctx()?;
    // Lines are shifted apart a little so that their whiskers do not overlap.
    let span = x1 - x0;
    let n_lines = s.lines.len() as f64;
    let cap = span * 0.012;
    for (i, l) in s.lines.iter().enumerate() {
        let col = color(i);
        let dx = if with_ci { (i as f64 - (n_lines - 1.0) / 2.0) * span * 0.01 } else { 0.0 };
        let pts: Vec<(f64, f64)> = l.points.iter().map(|p| (p.0 + dx, p.1)).collect();
        c.draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(LINE))).ctx()?;
        for p in &l.points {
            let x = p.0 + dx;
            if let Some((a, b)) = ci(p) {
                c.draw_series([
                    PathElement::new(vec![(x, a), (x, b)], col.stroke_width(THIN)),
                    PathElement::new(vec![(x - cap, a), (x + cap, a)], col.stroke_width(THIN)),
                    PathElement::new(vec![(x - cap, b), (x + cap, b)], col.stroke_width(THIN)),
                ])
                .ctx()?;
            }
            c.draw_series(std::iter::once(Circle::new((x, p.1), 5, col.filled()))).ctx()?;
        }
    }
    Ok(())
}

/// [`key_words`] without the unit (for titles and legend titles).
fn key_words_bare(key: &str) -> String {
    let w = key_words(key);
    match w.rfind(" (") {
        Some(i) if w.ends_with(')') => w[..i].to_string(),
        _ => w,
    }
}

/// One point of the scale figure: (peers, wall seconds, peak RSS bytes).
pub type ScalePoint = (f64, f64, f64);

/// Data of the scale figure: per protocol, its points.
pub struct ScaleFig {
    pub sim_s: f64,
    pub lines: Vec<(String, Vec<ScalePoint>)>,
}

/// Wall time and peak memory against the population, log-log, one line per protocol.
pub fn scale<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &ScaleFig) -> R {
    let root = titled(root, &format!("Scale benchmark: {:.0} simulated s, one core per run", s.sim_s), None)?;
    let entries: Vec<Entry> = s.lines.iter().enumerate().map(|(i, (p, _))| Entry::solid(p, color(i))).collect();
    let root = legend_rows(&root, Some("protocol"), &entries)?;
    let areas = root.split_evenly((1, 2));
    let pts = s.lines.iter().flat_map(|(_, v)| v.iter());
    let (x0, x1) = pts.clone().fold((f64::INFINITY, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (x0, x1) = decades(x0, x1);
    type Get = fn(&(f64, f64, f64)) -> f64;
    let panels: [(&str, Get); 2] = [("wall time (s)", |p| p.1), ("peak RSS (MB)", |p| p.2 / 1e6)];
    for ((name, get), area) in panels.iter().zip(areas.iter()) {
        let (y0, y1) = pts.clone().fold((f64::INFINITY, 0.0f64), |(a, b), p| (a.min(get(p)), b.max(get(p))));
        let (y0, y1) = decades(y0, y1);
        let mut chart = ChartBuilder::on(area)
            .margin_left(TICK / 2)
            .margin_right(3 * TICK)
            .margin_top(TICK / 2)
            .margin_bottom(TICK / 2)
            .x_label_area_size(3 * TICK)
            .y_label_area_size(4 * TICK)
            // A hair beyond the decades, so that rounding keeps their ticks.
            .build_cartesian_2d((x0 * 0.999..x1 * 1.001).log_scale(), (y0 * 0.999..y1 * 1.001).log_scale())
            .ctx()?;
        style_mesh!(
            chart
                .configure_mesh()
                .x_desc("peers")
                .y_desc(*name)
                .x_label_formatter(&log_tick)
                .y_label_formatter(&log_tick)
        )
        .draw()
        .ctx()?;
        for (i, (_, v)) in s.lines.iter().enumerate() {
            let c = color(i);
            let line: Vec<(f64, f64)> = v.iter().map(|p| (p.0, get(p))).collect();
            chart.draw_series(LineSeries::new(line.clone(), c.stroke_width(LINE))).ctx()?;
            chart.draw_series(line.iter().map(|&q| Circle::new(q, 5, c.filled()))).ctx()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(&0.2), "0.2");
        assert_eq!(tick(&0.30000000000000004), "0.3");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&1500.0), "1500");
        assert_eq!(tick(&250000.0), "250000");
        assert_eq!(tick(&0.00001), "1.0e-5");
    }

    #[test]
    fn axes_fit_the_data_within_physical_limits() {
        // Continuity 0.94-0.955 gets a narrow axis, not 0-1.
        let (a, b) = fit(0.94, 0.955, (0.0, 1.0), 0.08);
        assert!(a > 0.93 && b < 0.97, "{a}..{b}");
        // Values at the limit: the axis stops just past it.
        let (a, b) = fit(0.0, 0.2, (0.0, f64::INFINITY), 0.12);
        assert!((-0.01..0.0).contains(&a) && b > 0.2, "{a}..{b}");
        let (_, b) = fit(0.9, 1.0, (0.0, 1.0), 0.2);
        assert!(b <= 1.0 + 0.03 * 0.14 + 1e-12, "{b}");
        assert_eq!(clip(1.02, (0.0, 1.0)), 1.0);
        assert_eq!(clip(-0.001, (0.0, f64::INFINITY)), 0.0);
    }

    #[test]
    fn a_far_baseline_does_not_flatten_the_rest() {
        let spans = [(0.93, 0.97), (0.925, 0.98), (0.92, 0.965), (1.0, 1.0), (0.0217, 0.0219)];
        assert_eq!(main_cluster(&spans), (0.92, 1.0));
        // Zeros shared by two of five variants are data, not outliers.
        let dup = [(0.0064, 0.0082), (0.0057, 0.0081), (0.0062, 0.0078), (0.0, 0.0), (0.0, 0.0)];
        assert_eq!(main_cluster(&dup), (0.0, 0.0082));
        // Evenly spread values: the whole range.
        assert_eq!(main_cluster(&[(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]), (1.0, 3.0));
    }

    #[test]
    fn log_axes_span_decades_around_a_single_point() {
        assert_eq!(decades(1000.0, 1000.0), (100.0, 10_000.0));
        assert_eq!(decades(1.2, 2248.0), (0.1, 10_000.0));
        assert_eq!(log_tick(&10_000.0), "10,000");
        assert_eq!(log_tick(&3000.0), "");
        assert_eq!(log_tick(&0.5), "0.5");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }

    #[test]
    fn cdf_steps_end_at_the_started_share() {
        let pts = cdf_steps(&[1.0, 2.0, 2.0], 4, 3.0);
        assert_eq!(pts.first(), Some(&(0.0, 0.0)));
        assert_eq!(pts.last(), Some(&(3.0, 0.75)));
        let big: Vec<f64> = (0..5000).map(f64::from).collect();
        let pts = cdf_steps(&big, 5000, 5000.0);
        assert!(pts.len() < 1100, "{}", pts.len());
        assert_eq!(pts[pts.len() - 2], (4999.0, 1.0));
    }
}
