//! The tracker: a bootstrap directory shared by every protocol family.
//!
//! Nodes `Register` (again every `refresh`), `Unregister` on graceful leave and
//! ask for a `PeerList`: a uniform random sample of live members, excluding the
//! asker. Crashed members are not announced; their entries expire after
//! `entry_ttl` without a re-registration. Sampling costs O(k) with a dense
//! position index, so the tracker scales to 10^6 members.
//!
//! With NATs (`[nat]`), a tracker that knows which members accept no
//! unsolicited connection ([`Tracker::with_restricted`], as a tracker learns
//! from a connectivity check at registration) never lists such a member to
//! another: they could not connect to each other.
//!
//! With ISP locality (`[isp] locality = p`, [`Tracker::with_isp`]), a list is
//! biased towards the asker's ISP, as P4P-style tracker guidance does (Xie,
//! Yang, Krishnamurthy, Liu, Silberschatz, "P4P: Provider Portal for
//! Applications", SIGCOMM 2008): `round(p x want)` entries are a uniform
//! sample of the asker's own ISP (as many as it has), the rest the uniform
//! sample above.

use rand::RngExt;

use crate::ids::PeerId;
use crate::peer::{Command, Ctx, Peer};
use crate::time::Time;
use crate::wire::{MAX_PEERS_PER_MSG, Msg, Role};

/// Tracker parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackerParams {
    /// An entry with no re-registration for this long is dropped (default 90 s).
    pub entry_ttl: Time,
}

impl Default for TrackerParams {
    fn default() -> Self {
        TrackerParams { entry_ttl: Time::from_secs(90) }
    }
}

const ABSENT: u32 = u32::MAX;

/// Tracker state: members in a vector, with a dense id -> position index.
pub struct Tracker {
    params: TrackerParams,
    members: Vec<PeerId>,
    last_seen: Vec<Time>,
    pos: Vec<u32>,
    source: Option<PeerId>,
    /// Per node id: behind a NAT that accepts no unsolicited connection.
    restricted: Vec<bool>,
    /// Per node id: its ISP; and the share of a list taken from the asker's.
    isp: Vec<u32>,
    locality: f64,
    /// Whether the tracker answers (false after a tracker failure).
    pub up: bool,
}

impl Tracker {
    pub fn new(params: TrackerParams) -> Tracker {
        Tracker {
            params,
            members: Vec::new(),
            last_seen: Vec::new(),
            pos: Vec::new(),
            source: None,
            restricted: Vec::new(),
            isp: Vec::new(),
            locality: 0.0,
            up: true,
        }
    }
    /// Node `i` is in ISP `isp[i]`; `locality` of each list comes from the
    /// asker's ISP.
    pub fn with_isp(mut self, isp: Vec<u32>, locality: f64) -> Tracker {
        self.isp = isp;
        self.locality = locality.clamp(0.0, 1.0);
        self
    }
    /// Node `i` is behind a NAT when `restricted[i]`: two such members are
    /// never listed to each other.
    pub fn with_restricted(mut self, restricted: Vec<bool>) -> Tracker {
        self.restricted = restricted;
        self
    }
    fn is_restricted(&self, id: PeerId) -> bool {
        self.restricted.get(id.index()).copied().unwrap_or(false)
    }
    pub fn len(&self) -> usize {
        self.members.len()
    }
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    /// The registered source, if any.
    pub fn source(&self) -> Option<PeerId> {
        self.source
    }
    fn add(&mut self, id: PeerId, now: Time) {
        let i = id.index();
        if self.pos.len() <= i {
            self.pos.resize(i + 1, ABSENT);
        }
        if self.pos[i] == ABSENT {
            self.pos[i] = self.members.len() as u32;
            self.members.push(id);
            self.last_seen.push(now);
        } else {
            self.last_seen[self.pos[i] as usize] = now;
        }
    }
    fn remove(&mut self, id: PeerId) {
        let Some(&p) = self.pos.get(id.index()) else {
            return;
        };
        if p == ABSENT {
            return;
        }
        let p = p as usize;
        self.members.swap_remove(p);
        self.last_seen.swap_remove(p);
        if p < self.members.len() {
            self.pos[self.members[p].index()] = p as u32;
        }
        self.pos[id.index()] = ABSENT;
    }
    /// Up to `want` members for `asker`: with ISP locality, first a share
    /// from its own ISP, then uniformly ([`Tracker::sample_uniform`]).
    pub fn sample<T>(&mut self, asker: PeerId, want: usize, cx: &mut Ctx<'_, T>) -> Vec<PeerId> {
        let own = self.isp.get(asker.index()).copied();
        let (Some(own), true) = (own, self.locality > 0.0) else {
            return self.sample_uniform(asker, want, cx);
        };
        let want = want.min(MAX_PEERS_PER_MSG);
        let nat = self.is_restricted(asker);
        let now = cx.now;
        let ttl = self.params.entry_ttl;
        let mut local: Vec<PeerId> = (0..self.members.len())
            .filter(|&i| self.last_seen[i] + ttl >= now)
            .map(|i| self.members[i])
            .filter(|&m| m != asker && self.isp.get(m.index()) == Some(&own) && !(nat && self.is_restricted(m)))
            .collect();
        let k = ((want as f64 * self.locality).round() as usize).min(local.len());
        for i in 0..k {
            let j = cx.rng.random_range(i..local.len());
            local.swap(i, j);
        }
        local.truncate(k);
        for id in self.sample_uniform(asker, want, cx) {
            if local.len() >= want {
                break;
            }
            if !local.contains(&id) {
                local.push(id);
            }
        }
        local
    }

    /// Up to `want` distinct live members other than `asker`, chosen uniformly.
    pub fn sample_uniform<T>(&mut self, asker: PeerId, want: usize, cx: &mut Ctx<'_, T>) -> Vec<PeerId> {
        let want = want.min(MAX_PEERS_PER_MSG);
        let mut out = Vec::with_capacity(want.min(self.members.len()));
        // Bounded attempts: a small membership is scanned in full instead.
        if self.members.len() <= want * 4 {
            let mut i = 0;
            while i < self.members.len() {
                if self.last_seen[i] + self.params.entry_ttl < cx.now {
                    let id = self.members[i];
                    self.remove(id);
                    continue;
                }
                i += 1;
            }
            let nat = self.is_restricted(asker);
            let mut all: Vec<PeerId> =
                self.members.iter().copied().filter(|&m| m != asker && !(nat && self.is_restricted(m))).collect();
            // Partial Fisher-Yates.
            for k in 0..want.min(all.len()) {
                let j = cx.rng.random_range(k..all.len());
                all.swap(k, j);
            }
            all.truncate(want);
            return all;
        }
        let mut attempts = want * 8;
        while out.len() < want && attempts > 0 && !self.members.is_empty() {
            attempts -= 1;
            let i = cx.rng.random_range(0..self.members.len());
            let id = self.members[i];
            if self.last_seen[i] + self.params.entry_ttl < cx.now {
                self.remove(id);
                continue;
            }
            if id != asker && !out.contains(&id) && !(self.is_restricted(asker) && self.is_restricted(id)) {
                out.push(id);
            }
        }
        out
    }
}

impl Peer for Tracker {
    type Timer = ();

    fn on_start(&mut self, _cx: &mut Ctx<'_, ()>) {}

    fn on_message(&mut self, from: PeerId, msg: Msg, cx: &mut Ctx<'_, ()>) {
        if !self.up {
            return;
        }
        match msg {
            Msg::Register { role, .. } => {
                if role == Role::Source {
                    self.source = Some(from);
                }
                self.add(from, cx.now);
            }
            Msg::Unregister => self.remove(from),
            Msg::PeerListReq { want } => {
                let peers = self.sample(from, want as usize, cx);
                cx.send(from, Msg::PeerList { peers });
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _t: (), _cx: &mut Ctx<'_, ()>) {}

    fn on_command(&mut self, _cmd: Command, _cx: &mut Ctx<'_, ()>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Outbox;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn call(t: &mut Tracker, now: Time, from: u32, msg: Msg) -> Vec<(PeerId, Msg)> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut out: Outbox<()> = Outbox::default();
        let mut cx = Ctx::new(now, PeerId(1), &mut rng, Time::ZERO, &mut out);
        t.on_message(PeerId(from), msg, &mut cx);
        out.sends
    }

    #[test]
    fn a_member_behind_a_nat_is_never_listed_to_another() {
        // Even ids are behind NATs.
        let restricted: Vec<bool> = (0..300).map(|i| i % 2 == 0).collect();
        let mut t = Tracker::new(TrackerParams::default()).with_restricted(restricted);
        for id in 2..300 {
            call(&mut t, Time::ZERO, id, Msg::Register { role: Role::Peer, up_kbps: 1 });
        }
        for (asker, want) in [(4, 20), (4, 200), (5, 20)] {
            let out = call(&mut t, Time::ZERO, asker, Msg::PeerListReq { want });
            let Msg::PeerList { peers } = &out[0].1 else { panic!("{out:?}") };
            assert_eq!(peers.len(), (want as usize).min(MAX_PEERS_PER_MSG), "{peers:?}");
            if asker % 2 == 0 {
                assert!(peers.iter().all(|p| p.0 % 2 == 1), "{asker}: {peers:?}");
            } else {
                assert!(peers.iter().any(|p| p.0 % 2 == 0), "a public asker gets anyone: {peers:?}");
            }
        }
    }

    #[test]
    fn with_locality_a_share_of_the_list_comes_from_the_askers_isp() {
        // Ten ISPs: id % 10.
        let isp: Vec<u32> = (0..400).map(|i| i % 10).collect();
        for (locality, lo, hi) in [(0.0, 0, 8), (0.5, 10, 13), (1.0, 20, 20)] {
            let mut t = Tracker::new(TrackerParams::default()).with_isp(isp.clone(), locality);
            for id in 2..400 {
                call(&mut t, Time::ZERO, id, Msg::Register { role: Role::Peer, up_kbps: 1 });
            }
            let out = call(&mut t, Time::ZERO, 13, Msg::PeerListReq { want: 20 });
            let Msg::PeerList { peers } = &out[0].1 else { panic!("{out:?}") };
            assert_eq!(peers.len(), 20);
            let mut uniq = peers.clone();
            uniq.sort();
            uniq.dedup();
            assert_eq!(uniq.len(), 20, "distinct: {peers:?}");
            let same = peers.iter().filter(|p| p.0 % 10 == 3).count();
            assert!((lo..=hi).contains(&same), "locality {locality}: {same} of 20 from the ISP");
        }
    }

    #[test]
    fn lists_live_members_without_the_asker_and_expires_silent_ones() {
        let mut t = Tracker::new(TrackerParams { entry_ttl: Time::from_secs(10) });
        for id in 2..300 {
            call(&mut t, Time::ZERO, id, Msg::Register { role: Role::Peer, up_kbps: 1 });
        }
        call(&mut t, Time::ZERO, 7, Msg::Unregister);
        let sent = call(&mut t, Time::from_secs(5), 3, Msg::PeerListReq { want: 20 });
        let Msg::PeerList { peers } = &sent[0].1 else { panic!("expected a peer list") };
        assert_eq!(peers.len(), 20);
        assert!(!peers.contains(&PeerId(3)) && !peers.contains(&PeerId(7)));
        let mut sorted = peers.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 20, "no duplicates");
        // Only member 9 re-registers; at 15 s all others have expired.
        call(&mut t, Time::from_secs(8), 9, Msg::Register { role: Role::Peer, up_kbps: 1 });
        let sent = call(&mut t, Time::from_secs(15), 3, Msg::PeerListReq { want: 20 });
        let mut seen = std::collections::BTreeSet::new();
        if let Msg::PeerList { peers } = &sent[0].1 {
            seen.extend(peers.iter().copied());
        }
        // Repeated asks eventually purge everything stale; 9 must be the only one left.
        for _ in 0..200 {
            let s = call(&mut t, Time::from_secs(15), 3, Msg::PeerListReq { want: 20 });
            if let Msg::PeerList { peers } = &s[0].1 {
                seen.extend(peers.iter().copied());
            }
        }
        assert!(seen.iter().all(|&p| p == PeerId(9)), "stale entries listed: {seen:?}");
        assert_eq!(t.len(), 1);
    }
}
