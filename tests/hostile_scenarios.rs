//! The hostile-scenario corpus (tests/fixtures/hostile/): files a careless
//! user or an attacker could write — wrong types, values out of range, totals
//! no machine can hold although every key is within its own limit (10^12
//! arrivals per second, a hundred flash crowds of 10^7 peers, 4x10^9 peers, a
//! run of 10^15 s, a join window of 10^300 s), cross-key conflicts, unknown
//! names, a missing trace file, an event after the end.
//!
//! Every file must be refused by `swarmlab run` within seconds (a 20 s CPU
//! limit: past it the kernel kills the process, and the test sees a signal),
//! under a 4 GB address-space limit, with exit status 2 and a located error (file, line
//! and column where the file has the value, and the key) — never a signal, a
//! panic or an allocation failure.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_swarmlab");

fn corpus() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_hostile_scenario_is_refused_with_a_located_error() {
    let files = corpus();
    assert!(files.len() >= 15, "the corpus shrank to {} files", files.len());
    let out = std::env::temp_dir().join(format!("swarmlab-hostile-{}", std::process::id()));
    let mut failures = Vec::new();
    for f in &files {
        // 4 GiB of address space and 20 s of CPU; GLIBC_TUNABLES (even empty)
        // keeps the binary from re-executing itself for huge pages.
        let o = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 4194304 && ulimit -t 20 && exec \"$0\" run \"$1\" --quiet --out \"$2\"")
            .arg(BIN)
            .arg(f)
            .arg(&out)
            .env("GLIBC_TUNABLES", "")
            .output()
            .expect("run swarmlab");
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let err = String::from_utf8_lossy(&o.stderr);
        let first = err.lines().find(|l| l.starts_with("error:")).unwrap_or("");
        if o.status.code() != Some(2) {
            failures.push(format!("{name}: exit {:?} (signal or wrong status), stderr: {err}", o.status));
            continue;
        }
        if err.contains("panicked") || err.contains("memory allocation") {
            failures.push(format!("{name}: {err}"));
        }
        if !first.contains(&name) {
            failures.push(format!("{name}: the error does not name the file: {first}"));
        }
        // A located error: `file:line:col: key `k`: ...`, except for a file
        // that cannot be read (the trace) where the key is enough.
        let located = first.contains(&format!("{name}:")) && first.contains(": key `");
        if !located {
            failures.push(format!("{name}: not located (file:line:col and key): {first}"));
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    assert!(failures.is_empty(), "{} of {} files:\n{}", failures.len(), files.len(), failures.join("\n"));
}
