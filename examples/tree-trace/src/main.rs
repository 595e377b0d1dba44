//! `tree-trace SCENARIO SEED [DRAW] [STEP_MS] [msgs|all]`: runs a tree-push
//! scenario (`[protocol] name = "tree-push"`) in the simulator and prints,
//! every STEP_MS of protocol time (default 500), every present node's parent
//! in stripe 0 and its children (`tree t_s node parent children...`), and
//! at the end the run's `server_load` and `continuity_mean` (`summary`);
//! with stripes, the other stripes as `stree t_s node stripe parent
//! children...`; with
//! `msgs`, also every protocol message but chunks as a node sends or
//! receives it (`msg t_ns node msg_out|msg_in peer message`), as the real
//! hosts record them with `SWARMLAB_TRACE=1` (net's `HostConfig::trace`);
//! with `all`, chunks too; with either, every playback start (`play_start
//! t_ns node first_chunk`). `drop=NODE:SEQ` (any position after SCENARIO
//! SEED) drops the first copy of chunk SEQ that node NODE receives, as if
//! the network had lost it (its sender's link carried it all the same).
//! `lat=A:B` (repeatable) prints the one-way delay between nodes A and B
//! (`latency A B ms`).
//! A diagnostic for results/validate/README.md ("Tree-push's source").

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use protocols::peer::{Command, Ctx, Peer};
use protocols::tree::{TreePeer, TreeTimer};
use protocols::wire::Msg;
use protocols::{PeerId, Time};
use sim::engine::Protocol;
use sim::families::TreePush;
use sim::registry::Family;
use sim::runner::{RunOptions, build_engine, finish_report};
use sim::scenario::Scenario;

static MSGS: AtomicBool = AtomicBool::new(false);
static CHUNKS: AtomicBool = AtomicBool::new(false);

/// Node and chunk whose first copy is dropped on arrival (`drop=NODE:SEQ`).
static DROP: std::sync::Mutex<Option<(u32, u32)>> = std::sync::Mutex::new(None);

/// A tree-push node that prints its messages.
struct Traced(TreePeer);

fn show(cx: &Ctx<'_, TreeTimer>, what: &str, peer: PeerId, m: &Msg) {
    if MSGS.load(Ordering::Relaxed) && (CHUNKS.load(Ordering::Relaxed) || !matches!(m, Msg::Chunk { .. })) {
        println!("msg {} {} {what} {} {}", cx.now.as_nanos(), cx.me.0, peer.0, format!("{m:?}").replace(',', ";"));
    }
}

impl Traced {
    /// Prints the messages queued since `from` and the playback starts
    /// recorded since `rec`.
    fn out(&mut self, cx: &mut Ctx<'_, TreeTimer>, (from, rec): (usize, usize)) {
        let sends: Vec<(PeerId, Msg)> = cx.sends_mut()[from..].to_vec();
        for (to, m) in &sends {
            show(cx, "msg_out", *to, m);
        }
        if MSGS.load(Ordering::Relaxed) {
            for r in cx.records_since(rec) {
                if let protocols::peer::Record::PlayStart { first } = r {
                    println!("play_start {} {} {first}", cx.now.as_nanos(), cx.me.0);
                }
            }
        }
    }
}

/// Where this call's messages and records begin.
fn mark(cx: &mut Ctx<'_, TreeTimer>) -> (usize, usize) {
    (cx.sends_mut().len(), cx.records_len())
}

impl Peer for Traced {
    type Timer = TreeTimer;
    fn on_start(&mut self, cx: &mut Ctx<'_, TreeTimer>) {
        let n = mark(cx);
        self.0.on_start(cx);
        self.out(cx, n);
    }
    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, TreeTimer>) {
        if let Msg::Chunk { seq, .. } = msg {
            let mut d = DROP.lock().expect("not poisoned");
            if *d == Some((cx.me.0, seq)) {
                // Lost on the way, once (as a loss draw would).
                *d = None;
                return;
            }
        }
        show(cx, "msg_in", from, &msg);
        let n = mark(cx);
        self.0.on_message(from, msg, cx);
        self.out(cx, n);
    }
    fn on_timer(&mut self, timer: TreeTimer, cx: &mut Ctx<'_, TreeTimer>) {
        let n = mark(cx);
        self.0.on_timer(timer, cx);
        self.out(cx, n);
    }
    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, TreeTimer>) {
        let n = mark(cx);
        self.0.on_command(cmd, cx);
        self.out(cx, n);
    }
}

struct TracedTree(TreePush);

impl Protocol for TracedTree {
    type Peer = Traced;
    fn name(&self) -> String {
        self.0.name()
    }
    fn source(&self, id: PeerId, up_kbps: u32) -> Traced {
        Traced(self.0.source(id, up_kbps))
    }
    fn peer(&self, id: PeerId, up_kbps: u32) -> Traced {
        Traced(self.0.peer(id, up_kbps))
    }
}

fn main() -> ExitCode {
    let all: Vec<String> = std::env::args().collect();
    let drop = all.iter().find_map(|a| a.strip_prefix("drop="));
    if let Some(d) = drop {
        let parsed = d.split_once(':').and_then(|(n, q)| Some((n.parse().ok()?, q.parse().ok()?)));
        let Some(nq) = parsed else {
            eprintln!("error: drop={d}: expected drop=NODE:SEQ");
            return ExitCode::from(2);
        };
        *DROP.lock().expect("not poisoned") = Some(nq);
    }
    // lat=A:B: print the one-way delay between nodes A and B.
    let lat: Vec<(u32, u32)> = all
        .iter()
        .filter_map(|a| a.strip_prefix("lat="))
        .filter_map(|d| d.split_once(':').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))))
        .collect();
    let args: Vec<&String> = all.iter().filter(|a| !a.starts_with("drop=") && !a.starts_with("lat=")).collect();
    let (Some(path), Some(seed)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: tree-trace SCENARIO SEED [DRAW] [STEP_MS] [msgs|all] [drop=NODE:SEQ] [lat=A:B]");
        return ExitCode::from(2);
    };
    let num = |k: usize, d: u64| args.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (draw, step) = (num(3, 0), num(4, 500));
    let mode = args.get(5).map(|a| a.as_str());
    MSGS.store(matches!(mode, Some("msgs" | "all")), Ordering::Relaxed);
    CHUNKS.store(mode == Some("all"), Ordering::Relaxed);
    let sc = match Scenario::load(std::path::Path::new(path)) {
        Ok((sc, _)) => sc,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if sc.protocol.name != "tree-push" {
        eprintln!("error: {path}: protocol `{}`: tree-trace reads tree-push only", sc.protocol.name);
        return ExitCode::from(2);
    }
    let mut e = build_engine(TracedTree(TreePush::build(&sc)), &sc, seed);
    e.set_protocol_draw(draw);
    e.set_threads(1);
    for &(a, b) in &lat {
        println!("latency {a} {b} {:.3} ms", e.latency().latency(a, b).as_secs_f64() * 1000.0);
    }
    let end = Time::from_secs_f64(sc.duration_s.0);
    let mut t = Time::ZERO;
    while t < end {
        t = (t + Time::from_millis(step)).min(end);
        e.run_until(t);
        for id in 1..e.joined() as u32 {
            let Some(Traced(p)) = e.member(id) else { continue };
            // "parent children..." of stripe `st`.
            let links = |st| {
                let parent = p.parent(st).map_or("-".to_string(), |q| q.0.to_string());
                let children: Vec<String> = p.children(st).map(|c| c.0.to_string()).collect();
                format!("{parent} {}", children.join(" "))
            };
            println!("tree {:.3} {id} {}", t.as_secs_f64(), links(0));
            for st in 1..p.stripe_count() {
                println!("stree {:.3} {id} {st} {}", t.as_secs_f64(), links(st));
            }
        }
    }
    let r = finish_report(e, &sc, &RunOptions { name: "tree-trace".into(), seed, threads: 1, draw });
    let get = |m: &str| r.get(m).unwrap_or(f64::NAN);
    println!("summary server_load {:.4} continuity_mean {:.4}", get("server_load"), get("continuity_mean"));
    ExitCode::SUCCESS
}
