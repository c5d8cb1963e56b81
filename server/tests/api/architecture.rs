//! The architecture the README describes, checked against the source: the folders named in
//! it depend on each other in one direction only, and one place stores new runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders whose dependencies must not form a cycle (README "Architecture").
const LAYERED: &[&str] = &["auth", "http", "engine", "triggers", "notify", "service", "cloud", "store"];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a source file belongs to: `engine` for `engine.rs` and `engine/*.rs`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file names as `crate::name` or inside `crate::{a, b::c}`.
fn references(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let code: String = text.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    for (index, _) in code.match_indices("crate::") {
        let rest = &code[index + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            names.insert(name);
        }
    }
    names
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let from = module_of(&src, &file);
        if !LAYERED.contains(&from.as_str()) {
            continue;
        }
        for to in references(&std::fs::read_to_string(&file).unwrap()) {
            if to != from && LAYERED.contains(&to.as_str()) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// A cycle through `node`, if there is one, as the path that closes it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>, node: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
    if let Some(start) = path.iter().position(|n| n == node) {
        let mut found = path[start..].to_vec();
        found.push(node.to_string());
        return Some(found);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in edges.get(node).into_iter().flatten() {
        if let Some(found) = cycle(edges, next, path, done) {
            return Some(found);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

#[test]
fn the_layered_folders_have_no_dependency_cycle() {
    let edges = graph();
    assert!(edges.get("engine").is_some_and(|to| to.contains("store")), "the scan sees imports: {edges:?}");
    let mut done = BTreeSet::new();
    for node in LAYERED {
        if let Some(found) = cycle(&edges, node, &mut Vec::new(), &mut done) {
            panic!("module cycle: {}\nall edges: {edges:?}", found.join(" -> "));
        }
    }
}

#[test]
fn one_place_stores_new_runs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let callers: Vec<String> = files
        .iter()
        .filter(|file| std::fs::read_to_string(file).unwrap().contains(".insert_execution("))
        .map(|file| file.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert_eq!(callers, vec!["engine/launcher.rs".to_string()], "runs are stored by the launcher only");
}

/// The Leptos crates patched in `vendor/` (see vendor/README.md) are the ones built: when a
/// Leptos upgrade asks for another version, cargo quietly builds the registry's copy and lists
/// the patch under `[[patch.unused]]` in Cargo.lock; this fails instead.
#[test]
fn the_vendored_patches_are_the_crates_built() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    assert!(!lock.contains("[[patch.unused]]"), "a patch in vendor/ is no longer used: re-apply it to the new version or drop it (vendor/README.md)");
    let packages: Vec<&str> = lock.split("[[package]]").skip(1).collect();
    for name in ["tachys", "server_fn"] {
        let manifest = std::fs::read_to_string(root.join("vendor").join(name).join("Cargo.toml")).unwrap();
        let vendored = manifest
            .lines()
            .find_map(|line| line.strip_prefix("version = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("vendor/{name}/Cargo.toml names no version"));
        let built: Vec<&&str> = packages.iter().filter(|package| package.contains(&format!("name = \"{name}\"\n"))).collect();
        assert_eq!(built.len(), 1, "exactly one {name} is built");
        assert!(built[0].contains(&format!("version = \"{vendored}\"")), "{name} {vendored} from vendor/ is built: {}", built[0]);
        assert!(!built[0].contains("source ="), "{name} comes from vendor/, not a registry: {}", built[0]);
    }
}
