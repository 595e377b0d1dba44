//! Tidy CSV output and the printed summary table.
//!
//! `summary.csv` has one row per metric (`scenario,protocol,seed,metric,value,unit`)
//! and `peers.csv` one row per peer; both load directly into pandas or R.
//! Files are written to a temporary name and renamed, so an interrupted run
//! never leaves a half-written file. Numbers use Rust's shortest round-trip
//! formatting, which is deterministic; an undefined value is an empty field.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::report::Report;

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".pending");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The tidy summary: one row per metric.
pub fn summary_csv(r: &Report) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["scenario", "protocol", "seed", "metric", "value", "unit"]);
    for m in &r.metrics {
        let _ = w.write_record([
            r.info.scenario.as_str(),
            r.info.protocol.as_str(),
            &r.info.seed.to_string(),
            &m.name,
            &opt(m.value),
            m.unit,
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// One row per peer.
pub fn peers_csv(r: &Report) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "scenario",
        "protocol",
        "seed",
        "peer",
        "class",
        "up_kbps",
        "joined_s",
        "left_s",
        "startup_delay_s",
        "lag_s",
        "due",
        "played",
        "missed",
        "continuity",
        "stall_runs",
        "longest_stall",
        "polluted_played",
        "useful_chunks",
        "duplicate_chunks",
        "late_chunks",
        "up_media_bytes",
        "up_control_bytes",
        "down_media_bytes",
        "down_control_bytes",
        "behaviour",
        "rejected_chunks",
        "up_polluted_bytes",
    ]);
    for (id, s) in &r.peers {
        let class = r.info.class_names.get(s.class as usize).map(String::as_str).unwrap_or("");
        let _ = w.write_record([
            r.info.scenario.clone(),
            r.info.protocol.clone(),
            r.info.seed.to_string(),
            id.to_string(),
            class.to_string(),
            (s.up_bps as f64 / 1000.0).to_string(),
            s.joined.as_secs_f64().to_string(),
            s.left.map(|t| t.as_secs_f64().to_string()).unwrap_or_default(),
            opt(s.startup_delay().map(|t| t.as_secs_f64())),
            opt(s.lag(&r.stream).map(|t| t.as_secs_f64())),
            s.due().to_string(),
            s.played.to_string(),
            s.missed.to_string(),
            opt(s.continuity()),
            s.stall_runs.to_string(),
            s.longest_stall.to_string(),
            s.polluted_played.to_string(),
            s.useful_chunks.to_string(),
            s.duplicate_chunks.to_string(),
            s.late_chunks.to_string(),
            s.up_media.to_string(),
            s.up_control.to_string(),
            s.down_media.to_string(),
            s.down_control.to_string(),
            protocols::adversary::Behaviour::NAMES.get(s.behaviour as usize).copied().unwrap_or("?").to_string(),
            s.rejected_chunks.to_string(),
            s.up_polluted.to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// One row per time bucket: population, playing peers, chunks played and
/// missed (by deadline in the bucket), continuity of the bucket, and upload
/// throughput of peers and source.
pub fn timeseries_csv(r: &Report) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "scenario",
        "protocol",
        "seed",
        "t_s",
        "peers",
        "playing",
        "played",
        "missed",
        "continuity",
        "peer_upload_kbps",
        "source_upload_kbps",
    ]);
    let (mut peers, mut playing) = (0i64, 0i64);
    let width = r.bucket.as_secs_f64();
    for (k, b) in r.buckets.iter().enumerate() {
        peers += b.joins as i64 - b.leaves as i64;
        playing += b.play_starts as i64 - b.play_stops as i64;
        let due = b.played + b.missed;
        let _ = w.write_record([
            r.info.scenario.clone(),
            r.info.protocol.clone(),
            r.info.seed.to_string(),
            (k as f64 * width).to_string(),
            peers.to_string(),
            playing.to_string(),
            b.played.to_string(),
            b.missed.to_string(),
            opt((due > 0).then(|| b.played as f64 / due as f64)),
            (b.peer_upload as f64 * 8.0 / width / 1000.0).to_string(),
            (b.source_upload as f64 * 8.0 / width / 1000.0).to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// Writes `summary.csv`, `peers.csv` and `timeseries.csv` into `dir` (created if needed).
pub fn write_run(r: &Report, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomic(&dir.join("summary.csv"), &summary_csv(r))?;
    write_atomic(&dir.join("peers.csv"), &peers_csv(r))?;
    write_atomic(&dir.join("timeseries.csv"), &timeseries_csv(r))
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_value(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".to_string(),
        Some(x) => match unit {
            "bytes" => thousands(x as u64),
            "peers" | "chunks" | "runs" | "messages" => format!("{}", x as i64),
            "s" => format!("{x:.3}"),
            "kbps" => format!("{x:.1}"),
            _ => format!("{x:.4}"),
        },
    }
}

/// The human-readable summary printed by `swarmlab run`.
pub fn summary_table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {}  protocol {}  seed {}  simulated {:.0} s",
        r.info.scenario,
        r.info.protocol,
        r.info.seed,
        r.info.end.as_secs_f64()
    );
    let width = r.metrics.iter().map(|m| m.name.len()).max().unwrap_or(10);
    let groups: [(&str, &[&str]); 11] = [
        ("population", &["peers_joined", "peers_started", "peers_never_started"]),
        (
            "quality",
            &[
                "continuity_mean",
                "continuity_pooled",
                "continuity_p05",
                "startup_delay_p50",
                "startup_delay_p95",
                "lag_p50",
                "lag_p95",
                "sync_spread",
                "misses",
                "stall_runs",
                "longest_stall",
                "recovery_time",
            ],
        ),
        ("delivery", &["delivery_delay_p50", "delivery_delay_p95", "delivery_delay_p99", "diffusion_delay_p50"]),
        (
            "cost",
            &[
                "control_overhead",
                "duplicate_ratio",
                "server_load",
                "upload_fairness",
                "address_exposure_mean",
                "address_exposure_p95",
                "source_exposure",
            ],
        ),
        ("NAT", &["nat_peers", "nat_blocked_messages", "continuity_nat", "continuity_public"]),
        ("ISP", &["cross_isp_share"]),
        ("CDN delivery", &["p2p_offload", "cdn_egress_gb", "cdn_edge_gb", "cdn_egress_peak_mbps", "cdn_cost"]),
        (
            "energy",
            &[
                "energy_total_kwh",
                "energy_peers_kwh",
                "energy_source_kwh",
                "energy_cdn_kwh",
                "energy_network_kwh",
                "energy_per_viewer_hour_wh",
            ],
        ),
        ("bounds", &["stream_rate", "r_max", "continuity_bound", "efficiency", "diffusion_bound_ratio_min"]),
        ("hostile input", &["dropped_messages"]),
        (
            "attacks and defences",
            &[
                "attackers",
                "continuity_honest",
                "clean_continuity_honest",
                "polluted_played",
                "polluted_played_share",
                "rejected_chunks",
                "wasted_upload_share",
                "attacker_upload_share",
                "eject_time_p50",
                "eject_time_mean",
                "ejected_share",
                "victim_continuity",
            ],
        ),
    ];
    for (title, names) in groups {
        // The optional groups only for runs that report them (their first metric).
        let optional = matches!(title, "attacks and defences" | "NAT" | "ISP" | "CDN delivery" | "energy");
        if optional && !r.metrics.iter().any(|m| m.name == names[0]) {
            continue;
        }
        let _ = writeln!(s, "\n{title}");
        for n in names {
            if let Some(m) = r.metrics.iter().find(|m| m.name == *n) {
                let note = if m.name == "recovery_time" && m.value.is_none() { recovery_note(r) } else { "" };
                let _ = writeln!(s, "  {:<width$}  {:>14}  {}{note}", m.name, fmt_value(m.value, m.unit), m.unit);
            }
        }
        let per = match title {
            "cost" => "upload_util.",
            "hostile input" => "dropped.",
            _ => "",
        };
        if !per.is_empty() {
            for m in r.metrics.iter().filter(|m| m.name.starts_with(per)) {
                let _ = writeln!(s, "  {:<width$}  {:>14}  {}", m.name, fmt_value(m.value, m.unit), m.unit);
            }
        }
    }
    let t = r.info.traffic;
    let _ = writeln!(
        s,
        "\nbytes: sent {} = delivered {} + lost {} + to departed {} + discarded {} + queued {} ({})",
        thousands(t.sent),
        thousands(t.delivered),
        thousands(t.lost),
        thousands(t.lost_departed),
        thousands(t.discarded),
        thousands(t.queued),
        if t.conserved() { "conserved" } else { "NOT CONSERVED" }
    );
    let _ = writeln!(s, "definitions of every metric: `swarmlab metrics` or docs/metrics.md; `-`: undefined");
    s
}

/// Why `recovery_time` is undefined in a run (see its definition in the glossary).
fn recovery_note(r: &Report) -> &'static str {
    let tl = &r.info.timeline;
    match tl.iter().find(|(_, restores)| !restores) {
        None => "  (no disruption in [[timeline]])",
        Some((first_bad, _)) if !tl.iter().any(|(t, restores)| *restores && t >= first_bad) => {
            "  (no restoring event after the disruption)"
        }
        Some(_) => "  (not recovered by the end, or nothing due before the disruption)",
    }
}

/// Columns of the comparison table (header and unit: the glossary's label and unit).
const COMPARE_COLUMNS: &[&str] = &[
    "continuity_pooled",
    "startup_delay_p50",
    "lag_p50",
    "lag_p95",
    "control_overhead",
    "duplicate_ratio",
    "server_load",
    "efficiency",
];

/// Columns of the comparison table for runs with attackers or defences.
const SECURITY_COLUMNS: &[&str] = &[
    "continuity_honest",
    "clean_continuity_honest",
    "polluted_played_share",
    "wasted_upload_share",
    "eject_time_p50",
    "ejected_share",
    "startup_delay_p50",
    "lag_p50",
    "control_overhead",
    "dropped_messages",
];

/// Header and unit of a table column, from the glossary.
fn column(metric: &str) -> (&'static str, &'static str) {
    crate::glossary::lookup(metric).map_or(("?", ""), |d| (d.label, d.unit))
}

/// The comparison columns for a run: security columns when it reports them.
fn columns(r: &Report) -> &'static [&'static str] {
    if r.metrics.iter().any(|m| m.name == "attackers") { SECURITY_COLUMNS } else { COMPARE_COLUMNS }
}

/// The last lines of a comparison table: where the definitions are.
const TABLE_NOTE: &str =
    "units under the headers (ratio: a dimensionless quotient); definitions: `swarmlab metrics` or docs/metrics.md";

/// One row per variant, the columns of [`COMPARE_COLUMNS`].
pub fn compare_table(rows: &[(String, Report)]) -> String {
    let mut s = String::new();
    if let Some((_, first)) = rows.first() {
        let _ = writeln!(
            s,
            "scenario {}  seed {}  simulated {:.0} s  (same population, network and seed for every row)\n",
            first.info.scenario,
            first.info.seed,
            first.info.end.as_secs_f64()
        );
    }
    let w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(7).max(7);
    let cols = rows.first().map_or(COMPARE_COLUMNS, |(_, r)| columns(r));
    let _ = write!(s, "{:<w$}", "variant");
    for m in cols {
        let _ = write!(s, "  {:>11}", column(m).0);
    }
    let _ = write!(s, "\n{:<w$}", "");
    for m in cols {
        let _ = write!(s, "  {:>11}", column(m).1);
    }
    let _ = writeln!(s);
    for (label, r) in rows {
        let _ = write!(s, "{label:<w$}");
        for m in cols {
            let _ = write!(s, "  {:>11}", fmt_value(r.get(m), column(m).1));
        }
        let _ = writeln!(s);
    }
    if let Some((_, first)) = rows.first() {
        let _ = writeln!(
            s,
            "\nbounds: r_max {} kbps for a {} kbps stream; continuity bound {}",
            fmt_value(first.get("r_max"), "kbps"),
            fmt_value(first.get("stream_rate"), "kbps"),
            fmt_value(first.get("continuity_bound"), "ratio"),
        );
        let _ = writeln!(s, "{TABLE_NOTE}");
    }
    s
}

/// Tidy comparison: one row per variant and metric.
pub fn compare_csv(rows: &[(String, Report)]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["scenario", "variant", "protocol", "seed", "metric", "value", "unit"]);
    for (label, r) in rows {
        for m in &r.metrics {
            let _ = w.write_record([
                r.info.scenario.as_str(),
                label.as_str(),
                r.info.protocol.as_str(),
                &r.info.seed.to_string(),
                &m.name,
                &opt(m.value),
                m.unit,
            ]);
        }
    }
    w.into_inner().unwrap_or_default()
}

/// A file-system-safe directory name for a variant label.
pub fn label_dir(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Tidy replication summary: one row per variant and metric with n, mean,
/// standard deviation and the 95% confidence interval (Student t).
pub fn replications_csv(rows: &[(String, Vec<Report>)]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "scenario",
        "variant",
        "protocol",
        "metric",
        "n",
        "mean",
        "sd",
        "ci95_low",
        "ci95_high",
        "unit",
        "seeds",
    ]);
    for (label, reps) in rows {
        let Some(first) = reps.first() else { continue };
        let seeds: Vec<String> = reps.iter().map(|r| r.info.seed.to_string()).collect();
        for (k, m) in first.metrics.iter().enumerate() {
            let values: Vec<Option<f64>> = reps.iter().map(|r| r.metrics.get(k).and_then(|x| x.value)).collect();
            let s = crate::stats::summarize(&values);
            let _ = w.write_record([
                first.info.scenario.as_str(),
                label.as_str(),
                first.info.protocol.as_str(),
                &m.name,
                &s.map_or(0, |s| s.n).to_string(),
                &opt(s.map(|s| s.mean)),
                &opt(s.and_then(|s| s.sd)),
                &opt(s.and_then(|s| s.ci95.map(|c| s.mean - c))),
                &opt(s.and_then(|s| s.ci95.map(|c| s.mean + c))),
                m.unit,
                &seeds.join(" "),
            ]);
        }
    }
    w.into_inner().unwrap_or_default()
}

/// `mean ± ci95` of one metric over replications, formatted for a table.
fn mean_ci(reps: &[Report], metric: &str, unit: &str) -> String {
    let values: Vec<Option<f64>> = reps.iter().map(|r| r.get(metric)).collect();
    match crate::stats::summarize(&values) {
        None => "-".into(),
        Some(s) => match s.ci95 {
            None => fmt_value(Some(s.mean), unit),
            Some(c) => format!("{}±{}", fmt_value(Some(s.mean), unit), fmt_value(Some(c), unit)),
        },
    }
}

/// Comparison table over replications: each cell is `mean±ci95`.
pub fn compare_reps_table(rows: &[(String, Vec<Report>)]) -> String {
    let mut s = String::new();
    let Some(first) = rows.first().and_then(|(_, r)| r.first()) else { return s };
    let n = rows[0].1.len();
    let _ = writeln!(
        s,
        "scenario {}  {} seeds from {}  simulated {:.0} s  (cells: mean±95% CI half-width)\n",
        first.info.scenario,
        n,
        first.info.seed,
        first.info.end.as_secs_f64()
    );
    let w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(7).max(7);
    let cols = columns(first);
    let cells: Vec<Vec<String>> =
        rows.iter().map(|(_, reps)| cols.iter().map(|m| mean_ci(reps, m, column(m).1)).collect()).collect();
    let widths: Vec<usize> = (0..cols.len())
        .map(|c| {
            let (h, u) = column(cols[c]);
            cells.iter().map(|r| r[c].chars().count()).chain([h.len(), u.len()]).max().unwrap_or(8)
        })
        .collect();
    let _ = write!(s, "{:<w$}", "variant");
    for (c, m) in cols.iter().enumerate() {
        let _ = write!(s, "  {:>width$}", column(m).0, width = widths[c]);
    }
    let _ = write!(s, "\n{:<w$}", "");
    for (c, m) in cols.iter().enumerate() {
        let _ = write!(s, "  {:>width$}", column(m).1, width = widths[c]);
    }
    let _ = writeln!(s);
    for ((label, _), row) in rows.iter().zip(&cells) {
        let _ = write!(s, "{label:<w$}");
        for (c, cell) in row.iter().enumerate() {
            let _ = write!(s, "  {cell:>width$}", width = widths[c]);
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n{TABLE_NOTE}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(3_720_912_031), "3,720,912,031");
        assert_eq!(fmt_value(Some(21_457_434.0), "bytes"), "21,457,434");
    }

    #[test]
    fn every_table_column_has_a_label_and_unit_in_the_glossary() {
        for m in COMPARE_COLUMNS.iter().chain(SECURITY_COLUMNS) {
            let (label, unit) = column(m);
            assert!(label != "?" && !unit.is_empty(), "{m}");
        }
    }
}
