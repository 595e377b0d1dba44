//! `swarmlab sweep` and `swarmlab merge` on the real binary: sweep.csv does not
//! depend on the thread count or on sharding, an interrupted sweep resumes
//! without redoing finished jobs, and bad input is a clear error (exit 2).
//!
//! The fixture (tests/fixtures/sweep/sweep.toml) is 2 x 2 points x 2 seeds of a
//! 16-peer, 30-second scenario: 8 small jobs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

const SWEEP: &str = "tests/fixtures/sweep/sweep.toml";

/// A fresh directory, removed when dropped.
struct Tmp(PathBuf);

impl Tmp {
    fn new(test: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("swarmlab-cli-sweep-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create the test directory");
        Tmp(d)
    }
    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn swarmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmlab")).args(args).output().expect("run the swarmlab binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `swarmlab sweep SWEEP --out out extra...` and asserts success.
fn sweep_ok(file: &str, out: &Path, extra: &[&str]) -> Output {
    let out_s = out.to_str().expect("utf-8 path");
    let mut args = vec!["sweep", file, "--out", out_s, "--quiet"];
    args.extend_from_slice(extra);
    let o = swarmlab(&args);
    assert!(o.status.success(), "sweep {extra:?} failed: {}\n{}", text(&o.stdout), text(&o.stderr));
    o
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Job directory names under `out/jobs`, sorted.
fn job_dirs(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.join("jobs"))
        .expect("jobs/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, recursively, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("prefix").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sweep_csv_is_tidy_and_identical_with_1_and_2_threads() {
    let t = Tmp::new("threads");
    let (a, b) = (t.join("t1"), t.join("t2"));
    let oa = sweep_ok(SWEEP, &a, &["--threads", "1"]);
    sweep_ok(SWEEP, &b, &["--threads", "2"]);
    assert!(text(&oa.stdout).contains("ran 8 jobs, skipped 0 already done"), "{}", text(&oa.stdout));
    assert_eq!(read(&a.join("sweep.csv")), read(&b.join("sweep.csv")), "sweep.csv differs between 1 and 2 threads");
    // Every job file too (manifests excepted: they hold the command line).
    let fa = files(&a.join("jobs"));
    assert_eq!(fa, files(&b.join("jobs")));
    assert_eq!(fa.iter().filter(|f| f.ends_with("done")).count(), 8, "{fa:?}");
    for f in &fa {
        assert_eq!(read(&a.join("jobs").join(f)), read(&b.join("jobs").join(f)), "{} differs", f.display());
    }

    let mut r = csv::Reader::from_path(a.join("sweep.csv")).expect("sweep.csv");
    let header: Vec<String> = r.headers().expect("header").iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "scenario",
            "point",
            "peers.count",
            "protocol.scheduler",
            "metric",
            "n",
            "mean",
            "sd",
            "ci95_low",
            "ci95_high",
            "unit",
            "seeds"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("row")).collect();
    let points: Vec<(String, String, String)> = rows.iter().map(|r| (r[1].into(), r[2].into(), r[3].into())).collect();
    let mut distinct = points.clone();
    distinct.dedup();
    let expected = [("0", "8", "donet"), ("1", "8", "edf"), ("2", "16", "donet"), ("3", "16", "edf")];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(p, c, s)| (p.to_string(), c.to_string(), s.to_string())).collect();
    assert_eq!(distinct, expected, "points in order, last key fastest");
    let per_point = rows.len() / 4;
    assert!(per_point > 10 && rows.len() == 4 * per_point, "{} rows", rows.len());
    for r in &rows {
        assert_eq!(&r[0], "sweep-base");
        assert_eq!(&r[11], "11 12");
        if !r[6].is_empty() {
            assert_eq!(&r[5], "2", "n of {:?}", r);
        }
    }
    // The mean is the mean of the two jobs' values.
    let row = rows.iter().find(|r| &r[1] == "2" && &r[4] == "continuity_pooled").expect("continuity row");
    let value = |seed: u64| -> f64 {
        let dir = job_dirs(&a).into_iter().find(|d| d.ends_with(&format!("-p2-s{seed}"))).expect("job dir");
        let mut s = csv::Reader::from_path(a.join("jobs").join(dir).join("summary.csv")).expect("summary");
        let rec = s.records().map(|x| x.expect("row")).find(|x| &x[3] == "continuity_pooled").expect("metric");
        rec[4].parse().expect("value")
    };
    let mean: f64 = row[6].parse().expect("mean");
    assert!((mean - (value(11) + value(12)) / 2.0).abs() < 1e-12, "{mean}");
    assert_eq!(peers_joined(&rows, "0"), 8.0);
    assert_eq!(peers_joined(&rows, "3"), 16.0);
}

fn peers_joined(rows: &[csv::StringRecord], point: &str) -> f64 {
    let r = rows.iter().find(|r| &r[1] == point && &r[4] == "peers_joined").expect("peers_joined");
    r[6].parse().expect("mean")
}

#[test]
fn shards_merge_into_the_unsharded_sweep_csv() {
    let t = Tmp::new("shards");
    let (all, s0, s1, merged) = (t.join("all"), t.join("s0"), t.join("s1"), t.join("merged"));
    sweep_ok(SWEEP, &all, &[]);
    let o0 = sweep_ok(SWEEP, &s0, &["--shard", "0/2", "--threads", "1"]);
    sweep_ok(SWEEP, &s1, &["--shard", "1/2", "--threads", "2"]);
    assert!(text(&o0.stdout).contains("shard 0/2: 4 jobs"), "{}", text(&o0.stdout));
    assert!(text(&o0.stdout).contains("ran 4 jobs"), "{}", text(&o0.stdout));

    // Disjoint shards whose union is the whole sweep; job k in shard k % 2.
    let (j0, j1) = (job_dirs(&s0), job_dirs(&s1));
    assert_eq!(j0.len(), 4);
    assert!(j0.iter().all(|d| !j1.contains(d)));
    let mut union: Vec<String> = j0.iter().chain(&j1).cloned().collect();
    union.sort();
    assert_eq!(union, job_dirs(&all));
    assert!(j0.iter().all(|d| d.ends_with("-s11")), "job index even = first seed: {j0:?}");

    let o = swarmlab(&["merge", s0.to_str().unwrap(), s1.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("8 of 8 jobs done"), "{}", text(&o.stdout));
    let unsharded = read(&all.join("sweep.csv"));
    assert_eq!(read(&merged.join("sweep.csv")), unsharded, "merged sweep.csv differs from the unsharded one");
    assert_ne!(read(&s0.join("sweep.csv")), unsharded, "a shard alone covers only its jobs");
    for f in files(&all.join("jobs")) {
        assert_eq!(read(&merged.join("jobs").join(&f)), read(&all.join("jobs").join(&f)), "{}", f.display());
    }
    let manifest: toml::Table = toml::from_str(&String::from_utf8_lossy(&read(&merged.join("manifest.toml")))).unwrap();
    assert_eq!(manifest["created_by"].as_str(), Some("merge"));

    // Merging in place, into the first shard, gives the same bytes.
    let o = swarmlab(&["merge", s0.to_str().unwrap(), s1.to_str().unwrap(), "--out", s0.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(read(&s0.join("sweep.csv")), unsharded);

    // One shard alone is incomplete: exit 1, the missing jobs named, what exists written.
    let partial = t.join("partial");
    let o = swarmlab(&["merge", s1.to_str().unwrap(), "--out", partial.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("4 of 8 jobs are done in none of the inputs"), "{}", text(&o.stderr));
    assert_eq!(read(&partial.join("sweep.csv")), read(&s1.join("sweep.csv")));
}

#[test]
fn an_interrupted_sweep_resumes_without_redoing_finished_jobs() {
    let t = Tmp::new("resume");
    let out = t.join("out");
    sweep_ok(SWEEP, &out, &["--threads", "2"]);
    let first = read(&out.join("sweep.csv"));
    let jobs = job_dirs(&out);
    assert_eq!(jobs.len(), 8);

    // Simulate kills: job A lost its summary and marker and left a temporary
    // file behind; job B wrote its files but not its marker.
    let a = out.join("jobs").join(&jobs[2]);
    let b = out.join("jobs").join(&jobs[5]);
    std::fs::remove_file(a.join("done")).unwrap();
    std::fs::remove_file(a.join("summary.csv")).unwrap();
    std::fs::write(a.join("summary.csv.pending"), "scenario,protocol,seed,metric,va").unwrap();
    std::fs::remove_file(b.join("done")).unwrap();
    // Backdate every other job's files: a redone job would get a new mtime.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let others: Vec<PathBuf> =
        jobs.iter().enumerate().filter(|(i, _)| *i != 2 && *i != 5).map(|(_, d)| out.join("jobs").join(d)).collect();
    for d in &others {
        for f in ["summary.csv", "peers.csv", "done"] {
            std::fs::File::options().write(true).open(d.join(f)).unwrap().set_modified(old).unwrap();
        }
    }

    let o = sweep_ok(SWEEP, &out, &["--threads", "2"]);
    let stdout = text(&o.stdout);
    assert!(stdout.contains("ran 2 jobs, skipped 6 already done"), "{stdout}");
    for d in &others {
        for f in ["summary.csv", "peers.csv", "done"] {
            let m = std::fs::metadata(d.join(f)).unwrap().modified().unwrap();
            assert_eq!(m, old, "{} was rewritten", d.join(f).display());
        }
    }
    for d in [&a, &b] {
        assert!(d.join("done").is_file() && d.join("summary.csv").is_file(), "{} not redone", d.display());
    }
    let stray: Vec<PathBuf> = files(&out).into_iter().filter(|f| f.to_string_lossy().ends_with(".pending")).collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
    assert_eq!(job_dirs(&out), jobs, "no new or lost job directories");
    assert_eq!(read(&out.join("sweep.csv")), first, "sweep.csv after resuming differs");

    // Nothing left to do: a third run runs nothing.
    let o = sweep_ok(SWEEP, &out, &[]);
    assert!(text(&o.stdout).contains("ran 0 jobs, skipped 8 already done"), "{}", text(&o.stdout));
}

#[test]
fn the_manifest_records_provenance_and_the_plan() {
    let t = Tmp::new("manifest");
    let out = t.join("out");
    sweep_ok(SWEEP, &out, &["--shard", "1/3"]);
    let m: toml::Table = toml::from_str(&String::from_utf8_lossy(&read(&out.join("manifest.toml")))).expect("TOML");
    assert_eq!(m["swarmlab_version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    let commit = m["git_commit"].as_str().expect("git_commit");
    assert!(commit == "unknown" || commit.len() >= 40, "{commit}");
    let fixture = std::fs::read(Path::new("tests/fixtures/sweep/base.toml")).unwrap();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in fixture {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    assert_eq!(m["scenario_hash"].as_str(), Some(format!("fnv1a64:{h:016x}").as_str()));
    assert_eq!(m["seeds"].as_array().unwrap(), &vec![toml::Value::Integer(11), toml::Value::Integer(12)]);
    assert_eq!(m["grid"]["protocol.scheduler"].as_array().unwrap().len(), 2);
    assert_eq!(m["shard"].as_str(), Some("1/3"));
    let command: Vec<&str> = m["command"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(command.contains(&"sweep") && command.contains(&"1/3"), "{command:?}");
    assert_eq!(m["points"].as_array().unwrap().len(), 4);
    // Shard 1/3 holds jobs 1, 4 and 7.
    let jobs = job_dirs(&out);
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    for suffix in ["-p0-s12", "-p2-s11", "-p3-s12"] {
        assert!(jobs.iter().any(|j| j.ends_with(suffix)), "{suffix} not in {jobs:?}");
    }
}

#[test]
fn the_example_sweep_is_valid() {
    let t = Tmp::new("example");
    let out = t.join("never");
    let o = swarmlab(&["sweep", "scenarios/sweep-example.toml", "--dry-run", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("4 points x 3 seeds = 12 jobs"), "{stdout}");
    assert!(stdout.contains("peers.count") && stdout.contains("protocol.scheduler"), "{stdout}");
    assert!(!out.exists(), "--dry-run wrote {}", out.display());
}

/// Runs `swarmlab ARGS` expecting exit 2, one `error:` on stderr, and nothing written.
fn bad(t: &Tmp, args: &[&str], expect: &[&str]) {
    let o = swarmlab(args);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: `{e}` not in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!t.join("out").exists(), "{args:?} wrote output");
}

#[test]
fn bad_input_is_a_clear_error() {
    let t = Tmp::new("bad");
    std::fs::copy("tests/fixtures/sweep/base.toml", t.join("base.toml")).unwrap();
    let write = |name: &str, body: &str| {
        let p = t.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let out = t.join("out");
    let out = out.to_str().unwrap();

    let f = write("unknown.toml", "scenario = \"base.toml\"\n[grid]\n\"peers.count\" = [4]\n\"peers.cout\" = [1, 2]\n");
    bad(&t, &["sweep", &f, "--out", out], &["unknown.toml", "grid key `peers.cout` is not a scenario key", "count"]);

    let f = write("value.toml", "scenario = \"base.toml\"\n[grid]\n\"peers.count\" = [4, 0]\n");
    bad(&t, &["sweep", &f, "--out", out], &["grid point 1 (peers.count = 0)", "key `peers.count`", "at least 1 peer"]);

    let f = write("missing.toml", "scenario = \"nope.toml\"\n[grid]\n\"peers.count\" = [4]\n");
    bad(&t, &["sweep", &f, "--out", out], &["missing.toml", "scenario `nope.toml`", "cannot read", "nope.toml"]);

    let f = write("scalar.toml", "scenario = \"base.toml\"\n[grid]\n\"peers.count\" = 4\n");
    bad(&t, &["sweep", &f, "--out", out], &["scalar.toml:3:1", "list its values in an array"]);

    let f = write("top.toml", "scenario = \"base.toml\"\nrepz = 2\n");
    bad(&t, &["sweep", &f, "--out", out], &["top.toml:2:1", "unknown key `repz`"]);

    let nofile = t.join("absent.toml");
    bad(&t, &["sweep", nofile.to_str().unwrap(), "--out", out], &["absent.toml", "cannot read the sweep file"]);

    for (shard, msg) in [
        ("2/2", "shard index 2 must be below the shard count 2"),
        ("0/0", "the shard count must be at least 1"),
        ("3", "expected I/N"),
        ("a/4", "is not a whole number"),
    ] {
        bad(&t, &["sweep", SWEEP, "--shard", shard, "--out", out], &["--shard", msg]);
    }

    // merge: not a sweep directory; two different sweeps.
    let empty = t.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    bad(&t, &["merge", empty.to_str().unwrap(), "--out", out], &["manifest.toml", "swarmlab sweep"]);
    let (x, y) = (t.join("x"), t.join("y"));
    sweep_ok(SWEEP, &x, &["--shard", "0/8"]);
    let other = write("other.toml", "scenario = \"base.toml\"\nreps = 1\n[grid]\n\"peers.count\" = [5]\n");
    sweep_ok(&other, &y, &[]);
    bad(&t, &["merge", x.to_str().unwrap(), y.to_str().unwrap(), "--out", out], &["different sweeps"]);
}
