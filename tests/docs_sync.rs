//! Keeps `docs/scenario.md` (the scenario reference) in sync with the code.
//!
//! - Every key the scenario format accepts is documented: the serde structs of
//!   `sim/src/*.rs` (those deriving `Deserialize`, walked from `Scenario`,
//!   fields of tagged enums such as `[network.latency]` per model) give the
//!   code's keys, and the doc's tables (first cell a backticked dotted key,
//!   under a heading with `model = "..."` for per-model keys) must list exactly
//!   those.
//! - Every documented key is accepted: the doc's ```toml blocks must together
//!   set every documented key, and each block must pass `Scenario::parse`
//!   (which rejects unknown keys).
//! - Documented defaults are the code's: a default written as a TOML literal
//!   (`` `500` ``, `` `"donet"` ``, `` `[20, 40]` ``) is compared with the
//!   `#[serde(default = "...")]` function, the `#[default]` variant of an enum,
//!   or, for `[protocol.<x>]`, `impl Default for <X>Params` in
//!   `protocols/src/<x>.rs`; a key with a default function must have a literal
//!   default in the doc, and a required key must not.
//!
//! - The `[protocol]` part of the doc (between the `GENERATED` markers) is
//!   generated from the registry's parameter types (`Registry::markdown`:
//!   names, types, defaults, units and meanings come from `protocols::params`)
//!   and must equal it; `SWARMLAB_UPDATE_DOCS=1 cargo test --test docs_sync`
//!   rewrites it. The text scans below skip `protocol.*` keys.
//!
//! The scans are plain text scans of rustfmt-formatted code. When the code's
//! layout changes so that they find nothing, the sanity checks below fail and
//! say so.

use std::collections::{BTreeMap, BTreeSet};

const DOC: &str = "docs/scenario.md";

/// A key: dotted path, plus the tag value for fields of a tagged enum (the
/// latency model for `network.latency.*`).
type Key = (String, Option<String>);

fn show(k: &Key) -> String {
    match &k.1 {
        None => format!("`{}`", k.0),
        Some(m) => format!("`{}` (model = \"{m}\")", k.0),
    }
}

// ---------------------------------------------------------------- the code

#[derive(Clone, Debug, PartialEq)]
enum Default_ {
    Required,
    /// `#[serde(default)]`: the type's `Default`.
    Plain,
    /// `#[serde(default = "f")]`.
    Fn(String),
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    ty: String,
    default: Default_,
}

#[derive(Debug)]
enum Item {
    Struct(Vec<Field>),
    /// `#[serde(tag = "...")]` enum: tag key and (kebab-case variant, fields).
    Tagged(String, Vec<(String, Vec<Field>)>),
    /// Unit enum: kebab-case name of the `#[default]` variant.
    Enum(Option<String>),
}

fn kebab(name: &str) -> String {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('-');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// `key: Type,` (optionally `pub`) -> (key, Type).
fn field_line(line: &str) -> Option<(String, String)> {
    let l = line.trim().strip_prefix("pub ").unwrap_or(line.trim());
    let (name, ty) = l.split_once(':')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((name.to_string(), ty.trim().trim_end_matches(',').trim().to_string()))
}

fn serde_default(attrs: &[String]) -> Option<Default_> {
    for a in attrs.iter().filter(|a| a.starts_with("#[serde(")) {
        if let Some(rest) = a.split("default = \"").nth(1) {
            return Some(Default_::Fn(rest.split('"').next().unwrap_or("").to_string()));
        }
        if a.contains("(default)") || a.contains("(default,") || a.contains(", default)") || a.contains(", default,") {
            return Some(Default_::Plain);
        }
    }
    None
}

fn skipped(attrs: &[String]) -> bool {
    attrs.iter().any(|a| a.starts_with("#[serde(") && a.contains("skip"))
}

/// Every `Deserialize` struct and enum of `src`, by name.
fn scan_items(src: &str, items: &mut BTreeMap<String, Item>) {
    let lines: Vec<&str> = src.lines().collect();
    let mut attrs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if t.starts_with("#[") {
            attrs.push(t.to_string());
            i += 1;
            continue;
        }
        if t.starts_with("///") || t.starts_with("//") {
            i += 1;
            continue;
        }
        let deser = attrs.iter().any(|a| a.starts_with("#[derive(") && a.contains("Deserialize"));
        let head = t.strip_prefix("pub ").unwrap_or(t);
        let (kind, rest) = if let Some(r) = head.strip_prefix("struct ") {
            ("struct", r)
        } else if let Some(r) = head.strip_prefix("enum ") {
            ("enum", r)
        } else {
            attrs.clear();
            i += 1;
            continue;
        };
        let item_attrs = std::mem::take(&mut attrs);
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !t.ends_with('{') || !deser {
            i += 1;
            continue;
        }
        // The body: up to the closing brace at the item's indentation.
        let indent = lines[i].len() - lines[i].trim_start().len();
        let close = format!("{}}}", " ".repeat(indent));
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != close {
            body.push(lines[i]);
            i += 1;
        }
        i += 1;
        let tag = item_attrs
            .iter()
            .find_map(|a| a.split("tag = \"").nth(1).map(|r| r.split('"').next().unwrap_or("").to_string()));
        let fields_of = |body: &[&str]| -> Vec<Field> {
            let mut out = Vec::new();
            let mut fattrs: Vec<String> = Vec::new();
            for l in body {
                let t = l.trim();
                if t.starts_with("#[") {
                    fattrs.push(t.to_string());
                } else if t.starts_with("//") || t.is_empty() {
                } else if let Some((name, ty)) = field_line(t) {
                    if !skipped(&fattrs) {
                        // serde treats a missing `Option` field as `None`.
                        let implicit = if ty.starts_with("Option<") { Default_::Plain } else { Default_::Required };
                        let default = serde_default(&fattrs).unwrap_or(implicit);
                        out.push(Field { name, ty, default });
                    }
                    fattrs.clear();
                } else {
                    fattrs.clear();
                }
            }
            out
        };
        let item = match (kind, tag) {
            ("struct", _) => Item::Struct(fields_of(&body)),
            (_, Some(tag)) => {
                let mut variants = Vec::new();
                let mut k = 0;
                while k < body.len() {
                    let t = body[k].trim();
                    if let Some(v) = t.strip_suffix(" {") {
                        let mut vb = Vec::new();
                        k += 1;
                        while k < body.len() && body[k].trim() != "}," && body[k].trim() != "}" {
                            vb.push(body[k]);
                            k += 1;
                        }
                        variants.push((kebab(v.trim()), fields_of(&vb)));
                    } else if let Some(v) = t.strip_suffix(',')
                        && v.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        variants.push((kebab(v), Vec::new()));
                    }
                    k += 1;
                }
                Item::Tagged(tag, variants)
            }
            _ => {
                let mut default = None;
                let mut marked = false;
                for l in &body {
                    let t = l.trim();
                    if t == "#[default]" {
                        marked = true;
                    } else if let Some(v) = t.strip_suffix(',')
                        && !v.is_empty()
                        && v.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        if marked {
                            default = Some(kebab(v));
                        }
                        marked = false;
                    }
                }
                Item::Enum(default)
            }
        };
        items.insert(name, item);
    }
}

/// `Option<Spanned<Vec<crate::x::T>>>` -> `T`.
fn base_type(ty: &str) -> String {
    let mut t = ty.trim();
    loop {
        let stripped = ["Option<", "Spanned<", "Vec<", "Box<"]
            .iter()
            .find_map(|w| t.strip_prefix(w).and_then(|r| r.strip_suffix('>')));
        match stripped {
            Some(inner) => t = inner.trim(),
            None => break,
        }
    }
    t.rsplit("::").next().unwrap_or(t).to_string()
}

/// A documented or code key's facts: its field, for defaults.
#[derive(Clone, Debug)]
struct Leaf {
    field: Field,
}

fn walk(items: &BTreeMap<String, Item>, name: &str, prefix: &str, out: &mut BTreeMap<Key, Leaf>) {
    let Some(Item::Struct(fields)) = items.get(name) else { return };
    for f in fields {
        let key = format!("{prefix}{}", f.name);
        let base = base_type(&f.ty);
        match items.get(&base) {
            Some(Item::Struct(_)) => walk(items, &base, &format!("{key}."), out),
            Some(Item::Tagged(tag, variants)) => {
                let tag_field = Field { name: tag.clone(), ty: base.clone(), default: f.default.clone() };
                out.insert((format!("{key}.{tag}"), None), Leaf { field: tag_field });
                for (v, vfields) in variants {
                    for vf in vfields {
                        out.insert((format!("{key}.{}", vf.name), Some(v.clone())), Leaf { field: vf.clone() });
                    }
                }
            }
            _ => {
                out.insert((key, None), Leaf { field: f.clone() });
            }
        }
    }
}

struct Code {
    items: BTreeMap<String, Item>,
    keys: BTreeMap<Key, Leaf>,
    /// Every scanned source, for default functions.
    text: String,
    /// Dotted prefixes of tagged enums (`network.latency`) and their tag key.
    tagged: Vec<(String, String)>,
}

fn code() -> Code {
    let mut items = BTreeMap::new();
    let mut text = String::new();
    let mut files: Vec<_> = std::fs::read_dir("sim/src").expect("sim/src").map(|e| e.expect("entry").path()).collect();
    files.sort();
    for p in files.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let src = std::fs::read_to_string(p).expect("read source");
        scan_items(&src, &mut items);
        text.push_str(&src);
    }
    let mut keys = BTreeMap::new();
    walk(&items, "Scenario", "", &mut keys);
    // `[protocol]` is read through the registry; its part of the doc is generated.
    keys.retain(|k: &Key, _| !is_protocol_key(&k.0));
    let mut tagged = Vec::new();
    for (k, leaf) in &keys {
        if k.1.is_none()
            && let Some(Item::Tagged(tag, _)) = items.get(&leaf.field.ty)
        {
            tagged.push((k.0.trim_end_matches(&format!(".{tag}")).to_string(), tag.clone()));
        }
    }
    Code { items, keys, text, tagged }
}

/// Keys of `[protocol]` (generated part of the doc).
fn is_protocol_key(k: &str) -> bool {
    k == "protocol" || k.starts_with("protocol.")
}

// ---------------------------------------------------------------- the doc

const BEGIN: &str =
    "<!-- GENERATED from the registry by tests/docs_sync.rs: edit the parameter types, not this part -->";
const END: &str = "<!-- END GENERATED -->";

/// The generated `[protocol]` part of the doc.
fn generated() -> String {
    sim::registry::Registry::builtins().markdown()
}

/// The doc's generated part equals the registry's markdown.
fn check_generated(doc: &str, want: &str) -> Result<(), String> {
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!("{DOC} lacks the markers {BEGIN} ... {END}"));
    };
    let have = doc[b + BEGIN.len()..e].trim();
    if have == want.trim() {
        return Ok(());
    }
    let line = have.lines().zip(want.trim().lines()).position(|(x, y)| x != y);
    let (x, y) = match line {
        Some(i) => (have.lines().nth(i).unwrap_or(""), want.trim().lines().nth(i).unwrap_or("")),
        None => ("(the shorter one ends)", ""),
    };
    Err(format!(
        "the [protocol] part of {DOC} is not the registry's: first difference\n  doc:  {x}\n  code: {y}\n\
         rerun with SWARMLAB_UPDATE_DOCS=1 to regenerate it"
    ))
}

struct Row {
    line: usize,
    default: String,
}

/// The model named in a heading such as `### model = "uniform"`.
fn heading_model(line: &str) -> Option<String> {
    let rest = line.split("model = \"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

/// Documented keys from the doc's tables: `| key | type | default | unit | meaning |`.
fn doc_rows(doc: &str, tagged: &[(String, String)]) -> Result<BTreeMap<Key, Row>, String> {
    let mut rows = BTreeMap::new();
    let mut model: Option<String> = None;
    for (i, line) in doc.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') {
            model = heading_model(t);
            continue;
        }
        if !t.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = t.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells.len() != 5 {
            return Err(format!("{DOC}:{}: expected 5 cells (key, type, default, unit, meaning): {t}", i + 1));
        }
        let key = cells[0].trim_matches('`').to_string();
        if key.contains('`') || key.contains(' ') {
            return Err(format!("{DOC}:{}: the first cell must be one backticked dotted key: {t}", i + 1));
        }
        let per_model = tagged.iter().any(|(p, tag)| key.starts_with(&format!("{p}.")) && key != format!("{p}.{tag}"));
        let k = (key, if per_model { model.clone() } else { None });
        if per_model && k.1.is_none() {
            return Err(format!("{DOC}:{}: {} needs a heading with model = \"...\" above it", i + 1, k.0));
        }
        let row = Row { line: i + 1, default: cells[2].to_string() };
        if rows.insert(k.clone(), row).is_some() {
            return Err(format!("{DOC}:{}: {} is documented twice", i + 1, show(&k)));
        }
    }
    Ok(rows)
}

/// The ```toml blocks of the doc, with their first line number.
fn toml_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let t = line.trim();
        match &mut cur {
            None if t == "```toml" => cur = Some((i + 2, String::new())),
            None => {}
            Some(_) if t == "```" => blocks.extend(cur.take()),
            Some((_, s)) => {
                s.push_str(line);
                s.push('\n');
            }
        }
    }
    blocks
}

/// Keys set by a TOML text of `[table]`, `[[table]]` and `key = value` lines
/// (the doc's examples use no inline tables).
fn toml_keys(src: &str, tagged: &[(String, String)]) -> BTreeSet<Key> {
    let mut keys = BTreeSet::new();
    let mut table = String::new();
    let mut pending: Vec<String> = Vec::new();
    let mut model: Option<String> = None;
    let flush = |table: &str, pending: &mut Vec<String>, model: &mut Option<String>, keys: &mut BTreeSet<Key>| {
        let tag = tagged.iter().find(|(p, _)| p == table).map(|(_, t)| t.as_str());
        for k in pending.drain(..) {
            let is_tag = tag == Some(k.rsplit('.').next().unwrap_or(""));
            let m = if tag.is_some() && !is_tag { model.clone() } else { None };
            keys.insert((k, m));
        }
        *model = None;
    };
    for line in src.lines() {
        let t = line.split(" #").next().unwrap_or("").trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') {
            flush(&table, &mut pending, &mut model, &mut keys);
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            let k = k.trim().trim_matches('"');
            if k == "model" {
                model = Some(v.trim().trim_matches('"').to_string());
            }
            let key = if table.is_empty() { k.to_string() } else { format!("{table}.{k}") };
            // `[variants.params.<section>]` tables: one documented key, `variants.params`.
            let key = if key.starts_with("variants.params.") { "variants.params".to_string() } else { key };
            pending.push(key);
        }
    }
    flush(&table, &mut pending, &mut model, &mut keys);
    keys
}

// ---------------------------------------------------------------- checks

/// Documented keys == the code's keys.
fn check_keys(doc: &str, code: &Code) -> Result<(), String> {
    let rows = doc_rows(doc, &code.tagged)?;
    let documented: BTreeSet<&Key> = rows.keys().filter(|k| !is_protocol_key(&k.0)).collect();
    let accepted: BTreeSet<&Key> = code.keys.keys().collect();
    let mut errs = Vec::new();
    for k in accepted.difference(&documented) {
        errs.push(format!("{} is accepted by the code (sim/src) but not documented in {DOC}", show(k)));
    }
    for k in documented.difference(&accepted) {
        errs.push(format!("{DOC}:{}: {} is documented but the code has no such key", rows[*k].line, show(k)));
    }
    if errs.is_empty() { Ok(()) } else { Err(errs.join("\n")) }
}

/// The doc's examples set every documented key and each parses as a scenario.
fn check_examples(doc: &str, code: &Code) -> Result<(), String> {
    let rows = doc_rows(doc, &code.tagged)?;
    let blocks = toml_blocks(doc);
    let mut errs = Vec::new();
    let mut set: BTreeSet<Key> = BTreeSet::new();
    for (line, src) in &blocks {
        if let Err(e) = sim::scenario::Scenario::parse(&format!("{DOC} (```toml block at line {line})"), src) {
            errs.push(format!("a documented example is not accepted: {e}"));
        }
        set.extend(toml_keys(src, &code.tagged));
    }
    for (k, r) in &rows {
        if !set.contains(k) {
            errs.push(format!("{DOC}:{}: {} is set by none of the ```toml examples", r.line, show(k)));
        }
    }
    for k in set.iter().filter(|k| !rows.contains_key(*k)) {
        errs.push(format!("an example in {DOC} sets {}, which no table documents", show(k)));
    }
    if errs.is_empty() { Ok(()) } else { Err(errs.join("\n")) }
}

/// Numbers in a text, ignoring `a..b` ranges (`Spanned::new(0..0, 1)` gives [1]).
fn numbers(s: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == '_' || (b[j] == '.' && b.get(j + 1) != Some(&'.'))) {
            j += 1;
        }
        let is_range = b.get(j) == Some(&'.') || (i >= 2 && b[i - 1] == '.' && b[i - 2] == '.');
        let lit: String = b[i..j].iter().filter(|c| **c != '_').collect();
        if !is_range && let Ok(v) = lit.trim_end_matches('.').parse::<f64>() {
            let neg = i > 0 && b[i - 1] == '-';
            out.push(if neg { -v } else { v });
        }
        i = j.max(i + 1);
    }
    out
}

/// The value a documented literal default stands for.
#[derive(Debug, PartialEq)]
enum Lit {
    Bool(bool),
    Str(String),
    Nums(Vec<f64>),
}

fn doc_literal(cell: &str) -> Option<Lit> {
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    if inner.contains('`') {
        return None;
    }
    Some(match inner {
        "true" => Lit::Bool(true),
        "false" => Lit::Bool(false),
        s if s.starts_with('"') => Lit::Str(s.trim_matches('"').to_string()),
        s => Lit::Nums(numbers(s)),
    })
}

/// Body of `fn name() -> T { ... }` in the scanned sources.
fn fn_body<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("fn {name}() ->"))?;
    let open = start + text[start..].find('{')?;
    let close = open + text[open..].find("\n}")?;
    Some(&text[open + 1..close])
}

/// Documented defaults agree with the code; returns how many were compared.
fn check_defaults(doc: &str, code: &Code) -> Result<usize, String> {
    let rows = doc_rows(doc, &code.tagged)?;
    let mut errs = Vec::new();
    let mut checked = 0;
    for (k, row) in &rows {
        let Some(leaf) = code.keys.get(k) else { continue };
        let lit = doc_literal(&row.default);
        let at = format!("{DOC}:{}: {}", row.line, show(k));
        let expected: Option<Lit> = match &leaf.field.default {
            Default_::Required => {
                if lit.is_some() {
                    errs.push(format!("{at}: documented default {} but the key is required", row.default));
                }
                None
            }
            Default_::Fn(f) => match fn_body(&code.text, f) {
                None => None,
                Some(body) if body.contains("true") => Some(Lit::Bool(true)),
                Some(body) if body.contains("false") => Some(Lit::Bool(false)),
                Some(body) => Some(Lit::Nums(numbers(body))).filter(|l| *l != Lit::Nums(Vec::new())),
            },
            Default_::Plain => {
                let base = base_type(&leaf.field.ty);
                let optional = leaf.field.ty.starts_with("Option<") || leaf.field.ty.starts_with("Vec<");
                match code.items.get(&base) {
                    Some(Item::Enum(Some(v))) => Some(Lit::Str(v.clone())),
                    Some(Item::Tagged(..)) => None,
                    _ if optional => None,
                    _ if base == "bool" => Some(Lit::Bool(false)),
                    _ if ["NonNegative", "f64", "u32", "u64", "usize"].contains(&base.as_str()) => {
                        Some(Lit::Nums(vec![0.0]))
                    }
                    _ => None,
                }
            }
        };
        if matches!(&leaf.field.default, Default_::Fn(_)) && lit.is_none() {
            errs.push(format!("{at}: the code has a default; write it as a TOML literal, e.g. `500`"));
        }
        if let (Some(e), Some(l)) = (expected, lit) {
            checked += 1;
            let same = match (&e, &l) {
                (Lit::Nums(a), Lit::Nums(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
                }
                _ => e == l,
            };
            if !same {
                errs.push(format!("{at}: documented default {} but the code's default is {e:?}", row.default));
            }
        }
    }
    if errs.is_empty() { Ok(checked) } else { Err(errs.join("\n")) }
}

fn doc() -> String {
    std::fs::read_to_string(DOC).expect("docs/scenario.md")
}

#[test]
fn the_code_scan_finds_the_scenario_format() {
    let c = code();
    // Sanity: if these fail, the scan no longer understands sim/src (fix the scan, not the doc).
    for k in ["stream.rate_kbps", "peers.count", "peers.classes.share", "churn.session", "variants.label"] {
        assert!(c.keys.contains_key(&(k.to_string(), None)), "the scan of sim/src lost `{k}`: {:?}", c.keys.keys());
    }
    assert!(c.keys.contains_key(&("network.latency.ms".into(), Some("constant".into()))));
    assert!(c.keys.len() > 50, "only {} keys found", c.keys.len());
}

#[test]
fn the_protocol_part_is_generated_from_the_registry() {
    let want = generated();
    if std::env::var_os("SWARMLAB_UPDATE_DOCS").is_some() {
        let doc = doc();
        let (b, e) = (doc.find(BEGIN).expect("begin marker"), doc.find(END).expect("end marker"));
        let new = format!("{}{BEGIN}\n\n{}\n\n{}", &doc[..b], want.trim(), &doc[e..]);
        std::fs::write(DOC, new).expect("write docs/scenario.md");
    }
    check_generated(&doc(), &want).unwrap_or_else(|e| panic!("{e}"));
    // Every section key of every registered section is in it, with its default.
    for s in sim::registry::Registry::builtins().sections() {
        for k in (s.keys)() {
            let row = format!("| `protocol.{}.{}` | {} | {} |", s.name, k.name, k.type_text(), k.default_text());
            assert!(want.contains(&row), "{row} missing from the generated part");
        }
    }
    // A stale default is caught.
    let stale = doc().replacen(
        "| `protocol.mesh.partners` | whole number, 1 to 64 | `4` |",
        "| `protocol.mesh.partners` | whole number, 1 to 64 | `5` |",
        1,
    );
    assert_ne!(stale, doc(), "the protocol.mesh.partners row changed: update this test");
    assert!(check_generated(&stale, &want).unwrap_err().contains("`5`"));
}

#[test]
fn every_key_of_the_code_is_documented_and_nothing_else() {
    check_keys(&doc(), &code()).unwrap_or_else(|e| panic!("{DOC} is out of sync with the code:\n{e}"));
}

#[test]
fn every_documented_key_is_accepted_by_the_parser() {
    check_examples(&doc(), &code()).unwrap_or_else(|e| panic!("{DOC}'s examples:\n{e}"));
}

#[test]
fn documented_defaults_are_the_code_defaults() {
    let n = check_defaults(&doc(), &code()).unwrap_or_else(|e| panic!("{DOC}'s defaults:\n{e}"));
    assert!(n >= 40, "only {n} defaults were compared: the default scan no longer understands the code");
}

#[test]
fn the_checks_catch_a_missing_key_an_unknown_key_and_a_wrong_default() {
    let c = code();
    let doc = doc();
    // A key the code accepts but the doc lost.
    let row = doc.lines().find(|l| l.starts_with("| `stream.chunk_s` |")).expect("stream.chunk_s row");
    let e = check_keys(&doc.replace(&format!("{row}\n"), ""), &c).unwrap_err();
    assert!(e.contains("`stream.chunk_s` is accepted by the code"), "{e}");
    // A documented key the parser does not accept.
    let bogus = doc.replacen(
        "| `stream.chunk_s` |",
        "| `stream.bogus_s` | number > 0 | `1` | s | not a key |\n| `stream.chunk_s` |",
        1,
    );
    let bogus = bogus.replacen("chunk_s = ", "bogus_s = 1\nchunk_s = ", 1);
    let e = check_keys(&bogus, &c).unwrap_err();
    assert!(e.contains("`stream.bogus_s` is documented but the code has no such key"), "{e}");
    let e = check_examples(&bogus, &c).unwrap_err();
    assert!(e.contains("unknown field `bogus_s`"), "{e}");
    // A wrong default.
    let wrong =
        doc.replacen("| `stream.rate_kbps` | number > 0 | `500` |", "| `stream.rate_kbps` | number > 0 | `400` |", 1);
    assert_ne!(wrong, doc, "the stream.rate_kbps row changed: update this test");
    let e = check_defaults(&wrong, &c).unwrap_err();
    assert!(e.contains("`stream.rate_kbps`") && e.contains("`400`"), "{e}");
}

#[test]
fn numbers_skip_ranges() {
    assert_eq!(numbers("Spanned::new(0..0, 1)"), [1.0]);
    assert_eq!(numbers("Positive(100_000.0)"), [100000.0]);
    assert_eq!(numbers("[20.0, 40.0]"), [20.0, 40.0]);
    assert_eq!(numbers("Time::from_millis(500)"), [500.0]);
    assert_eq!(numbers("class0 u32"), Vec::<f64>::new());
}

// ------------------------------------------------------- the metrics glossary

/// `docs/metrics.md` is generated from `analysis/src/glossary.rs`.
#[test]
fn metrics_doc_is_the_generated_glossary() {
    let doc = std::fs::read_to_string("docs/metrics.md").expect("docs/metrics.md");
    let generated = analysis::glossary::markdown();
    if doc != generated {
        let line = doc.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!(
            "docs/metrics.md differs from the glossary (first at line {line}): regenerate it with\n  \
             cargo run --release -- metrics --markdown > docs/metrics.md"
        );
    }
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_swarmlab")).args(args).output().expect("swarmlab");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("UTF-8")
    };
    assert_eq!(run(&["metrics", "--markdown"]), doc, "`swarmlab metrics --markdown` prints docs/metrics.md");
    let text = run(&["metrics"]);
    for d in analysis::glossary::METRICS {
        assert!(text.contains(&format!("\n{}  [{}]", d.name, d.unit)), "`swarmlab metrics` lists {}", d.name);
    }
}

/// Every metric that `analysis/src/report.rs` computes is in the glossary,
/// and every glossary entry is computed there (no stale definitions).
#[test]
fn glossary_lists_exactly_the_computed_metrics() {
    let code = std::fs::read_to_string("analysis/src/report.rs").expect("report.rs");
    let mut computed = BTreeSet::new();
    for pat in ["put(\"", "Metric::new(\"", "put(&format!(\""] {
        for (i, _) in code.match_indices(pat) {
            let rest = &code[i + pat.len()..];
            let name = &rest[..rest.find('"').expect("closing quote")];
            computed.insert(name.replace("{name}", "<class>").replace("{reason}", "<reason>"));
        }
    }
    assert!(computed.len() > 40, "the scan of report.rs found only {computed:?}");
    let defined: BTreeSet<String> = analysis::glossary::METRICS.iter().map(|d| d.name.to_string()).collect();
    let missing: Vec<&String> = computed.difference(&defined).collect();
    let stale: Vec<&String> = defined.difference(&computed).collect();
    assert!(missing.is_empty(), "computed in report.rs but not in analysis/src/glossary.rs: {missing:?}");
    assert!(stale.is_empty(), "in the glossary but not computed in report.rs: {stale:?}");
}
