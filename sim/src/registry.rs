//! The one registry: parameter sections, protocol families and chunk
//! schedulers, by name.
//!
//! - A **section** is a [`Params`] type read from `[protocol.<name>]`.
//! - A **family** ([`Family`]) names the sections it reads and builds the
//!   engine [`Protocol`] of a scenario; its entry carries a function pointer
//!   that runs [`runner::run_with`] monomorphised for it, so dispatch happens
//!   once per run and the event loop has no `dyn` call.
//! - A **scheduler** is a [`SchedulerSpec`]: a name, a line about it and a
//!   factory of per-peer scheduler state.
//!
//! Everything that names families, sections or schedulers iterates a
//! registry: scenario parsing (`[protocol] name`, `scheduler`, the section
//! tables and `[[variants]]`), the runner, the docs check and the test lists.
//!
//! Parsing finds the registry through a process-wide slot: [`current`]
//! returns the registry [`install`]ed last, or [`Registry::builtins`] when
//! none was. The CLI (`swarmlab::main_with`) installs its registry before it
//! reads any scenario; a program that registers its own family does the same.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use analysis::Report;
use protocols::Time;
use protocols::params::{
    AssistSection, HybridSection, KeyDoc, MeshSection, ParamCtx, ParamError, Params, PushSection, TreeSection,
};
use protocols::sched::SchedulerSpec;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::engine::Protocol;
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;

/// A parsed section value, type-erased so a scenario can hold sections of any
/// registered type.
pub trait AnySection: Any + Send + Sync + fmt::Debug {
    fn as_any(&self) -> &dyn Any;
    fn clone_box(&self) -> Box<dyn AnySection>;
}

impl<P: Params> AnySection for P {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn clone_box(&self) -> Box<dyn AnySection> {
        Box::new(self.clone())
    }
}

/// A parsed section, or the TOML error (with its span) that prevented it.
pub type SectionResult = Result<Box<dyn AnySection>, toml::de::Error>;

/// A registered `[protocol.<name>]` section.
#[derive(Clone)]
pub struct SectionEntry {
    pub name: &'static str,
    /// The section's doc paragraph.
    pub about: fn() -> String,
    /// Every key with type, default, unit and meaning.
    pub keys: fn() -> Vec<KeyDoc>,
    /// The section's part of docs/scenario.md.
    pub markdown: fn() -> String,
    parse: fn(&str, &[Seg<'_>]) -> SectionResult,
    from_table: fn(toml::Table) -> SectionResult,
    default: fn() -> Box<dyn AnySection>,
    validate: fn(&dyn AnySection, &ParamCtx) -> Result<(), ParamError>,
}

impl SectionEntry {
    /// The entry of section type `P`.
    pub fn of<P: Params>() -> SectionEntry {
        SectionEntry {
            name: P::SECTION,
            about: P::about,
            keys: P::keys,
            markdown: protocols::params::markdown::<P>,
            parse: parse_section::<P>,
            from_table: |t| Ok(Box::new(P::deserialize(toml::Value::Table(t))?)),
            default: || Box::new(P::default()),
            validate: |v, ctx| match v.as_any().downcast_ref::<P>() {
                Some(p) => p.validate(ctx),
                None => Ok(()),
            },
        }
    }

    /// Parses this section out of a whole TOML document (absent: defaults);
    /// error spans are relative to the document.
    pub fn parse(&self, src: &str) -> Result<Box<dyn AnySection>, toml::de::Error> {
        (self.parse)(src, &[Seg::Key("protocol"), Seg::Key(self.name)])
    }

    /// Parses this section out of the table at `path` of a whole TOML
    /// document (absent: defaults), with document-relative error spans.
    pub fn parse_at(&self, src: &str, path: &[Seg<'_>]) -> Result<Box<dyn AnySection>, toml::de::Error> {
        (self.parse)(src, path)
    }

    /// This section from a table of (already checked) values; absent keys take their defaults.
    pub fn from_table(&self, t: toml::Table) -> Result<Box<dyn AnySection>, toml::de::Error> {
        (self.from_table)(t)
    }

    /// The section with every key at its default.
    pub fn default_value(&self) -> Box<dyn AnySection> {
        (self.default)()
    }

    /// Cross-key rules of a parsed value of this section.
    pub fn validate(&self, value: &dyn AnySection, ctx: &ParamCtx) -> Result<(), ParamError> {
        (self.validate)(value, ctx)
    }
}

/// One step of a path into a TOML document: a key, or an index into an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn parse_section<P: Params>(src: &str, path: &[Seg<'_>]) -> Result<Box<dyn AnySection>, toml::de::Error> {
    let d = toml::de::Deserializer::parse(src)?;
    let p = Walk::<P> { path, _p: PhantomData }.deserialize(d)?;
    Ok(Box::new(p))
}

/// Deserializes `P` from the table at `path` inside a document (defaults when
/// absent), ignoring everything else, so spans stay document-relative.
struct Walk<'a, 'b, P> {
    path: &'a [Seg<'b>],
    _p: PhantomData<P>,
}

impl<'de, P: Params> DeserializeSeed<'de> for Walk<'_, '_, P> {
    type Value = P;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<P, D::Error> {
        match self.path.first() {
            None => P::deserialize(d),
            Some(Seg::Key(_)) => d.deserialize_map(self),
            Some(Seg::Index(_)) => d.deserialize_seq(self),
        }
    }
}

impl<'de, P: Params> Visitor<'de> for Walk<'_, '_, P> {
    type Value = P;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a table or an array of tables")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<P, A::Error> {
        let (head, rest) = self.path.split_first().expect("a non-empty path");
        let mut found = None;
        while let Some(k) = map.next_key::<String>()? {
            if Seg::Key(&k) == *head {
                found = Some(map.next_value_seed(Walk::<P> { path: rest, _p: PhantomData })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found.unwrap_or_default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<P, A::Error> {
        let (head, rest) = self.path.split_first().expect("a non-empty path");
        let mut found = None;
        let mut i = 0;
        loop {
            if Seg::Index(i) == *head {
                match seq.next_element_seed(Walk::<P> { path: rest, _p: PhantomData })? {
                    Some(p) => found = Some(p),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found.unwrap_or_default())
    }
}

/// Runs a scenario with one family (a monomorphised [`runner::run_with`]).
pub type RunFn = fn(&Scenario, &RunOptions, &mut dyn FnMut(Time, Time)) -> Report;

/// A protocol family: name, the sections it reads, and how to build its
/// engine protocol from a scenario.
pub trait Family: 'static {
    /// `[protocol] name` of the family, and its name in reports.
    const NAME: &'static str;
    /// One line for docs/scenario.md and error messages.
    const ABOUT: &'static str;
    /// The `[protocol.<section>]` tables it reads.
    const SECTIONS: &'static [&'static str];
    /// The engine protocol (node factory) of a run.
    type Proto: Protocol;
    /// The protocol of a run of `sc`.
    fn build(sc: &Scenario) -> Self::Proto;
    /// Label of a variant of this family in comparisons (default: the name).
    fn label(_sc: &Scenario) -> String {
        Self::NAME.to_string()
    }
    /// Stripes whose trees the defences must know of (`Defences::stripes`):
    /// families that push down stripe trees return their maximum (0: none).
    fn stripes(_sc: &Scenario) -> u8 {
        0
    }
    /// Whether the family's peers fall back to a CDN edge: the population
    /// then has an edge node (node 2, `[cdn]`), built by [`Protocol::edge`].
    const EDGE: bool = false;
}

/// Something families are registered in (this crate's [`Registry`], and the
/// CLI's, which adds a UDP host per family), so the built-ins are listed once
/// ([`crate::families::builtin_families`]).
pub trait AddFamily: Sized {
    fn family<F: Family>(self) -> Self;
}

impl AddFamily for Registry {
    fn family<F: Family>(self) -> Registry {
        Registry::family::<F>(self)
    }
}

/// A registered family.
#[derive(Clone)]
pub struct FamilyEntry {
    pub name: &'static str,
    pub about: &'static str,
    pub sections: &'static [&'static str],
    pub label: fn(&Scenario) -> String,
    pub stripes: fn(&Scenario) -> u8,
    /// [`Family::EDGE`].
    pub edge: bool,
    pub run: RunFn,
}

impl FamilyEntry {
    pub fn of<F: Family>() -> FamilyEntry {
        FamilyEntry {
            name: F::NAME,
            about: F::ABOUT,
            sections: F::SECTIONS,
            label: F::label,
            stripes: F::stripes,
            edge: F::EDGE,
            run: |sc, opts, progress| runner::run_with(F::build(sc), sc, opts, progress),
        }
    }
}

/// Sections, families and schedulers, each in registration order (the first
/// family and the first scheduler are the defaults of `[protocol]`).
#[derive(Clone, Default)]
pub struct Registry {
    sections: Vec<SectionEntry>,
    families: Vec<FamilyEntry>,
    schedulers: Vec<SchedulerSpec>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("sections", &self.section_names())
            .field("families", &self.family_names())
            .field("schedulers", &self.scheduler_names())
            .finish()
    }
}

impl Registry {
    /// Nothing registered.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// The built-in sections (`mesh`, `tree`, `hybrid`, `push`), families
    /// (`mesh-pull`, `tree-push`, `hybrid`, `client-server`, `random-push`) and schedulers
    /// (`donet`, `random`, `rarest-first`, `edf`, `latest-useful`).
    pub fn builtins() -> Registry {
        let r = Registry::empty()
            .section::<MeshSection>()
            .section::<TreeSection>()
            .section::<HybridSection>()
            .section::<PushSection>()
            .section::<AssistSection>();
        let mut r = crate::families::builtin_families(r);
        for spec in protocols::sched::builtins() {
            r = r.scheduler(spec);
        }
        r
    }

    /// Adds (or replaces, keeping its place) the section of type `P`.
    pub fn section<P: Params>(mut self) -> Registry {
        let e = SectionEntry::of::<P>();
        match self.sections.iter_mut().find(|s| s.name == e.name) {
            Some(s) => *s = e,
            None => self.sections.push(e),
        }
        self
    }

    /// Adds (or replaces, keeping its place) family `F`.
    pub fn family<F: Family>(mut self) -> Registry {
        let e = FamilyEntry::of::<F>();
        match self.families.iter_mut().find(|f| f.name == e.name) {
            Some(f) => *f = e,
            None => self.families.push(e),
        }
        self
    }

    /// Adds (or replaces, keeping its place) a chunk scheduler.
    pub fn scheduler(mut self, e: SchedulerSpec) -> Registry {
        match self.schedulers.iter_mut().find(|s| s.name() == e.name()) {
            Some(s) => *s = e,
            None => self.schedulers.push(e),
        }
        self
    }

    pub fn sections(&self) -> &[SectionEntry] {
        &self.sections
    }
    pub fn families(&self) -> &[FamilyEntry] {
        &self.families
    }
    pub fn schedulers(&self) -> &[SchedulerSpec] {
        &self.schedulers
    }
    pub fn find_section(&self, name: &str) -> Option<&SectionEntry> {
        self.sections.iter().find(|s| s.name == name)
    }
    pub fn find_family(&self, name: &str) -> Option<&FamilyEntry> {
        self.families.iter().find(|f| f.name == name)
    }
    pub fn find_scheduler(&self, name: &str) -> Option<&SchedulerSpec> {
        self.schedulers.iter().find(|s| s.name() == name)
    }
    pub fn section_names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name).collect()
    }
    pub fn family_names(&self) -> Vec<&str> {
        self.families.iter().map(|f| f.name).collect()
    }
    pub fn scheduler_names(&self) -> Vec<&str> {
        self.schedulers.iter().map(|s| s.name()).collect()
    }
}

impl Registry {
    /// The `[protocol]` part of docs/scenario.md, generated from the
    /// registry: the `name` and `scheduler` keys with every registered family
    /// and scheduler, then each section's table from its parameter type.
    pub fn markdown(&self) -> String {
        let quoted = |names: Vec<&str>| -> String {
            let q: Vec<String> = names.iter().map(|n| format!("`\"{n}\"`")).collect();
            format!("one of {}", q.join(", "))
        };
        let default = |names: Vec<&str>| names.first().map_or("—".to_string(), |n| format!("`\"{n}\"`"));
        let families: Vec<String> = self
            .families
            .iter()
            .map(|f| {
                let reads: Vec<String> = f.sections.iter().map(|s| format!("`[protocol.{s}]`")).collect();
                if reads.is_empty() {
                    format!("`{}`: {}", f.name, f.about)
                } else {
                    format!("`{}`: {} (reads {})", f.name, f.about, reads.join(", "))
                }
            })
            .collect();
        let schedulers: Vec<String> =
            self.schedulers.iter().map(|s| format!("`{}`: {}", s.name(), s.about())).collect();
        let sections: Vec<String> = self.sections.iter().map(|s| format!("`[protocol.{}]`", s.name)).collect();
        let mut out = String::from("## `[protocol]`\n\n");
        out.push_str(&format!(
            "Families, schedulers and sections are those of the registry (`sim/src/registry.rs`; \
             a program built on `swarmlab::main_with` may register more, see docs/extending.md). \
             The other tables under `[protocol]` are the registered sections: {}; any other name is an error.\n\n",
            sections.join(", ")
        ));
        out.push_str("| key | type | default | unit | meaning |\n|---|---|---|---|---|\n");
        out.push_str(&format!(
            "| `protocol.name` | {} | {} | — | protocol family: {} |\n",
            quoted(self.family_names()),
            default(self.family_names()),
            families.join("; ")
        ));
        out.push_str(&format!(
            "| `protocol.scheduler` | {} | {} | — | chunk scheduler of the mesh-based families: {} |\n",
            quoted(self.scheduler_names()),
            default(self.scheduler_names()),
            schedulers.join("; ")
        ));
        for s in &self.sections {
            out.push('\n');
            out.push_str(&(s.markdown)());
        }
        out
    }
}

static CURRENT: RwLock<Option<Arc<Registry>>> = RwLock::new(None);

/// Makes `r` the registry scenario parsing and runs use from now on.
pub fn install(r: Registry) {
    let mut slot = CURRENT.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(Arc::new(r));
}

/// The installed registry ([`Registry::builtins`] until one is installed).
pub fn current() -> Arc<Registry> {
    if let Some(r) = CURRENT.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return r.clone();
    }
    let mut slot = CURRENT.write().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| Arc::new(Registry::builtins())).clone()
}

/// `` `a`, `b` or `c` `` for error messages.
pub fn one_of(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match q.len() {
        0 => "nothing (none registered)".into(),
        1 => q[0].clone(),
        _ => format!("one of {}", q.join(", ")),
    }
}

/// A name checked against a registered list while deserializing, so a bad
/// name is reported at its place in the file.
pub(crate) fn checked_name<'de, D: Deserializer<'de>>(d: D, names: &[&str]) -> Result<String, D::Error> {
    let v = String::deserialize(d)?;
    if names.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(de::Error::custom(format!("unknown variant `{v}`, expected {}", one_of(names))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_in_their_documented_order() {
        let r = Registry::builtins();
        assert_eq!(r.family_names(), ["mesh-pull", "tree-push", "hybrid", "client-server", "random-push", "cdn-p2p"]);
        assert_eq!(r.scheduler_names(), ["donet", "random", "rarest-first", "edf", "latest-useful"]);
        assert_eq!(r.section_names(), ["mesh", "tree", "hybrid", "push", "assist"]);
        let specs: Vec<&str> = protocols::sched::builtins().iter().map(|s| s.name()).collect();
        assert_eq!(r.scheduler_names(), specs);
    }

    #[test]
    fn a_section_parses_out_of_a_whole_document_with_document_spans() {
        let src = "[peers]\ncount = 1\n[protocol]\nname = \"tree-push\"\n[protocol.tree]\nstripes = 4\n";
        let e = SectionEntry::of::<TreeSection>();
        let v = e.parse(src).unwrap();
        assert_eq!(v.as_any().downcast_ref::<TreeSection>().unwrap().stripes.0, 4);
        let v = e.parse("[peers]\ncount = 1\n").unwrap();
        assert_eq!(v.as_any().downcast_ref::<TreeSection>(), Some(&TreeSection::default()));
        let bad = "[peers]\ncount = 1\n[protocol.tree]\nstripes = 65\n";
        let err = e.parse(bad).unwrap_err();
        assert_eq!(&bad[err.span().unwrap()], "65");
        assert!(err.message().contains("between 1 and 64"), "{}", err.message());
    }

    #[test]
    fn replacing_keeps_the_place() {
        let edf = protocols::sched::builtin("edf").unwrap();
        let again = SchedulerSpec::new("donet", "again", move || edf.build());
        let r = Registry::builtins().scheduler(again);
        assert_eq!(r.scheduler_names()[0], "donet");
        assert_eq!(r.find_scheduler("donet").unwrap().about(), "again");
        assert_eq!(r.schedulers().len(), 5);
        assert_eq!(one_of(&["a", "b"]), "one of `a`, `b`");
    }
}
