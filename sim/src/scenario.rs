//! The scenario file format (TOML) and its validation.
//!
//! One file describes one experiment: the stream, the source and tracker,
//! the peers and their bandwidth classes, churn, the network, the protocol and
//! its parameters, the player, and the seed. Every key has a default documented
//! beside it (see `docs` in the README and `scenarios/*.toml`); unknown keys are
//! errors. Every error names the file, line, column and key, the bad value and
//! what is allowed ([`ScenarioError`]); nothing here panics on bad input.
//!
//! `[protocol]` is read against the installed registry
//! ([`crate::registry::current`]): family and scheduler names, and each
//! `[protocol.<section>]` (and `[variants.params.<section>]`) table by its
//! registered parameter type (`protocols::params`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use protocols::params::{
    Count, HybridModeName, HybridSection, MeshSection, ParamCtx, Params, TreeSection, ValueSchema,
};
use schemars::JsonSchema;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::latency::LatencySpec;
use crate::registry::{self, AnySection, Registry, Seg};

macro_rules! checked_f64 {
    ($(#[$doc:meta])* $name:ident, $ok:expr, $expect:literal, $schema:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
        pub struct $name(pub f64);
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_f64(self.0)
            }
        }
        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::Schema::from(crate::schema::value_schema(&$schema))
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = f64::deserialize(d)?;
                let ok: fn(f64) -> bool = $ok;
                if v.is_finite() && ok(v) {
                    Ok($name(v))
                } else {
                    Err(de::Error::custom(format!("invalid value {v}: expected {}", $expect)))
                }
            }
        }
    };
}

checked_f64!(
    /// A strictly positive finite number (rates, durations that must pass).
    Positive, |v| v > 0.0, "a number > 0",
    ValueSchema::Number { min: Some(0.0), exclusive: true, max: None }
);
checked_f64!(
    /// A peer's upload capacity, kbps: strictly positive, since every message
    /// a peer sends (register, hello, requests, buffer maps) crosses its
    /// upload link; 0 would silence it, not make it a non-contributor.
    UploadKbps, |v| v > 0.0,
    "a number > 0 (every message a peer sends crosses its upload link; for a peer that uploads no media, give it a few kbps for its control messages or make it an attacker: [[attack]] kind = \"free-rider\")",
    ValueSchema::Number { min: Some(0.0), exclusive: true, max: None }
);
checked_f64!(
    /// A finite number >= 0.
    NonNegative, |v| v >= 0.0, "a number >= 0",
    ValueSchema::Number { min: Some(0.0), exclusive: false, max: None }
);
checked_f64!(
    /// A fraction in [0, 1].
    Fraction, |v| (0.0..=1.0).contains(&v), "a fraction between 0 and 1",
    ValueSchema::Number { min: Some(0.0), exclusive: false, max: Some(1.0) }
);

/// A whole scenario.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name used in outputs; default: the file stem.
    #[serde(default)]
    pub name: Option<String>,
    /// Run seed (default 1). `--seed` overrides it.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated seconds (default 300).
    #[serde(default = "default_duration")]
    #[schemars(range(max = 2_592_000))]
    pub duration_s: Positive,
    /// Replications: seeds `seed`, `seed + 1`, ... `seed + reps - 1` (default 1).
    /// `--reps` overrides it.
    #[serde(default = "default_reps")]
    #[schemars(with = "u32")]
    #[schemars(range(min = 1, max = 10_000))]
    pub reps: Spanned<u32>,
    #[serde(default)]
    pub stream: StreamSpec,
    #[serde(default)]
    pub source: SourceSpec,
    #[serde(default)]
    pub tracker: TrackerSpec,
    pub peers: PeersSpec,
    #[serde(default)]
    pub churn: ChurnSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub protocol: ProtocolSpec,
    #[serde(default)]
    pub player: PlayerSpec,
    /// `[[variants]]`: protocol/scheduler variants that `swarmlab compare`
    /// runs on the same population, network and seed.
    #[serde(default)]
    pub variants: Vec<VariantSpec>,
    /// `[[timeline]]`: events at given times (outages, partitions, bandwidth changes).
    #[serde(default)]
    pub timeline: Vec<TimelineSpec>,
    /// `[bandwidth]`: time-varying upload capacity of peers.
    #[serde(default)]
    pub bandwidth: BandwidthSpec,
    /// `[[attack]]`: groups of malicious peers.
    #[serde(default)]
    pub attack: Vec<AttackSpec>,
    /// `[defence]`: defences every peer applies.
    #[serde(default)]
    pub defence: DefenceSpec,
    /// `[cdn]`: the CDN edge server of families that fall back to one
    /// (`cdn-p2p`) and the price of CDN delivery; with it, every family
    /// reports the delivery-cost metrics.
    #[serde(default)]
    pub cdn: Option<CdnSpec>,
    /// `[energy]`: the per-node energy model; with it, every run reports
    /// the energy metrics.
    #[serde(default)]
    pub energy: Option<EnergySpec>,
    /// `[nat]`: peers behind NATs that accept no unsolicited connections.
    #[serde(default)]
    pub nat: Option<NatSpec>,
    /// `[isp]`: peers' ISPs (the transit-stub model's stub domains) and
    /// locality-aware tracker sampling.
    #[serde(default)]
    pub isp: Option<IspSpec>,
}

/// `[isp]`: every node belongs to the ISP of its stub domain
/// (`network.latency.model = "transit-stub"`); the tracker biases its
/// samples towards the asker's ISP (P4P-style).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IspSpec {
    /// Share of a tracker list drawn from the asker's own ISP (as far as it
    /// has members), the rest uniformly from all (default 0: uniform).
    #[serde(default = "d_zero_frac")]
    pub locality: Fraction,
}

/// `[nat]`: which peers are behind a NAT (or firewall) that accepts no
/// unsolicited connection. Two such peers can exchange nothing directly.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatSpec {
    /// Share of peers behind such a NAT (default 0.64: Halkes and Pouwelse
    /// 2011, Tribler peers behind a NAT or firewall).
    #[serde(default = "d_nat_share")]
    pub share: Fraction,
    /// `[[nat.classes]]`: per bandwidth class, a share replacing `share`.
    #[serde(default)]
    pub classes: Vec<NatClassSpec>,
}

/// `[[nat.classes]]`: the NAT share of one bandwidth class.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatClassSpec {
    /// Name of a `[[peers.classes]]` entry.
    #[schemars(with = "String")]
    pub class: Spanned<String>,
    /// Share of this class's peers behind a NAT.
    pub share: Fraction,
}
fn d_nat_share() -> Fraction {
    Fraction(0.64)
}

/// `[energy]`: idle power and energy per bit of each kind of node, and the
/// network's energy per byte carried. Defaults in docs/scenario.md, with
/// their sources and why the ones that are 0 stay 0.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnergySpec {
    /// Network electricity intensity, kWh per 10^9 bytes carried (default
    /// 0.06: Aslan et al. 2018's estimate for fixed-line networks in 2015).
    #[serde(default = "d_network_kwh")]
    pub network_kwh_per_gb: NonNegative,
    /// Every peer's power while present, W: its home gateway (default 9.9:
    /// the mean power of a French ISP box with Wi-Fi on, 2022, Arcep "Pour un
    /// numérique soutenable" 2024, 95% of it independent of use).
    #[serde(default = "d_peer_idle_w")]
    pub peer_idle_w: NonNegative,
    /// Every peer's energy per bit it sends, nJ/bit (default 0: a gateway's
    /// draw barely depends on its traffic, and no source gives a per-bit
    /// figure to convert).
    #[serde(default = "d_zero")]
    pub peer_up_nj_per_bit: NonNegative,
    /// Every peer's energy per bit it receives, nJ/bit (default 0, as
    /// `peer_up_nj_per_bit`).
    #[serde(default = "d_zero")]
    pub peer_down_nj_per_bit: NonNegative,
    /// The source's power while present, W (default 0: the source, like the
    /// edge, is charged per bit served, its share of a shared server; no
    /// idle power of a dedicated streaming server could be read in a source).
    #[serde(default = "d_zero")]
    pub source_idle_w: NonNegative,
    /// The source's energy per bit sent, nJ/bit (default 0.85, as
    /// `edge_nj_per_bit`: in client-server the source is the CDN).
    #[serde(default = "d_server_nj_per_bit")]
    pub source_nj_per_bit: NonNegative,
    /// The CDN edge's power while present, W (default 0, as `source_idle_w`).
    #[serde(default = "d_zero")]
    pub edge_idle_w: NonNegative,
    /// The CDN edge's energy per bit served, nJ/bit (default 0.85: a CDN edge
    /// server serving live streams at 1.18 Gb/s per W, Varnish, Intel and
    /// Supermicro's 2023 measurement, read in trade press; the server's whole
    /// power at full load, so a lower bound).
    #[serde(default = "d_server_nj_per_bit")]
    pub edge_nj_per_bit: NonNegative,
    /// `[[energy.classes]]`: per bandwidth class, values replacing the
    /// `peer_*` ones.
    #[serde(default)]
    pub classes: Vec<EnergyClassSpec>,
}

/// `[[energy.classes]]`: the energy model of one bandwidth class's peers.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnergyClassSpec {
    /// Name of a `[[peers.classes]]` entry.
    #[schemars(with = "String")]
    pub class: Spanned<String>,
    /// Power while present, W (default: `energy.peer_idle_w`).
    #[serde(default)]
    pub idle_w: Option<NonNegative>,
    /// Energy per bit sent, nJ/bit (default: `energy.peer_up_nj_per_bit`).
    #[serde(default)]
    pub up_nj_per_bit: Option<NonNegative>,
    /// Energy per bit received, nJ/bit (default: `energy.peer_down_nj_per_bit`).
    #[serde(default)]
    pub down_nj_per_bit: Option<NonNegative>,
}
fn d_network_kwh() -> NonNegative {
    NonNegative(0.06)
}
fn d_peer_idle_w() -> NonNegative {
    NonNegative(9.9)
}
fn d_zero() -> NonNegative {
    NonNegative(0.0)
}
/// 1 / (1.18 Gb/s per W) = 0.847 nJ/bit, rounded (docs/scenario.md).
fn d_server_nj_per_bit() -> NonNegative {
    NonNegative(0.85)
}

/// `[cdn]`: the CDN edge server and the price of CDN egress.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CdnSpec {
    /// Edge upload capacity, kbps (default 1000000: 1 Gbps).
    #[serde(default = "d_edge_bw")]
    pub edge_up_kbps: Positive,
    /// Edge download capacity, kbps (default 1000000).
    #[serde(default = "d_edge_bw")]
    pub edge_down_kbps: Positive,
    /// One-way propagation delay between the edge and every other node, ms
    /// (default 10: an edge near its viewers).
    #[serde(default = "d_edge_latency")]
    pub edge_latency_ms: NonNegative,
    /// Price of 10^9 bytes of egress from the source and the edge, in any
    /// currency (default 0.02).
    #[serde(default = "d_price")]
    pub price_per_gb: NonNegative,
}
fn d_edge_bw() -> Positive {
    Positive(1_000_000.0)
}
fn d_edge_latency() -> NonNegative {
    NonNegative(10.0)
}
fn d_price() -> NonNegative {
    NonNegative(0.02)
}
impl Default for CdnSpec {
    fn default() -> Self {
        CdnSpec {
            edge_up_kbps: d_edge_bw(),
            edge_down_kbps: d_edge_bw(),
            edge_latency_ms: d_edge_latency(),
            price_per_gb: d_price(),
        }
    }
}

/// `[[attack]]`: a group of malicious peers running one behaviour
/// (see `protocols::adversary`). Give `share` or `count`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttackSpec {
    /// What the group does.
    pub kind: AttackKind,
    /// Share of the run's peers (initial ones and arrivals) in the group.
    #[serde(default)]
    pub share: Option<Fraction>,
    /// Or an exact number of peers (at most `peers.count`).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub count: Option<Spanned<u32>>,
    /// `polluter`: seconds of pollution per period (with `off_s`; default: always).
    #[serde(default)]
    pub on_s: Option<Positive>,
    /// `polluter`: seconds of honest behaviour per period.
    #[serde(default)]
    pub off_s: Option<Positive>,
    /// `capacity-liar`: advertised upload as a multiple of the real one (default 10, 2 to 1000).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(range(min = 2, max = 1000))]
    pub factor: Option<Spanned<u32>>,
    /// `sybil`: node id of the victim (default 2, the first peer to join; the
    /// victim is always honest).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(range(min = 2))]
    pub victim: Option<Spanned<u32>>,
}

/// Attack kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    Polluter,
    FreeRider,
    MapLiar,
    Withholder,
    Sybil,
    CapacityLiar,
    Forger,
}

impl AttackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttackKind::Polluter => "polluter",
            AttackKind::FreeRider => "free-rider",
            AttackKind::MapLiar => "map-liar",
            AttackKind::Withholder => "withholder",
            AttackKind::Sybil => "sybil",
            AttackKind::CapacityLiar => "capacity-liar",
            AttackKind::Forger => "forger",
        }
    }
}

/// `[defence]`: switchable defences (see `protocols::adversary`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefenceSpec {
    /// Source-signed chunks, verified by every receiver (64 bytes per chunk). Default false.
    #[serde(default)]
    pub integrity: bool,
    /// Eject for good a peer that sent a chunk failing verification, or a
    /// message the receiver's protocol dropped as implausible (needs `integrity`). Default false.
    #[serde(default)]
    pub blacklist: bool,
    /// Eject neighbours that deliver too little of what they are asked. Default false.
    #[serde(default)]
    pub scoring: bool,
    /// Mesh requests unanswered for `protocol.mesh.request_timeout_s` are re-issued elsewhere (default true).
    #[serde(default = "d_true")]
    pub request_timeout: bool,
    /// Period of the scoring check and of Sybil requests, seconds (default 10).
    #[serde(default)]
    pub check_interval_s: Option<Positive>,
    /// Chunks asked of a neighbour in one period before scoring judges it (default 8).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(range(min = 1, max = 100_000))]
    pub score_min_requests: Option<Spanned<u32>>,
    /// A judged neighbour delivering less than this share is ejected (default 0.25).
    #[serde(default)]
    pub score_min_ratio: Option<Fraction>,
    /// How long a scoring ejection lasts, seconds (default 120).
    #[serde(default)]
    pub ban_s: Option<Positive>,
}

impl Default for DefenceSpec {
    fn default() -> Self {
        DefenceSpec {
            integrity: false,
            blacklist: false,
            scoring: false,
            request_timeout: true,
            check_interval_s: None,
            score_min_requests: None,
            score_min_ratio: None,
            ban_s: None,
        }
    }
}

impl DefenceSpec {
    /// True when any defence differs from "none" (request timeouts are on by default).
    pub fn any(&self) -> bool {
        self.integrity || self.blacklist || self.scoring || !self.request_timeout
    }
}

/// `[[timeline]]`: one event of the scenario's timeline.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineSpec {
    /// When, in seconds from the start.
    pub at_s: NonNegative,
    /// What happens.
    pub event: TimelineEvent,
    /// `partition`: share of peers cut off from the rest (tracker and source
    /// stay with the others), chosen by a hash of the peer id (default 0.5).
    #[serde(default)]
    pub fraction: Option<Fraction>,
    /// `bandwidth`: class name whose upload changes (default: every class).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub class: Option<Spanned<String>>,
    /// `bandwidth`: upload becomes this multiple of the class's nominal upload
    /// (1 restores it; default 0.5).
    #[serde(default)]
    pub up_factor: Option<NonNegative>,
    /// `bandwidth`: download becomes this multiple of the class's nominal
    /// download (default: unchanged).
    #[serde(default)]
    pub down_factor: Option<NonNegative>,
}

/// Timeline events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TimelineEvent {
    /// The source loses its network connection (it keeps producing chunks).
    SourceDown,
    SourceUp,
    /// The tracker loses its network connection.
    TrackerDown,
    TrackerUp,
    /// The network splits: `fraction` of the peers cannot reach the others.
    Partition,
    Heal,
    /// A class's upload changes to `up_factor` x nominal.
    Bandwidth,
}

/// `[bandwidth]`: time-varying upload capacity.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BandwidthSpec {
    /// `constant` (default) or `markov`: each peer's upload is its class's
    /// nominal upload times the current level, held for an exponential time.
    #[serde(default)]
    pub model: BandwidthModel,
    /// Markov levels, multiples of nominal upload (default [1.0, 0.5]).
    #[serde(default)]
    #[schemars(with = "Option<Vec<f64>>")]
    #[schemars(length(min = 1, max = 16), inner(range(min = 0, max = 100)))]
    pub levels: Option<Spanned<Vec<f64>>>,
    /// Mean holding time of a level, seconds (default 30).
    #[serde(default)]
    pub mean_hold_s: Option<Positive>,
    /// `trace`: CSV `t_s,target,up_factor` (path relative to the scenario
    /// file): at `t_s` the upload of `target` (empty: every peer; a class name;
    /// or `peer:<node id>`) becomes `up_factor` x nominal.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub trace_file: Option<Spanned<String>>,
    /// Trace rows, read by [`Scenario::load`].
    #[serde(skip)]
    pub trace: Vec<BandwidthRow>,
}

/// One line of a bandwidth trace.
#[derive(Clone, Debug, PartialEq)]
pub struct BandwidthRow {
    pub t_s: f64,
    pub target: BandwidthTarget,
    pub up_factor: f64,
    /// Optional fourth column: the new download as a multiple of nominal.
    pub down_factor: Option<f64>,
}

/// Whose upload a bandwidth trace line changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BandwidthTarget {
    AllPeers,
    /// Index into the scenario's classes.
    Class(usize),
    /// A node id.
    Peer(u32),
}

/// Bandwidth models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BandwidthModel {
    #[default]
    Constant,
    Markov,
    /// Upload changes read from `trace_file`.
    Trace,
}

/// `[[variants]]`: one protocol variant of a comparison. Unset keys keep the
/// values of `[protocol]`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Row label (default `protocol/scheduler`).
    #[serde(default)]
    pub label: Option<String>,
    /// Protocol family.
    #[serde(default)]
    pub protocol: Option<FamilyName>,
    /// Chunk scheduler.
    #[serde(default)]
    pub scheduler: Option<SchedulerName>,
    /// Tree-push stripes (`protocol.tree.stripes`, 1 to 64).
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::param_value::<Count<1, 64>>")]
    pub stripes: Option<Count<1, 64>>,
    /// Hybrid mode (`protocol.hybrid.mode`).
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::param_value::<HybridModeName>")]
    pub mode: Option<HybridModeName>,
    /// Defences of this variant (replaces `[defence]` wholesale).
    #[serde(default)]
    pub defence: Option<DefenceSpec>,
    /// `[variants.params.<section>]`: keys of registered sections this
    /// variant changes; the others keep the scenario's `[protocol.<section>]`.
    #[serde(default)]
    pub params: Option<VariantParams>,
}

/// A variant's `[variants.params]`: tables named after registered sections.
/// Names are checked while deserializing; [`Scenario::parse`] reads the
/// values (each by its section type, with located errors) and merges them
/// over the scenario's sections.
#[derive(Clone, Debug, Default)]
pub struct VariantParams {
    /// Section tables written, in file order.
    written: Vec<String>,
    /// The variant's effective sections: the scenario's, with its keys applied.
    pub sections: Sections,
    /// `key=value` of every key written, in key order (for the default label).
    pub changes: Vec<String>,
}

impl<'de> Deserialize<'de> for VariantParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = VariantParams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "tables named after registered sections")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<VariantParams, A::Error> {
                let mut p = VariantParams::default();
                while let Some(k) = map.next_key_seed(ProtocolKey { names: false })? {
                    map.next_value::<de::IgnoredAny>()?;
                    p.written.push(k);
                }
                Ok(p)
            }
        }
        d.deserialize_map(V)
    }
}

impl Scenario {
    /// The scenario with `v`'s protocol choices applied, and the variant's label.
    pub fn with_variant(&self, v: &VariantSpec) -> (Scenario, String) {
        let mut sc = self.clone();
        sc.variants.clear();
        if let Some(p) = &v.protocol {
            sc.protocol.name = p.0.clone();
        }
        if let Some(s) = &v.scheduler {
            sc.protocol.scheduler = s.0.clone();
        }
        if let Some(p) = &v.params {
            for (name, value) in p.sections.iter() {
                sc.protocol.sections.0.insert(name.to_string(), value.clone_box());
            }
        }
        if let Some(k) = v.stripes {
            let mut t: TreeSection = sc.protocol.section();
            t.stripes = k;
            sc.protocol.set_section(t);
        }
        if let Some(m) = v.mode {
            let mut h: HybridSection = sc.protocol.section();
            h.mode = m;
            sc.protocol.set_section(h);
        }
        if let Some(d) = &v.defence {
            sc.defence = d.clone();
        }
        let label = v.label.clone().unwrap_or_else(|| {
            let mut l = sc.variant_label();
            for c in v.params.iter().flat_map(|p| &p.changes) {
                l.push('+');
                l.push_str(c);
            }
            if let Some(d) = &v.defence {
                for (on, name) in [
                    (d.integrity, "+integrity"),
                    (d.blacklist, "+blacklist"),
                    (d.scoring, "+scoring"),
                    (!d.request_timeout, "-timeouts"),
                ] {
                    if on {
                        l.push_str(name);
                    }
                }
                if !d.any() {
                    l.push_str("+no-defence");
                }
            }
            l
        });
        (sc, label)
    }

    /// The label of the scenario's protocol choice in comparisons, from its
    /// family (`mesh-pull/donet`, `tree-push/k=4`, `hybrid/treebone/donet`,
    /// `client-server`).
    pub fn variant_label(&self) -> String {
        match registry::current().find_family(&self.protocol.name) {
            Some(f) => (f.label)(self),
            None => self.protocol.name.clone(),
        }
    }
}

fn default_seed() -> u64 {
    1
}
fn default_reps() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
fn default_duration() -> Positive {
    Positive(300.0)
}

/// `[stream]`: the live stream.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// Media rate, kbps (default 500).
    #[serde(default = "d_rate")]
    pub rate_kbps: Positive,
    /// Media seconds per chunk (default 1).
    #[serde(default = "d_one")]
    pub chunk_s: Positive,
}
fn d_rate() -> Positive {
    Positive(500.0)
}
fn d_one() -> Positive {
    Positive(1.0)
}
impl Default for StreamSpec {
    fn default() -> Self {
        StreamSpec { rate_kbps: d_rate(), chunk_s: d_one() }
    }
}

/// `[source]`: the stream origin.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Upload capacity, kbps (default 2000: four copies of a 500 kbps stream).
    #[serde(default = "d_source_up")]
    pub up_kbps: Positive,
    /// Download capacity, kbps (default 100000).
    #[serde(default = "d_big")]
    pub down_kbps: Positive,
}
fn d_source_up() -> Positive {
    Positive(2000.0)
}
fn d_big() -> Positive {
    Positive(100_000.0)
}
impl Default for SourceSpec {
    fn default() -> Self {
        SourceSpec { up_kbps: d_source_up(), down_kbps: d_big() }
    }
}

/// `[tracker]`: the bootstrap directory.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackerSpec {
    /// Upload and download capacity, kbps (default 100000).
    #[serde(default = "d_big")]
    pub up_kbps: Positive,
}
impl Default for TrackerSpec {
    fn default() -> Self {
        TrackerSpec { up_kbps: d_big() }
    }
}

/// `[peers]`: the initial population and bandwidth classes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeersSpec {
    /// Peers present at the start (they join uniformly over `join_window_s`).
    #[schemars(with = "u32")]
    #[schemars(range(max = 2_000_000))]
    pub count: Spanned<u32>,
    /// Seconds over which the initial peers join (default 10; at most 30 days).
    #[serde(default = "d_join_window")]
    #[schemars(range(max = 2_592_000))]
    pub join_window_s: NonNegative,
    /// Bandwidth classes; shares must sum to 1. Default: one class, 1000/8000 kbps.
    #[serde(default)]
    #[schemars(with = "Option<Vec<ClassSpec>>")]
    pub classes: Option<Spanned<Vec<ClassSpec>>>,
}
fn d_join_window() -> NonNegative {
    NonNegative(10.0)
}

/// `[[peers.classes]]`: one bandwidth class.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassSpec {
    /// Name in reports (default `class<i>`).
    #[serde(default)]
    pub name: Option<String>,
    /// Fraction of peers in this class.
    pub share: Fraction,
    /// Upload capacity, kbps (> 0: every message a peer sends crosses its upload link).
    pub up_kbps: UploadKbps,
    /// Download capacity, kbps.
    pub down_kbps: Positive,
}

/// `[churn]`: arrivals after the start and session lengths.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChurnSpec {
    /// `none` (default: nobody leaves, no arrivals after the start), `poisson`
    /// (Poisson arrivals, sessions from `session`), or `trace` (joins and
    /// leaves read from `trace_file`).
    #[serde(default)]
    pub model: ChurnModel,
    /// Poisson arrival rate after the start, peers per second (default 0).
    #[serde(default)]
    pub arrival_rate_per_s: NonNegative,
    /// Session-length distribution: `exponential` (default), `weibull`,
    /// `log-normal` or `pareto`, each with mean `session_mean_s`.
    #[serde(default)]
    pub session: crate::dist::SessionKind,
    /// Mean session length, seconds (default 600).
    #[serde(default = "d_session")]
    pub session_mean_s: Positive,
    /// Shape: Weibull k (default 0.7), log-normal sigma (default 1.0), Pareto
    /// alpha (default 2.0, must be > 1); ignored for exponential.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    #[schemars(range(max = 100), extend("exclusiveMinimum" = 0))]
    pub session_shape: Option<Spanned<f64>>,
    /// Fraction of departures that are graceful (default 0.5); the rest crash.
    #[serde(default = "d_half")]
    pub graceful_share: Fraction,
    /// Whether the initial peers also draw session lengths (default true).
    #[serde(default = "d_true")]
    pub initial_peers_leave: bool,
    /// `[[churn.flash]]`: flash crowds (bursts of arrivals), any churn model.
    #[serde(default)]
    pub flash: Vec<FlashSpec>,
    /// Trace of joins and leaves for `model = "trace"`: a CSV file (path
    /// relative to the scenario) with header `join_s,leave_s,class`; an empty
    /// `leave_s` means the peer stays; `class` is optional (a class name).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub trace_file: Option<Spanned<String>>,
    /// Trace rows, read by [`Scenario::load`].
    #[serde(skip)]
    pub trace: Vec<TraceRow>,
}

/// `[[churn.flash]]`: a burst of `peers` arrivals starting at `at_s`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlashSpec {
    /// Start of the burst, seconds.
    pub at_s: NonNegative,
    /// Number of arriving peers.
    #[schemars(with = "u32")]
    #[schemars(range(max = 2_000_000))]
    pub peers: Spanned<u32>,
    /// `step` (all at `at_s`), `uniform` over `duration_s` (default), or
    /// `exponential` (arrival density decaying with mean `duration_s / 3`).
    #[serde(default)]
    pub shape: FlashShape,
    /// Length of the burst, seconds (default 10).
    #[serde(default = "d_flash_duration")]
    pub duration_s: NonNegative,
}

/// Shapes of a flash crowd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FlashShape {
    Step,
    #[default]
    Uniform,
    Exponential,
}

/// One line of a churn trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
    pub join_s: f64,
    pub leave_s: Option<f64>,
    /// Index into the scenario's classes (None: drawn by share).
    pub class: Option<usize>,
}

fn d_flash_duration() -> NonNegative {
    NonNegative(10.0)
}
fn d_session() -> Positive {
    Positive(600.0)
}
fn d_half() -> Fraction {
    Fraction(0.5)
}
fn d_true() -> bool {
    true
}
impl Default for ChurnSpec {
    fn default() -> Self {
        ChurnSpec {
            model: ChurnModel::None,
            arrival_rate_per_s: NonNegative(0.0),
            session: Default::default(),
            session_mean_s: d_session(),
            session_shape: None,
            graceful_share: d_half(),
            initial_peers_leave: true,
            flash: Vec::new(),
            trace_file: None,
            trace: Vec::new(),
        }
    }
}

impl ChurnSpec {
    /// The session distribution with its defaults applied.
    pub fn session_dist(&self) -> crate::dist::Session {
        use crate::dist::SessionKind as K;
        let default_shape = match self.session {
            K::Exponential => 1.0,
            K::Weibull => 0.7,
            K::LogNormal => 1.0,
            K::Pareto => 2.0,
        };
        let shape = self.session_shape.as_ref().map_or(default_shape, |s| *s.get_ref());
        crate::dist::Session::with_mean(self.session, self.session_mean_s.0, shape)
    }
}

/// Churn models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChurnModel {
    /// Nobody leaves and nobody arrives after the initial population.
    #[default]
    None,
    /// Poisson arrivals, session lengths from `churn.session`.
    Poisson,
    /// Joins and leaves from `churn.trace_file`.
    Trace,
}

/// `[network]`: the core between access links.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Probability that one datagram is lost (default 0).
    #[serde(default = "d_zero_frac")]
    pub loss: Fraction,
    /// `[network.latency]`: propagation model (default constant 50 ms).
    #[serde(default)]
    pub latency: LatencySpec,
    /// How a control message shares a busy upload link with the media
    /// message in service (default `message`).
    #[serde(default)]
    pub control_priority: ControlPriority,
}

/// How control messages (buffer maps, requests, refusals, heartbeats: every
/// message but a chunk) share a node's upload link with a chunk being
/// serialized. Either way control goes before queued chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ControlPriority {
    /// A control message waits for the whole message in service (the
    /// links serialize whole messages; the user-space pacer of `swarmlab
    /// peer` does the same).
    #[default]
    Message,
    /// A control message goes out between two datagrams of the chunk in
    /// service, whose rest waits for it: a kernel queue that serves control
    /// first per packet (`swarmlab validate --netns`: `tc tbf` over a
    /// priority `pfifo_fast`).
    Datagram,
}

impl ControlPriority {
    /// Every value, with its name in scenario files.
    pub const ALL: [(ControlPriority, &'static str); 2] =
        [(ControlPriority::Message, "message"), (ControlPriority::Datagram, "datagram")];

    /// The value's name in scenario files.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(c, _)| *c == self).map_or("", |(_, n)| n)
    }

    /// The value named `s`; the error names what is allowed.
    pub fn parse(s: &str) -> Result<ControlPriority, String> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(c, _)| *c)
            .ok_or_else(|| format!("`{s}`: allowed are `message` and `datagram`"))
    }
}
fn d_zero_frac() -> Fraction {
    Fraction(0.0)
}

/// `[protocol]`: which family runs with which scheduler, and every
/// registered `[protocol.<section>]` table (defaults for those not written).
/// Names are checked against the installed registry ([`registry::current`])
/// while deserializing; the sections are parsed by their registered types in
/// [`Scenario::parse`].
#[derive(Clone, Debug)]
pub struct ProtocolSpec {
    /// Protocol family (default: the first registered, `mesh-pull`).
    pub name: String,
    /// Chunk scheduler for pull-based protocols (default: the first registered, `donet`).
    pub scheduler: String,
    /// Every registered section, by name.
    pub sections: Sections,
    /// Sections written in the file, in file order.
    written: Vec<String>,
}

impl Default for ProtocolSpec {
    fn default() -> Self {
        let reg = registry::current();
        ProtocolSpec {
            name: reg.family_names().first().map_or(String::new(), |n| n.to_string()),
            scheduler: reg.scheduler_names().first().map_or(String::new(), |n| n.to_string()),
            sections: Sections::defaults(&reg),
            written: Vec::new(),
        }
    }
}

impl ProtocolSpec {
    /// Section `P` (its defaults when `P` is not registered).
    pub fn section<P: Params>(&self) -> P {
        self.sections.get::<P>().cloned().unwrap_or_default()
    }

    /// Replaces section `P`.
    pub fn set_section<P: Params>(&mut self, p: P) {
        self.sections.0.insert(P::SECTION.to_string(), Box::new(p));
    }
}

/// Parsed `[protocol.<section>]` values by section name.
#[derive(Debug, Default)]
pub struct Sections(BTreeMap<String, Box<dyn AnySection>>);

impl Clone for Sections {
    fn clone(&self) -> Self {
        Sections(self.0.iter().map(|(k, v)| (k.clone(), v.clone_box())).collect())
    }
}

impl Sections {
    /// Every section of `reg` at its defaults.
    pub fn defaults(reg: &Registry) -> Sections {
        Sections(reg.sections().iter().map(|e| (e.name.to_string(), e.default_value())).collect())
    }

    /// Section `P`, when present.
    pub fn get<P: Params>(&self) -> Option<&P> {
        self.0.get(P::SECTION).and_then(|v| v.as_any().downcast_ref::<P>())
    }

    /// A section by name.
    pub fn get_dyn(&self, name: &str) -> Option<&dyn AnySection> {
        self.0.get(name).map(|b| &**b)
    }

    /// Every section, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &dyn AnySection)> {
        self.0.iter().map(|(k, v)| (k.as_str(), &**v))
    }
}

impl<'de> Deserialize<'de> for ProtocolSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ProtocolVisitor)
    }
}

struct ProtocolVisitor;

/// A key of `[protocol]` (`name`, `scheduler` or a registered section) or of
/// `[variants.params]` (a registered section, `names: false`), checked while
/// deserializing the key so an error points at it.
struct ProtocolKey {
    names: bool,
}

impl<'de> de::DeserializeSeed<'de> for ProtocolKey {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let k = String::deserialize(d)?;
        let reg = registry::current();
        if (self.names && (k == "name" || k == "scheduler")) || reg.find_section(&k).is_some() {
            return Ok(k);
        }
        let sections: Vec<String> = reg.section_names().iter().map(|n| format!("`{n}`")).collect();
        let sections = if sections.is_empty() { "none".to_string() } else { sections.join(", ") };
        Err(de::Error::custom(if self.names {
            format!("unknown field `{k}`, expected `name`, `scheduler` or a registered section table: {sections}")
        } else {
            format!("unknown section `{k}`, expected a registered section table: {sections}")
        }))
    }
}

struct NameSeed(fn(&Registry) -> Vec<&str>);

impl<'de> de::DeserializeSeed<'de> for NameSeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let reg = registry::current();
        registry::checked_name(d, &(self.0)(&reg))
    }
}

impl<'de> de::Visitor<'de> for ProtocolVisitor {
    type Value = ProtocolSpec;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a [protocol] table")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ProtocolSpec, A::Error> {
        let mut spec = ProtocolSpec::default();
        while let Some(k) = map.next_key_seed(ProtocolKey { names: true })? {
            match k.as_str() {
                "name" => spec.name = map.next_value_seed(NameSeed(Registry::family_names))?,
                "scheduler" => spec.scheduler = map.next_value_seed(NameSeed(Registry::scheduler_names))?,
                _ => {
                    // Parsed by its registered type in `Scenario::parse`.
                    map.next_value::<de::IgnoredAny>()?;
                    spec.written.push(k);
                }
            }
        }
        Ok(spec)
    }
}

/// A family name checked against the installed registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyName(pub String);

impl<'de> Deserialize<'de> for FamilyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        registry::checked_name(d, &registry::current().family_names()).map(FamilyName)
    }
}

/// A scheduler name checked against the installed registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerName(pub String);

impl<'de> Deserialize<'de> for SchedulerName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        registry::checked_name(d, &registry::current().scheduler_names()).map(SchedulerName)
    }
}

/// `[player]`: playback (identical for every protocol).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayerSpec {
    /// Seconds of consecutive media buffered before playback starts (default 10).
    #[serde(default = "d_startup")]
    pub startup_s: Positive,
    /// Start anyway this long after choosing a start position (default 30).
    #[serde(default = "d_startup_timeout")]
    pub startup_timeout_s: Positive,
    /// What the player does when the next chunk is missing at its deadline:
    /// `skip` it (default: keep the live schedule) or `rebuffer` (stall until
    /// `rebuffer_s` of media from it are held, then resume later; a stall
    /// longer than `startup_timeout_s` gives up on the missing chunks).
    #[serde(default)]
    pub on_miss: OnMiss,
    /// Seconds of consecutive media a stalled player waits for (default 3;
    /// only with `on_miss = "rebuffer"`).
    #[serde(default = "d_rebuffer")]
    pub rebuffer_s: Positive,
}

/// `player.on_miss`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnMiss {
    /// Skip the missing chunk and keep the live schedule.
    #[default]
    Skip,
    /// Stall and re-buffer.
    Rebuffer,
}
fn d_rebuffer() -> Positive {
    Positive(3.0)
}
fn d_startup() -> Positive {
    Positive(10.0)
}
fn d_startup_timeout() -> Positive {
    Positive(30.0)
}
impl Default for PlayerSpec {
    fn default() -> Self {
        PlayerSpec {
            startup_s: d_startup(),
            startup_timeout_s: d_startup_timeout(),
            on_miss: OnMiss::Skip,
            rebuffer_s: d_rebuffer(),
        }
    }
}

/// A scenario error with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based line and column, when the error has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted key path (`peers.classes`), when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": key `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Largest char boundary at or below `offset`.
fn floor_boundary(src: &str, offset: usize) -> usize {
    let mut o = offset.min(src.len());
    while !src.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(src, offset);
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Keys assigned on a line before a position (`a = { b = ` gives `a`, `b`).
fn keys_before(prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let b = prefix.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c != b'=' {
            continue;
        }
        let head = prefix[..i].trim_end();
        let start = head
            .rfind(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' || ch == '.' || ch == '"'))
            .map_or(0, |j| j + 1);
        let k = head[start..].trim_matches('"');
        if !k.is_empty() {
            keys.push(k.to_string());
        }
    }
    keys
}

fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('[')
}

/// The dotted key whose value (or header) is at byte `offset`: the enclosing
/// table header plus the key on that line, if any.
fn key_at(src: &str, offset: usize) -> Option<String> {
    let offset = floor_boundary(src, offset);
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let line = src[line_start..line_end].trim();
    let header = |l: &str| -> Option<String> {
        let l = l.trim();
        let inner = l
            .strip_prefix("[[")
            .and_then(|x| x.split("]]").next())
            .or_else(|| l.strip_prefix('[').and_then(|x| x.split(']').next()))?;
        Some(inner.trim().to_string())
    };
    if let Some(h) = header(line) {
        return Some(h);
    }
    // The key this position belongs to: the outermost and innermost keys
    // assigned before it on the line (inline tables), or the line's key.
    let mut ks = keys_before(&src[line_start..offset]);
    if ks.is_empty() {
        ks = keys_before(line).into_iter().take(1).collect();
    }
    let key = match ks.len() {
        0 => None,
        1 => Some(ks[0].clone()),
        n => Some(format!("{}.{}", ks[0], ks[n - 1])),
    };
    let table = src[..line_start].lines().rev().find_map(header);
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (t, None) => t,
    }
}

impl ScenarioError {
    fn at(file: &str, src: &str, span: Option<Range<usize>>, message: String) -> ScenarioError {
        let message = message
            .replace("expected f64", "expected a number")
            .replace("expected u32", "expected a whole number >= 0")
            .replace("expected u64", "expected a whole number >= 0")
            .replace("expected u16", "expected a whole number >= 0");
        // A missing top-level field has no place of its own: do not blame the
        // first line's key.
        let span = span.filter(|s| {
            let o = floor_boundary(src, s.start);
            let ls = src[..o].rfind('\n').map_or(0, |i| i + 1);
            let le = src[o..].find('\n').map_or(src.len(), |i| o + i);
            !message.starts_with("missing field") || is_header(&src[ls..le])
        });
        match span {
            Some(s) => {
                let (line, column) = line_col(src, s.start);
                ScenarioError {
                    file: file.to_string(),
                    line: Some(line),
                    column: Some(column),
                    key: key_at(src, s.start),
                    message,
                }
            }
            None => ScenarioError { file: file.to_string(), line: None, column: None, key: None, message },
        }
    }
}

/// The span of the value at a dotted path of the document (`protocol`,
/// `tree`, `stripes`), when written there.
fn value_span(src: &str, path: &[Seg<'_>]) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(src).ok()?;
    let mut value: &DeValue<'_> = &DeValue::Table(root.get_ref().clone());
    let mut span = None;
    for seg in path {
        let next = match (seg, value) {
            (Seg::Key(name), DeValue::Table(t)) => {
                t.iter().find(|(k, _)| k.get_ref().as_ref() == *name).map(|(_, v)| v)
            }
            (Seg::Index(i), DeValue::Array(a)) => a.get(*i),
            _ => None,
        }?;
        span = Some(next.span());
        value = next.get_ref();
    }
    span
}

/// Most nodes a run may be expected to create (initial peers, Poisson
/// arrivals, flash crowds): the 10^6-peer benchmark used 6.1 GB, so twice
/// that fits the 24 GB this project's machines have. Checked before anything
/// is allocated (`sim::churn::population` builds the whole population first).
pub const MAX_EXPECTED_NODES: f64 = 2_000_000.0;
/// Longest run, seconds (30 days).
pub const MAX_DURATION_S: f64 = 30.0 * 86_400.0;
/// Most bandwidth classes (a node's class is stored in 16 bits).
pub const MAX_CLASSES: usize = 1 << 16;

/// `x` as written by a person: plain up to a billion, scientific beyond.
fn compact(x: f64) -> String {
    if x.abs() >= 1e9 { format!("{x:e}") } else { format!("{x}") }
}

/// An error at the value of a dotted path (when written in the file), with
/// that path as its key.
fn error_at(file: &str, src: &str, path: &[Seg<'_>], message: String) -> ScenarioError {
    let mut e = ScenarioError::at(file, src, value_span(src, path), message);
    let dotted: Vec<String> = path
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.to_string()),
            Seg::Index(_) => None,
        })
        .collect();
    e.key = Some(dotted.join("."));
    e
}

/// A section's cross-key error at the key it names (its value when written,
/// else the section's header), with the dotted key.
fn param_error(file: &str, src: &str, section: &str, key: &str, message: String) -> ScenarioError {
    let dotted = if key.is_empty() { format!("protocol.{section}") } else { format!("protocol.{section}.{key}") };
    let span = (!key.is_empty())
        .then(|| value_span(src, &[Seg::Key("protocol"), Seg::Key(section), Seg::Key(key)]))
        .flatten()
        .or_else(|| src.find(&format!("[protocol.{section}]")).map(|s| s..s + 1));
    let mut e = ScenarioError::at(file, src, span, message);
    e.key = Some(dotted);
    e
}

impl Scenario {
    /// Limits on totals that each key's own range does not catch: the run's
    /// length, the number of classes, a join window longer than the run, and
    /// the expected number of nodes over the run (which names every key that
    /// adds to it).
    fn validate_totals(&self, file: &str, src: &str) -> Result<(), ScenarioError> {
        let d = self.duration_s.0;
        if d > MAX_DURATION_S {
            return Err(error_at(
                file,
                src,
                &[Seg::Key("duration_s")],
                format!("invalid value {}: duration_s must be at most {MAX_DURATION_S} (30 days)", compact(d)),
            ));
        }
        if let Some(cs) = &self.peers.classes
            && cs.get_ref().len() > MAX_CLASSES
        {
            return Err(error_at(
                file,
                src,
                &[Seg::Key("peers"), Seg::Key("classes")],
                format!("{} bandwidth classes: at most {MAX_CLASSES} are allowed", cs.get_ref().len()),
            ));
        }
        // A window past the run only leaves the later peers out (tools such as
        // `bench` shorten runs on purpose), but no window may exceed the
        // longest run.
        let w = self.peers.join_window_s.0;
        if w > MAX_DURATION_S {
            return Err(error_at(
                file,
                src,
                &[Seg::Key("peers"), Seg::Key("join_window_s")],
                format!(
                    "invalid value {}: peers.join_window_s must be at most {MAX_DURATION_S} (30 days, the longest run)",
                    compact(w)
                ),
            ));
        }
        let count = *self.peers.count.get_ref() as f64;
        let arrivals = if self.churn.model == ChurnModel::Poisson { self.churn.arrival_rate_per_s.0 * d } else { 0.0 };
        let flash: Vec<f64> =
            self.churn.flash.iter().map(|f| if f.at_s.0 < d { *f.peers.get_ref() as f64 } else { 0.0 }).collect();
        let flash_total: f64 = flash.iter().sum();
        let total = count + arrivals + flash_total;
        if total > MAX_EXPECTED_NODES {
            let message = format!(
                "the run would create about {total:.0} nodes: peers.count ({count}) + \
                 churn.arrival_rate_per_s x duration_s ({} x {d} = {arrivals:.0}) + the peers of \
                 {} churn.flash crowds ({flash_total:.0}); at most {MAX_EXPECTED_NODES:.0} are allowed \
                 (each node's state is allocated before the run starts)",
                self.churn.arrival_rate_per_s.0,
                flash.len()
            );
            // Blame the largest term.
            let biggest = flash.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
            let path: Vec<Seg<'_>> = if arrivals >= count && arrivals >= flash_total {
                vec![Seg::Key("churn"), Seg::Key("arrival_rate_per_s")]
            } else if flash_total > count {
                let i = biggest.map_or(0, |(i, _)| i);
                vec![Seg::Key("churn"), Seg::Key("flash"), Seg::Index(i), Seg::Key("peers")]
            } else {
                vec![Seg::Key("peers"), Seg::Key("count")]
            };
            return Err(error_at(file, src, &path, message));
        }
        Ok(())
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<(Scenario, String), ScenarioError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: None,
            column: None,
            key: None,
            message: format!("cannot read the scenario file: {e}"),
        })?;
        let mut sc = Scenario::parse(&file, &src)?;
        if let Some(t) = sc.bandwidth.trace_file.clone() {
            let base = path.parent().unwrap_or(Path::new("."));
            sc.bandwidth.trace = sc.read_bandwidth_trace(&base.join(t.get_ref())).map_err(|message| {
                let mut e = ScenarioError::at(&file, &src, Some(t.span()), message);
                e.key = Some("bandwidth.trace_file".into());
                e
            })?;
        }
        if let Some(t) = sc.churn.trace_file.clone() {
            let base = path.parent().unwrap_or(Path::new("."));
            sc.churn.trace = sc.read_trace(&base.join(t.get_ref())).map_err(|message| {
                let mut e = ScenarioError::at(&file, &src, Some(t.span()), message);
                e.key = Some("churn.trace_file".into());
                e
            })?;
        }
        Ok((sc, src))
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(file: &str, src: &str) -> Result<Scenario, ScenarioError> {
        let meaningful = src.lines().map(str::trim).any(|l| !l.is_empty() && !l.starts_with('#'));
        if !meaningful {
            return Err(ScenarioError {
                file: file.to_string(),
                line: None,
                column: None,
                key: None,
                message: "the scenario is empty: it needs at least a [peers] table with `count` \
                          (see scenarios/quickstart.toml)"
                    .to_string(),
            });
        }
        let mut sc: Scenario =
            toml::from_str(src).map_err(|e| ScenarioError::at(file, src, e.span(), e.message().to_string()))?;
        // Second pass: each written `[protocol.<section>]` by its registered
        // type, from the whole document so that error spans stay in place.
        let reg = registry::current();
        for name in std::mem::take(&mut sc.protocol.written) {
            if let Some(entry) = reg.find_section(&name) {
                let v =
                    entry.parse(src).map_err(|e| ScenarioError::at(file, src, e.span(), e.message().to_string()))?;
                sc.protocol.sections.0.insert(name, v);
            }
        }
        sc.read_variant_params(file, src, &reg)?;
        sc.validate(file, src, &reg)?;
        Ok(sc)
    }

    /// Reads every `[variants.params.<section>]`: its values by the section's
    /// type (located errors), then the variant's effective section, the
    /// scenario's with those keys replaced.
    fn read_variant_params(&mut self, file: &str, src: &str, reg: &Registry) -> Result<(), ScenarioError> {
        if self.variants.iter().all(|v| v.params.is_none()) {
            return Ok(());
        }
        let doc: toml::Table =
            toml::from_str(src).map_err(|e| ScenarioError::at(file, src, e.span(), e.message().to_string()))?;
        let table = |v: Option<&toml::Value>| v.and_then(toml::Value::as_table).cloned().unwrap_or_default();
        let variants = doc.get("variants").and_then(toml::Value::as_array).cloned().unwrap_or_default();
        for (i, v) in self.variants.iter_mut().enumerate() {
            let Some(p) = &mut v.params else { continue };
            let over = table(variants.get(i).and_then(|t| t.get("params")));
            for name in std::mem::take(&mut p.written) {
                let Some(entry) = reg.find_section(&name) else { continue };
                let path = [Seg::Key("variants"), Seg::Index(i), Seg::Key("params"), Seg::Key(&name)];
                entry
                    .parse_at(src, &path)
                    .map_err(|e| ScenarioError::at(file, src, e.span(), e.message().to_string()))?;
                let mut merged = table(doc.get("protocol").and_then(|t| t.get(&name)));
                for (k, val) in table(over.get(&name)) {
                    p.changes.push(format!("{k}={val}"));
                    merged.insert(k, val);
                }
                let value = entry
                    .from_table(merged)
                    .map_err(|e| ScenarioError::at(file, src, None, e.message().to_string()))?;
                p.sections.0.insert(name, value);
            }
        }
        Ok(())
    }

    fn validate_attacks(&self, file: &str, src: &str) -> Result<(), ScenarioError> {
        let at = |needle: &str| src.find(needle).map(|s| s..s + 1);
        let err = |span: Option<Range<usize>>, msg: String| Err(ScenarioError::at(file, src, span, msg));
        let peers = *self.peers.count.get_ref();
        let (mut share_sum, mut count_sum) = (0.0, 0u64);
        for a in &self.attack {
            let kind = a.kind.as_str();
            match (&a.share, &a.count) {
                (Some(_), Some(c)) => {
                    return err(Some(c.span()), format!("attack `{kind}`: give `share` or `count`, not both"));
                }
                (None, None) => {
                    return err(at("[[attack]]"), format!("attack `{kind}` needs `share` (0 to 1) or `count` (peers)"));
                }
                (Some(s), None) => share_sum += s.0,
                (None, Some(c)) => count_sum += *c.get_ref() as u64,
            }
            if a.kind != AttackKind::Polluter && (a.on_s.is_some() || a.off_s.is_some()) {
                return err(at("on_s").or(at("off_s")), format!("on_s/off_s apply to polluters only, not `{kind}`"));
            }
            if a.on_s.is_some() != a.off_s.is_some() {
                return err(at("on_s").or(at("off_s")), "an on-off polluter needs both on_s and off_s".into());
            }
            if let Some(f) = &a.factor {
                if a.kind != AttackKind::CapacityLiar {
                    return err(Some(f.span()), format!("`factor` applies to capacity liars only, not `{kind}`"));
                }
                if !(2..=1000).contains(f.get_ref()) {
                    return err(
                        Some(f.span()),
                        format!("invalid value {}: factor must be between 2 and 1000", f.get_ref()),
                    );
                }
            }
            if let Some(v) = &a.victim {
                if a.kind != AttackKind::Sybil {
                    return err(Some(v.span()), format!("`victim` applies to sybil attacks only, not `{kind}`"));
                }
                if *v.get_ref() < 2 || *v.get_ref() >= 2 + peers.max(1) {
                    return err(
                        Some(v.span()),
                        format!(
                            "invalid victim {}: a peer's node id, from 2 to {} (0 is the tracker, 1 the source)",
                            v.get_ref(),
                            1 + peers.max(1)
                        ),
                    );
                }
            }
        }
        if share_sum > 1.0 + 1e-9 {
            return err(at("[[attack]]"), format!("attack shares sum to {share_sum}; they must sum to at most 1"));
        }
        if count_sum > peers as u64 {
            return err(
                at("[[attack]]"),
                format!("attack counts sum to {count_sum}, more than the {peers} peers of peers.count"),
            );
        }
        let victims: Vec<u32> = self
            .attack
            .iter()
            .filter(|a| a.kind == AttackKind::Sybil)
            .map(|a| a.victim.as_ref().map_or(2, |v| *v.get_ref()))
            .collect();
        if victims.windows(2).any(|w| w[0] != w[1]) {
            return err(at("victim"), "every sybil group must share one victim".into());
        }
        for d in std::iter::once(&self.defence).chain(self.variants.iter().filter_map(|v| v.defence.as_ref())) {
            if d.blacklist && !d.integrity {
                return err(
                    at("blacklist"),
                    "defence.blacklist needs defence.integrity = true (bad chunks are found by the integrity check)"
                        .into(),
                );
            }
        }
        let d = &self.defence;
        if let Some(n) = &d.score_min_requests
            && !(1..=100_000).contains(n.get_ref())
        {
            return err(
                Some(n.span()),
                format!("invalid value {}: score_min_requests must be between 1 and 100000", n.get_ref()),
            );
        }
        if (d.check_interval_s.is_some()
            || d.score_min_requests.is_some()
            || d.score_min_ratio.is_some()
            || d.ban_s.is_some())
            && !d.scoring
            && !self.attack.iter().any(|a| a.kind == AttackKind::Sybil)
        {
            return err(at("[defence]"), "scoring parameters are set but defence.scoring is false".into());
        }
        Ok(())
    }

    /// The Sybil victim's node id, when the scenario has Sybils (default:
    /// the first peer).
    pub fn sybil_victim(&self) -> Option<u32> {
        let first = self.first_peer();
        self.attack
            .iter()
            .find(|a| a.kind == AttackKind::Sybil)
            .map(|a| a.victim.as_ref().map_or(first, |v| *v.get_ref()))
    }

    /// Whether the run has a CDN edge node (node 2): its family falls back
    /// to one ([`crate::registry::Family::EDGE`]).
    pub fn has_edge(&self) -> bool {
        registry::current().find_family(&self.protocol.name).is_some_and(|f| f.edge)
    }

    /// Node id of the first peer: 2, or 3 after a CDN edge.
    pub fn first_peer(&self) -> u32 {
        2 + self.has_edge() as u32
    }

    /// The energy model of `[energy]` (`None` without the table), peers by
    /// class index.
    pub fn energy_model(&self) -> Option<analysis::report::EnergyModel> {
        use analysis::report::{EnergyModel, NodeEnergy};
        let e = self.energy.as_ref()?;
        let names: Vec<String> = crate::churn::classes(self).into_iter().map(|c| c.name).collect();
        let peer = NodeEnergy {
            idle_w: e.peer_idle_w.0,
            up_nj_per_bit: e.peer_up_nj_per_bit.0,
            down_nj_per_bit: e.peer_down_nj_per_bit.0,
        };
        let classes = names
            .iter()
            .map(|n| match e.classes.iter().rev().find(|c| c.class.get_ref() == n) {
                None => peer,
                Some(c) => NodeEnergy {
                    idle_w: c.idle_w.map_or(peer.idle_w, |x| x.0),
                    up_nj_per_bit: c.up_nj_per_bit.map_or(peer.up_nj_per_bit, |x| x.0),
                    down_nj_per_bit: c.down_nj_per_bit.map_or(peer.down_nj_per_bit, |x| x.0),
                },
            })
            .collect();
        Some(EnergyModel {
            classes,
            source: NodeEnergy {
                idle_w: e.source_idle_w.0,
                up_nj_per_bit: e.source_nj_per_bit.0,
                down_nj_per_bit: 0.0,
            },
            edge: NodeEnergy { idle_w: e.edge_idle_w.0, up_nj_per_bit: e.edge_nj_per_bit.0, down_nj_per_bit: 0.0 },
            network_j_per_byte: e.network_kwh_per_gb.0 * 3.6e6 / 1e9,
        })
    }

    /// The `[cdn]` table, or its defaults when the family has an edge
    /// without one; `None`: no CDN in the run.
    pub fn cdn_spec(&self) -> Option<CdnSpec> {
        self.cdn.clone().or_else(|| self.has_edge().then(CdnSpec::default))
    }

    /// The one-way delay between a CDN edge and every other node (`[cdn]
    /// edge_latency_ms`), when [`Scenario::cdn_spec`] has one.
    pub fn edge_latency(&self) -> Option<protocols::Time> {
        self.cdn_spec().map(|c| protocols::Time::from_secs_f64(c.edge_latency_ms.0 / 1000.0))
    }

    fn validate(&self, file: &str, src: &str, reg: &Registry) -> Result<(), ScenarioError> {
        let err = |span: Range<usize>, msg: String| Err(ScenarioError::at(file, src, Some(span), msg));
        if !(1..=10_000).contains(self.reps.get_ref()) {
            return err(
                self.reps.span(),
                format!("invalid value {}: reps must be between 1 and 10000", self.reps.get_ref()),
            );
        }
        let extra_peers = !self.churn.flash.is_empty() || self.churn.model == ChurnModel::Trace;
        if *self.peers.count.get_ref() == 0 && !extra_peers {
            return err(self.peers.count.span(), "invalid value 0: expected at least 1 peer".into());
        }
        if let Some(k) = &self.churn.session_shape {
            use crate::dist::SessionKind as K;
            let v = *k.get_ref();
            let (ok, allowed) = match self.churn.session {
                K::Pareto => (v > 1.0 && v <= 100.0, "a Pareto alpha between 1 (exclusive) and 100"),
                _ => (v > 0.0 && v <= 100.0, "a shape between 0 (exclusive) and 100"),
            };
            if !ok || !v.is_finite() {
                return err(k.span(), format!("invalid value {v}: expected {allowed}"));
            }
        }
        for f in &self.churn.flash {
            if *f.peers.get_ref() as f64 > MAX_EXPECTED_NODES {
                return err(f.peers.span(), "invalid value: at most 2,000,000 peers per flash crowd".into());
            }
        }
        match (&self.churn.model, &self.churn.trace_file) {
            (ChurnModel::Trace, None) => {
                return Err(ScenarioError::at(
                    file,
                    src,
                    src.find("[churn]").map(|s| s..s + 1),
                    "churn.model = \"trace\" needs churn.trace_file (a CSV with header join_s,leave_s,class)".into(),
                ));
            }
            (m, Some(t)) if *m != ChurnModel::Trace => {
                return err(t.span(), "churn.trace_file is only read with churn.model = \"trace\"".into());
            }
            _ => {}
        }
        if *self.peers.count.get_ref() as f64 > MAX_EXPECTED_NODES {
            return err(self.peers.count.span(), "invalid value: at most 2,000,000 peers are supported".into());
        }
        if let Some(classes) = &self.peers.classes {
            let cs = classes.get_ref();
            if cs.is_empty() {
                return err(classes.span(), "no classes given: list at least one [[peers.classes]]".into());
            }
            let sum: f64 = cs.iter().map(|c| c.share.0).sum();
            if (sum - 1.0).abs() > 1e-6 {
                let sum = format!("{sum:.6}");
                let sum = sum.trim_end_matches('0').trim_end_matches('.');
                return err(classes.span(), format!("class shares sum to {sum}; they must sum to 1"));
            }
        }
        self.validate_attacks(file, src)?;
        let chunk_bits = self.stream.rate_kbps.0 * 1000.0 * self.stream.chunk_s.0;
        if chunk_bits < 8.0 {
            return Err(ScenarioError::at(
                file,
                src,
                None,
                format!(
                    "stream.rate_kbps x stream.chunk_s gives {chunk_bits} bits per chunk; a chunk needs at least 8 bits"
                ),
            ));
        }
        if chunk_bits / 8.0 > protocols::wire::MAX_CHUNK_BYTES as f64 {
            return Err(ScenarioError::at(
                file,
                src,
                None,
                format!(
                    "a chunk of {} bytes exceeds the {}-byte limit: lower stream.rate_kbps or stream.chunk_s",
                    chunk_bits / 8.0,
                    protocols::wire::MAX_CHUNK_BYTES
                ),
            ));
        }
        self.validate_totals(file, src)?;
        if let Err(m) = self.network.latency.validate() {
            let span = src.find("[network.latency]").map(|s| s..s + 1);
            return Err(ScenarioError::at(file, src, span, m));
        }
        // Cross-key rules of every registered section, against the stream and the window.
        let window_chunks = self.protocol.section::<MeshSection>().window.0;
        let ctx = ParamCtx {
            stream: protocols::StreamParams {
                rate_bps: (self.stream.rate_kbps.0 * 1000.0).round() as u64,
                chunk_duration: protocols::Time::from_secs_f64(self.stream.chunk_s.0),
            },
            window_chunks,
        };
        for entry in reg.sections() {
            let Some(v) = self.protocol.sections.get_dyn(entry.name) else { continue };
            if let Err(pe) = entry.validate(v, &ctx) {
                return Err(param_error(file, src, entry.name, pe.key, pe.message));
            }
        }
        for (i, variant) in self.variants.iter().enumerate() {
            let Some(p) = &variant.params else { continue };
            let mut ctx = ctx.clone();
            if let Some(m) = p.sections.get::<MeshSection>() {
                ctx.window_chunks = m.window.0;
            }
            // Every section as this variant runs it (its own, else the scenario's).
            for entry in reg.sections() {
                let name = entry.name;
                let Some(v) = p.sections.get_dyn(name).or_else(|| self.protocol.sections.get_dyn(name)) else {
                    continue;
                };
                if let Err(pe) = entry.validate(v, &ctx) {
                    let path =
                        [Seg::Key("variants"), Seg::Index(i), Seg::Key("params"), Seg::Key(name), Seg::Key(pe.key)];
                    let span = value_span(src, &path)
                        .or_else(|| value_span(src, &path[..4]))
                        .or_else(|| value_span(src, &path[..3]));
                    let mut e = ScenarioError::at(file, src, span, pe.message);
                    e.key = Some(format!("variants.params.{name}.{}", pe.key).trim_end_matches('.').to_string());
                    return Err(e);
                }
            }
        }
        let class_names: Vec<String> = match &self.peers.classes {
            None => vec!["default".into()],
            Some(cs) => {
                cs.get_ref().iter().enumerate().map(|(i, c)| c.name.clone().unwrap_or(format!("class{i}"))).collect()
            }
        };
        if self.isp.is_some() && !matches!(self.network.latency, LatencySpec::TransitStub { .. }) {
            let span = src.find("[isp]").map(|s| s..s + 5);
            let mut e = ScenarioError::at(
                file,
                src,
                span,
                "[isp] takes the ISPs from the transit-stub model's stub domains: it needs network.latency.model = \"transit-stub\"".into(),
            );
            e.key = Some("isp".into());
            return Err(e);
        }
        let energy_classes = self.energy.iter().flat_map(|e| e.classes.iter().map(|c| &c.class));
        let nat_classes = self.nat.iter().flat_map(|n| n.classes.iter().map(|c| &c.class));
        for class in energy_classes.chain(nat_classes) {
            if !class_names.contains(class.get_ref()) {
                return err(
                    class.span(),
                    format!("unknown class `{}`: classes are {}", class.get_ref(), class_names.join(", ")),
                );
            }
        }
        for t in &self.timeline {
            if let Some(c) = &t.class
                && !class_names.contains(c.get_ref())
            {
                return err(
                    c.span(),
                    format!("unknown class `{}`: classes are {}", c.get_ref(), class_names.join(", ")),
                );
            }
            if t.at_s.0 > self.duration_s.0 {
                let span = src.find("[[timeline]]").map(|s| s..s + 1);
                return Err(ScenarioError::at(
                    file,
                    src,
                    span,
                    format!("timeline event at {} s is after the end of the run ({} s)", t.at_s.0, self.duration_s.0),
                ));
            }
        }
        match (&self.bandwidth.model, &self.bandwidth.trace_file) {
            (BandwidthModel::Trace, None) => {
                return Err(ScenarioError::at(
                    file,
                    src,
                    src.find("[bandwidth]").map(|s| s..s + 1),
                    "bandwidth.model = \"trace\" needs bandwidth.trace_file (a CSV with header t_s,target,up_factor)"
                        .into(),
                ));
            }
            (m, Some(t)) if *m != BandwidthModel::Trace => {
                return err(t.span(), "bandwidth.trace_file is only read with bandwidth.model = \"trace\"".into());
            }
            _ => {}
        }
        if let Some(l) = &self.bandwidth.levels {
            let v = l.get_ref();
            if v.is_empty() || v.len() > 16 || v.iter().any(|x| !x.is_finite() || *x < 0.0 || *x > 100.0) {
                return err(
                    l.span(),
                    "invalid levels: expected 1 to 16 multiples of nominal upload, each between 0 and 100".into(),
                );
            }
        }
        let startup_chunks = (self.player.startup_s.0 / self.stream.chunk_s.0).ceil();
        let window = window_chunks as f64;
        if startup_chunks > window {
            return Err(ScenarioError::at(
                file,
                src,
                None,
                format!("player.startup_s covers {startup_chunks} chunks, more than the {window}-chunk window"),
            ));
        }
        Ok(())
    }

    /// Reads and checks a bandwidth trace; errors name the file and line.
    pub fn read_bandwidth_trace(&self, path: &Path) -> Result<Vec<BandwidthRow>, String> {
        let name = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read the bandwidth trace file `{name}`: {e}"))?;
        let classes = self.class_names();
        let mut lines = text.lines().enumerate();
        let header = lines.next().map(|(_, l)| l.trim().replace(' ', ""));
        let columns = match header.as_deref() {
            Some("t_s,target,up_factor") => 3,
            Some("t_s,target,up_factor,down_factor") => 4,
            _ => {
                return Err(format!(
                    "bandwidth trace `{name}`: line 1: expected the header `t_s,target,up_factor` \
                     (optionally `,down_factor`)"
                ));
            }
        };
        let mut rows = Vec::new();
        for (i, line) in lines {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() != columns {
                return Err(format!(
                    "bandwidth trace `{name}`: line {n}: expected {columns} comma-separated fields as in the header, got {}",
                    f.len()
                ));
            }
            let t_s = f[0].parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(|| {
                format!("bandwidth trace `{name}`: line {n}: t_s `{}` is not a number of seconds >= 0", f[0])
            })?;
            let up_factor =
                f[2].parse::<f64>().ok().filter(|v| v.is_finite() && (0.0..=100.0).contains(v)).ok_or_else(|| {
                    format!("bandwidth trace `{name}`: line {n}: up_factor `{}` is not a number from 0 to 100", f[2])
                })?;
            let target = if f[1].is_empty() {
                BandwidthTarget::AllPeers
            } else if let Some(id) = f[1].strip_prefix("peer:") {
                match id.parse::<u32>() {
                    Ok(id) if id >= 2 => BandwidthTarget::Peer(id),
                    _ => {
                        return Err(format!(
                            "bandwidth trace `{name}`: line {n}: `{}` is not a peer (`peer:<node id>`, ids from 2)",
                            f[1]
                        ));
                    }
                }
            } else {
                match classes.iter().position(|c| c == f[1]) {
                    Some(k) => BandwidthTarget::Class(k),
                    None => {
                        return Err(format!(
                            "bandwidth trace `{name}`: line {n}: unknown target `{}` (empty for every peer, \
                             `peer:<node id>`, or a class: {})",
                            f[1],
                            classes.join(", ")
                        ));
                    }
                }
            };
            let down_factor = match f.get(3).filter(|x| !x.is_empty()) {
                None => None,
                Some(x) => Some(
                    x.parse::<f64>().ok().filter(|v| v.is_finite() && (0.0..=100.0).contains(v)).ok_or_else(|| {
                        format!("bandwidth trace `{name}`: line {n}: down_factor `{x}` is not a number from 0 to 100")
                    })?,
                ),
            };
            rows.push(BandwidthRow { t_s, target, up_factor, down_factor });
        }
        Ok(rows)
    }

    /// Names of the bandwidth classes (`default` without classes, `class<i>` when unnamed).
    pub fn class_names(&self) -> Vec<String> {
        match &self.peers.classes {
            None => vec!["default".into()],
            Some(cs) => {
                cs.get_ref().iter().enumerate().map(|(i, c)| c.name.clone().unwrap_or(format!("class{i}"))).collect()
            }
        }
    }

    /// Reads and checks a churn trace; errors name the trace file and line.
    pub fn read_trace(&self, path: &Path) -> Result<Vec<TraceRow>, String> {
        let name = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the trace file `{name}`: {e}"))?;
        let classes = self.class_names();
        let mut rows = Vec::new();
        let mut lines = text.lines().enumerate();
        let header = lines.next().map(|(_, l)| l.trim().replace(' ', ""));
        if !matches!(header.as_deref(), Some("join_s,leave_s") | Some("join_s,leave_s,class")) {
            return Err(format!(
                "trace file `{name}`: line 1: expected the header `join_s,leave_s,class` (class optional)"
            ));
        }
        for (i, line) in lines {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() < 2 || f.len() > 3 {
                return Err(format!(
                    "trace file `{name}`: line {n}: expected 2 or 3 comma-separated fields (join_s,leave_s,class), got {}",
                    f.len()
                ));
            }
            let num = |x: &str, what: &str| -> Result<f64, String> {
                x.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(|| {
                    format!("trace file `{name}`: line {n}: {what} `{x}` is not a number of seconds >= 0")
                })
            };
            let join_s = num(f[0], "join_s")?;
            let leave_s = if f[1].is_empty() { None } else { Some(num(f[1], "leave_s")?) };
            if leave_s.is_some_and(|l| l < join_s) {
                return Err(format!("trace file `{name}`: line {n}: leave_s is before join_s"));
            }
            let class = match f.get(2).filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => Some(classes.iter().position(|x| x == c).ok_or_else(|| {
                    format!("trace file `{name}`: line {n}: unknown class `{c}` (classes: {})", classes.join(", "))
                })?),
            };
            rows.push(TraceRow { join_s, leave_s, class });
        }
        Ok(rows)
    }

    /// The scenario's name: `name` or the file stem.
    pub fn display_name(&self, path: &Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "scenario".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse("t.toml", src)
    }

    /// `ControlPriority::name` and `parse` (validate's flag and manifest)
    /// agree with the names scenario files use.
    #[test]
    fn control_priority_names_are_the_scenario_files() {
        for (c, name) in ControlPriority::ALL {
            let s = parse(&format!("[peers]\ncount = 10\n[network]\ncontrol_priority = \"{name}\"\n")).unwrap();
            assert_eq!(s.network.control_priority, c);
            assert_eq!(c.name(), name);
            assert_eq!(ControlPriority::parse(name), Ok(c));
        }
        let e = ControlPriority::parse("packet").unwrap_err();
        assert!(e.contains("packet") && e.contains("message") && e.contains("datagram"), "{e}");
    }

    #[test]
    fn minimal_scenario_takes_defaults() {
        let s = parse("[peers]\ncount = 10\n").unwrap();
        assert_eq!(s.stream.rate_kbps.0, 500.0);
        assert_eq!(s.protocol.name, "mesh-pull");
        assert_eq!(s.protocol.scheduler, "donet");
        assert_eq!(s.protocol.section::<MeshSection>(), MeshSection::default());
        assert_eq!(s.seed, 1);
    }

    #[test]
    fn errors_name_line_column_key_and_what_is_allowed() {
        let e = parse("[peers]\ncount = 10\n\n[stream]\nrate_kbps = -5\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(5), Some(13)));
        assert_eq!(e.key.as_deref(), Some("stream.rate_kbps"));
        assert!(e.message.contains("-5") && e.message.contains("> 0"), "{e}");

        // A peer without upload could not even send its requests: refused, with the alternatives.
        let e =
            parse("[peers]\ncount = 10\n[[peers.classes]]\nshare = 1.0\nup_kbps = 0\ndown_kbps = 100\n").unwrap_err();
        assert_eq!((e.line, e.column, e.key.as_deref()), (Some(5), Some(11), Some("peers.classes.up_kbps")));
        assert!(e.message.contains("> 0") && e.message.contains("free-rider"), "{e}");

        let e = parse("[peers]\ncount = 10\nbogus = 1\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("peers.bogus"));
        assert!(e.message.contains("unknown field `bogus`") && e.message.contains("count"), "{e}");

        let e = parse("[peers]\ncount = 10\n[protocol]\nname = \"telepathy\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("protocol.name"));
        assert!(e.message.contains("mesh-pull"), "{e}");

        let e = parse(
            "[peers]\ncount = 10\n[[peers.classes]]\nshare = 0.7\nup_kbps = 1\ndown_kbps = 1\n\
             [[peers.classes]]\nshare = 0.6\nup_kbps = 1\ndown_kbps = 1\n",
        )
        .unwrap_err();
        assert!(e.message.contains("sum to 1"), "{e}");

        let e = parse("[peers]\ncount = 10\n[[peers.classes]]\nshare = 1.5\nup_kbps = 1\ndown_kbps = 1\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("peers.classes.share"));

        let e = parse("# nothing\n\n").unwrap_err();
        assert!(e.message.contains("empty"), "{e}");

        let e = parse("[peers]\ncount = \"many\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("peers.count"));
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn display_puts_file_line_column_key_first() {
        let e = parse("[peers]\ncount = 0\n").unwrap_err();
        assert_eq!(e.to_string(), "t.toml:2:9: key `peers.count`: invalid value 0: expected at least 1 peer");
    }

    #[test]
    fn hybrid_keys_parse_and_bad_values_name_the_key() {
        let s = parse(
            "[peers]\ncount = 10\n[protocol]\nname = \"hybrid\"\n[protocol.hybrid]\nmode = \"pull-push\"\n\
             substreams = 8\npull_margin_s = 2\n",
        )
        .unwrap();
        assert_eq!(s.protocol.name, "hybrid");
        let p = s.protocol.section::<HybridSection>().to_params();
        assert_eq!((p.mode, p.substreams), (protocols::hybrid::HybridMode::PullPush, 8));
        assert_eq!(p.pull_margin, protocols::Time::from_secs(2));
        assert_eq!(s.variant_label(), "hybrid/pull-push/donet");

        let e = parse("[peers]\ncount = 10\n[protocol.hybrid]\nsubstreams = 65\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("protocol.hybrid.substreams"));
        assert!(e.message.contains("between 1 and 64"), "{e}");
        let e =
            parse("[peers]\ncount = 10\n[protocol.mesh]\nwindow = 6\n[protocol.hybrid]\nsubstreams = 8\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("protocol.hybrid.substreams"));
        assert!(e.message.contains("between 1 and 6"), "{e}");
        let e = parse("[peers]\ncount = 10\n[protocol.hybrid]\nstable_fraction = 11\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("protocol.hybrid.stable_fraction"));
        assert!(e.message.contains("between 0 and 10"), "{e}");
        let e = parse("[peers]\ncount = 10\n[protocol.hybrid]\nmode = \"tree\"\n").unwrap_err();
        assert!(e.message.contains("treebone") && e.message.contains("pull-push"), "{e}");
    }

    #[test]
    fn protocol_names_and_sections_are_checked_against_the_registry() {
        let e = parse("[peers]\ncount = 10\n[protocol]\nscheduler = \"fifo\"\n").unwrap_err();
        assert_eq!((e.line, e.column, e.key.as_deref()), (Some(4), Some(13), Some("protocol.scheduler")));
        assert!(e.message.contains("`fifo`") && e.message.contains("`latest-useful`"), "{e}");
        let e = parse("[peers]\ncount = 10\n[protocol.gossip]\nfanout = 3\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("unknown field `gossip`") && e.message.contains("`mesh`, `tree`, `hybrid`"), "{e}");
        let e = parse("[peers]\ncount = 10\n[[variants]]\nprotocol = \"gossip\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("variants.protocol"));
        assert!(e.message.contains("`client-server`"), "{e}");
        let e = parse("[peers]\ncount = 10\n[protocol.tree]\nheartbeat_interval_s = 4\nparent_timeout_s = 3.5\n")
            .unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(5), Some("protocol.tree.parent_timeout_s")), "{e}");
        let e = parse("[peers]\ncount = 10\n[protocol.tree]\nheartbeat_interval_s = 4\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("protocol.tree.parent_timeout_s")), "{e}");
        let e = parse("[peers]\ncount = 10\n[protocol.mesh]\npartners = 9\npartners_max = 8\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(5), Some(16)), "{e}");
        assert!(e.message.contains("must be >= partners (9)"), "{e}");
    }

    #[test]
    fn variants_override_sections_and_labels_come_from_the_family() {
        let s = parse(
            "[peers]\ncount = 10\n[protocol]\nscheduler = \"edf\"\n[[variants]]\nprotocol = \"tree-push\"\nstripes = 4\n\
             [[variants]]\nprotocol = \"hybrid\"\nmode = \"pull-push\"\n[[variants]]\n",
        )
        .unwrap();
        let labels: Vec<String> = s.variants.iter().map(|v| s.with_variant(v).1).collect();
        assert_eq!(labels, ["tree-push/k=4", "hybrid/pull-push/edf", "mesh-pull/edf"]);
        let (tree, _) = s.with_variant(&s.variants[0]);
        assert_eq!(tree.protocol.section::<TreeSection>().stripes.0, 4);
        let e = parse("[peers]\ncount = 10\n[[variants]]\nstripes = 65\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("variants.stripes"));
        assert!(e.message.contains("between 1 and 64"), "{e}");
    }

    #[test]
    fn variants_change_any_section_key() {
        let s = parse(
            "[peers]\ncount = 10\n[protocol.tree]\njoin_retry_s = 3\n\
             [[variants]]\nprotocol = \"tree-push\"\n[variants.params.tree]\nstripes = 2\nmax_depth = 9\n\
             [[variants]]\nprotocol = \"tree-push\"\nlabel = \"plain\"\n",
        )
        .unwrap();
        let (v0, l0) = s.with_variant(&s.variants[0]);
        assert_eq!(l0, "tree-push/k=2+max_depth=9+stripes=2", "changes in key order");
        let t = v0.protocol.section::<TreeSection>();
        assert_eq!((t.stripes.0, t.max_depth.0, t.join_retry_s.0), (2, 9, 3.0), "the scenario's other keys stay");
        let (v1, l1) = s.with_variant(&s.variants[1]);
        assert_eq!((l1.as_str(), v1.protocol.section::<TreeSection>().stripes.0), ("plain", 1));

        let e = parse("[peers]\ncount = 10\n[[variants]]\n[variants.params.tree]\nstripes = 0\n").unwrap_err();
        assert_eq!((e.line, e.column, e.key.as_deref()), (Some(5), Some(11), Some("variants.params.tree.stripes")));
        assert!(e.message.contains("between 1 and 64"), "{e}");
        let e = parse("[peers]\ncount = 10\n[[variants]]\n[variants.params.gossip]\nx = 1\n").unwrap_err();
        assert!(e.message.contains("unknown section `gossip`") && e.message.contains("`hybrid`"), "{e}");
        // Cross-key rules hold per variant, with the variant's window.
        let e = parse(
            "[peers]\ncount = 10\n[protocol.tree]\nstripes = 16\n[[variants]]\n[[variants]]\n\
             [variants.params.mesh]\nwindow = 12\nschedule_interval_s = 1\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(7), Some("variants.params.tree.stripes")), "{e}");
        assert!(e.message.contains("between 1 and 12"), "{e}");
    }

    #[test]
    fn totals_are_bounded_before_anything_is_allocated_and_errors_are_located() {
        // Each key within its own range, the totals not.
        let e =
            parse("duration_s = 600\n[peers]\ncount = 10\n[churn]\nmodel = \"poisson\"\narrival_rate_per_s = 1e12\n")
                .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("churn.arrival_rate_per_s"));
        assert_eq!(e.line, Some(6));
        assert!(e.message.contains("nodes") && e.message.contains("2000000"), "{e}");
        let flashes: String = (0..100).map(|k| format!("[[churn.flash]]\nat_s = {k}\npeers = 1000000\n")).collect();
        let e = parse(&format!("[peers]\ncount = 10\n{flashes}")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("churn.flash.peers"));
        assert!(e.message.contains("100 churn.flash crowds"), "{e}");
        let e = parse("[peers]\ncount = 4000000\n").unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("peers.count"), Some(2)));
        let e = parse("duration_s = 1e15\n[peers]\ncount = 10\n").unwrap_err();
        assert_eq!((e.key.as_deref(), e.line, e.column), (Some("duration_s"), Some(1), Some(14)));
        let e = parse("[peers]\ncount = 10\njoin_window_s = 1e300\n").unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("peers.join_window_s"), Some(3)));
        // Classes past 16 bits would wrap the class numbers in peers.csv.
        let classes: String = (0..MAX_CLASSES + 1)
            .map(|i| {
                format!(
                    "[[peers.classes]]\nshare = {}\nup_kbps = 500\ndown_kbps = 1000\n",
                    1.0 / (MAX_CLASSES + 1) as f64 + if i == 0 { 1e-9 } else { 0.0 }
                )
            })
            .collect();
        let e = parse(&format!("[peers]\ncount = 10\n{classes}")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("peers.classes"), "{e}");
        assert!(e.message.contains("65537 bandwidth classes: at most 65536"), "{e}");
        // At the limits: accepted.
        assert!(parse("duration_s = 600\n[peers]\ncount = 1000\njoin_window_s = 600\n[churn]\nmodel = \"poisson\"\narrival_rate_per_s = 100\n").is_ok());
    }

    #[test]
    fn attack_and_defence_keys_parse_and_bad_values_are_named() {
        let ok = parse(
            "[peers]\ncount = 50\n[[attack]]\nkind = \"polluter\"\nshare = 0.2\non_s = 5\noff_s = 10\n\
             [[attack]]\nkind = \"capacity-liar\"\ncount = 5\nfactor = 4\n\
             [[attack]]\nkind = \"sybil\"\ncount = 3\nvictim = 7\n\
             [defence]\nintegrity = true\nblacklist = true\nscoring = true\nban_s = 30\n",
        )
        .unwrap();
        assert_eq!(ok.attack.len(), 3);
        assert_eq!(ok.sybil_victim(), Some(7));
        assert!(ok.defence.any() && ok.defence.request_timeout);

        let bad = |extra: &str| parse(&format!("[peers]\ncount = 50\n{extra}")).unwrap_err();
        let e = bad("[[attack]]\nkind = \"polluter\"\nshare = -0.1\n");
        assert_eq!(e.key.as_deref(), Some("attack.share"));
        assert!(e.message.contains("-0.1") && e.message.contains("between 0 and 1"), "{e}");
        let e = bad("[[attack]]\nkind = \"polluter\"\nshare = 0.6\n[[attack]]\nkind = \"free-rider\"\nshare = 0.5\n");
        assert!(e.message.contains("shares sum to 1.1") && e.message.contains("at most 1"), "{e}");
        assert_eq!(e.line, Some(3));
        let e = bad("[[attack]]\nkind = \"withholder\"\ncount = 51\n");
        assert!(e.message.contains("counts sum to 51") && e.message.contains("50 peers"), "{e}");
        let e = bad("[[attack]]\nkind = \"withholder\"\n");
        assert!(e.message.contains("needs `share`") && e.message.contains("`count`"), "{e}");
        let e = bad("[[attack]]\nkind = \"withholder\"\nshare = 0.1\ncount = 3\n");
        assert!(e.message.contains("not both"), "{e}");
        let e = bad("[[attack]]\nkind = \"hacker\"\nshare = 0.1\n");
        assert_eq!(e.key.as_deref(), Some("attack.kind"));
        assert!(e.message.contains("polluter") && e.message.contains("capacity-liar"), "{e}");
        let e = bad("[[attack]]\nkind = \"free-rider\"\nshare = 0.1\non_s = 3\noff_s = 3\n");
        assert!(e.message.contains("polluters only"), "{e}");
        let e = bad("[[attack]]\nkind = \"polluter\"\nshare = 0.1\non_s = 3\n");
        assert!(e.message.contains("both on_s and off_s"), "{e}");
        let e = bad("[[attack]]\nkind = \"capacity-liar\"\nshare = 0.1\nfactor = 1\n");
        assert_eq!(e.key.as_deref(), Some("attack.factor"));
        assert!(e.message.contains("between 2 and 1000"), "{e}");
        let e = bad("[[attack]]\nkind = \"sybil\"\ncount = 4\nvictim = 1\n");
        assert_eq!(e.key.as_deref(), Some("attack.victim"));
        assert!(e.message.contains("from 2 to 51"), "{e}");
        let e = bad("[defence]\nblacklist = true\n");
        assert!(e.message.contains("needs defence.integrity"), "{e}");
        let e = bad("[defence]\nban_s = 10\n");
        assert!(e.message.contains("defence.scoring is false"), "{e}");
        let e = bad("[defence]\nintegrity = 1\n");
        assert_eq!(e.key.as_deref(), Some("defence.integrity"));
        let e = bad("[defence]\nshield = true\n");
        assert!(e.message.contains("unknown field `shield`"), "{e}");
        let e = bad("[[variants]]\n[variants.defence]\nblacklist = true\n");
        assert!(e.message.contains("needs defence.integrity"), "{e}");
    }
}
