//! `swarmlab peer`: one real tracker, source or peer over UDP.
//!
//! Protocol and stream parameters come from a scenario file (`--scenario`, the
//! same keys the simulator reads) or from defaults, with flags overriding the
//! stream and player. Every process of a swarm must be given the same stream
//! epoch (`--epoch`, Unix seconds), the tracker's address and, for receivers,
//! the source's (hashes for integrity checks are fetched from it, unless
//! `--local-verify`).
//!
//! Records go to `--records` as CSV (`t_ns,event,a,b,c,d`, time in protocol
//! nanoseconds since the epoch): `start`, `play_start`, `played`, `missed`,
//! `arrived`, `bytes` (cumulative wire bytes: up media, up control, down media,
//! down control), `leave`, `stat` (counters: drops by reason, ...) and `end`.
//! `swarmlab validate` turns these files into the simulator's metrics. With
//! `SWARMLAB_TRACE=1` in the environment the records also get every protocol
//! message but chunks (`msg_out`, `msg_in`) and the protocol's neighbour
//! changes (`neighbour_added`, `neighbour_removed`): diagnostics
//! (`net::HostConfig::trace`), which validate's metrics ignore.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;

use net::{Clock, Host, HostConfig, MediaSource, Role, Sinks};
use protocols::tracker::Tracker;
use protocols::{Node, Peer, PeerId, Time};
use sim::engine::Protocol;
use sim::registry::Family;
use sim::runner;
use sim::scenario::{Positive, Scenario};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleArg {
    Tracker,
    Source,
    Peer,
    /// The CDN edge of a family that has one (`cdn-p2p`: node 2 of the scenario).
    Edge,
}

/// Run one real node (tracker, source, peer or CDN edge) over UDP.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// What this node is.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Address to bind: a specific IPv4 address and port (port 0: any free port).
    #[arg(long)]
    pub bind: SocketAddrV4,
    /// The tracker's address (defaults to --bind for the tracker).
    #[arg(long)]
    pub tracker: Option<SocketAddrV4>,
    /// The source's address (receivers fetch chunk hashes from it).
    #[arg(long)]
    pub source: Option<SocketAddrV4>,
    /// Scenario file for protocol, stream and player parameters.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Protocol family (overrides the scenario's): any registered family.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Media rate, kbps (overrides the scenario's).
    #[arg(long)]
    pub rate_kbps: Option<f64>,
    /// Chunk duration, milliseconds (overrides the scenario's).
    #[arg(long)]
    pub chunk_ms: Option<f64>,
    /// Startup buffer, seconds (overrides the scenario's).
    #[arg(long)]
    pub startup_s: Option<f64>,
    /// Upload capacity of this node's access link, kbps.
    #[arg(long, default_value_t = 1000.0)]
    pub up_kbps: f64,
    /// Download capacity of this node's access link, kbps.
    #[arg(long, default_value_t = 100_000.0)]
    pub down_kbps: f64,
    /// One-way delay added to every datagram sent, milliseconds.
    #[arg(long, default_value_t = 0.0)]
    pub delay_ms: f64,
    /// Probability that a datagram sent is lost.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// The kernel shapes this node's link (`tc tbf`, nftables: `swarmlab validate
    /// --netns`): turns off the user-space upload/download pacers and --loss;
    /// the --delay-ms line stays, and --up-kbps still bounds the upload queue
    /// and gives the protocol its upload backlog.
    #[arg(long)]
    pub kernel_shaping: bool,
    /// Seed of this node's protocol RNG and loss draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seed of the generated media (source; receivers need it only with --local-verify).
    #[arg(long, default_value_t = 1)]
    pub media_seed: u64,
    /// Receivers verify chunk payloads against the media generated from
    /// --media-seed instead of hashes fetched from the source: no hash traffic
    /// and no chunk held while its hash is on the way, as the simulator models
    /// integrity (a signature checked on arrival). `swarmlab validate` sets
    /// it. Ignored by the source and with --input.
    #[arg(long)]
    pub local_verify: bool,
    /// Source: read the media from this file instead of generating it.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Stream epoch, Unix seconds (fractions allowed); default: now.
    #[arg(long)]
    pub epoch: Option<f64>,
    /// Join at this many seconds after the epoch.
    #[arg(long, default_value_t = 0.0)]
    pub join_at: f64,
    /// Stop at this many seconds after the epoch.
    #[arg(long, default_value_t = 300.0)]
    pub duration: f64,
    /// Write records (CSV) here.
    #[arg(long)]
    pub records: Option<PathBuf>,
    /// Write the played stream here (`-` for stdout).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Accept datagrams only from this IPv4 prefix (e.g. 127.0.0.0/8).
    #[arg(long)]
    pub allow: Option<String>,
    /// Drop every datagram from this address (repeatable).
    #[arg(long)]
    pub deny: Vec<SocketAddrV4>,
    /// This process is node N of the scenario's population (`swarmlab
    /// validate`; needs --scenario, --run-seed and --node-base): its
    /// behaviour (`[[attack]]`), its rates over time (`[[timeline]]`
    /// bandwidth events, `[bandwidth]`), its per-pair delays
    /// (`[network.latency]`), outages and partitions are the simulator's
    /// node N's; --up-kbps, --down-kbps and --delay-ms are then ignored.
    #[arg(long, requires_all = ["scenario", "run_seed", "node_base"])]
    pub node: Option<u32>,
    /// The run seed of the population that --node refers to.
    #[arg(long)]
    pub run_seed: Option<u64>,
    /// Address plan of the swarm (with --node): node i is at IPv4 address
    /// BASE + i + 1, this port (node 0 is the tracker, node 1 the source).
    #[arg(long)]
    pub node_base: Option<SocketAddrV4>,
}

fn parse_prefix(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, len) = s.split_once('/').unwrap_or((s, "32"));
    let ip: Ipv4Addr = ip.parse().map_err(|e| format!("--allow {s}: {e}"))?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32).ok_or(format!("--allow {s}: prefix length must be 0..=32"))?;
    Ok((ip, len))
}

fn positive(name: &str, v: f64) -> Result<Positive, String> {
    if v.is_finite() && v > 0.0 { Ok(Positive(v)) } else { Err(format!("{name} must be a positive number, not {v}")) }
}

/// The scenario the node takes its parameters from, with the flags applied.
pub fn scenario(a: &Args) -> Result<Scenario, String> {
    let mut sc = match &a.scenario {
        Some(p) => Scenario::load(p).map_err(|e| e.to_string())?.0,
        None => Scenario::parse("(flags)", "[peers]\ncount = 1\n").map_err(|e| e.to_string())?,
    };
    if let Some(p) = &a.protocol {
        sc.protocol.name = family_name(p)?;
    }
    if let Some(r) = a.rate_kbps {
        sc.stream.rate_kbps = positive("--rate-kbps", r)?;
    }
    if let Some(c) = a.chunk_ms {
        sc.stream.chunk_s = positive("--chunk-ms", c / 1000.0)?;
    }
    if let Some(s) = a.startup_s {
        sc.player.startup_s = positive("--startup-s", s)?;
    }
    Ok(sc)
}

/// `--protocol NAME` checked against the installed registry.
pub fn family_name(p: &str) -> Result<String, String> {
    let reg = sim::registry::current();
    match reg.find_family(p) {
        Some(f) => Ok(f.name.to_string()),
        None => Err(format!("--protocol {p}: unknown protocol; registered: {}", reg.family_names().join(", "))),
    }
}

pub fn main(a: Args, reg: &crate::Registry) -> ExitCode {
    match run(&a, reg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(a: &Args, reg: &crate::Registry) -> Result<(), String> {
    let sc = scenario(a)?;
    if !(0.0..=1.0).contains(&a.loss) {
        return Err(format!("--loss must be in [0, 1], not {}", a.loss));
    }
    for (n, v) in [("--up-kbps", a.up_kbps), ("--down-kbps", a.down_kbps)] {
        positive(n, v)?;
    }
    if !(a.delay_ms.is_finite() && a.delay_ms >= 0.0) {
        return Err(format!("--delay-ms must be >= 0, not {}", a.delay_ms));
    }
    let socket = UdpSocket::bind(a.bind).map_err(|e| format!("cannot bind {}: {e}", a.bind))?;
    let bound = match socket.local_addr() {
        Ok(std::net::SocketAddr::V4(b)) => b,
        _ => return Err("bound address is not IPv4".into()),
    };
    let tracker = match (a.role, a.tracker) {
        (RoleArg::Tracker, _) => bound,
        (_, Some(t)) => t,
        (_, None) => return Err("--tracker ADDR is required for a source or peer".into()),
    };
    let source = match a.role {
        RoleArg::Source => Some(bound),
        _ => a.source,
    };
    if matches!(a.role, RoleArg::Peer | RoleArg::Edge) && source.is_none() {
        return Err("--source ADDR is required for a peer or edge (chunk hashes come from the source)".into());
    }
    if sc.has_edge() && a.role != RoleArg::Tracker && a.node.is_none() {
        // Without a node plan every peer is id 2 in its own book: the edge's id.
        return Err(format!(
            "family `{}` addresses its CDN edge as node 2 of the scenario: give --node, --run-seed and \
             --node-base so that peer ids follow the scenario's nodes",
            sc.protocol.name
        ));
    }
    if a.role == RoleArg::Edge && !sc.has_edge() {
        return Err(format!("--role edge: family `{}` has no CDN edge (cdn-p2p has one)", sc.protocol.name));
    }
    let epoch_ns = match a.epoch {
        Some(e) if e.is_finite() && e > 0.0 => (e * 1e9) as u64,
        Some(e) => return Err(format!("--epoch must be a positive Unix time, not {e}")),
        None => net::clock::unix_now_ns(),
    };
    let role = match a.role {
        RoleArg::Tracker => Role::Tracker,
        RoleArg::Source => Role::Source,
        RoleArg::Peer => Role::Peer,
        RoleArg::Edge => Role::Edge,
    };
    let stream = runner::stream_params(&sc);
    let up_bps = (a.up_kbps * 1000.0).round() as u64;
    let mut cfg = HostConfig::new(role, tracker, stream, up_bps);
    cfg.source = source;
    cfg.down_bps = (a.down_kbps * 1000.0).round() as u64;
    cfg.delay = Time::from_secs_f64(a.delay_ms / 1000.0);
    cfg.loss = a.loss;
    cfg.kernel_shaping = a.kernel_shaping;
    cfg.trace = std::env::var_os("SWARMLAB_TRACE").is_some_and(|v| v == "1");
    cfg.seed = a.seed;
    cfg.join_at = Time::from_secs_f64(a.join_at);
    cfg.stop_at = Time::from_secs_f64(a.duration);
    cfg.media = match &a.input {
        Some(p) => MediaSource::File(p.clone()),
        None => MediaSource::Generated { seed: a.media_seed },
    };
    cfg.local_verify = a.local_verify;
    cfg.allow = a.allow.as_deref().map(parse_prefix).transpose()?;
    cfg.deny = a.deny.clone();
    let defences = sim::runner::defences(&sc);
    cfg.guarded = true;
    cfg.signature_bytes = if defences.integrity { protocols::adversary::SIGNATURE_BYTES } else { 0 };
    let mut behaviour = protocols::adversary::Behaviour::Honest;
    let mut up_kbps = (a.up_kbps.round() as u64).min(u32::MAX as u64) as u32;
    if let (Some(node), Some(seed), Some(base)) = (a.node, a.run_seed, a.node_base) {
        let r = replay(&sc, node, seed, base)?;
        if r.role != role {
            return Err(format!("--node {node} is the scenario's {}, not a {}", r.role.name(), role.name()));
        }
        behaviour = r.behaviour;
        up_kbps = r.behaviour.advertised_kbps((r.up_bps / 1000).min(u32::MAX as u64) as u32);
        cfg.up_bps = r.up_bps;
        cfg.down_bps = r.down_bps;
        cfg.max_upload_queue = (r.up_bps * 10 / 8).max(1 << 20);
        cfg.nodes = Some(net::host::NodePlan { base: *base.ip(), port: base.port(), count: r.pair_delay.len() as u32 });
        cfg.pair_delay = r.pair_delay;
        cfg.events = r.events;
    }
    let records: Option<Box<dyn Write + Send>> = match &a.records {
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?,
        ))),
        None => None,
    };
    let output: Option<Box<dyn Write + Send>> = match &a.output {
        Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::BufWriter::new(std::io::stdout()))),
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?,
        ))),
        None => None,
    };
    let sinks = Sinks { records, output, keep: false };
    let term = net::signals::term_flag().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let clock = Clock::new(epoch_ns);
    let host = reg.host(&sc.protocol.name).ok_or_else(|| {
        format!(
            "protocol `{}` has no UDP host registered (register it with swarmlab::Registry::family)",
            sc.protocol.name
        )
    })?;
    host(&sc, HostRun { cfg, socket, sinks, clock: &clock, term: &term, role, up_kbps, behaviour, defences })
}

/// What node `node` of the scenario's population (run seed `seed`) replays.
pub struct Replay {
    pub role: Role,
    pub behaviour: protocols::adversary::Behaviour,
    /// Nominal rates (before any scheduled change).
    pub up_bps: u64,
    pub down_bps: u64,
    pub pair_delay: Vec<Time>,
    pub events: Vec<(Time, net::host::LinkEvent)>,
}

/// Node `node`'s behaviour, rates over time, per-pair delays and cut-offs,
/// as the simulator has them for this scenario and seed.
pub fn replay(sc: &Scenario, node: u32, seed: u64, base: SocketAddrV4) -> Result<Replay, String> {
    use net::host::LinkEvent;
    let specs = sim::churn::population(sc, seed);
    let n = specs.len();
    let Some(spec) = specs.get(node as usize) else {
        return Err(format!("--node {node}: the scenario's population has {n} nodes (0 to {})", n.saturating_sub(1)));
    };
    if u32::from(*base.ip()).checked_add(n as u32 + 1).is_none() {
        return Err(format!("--node-base {base}: no room for {n} addresses after it"));
    }
    use protocols::adversary::Behaviour;
    if let Behaviour::Forger = spec.behaviour {
        return Err(unreplayable(spec.behaviour));
    }
    let role = match spec.role {
        analysis::NodeRole::Tracker => Role::Tracker,
        analysis::NodeRole::Source => Role::Source,
        analysis::NodeRole::Peer => Role::Peer,
        analysis::NodeRole::Edge => Role::Edge,
    };
    let pair_delay = sim::replay::pair_delays(sc, &specs, seed, node);
    let mut events: Vec<(Time, LinkEvent)> = sim::replay::rates(sc, &specs, seed)
        .swap_remove(node as usize)
        .into_iter()
        .map(|(t, up_bps, down_bps)| (t, LinkEvent::Rate { up_bps, down_bps }))
        .collect();
    events.extend(
        sim::replay::severed(sc, &specs, seed, node as usize).into_iter().map(|(t, v)| (t, LinkEvent::Sever(v))),
    );
    events.sort_by_key(|e| e.0);
    Ok(Replay { role, behaviour: spec.behaviour, up_bps: spec.up_bps, down_bps: spec.down_bps, pair_delay, events })
}

/// What [`host`] needs besides the scenario: the host's configuration,
/// socket, sinks, clock, stop flag, role and upload.
pub struct HostRun<'a> {
    pub cfg: HostConfig,
    pub socket: UdpSocket,
    pub sinks: Sinks,
    pub clock: &'a Clock,
    pub term: &'a std::sync::atomic::AtomicBool,
    pub role: Role,
    /// The upload the protocol is told (what it advertises).
    pub up_kbps: u32,
    /// The node's behaviour and the swarm's defences (`protocols::adversary::Guarded`
    /// wraps every source and peer, as in the simulator).
    pub behaviour: protocols::adversary::Behaviour,
    pub defences: protocols::adversary::Defences,
}

/// Runs one node of a family over UDP (one function per family).
pub type HostFn = fn(&Scenario, HostRun<'_>) -> Result<(), String>;

/// The UDP node of family `F`: its engine protocol's source, peer or CDN
/// edge (the simulator's node id is not known over UDP; ids come from the
/// host's address book, so `F`'s nodes are given id 1 as the source and 2
/// otherwise, a peer's id without a node plan; no edge reads its id).
pub fn host<F: Family>(sc: &Scenario, h: HostRun<'_>) -> Result<(), String> {
    let proto = F::build(sc);
    let role = h.role;
    let up_kbps = h.up_kbps;
    let (behaviour, def) = (h.behaviour, std::sync::Arc::new(h.defences));
    go(h.cfg, h.socket, h.sinks, h.clock, h.term, h.role, || {
        let p = match role {
            Role::Source => proto.source(PeerId(1), up_kbps),
            Role::Edge => proto.edge(PeerId(2), up_kbps),
            Role::Tracker | Role::Peer => proto.peer(PeerId(2), up_kbps),
        };
        protocols::adversary::Guarded::new(p, behaviour, def)
    })
}

fn go<P: Peer>(
    cfg: HostConfig,
    socket: UdpSocket,
    sinks: Sinks,
    clock: &Clock,
    term: &std::sync::atomic::AtomicBool,
    role: Role,
    member: impl FnOnce() -> P,
) -> Result<(), String> {
    let node = match role {
        Role::Tracker => Node::Tracker(Tracker::new(Default::default())),
        Role::Source | Role::Peer | Role::Edge => Node::Member(member()),
    };
    let mut host = Host::new(cfg, node, socket, sinks).map_err(|e| e.to_string())?;
    host.run(clock, term).map_err(|e| e.to_string())?;
    let s = &host.stats;
    eprintln!(
        "{} {}: {} datagrams in, {} out, {} malformed dropped, {} chunks verified, {} polluted",
        role.name(),
        host.addr(),
        s.datagrams_in,
        s.datagrams_out,
        s.malformed(),
        s.chunks_verified,
        s.chunks_polluted
    );
    Ok(())
}

/// Why a behaviour cannot be replayed over UDP (`[[attack]] kind = ...`).
pub fn unreplayable(b: protocols::adversary::Behaviour) -> String {
    use protocols::adversary::Behaviour;
    match b {
        Behaviour::Forger => "[[attack]] kind = \"forger\" cannot be replayed over UDP: its forged chunk has no \
            payload to send and its forged peer ids have no addresses"
            .into(),
        b => format!("[[attack]] behaviour {} is replayed", Behaviour::NAMES[b.index() as usize]),
    }
}
