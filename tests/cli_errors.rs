//! Bad input to the real `swarmlab` binary: every error is one `error: ...`
//! message on stderr that names the file, the place (`line:column`), the dotted
//! key and what is allowed; the exit status is 2; nothing is printed on stdout,
//! nothing is written, and nothing panics.
//!
//! Each scenario text is written inline so the expected line and column can be
//! read off the test source.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh, empty directory for one test (unique per test and per process).
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swarmlab-cli-errors-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

struct Run {
    dir: PathBuf,
    scenario: PathBuf,
    out: PathBuf,
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn swarmlab(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmlab")).args(args).current_dir(dir).output().expect("run the swarmlab binary")
}

/// Runs `swarmlab run <file> --out <dir>/out --quiet` where `<file>` holds
/// `text` (or does not exist, when `text` is `None`).
fn run_scenario(test: &str, text: Option<&str>) -> Run {
    let dir = temp_dir(test);
    let scenario = dir.join(format!("{test}.toml"));
    if let Some(text) = text {
        std::fs::write(&scenario, text).expect("write the scenario");
    }
    let out = dir.join("out");
    let o = swarmlab(
        &dir,
        &[
            "run",
            scenario.to_str().expect("UTF-8 temp path"),
            "--out",
            out.to_str().expect("UTF-8 temp path"),
            "--quiet",
        ],
    );
    Run {
        dir,
        scenario,
        out,
        status: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Checks what every failed run shares: status, `error: ` prefix, no panic,
/// no metrics table on stdout.
fn assert_failed(r: &Run, status: i32) {
    assert_eq!(r.status, Some(status), "exit status; stderr:\n{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "stderr must start with `error: `:\n{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "the binary panicked:\n{}", r.stderr);
    assert!(r.stdout.is_empty(), "stdout must be empty (no metrics table):\n{}", r.stdout);
    assert!(
        !r.stdout.contains("continuity_mean") && !r.stdout.contains("wrote "),
        "stdout has a metrics table:\n{}",
        r.stdout
    );
}

/// A scenario error: exit status 2, stderr begins with
/// `error: <file>[:<line>:<column>][: key `<key>`]: ` and the message holds
/// every string of `allowed`; no output directory was created.
fn assert_scenario_error(r: &Run, place: Option<(usize, usize)>, key: Option<&str>, allowed: &[&str]) {
    assert_failed(r, 2);
    let mut prefix = format!("error: {}", r.scenario.display());
    if let Some((line, column)) = place {
        prefix.push_str(&format!(":{line}:{column}"));
    }
    if let Some(key) = key {
        prefix.push_str(&format!(": key `{key}`"));
    }
    prefix.push_str(": ");
    assert!(r.stderr.starts_with(&prefix), "stderr must start with\n  {prefix}\nbut is\n  {}", r.stderr);
    let message = &r.stderr[prefix.len()..];
    for a in allowed {
        assert!(message.contains(a), "the message must contain {a:?}:\n{}", r.stderr);
    }
    assert!(!r.out.exists(), "nothing may be written after a scenario error, but {} exists", r.out.display());
}

#[test]
fn unknown_key_in_a_table() {
    let r = run_scenario(
        "unknown_key",
        Some(
            "[peers]\n\
             count = 10\n\
             bogus = 1\n",
        ),
    );
    assert_scenario_error(
        &r,
        Some((3, 1)),
        Some("peers.bogus"),
        &["unknown field `bogus`", "`count`", "`join_window_s`", "`classes`"],
    );
}

#[test]
fn unknown_top_level_key() {
    let r = run_scenario(
        "unknown_top_level_key",
        Some(
            "frobnicate = 3\n\
             [peers]\n\
             count = 10\n",
        ),
    );
    assert_scenario_error(
        &r,
        Some((1, 1)),
        Some("frobnicate"),
        &["unknown field `frobnicate`", "`peers`", "`stream`", "`seed`"],
    );
}

#[test]
fn string_where_a_number_goes() {
    let r = run_scenario(
        "string_for_number",
        Some(
            "[peers]\n\
             count = 10\n\
             \n\
             [stream]\n\
             rate_kbps = \"fast\"\n",
        ),
    );
    // Line 5, column 13: the value after `rate_kbps = `.
    assert_scenario_error(&r, Some((5, 13)), Some("stream.rate_kbps"), &["invalid type", "\"fast\""]);
}

#[test]
fn string_where_a_count_goes() {
    let r = run_scenario(
        "string_for_count",
        Some(
            "[peers]\n\
             count = \"many\"\n",
        ),
    );
    assert_scenario_error(&r, Some((2, 9)), Some("peers.count"), &["invalid type", "\"many\""]);
}

#[test]
fn negative_class_upload() {
    let r = run_scenario(
        "negative_class_upload",
        Some(
            "[peers]\n\
             count = 10\n\
             \n\
             [[peers.classes]]\n\
             share = 1.0\n\
             up_kbps = -100\n\
             down_kbps = 1000\n",
        ),
    );
    assert_scenario_error(&r, Some((6, 11)), Some("peers.classes.up_kbps"), &["-100", "> 0", "free-rider"]);
}

#[test]
fn negative_stream_rate() {
    let r = run_scenario(
        "negative_stream_rate",
        Some(
            "[peers]\n\
             count = 10\n\
             \n\
             [stream]\n\
             rate_kbps = -5\n",
        ),
    );
    assert_scenario_error(&r, Some((5, 13)), Some("stream.rate_kbps"), &["-5", "> 0"]);
}

#[test]
fn class_share_above_one() {
    let r = run_scenario(
        "class_share_above_one",
        Some(
            "[peers]\n\
             count = 10\n\
             [[peers.classes]]\n\
             share = 1.5\n\
             up_kbps = 1000\n\
             down_kbps = 8000\n",
        ),
    );
    assert_scenario_error(&r, Some((4, 9)), Some("peers.classes.share"), &["1.5", "between 0 and 1"]);
}

#[test]
fn class_shares_sum_above_one() {
    // The error points at the first `[[peers.classes]]` header (line 3).
    let r = run_scenario(
        "class_shares_sum_above_one",
        Some(
            "[peers]\n\
             count = 10\n\
             [[peers.classes]]\n\
             share = 0.7\n\
             up_kbps = 1000\n\
             down_kbps = 8000\n\
             [[peers.classes]]\n\
             share = 0.6\n\
             up_kbps = 500\n\
             down_kbps = 4000\n",
        ),
    );
    assert_scenario_error(&r, Some((3, 1)), Some("peers.classes"), &["class shares sum to 1.", "must sum to 1"]);
}

#[test]
fn empty_file() {
    let r = run_scenario("empty_file", Some(""));
    assert_scenario_error(&r, None, None, &["empty", "[peers]", "`count`"]);
}

#[test]
fn comments_only_file() {
    let r = run_scenario(
        "comments_only_file",
        Some(
            "# a scenario that was never written\n\
             \n\
             \x20  # indented comment\n",
        ),
    );
    assert_scenario_error(&r, None, None, &["empty", "[peers]", "`count`"]);
}

#[test]
fn missing_file() {
    let r = run_scenario("missing_file", None);
    assert!(!r.scenario.exists());
    assert_scenario_error(&r, None, None, &["cannot read the scenario file"]);
}

#[test]
fn unknown_protocol() {
    let r = run_scenario(
        "unknown_protocol",
        Some(
            "[peers]\n\
             count = 10\n\
             [protocol]\n\
             name = \"telepathy\"\n",
        ),
    );
    assert_scenario_error(&r, Some((4, 8)), Some("protocol.name"), &["unknown variant `telepathy`", "`mesh-pull`"]);
}

#[test]
fn unknown_latency_model() {
    let r = run_scenario(
        "unknown_latency_model",
        Some(
            "[peers]\n\
             count = 10\n\
             [network.latency]\n\
             model = \"wormhole\"\n\
             ms = 5\n",
        ),
    );
    assert_scenario_error(
        &r,
        Some((4, 9)),
        Some("network.latency.model"),
        &["unknown variant `wormhole`", "`constant`"],
    );
}

#[test]
fn zero_peers() {
    let r = run_scenario(
        "zero_peers",
        Some(
            "[peers]\n\
             count = 0\n",
        ),
    );
    assert_scenario_error(&r, Some((2, 9)), Some("peers.count"), &["invalid value 0", "at least 1 peer"]);
}

#[test]
fn toml_syntax_error() {
    let r = run_scenario(
        "toml_syntax_error",
        Some(
            "[peers]\n\
             count = = 10\n",
        ),
    );
    assert_scenario_error(&r, Some((2, 9)), Some("peers.count"), &["`=`"]);
}

#[test]
fn missing_peers_table() {
    let r = run_scenario(
        "missing_peers_table",
        Some(
            "seed = 3\n\
             [stream]\n\
             rate_kbps = 400\n",
        ),
    );
    assert_failed(&r, 2);
    assert!(r.stderr.starts_with(&format!("error: {}", r.scenario.display())), "{}", r.stderr);
    assert!(r.stderr.contains("missing field `peers`"), "{}", r.stderr);
    assert!(!r.out.exists());
}

/// A missing `[peers]` table has no place in the file: the error must not blame
/// the file's first line (`seed`), which has nothing to do with it.
#[test]
fn missing_peers_table_does_not_blame_another_key() {
    let r = run_scenario(
        "missing_peers_table_blame",
        Some(
            "seed = 3\n\
             [stream]\n\
             rate_kbps = 400\n",
        ),
    );
    assert_failed(&r, 2);
    assert!(!r.stderr.contains("key `seed`"), "{}", r.stderr);
}

/// Columns count characters, not bytes: a value after non-ASCII text on the
/// same line is reported at its character column.
#[test]
fn columns_count_characters() {
    let r = run_scenario(
        "columns_count_characters",
        Some(
            "[peers]\n\
             count = 10\n\
             classes = [{ name = \"ÿÿÿÿ\", share = 2, up_kbps = 1, down_kbps = 1 }]\n",
        ),
    );
    //         `classes = [{ name = "ÿÿÿÿ", share = ` is 36 characters (40 bytes).
    assert_scenario_error(&r, Some((3, 37)), Some("peers.classes.share"), &["between 0 and 1"]);
}

/// Runs the binary with raw arguments in a fresh directory.
fn run_args(test: &str, args: &[&str]) -> Run {
    let dir = temp_dir(test);
    let scenario = dir.join("unused.toml");
    std::fs::write(&scenario, "[peers]\ncount = 5\n").expect("write the scenario");
    let out = dir.join("out");
    let mut full: Vec<&str> = args.to_vec();
    let s = scenario.to_str().expect("UTF-8 temp path").to_string();
    let o_str = out.to_str().expect("UTF-8 temp path").to_string();
    full.extend(["--out", &o_str]);
    full.insert(1, &s);
    let o = swarmlab(&dir, &full);
    Run {
        dir,
        scenario,
        out,
        status: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn unknown_cli_flag() {
    let r = run_args("unknown_cli_flag", &["run", "--frobnicate"]);
    assert_failed(&r, 2);
    assert!(r.stderr.starts_with("error: unexpected argument '--frobnicate'"), "{}", r.stderr);
    assert!(r.stderr.contains("Usage: swarmlab run"), "{}", r.stderr);
    assert!(r.stderr.contains("--help"), "{}", r.stderr);
    assert!(!r.out.exists(), "the run must not start");
}

#[test]
fn non_numeric_seed() {
    let r = run_args("non_numeric_seed", &["run", "--seed", "abc"]);
    assert_failed(&r, 2);
    assert!(r.stderr.starts_with("error: invalid value 'abc' for '--seed <SEED>'"), "{}", r.stderr);
    assert!(r.stderr.contains("invalid digit"), "{}", r.stderr);
    assert!(!r.out.exists(), "the run must not start");
}

#[test]
fn no_subcommand() {
    let dir = temp_dir("no_subcommand");
    let o = swarmlab(&dir, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(o.stdout.is_empty());
    assert!(stderr.contains("Usage: swarmlab <COMMAND>"), "{stderr}");
    assert!(stderr.contains("run"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Protocol parameters: zero stripes, more stripes than chunks per window,
/// zero partners, an unknown scheduler, and a bad churn trace line.
#[test]
fn zero_stripes() {
    let r = run_scenario(
        "zero_stripes",
        Some("[peers]\ncount = 10\n[protocol]\nname = \"tree-push\"\n[protocol.tree]\nstripes = 0\n"),
    );
    assert_scenario_error(&r, Some((6, 11)), Some("protocol.tree.stripes"), &["between 1 and 64"]);
}

#[test]
fn more_stripes_than_chunks_per_window() {
    let r = run_scenario(
        "stripes_window",
        Some("[peers]\ncount = 10\n[protocol.mesh]\nwindow = 8\n[protocol.tree]\nstripes = 16\n"),
    );
    assert_scenario_error(&r, Some((6, 11)), Some("protocol.tree.stripes"), &["window", "between 1 and 8"]);
}

#[test]
fn zero_partners() {
    let r = run_scenario("zero_partners", Some("[peers]\ncount = 10\n[protocol.mesh]\npartners = 0\n"));
    assert_scenario_error(&r, Some((4, 12)), Some("protocol.mesh.partners"), &["between 1 and 64"]);
}

#[test]
fn unknown_scheduler() {
    let r = run_scenario("unknown_scheduler", Some("[peers]\ncount = 10\n[protocol]\nscheduler = \"psychic\"\n"));
    assert_scenario_error(&r, Some((4, 13)), Some("protocol.scheduler"), &["donet", "latest-useful"]);
}

#[test]
fn malformed_trace_line_is_named() {
    let r = run_scenario(
        "bad_trace",
        Some("[peers]\ncount = 0\n[churn]\nmodel = \"trace\"\ntrace_file = \"bad_trace.csv\"\n"),
    );
    // The trace file does not exist yet: the error names it.
    assert_failed(&r, 2);
    assert!(r.stderr.contains("cannot read the trace file") && r.stderr.contains("bad_trace.csv"), "{}", r.stderr);
    let trace = r.scenario.with_file_name("bad_trace.csv");
    std::fs::write(&trace, "join_s,leave_s\n1,5\n2,x\n").expect("write the trace");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .args(["run", "-q"])
        .arg(&r.scenario)
        .arg("--out")
        .arg(&r.out)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("line 3") && err.contains("`x`") && err.contains("churn.trace_file"), "{err}");
}

/// Names checked against the registry: an unknown section table, an unknown
/// family or scheduler in a variant, and `peer --protocol`.
#[test]
fn unknown_protocol_section_names_the_registered_ones() {
    let r = run_scenario("unknown_section", Some("[peers]\ncount = 10\n[protocol.gossip]\nfanout = 3\n"));
    assert_scenario_error(
        &r,
        Some((3, 11)),
        Some("protocol.gossip"),
        &["unknown field `gossip`", "`name`", "`scheduler`", "`mesh`, `tree`, `hybrid`"],
    );
}

#[test]
fn unknown_family_and_scheduler_in_a_variant() {
    let r = run_scenario("variant_family", Some("[peers]\ncount = 10\n[[variants]]\nprotocol = \"gossip\"\n"));
    assert_scenario_error(
        &r,
        Some((4, 12)),
        Some("variants.protocol"),
        &["unknown variant `gossip`", "`mesh-pull`", "`tree-push`", "`hybrid`", "`client-server`"],
    );
    let r = run_scenario("variant_scheduler", Some("[peers]\ncount = 10\n[[variants]]\nscheduler = \"psychic\"\n"));
    assert_scenario_error(&r, Some((4, 13)), Some("variants.scheduler"), &["unknown variant `psychic`", "`edf`"]);
}

#[test]
fn a_cross_key_rule_points_at_its_key() {
    let r = run_scenario(
        "tree_timeouts",
        Some("[peers]\ncount = 10\n[protocol.tree]\nheartbeat_interval_s = 2\nchild_timeout_s = 1.5\n"),
    );
    assert_scenario_error(
        &r,
        Some((5, 19)),
        Some("protocol.tree.child_timeout_s"),
        &["must be longer than heartbeat_interval_s (2 s)"],
    );
}

#[test]
fn peer_refuses_an_unregistered_protocol() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .args(["peer", "--role", "peer", "--bind", "127.0.0.1:0", "--protocol", "gossip"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--protocol gossip: unknown protocol") && err.contains("client-server"), "{err}");
}
