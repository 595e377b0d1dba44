//! `swarmlab bench`: by default it writes under target/, never into the
//! recorded results/scale/; `--replot` redraws from an existing scale.csv.

use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("swarmlab-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn default_out_is_under_target_not_results() {
    let dir = tmp("default-out");
    let scenarios = std::fs::canonicalize("scenarios/scale").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .current_dir(&dir)
        .args(["bench", "--peers", "30", "--protocols", "tree-push", "--duration-s", "5", "--scenarios"])
        .arg(&scenarios)
        .env("GLIBC_TUNABLES", "")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.join("target/swarmlab-bench");
    for f in ["scale.csv", "scale.svg", "scale.pdf", "scale.png"] {
        assert!(out.join(f).is_file(), "no {f} in {}", out.display());
    }
    assert!(!dir.join("results").exists(), "bench wrote into results/ without --out");
    // --replot redraws from the CSV alone.
    std::fs::remove_file(out.join("scale.png")).unwrap();
    let o =
        Command::new(env!("CARGO_BIN_EXE_swarmlab")).current_dir(&dir).args(["bench", "--replot"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("scale.png").is_file());
    let o = Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .current_dir(&dir)
        .args(["bench", "--replot", "--out", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "nothing to replot is bad input");
}
