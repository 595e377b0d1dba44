//! The CLI's registry: the simulator's [`sim::registry::Registry`] (sections,
//! families, schedulers) plus, for each family, the function that runs it as a
//! real node over UDP (`swarmlab peer`), monomorphised for its peer type.
//!
//! Registering a family here registers it in both at once, so a family is
//! named in one place whatever command runs it.

use protocols::sched::SchedulerSpec;
use sim::registry::Family;

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
        use sim::families::{ClientServer, Hybrid, MeshPull, TreePush};
        let sim = sim::registry::Registry::builtins();
        let hosts: Vec<(&'static str, HostFn)> = vec![
            ("mesh-pull", peer_cmd::host::<MeshPull>),
            ("tree-push", peer_cmd::host::<TreePush>),
            ("hybrid", peer_cmd::host::<Hybrid>),
            ("client-server", peer_cmd::host::<ClientServer>),
        ];
        let r = Registry { sim, hosts };
        debug_assert_eq!(r.sim.family_names(), r.hosts.iter().map(|h| h.0).collect::<Vec<_>>());
        r
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
