//! The house as a newcomer reads it: no source file too long to read in one sitting, and the
//! layers import one way only (no two top-level modules, or modules within one, that import
//! each other, however indirectly).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // A build's output (a fuzzer's `target/`, say) is not our source.
            if !path.ends_with("target") {
                rust_files(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_800_lines() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches"] {
        rust_files(&root().join(dir), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by what they do: {long:?}");
}

/// `src/a/b/c.rs` (or `src/a/b/c/mod.rs`) as `["a", "b", "c"]`.
fn module_of(path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(root().join("src")).unwrap();
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The modules `source` names as `crate::…`, before its unit tests.
fn imports(source: &str) -> Vec<Vec<String>> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .split("::")
                .map_while(|part| {
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    (!name.is_empty() && name.len() == part.len()).then_some(name)
                })
                .collect()
        })
        .collect()
}

/// Module → the modules it imports, each cut to `depth` parts.
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files {
        let module = module_of(&path);
        if module.is_empty()
            || module
                .iter()
                .any(|p| p == "tests" || p == "main" || p == "lib")
        {
            continue;
        }
        let from = module[..module.len().min(depth)].join("::");
        for import in imports(&std::fs::read_to_string(&path).unwrap()) {
            let to = import[..import.len().min(depth)].join("::");
            let nested = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}::"));
            if !to.is_empty() && !nested(&from, &to) && !nested(&to, &from) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// A path from `to` back to `from`, if there is one.
fn path_back(
    edges: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![to.to_owned()]];
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap().clone();
        if last == from {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in edges.get(&last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

#[test]
fn modules_import_one_way_only() {
    for depth in [1, 2] {
        let edges = graph(depth);
        for (from, tos) in &edges {
            for to in tos {
                if let Some(back) = path_back(&edges, from, to) {
                    panic!("an import circle: {from} -> {}", back.join(" -> "));
                }
            }
        }
    }
}

#[test]
fn the_circle_check_sees_a_circle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("cli".to_owned(), BTreeSet::from(["telemetry".to_owned()])),
        ("telemetry".to_owned(), BTreeSet::from(["cli".to_owned()])),
    ]
    .into();
    assert!(path_back(&edges, "cli", "telemetry").is_some());
    assert_eq!(
        imports("use crate::http::SocketStatus;\nuse crate::core::{a, b};"),
        vec![vec!["http".to_owned()], vec!["core".to_owned()]]
    );
}
