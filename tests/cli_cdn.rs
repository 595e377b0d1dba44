//! CDN-assisted delivery through the CLI on a real scenario file
//! (`scenarios/cdn/quick-cdn.toml`): every variant reports the delivery
//! cost and energy, the CDN-assisted swarm plays better than the swarm
//! alone by taking part of the stream from the edge, and `run` prints the
//! two groups.

use std::collections::BTreeMap;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_swarmlab"))
}

#[test]
fn compare_reports_offload_egress_and_energy_for_every_variant() {
    let out = std::env::temp_dir().join(format!("swarmlab-cdn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = bin().args(["compare", "scenarios/cdn/quick-cdn.toml", "--out"]).arg(&out).output().expect("run swarmlab");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("compare.csv")).expect("compare.csv");
    // (variant, metric) -> value
    let mut v: BTreeMap<(String, String), f64> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if let Ok(x) = f[5].parse::<f64>() {
            v.insert((f[1].to_string(), f[4].to_string()), x);
        }
    }
    let get = |var: &str, m: &str| *v.get(&(var.to_string(), m.to_string())).unwrap_or_else(|| panic!("{var} {m}"));
    for var in ["cdn-p2p/donet", "mesh-pull/donet", "client-server"] {
        for m in ["p2p_offload", "cdn_egress_gb", "cdn_egress_peak_mbps", "cdn_cost", "energy_total_kwh"] {
            get(var, m);
        }
    }
    assert_eq!(get("client-server", "p2p_offload"), 0.0);
    let (assisted, alone) = (get("cdn-p2p/donet", "continuity_mean"), get("mesh-pull/donet", "continuity_mean"));
    assert!(assisted > alone + 0.05, "cdn-p2p {assisted} vs mesh-pull {alone}");
    assert!(get("cdn-p2p/donet", "p2p_offload") < get("mesh-pull/donet", "p2p_offload"));
    assert!(get("cdn-p2p/donet", "cdn_edge_gb") > 0.0 && get("mesh-pull/donet", "cdn_edge_gb") == 0.0);
    // The defaults: the network (0.06 kWh per GB carried), every peer's home
    // gateway (9.9 W while present), and 0.85 nJ per bit the source and the
    // edge serve, with no idle power for them.
    let e = |m: &str| get("cdn-p2p/donet", m);
    let edge_j = 0.85e-9 * 8.0 * e("cdn_edge_gb") * 1e9;
    assert!((e("energy_cdn_kwh") * 3.6e6 / edge_j - 1.0).abs() < 1e-3, "edge {} kWh", e("energy_cdn_kwh"));
    let (peers, network, servers) =
        (e("energy_peers_kwh"), e("energy_network_kwh"), e("energy_source_kwh") + e("energy_cdn_kwh"));
    assert!(network > 0.0 && e("energy_source_kwh") > 0.0);
    assert!(((peers + network + servers) / e("energy_total_kwh") - 1.0).abs() < 1e-6);
    // Peers' Wh per viewer-hour = their idle power (per-bit terms 0).
    let viewer_h = e("energy_total_kwh") * 1e3 / e("energy_per_viewer_hour_wh");
    assert!((peers * 1e3 / viewer_h - 9.9).abs() < 1e-3, "{} W per peer", peers * 1e3 / viewer_h);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn run_prints_the_cdn_and_energy_groups() {
    let out = std::env::temp_dir().join(format!("swarmlab-cdn-run-{}", std::process::id()));
    let o = bin().args(["run", "scenarios/cdn/quick-cdn.toml", "--out"]).arg(&out).output().expect("run swarmlab");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("\nCDN delivery\n") && s.contains("p2p_offload") && s.contains("\nenergy\n"), "{s}");
    let plain = bin().args(["run", "scenarios/quickstart.toml", "--out"]).arg(out.join("q")).output().unwrap();
    let s = String::from_utf8_lossy(&plain.stdout);
    assert!(!s.contains("CDN delivery") && !s.contains("energy"), "{s}");
    let _ = std::fs::remove_dir_all(&out);
}
