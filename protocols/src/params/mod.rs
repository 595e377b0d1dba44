//! Scenario parameters of protocol families, declared once.
//!
//! Each `[protocol.<section>]` table of a scenario is one Rust type
//! implementing [`Params`]: serde reads it, its `Default` is the one place the
//! defaults live, [`Params::validate`] checks the rules that tie several keys
//! (or the stream and the buffer-map window) together, and [`SectionDoc`]
//! describes every key (name, type, default, unit, meaning) for
//! docs/scenario.md and `swarmlab schema`.
//!
//! Sections are declared with [`params_section!`](crate::params_section),
//! which writes the struct, its `Default` and its documentation from one list
//! of keys; a crate outside this workspace uses the same macro (it needs
//! `serde` as a dependency, for the derives the macro writes).
//!
//! Range checks that concern one value happen while deserializing, in the
//! value types of this module ([`Count`], [`Secs`], [`Frac`], ...), so a TOML
//! parser reports the exact place of a bad value.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::{StreamParams, Time};

pub mod assist;
pub mod hybrid;
pub mod mesh;
pub mod push;
pub mod tree;

pub use assist::AssistSection;
pub use hybrid::{HybridModeName, HybridSection};
pub use mesh::MeshSection;
pub use push::PushSection;
pub use tree::TreeSection;

/// What a section's cross-key rules may look at besides the section itself.
#[derive(Clone, Debug)]
pub struct ParamCtx {
    /// The run's stream (rate and chunk duration).
    pub stream: StreamParams,
    /// Chunks in a buffer map (`protocol.mesh.window`).
    pub window_chunks: u32,
}

/// A broken rule: the key it is about (relative to the section, empty for the
/// section as a whole) and what is wrong, naming the allowed values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    pub key: &'static str,
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.key, self.message) }
    }
}

impl std::error::Error for ParamError {}

/// One documented key of a section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDoc {
    /// Key inside the section (`partners`).
    pub name: &'static str,
    /// Type from the value type (`whole number, 1 to 64`).
    pub ty: String,
    /// Appended to the type (`, at least \`partners\``).
    pub type_note: &'static str,
    /// The default as a TOML literal, from the section's `Default`.
    pub default: String,
    /// Replaces the default literal when not empty (keys whose default
    /// depends on other keys).
    pub default_note: &'static str,
    /// Unit (`s`, `partners`, `—`).
    pub unit: &'static str,
    /// Meaning, from the key's doc comment.
    pub meaning: String,
    /// What the value type accepts, for `swarmlab schema` (JSON Schema).
    pub schema: ValueSchema,
}

impl KeyDoc {
    /// A key documented by its value type, default and doc comment lines.
    pub fn new(name: &'static str, ty: String, default: String, unit: &'static str, doc: &[&str]) -> KeyDoc {
        KeyDoc {
            name,
            ty,
            type_note: "",
            default,
            default_note: "",
            unit,
            meaning: join_doc(doc),
            schema: ValueSchema::Any,
        }
    }

    /// The type column.
    pub fn type_text(&self) -> String {
        format!("{}{}", self.ty, self.type_note)
    }

    /// The default column: the literal in backticks, or the note.
    pub fn default_text(&self) -> String {
        if self.default_note.is_empty() { format!("`{}`", self.default) } else { self.default_note.to_string() }
    }
}

/// Doc-comment lines joined into one paragraph.
pub fn join_doc(lines: &[&str]) -> String {
    lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Documentation of a section, written by [`params_section!`](crate::params_section).
pub trait SectionDoc {
    /// The table name under `[protocol]` (`mesh` for `[protocol.mesh]`).
    const SECTION: &'static str;
    /// What the section is for (the struct's doc comment).
    fn about() -> String;
    /// Every key, in declaration order.
    fn keys() -> Vec<KeyDoc>;
}

/// The parameters of one `[protocol.<section>]` table.
pub trait Params:
    SectionDoc + Default + Clone + fmt::Debug + PartialEq + Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static
{
    /// Rules between keys, or between a key and the stream or window
    /// (single-value ranges are checked while deserializing).
    fn validate(&self, _ctx: &ParamCtx) -> Result<(), ParamError> {
        Ok(())
    }
}

/// What one value type accepts, as far as a JSON Schema can say it: the
/// checks its `Deserialize` makes on a single value (`swarmlab schema`
/// turns it into JSON Schema keywords).
#[derive(Clone, Debug, PartialEq)]
pub enum ValueSchema {
    /// Anything (a value type that does not describe itself).
    Any,
    Bool,
    /// A whole number in `[min, max]`.
    Integer {
        min: i64,
        max: i64,
    },
    /// A finite number; `min` with `exclusive` for `> min`, else `>= min`.
    Number {
        min: Option<f64>,
        exclusive: bool,
        max: Option<f64>,
    },
    /// One of these strings.
    OneOf(Vec<&'static str>),
}

/// Bounds are finite constants of the value types (never NaN), so `==` is an equivalence.
impl Eq for ValueSchema {}

/// A value type usable in a section: it describes itself for the docs.
pub trait ParamValue {
    /// The type column (`number > 0`).
    fn type_doc() -> String;
    /// The value as a TOML literal (`0.5`, `"treebone"`).
    fn literal(&self) -> String;
    /// What it accepts, for the JSON Schema (default: anything).
    fn schema() -> ValueSchema {
        ValueSchema::Any
    }
}

impl<T: ParamValue> ParamValue for Option<T> {
    fn type_doc() -> String {
        T::type_doc()
    }
    fn schema() -> ValueSchema {
        T::schema()
    }
    fn literal(&self) -> String {
        self.as_ref().map_or_else(|| "unset".to_string(), T::literal)
    }
}

impl ParamValue for bool {
    fn type_doc() -> String {
        "bool".into()
    }
    fn schema() -> ValueSchema {
        ValueSchema::Bool
    }
    fn literal(&self) -> String {
        self.to_string()
    }
}

/// A closed set of names as a parameter value: an enum (deriving serde with
/// `rename_all = "kebab-case"`) gets `ALL`, `as_str` and its [`ParamValue`]
/// (type doc "one of ...", TOML literal, schema `OneOf`) from one list:
/// `name_param!(MyName { A => "a", B => "b" });`
#[macro_export]
macro_rules! name_param {
    ($t:ident { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($t::$v => $s),+ }
            }
        }
        impl $crate::params::ParamValue for $t {
            fn type_doc() -> String {
                let names: Vec<String> = Self::ALL.iter().map(|m| format!("`\"{}\"`", m.as_str())).collect();
                format!("one of {}", names.join(", "))
            }
            fn literal(&self) -> String {
                format!("\"{}\"", self.as_str())
            }
            fn schema() -> $crate::params::ValueSchema {
                $crate::params::ValueSchema::OneOf(Self::ALL.iter().map(|m| m.as_str()).collect())
            }
        }
    };
}

/// A whole number in `[LO, HI]`; anything else is refused while deserializing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Count<const LO: u32, const HI: u32>(pub u32);

impl<const LO: u32, const HI: u32> Count<LO, HI> {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de, const LO: u32, const HI: u32> Deserialize<'de> for Count<LO, HI> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if (LO as i64..=HI as i64).contains(&v) {
            Ok(Count(v as u32))
        } else {
            Err(de::Error::custom(format!("invalid value {v}: expected a whole number between {LO} and {HI}")))
        }
    }
}

impl<const LO: u32, const HI: u32> Serialize for Count<LO, HI> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<const LO: u32, const HI: u32> ParamValue for Count<LO, HI> {
    fn type_doc() -> String {
        format!("whole number, {LO} to {HI}")
    }
    fn schema() -> ValueSchema {
        ValueSchema::Integer { min: LO.into(), max: HI.into() }
    }
    fn literal(&self) -> String {
        self.0.to_string()
    }
}

/// Declares a checked `f64` parameter type: a newtype whose `Deserialize`
/// refuses non-finite values and values failing `$ok`, with a message naming
/// what is allowed. Usable outside this crate. An optional last argument,
/// `schema = <a ValueSchema expression>`, states the same range for
/// `swarmlab schema` (without it the schema says only "a number").
#[macro_export]
macro_rules! param_real {
    ($(#[$doc:meta])* $name:ident, $ok:expr, $type_doc:literal, $expect:literal) => {
        $crate::param_real!(
            $(#[$doc])* $name, $ok, $type_doc, $expect,
            schema = $crate::params::ValueSchema::Number { min: None, exclusive: false, max: None }
        );
    };
    ($(#[$doc:meta])* $name:ident, $ok:expr, $type_doc:literal, $expect:literal, schema = $schema:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
        pub struct $name(pub f64);
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <f64 as serde::Deserialize>::deserialize(d)?;
                let ok: fn(f64) -> bool = $ok;
                if v.is_finite() && ok(v) {
                    Ok($name(v))
                } else {
                    Err(<D::Error as serde::de::Error>::custom(format!("invalid value {v}: expected {}", $expect)))
                }
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_f64(self.0)
            }
        }
        impl $crate::params::ParamValue for $name {
            fn type_doc() -> String {
                $type_doc.to_string()
            }
            fn literal(&self) -> String {
                format!("{}", self.0)
            }
            fn schema() -> $crate::params::ValueSchema {
                $schema
            }
        }
    };
}

param_real!(
    /// Seconds, strictly positive.
    Secs, |v| v > 0.0, "number > 0", "a number > 0",
    schema = ValueSchema::Number { min: Some(0.0), exclusive: true, max: None }
);
param_real!(
    /// A fraction in [0, 1].
    Frac, |v| (0.0..=1.0).contains(&v), "fraction", "a fraction between 0 and 1",
    schema = ValueSchema::Number { min: Some(0.0), exclusive: false, max: Some(1.0) }
);
param_real!(
    /// A finite number >= 0.
    NonNeg, |v| v >= 0.0, "number ≥ 0", "a number >= 0",
    schema = ValueSchema::Number { min: Some(0.0), exclusive: false, max: None }
);

impl Secs {
    /// As protocol time.
    pub fn time(self) -> Time {
        Time::from_secs_f64(self.0)
    }
}

/// Declares a `[protocol.<section>]` parameter type in one place: the struct
/// (serde, unknown keys refused, absent keys from `Default`), its `Default`
/// (the `= value` of each key) and its [`SectionDoc`] (each key's doc comment
/// is its meaning; `unit` is required, `type_note` and `default_note` are
/// optional). Then write `impl Params for X {}`, with `validate` for cross-key
/// rules.
///
/// ```
/// protocols::params_section! {
///     /// Push-to-random parameters.
///     #[section = "example"]
///     pub struct ExampleSection {
///         /// Peers each chunk is pushed to.
///         pub fanout: protocols::params::Count<1, 16> = protocols::params::Count(2), unit "peers";
///     }
/// }
/// impl protocols::params::Params for ExampleSection {}
/// use protocols::params::SectionDoc;
/// assert_eq!(ExampleSection::keys()[0].default, "2");
/// ```
#[macro_export]
macro_rules! params_section {
    (
        $(#[doc = $sdoc:literal])*
        #[section = $section:literal]
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                pub $field:ident : $ty:ty = $default:expr, unit $unit:literal $(, $opt:ident $optval:literal)* ;
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )* }
            }
        }

        impl $crate::params::SectionDoc for $name {
            const SECTION: &'static str = $section;
            fn about() -> String {
                $crate::params::join_doc(&[$($sdoc),*])
            }
            fn keys() -> Vec<$crate::params::KeyDoc> {
                let d = <$name as Default>::default();
                vec![$(
                    $crate::params::KeyDoc {
                        $( $opt: $optval, )*
                        schema: <$ty as $crate::params::ParamValue>::schema(),
                        ..$crate::params::KeyDoc::new(
                            stringify!($field),
                            <$ty as $crate::params::ParamValue>::type_doc(),
                            $crate::params::ParamValue::literal(&d.$field),
                            $unit,
                            &[$($doc),*],
                        )
                    }
                ),*]
            }
        }
    };
}

/// The markdown of a section for docs/scenario.md: heading, about paragraph
/// and the key table (`| key | type | default | unit | meaning |`).
pub fn markdown<P: Params>() -> String {
    let mut s = format!("### `[protocol.{}]`\n\n{}\n\n", P::SECTION, P::about());
    s.push_str("| key | type | default | unit | meaning |\n|---|---|---|---|---|\n");
    for k in P::keys() {
        s.push_str(&format!(
            "| `protocol.{}.{}` | {} | {} | {} | {} |\n",
            P::SECTION,
            k.name,
            k.type_text(),
            k.default_text(),
            k.unit,
            k.meaning
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: for<'de> Deserialize<'de>>(v: &str) -> Result<T, String> {
        // A minimal self-describing source: serde's value deserializer for numbers.
        use serde::de::IntoDeserializer;
        let n: f64 = v.parse().map_err(|e| format!("{e}"))?;
        let d: de::value::F64Deserializer<de::value::Error> = n.into_deserializer();
        T::deserialize(d).map_err(|e| e.to_string())
    }

    #[test]
    fn values_refuse_out_of_range_with_the_allowed_range() {
        assert_eq!(parse::<Secs>("0.5"), Ok(Secs(0.5)));
        let e = parse::<Secs>("0").unwrap_err();
        assert!(e.contains("invalid value 0") && e.contains("> 0"), "{e}");
        let e = parse::<Frac>("1.5").unwrap_err();
        assert!(e.contains("between 0 and 1"), "{e}");
        assert_eq!(parse::<NonNeg>("0"), Ok(NonNeg(0.0)));
    }

    #[test]
    fn counts_check_both_bounds() {
        use serde::de::IntoDeserializer;
        let d = |v: i64| -> Result<Count<1, 64>, String> {
            let d: de::value::I64Deserializer<de::value::Error> = v.into_deserializer();
            Count::deserialize(d).map_err(|e| e.to_string())
        };
        assert_eq!(d(64), Ok(Count(64)));
        assert!(d(0).unwrap_err().contains("invalid value 0: expected a whole number between 1 and 64"));
        assert!(d(-5).unwrap_err().contains("invalid value -5"));
        assert!(d(65).is_err());
        assert_eq!(Count::<1, 64>::type_doc(), "whole number, 1 to 64");
    }

    #[test]
    fn literals_are_toml() {
        assert_eq!(Secs(1.0).literal(), "1");
        assert_eq!(Secs(0.5).literal(), "0.5");
        assert_eq!(Some(Count::<1, 9>(3)).literal(), "3");
        assert_eq!(None::<Secs>.literal(), "unset");
    }
}
