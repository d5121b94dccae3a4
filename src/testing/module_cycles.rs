//! Import cycles between a crate's top-level modules, read from its source:
//! the check that keeps each crate layered (every crate's tests call
//! [`assert_no_module_cycles`]).
//!
//! A module depends on another when its code names it: `use crate::x::..`,
//! a path `crate::x::..`, `super::x` that climbs to the crate root, or
//! `crate::Item` where the crate root re-exports `Item` from `x`. Comments,
//! strings and `#[cfg(test)]` items are left out: a test may use a layer
//! above the code it tests to build its input. Submodules count as their
//! top-level module (`perf_data::reader` is `perf_data`), and items the
//! crate root defines itself belong to no module.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where module `from` names module `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The naming module.
    pub from: String,
    /// The named module.
    pub to: String,
    /// The file and line that name it.
    pub at: String,
}

/// A group of modules that import each other, and one cycle through them:
/// each reference names the next one's module, the last the first's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The modules that reach each other.
    pub modules: Vec<String>,
    /// The shortest cycle through the first of them.
    pub path: Vec<Reference>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(first) = self.path.first() else {
            return Ok(());
        };
        write!(f, "{{{}}}: {}", self.modules.join(", "), first.from)?;
        for r in &self.path {
            write!(f, " -> {} ({})", r.to, r.at)?;
        }
        Ok(())
    }
}

/// Panics naming every import cycle between the top-level modules of the
/// crate whose root is `src/lib.rs`.
#[track_caller]
pub fn assert_no_module_cycles(src: &Path) {
    let cycles = module_cycles(src).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        cycles.is_empty(),
        "import cycles between the modules of {}: move what both use to the layer below\n{}",
        src.display(),
        cycles
            .iter()
            .map(|c| format!("  {c}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The import cycles between the top-level modules of the crate whose root
/// is `src/lib.rs`, one per strongly connected group of modules.
pub fn module_cycles(src: &Path) -> Result<Vec<Cycle>, String> {
    let refs = module_references(src)?;
    let mut graph: BTreeMap<&str, BTreeMap<&str, &Reference>> = BTreeMap::new();
    for r in &refs {
        graph.entry(&r.from).or_default().entry(&r.to).or_insert(r);
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for &start in graph.keys() {
        if done.contains(start) {
            continue;
        }
        // The modules that reach `start` and that `start` reaches.
        let group: BTreeSet<&str> = reachable(&graph, start)
            .into_iter()
            .filter(|m| reachable(&graph, m).contains(start))
            .collect();
        done.extend(group.iter().copied());
        if let Some(path) = path_within(&graph, &group, start) {
            cycles.push(Cycle {
                modules: group.iter().map(|m| (*m).to_owned()).collect(),
                path: path.into_iter().cloned().collect(),
            });
        }
    }
    Ok(cycles)
}

fn reachable<'a>(
    graph: &BTreeMap<&'a str, BTreeMap<&'a str, &Reference>>,
    from: &str,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = graph
        .get(from)
        .into_iter()
        .flat_map(|e| e.keys().copied())
        .collect();
    while let Some(m) = todo.pop() {
        if seen.insert(m) {
            todo.extend(graph.get(m).into_iter().flat_map(|e| e.keys().copied()));
        }
    }
    seen
}

/// The shortest way from `start` back to itself inside `group`.
fn path_within<'a>(
    graph: &BTreeMap<&'a str, BTreeMap<&'a str, &'a Reference>>,
    group: &BTreeSet<&'a str>,
    start: &'a str,
) -> Option<Vec<&'a Reference>> {
    let mut came_by: BTreeMap<&str, &Reference> = BTreeMap::new();
    let mut frontier = vec![start];
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for m in frontier {
            for (&to, &r) in graph.get(m).into_iter().flatten() {
                if !group.contains(to) || came_by.contains_key(to) {
                    continue;
                }
                came_by.insert(to, r);
                if to == start {
                    let mut path = vec![r];
                    while path[0].from != start {
                        path.insert(0, came_by[path[0].from.as_str()]);
                    }
                    return Some(path);
                }
                next.push(to);
            }
        }
        frontier = next;
    }
    None
}

/// Every reference from one top-level module to another in the crate
/// whose root is `src/lib.rs`.
pub fn module_references(src: &Path) -> Result<Vec<Reference>, String> {
    let root = blank(&read(&src.join("lib.rs"))?);
    let modules = top_level_modules(&root);
    let reexports = root_reexports(&root, &modules);
    let mut refs = Vec::new();
    for m in &modules {
        let mut files = Vec::new();
        let file = src.join(format!("{m}.rs"));
        if file.exists() {
            files.push((file, vec![m.clone()]));
        }
        collect_files(&src.join(m), std::slice::from_ref(m), &mut files)?;
        let mut code = Vec::new();
        // The files of test modules (`#[cfg(test)] mod tests;`), and the
        // directories of their submodules.
        let mut test_files = BTreeSet::new();
        for (file, path) in files {
            let (text, tests) = without_tests(&blank(&read(&file)?));
            let dir = if file.ends_with("mod.rs") {
                file.with_file_name("")
            } else {
                file.with_extension("")
            };
            test_files.extend(tests.iter().map(|t| dir.join(t)));
            code.push((file, path, text));
        }
        for (file, path, text) in code {
            if test_files
                .iter()
                .any(|t| file.starts_with(t) || file == t.with_extension("rs"))
            {
                continue;
            }
            let name = file
                .strip_prefix(src)
                .unwrap_or(&file)
                .display()
                .to_string();
            for (line, to) in references(&text, &path, &modules, &reexports) {
                if to != *m {
                    refs.push(Reference {
                        from: m.clone(),
                        to,
                        at: format!("{name}:{line}"),
                    });
                }
            }
        }
    }
    Ok(refs)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The `.rs` files under `dir`, each with its module path.
fn collect_files(
    dir: &Path,
    path: &[String],
    out: &mut Vec<(PathBuf, Vec<String>)>,
) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if p.is_dir() {
            let mut sub = path.to_vec();
            sub.push(stem);
            collect_files(&p, &sub, out)?;
        } else if p.extension().is_some_and(|e| e == "rs") {
            let mut sub = path.to_vec();
            if stem != "mod" {
                sub.push(stem);
            }
            out.push((p, sub));
        }
    }
    Ok(())
}

/// The source with comments, string and character literals replaced by
/// spaces, lines kept.
fn blank(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(keep(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (!ident_char(i.checked_sub(1).map(|p| b[p]))
                || b[i - 1] == 'b' && !ident_char(i.checked_sub(2).map(|p| b[p])))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            while b.get(j) == Some(&'#') {
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            out.extend(std::iter::repeat_n(' ', j + 1 - i));
            i = j + 1;
            while i < b.len() {
                if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
                    out.extend(std::iter::repeat_n(' ', hashes + 1));
                    i += hashes + 1;
                    break;
                }
                out.push(keep(b[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(keep(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || b.get(i + 2) == Some(&'\'')) {
            // A character literal, not a lifetime.
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '\'' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// The modules `mod x;` declares in the (blanked) crate root.
fn top_level_modules(root: &str) -> Vec<String> {
    let (code, _) = without_tests(root);
    let words: Vec<&str> = tokens(&code).into_iter().map(|(_, t)| t).collect();
    let mut out = Vec::new();
    for w in words.windows(3) {
        if w[0] == "mod" && w[2] == ";" {
            out.push(w[1].to_owned());
        }
    }
    out
}

/// The names the crate root re-exports (`pub use x::Name;`), each with its
/// module.
fn root_reexports(root: &str, modules: &[String]) -> BTreeMap<String, String> {
    let toks: Vec<&str> = tokens(root).into_iter().map(|(_, t)| t).collect();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] != "use" {
            i += 1;
            continue;
        }
        let end = toks[i..]
            .iter()
            .position(|t| *t == ";")
            .map_or(toks.len(), |e| e + i);
        let mut stmt = &toks[i + 1..end];
        while stmt.len() > 1 && matches!(stmt[0], "self" | "crate") && stmt[1] == "::" {
            stmt = &stmt[2..];
        }
        if let Some(m) = stmt.first().filter(|m| modules.iter().any(|x| x == *m)) {
            // The last name of each `a::b::Name` or `Name as Alias`.
            for (k, t) in stmt.iter().enumerate() {
                let last = matches!(stmt.get(k + 1), None | Some(&",") | Some(&"}"));
                if last && ident_char(t.chars().next()) && t != m {
                    out.insert((*t).to_owned(), (*m).to_owned());
                }
            }
        }
        i = end;
    }
    out
}

/// Identifiers, `::` and single punctuation, each with its line.
fn tokens(code: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i] as char;
            if c.is_whitespace() {
                i += 1;
            } else if c.is_alphanumeric() || c == '_' || c == '$' {
                let start = i;
                i += 1;
                while i < b.len() && ((b[i] as char).is_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push((n + 1, &line[start..i]));
            } else if c == ':' && b.get(i + 1) == Some(&b':') {
                out.push((n + 1, "::"));
                i += 2;
            } else {
                let w = line[i..].chars().next().map_or(1, char::len_utf8);
                out.push((n + 1, &line[i..i + w]));
                i += w;
            }
        }
    }
    out
}

/// The (blanked) code without its `#[cfg(test)]` items, and the names of
/// the test modules it declares in files of their own (`mod tests;`).
fn without_tests(code: &str) -> (String, Vec<String>) {
    const ATTR: &str = "#[cfg(test)]";
    let mut out = code.to_owned();
    let mut files = Vec::new();
    let mut from = 0;
    while let Some(at) = out[from..].find(ATTR).map(|i| i + from) {
        let b = out.as_bytes();
        // The item ends at its first `;` outside braces, or its closing brace.
        let mut i = at + ATTR.len();
        let mut depth = 0usize;
        let mut opened = false;
        while i < b.len() {
            match b[i] {
                b'{' => {
                    depth += 1;
                    opened = true;
                }
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && opened {
                        i += 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let item = &out[at + ATTR.len()..i];
        let words: Vec<&str> = tokens(item).into_iter().map(|(_, t)| t).collect();
        if let Some(p) = words.iter().position(|w| *w == "mod") {
            if words.get(p + 2) == Some(&";") {
                files.push(words[p + 1].to_owned());
            }
        }
        let blanked: String = out[at..i]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(at..i, &blanked);
        from = at + blanked.len();
    }
    (out, files)
}

/// The top-level modules that `code`, in module `path`, names, with lines.
fn references(
    code: &str,
    path: &[String],
    modules: &[String],
    reexports: &BTreeMap<String, String>,
) -> Vec<(usize, String)> {
    let toks = tokens(code);
    let mut out = Vec::new();
    // Inline modules (`mod x { .. }`) open inside the file: (brace depth, name).
    let mut inline: Vec<(usize, &str)> = Vec::new();
    let mut depth = 0usize;
    let target = |first: &str| -> Option<String> {
        if modules.iter().any(|m| m == first) {
            Some(first.to_owned())
        } else {
            reexports.get(first).cloned()
        }
    };
    let mut i = 0;
    while i < toks.len() {
        let (line, t) = toks[i];
        match t {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|&(d, _)| d > depth) {
                    inline.pop();
                }
            }
            "mod" if toks.get(i + 2).map(|t| t.1) == Some("{") => {
                inline.push((depth + 1, toks[i + 1].1));
            }
            _ => {}
        }
        let prev_is_path = i > 0 && toks[i - 1].1 == "::";
        let from_root = match t {
            "crate" | "$crate" if !prev_is_path => Some(0),
            "super" if !prev_is_path => {
                let mut here: Vec<&str> = path.iter().map(String::as_str).collect();
                here.extend(inline.iter().map(|&(_, n)| n));
                let mut j = i;
                while toks.get(j).map(|t| t.1) == Some("super")
                    && toks.get(j + 1).map(|t| t.1) == Some("::")
                {
                    here.pop();
                    j += 2;
                }
                // Within a module, `super` stays in it.
                if let Some(&m) = here.first() {
                    if let Some(to) = target(m) {
                        out.push((line, to));
                    }
                    i = j.max(i + 1);
                    continue;
                }
                Some(j - i - 2)
            }
            _ => None,
        };
        if let Some(skip) = from_root {
            let j = i + skip;
            if toks.get(j + 1).map(|t| t.1) == Some("::") {
                match toks.get(j + 2).map(|t| t.1) {
                    Some("{") => {
                        // `crate::{a::b, c}`: the first name of each entry.
                        let mut k = j + 3;
                        let mut d = 1;
                        let mut first = true;
                        while k < toks.len() && d > 0 {
                            match toks[k].1 {
                                "{" => d += 1,
                                "}" => d -= 1,
                                "," if d == 1 => first = true,
                                w if first && d == 1 => {
                                    if let Some(to) = target(w) {
                                        out.push((toks[k].0, to));
                                    }
                                    first = false;
                                }
                                _ => {}
                            }
                            k += 1;
                        }
                    }
                    Some(w) => {
                        if let Some(to) = target(w) {
                            out.push((line, to));
                        }
                    }
                    None => {}
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_crates_modules_have_no_cycles() {
        assert_no_module_cycles(Path::new(env!("CARGO_MANIFEST_DIR")));
    }

    #[test]
    fn references_are_read_through_paths_groups_super_and_reexports() {
        let modules: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let reexports = BTreeMap::from([("Thing".to_owned(), "d".to_owned())]);
        let code = blank(
            "use crate::{b::X, c};\n\
             // crate::d::in_a_comment\n\
             fn f() { let s = \"crate::d::in_a_string\"; super::super::d::g(); crate::Thing::new(); }\n\
             mod inner { use super::Y; }\n",
        );
        let path = ["a".to_owned(), "sub".to_owned()];
        let got = references(&code, &path, &modules, &reexports);
        assert_eq!(
            got,
            [
                (1, "b".to_owned()),
                (1, "c".to_owned()),
                (3, "d".to_owned()),
                (3, "d".to_owned()),
                (4, "a".to_owned())
            ]
        );
    }

    #[test]
    fn test_items_are_left_out() {
        let (code, files) = without_tests(
            "use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; fn f() { } }\n#[cfg(test)]\nmod more;\nuse crate::c;\n",
        );
        assert_eq!(files, ["more"]);
        assert!(code.contains("crate::a") && code.contains("crate::c"));
        assert!(!code.contains("crate::b"));
    }
}
