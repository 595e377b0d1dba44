//! Drawing the four kinds of figure on any plotters backend.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::{Metrics, Variant};
use super::{MAIN_METRICS, SweepFig, key_unit, metric_name, with_unit};

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

const TITLE: u32 = 20;
const AXIS: u32 = 15;
const LABEL: u32 = 13;

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

/// The legend corner that covers the fewest data points (lines sampled along
/// their segments), preferring lower right, then upper left, upper right, lower left.
fn corner(lines: &[Vec<(f64, f64)>], x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let (w, h) = (x.1 - x.0, y.1 - y.0);
    let boxes = [
        (SeriesLabelPosition::LowerRight, x.1 - 0.42 * w, y.0),
        (SeriesLabelPosition::UpperLeft, x.0, y.1 - 0.36 * h),
        (SeriesLabelPosition::UpperRight, x.1 - 0.42 * w, y.1 - 0.36 * h),
        (SeriesLabelPosition::LowerLeft, x.0, y.0),
    ];
    let mut counts = [0usize; 4];
    for l in lines {
        for s in l.windows(2) {
            for k in 0..8 {
                let f = k as f64 / 8.0;
                let (px, py) = (s[0].0 + f * (s[1].0 - s[0].0), s[0].1 + f * (s[1].1 - s[0].1));
                for (c, (_, bx, by)) in counts.iter_mut().zip(&boxes) {
                    if px >= *bx && px <= bx + 0.42 * w && py >= *by && py <= by + 0.36 * h {
                        *c += 1;
                    }
                }
            }
        }
        if let [p] = l.as_slice() {
            for (c, (_, bx, by)) in counts.iter_mut().zip(&boxes) {
                if p.0 >= *bx && p.0 <= bx + 0.42 * w && p.1 >= *by && p.1 <= by + 0.36 * h {
                    *c += 1;
                }
            }
        }
    }
    let best = (0..4).min_by_key(|&i| (counts[i], i)).unwrap_or(0);
    boxes[best].0.clone()
}

fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(2))
}

/// A legend of coloured lines (colour `i` for `labels[i]`) in centred rows
/// across the top of `area`, for figures whose panels share it; returns the
/// rest of the area.
fn legend_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[&str],
) -> Result<DrawingArea<DB, Shift>, String> {
    const LINE: u32 = 22;
    const GAP: u32 = 6;
    const SPACE: u32 = 22;
    const ROW: u32 = 20;
    let style = font(LABEL);
    let (w, _) = area.dim_in_pixel();
    let mut widths = Vec::new();
    for l in labels {
        widths.push(LINE + GAP + area.estimate_text_size(l, &style).ctx()?.0);
    }
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut x = 0;
    for (i, ew) in widths.iter().enumerate() {
        let row = rows.last_mut().expect("non-empty");
        if !row.is_empty() && x + SPACE + ew > w.saturating_sub(40) {
            rows.push(vec![i]);
            x = *ew;
        } else {
            x += if row.is_empty() { *ew } else { SPACE + ew };
            row.push(i);
        }
    }
    let (top, rest) = area.split_vertically(rows.len() as u32 * ROW + 4);
    let anchored = style.pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in rows.iter().enumerate() {
        let total: u32 = row.iter().map(|&i| widths[i]).sum::<u32>() + SPACE * (row.len() as u32 - 1);
        let mut x = (w.saturating_sub(total) / 2) as i32;
        let y = (r as u32 * ROW + ROW / 2 + 2) as i32;
        for &i in row {
            top.draw(&PathElement::new(vec![(x, y), (x + LINE as i32, y)], color(i).stroke_width(2))).ctx()?;
            top.draw_text(labels[i], &anchored, (x + (LINE + GAP) as i32, y)).ctx()?;
            x += (widths[i] + SPACE) as i32;
        }
    }
    Ok(rest)
}

/// Continuity (top) and online / playing peers (bottom) over time.
pub fn timeseries<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, vs: &[&Variant]) -> R {
    let root = root.titled("Playback continuity and population over time", font(TITLE)).ctx()?;
    let series: Vec<_> = vs.iter().filter_map(|v| v.timeseries.as_ref().map(|s| (v.label.as_str(), s))).collect();
    let labels: Vec<&str> = series.iter().map(|(l, _)| *l).collect();
    let root = legend_rows(&root, &labels)?;
    let (_, h) = root.dim_in_pixel();
    let (top, bottom) = root.split_vertically(h * 55 / 100);
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
    let lo = segments.iter().flatten().flatten().map(|p| p.1).fold(1.0f64, f64::min);
    let y_lo = if lo >= 0.8 { (lo * 20.0).floor() / 20.0 - 0.05 } else { 0.0 };
    let mut c = ChartBuilder::on(&top)
        .margin_left(10)
        .margin_right(20)
        .margin_top(6)
        .x_label_area_size(10)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_end, y_lo..1.02)
        .ctx()?;
    c.configure_mesh()
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&tick)
        .y_desc("continuity (played / due)")
        .axis_desc_style(font(AXIS))
        .label_style(font(LABEL))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.1))
        .draw()
        .ctx()?;
    for (i, ((label, _), segs)) in series.iter().zip(&segments).enumerate() {
        let col = color(i);
        c.draw_series(std::iter::empty::<PathElement<(f64, f64)>>()).ctx()?.label(*label).legend(legend_line(col));
        for s in segs {
            if let [p] = s.as_slice() {
                c.draw_series(std::iter::once(Circle::new(*p, 2, col.filled()))).ctx()?;
            } else {
                c.draw_series(LineSeries::new(s.iter().copied(), col.stroke_width(2))).ctx()?;
            }
        }
    }

    // Population: online (dashed) and playing (solid) peers.
    let y_max = series.iter().flat_map(|(_, s)| s.peers.iter().chain(&s.playing)).fold(1.0f64, |a, &b| a.max(b)) * 1.1;
    let mut c = ChartBuilder::on(&bottom)
        .margin_left(10)
        .margin_right(20)
        .margin_bottom(6)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_end, 0.0..y_max)
        .ctx()?;
    c.configure_mesh()
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .x_desc("time (s)")
        .y_desc("peers")
        .y_labels(5)
        .axis_desc_style(font(AXIS))
        .label_style(font(LABEL))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.1))
        .draw()
        .ctx()?;
    let mut lines = Vec::new();
    for (i, (_, s)) in series.iter().enumerate() {
        let col = color(i);
        let online: Vec<(f64, f64)> = s.t.iter().copied().zip(s.peers.iter().copied()).collect();
        let playing: Vec<(f64, f64)> = s.t.iter().copied().zip(s.playing.iter().copied()).collect();
        c.draw_series(DashedLineSeries::new(online.iter().copied(), 6, 4, col.stroke_width(1))).ctx()?;
        c.draw_series(LineSeries::new(playing.iter().copied(), col.stroke_width(2))).ctx()?;
        lines.push(online);
        lines.push(playing);
    }
    let grey = RGBColor(80, 80, 80);
    c.draw_series(std::iter::empty::<PathElement<(f64, f64)>>()).ctx()?.label("online (dashed)").legend(
        move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (6, 0)], grey.stroke_width(1))
                + PathElement::new(vec![(9, 0), (14, 0)], grey.stroke_width(1))
                + PathElement::new(vec![(17, 0), (22, 0)], grey.stroke_width(1))
        },
    );
    c.draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
        .ctx()?
        .label("playing (solid)")
        .legend(legend_line(grey));
    c.configure_series_labels()
        .position(corner(&lines, (0.0, t_end), (0.0, y_max)))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(font(LABEL))
        .draw()
        .ctx()?;
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
    let root = root.titled("Startup delay and playback lag: CDF over all peers", font(TITLE)).ctx()?;
    let dists: Vec<_> = vs.iter().filter_map(|v| v.peers.as_ref().map(|d| (v.label.as_str(), d))).collect();
    let labels: Vec<&str> = dists.iter().map(|(l, _)| *l).collect();
    let root = legend_rows(&root, &labels)?;
    let (w, _) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(w / 2);
    type Values = fn(&super::data::PeerDist) -> &[f64];
    let panels: [(&DrawingArea<DB, Shift>, &str, Values); 2] =
        [(&left, "startup delay (s)", |d| &d.startup), (&right, "playback lag (s)", |d| &d.lag)];
    for (p, (area, xdesc, values)) in panels.into_iter().enumerate() {
        let x_max = dists.iter().filter_map(|(_, d)| values(d).last().copied()).fold(0.0f64, f64::max);
        let x_end = if x_max > 0.0 { x_max * 1.05 } else { 1.0 };
        let mut c = ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(18)
            .margin_top(8)
            .margin_bottom(6)
            .x_label_area_size(42)
            .y_label_area_size(if p == 0 { 62 } else { 44 })
            .build_cartesian_2d(0.0..x_end, 0.0..1.02)
            .ctx()?;
        c.configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .x_desc(xdesc)
            .y_desc("fraction of peers")
            .x_labels(6)
            .axis_desc_style(font(AXIS))
            .label_style(font(LABEL))
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()
            .ctx()?;
        for (i, (_, d)) in dists.iter().enumerate() {
            let pts = cdf_steps(values(d), d.total, x_end);
            c.draw_series(LineSeries::new(pts, color(i).stroke_width(2))).ctx()?;
        }
    }
    Ok(())
}

/// Main metrics per variant: one panel per metric, variants as rows, a point
/// at the mean and whiskers over the 95% confidence interval when known.
pub fn metrics<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, m: &Metrics) -> R {
    let with_ci = m.rows.iter().any(|r| r.ci.is_some());
    let title = if with_ci {
        format!("Main metrics per variant: mean and 95% CI over {} seeds", m.max_n)
    } else if m.max_n > 1 {
        format!("Main metrics per variant: mean over {} seeds", m.max_n)
    } else {
        "Main metrics per variant (one run each)".to_string()
    };
    let root = root.titled(&title, font(TITLE)).ctx()?;
    let shown: Vec<(&str, &str)> = MAIN_METRICS.iter().copied().filter(|(k, _)| m.has_metric(k)).collect();
    let n = shown.len().max(1);
    let cols = n.min(3);
    let rows = n.div_ceil(cols);
    let k = m.variants.len();
    let longest = m.variants.iter().map(|v| v.chars().count()).max().unwrap_or(4) as u32;
    let label_w = (longest * 8 + 14).clamp(50, 220);
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
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for r in m.rows.iter().filter(|r| r.metric == *metric) {
            let (a, b) = r.ci.unwrap_or((r.mean, r.mean));
            lo = lo.min(a.min(r.mean));
            hi = hi.max(b.max(r.mean));
        }
        let (x0, x1) = padded(lo, hi, 0.12);
        let names = m.variants.clone();
        let label_fmt = move |y: &f64| match category(*y) {
            Some(j) if col == 0 && j < k => names[k - 1 - j].clone(),
            _ => String::new(),
        };
        let mut c = ChartBuilder::on(area)
            .caption(with_unit(name, unit), font(AXIS))
            .margin_left(6)
            .margin_right(14)
            .margin_top(4)
            .margin_bottom(4)
            .x_label_area_size(24)
            .y_label_area_size(if col == 0 { label_w } else { 6 })
            .build_cartesian_2d(x0..x1, -0.6..k as f64 - 0.4)
            .ctx()?;
        c.configure_mesh()
            .x_labels(4)
            .y_labels(k + 1)
            .x_label_formatter(&tick)
            .y_label_formatter(&label_fmt)
            .label_style(font(LABEL))
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .ctx()?;
        for (i, v) in m.variants.iter().enumerate() {
            let Some(r) = m.get(v, metric) else { continue };
            let col = color(i);
            let y = y_of(i);
            if let Some((a, b)) = r.ci {
                let cap = 0.18;
                c.draw_series([
                    PathElement::new(vec![(a, y), (b, y)], col.stroke_width(2)),
                    PathElement::new(vec![(a, y - cap), (a, y + cap)], col.stroke_width(2)),
                    PathElement::new(vec![(b, y - cap), (b, y + cap)], col.stroke_width(2)),
                ])
                .ctx()?;
            }
            c.draw_series(std::iter::once(Circle::new((r.mean, y), 5, col.filled()))).ctx()?;
        }
    }
    Ok(())
}

/// One metric against one swept parameter, with 95% CI whiskers.
pub fn sweep<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &SweepFig) -> R {
    let n_cats = s.categories.as_ref().map_or(0, Vec::len);
    let (x0, x1) = if n_cats > 0 {
        (-0.5, n_cats as f64 - 0.5)
    } else {
        let xs = s.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        padded(lo, hi, 0.05)
    };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in s.lines.iter().flat_map(|l| &l.points) {
        let (a, b) = p.2.unwrap_or((p.1, p.1));
        lo = lo.min(a.min(p.1));
        hi = hi.max(b.max(p.1));
    }
    let (y0, y1) = padded(lo, hi, 0.08);
    let name = metric_name(&s.metric);
    let with_ci = s.lines.iter().flat_map(|l| &l.points).any(|p| p.2.is_some());
    let title = match s.max_n {
        0 | 1 => format!("{name} vs {}", s.param),
        n if with_ci => format!("{name} vs {}: mean and 95% CI over {n} seeds", s.param),
        n => format!("{name} vs {}: mean over {n} seeds", s.param),
    };
    let cats = s.categories.clone().unwrap_or_default();
    let x_fmt = move |x: &f64| {
        if cats.is_empty() { tick(x) } else { category(*x).and_then(|j| cats.get(j).cloned()).unwrap_or_default() }
    };
    let mut c = ChartBuilder::on(root)
        .caption(&title, font(TITLE))
        .margin(12)
        .x_label_area_size(46)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .ctx()?;
    let xdesc = with_unit(&s.param, key_unit(&s.param));
    let ydesc = with_unit(&name, &s.unit);
    let mut mesh = c.configure_mesh();
    if n_cats > 0 {
        // Ticks at whole numbers only: one per category.
        mesh.x_labels(n_cats + 1);
    }
    mesh.x_label_formatter(&x_fmt)
        .y_label_formatter(&tick)
        .x_desc(xdesc.as_str())
        .y_desc(ydesc.as_str())
        .axis_desc_style(font(AXIS))
        .label_style(font(LABEL))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.1))
        .draw()
        .ctx()?;
    // Lines are shifted apart a little so that their whiskers do not overlap.
    let span = x1 - x0;
    let n_lines = s.lines.len() as f64;
    let cap = span * 0.008;
    let mut drawn = Vec::new();
    for (i, l) in s.lines.iter().enumerate() {
        let col = color(i);
        let dx = if with_ci { (i as f64 - (n_lines - 1.0) / 2.0) * span * 0.006 } else { 0.0 };
        let pts: Vec<(f64, f64)> = l.points.iter().map(|p| (p.0 + dx, p.1)).collect();
        c.draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(2)))
            .ctx()?
            .label(l.label.as_str())
            .legend(legend_line(col));
        for &(x, y, ci) in &l.points {
            let x = x + dx;
            if let Some((a, b)) = ci {
                c.draw_series([
                    PathElement::new(vec![(x, a), (x, b)], col.stroke_width(1)),
                    PathElement::new(vec![(x - cap, a), (x + cap, a)], col.stroke_width(1)),
                    PathElement::new(vec![(x - cap, b), (x + cap, b)], col.stroke_width(1)),
                ])
                .ctx()?;
            }
            c.draw_series(std::iter::once(Circle::new((x, y), 4, col.filled()))).ctx()?;
        }
        drawn.push(pts);
    }
    c.configure_series_labels()
        .position(corner(&drawn, (x0, x1), (y0, y1)))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(font(LABEL))
        .draw()
        .ctx()?;
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
