//! `swarmlab schema` of a build that registers push-random lists the family
//! and its `[protocol.push-random]` section, and compare.toml validates
//! against it (the built-in schema refuses it: it does not know the family).

use serde_json::Value;

fn compare_toml() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compare.toml");
    let v: toml::Value = toml::from_str(&std::fs::read_to_string(path).expect("compare.toml")).expect("TOML");
    serde_json::to_value(v).expect("JSON")
}

fn schema(registry: swarmlab::Registry) -> Value {
    registry.install();
    serde_json::from_str(&swarmlab::sim::schema::scenario_schema()).expect("the schema is JSON")
}

#[test]
fn the_extensions_schema_has_its_family_and_section_and_accepts_compare_toml() {
    let builtin = schema(swarmlab::Registry::builtins());
    let s = schema(push_random::registry());
    let protocol = &s["properties"]["protocol"]["properties"];
    assert!(protocol["name"]["enum"].as_array().unwrap().contains(&Value::from("push-random")));
    let fanout = &protocol["push-random"]["properties"]["fanout"];
    assert_eq!(fanout["type"], "integer", "{fanout}");
    let instance = compare_toml();
    let errors: Vec<String> =
        jsonschema::draft7::new(&s).expect("a draft-07 schema").iter_errors(&instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "compare.toml fails the extension's schema: {errors:?}");
    assert!(
        !jsonschema::draft7::new(&builtin).unwrap().is_valid(&instance),
        "the built-in schema knows no push-random"
    );
}
