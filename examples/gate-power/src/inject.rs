//! Injected changes, on real code paths: a wrapper around every node of a
//! family that rewrites what the node sends, never the scenario.
//!
//! - `neutral`: each node draws one number from its own random stream before
//!   it starts, so every later random decision differs while nothing is made
//!   worse (the no-change condition of the study: deterministic runs of
//!   unchanged code would compare equal and make false alarms trivially 0);
//! - `drop=P`: a node silently skips serving a fraction P of the chunks it
//!   sends (a supplier that ignores a fraction of requests; in push families,
//!   a parent that skips a fraction of its pushes);
//! - `delay=S`: a node hands every chunk to its upload link S seconds late (a
//!   supplier that serves slower).
//!
//! Which chunks are dropped is a hash of (sender, receiver, chunk), not a
//! draw from the node's stream, so the dropping peer's other decisions keep
//! their random numbers (common random numbers with the baseline).

use std::collections::VecDeque;
use std::marker::PhantomData;

use protocols::peer::{Command, Ctx, Outbox, Peer};
use protocols::wire::Msg;
use protocols::{PeerId, Time};
use rand::Rng;
use sim::engine::Protocol;
use sim::registry::Family;
use sim::scenario::Scenario;

/// A change injected into every node of every family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inject {
    /// Unchanged code.
    None,
    Neutral,
    Drop(f64),
    Delay(Time),
}

impl Inject {
    /// `none`, `neutral`, `drop=P` (0 <= P <= 1) or `delay=S` (0 <= S <= 60 seconds).
    pub fn parse(s: &str) -> Result<Inject, String> {
        let bad = || {
            format!(
                "`{s}` is not an injection: expected none, neutral, drop=P (0 <= P <= 1) or delay=S (seconds, 0 to 60)"
            )
        };
        match s.split_once('=') {
            None if s == "none" => Ok(Inject::None),
            None if s == "neutral" => Ok(Inject::Neutral),
            Some(("drop", p)) => match p.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(Inject::Drop(p)),
                _ => Err(bad()),
            },
            Some(("delay", d)) => match d.parse::<f64>() {
                Ok(d) if (0.0..=60.0).contains(&d) => Ok(Inject::Delay(Time::from_secs_f64(d))),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// The injection of this process (set once by `main`, `none` by default).
static CURRENT: std::sync::OnceLock<Inject> = std::sync::OnceLock::new();

/// Sets the process's injection; the first call wins.
pub fn set(i: Inject) {
    let _ = CURRENT.set(i);
}

fn current() -> Inject {
    CURRENT.get().copied().unwrap_or(Inject::None)
}

/// Family `F` with the process's injection in every node.
pub struct Injected<F>(PhantomData<F>);

/// The engine protocol of [`Injected`].
pub struct InjectedProto<P> {
    inner: P,
    inject: Inject,
}

impl<F: Family> Family for Injected<F> {
    const NAME: &'static str = F::NAME;
    const ABOUT: &'static str = F::ABOUT;
    const SECTIONS: &'static [&'static str] = F::SECTIONS;
    const EDGE: bool = F::EDGE;
    type Proto = InjectedProto<F::Proto>;
    fn build(sc: &Scenario) -> Self::Proto {
        InjectedProto { inner: F::build(sc), inject: current() }
    }
    fn label(sc: &Scenario) -> String {
        F::label(sc)
    }
    fn stripes(sc: &Scenario) -> u8 {
        F::stripes(sc)
    }
}

impl<P: Protocol> Protocol for InjectedProto<P> {
    type Peer = InjectedPeer<P::Peer>;
    fn name(&self) -> String {
        self.inner.name()
    }
    fn source(&self, id: PeerId, up_kbps: u32) -> Self::Peer {
        InjectedPeer::new(self.inner.source(id, up_kbps), self.inject)
    }
    fn peer(&self, id: PeerId, up_kbps: u32) -> Self::Peer {
        InjectedPeer::new(self.inner.peer(id, up_kbps), self.inject)
    }
    fn edge(&self, id: PeerId, up_kbps: u32) -> Self::Peer {
        InjectedPeer::new(self.inner.edge(id, up_kbps), self.inject)
    }
}

/// A node with an injected change.
pub struct InjectedPeer<P> {
    inner: P,
    inject: Inject,
    /// Chunks held back by `delay`, in release order.
    held: VecDeque<(Time, PeerId, Msg)>,
}

/// The wrapper's timers: the inner node's, or the release of held chunks.
#[derive(Clone, Copy, Debug)]
pub enum InjectedTimer<T> {
    Inner(T),
    Release,
}

/// A uniform draw in [0, 1) from a hash of (sender, receiver, chunk).
fn unit(me: PeerId, to: PeerId, seq: u32) -> f64 {
    let key = (u64::from(me.0) << 32 | u64::from(to.0)) ^ 0x6761_7465_706f_7765;
    let h = sim::rngs::mix(sim::rngs::mix(key) ^ u64::from(seq));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl<P: Peer> InjectedPeer<P> {
    fn new(inner: P, inject: Inject) -> Self {
        InjectedPeer { inner, inject, held: VecDeque::new() }
    }

    /// Runs one call of the inner node and applies the injection to what it sent.
    fn call(&mut self, cx: &mut Ctx<'_, InjectedTimer<P::Timer>>, f: impl FnOnce(&mut P, &mut Ctx<'_, P::Timer>)) {
        let mut out = Outbox::default();
        f(&mut self.inner, &mut Ctx::new(cx.now, cx.me, &mut *cx.rng, cx.upload_backlog, &mut out));
        for (to, msg) in out.sends {
            match (self.inject, &msg) {
                (Inject::Drop(p), Msg::Chunk { seq, .. }) if unit(cx.me, to, *seq) < p => {}
                (Inject::Delay(d), Msg::Chunk { .. }) if d > Time::ZERO => {
                    self.held.push_back((cx.now + d, to, msg));
                    cx.timer_in(d, InjectedTimer::Release);
                }
                _ => cx.send(to, msg),
            }
        }
        for (at, t) in out.timers {
            cx.timer_at(at, InjectedTimer::Inner(t));
        }
        for r in out.records {
            cx.record(r);
        }
    }
}

impl<P: Peer> Peer for InjectedPeer<P> {
    type Timer = InjectedTimer<P::Timer>;

    fn on_start(&mut self, cx: &mut Ctx<'_, Self::Timer>) {
        if self.inject == Inject::Neutral {
            cx.rng.next_u64();
        }
        self.call(cx, |p, c| p.on_start(c));
    }
    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, Self::Timer>) {
        self.call(cx, |p, c| p.on_message(from, msg, c));
    }
    fn on_timer(&mut self, timer: Self::Timer, cx: &mut Ctx<'_, Self::Timer>) {
        match timer {
            InjectedTimer::Inner(t) => self.call(cx, |p, c| p.on_timer(t, c)),
            InjectedTimer::Release => {
                while self.held.front().is_some_and(|h| h.0 <= cx.now) {
                    let (_, to, msg) = self.held.pop_front().expect("checked");
                    cx.send(to, msg);
                }
            }
        }
    }
    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, Self::Timer>) {
        self.call(cx, |p, c| p.on_command(cmd, c));
    }
    fn prefetch(&self) {
        self.inner.prefetch();
    }
    fn prefetch_from(&self, from: PeerId) {
        self.inner.prefetch_from(from);
    }
}

/// swarmlab's built-in registry with every family wrapped in [`Injected`]
/// (same names, same places: scenarios are unchanged).
pub fn registry() -> swarmlab::Registry {
    use sim::families::{CdnAssisted, ClientServer, Hybrid, MeshPull, RandomPush, TreePush};
    swarmlab::Registry::builtins()
        .family::<Injected<MeshPull>>()
        .family::<Injected<TreePush>>()
        .family::<Injected<Hybrid>>()
        .family::<Injected<ClientServer>>()
        .family::<Injected<RandomPush>>()
        .family::<Injected<CdnAssisted>>()
}

/// The families [`registry`] wraps, by name (a test checks they are all the
/// built-in ones: a family left unwrapped would never see an injection, and
/// the study would report a gate that catches nothing as perfect).
pub const WRAPPED: [&str; 6] = {
    use sim::families::{CdnAssisted, ClientServer, Hybrid, MeshPull, RandomPush, TreePush};
    [MeshPull::NAME, TreePush::NAME, Hybrid::NAME, ClientServer::NAME, RandomPush::NAME, CdnAssisted::NAME]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injections_parse_or_explain() {
        assert_eq!(Inject::parse("none"), Ok(Inject::None));
        assert_eq!(Inject::parse("neutral"), Ok(Inject::Neutral));
        assert_eq!(Inject::parse("drop=0.02"), Ok(Inject::Drop(0.02)));
        assert_eq!(Inject::parse("delay=0.5"), Ok(Inject::Delay(Time::from_millis(500))));
        for bad in ["drop=2", "drop=x", "delay=-1", "slow", "delay"] {
            let e = Inject::parse(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("drop=P"), "{e}");
        }
    }

    /// A small static swarm of every family: 20 peers, 40 s.
    const SCENARIO: &str = "seed = 5\nduration_s = 40\n[stream]\nrate_kbps = 400\n[source]\nup_kbps = 4000\n\
        [peers]\ncount = 20\njoin_window_s = 5\n[[peers.classes]]\nname = \"a\"\nshare = 1.0\nup_kbps = 1200\n\
        down_kbps = 8000\n[network.latency]\nmodel = \"constant\"\nms = 20\n";

    fn report<F: Family>(inject: Inject) -> swarmlab::analysis::Report {
        let sc = Scenario::parse("inject-test.toml", SCENARIO).expect("the test scenario parses");
        let opts = sim::runner::RunOptions { name: "t".into(), seed: 5, threads: 1, draw: 0 };
        let proto = InjectedProto { inner: F::build(&sc), inject };
        sim::runner::run_with(proto, &sc, &opts, &mut |_, _| {})
    }

    fn plain<F: Family>() -> swarmlab::analysis::Report {
        let sc = Scenario::parse("inject-test.toml", SCENARIO).expect("the test scenario parses");
        let opts = sim::runner::RunOptions { name: "t".into(), seed: 5, threads: 1, draw: 0 };
        sim::runner::run_with(F::build(&sc), &sc, &opts, &mut |_, _| {})
    }

    fn transparent_and_effective<F: Family>() {
        let base = plain::<F>();
        assert_eq!(report::<F>(Inject::None).metrics, base.metrics, "{}: `none` must change nothing", F::NAME);
        let get = |r: &swarmlab::analysis::Report, m| r.get(m).unwrap_or(f64::NAN);
        let dropped = report::<F>(Inject::Drop(0.2));
        assert!(
            get(&dropped, "continuity_mean") < get(&base, "continuity_mean")
                || get(&dropped, "startup_delay_p50") > get(&base, "startup_delay_p50"),
            "{}: dropping 20% of chunk sends must cost continuity or startup",
            F::NAME
        );
        let slow = report::<F>(Inject::Delay(Time::from_secs(2)));
        // The delivery delay, not the lag: a player's lag also depends on the
        // start position it picks (the hybrid's moved the other way here).
        assert!(
            get(&slow, "delivery_delay_p50") > get(&base, "delivery_delay_p50") + 1.0,
            "{}: 2 s more per hop must raise the delivery delay ({} vs {})",
            F::NAME,
            get(&slow, "delivery_delay_p50"),
            get(&base, "delivery_delay_p50")
        );
    }

    #[test]
    fn none_is_transparent_and_injections_cost_every_family() {
        use sim::families::{CdnAssisted, ClientServer, Hybrid, MeshPull, RandomPush, TreePush};
        transparent_and_effective::<MeshPull>();
        transparent_and_effective::<TreePush>();
        transparent_and_effective::<Hybrid>();
        transparent_and_effective::<ClientServer>();
        transparent_and_effective::<RandomPush>();
        transparent_and_effective::<CdnAssisted>();
    }

    #[test]
    fn every_built_in_family_is_wrapped() {
        let builtins = swarmlab::Registry::builtins();
        let mut names = builtins.sim().family_names();
        names.sort_unstable();
        let mut wrapped = WRAPPED.to_vec();
        wrapped.sort_unstable();
        assert_eq!(names, wrapped, "wrap every built-in family in `registry()` and list it in WRAPPED");
    }

    #[test]
    fn drop_draws_look_uniform() {
        let n = 20_000u32;
        let hits = (0..n).filter(|&i| unit(PeerId(i % 97), PeerId(i % 13 + 200), i) < 0.1).count();
        assert!((hits as f64 / n as f64 - 0.1).abs() < 0.01, "{hits}");
    }
}
