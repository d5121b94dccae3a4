//! The analyses: one pass over a recording's records, in time order, that
//! keeps per-task and per-CPU state (never per-event state) and ends in a
//! [`Report`].
//!
//! [`Analysis`] is fed parsed records ([`Analysis::record`]) and turned
//! into a report ([`Analysis::finish`]); [`analyze`] drives it from a file.
//! CPU time comes from `sched:sched_switch` when it was recorded, else from
//! switch records; memory from `kmem:mm_page_alloc`/`mm_page_free`; syscalls
//! from `raw_syscalls:sys_enter`/`sys_exit`.
//!
//! Each figure has its module: `cputop` (who runs on each CPU, charged
//! when it leaves), `memtop` (pages by order), `syscalls` (calls, errors,
//! latency), `uprobes` (hits and call latency of uprobes), `tracepoints`
//! (how many times each other tracepoint was hit, user events among them);
//! `containers` groups the tasks into the containers' tree at the end.

pub(crate) mod containers;
mod cputop;
mod live;
mod memtop;
mod syscalls;
mod tracepoints;
mod uprobes;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use perfns::attr::{flags, kind, AttrSet};
use perfns::container::{RecordingMeta, RecordingMode};
use perfns::perf_data::{
    Features, FileRecord, FileSection, OwnedRecord, PerfDataError, PerfFileReader,
};
use perfns::record::{ns_index, Record, RecordType};
use perfns::tracepoint::{
    Endianness, FieldIndex, ScalarField, TracepointFormat, COMMON_FLAGS_INTERRUPT,
};

use crate::model::{
    ContainerSource, CpuTimeSource, Cpus, EventCount, Header, Lost, MemoryFigures, Profile,
    Recording, Report, SyscallTotals, TimeRange, SCHEMA,
};
use crate::profile::Profiler;
use crate::Options;

use containers::{Membership, NoSuchContainer};
use cputop::CpuState;
use syscalls::InSyscall;
use uprobes::{InCall, Probe, UprobeTally};

/// How many CPUs [`Analysis`] tells apart with a table, not its tree.
const KNOWN_CPUS: usize = 4096;

/// How many record errors are quoted in the warnings; the rest are counted.
const QUOTED_ERRORS: usize = 3;

/// Reads `reader`'s records in time order through an [`Analysis`].
/// `progress` is called now and then with the fraction of the data read.
/// With `options.jobs` above 1, the records are read and put in time
/// order on a thread of their own while this one decodes them and runs
/// the analyses: the same records in the same order, so the same report.
///
/// Errors in records do not fail the report: they become warnings in its
/// header, and the figures cover what could be read.
pub fn analyze(
    reader: &PerfFileReader,
    options: &Options,
    progress: &mut dyn FnMut(f64),
) -> Result<Report, NoSuchContainer> {
    let mut analysis = Analysis::new(
        reader.path().display().to_string(),
        reader.events(),
        reader.features(),
        &options.time,
    );
    if let Some(sources) = &options.profile {
        analysis.profile(reader.features(), sources);
    }
    if let Some(claimed) = reader.truncated_from() {
        analysis.truncated(claimed, reader.data_section().size);
    }
    let mut feed = Feed {
        analysis: &mut analysis,
        data: reader.data_section(),
        next_progress: reader.data_section().offset,
        progress,
    };
    let (decompressed, features_at_end) = if options.jobs > 1 {
        read_on_a_thread(reader, &mut feed)
    } else {
        let mut records = reader.stream();
        while let Some(item) = records.next_record() {
            feed.item(item);
        }
        (
            records.decompressed_records(),
            records.features_at_end().cloned(),
        )
    };
    if let Some(features) = &features_at_end {
        analysis.features_at_end(features);
    }
    analysis.input_format(reader.is_pipe_mode(), decompressed);
    progress(1.0);
    analysis.finish(options)
}

/// How many records go to the analysis in one batch from the thread that
/// reads them: enough that handing a batch over costs little per record,
/// few enough that the two threads overlap.
const BATCH: usize = 4096;

/// A record on its way from the reading thread to the analysis.
enum Batched<'a> {
    /// In the file's map, borrowed.
    Mapped(FileRecord<'a>),
    /// Decompressed or streamed: copied, as the reader lends such bytes
    /// only until its next record.
    Copied(OwnedRecord),
    Error(PerfDataError),
}

/// Reads `reader`'s records on a thread of their own, in batches to
/// `feed` on this one; what the records said of the file at their end.
fn read_on_a_thread(reader: &PerfFileReader, feed: &mut Feed<'_>) -> (u64, Option<Features>) {
    // Two batches in flight at most, and their buffers come back: the
    // memory stays a few batches, however long the file.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<Batched<'_>>>(2);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Batched<'_>>>();
    std::thread::scope(|scope| {
        let read = scope.spawn(move || {
            let mut records = reader.stream();
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(item) = records.next_record() {
                let entry = match item {
                    Ok(record) => match reader.mapped(&record) {
                        Some(mapped) => Batched::Mapped(mapped),
                        None => Batched::Copied(record.to_owned_record()),
                    },
                    Err(e) => Batched::Error(e),
                };
                batch.push(entry);
                if batch.len() == BATCH {
                    let next = empty_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    // The analysis gone (it panicked): nothing to read for.
                    if full_tx.send(std::mem::replace(&mut batch, next)).is_err() {
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = full_tx.send(batch);
            }
            (
                records.decompressed_records(),
                records.features_at_end().cloned(),
            )
        });
        for mut batch in full_rx {
            for entry in batch.drain(..) {
                match entry {
                    Batched::Mapped(record) => feed.item(Ok(record)),
                    Batched::Copied(owned) => feed.item(Ok(owned.as_record(reader))),
                    Batched::Error(e) => feed.item(Err(e)),
                }
            }
            // The reader may be done: then the buffer just goes.
            let _ = empty_tx.send(batch);
        }
        match read.join() {
            Ok(end) => end,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Hands records to an analysis, and tells `progress` how far it is.
struct Feed<'p> {
    analysis: &'p mut Analysis,
    data: FileSection,
    next_progress: u64,
    progress: &'p mut dyn FnMut(f64),
}

impl Feed<'_> {
    /// Tells `progress` now and then that the record at `offset` is read.
    #[inline]
    fn progressed(&mut self, offset: u64) {
        // A stream on stdin has no known size: no progress until its end.
        let data = self.data;
        if data.size > 0 && offset >= self.next_progress {
            let done = offset.saturating_sub(data.offset) as f64 / data.size as f64;
            (self.progress)(done.min(1.0));
            self.next_progress = offset + (data.size / 200).max(1);
        }
    }

    /// One record, or the error reading it.
    #[inline]
    fn item(&mut self, item: Result<FileRecord<'_>, PerfDataError>) {
        let record = match item {
            Ok(record) => record,
            Err(e) => {
                self.analysis.record_error(&e);
                return;
            }
        };
        self.progressed(record.offset);
        // Samples are most of a recording: decoded as such, not as a
        // Record to be matched again.
        if record.header.kind == RecordType::SAMPLE {
            match record.parse_sample() {
                Ok(sample) => self.analysis.sample_record(record.event, &sample),
                Err(e) => self.analysis.record_error(&record.parse_error(e)),
            }
            return;
        }
        match record.parse() {
            Ok(parsed) => self.analysis.record(record.event, &parsed),
            Err(e) => self.analysis.record_error(&e),
        }
    }
}

pub(crate) use crate::int_map::IntMap;

/// `--time`'s spans (ns, both ends included, `None` ends open) sorted and
/// merged where they overlap or touch, so that no instant is in two;
/// none: all time.
fn merged_spans(spans: &[(Option<u64>, Option<u64>)]) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = spans
        .iter()
        .map(|&(a, b)| (a.unwrap_or(0), b.unwrap_or(u64::MAX)))
        .filter(|(a, b)| a <= b)
        .collect();
    if spans.is_empty() {
        return vec![(0, u64::MAX)];
    }
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// The time the figures cover: from `first` to `last` (the recording's
/// first and last timed records) within `window`'s spans; the duration
/// is the spans' length there, gaps between them left out.
fn covered_time(window: &[(u64, u64)], first: u64, last: u64) -> TimeRange {
    let clipped: Vec<(u64, u64)> = window
        .iter()
        .map(|&(a, b)| (a.max(first), b.min(last)))
        .filter(|(a, b)| a <= b)
        .collect();
    match (clipped.first(), clipped.last()) {
        (Some(&(start, _)), Some(&(_, end))) => TimeRange {
            start_ns: start,
            end_ns: end,
            duration_ns: clipped.iter().map(|(a, b)| b - a).sum(),
            ranges: match clipped.len() {
                1 => Vec::new(),
                _ => clipped.iter().map(|&(a, b)| [a, b]).collect(),
            },
        },
        // No span meets the recording: an empty one where the first
        // begins (clipped to the recording).
        _ => {
            let start = window.first().map_or(first, |w| w.0.max(first));
            let end = window.last().map_or(last, |w| w.1.min(last)).max(start);
            TimeRange {
                start_ns: start,
                end_ns: end,
                duration_ns: end - start,
                ranges: Vec::new(),
            }
        }
    }
}

/// What an event is to the analyses, with the tracepoint fields it reads
/// placed once.
#[derive(Debug)]
enum Role {
    SchedSwitch {
        /// For the comms, which are strings.
        format: TracepointFormat,
        prev_pid: ScalarField,
        prev_comm: FieldIndex,
        next_pid: ScalarField,
        next_comm: FieldIndex,
    },
    PageAlloc {
        order: ScalarField,
        /// common_flags, which says whether it was in interrupt context.
        flags: Option<ScalarField>,
    },
    PageFree {
        order: ScalarField,
        flags: Option<ScalarField>,
    },
    SysEnter {
        id: ScalarField,
    },
    SysExit {
        id: ScalarField,
        ret: ScalarField,
    },
    /// A uprobe's hit: an entry of probe `probe` (an index in
    /// [`Analysis::probes`]).
    UprobeEntry {
        probe: usize,
    },
    /// A return probe's hit.
    UprobeReturn {
        probe: usize,
    },
    /// A tracepoint counted by name ([`tracepoints`]): an index in
    /// [`Analysis::tracepoints`].
    Counted {
        event: usize,
    },
    /// A sampling event (cpu-clock, cycles, ...): samples are counted.
    Sampling,
    /// Side-band only (dummy); a tracepoint until [`tracepoints`] counts
    /// it.
    Other,
}

/// A task (thread) as the records show it. A tid reused by a new task gets
/// a new `Task`.
#[derive(Debug, Default)]
pub(crate) struct Task {
    pub pid: i32,
    pub tid: i32,
    pub comm: String,
    pub pid_ns: Option<u64>,
    /// Where it is in the tracer namespaces, from TRACER_NAMESPACES.
    pub tracer: Option<TaskTracer>,
    /// The cgroup id of its latest sample.
    pub cgroup: Option<u64>,
    pub cpu_ns: u64,
    pub samples: u64,
    pub memory: MemoryFigures,
    pub syscalls: IntMap<u64, SyscallTotals>,
    /// The syscall it is in.
    in_syscall: Option<InSyscall>,
    /// Uprobe hits and calls, by probe (an index in [`Analysis::probes`]).
    pub uprobes: BTreeMap<usize, UprobeTally>,
    /// The calls of each probe it has entered and not returned from,
    /// innermost last.
    in_calls: BTreeMap<usize, Vec<InCall>>,
    /// Hits of the tracepoints counted by name, by tracepoint (an index
    /// in [`Analysis::tracepoints`]).
    pub tracepoints: BTreeMap<usize, u64>,
    /// In a live analysis: the interval it exited in.
    exited_in: Option<u64>,
    /// With a profile: its samples per call chain (a stack id of
    /// [`Profiler`]).
    pub stacks: IntMap<u32, u64>,
}

/// A task's place in the tracer namespaces, as a TRACER_NAMESPACES record
/// gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskTracer {
    /// Its own tracer namespace's inode.
    pub ns: u64,
    /// How many tracer namespaces its ancestry has, the reader's first.
    pub levels: usize,
    /// How many pid namespaces it has a pid in, the reader's first.
    pub pid_levels: usize,
}

/// The analyses' state between records.
#[derive(Debug)]
pub struct Analysis {
    file: String,
    recording: Recording,
    nr_cpus: (Option<u32>, Option<u32>),
    roles: Vec<Role>,
    /// The uprobes the recording has, which [`Role::UprobeEntry`] and
    /// [`Role::UprobeReturn`] point into.
    probes: Vec<Probe>,
    /// The tracepoints counted by name, by full name, which
    /// [`Role::Counted`] points into.
    tracepoints: Vec<String>,
    event_names: Vec<String>,
    event_samples: Vec<u64>,
    cpu_source: CpuTimeSource,
    /// Switch records of the recorded tasks alone came (PERF_RECORD_SWITCH,
    /// per-task events), not every task's on each CPU.
    task_switches: bool,
    /// The spans of time (ns, both ends included) whose figures count,
    /// ascending, disjoint and not adjacent: `--time`'s ranges merged.
    window: Vec<(u64, u64)>,
    first_time: Option<u64>,
    last_time: u64,
    cpus: BTreeMap<u32, CpuState>,
    /// Which CPUs below [`KNOWN_CPUS`] are in `cpus` already: a record's
    /// CPU is looked up with one load, not a tree walk.
    cpu_known: Vec<bool>,
    tasks: Vec<Task>,
    by_tid: IntMap<i32, usize>,
    /// The task of the last lookup: consecutive records are mostly of one
    /// task.
    last_task: Option<(i32, usize)>,
    cgroups: HashMap<u64, String>,
    /// In a live analysis: the interval in which each of `cgroups` was
    /// last made or held a task (see [`Analysis::interval`]).
    cgroup_used_in: IntMap<u64, u64>,
    seen_namespaces: bool,
    /// Each tracer namespace's parent, from the TRACER_NAMESPACES records'
    /// ancestries (the reader's own has none).
    tracer_parent: BTreeMap<u64, u64>,
    seen_sample_cgroups: bool,
    seen_comm: bool,
    lost: Lost,
    errors: u64,
    quoted_errors: Vec<String>,
    notes: Vec<String>,
    truncated: Option<(u64, u64)>,
    /// Switches that did not continue from the one before on their CPU.
    switch_gaps: u64,
    /// The CPU time in those gaps, which no task is charged.
    unattributed_ns: u64,
    /// Page allocator traffic in interrupt context, which no task is
    /// charged.
    memory_in_interrupts: MemoryFigures,
    /// perfns's container metadata, when the recording has it.
    meta: Option<RecordingMeta>,
    /// Records of types the report does not read, by type.
    unread: BTreeMap<RecordType, u64>,
    /// A live analysis ([`Analysis::live`]): exited tasks are forgotten
    /// an interval later.
    live: bool,
    /// In a live analysis, the intervals reported so far.
    intervals: u64,
    /// With `--profile`: the mappings and the samples' call chains.
    profiler: Option<Profiler>,
    /// The finished profile, once [`Analysis::report`] made it.
    profile: Option<Profile>,
}

impl Analysis {
    /// A fresh analysis of a recording with these events and features;
    /// `window` keeps only the figures in these spans of time (ns, both
    /// ends included, `None` ends open; empty: all).
    pub fn new(
        file: String,
        events: &AttrSet,
        features: &Features,
        window: &[(Option<u64>, Option<u64>)],
    ) -> Self {
        let mut notes = Vec::new();
        let mut roles: Vec<Role> = events
            .events()
            .iter()
            .map(|e| role(&e.name, &e.attr, features, &mut notes))
            .collect();
        let mut probes: Vec<Probe> = Vec::new();
        for (e, role) in events.events().iter().zip(&mut roles) {
            let Some((name, is_return)) = probe_of(&e.name, &e.attr, features) else {
                continue;
            };
            let probe = match probes.iter().position(|p| p.name == name) {
                Some(i) => i,
                None => {
                    probes.push(Probe {
                        name,
                        has_return: false,
                    });
                    probes.len() - 1
                }
            };
            *role = if is_return {
                probes[probe].has_return = true;
                Role::UprobeReturn { probe }
            } else {
                Role::UprobeEntry { probe }
            };
        }
        // Every tracepoint that no analysis took is counted by name.
        let mut counted: Vec<String> = Vec::new();
        for (e, role) in events.events().iter().zip(&mut roles) {
            if e.attr.kind != kind::TRACEPOINT || !matches!(role, Role::Other) {
                continue;
            }
            let name = tracepoints::full_name(&e.name, &e.attr, features);
            let event = match counted.iter().position(|u| *u == name) {
                Some(i) => i,
                None => {
                    counted.push(name);
                    counted.len() - 1
                }
            };
            *role = Role::Counted { event };
        }
        let has = |f: fn(&Role) -> bool| roles.iter().any(f);
        let cpu_source = if has(|r| matches!(r, Role::SchedSwitch { .. })) {
            CpuTimeSource::SchedSwitch
        } else if events
            .events()
            .iter()
            .any(|e| e.attr.flags & flags::CONTEXT_SWITCH != 0)
        {
            CpuTimeSource::SwitchRecords
        } else {
            notes.push(
                "no sched:sched_switch and no switch records (record with -e sched:sched_switch \
                 or --switch-events): no CPU time, only sample counts"
                    .into(),
            );
            CpuTimeSource::None
        };
        if !has(|r| matches!(r, Role::PageAlloc { .. } | Role::PageFree { .. })) {
            notes.push("no kmem:mm_page_alloc/kmem:mm_page_free events: no memory figures".into());
        }
        if !has(|r| matches!(r, Role::SysEnter { .. })) {
            notes.push(
                "no raw_syscalls:sys_enter/raw_syscalls:sys_exit events: no syscall figures".into(),
            );
        }
        let perfns = features.perfns.is_some();
        let meta = match RecordingMeta::from_features(features) {
            Ok(meta) => meta,
            Err(e) => {
                notes.push(format!(
                    "{e}: containers come from the records alone, as for perf's recordings"
                ));
                None
            }
        };
        let recording = Recording {
            tool: if perfns { "perfns" } else { "perf" },
            version: features.version.clone(),
            cmdline: features.cmdline.as_ref().map(|c| c.join(" ")),
            mode: meta.as_ref().map(|m| m.mode),
            scope: meta.as_ref().map(|m| m.scope.clone()),
            hostname: features.hostname.clone(),
            kernel: features.os_release.clone(),
            arch: features.arch.clone(),
            compression: features
                .compressed
                .map(|c| format!("{}, level {}, ratio {}", c.kind_name(), c.level, c.ratio)),
            pipe_mode: false,
        };
        if recording.arch.is_none() && has(|r| matches!(r, Role::SysEnter { .. })) {
            notes.push("the recording does not say its architecture: syscalls by number".into());
        }
        // The tasks that existed when a perfns recording began.
        let mut tasks = Vec::new();
        let mut by_tid = IntMap::default();
        for t in meta.iter().flat_map(|m| &m.tasks) {
            by_tid.insert(t.tid, tasks.len());
            tasks.push(Task {
                pid: t.pid,
                tid: t.tid,
                comm: t.comm.clone(),
                pid_ns: t.pid_ns(),
                ..Task::default()
            });
        }
        Self {
            file,
            recording,
            nr_cpus: (
                features.nr_cpus.map(|n| n.online),
                features.nr_cpus.map(|n| n.available),
            ),
            event_names: events.events().iter().map(|e| e.name.clone()).collect(),
            event_samples: vec![0; roles.len()],
            roles,
            probes,
            tracepoints: counted,
            cpu_source,
            task_switches: false,
            window: merged_spans(window),
            first_time: None,
            last_time: 0,
            cpus: BTreeMap::new(),
            cpu_known: vec![false; KNOWN_CPUS],
            tasks,
            by_tid,
            last_task: None,
            cgroups: HashMap::new(),
            cgroup_used_in: IntMap::default(),
            seen_namespaces: false,
            tracer_parent: BTreeMap::new(),
            seen_sample_cgroups: false,
            seen_comm: false,
            lost: Lost {
                samples_recount_records: events
                    .events()
                    .iter()
                    .any(|e| e.attr.read_format & perfns::attr::read_format::LOST != 0),
                ..Lost::default()
            },
            errors: 0,
            quoted_errors: Vec::new(),
            notes,
            truncated: None,
            switch_gaps: 0,
            unattributed_ns: 0,
            memory_in_interrupts: MemoryFigures::default(),
            meta,
            unread: BTreeMap::new(),
            live: false,
            intervals: 0,
            profiler: None,
            profile: None,
        }
    }

    /// Makes a profile of the samples' call chains too, symbolized from
    /// `sources` (`--profile`).
    pub fn profile(&mut self, features: &Features, sources: &crate::ProfileSources) {
        self.profiler = Some(Profiler::new(
            features,
            self.recording.mode,
            sources.debug_dirs.clone(),
            sources.kernel.clone(),
        ));
    }

    /// Notes that the file was cut short: its data section should be
    /// `claimed` bytes and is `present`.
    pub fn truncated(&mut self, claimed: u64, present: u64) {
        self.truncated = Some((claimed, present));
    }

    /// Says how the records were stored: in a pipe-mode stream, and how
    /// many compressed records they came in.
    pub fn input_format(&mut self, pipe_mode: bool, decompressed: u64) {
        self.recording.pipe_mode = pipe_mode;
        if decompressed > 0 {
            let how = self
                .recording
                .compression
                .take()
                .unwrap_or_else(|| "zstd (no HEADER_COMPRESSED section)".into());
            self.recording.compression = Some(format!(
                "{how}; {decompressed} compressed records decompressed"
            ));
        }
    }

    /// Takes perfns's container metadata as the end of a pipe-mode stream
    /// gives it: complete, with the containers learnt and the losses
    /// counted while recording, which the stream's start could not hold.
    /// (The tasks it lists are the start's, already taken.)
    pub fn features_at_end(&mut self, features: &Features) {
        match RecordingMeta::from_features(features) {
            Ok(Some(meta)) => self.meta = Some(meta),
            Ok(None) => {}
            Err(e) => self.notes.push(format!(
                "{e}: the perfns extension at the end of the stream was not read, the one at its \
                 start was"
            )),
        }
    }

    /// Counts a record that could not be read or decoded.
    pub fn record_error(&mut self, error: &PerfDataError) {
        self.errors += 1;
        if self.quoted_errors.len() < QUOTED_ERRORS {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            self.quoted_errors.push(text);
        }
    }

    /// The task `tid` is now, made if new.
    fn task(&mut self, tid: i32) -> &mut Task {
        let index = self.task_index(tid);
        &mut self.tasks[index]
    }

    /// The index in `tasks` of the task `tid` is now, made if new.
    fn task_index(&mut self, tid: i32) -> usize {
        if let Some((last, index)) = self.last_task {
            if last == tid {
                return index;
            }
        }
        let tasks = &mut self.tasks;
        let index = *self.by_tid.entry(tid).or_insert_with(|| {
            tasks.push(Task {
                pid: tid,
                tid,
                ..Task::default()
            });
            tasks.len() - 1
        });
        self.last_task = Some((tid, index));
        index
    }

    /// Starts a new task for `tid` (a fork, possibly reusing a tid).
    fn new_task(&mut self, pid: i32, tid: i32) -> &mut Task {
        self.tasks.push(Task {
            pid,
            tid,
            ..Task::default()
        });
        self.by_tid.insert(tid, self.tasks.len() - 1);
        let last = self.tasks.len() - 1;
        self.last_task = Some((tid, last));
        &mut self.tasks[last]
    }

    fn in_window(&self, time: u64) -> bool {
        self.window.iter().any(|&(a, b)| (a..=b).contains(&time))
    }

    /// How much of the time from `from` to `until` (ns) the window covers.
    fn in_window_ns(&self, from: u64, until: u64) -> u64 {
        self.window
            .iter()
            .map(|&(a, b)| until.min(b).saturating_sub(from.max(a)))
            .sum()
    }

    /// Feeds one record, of event `event` (its index in the recording's
    /// events). Records must come in time order.
    pub fn record(&mut self, event: usize, record: &Record<'_>) {
        let time = self.seen(record.sample_id());
        if let (true, Record::Exit(e)) = (self.live, record) {
            self.exited(e.tid);
        }
        match record {
            Record::Comm(c) => {
                if let (true, Some(p)) = (c.exec, &mut self.profiler) {
                    p.exec(c.pid);
                }
                self.seen_comm = true;
                let task = self.task(c.tid);
                task.pid = c.pid;
                task.comm.clone_from(&c.comm);
            }
            Record::Fork(f) => {
                if let Some(p) = &mut self.profiler {
                    p.fork(f.pid, f.tid, f.ppid);
                }
                let parent = self.by_tid.get(&f.ptid).map(|&i| &self.tasks[i]);
                let (comm, pid_ns, tracer, cgroup) = parent
                    .map(|p| (p.comm.clone(), p.pid_ns, p.tracer, p.cgroup))
                    .unwrap_or_default();
                let child = self.new_task(f.pid, f.tid);
                child.comm = comm;
                child.pid_ns = pid_ns;
                child.tracer = tracer;
                child.cgroup = cgroup;
            }
            // A task's events leave it at its exit, before its final
            // switch: per-task switch records (perfns record -p, perf
            // record -p --switch-events) never see that switch out, nor
            // did the series' first tracer scope.
            Record::Exit(e)
                if self.cpu_source == CpuTimeSource::SwitchRecords
                    && (self.task_switches
                        || self
                            .meta
                            .as_ref()
                            .is_some_and(|m| m.mode == RecordingMode::TracerScope)) =>
            {
                let Some(t) = time else { return };
                self.exited_without_switch(e.tid, t);
            }
            Record::Namespaces(n) => self.namespaces(n.pid, n.tid, &n.namespaces),
            Record::TracerNamespaces(n) => {
                self.namespaces(n.pid, n.tid, &n.namespaces);
                for w in n.tracer_ns.windows(2) {
                    self.tracer_parent.insert(w[1], w[0]);
                }
                let tracer = n.own_tracer_ns().map(|ns| TaskTracer {
                    ns,
                    levels: n.tracer_ns.len(),
                    pid_levels: n.pids.len(),
                });
                self.task(n.tid).tracer = tracer;
            }
            Record::Cgroup(c) => {
                self.cgroups.insert(c.id, c.path.clone());
                if self.live {
                    self.cgroup_used_in.insert(c.id, self.intervals);
                }
            }
            Record::Lost(l) => self.lost.records += l.lost,
            Record::LostSamples(l) => self.lost.samples += l.lost,
            Record::Switch(s) if self.cpu_source == CpuTimeSource::SwitchRecords => {
                let (Some(t), Some(cpu), Some(tid)) = (time, s.sample_id.cpu, s.sample_id.tid)
                else {
                    return;
                };
                // PERF_RECORD_SWITCH (no next/prev task): a per-task event's.
                self.task_switches |= s.next_prev.is_none();
                self.switch_record(cpu, tid, s.out, t);
            }
            Record::Sample(s) => self.sample(event, s, time),
            Record::Mmap(m) => {
                if let Some(p) = &mut self.profiler {
                    p.mmap(m);
                }
            }
            Record::Mmap2(m) => {
                if let Some(p) = &mut self.profiler {
                    p.mmap2(m);
                }
            }
            Record::Unknown(kind) if !ignored_knowingly(*kind) => {
                *self.unread.entry(*kind).or_default() += 1;
            }
            _ => {}
        }
    }

    /// Feeds one sample of event `event`, as [`Self::record`] would.
    pub fn sample_record(&mut self, event: usize, sample: &perfns::record::Sample<'_>) {
        let time = self.seen(Some(&sample.id));
        self.sample(event, sample, time);
    }

    /// Notes a record's time and CPU; its time, if it has one.
    fn seen(&mut self, id: Option<&perfns::record::SampleId>) -> Option<u64> {
        let time = id.and_then(|s| s.time).filter(|&t| t != 0);
        if let Some(t) = time {
            self.first_time.get_or_insert(t);
            self.last_time = self.last_time.max(t);
        }
        if let Some(cpu) = id.and_then(|s| s.cpu) {
            match self.cpu_known.get_mut(cpu as usize) {
                Some(true) => {}
                Some(known) => {
                    *known = true;
                    self.cpus.entry(cpu).or_default();
                }
                None => {
                    self.cpus.entry(cpu).or_default();
                }
            }
        }
        time
    }

    /// A task's namespaces, from a NAMESPACES or TRACER_NAMESPACES record.
    fn namespaces(&mut self, pid: i32, tid: i32, links: &[perfns::record::NamespaceLink]) {
        self.seen_namespaces = true;
        let ns = pid_ns(links);
        let task = self.task(tid);
        task.pid = pid;
        task.pid_ns = ns;
    }

    fn sample(&mut self, event: usize, s: &perfns::record::Sample<'_>, time: Option<u64>) {
        let (Some(pid), Some(tid)) = (s.id.pid, s.id.tid) else {
            return;
        };
        let ti = self.task_index(tid);
        if let Some(cgroup) = s.cgroup {
            self.seen_sample_cgroups = true;
            self.tasks[ti].cgroup = Some(cgroup);
        }
        if tid != 0 {
            self.tasks[ti].pid = pid;
        }
        let in_window = time.is_none_or(|t| self.in_window(t));
        if in_window {
            if let Some(n) = self.event_samples.get_mut(event) {
                *n += 1;
            }
        }
        let payload = s.raw.as_deref().unwrap_or_default();
        let Some(role) = self.roles.get(event) else {
            return;
        };
        match role {
            Role::SchedSwitch {
                format,
                prev_pid,
                prev_comm,
                next_pid,
                next_comm,
            } => {
                let (Some(t), Some(cpu)) = (time, s.id.cpu) else {
                    return;
                };
                let decoded = (|| {
                    Some((
                        prev_pid.read_i64(payload)? as i32,
                        format.read_str(payload, *prev_comm).ok()?.into_owned(),
                        next_pid.read_i64(payload)? as i32,
                        format.read_str(payload, *next_comm).ok()?.into_owned(),
                    ))
                })();
                let Some((prev, prev_name, next, next_name)) = decoded else {
                    self.errors += 1;
                    return;
                };
                self.sched_switch(cpu, t, (prev, prev_name), (next, next_name));
            }
            Role::PageAlloc { order, flags } | Role::PageFree { order, flags } => {
                let alloc = matches!(role, Role::PageAlloc { .. });
                let Some(order) = order.read_u64(payload) else {
                    self.errors += 1;
                    return;
                };
                let Some(flags) = flags.map_or(Some(0), |f| f.read_u64(payload)) else {
                    self.errors += 1;
                    return;
                };
                if in_window {
                    // An interrupt (hard or soft IRQ, NMI) allocates for
                    // whoever caused it (a packet, a timer, an RCU
                    // callback), not for the task it interrupted: charged
                    // to no container, as the tracer scope delivers it to
                    // none.
                    let m = if flags & COMMON_FLAGS_INTERRUPT != 0 {
                        &mut self.memory_in_interrupts
                    } else {
                        &mut self.tasks[ti].memory
                    };
                    memtop::count_pages(m, alloc, order);
                }
            }
            Role::SysEnter { id } => {
                let (Some(nr), Some(t)) = (id.read_i64(payload), time) else {
                    self.errors += 1;
                    return;
                };
                syscalls::enter(&mut self.tasks[ti], nr, t, in_window);
            }
            Role::SysExit { id, ret } => {
                let (Some(nr), Some(ret), Some(t)) =
                    (id.read_i64(payload), ret.read_i64(payload), time)
                else {
                    self.errors += 1;
                    return;
                };
                syscalls::exit(&mut self.tasks[ti], nr, ret, t, in_window);
            }
            Role::UprobeEntry { probe } => {
                let Some(t) = time else {
                    self.errors += 1;
                    return;
                };
                let timed = self.probes[*probe].has_return;
                uprobes::enter(&mut self.tasks[ti], *probe, timed, t, in_window);
            }
            Role::UprobeReturn { probe } => {
                let Some(t) = time else {
                    self.errors += 1;
                    return;
                };
                uprobes::exit(&mut self.tasks[ti], *probe, t, in_window);
            }
            Role::Counted { event } => {
                if in_window {
                    *self.tasks[ti].tracepoints.entry(*event).or_default() += 1;
                }
            }
            Role::Sampling => {
                if in_window {
                    self.tasks[ti].samples += 1;
                    if let Some(p) = &mut self.profiler {
                        let stack = p.sample(pid, s);
                        *self.tasks[ti].stacks.entry(stack).or_default() += 1;
                    }
                }
            }
            Role::Other => {}
        }
    }

    /// Ends the analysis: charges the tasks still running, groups tasks
    /// into containers and builds the report.
    pub fn finish(mut self, options: &Options) -> Result<Report, NoSuchContainer> {
        let end = self.last_time;
        self.charge_running(end);
        self.profile = self.profiler.take().map(Profiler::finish);
        let time = covered_time(&self.window, self.first_time.unwrap_or(0), end);
        self.report(time, options)
    }

    /// The report of the figures gathered, over `time`; the figures stay
    /// (a live analysis resets them after).
    fn report(&mut self, time: TimeRange, options: &Options) -> Result<Report, NoSuchContainer> {
        let mut notes = self.notes.clone();
        let containers_from = if self.meta.is_some() {
            ContainerSource::PerfnsMetadata
        } else if self.seen_namespaces {
            if !self.seen_sample_cgroups || self.cgroups.is_empty() {
                notes.push(
                    "no cgroup ids in the samples or no CGROUP records to name them (record \
                     with --all-cgroups): containers are named by pid namespace and not nested"
                        .into(),
                );
            }
            ContainerSource::PidNamespaces
        } else if self.seen_sample_cgroups && !self.cgroups.is_empty() {
            notes.push(
                "no NAMESPACES records (record with --namespaces): one container per cgroup".into(),
            );
            ContainerSource::Cgroups
        } else {
            notes.push(
                "no NAMESPACES records, and no cgroup ids with CGROUP records to name them \
                 (record with --namespaces --all-cgroups): containers cannot be told apart, \
                 everything is the host"
                    .into(),
            );
            ContainerSource::None
        };
        let m = &mut self.memory_in_interrupts;
        m.pages_net = m.pages_allocated as i64 - m.pages_freed as i64;
        let memory_in_interrupts = (m.pages_allocated + m.pages_freed > 0).then(|| {
            let allocations: u64 = m.allocations_by_order.values().sum();
            let mut what = Vec::new();
            if allocations > 0 {
                what.push(format!(
                    "{allocations} page allocations ({} pages)",
                    m.pages_allocated
                ));
            }
            if m.pages_freed > 0 {
                what.push(format!("{} pages freed", m.pages_freed));
            }
            notes.push(format!(
                "{} in interrupt context (hard or soft IRQ, NMI), charged to no container",
                what.join(" and ")
            ));
            m.clone()
        });
        if !self.seen_comm {
            notes.push("no COMM records: tasks are named from sched_switch, or not at all".into());
        }
        // perfns record counts each CPU's losses in its metadata too; the
        // records and the metadata tell of the same drops.
        let meta_lost: u64 = self
            .meta
            .iter()
            .flat_map(|m| &m.lost)
            .map(|l| l.lost + l.lost_samples)
            .sum();
        self.lost.total = self.lost.total().max(meta_lost);
        let mut warnings = Vec::new();
        if let Some((claimed, present)) = self.truncated {
            warnings.push(format!(
                "the file is truncated: {present} of its {claimed} bytes of records are there; \
                 the figures cover those, and the event names and tracepoint formats, which \
                 follow the records, are lost"
            ));
        }
        if self.lost.total > 0 {
            warnings.push(format!(
                "{} events were lost: the figures are lower bounds, and tasks whose \
                 NAMESPACES records were lost are placed by their cgroup",
                self.lost.total,
            ));
        }
        if self.switch_gaps > 0 {
            // perfns record notes each time a CPU went offline: nothing was
            // recorded on it meanwhile, which is where such gaps come from.
            let offline: Vec<String> = self
                .meta
                .iter()
                .flat_map(|m| &m.lost)
                .filter(|l| l.offline > 0)
                .map(|l| format!("cpu{} {}x", l.cpu, l.offline))
                .collect();
            let why = if offline.is_empty() {
                "switch events missing, without a LOST record to say so".to_owned()
            } else {
                format!(
                    "CPUs went offline while recording ({}), or switch events are missing",
                    offline.join(", ")
                )
            };
            warnings.push(format!(
                "{} context switches did not continue from the one before on their CPU ({why}): \
                 the {:.3} ms between them are charged to no task",
                self.switch_gaps,
                self.unattributed_ns as f64 / 1e6
            ));
        }
        warnings.extend(unread_warnings(&self.unread));
        if self.errors > 0 {
            let mut text = format!("{} records could not be read or decoded", self.errors);
            for e in &self.quoted_errors {
                text.push_str(&format!("; {e}"));
            }
            text.push_str("; the figures cover the rest");
            warnings.push(text);
        }
        syscalls::average_latencies(&mut self.tasks);

        let header = Header {
            file: self.file.clone(),
            recording: self.recording.clone(),
            time,
            cpus: Cpus {
                online: self.nr_cpus.0,
                available: self.nr_cpus.1,
                recorded: self
                    .cpus
                    .keys()
                    .copied()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            },
            events: self
                .event_names
                .iter()
                .cloned()
                .zip(self.event_samples.iter().copied())
                .zip(&self.roles)
                // Side-band carriers (dummy) have no samples to count.
                .filter(|((_, samples), role)| *samples > 0 || !matches!(role, Role::Other))
                .map(|((name, samples), _)| EventCount { name, samples })
                .collect(),
            lost: self.lost,
            containers_from,
            cpu_time_from: match self.cpu_source {
                CpuTimeSource::SwitchRecords if self.task_switches => {
                    CpuTimeSource::TaskSwitchRecords
                }
                other => other,
            },
            memory_recorded: self
                .roles
                .iter()
                .any(|r| matches!(r, Role::PageAlloc { .. } | Role::PageFree { .. })),
            memory_in_interrupts,
            syscalls_recorded: self
                .roles
                .iter()
                .any(|r| matches!(r, Role::SysEnter { .. })),
            uprobes_recorded: !self.probes.is_empty(),
            user_events_recorded: self
                .tracepoints
                .iter()
                .any(|t| tracepoints::is_user_event(t)),
            tracepoints_recorded: self
                .tracepoints
                .iter()
                .any(|t| !tracepoints::is_user_event(t)),
            notes,
            warnings,
            damaged: self.truncated.is_some() || self.errors > 0,
        };
        let membership = Membership {
            meta: self.meta.as_ref(),
            source: containers_from,
            tasks: &self.tasks,
            tracer_parent: &self.tracer_parent,
            cgroups: &self.cgroups,
            arch: header.recording.arch.as_deref(),
            probes: &self.probes,
            tracepoints: &self.tracepoints,
            profile: self.profile.as_ref(),
        };
        let (containers, processes) =
            containers::build(&membership, header.time.duration_ns, options)?;
        Ok(Report {
            schema: SCHEMA,
            header,
            sorted_by: options.sort,
            then_sorted_by: options.then_by.clone(),
            containers,
            processes,
            profile: self.profile.clone(),
        })
    }
}

/// The pid namespace inode of a NAMESPACES record's links. perf writes
/// zeros when it could not read a task's /proc/PID/ns (it synthesizes
/// these records for tasks that existed before the recording): unknown.
fn pid_ns(links: &[perfns::record::NamespaceLink]) -> Option<u64> {
    links
        .get(ns_index::PID)
        .map(|l| l.ino)
        .filter(|&ino| ino != 0)
}

/// The format of tracepoint event `attr` in the recording's tracing data,
/// in the recording's byte order; `Err`: why there is none.
pub(crate) fn tracepoint_format(
    attr: &perfns::attr::EventAttr,
    features: &Features,
) -> Result<TracepointFormat, &'static str> {
    let td = features
        .tracing_data
        .as_ref()
        .ok_or("the recording has no tracing data")?;
    let text = td
        .format_by_id(attr.config)
        .ok_or("the tracing data has no format for it")?;
    let mut format = TracepointFormat::parse(&text.system, &text.text)
        .map_err(|_| "its format is unreadable")?;
    format.endianness = if td.big_endian {
        Endianness::Big
    } else {
        Endianness::Little
    };
    Ok(format)
}

/// Whether event `name` is a uprobe's, and which: the probe's name (the
/// entry event's; a return event's without its `__return`) and whether it
/// is a return probe. perfns record's are `uprobes:SYMBOL` of the uprobe
/// PMU; perf probe's are tracepoints whose format has `__probe_ip` (an
/// entry) or `__probe_ret_ip` (a return), as every dynamic probe's has
/// (a kprobe's too, which is counted alike).
fn probe_of(
    name: &str,
    attr: &perfns::attr::EventAttr,
    features: &Features,
) -> Option<(String, bool)> {
    let is_return = if attr.kind == kind::TRACEPOINT {
        let format = tracepoint_format(attr, features).ok()?;
        if format.field("__probe_ret_ip").is_some() {
            true
        } else if format.field("__probe_ip").is_some() {
            false
        } else {
            return None;
        }
    } else {
        let ours = name
            .strip_prefix("uprobes:")
            .is_some_and(|symbol| !symbol.is_empty())
            && attr.sample_type.contains(perfns::attr::SampleFormat::RAW);
        if !ours {
            return None;
        }
        name.ends_with("__return")
    };
    let probe = match is_return {
        true => name.strip_suffix("__return").unwrap_or(name),
        false => name,
    };
    Some((probe.to_owned(), is_return))
}

/// What event `name` is to the analyses.
fn role(
    name: &str,
    attr: &perfns::attr::EventAttr,
    features: &Features,
    notes: &mut Vec<String>,
) -> Role {
    if attr.kind != kind::TRACEPOINT {
        let dummy = attr.kind == kind::SOFTWARE && attr.config == perfns::attr::sw::DUMMY;
        return if dummy { Role::Other } else { Role::Sampling };
    }
    let wanted = matches!(
        name,
        "sched:sched_switch"
            | "kmem:mm_page_alloc"
            | "kmem:mm_page_free"
            | "raw_syscalls:sys_enter"
            | "raw_syscalls:sys_exit"
    );
    if !wanted {
        return Role::Other;
    }
    let format = match tracepoint_format(attr, features) {
        Ok(f) => f,
        Err(why) => {
            notes.push(format!("{name} is not decoded: {why}"));
            return Role::Other;
        }
    };
    let scalars = |names: &[&str]| -> Result<Vec<ScalarField>, String> {
        names
            .iter()
            .map(|n| format.scalar_field(*n).map_err(|e| e.to_string()))
            .collect()
    };
    let index = |name: &str| format.field_index(name).map_err(|e| e.to_string());
    // common_flags, which says whether it was in interrupt context.
    let flags = format.scalar_field("common_flags").ok();
    let role = match name {
        "sched:sched_switch" => (|| {
            let pids = scalars(&["prev_pid", "next_pid"])?;
            Ok(Role::SchedSwitch {
                prev_pid: pids[0],
                prev_comm: index("prev_comm")?,
                next_pid: pids[1],
                next_comm: index("next_comm")?,
                format: format.clone(),
            })
        })(),
        "kmem:mm_page_alloc" => scalars(&["order"]).map(|f| Role::PageAlloc { order: f[0], flags }),
        "kmem:mm_page_free" => scalars(&["order"]).map(|f| Role::PageFree { order: f[0], flags }),
        "raw_syscalls:sys_enter" => scalars(&["id"]).map(|f| Role::SysEnter { id: f[0] }),
        _ => scalars(&["id", "ret"]).map(|f| Role::SysExit {
            id: f[0],
            ret: f[1],
        }),
    };
    role.unwrap_or_else(|why| {
        notes.push(format!("{name} is not decoded: {why}"));
        Role::Other
    })
}

#[cfg(test)]
mod tests;

/// Whether records of type `kind`, which [`Record::parse`] does not decode,
/// are ones the report has no use for: side-band that neither places tasks
/// nor counts anything (MMAP, KSYMBOL...), and perf's own bookkeeping.
///
/// [`Record::parse`]: perfns::record::RawRecord::parse
fn ignored_knowingly(kind: RecordType) -> bool {
    matches!(
        kind,
        RecordType::MMAP
            | RecordType::READ
            | RecordType::AUX
            | RecordType::ITRACE_START
            | RecordType::KSYMBOL
            | RecordType::BPF_EVENT
            | RecordType::TEXT_POKE
            | RecordType::AUX_OUTPUT_HW_ID
            | RecordType::HEADER_ATTR
            | RecordType::HEADER_EVENT_TYPE
            | RecordType::HEADER_TRACING_DATA
            | RecordType::HEADER_BUILD_ID
            | RecordType::ID_INDEX
            | RecordType::AUXTRACE_INFO
            | RecordType::AUXTRACE_ERROR
            | RecordType::THREAD_MAP
            | RecordType::CPU_MAP
            | RecordType::EVENT_UPDATE
            | RecordType::TIME_CONV
            | RecordType::HEADER_FEATURE
            | RecordType::FINISHED_INIT
    )
}

/// Whether unread records of type `kind` may hold what the figures count:
/// compressed records (any record inside), AUX area data (samples perf
/// synthesizes from it), and any type in perf's user-space range that this
/// report does not know. A kernel type it does not know is a newer
/// kernel's side-band: samples are always PERF_RECORD_SAMPLE.
fn may_hold_samples(kind: RecordType) -> bool {
    matches!(
        kind,
        RecordType::COMPRESSED | RecordType::COMPRESSED2 | RecordType::AUXTRACE
    ) || (!kind.is_kernel() && kind.name().is_none())
}

/// The warnings for the records of types the report did not read: one
/// naming them all with their counts, and one saying the figures are
/// incomplete when some of them may hold samples.
fn unread_warnings(unread: &BTreeMap<RecordType, u64>) -> Vec<String> {
    if unread.is_empty() {
        return Vec::new();
    }
    let named = |kind: RecordType| match kind.name() {
        Some(name) => format!("{name} (type {})", kind.0),
        None => format!("type {}", kind.0),
    };
    let list = |filter: &dyn Fn(RecordType) -> bool| {
        unread
            .iter()
            .filter(|(&k, _)| filter(k))
            .map(|(&k, n)| format!("{}: {n}", named(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let total: u64 = unread.values().sum();
    let mut out = vec![format!(
        "{total} records of types the report does not read were skipped ({})",
        list(&|_| true)
    )];
    if unread.keys().any(|&k| may_hold_samples(k)) {
        out.push(format!(
            "the figures are incomplete: records the report could not read may hold samples \
             and side-band ({})",
            list(&may_hold_samples)
        ));
    }
    out
}
