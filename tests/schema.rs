//! `swarmlab schema` (docs/scenario.schema.json) against the parser: the
//! committed schema is the generated one, every committed scenario (converted
//! TOML -> JSON) validates against it, and every file of
//! tests/fixtures/schema-bad/, which the parser rejects for a type, range or
//! name, fails it too. Validation by the `jsonschema` crate (draft-07, the schema's draft).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sim::scenario::Scenario;

fn generated() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_swarmlab")).arg("schema").output().expect("run swarmlab schema");
    assert!(out.status.success(), "swarmlab schema failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&generated()).expect("the schema is JSON");
    jsonschema::draft7::new(&schema).expect("the schema is a valid draft-07 schema")
}

/// A TOML document as the JSON instance editors and validators check.
fn instance(path: &Path) -> Value {
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: toml::Value = toml::from_str(&src).unwrap_or_else(|e| panic!("{}: not TOML: {e}", path.display()));
    serde_json::to_value(v).expect("TOML converts to JSON")
}

fn errors(v: &jsonschema::Validator, path: &Path) -> Vec<String> {
    v.iter_errors(&instance(path)).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

/// Every `.toml` under `dir`, recursively, sorted.
fn tomls(dir: &str) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(dir), &mut out);
    out.sort();
    out
}

/// A sweep specification (`scenario = ...` and `[grid]`), not a scenario.
fn is_sweep_spec(path: &Path) -> bool {
    let v = instance(path);
    v.get("scenario").is_some() && v.get("grid").is_some()
}

#[test]
fn committed_schema_is_the_generated_one() {
    let doc = std::fs::read_to_string("docs/scenario.schema.json").expect("docs/scenario.schema.json");
    assert!(
        doc == generated(),
        "docs/scenario.schema.json differs from `swarmlab schema`: regenerate it with\n  \
         cargo run --release -- schema > docs/scenario.schema.json"
    );
}

#[test]
fn every_committed_scenario_validates() {
    let v = validator();
    let mut checked = 0;
    let files: Vec<PathBuf> = tomls("scenarios")
        .into_iter()
        .chain(tomls("tests/fixtures"))
        .filter(|p| !p.starts_with(BAD) && !p.starts_with(HOSTILE))
        .collect();
    for path in files {
        if let Err(e) = Scenario::load(&path) {
            // Only sweep specifications may fail to parse as scenarios here.
            assert!(is_sweep_spec(&path), "{} is neither a scenario nor a sweep spec: {e}", path.display());
            continue;
        }
        let errs = errors(&v, &path);
        assert!(errs.is_empty(), "{} parses but fails the schema:\n{}", path.display(), errs.join("\n"));
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} scenarios found");
}

const BAD: &str = "tests/fixtures/schema-bad";
/// The hostile-scenario corpus (tests/hostile_scenarios.rs): every file is
/// refused by the parser.
const HOSTILE: &str = "tests/fixtures/hostile";

/// The hostile corpus against the schema: where the parser refuses a file for
/// one value's type, range or name, the schema refuses it too; totals,
/// cross-key rules, files and NaN (no JSON form) are the parser's alone. Every
/// file of the corpus must be in one of the two lists, so a new one is
/// classified.
#[test]
fn the_hostile_corpus_fails_the_schema_where_a_single_value_is_wrong() {
    let schema_rejects = [
        "latency-bad-model",
        "range-negative-upload",
        "totals-duration",
        "totals-join-window",
        "totals-peer-count",
        "type-string-rate",
        "unknown-family",
        "unknown-key",
    ];
    let parser_only = [
        "cross-partners",
        "cross-stripes-window",
        "range-nan-duration",
        "timeline-after-end",
        "totals-arrival-rate",
        "totals-flash-crowds",
        "trace-missing-file",
    ];
    let v = validator();
    for path in tomls(HOSTILE) {
        let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        assert!(Scenario::load(&path).is_err(), "the parser accepts {}", path.display());
        if schema_rejects.contains(&name.as_str()) {
            assert!(!errors(&v, &path).is_empty(), "the schema accepts {}", path.display());
        } else {
            assert!(parser_only.contains(&name.as_str()), "{} is in neither list of this test", path.display());
        }
    }
}

/// Each bad fixture says where the schema must find it wrong (`# schema error at: /a/b`).
fn expected_error_at(path: &Path, src: &str) -> String {
    let at = src.lines().find_map(|l| l.strip_prefix("# schema error at: "));
    let at = at.unwrap_or_else(|| panic!("{} has no `# schema error at:` line", path.display())).trim();
    if at == "/" { String::new() } else { at.to_string() }
}

#[test]
fn scenarios_the_parser_rejects_for_a_value_fail_the_schema() {
    let v = validator();
    let files = tomls(BAD);
    assert!(files.len() >= 30, "only {} bad fixtures", files.len());
    for path in files {
        let src = std::fs::read_to_string(&path).expect("read");
        assert!(Scenario::parse(&path.display().to_string(), &src).is_err(), "the parser accepts {}", path.display());
        let at = expected_error_at(&path, &src);
        let found: Vec<String> = v.iter_errors(&instance(&path)).map(|e| e.instance_path().to_string()).collect();
        assert!(
            found.contains(&at),
            "{}: the schema should reject the value at `{at}`; its errors: {:?}",
            path.display(),
            errors(&v, &path)
        );
    }
}

#[test]
fn the_schema_keeps_registered_names_and_bounds() {
    let s: Value = serde_json::from_str(&generated()).unwrap();
    let protocol = &s["properties"]["protocol"]["properties"];
    assert_eq!(protocol["scheduler"]["enum"][0], "donet");
    assert_eq!(protocol["mesh"]["properties"]["partners"]["default"], 4);
    assert_eq!(protocol["mesh"]["additionalProperties"], false);
    let variant_tree = &s["properties"]["variants"]["items"]["properties"]["params"]["properties"]["tree"];
    assert_eq!(variant_tree["properties"]["stripes"]["minimum"], 1);
    assert!(variant_tree["properties"]["stripes"].get("default").is_none(), "variant keys have no default");
    let text = generated();
    assert!(!text.contains("$ref") && !text.contains("\"null\""), "inline subschemas, no null");
    let timeline_event = &s["properties"]["timeline"]["items"]["properties"]["event"];
    let events = timeline_event["enum"].as_array().expect("string enums are `enum` lists");
    assert!(events.contains(&Value::from("source-down")) && events.len() == 7, "{events:?}");
}
