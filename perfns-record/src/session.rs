//! The record loop's core, as a library: open the events on every CPU,
//! write the statedump, drain the ring buffers into the recording, count
//! what was lost, and finish a valid file.
//!
//! [`Recorder`] knows nothing of signals, terminals or child commands: the
//! command line (`crate::run`) and tests drive it with [`Recorder::wait`],
//! [`Recorder::drain`] and [`Recorder::finish`], and so will the tracer
//! scope recording (issue 7), which differs only in its attr flags
//! ([`SessionConfig::extra_flags`]) and [`RecordingMode`].

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use byteorder::NativeEndian;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use perfns::abi::{self, tracer_scope, OpenError, Target};
use perfns::attr::{read_format, AttrSet, EventAttr, EventDesc, SampleLayout};
use perfns::container::{
    choose_container, Container, ContainerRef, ContainerRegistry, CpuLoss, NotOneContainer,
    RecordingMeta, RecordingMode, RecordingScope, META_VERSION,
};
use perfns::perf_data::{Features, PerfDataError, TracingData};

use crate::output::{self, Output};
use perfns::record::{
    ns_index, NamespaceLink, RawData, RawRecord, Record, RecordHeader, RecordType,
};
use perfns::ring::{DrainError, RingBuffer};
use perfns::tracepoint::{Tracefs, TracepointError};

pub mod live;
mod processes;
mod switch;
pub(crate) mod tasks;
pub use switch::timestamped;

use crate::events::{self, EventGroups, Mappings, PlannedEvent, Profile, TracepointPattern};
use crate::runtime_names::RuntimeNames;
use crate::statedump;
use crate::uprobe::{Uprobe, UprobeError, UprobePmu};
use crate::user_events::{UserEvent, UserEventsError};

/// What to record and where.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The recording file, created or truncated.
    pub output: PathBuf,
    /// The event groups.
    pub groups: EventGroups,
    /// `-e SYSTEM:NAME`: tracepoints named beside the groups' (globs
    /// resolved in tracefs when the events are planned).
    pub tracepoints: Vec<TracepointPattern>,
    /// `--uprobe`: probes on functions of ELF files, resolved.
    pub uprobes: Vec<Uprobe>,
    /// `--user-events`: the user events `user_events_status` listed.
    pub user_events: Vec<UserEvent>,
    /// `--profile`: a sampled profile with call chains, and the mappings
    /// that symbolize it.
    pub profile: Option<Profile>,
    /// Data pages of each CPU's ring buffer, a power of two.
    pub mmap_pages: usize,
    /// Which tasks the recording is about; a [`RecordingScope::Container`]
    /// is resolved from [`Self::container`].
    pub scope: RecordingScope,
    /// `--container`: a container's name, runtime id (or its prefix), key
    /// or cgroup path ([`find_container`]), checked against the containers
    /// running when recording starts.
    pub container: Option<String>,
    /// How the events are opened.
    pub mode: RecordingMode,
    /// Attr flags added to every event (the tracer-scope bits).
    pub extra_flags: u64,
    /// The CPUs to record; `None` for every online CPU.
    pub cpus: Option<Vec<u32>>,
    /// Where tracefs is; `None` to find (or mount) it.
    pub tracefs: Option<PathBuf>,
    /// `--cgroup`: limit the events to this cgroup (v2 path from the root,
    /// `/perfns/demo`) and its descendants. `--container` sets it to the
    /// container's cgroup.
    pub cgroup: Option<String>,
    /// Write what was drained to the file (and the features after it) at
    /// least this often, so that a killed or disk-full recording keeps it.
    pub flush_interval: Duration,
    /// `-z`: compress the records with zstd at this level (1 to 22).
    pub compression_level: Option<u32>,
    /// `-p`: with [`RecordingMode::PerProcess`], the processes whose
    /// threads (and the tasks they make once recording started) are
    /// recorded, each thread's events opened on every CPU.
    pub pids: Vec<i32>,
}

impl SessionConfig {
    /// A system-wide recording of every group on every online CPU.
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            groups: EventGroups::ALL,
            tracepoints: Vec::new(),
            uprobes: Vec::new(),
            user_events: Vec::new(),
            profile: None,
            mmap_pages: DEFAULT_MMAP_PAGES,
            scope: RecordingScope::System,
            container: None,
            mode: RecordingMode::SystemWide,
            extra_flags: 0,
            cpus: None,
            tracefs: None,
            cgroup: None,
            flush_interval: Duration::from_secs(1),
            compression_level: None,
            pids: Vec::new(),
        }
    }
}

/// The ring buffer size per CPU in pages of a [`SessionConfig::new`]:
/// 512 KiB with 4 KiB pages, perf record's default (what the kernel's
/// perf_event_mlock_kb allows). `perfns record` picks its own default from
/// what it may lock ([`crate::mmap_size::default_data_pages`]).
pub const DEFAULT_MMAP_PAGES: usize = 128;

/// Recording failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// An event could not be opened (privilege, missing tracepoint, ...).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A tracepoint's format could not be read (it does not exist, or
    /// tracefs is missing).
    #[error(transparent)]
    Tracepoint(#[from] TracepointError),
    /// A `--uprobe` cannot be opened (no uprobe PMU).
    #[error(transparent)]
    Uprobe(#[from] UprobeError),
    /// A `--user-events` event has no id to open it by.
    #[error(transparent)]
    UserEvents(#[from] UserEventsError),
    /// The recording file could not be created or written (a full disk:
    /// the file keeps what the last successful write made it).
    #[error(transparent)]
    File(#[from] PerfDataError),
    /// A ring buffer could not be mapped, or an event ioctl failed.
    #[error("CPU {cpu}: {what}")]
    Cpu {
        /// The CPU.
        cpu: u32,
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading the system's tasks, CPUs or tracing data failed.
    #[error("{what}")]
    System {
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--container` names no running container.
    #[error("no running container matches `{wanted}` (running: {running})")]
    NoSuchContainer {
        /// What was asked for.
        wanted: String,
        /// The containers there are, `name (runtime)`.
        running: String,
    },
    /// `--container` names more than one running container.
    #[error(
        "`{wanted}` names more than one running container: {matches}; name one by its key \
         (pidns:INODE) or a longer id"
    )]
    AmbiguousContainer {
        /// What was asked for.
        wanted: String,
        /// The containers it names, `name (runtime, key, id)`.
        matches: String,
    },
    /// `-p` names a process that does not exist.
    #[error("process {pid} does not exist (no /proc/{pid}/task): nothing to record for -p {pid}")]
    NoSuchProcess {
        /// The pid given.
        pid: i32,
    },
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
    /// The output path no longer names the file being written: it was
    /// removed (or replaced) while recording. The recording was finished
    /// into the file, which no path reaches now.
    #[error(
        "{}: the recording file was removed or replaced while recording; the {records} \
         records written to it ({bytes} bytes) are lost with it",
        path.display()
    )]
    OutputGone {
        /// The output path.
        path: PathBuf,
        /// Records drained into the lost file.
        records: u64,
        /// Bytes of records written to it.
        bytes: u64,
    },
}

/// One CPU's events and ring buffers.
#[derive(Debug)]
struct CpuRing {
    cpu: u32,
    /// The events, in plan order for each target (the CPU, a cgroup on
    /// it, or with `-p` each thread on it): the side-band event, then the
    /// data events. The first target's side-band event owns `sideband`,
    /// its first data event owns `data`; every other event's records go
    /// to the one of its kind.
    fds: Vec<OwnedFd>,
    /// The events of each target: the plan's length.
    events: usize,
    /// Per target: its tasks are all gone (its events hung up, POLLHUP),
    /// and it is polled no more. Only with `-p`.
    hung_up: Vec<bool>,
    sideband: RingBuffer,
    data: RingBuffer,
    loss: CpuLoss,
    /// The PERF_RECORD_LOST counts each buffer reported, side-band then
    /// data: the kernel's own count of each event's losses (read_format
    /// LOST) exceeds them by what it had no room to report yet.
    reported: [u64; 2],
    /// The time of the newest record drained on this CPU.
    last_time: u64,
    /// The ids the file knows this CPU's events by, as `fds` (in plan
    /// order for each target): those of the events first opened on it.
    file_ids: Vec<u64>,
    /// `(kernel's id, file's id)` of events opened again when the CPU came
    /// back online, whose records are rewritten to the file's ids; empty
    /// for the first events.
    renamed: Vec<(u64, u64)>,
    /// The CPU is offline: its events died with it (the kernel takes them
    /// out of its context for good).
    offline: bool,
    /// The events died with the CPU; the CPU's events opened again come
    /// later in [`Recorder::rings`]. Still drained, for what the dead
    /// events wrote before.
    dead: bool,
    /// Opening the events again failed and was said once.
    reopen_failed: bool,
}

/// Pages of each CPU's side-band ring buffer: task events are rare next to
/// samples, and the recorder drains at each one.
pub fn sideband_pages(mmap_pages: usize) -> usize {
    (mmap_pages / 4).clamp(8, 256)
}

/// How far a recording has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Time since the events were enabled.
    pub elapsed: Duration,
    /// Records drained from the ring buffers.
    pub records: u64,
    /// Of which samples (tracepoint hits).
    pub samples: u64,
    /// Bytes of records written (drained and synthesized).
    pub bytes: u64,
    /// Records the kernel dropped (sum of PERF_RECORD_LOST).
    pub lost: u64,
    /// Samples the kernel dropped before the buffer (PERF_RECORD_LOST_SAMPLES).
    pub lost_samples: u64,
    /// Passes over the ring buffers that found something.
    pub rounds: u64,
    /// Bytes skipped because a ring buffer held something that is not a
    /// record (never seen; would be a kernel or reader bug).
    pub corrupt_bytes: u64,
}

/// What a finished recording holds.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    /// The file.
    pub output: PathBuf,
    /// Its size in bytes.
    pub file_size: u64,
    /// Counts at the end.
    pub progress: Progress,
    /// Losses of every recorded CPU, in CPU order.
    pub cpus: Vec<CpuLoss>,
    /// The ring buffer size used, in pages per CPU.
    pub mmap_pages: usize,
    /// What was stored in the perfns extension.
    pub meta: RecordingMeta,
    /// With `-z`: bytes of records per byte written.
    pub compression_ratio: Option<f64>,
}

/// A recording in progress.
#[derive(Debug)]
pub struct Recorder {
    config: SessionConfig,
    writer: Output,
    rings: Vec<CpuRing>,
    /// The attr non-sample records are parsed with (every event has the
    /// same sample_id layout).
    sideband: EventAttr,
    /// The events, by the ids the file knows them by: where each one's
    /// records keep their time (the same place in every non-sample
    /// record; in samples, a profile's keeps it after its instruction
    /// pointer).
    events: AttrSet,
    features: Features,
    meta: RecordingMeta,
    registry: ContainerRegistry,
    tasks: TaskNamespaces,
    /// The looks in /proc the records of the current drain asked for.
    lookups: Vec<ProcLookup>,
    /// The last pass found a buffer [`BUSY_FRACTION`] full or more.
    busy: bool,
    /// Whether the events report their losses when read (Linux 6.0+).
    lost_readable: bool,
    /// Set when a new container was learned since the features were last
    /// given to the writer.
    meta_dirty: bool,
    /// How many times the metadata was refreshed: a live consumer takes it
    /// anew when this changes ([`Recorder::meta_generation`]).
    meta_generation: u64,
    /// The output file's device and inode, to tell whether the path still
    /// names it (`None` for stdout).
    output_id: Option<(u64, u64)>,
    /// The path was seen not to name it, and the user told.
    output_gone: bool,
    started: Instant,
    last_flush: Instant,
    /// [`Progress::bytes`] at the last periodic flush.
    flushed_bytes: u64,
    progress: Progress,
    /// The events, for opening them again on a CPU that comes back online.
    plan: Vec<PlannedEvent>,
    /// The cgroup the events are limited to, open for the same reason.
    cgroup_dir: Option<std::fs::File>,
    last_cpu_check: Instant,
    /// CPUs online that were not when recording started, said once.
    unrecorded_cpus: std::collections::BTreeSet<u32>,
    /// What happened to CPUs going offline and online, not yet taken by
    /// [`Recorder::take_notes`].
    notes: Vec<String>,
    /// The containers' names in their runtimes.
    names: RuntimeNames,
    /// Losses of the files finished by [`Recorder::switch_output`], per
    /// CPU (`CpuRing::loss` counts the current file's).
    losses_switched: Vec<CpuLoss>,
}

/// A pass that finds a buffer at least 1/BUSY_FRACTION full says records
/// come fast: [`Recorder::busy`]. Below that the recorder may sleep until
/// the next wakeup (an eighth of a data buffer), with most of the buffer
/// left. A pass that found anything at all, perf record's rule, would keep
/// a recorder of system calls busy with its own: each pass makes a few.
const BUSY_FRACTION: u64 = 8;

/// After how many intervals in a row without a task a live session forgets
/// a container: the analysis shows a task one interval after the one whose
/// records hand on its EXIT (its last switch out may follow), and that
/// may be the interval after the one that drained it; until then the
/// container keeps its name.
pub(crate) const FORGET_AFTER: u32 = 4;

/// How often the recorder looks for CPUs gone offline or back online. A
/// CPU that goes offline and back between two looks is not seen: its
/// events are dead and nothing more is recorded on it.
const CPU_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Moves a non-empty file at `output` to `OUTPUT.old` (replacing what is
/// there), as perf record does (check_backup() in tools/perf/util/data.c):
/// the recording is then written to a new file, and a reader of the older
/// one (perfns report, perf report) goes on reading it whole instead of
/// seeing it truncated under its memory map.
fn move_to_old(output: &std::path::Path) -> Result<(), RecordError> {
    match std::fs::metadata(output) {
        Ok(m) if m.is_file() && m.len() > 0 => {}
        _ => return Ok(()),
    }
    let mut old = output.as_os_str().to_owned();
    old.push(".old");
    let old = PathBuf::from(old);
    std::fs::rename(output, &old).map_err(system(format!(
        "moving the older recording {} to {}",
        output.display(),
        old.display()
    )))
}

/// What the kernel takes, as [`probe_privilege`] found.
#[derive(Debug, Clone, Copy)]
struct Probed {
    /// The kernel reports lost samples in reads (read_format LOST, Linux
    /// 6.0).
    lost_readable: bool,
    /// With `--profile`: the mappings the side-band event may carry (a
    /// tracer scope from before scoped mappings refuses them, one without
    /// data mappings refuses those).
    mappings: Mappings,
}

/// Opens the side-band event on `first` (one CPU) as the recording will:
/// the check that the recorder may record, made before anything else;
/// then, with `--profile` in tracer scope, whether the scope gives the
/// mappings.
fn probe_privilege(config: &SessionConfig, target: Target) -> Result<Probed, RecordError> {
    let mut probe = events::sideband_event(config.extra_flags, Mappings::None);
    let lost_readable = match abi::open_event(&probe.attr, target, None) {
        Ok(_) => true,
        Err(e) if e.errno() == Some(libc::EINVAL) => {
            // read_format LOST came in Linux 6.0; without it, the
            // losses the kernel reports in LOST records are all.
            probe.attr.read_format &= !read_format::LOST;
            drop(abi::open_event(&probe.attr, target, None).map_err(|e| e.named(&probe.name))?);
            false
        }
        Err(e) => return Err(e.named(&probe.name).into()),
    };
    let mut mappings = Mappings::for_profile(config.profile.as_ref());
    while mappings != Mappings::None && config.mode == RecordingMode::TracerScope {
        let mut with = probe.clone();
        with.attr.flags = events::sideband_event(config.extra_flags, mappings)
            .attr
            .flags;
        match abi::open_event(&with.attr, target, None) {
            Ok(_) => break,
            Err(e) => match fewer_mappings(mappings, e.errno()) {
                Some(fewer) => mappings = fewer,
                None => return Err(e.named(&with.name).into()),
            },
        }
    }
    Ok(Probed {
        lost_readable,
        mappings,
    })
}

/// What to ask a tracer scope for when it refused `asked` mappings with
/// `errno`: EOPNOTSUPP or EINVAL from a kernel of the series from before
/// scoped mappings (or without data mappings) asks for less; any other
/// error is the recording's (`None`).
fn fewer_mappings(asked: Mappings, errno: Option<i32>) -> Option<Mappings> {
    if !matches!(errno, Some(libc::EOPNOTSUPP | libc::EINVAL)) {
        return None;
    }
    Some(match asked {
        Mappings::All => Mappings::Executable,
        _ => Mappings::None,
    })
}

/// What `perfns record --profile` says when the tracer scope refuses the
/// mappings: the profile is recorded, its user frames as bare addresses.
pub const NO_SCOPED_MAPPINGS: &str = "--profile: this kernel's tracer scope refuses the \
    mappings (PERF_RECORD_MMAP2) to the side-band event (a kernel of the perfns series from \
    before scoped mappings): the profile is recorded, but its user frames are bare addresses \
    that cannot be symbolized; boot a kernel with them";

/// What `perfns record --call-graph dwarf` says when the tracer scope
/// gives the executable mappings but refuses the data ones.
pub const NO_SCOPED_DATA_MAPPINGS: &str = "--call-graph dwarf: this kernel's tracer scope \
    refuses data mappings (mmap_data) to the side-band event: an unwinder that reads a \
    file's .eh_frame_hdr from its mapping stops at the first frame; --call-graph fp needs \
    none";

/// The events to open, from tracefs's formats: each group's, the named
/// tracepoints, the uprobes and the user events, waking the reader at an eighth of the buffer,
/// without read_format LOST where the kernel has none.
fn plan_events(
    config: &SessionConfig,
    tracefs: &Tracefs,
    probed: Probed,
) -> Result<Vec<PlannedEvent>, RecordError> {
    let mut plan = events::plan(
        config.groups,
        &config.tracepoints,
        config.profile.as_ref(),
        tracefs,
        config.extra_flags,
    )?;
    plan[0].attr.flags &= !Mappings::All.flags();
    plan[0].attr.flags |= probed.mappings.flags();
    if !config.uprobes.is_empty() {
        let pmu = UprobePmu::of_this_kernel()?;
        plan.extend(
            config
                .uprobes
                .iter()
                .map(|u| u.planned_event(pmu, config.extra_flags)),
        );
    }
    for event in &config.user_events {
        // One `-e` named too.
        if plan.iter().any(|p| p.name == event.full_name()) {
            continue;
        }
        let format = event.format(tracefs)?;
        plan.push(event.planned_event(format, config.extra_flags));
    }
    let page = abi::page_size().map_err(system("reading the page size"))?;
    events::wake_at_an_eighth(&mut plan, (config.mmap_pages * page) as u64);
    if !probed.lost_readable {
        for e in &mut plan {
            e.attr.read_format &= !read_format::LOST;
        }
    }
    Ok(plan)
}

/// The containers of the snapshot `tasks`, named as their runtimes name
/// them (before `--container` is looked up, so that it takes those
/// names), and the problems met naming them.
fn learn_containers(
    config: &SessionConfig,
    tasks: &[perfns::container::TaskSnapshot],
) -> Result<(ContainerRegistry, RuntimeNames, Vec<String>), RecordError> {
    let mut registry =
        ContainerRegistry::new().map_err(system("reading the recorder's pid namespace"))?;
    if config.mode == RecordingMode::TracerScope {
        // The recorder's own container is the root: named by its
        // hostname, as the containers nested in it are.
        if let Ok(u) = nix::sys::utsname::uname() {
            registry.name_root(u.nodename().to_string_lossy().into_owned());
        }
    }
    registry.learn_snapshot(tasks);
    let mut names = RuntimeNames::for_this_host();
    names.observe(&registry);
    let (_, name_problems) = names.resolve(&mut registry, false);
    Ok((registry, names, name_problems))
}

/// The recording's scope: `--container`'s match, whose cgroup then
/// becomes `config.cgroup`, else the configured one.
fn resolve_container(
    config: &mut SessionConfig,
    registry: &ContainerRegistry,
) -> Result<RecordingScope, RecordError> {
    let mut scope = config.scope.clone();
    if let Some(wanted) = &config.container {
        let containers = registry.containers();
        let c = find_container(&containers, wanted)?;
        scope = RecordingScope::Container {
            key: c.key,
            name: c.name.clone(),
        };
        if c.key != registry.host() {
            // The root cgroup holds every task: a pid namespace made
            // without a cgroup of its own cannot be told apart.
            let Some(cgroup) = c.cgroup.clone().filter(|g| g != "/") else {
                return Err(RecordError::Config(format!(
                    "container {} ({}): it has no cgroup of its own (or it could not \
                     be read), so its events cannot be told apart; record the machine \
                     (-a) instead",
                    c.name,
                    c.runtime.name()
                )));
            };
            config.cgroup = Some(cgroup);
        }
    }
    Ok(scope)
}

/// The events of `plan` opened on each CPU, into one ring buffer per CPU,
/// counting only `cgroup_dir`'s tasks when one is given, or only the
/// threads `tids` (and, inherited, the tasks they make) with `-p`. A
/// thread that exits before its events are opened is left out.
fn open_rings(
    plan: &[PlannedEvent],
    cpus: &[u32],
    cgroup_dir: Option<&std::fs::File>,
    tids: &[i32],
    mmap_pages: usize,
) -> Result<Vec<CpuRing>, RecordError> {
    let mut tids = tids.to_vec();
    let mut rings = Vec::with_capacity(cpus.len());
    for &cpu in cpus {
        let targets: Vec<Target> = match cgroup_dir {
            _ if !tids.is_empty() => tids
                .iter()
                .map(|&pid| Target::Task {
                    pid,
                    cpu: Some(cpu),
                })
                .collect(),
            Some(dir) => vec![Target::Cgroup {
                fd: dir.as_raw_fd(),
                cpu,
            }],
            None => vec![Target::Cpu(cpu)],
        };
        let (ring, gone) = open_cpu(plan, &targets, cpu, mmap_pages)?;
        tids.retain(|&t| {
            !gone
                .iter()
                .any(|g| matches!(g, Target::Task { pid, .. } if *pid == t))
        });
        rings.push(ring);
    }
    Ok(rings)
}

/// The recording file (or pipe), created once the events are open, and
/// its device and inode (none for a pipe).
fn create_output(
    config: &SessionConfig,
    plan: &[PlannedEvent],
    rings: &[CpuRing],
) -> Result<(Output, Option<(u64, u64)>), RecordError> {
    let descs = event_descs(plan, rings);
    // Only now, once the events are open: a recording that cannot
    // start leaves an older one where it was.
    let to_stdout = output::is_stdout(&config.output);
    if !to_stdout {
        move_to_old(&config.output)?;
    }
    let writer = Output::create(&config.output, &descs, config.compression_level)?;
    let output_id = if writer.is_pipe() {
        None
    } else {
        Some(
            std::fs::metadata(&config.output)
                .map(|m| (m.dev(), m.ino()))
                .map_err(system(format!("{}", config.output.display())))?,
        )
    };
    Ok((writer, output_id))
}

/// The events as the recording describes them, with the ids of each
/// CPU's instances.
fn event_descs(plan: &[PlannedEvent], rings: &[CpuRing]) -> Vec<EventDesc> {
    plan.iter()
        .enumerate()
        .map(|(i, e)| EventDesc {
            attr: e.attr.clone(),
            ids: rings.iter().flat_map(|r| r.file_ids_of(i)).collect(),
            name: e.name.clone(),
        })
        .collect()
}

/// This host's features, with the tracing data of the planned
/// tracepoints and the build-ids of the uprobes' files.
fn recording_features(
    plan: &[PlannedEvent],
    tracefs: &Tracefs,
    uprobes: &[Uprobe],
) -> Result<Features, RecordError> {
    let formats: Vec<_> = plan.iter().filter_map(|e| e.format.clone()).collect();
    let mut features = Features::for_this_host();
    for entry in uprobes.iter().filter_map(Uprobe::build_id_entry) {
        if !features.build_ids.contains(&entry) {
            features.build_ids.push(entry);
        }
    }
    if !formats.is_empty() {
        features.tracing_data =
            Some(TracingData::from_tracefs(tracefs, &formats).map_err(|e| {
                RecordError::System {
                    what: format!("reading tracing data: {}", e.path.display()),
                    source: e.source,
                }
            })?);
    }
    Ok(features)
}

fn system(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RecordError {
    let what = what.into();
    move |source| RecordError::System { what, source }
}

impl Recorder {
    /// Opens the events on every CPU (disabled), creates the recording,
    /// writes the statedump of the tasks that exist, and enables the
    /// events.
    pub fn start(config: SessionConfig) -> Result<Self, RecordError> {
        Self::start_with(config, false)
    }

    /// [`Self::start`] without a file: the records go to
    /// [`live::LiveRecords`] ([`live::LiveSession`]), `config.output` is
    /// not used.
    pub(crate) fn start_live(config: SessionConfig) -> Result<Self, RecordError> {
        Self::start_with(config, true)
    }

    fn start_with(config: SessionConfig, live: bool) -> Result<Self, RecordError> {
        if !config.mmap_pages.is_power_of_two() {
            return Err(RecordError::Config(format!(
                "-m/--mmap-pages {}: the kernel needs a power of two",
                config.mmap_pages
            )));
        }
        let cpus = match &config.cpus {
            Some(c) => c.clone(),
            None => abi::online_cpus().map_err(system("reading the online CPUs"))?,
        };
        let first_cpu = cpus.first().copied().unwrap_or(0);
        // With -p, the threads of the processes: a process that does not
        // exist is refused by name, before anything else.
        let tids = match config.mode {
            RecordingMode::PerProcess => processes::threads_of(&config.pids)?,
            _ => Vec::new(),
        };
        let probe_target = match tids.first() {
            Some(&pid) => Target::Task {
                pid,
                cpu: Some(first_cpu),
            },
            None => Target::Cpu(first_cpu),
        };
        // Privilege first: without it tracefs is unreadable too, and its
        // error would hide the real cause.
        let probed = probe_privilege(&config, probe_target)?;
        let lost_readable = probed.lost_readable;
        let tracefs = match &config.tracefs {
            Some(root) => Tracefs::at(root),
            None => Tracefs::find_or_mount()?,
        };
        let plan = plan_events(&config, &tracefs, probed)?;

        // Reading /proc makes thousands of system calls: done before the
        // events are enabled, they are not recorded (nor do they fill the
        // buffers before the first drain). Tasks born between the snapshot
        // and the enabling are caught by a second, cheaper look.
        let tasks = tasks::snapshot_tasks().map_err(system("reading the tasks in /proc"))?;
        let (registry, names, name_problems) = learn_containers(&config, &tasks)?;
        let mut config = config;
        let scope = resolve_container(&mut config, &registry)?;
        let cgroup_dir = match &config.cgroup {
            None => None,
            Some(path) => Some(open_cgroup(path)?),
        };
        let rings = open_rings(&plan, &cpus, cgroup_dir.as_ref(), &tids, config.mmap_pages)?;
        let (mut writer, output_id) = if live {
            let descs = event_descs(&plan, &rings);
            (
                Output::Live(live::LiveRecords::new(descs).map_err(|e| {
                    RecordError::Config(format!("the events cannot be told apart: {e}"))
                })?),
                None,
            )
        } else {
            create_output(&config, &plan, &rings)?
        };
        let mut features = recording_features(&plan, &tracefs, &config.uprobes)?;
        let meta = RecordingMeta {
            version: META_VERSION,
            mode: config.mode,
            scope,
            host: registry.host(),
            containers: registry.containers(),
            tasks: Vec::new(),
            lost: Vec::new(),
        };
        features.perfns = Some(meta.to_json());
        writer.set_features(&features);

        let started = Instant::now();
        let mut rec = Self {
            sideband: plan[0].attr.clone(),
            events: AttrSet::new(event_descs(&plan, &rings)).map_err(|e| {
                RecordError::Config(format!("the events cannot be told apart: {e}"))
            })?,
            plan,
            cgroup_dir,
            last_cpu_check: started,
            unrecorded_cpus: Default::default(),
            notes: name_problems,
            names,
            losses_switched: Vec::new(),
            config,
            writer,
            rings,
            features,
            meta,
            registry,
            tasks: TaskNamespaces::default(),
            lookups: Vec::new(),
            busy: false,
            lost_readable,
            meta_dirty: true,
            meta_generation: 0,
            output_id,
            output_gone: false,
            started,
            last_flush: started,
            flushed_bytes: 0,
            progress: Progress::default(),
        };
        let wanted = Mappings::for_profile(rec.config.profile.as_ref());
        if probed.mappings < wanted {
            rec.notes.push(match probed.mappings {
                Mappings::None => NO_SCOPED_MAPPINGS.into(),
                _ => NO_SCOPED_DATA_MAPPINGS.into(),
            });
        }
        rec.write_statedump(&tasks)?;
        rec.enable()?;
        if rec.config.mode == RecordingMode::PerProcess {
            rec.notes
                .extend(processes::started_meanwhile(&rec.config.pids, &tids));
        }
        rec.started = Instant::now();
        rec.last_flush = rec.started;
        rec.learn_tasks(tasks)?;
        rec.refresh_meta();
        rec.writer.flush_header()?;
        rec.flushed_bytes = rec.progress.bytes;
        Ok(rec)
    }

    /// Enables the events on every CPU and, in tracer scope, asks the
    /// kernel for its statedump of the tasks in scope.
    fn enable(&mut self) -> Result<(), RecordError> {
        for r in &self.rings {
            for fd in &r.fds {
                abi::enable(fd.as_fd()).map_err(|source| RecordError::Cpu {
                    cpu: r.cpu,
                    what: "enabling an event".into(),
                    source,
                })?;
            }
        }
        if self.config.mode == RecordingMode::TracerScope {
            // The kernel's view of the tasks in scope, with their
            // tracer-namespace ancestry, beside the one /proc gave.
            if let Some(r) = self.rings.first() {
                tracer_scope::statedump(r.fds[0].as_fd()).map_err(|source| RecordError::Cpu {
                    cpu: r.cpu,
                    what: "asking for the tracer-namespace statedump".into(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Learns the tasks of the snapshot taken before the events were
    /// enabled and, with a second look, those born since (writing their
    /// statedump): their containers, pid namespaces and the metadata's
    /// task list.
    fn learn_tasks(
        &mut self,
        mut tasks: Vec<perfns::container::TaskSnapshot>,
    ) -> Result<(), RecordError> {
        let known: std::collections::HashSet<(i32, i32)> =
            tasks.iter().map(|t| (t.pid, t.tid)).collect();
        let born: Vec<_> = tasks::task_ids()
            .map_err(system("reading the tasks in /proc"))?
            .into_iter()
            .filter(|id| !known.contains(id))
            .filter_map(|(pid, tid)| tasks::read_task(pid, tid).ok())
            .collect();
        self.write_statedump(&born)?;
        tasks.extend(born);
        self.write_mappings(&tasks)?;
        self.registry.learn_snapshot(&tasks);
        for t in &tasks {
            if let Some(ns) = t.pid_ns() {
                self.tasks.pid_ns.insert(t.tid, ns);
            }
        }
        self.meta.tasks = tasks;
        Ok(())
    }

    /// Writes the synthesized records of `tasks`.
    fn write_statedump(
        &mut self,
        tasks: &[perfns::container::TaskSnapshot],
    ) -> Result<(), RecordError> {
        let nsfs_dev = std::fs::metadata("/proc/self/ns/pid")
            .map_err(system("/proc/self/ns/pid"))?
            .dev();
        let cgroup2 = perfns::container::cgroup2_mount();
        for r in statedump::statedump(tasks, nsfs_dev, cgroup2.as_deref()) {
            self.progress.bytes += u64::from(r.header.size);
            self.writer
                .write_record(r.header, RawData::Single(&r.body))?;
        }
        Ok(())
    }

    /// With `--profile`, outside the tracer scope (whose kernel statedump
    /// gives the tasks' mappings itself): the mappings of the processes of
    /// `tasks` and, but per process, the kernel's. Read once the events
    /// are enabled, so that a mapping made meanwhile is in a kernel
    /// record if not here (one in both is the same mapping twice, which
    /// readers take as one).
    fn write_mappings(
        &mut self,
        tasks: &[perfns::container::TaskSnapshot],
    ) -> Result<(), RecordError> {
        if self.config.profile.is_none() || self.config.mode == RecordingMode::TracerScope {
            return Ok(());
        }
        let data = Mappings::for_profile(self.config.profile.as_ref()) == Mappings::All;
        for r in statedump::mappings(tasks, true, data) {
            self.progress.bytes += u64::from(r.header.size);
            self.writer
                .write_record(r.header, RawData::Single(&r.body))?;
        }
        Ok(())
    }

    /// Gives the writer the current metadata, for its next flush.
    fn refresh_meta(&mut self) {
        self.name_containers(false);
        self.meta.containers = self.registry.containers();
        self.meta.lost = self
            .cpu_losses()
            .into_iter()
            .filter(|l| l.lost + l.lost_samples > 0 || l.offline > 0)
            .collect();
        self.features.perfns = Some(self.meta.to_json());
        self.writer.set_features(&self.features);
        self.meta_dirty = false;
        self.meta_generation += 1;
    }

    /// Names the containers learned lately from their runtimes' state
    /// (`last`: every one not named yet, one more time).
    fn name_containers(&mut self, last: bool) {
        self.names.observe(&self.registry);
        let (changed, problems) = self.names.resolve(&mut self.registry, last);
        self.meta_dirty |= changed;
        self.notes.extend(problems);
    }

    /// The file descriptors to poll for data: two per CPU (with `-p`, two
    /// per thread and CPU whose tasks have not all exited), each with its
    /// ring's index and target's.
    fn polled(&self) -> Vec<(usize, usize, BorrowedFd<'_>)> {
        let mut out = Vec::new();
        for (ring, r) in self.rings.iter().enumerate() {
            for (target, _) in r.hung_up.iter().enumerate().filter(|(_, &h)| !h) {
                let first = target * r.events;
                out.push((ring, target, r.fds[first].as_fd()));
                out.push((ring, target, r.fds[first + 1].as_fd()));
            }
        }
        out
    }

    /// The file descriptors to poll for data: [`Self::wait`]'s.
    pub fn poll_fds(&self) -> Vec<BorrowedFd<'_>> {
        self.polled().into_iter().map(|(_, _, fd)| fd).collect()
    }

    /// Waits until a ring buffer has data past its wakeup watermark
    /// ([`events::SIDEBAND_WAKEUP`] bytes of side-band records; an eighth
    /// of the data buffer), one of `extra` is readable, or `timeout`
    /// passes (`None`: forever). Returns which of `extra` are readable. A signal
    /// interrupting the wait counts as a timeout. With `-p`, the events of
    /// threads whose tasks have all exited hang up (POLLHUP, as the
    /// kernel's perf_poll() says once an event's task and its inherited
    /// children are gone): they are polled no more, and once every one has,
    /// [`Self::processes_exited`].
    pub fn wait(
        &mut self,
        timeout: Option<Duration>,
        extra: &[BorrowedFd<'_>],
    ) -> Result<Vec<bool>, RecordError> {
        let polled = self.polled();
        let mut fds: Vec<PollFd<'_>> = extra
            .iter()
            .copied()
            .chain(polled.iter().map(|&(_, _, fd)| fd))
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        };
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(vec![false; extra.len()]),
            Err(e) => return Err(system("poll")(e.into())),
        }
        let revents: Vec<PollFlags> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        let hung_up: Vec<(usize, usize)> = polled
            .iter()
            .zip(&revents[extra.len()..])
            .filter(|(_, r)| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
            .map(|(&(ring, target, _), _)| (ring, target))
            .collect();
        drop(fds);
        if self.config.mode == RecordingMode::PerProcess {
            for (ring, target) in hung_up {
                self.rings[ring].hung_up[target] = true;
            }
        }
        Ok(revents[..extra.len()]
            .iter()
            .map(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP))
            .collect())
    }

    /// With `-p`: every thread recorded, and every task they made, has
    /// exited (their events hung up); recording has nothing more to see,
    /// and perf record -p stops then too.
    pub fn processes_exited(&self) -> bool {
        self.config.mode == RecordingMode::PerProcess
            && self.rings.iter().all(|r| r.hung_up.iter().all(|&h| h))
    }

    /// One pass over every CPU's ring buffer: writes what each holds to the
    /// recording, counts losses, learns the containers of new pid
    /// namespaces, and ends the pass with a round marker. Flushes the file
    /// when [`SessionConfig::flush_interval`] has passed. Returns the bytes
    /// drained.
    pub fn drain(&mut self) -> Result<u64, RecordError> {
        let mut drained = 0;
        let mut busy = false;
        let Self {
            rings,
            writer,
            registry,
            sideband,
            events,
            progress,
            meta_dirty,
            tasks,
            lookups,
            ..
        } = self;
        // Every side-band buffer first: the records that name new
        // containers are seen as early as possible.
        for pass in [Pass::Sideband, Pass::Data] {
            for r in rings.iter_mut() {
                let (ring, reported) = match pass {
                    Pass::Sideband => (&mut r.sideband, &mut r.reported[0]),
                    Pass::Data => (&mut r.data, &mut r.reported[1]),
                };
                let renamed = &r.renamed;
                let mut seen = Seen {
                    loss: &mut r.loss,
                    reported,
                    last_time: &mut r.last_time,
                    progress,
                    tasks,
                    registry,
                    lookups,
                };
                let result = match pass {
                    // Samples in bulk, as perf record writes them: looked
                    // at (counted, their time) but neither parsed nor
                    // copied one by one.
                    Pass::Data if renamed.is_empty() => ring.drain_batch(
                        |raw| seen.note(raw, sideband, events),
                        |records| writer.write_records(records).map_err(RecordError::from),
                    ),
                    _ => ring.drain(|raw: RawRecord<'_>| -> Result<(), RecordError> {
                        if renamed.is_empty() {
                            writer.write_record(raw.header, raw.data)?;
                            seen.note(&raw, sideband, events);
                        } else {
                            let body = with_file_ids(&raw, renamed, events.layout(0));
                            writer.write_record(raw.header, RawData::Single(&body))?;
                            let renamed = RawRecord {
                                header: raw.header,
                                data: RawData::Single(&body),
                            };
                            seen.note(&renamed, sideband, events);
                        }
                        Ok(())
                    }),
                };
                if let Ok(stats) = &result {
                    busy |= stats.bytes >= ring.data_size() / BUSY_FRACTION;
                }
                match result {
                    Ok(stats) => drained += stats.bytes,
                    Err(DrainError::Corrupt {
                        skipped,
                        drained: d,
                        ..
                    }) => {
                        drained += d.bytes;
                        progress.corrupt_bytes += skipped;
                    }
                    Err(DrainError::Record { source, .. } | DrainError::Write { source, .. }) => {
                        return Err(source)
                    }
                }
            }
        }
        self.busy = busy;
        // The buffers are given back to the kernel: now the looks in /proc.
        for lookup in lookups.drain(..) {
            *meta_dirty |= lookup.apply(registry);
        }
        progress.bytes += drained;
        if drained > 0 {
            progress.rounds += 1;
            writer.write_finished_round()?;
            progress.bytes += RecordHeader::SIZE as u64;
        } else if let Some(live) = writer.live_mut() {
            // A whole pass that found nothing still comes after the one
            // before: its records may be handed on. Without it the last
            // records before a pause (a traced command blocked in a read)
            // would wait for the next record from anywhere.
            live.end_round();
        }
        if self.last_cpu_check.elapsed() >= CPU_CHECK_INTERVAL {
            self.last_cpu_check = Instant::now();
            self.check_cpus();
        }
        // Looking again for a name the runtimes' state did not give yet;
        // the metadata is refreshed only if one did.
        if self.names.wants_retry() {
            self.name_containers(false);
        }
        if self.meta_dirty {
            self.refresh_meta();
        }
        // Each flush rewrites the features after the records (the task
        // snapshot among them, about 130 bytes a task): not when nothing
        // new came.
        if self.progress.bytes != self.flushed_bytes
            && self.last_flush.elapsed() >= self.config.flush_interval
        {
            self.flushed_bytes = self.progress.bytes;
            self.writer.flush_header()?;
            self.last_flush = Instant::now();
            if !self.output_gone && !self.output_is_the_file() {
                self.output_gone = true;
                self.notes.push(format!(
                    "{} was removed or replaced: recording goes on into a file no path \
                     names, and is lost when it ends; stop and record again",
                    self.config.output.display()
                ));
            }
        }
        Ok(drained)
    }

    /// Notices CPUs gone offline (their events die with them) and CPUs
    /// back online, on which it opens the events again. The file keeps
    /// the first events' ids: the new events' records are rewritten to
    /// them, so the file has one id per event and CPU as perf expects.
    fn check_cpus(&mut self) {
        // Per-task events live in their tasks' contexts, not the CPU's:
        // they survive the CPU going offline, and count again when it
        // is back, with nothing to open again.
        if self.config.mode == RecordingMode::PerProcess {
            return;
        }
        // Not knowing which CPUs are online this time is no reason to stop.
        let Ok(online) = abi::online_cpus() else {
            return;
        };
        for &cpu in online.iter().filter(|_| self.config.cpus.is_none()) {
            if !self.rings.iter().any(|r| r.cpu == cpu) && self.unrecorded_cpus.insert(cpu) {
                // Its events' ids would not be in the file's attrs.
                self.notes.push(format!(
                    "cpu{cpu} came online after recording started: it is not recorded; \
                     record again to include it"
                ));
            }
        }
        let mut reopened = Vec::new();
        for r in self.rings.iter_mut().filter(|r| !r.dead) {
            let up = online.contains(&r.cpu);
            if !up && !r.offline {
                r.offline = true;
                r.loss.offline += 1;
                self.meta_dirty = true;
                self.notes.push(format!(
                    "cpu{} went offline: nothing is recorded on it while it is",
                    r.cpu
                ));
            } else if up && r.offline {
                let target = match &self.cgroup_dir {
                    Some(dir) => Target::Cgroup {
                        fd: dir.as_raw_fd(),
                        cpu: r.cpu,
                    },
                    None => Target::Cpu(r.cpu),
                };
                let opened = open_cpu(&self.plan, &[target], r.cpu, self.config.mmap_pages)
                    .and_then(|(new, _)| {
                        for fd in &new.fds {
                            abi::enable(fd.as_fd()).map_err(|source| RecordError::Cpu {
                                cpu: r.cpu,
                                what: "enabling an event".into(),
                                source,
                            })?;
                        }
                        Ok(new)
                    });
                match opened {
                    Ok(mut new) => {
                        new.renamed = new
                            .file_ids
                            .iter()
                            .copied()
                            .zip(r.file_ids.iter().copied())
                            .collect();
                        new.file_ids = r.file_ids.clone();
                        r.dead = true;
                        self.notes
                            .push(format!("cpu{} is back online: recording it again", r.cpu));
                        reopened.push(new);
                    }
                    // Still coming up: next time.
                    Err(RecordError::Open(e)) if e.errno() == Some(libc::ENODEV) => {}
                    Err(e) => {
                        if !r.reopen_failed {
                            r.reopen_failed = true;
                            self.notes.push(format!(
                                "cpu{} is back online, but its events could not be opened \
                                 again ({e}): nothing more is recorded on it",
                                r.cpu
                            ));
                        }
                    }
                }
            }
        }
        self.rings.extend(reopened);
    }

    /// Whether the output path still names the file being written.
    fn output_is_the_file(&self) -> bool {
        let Some(id) = self.output_id else {
            return true;
        };
        std::fs::metadata(&self.config.output).is_ok_and(|m| (m.dev(), m.ino()) == id)
    }

    /// What happened to the output file and to CPUs going offline and
    /// online since the last call, one line each, for the user.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The losses of every recorded CPU, in CPU order: those of its events
    /// before and after it went offline added up.
    fn cpu_losses(&self) -> Vec<CpuLoss> {
        let mut by_cpu = std::collections::BTreeMap::<u32, CpuLoss>::new();
        for r in &self.rings {
            let l = by_cpu.entry(r.cpu).or_insert(CpuLoss {
                cpu: r.cpu,
                ..CpuLoss::default()
            });
            l.lost += r.loss.lost;
            l.lost_samples += r.loss.lost_samples;
            l.offline += r.loss.offline;
        }
        by_cpu.into_values().collect()
    }

    /// Whether the last [`Self::drain`] found a buffer an eighth full or
    /// more ([`BUSY_FRACTION`]): records come fast, and the next pass
    /// should come at once rather than after a [`Self::wait`], so that the
    /// buffers are drained as fast as they fill, not an eighth at a time.
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// How far the recording has come.
    pub fn progress(&self) -> Progress {
        Progress {
            elapsed: self.started.elapsed(),
            ..self.progress
        }
    }

    /// The metadata as it stands (containers learned so far).
    pub fn meta(&self) -> &RecordingMeta {
        &self.meta
    }

    /// Changes each time [`Self::meta`] is refreshed (containers learned,
    /// named or forgotten, losses, CPUs going offline).
    pub fn meta_generation(&self) -> u64 {
        self.meta_generation
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The features as they stand: the host's, the tracing data, the
    /// perfns metadata.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// How many CPUs are recorded.
    pub fn cpu_count(&self) -> usize {
        self.rings.iter().filter(|r| !r.dead).count()
    }

    /// Forgets the containers none of whose tasks (nor their
    /// descendants') has been alive, as the records tell (each task's pid
    /// namespace, from the statedump and NAMESPACES records, until its
    /// EXIT), at [`FORGET_AFTER`] calls in a row: a live session's
    /// containers are those there are. `dead_for` counts the calls each
    /// container was found without a task in.
    pub(crate) fn forget_vanished_containers(&mut self, dead_for: &mut HashMap<u64, u32>) {
        let alive: std::collections::HashSet<u64> = self.tasks.pid_ns.values().copied().collect();
        let mut counted = HashMap::new();
        for c in self.registry.containers() {
            if !alive.contains(&c.key) {
                counted.insert(c.key, dead_for.get(&c.key).copied().unwrap_or(0) + 1);
            }
        }
        *dead_for = counted;
        let keep = |k: u64| dead_for.get(&k).is_none_or(|&n| n < FORGET_AFTER);
        if self.registry.forget_vanished(keep) > 0 {
            self.meta_dirty = true;
            self.refresh_meta();
        }
    }

    /// A live session's held records.
    pub(crate) fn live(&self) -> Option<&live::LiveRecords> {
        match &self.writer {
            Output::Live(l) => Some(l),
            _ => None,
        }
    }

    /// A live session's held records.
    pub(crate) fn live_mut(&mut self) -> Option<&mut live::LiveRecords> {
        self.writer.live_mut()
    }

    /// Disables the events on every CPU.
    fn disable(&mut self) -> Result<(), RecordError> {
        for r in &self.rings {
            for fd in &r.fds {
                abi::disable(fd.as_fd()).map_err(|source| RecordError::Cpu {
                    cpu: r.cpu,
                    what: "disabling an event".into(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Writes a PERF_RECORD_LOST for the records each buffer lost that the
    /// kernel had not reported yet when the events were disabled (it
    /// reports a loss with the next record it has room for, and after the
    /// last drain there is none): the file's LOST records then add up to
    /// the kernel's own count. The record has the buffer owner's id, the
    /// CPU, and the time of the CPU's newest record.
    fn write_unreported_losses(&mut self) -> Result<(), RecordError> {
        for r in &mut self.rings {
            for i in 0..2 {
                // The side-band events (each target's first), then the
                // data events.
                let fds = r
                    .fds
                    .iter()
                    .enumerate()
                    .filter(|(at, _)| (at % r.events == 0) == (i == 0));
                let mut lost = 0;
                for (_, fd) in fds {
                    lost += read_lost(fd.as_fd()).map_err(|source| RecordError::Cpu {
                        cpu: r.cpu,
                        what: "reading an event's lost count".into(),
                        source,
                    })?;
                }
                let unreported = lost.saturating_sub(r.reported[i]);
                if unreported == 0 {
                    continue;
                }
                // The file's id of the buffer's owner: the side-band event,
                // or the first data event.
                let id = r.file_ids[i];
                let rec = statedump::lost_record(id, unreported, r.last_time, r.cpu);
                self.writer
                    .write_record(rec.header, RawData::Single(&rec.body))?;
                self.progress.bytes += u64::from(rec.header.size);
                self.progress.lost += unreported;
                r.loss.lost += unreported;
                r.reported[i] += unreported;
            }
        }
        Ok(())
    }

    /// Disables the events, drains every buffer, and writes the final
    /// metadata (containers, losses) and features: the file is complete.
    pub fn finish(mut self) -> Result<RecordSummary, RecordError> {
        self.disable()?;
        // Disabled events write nothing more; one pass takes the rest.
        self.drain()?;
        if self.lost_readable {
            self.write_unreported_losses()?;
        }
        let progress = self.progress();
        self.name_containers(true);
        self.refresh_meta();
        let mut cpus = self.cpu_losses();
        for s in &self.losses_switched {
            if let Some(c) = cpus.iter_mut().find(|c| c.cpu == s.cpu) {
                c.lost += s.lost;
                c.lost_samples += s.lost_samples;
                c.offline += s.offline;
            }
        }
        let Self {
            writer,
            features,
            meta,
            config,
            ..
        } = self;
        // The last batch is compressed at this flush: the ratio is then
        // the whole file's.
        let mut writer = writer;
        if writer.compression_ratio()?.is_some() {
            writer.flush_header()?;
        }
        let compression_ratio = writer.compression_ratio()?;
        let streamed = writer.finish(&features)?;
        let file_size = match (streamed, std::fs::metadata(&config.output)) {
            (Some(bytes), _) => bytes,
            (None, Ok(m)) if Some((m.dev(), m.ino())) == self.output_id => m.len(),
            _ => {
                return Err(RecordError::OutputGone {
                    path: config.output,
                    records: progress.records,
                    bytes: progress.bytes,
                })
            }
        };
        Ok(RecordSummary {
            output: config.output,
            file_size,
            progress,
            cpus,
            mmap_pages: config.mmap_pages,
            meta,
            compression_ratio,
        })
    }
}

/// The record's bytes after its header, with the id of an event opened
/// again (`renamed`: kernel's id, file's id) replaced by the file's: the
/// id of a sample and of the sample_id trailer of other records, where the
/// events' `layout` keeps them, and the id a PERF_RECORD_LOST starts with.
fn with_file_ids(raw: &RawRecord<'_>, renamed: &[(u64, u64)], layout: &SampleLayout) -> Vec<u8> {
    let mut body = raw
        .data
        .range(0, raw.data.len())
        .unwrap_or_default()
        .into_owned();
    let kind = raw.header.kind;
    let mut at = Vec::with_capacity(2);
    if kind == RecordType::SAMPLE {
        at.extend(layout.sample_id);
    } else if kind == RecordType::LOST {
        at.push(0);
    }
    if kind != RecordType::SAMPLE && kind.is_kernel() && layout.trailer > 0 {
        let start = body.len().checked_sub(layout.trailer);
        at.extend(start.zip(layout.trailer_id).map(|(s, id)| s + id));
    }
    for at in at {
        let Some(b) = body.get_mut(at..at + 8) else {
            continue;
        };
        let id = u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        if let Some(&(_, file_id)) = renamed.iter().find(|(k, _)| *k == id) {
            b.copy_from_slice(&file_id.to_ne_bytes());
        }
    }
    body
}

/// Reads what an event's fd gives with [`events::READ_FORMAT`]:
/// `{ u64 value; u64 id; u64 lost; }`, and returns `lost`.
fn read_lost(fd: BorrowedFd<'_>) -> std::io::Result<u64> {
    let mut buf = [0u8; 24];
    let n = nix::unistd::read(fd.as_raw_fd(), &mut buf)?;
    if n != buf.len() {
        return Err(std::io::Error::other(format!(
            "read {n} bytes of an event's count, expected {}",
            buf.len()
        )));
    }
    let mut lost = [0u8; 8];
    lost.copy_from_slice(&buf[16..24]);
    Ok(u64::from_ne_bytes(lost))
}

/// The two passes of a drain.
#[derive(Clone, Copy)]
enum Pass {
    Sideband,
    Data,
}

/// Which pid namespace each task is in, and who forked it, as the records
/// tell: for naming the parent of a namespace whose tasks were gone before
/// `/proc` could show them.
#[derive(Debug, Default)]
struct TaskNamespaces {
    pid_ns: HashMap<i32, u64>,
    forked_by: HashMap<i32, i32>,
}

/// A look in /proc that a side-band record asks for. It is made after the
/// drain pass, when the ring buffers are given back, so that no buffer
/// fills behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProcLookup {
    /// Task `pid` is in pid namespace `ns`, seen for the first time: its
    /// container's identity (cgroup, ancestry) comes from /proc/PID while
    /// the task lives; if it is gone, the namespace is learned unnamed
    /// under `parent`, the namespace of the task that forked it, as the
    /// records told when the record was drained.
    Namespace {
        /// A process of the namespace.
        pid: i32,
        /// The namespace's inode.
        ns: u64,
        /// The parent namespace the records give.
        parent: Option<u64>,
    },
    /// A command started in process `pid` of the container of pid
    /// namespace `ns`: its runtime has set the hostname by now, which
    /// names a container that its cgroup does not.
    Hostname {
        /// The namespace's inode.
        ns: u64,
        /// The process that exec'ed.
        pid: i32,
    },
}

impl ProcLookup {
    /// Looks, and learns what it finds; returns whether the containers
    /// changed.
    fn apply(self, registry: &mut ContainerRegistry) -> bool {
        match self {
            Self::Namespace { pid, ns, parent } => {
                if registry.knows(ns) {
                    return false;
                }
                // The pid may be another task's by now, in another
                // namespace: that one is learned too, and this one unnamed.
                if registry.learn_pid(pid).ok() != Some(ns) {
                    registry.learn_unseen(ns, parent);
                }
                true
            }
            Self::Hostname { ns, pid } => registry.rename_by_hostname(ns, pid),
        }
    }
}

/// What a drained record updates.
struct Seen<'a> {
    loss: &'a mut CpuLoss,
    reported: &'a mut u64,
    last_time: &'a mut u64,
    progress: &'a mut Progress,
    tasks: &'a mut TaskNamespaces,
    registry: &'a ContainerRegistry,
    lookups: &'a mut Vec<ProcLookup>,
}

impl Seen<'_> {
    /// Counts a drained record, and asks for a look in /proc at the
    /// container of a pid namespace seen for the first time or of a
    /// command starting in a container.
    /// `events` are the recording's (by the file's ids, which `raw` has).
    fn note(&mut self, raw: &RawRecord<'_>, sideband: &EventAttr, events: &AttrSet) {
        self.progress.records += 1;
        let kind = raw.header.kind;
        // Every event keeps the time of its other records where the
        // side-band event does.
        let layout = match kind {
            RecordType::SAMPLE => events
                .index_of::<NativeEndian>(raw)
                .ok()
                .map(|i| events.layout(i)),
            _ => Some(events.layout(0)),
        };
        if let Some(t) = layout.and_then(|l| l.record_time::<NativeEndian>(kind, &raw.data)) {
            *self.last_time = (*self.last_time).max(t);
        }
        if kind == RecordType::SAMPLE {
            self.progress.samples += 1;
            return;
        }
        if ![
            RecordType::LOST,
            RecordType::LOST_SAMPLES,
            RecordType::COMM,
            RecordType::NAMESPACES,
            RecordType::TRACER_NAMESPACES,
            RecordType::FORK,
            RecordType::EXIT,
        ]
        .contains(&kind)
        {
            return;
        }
        // The kernel wrote these; a parse failure would be a reader bug,
        // and the record is in the file either way.
        match raw.parse::<NativeEndian>(sideband) {
            Ok(Record::Lost(l)) => {
                self.loss.lost += l.lost;
                *self.reported += l.lost;
                self.progress.lost += l.lost;
            }
            Ok(Record::LostSamples(l)) => {
                self.loss.lost_samples += l.lost;
                self.progress.lost_samples += l.lost;
            }
            Ok(Record::Fork(f)) => {
                self.tasks.forked_by.insert(f.tid, f.ptid);
            }
            Ok(Record::Exit(e)) => {
                self.tasks.forked_by.remove(&e.tid);
                self.tasks.pid_ns.remove(&e.tid);
            }
            Ok(Record::Comm(c)) if c.exec => {
                // One look per container and pass: at the newest such
                // process, the likeliest to be alive when it is made.
                if let Some(&ns) = self.tasks.pid_ns.get(&c.tid) {
                    let look = ProcLookup::Hostname { ns, pid: c.pid };
                    match self
                        .lookups
                        .iter_mut()
                        .find(|l| matches!(l, ProcLookup::Hostname { ns: n, .. } if *n == ns))
                    {
                        Some(l) => *l = look,
                        None => self.lookups.push(look),
                    }
                }
            }
            Ok(Record::Namespaces(n)) => self.learn_namespace(n.pid, n.tid, n.pid_ns()),
            Ok(Record::TracerNamespaces(n)) => {
                self.learn_namespace(n.pid, n.tid, n.namespaces.get(ns_index::PID).copied())
            }
            _ => {}
        }
    }

    /// Notes that task `pid`/`tid` is in pid namespace `pid_ns`, and asks
    /// for a look at its container if that is new (the registry knows the
    /// namespace, or a look is asked for already, otherwise).
    fn learn_namespace(&mut self, pid: i32, tid: i32, pid_ns: Option<NamespaceLink>) {
        let Some(ns) = pid_ns.map(|l| l.ino).filter(|&i| i != 0) else {
            return;
        };
        self.tasks.pid_ns.insert(tid, ns);
        let asked = |l: &ProcLookup| matches!(l, ProcLookup::Namespace { ns: n, .. } if *n == ns);
        if self.registry.knows(ns) || self.lookups.iter().any(asked) {
            return;
        }
        // Who forked it, now: its FORK and EXIT records may be in this pass.
        let parent = self
            .tasks
            .forked_by
            .get(&tid)
            .and_then(|p| self.tasks.pid_ns.get(p))
            .copied()
            .filter(|&p| p != ns);
        self.lookups.push(ProcLookup::Namespace { pid, ns, parent });
    }
}

/// Opens every planned event on `cpu` for each of `targets` (the CPU, a
/// cgroup on it, or with `-p` each thread on it), maps the first target's
/// side-band event's ring buffer and its first data event's, and sends
/// every other event's records to the one of its kind
/// (PERF_EVENT_IOC_SET_OUTPUT), as perf's evlist__mmap_per_cpu() does with
/// per-thread events: one drain per CPU, whatever the number of threads.
/// Returns the ring and the targets left out: threads gone before their
/// events opened (ESRCH), as perf record -p leaves them out.
fn open_cpu(
    plan: &[PlannedEvent],
    targets: &[Target],
    cpu: u32,
    pages: usize,
) -> Result<(CpuRing, Vec<Target>), RecordError> {
    if plan.len() < 2 {
        return Err(RecordError::Config("no event group to record".into()));
    }
    let mut fds: Vec<OwnedFd> = Vec::with_capacity(plan.len() * targets.len());
    let mut gone = Vec::new();
    'targets: for &target in targets {
        let mut opened = Vec::with_capacity(plan.len());
        for e in plan {
            match e.open(target, None) {
                Ok(fd) => opened.push(fd),
                Err(err)
                    if matches!(target, Target::Task { .. })
                        && err.errno() == Some(libc::ESRCH) =>
                {
                    gone.push(target);
                    continue 'targets;
                }
                Err(err) => return Err(err.named(&e.name).into()),
            }
        }
        fds.extend(opened);
    }
    if fds.is_empty() {
        return Err(RecordError::Config(format!(
            "cpu{cpu}: every thread to record exited before its events could be opened"
        )));
    }
    let map = |fd: &OwnedFd, pages: usize, what: &str| {
        RingBuffer::new(fd.as_fd(), pages).map_err(|source| RecordError::Cpu {
            cpu,
            what: format!("mapping the {what} ring buffer"),
            source,
        })
    };
    let name = |at: usize| &plan[at % plan.len()].name;
    let file_ids = fds
        .iter()
        .enumerate()
        .map(|(at, fd)| {
            abi::event_id(fd.as_fd()).map_err(|source| RecordError::Cpu {
                cpu,
                what: format!("reading the id of {}", name(at)),
                source,
            })
        })
        .collect::<Result<Vec<u64>, RecordError>>()?;
    let sideband = map(&fds[0], sideband_pages(pages), "side-band")?;
    let data = map(&fds[1], pages, "data")?;
    for (at, fd) in fds.iter().enumerate().skip(2) {
        let owner = if at % plan.len() == 0 {
            &fds[0]
        } else {
            &fds[1]
        };
        abi::set_output(fd.as_fd(), owner.as_fd()).map_err(|source| RecordError::Cpu {
            cpu,
            what: format!("sending {}'s records to the CPU's ring buffer", name(at)),
            source,
        })?;
    }
    let ring = CpuRing {
        cpu,
        events: plan.len(),
        hung_up: vec![false; fds.len() / plan.len()],
        fds,
        sideband,
        data,
        loss: CpuLoss {
            cpu,
            ..CpuLoss::default()
        },
        reported: [0; 2],
        last_time: 0,
        file_ids,
        renamed: Vec::new(),
        offline: false,
        dead: false,
        reopen_failed: false,
    };
    Ok((ring, gone))
}

impl CpuRing {
    /// The file's ids of the plan's `event`th event on this CPU, one per
    /// target.
    fn file_ids_of(&self, event: usize) -> impl Iterator<Item = u64> + '_ {
        self.file_ids
            .iter()
            .copied()
            .skip(event)
            .step_by(self.events)
    }
}

/// Opens the directory of cgroup `path` (from the cgroup2 root), for
/// cgroup-scoped events.
fn open_cgroup(path: &str) -> Result<std::fs::File, RecordError> {
    let root = perfns::container::cgroup2_mount().ok_or_else(|| {
        RecordError::Config(format!(
            "cgroup {path}: no cgroup2 file system is mounted (see /proc/self/mountinfo)"
        ))
    })?;
    let dir = root.join(path.trim_start_matches('/'));
    std::fs::File::open(&dir).map_err(system(format!("cgroup {path}: {}", dir.display())))
}

/// The container `wanted` names: a name, a full id or an id prefix, a key
/// (`pidns:INODE` or the inode) or a cgroup path; the host is `host`. A
/// match nested in another match is part of it; two that are not are
/// refused, both listed: the first is no better a guess than the second.
pub fn find_container<'a>(
    containers: &'a [Container],
    wanted: &str,
) -> Result<&'a Container, RecordError> {
    let indices: Vec<usize> = (0..containers.len()).collect();
    let parent = |i: usize| {
        let p = containers[i].parent?;
        containers.iter().position(|c| c.key == p)
    };
    match choose_container(
        &indices,
        |i| container_ref(&containers[i]).matches(wanted),
        parent,
    ) {
        Ok(i) => Ok(&containers[i]),
        Err(NotOneContainer::NoMatch) => Err(RecordError::NoSuchContainer {
            wanted: wanted.to_owned(),
            running: containers
                .iter()
                .map(|c| format!("{} ({})", c.name, c.runtime.name()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        Err(NotOneContainer::Several(several)) => Err(RecordError::AmbiguousContainer {
            wanted: wanted.to_owned(),
            matches: several
                .iter()
                .map(|&i| describe(&containers[i]))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// What `--container` matches a running container by.
fn container_ref(c: &Container) -> ContainerRef<'_> {
    ContainerRef {
        name: &c.name,
        pid_ns: Some(c.key),
        id: c.id.as_deref(),
        cgroup: c.cgroup.as_deref(),
    }
}

/// A container as a message lists it: name, runtime, key, short id.
fn describe(c: &Container) -> String {
    let id =
        c.id.as_deref()
            .map(|id| format!(", id {}", &id[..12.min(id.len())]))
            .unwrap_or_default();
    format!("{} ({}, pidns:{}{id})", c.name, c.runtime.name(), c.key)
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn u64s(v: &[u64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    /// A record of `kind` split where it wrapped the ring, and its body with
    /// [`with_file_ids`] applied.
    fn renamed(kind: RecordType, body: &[u64]) -> Vec<u64> {
        let bytes = u64s(body);
        let (a, b) = bytes.split_at(12);
        let raw = RawRecord {
            header: RecordHeader {
                kind,
                misc: 0,
                size: (RecordHeader::SIZE + bytes.len()) as u16,
            },
            data: RawData::Split(a, b),
        };
        // The recorder's events: events::SAMPLE_FORMAT, sample_id_all.
        let layout = SampleLayout::of(&EventAttr {
            sample_type: events::SAMPLE_FORMAT,
            flags: perfns::attr::flags::SAMPLE_ID_ALL,
            ..Default::default()
        });
        with_file_ids(&raw, &[(70, 7), (80, 8)], &layout)
            .chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    /// A side-band record as the kernel writes it: `body`, then the
    /// sample_id trailer of [`events::SAMPLE_FORMAT`].
    fn sideband_record(kind: RecordType, misc: u16, body: Vec<u8>) -> (RecordHeader, Vec<u8>) {
        let mut body = body;
        body.extend(u64s(&[0, 1, 0, 7]));
        let header = RecordHeader {
            kind,
            misc,
            size: (RecordHeader::SIZE + body.len()) as u16,
        };
        (header, body)
    }

    /// PERF_RECORD_NAMESPACES of task `tid` (its own process) in pid
    /// namespace `pid_ns`.
    fn namespaces(tid: i32, pid_ns: u64) -> (RecordHeader, Vec<u8>) {
        let mut links = vec![0u64; 2 * 7];
        links[2 * ns_index::PID + 1] = pid_ns;
        let mut body = u32s(&[tid as u32, tid as u32]);
        body.extend(u64s(&[7]));
        body.extend(u64s(&links));
        sideband_record(RecordType::NAMESPACES, 0, body)
    }

    #[test]
    fn a_tracer_scope_that_refuses_mappings_is_asked_for_fewer() {
        let (all, exec, none) = (Mappings::All, Mappings::Executable, Mappings::None);
        for errno in [libc::EOPNOTSUPP, libc::EINVAL] {
            assert_eq!(fewer_mappings(all, Some(errno)), Some(exec));
            assert_eq!(fewer_mappings(exec, Some(errno)), Some(none));
        }
        // Privilege and the like are the recording's errors.
        for errno in [
            Some(libc::EACCES),
            Some(libc::EPERM),
            Some(libc::EMFILE),
            None,
        ] {
            assert_eq!(fewer_mappings(all, errno), None);
        }
    }

    /// A recording of `attr` alone, id 7.
    fn one_event(attr: EventAttr) -> AttrSet {
        AttrSet::new(vec![EventDesc {
            attr,
            ids: vec![7],
            name: "dummy:HG".into(),
        }])
        .unwrap()
    }

    #[test]
    fn each_samples_time_is_read_where_its_event_keeps_it() {
        let plan = [
            events::sideband_event(0, events::Mappings::Executable),
            events::profile_event(
                &Profile {
                    hz: 99,
                    call_graph: events::CallGraph::FramePointer,
                },
                0,
            ),
            PlannedEvent {
                name: "raw_syscalls:sys_enter".into(),
                attr: events::data_event_attr(perfns::attr::kind::TRACEPOINT, 1, 0),
                format: None,
                uprobe_path: None,
            },
        ];
        let set = AttrSet::new(
            plan.iter()
                .zip([10, 20, 30])
                .map(|(e, id)| EventDesc {
                    attr: e.attr.clone(),
                    ids: vec![id],
                    name: e.name.clone(),
                })
                .collect(),
        )
        .unwrap();
        let sample = |body: Vec<u64>| {
            let bytes = u64s(&body);
            let header = RecordHeader {
                kind: RecordType::SAMPLE,
                misc: 0,
                size: (RecordHeader::SIZE + bytes.len()) as u16,
            };
            (header, bytes)
        };
        let pid_tid = 5 | (5 << 32);
        let records = [
            // cpu-clock: identifier, ip (a kernel address, larger than
            // any time), pid/tid, time, cpu, period, callchain.
            sample(vec![
                20,
                0xffff_ffff_8100_0000,
                pid_tid,
                1_000,
                0,
                10_101_010,
                1,
                0x40_1000,
            ]),
            // A tracepoint: identifier, pid/tid, time, cpu, raw.
            sample(vec![30, pid_tid, 900, 0, 0]),
        ];
        let registry = ContainerRegistry::new().unwrap();
        let mut tasks = TaskNamespaces::default();
        let (progress, last_time, _) = noted(&records, &plan[0].attr, &set, &mut tasks, &registry);
        assert_eq!((progress.samples, last_time), (2, 1_000));
    }

    /// What [`Seen::note`] makes of `records`, one CPU's in order: the
    /// progress, the newest time, and the looks in /proc asked for.
    fn noted(
        records: &[(RecordHeader, Vec<u8>)],
        sideband: &EventAttr,
        events: &AttrSet,
        tasks: &mut TaskNamespaces,
        registry: &ContainerRegistry,
    ) -> (Progress, u64, Vec<ProcLookup>) {
        let (mut loss, mut reported, mut last_time) = (CpuLoss::default(), 0, 0);
        let (mut progress, mut lookups) = (Progress::default(), Vec::new());
        let mut seen = Seen {
            loss: &mut loss,
            reported: &mut reported,
            last_time: &mut last_time,
            progress: &mut progress,
            tasks,
            registry,
            lookups: &mut lookups,
        };
        for (header, body) in records {
            let raw = RawRecord {
                header: *header,
                data: RawData::Single(body),
            };
            seen.note(&raw, sideband, events);
        }
        (progress, last_time, lookups)
    }

    #[test]
    fn proc_lookups_wait_for_the_end_of_the_pass() {
        let mut registry = ContainerRegistry::new().unwrap();
        let host = registry.host();
        // Tasks that no longer exist (above any pid_max), in a new pid
        // namespace, forked by task 100 of the host.
        let (gone, other, new_ns) = (i32::MAX - 1, i32::MAX - 2, 0xf000_0001);
        let mut tasks = TaskNamespaces::default();
        tasks.pid_ns.insert(100, host);
        let fork = u32s(&[gone as u32, 100, gone as u32, 100]);
        let exec = |tid: i32| {
            let mut body = u32s(&[tid as u32, tid as u32]);
            body.extend(b"sh\0\0\0\0\0\0");
            sideband_record(RecordType::COMM, perfns::record::MISC_COMM_EXEC, body)
        };
        let records = [
            sideband_record(RecordType::FORK, 0, [fork.clone(), u64s(&[1])].concat()),
            namespaces(gone, new_ns),
            namespaces(other, new_ns),
            exec(gone),
            exec(other),
            sideband_record(RecordType::EXIT, 0, [fork, u64s(&[2])].concat()),
        ];
        let attr = events::sideband_event(0, events::Mappings::None).attr;
        let (progress, _, lookups) = noted(
            &records,
            &attr,
            &one_event(attr.clone()),
            &mut tasks,
            &registry,
        );
        assert_eq!(progress.records, 6);
        // One look per namespace, with the parent the FORK gave before the
        // EXIT came; one hostname look per container, at the newest exec.
        assert_eq!(
            lookups,
            [
                ProcLookup::Namespace {
                    pid: gone,
                    ns: new_ns,
                    parent: Some(host)
                },
                ProcLookup::Hostname {
                    ns: new_ns,
                    pid: other
                }
            ]
        );
        assert!(!registry.knows(new_ns), "nothing looked up during the pass");
        let changed: Vec<bool> = lookups
            .into_iter()
            .map(|l| l.apply(&mut registry))
            .collect();
        // The task is gone: the namespace is learned unnamed, under the
        // parent the records gave; its hostname cannot be read.
        assert_eq!(changed, [true, false]);
        let c = registry
            .containers()
            .into_iter()
            .find(|c| c.key == new_ns)
            .unwrap();
        assert_eq!(
            (c.parent, c.name.as_str()),
            (Some(host), "pidns-4026531841")
        );
    }

    /// Root and tracefs, which recording needs (a failure under CI).
    fn can_record() -> bool {
        perfns::testing::prerequisite(perfns::testing::root()).is_some()
            && perfns::testing::prerequisite(perfns::testing::tracefs()).is_some()
    }

    /// `n` getppid calls (2n system call records) on `cpu`.
    fn getppid_on(cpu: u32, n: u32) {
        let _pinned = perfns::testing::pin_to_cpu(cpu);
        for _ in 0..n {
            nix::unistd::getppid();
        }
    }

    #[test]
    fn a_pass_that_finds_a_buffer_an_eighth_full_asks_for_the_next_at_once() {
        if !can_record() {
            return;
        }
        let cpu = abi::online_cpus().unwrap()[0];
        let dir = tempfile::tempdir().unwrap();
        let mut config = SessionConfig::new(dir.path().join("busy.data"));
        config.groups = "syscalls".parse().unwrap();
        config.cpus = Some(vec![cpu]);
        // 32 KiB: an eighth is about 40 system call records.
        config.mmap_pages = 8;
        let mut rec = Recorder::start(config).unwrap();
        rec.drain().unwrap();
        getppid_on(cpu, 1000);
        rec.drain().unwrap();
        assert!(rec.busy(), "2000 records in a 32 KiB buffer");
        // Passes in a row find little, whatever else runs on the CPU.
        let calm = (0..100).any(|_| {
            rec.drain().unwrap();
            !rec.busy()
        });
        assert!(calm, "a pass that finds little lets the recorder sleep");
        rec.finish().unwrap();
    }

    /// A file system mounted from an image, frozen (FIFREEZE) while
    /// `frozen` is set: writes to it wait until it is thawed. Thawed and
    /// unmounted when dropped.
    struct FreezableDisk {
        mnt: std::path::PathBuf,
    }

    impl FreezableDisk {
        /// An ext4 image in `dir`, mounted at `dir/mnt`.
        fn new(dir: &std::path::Path) -> Self {
            let image = dir.join("disk.img");
            std::fs::File::create(&image)
                .unwrap()
                .set_len(64 << 20)
                .unwrap();
            let run = |cmd: &mut std::process::Command| {
                let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "{cmd:?}: {err}");
            };
            run(std::process::Command::new("mkfs.ext4")
                .arg("-q")
                .arg(&image));
            let mnt = dir.join("mnt");
            std::fs::create_dir(&mnt).unwrap();
            run(std::process::Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&mnt));
            Self { mnt }
        }

        /// FIFREEZE (`freeze` true) or FITHAW on the mount.
        fn set_frozen(mnt: &std::path::Path, freeze: bool) -> std::io::Result<()> {
            // _IOWR('X', 119, int) and _IOWR('X', 120, int), linux/fs.h.
            const FIFREEZE: libc::c_ulong = 0xc004_5877;
            const FITHAW: libc::c_ulong = 0xc004_5878;
            let dir = std::fs::File::open(mnt)?;
            let request = if freeze { FIFREEZE } else { FITHAW };
            // SAFETY: both ioctls take no argument the kernel reads (the
            // int is unused); the fd is open for the call.
            let rc = unsafe { libc::ioctl(dir.as_raw_fd(), request, 0) };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
    }

    impl Drop for FreezableDisk {
        fn drop(&mut self) {
            let _ = Self::set_frozen(&self.mnt, false);
            let _ = std::process::Command::new("umount").arg(&self.mnt).status();
        }
    }

    /// The drain hands the records to the writer thread and goes on while
    /// the disk takes no writes (a frozen file system: every write waits),
    /// as it must while a slow write would let the ring buffers fill; once
    /// the disk takes writes again, the file holds every record drained and
    /// every loss counted.
    #[test]
    fn the_drain_does_not_wait_for_the_disk() {
        if !can_record() {
            return;
        }
        let cpu = abi::online_cpus().unwrap()[0];
        let dir = tempfile::tempdir().unwrap();
        let disk = FreezableDisk::new(dir.path());
        let path = disk.mnt.join("frozen.data");
        let mut config = SessionConfig::new(&path);
        config.groups = "syscalls".parse().unwrap();
        config.cpus = Some(vec![cpu]);
        config.mmap_pages = 8;
        // Every pass that drained something writes the file out: before
        // the writer thread, the drain made that write itself.
        config.flush_interval = Duration::ZERO;
        let mut rec = Recorder::start(config).unwrap();
        rec.drain().unwrap();
        FreezableDisk::set_frozen(&disk.mnt, true).unwrap();
        // Thaws the disk once the drains below are done, or after a
        // minute if they are not: a drain that waits for the disk then
        // fails the test rather than hanging it.
        let (done, drains_ended) = std::sync::mpsc::channel::<()>();
        let mnt = disk.mnt.clone();
        let thaw = std::thread::spawn(move || {
            let waited = drains_ended.recv_timeout(Duration::from_secs(60)).is_err();
            FreezableDisk::set_frozen(&mnt, false).unwrap();
            waited
        });
        for _ in 0..5 {
            getppid_on(cpu, 1000);
            rec.drain().unwrap();
        }
        done.send(()).unwrap();
        let thawed_by_timeout = thaw.join().unwrap();
        assert!(
            !thawed_by_timeout,
            "the drains waited for the frozen disk until it was thawed a minute later"
        );
        let summary = rec.finish().unwrap();

        let reader = perfns::perf_data::PerfFileReader::open(&path).unwrap();
        let (mut samples, mut lost) = (0, 0);
        for r in reader.records() {
            let r = r.unwrap();
            match r.header.kind {
                RecordType::SAMPLE => samples += 1,
                RecordType::LOST => match r.parse().unwrap() {
                    Record::Lost(l) => lost += l.lost,
                    other => panic!("{other:?}"),
                },
                _ => {}
            }
        }
        let p = summary.progress;
        // 5000 getppid calls, two samples each, on the recorded CPU: kept
        // or counted lost.
        assert!(samples + lost >= 10_000, "{p:?}");
        assert_eq!((samples, lost), (p.samples, p.lost), "{p:?}");
    }

    #[test]
    fn records_of_events_opened_again_get_the_files_ids() {
        // A sample: identifier, pid/tid, time, cpu, raw...
        assert_eq!(
            renamed(RecordType::SAMPLE, &[70, 1, 2, 3, 70]),
            [7, 1, 2, 3, 70]
        );
        // A side-band record: ..., sample_id trailer ending with the id.
        assert_eq!(
            renamed(RecordType::SWITCH_CPU_WIDE, &[5, 6, 1, 2, 3, 80]),
            [5, 6, 1, 2, 3, 8]
        );
        // LOST: the id of the event that lost, and the trailer.
        assert_eq!(
            renamed(RecordType::LOST, &[80, 99, 1, 2, 3, 80]),
            [8, 99, 1, 2, 3, 8]
        );
        // Ids not renamed, and user records, are left as they are.
        assert_eq!(renamed(RecordType::COMM, &[1, 2, 3, 4]), [1, 2, 3, 4]);
        assert_eq!(renamed(RecordType::FINISHED_ROUND, &[70, 70]), [70, 70]);
    }
}
