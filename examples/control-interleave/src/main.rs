//! `control-interleave SCENARIO [SEEDS] [DRAWS]`: the scenario's protocol
//! (mesh-pull, tree-push, hybrid, random-push, client-server or cdn-p2p) in
//! the simulator over seeds 1..=SEEDS x protocol draws 1..=DRAWS (default 8
//! x 10), once as the engine models its links (a control message waits for
//! the message in service) and once with
//! [`sim::engine::Engine::set_control_interleave`] (it goes out beside it,
//! as under `swarmlab validate --netns`, whose kernel queue interleaves
//! datagrams); prints the mean paired difference of `continuity_mean` and
//! its standard error. Run by results/validate/deficit.sh.

use std::process::ExitCode;

use protocols::Time;
use sim::registry::Family;
use sim::runner::{RunOptions, build_engine, finish_report};
use sim::scenario::Scenario;

fn continuity<F: Family>(sc: &Scenario, seed: u64, draw: u64, interleave: bool) -> f64 {
    let mut e = build_engine(F::build(sc), sc, seed);
    e.set_protocol_draw(draw);
    e.set_control_interleave(interleave);
    e.set_threads(1);
    e.run_until(Time::from_secs_f64(sc.duration_s.0));
    let r = finish_report(e, sc, &RunOptions { name: "control-interleave".into(), seed, threads: 1, draw });
    assert!(r.info.traffic.conserved(), "bytes not conserved");
    r.get("continuity_mean").unwrap_or(f64::NAN)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: control-interleave SCENARIO [SEEDS] [DRAWS]");
        return ExitCode::from(2);
    };
    let num = |k: usize, d: u64| args.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (seeds, draws) = (num(2, 8), num(3, 10));
    let sc = match Scenario::load(std::path::Path::new(path)) {
        Ok((sc, _)) => sc,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let run: fn(&Scenario, u64, u64, bool) -> f64 = match sc.protocol.name.as_str() {
        "mesh-pull" => continuity::<sim::families::MeshPull>,
        "tree-push" => continuity::<sim::families::TreePush>,
        "hybrid" => continuity::<sim::families::Hybrid>,
        "random-push" => continuity::<sim::families::RandomPush>,
        "client-server" => continuity::<sim::families::ClientServer>,
        "cdn-p2p" => continuity::<sim::families::CdnAssisted>,
        other => {
            eprintln!("error: {path}: protocol `{other}`: not wired here");
            return ExitCode::from(2);
        }
    };
    let mut d = Vec::new();
    let mut base = 0.0;
    for seed in 1..=seeds {
        for draw in 1..=draws {
            let off = run(&sc, seed, draw, false);
            base += off;
            d.push(run(&sc, seed, draw, true) - off);
        }
    }
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let sd = (d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt();
    println!(
        "{path}: seeds 1-{seeds} x draws 1-{draws}: continuity_mean with control interleaved - without {:+.4} (standard error {:.4}); without: mean {:.4}",
        mean,
        sd / n.sqrt(),
        base / n
    );
    ExitCode::SUCCESS
}
