//! Provenance: the `manifest.toml` written into every output directory, so a
//! figure or table can be traced to the code, scenario and seeds that made it.
//!
//! It records the swarmlab version, the git commit of the source tree the
//! binary was built from (with `-dirty` when it had uncommitted changes;
//! `unknown` outside a git checkout), the scenario path and a stable FNV-1a
//! hash of its text, the seeds, and the command line. It is not part of the
//! byte-identical outputs (the command line differs between invocations).

use std::path::Path;

/// FNV-1a 64 of `bytes`: stable across platforms and Rust versions.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The commit of the tree this binary was built from, if git can tell.
pub fn git_commit() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        _ => "unknown".into(),
    }
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Writes `dir/manifest.toml`.
pub fn write(dir: &Path, scenario: &Path, scenario_text: &str, seeds: &[u64]) -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().map(|a| quote(&a)).collect();
    let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let text = format!(
        "# Provenance of this directory (written by swarmlab).\n\
         swarmlab_version = {}\ngit_commit = {}\nscenario = {}\nscenario_hash = \"fnv1a64:{:016x}\"\n\
         seeds = [{}]\ncommand = [{}]\n",
        quote(env!("CARGO_PKG_VERSION")),
        quote(&git_commit()),
        quote(&scenario.display().to_string()),
        fnv1a64(scenario_text.as_bytes()),
        seeds.join(", "),
        args.join(", "),
    );
    std::fs::create_dir_all(dir)?;
    analysis::output::write_atomic(&dir.join("manifest.toml"), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn manifest_is_valid_toml_with_the_seeds_and_hash() {
        let dir = std::env::temp_dir().join(format!("swarmlab-manifest-{}", std::process::id()));
        write(&dir, Path::new("x \"q\".toml"), "[peers]\ncount = 1\n", &[3, 4]).expect("write");
        let text = std::fs::read_to_string(dir.join("manifest.toml")).expect("read");
        let v: toml::Table = toml::from_str(&text).expect("valid TOML");
        assert_eq!(v["seeds"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["scenario"].as_str(), Some("x \"q\".toml"));
        let h = format!("fnv1a64:{:016x}", fnv1a64(b"[peers]\ncount = 1\n"));
        assert_eq!(v["scenario_hash"].as_str(), Some(h.as_str()));
    }
}
