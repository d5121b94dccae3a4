//! What `perfns record` asks the kernel for: the event groups (`cpu`, `mem`,
//! `syscalls`), the tracepoints `-e` names (`syscalls:sys_enter_*`) and
//! `--profile`'s sampling event, the attr of each event, and the tracepoint
//! formats the recording must carry.

use std::ffi::CString;
use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::str::FromStr;

use perfns::abi::{self, OpenError, Target};
use perfns::attr::{flags, kind, read_format, sw, EventAttr, SampleFormat};
use perfns::tracepoint::{Tracefs, TracepointError, TracepointFormat};

use crate::glob;

/// The event groups a recording can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventGroups {
    /// `cpu`: every context switch (PERF_RECORD_SWITCH_CPU_WIDE), enough
    /// for exact on-CPU time per task.
    pub cpu: bool,
    /// `mem`: kmem:mm_page_alloc and kmem:mm_page_free, with the order.
    pub mem: bool,
    /// `syscalls`: raw_syscalls:sys_enter and sys_exit.
    pub syscalls: bool,
}

impl EventGroups {
    /// All three.
    pub const ALL: Self = Self {
        cpu: true,
        mem: true,
        syscalls: true,
    };
}

impl Default for EventGroups {
    fn default() -> Self {
        Self::ALL
    }
}

impl EventGroups {
    /// None of them.
    pub const NONE: Self = Self {
        cpu: false,
        mem: false,
        syscalls: false,
    };

    /// Adds group `word`; false when it names none.
    fn add(&mut self, word: &str) -> bool {
        match word {
            "cpu" => self.cpu = true,
            "mem" => self.mem = true,
            "syscalls" => self.syscalls = true,
            _ => return false,
        }
        true
    }
}

impl FromStr for EventGroups {
    type Err = String;

    /// A comma-separated list of `cpu`, `mem`, `syscalls`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut g = Self::NONE;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !g.add(part) {
                return Err(format!(
                    "unknown event group `{part}` (the groups are cpu, mem, syscalls)"
                ));
            }
        }
        if g == Self::NONE {
            return Err("no event group given (the groups are cpu, mem, syscalls)".into());
        }
        Ok(g)
    }
}

impl fmt::Display for EventGroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.cpu, "cpu"),
            (self.mem, "mem"),
            (self.syscalls, "syscalls"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|&(_, n)| n)
        .collect();
        f.write_str(&names.join(","))
    }
}

/// A tracepoint named perf's way, `SYSTEM:NAME`, either part a shell-style
/// glob as perf record -e takes them (`syscalls:sys_enter_*`, `kmem:*`,
/// `sched:sched_[sw]*`): `*` any run of characters, `?` one, `[...]` one
/// of a set (`[a-z]`; `[!a-z]` one outside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointPattern {
    /// The system (the directory under tracefs's `events/`), or a glob.
    pub system: String,
    /// The tracepoint's name, or a glob.
    pub name: String,
}

impl TracepointPattern {
    /// Whether either part is a glob, which may match several tracepoints
    /// (or none).
    pub fn is_glob(&self) -> bool {
        [&self.system, &self.name]
            .iter()
            .any(|part| part.contains(['*', '?', '[']))
    }

    /// Whether tracepoint `system:name` is one the pattern names.
    pub fn matches(&self, system: &str, name: &str) -> bool {
        glob::matches(&self.system, system) && glob::matches(&self.name, name)
    }

    /// The tracepoints of `tracefs` it names, `(system, name)`: itself when
    /// it is no glob (whether tracefs has it is for its format to say),
    /// else those that match, sorted; a glob that matches none is an error
    /// naming it.
    pub fn resolve(&self, tracefs: &Tracefs) -> Result<Vec<(String, String)>, TracepointError> {
        if !self.is_glob() {
            return Ok(vec![(self.system.clone(), self.name.clone())]);
        }
        let found = tracefs.tracepoints(
            |system| glob::matches(&self.system, system),
            |system, name| self.matches(system, name),
        )?;
        if found.is_empty() {
            return Err(TracepointError::NoMatch {
                pattern: self.to_string(),
                path: tracefs.root().join("events"),
            });
        }
        Ok(found)
    }
}

impl FromStr for TracepointPattern {
    type Err = String;

    /// `SYSTEM:NAME`, each part non-empty, without `/` or blanks (a
    /// tracefs directory's name, or a glob of such names).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("`{s}`: {why}");
        let (system, name) = s
            .split_once(':')
            .ok_or_else(|| bad("a tracepoint is SYSTEM:NAME"))?;
        for part in [system, name] {
            if part.is_empty() || part == "." || part == ".." {
                return Err(bad("a tracepoint is SYSTEM:NAME, both non-empty"));
            }
            if let Some(c) = part
                .chars()
                .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
            {
                return Err(bad(&format!("{c:?} cannot be in a tracepoint's name")));
            }
            glob::check(part).map_err(|why| bad(&why))?;
        }
        Ok(Self {
            system: system.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for TracepointPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.name)
    }
}

/// What `perfns record -e` asks for: event groups and tracepoints, mixed
/// in comma lists, `-e` given once or more (`-e cpu -e
/// syscalls:sys_enter_openat,syscalls:sys_exit_openat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSelection {
    /// The groups named.
    pub groups: EventGroups,
    /// The tracepoints named, in the order given.
    pub tracepoints: Vec<TracepointPattern>,
}

impl EventSelection {
    /// Parses `-e`'s arguments: each a comma list of groups (`cpu`, `mem`,
    /// `syscalls`) and tracepoints (`SYSTEM:NAME`, globs allowed). The
    /// error names the word at fault.
    pub fn parse<'a>(lists: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut out = Self {
            groups: EventGroups::NONE,
            tracepoints: Vec::new(),
        };
        for word in lists
            .into_iter()
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            if word.contains(':') {
                let pattern: TracepointPattern = word.parse()?;
                if !out.tracepoints.contains(&pattern) {
                    out.tracepoints.push(pattern);
                }
            } else if !out.groups.add(word) {
                return Err(format!(
                    "unknown event `{word}`: the event groups are cpu, mem and syscalls, and a \
                     tracepoint is SYSTEM:NAME (syscalls:sys_enter_openat; globs as \
                     syscalls:sys_enter_*)"
                ));
            }
        }
        if out.groups == EventGroups::NONE && out.tracepoints.is_empty() {
            return Err(
                "no event given (groups cpu, mem, syscalls; tracepoints SYSTEM:NAME)".into(),
            );
        }
        Ok(out)
    }
}

/// `perfns record --profile`: a sampled profile of every task's CPU time,
/// with call chains, as `perf record -F HZ -g` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Samples per second of CPU time (the cpu-clock event's sample_freq).
    pub hz: u64,
    /// How call chains are taken.
    pub call_graph: CallGraph,
}

impl Profile {
    /// `--profile`'s rate without a value: perf's usual `-F 99`, off the
    /// beat of anything that runs at a round 100 Hz.
    pub const DEFAULT_HZ: u64 = 99;
}

/// `--call-graph`: how a sample's call chain is taken, as `perf record
/// --call-graph` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGraph {
    /// `fp`: the kernel walks the frame pointers (code built without them
    /// gives short chains).
    FramePointer,
    /// `dwarf[,SIZE]`: the kernel copies the user registers and the top
    /// SIZE bytes of the user stack, which a reader unwinds with the
    /// files' DWARF call frame information.
    Dwarf {
        /// Bytes of user stack per sample (perf's default 8192).
        stack_size: u32,
    },
}

impl CallGraph {
    /// perf's default stack copy for `dwarf`.
    pub const DEFAULT_STACK: u32 = 8192;
    /// The largest stack copy the kernel takes (a record's size is 16
    /// bits): perf's limit, 65535 rounded down to 8.
    pub const MAX_STACK: u32 = 65528;
}

impl FromStr for CallGraph {
    type Err = String;

    /// `fp`, `dwarf` or `dwarf,SIZE` (SIZE in bytes, rounded up to 8, at
    /// most [`CallGraph::MAX_STACK`]), as perf record takes them.
    fn from_str(s: &str) -> Result<Self, String> {
        let (mode, size) = match s.split_once(',') {
            Some((mode, size)) => (mode, Some(size)),
            None => (s, None),
        };
        match (mode, size) {
            ("fp", None) => Ok(Self::FramePointer),
            ("fp", Some(_)) => Err(format!("`{s}`: fp takes no size (dwarf,SIZE does)")),
            ("dwarf", None) => Ok(Self::Dwarf {
                stack_size: Self::DEFAULT_STACK,
            }),
            ("dwarf", Some(size)) => {
                let bytes: u32 = size.trim().parse().ok().filter(|&b| b > 0).ok_or_else(|| {
                    format!(
                        "`{s}`: the stack size is a number of bytes, 1 to {}",
                        Self::MAX_STACK
                    )
                })?;
                let stack_size = bytes
                    .checked_next_multiple_of(8)
                    .filter(|&b| b <= Self::MAX_STACK)
                    .ok_or_else(|| {
                        format!(
                            "`{s}`: a stack copy of {bytes} bytes is more than the kernel takes \
                             ({} bytes)",
                            Self::MAX_STACK
                        )
                    })?;
                Ok(Self::Dwarf { stack_size })
            }
            _ => Err(format!(
                "`{s}`: the call graph modes are fp (frame pointers) and dwarf[,SIZE] (a copy \
                 of SIZE bytes of user stack, 8192 by default)"
            )),
        }
    }
}

impl fmt::Display for CallGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FramePointer => f.write_str("fp"),
            Self::Dwarf { stack_size } => write!(f, "dwarf,{stack_size}"),
        }
    }
}

/// perf's x86-64 user register mask for DWARF unwinding (PERF_REGS_MASK
/// in tools/perf/arch/x86/include/perf_regs.h: ax to r15 and the
/// instruction and stack pointers, without the segment registers ds, es,
/// fs, gs), so that perf script and perf report unwind perfns's samples as
/// their own.
pub const X86_64_USER_REGS: u64 = ((1 << 24) - 1) & !(0xf << 12);

/// The sampling event of `--profile`: cpu-clock (the CPU time of whatever
/// runs, on any machine, with or without a PMU, as perf falls back to it),
/// `profile.hz` samples per second of it, each with its instruction
/// pointer, call chain and period, besides what every record carries
/// ([`SAMPLE_FORMAT`]). In tracer scope (`extra_flags` has the scope's
/// bit) only user space is sampled: the scope refuses kernel addresses.
pub fn profile_event(profile: &Profile, extra_flags: u64) -> PlannedEvent {
    let mut sample_type =
        SAMPLE_FORMAT | SampleFormat::IP | SampleFormat::CALLCHAIN | SampleFormat::PERIOD;
    let mut attr_flags = flags::DISABLED | flags::SAMPLE_ID_ALL | flags::FREQ | extra_flags;
    if extra_flags & flags::TRACER_SCOPE != 0 {
        attr_flags |= flags::EXCLUDE_KERNEL | flags::EXCLUDE_CALLCHAIN_KERNEL;
    }
    let (mut regs, mut stack) = (0, 0);
    if let CallGraph::Dwarf { stack_size } = profile.call_graph {
        // As perf record --call-graph dwarf: the user part of the chain
        // comes from unwinding the copy, not from the kernel.
        sample_type = sample_type | SampleFormat::REGS_USER | SampleFormat::STACK_USER;
        attr_flags |= flags::EXCLUDE_CALLCHAIN_USER;
        regs = X86_64_USER_REGS;
        stack = stack_size;
    }
    PlannedEvent {
        name: "cpu-clock".into(),
        attr: EventAttr {
            kind: kind::SOFTWARE,
            config: sw::CPU_CLOCK,
            sample_period: profile.hz,
            sample_type,
            read_format: READ_FORMAT,
            flags: attr_flags,
            sample_regs_user: regs,
            sample_stack_user: stack,
            ..Default::default()
        },
        format: None,
        uprobe_path: None,
    }
}

/// One event to open on every CPU.
#[derive(Debug, Clone)]
pub struct PlannedEvent {
    /// Its name as perf spells it (`raw_syscalls:sys_enter`, `dummy:u`).
    pub name: String,
    /// The attr, disabled until the recording starts.
    pub attr: EventAttr,
    /// The tracepoint's format, for tracepoint events.
    pub format: Option<TracepointFormat>,
    /// A uprobe's file (`crate::uprobe`): the attr's `config1` is its
    /// address while the event is opened.
    pub uprobe_path: Option<CString>,
}

impl PlannedEvent {
    /// Opens the event for `target`, a uprobe's with its file's path.
    pub fn open(
        &self,
        target: Target,
        group: Option<BorrowedFd<'_>>,
    ) -> Result<OwnedFd, OpenError> {
        match &self.uprobe_path {
            None => abi::open_event(&self.attr, target, group),
            Some(path) => {
                // The kernel copies the path (strndup_user) while the call
                // lasts; `path` outlives it.
                let attr = EventAttr {
                    config1: path.as_ptr() as u64,
                    ..self.attr.clone()
                };
                abi::open_event(&attr, target, group)
            }
        }
    }
}

/// The fields every record carries: who (pid/tid), when, which CPU, and
/// which event (first in samples and last in other records, so that any
/// reader finds it without knowing the event).
pub const SAMPLE_FORMAT: SampleFormat = SampleFormat(
    SampleFormat::IDENTIFIER.0 | SampleFormat::TID.0 | SampleFormat::TIME.0 | SampleFormat::CPU.0,
);

/// What reading an event's fd gives: its count, its id, and (Linux 6.0+)
/// the records it could not write because its ring buffer was full.
/// The kernel reports those in PERF_RECORD_LOST only when it next writes
/// to the buffer, so the records lost just before recording stops come
/// only from here.
pub const READ_FORMAT: u64 = read_format::ID | read_format::LOST;

/// The tracepoints of each group, `(system, name)`.
const MEM_TRACEPOINTS: [(&str, &str); 2] = [("kmem", "mm_page_alloc"), ("kmem", "mm_page_free")];
const SYSCALL_TRACEPOINTS: [(&str, &str); 2] =
    [("raw_syscalls", "sys_enter"), ("raw_syscalls", "sys_exit")];

/// The tracepoints `groups` opens, `(system, name)`, in the order [`plan`]
/// opens them. With [`EventGroups::ALL`], every tracepoint `perfns record`
/// can use: what a host publishes for its tenants (`crate::publish`).
pub fn tracepoints(groups: EventGroups) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if groups.mem {
        out.extend(MEM_TRACEPOINTS);
    }
    if groups.syscalls {
        out.extend(SYSCALL_TRACEPOINTS);
    }
    out
}

/// The side-band event: a software dummy event that samples nothing and
/// carries COMM, FORK/EXIT, NAMESPACES and CGROUP records. It is the first
/// event of each CPU and has a ring buffer of its own, drained before the
/// data ones, with a low watermark ([`SIDEBAND_WAKEUP`]): the recorder
/// reads `/proc/PID` of a task in a new pid namespace while the task still
/// lives (a container's identity is its cgroup path, which no record
/// gives).
/// `extra_flags` adds scope bits; in tracer scope, PERF_RECORD_TRACER_NAMESPACES
/// replaces the NAMESPACES and CGROUP records the scope refuses. With
/// `mappings` (`--profile`) it also carries the mappings, PERF_RECORD_MMAP2
/// with the file's build-id, as `perf record --buildid-mmap` asks for
/// them: what turns a sample's addresses into functions.
pub fn sideband_event(extra_flags: u64, mappings: Mappings) -> PlannedEvent {
    let mut event = PlannedEvent {
        // perf's name for a dummy event counting user and kernel.
        name: "dummy:HG".into(),
        attr: EventAttr {
            kind: kind::SOFTWARE,
            config: sw::DUMMY,
            sample_period: 1,
            sample_type: SAMPLE_FORMAT,
            read_format: READ_FORMAT,
            flags: flags::DISABLED
                | flags::SAMPLE_ID_ALL
                | flags::COMM
                | flags::COMM_EXEC
                | flags::TASK
                | flags::NAMESPACES
                | flags::CGROUP
                | flags::WATERMARK
                | extra_flags,
            wakeup: SIDEBAND_WAKEUP,
            ..Default::default()
        },
        format: None,
        uprobe_path: None,
    };
    event.attr.flags |= mappings.flags();
    if extra_flags & flags::TRACER_SCOPE != 0 {
        event.attr.flags = crate::scope::tracer_sideband_flags(event.attr.flags);
    }
    event
}

/// Which mappings the side-band event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mappings {
    /// None: no profile.
    None,
    /// The executable ones: what symbolizes instruction pointers.
    Executable,
    /// Data mappings too, as perf record --call-graph dwarf asks for them
    /// (mmap_data): an unwinder reads a file's `.eh_frame_hdr` at its
    /// address in the process, in a read-only segment of its own.
    All,
}

impl Mappings {
    /// What `profile` needs.
    pub fn for_profile(profile: Option<&Profile>) -> Self {
        match profile.map(|p| p.call_graph) {
            None => Self::None,
            Some(CallGraph::FramePointer) => Self::Executable,
            Some(CallGraph::Dwarf { .. }) => Self::All,
        }
    }

    /// The side-band event's flags for them: mmap, mmap2 (which the
    /// kernel writes instead of MMAP), build_id, and mmap_data for
    /// [`Mappings::All`].
    pub fn flags(self) -> u64 {
        match self {
            Self::None => 0,
            Self::Executable => MAPPING_FLAGS,
            Self::All => MAPPING_FLAGS | flags::MMAP_DATA,
        }
    }
}

/// Every flag of [`Mappings::flags`] but mmap_data.
pub const MAPPING_FLAGS: u64 = flags::MMAP | flags::MMAP2 | flags::BUILD_ID;

/// The side-band ring buffer's watermark in bytes: a fork, exec and exit
/// of a short command write about 350 bytes of side-band records, so a
/// fork-heavy load wakes the recorder once every dozen commands rather
/// than at every record (the kernel's wakeup costs the traced task an
/// interrupt, and the recorder a pass over every buffer). A record below
/// the watermark waits for the next pass, which the recorder makes at
/// least every 50 ms (`crate::MAX_WAIT`).
pub const SIDEBAND_WAKEUP: u32 = 4096;

/// Sets the watermark of a CPU's data ring buffer, of `data_bytes`, to an
/// eighth of it, on the first data event of `plan`, which owns the buffer:
/// the recorder wakes with seven eighths of the buffer left for the time it
/// takes to be scheduled (the kernel's default, which perf record keeps, is
/// half). A quarter lost more on a machine shared with other work
/// (perfns-record/benches/README.md). Once awake the recorder drains again
/// at once while passes find much ([`crate::session::Recorder::busy`]).
pub fn wake_at_an_eighth(plan: &mut [PlannedEvent], data_bytes: u64) {
    if let Some(owner) = plan.get_mut(1) {
        owner.attr.flags |= flags::WATERMARK;
        // At most 2^32 bytes: larger buffers keep a 512 MiB watermark.
        owner.attr.wakeup = u32::try_from(data_bytes / 8).unwrap_or(1 << 29);
    }
}

/// The context-switch event of the `cpu` group: a dummy event whose only
/// output is PERF_RECORD_SWITCH_CPU_WIDE, two per switch (out and in).
pub fn switch_event(extra_flags: u64) -> PlannedEvent {
    PlannedEvent {
        name: "dummy:switches".into(),
        attr: EventAttr {
            kind: kind::SOFTWARE,
            config: sw::DUMMY,
            sample_period: 1,
            sample_type: SAMPLE_FORMAT,
            read_format: READ_FORMAT,
            flags: flags::DISABLED | flags::SAMPLE_ID_ALL | flags::CONTEXT_SWITCH | extra_flags,
            ..Default::default()
        },
        format: None,
        uprobe_path: None,
    }
}

/// The attr of a data event of PMU `kind` (a tracepoint, a uprobe): every
/// hit a sample with its raw data, disabled until the recording starts.
pub fn data_event_attr(kind: u32, config: u64, extra_flags: u64) -> EventAttr {
    EventAttr {
        kind,
        config,
        sample_period: 1,
        sample_type: SAMPLE_FORMAT | SampleFormat::RAW,
        read_format: READ_FORMAT,
        flags: flags::DISABLED | flags::SAMPLE_ID_ALL | extra_flags,
        ..Default::default()
    }
}

/// The events for `groups` and the tracepoints `named`: the side-band
/// event first (with the mappings when `profile` is given), then the
/// switch event (with `cpu`), `profile`'s sampling event, the groups'
/// tracepoints and the named ones (each once), whose formats are read from
/// `tracefs`. Fails, naming the tracepoint, when this kernel lacks one, or
/// the glob, when it matches none.
pub fn plan(
    groups: EventGroups,
    named: &[TracepointPattern],
    profile: Option<&Profile>,
    tracefs: &Tracefs,
    extra_flags: u64,
) -> Result<Vec<PlannedEvent>, TracepointError> {
    let mut out = vec![sideband_event(extra_flags, Mappings::for_profile(profile))];
    if groups.cpu {
        out.push(switch_event(extra_flags));
    }
    out.extend(profile.map(|p| profile_event(p, extra_flags)));
    let mut wanted: Vec<(String, String)> = tracepoints(groups)
        .into_iter()
        .map(|(system, name)| (system.to_owned(), name.to_owned()))
        .collect();
    let mut seen: std::collections::BTreeSet<(String, String)> = wanted.iter().cloned().collect();
    for pattern in named {
        for tracepoint in pattern.resolve(tracefs)? {
            if seen.insert(tracepoint.clone()) {
                wanted.push(tracepoint);
            }
        }
    }
    for (system, name) in &wanted {
        let format = tracefs.format(system, name)?;
        out.push(PlannedEvent {
            name: format.full_name(),
            attr: data_event_attr(kind::TRACEPOINT, format.id, extra_flags),
            format: Some(format),
            uprobe_path: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_and_print() {
        let g: EventGroups = "syscalls, cpu".parse().unwrap();
        assert_eq!(
            g,
            EventGroups {
                cpu: true,
                mem: false,
                syscalls: true
            }
        );
        assert_eq!(g.to_string(), "cpu,syscalls");
        assert_eq!(
            "cpu,disk".parse::<EventGroups>().unwrap_err(),
            "unknown event group `disk` (the groups are cpu, mem, syscalls)"
        );
        assert!("".parse::<EventGroups>().is_err());
    }

    fn selection(lists: &[&str]) -> Result<EventSelection, String> {
        EventSelection::parse(lists.iter().copied())
    }

    fn pattern(text: &str) -> TracepointPattern {
        text.parse().unwrap()
    }

    #[test]
    fn e_takes_groups_and_tracepoints_mixed_and_repeated() {
        let s = selection(&[
            "cpu",
            "syscalls:sys_enter_openat, syscalls:sys_exit_openat,mem",
            "kmem:*,cpu,syscalls:sys_enter_openat",
        ])
        .unwrap();
        assert_eq!(
            s.groups,
            EventGroups {
                cpu: true,
                mem: true,
                syscalls: false
            }
        );
        // In the order given, each once.
        let names: Vec<String> = s.tracepoints.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            names,
            [
                "syscalls:sys_enter_openat",
                "syscalls:sys_exit_openat",
                "kmem:*"
            ]
        );
        assert!(!s.tracepoints[0].is_glob() && s.tracepoints[2].is_glob());
        // Tracepoints alone: no group.
        let alone = selection(&["sched:sched_switch"]).unwrap();
        assert_eq!(alone.groups, EventGroups::NONE);
        assert_eq!(alone.tracepoints, [pattern("sched:sched_switch")]);
    }

    #[test]
    fn e_names_the_word_at_fault() {
        let err = |lists: &[&str]| selection(lists).unwrap_err();
        assert_eq!(
            err(&["cpu,cycles"]),
            "unknown event `cycles`: the event groups are cpu, mem and syscalls, and a \
             tracepoint is SYSTEM:NAME (syscalls:sys_enter_openat; globs as syscalls:sys_enter_*)"
        );
        assert_eq!(
            err(&["", " , "]),
            "no event given (groups cpu, mem, syscalls; tracepoints SYSTEM:NAME)"
        );
        for (word, why) in [
            ("syscalls:", "both non-empty"),
            (":sys_enter_openat", "both non-empty"),
            ("syscalls:..", "both non-empty"),
            ("a:b:c", "':' cannot be in a tracepoint's name"),
            ("sys/calls:x", "'/' cannot be in a tracepoint's name"),
            ("kmem:mm page", "' ' cannot be in a tracepoint's name"),
            ("kmem:mm_[page", "no `]` closes the `[` at 4"),
            ("kmem:[]", "no `]` closes the `[` at 1"),
        ] {
            let e = err(&["cpu", word]);
            assert!(
                e.starts_with(&format!("`{word}`: ")) && e.ends_with(why),
                "{word}: {e}"
            );
        }
    }

    #[test]
    fn patterns_match_system_and_name() {
        let p = pattern("syscalls:sys_*_getppid");
        assert!(p.matches("syscalls", "sys_exit_getppid"));
        assert!(!p.matches("raw_syscalls", "sys_exit_getppid"));
        let any_system = pattern("*:sched_switch");
        assert!(any_system.is_glob() && any_system.matches("sched", "sched_switch"));
        assert!(!pattern("sched:sched_switch").is_glob());
    }

    #[test]
    fn named_tracepoints_are_resolved_in_tracefs_and_planned_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let format = |system: &str, name: &str, id: u64| {
            let d = root.join("events").join(system).join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("format"),
                format!(
                    "name: {name}\nID: {id}\nformat:\n\tfield:unsigned short common_type;\t\
                     offset:0;\tsize:2;\tsigned:0;\n\nprint fmt: \"\"\n"
                ),
            )
            .unwrap();
        };
        format("syscalls", "sys_enter_getppid", 10);
        format("syscalls", "sys_exit_getppid", 11);
        format("syscalls", "sys_enter_openat", 12);
        format("raw_syscalls", "sys_enter", 20);
        format("raw_syscalls", "sys_exit", 21);
        std::fs::write(root.join("events/syscalls/enable"), "0\n").unwrap();
        let tracefs = Tracefs::at(root);
        let groups: EventGroups = "syscalls".parse().unwrap();
        let named = [
            pattern("syscalls:sys_*_getppid"),
            pattern("raw_syscalls:sys_enter"),
            pattern("syscalls:sys_exit_getppid"),
        ];
        let planned = plan(groups, &named, None, &tracefs, 0).unwrap();
        let got: Vec<(&str, u64)> = planned
            .iter()
            .map(|e| (e.name.as_str(), e.attr.config))
            .collect();
        assert_eq!(
            got,
            [
                ("dummy:HG", sw::DUMMY),
                ("raw_syscalls:sys_enter", 20),
                ("raw_syscalls:sys_exit", 21),
                ("syscalls:sys_enter_getppid", 10),
                ("syscalls:sys_exit_getppid", 11),
            ]
        );
        // Each with its format, for the recording's tracing data.
        let exit = planned[4].format.as_ref().unwrap();
        assert_eq!(
            (exit.system.as_str(), exit.name.as_str()),
            ("syscalls", "sys_exit_getppid")
        );
        assert_eq!(planned[4].attr.kind, kind::TRACEPOINT);
        assert_ne!(planned[4].attr.sample_type.0 & SampleFormat::RAW.0, 0);

        let err = plan(EventGroups::NONE, &[pattern("kmem:*")], None, &tracefs, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no tracepoint matches `kmem:*` (in {}/events)",
                root.display()
            )
        );
        let err = plan(
            EventGroups::NONE,
            &[pattern("syscalls:sys_enter_nosuch")],
            None,
            &tracefs,
            0,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tracepoint syscalls:sys_enter_nosuch does not exist"),
            "{err}"
        );
    }

    #[test]
    fn a_profile_samples_cpu_clock_with_call_chains_as_perf_record_g() {
        let fp = Profile {
            hz: 99,
            call_graph: CallGraph::FramePointer,
        };
        let e = profile_event(&fp, 0);
        assert_eq!(e.name, "cpu-clock");
        let a = &e.attr;
        assert_eq!((a.kind, a.config, a.sample_period), (1, 0, 99));
        assert_eq!(
            a.flags,
            flags::DISABLED | flags::SAMPLE_ID_ALL | flags::FREQ,
            "kernel and user frames, chains by the kernel"
        );
        // The recording's common fields, at the same places.
        assert_eq!(
            a.sample_type,
            SAMPLE_FORMAT | SampleFormat::IP | SampleFormat::CALLCHAIN | SampleFormat::PERIOD
        );
        assert_eq!(
            a.sample_type.sample_id_size(),
            SAMPLE_FORMAT.sample_id_size()
        );
        assert_eq!((a.sample_regs_user, a.sample_stack_user), (0, 0));

        let dwarf = Profile {
            hz: 999,
            call_graph: CallGraph::Dwarf { stack_size: 16384 },
        };
        let a = profile_event(&dwarf, 0).attr;
        assert_eq!(a.sample_period, 999);
        assert!(a
            .sample_type
            .contains(SampleFormat::REGS_USER | SampleFormat::STACK_USER));
        // perf record --call-graph dwarf's: user regs 0xff0fff, the
        // stack, and no user frames from the kernel.
        assert_eq!((a.sample_regs_user, a.sample_stack_user), (0xff0fff, 16384));
        assert_ne!(a.flags & flags::EXCLUDE_CALLCHAIN_USER, 0);
        assert_eq!(a.flags & flags::EXCLUDE_KERNEL, 0);

        // Tracer scope: user space only, both modes.
        for p in [fp, dwarf] {
            let a = profile_event(&p, flags::TRACER_SCOPE).attr;
            let user_only =
                flags::TRACER_SCOPE | flags::EXCLUDE_KERNEL | flags::EXCLUDE_CALLCHAIN_KERNEL;
            assert_eq!(a.flags & user_only, user_only, "{:?}", p.call_graph);
        }
    }

    #[test]
    fn a_profiles_side_band_carries_the_mappings_with_build_ids() {
        let fp = Profile {
            hz: 99,
            call_graph: CallGraph::FramePointer,
        };
        let dwarf = Profile {
            call_graph: CallGraph::Dwarf { stack_size: 8192 },
            ..fp
        };
        let mapping = flags::MMAP | flags::MMAP2 | flags::BUILD_ID;
        for (profile, want) in [
            (None, 0),
            (Some(&fp), mapping),
            (Some(&dwarf), mapping | flags::MMAP_DATA),
        ] {
            for scope in [0, flags::TRACER_SCOPE] {
                let sb = sideband_event(scope, Mappings::for_profile(profile)).attr;
                let all = mapping | flags::MMAP_DATA;
                assert_eq!(sb.flags & all, want, "{profile:?} {scope:#x}");
            }
        }
        let tracefs = Tracefs::at("/nonexistent");
        let planned = plan(EventGroups::NONE, &[], Some(&fp), &tracefs, 0).unwrap();
        let names: Vec<&str> = planned.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dummy:HG", "cpu-clock"]);
        assert_eq!(planned[0].attr.flags & mapping, mapping);
        let mut with_cpu = plan("cpu".parse().unwrap(), &[], Some(&fp), &tracefs, 0).unwrap();
        wake_at_an_eighth(&mut with_cpu, 1 << 20);
        let names: Vec<&str> = with_cpu.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dummy:HG", "dummy:switches", "cpu-clock"]);
    }

    #[test]
    fn call_graphs_print_as_they_parse() {
        for text in ["fp", "dwarf,8192", "dwarf,64"] {
            assert_eq!(text.parse::<CallGraph>().unwrap().to_string(), text);
        }
        assert_eq!(
            "dwarf".parse::<CallGraph>().unwrap(),
            CallGraph::Dwarf { stack_size: 8192 }
        );
    }

    #[test]
    fn wakeups_come_at_4_kib_of_side_band_and_an_eighth_of_the_data_buffer() {
        let mut plan = vec![sideband_event(0, Mappings::None), switch_event(0)];
        wake_at_an_eighth(&mut plan, 1 << 20);
        for (e, bytes) in plan.iter().zip([4096, 128 << 10]) {
            assert_ne!(e.attr.flags & flags::WATERMARK, 0, "{}", e.name);
            assert_eq!(e.attr.wakeup, bytes, "{}", e.name);
        }
        // Only the buffer's owner sets its watermark; a side-band-only
        // plan has none to set.
        let mut alone = vec![sideband_event(0, Mappings::None)];
        wake_at_an_eighth(&mut alone, 1 << 20);
        assert_eq!(alone[0].attr.wakeup, SIDEBAND_WAKEUP);
    }

    #[test]
    fn switches_only_with_cpu() {
        let Some(tracefs) = perfns::testing::prerequisite(perfns::testing::tracefs()) else {
            return;
        };
        let names = |g: &str| -> Vec<String> {
            plan(g.parse().unwrap(), &[], None, &tracefs, 0)
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect()
        };
        assert_eq!(names("cpu"), ["dummy:HG", "dummy:switches"]);
        assert_eq!(
            names("mem"),
            ["dummy:HG", "kmem:mm_page_alloc", "kmem:mm_page_free"]
        );
        let sb = sideband_event(0, Mappings::None).attr;
        assert_eq!(sb.flags & flags::CONTEXT_SWITCH, 0);
        assert_ne!(sb.flags & flags::NAMESPACES, 0);
    }

    #[test]
    fn plan_reads_the_formats() {
        let Some(tracefs) = perfns::testing::prerequisite(perfns::testing::tracefs()) else {
            return;
        };
        let events = plan(EventGroups::ALL, &[], None, &tracefs, 0).unwrap();
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dummy:HG",
                "dummy:switches",
                "kmem:mm_page_alloc",
                "kmem:mm_page_free",
                "raw_syscalls:sys_enter",
                "raw_syscalls:sys_exit"
            ]
        );
        let order = events[2].format.as_ref().unwrap().field("order");
        assert!(order.is_some(), "mm_page_alloc has an order field");
        let missing = Tracefs::at("/nonexistent").format("kmem", "mm_page_alloc");
        assert!(matches!(
            missing,
            Err(TracepointError::NoSuchTracepoint { .. })
        ));
    }
}
