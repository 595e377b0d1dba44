//! The CLI's registry: the simulator's [`sim::registry::Registry`] (sections,
//! families, schedulers) plus, for each family, the function that runs it as a
//! real node over UDP (`swarmlab peer`), monomorphised for its peer type.
//!
//! Registering a family here registers it in both at once, so a family is
//! named in one place whatever command runs it.

use protocols::sched::SchedulerSpec;
use sim::registry::{AddFamily, Family};

use crate::peer_cmd::{self, HostFn};
use protocols::params::Params;

/// Families, sections and schedulers the CLI knows, in registration order.
#[derive(Clone, Debug)]
pub struct Registry {
    sim: sim::registry::Registry,
    hosts: Vec<(&'static str, HostFn)>,
}

impl Registry {
    /// The built-in sections, families and schedulers.
    pub fn builtins() -> Registry {
        let r = Registry { sim: sim::registry::Registry::builtins(), hosts: Vec::new() };
        // Registering again keeps each family's place and adds its UDP host.
        sim::families::builtin_families(r)
    }

    /// Adds the `[protocol.<section>]` table of type `P`.
    pub fn section<P: Params>(mut self) -> Registry {
        self.sim = self.sim.section::<P>();
        self
    }

    /// Adds family `F` to the simulator and to `swarmlab peer` / `validate`.
    pub fn family<F: Family>(mut self) -> Registry {
        self.sim = self.sim.family::<F>();
        match self.hosts.iter_mut().find(|h| h.0 == F::NAME) {
            Some(h) => h.1 = peer_cmd::host::<F>,
            None => self.hosts.push((F::NAME, peer_cmd::host::<F>)),
        }
        self
    }

    /// Adds a chunk scheduler.
    pub fn scheduler(mut self, e: SchedulerSpec) -> Registry {
        self.sim = self.sim.scheduler(e);
        self
    }

    /// The simulator's part.
    pub fn sim(&self) -> &sim::registry::Registry {
        &self.sim
    }

    /// The UDP runner of a family.
    pub fn host(&self, family: &str) -> Option<HostFn> {
        self.hosts.iter().find(|h| h.0 == family).map(|h| h.1)
    }

    /// Makes this registry the one scenario parsing and runs use.
    pub fn install(&self) {
        sim::registry::install(self.sim.clone());
    }
}

impl AddFamily for Registry {
    fn family<F: Family>(self) -> Registry {
        Registry::family::<F>(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_family_has_a_udp_host() {
        let r = Registry::builtins();
        for name in r.sim().family_names() {
            assert!(r.host(name).is_some(), "{name} has no UDP host");
        }
        assert_eq!(
            r.sim().family_names(),
            ["mesh-pull", "tree-push", "hybrid", "client-server", "random-push", "cdn-p2p"]
        );
        assert!(r.host("gossip").is_none());
    }
}
