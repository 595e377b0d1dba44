//! `swarmlab validate --rejudge DIR`: a written validate directory judged
//! again, without real processes.
//!
//! `DIR/manifest.toml` names the scenario (path, relative to where validate
//! ran, and the FNV-1a hash of its text), the seeds of the reps, the
//! protocol and the mode. The scenario file must still hash to the
//! manifest's value (else the simulator would judge another scenario: the
//! error names both hashes). The real side is read from the records of the
//! run, `rep-k/real/summary.csv` (`DIR/real/summary.csv` for a single run),
//! and the single-draw reference from `rep-k/sim/summary.csv`; the
//! simulator's draws 1..=K of every seed are run with the current code, and
//! the verdict is [`crate::validate::judge`]'s, as a new validate run would
//! print it. Draw 0 is run again too, to say whether the current simulator
//! still reproduces the recorded one. Writes `rejudge.txt` and
//! `sim-draws.csv` (into DIR, or `--out`); nothing else in DIR is touched.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sim::runner::{self, RunOptions};
use sim::scenario::{ControlPriority, Scenario};

use crate::validate::{Judged, Outcome};

/// A written validate run, as rejudge reads it.
pub struct Run {
    pub scenario_path: PathBuf,
    pub hash: String,
    pub sc: Scenario,
    pub name: String,
    pub seeds: Vec<u64>,
    pub protocol: String,
    pub mode: String,
    pub commit: String,
    pub verdict: String,
    /// What the recorded verdict was judged against.
    pub reference: String,
    /// The simulator's `network.control_priority` of the recorded run
    /// (`message` for runs that did not record it: validate had no other).
    pub recorded_control: ControlPriority,
    /// Per rep: the recorded real and simulator (draw 0) values.
    pub real: Vec<Judged>,
    pub sim0: Vec<Judged>,
    /// The real processes' draw of protocol randomness (`validate
    /// --real-draw`; 0 when the manifest does not say).
    pub real_draw: u64,
}

fn key<'a>(m: &'a toml::Table, k: &str, file: &Path) -> Result<&'a toml::Value, String> {
    m.get(k).ok_or_else(|| format!("{}: no `{k}` (not a validate output directory?)", file.display()))
}

fn string(m: &toml::Table, k: &str, file: &Path) -> Result<String, String> {
    key(m, k, file)?.as_str().map(str::to_string).ok_or_else(|| format!("{}: `{k}` is not a string", file.display()))
}

/// `continuity_mean` and `lag_p50` of a `summary.csv` (columns `metric`, `value`).
pub fn read_summary(path: &Path) -> Result<Judged, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let h = r.headers().map_err(|e| format!("{}: {e}", path.display()))?.clone();
    let col = |n: &str| h.iter().position(|c| c == n).ok_or_else(|| format!("{}: no `{n}` column", path.display()));
    let (mc, vc) = (col("metric")?, col("value")?);
    let (mut c, mut l) = (None, None);
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        let v = rec.get(vc).and_then(|v| v.parse::<f64>().ok());
        match rec.get(mc) {
            Some("continuity_mean") => c = v,
            Some("lag_p50") => l = v,
            _ => {}
        }
    }
    Ok((c, l))
}

impl Run {
    /// Reads `dir`: the manifest, the scenario (checked against its hash)
    /// and every rep's recorded summaries.
    pub fn read(dir: &Path) -> Result<Run, String> {
        let mpath = dir.join("manifest.toml");
        let text = std::fs::read_to_string(&mpath)
            .map_err(|e| format!("--rejudge {}: cannot read {}: {e}", dir.display(), mpath.display()))?;
        let m: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", mpath.display()))?;
        let scenario_path = PathBuf::from(string(&m, "scenario", &mpath)?);
        let hash = string(&m, "scenario_hash", &mpath)?;
        let seeds: Vec<u64> = key(&m, "seeds", &mpath)?
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_integer().and_then(|i| u64::try_from(i).ok())).collect())
            .filter(|s: &Vec<u64>| !s.is_empty())
            .ok_or_else(|| format!("{}: `seeds` is not a list of seeds", mpath.display()))?;
        let protocol = string(&m, "validate_protocol", &mpath)?;
        let mode = string(&m, "validate_mode", &mpath)?;
        let commit = string(&m, "git_commit", &mpath).unwrap_or_else(|_| "unknown".into());
        let verdict = string(&m, "validate_verdict", &mpath).unwrap_or_else(|_| "-".into());
        // Runs made before --sim-draws were judged against draw 0.
        let reference = match m.get("validate_sim_draws").and_then(toml::Value::as_integer) {
            Some(k) => format!("the mean of {k} draws"),
            None => "draw 0".into(),
        };
        let real_draw = match m.get("validate_real_draw") {
            None => 0,
            Some(v) => v
                .as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| format!("{}: validate_real_draw is not a draw number", mpath.display()))?,
        };
        let recorded_control = match m.get("validate_sim_control").and_then(toml::Value::as_str) {
            None => ControlPriority::Message,
            Some(c) => {
                ControlPriority::parse(c).map_err(|e| format!("{}: validate_sim_control = {e}", mpath.display()))?
            }
        };
        let (mut sc, src) = Scenario::load(&scenario_path).map_err(|e| {
            format!(
                "{}: scenario {}: {e} (run --rejudge from the directory validate ran in)",
                mpath.display(),
                scenario_path.display()
            )
        })?;
        let now = format!("fnv1a64:{:016x}", crate::manifest::fnv1a64(src.as_bytes()));
        if now != hash {
            return Err(format!(
                "{}: the scenario {} has changed since the run: its text hashes to {now}, the manifest says {hash}; rejudging would simulate another scenario",
                mpath.display(),
                scenario_path.display()
            ));
        }
        sc.protocol.name = crate::peer_cmd::family_name(&protocol).map_err(|e| format!("{}: {e}", mpath.display()))?;
        let name = sc.display_name(&scenario_path);
        let rep_dir = |k: usize| if seeds.len() > 1 { dir.join(format!("rep-{}", k + 1)) } else { dir.to_path_buf() };
        let mut real = Vec::new();
        let mut sim0 = Vec::new();
        for k in 0..seeds.len() {
            real.push(read_summary(&rep_dir(k).join("real").join("summary.csv"))?);
            sim0.push(read_summary(&rep_dir(k).join("sim").join("summary.csv"))?);
        }
        Ok(Run {
            scenario_path,
            hash,
            sc,
            name,
            seeds,
            protocol,
            mode,
            commit,
            verdict,
            reference,
            recorded_control,
            real,
            sim0,
            real_draw,
        })
    }

    /// Protocol draw `draw` of `sc` for each of `seeds` (in parallel, in
    /// `seeds`' order).
    fn draws_of(&self, sc: &Scenario, seeds: &[u64], draw: u64) -> Vec<(u64, Judged)> {
        use rayon::prelude::*;
        seeds
            .par_iter()
            .map(|&seed| {
                let r =
                    runner::run(sc, &RunOptions { name: self.name.clone(), seed, threads: 1, draw }, &mut |_, _| {});
                (seed, crate::validate::judged(&r))
            })
            .collect()
    }

    /// What the run was: reps, mode, protocol, scenario, recording commit.
    fn header(&self) -> String {
        format!(
            "run: {} reps, {} mode, protocol {}, scenario {} ({}), recorded at commit {}",
            self.seeds.len(),
            self.mode,
            self.protocol,
            self.scenario_path.display(),
            self.hash,
            self.commit
        )
    }

    /// The rejudgement's text and verdict, with `k` draws per seed whose
    /// links have `control` (draw 0 is run as recorded, to check it).
    pub fn judge(&self, k: u32, control: ControlPriority) -> (String, String, Outcome) {
        let mut sc = self.sc.clone();
        sc.network.control_priority = control;
        let draws = crate::sim_draws::for_seeds(&sc, &self.name, &self.seeds, k);
        let mut recorded = self.sc.clone();
        recorded.network.control_priority = self.recorded_control;
        // Draw 0 with the current code, against the recorded simulator side.
        let mut distinct: Vec<u64> = Vec::new();
        for &s in &self.seeds {
            if !distinct.contains(&s) {
                distinct.push(s);
            }
        }
        let now0 = self.draws_of(&recorded, &distinct, 0);
        let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            (None, None) => true,
            _ => false,
        };
        let differ: Vec<String> = self
            .seeds
            .iter()
            .zip(&self.sim0)
            .enumerate()
            .filter_map(|(k, (s, rec))| {
                let n = now0.iter().find(|(x, _)| x == s).map(|(_, j)| *j).unwrap_or((None, None));
                (!(same(n.0, rec.0) && same(n.1, rec.1))).then(|| {
                    let f = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.4}"));
                    format!(
                        "rep {} (seed {s}): continuity_mean {} recorded, {} now; lag_p50 {} recorded, {} now",
                        k + 1,
                        f(rec.0),
                        f(n.0),
                        f(rec.1),
                        f(n.1)
                    )
                })
            })
            .collect();
        let same_seed = self.seeds.len() > 1 && self.seeds.iter().all(|&s| s == self.seeds[0]);
        let how = crate::validate::reps_how(&self.seeds, same_seed);
        // "Against draw 0" compares with draw 0 on the judged links: the
        // recorded one unless the links differ from the run's.
        let sim0: Vec<Judged> = if control == self.recorded_control {
            self.sim0.clone()
        } else {
            let by_seed = self.draws_of(&sc, &distinct, 0);
            self.seeds.iter().map(|s| by_seed.iter().find(|(x, _)| x == s).map_or((None, None), |(_, j)| *j)).collect()
        };
        let (block, verdict) = crate::validate::judge(&how, &self.seeds, &self.real, &sim0, &draws);
        let mut t = format!(
            "rejudge: the recorded real runs (real/summary.csv of each rep) against the simulator of this build\n\
             {}; its verdict then (against {}): {}\n\
             rejudged by swarmlab {} at commit {} with {k} draws per seed; the simulator's links: network.control_priority = \"{}\" (recorded run: \"{}\")\n",
            self.header(),
            self.reference,
            self.verdict,
            env!("CARGO_PKG_VERSION"),
            crate::manifest::git_commit(),
            control.name(),
            self.recorded_control.name(),
        );
        if differ.is_empty() {
            let all =
                if self.seeds.len() == 1 { "the run".to_string() } else { format!("all {} reps", self.seeds.len()) };
            t.push_str(&format!(
                "draw 0 of this build reproduces the recorded simulator side (continuity_mean, lag_p50) of {all}\n"
            ));
        } else {
            t.push_str(&format!(
                "draw 0 of this build differs from the recorded simulator side in {} of {} reps (the simulator changed since the run; the draws are this build's):\n",
                differ.len(),
                self.seeds.len()
            ));
            for d in &differ {
                t.push_str(&format!("  {d}\n"));
            }
        }
        if control != self.recorded_control {
            t.push_str(&format!(
                "\"against draw 0\" below: this build's draw 0 with network.control_priority = \"{}\", not the recorded one\n",
                control.name()
            ));
        }
        t.push_str(&block);
        (t, crate::sim_draws::csv(&draws), verdict)
    }
}

impl Run {
    /// The real runs paired with the simulator on common random numbers:
    /// each rep's real run against the simulator run of its seed whose
    /// protocol generators are the real processes' own
    /// ([`sim::rngs::host_draw`] of the run's real draw), on the links
    /// `control`. Both sides start from the same random protocol choices
    /// (tracker lists, Joins, partners) and part where their events' order
    /// does (a loss, a timer a few microseconds apart); the mean paired
    /// difference estimates the same bias as the verdict's (the real
    /// processes' generators are one more draw of the protocol randomness),
    /// with a smaller spread when both sides' outcomes follow those first
    /// choices. Returns the text (per-rep differences, their mean, 90% t
    /// interval and standard deviation, beside the standard deviation of the
    /// differences against draw 0, an independent draw) and the outcome of
    /// the same test as the verdict's. Shown beside the verdict, not
    /// replacing it.
    pub fn paired(&self, control: ControlPriority) -> (String, Outcome) {
        use crate::validate::{CONTINUITY_TOL, LAG_REL_TOL, combine, diffs_of, test};
        let mut sc = self.sc.clone();
        sc.network.control_priority = control;
        let draw = sim::rngs::host_draw(self.real_draw).unwrap_or(sim::rngs::HOST_DRAW);
        let sims = self.draws_of(&sc, &self.seeds, draw);
        let (pc, pl): (Vec<_>, Vec<_>) = sims.iter().zip(&self.real).map(|((_, s), r)| diffs_of(*s, *r)).unzip();
        // Against draw 0 (another generator) when the links are the recorded ones.
        let (ec, el): (Vec<_>, Vec<_>) = self.sim0.iter().zip(&self.real).map(|(s, r)| diffs_of(*s, *r)).unzip();
        let sd = |d: &[Option<f64>]| -> String {
            let v: Vec<f64> = d.iter().flatten().copied().collect();
            if v.len() < 2 {
                return "-".into();
            }
            let m = v.iter().sum::<f64>() / v.len() as f64;
            format!("{:.4}", libm::sqrt(v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64))
        };
        let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:+.4}"));
        let per = |d: &[Option<f64>]| d.iter().map(|&x| f(x)).collect::<Vec<_>>().join(", ");
        let (cm, ci, co) = test(&pc, CONTINUITY_TOL);
        let (lm, li, lo) = test(&pl, LAG_REL_TOL);
        let outcome = combine(co, lo);
        let mut t = format!(
            "paired: the recorded real runs against the simulator with the real processes' own protocol generators (common random numbers)\n\
             {}, real draw {}\n\
             simulated by swarmlab {} at commit {} with protocol draw {draw} (sim::rngs::host_draw({})); network.control_priority = \"{}\"\n",
            self.header(),
            self.real_draw,
            env!("CARGO_PKG_VERSION"),
            crate::manifest::git_commit(),
            self.real_draw,
            control.name(),
        );
        t.push_str(&format!(
            "  continuity_mean real - paired simulator: per rep [{}], mean {cm:+.4}, interval [{:+.4}, {:+.4}] vs +-{CONTINUITY_TOL}: {}; sd {} (against draw 0: sd {})\n",
            per(&pc),
            ci.0,
            ci.1,
            co.name(),
            sd(&pc),
            sd(&ec),
        ));
        t.push_str(&format!(
            "  lag_p50 (real - paired simulator) / paired simulator: per rep [{}], mean {lm:+.4}, interval [{:+.4}, {:+.4}] vs +-{LAG_REL_TOL}: {}; sd {} (against draw 0: sd {})\n",
            per(&pl),
            li.0,
            li.1,
            lo.name(),
            sd(&pl),
            sd(&el),
        ));
        t.push_str(&format!("  => {} paired (shown beside the verdict, not replacing it)\n", outcome.name()));
        if control != self.recorded_control {
            t.push_str(&format!(
                "  (\"against draw 0\": the recorded draw 0, whose links were \"{}\")\n",
                self.recorded_control.name()
            ));
        }
        (t, outcome)
    }
}

/// `validate --rejudge DIR [--sim-draws K] [--out OUT] [--sim-control C]
/// [--paired]`: without `C`, the links of the run's mode
/// ([`crate::validate::mode_control`]). Writes `rejudge.txt` and
/// `sim-draws.csv`, or with `paired` [`Run::paired`]'s `paired.txt` (into
/// DIR, or `out`); the exit status is the outcome's.
pub fn main(dir: &Path, k: u32, out: Option<&Path>, control: Option<ControlPriority>, paired: bool) -> ExitCode {
    let run = match Run::read(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let control = control.unwrap_or(crate::validate::mode_control(run.mode == "netns"));
    let (files, outcome) = if paired {
        let (text, outcome) = run.paired(control);
        (vec![("paired.txt", text)], outcome)
    } else {
        let (text, csv, verdict) = run.judge(k, control);
        (vec![("rejudge.txt", text), ("sim-draws.csv", csv)], verdict)
    };
    print!("{}", files[0].1);
    let out = out.unwrap_or(dir);
    let written = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(out)?;
        for (name, text) in &files {
            analysis::output::write_atomic(&out.join(name), text.as_bytes())?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        eprintln!("error: cannot write results to {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let names: Vec<String> = files.iter().map(|(n, _)| out.join(n).display().to_string()).collect();
    println!("\nwrote {}", names.join(" and "));
    match outcome {
        Outcome::Pass => ExitCode::SUCCESS,
        Outcome::Fail => ExitCode::from(1),
        Outcome::Inconclusive => ExitCode::from(3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A validate-like directory of a small scenario: manifest, and per rep
    /// real/ and sim/ summaries (the real side made up).
    fn fixture(name: &str, reps: usize, edit_scenario: bool) -> PathBuf {
        let root = std::env::temp_dir().join(format!("swarmlab-rejudge-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let text = "duration_s = 20\n[peers]\ncount = 8\n";
        let sc_path = root.join("s.toml");
        std::fs::write(&sc_path, text).unwrap();
        let dir = root.join("run");
        crate::manifest::write(&dir, &sc_path, text, &(1..=reps as u64).collect::<Vec<_>>()).unwrap();
        let mut m = std::fs::read_to_string(dir.join("manifest.toml")).unwrap();
        m.push_str("validate_mode = \"loopback\"\nvalidate_protocol = \"mesh-pull\"\nvalidate_verdict = \"PASS\"\n");
        std::fs::write(dir.join("manifest.toml"), m).unwrap();
        let sc = Scenario::parse("s.toml", text).unwrap();
        for k in 0..reps {
            let rep = if reps > 1 { dir.join(format!("rep-{}", k + 1)) } else { dir.clone() };
            let sim = runner::run(
                &sc,
                &RunOptions { name: "s".into(), seed: k as u64 + 1, threads: 1, draw: 0 },
                &mut |_, _| {},
            );
            analysis::output::write_run(&sim, &rep.join("sim")).unwrap();
            // The "real" run: another draw of the same instance.
            let real = runner::run(
                &sc,
                &RunOptions { name: "s".into(), seed: k as u64 + 1, threads: 1, draw: 99 },
                &mut |_, _| {},
            );
            analysis::output::write_run(&real, &rep.join("real")).unwrap();
        }
        if edit_scenario {
            std::fs::write(&sc_path, "duration_s = 21\n[peers]\ncount = 8\n").unwrap();
        }
        dir
    }

    fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                v.extend(files(&p));
            } else {
                v.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
        v.sort();
        v
    }

    #[test]
    fn a_rejudge_reads_the_records_and_judges_against_the_draws_mean() {
        let dir = fixture("ok", 3, false);
        let run = Run::read(&dir).expect("readable");
        assert_eq!(run.seeds, vec![1, 2, 3]);
        assert_eq!(run.sc.protocol.name, "mesh-pull");
        assert_eq!(run.reference, "draw 0");
        assert!(run.real.iter().all(|r| r.0.is_some() && r.1.is_some()));
        let before = files(&dir);
        let (text, csv, _) = run.judge(2, ControlPriority::Message);
        // The recorded simulator side is this build's draw 0.
        assert!(
            text.contains("reproduces the recorded simulator side (continuity_mean, lag_p50) of all 3 reps"),
            "{text}"
        );
        assert!(text.contains("reference: the mean of the simulator's draws 1..=2 of each seed"), "{text}");
        // The judged differences are real - the mean of the draws of each seed.
        let draws = crate::sim_draws::for_seeds(&run.sc, &run.name, &run.seeds, 2);
        let d1 = crate::sim_draws::of(&draws, 1).diffs(run.real[0].0, run.real[0].1).0.unwrap();
        assert!(text.contains(&format!("continuity_mean real - draws' mean: per rep [{d1:+.4}, ")), "{text}");
        assert_eq!(csv, crate::sim_draws::csv(&draws));
        assert_eq!(csv.lines().count(), 1 + 3 * 2);
        // Judging writes nothing into the run's directory.
        assert_eq!(files(&dir), before);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    /// Paired judging runs the simulator with the real processes' own
    /// generators of the manifest's real draw: a "real" side that is that
    /// very simulator run differs by nothing, another draw does.
    #[test]
    fn paired_judging_uses_the_real_processes_generators_of_the_real_draw() {
        let dir = fixture("paired", 3, false);
        let other = Run::read(&dir).expect("readable");
        let (text, _) = other.paired(ControlPriority::Message);
        assert!(text.contains("protocol draw 18446744073709551615 (sim::rngs::host_draw(0))"), "{text}");
        // (Every draw of this small swarm plays everything: lag tells them apart.)
        let zero_lag = "lag_p50 (real - paired simulator) / paired simulator: per rep [+0.0000, +0.0000, +0.0000]";
        assert!(!text.contains(zero_lag), "draw 99 is another draw: {text}");
        let m = std::fs::read_to_string(dir.join("manifest.toml")).unwrap();
        std::fs::write(dir.join("manifest.toml"), format!("{m}validate_real_draw = 3\n")).unwrap();
        let sc = Scenario::parse("s.toml", "duration_s = 20\n[peers]\ncount = 8\n").unwrap();
        let draw = sim::rngs::host_draw(3).unwrap();
        for k in 0..3u64 {
            let real =
                runner::run(&sc, &RunOptions { name: "s".into(), seed: k + 1, threads: 1, draw }, &mut |_, _| {});
            analysis::output::write_run(&real, &dir.join(format!("rep-{}", k + 1)).join("real")).unwrap();
        }
        let run = Run::read(&dir).expect("readable");
        assert_eq!(run.real_draw, 3);
        let (text, outcome) = run.paired(ControlPriority::Message);
        assert!(
            text.contains("continuity_mean real - paired simulator: per rep [+0.0000, +0.0000, +0.0000], mean +0.0000"),
            "{text}"
        );
        assert!(text.contains(zero_lag), "{text}");
        assert_eq!(outcome, Outcome::Pass);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    /// A `--netns` run recorded before `validate_sim_control` existed: its
    /// draw 0 is checked with the links it ran with (`message`), the draws
    /// are judged with the kernel queue's (`datagram`).
    #[test]
    fn a_netns_run_is_judged_with_datagram_links_and_checked_with_its_own() {
        let dir = fixture("netns", 2, false);
        let m = std::fs::read_to_string(dir.join("manifest.toml")).unwrap();
        std::fs::write(
            dir.join("manifest.toml"),
            m.replace("validate_mode = \"loopback\"", "validate_mode = \"netns\""),
        )
        .unwrap();
        let run = Run::read(&dir).expect("readable");
        assert_eq!(run.recorded_control, ControlPriority::Message);
        let (text, csv, _) = run.judge(2, crate::validate::mode_control(run.mode == "netns"));
        assert!(text.contains("network.control_priority = \"datagram\" (recorded run: \"message\")"), "{text}");
        assert!(text.contains("reproduces the recorded simulator side"), "{text}");
        let mut sc = run.sc.clone();
        sc.network.control_priority = ControlPriority::Datagram;
        assert_eq!(csv, crate::sim_draws::csv(&crate::sim_draws::for_seeds(&sc, &run.name, &run.seeds, 2)));
        assert_ne!(
            csv,
            crate::sim_draws::csv(&crate::sim_draws::for_seeds(&run.sc, &run.name, &run.seeds, 2)),
            "the fixture's links are never busy enough for control to interleave: the test cannot tell the two apart"
        );
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn a_changed_scenario_or_a_missing_record_is_refused() {
        let dir = fixture("edited", 1, true);
        let e = Run::read(&dir).err().expect("refused");
        assert!(e.contains("has changed since the run") && e.matches("fnv1a64:").count() == 2, "{e}");
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
        let dir = fixture("missing", 2, false);
        std::fs::remove_file(dir.join("rep-2").join("real").join("summary.csv")).unwrap();
        let e = Run::read(&dir).err().expect("refused");
        assert!(e.contains("rep-2") && e.contains("summary.csv"), "{e}");
        let e = Run::read(&dir.join("nope")).err().expect("refused");
        assert!(e.contains("manifest.toml"), "{e}");
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}
