//! `perfns trace`'s analysis: syscalls as strace and perf trace show them,
//! a line per call (time, container, comm[pid/tid], name(arguments) =
//! result <duration>), and strace -c's summary per container.
//!
//! [`Trace`] is a consumer of records in time order, as
//! [`crate::analysis::Analysis`] is: made of a recording's attrs and
//! features ([`Trace::new`]) or of a live session's events and formats
//! ([`Trace::from_events`]), fed by [`Trace::record`] and
//! [`Trace::sample_record`] from a recording ([`feed`]) or from a live
//! session's drains, it keeps per-task state (the call each task is in)
//! and hands the finished calls out with [`Trace::take_lines`]; memory is
//! O(tasks + containers + syscalls), never O(events). [`Trace::finish`]
//! gives the calls still open and the summary. Decoding the arguments is
//! [`decode`]'s, the text and JSON [`render`]'s, the figures [`summary`]'s.
//!
//! The calls come from `raw_syscalls:sys_enter`/`sys_exit` (perfns
//! record's `syscalls` group, `perf trace record`), whose six arguments are
//! named and typed by the `syscalls:sys_enter_NAME` formats of a tracefs
//! ([`Signatures`]), or from `syscalls:sys_enter_NAME`/`sys_exit_NAME`
//! events, which carry their own format.

pub mod decode;
pub mod render;
pub mod summary;
mod tables;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use perfns::attr::{kind, AttrSet};
use perfns::container::{Container, ContainerRef, RecordingMeta};
use perfns::perf_data::{Features, PerfDataError, PerfFileReader};
use perfns::record::{ns_index, Record, RecordType, Sample};
use perfns::tracepoint::{FieldIndex, FieldKind, Tracefs, TracepointFormat};
use serde::Serialize;

use decode::{Arg, Param};
use summary::Summary;

/// The inode of the initial pid namespace (PROC_PID_INIT_INO): the host's
/// when nothing says otherwise.
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// Which calls a trace shows: its validated filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceOptions {
    /// `--container`: this container and the ones nested in it (its name,
    /// key, runtime id or cgroup path, as `perfns report --container`).
    pub container: Option<String>,
    /// `-p`: these processes (all their threads) and the processes they
    /// start once traced.
    pub pids: Vec<i32>,
    /// `-- COMMAND`: the processes this one (the tracer) starts, and the
    /// ones they start; not its own calls.
    pub children_of: Option<i32>,
    /// Processes never shown: the tracer's own, whose reads of the ring
    /// buffers would otherwise be traced.
    pub exclude: Vec<i32>,
    /// `-e`: these syscalls (strace's classes already expanded); `None`:
    /// all.
    pub syscalls: Option<BTreeSet<String>>,
    /// `--failed`: only calls that returned an error.
    pub failed: bool,
    /// `--duration-min`: only calls that took at least this long (ns).
    pub duration_min_ns: u64,
}

/// Why a trace cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The recording holds no syscall events.
    #[error(
        "{file}: no syscall events (raw_syscalls:sys_enter/sys_exit or syscalls:sys_enter_*) in \
         the recording; its events: {events} (record with `perfns record -e syscalls` or `perf \
         trace record`)"
    )]
    NoSyscallEvents {
        /// The recording.
        file: String,
        /// The events it has.
        events: String,
    },
    /// `--container` names no container of the recording.
    #[error("no container is called or keyed {wanted:?}; the recording has: {known}")]
    NoSuchContainer {
        /// What was asked for.
        wanted: String,
        /// The containers it has, `name (key)`.
        known: String,
    },
}

/// The parameters of each syscall by name, from the syscalls:sys_enter_NAME
/// formats of a tracefs (or a copy of one, `--tracefs DIR`), read once
/// each when first needed.
#[derive(Debug, Default)]
pub struct Signatures {
    tracefs: Option<Tracefs>,
    cache: HashMap<String, Option<Arc<[Param]>>>,
    /// The syscalls whose format the tracefs lacks.
    missing: BTreeSet<String>,
}

impl Signatures {
    /// Read from this tracefs.
    pub fn from_tracefs(tracefs: Tracefs) -> Self {
        Self {
            tracefs: Some(tracefs),
            ..Self::default()
        }
    }

    /// None known: arguments are shown as `arg1`... in hex.
    pub fn none() -> Self {
        Self::default()
    }

    /// Where they are read, if anywhere.
    pub fn tracefs(&self) -> Option<&Tracefs> {
        self.tracefs.as_ref()
    }

    /// The parameters of syscall `name`, if its format is there.
    fn of(&mut self, name: &str) -> Option<Arc<[Param]>> {
        if let Some(p) = self.cache.get(name) {
            return p.clone();
        }
        let params = self.tracefs.as_ref().and_then(|t| {
            let format = t.format("syscalls", &format!("sys_enter_{name}")).ok()?;
            Some(Arc::from(
                params(&format)
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect::<Vec<_>>(),
            ))
        });
        if params.is_none() && self.tracefs.is_some() {
            self.missing.insert(name.to_owned());
        }
        self.cache.insert(name.to_owned(), params.clone());
        params
    }
}

/// A sys_enter_NAME format's parameters, in order, with their fields: the
/// scalar fields after the common ones and `__syscall_nr`.
fn params(format: &TracepointFormat) -> Vec<(FieldIndex, Param)> {
    format
        .fields
        .iter()
        .filter(|f| {
            f.kind == FieldKind::Scalar
                && !f.name.starts_with("common_")
                && f.name != "__syscall_nr"
        })
        .filter_map(|f| {
            let index = format.field_index(&f.name).ok()?;
            Some((
                index,
                Param {
                    name: f.name.clone(),
                    c_type: f.c_type.clone(),
                },
            ))
        })
        .collect()
}

/// The string field a sys_enter_NAME format carries for parameter `name`,
/// if any: a `__data_loc char[]` named after it (`__filename_val`,
/// `filename_str`), as kernels that read user strings into syscall events
/// add them.
fn string_field(format: &TracepointFormat, name: &str) -> Option<FieldIndex> {
    format
        .fields
        .iter()
        .find(|f| {
            f.kind != FieldKind::Scalar
                && f.c_type.contains("char")
                && f.name
                    .trim_start_matches('_')
                    .trim_end_matches("_val")
                    .trim_end_matches("_str")
                    == name
        })
        .and_then(|f| format.field_index(&f.name).ok())
}

/// What an event is to the trace.
#[derive(Debug)]
enum Role {
    RawEnter {
        format: TracepointFormat,
        id: FieldIndex,
        args: FieldIndex,
        /// Whether raw_syscalls:sys_exit is recorded too (perf record -e
        /// raw_syscalls:sys_enter alone: calls without their results).
        exit_recorded: bool,
    },
    RawExit {
        format: TracepointFormat,
        id: FieldIndex,
        ret: FieldIndex,
    },
    /// syscalls:sys_enter_NAME.
    Enter {
        format: TracepointFormat,
        name: Arc<str>,
        params: Vec<(FieldIndex, Param)>,
        strings: Vec<Option<FieldIndex>>,
        /// Whether sys_exit_NAME is recorded too; if not, a call is shown
        /// when it enters, without its result.
        exit_recorded: bool,
    },
    /// syscalls:sys_exit_NAME.
    Exit {
        format: TracepointFormat,
        name: Arc<str>,
        ret: FieldIndex,
    },
    Other,
}

/// A finished call (or one that never returned), as a line shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallLine {
    /// When it entered (perf clock, ns).
    pub time_ns: u64,
    /// Since the trace's first record (ns).
    pub since_start_ns: u64,
    /// How long it took, when its entry and its exit were both seen.
    pub duration_ns: Option<u64>,
    /// The container its task is in.
    pub container: String,
    /// The task's name.
    pub comm: String,
    /// Its process id.
    pub pid: i32,
    /// Its thread id.
    pub tid: i32,
    /// The CPU it entered on.
    pub cpu: Option<u32>,
    /// The syscall's name (`syscall_NR` when the table has none).
    pub syscall: String,
    /// Its number, when the recording gives it.
    pub nr: Option<u64>,
    /// Its arguments.
    pub args: Vec<Arg>,
    /// What it returned; `None`: it never returned (exit_group, a task
    /// that exited or the trace's end first), or no exit was recorded.
    #[serde(rename = "return")]
    pub ret: Option<i64>,
    /// The result as shown (`3`, `0x7f...`, `-1 ENOENT (No such file or
    /// directory)`, `?`).
    pub result: String,
    /// Its error, when it failed.
    pub error: Option<decode::Errno>,
}

/// A call a task has entered and not returned from.
#[derive(Debug, Clone)]
struct Pending {
    name: Arc<str>,
    nr: Option<u64>,
    entered: u64,
    cpu: Option<u32>,
    args: Vec<Arg>,
}

/// A task as the records show it.
#[derive(Debug, Default)]
struct Task {
    pid: i32,
    comm: String,
    pid_ns: Option<u64>,
    pending: Option<Pending>,
}

/// What the trace saw besides the calls, at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceEnd {
    /// Events the kernel reported lost: calls missing from the trace.
    pub lost: u64,
    /// Records that could not be read or decoded.
    pub errors: u64,
    /// Returns whose entry the trace did not see (a new task's first
    /// return from clone or fork, a call entered before tracing began):
    /// not shown.
    pub exits_without_entry: u64,
    /// What the user should know about the figures.
    pub warnings: Vec<String>,
}

/// The trace's state between records.
#[derive(Debug)]
pub struct Trace {
    options: TraceOptions,
    arch: String,
    roles: Vec<Role>,
    signatures: Signatures,
    /// What each raw syscall number is, worked out at its first record.
    numbers: Numbers,
    tasks: IdMap<i32, Task>,
    meta: Option<RecordingMeta>,
    host_ns: u64,
    /// Whether each pid namespace is in `--container`'s.
    in_container: IdMap<Option<u64>, bool>,
    /// The processes followed (`-p`, `-- COMMAND`); `None`: all.
    followed: Option<HashSet<i32, BuildHasherDefault<IdHasher>>>,
    first_time: Option<u64>,
    lines: Vec<SyscallLine>,
    summary: Summary,
    end: TraceEnd,
}

impl Trace {
    /// A trace of a recording with these events and features,
    /// `signatures` naming the arguments of raw_syscalls events.
    pub fn new(
        file: &str,
        events: &AttrSet,
        features: &Features,
        signatures: Signatures,
        options: TraceOptions,
    ) -> Result<Self, TraceError> {
        let mut warnings = Vec::new();
        let events: Vec<(String, Option<TracepointFormat>)> = events
            .events()
            .iter()
            .map(|e| {
                let format = match recorded_format(&e.name, &e.attr, features) {
                    Ok(f) => f,
                    Err(why) => {
                        warnings.push(format!("{} is not decoded: {why}", e.name));
                        None
                    }
                };
                (e.name.clone(), format)
            })
            .collect();
        let arch = features
            .arch
            .clone()
            .unwrap_or_else(perfns::syscalls::host_arch);
        let meta = RecordingMeta::from_features(features).ok().flatten();
        let mut trace = Self::from_events(file, &events, arch, meta, signatures, options)?;
        trace.end.warnings.splice(0..0, warnings);
        Ok(trace)
    }

    /// A trace of events given by name and tracepoint format (`None` for
    /// the events that are no tracepoint), in the order of the event
    /// indexes the records will carry: what a live session has (its
    /// recorder's plan of events) rather than a file's attrs and features.
    /// `arch` names the syscall numbers (as `uname -m`); `meta` is perfns's
    /// container metadata, when there is some ([`Self::update_meta`] as it
    /// grows).
    pub fn from_events(
        file: &str,
        events: &[(String, Option<TracepointFormat>)],
        arch: String,
        meta: Option<RecordingMeta>,
        signatures: Signatures,
        options: TraceOptions,
    ) -> Result<Self, TraceError> {
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        let mut warnings = Vec::new();
        let roles: Vec<Role> = events
            .iter()
            .map(|(name, format)| role(name, format.as_ref(), &names, &mut warnings))
            .collect();
        if !roles
            .iter()
            .any(|r| matches!(r, Role::RawEnter { .. } | Role::Enter { .. }))
        {
            return Err(TraceError::NoSyscallEvents {
                file: file.to_owned(),
                events: names.join(", "),
            });
        }
        if signatures.tracefs.is_none() && roles.iter().any(|r| matches!(r, Role::RawEnter { .. }))
        {
            warnings.push(
                "no tracefs to read the syscalls' formats from (--tracefs DIR): arguments are \
                 shown as arg1..arg6"
                    .into(),
            );
        }
        let mut tasks = IdMap::default();
        for t in meta.iter().flat_map(|m| &m.tasks) {
            tasks.insert(
                t.tid,
                Task {
                    pid: t.pid,
                    comm: t.comm.clone(),
                    pid_ns: t.pid_ns(),
                    pending: None,
                },
            );
        }
        let followed = (!options.pids.is_empty() || options.children_of.is_some())
            .then(|| options.pids.iter().copied().collect());
        let trace = Self {
            arch,
            roles,
            signatures,
            numbers: Numbers::default(),
            tasks,
            host_ns: meta.as_ref().map_or(PROC_PID_INIT_INO, |m| m.host),
            meta,
            in_container: IdMap::default(),
            followed,
            first_time: None,
            lines: Vec::new(),
            summary: Summary::default(),
            end: TraceEnd {
                warnings,
                ..TraceEnd::default()
            },
            options,
        };
        trace.check_container()?;
        Ok(trace)
    }

    /// With perfns's metadata, `--container` must name one of its
    /// containers (a live trace's metadata grows as containers start:
    /// [`Self::update_meta`]).
    fn check_container(&self) -> Result<(), TraceError> {
        let (Some(wanted), Some(meta)) = (&self.options.container, &self.meta) else {
            return Ok(());
        };
        if meta
            .containers
            .iter()
            .any(|c| container_ref(c, self.host_ns).matches(wanted))
            || wanted == "host"
        {
            return Ok(());
        }
        Err(TraceError::NoSuchContainer {
            wanted: wanted.clone(),
            known: meta
                .containers
                .iter()
                .map(|c| format!("{} (pidns:{})", c.name, c.key))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Takes perfns's container metadata anew: a live session's, as it
    /// learns containers, or the one at the end of a pipe-mode stream.
    pub fn update_meta(&mut self, meta: RecordingMeta) {
        self.host_ns = meta.host;
        self.meta = Some(meta);
        self.in_container.clear();
    }

    /// The finished calls since the last call, in the order they finished.
    pub fn take_lines(&mut self) -> Vec<SyscallLine> {
        std::mem::take(&mut self.lines)
    }

    /// The figures so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Counts a record that could not be read or decoded.
    pub fn record_error(&mut self, error: &PerfDataError) {
        self.end.errors += 1;
        if self.end.errors == 1 {
            self.end
                .warnings
                .push(format!("a record could not be read: {error}"));
        }
    }

    /// Feeds one record of event `event` (its index in the recording's
    /// events). Records must come in time order.
    pub fn record(&mut self, event: usize, record: &Record<'_>) {
        match record {
            Record::Sample(s) => self.sample_record(event, s),
            Record::Comm(c) => {
                let task = self.task(c.tid);
                task.pid = c.pid;
                task.comm.clone_from(&c.comm);
            }
            Record::Fork(f) => {
                let (comm, pid_ns) = self
                    .tasks
                    .get(&f.ptid)
                    .map(|p| (p.comm.clone(), p.pid_ns))
                    .unwrap_or_default();
                self.tasks.insert(
                    f.tid,
                    Task {
                        pid: f.pid,
                        comm,
                        pid_ns,
                        pending: None,
                    },
                );
                if let Some(followed) = &mut self.followed {
                    // A new process of a followed one, or the command's.
                    if f.pid != f.ppid
                        && (followed.contains(&f.ppid) || self.options.children_of == Some(f.ppid))
                    {
                        followed.insert(f.pid);
                    }
                }
            }
            Record::Exit(e) => {
                // A call it never returned from (exit_group, exit).
                if let Some(task) = self.tasks.remove(&e.tid) {
                    if let Some(p) = task.pending.clone() {
                        self.unfinished(e.tid, &task, p);
                    }
                }
            }
            Record::Namespaces(n) => self.namespaces(n.pid, n.tid, &n.namespaces),
            Record::TracerNamespaces(n) => self.namespaces(n.pid, n.tid, &n.namespaces),
            Record::Lost(l) => self.end.lost += l.lost,
            Record::LostSamples(l) => self.end.lost += l.lost,
            _ => {}
        }
    }

    fn namespaces(&mut self, pid: i32, tid: i32, links: &[perfns::record::NamespaceLink]) {
        let ns = links
            .get(ns_index::PID)
            .map(|l| l.ino)
            .filter(|&ino| ino != 0);
        if tid == 1 && self.meta.is_none() {
            if let Some(ns) = ns {
                self.host_ns = ns;
                self.in_container.clear();
            }
        }
        let task = self.task(tid);
        task.pid = pid;
        task.pid_ns = ns;
    }

    fn task(&mut self, tid: i32) -> &mut Task {
        self.tasks.entry(tid).or_insert_with(|| Task {
            pid: tid,
            ..Task::default()
        })
    }

    /// Feeds one sample of event `event`, as [`Self::record`] would.
    pub fn sample_record(&mut self, event: usize, s: &Sample<'_>) {
        let (Some(pid), Some(tid), Some(time)) = (s.id.pid, s.id.tid, s.id.time) else {
            return;
        };
        self.first_time.get_or_insert(time);
        let Some(role) = self.roles.get(event) else {
            return;
        };
        if matches!(role, Role::Other) {
            return;
        }
        {
            let task = self.task(tid);
            if tid != 0 {
                task.pid = pid;
            }
        }
        if !self.selected(tid) {
            return;
        }
        let payload = s.raw.as_deref().unwrap_or_default();
        let cpu = s.id.cpu;
        match self.decode(event, payload) {
            Ok(Some(Decoded::Enter {
                name,
                nr,
                args,
                exit_recorded,
            })) => {
                let p = Pending {
                    name,
                    nr,
                    entered: time,
                    cpu,
                    args,
                };
                if exit_recorded {
                    self.task(tid).pending = Some(p);
                } else {
                    let task = self
                        .tasks
                        .get(&tid)
                        .map(|t| (t.pid, t.comm.clone(), t.pid_ns));
                    if let Some((pid, comm, ns)) = task {
                        self.emit(tid, pid, comm, ns, p, None, None);
                    }
                }
            }
            Ok(Some(Decoded::Exit { name, nr, ret })) => {
                let task = self.task(tid);
                let pending = task.pending.take();
                let (pid, comm, ns) = (task.pid, task.comm.clone(), task.pid_ns);
                match pending {
                    Some(p) if p.name == name && (nr.is_none() || p.nr == nr) => {
                        let duration = time.saturating_sub(p.entered);
                        self.emit(tid, pid, comm, ns, p, Some(ret), Some(duration));
                    }
                    _ => self.end.exits_without_entry += 1,
                }
            }
            Ok(None) => {}
            Err(()) => self.end.errors += 1,
        }
    }

    /// Whether `tid`'s calls are traced: its container and its process
    /// are the ones asked for.
    fn selected(&mut self, tid: i32) -> bool {
        let Some(task) = self.tasks.get(&tid) else {
            return false;
        };
        if let Some(followed) = &self.followed {
            if !followed.contains(&task.pid) {
                return false;
            }
        }
        if self.options.exclude.contains(&task.pid) {
            return false;
        }
        let ns = task.pid_ns;
        if self.options.container.is_none() {
            return true;
        }
        if let Some(&yes) = self.in_container.get(&ns) {
            return yes;
        }
        let yes = self.container_matches(ns);
        self.in_container.insert(ns, yes);
        yes
    }

    /// Whether the container of pid namespace `ns`, or one it is nested
    /// in, is `--container`'s.
    fn container_matches(&self, ns: Option<u64>) -> bool {
        let Some(wanted) = &self.options.container else {
            return true;
        };
        // The root: the host, or in a tenant's recording its own
        // container, which holds everything in scope.
        if wanted == "host"
            || self
                .own_container()
                .is_some_and(|c| container_ref(c, self.host_ns).matches(wanted))
        {
            return true;
        }
        let Some(mut key) = ns.filter(|&k| k != self.host_ns) else {
            return false;
        };
        let Some(meta) = &self.meta else {
            return ContainerRef {
                name: &format!("pidns-{key}"),
                pid_ns: Some(key),
                id: None,
                cgroup: None,
            }
            .matches(wanted);
        };
        // Up the parent chain, bounded against a loop in damaged metadata.
        for _ in 0..=meta.containers.len() {
            let Some(c) = meta.container(key) else {
                return false;
            };
            if container_ref(c, self.host_ns).matches(wanted) {
                return true;
            }
            match c.parent {
                Some(p) if p != self.host_ns => key = p,
                _ => return false,
            }
        }
        false
    }

    /// In a tracer-scope recording, the container it was made in: the
    /// root of its tree, named as perfns report names it, not "host".
    fn own_container(&self) -> Option<&Container> {
        self.meta.as_ref()?.own_container()
    }

    /// The name of the container of pid namespace `ns`.
    fn container_name(&self, ns: Option<u64>) -> String {
        match ns {
            None => "host".into(),
            Some(k) if k == self.host_ns => self
                .own_container()
                .map_or_else(|| "host".into(), |c| c.name.clone()),
            Some(k) => match self.meta.as_ref().and_then(|m| m.container(k)) {
                Some(c) => c.name.clone(),
                None => format!("pidns-{k}"),
            },
        }
    }

    /// What sample payload `payload` of event `event` says: a call entered
    /// (its name, number and arguments decoded) or one returned; `None`
    /// for a call `-e` leaves out; `Err` for a payload that does not fit
    /// its format.
    fn decode(&mut self, event: usize, payload: &[u8]) -> Result<Option<Decoded>, ()> {
        let Self {
            arch,
            roles,
            signatures,
            numbers,
            options,
            ..
        } = self;
        let arch = arch.as_str();
        let wanted = |name: &str| {
            options
                .syscalls
                .as_ref()
                .is_none_or(|set| set.contains(name))
        };
        match &roles[event] {
            Role::RawEnter {
                format,
                id,
                args,
                exit_recorded,
            } => {
                let nr = format.read_i64(payload, *id).map_err(|_| ())?;
                let Ok(nr) = u64::try_from(nr) else {
                    return Ok(None);
                };
                let number = numbers.of(nr, arch, wanted);
                if !number.wanted {
                    return Ok(None);
                }
                let name = number.name.clone();
                let params = number
                    .params
                    .get_or_insert_with(|| signatures.of(&name))
                    .clone();
                let mut raw = [0u64; 6];
                for (i, r) in raw.iter_mut().enumerate() {
                    *r = format.read_element_u64(payload, *args, i).map_err(|_| ())?;
                }
                let args = match params {
                    Some(params) => params
                        .iter()
                        .zip(raw)
                        .map(|(p, v)| Arg {
                            name: p.name.clone(),
                            c_type: p.c_type.clone(),
                            raw: v,
                            text: decode::arg(&name, p, v, arch),
                        })
                        .collect(),
                    None => raw
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| Arg {
                            name: format!("arg{}", i + 1),
                            c_type: String::new(),
                            raw: v,
                            text: format!("{v:#x}"),
                        })
                        .collect(),
                };
                Ok(Some(Decoded::Enter {
                    name,
                    nr: Some(nr),
                    args,
                    exit_recorded: *exit_recorded,
                }))
            }
            Role::RawExit { format, id, ret } => {
                let nr = format.read_i64(payload, *id).map_err(|_| ())?;
                let ret = format.read_i64(payload, *ret).map_err(|_| ())?;
                let Ok(nr) = u64::try_from(nr) else {
                    return Ok(None);
                };
                let number = numbers.of(nr, arch, wanted);
                if !number.wanted {
                    return Ok(None);
                }
                Ok(Some(Decoded::Exit {
                    name: number.name.clone(),
                    nr: Some(nr),
                    ret,
                }))
            }
            Role::Enter {
                format,
                name,
                params,
                strings,
                exit_recorded,
            } => {
                if !wanted(name) {
                    return Ok(None);
                }
                let mut args = Vec::with_capacity(params.len());
                for ((field, p), string) in params.iter().zip(strings) {
                    let v = format.read_u64(payload, *field).map_err(|_| ())?;
                    let text = match string.map(|s| format.read_str(payload, s)) {
                        Some(Ok(s)) => format!("{s:?}"),
                        _ => decode::arg(name, p, v, arch),
                    };
                    args.push(Arg {
                        name: p.name.clone(),
                        c_type: p.c_type.clone(),
                        raw: v,
                        text,
                    });
                }
                let nr = format
                    .field_index("__syscall_nr")
                    .ok()
                    .and_then(|f| format.read_i64(payload, f).ok())
                    .and_then(|n| u64::try_from(n).ok());
                Ok(Some(Decoded::Enter {
                    name: name.clone(),
                    nr,
                    args,
                    exit_recorded: *exit_recorded,
                }))
            }
            Role::Exit { format, name, ret } => {
                if !wanted(name) {
                    return Ok(None);
                }
                let ret = format.read_i64(payload, *ret).map_err(|_| ())?;
                Ok(Some(Decoded::Exit {
                    name: name.clone(),
                    nr: None,
                    ret,
                }))
            }
            Role::Other => Ok(None),
        }
    }

    /// A call that will not return: shown with `?`.
    fn unfinished(&mut self, tid: i32, task: &Task, p: Pending) {
        self.emit(tid, task.pid, task.comm.clone(), task.pid_ns, p, None, None);
    }

    /// Shows a call, if `--failed` and `--duration-min` let it through,
    /// and counts it.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        tid: i32,
        pid: i32,
        comm: String,
        ns: Option<u64>,
        p: Pending,
        ret: Option<i64>,
        duration_ns: Option<u64>,
    ) {
        let (result, error) = match ret {
            None => ("?".to_owned(), None),
            Some(r) => match decode::result(&p.name, r) {
                Ok(text) => (text, None),
                Err(e) => (e.text(), Some(e)),
            },
        };
        if self.options.failed && error.is_none() {
            return;
        }
        if self.options.duration_min_ns > 0
            && duration_ns.is_none_or(|d| d < self.options.duration_min_ns)
        {
            return;
        }
        let container = self.container_name(ns);
        self.summary
            .count(&container, &p.name, error.is_some(), duration_ns);
        self.lines.push(SyscallLine {
            time_ns: p.entered,
            since_start_ns: p
                .entered
                .saturating_sub(self.first_time.unwrap_or(p.entered)),
            duration_ns,
            container,
            comm,
            pid,
            tid,
            cpu: p.cpu,
            syscall: p.name.to_string(),
            nr: p.nr,
            args: p.args,
            ret,
            result,
            error,
        });
    }

    /// Ends the trace: the calls still open are shown unfinished (`= ?`,
    /// as strace shows them when it detaches), then the summary and what
    /// else was seen.
    pub fn finish(mut self) -> (Vec<SyscallLine>, Summary, TraceEnd) {
        let mut open: Vec<(i32, Task)> = std::mem::take(&mut self.tasks)
            .into_iter()
            .filter(|(_, t)| t.pending.is_some())
            .collect();
        open.sort_by_key(|(tid, t)| (t.pending.as_ref().map(|p| p.entered), *tid));
        for (tid, task) in open {
            if let Some(p) = task.pending.clone() {
                self.unfinished(tid, &task, p);
            }
        }
        if let (Some(t), false) = (&self.signatures.tracefs, self.signatures.missing.is_empty()) {
            let names: Vec<&str> = self.signatures.missing.iter().map(String::as_str).collect();
            self.end.warnings.push(format!(
                "{} has no syscalls:sys_enter_* format for {}: their arguments are shown as \
                 arg1..arg6 (give --tracefs a directory that has them)",
                t.root().display(),
                names.join(", ")
            ));
        }
        if self.roles.iter().any(|r| {
            matches!(
                r,
                Role::RawEnter {
                    exit_recorded: false,
                    ..
                }
            )
        }) {
            self.end.warnings.push(
                "raw_syscalls:sys_exit was not recorded: calls are shown as they enter, without \
                 their results or durations"
                    .into(),
            );
        }
        if self.end.lost > 0 {
            self.end.warnings.push(format!(
                "{} events were lost: calls are missing from the trace and the summary (a larger \
                 buffer: -m)",
                self.end.lost
            ));
        }
        if self.end.errors > 0 {
            self.end.warnings.push(format!(
                "{} records could not be read or decoded: their calls are not shown",
                self.end.errors
            ));
        }
        if let (Some(wanted), None) = (&self.options.container, &self.meta) {
            if !self.in_container.values().any(|&yes| yes) {
                self.end.warnings.push(format!(
                    "no task of a container called or keyed {wanted:?} was seen"
                ));
            }
        }
        self.summary.finish();
        (self.lines, self.summary, self.end)
    }
}

/// What a payload said.
enum Decoded {
    Enter {
        name: Arc<str>,
        nr: Option<u64>,
        args: Vec<Arg>,
        exit_recorded: bool,
    },
    Exit {
        name: Arc<str>,
        nr: Option<u64>,
        ret: i64,
    },
}

/// A map keyed by ids the kernel gives (tids, pids, pid namespaces).
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Hashes ids with a rotation and a multiplication a word, as rustc's
/// FxHasher does, for the maps a record looks up several times (the task,
/// whether its process is followed, whether its container is wanted): the
/// keys are the kernel's, not chosen to collide, and SipHash there was a
/// tenth of the trace's own time (perf record -g on perfns trace).
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_ne_bytes(word));
        }
    }

    fn write_i32(&mut self, n: i32) {
        self.add(u64::from(n as u32));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// What the raw syscall numbers are: each one's name, whether `-e` wants
/// it and its parameters, worked out at its first record rather than at
/// every one (a name and a set lookup per record were most of the cost of
/// a call left out).
#[derive(Debug, Default)]
struct Numbers {
    /// By number, up to [`Numbers::TABLE`].
    table: Vec<Option<Number>>,
    /// Beyond it (numbers no table has).
    others: HashMap<u64, Number>,
}

/// A raw syscall number, as [`Numbers`] keeps it.
#[derive(Debug)]
struct Number {
    name: Arc<str>,
    wanted: bool,
    /// Its parameters from the tracefs, once looked up (at its first
    /// entry).
    params: Option<Option<Arc<[Param]>>>,
}

impl Numbers {
    /// Numbers below this one are kept in a table (the tables' largest
    /// are below 512).
    const TABLE: u64 = 1024;

    /// Number `nr` on `arch`; `wanted` says whether `-e` wants a name.
    fn of(&mut self, nr: u64, arch: &str, wanted: impl Fn(&str) -> bool) -> &mut Number {
        let new = || {
            let name: Arc<str> = perfns::syscalls::name(arch, nr)
                .map_or_else(|| Arc::from(format!("syscall_{nr}")), Arc::from);
            Number {
                wanted: wanted(&name),
                name,
                params: None,
            }
        };
        if nr < Self::TABLE {
            let i = nr as usize;
            if self.table.len() <= i {
                self.table.resize_with(i + 1, || None);
            }
            self.table[i].get_or_insert_with(new)
        } else {
            self.others.entry(nr).or_insert_with(new)
        }
    }
}

/// What `--container` is matched against for a container of perfns's
/// metadata.
fn container_ref(c: &perfns::container::Container, host: u64) -> ContainerRef<'_> {
    ContainerRef {
        name: &c.name,
        pid_ns: (c.key != host).then_some(c.key),
        id: c.id.as_deref(),
        cgroup: c.cgroup.as_deref(),
    }
}

/// The format a recording's tracing data gives a syscall event (`None`
/// for the events the trace does not read); `Err`: why a syscall event
/// cannot be decoded.
fn recorded_format(
    name: &str,
    attr: &perfns::attr::EventAttr,
    features: &Features,
) -> Result<Option<TracepointFormat>, &'static str> {
    if attr.kind != kind::TRACEPOINT || !is_syscall_event(name) {
        return Ok(None);
    }
    crate::analysis::tracepoint_format(attr, features).map(Some)
}

/// Whether event `name` is one the trace reads.
fn is_syscall_event(name: &str) -> bool {
    name.starts_with("syscalls:sys_enter_")
        || name.starts_with("syscalls:sys_exit_")
        || name == "raw_syscalls:sys_enter"
        || name == "raw_syscalls:sys_exit"
}

/// What event `name`, with tracepoint format `format`, is to the trace;
/// `all` names every event of the recording.
fn role(
    name: &str,
    format: Option<&TracepointFormat>,
    all: &[&str],
    warnings: &mut Vec<String>,
) -> Role {
    let Some(format) = format.filter(|_| is_syscall_event(name)) else {
        return Role::Other;
    };
    let field = |n: &str| format.field_index(n).map_err(|e| e.to_string());
    let role = match name {
        "raw_syscalls:sys_enter" => (|| {
            Ok::<_, String>(Role::RawEnter {
                id: field("id")?,
                args: field("args")?,
                exit_recorded: all.contains(&"raw_syscalls:sys_exit"),
                format: format.clone(),
            })
        })(),
        "raw_syscalls:sys_exit" => (|| {
            Ok(Role::RawExit {
                id: field("id")?,
                ret: field("ret")?,
                format: format.clone(),
            })
        })(),
        _ => {
            if let Some(syscall) = name.strip_prefix("syscalls:sys_enter_") {
                let params = params(format);
                let strings = params
                    .iter()
                    .map(|(_, p)| string_field(format, &p.name))
                    .collect();
                Ok(Role::Enter {
                    name: Arc::from(syscall),
                    params,
                    strings,
                    exit_recorded: all.contains(&format!("syscalls:sys_exit_{syscall}").as_str()),
                    format: format.clone(),
                })
            } else {
                let syscall = name.trim_start_matches("syscalls:sys_exit_");
                field("ret").map(|ret| Role::Exit {
                    name: Arc::from(syscall),
                    ret,
                    format: format.clone(),
                })
            }
        }
    };
    role.unwrap_or_else(|why| {
        warnings.push(format!("{name} is not decoded: {why}"));
        Role::Other
    })
}

/// Feeds `reader`'s records in time order through `trace`, calling
/// `lines` with the calls finished after each record that finished some.
pub fn feed(
    reader: &PerfFileReader,
    trace: &mut Trace,
    lines: &mut dyn FnMut(Vec<SyscallLine>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut records = reader.stream();
    while let Some(item) = records.next_record() {
        let record = match item {
            Ok(record) => record,
            Err(e) => {
                trace.record_error(&e);
                continue;
            }
        };
        if record.header.kind == RecordType::SAMPLE {
            match record.parse_sample() {
                Ok(sample) => trace.sample_record(record.event, &sample),
                Err(e) => trace.record_error(&record.parse_error(e)),
            }
        } else {
            match record.parse() {
                Ok(parsed) => trace.record(record.event, &parsed),
                Err(e) => trace.record_error(&e),
            }
        }
        if !trace.lines.is_empty() {
            lines(trace.take_lines())?;
        }
    }
    if let Some(features) = records.features_at_end() {
        if let Ok(Some(meta)) = RecordingMeta::from_features(features) {
            trace.update_meta(meta);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
