//! `perfns record --uprobe PATH:SYMBOL[%return]`: a probe on a function of
//! an ELF file, opened with the kernel's uprobe PMU (perf_uprobe, Linux
//! 4.17) on every CPU, as `perf probe -x PATH SYMBOL` places one through
//! tracefs.
//!
//! The symbol's file offset comes from the file's symbol tables (`.symtab`,
//! else `.dynsym`): its address, moved into the file through the PT_LOAD
//! segment that maps it (`offset = value - p_vaddr + p_offset`), which is
//! where the kernel's uprobe wants it (an inode and an offset in it). The
//! event's attr:
//!
//! | field | value |
//! |---|---|
//! | `type` | `/sys/bus/event_source/devices/uprobe/type` |
//! | `config` | the bit `.../uprobe/format/retprobe` names (`config:0`) for a return probe, else 0; bits 32-63 (`ref_ctr_offset`) 0 |
//! | `config1` (`uprobe_path`) | a pointer to the file's absolute path, NUL-terminated, while the event is opened (0 in the recording) |
//! | `config2` (`probe_offset`) | the symbol's file offset |
//! | `sample_type` | what the tracepoints record: IDENTIFIER, TID, TIME, CPU, RAW |
//!
//! Each hit's raw data is the trace event's: the trace_entry header, then
//! `unsigned long __probe_ip` (an entry), or `__probe_func, __probe_ret_ip`
//! (a return). The recording names the events `uprobes:SYMBOL` and
//! `uprobes:SYMBOL__return` (perf probe's `probe_BIN:SYMBOL` and
//! `SYMBOL__return`), and keeps each file's build-id in HEADER_BUILD_ID.

use std::ffi::CString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use object::{Object, ObjectSegment, ObjectSymbol, ObjectSymbolTable, SymbolKind};
use perfns::attr::EventAttr;
use perfns::perf_data::BuildId;

use crate::events::{data_event_attr, PlannedEvent};

/// Where the kernel describes its uprobe PMU.
pub const UPROBE_PMU_DIR: &str = "/sys/bus/event_source/devices/uprobe";

/// The system name of the recording's uprobe events (`uprobes:SYMBOL`).
pub const EVENT_SYSTEM: &str = "uprobes";

/// The suffix of a return probe's event name, perf probe's.
pub const RETURN_SUFFIX: &str = "__return";

/// One `--uprobe` as given: `PATH:SYMBOL` or `PATH:SYMBOL%return`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeSpec {
    /// The file as given: a path, or a bare name looked up in `$PATH`.
    pub path: String,
    /// The function.
    pub symbol: String,
    /// `%return`: a probe on the function's returns (a uretprobe).
    pub is_return: bool,
}

impl FromStr for UprobeSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = "expected PATH:SYMBOL or PATH:SYMBOL%return";
        let (path, probe) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("--uprobe {s}: {usage}"))?;
        let (symbol, is_return) = match probe.split_once('%') {
            None => (probe, false),
            Some((symbol, "return")) => (symbol, true),
            Some((_, other)) => {
                return Err(format!(
                    "--uprobe {s}: unknown `%{other}` (only %return, a probe on the returns)"
                ))
            }
        };
        if path.is_empty() || symbol.is_empty() {
            return Err(format!("--uprobe {s}: {usage}"));
        }
        Ok(Self {
            path: path.to_owned(),
            symbol: symbol.to_owned(),
            is_return,
        })
    }
}

impl fmt::Display for UprobeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ret = if self.is_return { "%return" } else { "" };
        write!(f, "{}:{}{ret}", self.path, self.symbol)
    }
}

/// A `--uprobe` that cannot be placed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UprobeError {
    /// A bare name that no directory of `$PATH` holds.
    #[error("--uprobe {spec}: {name} not found in $PATH")]
    NotOnPath {
        /// The `--uprobe` argument.
        spec: String,
        /// The name looked up.
        name: String,
    },
    /// The file could not be read.
    #[error("--uprobe {spec}: {}: {source}", path.display())]
    File {
        /// The `--uprobe` argument.
        spec: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an ELF object.
    #[error("--uprobe {spec}: {} is not an ELF file ({why})", path.display())]
    NotElf {
        /// The `--uprobe` argument.
        spec: String,
        /// The file.
        path: PathBuf,
        /// What the ELF reader said.
        why: String,
    },
    /// The symbol is not defined in the file.
    #[error("--uprobe {spec}: {symbol} is not defined in {}{hint}", path.display())]
    NoSymbol {
        /// The `--uprobe` argument.
        spec: String,
        /// The file.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// What to do about it (a stripped file).
        hint: String,
    },
    /// The symbol's address is in no loaded segment of the file.
    #[error(
        "--uprobe {spec}: {symbol} (address {address:#x}) is in no PT_LOAD segment of {}, \
         so it has no place in the file to probe",
        path.display()
    )]
    NotLoaded {
        /// The `--uprobe` argument.
        spec: String,
        /// The file.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// Its value.
        address: u64,
    },
    /// The kernel's uprobe PMU is not there or not readable.
    #[error("--uprobe: the kernel's uprobe PMU: {what}: {source}")]
    Pmu {
        /// What was read.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The same probe twice.
    #[error("--uprobe {spec}: given twice")]
    Twice {
        /// The `--uprobe` argument.
        spec: String,
    },
}

/// The kernel's uprobe PMU, as sysfs describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UprobePmu {
    /// Its perf_event_attr `type`.
    pub kind: u32,
    /// The `config` bit that makes a probe a return probe.
    pub retprobe_bit: u32,
}

impl UprobePmu {
    /// This kernel's, from [`UPROBE_PMU_DIR`].
    pub fn of_this_kernel() -> Result<Self, UprobeError> {
        Self::at(Path::new(UPROBE_PMU_DIR))
    }

    /// The PMU described in `dir` (its `type` and `format/retprobe`).
    pub fn at(dir: &Path) -> Result<Self, UprobeError> {
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read_to_string(&path)
                .map(|text| text.trim().to_owned())
                .map_err(|source| UprobeError::Pmu {
                    what: match source.kind() {
                        std::io::ErrorKind::NotFound => format!(
                            "{} is missing (a kernel without CONFIG_UPROBE_EVENTS?)",
                            path.display()
                        ),
                        _ => path.display().to_string(),
                    },
                    source,
                })
        };
        let invalid = |file: &str, text: &str, expected: &str| UprobeError::Pmu {
            what: format!("{}/{file}", dir.display()),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("`{text}`, expected {expected}"),
            ),
        };
        let text = read("type")?;
        let kind = text
            .parse()
            .map_err(|_| invalid("type", &text, "a number"))?;
        let text = read("format/retprobe")?;
        let retprobe_bit = text
            .strip_prefix("config:")
            .and_then(|bit| bit.parse().ok())
            .filter(|&bit: &u32| bit < 32)
            .ok_or_else(|| invalid("format/retprobe", &text, "config:N, N below 32"))?;
        Ok(Self { kind, retprobe_bit })
    }
}

/// A `--uprobe` resolved: the file, the symbol's offset in it, and the
/// file's build-id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uprobe {
    /// As given.
    pub spec: UprobeSpec,
    /// The file, absolute and with its symbolic links resolved: what the
    /// kernel is given.
    pub file: PathBuf,
    /// The symbol's offset in the file.
    pub offset: u64,
    /// The file's GNU build-id, when it has one.
    pub build_id: Option<Vec<u8>>,
    /// The event's name in the recording (`uprobes:SYMBOL`,
    /// `uprobes:SYMBOL__return`; `_1`... after the symbol when another
    /// file's function has its name).
    pub name: String,
}

/// The file `spec` names: a path (with a `/`) as it is, a bare name from
/// `$PATH` (as perf probe -x takes it), made absolute.
fn find_file(spec: &UprobeSpec) -> Result<PathBuf, UprobeError> {
    let found = crate::command::find_program(&spec.path).ok_or_else(|| UprobeError::NotOnPath {
        spec: spec.to_string(),
        name: spec.path.clone(),
    })?;
    std::fs::canonicalize(&found).map_err(|source| UprobeError::File {
        spec: spec.to_string(),
        path: found,
        source,
    })
}

/// Resolves `spec`: finds the file, reads its ELF symbol tables for the
/// symbol's file offset, and its build-id. The event name is
/// `uprobes:SYMBOL` (`__return`), made distinct by [`resolve_all`].
pub fn resolve(spec: &UprobeSpec) -> Result<Uprobe, UprobeError> {
    let file = find_file(spec)?;
    let io_error = |source| UprobeError::File {
        spec: spec.to_string(),
        path: file.clone(),
        source,
    };
    let opened = std::fs::File::open(&file).map_err(io_error)?;
    // Mapped, not read: only the pages the headers, the symbol tables and
    // the notes are on are read, where reading a 20 MB binary whole took
    // a tenant in the VM (over 9p, under TCG) seconds before recording.
    // SAFETY: the map is read-only and dropped before this returns. If
    // another process truncates the file meanwhile, a read past the new
    // end raises SIGBUS and ends perfns: no code sees bytes that are not
    // the file's. Rewritten bytes are read as they are; object checks
    // every offset against the map's length.
    let bytes = unsafe { memmap2::Mmap::map(&opened) }.map_err(io_error)?;
    let not_elf = |why: String| UprobeError::NotElf {
        spec: spec.to_string(),
        path: file.clone(),
        why,
    };
    let elf = match object::File::parse(&*bytes) {
        Ok(elf @ (object::File::Elf32(_) | object::File::Elf64(_))) => elf,
        Ok(other) => return Err(not_elf(format!("{:?}", other.format()))),
        Err(e) => return Err(not_elf(e.to_string())),
    };
    let (offset, _) = symbol_offset(&elf, &spec.symbol).map_err(|e| match e {
        Missing::Symbol { stripped } => UprobeError::NoSymbol {
            spec: spec.to_string(),
            path: file.clone(),
            symbol: spec.symbol.clone(),
            hint: if stripped {
                " (the file is stripped: it has no .symtab, and its .dynsym does not export \
                 the symbol; probe a build with its symbol table)"
                    .into()
            } else {
                String::new()
            },
        },
        Missing::Segment { address } => UprobeError::NotLoaded {
            spec: spec.to_string(),
            path: file.clone(),
            symbol: spec.symbol.clone(),
            address,
        },
    })?;
    let build_id = elf.build_id().ok().flatten().map(<[u8]>::to_vec);
    let suffix = if spec.is_return { RETURN_SUFFIX } else { "" };
    Ok(Uprobe {
        spec: spec.clone(),
        name: format!("{EVENT_SYSTEM}:{}{suffix}", spec.symbol),
        file,
        offset,
        build_id,
    })
}

/// Resolves every `--uprobe`, in order; the same probe twice is refused,
/// and a symbol of the same name in another file gets `_1`, `_2`... in its
/// event name, as perf probe names a second probe of one name.
pub fn resolve_all(specs: &[UprobeSpec]) -> Result<Vec<Uprobe>, UprobeError> {
    let mut out: Vec<Uprobe> = Vec::with_capacity(specs.len());
    // Each symbol name's files, in the order first given.
    let mut files_of: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for spec in specs {
        let mut probe = resolve(spec)?;
        if out.iter().any(|p| {
            p.file == probe.file && p.offset == probe.offset && p.spec.is_return == spec.is_return
        }) {
            return Err(UprobeError::Twice {
                spec: spec.to_string(),
            });
        }
        let files = match files_of.iter_mut().find(|(s, _)| *s == spec.symbol) {
            Some((_, files)) => files,
            None => {
                files_of.push((spec.symbol.clone(), Vec::new()));
                &mut files_of.last_mut().expect("just pushed").1
            }
        };
        let n = match files.iter().position(|f| *f == probe.file) {
            Some(n) => n,
            None => {
                files.push(probe.file.clone());
                files.len() - 1
            }
        };
        if n > 0 {
            let suffix = if spec.is_return { RETURN_SUFFIX } else { "" };
            probe.name = format!("{EVENT_SYSTEM}:{}_{n}{suffix}", spec.symbol);
        }
        out.push(probe);
    }
    Ok(out)
}

/// Why a symbol has no offset.
enum Missing {
    /// Not defined in any symbol table; `stripped`: the file has no
    /// `.symtab`.
    Symbol { stripped: bool },
    /// Defined, at an address no PT_LOAD segment maps.
    Segment { address: u64 },
}

/// The file offset of `name`'s definition in `elf`, and its address:
/// `.symtab` first, then `.dynsym` (a stripped library still exports its
/// functions there).
fn symbol_offset(elf: &object::File<'_>, name: &str) -> Result<(u64, u64), Missing> {
    let defined = |table: Option<object::SymbolTable<'_, '_>>| {
        table.and_then(|t| {
            t.symbols()
                .find(|s| {
                    s.name() == Ok(name)
                        && s.is_definition()
                        && matches!(s.kind(), SymbolKind::Text | SymbolKind::Unknown)
                })
                .map(|s| s.address())
        })
    };
    let address = defined(elf.symbol_table())
        .or_else(|| defined(elf.dynamic_symbol_table()))
        .ok_or(Missing::Symbol {
            stripped: elf.symbol_table().is_none(),
        })?;
    elf.segments()
        .find_map(|seg| {
            let (file_offset, file_size) = seg.file_range();
            let start = seg.address();
            (address >= start && address - start < file_size)
                .then(|| file_offset + (address - start))
        })
        .map(|offset| (offset, address))
        .ok_or(Missing::Segment { address })
}

impl Uprobe {
    /// The event that opens it on every CPU with `pmu`; `extra_flags`
    /// adds the scope's bits, as every other event of the recording gets
    /// them.
    pub fn planned_event(&self, pmu: UprobePmu, extra_flags: u64) -> PlannedEvent {
        let config = if self.spec.is_return {
            1u64 << pmu.retprobe_bit
        } else {
            0
        };
        PlannedEvent {
            name: self.name.clone(),
            attr: EventAttr {
                // uprobe_path: set to the path's address when opened.
                config1: 0,
                config2: self.offset,
                // Bits 32-63 of config, ref_ctr_offset (an SDT
                // semaphore), stay 0.
                ..data_event_attr(pmu.kind, config, extra_flags)
            },
            format: None,
            uprobe_path: Some(
                CString::new(self.file.as_os_str().as_bytes())
                    .expect("a path from the file system has no NUL"),
            ),
        }
    }

    /// Its file and build-id as HEADER_BUILD_ID keeps them; `None`
    /// without a build-id.
    pub fn build_id_entry(&self) -> Option<BuildId> {
        let id = self.build_id.clone()?;
        Some(BuildId::user(self.file.to_string_lossy(), id))
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use perfns::attr::{flags, SampleFormat};

    use super::*;

    #[test]
    fn specs_parse_with_and_without_return() {
        let s: UprobeSpec = "/usr/lib/libc.so.6:malloc".parse().unwrap();
        assert_eq!(
            s,
            UprobeSpec {
                path: "/usr/lib/libc.so.6".into(),
                symbol: "malloc".into(),
                is_return: false
            }
        );
        let s: UprobeSpec = "bash:readline%return".parse().unwrap();
        assert_eq!(
            (s.path.as_str(), s.symbol.as_str(), s.is_return),
            ("bash", "readline", true)
        );
        assert_eq!(s.to_string(), "bash:readline%return");
        for bad in ["bash", ":readline", "bash:", "bash:readline%entry"] {
            let e = bad.parse::<UprobeSpec>().unwrap_err();
            assert!(e.starts_with(&format!("--uprobe {bad}: ")), "{e}");
        }
    }

    /// A function of this test binary, to resolve.
    #[no_mangle]
    #[inline(never)]
    extern "C" fn perfns_uprobe_unit_test_target(x: u64) -> u64 {
        std::hint::black_box(x.wrapping_mul(3))
    }

    /// The file offset the kernel maps the function from, read from
    /// /proc/self/maps: its address, less its mapping's start, plus the
    /// mapping's offset in the file.
    fn mapped_offset(address: u64, file: &Path) -> u64 {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let (start, end) = f[0].split_once('-')?;
                let (start, end) = (
                    u64::from_str_radix(start, 16).ok()?,
                    u64::from_str_radix(end, 16).ok()?,
                );
                let offset = u64::from_str_radix(f[2], 16).ok()?;
                ((start..end).contains(&address) && Path::new(f.get(5)?) == file)
                    .then(|| address - start + offset)
            })
            .unwrap()
    }

    #[test]
    fn a_symbol_resolves_to_the_offset_the_kernel_maps_it_from() {
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        let address = perfns_uprobe_unit_test_target as *const () as usize as u64;
        std::hint::black_box(perfns_uprobe_unit_test_target(1));
        let spec = UprobeSpec {
            path: exe.to_string_lossy().into_owned(),
            symbol: "perfns_uprobe_unit_test_target".into(),
            is_return: true,
        };
        let probe = resolve(&spec).unwrap();
        assert_eq!(probe.file, exe);
        assert_eq!(probe.offset, mapped_offset(address, &exe));
        assert_eq!(probe.name, "uprobes:perfns_uprobe_unit_test_target__return");

        // The attr, as the lead's kernel test expects it; in tracer scope
        // the same with the scope's bit.
        let pmu = UprobePmu {
            kind: 8,
            retprobe_bit: 0,
        };
        for extra in [0, flags::TRACER_SCOPE] {
            let e = probe.planned_event(pmu, extra);
            assert_eq!((e.attr.kind, e.attr.config), (8, 1));
            assert_eq!((e.attr.config1, e.attr.config2), (0, probe.offset));
            assert_eq!(
                e.attr.sample_type,
                SampleFormat(
                    SampleFormat::IDENTIFIER.0
                        | SampleFormat::TID.0
                        | SampleFormat::TIME.0
                        | SampleFormat::CPU.0
                        | SampleFormat::RAW.0
                )
            );
            assert_eq!(e.attr.flags, flags::DISABLED | flags::SAMPLE_ID_ALL | extra);
            assert_eq!(
                e.uprobe_path.as_deref(),
                Some(
                    std::ffi::CString::new(exe.as_os_str().as_bytes())
                        .unwrap()
                        .as_c_str()
                )
            );
        }
        let entry = UprobeSpec {
            is_return: false,
            ..spec
        };
        let e = resolve(&entry).unwrap().planned_event(pmu, 0);
        assert_eq!(e.attr.config, 0);
        assert_eq!(e.name, "uprobes:perfns_uprobe_unit_test_target");
    }

    #[test]
    fn the_same_symbol_in_two_files_gets_two_names_and_a_probe_twice_is_refused() {
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy");
        std::fs::copy(&exe, &copy).unwrap();
        let spec = |path: &Path, ret: &str| -> UprobeSpec {
            format!("{}:perfns_uprobe_unit_test_target{ret}", path.display())
                .parse()
                .unwrap()
        };
        let probes = resolve_all(&[
            spec(&exe, ""),
            spec(&exe, "%return"),
            spec(&copy, ""),
            spec(&copy, "%return"),
        ])
        .unwrap();
        let names: Vec<&str> = probes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "uprobes:perfns_uprobe_unit_test_target",
                "uprobes:perfns_uprobe_unit_test_target__return",
                "uprobes:perfns_uprobe_unit_test_target_1",
                "uprobes:perfns_uprobe_unit_test_target_1__return",
            ]
        );
        let e = resolve_all(&[spec(&exe, ""), spec(&exe, "")])
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(": given twice"), "{e}");
    }

    #[test]
    fn the_pmu_is_read_from_its_format_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("format")).unwrap();
        std::fs::write(dir.path().join("type"), "8\n").unwrap();
        std::fs::write(dir.path().join("format/retprobe"), "config:3\n").unwrap();
        assert_eq!(
            UprobePmu::at(dir.path()).unwrap(),
            UprobePmu {
                kind: 8,
                retprobe_bit: 3
            }
        );
        std::fs::write(dir.path().join("format/retprobe"), "config1:0\n").unwrap();
        let e = UprobePmu::at(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("format/retprobe") && e.contains("`config1:0`"),
            "{e}"
        );
        let e = UprobePmu::at(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CONFIG_UPROBE_EVENTS"), "{e}");
    }
}
