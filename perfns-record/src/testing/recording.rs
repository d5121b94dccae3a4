//! What tests that record share, in this crate and in the perfns
//! command's: one recording at a time per test binary ([`serial`]), the
//! machine's prerequisite ([`can_record`]), a bound for waits
//! ([`PATIENCE`]), a cgroup of the test's own ([`TestCgroup`]), and a
//! small attribution of a recording's records to containers
//! ([`attribute`]), written directly against the record model so that it
//! checks the recording, not a report. A failed expectation here panics:
//! that is the calling test's failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::MutexGuard;
use std::time::Duration;

use perfns::container::RecordingMeta;
use perfns::perf_data::PerfFileReader;
use perfns::record::Record;
use perfns::tracepoint::{TracepointFormat, COMMON_FLAGS_INTERRUPT};

/// Held by each test that records, so that the recordings of one test
/// binary do not load the machine (and each other's buffers) at once.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the tests can record: root, with tracefs. Skipped (with a
/// message) when not, except under CI, where that fails the test
/// ([`perfns::testing::prerequisite`]).
pub fn can_record() -> bool {
    perfns::testing::prerequisite(perfns::testing::tracefs()).is_some()
}

/// How long a test waits for something the recorder does within a second
/// or two on an idle machine, before it fails: long enough for a loaded
/// one.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// What a recording says each container did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ContainerUse {
    /// Its tasks' tids.
    pub tids: Vec<i32>,
    /// On-CPU time in ns, from the context switches.
    pub cpu_ns: u64,
    /// System calls by number (sys_enter).
    pub syscalls: BTreeMap<u64, u64>,
    /// System call returns by number (sys_exit).
    pub syscall_exits: BTreeMap<u64, u64>,
    /// Pages allocated (sum of 2^order of mm_page_alloc).
    pub pages_allocated: u64,
    /// Pages freed.
    pub pages_freed: u64,
    /// Switch records about its tasks (in and out).
    pub switches: u64,
}

/// A recording, attributed.
#[derive(Debug)]
pub struct Attribution {
    /// The recording's perfns extension.
    pub meta: RecordingMeta,
    /// By container name.
    pub containers: BTreeMap<String, ContainerUse>,
    /// Record counts by type name.
    pub kinds: BTreeMap<String, u64>,
    /// Sum of PERF_RECORD_LOST, per CPU.
    pub lost_by_cpu: BTreeMap<u32, u64>,
    /// Every comm a COMM record names.
    pub comms: BTreeSet<String>,
    /// Every pid namespace a NAMESPACES or TRACER_NAMESPACES record names.
    pub pid_namespaces: BTreeSet<u64>,
    /// Every tracer namespace a TRACER_NAMESPACES record names, in any
    /// task's ancestry.
    pub tracer_namespaces: BTreeSet<u64>,
}

/// Reads every record of `path` in time order and attributes each task to
/// its container by its pid namespace.
pub fn attribute(path: &Path) -> Attribution {
    let reader = PerfFileReader::open(path).expect("open recording");
    let meta = recording_meta(&reader);
    // A recording of the cpu group alone has no tracepoints.
    let tracing = reader.features().tracing_data.clone();
    let formats: HashMap<u64, TracepointFormat> = tracing
        .iter()
        .flat_map(|t| t.formats.iter())
        .map(|f| {
            let tf = TracepointFormat::parse(&f.system, &f.text).expect("format");
            (tf.id, tf)
        })
        .collect();
    let names = event_names(&reader);

    let mut ns_of: HashMap<i32, u64> = HashMap::new();
    let mut running: HashMap<u32, (i32, u64)> = HashMap::new();
    let mut by_tid: HashMap<i32, ContainerUse> = HashMap::new();
    let mut kinds = BTreeMap::new();
    let mut lost_by_cpu = BTreeMap::new();
    let mut comms = BTreeSet::new();
    let mut pid_namespaces = BTreeSet::new();
    let mut tracer_namespaces = BTreeSet::new();
    for r in reader.records() {
        let r = r.expect("record");
        let rec = r.parse().expect("parse");
        *kinds.entry(format!("{:?}", r.header.kind)).or_insert(0) += 1;
        match rec {
            Record::Namespaces(n) => {
                if let Some(ns) = n.pid_ns() {
                    if ns.ino != 0 {
                        ns_of.insert(n.tid, ns.ino);
                        pid_namespaces.insert(ns.ino);
                    }
                }
            }
            Record::TracerNamespaces(n) => {
                if let Some(ns) = n.namespaces.get(perfns::record::ns_index::PID) {
                    if ns.ino != 0 {
                        ns_of.insert(n.tid, ns.ino);
                        pid_namespaces.insert(ns.ino);
                    }
                }
                tracer_namespaces.extend(n.tracer_ns.iter().copied());
            }
            Record::Comm(c) => {
                comms.insert(c.comm.clone());
            }
            Record::Fork(f) => {
                if let Some(&ns) = ns_of.get(&f.ptid) {
                    ns_of.entry(f.tid).or_insert(ns);
                }
            }
            Record::Switch(s) => {
                let (Some(cpu), Some(tid), Some(t)) =
                    (s.sample_id.cpu, s.sample_id.tid, s.sample_id.time)
                else {
                    continue;
                };
                // A task's final switch out, after it was reaped, names it
                // -1 (perf_event_tid()): it is the task switched in last on
                // that CPU, if that is known. (In tracer scope too: the
                // task keeps its tracer namespace until it is freed.)
                let tid = match (tid, running.get(&cpu)) {
                    (-1, Some(&(running_tid, _))) if s.out => running_tid,
                    (-1, _) => continue,
                    _ => tid,
                };
                by_tid.entry(tid).or_default().switches += 1;
                if s.out {
                    if let Some((in_tid, since)) = running.remove(&cpu) {
                        if in_tid == tid {
                            by_tid.entry(tid).or_default().cpu_ns += t.saturating_sub(since);
                        }
                    }
                } else {
                    running.insert(cpu, (tid, t));
                }
            }
            Record::Lost(l) => {
                *lost_by_cpu
                    .entry(l.sample_id.cpu.unwrap_or(u32::MAX))
                    .or_insert(0) += l.lost;
            }
            Record::Sample(s) => {
                let (Some(tid), Some(raw)) = (s.id.tid, s.raw.as_deref()) else {
                    continue;
                };
                let name = &names[r.event];
                let attr = r.attr();
                let Some(f) = formats.get(&attr.config) else {
                    continue;
                };
                // A reaped task's last samples (its final page frees) name
                // it -1 too, as its final switch out does: it is the task
                // running on that CPU.
                let tid = match (tid, s.id.cpu.and_then(|c| running.get(&c))) {
                    (-1, Some(&(running_tid, _))) => running_tid,
                    _ => tid,
                };
                // Work done in an interrupt (hard, soft or NMI) is for
                // whoever caused it, not for the task it interrupted: the
                // tracer scope delivers none of it, and no recording here
                // counts it (common_flags: TRACE_FLAG_HARDIRQ | SOFTIRQ |
                // NMI).
                if f.read_u64(raw, "common_flags")
                    .is_ok_and(|fl| fl & COMMON_FLAGS_INTERRUPT != 0)
                {
                    continue;
                }
                let u = by_tid.entry(tid).or_default();
                match name.as_str() {
                    "raw_syscalls:sys_enter" => {
                        let id = f.read_i64(raw, "id").expect("id");
                        *u.syscalls.entry(id as u64).or_insert(0) += 1;
                    }
                    "raw_syscalls:sys_exit" => {
                        let id = f.read_i64(raw, "id").expect("id");
                        *u.syscall_exits.entry(id as u64).or_insert(0) += 1;
                    }
                    "kmem:mm_page_alloc" => {
                        u.pages_allocated += 1 << f.read_u64(raw, "order").expect("order")
                    }
                    "kmem:mm_page_free" => {
                        u.pages_freed += 1 << f.read_u64(raw, "order").expect("order")
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let mut containers: BTreeMap<String, ContainerUse> = BTreeMap::new();
    for (tid, u) in by_tid {
        let name = match ns_of.get(&tid).and_then(|&ns| meta.container(ns)) {
            Some(c) => c.name.clone(),
            None => "(unattributed)".to_owned(),
        };
        let c = containers.entry(name).or_default();
        c.tids.push(tid);
        c.cpu_ns += u.cpu_ns;
        for (k, v) in u.syscalls {
            *c.syscalls.entry(k).or_insert(0) += v;
        }
        for (k, v) in u.syscall_exits {
            *c.syscall_exits.entry(k).or_insert(0) += v;
        }
        c.pages_allocated += u.pages_allocated;
        c.pages_freed += u.pages_freed;
        c.switches += u.switches;
    }
    Attribution {
        meta,
        containers,
        kinds,
        lost_by_cpu,
        comms,
        pid_namespaces,
        tracer_namespaces,
    }
}

/// The perfns extension of a recording (every perfns recording has one).
pub fn recording_meta(reader: &PerfFileReader) -> RecordingMeta {
    RecordingMeta::from_features(reader.features())
        .expect("perfns extension")
        .expect("perfns recordings have the extension")
}

/// The names of a recording's events, by event index.
pub fn event_names(reader: &PerfFileReader) -> Vec<String> {
    reader
        .events()
        .events()
        .iter()
        .map(|e| e.name.clone())
        .collect()
}

/// The format of event `event` of a recording, if it is a tracepoint and
/// the recording has its format; a format that does not parse fails the
/// test.
pub fn tracepoint_format(reader: &PerfFileReader, event: usize) -> Option<TracepointFormat> {
    let attr = &reader.events().events()[event].attr;
    let tracing = reader.features().tracing_data.as_ref()?;
    let f = tracing
        .format_by_id(attr.config)
        .filter(|_| attr.kind == 2)?; // PERF_TYPE_TRACEPOINT
    Some(TracepointFormat::parse(&f.system, &f.text).expect("format"))
}

/// A cgroup of the test's own under the cgroup2 root, removed at its end.
#[derive(Debug)]
pub struct TestCgroup {
    dir: PathBuf,
    name: String,
}

impl TestCgroup {
    /// Makes `/NAME` (NAME may have several components; the ones before
    /// the last are made too, and left).
    pub fn new(name: &str) -> TestCgroup {
        let mount = perfns::container::cgroup2_mount().expect("a cgroup2 mount");
        let dir = mount.join(name);
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TestCgroup {
            dir,
            name: format!("/{name}"),
        }
    }

    /// Its path from the cgroup2 root, as `--cgroup` takes it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its directory under the cgroup2 mount.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs the workload's `steps` to their end inside the cgroup; returns
    /// its pid. A shell moves itself in, then forks the workload, so the
    /// workload's FORK, COMM and NAMESPACES records are the cgroup's too
    /// (a recording limited to the cgroup then knows whose it is).
    pub fn run(&self, steps: &[&str]) -> i32 {
        let procs = self.dir.join("cgroup.procs");
        let out = Command::new("sh")
            .arg("-c")
            .arg(r#"echo $$ > "$0" || exit 125; "$@" & echo $!; wait $!"#)
            .arg(&procs)
            .arg(super::workload_binary().expect("the workload"))
            .args(steps)
            .stderr(Stdio::inherit())
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{steps:?} in {}: {}",
            self.name,
            out.status
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("the workload's pid {stdout:?}: {e}"))
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Containers made in it leave cgroups of their own: deepest first.
        fn remove(dir: &Path) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    remove(&e.path());
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
        remove(&self.dir);
    }
}
