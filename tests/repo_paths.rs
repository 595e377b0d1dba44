//! The repository stands alone: no file points at paths outside it.
//!
//! Scans every text file of the working tree (not `target/`, `.git/` or run
//! outputs) for references that only make sense on one developer's machine:
//! the sibling directory of shared design notes (by its name followed by a
//! slash, or the name of its references file),
//! absolute home or workspace paths (`/work/...`, `/home/...`, `/root/...`,
//! `/Users/...`), and relative paths starting with `../` that climb above the
//! repository root from the file that names them. Fails listing every hit as
//! `file:line: text`. (`/tmp/...` in recorded command lines is an output
//! location, not a reference, and is allowed.)

use std::path::{Component, Path, PathBuf};

/// The sibling directory's name. The patterns are assembled here so that
/// this file does not itself name what it forbids.
const SIBLING: &str = concat!("sha", "red");

/// Substrings that always point outside the repository.
const OUTSIDE: &[&str] =
    &[concat!("../", "sha", "red"), concat!("REFER", "ENCES.md"), "/work/", "/home/", "/root/", "/Users/"];

/// Known hits that must stay for now, each with the text it must still
/// contain (so that an entry is removed when its file is fixed). None today.
const PENDING: &[(&str, &str)] = &[];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if name == ".git" {
            continue; // a directory, or in a worktree a file naming the main checkout
        }
        if path.is_dir() {
            if name == "target" || name == "swarmlab-out" || (name.starts_with('.') && name != ".ci") {
                continue;
            }
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The sibling's name and a slash, not preceded by a letter, digit, `_` or
/// `-` (so `un` + that name + `/` is fine).
fn names_sibling_dir(line: &str) -> bool {
    line.match_indices(&format!("{SIBLING}/"))
        .any(|(i, _)| !line[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

/// Relative paths starting with `../` that leave `root` when resolved from `dir`.
fn escapes(line: &str, dir: &Path, root: &Path) -> bool {
    let delim = |c: char| c.is_whitespace() || "\"'`()[]<>{},;=".contains(c);
    line.split(delim).filter(|t| t.starts_with("../")).any(|t| {
        let mut depth = dir.strip_prefix(root).map_or(0, |d| d.components().count() as i64);
        for c in Path::new(t).components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 {
                return true;
            }
        }
        false
    })
}

fn scan(root: &Path) -> Vec<String> {
    let mut all = Vec::new();
    files(root, &mut all);
    let me = Path::new(file!()).file_name().expect("file name");
    let mut hits = Vec::new();
    for f in all {
        if f.file_name() == Some(me) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else { continue }; // binary (PNG, PDF)
        let rel = f.strip_prefix(root).unwrap_or(&f).to_string_lossy().replace('\\', "/");
        let dir = f.parent().unwrap_or(root);
        for (n, line) in text.lines().enumerate() {
            let bad = OUTSIDE.iter().any(|p| line.contains(p)) || names_sibling_dir(line) || escapes(line, dir, root);
            if bad && !PENDING.iter().any(|(file, needle)| rel == *file && line.contains(needle)) {
                hits.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    hits
}

#[test]
fn no_file_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let hits = scan(root);
    assert!(
        hits.is_empty(),
        "{} reference(s) to paths outside the repository (put what they point at into the repository, \
         e.g. docs/references.md, and point there):\n{}",
        hits.len(),
        hits.join("\n")
    );
    for (file, needle) in PENDING {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        assert!(text.contains(needle), "{file} no longer has `{needle}`: remove it from PENDING in {}", file!());
    }
}

#[test]
fn the_scan_catches_each_kind_of_outside_reference() {
    let root = std::env::temp_dir().join(format!("swarmlab-repo-paths-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("docs/sub")).unwrap();
    let (dir, refs) = (SIBLING, OUTSIDE[1]);
    std::fs::write(
        root.join("docs/sub/a.md"),
        format!(
            "fine: ../b.md and ../../README.md and un{dir}/x and /tmp/out\n\
             see ../{dir}/{refs}\n\
             see {dir}/notes.txt\n\
             data in /work/main/results\n\
             [link](../../../elsewhere.md)\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::write(root.join("target/ignored.md"), format!("../{dir}/x /work/y\n")).unwrap();
    let hits = scan(&root);
    let lines: Vec<&str> = hits.iter().map(|h| h.split(": ").next().unwrap_or("")).collect();
    assert_eq!(lines, ["docs/sub/a.md:2", "docs/sub/a.md:3", "docs/sub/a.md:4", "docs/sub/a.md:5"], "{hits:#?}");
    let _ = std::fs::remove_dir_all(&root);
}
