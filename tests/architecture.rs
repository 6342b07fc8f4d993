//! The architecture of DESIGN §6, checked on the source: every `crate::…`, `super::…` and
//! `self::…` path of every library file is resolved to the module it names, and
//!
//! - an arrow may only point up the layer list below (a part never imports what is built on it:
//!   the pipeline never imports the blind scheme, governance, the kiosk or an edge);
//! - the blind scheme never imports the pipeline or the tracker (it takes a template);
//! - the kiosk never imports the evaluation (`eval`, native measuring): what it shows of the
//!   calibration is `calibration`'s, which builds for wasm32;
//! - nothing imports `wasm` (an edge);
//! - no two modules of one folder import each other, directly or round a longer cycle;
//! - `lib.rs` only declares modules and re-exports.
//!
//! Test modules (`#[cfg(test)] mod tests`) are left out: a test may reach anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// DESIGN §6's layers, lowest first. `hex` and `time` are helpers every layer may use.
const LAYERS: [(&str, u8); 13] = [
    ("hex", 0),
    ("time", 0),
    ("template", 1),
    ("pipeline", 2),
    ("track", 3),
    ("blind", 4),
    ("sealed", 4),
    ("governance", 5),
    ("calibration", 5),
    ("eval", 6),
    ("kiosk", 7),
    ("authority", 8),
    ("wasm", 9),
];

/// Arrows the layer order alone would allow but DESIGN §6 forbids.
const FORBIDDEN: [(&str, &str); 5] =
    [("blind", "pipeline"), ("blind", "track"), ("sealed", "pipeline"), ("sealed", "track"), ("kiosk", "eval")];

type ModulePath = Vec<String>;

/// The library's source files (not the binary's), as (module path, source).
fn library_sources(src: &Path) -> Vec<(ModulePath, String)> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(src).unwrap().to_path_buf();
            if relative.starts_with("bin") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((module_path(&relative), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `blind/enroll.rs` → [blind, enroll]; `blind/mod.rs` → [blind]; `lib.rs` → [].
fn module_path(relative: &Path) -> ModulePath {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The source with comments, string and char literals blanked, and the test module cut off.
fn code_only(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    };
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(bytes.len(), |n| i + n);
            i = end;
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |n| n + 2);
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|&c| c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            i += body + rest[body..].find(&close).map_or(rest.len() - body, |n| n + close.len());
            out.push_str("\"\"");
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if bytes[i] == b'\'' && rest.len() >= 3 && (rest.as_bytes()[2] == b'\'' || rest.as_bytes()[1] == b'\\') {
            // A char literal ('x' or '\n'), not a lifetime.
            i += rest[1..].find('\'').map_or(1, |n| n + 2);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// Every path a file names, as segments from the crate root: `crate::a::b`, `super::x`,
/// `self::y`, with `{…}` groups expanded to their first segments.
fn referenced_paths(file: &[String], is_mod_file: bool, code: &str) -> Vec<ModulePath> {
    // The module `super::` and `self::` are relative to.
    let here: ModulePath = file.to_vec();
    let parent: ModulePath = if is_mod_file || file.is_empty() {
        file[..file.len().saturating_sub(1)].to_vec()
    } else {
        file[..file.len() - 1].to_vec()
    };
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent), ("self::", here)] {
        let mut from = 0;
        while let Some(at) = code[from..].find(prefix) {
            let start = from + at;
            from = start + prefix.len();
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            collect(&code[from..], base.clone(), &mut out);
        }
    }
    out
}

/// Follows `a::b::{c, d::e}` from `base`, pushing each full path.
fn collect(rest: &str, base: ModulePath, out: &mut Vec<ModulePath>) {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut item_start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    collect(&group[item_start..i], base.clone(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    collect(&group[item_start..i], base.clone(), out);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let name = ident(rest);
    if name.is_empty() || name == "self" || name == "*" {
        out.push(base);
        return;
    }
    let mut path = base;
    path.push(name.to_owned());
    match rest[name.len()..].strip_prefix("::") {
        Some(more) => collect(more, path, out),
        None => out.push(path),
    }
}

/// The longest prefix of `path` that is a module of the crate.
fn resolve(path: &[String], modules: &BTreeSet<ModulePath>) -> ModulePath {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains(p)).unwrap_or_default()
}

fn layer(top: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == top).map(|(_, rank)| *rank)
}

/// Every broken rule in a set of files, in words.
fn violations(files: &[(ModulePath, bool, String)]) -> Vec<String> {
    let modules: BTreeSet<ModulePath> = files.iter().map(|(m, _, _)| m.clone()).collect();
    let mut problems = Vec::new();
    // Arrows between two modules of one folder: folder → (from child, to child).
    let mut sibling_arrows: BTreeMap<ModulePath, BTreeSet<(String, String)>> = BTreeMap::new();
    for (module, is_mod_file, source) in files {
        let code = code_only(source);
        let name = if module.is_empty() { "lib".to_owned() } else { module.join("::") };
        for path in referenced_paths(module, *is_mod_file, &code) {
            let target = resolve(&path, &modules);
            if target.is_empty() && !path.is_empty() && !module.is_empty() {
                problems.push(format!(
                    "{name} uses `crate::{}`: inside the crate, name the module it lives in",
                    path.join("::")
                ));
                continue;
            }
            let (Some(from_top), Some(to_top)) = (module.first(), target.first()) else { continue };
            if from_top != to_top {
                let (Some(from_rank), Some(to_rank)) = (layer(from_top), layer(to_top)) else {
                    problems.push(format!("{name} → {}: a module DESIGN §6 does not place", target.join("::")));
                    continue;
                };
                if to_top == "wasm" {
                    problems.push(format!("{name} imports the wasm facade, an edge nothing may import"));
                } else if to_rank > from_rank && to_rank != 0 {
                    problems.push(format!(
                        "{name} → {}: {from_top} may not import {to_top}, which is built on it",
                        target.join("::")
                    ));
                } else if FORBIDDEN.contains(&(from_top.as_str(), to_top.as_str())) {
                    problems.push(format!("{name} → {}: {from_top} must not import {to_top}", target.join("::")));
                }
                continue;
            }
            // Same top-level module: record arrows between sibling modules of one folder.
            let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < module.len() && common < target.len() {
                sibling_arrows
                    .entry(module[..common].to_vec())
                    .or_default()
                    .insert((module[common].clone(), target[common].clone()));
            }
        }
    }
    for (folder, arrows) in &sibling_arrows {
        if let Some(cycle) = find_cycle(arrows) {
            problems.push(format!("modules of {} import each other: {}", folder.join("::"), cycle.join(" → ")));
        }
    }
    problems
}

/// A cycle in a directed graph, as the names round it, if there is one.
fn find_cycle(arrows: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        arrows: &BTreeSet<(String, String)>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for (_, next) in arrows.iter().filter(|(from, _)| from == node) {
            if let Some(cycle) = visit(next, arrows, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    arrows.iter().find_map(|(from, _)| visit(from, arrows, &mut Vec::new(), &mut done))
}

fn crate_files() -> Vec<(ModulePath, bool, String)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for (module, source) in library_sources(&src) {
        let relative: PathBuf = module.iter().collect();
        let is_mod_file = src.join(&relative).join("mod.rs").exists();
        files.push((module, is_mod_file, source));
    }
    files
}

#[test]
fn every_arrow_between_modules_follows_design_section_6() {
    let files = crate_files();
    assert!(files.len() > 30, "found only {} source files", files.len());
    let problems = violations(&files);
    assert!(problems.is_empty(), "DESIGN §6 is broken:\n  {}", problems.join("\n  "));
}

#[test]
fn lib_rs_only_declares_and_re_exports() {
    let lib = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in code_only(&lib).lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(
            ["pub mod ", "mod ", "pub use ", "#["].iter().any(|p| line.starts_with(p)) || line.ends_with(';'),
            "lib.rs holds more than declarations and re-exports: `{line}`"
        );
    }
}

/// The checker itself: each rule, broken on purpose, is reported.
#[test]
fn the_checker_catches_each_kind_of_broken_arrow() {
    let file = |path: &str, is_mod: bool, code: &str| {
        (path.split('/').filter(|p| !p.is_empty()).map(str::to_owned).collect::<ModulePath>(), is_mod, code.to_owned())
    };
    let base = vec![
        file("", false, "pub mod pipeline; pub mod blind; pub mod calibration; pub mod eval; pub mod kiosk; mod wasm;"),
        file("pipeline", true, "pub mod detect;"),
        file("pipeline/detect", false, "use crate::template::Embedding;"),
        file("blind", true, "pub mod a; pub mod b;"),
        file("blind/a", false, "use super::b::Thing;"),
        file("blind/b", false, "use crate::template::Embedding; // crate::pipeline in a comment is fine"),
        file("kiosk", true, "use crate::{blind::a, pipeline::detect::Face, calibration::chart};"),
        file("wasm", true, "use crate::kiosk::Session;"),
        file("template", false, ""),
        file("calibration", true, "pub mod chart;"),
        file("calibration/chart", false, "use crate::blind::a;"),
        file("eval", true, "use crate::calibration::chart;"),
    ];
    assert_eq!(violations(&base), Vec::<String>::new());

    let with = |index: usize, code: &str| {
        let mut files = base.clone();
        files[index].2 = code.to_owned();
        violations(&files)
    };
    let upward = with(2, "use crate::blind::a::Share;");
    assert!(upward[0].contains("pipeline may not import blind"), "{upward:?}");
    let blind_to_pipeline = with(5, "fn f(e: &crate::pipeline::detect::Face) {}");
    assert!(blind_to_pipeline[0].contains("blind must not import pipeline"), "{blind_to_pipeline:?}");
    let cycle = with(5, "use super::{a::Other};");
    assert!(cycle[0].contains("import each other"), "{cycle:?}");
    let to_wasm = with(6, "use crate::wasm::Kiosk;");
    let kiosk_to_eval = with(6, "fn f() -> String { crate::eval::render() }");
    assert!(kiosk_to_eval[0].contains("kiosk must not import eval"), "{kiosk_to_eval:?}");
    let calibration_to_eval = with(10, "use crate::eval;");
    assert!(calibration_to_eval[0].contains("calibration may not import eval"), "{calibration_to_eval:?}");
    assert!(to_wasm[0].contains("wasm facade"), "{to_wasm:?}");
    let in_a_string = with(2, "const S: &str = \"crate::blind::a\";");
    assert!(in_a_string.is_empty(), "{in_a_string:?}");
    let root_re_export = with(2, "use crate::Engine;");
    assert!(root_re_export[0].contains("name the module"), "{root_re_export:?}");
}
