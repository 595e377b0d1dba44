//! `swarmlab validate --rejudge` on a committed results directory: the
//! verdict against the mean of the simulator's draws, written elsewhere
//! with `--out`, and the committed records untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_swarmlab");
const RUN: &str = "results/validate/mesh-50";

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            v.extend(files(&p));
        } else {
            v.push((p.clone(), std::fs::read(&p).expect("read")));
        }
    }
    v.sort();
    v
}

#[test]
fn rejudge_of_a_committed_run_judges_against_the_draws_mean_and_touches_nothing() {
    let before = files(Path::new(RUN));
    let out = std::env::temp_dir().join(format!("swarmlab-rejudge-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(BIN)
        .args(["validate", "--rejudge", RUN, "--sim-draws", "2", "--out", out.to_str().expect("utf-8 path")])
        .output()
        .expect("run swarmlab");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let code = o.status.code();
    assert!(matches!(code, Some(0 | 1 | 3)), "exit {code:?}: {}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("rejudge.txt")).expect("rejudge.txt written");
    assert!(stdout.starts_with(&text), "stdout is the rejudgement");
    // The header names the run and the reference; three reps of seeds 1-3.
    assert!(
        text.contains("run: 3 reps, loopback mode, protocol mesh-pull, scenario scenarios/validate/mesh-50.toml"),
        "{text}"
    );
    assert!(
        text.contains("verdict (3 reps, seeds 1..=3; 90% t interval of the mean difference (TOST at 5%); reference: the mean of the simulator's draws 1..=2 of each seed):"),
        "{text}"
    );
    let line =
        |start: &str| text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no `{start}` in {text}"));
    let c = line("  continuity_mean real - draws' mean: per rep [");
    assert!(c.ends_with("PASS") || c.ends_with("FAIL") || c.ends_with("INCONCLUSIVE"), "{c}");
    assert!(c.contains("vs +-0.02: "), "{c}");
    line("  lag_p50 (real - draws' mean) / draws' mean: per rep [");
    let v = line("  => ");
    let verdict = v.trim_start_matches("  => ");
    assert_eq!(
        code,
        Some(match verdict {
            "PASS" => 0,
            "FAIL" => 1,
            _ => 3,
        }),
        "exit status is the verdict's"
    );
    // The verdict against draw 0 is the recorded one (validate.txt's numbers).
    let recorded = std::fs::read_to_string(Path::new(RUN).join("validate.txt")).expect("validate.txt");
    let mean_of = |l: &str| l.split("], mean ").nth(1).map(|m| m.split(',').next().unwrap_or("").to_string());
    let old = recorded.lines().find(|l| l.starts_with("  continuity_mean real - sim:")).expect("recorded verdict");
    let d0 = line("  continuity_mean real - draw 0: per rep [");
    assert_eq!(mean_of(d0), mean_of(old), "{d0} vs {old}");
    // sim-draws.csv: two draws per seed.
    let csv = std::fs::read_to_string(out.join("sim-draws.csv")).expect("sim-draws.csv written");
    assert_eq!(csv.lines().next(), Some("seed,draw,continuity_mean,lag_p50"));
    assert_eq!(csv.lines().count(), 1 + 3 * 2);
    // The committed directory is byte for byte what it was.
    assert_eq!(files(Path::new(RUN)), before);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn paired_rejudge_writes_paired_txt_elsewhere_and_needs_rejudge() {
    let before = files(Path::new(RUN));
    let out = std::env::temp_dir().join(format!("swarmlab-paired-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(BIN)
        .args(["validate", "--rejudge", RUN, "--paired", "--out", out.to_str().expect("utf-8 path")])
        .output()
        .expect("run swarmlab");
    let code = o.status.code();
    assert!(matches!(code, Some(0 | 1 | 3)), "exit {code:?}: {}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("paired.txt")).expect("paired.txt written");
    assert!(text.contains("with protocol draw 18446744073709551615 (sim::rngs::host_draw(0))"), "{text}");
    let c = text.lines().find(|l| l.starts_with("  continuity_mean real - paired simulator: per rep [")).expect(&text);
    assert!(c.contains("(against draw 0: sd "), "{c}");
    assert!(!out.join("rejudge.txt").exists(), "--paired writes only paired.txt");
    assert_eq!(files(Path::new(RUN)), before);
    let _ = std::fs::remove_dir_all(&out);
    // --paired alone is refused, naming what it needs.
    let o = Command::new(BIN).args(["validate", "scenarios/validate/mesh-50.toml", "--paired"]).output().expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--rejudge"), "{}", String::from_utf8_lossy(&o.stderr));
}
