//! Tracepoint payload decoding through the tracepoint's format from tracefs.
//!
//! A tracepoint sample's RAW data (`PERF_SAMPLE_RAW`) is the tracepoint's
//! entry as the kernel laid it out; the layout is published as text in
//! `<tracefs>/events/<system>/<name>/format`. perf copies these texts into
//! perf.data's tracing-data section, so a [`TracepointFormat`] is parsed from
//! the text alone ([`TracepointFormat::parse`]) and read from tracefs only when
//! recording ([`Tracefs::format`]).
//!
//! ```text
//! name: sched_process_exec
//! ID: 365
//! format:
//!     field:unsigned short common_type;  offset:0;  size:2;  signed:0;
//!     ...
//!     field:__data_loc char[] filename;  offset:8;  size:4;  signed:0;
//!     field:pid_t pid;                   offset:12; size:4;  signed:1;
//!
//! print fmt: "filename=%s pid=%d old_pid=%d", ...
//! ```

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

/// Where tracefs is mounted on current kernels.
const TRACEFS: &str = "/sys/kernel/tracing";
/// Where older setups reach it, through debugfs (which automounts tracefs).
const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";

/// The bits of a tracepoint entry's `common_flags` that say it was made in
/// interrupt context: TRACE_FLAG_HARDIRQ (0x08), TRACE_FLAG_SOFTIRQ (0x10)
/// and TRACE_FLAG_NMI (0x40), from the kernel's include/linux/trace_events.h.
/// Work done there is for whoever caused the interrupt, not for the task
/// it interrupted.
pub const COMMON_FLAGS_INTERRUPT: u64 = 0x08 | 0x10 | 0x40;

/// Finding tracefs, reading a format, parsing it, or reading a field failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TracepointError {
    /// tracefs is mounted at neither place, and we may not mount it.
    #[error(
        "tracefs is not mounted at {TRACEFS} or {DEBUGFS_TRACING}, and mounting it needs root \
         (as root: mount -t tracefs nodev {TRACEFS})"
    )]
    NotMounted,
    /// tracefs is mounted at neither place, and mounting it failed.
    #[error("tracefs is not mounted at {TRACEFS} or {DEBUGFS_TRACING}, and mounting it at {path} failed")]
    Mount {
        /// Where we tried to mount it.
        path: PathBuf,
        /// Why mount(2) failed.
        #[source]
        source: io::Error,
    },
    /// The kernel has no such tracepoint.
    #[error("tracepoint {system}:{name} does not exist on this kernel (no {})", path.display())]
    NoSuchTracepoint {
        /// Its system (the directory under `events/`).
        system: String,
        /// Its name.
        name: String,
        /// The directory that would describe it.
        path: PathBuf,
    },
    /// No tracepoint matches a pattern (a glob, `syscalls:sys_enter_*`).
    #[error("no tracepoint matches `{pattern}` (in {})", path.display())]
    NoMatch {
        /// The pattern, `SYSTEM:NAME`.
        pattern: String,
        /// The `events/` directory searched.
        path: PathBuf,
    },
    /// A system or tracepoint name that cannot name a tracefs directory.
    #[error("`{system}:{name}` is not a tracepoint name (system and name must be non-empty, without `/`, `.` or `..`)")]
    InvalidName {
        /// The system given.
        system: String,
        /// The name given.
        name: String,
    },
    /// A tracefs file could not be read.
    #[error("{}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A format text is malformed.
    #[error("format of tracepoint {tracepoint}, line {line}: {reason}")]
    Format {
        /// `system:name` (`name` is `?` until the text's `name:` line).
        tracepoint: String,
        /// 1-based line of the text.
        line: usize,
        /// What is wrong there.
        reason: String,
    },
    /// The format has no field of that name.
    #[error("tracepoint {tracepoint} has no field `{field}`")]
    NoSuchField {
        /// `system:name`.
        tracepoint: String,
        /// The field asked for.
        field: String,
    },
    /// The field cannot be read the way it was asked for.
    #[error("tracepoint {tracepoint} field `{field}`: {reason}")]
    FieldKind {
        /// `system:name`.
        tracepoint: String,
        /// The field.
        field: String,
        /// Why it cannot be read so.
        reason: String,
    },
    /// The field's bytes lie beyond the payload.
    #[error(
        "tracepoint {tracepoint} field `{field}` needs bytes {start}..{end} of the payload, \
         which has {payload_len}"
    )]
    Truncated {
        /// `system:name`.
        tracepoint: String,
        /// The field.
        field: String,
        /// First byte wanted.
        start: usize,
        /// One past the last byte wanted.
        end: usize,
        /// Payload length.
        payload_len: usize,
    },
}

/// Whether `system` is a user events group's trace system (the kernel's
/// user_events, tracepoints that processes register): `user_events`, and
/// `user_events_multi` for multi-format events; with the perfns kernel
/// series, tracer namespace ID's group, `user_events_<ID>` and
/// `user_events_multi_<ID>`.
pub fn is_user_events_system(system: &str) -> bool {
    let base = system
        .strip_prefix("user_events")
        .map(|rest| rest.strip_prefix("_multi").unwrap_or(rest));
    match base {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('_')
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// A mounted tracefs.
#[derive(Debug, Clone)]
pub struct Tracefs {
    root: PathBuf,
}

impl Tracefs {
    /// Finds a mounted tracefs: `/sys/kernel/tracing`, else
    /// `/sys/kernel/debug/tracing`. Mounts nothing.
    pub fn find() -> Result<Tracefs, TracepointError> {
        [TRACEFS, DEBUGFS_TRACING]
            .into_iter()
            .map(Tracefs::at)
            .find(Tracefs::is_mounted)
            .ok_or(TracepointError::NotMounted)
    }

    /// Finds a mounted tracefs ([`Tracefs::find`]), else, when running as
    /// root, mounts it on `/sys/kernel/tracing`: for the callers that need
    /// tracefs and may set the machine up (the recorder, tests), which ask
    /// for the mount by calling this.
    pub fn find_or_mount() -> Result<Tracefs, TracepointError> {
        if let Ok(tracefs) = Tracefs::find() {
            return Ok(tracefs);
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(TracepointError::NotMounted);
        }
        // Threads of one process that all find it unmounted mount it once;
        // another process that mounts it meanwhile makes our mount fail,
        // and then it is there all the same.
        static MOUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = MOUNTING.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(tracefs) = Tracefs::find() {
            return Ok(tracefs);
        }
        if let Err(errno) = nix::mount::mount(
            Some("nodev"),
            TRACEFS,
            Some("tracefs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        ) {
            return Tracefs::find().map_err(|_| TracepointError::Mount {
                path: TRACEFS.into(),
                source: errno.into(),
            });
        }
        let tracefs = Tracefs::at(TRACEFS);
        if tracefs.is_mounted() {
            Ok(tracefs)
        } else {
            Err(TracepointError::Mount {
                path: TRACEFS.into(),
                source: io::Error::new(
                    io::ErrorKind::NotFound,
                    "no events/ directory after mounting",
                ),
            })
        }
    }

    /// A tracefs mounted at `root` (or a copy of its `events/` tree).
    pub fn at(root: impl Into<PathBuf>) -> Tracefs {
        Tracefs { root: root.into() }
    }

    /// Where it is mounted.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn is_mounted(&self) -> bool {
        self.root.join("events").is_dir()
    }

    /// The tracepoints under `events/`, `(system, name)`, whose system
    /// `system` keeps and whose `(system, name)` `tracepoint` keeps, sorted:
    /// what a pattern (`syscalls:sys_enter_*`) names. A tracepoint is a
    /// directory of a system's directory (its files, `enable` and
    /// `filter`, are the system's controls).
    pub fn tracepoints(
        &self,
        system: impl Fn(&str) -> bool,
        tracepoint: impl Fn(&str, &str) -> bool,
    ) -> Result<Vec<(String, String)>, TracepointError> {
        let events = self.root.join("events");
        let mut out = Vec::new();
        for sys in subdirectories(&events)? {
            if system(&sys) {
                for name in subdirectories(&events.join(&sys))? {
                    if tracepoint(&sys, &name) {
                        out.push((sys.clone(), name));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The format of tracepoint `system:name`.
    pub fn format(&self, system: &str, name: &str) -> Result<TracepointFormat, TracepointError> {
        let valid =
            |part: &str| !part.is_empty() && part != "." && part != ".." && !part.contains('/');
        if !valid(system) || !valid(name) {
            return Err(TracepointError::InvalidName {
                system: system.to_owned(),
                name: name.to_owned(),
            });
        }
        let dir = self.root.join("events").join(system).join(name);
        if !dir.is_dir() {
            return Err(TracepointError::NoSuchTracepoint {
                system: system.to_owned(),
                name: name.to_owned(),
                path: dir,
            });
        }
        let path = dir.join("format");
        let text = std::fs::read_to_string(&path)
            .map_err(|source| TracepointError::Read { path, source })?;
        TracepointFormat::parse(system, &text)
    }
}

/// The names of the directories in `dir` (names that are not UTF-8 name no
/// tracepoint, and are left out).
fn subdirectories(dir: &Path) -> Result<Vec<String>, TracepointError> {
    let read = |source| TracepointError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let is_dir = match entry.file_type().map_err(read)? {
            t if t.is_symlink() => entry.path().is_dir(),
            t => t.is_dir(),
        };
        if let (true, Ok(name)) = (is_dir, entry.file_name().into_string()) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Byte order of the payloads a format describes: the recording machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endianness {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

impl Endianness {
    /// The byte order of the machine this program runs on.
    pub const NATIVE: Endianness = if cfg!(target_endian = "big") {
        Endianness::Big
    } else {
        Endianness::Little
    };
}

/// How a field's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One value of `size` bytes at `offset`.
    Scalar,
    /// `type name[len]`: `len` elements inline, `size` bytes in all. `len` is
    /// `None` when the declared length is not a number (old kernels printed
    /// some as macro names).
    Array {
        /// Number of elements.
        len: Option<usize>,
    },
    /// `type name[]` with size 0: the elements run from `offset` to the end of
    /// the payload (ftrace:print's `buf`).
    FlexibleArray,
    /// `__data_loc type[] name`: a u32 at `offset` whose low 16 bits are the
    /// data's offset from the payload start and whose high 16 bits its length.
    DynamicArray,
    /// `__rel_loc type[] name`: like [`FieldKind::DynamicArray`], but the
    /// offset counts from the end of this u32.
    RelativeDynamicArray,
}

/// One field of a tracepoint's payload, `common_*` fields included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field's name (without any `[len]`).
    pub name: String,
    /// The C type of the field, or of its elements for arrays: `char` for
    /// both `char prev_comm[16]` and `__data_loc char[] filename`.
    pub c_type: String,
    /// Byte offset in the payload.
    pub offset: usize,
    /// Size in bytes (4 for the locator of a dynamic array, 0 for a flexible one).
    pub size: usize,
    /// Whether the kernel declares the type signed.
    pub signed: bool,
    /// How the bytes are laid out.
    pub kind: FieldKind,
}

/// A field looked up once by [`TracepointFormat::field_index`], to read it from
/// many payloads without comparing names. Only meaningful for the format that
/// gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldIndex(usize);

/// A scalar integer field placed once by [`TracepointFormat::scalar_field`]:
/// its offset, size, sign and byte order, to read it from many payloads
/// with one bounds check and no lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalarField {
    offset: usize,
    /// 1, 2, 4 or 8.
    size: usize,
    signed: bool,
    endianness: Endianness,
}

impl ScalarField {
    /// The field zero-extended to 64 bits whatever its sign, as
    /// [`TracepointFormat::read_u64`]; `None` when the payload ends first.
    #[inline]
    pub fn read_u64(self, payload: &[u8]) -> Option<u64> {
        let bytes = payload.get(self.offset..self.offset.checked_add(self.size)?)?;
        Some(integer(self.endianness, bytes))
    }

    /// The field sign-extended when it is signed, as
    /// [`TracepointFormat::read_i64`]; `None` when the payload ends first.
    #[inline]
    pub fn read_i64(self, payload: &[u8]) -> Option<i64> {
        Some(extend(self.read_u64(payload)?, self.size, self.signed))
    }
}

/// An integer of 1, 2, 4 or 8 `bytes` in byte order `endianness`,
/// zero-extended.
#[inline]
fn integer(endianness: Endianness, bytes: &[u8]) -> u64 {
    // One fixed-size read per size: a copy of `size` bytes into a buffer
    // was a call to memcpy for every field of every record.
    match (endianness, bytes) {
        (_, &[b]) => u64::from(b),
        (Endianness::Little, &[a, b]) => u64::from(u16::from_le_bytes([a, b])),
        (Endianness::Big, &[a, b]) => u64::from(u16::from_be_bytes([a, b])),
        (Endianness::Little, &[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        (Endianness::Big, &[a, b, c, d]) => u64::from(u32::from_be_bytes([a, b, c, d])),
        (Endianness::Little, b) => u64::from_le_bytes(b.try_into().unwrap_or_default()),
        (Endianness::Big, b) => u64::from_be_bytes(b.try_into().unwrap_or_default()),
    }
}

/// `raw`, a `size`-byte integer, sign-extended to 64 bits when `signed`.
#[inline]
fn extend(raw: u64, size: usize, signed: bool) -> i64 {
    let bits = 8 * size as u32;
    if signed && bits < 64 {
        let shift = 64 - bits;
        ((raw << shift) as i64) >> shift
    } else {
        raw as i64
    }
}

/// What a field can be selected by: its name (`&str`) or a [`FieldIndex`].
pub trait FieldSelector: sealed::Sealed {
    /// The selected field of `format`.
    fn select(self, format: &TracepointFormat) -> Result<&Field, TracepointError>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for super::FieldIndex {}
}

impl FieldSelector for &str {
    fn select(self, format: &TracepointFormat) -> Result<&Field, TracepointError> {
        format.field(self).ok_or_else(|| format.no_such_field(self))
    }
}

impl FieldSelector for FieldIndex {
    fn select(self, format: &TracepointFormat) -> Result<&Field, TracepointError> {
        format
            .fields
            .get(self.0)
            .ok_or_else(|| format.no_such_field(&format!("#{}", self.0)))
    }
}

/// The layout of one tracepoint's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointFormat {
    /// The system (`sched`, `kmem`, ...); the format text does not name it.
    pub system: String,
    /// The tracepoint's name (`sched_switch`).
    pub name: String,
    /// Its id: `perf_event_attr.config` for `PERF_TYPE_TRACEPOINT`, and the
    /// payload's `common_type`.
    pub id: u64,
    /// The fields in the text's order, `common_*` first.
    pub fields: Vec<Field>,
    /// The format text as parsed, which perf.data's tracing-data section stores.
    pub text: String,
    /// Byte order of the payloads: native after [`parse`](Self::parse); the
    /// perf.data reader sets it from the tracing data's header.
    pub endianness: Endianness,
}

impl TracepointFormat {
    /// Parses a tracefs format text of a tracepoint of `system`.
    pub fn parse(system: &str, text: &str) -> Result<TracepointFormat, TracepointError> {
        let mut name: Option<String> = None;
        let mut id: Option<u64> = None;
        let mut in_format = false;
        let mut fields: Vec<Field> = Vec::new();
        let error = |name: &Option<String>, line: usize, reason: String| TracepointError::Format {
            tracepoint: format!("{system}:{}", name.as_deref().unwrap_or("?")),
            line,
            reason,
        };
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let trimmed = line.trim();
            if let Some(value) = line.strip_prefix("name:") {
                name = Some(value.trim().to_owned());
            } else if let Some(value) = line.strip_prefix("ID:") {
                let value = value.trim();
                id =
                    Some(value.parse().map_err(|_| {
                        error(&name, number, format!("ID `{value}` is not a number"))
                    })?);
            } else if line.starts_with("format:") {
                in_format = true;
            } else if line.starts_with("print fmt:") {
                break;
            } else if let Some(decl) = trimmed.strip_prefix("field:") {
                if !in_format {
                    return Err(error(
                        &name,
                        number,
                        "field before the `format:` line".into(),
                    ));
                }
                let field = parse_field(decl).map_err(|reason| error(&name, number, reason))?;
                if fields.iter().any(|f| f.name == field.name) {
                    return Err(error(
                        &name,
                        number,
                        format!("field `{}` declared twice", field.name),
                    ));
                }
                fields.push(field);
            } else if !trimmed.is_empty() {
                return Err(error(&name, number, format!("unexpected line `{trimmed}`")));
            }
        }
        let last = text.lines().count();
        let name = match name {
            Some(name) if !name.is_empty() => name,
            _ => return Err(error(&None, last, "no `name:` line".into())),
        };
        let Some(id) = id else {
            return Err(error(&Some(name), last, "no `ID:` line".into()));
        };
        if fields.is_empty() {
            return Err(error(&Some(name), last, "no fields".into()));
        }
        Ok(TracepointFormat {
            system: system.to_owned(),
            name,
            id,
            fields,
            text: text.to_owned(),
            endianness: Endianness::NATIVE,
        })
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Looks `name` up once, for reading it from many payloads.
    pub fn field_index(&self, name: &str) -> Result<FieldIndex, TracepointError> {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .map(FieldIndex)
            .ok_or_else(|| self.no_such_field(name))
    }

    /// A scalar integer field, zero-extended to 64 bits whatever its sign
    /// (use [`read_i64`](Self::read_i64) for signed values).
    pub fn read_u64(
        &self,
        payload: &[u8],
        field: impl FieldSelector,
    ) -> Result<u64, TracepointError> {
        let field = field.select(self)?;
        self.scalar(payload, field)
    }

    /// A scalar integer field as i64: sign-extended from its size when the
    /// field is signed, zero-extended when not.
    pub fn read_i64(
        &self,
        payload: &[u8],
        field: impl FieldSelector,
    ) -> Result<i64, TracepointError> {
        let field = field.select(self)?;
        let raw = self.scalar(payload, field)?;
        Ok(extend(raw, field.size, field.signed))
    }

    /// A scalar integer field placed once, to be read from many payloads
    /// ([`ScalarField::read_u64`], [`ScalarField::read_i64`]): an error
    /// when it is not a scalar of 1, 2, 4 or 8 bytes.
    pub fn scalar_field(&self, field: impl FieldSelector) -> Result<ScalarField, TracepointError> {
        let field = field.select(self)?;
        if field.kind != FieldKind::Scalar {
            return Err(
                self.field_kind(field, format!("is {}, not a scalar", describe(field.kind)))
            );
        }
        if !matches!(field.size, 1 | 2 | 4 | 8) {
            let size = field.size;
            return Err(self.field_kind(field, format!("{size}-byte values are not integers")));
        }
        Ok(ScalarField {
            offset: field.offset,
            size: field.size,
            signed: field.signed,
            endianness: self.endianness,
        })
    }

    /// Element `element` of an array field of 1, 2, 4 or 8-byte integers,
    /// zero-extended (sys_enter's `args[6]`).
    pub fn read_element_u64(
        &self,
        payload: &[u8],
        field: impl FieldSelector,
        element: usize,
    ) -> Result<u64, TracepointError> {
        let field = field.select(self)?;
        let FieldKind::Array { len: Some(len) } = field.kind else {
            return Err(self.field_kind(field, "is not an array of known length".into()));
        };
        if element >= len {
            return Err(self.field_kind(field, format!("has {len} elements, no element {element}")));
        }
        let element_size = field.size / len;
        self.integer(
            payload,
            field,
            field.offset + element * element_size,
            element_size,
        )
    }

    /// The bytes a field holds: the value of a scalar, the elements of an
    /// array, or the data a `__data_loc` / `__rel_loc` field points at.
    pub fn read_bytes<'p>(
        &self,
        payload: &'p [u8],
        field: impl FieldSelector,
    ) -> Result<&'p [u8], TracepointError> {
        let field = field.select(self)?;
        self.bytes(payload, field)
    }

    fn bytes<'p>(&self, payload: &'p [u8], field: &Field) -> Result<&'p [u8], TracepointError> {
        let (start, len) = match field.kind {
            FieldKind::Scalar | FieldKind::Array { .. } => (field.offset, field.size),
            FieldKind::FlexibleArray => (field.offset, payload.len().saturating_sub(field.offset)),
            FieldKind::DynamicArray | FieldKind::RelativeDynamicArray => {
                let locator = self.integer(payload, field, field.offset, 4)?;
                let mut start = (locator & 0xffff) as usize;
                if field.kind == FieldKind::RelativeDynamicArray {
                    start += field.offset + 4;
                }
                (start, (locator >> 16) as usize)
            }
        };
        self.slice(payload, field, start, len)
    }

    /// A string field: a char array (`prev_comm[16]`) or a `__data_loc char[]`,
    /// cut at the first NUL; bytes that are not UTF-8 become U+FFFD (a comm may
    /// hold any bytes).
    pub fn read_str<'p>(
        &self,
        payload: &'p [u8],
        field: impl FieldSelector,
    ) -> Result<Cow<'p, str>, TracepointError> {
        let field = field.select(self)?;
        if field.kind == FieldKind::Scalar {
            return Err(self.field_kind(
                field,
                format!("is a scalar `{}`, not a string", field.c_type),
            ));
        }
        let bytes = self.bytes(payload, field)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Ok(String::from_utf8_lossy(&bytes[..end]))
    }

    fn scalar(&self, payload: &[u8], field: &Field) -> Result<u64, TracepointError> {
        if field.kind != FieldKind::Scalar {
            return Err(
                self.field_kind(field, format!("is {}, not a scalar", describe(field.kind)))
            );
        }
        self.integer(payload, field, field.offset, field.size)
    }

    fn integer(
        &self,
        payload: &[u8],
        field: &Field,
        start: usize,
        size: usize,
    ) -> Result<u64, TracepointError> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(self.field_kind(field, format!("{size}-byte values are not integers")));
        }
        let bytes = self.slice(payload, field, start, size)?;
        Ok(integer(self.endianness, bytes))
    }

    fn slice<'p>(
        &self,
        payload: &'p [u8],
        field: &Field,
        start: usize,
        len: usize,
    ) -> Result<&'p [u8], TracepointError> {
        let end = start.saturating_add(len);
        payload
            .get(start..end)
            .ok_or_else(|| TracepointError::Truncated {
                tracepoint: self.full_name(),
                field: field.name.clone(),
                start,
                end,
                payload_len: payload.len(),
            })
    }

    /// `system:name`, as perf spells a tracepoint.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.system, self.name)
    }

    fn no_such_field(&self, field: &str) -> TracepointError {
        TracepointError::NoSuchField {
            tracepoint: self.full_name(),
            field: field.to_owned(),
        }
    }

    fn field_kind(&self, field: &Field, reason: String) -> TracepointError {
        TracepointError::FieldKind {
            tracepoint: self.full_name(),
            field: field.name.clone(),
            reason,
        }
    }
}

fn describe(kind: FieldKind) -> String {
    match kind {
        FieldKind::Scalar => "a scalar".into(),
        FieldKind::Array { len: Some(len) } => format!("an array of {len}"),
        FieldKind::Array { len: None } => "an array".into(),
        FieldKind::FlexibleArray => "a flexible array".into(),
        FieldKind::DynamicArray => "a __data_loc array".into(),
        FieldKind::RelativeDynamicArray => "a __rel_loc array".into(),
    }
}

/// Parses what follows `field:` on a format line:
/// `unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;`.
fn parse_field(decl: &str) -> Result<Field, String> {
    let mut parts = decl.split(';').map(str::trim);
    let declaration = parts.next().unwrap_or_default();
    let (mut offset, mut size, mut signed) = (None, None, None);
    for part in parts.filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once(':')
            .ok_or_else(|| format!("`{part}` is not `key:value`"))?;
        let number = || {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("{key} `{value}` is not a number"))
        };
        match key.trim() {
            "offset" => offset = Some(number()?),
            "size" => size = Some(number()?),
            "signed" => signed = Some(number()? != 0),
            // Later kernels may add attributes; the layout needs only these.
            _ => {}
        }
    }
    let offset = offset.ok_or("no offset")?;
    let size = size.ok_or("no size")?;
    // Kernels before 2.6.33 printed no `signed:`; unsigned is the safe reading.
    let signed = signed.unwrap_or(false);
    offset
        .checked_add(size)
        .filter(|end| *end <= usize::from(u16::MAX))
        .ok_or_else(|| format!("offset {offset} + size {size} is beyond any payload"))?;

    let (kind, declaration) = if let Some(rest) = declaration.strip_prefix("__data_loc ") {
        (FieldKind::DynamicArray, rest)
    } else if let Some(rest) = declaration.strip_prefix("__rel_loc ") {
        (FieldKind::RelativeDynamicArray, rest)
    } else {
        (FieldKind::Scalar, declaration)
    };
    // The kernel prints `type name` (`"%s %s"`), so the name is the last word.
    let (c_type, name) = declaration
        .rsplit_once(char::is_whitespace)
        .ok_or_else(|| format!("declaration `{declaration}` is not `type name`"))?;
    let c_type = c_type.trim();
    if c_type.is_empty() {
        return Err(format!("declaration `{declaration}` has no type"));
    }

    let (name, kind, c_type) = match kind {
        FieldKind::DynamicArray | FieldKind::RelativeDynamicArray => {
            // Usually `char[]`; bitmasks are declared `__data_loc cpumask_t`.
            let element = c_type.strip_suffix("[]").unwrap_or(c_type);
            if size != 4 {
                return Err(format!(
                    "dynamic array locator `{name}` has size {size}, not 4"
                ));
            }
            (name, kind, element.trim_end())
        }
        _ => {
            match name.split_once('[') {
                None => (name, FieldKind::Scalar, c_type),
                Some((base, rest)) => {
                    let len = rest
                        .strip_suffix(']')
                        .ok_or_else(|| format!("array `{name}` has no closing `]`"))?;
                    if len.is_empty() {
                        (base, FieldKind::FlexibleArray, c_type)
                    } else {
                        let len = len.parse::<usize>().ok();
                        if let Some(len) = len {
                            if len == 0 || size % len != 0 {
                                return Err(format!("array `{name}` of size {size} cannot hold {len} equal elements"));
                            }
                        }
                        (base, FieldKind::Array { len }, c_type)
                    }
                }
            }
        }
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{name}` is not a field name"));
    }
    Ok(Field {
        name: name.to_owned(),
        c_type: c_type.trim().to_owned(),
        offset,
        size,
        signed,
        kind,
    })
}

#[cfg(test)]
mod tests;
