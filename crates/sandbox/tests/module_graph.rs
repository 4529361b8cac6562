//! The sandbox's modules depend on each other one way only: no cycle between files, and
//! none between top-level modules (`faults`, `vendors`, `inject`, ...). Read from the
//! sources: every `crate::`, `super::` and `self::` path outside comments is an edge to
//! the longest module it names. Nothing may depend on the crate root itself (it only
//! declares and re-exports), so a path must name a module, not a root re-export.
//!
//! `cargo test -p sandbox --test module_graph -- --nocapture` prints the edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file (the binary's `main.rs` aside) with its module path.
fn modules() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = src_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|f| {
            let rel = f.strip_prefix(&root).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            (parts, f)
        })
        .collect()
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path segments after `anchor` at each occurrence, and whether a `{...}` group
/// that names further modules follows (`crate::{a::X, b::Y}`), which this check does
/// not expand.
fn paths_after<'a>(code: &'a str, anchor: &str) -> Vec<(Vec<&'a str>, bool)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(anchor) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + anchor.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let segs: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
        let nested_group = rest[..end].ends_with("::")
            && rest[end..].starts_with('{')
            && rest[end..]
                .split('}')
                .next()
                .is_some_and(|g| g.contains("::"));
        out.push((segs, nested_group));
    }
    out
}

/// Edges of one file: (target module, the text that made it).
fn edges_of(
    module: &Module,
    text: &str,
    known: &BTreeSet<Module>,
    problems: &mut Vec<String>,
) -> BTreeSet<Module> {
    // An inline `mod tests` sees `super` as this module itself.
    let (main, inline_tests) = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
    let mut edges = BTreeSet::new();
    for (code, super_base) in [(main, &parent), (inline_tests, module)] {
        let code = strip_comments(code);
        for (anchor, base) in [
            ("crate::", &Vec::new()),
            ("super::", super_base),
            ("self::", module),
        ] {
            for (segs, group) in paths_after(&code, anchor) {
                if group {
                    problems.push(format!(
                        "{}: `{anchor}{}::{{a::X, ...}}` hides edges; one use per module",
                        module.join("::"),
                        segs.join("::")
                    ));
                    continue;
                }
                let mut target = base.clone();
                let mut best = base.clone();
                for s in &segs {
                    target.push((*s).to_owned());
                    if known.contains(&target) {
                        best.clone_from(&target);
                    }
                }
                if best.is_empty() {
                    problems.push(format!(
                        "{}: `{anchor}{}` names the crate root, not a module",
                        module.join("::"),
                        segs.join("::")
                    ));
                } else if best != *module {
                    edges.insert(best);
                }
            }
        }
    }
    edges
}

fn graph() -> (BTreeMap<Module, BTreeSet<Module>>, Vec<String>) {
    let mods = modules();
    let known: BTreeSet<Module> = mods.keys().cloned().collect();
    let mut problems = Vec::new();
    let mut graph = BTreeMap::new();
    for (module, file) in &mods {
        if module.is_empty() {
            continue; // lib.rs: declarations and re-exports
        }
        let text = std::fs::read_to_string(file).expect("readable source");
        graph.insert(
            module.clone(),
            edges_of(module, &text, &known, &mut problems),
        );
    }
    (graph, problems)
}

/// A cycle in `g`, as the path that closes it, if there is one.
fn find_cycle<N: Ord + Clone>(g: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        n: &N,
        g: &BTreeMap<N, BTreeSet<N>>,
        done: &mut BTreeSet<N>,
        stack: &mut Vec<N>,
    ) -> Option<Vec<N>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(n.clone());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(n, g, &mut done, &mut Vec::new()))
}

fn top_level(g: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<String, BTreeSet<String>> {
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in g {
        let entry = top.entry(from[0].clone()).or_default();
        entry.extend(tos.iter().map(|t| t[0].clone()).filter(|t| *t != from[0]));
    }
    top
}

#[test]
fn module_dependencies_point_one_way() {
    let (g, problems) = graph();
    for (from, tos) in &g {
        let tos: Vec<String> = tos.iter().map(|t| t.join("::")).collect();
        println!("{} -> {}", from.join("::"), tos.join(", "));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    if let Some(cycle) = find_cycle(&g) {
        let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
        panic!("module cycle: {}", names.join(" -> "));
    }
    if let Some(cycle) = find_cycle(&top_level(&g)) {
        panic!("top-level module cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_checker_sees_what_it_checks() {
    let known: BTreeSet<Module> = [
        vec!["a".to_owned()],
        vec!["b".to_owned()],
        vec!["b".to_owned(), "c".to_owned()],
    ]
    .into_iter()
    .collect();
    let mut problems = Vec::new();
    let edges = edges_of(
        &vec!["b".to_owned(), "c".to_owned()],
        "use crate::a::Thing; // crate::zzz in a comment\nuse super::Other;\n\
         fn f() { mycrate::a::x(); }\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        &known,
        &mut problems,
    );
    let edges: Vec<String> = edges.iter().map(|m| m.join("::")).collect();
    assert_eq!(edges, ["a", "b"]);
    assert!(problems.is_empty(), "{problems:?}");
    edges_of(
        &vec!["a".to_owned()],
        "use crate::Root;",
        &known,
        &mut problems,
    );
    edges_of(
        &vec!["a".to_owned()],
        "use crate::{b::c::X, Y};",
        &known,
        &mut problems,
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    let grouped = edges_of(
        &vec!["a".to_owned()],
        "use crate::b::{X, Y};",
        &known,
        &mut problems,
    );
    assert_eq!(grouped.len(), 1);
    assert_eq!(problems.len(), 2, "a group of items is fine: {problems:?}");

    let cyclic: BTreeMap<u8, BTreeSet<u8>> = [(1, [2].into()), (2, [3].into()), (3, [1].into())]
        .into_iter()
        .collect();
    assert_eq!(find_cycle(&cyclic), Some(vec![1, 2, 3, 1]));
    let acyclic: BTreeMap<u8, BTreeSet<u8>> =
        [(1, [2, 3].into()), (2, [3].into())].into_iter().collect();
    assert_eq!(find_cycle(&acyclic), None);
}
