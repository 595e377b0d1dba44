//! Propagation-latency models of the simulator's network core.
//!
//! A message from node `a` to node `b` is first serialized onto `a`'s upload
//! link, then crosses the core in `latency(a, b)`, then is serialized onto
//! `b`'s download link. This module supplies only the middle term. **The core
//! is uncongested: latency is propagation only, bandwidth limits live at the
//! access links** (the standard assumption of P2P streaming studies). Every
//! model is symmetric, gives zero from a node to itself, and is a pure
//! function of the run seed and the two node ids; nothing depends on the
//! order in which nodes are placed or messages are sent.
//!
//! Scenario section `[network.latency]`, key `model` selects one of:
//!
//! - **`constant`** (`ms`, default 50): the same one-way delay between every
//!   pair of distinct nodes.
//! - **`uniform`** (`min_ms`, `max_ms`, no defaults): every unordered pair
//!   gets its own delay, uniform in `[min_ms, max_ms]` and fixed for the run.
//!   It is a hash of `(seed, min(a, b), max(a, b))`, so no per-pair storage is
//!   needed. No triangle inequality: like measured Internet delays, a detour
//!   can be faster than the direct path.
//! - **`coordinates`** (`base_ms` default 0, `side` default 100,
//!   `ms_per_unit` default 1): each node is placed uniformly at random in a
//!   `side` x `side` square; the delay is `base_ms + distance * ms_per_unit`
//!   (Euclidean distance). A metric, so the triangle inequality holds.
//! - **`transit-stub`**: a GT-ITM-like two-level router topology (Zegura,
//!   Calvert and Bhattacharjee, "How to model an internetwork", IEEE INFOCOM
//!   1996). `transit_domains` (default 4) transit domains of
//!   `routers_per_transit` (default 4) routers each, wired as a ring plus
//!   `floor(n / 2)` random chords; the domains form a ring, each pair of
//!   consecutive domains joined by one link between random routers. Every
//!   transit router carries `stubs_per_transit_router` (default 3) stub
//!   domains, each a ring of `routers_per_stub` (default 4) routers with one
//!   uplink from a random stub router to the transit router. Link delays are
//!   uniform in `transit_ms` (default `[20, 40]`) for intra- and inter-transit
//!   links, and in `stub_ms` (default `[2, 8]`) for intra-stub links and
//!   uplinks, drawn at microsecond resolution. A node attaches to a uniformly
//!   random stub router over an access link of `access_ms` (default 5); the
//!   delay between two nodes is `2 * access_ms` plus the shortest-path delay
//!   between their stub routers.
//!
//! Shortest paths are computed once in [`LatencyModel::build`] with Dijkstra
//! from every router over the petgraph graph, so [`LatencyModel::latency`] is
//! O(1). Since a stub domain hangs off the rest of the graph by a single
//! uplink (a bridge), a shortest path between stub routers of different stub
//! domains always leaves through one uplink and enters through the other, and
//! one inside a stub domain never leaves it. The tables are therefore a
//! transit-router matrix, one small matrix per stub domain and one distance
//! per stub router to its transit router, instead of a full router matrix:
//! `T^2 + S * routers_per_stub` entries for `T` transit and `S` stub routers
//! (a unit test checks the result against Dijkstra over the whole graph).
//!
//! Memory per node: nothing for `constant` and `uniform`, two `f32`
//! coordinates (8 bytes) for `coordinates`, one `u32` stub-router index
//! (4 bytes) for `transit-stub`.
//!
//! Determinism: the topology comes from its own `ChaCha8Rng` seeded from the
//! run seed; node `id`'s placement comes from a generator seeded from the run
//! seed with ChaCha stream number `id`, so it does not depend on which other
//! nodes exist. All arithmetic that reaches a delay is integer, or IEEE
//! `+ - * sqrt` (correctly rounded on every platform; no `hypot`, no fused
//! multiply-add), and delays are rounded to whole nanoseconds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use protocols::Time;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// Largest number of routers (transit plus stub) a transit-stub topology may have.
pub const MAX_ROUTERS: u64 = 20_000;
/// Largest number of transit routers (`transit_domains * routers_per_transit`):
/// the transit distance matrix has this many squared entries (at most 64 MiB).
pub const MAX_TRANSIT_ROUTERS: u64 = 4_096;
/// Largest `routers_per_stub`: each stub domain stores its own square matrix.
pub const MAX_ROUTERS_PER_STUB: u32 = 1_024;

/// Scenario section `[network.latency]`, deserialized from TOML with serde.
///
/// The `model` key selects the variant; every other key is a field of that
/// variant. Unknown keys are errors. See the module documentation for the
/// meaning of each model. Call [`LatencySpec::validate`] before
/// [`LatencyModel::build`].
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LatencySpec {
    /// Same one-way delay between every pair.
    Constant {
        /// One-way delay in milliseconds. Default 50.
        #[serde(default = "default_ms")]
        #[schemars(range(min = 0))]
        ms: f64,
    },
    /// Per pair uniform in `[min_ms, max_ms]`, symmetric, fixed for the run.
    Uniform {
        /// Smallest one-way delay in milliseconds. Required.
        #[schemars(range(min = 0))]
        min_ms: f64,
        /// Largest one-way delay in milliseconds. Required.
        #[schemars(range(min = 0))]
        max_ms: f64,
    },
    /// Nodes placed uniformly in a square of side `side` units;
    /// delay = `base_ms + distance * ms_per_unit`.
    Coordinates {
        /// Delay added to every pair of distinct nodes, in milliseconds. Default 0.
        #[serde(default)]
        #[schemars(range(min = 0))]
        base_ms: f64,
        /// Side of the square, in distance units. Default 100.
        #[serde(default = "default_side")]
        #[schemars(extend("exclusiveMinimum" = 0))]
        side: f64,
        /// Milliseconds per distance unit. Default 1.
        #[serde(default = "default_ms_per_unit")]
        #[schemars(range(min = 0))]
        ms_per_unit: f64,
    },
    /// GT-ITM-like transit-stub topology (Zegura et al. 1996); delay =
    /// `access_ms` at both ends + shortest path between the two nodes' stub routers.
    TransitStub {
        /// Number of transit domains. Default 4.
        #[serde(default = "default_transit_domains")]
        #[schemars(range(min = 1))]
        transit_domains: u32,
        /// Routers per transit domain. Default 4.
        #[serde(default = "default_routers_per_transit")]
        #[schemars(range(min = 1))]
        routers_per_transit: u32,
        /// Stub domains hanging off each transit router. Default 3.
        #[serde(default = "default_stubs_per_transit_router")]
        #[schemars(range(min = 1))]
        stubs_per_transit_router: u32,
        /// Routers per stub domain. Default 4.
        #[serde(default = "default_routers_per_stub")]
        #[schemars(range(min = 1, max = MAX_ROUTERS_PER_STUB))]
        routers_per_stub: u32,
        /// `[low, high]` delay range in ms of intra- and inter-transit links. Default `[20, 40]`.
        #[serde(default = "default_transit_ms")]
        #[schemars(inner(range(min = 0)))]
        transit_ms: [f64; 2],
        /// `[low, high]` delay range in ms of intra-stub links and stub uplinks. Default `[2, 8]`.
        #[serde(default = "default_stub_ms")]
        #[schemars(inner(range(min = 0)))]
        stub_ms: [f64; 2],
        /// Delay in ms of the access link between a node and its stub router. Default 5.
        #[serde(default = "default_access_ms")]
        #[schemars(range(min = 0))]
        access_ms: f64,
    },
}

fn default_ms() -> f64 {
    50.0
}
fn default_side() -> f64 {
    100.0
}
fn default_ms_per_unit() -> f64 {
    1.0
}
fn default_transit_domains() -> u32 {
    4
}
fn default_routers_per_transit() -> u32 {
    4
}
fn default_stubs_per_transit_router() -> u32 {
    3
}
fn default_routers_per_stub() -> u32 {
    4
}
fn default_transit_ms() -> [f64; 2] {
    [20.0, 40.0]
}
fn default_stub_ms() -> [f64; 2] {
    [2.0, 8.0]
}
fn default_access_ms() -> f64 {
    5.0
}

impl Default for LatencySpec {
    /// `constant`, 50 ms.
    fn default() -> Self {
        LatencySpec::Constant { ms: default_ms() }
    }
}

/// `value` must be a finite, non-negative number of milliseconds.
fn check_ms(name: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!("`{name}` must be a finite number of milliseconds >= 0 (got {value})"))
    }
}

fn check_range(name: &str, range: [f64; 2]) -> Result<(), String> {
    check_ms(&format!("{name}[0]"), range[0])?;
    check_ms(&format!("{name}[1]"), range[1])?;
    if range[0] <= range[1] {
        Ok(())
    } else {
        Err(format!("`{name}` must be [low, high] with low <= high (got [{}, {}])", range[0], range[1]))
    }
}

fn check_count(name: &str, value: u32) -> Result<(), String> {
    if value >= 1 { Ok(()) } else { Err(format!("`{name}` must be >= 1 (got {value})")) }
}

impl LatencySpec {
    /// Checks values: every ms >= 0 and finite, min <= max, counts >= 1,
    /// side > 0, at most [`MAX_ROUTERS`] routers, [`MAX_TRANSIT_ROUTERS`]
    /// transit routers and [`MAX_ROUTERS_PER_STUB`] routers per stub, and a
    /// longest possible router path below 4294 s (distances are stored as
    /// `u32` microseconds). The error names the field and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            LatencySpec::Constant { ms } => check_ms("ms", ms),
            LatencySpec::Uniform { min_ms, max_ms } => {
                check_ms("min_ms", min_ms)?;
                check_ms("max_ms", max_ms)?;
                if min_ms <= max_ms {
                    Ok(())
                } else {
                    Err(format!("`max_ms` must be >= `min_ms` (got {max_ms} < {min_ms})"))
                }
            }
            LatencySpec::Coordinates { base_ms, side, ms_per_unit } => {
                check_ms("base_ms", base_ms)?;
                if !(side.is_finite() && side > 0.0) {
                    return Err(format!("`side` must be a finite number > 0 (got {side})"));
                }
                check_ms("ms_per_unit", ms_per_unit)
            }
            LatencySpec::TransitStub {
                transit_domains,
                routers_per_transit,
                stubs_per_transit_router,
                routers_per_stub,
                transit_ms,
                stub_ms,
                access_ms,
            } => {
                check_count("transit_domains", transit_domains)?;
                check_count("routers_per_transit", routers_per_transit)?;
                check_count("stubs_per_transit_router", stubs_per_transit_router)?;
                check_count("routers_per_stub", routers_per_stub)?;
                check_range("transit_ms", transit_ms)?;
                check_range("stub_ms", stub_ms)?;
                check_ms("access_ms", access_ms)?;
                if routers_per_stub > MAX_ROUTERS_PER_STUB {
                    return Err(format!(
                        "`routers_per_stub` must be <= {MAX_ROUTERS_PER_STUB} (got {routers_per_stub})"
                    ));
                }
                let transit = transit_domains as u64 * routers_per_transit as u64;
                if transit > MAX_TRANSIT_ROUTERS {
                    return Err(format!(
                        "`transit_domains` x `routers_per_transit` must be <= {MAX_TRANSIT_ROUTERS} (got {transit})"
                    ));
                }
                let total = transit * (1 + stubs_per_transit_router as u64 * routers_per_stub as u64);
                if total > MAX_ROUTERS {
                    return Err(format!(
                        "transit-stub routers: `transit_domains` x `routers_per_transit` x (1 + \
                         `stubs_per_transit_router` x `routers_per_stub`) must be <= {MAX_ROUTERS} (got {total})"
                    ));
                }
                // A shortest router path has at most `transit - 1` transit hops
                // and, on each side, `routers_per_stub - 1` stub hops plus the uplink.
                let longest_us = (transit - 1) as f64 * ms_to_us(transit_ms[1]) as f64
                    + 2.0 * routers_per_stub as f64 * ms_to_us(stub_ms[1]) as f64;
                if longest_us > u32::MAX as f64 {
                    return Err(format!(
                        "transit-stub link delays too large: the longest possible router path \
                         ((transit routers - 1) x `transit_ms[1]` + 2 x `routers_per_stub` x `stub_ms[1]`) \
                         must be <= 4294 s (got {:.0} s)",
                        longest_us / 1e6
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Milliseconds to whole nanoseconds, rounded; negative or NaN gives 0, huge saturates.
fn ms_to_ns(ms: f64) -> u64 {
    if ms > 0.0 { (ms * 1e6).round() as u64 } else { 0 }
}

/// Milliseconds to whole microseconds, rounded; negative or NaN gives 0, huge saturates.
fn ms_to_us(ms: f64) -> u64 {
    if ms > 0.0 { (ms * 1e3).round() as u64 } else { 0 }
}

/// SplitMix64 finalizer: a bijective, well-mixed hash of a 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// Stream kinds of this module ("LATENCY" in ASCII plus a number); distinct from
// every other consumer of the run seed.
const KIND_UNIFORM: u64 = 0x4C41_5445_4E43_5901;
const KIND_PLACE: u64 = 0x4C41_5445_4E43_5902;
const KIND_TOPOLOGY: u64 = 0x4C41_5445_4E43_5903;

/// The generator for `kind` of run `seed`, at stream 0.
fn stream_rng(seed: u64, kind: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ mix(kind)))
}

/// The generator that places node `id`: a clone of `base` (never advanced) on stream `id`.
fn node_rng(base: &ChaCha8Rng, id: u32) -> ChaCha8Rng {
    let mut r = base.clone();
    r.set_stream(id as u64);
    r
}

/// Built latency model. Cheap to query; see the module documentation.
#[derive(Clone)]
pub struct LatencyModel {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Constant {
        ns: u64,
    },
    Uniform {
        min_ns: u64,
        /// Number of possible values: `max_ns - min_ns + 1` (saturating).
        span: u64,
        key: u64,
    },
    Coordinates(Box<Coordinates>),
    TransitStub(Box<TransitStub>),
}

#[derive(Clone)]
struct Coordinates {
    base_ms: f64,
    side: f64,
    ms_per_unit: f64,
    /// Position of node `id`, for ids placed so far (dense from 0).
    pos: Vec<[f32; 2]>,
    rng: ChaCha8Rng,
}

impl Coordinates {
    fn draw(&self, id: u32) -> [f32; 2] {
        let mut r = node_rng(&self.rng, id);
        let x: f64 = r.random();
        let y: f64 = r.random();
        [(x * self.side) as f32, (y * self.side) as f32]
    }

    fn pos(&self, id: u32) -> [f32; 2] {
        match self.pos.get(id as usize) {
            Some(&p) => p,
            None => self.draw(id),
        }
    }

    fn latency_ns(&self, a: u32, b: u32) -> u64 {
        let (pa, pb) = (self.pos(a), self.pos(b));
        let dx = pa[0] as f64 - pb[0] as f64;
        let dy = pa[1] as f64 - pb[1] as f64;
        let dist = (dx * dx + dy * dy).sqrt();
        ms_to_ns(self.base_ms + dist * self.ms_per_unit)
    }
}

/// Sanitized transit-stub parameters (counts >= 1, ranges ordered, in µs).
#[derive(Clone, Copy, Debug)]
struct TsParams {
    transit_domains: u32,
    routers_per_transit: u32,
    stubs_per_transit_router: u32,
    routers_per_stub: u32,
    transit_us: [u64; 2],
    stub_us: [u64; 2],
}

impl TsParams {
    fn n_transit(&self) -> usize {
        self.transit_domains as usize * self.routers_per_transit as usize
    }
    fn n_stub_domains(&self) -> usize {
        self.n_transit() * self.stubs_per_transit_router as usize
    }
    fn n_stub_routers(&self) -> usize {
        self.n_stub_domains() * self.routers_per_stub as usize
    }
}

fn sorted_us(range: [f64; 2]) -> [u64; 2] {
    let (a, b) = (ms_to_us(range[0]), ms_to_us(range[1]));
    [a.min(b), a.max(b)]
}

/// The router graph. Node `t < n_transit` is transit router `t` (domain
/// `t / routers_per_transit`); node `n_transit + s` is stub router `s`, in
/// stub domain `s / routers_per_stub`, which hangs off transit router
/// `domain / stubs_per_transit_router`. Edge weights are delays in µs.
struct Topology {
    graph: UnGraph<(), u32>,
    /// Per stub domain: the local index of its gateway router and the uplink delay (µs).
    gateway: Vec<(u32, u32)>,
}

fn draw_us(rng: &mut ChaCha8Rng, range: [u64; 2]) -> u32 {
    rng.random_range(range[0]..=range[1]).min(u32::MAX as u64) as u32
}

/// A uniform index in `0..n`, drawn as a `u32` so that it is the same on every platform.
fn pick(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n as u32) as usize
}

/// A ring over nodes `base .. base + n` (one edge for two nodes, none for one).
fn add_ring(g: &mut UnGraph<(), u32>, base: usize, n: usize, rng: &mut ChaCha8Rng, range: [u64; 2]) {
    let edges = match n {
        0 | 1 => 0,
        2 => 1,
        _ => n,
    };
    for i in 0..edges {
        let w = draw_us(rng, range);
        g.add_edge(NodeIndex::new(base + i), NodeIndex::new(base + (i + 1) % n), w);
    }
}

impl Topology {
    fn generate(p: &TsParams, rng: &mut ChaCha8Rng) -> Topology {
        let nt = p.n_transit();
        let rt = p.routers_per_transit as usize;
        let rs = p.routers_per_stub as usize;
        let total = nt + p.n_stub_routers();
        let mut g = UnGraph::with_capacity(total, 2 * total);
        for _ in 0..total {
            g.add_node(());
        }
        // Transit domains: a ring plus floor(n/2) random chords each.
        for d in 0..p.transit_domains as usize {
            let base = d * rt;
            add_ring(&mut g, base, rt, rng, p.transit_us);
            if rt >= 4 {
                for _ in 0..rt / 2 {
                    let i = base + pick(rng, rt);
                    let j = base + pick(rng, rt);
                    let (a, b) = (NodeIndex::new(i), NodeIndex::new(j));
                    if i != j && g.find_edge(a, b).is_none() {
                        let w = draw_us(rng, p.transit_us);
                        g.add_edge(a, b, w);
                    }
                }
            }
        }
        // Ring of transit domains: one link between random routers of consecutive domains.
        let nd = p.transit_domains as usize;
        let links = match nd {
            1 => 0,
            2 => 1,
            _ => nd,
        };
        for d in 0..links {
            let e = (d + 1) % nd;
            let a = d * rt + pick(rng, rt);
            let b = e * rt + pick(rng, rt);
            let w = draw_us(rng, p.transit_us);
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), w);
        }
        // Stub domains: a ring each, one uplink from a random router to the transit router.
        let mut gateway = Vec::with_capacity(p.n_stub_domains());
        for dom in 0..p.n_stub_domains() {
            let transit = dom / p.stubs_per_transit_router as usize;
            let base = nt + dom * rs;
            add_ring(&mut g, base, rs, rng, p.stub_us);
            let gw = pick(rng, rs);
            let w = draw_us(rng, p.stub_us);
            g.add_edge(NodeIndex::new(transit), NodeIndex::new(base + gw), w);
            gateway.push((gw as u32, w));
        }
        Topology { graph: g, gateway }
    }
}

/// Single-source shortest-path delays (µs) from graph node `src`, over the
/// nodes that `local` maps to a slot of `dist` (others are never entered).
/// Unreached slots stay `u64::MAX`.
fn dijkstra(
    g: &UnGraph<(), u32>,
    src: usize,
    local: impl Fn(usize) -> Option<usize>,
    dist: &mut [u64],
    heap: &mut BinaryHeap<Reverse<(u64, u32)>>,
) {
    dist.fill(u64::MAX);
    heap.clear();
    let Some(s) = local(src) else { return };
    dist[s] = 0;
    heap.push(Reverse((0, src as u32)));
    while let Some(Reverse((d, n))) = heap.pop() {
        let n = n as usize;
        let Some(ln) = local(n) else { continue };
        if d > dist[ln] {
            continue;
        }
        for e in g.edges(NodeIndex::new(n)) {
            let m = if e.source().index() == n { e.target() } else { e.source() }.index();
            let Some(lm) = local(m) else { continue };
            let nd = d + *e.weight() as u64;
            if nd < dist[lm] {
                dist[lm] = nd;
                heap.push(Reverse((nd, m as u32)));
            }
        }
    }
}

fn to_u32(us: u64) -> u32 {
    us.min(u32::MAX as u64) as u32
}

#[derive(Clone)]
struct TransitStub {
    /// Access-link delay at one end, ns.
    access_ns: u64,
    n_transit: u32,
    stubs_per_transit_router: u32,
    routers_per_stub: u32,
    n_stub_routers: u32,
    /// `n_transit x n_transit` shortest-path delays between transit routers, µs.
    transit_dist: Vec<u32>,
    /// Per stub domain, a `routers_per_stub` square matrix of delays inside it, µs.
    intra: Vec<u32>,
    /// Per stub router, the delay to its stub domain's transit router, µs.
    up: Vec<u32>,
    /// Stub router of node `id`, for ids placed so far (dense from 0).
    attach: Vec<u32>,
    rng: ChaCha8Rng,
}

impl TransitStub {
    fn build(p: &TsParams, access_ns: u64, seed: u64) -> TransitStub {
        let topo = Topology::generate(p, &mut stream_rng(seed, KIND_TOPOLOGY));
        let g = &topo.graph;
        let nt = p.n_transit();
        let rs = p.routers_per_stub as usize;
        let mut heap = BinaryHeap::new();

        // Stub domains are leaves: transit shortest paths never enter them.
        let mut transit_dist = vec![0u32; nt * nt];
        let mut dist = vec![0u64; nt];
        for src in 0..nt {
            dijkstra(g, src, |n| (n < nt).then_some(n), &mut dist, &mut heap);
            for (slot, &d) in transit_dist[src * nt..(src + 1) * nt].iter_mut().zip(&dist) {
                *slot = to_u32(d);
            }
        }

        // Inside a stub domain, a path that leaves it must come back over the same uplink.
        let n_dom = p.n_stub_domains();
        let mut intra = vec![0u32; n_dom * rs * rs];
        let mut up = vec![0u32; n_dom * rs];
        let mut dist = vec![0u64; rs];
        for (dom, &(gw, uplink)) in topo.gateway.iter().enumerate() {
            let base = nt + dom * rs;
            let block = &mut intra[dom * rs * rs..(dom + 1) * rs * rs];
            for i in 0..rs {
                let local = |n: usize| (base..base + rs).contains(&n).then(|| n - base);
                dijkstra(g, base + i, local, &mut dist, &mut heap);
                for (slot, &d) in block[i * rs..(i + 1) * rs].iter_mut().zip(&dist) {
                    *slot = to_u32(d);
                }
                up[dom * rs + i] = to_u32(dist[gw as usize] + uplink as u64);
            }
        }

        TransitStub {
            access_ns,
            n_transit: nt as u32,
            stubs_per_transit_router: p.stubs_per_transit_router,
            routers_per_stub: p.routers_per_stub,
            n_stub_routers: p.n_stub_routers() as u32,
            transit_dist,
            intra,
            up,
            attach: Vec::new(),
            rng: stream_rng(seed, KIND_PLACE),
        }
    }

    fn draw(&self, id: u32) -> u32 {
        node_rng(&self.rng, id).random_range(0..self.n_stub_routers)
    }

    fn router(&self, id: u32) -> u32 {
        match self.attach.get(id as usize) {
            Some(&r) => r,
            None => self.draw(id),
        }
    }

    /// Shortest-path delay between stub routers `ra` and `rb`, µs.
    fn router_dist_us(&self, ra: u32, rb: u32) -> u64 {
        let rs = self.routers_per_stub as usize;
        let (ra, rb) = (ra as usize, rb as usize);
        let (da, db) = (ra / rs, rb / rs);
        if da == db {
            return self.intra[da * rs * rs + (ra % rs) * rs + rb % rs] as u64;
        }
        let s = self.stubs_per_transit_router as usize;
        let (ta, tb) = (da / s, db / s);
        self.up[ra] as u64 + self.transit_dist[ta * self.n_transit as usize + tb] as u64 + self.up[rb] as u64
    }

    fn latency_ns(&self, a: u32, b: u32) -> u64 {
        let us = self.router_dist_us(self.router(a), self.router(b));
        2 * self.access_ns + us * 1_000
    }
}

impl LatencyModel {
    /// Builds the model for `spec` (which should have passed
    /// [`LatencySpec::validate`]; out-of-range values are clamped, not
    /// rejected, and an oversized topology is the caller's problem).
    /// `seed` is the run seed; the topology and the placements depend only
    /// on it, the spec and the node id.
    pub fn build(spec: &LatencySpec, seed: u64) -> LatencyModel {
        let kind = match *spec {
            LatencySpec::Constant { ms } => Kind::Constant { ns: ms_to_ns(ms) },
            LatencySpec::Uniform { min_ms, max_ms } => {
                let (a, b) = (ms_to_ns(min_ms), ms_to_ns(max_ms));
                let (lo, hi) = (a.min(b), a.max(b));
                Kind::Uniform { min_ns: lo, span: (hi - lo).saturating_add(1), key: mix(seed ^ mix(KIND_UNIFORM)) }
            }
            LatencySpec::Coordinates { base_ms, side, ms_per_unit } => Kind::Coordinates(Box::new(Coordinates {
                base_ms: if base_ms > 0.0 { base_ms } else { 0.0 },
                side: if side > 0.0 { side } else { 0.0 },
                ms_per_unit: if ms_per_unit > 0.0 { ms_per_unit } else { 0.0 },
                pos: Vec::new(),
                rng: stream_rng(seed, KIND_PLACE),
            })),
            LatencySpec::TransitStub {
                transit_domains,
                routers_per_transit,
                stubs_per_transit_router,
                routers_per_stub,
                transit_ms,
                stub_ms,
                access_ms,
            } => {
                let p = TsParams {
                    transit_domains: transit_domains.max(1),
                    routers_per_transit: routers_per_transit.max(1),
                    stubs_per_transit_router: stubs_per_transit_router.max(1),
                    routers_per_stub: routers_per_stub.max(1),
                    transit_us: sorted_us(transit_ms),
                    stub_us: sorted_us(stub_ms),
                };
                Kind::TransitStub(Box::new(TransitStub::build(&p, ms_to_ns(access_ms), seed)))
            }
        };
        LatencyModel { kind }
    }

    /// The ISP (autonomous system) of node `id`: its stub domain in the
    /// transit-stub model (`None` in the other models, which have no
    /// domains). Depends only on (seed, id), like the placement.
    pub fn stub_domain(&self, id: u32) -> Option<u32> {
        match &self.kind {
            Kind::TransitStub(t) => Some(t.router(id) / t.routers_per_stub),
            _ => None,
        }
    }

    /// Assigns node `id` its position (coordinates) or stub router
    /// (transit-stub). The result depends only on (seed, id). Ids are
    /// expected dense and increasing; placing `id` also places any lower id
    /// not yet placed (each from its own generator, so the outcome is the
    /// same as placing them one by one), and placing an id twice is a no-op.
    /// A node that was never placed still gets the same latency, computed on
    /// the fly (slower).
    pub fn place(&mut self, id: u32) {
        let want = id as usize + 1;
        match &mut self.kind {
            Kind::Constant { .. } | Kind::Uniform { .. } => {}
            Kind::Coordinates(c) => {
                while c.pos.len() < want {
                    let p = c.draw(c.pos.len() as u32);
                    c.pos.push(p);
                }
            }
            Kind::TransitStub(t) => {
                while t.attach.len() < want {
                    let r = t.draw(t.attach.len() as u32);
                    t.attach.push(r);
                }
            }
        }
    }

    /// One-way propagation delay between nodes `a` and `b`: symmetric, zero
    /// when `a == b`, O(1).
    pub fn latency(&self, a: u32, b: u32) -> Time {
        if a == b {
            return Time::ZERO;
        }
        let ns = match &self.kind {
            Kind::Constant { ns } => *ns,
            Kind::Uniform { min_ns, span, key } => {
                let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
                let h = mix(key ^ mix((lo << 32) | hi));
                min_ns + ((h as u128 * *span as u128) >> 64) as u64
            }
            Kind::Coordinates(c) => c.latency_ns(a, b),
            Kind::TransitStub(t) => t.latency_ns(a, b),
        };
        Time(ns)
    }

    /// Cache hint: `latency(a, _)` will be asked soon (no effect on results).
    pub fn prefetch(&self, a: u32) {
        if let Kind::Coordinates(c) = &self.kind
            && let Some(p) = c.pos.get(a as usize)
        {
            protocols::prefetch::prefetch(p, 1);
        }
    }

    /// A lower bound on `latency(a, b)` over all pairs `a != b`: `ms` for
    /// constant, `min_ms` for uniform, `base_ms` for coordinates and
    /// `2 * access_ms` for transit-stub (two nodes on the same stub router).
    pub fn min_latency(&self) -> Time {
        Time(match &self.kind {
            Kind::Constant { ns } => *ns,
            Kind::Uniform { min_ns, .. } => *min_ns,
            Kind::Coordinates(c) => ms_to_ns(c.base_ms),
            Kind::TransitStub(t) => 2 * t.access_ns,
        })
    }
}

impl fmt::Debug for LatencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Constant { ns } => f.debug_struct("Constant").field("ns", ns).finish(),
            Kind::Uniform { min_ns, span, .. } => {
                f.debug_struct("Uniform").field("min_ns", min_ns).field("max_ns", &(min_ns + (span - 1))).finish()
            }
            Kind::Coordinates(c) => f
                .debug_struct("Coordinates")
                .field("base_ms", &c.base_ms)
                .field("side", &c.side)
                .field("ms_per_unit", &c.ms_per_unit)
                .field("placed", &c.pos.len())
                .finish(),
            Kind::TransitStub(t) => f
                .debug_struct("TransitStub")
                .field("transit_routers", &t.n_transit)
                .field("stub_routers", &t.n_stub_routers)
                .field("access_ns", &t.access_ns)
                .field("placed", &t.attach.len())
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn transit_stub_default() -> LatencySpec {
        toml::from_str("model = \"transit-stub\"").unwrap()
    }

    fn all_specs() -> Vec<LatencySpec> {
        vec![
            LatencySpec::default(),
            LatencySpec::Uniform { min_ms: 10.0, max_ms: 200.0 },
            LatencySpec::Coordinates { base_ms: 3.0, side: 100.0, ms_per_unit: 1.5 },
            transit_stub_default(),
        ]
    }

    fn placed(spec: &LatencySpec, seed: u64, n: u32) -> LatencyModel {
        let mut m = LatencyModel::build(spec, seed);
        for id in 0..n {
            m.place(id);
        }
        m
    }

    #[test]
    fn toml_defaults_tags_and_unknown_keys() {
        let c: LatencySpec = toml::from_str("model = \"constant\"").unwrap();
        assert_eq!(c, LatencySpec::Constant { ms: 50.0 });
        assert_eq!(c, LatencySpec::default());
        let u: LatencySpec = toml::from_str("model = \"uniform\"\nmin_ms = 5\nmax_ms = 7.5").unwrap();
        assert_eq!(u, LatencySpec::Uniform { min_ms: 5.0, max_ms: 7.5 });
        let k: LatencySpec = toml::from_str("model = \"coordinates\"").unwrap();
        assert_eq!(k, LatencySpec::Coordinates { base_ms: 0.0, side: 100.0, ms_per_unit: 1.0 });
        assert_eq!(
            transit_stub_default(),
            LatencySpec::TransitStub {
                transit_domains: 4,
                routers_per_transit: 4,
                stubs_per_transit_router: 3,
                routers_per_stub: 4,
                transit_ms: [20.0, 40.0],
                stub_ms: [2.0, 8.0],
                access_ms: 5.0,
            }
        );
        let t: LatencySpec =
            toml::from_str("model = \"transit-stub\"\ntransit_ms = [1, 2]\nrouters_per_stub = 6").unwrap();
        assert!(matches!(t, LatencySpec::TransitStub { transit_ms: [1.0, 2.0], routers_per_stub: 6, .. }));
        for bad in [
            "model = \"constant\"\nms = 5\nmax_ms = 3",
            "model = \"uniform\"\nmin_ms = 5",
            "model = \"gaussian\"",
            "ms = 5",
            "model = \"transit-stub\"\ntransit_ms = [1, 2, 3]",
        ] {
            assert!(toml::from_str::<LatencySpec>(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn validate_accepts_defaults_and_rejects_bad_values() {
        for spec in all_specs() {
            spec.validate().unwrap();
        }
        let reject = |spec: LatencySpec, needle: &str| {
            let err = spec.validate().expect_err(needle);
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        };
        reject(LatencySpec::Constant { ms: -1.0 }, "`ms`");
        reject(LatencySpec::Constant { ms: f64::NAN }, "`ms`");
        reject(LatencySpec::Constant { ms: f64::INFINITY }, "`ms`");
        reject(LatencySpec::Uniform { min_ms: 5.0, max_ms: 3.0 }, "`max_ms` must be >= `min_ms` (got 3 < 5)");
        reject(LatencySpec::Uniform { min_ms: -5.0, max_ms: 3.0 }, "`min_ms`");
        let coords = |base_ms, side, ms_per_unit| LatencySpec::Coordinates { base_ms, side, ms_per_unit };
        reject(coords(-1.0, 100.0, 1.0), "`base_ms`");
        reject(coords(0.0, 0.0, 1.0), "`side`");
        reject(coords(0.0, -3.0, 1.0), "`side`");
        reject(coords(0.0, 100.0, -1.0), "`ms_per_unit`");
        let ts = |f: &dyn Fn(&mut LatencySpec)| {
            let mut s = transit_stub_default();
            f(&mut s);
            s
        };
        macro_rules! set {
            ($field:ident = $v:expr) => {
                ts(&|s| {
                    if let LatencySpec::TransitStub { $field, .. } = s {
                        *$field = $v;
                    }
                })
            };
        }
        reject(set!(transit_domains = 0), "`transit_domains` must be >= 1 (got 0)");
        reject(set!(routers_per_transit = 0), "`routers_per_transit`");
        reject(set!(stubs_per_transit_router = 0), "`stubs_per_transit_router`");
        reject(set!(routers_per_stub = 0), "`routers_per_stub`");
        reject(set!(transit_ms = [40.0, 20.0]), "`transit_ms` must be [low, high]");
        reject(set!(stub_ms = [-1.0, 2.0]), "`stub_ms[0]`");
        reject(set!(stub_ms = [1.0, f64::NAN]), "`stub_ms[1]`");
        reject(set!(access_ms = -0.5), "`access_ms`");
        reject(set!(routers_per_transit = 5000), "4096");
        reject(set!(routers_per_stub = 2000), "`routers_per_stub` must be <= 1024");
        reject(set!(stubs_per_transit_router = 2000), "must be <= 20000");
        reject(set!(transit_ms = [1e9, 1e9]), "too large");
        set!(transit_ms = [0.0, 0.0]).validate().unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn symmetric_zero_on_self_and_above_min(seed in any::<u64>(), pairs in prop::collection::vec((0u32..300, 0u32..300), 1..40)) {
            for spec in all_specs() {
                // Nodes 0..200 placed; 200..300 computed on the fly.
                let m = placed(&spec, seed, 200);
                let min = m.min_latency();
                for &(a, b) in &pairs {
                    prop_assert_eq!(m.latency(a, a), Time::ZERO);
                    prop_assert_eq!(m.latency(a, b), m.latency(b, a));
                    if a != b {
                        prop_assert!(m.latency(a, b) >= min, "{spec:?} {a} {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn constant_is_constant() {
        let m = placed(&LatencySpec::Constant { ms: 12.5 }, 3, 10);
        assert_eq!(m.latency(1, 2), Time::from_micros(12_500));
        assert_eq!(m.latency(9, 1_000_000), Time::from_micros(12_500));
        assert_eq!(m.min_latency(), Time::from_micros(12_500));
    }

    #[test]
    fn uniform_in_range_and_varied() {
        let spec = LatencySpec::Uniform { min_ms: 10.0, max_ms: 30.0 };
        let m = LatencyModel::build(&spec, 11);
        let (lo, hi) = (Time::from_millis(10), Time::from_millis(30));
        assert_eq!(m.min_latency(), lo);
        let mut values = Vec::new();
        for a in 0..60u32 {
            for b in a + 1..60 {
                let l = m.latency(a, b);
                assert!(lo <= l && l <= hi, "{l:?}");
                values.push(l.0);
            }
        }
        let mean = values.iter().sum::<u64>() as f64 / values.len() as f64 / 1e6;
        assert!((mean - 20.0).abs() < 1.0, "mean {mean} ms");
        values.sort_unstable();
        values.dedup();
        assert!(values.len() > 1_700, "only {} distinct of 1770", values.len());
        // Degenerate range.
        let m = LatencyModel::build(&LatencySpec::Uniform { min_ms: 7.0, max_ms: 7.0 }, 1);
        assert_eq!(m.latency(3, 4), Time::from_millis(7));
    }

    #[test]
    fn coordinates_metric_and_bounded() {
        let spec = LatencySpec::Coordinates { base_ms: 2.0, side: 50.0, ms_per_unit: 3.0 };
        let n = 40;
        let m = placed(&spec, 5, n);
        let max = Time::from_secs_f64((2.0 + 50.0 * 2f64.sqrt() * 3.0) / 1e3);
        for a in 0..n {
            for b in 0..n {
                let ab = m.latency(a, b);
                if a != b {
                    assert!(ab >= m.min_latency() && ab <= max, "{ab:?}");
                }
                for c in 0..n {
                    // Three roundings to the nanosecond.
                    let slack = Time(2);
                    assert!(m.latency(a, c) <= ab + m.latency(b, c) + slack, "{a} {b} {c}");
                }
            }
        }
        // Placements spread over the square, not all in one corner.
        let far = (0..n).filter(|&b| m.latency(0, b) > Time::from_millis(60)).count();
        assert!(far > 0);
    }

    fn small_ts_spec() -> LatencySpec {
        LatencySpec::TransitStub {
            transit_domains: 3,
            routers_per_transit: 5,
            stubs_per_transit_router: 2,
            routers_per_stub: 3,
            transit_ms: [10.0, 30.0],
            stub_ms: [1.0, 9.0],
            access_ms: 4.0,
        }
    }

    fn ts_of(m: &LatencyModel) -> &TransitStub {
        match &m.kind {
            Kind::TransitStub(t) => t,
            _ => panic!("not transit-stub"),
        }
    }

    #[test]
    fn transit_stub_connected_and_tables_match_full_dijkstra() {
        for (spec, seed) in [(small_ts_spec(), 1), (small_ts_spec(), 2), (transit_stub_default(), 9)] {
            let LatencySpec::TransitStub {
                transit_domains,
                routers_per_transit,
                stubs_per_transit_router,
                routers_per_stub,
                transit_ms,
                stub_ms,
                ..
            } = spec
            else {
                unreachable!()
            };
            let p = TsParams {
                transit_domains,
                routers_per_transit,
                stubs_per_transit_router,
                routers_per_stub,
                transit_us: sorted_us(transit_ms),
                stub_us: sorted_us(stub_ms),
            };
            let topo = Topology::generate(&p, &mut stream_rng(seed, KIND_TOPOLOGY));
            let g = &topo.graph;
            let total = g.node_count();
            assert_eq!(total, p.n_transit() + p.n_stub_routers());
            let m = LatencyModel::build(&spec, seed);
            let t = ts_of(&m);
            let nt = p.n_transit();
            let mut dist = vec![0u64; total];
            let mut heap = BinaryHeap::new();
            for src in 0..total {
                dijkstra(g, src, Some, &mut dist, &mut heap);
                assert!(dist.iter().all(|&d| d != u64::MAX), "graph not connected");
                if src < nt {
                    let row: Vec<u64> = t.transit_dist[src * nt..(src + 1) * nt].iter().map(|&d| d as u64).collect();
                    assert_eq!(row, dist[..nt]);
                } else {
                    for (rb, &want) in dist[nt..].iter().enumerate() {
                        let ra = (src - nt) as u32;
                        assert_eq!(t.router_dist_us(ra, rb as u32), want, "{ra} -> {rb}");
                    }
                }
            }
        }
    }

    #[test]
    fn transit_stub_structure() {
        let LatencySpec::TransitStub {
            transit_domains,
            routers_per_transit,
            stubs_per_transit_router,
            routers_per_stub,
            transit_ms,
            stub_ms,
            ..
        } = small_ts_spec()
        else {
            unreachable!()
        };
        let p = TsParams {
            transit_domains,
            routers_per_transit,
            stubs_per_transit_router,
            routers_per_stub,
            transit_us: sorted_us(transit_ms),
            stub_us: sorted_us(stub_ms),
        };
        let topo = Topology::generate(&p, &mut stream_rng(3, KIND_TOPOLOGY));
        let g = &topo.graph;
        let adjacent = |a: usize, b: usize| g.find_edge(NodeIndex::new(a), NodeIndex::new(b)).is_some();
        let (rt, rs, nt) = (5, 3, p.n_transit());
        let (mut inter, mut uplinks) = (0, 0);
        for e in g.edge_indices() {
            let (a, b) = g.edge_endpoints(e).unwrap();
            let (a, b) = (a.index().min(b.index()), a.index().max(b.index()));
            let w = *g.edge_weight(e).unwrap() as u64;
            if b < nt {
                assert!((10_000..=30_000).contains(&w), "transit link {w}");
                inter += usize::from(a / rt != b / rt);
            } else {
                assert!((1_000..=9_000).contains(&w), "stub link {w}");
                if a < nt {
                    uplinks += 1;
                    assert_eq!((b - nt) / rs / 2, a, "uplink to the wrong transit router");
                }
            }
        }
        assert_eq!(inter, 3, "one link per consecutive pair of the 3 domains");
        assert_eq!(uplinks, p.n_stub_domains(), "one uplink per stub domain");
        for d in 0..3 {
            for i in 0..rt {
                assert!(adjacent(d * rt + i, d * rt + (i + 1) % rt), "transit ring");
            }
        }
        for dom in 0..p.n_stub_domains() {
            let base = nt + dom * rs;
            for i in 0..rs {
                assert!(adjacent(base + i, base + (i + 1) % rs), "stub ring");
            }
        }
    }

    #[test]
    fn transit_stub_triangle_and_plausible_values() {
        let m = placed(&transit_stub_default(), 4, 300);
        let t = ts_of(&m);
        let n = t.n_stub_routers;
        for a in (0..n).step_by(3) {
            for b in (0..n).step_by(5) {
                for c in (0..n).step_by(7) {
                    let (ab, bc, ac) = (t.router_dist_us(a, b), t.router_dist_us(b, c), t.router_dist_us(a, c));
                    assert!(ac <= ab + bc, "routers {a} {b} {c}");
                }
            }
        }
        // Between nodes the access terms only add slack.
        let mut sum = 0.0;
        for a in 0..60 {
            for b in 0..60 {
                for c in (0..60).step_by(7) {
                    assert!(m.latency(a, c) <= m.latency(a, b) + m.latency(b, c));
                }
                let l = m.latency(a, b);
                if a != b {
                    assert!(l >= m.min_latency() && l < Time::from_millis(400), "{l:?}");
                }
                sum += l.as_secs_f64();
            }
        }
        let mean_ms = sum / (60.0 * 59.0) * 1e3;
        assert!((20.0..200.0).contains(&mean_ms), "mean {mean_ms} ms");
        assert_eq!(m.min_latency(), Time::from_millis(10));
    }

    #[test]
    fn same_seed_same_latencies_other_seed_differs() {
        for spec in all_specs().into_iter().skip(1) {
            let a = placed(&spec, 77, 100);
            let b = placed(&spec, 77, 100);
            let c = placed(&spec, 78, 100);
            let pairs: Vec<(u32, u32)> = (0..100).flat_map(|x| (0..100).map(move |y| (x, y))).collect();
            assert!(pairs.iter().all(|&(x, y)| a.latency(x, y) == b.latency(x, y)), "{spec:?}");
            let differ = pairs.iter().filter(|&&(x, y)| a.latency(x, y) != c.latency(x, y)).count();
            assert!(differ > 1_000, "{spec:?}: only {differ} pairs differ");
        }
    }

    /// Pins a few values so that a change in the generators (ours or
    /// rand's) shows up as a failing test rather than as silently different
    /// results on another machine or after an upgrade. Update deliberately.
    #[test]
    fn pinned_values_for_seed_42() {
        let want: [[u64; 3]; 3] = [
            [40_671_808, 183_411_281, 63_320_584],
            [89_685_058, 57_924_501, 85_533_671],
            [129_619_000, 138_418_000, 155_168_000],
        ];
        for (spec, want) in all_specs().iter().skip(1).zip(want) {
            let mut m = LatencyModel::build(spec, 42);
            m.place(9);
            let got = [(0, 1), (2, 9), (5, 1000)].map(|(a, b)| m.latency(a, b).0);
            assert_eq!(got, want, "{spec:?}");
        }
    }

    #[test]
    fn placement_depends_only_on_seed_and_id() {
        for spec in all_specs() {
            let mut all = LatencyModel::build(&spec, 5);
            for id in 0..20 {
                all.place(id);
            }
            let mut only7 = LatencyModel::build(&spec, 5);
            only7.place(7);
            let mut reversed = LatencyModel::build(&spec, 5);
            for id in (7..20).rev() {
                reversed.place(id);
            }
            let lazy = LatencyModel::build(&spec, 5);
            for other in [0, 3, 8, 19, 500] {
                let want = all.latency(7, other);
                assert_eq!(only7.latency(7, other), want, "{spec:?}");
                assert_eq!(reversed.latency(7, other), want, "{spec:?}");
                assert_eq!(lazy.latency(7, other), want, "{spec:?}");
            }
            if let (Kind::Coordinates(x), Kind::Coordinates(y)) = (&all.kind, &only7.kind) {
                assert_eq!(x.pos[7], y.pos[7]);
            }
            if let (Kind::TransitStub(x), Kind::TransitStub(y)) = (&all.kind, &only7.kind) {
                assert_eq!(x.attach[7], y.attach[7]);
            }
        }
    }

    #[test]
    fn transit_stub_degenerate_sizes_build() {
        for (d, rt, s, rs) in [(1, 1, 1, 1), (2, 2, 1, 2), (1, 3, 2, 5), (5, 1, 1, 1)] {
            let spec = LatencySpec::TransitStub {
                transit_domains: d,
                routers_per_transit: rt,
                stubs_per_transit_router: s,
                routers_per_stub: rs,
                transit_ms: [20.0, 40.0],
                stub_ms: [2.0, 8.0],
                access_ms: 5.0,
            };
            spec.validate().unwrap();
            let m = placed(&spec, 1, 50);
            for a in 0..50 {
                for b in 0..50 {
                    let l = m.latency(a, b);
                    assert!(l < Time::from_secs(10), "{d} {rt} {s} {rs}: {l:?}");
                }
            }
        }
    }
}
