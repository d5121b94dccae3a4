//! The report as data: what the analyses find and the renderers print, and
//! what `--format json` serializes (schema `perfns-report/2`,
//! docs/report-json.md).

use std::collections::BTreeMap;

use perfns::container::{RecordingMode, RecordingScope};
use serde::Serialize;

use crate::SortKey;

/// The JSON schema's name and version; bump the number on any change that
/// is not a new optional field.
pub const SCHEMA: &str = "perfns-report/2";

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// What was recorded, when, and how well.
    pub header: Header,
    /// What containers and processes are sorted by (`--sort`).
    pub sorted_by: SortKey,
    /// The further `--sort` keys that break ties, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub then_sorted_by: Vec<SortKey>,
    /// The host first, then the containers: in tree order (each container
    /// right after its parent, siblings by the sort key), or sorted as one
    /// list with `--flat`.
    pub containers: Vec<ContainerReport>,
    /// One entry per process, busiest first (`--per-process` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<ProcessReport>>,
    /// With `--profile`: what the profile could not symbolize, and the
    /// frames and stacks the containers' profiles count. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// The profile of a recording (`--profile`): every frame and call chain
/// its samples have, which the containers' [`ContainerProfile`]s count.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Profile {
    /// Why frames stayed unsymbolized: one line per file (missing,
    /// unreadable, another build than the recording's) or for the kernel.
    pub problems: Vec<String>,
    /// Every frame, by id. Not in the JSON (its containers' functions
    /// are; `--format folded` gives the stacks).
    #[serde(skip)]
    pub frames: Vec<Frame>,
    /// Every call chain, frame ids innermost first, by id.
    #[serde(skip)]
    pub stacks: Vec<Vec<u32>>,
}

/// A frame of a call chain: a function in a file, or an address no
/// symbol names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function's name; `[unknown] FILE+0xOFFSET` when no symbol
    /// names the address (`[unknown] [unmapped]+0xADDRESS` when no mapping
    /// holds it).
    pub function: String,
    /// The file, as the recording names it (`[kernel.kallsyms]` for the
    /// kernel).
    pub dso: String,
    /// A kernel address.
    pub kernel: bool,
    /// A symbol named it.
    pub symbolized: bool,
}

/// A container's profile: its own tasks' samples by function.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerProfile {
    /// Its own tasks' samples (of sampling events, in the time range),
    /// which the percents are of.
    pub samples: u64,
    /// The frames of their call chains, counted per sample.
    pub frames: u64,
    /// Of those, the frames no symbol named.
    pub unsymbolized_frames: u64,
    /// Its hottest functions, most self samples first (then total), at
    /// most `--top`.
    pub functions: Vec<FunctionFigures>,
    /// Samples per stack id ([`Profile::stacks`]), by id.
    #[serde(skip)]
    pub stacks: Vec<(u32, u64)>,
}

/// A function's samples in a container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionFigures {
    /// Its name (see [`Frame::function`]).
    pub function: String,
    /// Its file.
    pub dso: String,
    /// Samples in it (the innermost frame).
    pub self_samples: u64,
    /// `self_samples` in percent of the container's samples.
    pub self_percent: f64,
    /// Samples with it anywhere in the call chain (once per sample).
    pub total_samples: u64,
    /// `total_samples` in percent of the container's samples.
    pub total_percent: f64,
}

/// What the recording is and what the report could and could not see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// The recording's path as given.
    pub file: String,
    /// Who wrote it and how: `perf record` or `perfns record`, with its
    /// command line when the file keeps one.
    pub recording: Recording,
    /// The time range the figures cover.
    pub time: TimeRange,
    /// The CPUs.
    pub cpus: Cpus,
    /// Samples per event, in the recording's event order.
    pub events: Vec<EventCount>,
    /// Lost records and samples.
    pub lost: Lost,
    /// Where container identities and names come from.
    pub containers_from: ContainerSource,
    /// Where CPU time comes from.
    pub cpu_time_from: CpuTimeSource,
    /// Whether kmem:mm_page_alloc or kmem:mm_page_free was recorded (and
    /// decoded): without, the memory figures are all zero.
    pub memory_recorded: bool,
    /// Page allocations and frees made in interrupt context (hard or soft
    /// IRQ, NMI: the tracepoint's common_flags), which are in no
    /// container's memory figures: an interrupt works for whoever caused
    /// it, not for the task it interrupted. Absent when there were none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_in_interrupts: Option<MemoryFigures>,
    /// Whether raw_syscalls:sys_enter was recorded (and decoded): without,
    /// the syscall figures are all zero.
    pub syscalls_recorded: bool,
    /// Whether uprobe events were recorded (`perfns record --uprobe`, perf
    /// probe's): the containers' `uprobes` then list their hits. Absent
    /// when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub uprobes_recorded: bool,
    /// Whether user events were recorded (`perfns record --user-events`,
    /// perf record -e user_events:NAME): the containers' `user_events`
    /// then list how many each wrote. Absent when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub user_events_recorded: bool,
    /// Whether tracepoints the report has no table of its own for were
    /// recorded (`perfns record -e syscalls:sys_enter_openat`, perf record
    /// -e sched:sched_wakeup; user events aside): the containers'
    /// `tracepoints` then list how many times each hit them. Absent when
    /// false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tracepoints_recorded: bool,
    /// Things the report cannot tell from this recording.
    pub notes: Vec<String>,
    /// Problems with the recording; the figures cover the records read
    /// before them.
    pub warnings: Vec<String>,
    /// Whether the recording is damaged: truncated, or with records that
    /// could not be read or decoded (the warnings say which). Not in the
    /// JSON, whose warnings say it; `perfns report` exits with it.
    #[serde(skip)]
    pub damaged: bool,
}

/// Who wrote the recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recording {
    /// `perfns` when the file has perfns's feature section, else `perf`.
    pub tool: &'static str,
    /// The writer's version (HEADER_VERSION).
    pub version: Option<String>,
    /// The recording command (HEADER_CMDLINE).
    pub cmdline: Option<String>,
    /// For perfns recordings: how the events were opened (`system-wide`
    /// or `tracer-scope`).
    pub mode: Option<RecordingMode>,
    /// For perfns recordings: which tasks were recorded (the whole
    /// system, while a command ran, or one container).
    pub scope: Option<RecordingScope>,
    /// HEADER_HOSTNAME.
    pub hostname: Option<String>,
    /// HEADER_OSRELEASE: the kernel.
    pub kernel: Option<String>,
    /// HEADER_ARCH, whose syscall table names the syscalls.
    pub arch: Option<String>,
    /// How the records were compressed (`perf record -z`): the algorithm,
    /// level and ratio from HEADER_COMPRESSED, and how many compressed
    /// records were decompressed. Absent when nothing was compressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// The recording is a pipe-mode stream (`perf record -o -`), read in
    /// one pass. Absent when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pipe_mode: bool,
}

/// A span of perf time (CLOCK_MONOTONIC nanoseconds, as `perf script`
/// prints them in seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// The first timed record's time, or the `--time` start.
    pub start_ns: u64,
    /// The last timed record's time, or the `--time` end.
    pub end_ns: u64,
    /// `end_ns - start_ns`; with several `--time` ranges, their lengths
    /// added up (the gaps between them left out).
    pub duration_ns: u64,
    /// With several `--time` ranges that the recording meets: each,
    /// `[start_ns, end_ns]`, within the recording, ascending, those that
    /// overlap or touch merged. Absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<[u64; 2]>,
}

/// The machine's and the recording's CPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cpus {
    /// CPUs online when recorded (HEADER_NRCPUS).
    pub online: Option<u32>,
    /// CPUs available (HEADER_NRCPUS).
    pub available: Option<u32>,
    /// The CPUs records came from.
    pub recorded: Vec<u32>,
}

/// Samples of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventCount {
    /// The event's name (`sched:sched_switch`).
    pub name: String,
    /// Its samples in the time range.
    pub samples: u64,
}

/// What the kernel dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// Records dropped because a ring buffer was full (PERF_RECORD_LOST).
    pub records: u64,
    /// Samples dropped (PERF_RECORD_LOST_SAMPLES).
    pub samples: u64,
    /// Whether `samples` counts the same drops as `records` again: perf
    /// 6.x reads each event's lost count (`read_format` LOST) at the end
    /// and writes it as LOST_SAMPLES, which counts the very records that
    /// PERF_RECORD_LOST reported.
    pub samples_recount_records: bool,
    /// Events lost in all.
    pub total: u64,
}

impl Lost {
    /// Events lost in all: both kinds, or the larger when one recounts the
    /// other.
    pub fn total(&self) -> u64 {
        if self.samples_recount_records {
            self.records.max(self.samples)
        } else {
            self.records + self.samples
        }
    }
}

/// Where containers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerSource {
    /// One container per pid namespace, named, nested and typed by the
    /// container metadata perfns record stores in the recording; tasks are
    /// placed by NAMESPACES records and the metadata's task snapshot.
    PerfnsMetadata,
    /// One container per pid namespace (NAMESPACES records), named by the
    /// cgroup path of its tasks when samples carry cgroups.
    PidNamespaces,
    /// One container per cgroup (CGROUP records and sample cgroup ids); no
    /// NAMESPACES records.
    Cgroups,
    /// Neither: everything is the host.
    None,
}

/// Where CPU time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuTimeSource {
    /// `sched:sched_switch` tracepoint samples.
    SchedSwitch,
    /// PERF_RECORD_SWITCH_CPU_WIDE records (`--switch-events`).
    SwitchRecords,
    /// PERF_RECORD_SWITCH records of per-task events (`perfns record -p`,
    /// `perf record -p --switch-events`): each recorded task's own
    /// switches in and out, so only the recorded tasks' CPU time.
    TaskSwitchRecords,
    /// Neither was recorded: no CPU time, only sample counts.
    None,
}

/// One container's, or the host's, row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerReport {
    /// Stable key: `host`, `pidns:INODE` or `cgroup:ID`.
    pub key: String,
    /// Its name: from perfns's metadata, else the container its cgroup
    /// path names (`/perfns/NAME`, a Docker id's first 12 digits, ...),
    /// else the last part of the cgroup path, else its key.
    pub name: String,
    /// What made it (`docker`, `podman`, `lxc`, `perfns`, `unknown`...),
    /// when its cgroup path or perfns's metadata tells.
    pub runtime: Option<String>,
    /// Its cgroup path, when known.
    pub cgroup: Option<String>,
    /// The runtime's full container id (Docker, Podman, containerd,
    /// CRI-O), when known; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The labels its runtime keeps for it, when perfns record read them;
    /// absent when none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its Kubernetes namespace, pod and container name, when perfns
    /// record read them; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<perfns::container::KubernetesIdentity>,
    /// Its pid namespace inode, when known.
    pub pid_ns: Option<u64>,
    /// Its parent container's key (none for the host and top-level ones).
    pub parent: Option<String>,
    /// Nesting depth (0 for the host and top-level containers; always 0
    /// with `--flat`).
    pub depth: usize,
    /// Figures of its own tasks.
    pub own: Figures,
    /// Figures of its own tasks and its descendants' (the roll-up a
    /// hierarchical tracer scope sees).
    pub total: Figures,
    /// Its busiest processes (own tasks), by the sort key, at most `--top`.
    pub top_processes: Vec<ProcessFigures>,
    /// Its most called syscalls (own tasks), at most `--top`.
    pub top_syscalls: Vec<SyscallFigures>,
    /// Its own tasks' uprobe hits and calls, each probe they hit, most
    /// hits first. Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uprobes: Vec<UprobeFigures>,
    /// Its own tasks' user events written, each event they wrote, most
    /// first. Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_events: Vec<TracepointCount>,
    /// Its own tasks' hits of the other tracepoints the report has no
    /// table of its own for, each they hit, most first. Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tracepoints: Vec<TracepointCount>,
    /// With `--profile`: its own tasks' samples by function. Absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ContainerProfile>,
}

impl ContainerReport {
    /// Its labels as one JSON object (`{"app":"shop"}`), as the CSV and
    /// Parquet exports carry them; `None` when it has none.
    pub fn labels_json(&self) -> Option<String> {
        if self.labels.is_empty() {
            return None;
        }
        serde_json::to_string(&self.labels).ok()
    }
}

/// The three analyses' figures for a set of tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// cputop.
    pub cpu: CpuFigures,
    /// memtop.
    pub memory: MemoryFigures,
    /// syscalls.
    pub syscalls: SyscallTotals,
}

/// CPU time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuFigures {
    /// Time on CPU in the time range.
    pub time_ns: u64,
    /// `time_ns` in percent of one CPU over the range (150 = one and a half
    /// CPUs).
    pub percent: f64,
    /// Samples of sampling events (not tracepoints).
    pub samples: u64,
}

/// Page allocator traffic (kmem:mm_page_alloc / kmem:mm_page_free).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryFigures {
    /// Pages allocated (an order-n allocation is 2^n pages).
    pub pages_allocated: u64,
    /// Pages freed.
    pub pages_freed: u64,
    /// Allocated minus freed.
    pub pages_net: i64,
    /// Allocations by order: order → number of allocations.
    pub allocations_by_order: BTreeMap<u32, u64>,
}

/// Syscall totals (raw_syscalls:sys_enter / sys_exit).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyscallTotals {
    /// Calls entered in the range.
    pub calls: u64,
    /// Calls that returned an error (-4095..-1): of the calls entered in
    /// the range, and of those whose entry was not recorded that return
    /// in it.
    pub errors: u64,
    /// Calls whose entry and exit were both seen, which the latencies
    /// cover.
    pub timed_calls: u64,
    /// Summed latency of the timed calls.
    pub latency_total_ns: u64,
    /// Average latency of the timed calls.
    pub latency_avg_ns: u64,
    /// Longest latency.
    pub latency_max_ns: u64,
}

/// One syscall's figures in a container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyscallFigures {
    /// Its name in the recorded architecture's table (`syscall_N` when the
    /// table has none).
    pub name: String,
    /// Its number.
    pub nr: u64,
    /// Its figures.
    #[serde(flatten)]
    pub figures: SyscallTotals,
}

/// One uprobe's figures in a container (`perfns record --uprobe`, or perf
/// probe's events). The latency fields are null when no return probe of
/// it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UprobeFigures {
    /// The probe: its entry event's name (`uprobes:SYMBOL`,
    /// `probe_BIN:SYMBOL`).
    pub probe: String,
    /// Entries (the entry probe's hits) in the range.
    pub hits: u64,
    /// Returns (the return probe's hits): of the calls entered in the
    /// range, and of those entered before the recording that return in it.
    pub returns: Option<u64>,
    /// Calls whose entry and return were both seen (paired per thread,
    /// innermost first), which the latencies cover.
    pub timed_calls: Option<u64>,
    /// Their summed latency, entry to return.
    pub latency_total_ns: Option<u64>,
    /// Their average latency.
    pub latency_avg_ns: Option<u64>,
    /// The longest.
    pub latency_max_ns: Option<u64>,
    /// The median, within 1/32.
    pub latency_p50_ns: Option<u64>,
    /// The 99th percentile, within 1/32.
    pub latency_p99_ns: Option<u64>,
}

/// How many times a container's tasks hit a tracepoint the report counts
/// by name: a user event (`perfns record --user-events`, or perf record's
/// user events), or another it has no table for (`-e
/// syscalls:sys_enter_openat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TracepointCount {
    /// The tracepoint: `SYSTEM:NAME` (`syscalls:sys_enter_openat`,
    /// `user_events:request_done`; with the perfns series,
    /// `user_events_<ID>:request_done` for tracer namespace ID's group).
    pub event: String,
    /// How many times it was hit (a user event: written), its samples, in
    /// the range.
    pub count: u64,
}

/// One process's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessFigures {
    /// Its pid (in the recording's pid namespace).
    pub pid: i32,
    /// Its command name.
    pub comm: String,
    /// How many of its threads were seen.
    pub threads: usize,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A process row of `--per-process`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessReport {
    /// The key of its container.
    pub container: String,
    /// Its figures.
    #[serde(flatten)]
    pub process: ProcessFigures,
}
