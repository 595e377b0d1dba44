//! push-random registered from outside swarmlab's crates: `compare` runs it
//! beside the built-ins through the public API (`swarmlab::main_from`), it
//! delivers the stream, and its results are deterministic; its section is
//! parsed with located errors like any built-in one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compare.toml")
}

fn out(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("push-random-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `compare` through the CLI entry point, in this process; returns compare.csv.
fn compare(dir: &Path) -> String {
    let scenario = scenario();
    let args = ["push-random".as_ref(), "compare".as_ref(), scenario.as_os_str(), "--out".as_ref(), dir.as_os_str()];
    let code = swarmlab::main_from(push_random::registry(), args);
    assert_eq!(code, ExitCode::SUCCESS, "compare failed");
    std::fs::read_to_string(dir.join("compare.csv")).expect("compare.csv")
}

fn metric(csv: &str, variant: &str, metric: &str) -> f64 {
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[1] == variant && f[4] == metric)
        .unwrap_or_else(|| panic!("no {metric} row for {variant}"))[5]
        .parse()
        .expect("a number")
}

#[test]
fn compare_runs_push_random_beside_the_builtins_deterministically() {
    let (a, b) = (out("a"), out("b"));
    let first = compare(&a);
    let labels =
        ["push-random/f=2", "push-random/f=3+fanout=3", "mesh-pull/donet", "tree-push/k=4", "hybrid/treebone/donet"];
    for label in labels.into_iter().chain(["client-server"]) {
        assert!(first.contains(&format!(",{label},")), "no row for {label}:\n{first}");
    }
    // It streams: far above the client-server baseline, below the bound.
    let c = metric(&first, "push-random/f=2", "continuity_pooled");
    let cs = metric(&first, "client-server", "continuity_pooled");
    assert!(c > 0.3 && c > 4.0 * cs, "push-random continuity {c} (client-server {cs})");
    assert!(c <= metric(&first, "push-random/f=2", "continuity_bound") + 0.02);
    // A variant's [variants.params.push-random] changes its fanout: more copies, more duplicates.
    let dup = |v: &str| metric(&first, v, "duplicate_ratio");
    assert!(dup("push-random/f=3+fanout=3") > dup("push-random/f=2"), "fanout 3 must push more duplicates");
    // Pushing blindly costs duplicates, which are measured.
    assert!(metric(&first, "push-random/f=2", "duplicate_ratio") > 0.05);
    assert!(a.join("push-random_f_2").join("peers.csv").is_file());
    // Same scenario, same seed: byte-identical results.
    assert_eq!(first, compare(&b), "two runs differ");
    let _ = (std::fs::remove_dir_all(&a), std::fs::remove_dir_all(&b));
}

#[test]
fn its_section_is_parsed_and_checked_like_a_builtin_one() {
    push_random::registry().install();
    let parse = |extra: &str| {
        sim::scenario::Scenario::parse(
            "p.toml",
            &format!("[peers]\ncount = 10\n[protocol]\nname = \"push-random\"\n{extra}"),
        )
    };
    let sc = parse("[protocol.push-random]\nfanout = 3\n").expect("valid");
    assert_eq!(sc.protocol.section::<push_random::PushRandomSection>().fanout.0, 3);
    assert_eq!(sc.variant_label(), "push-random/f=3");
    let e = parse("[protocol.push-random]\nfanout = 0\n").unwrap_err();
    assert_eq!((e.line, e.column, e.key.as_deref()), (Some(6), Some(10), Some("protocol.push-random.fanout")));
    assert!(e.message.contains("between 1 and 16"), "{e}");
    let e = parse("[protocol.push-random]\nfanout = 8\nmembers = 8\n").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("protocol.push-random.fanout"));
    assert!(e.message.contains("below members (8)"), "{e}");
    let e = parse("[protocol.push-random]\nspeed = 8\n").unwrap_err();
    assert!(e.message.contains("unknown field `speed`"), "{e}");
    // The docs of its keys come from the same declaration.
    let md = sim::registry::current().markdown();
    assert!(md.contains("| `protocol.push-random.fanout` | whole number, 1 to 16 | `2` | peers |"), "{md}");
}
