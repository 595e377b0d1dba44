//! The metrics glossary: every metric a run reports, as data.
//!
//! [`METRICS`] is the one definition of each metric's name, unit, direction
//! of improvement, physical range, the peers it covers and the work it
//! follows. [`crate::report::build`] takes units and directions from here (a
//! metric missing from the glossary is a bug, caught by the tests), `swarmlab
//! metrics` prints it and `docs/metrics.md` is generated from it
//! ([`markdown`]; a test keeps the file equal to the generated text). Full
//! citations are in `docs/references.md`.

use crate::report::Better;

/// The values a metric can physically take (used to clip confidence
/// intervals in figures).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// A share or probability: between 0 and 1.
    Unit,
    /// A count, a duration, a rate or a ratio of amounts: at least 0.
    NonNegative,
}

impl Range {
    pub fn bounds(self) -> (f64, f64) {
        match self {
            Range::Unit => (0.0, 1.0),
            Range::NonNegative => (0.0, f64::INFINITY),
        }
    }
}

/// One metric's definition.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    /// Name in summary.csv, compare.csv, replications.csv and sweep.csv
    /// (`upload_util.<class>`: one metric per bandwidth class).
    pub name: &'static str,
    /// Short name for table headers and figure axes.
    pub label: &'static str,
    /// Unit as written in the CSV files (`ratio`: dimensionless quotient).
    pub unit: &'static str,
    /// Direction of improvement (judged by `swarmlab check`).
    pub better: Better,
    /// Physical range of the value.
    pub range: Range,
    /// Table group in `swarmlab run`'s summary.
    pub group: &'static str,
    /// Which peers (or nodes) it is computed over.
    pub covers: &'static str,
    /// Definition.
    pub definition: &'static str,
    /// The work whose definition it follows (see docs/references.md), or how it is swarmlab's own.
    pub follows: &'static str,
}

const PEERS: &str = "all peers present during the run (attackers included)";
const DUE: &str = "peers with at least one chunk deadline (attackers included)";
const PLAYING: &str = "peers that started playing (attackers included)";
const HONEST: &str = "honest peers (not running an attack)";
const NET: &str = "every message of every node (tracker, source, peers)";
const DONET: &str = "Zhang et al., CoolStreaming/DONet, INFOCOM 2005";
const HEI: &str = "Hei et al., PPLive measurement, IEEE Trans. Multimedia 2007";
const KLR: &str = "Kumar, Liu and Ross, stochastic fluid theory of P2P streaming, INFOCOM 2007";
const OWN: &str = "swarmlab's own";
const POLL: &str = "Dhungel, Hei, Ross and Saxena, pollution attack in P2P live streaming, P2P-TV 2007";

macro_rules! m {
    ($name:expr, $label:expr, $unit:expr, $better:ident, $range:ident, $group:expr, $covers:expr, $follows:expr, $def:expr) => {
        MetricDef {
            name: $name,
            label: $label,
            unit: $unit,
            better: Better::$better,
            range: Range::$range,
            group: $group,
            covers: $covers,
            definition: $def,
            follows: $follows,
        }
    };
}

/// Every metric, in the order runs report them.
pub const METRICS: &[MetricDef] = &[
    m!(
        "peers_joined",
        "peers joined",
        "peers",
        Neither,
        NonNegative,
        "population",
        PEERS,
        OWN,
        "Peers that joined at any time during the run (initial peers, arrivals, flash crowds)."
    ),
    m!(
        "peers_started",
        "peers started",
        "peers",
        Neither,
        NonNegative,
        "population",
        PEERS,
        OWN,
        "Peers that started playing (filled their startup buffer or hit the startup timeout) before leaving or the end."
    ),
    m!(
        "peers_never_started",
        "never started",
        "peers",
        Lower,
        NonNegative,
        "population",
        PEERS,
        OWN,
        "peers_joined - peers_started: peers that left, or reached the end of the run, before playing anything."
    ),
    m!(
        "continuity_mean",
        "continuity (mean)",
        "ratio",
        Higher,
        Unit,
        "quality",
        DUE,
        DONET,
        "Continuity index per peer, played / due (chunks played by their playout deadline over chunks whose deadline passed while the peer was present), averaged over the peers that started playing (those that never did are in peers_never_started and continuity_all)."
    ),
    m!(
        "continuity_pooled",
        "continuity",
        "ratio",
        Higher,
        Unit,
        "quality",
        DUE,
        DONET,
        "Continuity index pooled over the peers that started playing: sum of chunks played / sum of chunks due. Weights each peer by its number of deadlines (its time in the swarm after it started playing); the headline quality metric (continuity_all also counts peers that never started)."
    ),
    m!(
        "rebuffer_events",
        "rebuffers",
        "stalls",
        Lower,
        NonNegative,
        "quality",
        PEERS,
        OWN,
        "Re-buffering player only (player.on_miss = \"rebuffer\"): stalls, summed over peers; a stall starts when the next chunk is missing at its deadline."
    ),
    m!(
        "rebuffer_time_mean",
        "rebuffer time",
        "s",
        Lower,
        NonNegative,
        "quality",
        PLAYING,
        OWN,
        "Re-buffering player only: time a peer spent stalled (a stall open at its departure or the end counts until then), averaged over the peers that started playing."
    ),
    m!(
        "rebuffer_ratio",
        "rebuffer ratio",
        "ratio",
        Lower,
        Unit,
        "quality",
        PLAYING,
        OWN,
        "Re-buffering player only: time stalled / time since playback started, summed over the peers that started playing."
    ),
    m!(
        "continuity_all",
        "continuity (all)",
        "ratio",
        Higher,
        Unit,
        "quality",
        PEERS,
        OWN,
        "continuity_pooled over every peer, including those that never started playing: such a peer counts as missing every chunk due from its join plus the startup timeout (player.startup_timeout_s) until it left or the run ended."
    ),
    m!(
        "continuity_p05",
        "continuity p05",
        "ratio",
        Higher,
        Unit,
        "quality",
        DUE,
        OWN,
        "5th percentile (nearest rank) of the per-peer continuity: what the worst-served 5% of peers get."
    ),
    m!(
        "startup_delay_mean",
        "startup mean",
        "s",
        Lower,
        NonNegative,
        "quality",
        PLAYING,
        HEI,
        "Time from a peer's join to the playout of its first chunk, mean over peers."
    ),
    m!(
        "startup_delay_p50",
        "startup p50",
        "s",
        Lower,
        NonNegative,
        "quality",
        PLAYING,
        HEI,
        "Median (nearest rank) startup delay."
    ),
    m!(
        "startup_delay_p95",
        "startup p95",
        "s",
        Lower,
        NonNegative,
        "quality",
        PLAYING,
        HEI,
        "95th percentile (nearest rank) startup delay."
    ),
    m!(
        "lag_mean",
        "lag mean",
        "s",
        Lower,
        NonNegative,
        "quality",
        PLAYING,
        HEI,
        "Playback lag: time from the source's emission of a chunk to its playout at the peer. The player never re-buffers, so the lag is fixed when the peer starts; mean over peers."
    ),
    m!("lag_p50", "lag p50", "s", Lower, NonNegative, "quality", PLAYING, HEI, "Median (nearest rank) playback lag."),
    m!(
        "lag_p95",
        "lag p95",
        "s",
        Lower,
        NonNegative,
        "quality",
        PLAYING,
        HEI,
        "95th percentile (nearest rank) playback lag."
    ),
    m!(
        "sync_spread",
        "sync spread",
        "s",
        Lower,
        NonNegative,
        "quality",
        "peers playing at each sample instant (attackers included)",
        HEI,
        "How far apart peers are in the stream: at about 100 evenly spaced instants (at least 1 s apart), the 95th minus the 5th percentile of the lags of the peers playing then; mean over instants with at least two such peers."
    ),
    m!(
        "delivery_delay_p50",
        "delivery p50",
        "s",
        Lower,
        NonNegative,
        "delivery",
        "every useful chunk arrival at a peer (first copy, before its deadline)",
        OWN,
        "Time from a chunk's emission at the source to its first arrival at a peer, median (nearest rank) over all (chunk, peer) pairs that arrived in time, from a constant-memory histogram (within 1.6% of the sample value: 64 sub-buckets per power of two, lower bucket edge)."
    ),
    m!(
        "delivery_delay_p95",
        "delivery p95",
        "s",
        Lower,
        NonNegative,
        "delivery",
        "every useful chunk arrival at a peer (first copy, before its deadline)",
        OWN,
        "95th percentile of the delivery delay."
    ),
    m!(
        "delivery_delay_p99",
        "delivery p99",
        "s",
        Lower,
        NonNegative,
        "delivery",
        "every useful chunk arrival at a peer (first copy, before its deadline)",
        OWN,
        "99th percentile of the delivery delay."
    ),
    m!(
        "diffusion_delay_p50",
        "diffusion p50",
        "s",
        Lower,
        NonNegative,
        "delivery",
        "every chunk that reached at least one peer",
        OWN,
        "Per chunk, time from its emission to its last useful arrival at any peer; median over chunks."
    ),
    m!(
        "diffusion_bound_ratio_min",
        "diffusion / bound",
        "ratio",
        Neither,
        NonNegative,
        "bounds",
        "every chunk that reached at least one peer",
        "Liu, minimum-delay P2P streaming, ACM Multimedia 2007",
        "Smallest, over chunks, of the chunk's diffusion delay divided by a lower bound for its number of receivers n: the larger of the store-and-forward bound ceil(log2(n + 1)) x (chunk wire bits / largest upload rate) and the fluid bound with the real upload distribution, sum over j = 1..n of chunk wire bits / U(j), U(j) = the source's upload plus the j - 1 largest peer uploads (analysis/src/bounds.rs), plus the smallest propagation delay. At least 1 in every correct run: a value below 1 would mean the simulator moved data faster than its links."
    ),
    m!(
        "misses",
        "misses",
        "chunks",
        Lower,
        NonNegative,
        "quality",
        DUE,
        OWN,
        "Chunks whose playout deadline passed before they arrived (the player skips them), summed over peers."
    ),
    m!(
        "stall_runs",
        "stall runs",
        "runs",
        Lower,
        NonNegative,
        "quality",
        DUE,
        OWN,
        "Runs of consecutive missed chunks, summed over peers: how often playback visibly stalls."
    ),
    m!(
        "longest_stall",
        "longest stall",
        "chunks",
        Lower,
        NonNegative,
        "quality",
        DUE,
        OWN,
        "Longest run of consecutive missed chunks at any peer."
    ),
    m!(
        "polluted_played",
        "polluted played",
        "chunks",
        Lower,
        NonNegative,
        "attacks and defences",
        PEERS,
        POLL,
        "Corrupted chunks that peers played (a polluter's chunk that no integrity check stopped), summed over peers."
    ),
    m!(
        "control_overhead",
        "overhead",
        "ratio",
        Lower,
        NonNegative,
        "cost",
        NET,
        DONET,
        "Control bytes received / media bytes received, both counted on the wire (IP/UDP and fragmentation headers included), over all nodes."
    ),
    m!(
        "duplicate_ratio",
        "duplicates",
        "ratio",
        Lower,
        NonNegative,
        "cost",
        PEERS,
        OWN,
        "Chunk arrivals a peer already had / useful chunk arrivals (first copies in time), summed over peers: upload wasted on redundant copies."
    ),
    m!(
        "server_load",
        "server load",
        "streams",
        Lower,
        NonNegative,
        "cost",
        "the source",
        OWN,
        "Bytes the source uploaded (media and control) / bytes of the stream emitted during the run: how many copies of the stream the source sent. A client-server system needs one per viewer."
    ),
    m!(
        "p2p_offload",
        "P2P offload",
        "ratio",
        Higher,
        Unit,
        "cost",
        "media delivered to peers",
        "Huang, Li, Ross, Wang and Zhang, peer-assisted streaming (Can Internet video-on-demand be profitable?), SIGCOMM 2007",
        "With `[cdn]` (or a family with a CDN edge): media wire bytes delivered to peers by peers / media wire bytes delivered to peers by anyone (peers, the source, the CDN edge). 0 for client-server; `1 - p2p_offload` is the infrastructure's share."
    ),
    m!(
        "cdn_egress_gb",
        "CDN egress",
        "GB",
        Lower,
        NonNegative,
        "cost",
        "the source and the CDN edge",
        OWN,
        "With `[cdn]`: wire bytes (media and control) uploaded by the infrastructure, the source (origin) and the CDN edge, in 10^9 bytes. The source counts in every family: it is the paid-for server whatever delivers the stream further."
    ),
    m!(
        "cdn_edge_gb",
        "edge egress",
        "GB",
        Lower,
        NonNegative,
        "cost",
        "the CDN edge",
        OWN,
        "With `[cdn]`: wire bytes uploaded by the CDN edge alone (0 in families without an edge), in 10^9 bytes."
    ),
    m!(
        "cdn_egress_peak_mbps",
        "CDN egress peak",
        "Mbps",
        Lower,
        NonNegative,
        "cost",
        "the source and the CDN edge",
        OWN,
        "With `[cdn]`: the largest upload rate of the source and the CDN edge together over the run's time buckets (the timeseries buckets: about 1/600 of the run, at least 1 s), in 10^6 bits per second. What a CDN bills by peak (95th-percentile billing uses 5-minute buckets)."
    ),
    m!(
        "cross_isp_share",
        "cross-ISP share",
        "ratio",
        Lower,
        Unit,
        "connectivity",
        "media delivered to peers",
        "Xie, Yang, Krishnamurthy, Liu and Silberschatz, P4P, SIGCOMM 2008",
        "With `[isp]`: media wire bytes delivered to peers from a node of another ISP (another stub domain of the transit-stub model; a CDN edge is in none) / media wire bytes delivered to peers."
    ),
    m!(
        "nat_peers",
        "NAT peers",
        "peers",
        Neither,
        NonNegative,
        "connectivity",
        PEERS,
        "Halkes and Pouwelse, UDP NAT and firewall puncturing in the wild, IFIP Networking 2011",
        "With `[nat]`: peers behind a NAT that accepts no unsolicited connection (two such peers exchange nothing directly)."
    ),
    m!(
        "nat_blocked_messages",
        "NAT-blocked messages",
        "messages",
        Lower,
        NonNegative,
        "connectivity",
        NET,
        OWN,
        "With `[nat]`: messages lost because sender and receiver are both behind NATs (attempts the protocol made anyway, e.g. to a member learned by gossip); counted in `bytes_lost`."
    ),
    m!(
        "continuity_nat",
        "continuity (NAT)",
        "ratio",
        Higher,
        Unit,
        "connectivity",
        "peers behind a NAT with at least one chunk deadline",
        DONET,
        "With `[nat]`: mean continuity index of the peers behind a NAT."
    ),
    m!(
        "continuity_public",
        "continuity (public)",
        "ratio",
        Higher,
        Unit,
        "connectivity",
        "peers not behind a NAT with at least one chunk deadline",
        DONET,
        "With `[nat]`: mean continuity index of the peers that accept connections."
    ),
    m!(
        "energy_total_kwh",
        "energy",
        "kWh",
        Lower,
        NonNegative,
        "energy",
        "peers, source, CDN edge and the network (not the tracker)",
        OWN,
        "With `[energy]`: the per-node model applied to every node's bytes and presence, plus the network's energy per byte carried: the sum of the four `energy_*_kwh` parts below."
    ),
    m!(
        "energy_peers_kwh",
        "peer energy",
        "kWh",
        Lower,
        NonNegative,
        "energy",
        "every peer",
        OWN,
        "With `[energy]`: sum over peers of idle power x seconds present + energy per bit x bits serialized on its upload + energy per bit x bits delivered to it (wire bytes, media and control), with its class's `[energy]` values."
    ),
    m!(
        "energy_source_kwh",
        "source energy",
        "kWh",
        Lower,
        NonNegative,
        "energy",
        "the source",
        OWN,
        "With `[energy]`: the source's idle power x the run + its energy per bit x bits it sent and received."
    ),
    m!(
        "energy_cdn_kwh",
        "CDN energy",
        "kWh",
        Lower,
        NonNegative,
        "energy",
        "the CDN edge",
        OWN,
        "With `[energy]`: the CDN edge's idle power x the run + its energy per bit served and received (0 without an edge)."
    ),
    m!(
        "energy_network_kwh",
        "network energy",
        "kWh",
        Lower,
        NonNegative,
        "energy",
        NET,
        "Aslan, Mayers, Koomey and France, electricity intensity of Internet data transmission, J. Industrial Ecology 2018",
        "With `[energy]`: `network_kwh_per_gb` x the bytes the network carried (every wire byte a node serialized, lost ones included)."
    ),
    m!(
        "energy_per_viewer_hour_wh",
        "energy per viewer-hour",
        "Wh",
        Lower,
        NonNegative,
        "energy",
        "every peer",
        OWN,
        "With `[energy]`: `energy_total_kwh` (in Wh) / the hours peers were present, summed over peers."
    ),
    m!(
        "cdn_cost",
        "CDN cost",
        "currency",
        Lower,
        NonNegative,
        "cost",
        "the source and the CDN edge",
        OWN,
        "With `[cdn]`: `cdn_egress_gb` x `[cdn] price_per_gb` (volume pricing; the currency is the price's)."
    ),
    m!(
        "upload_util.<class>",
        "upload utilization",
        "ratio",
        Neither,
        NonNegative,
        "cost",
        "peers of that bandwidth class",
        OWN,
        "Upload bytes sent (media and control) x 8 / upload capacity integrated over each peer's time in the swarm, pooled over the class's peers. One metric per [[peers.classes]] name."
    ),
    m!(
        "upload_fairness",
        "upload fairness",
        "index",
        Neither,
        Unit,
        "cost",
        "peers with upload capacity",
        "Jain, Chiu and Hawe, fairness index, DEC-TR-301 1984",
        "Jain's fairness index of the per-peer upload utilizations x_i: (sum x_i)^2 / (n sum x_i^2); 1 when every peer uses the same share of its capacity, 1/n when one peer does all the work."
    ),
    m!(
        "stream_rate",
        "stream rate",
        "kbps",
        Neither,
        NonNegative,
        "bounds",
        "the stream",
        OWN,
        "The media rate r of the scenario (stream.rate_kbps), printed beside the bounds."
    ),
    m!(
        "r_max",
        "r_max",
        "kbps",
        Neither,
        NonNegative,
        "bounds",
        "the source and all peers present",
        KLR,
        "Largest rate the swarm could sustain to every peer: r_max(t) = min(u_s, (u_s + sum of peer uploads u_i) / n(t)) with the peers present at t, time-averaged over instants with at least one peer."
    ),
    m!(
        "continuity_bound",
        "continuity bound",
        "ratio",
        Neither,
        Unit,
        "bounds",
        "the source and all peers present",
        KLR,
        "Upper bound on continuity_pooled from r_max: the peer-weighted time average of min(1, r_max(t) / r), i.e. sum over time of n(t) min(1, r_max(t)/r) dt over sum of n(t) dt."
    ),
    m!(
        "capacity_bound",
        "capacity bound",
        "ratio",
        Neither,
        Unit,
        "bounds",
        "the source and all peers present",
        OWN,
        "A finite-horizon bound on continuity_pooled: min(1, upload capacity of the source and every peer over the run / (chunk bytes on the wire x chunks due)). Every played chunk crossed some node's upload link at least once."
    ),
    m!(
        "efficiency",
        "efficiency",
        "ratio",
        Higher,
        NonNegative,
        "bounds",
        DUE,
        OWN,
        "continuity_pooled / continuity_bound: how close the protocol comes to the bound."
    ),
    m!(
        "bytes_sent",
        "bytes sent",
        "bytes",
        Neither,
        NonNegative,
        "conservation",
        NET,
        OWN,
        "Wire bytes accepted onto upload queues. The run checks bytes_sent = bytes_delivered + bytes_lost + bytes_lost_departed + bytes_discarded + bytes_queued."
    ),
    m!(
        "bytes_delivered",
        "bytes delivered",
        "bytes",
        Neither,
        NonNegative,
        "conservation",
        NET,
        OWN,
        "Wire bytes handed to a receiver that was still present."
    ),
    m!(
        "bytes_lost",
        "bytes lost",
        "bytes",
        Neither,
        NonNegative,
        "conservation",
        NET,
        OWN,
        "Wire bytes of messages dropped by per-datagram loss (network.loss)."
    ),
    m!(
        "bytes_lost_departed",
        "bytes to departed",
        "bytes",
        Neither,
        NonNegative,
        "conservation",
        NET,
        OWN,
        "Wire bytes that arrived after their receiver had left."
    ),
    m!(
        "bytes_discarded",
        "bytes discarded",
        "bytes",
        Neither,
        NonNegative,
        "conservation",
        NET,
        OWN,
        "Wire bytes still queued at a sender when it left (never sent)."
    ),
    m!(
        "bytes_queued",
        "bytes queued",
        "bytes",
        Neither,
        NonNegative,
        "conservation",
        NET,
        OWN,
        "Wire bytes queued or in flight when the run ended."
    ),
    m!(
        "dropped_messages",
        "dropped",
        "messages",
        Neither,
        NonNegative,
        "hostile input",
        NET,
        OWN,
        "Well-formed messages a node's protocol dropped before they touched its state because a value was implausible (issue 14), summed over the dropped.<reason> metrics. Not judged: it counts what attackers (or broken peers) sent, not how well the swarm did."
    ),
    m!(
        "dropped.<reason>",
        "dropped",
        "messages",
        Neither,
        NonNegative,
        "hostile input",
        NET,
        OWN,
        "Messages dropped for one reason. future-chunk: a chunk numbered beyond the receiver's live point plus the 5 s clock-skew allowance; future-map: a buffer map advertising chunks beyond it; chunk-to-source: a chunk sent to the source; bad-stripe: a tree message (Join, JoinAck, Detach, Heartbeat) for a stripe no protocol has (64 or more). One metric per reason, 0 when none was dropped."
    ),
    m!(
        "attackers",
        "attackers",
        "peers",
        Neither,
        NonNegative,
        "attacks and defences",
        PEERS,
        OWN,
        "Peers running an [[attack]] behaviour. This and the following security metrics are reported only for runs with attackers or defences."
    ),
    m!(
        "continuity_honest",
        "honest cont.",
        "ratio",
        Higher,
        Unit,
        "attacks and defences",
        HONEST,
        DONET,
        "continuity_mean over honest peers only (a corrupted chunk that was played counts as played)."
    ),
    m!(
        "clean_continuity_honest",
        "clean cont.",
        "ratio",
        Higher,
        Unit,
        "attacks and defences",
        HONEST,
        POLL,
        "Mean over honest peers with a deadline of (played - corrupted played) / due: continuity counting only intact chunks."
    ),
    m!(
        "polluted_played_share",
        "polluted",
        "ratio",
        Lower,
        Unit,
        "attacks and defences",
        HONEST,
        POLL,
        "Corrupted chunks played / chunks played, pooled over honest peers."
    ),
    m!(
        "rejected_chunks",
        "rejected",
        "chunks",
        Neither,
        NonNegative,
        "attacks and defences",
        PEERS,
        OWN,
        "Chunks dropped by the integrity check (defence.integrity: source-signed chunks), summed over peers."
    ),
    m!(
        "wasted_upload_share",
        "wasted up",
        "ratio",
        Lower,
        Unit,
        "attacks and defences",
        "every node's media uploads",
        POLL,
        "Wire bytes of corrupted chunks uploaded by anyone (attackers and honest relays) / media bytes uploaded."
    ),
    m!(
        "attacker_upload_share",
        "attacker up",
        "ratio",
        Neither,
        Unit,
        "attacks and defences",
        "every node's media uploads",
        OWN,
        "Media bytes uploaded by attackers / media bytes uploaded by all nodes."
    ),
    m!(
        "eject_time_p50",
        "eject p50",
        "s",
        Lower,
        NonNegative,
        "attacks and defences",
        "honest-attacker relations (partner, parent, child)",
        OWN,
        "Median duration of the honest-attacker relations that the honest side ended while both were present: how fast defences (or ordinary churn handling) drop attackers."
    ),
    m!(
        "eject_time_mean",
        "eject mean",
        "s",
        Lower,
        NonNegative,
        "attacks and defences",
        "honest-attacker relations (partner, parent, child)",
        OWN,
        "Mean duration of those relations."
    ),
    m!(
        "ejected_share",
        "ejected",
        "ratio",
        Higher,
        Unit,
        "attacks and defences",
        "honest-attacker relations (partner, parent, child)",
        OWN,
        "Honest-attacker relations that the honest side ended / all honest-attacker relations (the rest lasted until one side left or the run ended)."
    ),
    m!(
        "victim_continuity",
        "victim cont.",
        "ratio",
        Higher,
        Unit,
        "attacks and defences",
        "the Sybil attack's victim",
        "Douceur, The Sybil Attack, IPTPS 2002",
        "Continuity of the peer that the Sybil identities aim at (played / due)."
    ),
    m!(
        "address_exposure_mean",
        "exposure mean",
        "peers",
        Lower,
        NonNegative,
        "cost",
        PEERS,
        OWN,
        "Per peer, the number of distinct other nodes (the tracker excluded) that learned its address: it sent them a message, or they received a member list or root path naming it; mean over peers. The privacy cost of the overlay."
    ),
    m!(
        "address_exposure_p95",
        "exposure p95",
        "peers",
        Lower,
        NonNegative,
        "cost",
        PEERS,
        OWN,
        "95th percentile (nearest rank) of the per-peer address exposure."
    ),
    m!(
        "source_exposure",
        "source exposure",
        "peers",
        Neither,
        NonNegative,
        "cost",
        "the source",
        OWN,
        "Distinct nodes (the tracker excluded) that learned the source's address: who could aim a denial-of-service attack at it."
    ),
    m!(
        "recovery_time",
        "recovery",
        "s",
        Lower,
        NonNegative,
        "quality",
        "all peers, per time bucket",
        OWN,
        "How long continuity takes to come back after a disruption of the [[timeline]] (source or tracker outage, partition, bandwidth drop). Reference: the pooled continuity of the 60 s before the first disruptive event. Clock: from the last restoring event (source or tracker back up, partition healed, bandwidth restored) after it. Value: the time until the first time bucket (the buckets of timeseries.csv: about 600 per run, at least 1 s) from which 10 s of buckets all reach 0.9 x the reference (buckets where nothing was due count as reached). Undefined (- in tables, empty in CSV) without a disruption followed by a restoration, or when continuity never recovers before the end."
    ),
];

/// The definition of a metric by its name (`upload_util.<anything>` maps to
/// the per-class entry, `dropped.<anything>` to the per-reason one).
pub fn lookup(name: &str) -> Option<&'static MetricDef> {
    let key = if name.starts_with("upload_util.") {
        "upload_util.<class>"
    } else if name.starts_with("dropped.") {
        "dropped.<reason>"
    } else {
        name
    };
    METRICS.iter().find(|d| d.name == key)
}

fn better_word(b: Better) -> &'static str {
    match b {
        Better::Higher => "higher",
        Better::Lower => "lower",
        Better::Neither => "neither (descriptive)",
    }
}

fn range_word(r: Range) -> &'static str {
    match r {
        Range::Unit => "0 to 1",
        Range::NonNegative => ">= 0",
    }
}

/// Groups in order of first appearance, each with its metrics.
fn groups() -> Vec<(&'static str, Vec<&'static MetricDef>)> {
    let mut out: Vec<(&'static str, Vec<&'static MetricDef>)> = Vec::new();
    for d in METRICS {
        match out.iter_mut().find(|(g, _)| *g == d.group) {
            Some((_, v)) => v.push(d),
            None => out.push((d.group, vec![d])),
        }
    }
    out
}

/// The glossary as plain text (`swarmlab metrics`).
pub fn text() -> String {
    let mut s = String::from(
        "swarmlab metrics: every metric of summary.csv, compare.csv, replications.csv and sweep.csv\n\
         (units as in the CSV `unit` column; `ratio` is a dimensionless quotient; `better` is the\n\
         direction that `swarmlab check` judges; citations: docs/references.md)\n",
    );
    for (group, defs) in groups() {
        s.push_str(&format!("\n== {group}\n"));
        for d in defs {
            s.push_str(&format!(
                "\n{}  [{}]  better: {}  range: {}\n",
                d.name,
                d.unit,
                better_word(d.better),
                range_word(d.range)
            ));
            for line in wrap(d.definition, 76) {
                s.push_str(&format!("    {line}\n"));
            }
            s.push_str(&format!("    covers: {}\n    follows: {}\n", d.covers, d.follows));
        }
    }
    s
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("non-empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// The glossary as Markdown: the content of `docs/metrics.md`.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Metrics\n\n\
         <!-- Generated by `cargo run --release -- metrics --markdown > docs/metrics.md` from\n\
         analysis/src/glossary.rs; tests/docs_sync.rs fails when this file differs. -->\n\n\
         Every metric that `swarmlab run`, `compare`, `sweep` and `check` report, as in the\n\
         `metric` and `unit` columns of summary.csv, compare.csv, replications.csv and\n\
         sweep.csv. `ratio` is a dimensionless quotient. *Better* is the direction of\n\
         improvement (`swarmlab check` flags a change in the other direction); descriptive\n\
         metrics are not judged. *Covers* says which peers or nodes the value is computed\n\
         over. *Follows* names the work whose definition the metric takes (full citations in\n\
         [references.md](references.md)); \"swarmlab's own\" means no published definition is\n\
         claimed. Percentiles are nearest-rank. An undefined value (no peer played, no\n\
         disruption, ...) is printed as `-` and written as an empty CSV field.\n\n\
         `swarmlab metrics` prints the same text in the terminal.\n",
    );
    for (group, defs) in groups() {
        if !s.ends_with("\n\n") {
            s.push('\n');
        }
        s.push_str(&format!(
            "## {group}\n\n| metric | unit | better | range | covers | follows |\n|---|---|---|---|---|---|\n"
        ));
        for e in &defs {
            s.push_str(&format!(
                "| [`{}`](#{}) | {} | {} | {} | {} | {} |\n",
                e.name,
                anchor(e.name),
                e.unit,
                better_word(e.better),
                range_word(e.range),
                e.covers,
                e.follows
            ));
        }
        s.push('\n');
        for d in &defs {
            s.push_str(&format!("### {}\n\n{}\n\n", d.name, d.definition));
        }
    }
    s.truncate(s.trim_end().len());
    s.push('\n');
    s
}

/// GitHub's anchor for a `### name` heading.
fn anchor(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            ' ' => Some('-'),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defined() {
        for (i, d) in METRICS.iter().enumerate() {
            assert!(!d.definition.is_empty() && !d.covers.is_empty() && !d.follows.is_empty(), "{}", d.name);
            assert!(METRICS[..i].iter().all(|e| e.name != d.name), "{} twice", d.name);
        }
    }

    /// The per-reason definition names every reason a protocol can drop for.
    #[test]
    fn every_drop_reason_is_defined() {
        let d = lookup("dropped.<reason>").expect("defined");
        for r in protocols::DropReason::ALL {
            assert!(d.definition.contains(&format!("{}:", r.name())), "{} not in the glossary", r.name());
        }
    }

    #[test]
    fn per_class_metrics_resolve() {
        assert_eq!(lookup("upload_util.dsl").map(|d| d.name), Some("upload_util.<class>"));
        assert_eq!(lookup("dropped.future-map").map(|d| d.name), Some("dropped.<reason>"));
        assert_eq!(lookup("continuity_pooled").map(|d| d.unit), Some("ratio"));
        assert!(lookup("no_such_metric").is_none());
    }

    #[test]
    fn markdown_links_every_metric_to_its_section() {
        let md = markdown();
        for d in METRICS {
            assert!(md.contains(&format!("### {}\n", d.name)), "{}", d.name);
            assert!(md.contains(&format!("(#{})", anchor(d.name))), "{}", d.name);
        }
        assert_eq!(anchor("upload_util.<class>"), "upload_utilclass");
    }
}
