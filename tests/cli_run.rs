//! `swarmlab run` on real scenario files (tests/fixtures/): the printed table,
//! the CSV files, determinism, `--help`, and a snapshot of the summary table.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SMALL: &str = "tests/fixtures/small.toml";
/// `peers.count` of tests/fixtures/small.toml (no churn: nobody else joins).
const SMALL_PEERS: usize = 24;
/// `seed` of tests/fixtures/small.toml.
const SMALL_SEED: &str = "7";

const SUMMARY_HEADER: [&str; 6] = ["scenario", "protocol", "seed", "metric", "value", "unit"];
const PEERS_HEADER: [&str; 27] = [
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
];

/// A fresh, empty directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("swarmlab-cli-run-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn swarmlab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmlab")).args(args).current_dir(cwd).output().expect("run the swarmlab binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// `swarmlab run <scenario> --out <out> --quiet [extra...]`; asserts success
/// and returns stdout.
fn run_ok(scenario: &str, out: &Path, extra: &[&str]) -> String {
    let scenario = fixture(scenario);
    let mut args =
        vec!["run", scenario.to_str().expect("UTF-8 path"), "--out", out.to_str().expect("UTF-8 path"), "--quiet"];
    args.extend_from_slice(extra);
    let o = swarmlab(out.parent().expect("out has a parent"), &args);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "swarmlab run failed:\n{stderr}");
    assert!(stderr.is_empty(), "a quiet, successful run prints nothing on stderr:\n{stderr}");
    text(&o.stdout)
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let header = r.headers().expect("a header row").iter().map(str::to_string).collect();
    let rows = r.records().collect::<Result<Vec<_>, _>>().unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    (header, rows)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn run_prints_the_table_and_writes_both_csv_files() {
    let tmp = TempDir::new("run_prints_the_table");
    let out = tmp.path().join("out");
    let stdout = run_ok(SMALL, &out, &[]);

    assert!(stdout.starts_with("scenario small  protocol mesh-pull  seed 7  simulated 40 s\n"), "{stdout}");
    for needle in ["continuity_mean", "r_max", "(conserved)", "upload_util.dsl"] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("NOT CONSERVED"), "{stdout}");
    let last = stdout.lines().last().expect("some output");
    assert_eq!(
        last,
        format!(
            "wrote summary.csv, peers.csv, timeseries.csv and manifest.toml in {} (metric definitions: swarmlab metrics)",
            out.display()
        )
    );
    for f in ["summary.csv", "peers.csv", "timeseries.csv", "manifest.toml"] {
        assert!(out.join(f).is_file(), "the last line names {f}, which must exist");
    }

    // summary.csv: tidy, one row per metric, unique names.
    let (header, rows) = read_csv(&out.join("summary.csv"));
    assert_eq!(header, SUMMARY_HEADER);
    assert!(rows.len() >= 20, "only {} metrics", rows.len());
    let mut names = BTreeSet::new();
    for row in &rows {
        assert_eq!(row.len(), SUMMARY_HEADER.len(), "{row:?}");
        assert_eq!(&row[0], "small", "{row:?}");
        assert_eq!(&row[1], "mesh-pull", "{row:?}");
        assert_eq!(&row[2], SMALL_SEED, "{row:?}");
        assert!(names.insert(row[3].to_string()), "metric {} appears twice", &row[3]);
        assert!(
            row[4].is_empty() || row[4].parse::<f64>().is_ok(),
            "value of {} is not a number: {:?}",
            &row[3],
            &row[4]
        );
        assert!(!row[5].is_empty(), "metric {} has no unit", &row[3]);
    }
    for m in ["continuity_mean", "r_max", "stream_rate", "peers_joined", "bytes_sent"] {
        assert!(names.contains(m), "summary.csv has no {m}");
    }
    // Every metric name in the printed table is a row of summary.csv.
    for line in stdout.lines().filter(|l| l.starts_with("  ")) {
        let name = line.split_whitespace().next().expect("a metric name");
        assert!(names.contains(name), "{name} is printed but not in summary.csv");
    }
    let value = |m: &str| -> f64 {
        let row = rows.iter().find(|r| &r[3] == m).expect("metric present");
        row[4].parse().expect("a number")
    };
    assert_eq!(value("peers_joined"), SMALL_PEERS as f64);
    assert_eq!(value("stream_rate"), 400.0);

    // peers.csv: one row per peer; nobody leaves without churn.
    let (header, rows) = read_csv(&out.join("peers.csv"));
    assert_eq!(header, PEERS_HEADER);
    assert_eq!(rows.len(), SMALL_PEERS);
    let mut ids = BTreeSet::new();
    for row in &rows {
        assert_eq!(row.len(), PEERS_HEADER.len(), "{row:?}");
        assert_eq!(&row[0], "small");
        assert_eq!(&row[2], SMALL_SEED);
        assert!(ids.insert(row[3].to_string()), "peer {} twice", &row[3]);
        let up_kbps = match &row[4] {
            "dsl" => "512",
            "cable" => "1000",
            other => panic!("unknown class {other:?} in {row:?}"),
        };
        assert_eq!(&row[5], up_kbps, "{row:?}");
        let joined: f64 = row[6].parse().expect("joined_s is a number");
        assert!((0.0..=5.0).contains(&joined), "joined outside the window: {row:?}");
        assert_eq!(&row[7], "", "a peer left in a no-churn scenario: {row:?}");
        if !row[13].is_empty() {
            let c: f64 = row[13].parse().expect("continuity is a number");
            assert!((0.0..=1.0).contains(&c), "{row:?}");
        }
    }
}

#[test]
fn same_scenario_and_seed_give_byte_identical_files() {
    let tmp = TempDir::new("same_seed_identical");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let out_a = run_ok(SMALL, &a, &[]);
    let out_b = run_ok(SMALL, &b, &[]);
    for f in ["summary.csv", "peers.csv"] {
        let (x, y) = (read(&a.join(f)), read(&b.join(f)));
        assert!(!x.is_empty(), "{f} is empty");
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    // The printed table too, apart from the `wrote <dir>` line.
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("wrote ")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out_a), strip(&out_b));
}

#[test]
fn explicit_seed_equal_to_the_scenario_seed_changes_nothing() {
    let tmp = TempDir::new("explicit_seed");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    run_ok(SMALL, &a, &[]);
    run_ok(SMALL, &b, &["--seed", SMALL_SEED]);
    for f in ["summary.csv", "peers.csv"] {
        assert!(
            read(&a.join(f)) == read(&b.join(f)),
            "{f}: --seed {SMALL_SEED} differs from the scenario's seed {SMALL_SEED}"
        );
    }
}

#[test]
fn different_seed_gives_different_results() {
    let tmp = TempDir::new("different_seed");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    run_ok(SMALL, &a, &[]);
    let stdout = run_ok(SMALL, &b, &["--seed", "8"]);
    assert!(stdout.contains("  seed 8  "), "{stdout}");
    let (sa, sb) = (read(&a.join("summary.csv")), read(&b.join("summary.csv")));
    assert!(sa != sb, "summary.csv is the same for seeds 7 and 8");

    // Not only the seed column: some metric value changes.
    let values = |dir: &Path| -> Vec<(String, String)> {
        read_csv(&dir.join("summary.csv")).1.iter().map(|r| (r[3].to_string(), r[4].to_string())).collect()
    };
    assert!(values(&a) != values(&b), "seeds 7 and 8 give the same metric values");
    let (_, rows) = read_csv(&b.join("summary.csv"));
    assert!(rows.iter().all(|r| &r[2] == "8"), "the seed column is not 8");
}

#[test]
fn default_output_directory_is_named_after_scenario_and_seed() {
    let tmp = TempDir::new("default_out");
    let scenario = fixture(SMALL);
    let o = swarmlab(tmp.path(), &["run", scenario.to_str().expect("UTF-8 path"), "-q", "--seed", "11"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let dir = tmp.path().join("swarmlab-out").join("small-seed11");
    assert!(dir.join("summary.csv").is_file(), "no {}", dir.display());
    assert!(dir.join("peers.csv").is_file(), "no {}", dir.display());
    assert!(
        text(&o.stdout)
            .ends_with("manifest.toml in swarmlab-out/small-seed11 (metric definitions: swarmlab metrics)\n"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn top_level_help_describes_the_run_subcommand() {
    let tmp = TempDir::new("top_level_help");
    let o = swarmlab(tmp.path(), &["--help"]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(stdout.contains("peer-to-peer live streaming"), "{stdout}");
    assert!(stdout.contains("Usage: swarmlab <COMMAND>"), "{stdout}");
    let listed = |name: &str, what: &str| stdout.lines().any(|l| l.trim_start().starts_with(name) && l.contains(what));
    assert!(listed("run ", "Run one scenario"), "the run subcommand is not listed:\n{stdout}");
    assert!(listed("compare ", "Compare protocol variants"), "the compare subcommand is not listed:\n{stdout}");
    assert!(stdout.contains("--version"), "{stdout}");
}

#[test]
fn run_help_describes_its_flags() {
    let tmp = TempDir::new("run_help");
    let o = swarmlab(tmp.path(), &["run", "--help"]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(stdout.contains("Usage: swarmlab run [OPTIONS] <SCENARIO>"), "{stdout}");
    assert!(stdout.contains("summary.csv"), "{stdout}");
    assert!(stdout.contains("--seed <SEED>"), "{stdout}");
    assert!(stdout.contains("overrides the scenario's `seed`"), "{stdout}");
    assert!(stdout.contains("--out <OUT>"), "{stdout}");
    assert!(stdout.contains("swarmlab-out/<scenario>-seed<seed>"), "{stdout}");
    assert!(stdout.contains("--quiet"), "{stdout}");
}

#[test]
fn version_flag_prints_the_package_version() {
    let tmp = TempDir::new("version");
    let o = swarmlab(tmp.path(), &["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout), format!("swarmlab {}\n", env!("CARGO_PKG_VERSION")));
}

/// The printed summary table of tests/fixtures/snapshot.toml, without the final
/// `wrote <path>` line. A change to the simulator that moves any number shows
/// up here; accept it with `cargo insta review` (or `INSTA_UPDATE=always`).
#[test]
fn summary_table_snapshot() {
    let tmp = TempDir::new("snapshot");
    let stdout = run_ok("tests/fixtures/snapshot.toml", &tmp.path().join("out"), &[]);
    let (table, wrote) = stdout.trim_end().rsplit_once('\n').expect("at least two lines");
    assert!(wrote.starts_with("wrote "), "last line: {wrote:?}");
    insta::assert_snapshot!("summary_table", table.trim_end());
}

/// A run with forgers (tests/fixtures/forger.toml) reports what the
/// receivers dropped, by reason, in summary.csv and the printed table; the
/// total is the sum of the reasons.
#[test]
fn forgers_drops_are_reported_by_reason() {
    let tmp = TempDir::new("forgers");
    let out = tmp.path().join("out");
    let stdout = run_ok("tests/fixtures/forger.toml", &out, &[]);
    assert!(stdout.contains("\nhostile input\n  dropped_messages"), "{stdout}");
    let (_, rows) = read_csv(&out.join("summary.csv"));
    let value = |name: &str| -> f64 {
        let r = rows.iter().find(|r| &r[3] == name).unwrap_or_else(|| panic!("no {name} row"));
        assert_eq!(&r[5], "messages", "{name}");
        r[4].parse().unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let reasons = ["future-chunk", "future-map", "chunk-to-source", "bad-stripe"];
    for r in reasons {
        assert!(value(&format!("dropped.{r}")) > 0.0, "forgers send every kind: {r}");
    }
    let sum: f64 = reasons.iter().map(|r| value(&format!("dropped.{r}"))).sum();
    assert_eq!(value("dropped_messages"), sum);
}
