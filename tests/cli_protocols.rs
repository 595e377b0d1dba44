//! `swarmlab protocols` prints the registry's `[protocol]` reference: the same
//! text as the generated part of docs/scenario.md for the built-ins.

#[test]
fn protocols_prints_the_generated_reference() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_swarmlab")).arg("protocols").output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).expect("utf-8");
    for name in
        ["`mesh-pull`", "`client-server`", "`latest-useful`", "`protocol.tree.stripes`", "`protocol.hybrid.mode`"]
    {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
    let doc = std::fs::read_to_string("docs/scenario.md").expect("docs/scenario.md");
    let begin = doc.find("<!-- GENERATED from the registry").expect("begin marker");
    let begin = begin + doc[begin..].find("-->").expect("marker end") + 3;
    let end = doc.find("<!-- END GENERATED -->").expect("end marker");
    assert_eq!(out.trim(), doc[begin..end].trim(), "swarmlab protocols and docs/scenario.md disagree");
}
