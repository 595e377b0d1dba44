//! [`Node`]: one slot of a swarm, either the tracker or a protocol member.
//!
//! Drivers hold `Node<P>` for every id so that one monomorphic type (no `dyn`)
//! covers the tracker, the source and the peers of a protocol `P`.

use crate::ids::PeerId;
use crate::peer::{Command, Ctx, Peer};
use crate::tracker::Tracker;
use crate::wire::Msg;

/// The tracker or a member (source or peer) of protocol `P`.
pub enum Node<P> {
    Tracker(Tracker),
    Member(P),
}

impl<P: Peer> Peer for Node<P> {
    type Timer = P::Timer;

    fn on_start(&mut self, cx: &mut Ctx<'_, P::Timer>) {
        match self {
            Node::Tracker(_) => {}
            Node::Member(p) => p.on_start(cx),
        }
    }
    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, P::Timer>) {
        match self {
            Node::Tracker(t) => tracker_call(t, cx, |t, c| t.on_message(from, msg, c)),
            Node::Member(p) => p.on_message(from, msg, cx),
        }
    }
    fn on_timer(&mut self, timer: P::Timer, cx: &mut Ctx<'_, P::Timer>) {
        if let Node::Member(p) = self {
            p.on_timer(timer, cx);
        }
    }
    fn prefetch(&self) {
        if let Node::Member(p) = self {
            p.prefetch();
        }
    }
    fn prefetch_from(&self, from: PeerId) {
        if let Node::Member(p) = self {
            p.prefetch_from(from);
        }
    }
    fn on_command(&mut self, cmd: Command, cx: &mut Ctx<'_, P::Timer>) {
        match self {
            Node::Tracker(t) => match cmd {
                Command::Leave { .. } => t.up = false,
            },
            Node::Member(p) => p.on_command(cmd, cx),
        }
    }
}

/// Runs a tracker call (whose timer type is `()`) inside a context of another
/// timer type: the tracker arms no timers, so only sends and records carry over.
fn tracker_call<T>(t: &mut Tracker, cx: &mut Ctx<'_, T>, f: impl FnOnce(&mut Tracker, &mut Ctx<'_, ()>)) {
    let mut out = crate::peer::Outbox::<()>::default();
    {
        let mut inner = Ctx::new(cx.now, cx.me, cx.rng, cx.upload_backlog, &mut out);
        f(t, &mut inner);
    }
    for (to, m) in out.sends {
        cx.send(to, m);
    }
    for r in out.records {
        cx.record(r);
    }
}
