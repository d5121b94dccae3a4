//! Symbolization, offline: an address in a mapped file to the function
//! that holds it, from the file's ELF symbol tables; a kernel address from
//! /proc/kallsyms.
//!
//! A file is the one the mapping names, as recorded, when its build-id is
//! the recording's (the MMAP2 record's, else the file's HEADER_BUILD_ID
//! entry). When it is missing or another build of it, the file of that
//! build-id is looked for where perf and Debian keep them: perf's cache
//! (`~/.debug/.build-id/xx/rest/{elf,vdso,debug}`, or `$PERF_BUILDID_DIR`)
//! and the debug packages' `/usr/lib/debug/.build-id/xx/rest.debug`. A file
//! without a `.symtab` takes its debug file's, when one is there. A file
//! that cannot be found or read, or whose build-id is not the recording's,
//! symbolizes nothing: its frames stay `[unknown] FILE+0xOFFSET`, and
//! `Symbolizer::problems` says why, once per file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use perfns::perf_data::MappedFile;

use super::unwind::UnwindSections;

/// A function: its start, its size (0: unknown, up to the next) and its
/// name, a range of its table's [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Function {
    start: u64,
    size: u64,
    name: NameRange,
}

/// Where a name is in a [`Names`].
type NameRange = (u32, u32);

/// A table's names, end to end in one string: a big library's tens of
/// thousands of names are one allocation, not one each.
#[derive(Debug, Default)]
struct Names(String);

impl Names {
    fn add(&mut self, name: &str) -> NameRange {
        let start = self.0.len() as u32;
        self.0.push_str(name);
        (start, name.len() as u32)
    }

    fn get(&self, (start, len): NameRange) -> &str {
        self.0
            .get(start as usize..(start as usize).saturating_add(len as usize))
            .unwrap_or("")
    }
}

/// Which of the names of one address names it, as perf's
/// choose_best_symbol() chooses: a global one before a weak one before a
/// local one, then the one with fewer leading underscores (`memset`, not
/// `__pi_memset`); higher is better.
fn preference(name: &str, global: bool, weak: bool) -> u16 {
    let underscores = name.bytes().take_while(|&b| b == b'_').count().min(255) as u16;
    let binding = match (global, weak) {
        (_, true) => 1,
        (true, false) => 2,
        (false, false) => 0,
    };
    (binding << 8) | (255 - underscores)
}

/// A file's functions by address, and how its file offsets map to them.
#[derive(Debug, Default)]
pub(crate) struct SymbolTable {
    /// Sorted by start.
    functions: Vec<Function>,
    names: Names,
    /// The PT_LOAD segments: (file offset, file size, virtual address).
    segments: Vec<(u64, u64, u64)>,
    /// Its `.eh_frame` and the sections beside it, for unwinding.
    pub(crate) unwind: Option<UnwindSections>,
}

impl SymbolTable {
    /// The table of an ELF file's bytes (its `.symtab`, else its
    /// `.dynsym`, and its segments), its build-id, and whether it has a
    /// `.symtab`.
    fn of_elf(data: &[u8]) -> Result<(Self, Option<Vec<u8>>, bool), String> {
        let file =
            object::File::parse(data).map_err(|e| format!("not a readable ELF file: {e}"))?;
        // A note object cannot read (BOLT's .note.bolt_info, aligned to 1,
        // in Rust's libLLVM) is no build-id note: the file has none to
        // check, rather than no symbols.
        let build_id = file.build_id().ok().flatten().map(<[u8]>::to_vec);
        let symtab = file.symbols().next().is_some();
        let symbols: Vec<object::Symbol<'_, '_>> = if symtab {
            file.symbols().collect()
        } else {
            file.dynamic_symbols().collect()
        };
        let mut names = Names::default();
        let mut functions: Vec<(Function, u16)> = symbols
            .iter()
            .filter(|s| s.kind() == SymbolKind::Text && !s.is_undefined() && s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok()?;
                let preferred = preference(name, s.is_global(), s.is_weak());
                let f = Function {
                    start: s.address(),
                    size: s.size(),
                    name: names.add(name),
                };
                Some((f, preferred))
            })
            .collect();
        // Aliases (a function under two names) keep the preferred name.
        functions.sort_by_key(|&(f, preferred)| (f.start, std::cmp::Reverse(preferred)));
        functions.dedup_by_key(|(f, _)| f.start);
        let functions: Vec<Function> = functions.into_iter().map(|(f, _)| f).collect();
        let segments = file
            .segments()
            .map(|s| {
                let (offset, size) = s.file_range();
                (offset, size, s.address())
            })
            .collect();
        Ok((
            Self {
                functions,
                names,
                segments,
                unwind: UnwindSections::of_elf(&file),
            },
            build_id,
            symtab,
        ))
    }

    /// The address file offset `offset` is at in the file's own address
    /// space (its segment's).
    pub(crate) fn address_of(&self, offset: u64) -> Option<u64> {
        let &(file_offset, _, vaddr) = self
            .segments
            .iter()
            .find(|&&(o, size, _)| (o..o.saturating_add(size)).contains(&offset))?;
        vaddr.checked_add(offset - file_offset)
    }

    /// The function at file offset `offset`, by the address it is at in
    /// the file's own address space.
    pub(crate) fn function_at(&self, offset: u64) -> Option<&str> {
        let address = self.address_of(offset)?;
        let i = self.functions.partition_point(|f| f.start <= address);
        let f = self.functions.get(i.checked_sub(1)?)?;
        // A function's size bounds it; one without (hand-written assembly)
        // runs to the next.
        (f.size == 0 || address < f.start.saturating_add(f.size)).then(|| self.names.get(f.name))
    }
}

/// The kernel's functions from a kallsyms file: (address, name), sorted.
#[derive(Debug, Default)]
pub(crate) struct KernelSymbols {
    functions: Vec<(u64, NameRange)>,
    names: Names,
    /// `_text`'s address (an alias of the first function, which names
    /// the address).
    text: Option<u64>,
}

impl KernelSymbols {
    /// Parses `/proc/kallsyms`'s text: `ADDRESS TYPE NAME [MODULE]`, the
    /// text symbols (t, T, w, W) kept.
    fn parse(kallsyms: &str) -> Self {
        let mut names = Names::default();
        let mut text = None;
        let mut functions: Vec<(u64, u16, NameRange)> = kallsyms
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let address = u64::from_str_radix(words.next()?, 16).ok()?;
                let kind = words.next()?;
                let name = words.next()?;
                if name == "_text" {
                    text = Some(address);
                }
                let preferred = preference(name, kind == "T", matches!(kind, "w" | "W"));
                (address != 0 && matches!(kind, "t" | "T" | "w" | "W"))
                    .then(|| (address, preferred, names.add(name)))
            })
            .collect();
        // Aliases (a function under two names) keep the preferred name.
        functions.sort_unstable_by_key(|&(address, preferred, (at, _))| {
            (address, std::cmp::Reverse(preferred), at)
        });
        functions.dedup_by_key(|f| f.0);
        let functions = functions
            .into_iter()
            .map(|(address, _, name)| (address, name))
            .collect();
        Self {
            functions,
            names,
            text,
        }
    }

    /// The function at `address`: the nearest at or below it.
    pub(crate) fn function_at(&self, address: u64) -> Option<&str> {
        let i = self.functions.partition_point(|(a, _)| *a <= address);
        let &(_, name) = self.functions.get(i.checked_sub(1)?)?;
        Some(self.names.get(name))
    }
}

/// A symbol's name as people read it, as perf report shows it: a Rust
/// symbol (legacy `_ZN...E` or v0 `_R...`) without its hash, a C++ one
/// (Itanium ABI, `_Z...`) with its parameters; anything else, and a name
/// neither demangler takes, as it is.
pub(crate) fn demangle(name: &str) -> String {
    if let Ok(rust) = rustc_demangle::try_demangle(name) {
        return format!("{rust:#}");
    }
    if name.starts_with("_Z") {
        if let Some(text) = cpp_demangle::Symbol::new(name)
            .ok()
            .and_then(|s| s.demangle(&cpp_demangle::DemangleOptions::default()).ok())
        {
            return text;
        }
    }
    name.to_owned()
}

/// Where files of a build-id are looked for: perf's build-id cache and the
/// debug packages' tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugDirs {
    /// perf's cache (`~/.debug`, or `$PERF_BUILDID_DIR`).
    pub perf_cache: Option<PathBuf>,
    /// The debug packages' (`/usr/lib/debug`).
    pub debug_root: PathBuf,
}

impl DebugDirs {
    /// The machine's: `$PERF_BUILDID_DIR` or `$HOME/.debug`, and
    /// `/usr/lib/debug`.
    pub fn system() -> Self {
        let perf_cache = std::env::var_os("PERF_BUILDID_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".debug")));
        Self {
            perf_cache,
            debug_root: PathBuf::from("/usr/lib/debug"),
        }
    }

    /// The files that may hold build-id `id`, the executable copies
    /// first, then the debug files.
    fn candidates(&self, id: &[u8]) -> Vec<PathBuf> {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        if hex.len() < 3 {
            return Vec::new();
        }
        let (head, rest) = hex.split_at(2);
        let mut out = Vec::new();
        if let Some(cache) = &self.perf_cache {
            let dir = cache.join(".build-id").join(head).join(rest);
            for name in ["elf", "vdso", "debug"] {
                out.push(dir.join(name));
            }
        }
        out.push(
            self.debug_root
                .join(".build-id")
                .join(head)
                .join(format!("{rest}.debug")),
        );
        out
    }
}

/// A file as mappings name it: its path as recorded and the build-id the
/// recording gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    pub path: String,
    pub build_id: Option<Vec<u8>>,
}

/// Files' symbol tables, each read once, and the kernel's.
#[derive(Debug)]
pub(crate) struct Symbolizer {
    dirs: DebugDirs,
    files: HashMap<FileKey, Option<SymbolTable>>,
    /// Why files symbolize nothing (or less), one line per file.
    problems: Vec<String>,
    kernel: Option<KernelSymbols>,
}

impl Symbolizer {
    pub(crate) fn new(dirs: DebugDirs) -> Self {
        Self {
            dirs,
            files: HashMap::new(),
            problems: Vec::new(),
            kernel: None,
        }
    }

    /// Takes the kernel's symbols from `kallsyms` (the file's text) when
    /// they are the recorded kernel's: its `_text` is where the recording's
    /// kernel mapping says (`text`, the synthesized MMAP's pgoff), so the
    /// kernel was not rebooted (KASLR) since. Says why not otherwise.
    pub(crate) fn use_kallsyms(&mut self, source: &str, kallsyms: &str, text: u64) {
        let symbols = KernelSymbols::parse(kallsyms);
        match symbols.text {
            _ if symbols.functions.is_empty() => self.problems.push(format!(
                "{source} lists no kernel function (kptr_restrict hides them from this user?): \
                 kernel frames are not symbolized"
            )),
            Some(a) if a == text => self.kernel = Some(symbols),
            Some(a) => self.problems.push(format!(
                "{source} puts _text at {a:#x}, the recording at {text:#x} (another boot): kernel \
                 frames are not symbolized"
            )),
            None => self.problems.push(format!(
                "{source} has no _text to check against the recording: kernel frames are not \
                 symbolized"
            )),
        }
    }

    /// The kernel's symbols, when [`Self::use_kallsyms`] took them.
    pub(crate) fn kernel(&self) -> Option<&KernelSymbols> {
        self.kernel.as_ref()
    }

    /// Notes a problem with the recording's symbols (not a file's).
    pub(crate) fn note(&mut self, problem: String) {
        self.problems.push(problem);
    }

    /// Why frames were left unsymbolized: one line per file.
    pub(crate) fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The symbol table of `key`'s file, read the first time it is asked
    /// for; `None` when there is none to trust.
    pub(crate) fn table(&mut self, key: &FileKey) -> Option<&SymbolTable> {
        if !self.files.contains_key(key) {
            let table = match load(&self.dirs, key) {
                Ok(t) => Some(t),
                Err(why) => {
                    self.problems.push(format!("{}: {why}", key.path));
                    None
                }
            };
            self.files.insert(key.clone(), table);
        }
        self.files.get(key).and_then(Option::as_ref)
    }
}

/// Maps `path` into memory (a symbol table is a small part of a big
/// library: its pages alone are read), guarded against the file
/// shrinking as the recording's map is; the error says which file and
/// why.
fn read(path: &Path) -> Result<MappedFile, String> {
    std::fs::File::open(path)
        .and_then(|file| MappedFile::map(file, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The symbol table of `key`'s file: the file at its path when its
/// build-id is the recording's (or the recording gives none), else the
/// first file of that build-id in the debug directories; a `.symtab` from
/// a debug file when the file has only `.dynsym`.
fn load(dirs: &DebugDirs, key: &FileKey) -> Result<SymbolTable, String> {
    let mut why_not = Vec::new();
    // Memory that is no file to read: anonymous (JIT code, `//anon`), a
    // memfd, or a file deleted since it was mapped.
    let no_file = key.path.starts_with("//")
        || key.path.starts_with("/memfd:")
        || key.path.ends_with(" (deleted)");
    if no_file {
        why_not.push("not a file on disk (anonymous memory, a memfd or a deleted file)".into());
    }
    let at_path = if key.path.starts_with('/') && !no_file {
        match read(Path::new(&key.path)).and_then(|data| SymbolTable::of_elf(&data)) {
            Ok((table, found, symtab)) => match (&key.build_id, found) {
                (Some(want), found) if found.as_ref() != Some(want) => {
                    why_not.push(format!(
                        "build-id {} is not the recording's {}: another build of it, not trusted",
                        found.as_deref().map_or_else(|| "none".into(), hex),
                        hex(want)
                    ));
                    None
                }
                _ => Some((table, symtab)),
            },
            Err(e) => {
                why_not.push(e);
                None
            }
        }
    } else {
        None
    };
    let Some(want) = &key.build_id else {
        return match at_path {
            Some((table, _)) => Ok(table),
            None if why_not.is_empty() => {
                Err("not a file, and the recording gives no build-id to find it by".into())
            }
            None => Err(why_not.join("; ")),
        };
    };
    if let Some((table, true)) = at_path {
        return Ok(table);
    }
    // The file of this build-id elsewhere: a whole copy (perf's cache) or
    // a debug file (its .symtab; its segments are the program's).
    let mut best = at_path.map(|(t, _)| t);
    for candidate in dirs.candidates(want) {
        let Ok(data) = read(&candidate) else {
            continue;
        };
        match SymbolTable::of_elf(&data) {
            Ok((mut table, Some(found), symtab)) if found == *want => {
                if !symtab {
                    best.get_or_insert(table);
                    continue;
                }
                // A debug file's program headers keep the addresses but
                // not the file offsets (objcopy --only-keep-debug empties
                // its segments): the offsets come from the program's own
                // file when there is one.
                if let Some(program) = best {
                    table.segments = program.segments;
                    table.unwind = table.unwind.or(program.unwind);
                }
                return Ok(table);
            }
            Ok((_, found, _)) => why_not.push(format!(
                "{}: build-id {}, not {}",
                candidate.display(),
                found.as_deref().map_or_else(|| "none".into(), hex),
                hex(want)
            )),
            Err(e) => why_not.push(format!("{}: {e}", candidate.display())),
        }
    }
    best.ok_or_else(|| {
        why_not.push(format!(
            "no file of build-id {} in {}",
            hex(want),
            [
                dirs.perf_cache.as_ref().map(|d| d.join(".build-id")),
                Some(dirs.debug_root.join(".build-id"))
            ]
            .iter()
            .flatten()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
        ));
        why_not.join("; ")
    })
}

#[cfg(test)]
mod tests;
