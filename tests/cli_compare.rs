//! `swarmlab compare`: one row per variant, identical results whatever the
//! thread count, and a clear error when a scenario has no variants.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_swarmlab"))
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("swarmlab-compare-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn compare(threads: &str, out: &Path) -> std::process::Output {
    bin()
        .args(["compare", "tests/fixtures/compare.toml", "--out"])
        .arg(out)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("run swarmlab")
}

#[test]
fn compare_prints_one_row_per_variant_and_writes_tidy_csv() {
    let out = out_dir("rows");
    let o = compare("2", &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("mesh") || l.starts_with("client")).collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(rows[0].starts_with("mesh-pull/donet"), "{stdout}");
    assert!(rows[1].starts_with("mesh/edf"), "{stdout}");
    assert!(rows[2].starts_with("client-server"), "{stdout}");
    // Units on the line under the headers, in the headers' columns.
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("variant")).expect("header line");
    let (h, u) = (lines[header], lines[header + 1]);
    for (label, unit) in [("continuity", "ratio"), ("startup p50", "s"), ("lag p95", "s"), ("server load", "streams")] {
        let end = h.find(label).expect(label) + label.len();
        assert_eq!(&u[end - unit.len()..end], unit, "unit of `{label}` under it:\n{h}\n{u}");
    }
    assert!(stdout.contains("definitions: `swarmlab metrics`"), "{stdout}");
    let mut r = csv::Reader::from_path(out.join("compare.csv")).expect("compare.csv");
    let headers = r.headers().expect("header").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["scenario", "variant", "protocol", "seed", "metric", "value", "unit"]
    );
    let mut variants = std::collections::BTreeSet::new();
    for rec in r.records() {
        variants.insert(rec.expect("row")[1].to_string());
    }
    assert_eq!(variants.len(), 3);
    for d in ["mesh-pull_donet", "mesh_edf", "client-server"] {
        assert!(out.join(d).join("summary.csv").is_file(), "missing {d}/summary.csv");
    }
    // The baseline is limited by the source alone: its played chunks cannot
    // exceed the source's upload over the run divided by a chunk's wire bytes
    // (62,500 payload + 9 header + 53 x 36 datagram-header bytes).
    let cont = |row: &str| row.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).expect("continuity");
    let mut peers = csv::Reader::from_path(out.join("client-server").join("peers.csv")).expect("peers.csv");
    let idx = peers.headers().expect("header").iter().position(|h| h == "due").expect("due column");
    let due: f64 = peers.records().map(|r| r.expect("row")[idx].parse::<f64>().expect("due")).sum();
    let source_chunks = 2_000_000.0 / 8.0 * 60.0 / (62_509.0 + 53.0 * 36.0);
    assert!(cont(rows[2]) <= source_chunks / due, "{} vs source bound {}", rows[2], source_chunks / due);
    assert!(cont(rows[0]) > 0.8 && cont(rows[0]) > 2.0 * cont(rows[2]), "{}", rows[0]);
}

#[test]
fn compare_output_does_not_depend_on_the_thread_count() {
    let (a, b) = (out_dir("t1"), out_dir("t2"));
    let (oa, ob) = (compare("1", &a), compare("2", &b));
    assert!(oa.status.success() && ob.status.success());
    let read = |d: &Path| std::fs::read(d.join("compare.csv")).expect("compare.csv");
    assert_eq!(read(&a), read(&b), "compare.csv differs between 1 and 2 threads");
    let strip = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.starts_with("wrote")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip(&oa), strip(&ob));
    // The --threads flag (rather than RAYON_NUM_THREADS) gives the same files;
    // --quiet silences the progress display and the wall-time line.
    let c = out_dir("t-flag");
    let oc = bin()
        .args(["compare", "tests/fixtures/compare.toml", "--threads", "1", "--quiet", "--out"])
        .arg(&c)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("run swarmlab");
    assert!(oc.status.success(), "{}", String::from_utf8_lossy(&oc.stderr));
    assert_eq!(read(&a), read(&c), "compare.csv differs with --threads 1");
    assert!(oc.stderr.is_empty(), "--quiet: {}", String::from_utf8_lossy(&oc.stderr));
    assert!(String::from_utf8_lossy(&ob.stderr).contains("ran 3 runs (3 variants x 1 seeds)"), "without --quiet");
    let bad = bin().args(["compare", "tests/fixtures/compare.toml", "--threads", "0"]).output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--threads"), "the error names the flag");
}

#[test]
fn compare_without_variants_is_a_clear_error() {
    let dir = out_dir("novariants");
    std::fs::create_dir_all(&dir).expect("dir");
    let sc = dir.join("plain.toml");
    std::fs::write(&sc, "[peers]\ncount = 5\n").expect("write");
    let o = bin().arg("compare").arg(&sc).output().expect("run");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("error: ") && err.contains("[[variants]]") && err.contains("plain.toml"), "{err}");
}

/// `run --reps 3`: each seed's outputs equal a plain run with that seed, and
/// replications.csv summarizes them with n = 3 and an interval around the mean.
#[test]
fn replications_match_single_runs_and_report_intervals() {
    let out = out_dir("reps");
    let o = bin()
        .args(["run", "tests/fixtures/compare.toml", "--quiet", "--reps", "3", "--seed", "20", "--out"])
        .arg(&out)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let single = out_dir("reps-single");
    let o = bin()
        .args(["run", "tests/fixtures/compare.toml", "--quiet", "--seed", "21", "--out"])
        .arg(&single)
        .output()
        .expect("run");
    assert!(o.status.success());
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(read(out.join("seed21").join("summary.csv")), read(single.join("summary.csv")));

    let mut r = csv::Reader::from_path(out.join("replications.csv")).expect("replications.csv");
    let h = r.headers().expect("header").clone();
    let col = |name: &str| h.iter().position(|x| x == name).expect(name);
    let row = r
        .records()
        .map(|x| x.expect("row"))
        .find(|x| &x[col("metric")] == "continuity_pooled")
        .expect("continuity row");
    assert_eq!(&row[col("n")], "3");
    assert_eq!(&row[col("seeds")], "20 21 22");
    let f = |name: &str| row[col(name)].parse::<f64>().expect(name);
    let values: Vec<f64> = (20..23)
        .map(|s| {
            let mut rd = csv::Reader::from_path(out.join(format!("seed{s}")).join("summary.csv")).expect("summary");
            rd.records()
                .map(|x| x.expect("row"))
                .find(|x| &x[3] == "continuity_pooled")
                .map(|x| x[4].parse::<f64>().expect("value"))
                .expect("continuity")
        })
        .collect();
    let mean = values.iter().sum::<f64>() / 3.0;
    assert!((f("mean") - mean).abs() < 1e-12, "{} vs {mean}", f("mean"));
    assert!(f("ci95_low") <= mean && mean <= f("ci95_high"));
    assert!(f("sd") > 0.0, "three seeds gave identical continuity");
}

#[test]
fn an_attack_comparison_prints_the_security_columns_and_defences_stop_polluted_playback() {
    let out = out_dir("attack");
    let o = bin().args(["compare", "tests/fixtures/attack.toml", "--out"]).arg(&out).output().expect("run swarmlab");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("honest cont.") && stdout.contains("clean cont.") && stdout.contains("eject p50"),
        "{stdout}"
    );
    let labels =
        ["mesh-pull/donet", "tree-push", "mesh-pull/donet+integrity+blacklist", "tree-push+integrity+blacklist"];
    let mut r = csv::Reader::from_path(out.join("compare.csv")).expect("compare.csv");
    let mut polluted = std::collections::BTreeMap::new();
    let mut attackers = std::collections::BTreeMap::new();
    for rec in r.records() {
        let rec = rec.expect("row");
        match &rec[4] {
            "polluted_played" => polluted.insert(rec[1].to_string(), rec[5].parse::<f64>().expect("number")),
            "attackers" => attackers.insert(rec[1].to_string(), rec[5].parse::<f64>().expect("number")),
            _ => None,
        };
    }
    for l in labels {
        assert_eq!(attackers[l], 10.0, "{l}: a quarter of 40 peers");
    }
    assert!(polluted[labels[0]] > 0.0 && polluted[labels[1]] > 0.0, "{polluted:?}");
    assert_eq!((polluted[labels[2]], polluted[labels[3]]), (0.0, 0.0), "{polluted:?}");
    // peers.csv names each peer's behaviour.
    let mut peers = csv::Reader::from_path(out.join("tree-push").join("peers.csv")).expect("peers.csv");
    let idx = peers.headers().expect("header").iter().position(|h| h == "behaviour").expect("behaviour column");
    let n = peers.records().filter(|r| &r.as_ref().expect("row")[idx] == "polluter").count();
    assert_eq!(n, 10);
}
