//! `power.svg`: detection rate of the gate against the measured effect of the
//! injected change, one line per variant, in three panels (continuity drop
//! from `drop=P`; relative rise of median lag and of median startup delay
//! from `delay=S`), with the targets marked (0.01 drop, 10% rise, 90%), on
//! x axes up to four times the target.
//! Plain SVG written by hand: deterministic bytes, no font needed to write it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

const PALETTE: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#000000", "#aec7e8",
];

/// (axis name, x label, x of the target, x as a percentage?)
const PANELS: [(&str, &str, f64, bool); 3] = [
    ("continuity", "continuity drop (absolute), drop=P", 0.01, false),
    ("lag", "median lag rise, delay=S", 0.10, true),
    ("startup", "median startup delay rise, delay=S", 0.10, true),
];

/// The figure: `points[(variant, axis)]` are (effect, detection rate).
pub fn plot(points: &BTreeMap<(String, &'static str), Vec<(f64, f64)>>, variants: &[String]) -> String {
    let (pw, ph, left, top) = (360.0, 280.0, 60.0, 40.0);
    let width = left + 3.0 * (pw + 50.0) + 220.0;
    let height = top + ph + 70.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"20\" font-size=\"13\">swarmlab check: detection rate against the injected effect (results/gate-power)</text>"
    );
    for (p, (axis, label, target, pct)) in PANELS.iter().enumerate() {
        let x0 = left + p as f64 * (pw + 50.0);
        // Four times the target: the region where detection goes from the
        // false-alarm rate to 1 (larger effects are all caught; power.csv has them).
        let xmax = target * 4.0;
        let px = |x: f64| x0 + (x.max(0.0) / xmax) * pw;
        let py = |y: f64| top + ph - y * ph;
        let _ =
            writeln!(s, "<rect x=\"{x0}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>");
        for i in 0..=5 {
            let y = i as f64 / 5.0;
            let (x1, yy, tx, ty) = (x0 + pw, py(y), x0 - 4.0, py(y) + 4.0);
            let _ = writeln!(
                s,
                "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{y:.1}</text>"
            );
            let x = xmax * i as f64 / 5.0;
            let tick = if *pct { format!("{:.0}%", x * 100.0) } else { format!("{x:.3}") };
            let _ =
                writeln!(s, "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{tick}</text>", px(x), top + ph + 14.0);
        }
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\
             <line x1=\"{x0}\" x2=\"{2}\" y1=\"{3:.1}\" y2=\"{3:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
            px(*target),
            top + ph,
            x0 + pw,
            py(0.9)
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            x0 + pw / 2.0,
            top + ph + 32.0
        );
        if p == 0 {
            let _ = writeln!(
                s,
                "<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">gate fails on the variant (share of runs)</text>",
                x0 - 40.0,
                top + ph / 2.0
            );
        }
        for (i, v) in variants.iter().enumerate() {
            let Some(pts) = points.get(&(v.clone(), *axis)) else { continue };
            let mut pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.0 <= xmax).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let path: Vec<String> = pts.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
            let c = PALETTE[i % PALETTE.len()];
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"/>",
                path.join(" ")
            );
            for &(x, y) in &pts {
                let _ = writeln!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{c}\"/>", px(x), py(y));
            }
        }
    }
    let lx = left + 3.0 * (pw + 50.0);
    for (i, v) in variants.iter().enumerate() {
        let y = top + 12.0 + i as f64 * 16.0;
        let c = PALETTE[i % PALETTE.len()];
        let _ = writeln!(
            s,
            "<line x1=\"{lx}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{c}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{v}</text>",
            lx + 18.0,
            lx + 24.0,
            y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
