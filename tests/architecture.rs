//! The module graph of `src/` has no circle (DESIGN.md §8.1): no two modules
//! use each other, directly or through others. Every file is a module; a `use`
//! (or an inline `crate::…`/`super::…` path) is an edge to the deepest module
//! it names — `super::Foo` is an edge to the parent, `super::foo::Bar` to the
//! sibling `foo`. Test modules (`tests.rs`, `#[cfg(test)] mod tests { … }`)
//! are left out: a test may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

fn modules(dir: &Path, prefix: &Module, out: &mut BTreeMap<Module, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "bin" {
                let mut m = prefix.clone();
                m.push(name.to_string());
                modules(&path, &m, out);
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") || name == "tests" {
            continue;
        }
        let module = match (prefix.is_empty(), name) {
            (true, "lib") => Vec::new(),
            (true, "main") => continue,
            _ => {
                let mut m = prefix.clone();
                m.push(name.to_string());
                m
            }
        };
        let text = std::fs::read_to_string(&path).expect("source readable");
        out.insert(module, strip(&text));
    }
}

/// Source without comments, string literals and inline test modules.
fn strip(text: &str) -> String {
    let mut out = String::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied().unwrap_or(' ');
        if c == '/' && next == '/' {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == '*' {
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                i += if bytes[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(c);
            i += 1;
        }
    }
    remove_test_modules(&out)
}

fn remove_test_modules(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let rest = &out[at..];
        let body = match rest.find('{') {
            Some(open) if !rest[..open].contains(';') => open,
            // `#[cfg(test)] mod tests;` or a single item: drop to the `;`.
            _ => {
                let end = rest.find(';').map_or(rest.len(), |e| e + 1);
                out.replace_range(at..at + end, "");
                continue;
            }
        };
        let mut depth = 0;
        let mut end = rest.len();
        for (i, ch) in rest[body..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = body + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(at..at + end, "");
    }
    out
}

/// Every path of a `use` tree: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or("").to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// Paths a module refers to: `use` trees and inline `crate::`/`super::`/`self::`
/// paths, and inline paths through one of its own child modules.
fn paths(text: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("use ") {
        let before = text[..i].chars().last().unwrap_or(' ');
        if before.is_alphanumeric() || before == '_' {
            continue;
        }
        if let Some(end) = text[i..].find(';') {
            out.extend(expand(&text[i + 4..i + end]));
        }
    }
    let roots: Vec<String> = ["crate", "super", "self"]
        .iter()
        .map(|r| r.to_string())
        .chain(children.iter().cloned())
        .map(|r| format!("{r}::"))
        .collect();
    for root in &roots {
        for (i, _) in text.match_indices(root.as_str()) {
            let before = text[..i].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == ':' {
                continue;
            }
            let path: String = text[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path);
        }
    }
    out
}

/// The deepest existing module a path names, seen from `from`.
fn resolve(
    from: &Module,
    path: &str,
    known: &BTreeMap<Module, String>,
    mods: &BTreeSet<String>,
) -> Option<Module> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
    let mut at: Module = match segments.peek().copied() {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("super") => {
            let mut m = from.clone();
            while segments.peek() == Some(&"super") {
                segments.next();
                m.pop();
            }
            m
        }
        Some("self") => {
            segments.next();
            from.clone()
        }
        // A child module of this one, named directly (`use cached::Call`).
        Some(first) if mods.contains(first) => from.clone(),
        _ => return None,
    };
    for segment in segments {
        let mut next = at.clone();
        next.push(segment.to_string());
        if known.contains_key(&next) {
            at = next;
        } else {
            break;
        }
    }
    Some(at)
}

#[test]
fn the_module_graph_has_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    modules(&src, &Vec::new(), &mut known);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, text) in &known {
        let children: BTreeSet<String> = known
            .keys()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .filter_map(|m| m.last().cloned())
            .collect();
        for path in paths(text, &children) {
            if let Some(target) = resolve(module, &path, &known, &children)
                && &target != module
                && !target.is_empty()
            {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    let name = |m: &Module| {
        if m.is_empty() {
            "crate".to_string()
        } else {
            m.join("::")
        }
    };
    // Depth-first search for a back edge.
    let mut state: BTreeMap<Module, u8> = BTreeMap::new();
    let mut circles = Vec::new();
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
        circles: &mut Vec<Vec<Module>>,
    ) {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                0 => visit(next, edges, state, stack, circles),
                1 => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut circle = stack[from..].to_vec();
                    circle.push(next.clone());
                    circles.push(circle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
    }
    for m in known.keys() {
        if state.get(m).copied().unwrap_or(0) == 0 {
            visit(m, &edges, &mut state, &mut Vec::new(), &mut circles);
        }
    }
    let report: Vec<String> = circles
        .iter()
        .map(|c| c.iter().map(name).collect::<Vec<_>>().join(" → "))
        .collect();
    assert!(
        report.is_empty(),
        "module circles:\n  {}",
        report.join("\n  ")
    );
    assert!(
        edges.len() > 10,
        "the parser found too few edges to be trusted"
    );
}
