//! Bad input to `swarmlab peer` and `swarmlab validate` is a clear error (exit 2), never a panic.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_swarmlab");

fn run(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(BIN).args(args).output().expect("run swarmlab");
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn peer_without_tracker_or_source_is_refused() {
    let (code, err) = run(&["peer", "--role", "peer", "--bind", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tracker"), "{err}");
    let (code, err) = run(&["peer", "--role", "peer", "--bind", "127.0.0.1:0", "--tracker", "127.0.0.1:9"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--source"), "{err}");
    let (code, err) = run(&["peer", "--role", "tracker", "--bind", "127.0.0.1:0", "--loss", "2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--loss"), "{err}");
    let (code, err) = run(&["peer", "--role", "tracker", "--bind", "127.0.0.1:0", "--allow", "10.0.0.0/40"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("prefix length"), "{err}");
}

#[test]
fn validate_refuses_what_it_cannot_replay_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("swarmlab-validate-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, text, key) in [
        ("forger.toml", "[peers]\ncount = 3\n[[attack]]\nkind = \"forger\"\ncount = 1\n", "kind = \"forger\""),
        ("variants.toml", "[peers]\ncount = 3\n[[variants]]\nprotocol = \"tree-push\"\n", "[[variants]]"),
        ("big.toml", "[peers]\ncount = 300\n", "[peers] count = 300"),
    ] {
        let sc = dir.join(name);
        std::fs::write(&sc, text).expect("write scenario");
        let (code, err) = run(&["validate", sc.to_str().expect("utf-8 path")]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains(key), "{name}: {err}");
    }
    let (code, err) = run(&["validate", "scenarios/validate/mesh-50.toml", "--reps", "0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--reps"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validate_refuses_bad_sim_draws_and_bad_rejudge_dirs() {
    for bad in ["0", "x", "1.5", "1001"] {
        let (code, err) = run(&["validate", "scenarios/validate/mesh-50.toml", "--sim-draws", bad]);
        assert_eq!(code, Some(2), "--sim-draws {bad}: {err}");
        assert!(err.contains("--sim-draws"), "--sim-draws {bad}: {err}");
    }
    // Neither a scenario nor --rejudge; or both.
    let (code, err) = run(&["validate"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("SCENARIO"), "{err}");
    let (code, err) = run(&["validate", "scenarios/validate/mesh-50.toml", "--rejudge", "results/validate/mesh-50"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--rejudge"), "{err}");
    let (code, err) = run(&["validate", "--rejudge", "results/validate/mesh-50", "--reps", "3"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--reps"), "{err}");
    // Not a validate directory.
    let dir = std::env::temp_dir().join(format!("swarmlab-rejudge-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (code, err) = run(&["validate", "--rejudge", dir.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("manifest.toml"), "{err}");
    // A manifest whose scenario has changed since: both hashes named.
    let sc = dir.join("s.toml");
    std::fs::write(&sc, "[peers]\ncount = 5\n").expect("write scenario");
    std::fs::write(
        dir.join("manifest.toml"),
        format!(
            "scenario = {:?}\nscenario_hash = \"fnv1a64:0000000000000000\"\nseeds = [1]\nvalidate_protocol = \"mesh-pull\"\nvalidate_mode = \"loopback\"\n",
            sc.to_str().expect("utf-8 path")
        ),
    )
    .expect("write manifest");
    let (code, err) = run(&["validate", "--rejudge", dir.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("fnv1a64:0000000000000000") && err.matches("fnv1a64:").count() == 2, "{err}");
    // A manifest without the validate keys.
    std::fs::write(dir.join("manifest.toml"), "seeds = [1]\n").expect("write manifest");
    let (code, err) = run(&["validate", "--rejudge", dir.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`scenario`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn peer_node_out_of_the_population_is_refused() {
    let (code, err) = run(&[
        "peer",
        "--role",
        "peer",
        "--bind",
        "127.0.0.1:0",
        "--tracker",
        "127.0.0.1:9",
        "--source",
        "127.0.0.1:10",
        "--scenario",
        "scenarios/validate/mesh-50.toml",
        "--node",
        "500",
        "--run-seed",
        "1",
        "--node-base",
        "127.9.0.0:4000",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--node 500"), "{err}");
}

#[test]
fn an_edge_needs_a_family_with_one_and_cdn_nodes_need_the_node_plan() {
    let base = ["peer", "--bind", "127.0.0.1:0", "--tracker", "127.0.0.1:9", "--source", "127.0.0.1:10"];
    // mesh-pull has no CDN edge.
    let mut args = base.to_vec();
    args.extend(["--role", "edge", "--scenario", "tests/fixtures/udp-mini.toml"]);
    let (code, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--role edge") && err.contains("mesh-pull"), "{err}");
    // cdn-p2p addresses its edge as node 2: without --node every peer would be id 2 itself.
    for role in ["peer", "edge"] {
        let mut args = base.to_vec();
        args.extend(["--role", role, "--scenario", "tests/fixtures/udp-cdn-mini.toml"]);
        let (code, err) = run(&args);
        assert_eq!(code, Some(2), "{role}: {err}");
        assert!(err.contains("--node") && err.contains("cdn-p2p"), "{role}: {err}");
    }
}
