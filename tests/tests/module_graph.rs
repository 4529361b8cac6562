//! In every crate of the workspace, modules depend on each other one way only: no cycle
//! between files, and none between top-level modules. Read from the sources: every
//! `crate::`, `super::` and `self::` path outside comments is an edge to the longest
//! module it names; a path to an item of the crate root (`crate::StartError`) is an edge
//! to the root, and the root's own code (not its `mod` and `pub use` lines) has edges to
//! the modules it names, so `lib.rs` using a module that uses `lib.rs` is a cycle too.
//!
//! `cargo test -p tests --test module_graph -- --nocapture` prints the edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// The `src` folder of every library crate of the workspace.
fn crate_src_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for group in ["crates", "services"] {
        for entry in std::fs::read_dir(root.join(group)).expect("readable workspace") {
            let src = entry.expect("dir entry").path().join("src");
            if src.join("lib.rs").is_file() {
                out.push(src);
            }
        }
    }
    out.sort();
    out
}

/// Every library source file (the binary's `main.rs` aside) with its module path.
fn modules(root: &Path) -> BTreeMap<Module, PathBuf> {
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
    let mut files = Vec::new();
    walk(root, &mut files);
    files
        .into_iter()
        .filter(|f| {
            f.file_name().is_some_and(|n| n != "main.rs") && !f.starts_with(root.join("bin"))
        })
        .map(|f| {
            let rel = f.strip_prefix(root).expect("under src");
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
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(anchor) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + anchor.len()..];
        if before.is_some_and(ident) {
            continue;
        }
        let end = rest
            .find(|c: char| !(ident(c) || c == ':'))
            .unwrap_or(rest.len());
        let prefix: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
        let group = (end == 0 || rest[..end].ends_with("::")) && rest[end..].starts_with('{');
        if group {
            // `crate::{a, b::X}` and `crate::a::{X, Y}`: one path per member (one level;
            // a nested group is reported, it would hide edges).
            let body = rest[end + 1..].split('}').next().unwrap_or("");
            if body.contains('{') {
                out.push((prefix, true));
                continue;
            }
            for member in body.split(',') {
                let member = member.trim();
                let member = member.split(" as ").next().unwrap_or(member);
                let mut segs = prefix.clone();
                segs.extend(
                    member
                        .split("::")
                        .map(str::trim)
                        .filter(|s| !s.is_empty() && s.chars().all(ident)),
                );
                out.push((segs, false));
            }
        } else {
            out.push((prefix, false));
        }
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
                        "{}: `{anchor}{}::{{a::{{...}}}}` nests groups, which hides edges",
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
                if best != *module {
                    edges.insert(best);
                }
            }
        }
    }
    edges
}

/// The root's own code: `lib.rs` without its `mod` declarations and `pub use`
/// re-exports, and with paths to its modules written `crate::` so `edges_of` sees them.
fn root_code(text: &str, known: &BTreeSet<Module>) -> String {
    let code: Vec<&str> = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("pub mod ")
                || t.starts_with("mod ")
                || t.starts_with("pub(crate) mod ")
                || t.starts_with("pub use ")
                || t.starts_with("pub(crate) use "))
        })
        .collect();
    let mut code = strip_comments(&code.join("\n"));
    for m in known.iter().filter(|m| m.len() == 1) {
        code = prefix_bare_paths(&code, &m[0]);
    }
    code
}

/// `name::` not preceded by an identifier character or `::` becomes `crate::name::`.
fn prefix_bare_paths(code: &str, name: &str) -> String {
    let pat = format!("{name}::");
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(i) = rest.find(&pat) {
        let before = rest[..i].chars().next_back();
        let bare = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        out.push_str(&rest[..i]);
        if bare {
            out.push_str("crate::");
        }
        out.push_str(&pat);
        rest = &rest[i + pat.len()..];
    }
    out.push_str(rest);
    out
}

fn graph(src: &Path) -> (BTreeMap<Module, BTreeSet<Module>>, Vec<String>) {
    let mods = modules(src);
    let known: BTreeSet<Module> = mods.keys().cloned().collect();
    let mut problems = Vec::new();
    let mut graph = BTreeMap::new();
    for (module, file) in &mods {
        let text = std::fs::read_to_string(file).expect("readable source");
        let text = if module.is_empty() {
            root_code(&text, &known)
        } else {
            text
        };
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

/// The graph between top-level modules (the root is "crate").
fn top_level(g: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<String, BTreeSet<String>> {
    let head = |m: &Module| m.first().cloned().unwrap_or_else(|| "crate".to_owned());
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in g {
        let from = head(from);
        let entry = top.entry(from.clone()).or_default();
        entry.extend(tos.iter().map(head).filter(|t| *t != from));
    }
    top
}

#[test]
fn module_dependencies_point_one_way_in_every_crate() {
    let dirs = crate_src_dirs();
    assert!(dirs.len() >= 10, "found the crates: {dirs:?}");
    let mut failures = Vec::new();
    for src in &dirs {
        let krate = src
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (g, problems) = graph(src);
        for (from, tos) in &g {
            let tos: Vec<String> = tos.iter().map(|t| t.join("::")).collect();
            println!("{krate}: {} -> {}", from.join("::"), tos.join(", "));
        }
        failures.extend(problems.into_iter().map(|p| format!("{krate}: {p}")));
        let name = |m: &Module| {
            if m.is_empty() {
                "crate".to_owned()
            } else {
                m.join("::")
            }
        };
        if let Some(cycle) = find_cycle(&g) {
            let names: Vec<String> = cycle.iter().map(name).collect();
            failures.push(format!("{krate}: module cycle: {}", names.join(" -> ")));
        } else if let Some(cycle) = find_cycle(&top_level(&g)) {
            failures.push(format!(
                "{krate}: top-level module cycle: {}",
                cycle.join(" -> ")
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
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
    let to_root = edges_of(
        &vec!["a".to_owned()],
        "use crate::Root;",
        &known,
        &mut problems,
    );
    assert_eq!(
        to_root.into_iter().collect::<Vec<_>>(),
        [Vec::<String>::new()]
    );
    assert_eq!(
        prefix_bare_paths("x(a::f()); crate::a::g(); b::a::h(); xa::i();", "a"),
        "x(crate::a::f()); crate::a::g(); b::a::h(); xa::i();"
    );
    let members = edges_of(
        &vec!["a".to_owned()],
        "use crate::{b::c::X, Y};",
        &known,
        &mut problems,
    );
    let members: Vec<String> = members.iter().map(|m| m.join("::")).collect();
    assert_eq!(members, ["", "b::c"], "each member of a group is an edge");
    let grouped = edges_of(
        &vec!["a".to_owned()],
        "use crate::b::{X, Y};",
        &known,
        &mut problems,
    );
    assert_eq!(grouped.len(), 1);
    assert!(problems.is_empty(), "{problems:?}");
    edges_of(
        &vec!["a".to_owned()],
        "use crate::{b::{X, Y}, Z};",
        &known,
        &mut problems,
    );
    assert_eq!(
        problems.len(),
        1,
        "a nested group is reported: {problems:?}"
    );

    let cyclic: BTreeMap<u8, BTreeSet<u8>> = [(1, [2].into()), (2, [3].into()), (3, [1].into())]
        .into_iter()
        .collect();
    assert_eq!(find_cycle(&cyclic), Some(vec![1, 2, 3, 1]));
    let acyclic: BTreeMap<u8, BTreeSet<u8>> =
        [(1, [2, 3].into()), (2, [3].into())].into_iter().collect();
    assert_eq!(find_cycle(&acyclic), None);
}
