//! Profiles (`perfns report --profile`): each sample's call chain as the
//! functions it passed through, per task, for the containers' hottest
//! functions, folded stacks and flame graphs.
//!
//! `Profiler` follows the recording's mappings (MMAP, MMAP2; a fork
//! copies its parent's, an exec clears them) and turns each sampled
//! address into a frame, a function in a file, with [`symbolize`]. Frames
//! and whole stacks are interned: a task keeps a count per stack id, and
//! the tables go in the report for the renderers. A `--call-graph dwarf`
//! sample's user frames come from [`unwind`]ing its copied stack; its
//! kernel frames, as any sample's, from its call chain.

pub mod symbolize;
mod unwind;

use std::collections::{BTreeMap, HashMap};

use perfns::container::RecordingMode;
use perfns::perf_data::Features;
use perfns::record::{context, Mmap, Mmap2, Sample, MISC_CPUMODE_MASK, MISC_KERNEL, MISC_USER};

use crate::int_map::IntMap;
use crate::model::{ContainerProfile, Frame, FunctionFigures, Profile};
use symbolize::{DebugDirs, FileKey, Symbolizer};
use unwind::{ProcessUnwinder, UnwindCache, UnwindCounts};

/// PROT_EXEC: the mappings code runs from.
const PROT_EXEC: u32 = 4;

/// A file mapped into a process.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    end: u64,
    pgoff: u64,
    /// An index in [`Profiler::files`].
    file: u32,
}

/// What a frame is before it is named: where [`Profiler::frame`] caches
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    /// An offset in a file (an index in [`Profiler::files`]).
    File(u32, u64),
    /// A kernel address.
    Kernel(u64),
    /// A user address no mapping holds.
    Unmapped(u64),
    /// An address of another context (hypervisor, guest).
    Other(u64),
}

/// Where the kernel's symbols come from, for tests: the machine's
/// /proc/kallsyms and the release it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSource {
    /// The kallsyms file.
    pub kallsyms: std::path::PathBuf,
    /// The running kernel's release (`uname -r`), to check against the
    /// recording's.
    pub release: Option<String>,
}

impl KernelSource {
    /// The running machine's.
    pub fn system() -> Self {
        Self {
            kallsyms: "/proc/kallsyms".into(),
            release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|r| r.trim().to_owned()),
        }
    }
}

/// The profile's state between records.
#[derive(Debug)]
pub(crate) struct Profiler {
    symbolizer: Symbolizer,
    /// Each file's build-id from HEADER_BUILD_ID, by path.
    header_build_ids: HashMap<String, Vec<u8>>,
    files: Vec<FileKey>,
    file_ids: HashMap<FileKey, u32>,
    /// Each process's mappings, by start.
    processes: IntMap<i32, BTreeMap<u64, Mapping>>,
    /// The kernel's `_text` as the recording's kernel mapping gives it.
    kernel_text: Option<u64>,
    /// Whether kernel frames may be symbolized: not in a tracer-scope
    /// recording, whose reader sees no kernel.
    kernel_allowed: bool,
    kernel_source: KernelSource,
    recorded_release: Option<String>,
    kernel_tried: bool,
    frames: Vec<Frame>,
    frame_ids: HashMap<(String, String, bool), u32>,
    places: HashMap<(Place, bool), u32>,
    stacks: Vec<Box<[u32]>>,
    stack_ids: HashMap<Box<[u32]>, u32>,
    scratch: Vec<u32>,
    /// Each process's unwinder, built at its first dwarf sample from its
    /// mappings then, dropped when they change.
    unwinders: IntMap<i32, ProcessUnwinder>,
    unwind_cache: UnwindCache,
    unwind_counts: UnwindCounts,
    /// The user addresses of the sample being unwound.
    unwound: Vec<u64>,
}

impl Profiler {
    pub(crate) fn new(
        features: &Features,
        mode: Option<RecordingMode>,
        dirs: DebugDirs,
        kernel_source: KernelSource,
    ) -> Self {
        Self {
            symbolizer: Symbolizer::new(dirs),
            header_build_ids: features
                .build_ids
                .iter()
                .map(|b| (b.filename.clone(), b.id.clone()))
                .collect(),
            files: Vec::new(),
            file_ids: HashMap::new(),
            processes: IntMap::default(),
            kernel_text: None,
            kernel_allowed: mode != Some(RecordingMode::TracerScope),
            kernel_source,
            recorded_release: features.os_release.clone(),
            kernel_tried: false,
            frames: Vec::new(),
            frame_ids: HashMap::new(),
            places: HashMap::new(),
            stacks: Vec::new(),
            stack_ids: HashMap::new(),
            scratch: Vec::new(),
            unwinders: IntMap::default(),
            unwind_cache: UnwindCache::default(),
            unwind_counts: UnwindCounts::default(),
            unwound: Vec::new(),
        }
    }

    fn file_id(&mut self, path: &str, build_id: Option<&[u8]>) -> u32 {
        let build_id = build_id
            .map(<[u8]>::to_vec)
            .or_else(|| self.header_build_ids.get(path).cloned());
        let key = FileKey {
            path: path.to_owned(),
            build_id,
        };
        if let Some(&id) = self.file_ids.get(&key) {
            return id;
        }
        let id = self.files.len() as u32;
        self.files.push(key.clone());
        self.file_ids.insert(key, id);
        id
    }

    fn map(&mut self, pid: i32, start: u64, len: u64, pgoff: u64, file: u32) {
        let end = start.saturating_add(len);
        self.unwinders.remove(&pid);
        let maps = self.processes.entry(pid).or_default();
        // A new mapping replaces what it overlaps (mmap over a range).
        let overlapping: Vec<u64> = maps
            .range(..end)
            .rev()
            .take_while(|(_, m)| m.end > start)
            .map(|(&s, _)| s)
            .collect();
        for s in overlapping {
            maps.remove(&s);
        }
        maps.insert(start, Mapping { end, pgoff, file });
    }

    /// A PERF_RECORD_MMAP: the kernel's (perf's synthesized
    /// `[kernel.kallsyms]_text`, whose pgoff is `_text`'s address) or a
    /// module's, or, from older kernels, a process's.
    pub(crate) fn mmap(&mut self, m: &Mmap) {
        if m.cpumode == MISC_KERNEL || m.pid == -1 {
            if m.filename.starts_with("[kernel.kallsyms]") {
                self.kernel_text = Some(m.pgoff);
            }
            return;
        }
        let file = self.file_id(&m.filename, None);
        self.map(m.pid, m.addr, m.len, m.pgoff, file);
    }

    /// A PERF_RECORD_MMAP2: a process's executable mapping.
    pub(crate) fn mmap2(&mut self, m: &Mmap2) {
        if m.cpumode == MISC_KERNEL || m.pid == -1 {
            if m.filename.starts_with("[kernel.kallsyms]") {
                self.kernel_text = Some(m.pgoff);
            }
            return;
        }
        if m.prot != 0 && m.prot & PROT_EXEC == 0 {
            return;
        }
        let file = self.file_id(&m.filename, m.build_id());
        self.map(m.pid, m.addr, m.len, m.pgoff, file);
    }

    /// A task `tid` of process `pid` forked from process `parent` (a
    /// FORK record's pid, tid and ppid): a new process (its first task)
    /// starts with its parent's mappings; a new thread shares its
    /// process's already (its ppid is its process's parent, not its
    /// process).
    pub(crate) fn fork(&mut self, pid: i32, tid: i32, parent: i32) {
        if tid != pid || pid == parent {
            return;
        }
        if let Some(maps) = self.processes.get(&parent).cloned() {
            self.processes.insert(pid, maps);
            self.unwinders.remove(&pid);
        }
    }

    /// Process `pid` exec'd: its mappings are the new program's, which
    /// its MMAP2 records give next.
    pub(crate) fn exec(&mut self, pid: i32) {
        self.processes.remove(&pid);
        self.unwinders.remove(&pid);
    }

    /// Loads the kernel's symbols once, the first time a kernel frame
    /// needs them, when the recording has its kernel mapping and was
    /// recorded on the kernel running now.
    fn load_kernel(&mut self) {
        if self.kernel_tried {
            return;
        }
        self.kernel_tried = true;
        if !self.kernel_allowed {
            self.symbolizer.note(
                "a tracer-scope recording, whose reader sees no kernel: kernel frames are not \
                 symbolized"
                    .into(),
            );
            return;
        }
        let Some(text) = self.kernel_text else {
            self.symbolizer.note(
                "the recording has no kernel mapping ([kernel.kallsyms]_text): kernel frames \
                 are not symbolized"
                    .into(),
            );
            return;
        };
        let source = self.kernel_source.clone();
        if let (Some(recorded), Some(running)) = (&self.recorded_release, &source.release) {
            if recorded != running {
                self.symbolizer.note(format!(
                    "recorded on kernel {recorded}, reported on {running}: kernel frames are not \
                     symbolized"
                ));
                return;
            }
        }
        match std::fs::read_to_string(&source.kallsyms) {
            Ok(text_file) => {
                self.symbolizer.use_kallsyms(
                    &source.kallsyms.display().to_string(),
                    &text_file,
                    text,
                );
            }
            Err(e) => self.symbolizer.note(format!(
                "{}: {e}: kernel frames are not symbolized",
                source.kallsyms.display()
            )),
        }
    }

    /// The frame of `address` in `pid`'s context `kernel`; `is_return`
    /// when it is a return address (looked up one byte before, in the
    /// call).
    fn frame(&mut self, pid: i32, address: u64, kernel: Option<bool>, is_return: bool) -> u32 {
        let place = match kernel {
            Some(true) => Place::Kernel(address),
            None => Place::Other(address),
            Some(false) => {
                let mapping = self
                    .processes
                    .get(&pid)
                    .and_then(|maps| maps.range(..=address).next_back())
                    .filter(|(_, m)| address < m.end);
                match mapping {
                    Some((&start, m)) => Place::File(m.file, address - start + m.pgoff),
                    None => Place::Unmapped(address),
                }
            }
        };
        if let Some(&id) = self.places.get(&(place, is_return)) {
            return id;
        }
        let lookup = |at: u64| if is_return { at.saturating_sub(1) } else { at };
        let (name, dso, known) = match place {
            Place::Kernel(address) => {
                self.load_kernel();
                match self
                    .symbolizer
                    .kernel()
                    .and_then(|k| k.function_at(lookup(address)))
                {
                    Some(name) => (name.to_owned(), "[kernel.kallsyms]".to_owned(), true),
                    None => (
                        format!("[unknown] [kernel.kallsyms]+{address:#x}"),
                        "[kernel.kallsyms]".to_owned(),
                        false,
                    ),
                }
            }
            Place::File(file, offset) => {
                let key = self.files[file as usize].clone();
                let short = key.path.rsplit('/').next().unwrap_or(&key.path).to_owned();
                match self
                    .symbolizer
                    .table(&key)
                    .and_then(|t| t.function_at(lookup(offset)))
                {
                    Some(name) => (symbolize::demangle(name), key.path, true),
                    None => (format!("[unknown] {short}+{offset:#x}"), key.path, false),
                }
            }
            Place::Unmapped(address) => (
                format!("[unknown] [unmapped]+{address:#x}"),
                "[unmapped]".to_owned(),
                false,
            ),
            Place::Other(address) => (
                format!("[unknown] [guest or hypervisor]+{address:#x}"),
                "[guest or hypervisor]".to_owned(),
                false,
            ),
        };
        let kernel = matches!(place, Place::Kernel(_));
        let frames = &mut self.frames;
        let id = *self
            .frame_ids
            .entry((name.clone(), dso.clone(), kernel))
            .or_insert_with(|| {
                frames.push(Frame {
                    function: name,
                    dso,
                    kernel,
                    symbolized: known,
                });
                frames.len() as u32 - 1
            });
        self.places.insert((place, is_return), id);
        id
    }

    /// Process `pid`'s unwinder: a module per mapping whose file has
    /// unwind sections (built the first time, from its mappings then).
    fn unwinder(&mut self, pid: i32) -> &ProcessUnwinder {
        if !self.unwinders.contains_key(&pid) {
            let mappings: Vec<(u64, Mapping)> = self
                .processes
                .get(&pid)
                .map(|maps| maps.iter().map(|(&s, &m)| (s, m)).collect())
                .unwrap_or_default();
            let mut unwinder = ProcessUnwinder::default();
            for (start, m) in mappings {
                let key = self.files[m.file as usize].clone();
                let Some(table) = self.symbolizer.table(&key) else {
                    continue;
                };
                if let (Some(sections), Some(svma)) = (&table.unwind, table.address_of(m.pgoff)) {
                    unwinder.add_module(&key.path, start..m.end, svma, sections);
                }
            }
            self.unwinders.insert(pid, unwinder);
        }
        &self.unwinders[&pid]
    }

    /// Unwinds sample `s`'s copied user stack into `self.unwound`, when it
    /// has one (a `--call-graph dwarf` sample); whether it gave frames.
    fn unwind(&mut self, pid: i32, s: &Sample<'_>) -> bool {
        let mut out = std::mem::take(&mut self.unwound);
        out.clear();
        if let (Some(regs), Some(stack)) = (&s.regs_user, &s.stack_user) {
            let mut cache = std::mem::take(&mut self.unwind_cache);
            let result = self.unwinder(pid).unwind(&mut cache, regs, stack, &mut out);
            self.unwind_cache = cache;
            self.unwind_counts.count(result);
        }
        self.unwound = out;
        !self.unwound.is_empty()
    }

    /// The stack id of sample `s` of process `pid`: its call chain's
    /// frames, innermost first (its IP alone without a call chain), the
    /// user part unwound from its copied stack when it has one.
    pub(crate) fn sample(&mut self, pid: i32, s: &Sample<'_>) -> u32 {
        let mut stack = std::mem::take(&mut self.scratch);
        stack.clear();
        let unwound = self.unwind(pid, s);
        // Before any context marker, the sample's own cpumode says.
        let mut kernel = match s.misc & MISC_CPUMODE_MASK {
            MISC_KERNEL => Some(true),
            MISC_USER => Some(false),
            _ => None,
        };
        match &s.callchain {
            Some(chain) if !chain.is_empty() => {
                // The first address of each context is where it was (the
                // sample's IP, or where user space entered the kernel);
                // the others are return addresses.
                let mut first = true;
                for ip in chain.ips() {
                    if ip >= context::MAX {
                        kernel = match ip {
                            context::KERNEL => Some(true),
                            context::USER => Some(false),
                            _ => None,
                        };
                        first = true;
                        continue;
                    }
                    // The user part is the unwound one.
                    if unwound && kernel == Some(false) {
                        continue;
                    }
                    let frame = self.frame(pid, ip, kernel, !first);
                    stack.push(frame);
                    first = false;
                }
            }
            _ => {
                if let Some(ip) = s.ip.filter(|_| !(unwound && kernel == Some(false))) {
                    let frame = self.frame(pid, ip, kernel, false);
                    stack.push(frame);
                }
            }
        }
        if unwound {
            let user = std::mem::take(&mut self.unwound);
            for (i, &ip) in user.iter().enumerate() {
                let frame = self.frame(pid, ip, Some(false), i > 0);
                stack.push(frame);
            }
            self.unwound = user;
        }
        if stack.is_empty() {
            stack.push(self.no_frames());
        }
        let id = match self.stack_ids.get(stack.as_slice()) {
            Some(&id) => id,
            None => {
                let id = self.stacks.len() as u32;
                let boxed: Box<[u32]> = stack.as_slice().into();
                self.stacks.push(boxed.clone());
                self.stack_ids.insert(boxed, id);
                id
            }
        };
        self.scratch = stack;
        id
    }

    /// The frame of a sample with neither a call chain nor an IP.
    fn no_frames(&mut self) -> u32 {
        let key = ("[unknown] no address".to_owned(), String::new(), false);
        let frames = &mut self.frames;
        *self.frame_ids.entry(key).or_insert_with(|| {
            frames.push(Frame {
                function: "[unknown] no address".into(),
                dso: String::new(),
                kernel: false,
                symbolized: false,
            });
            frames.len() as u32 - 1
        })
    }

    /// The frame and stack tables, and why frames stayed unsymbolized.
    pub(crate) fn finish(self) -> Profile {
        let mut problems = self.symbolizer.problems().to_vec();
        problems.extend(self.unwind_counts.problem());
        Profile {
            problems,
            frames: self.frames,
            stacks: self.stacks.into_iter().map(Vec::from).collect(),
        }
    }
}

/// A container's profile from its tasks' counts per stack: the hottest
/// `top` functions by self samples (then total), each function counted
/// once per sample in its total however often it recurs.
pub(crate) fn container_profile(
    profile: &Profile,
    stacks: &IntMap<u32, u64>,
    top: usize,
) -> ContainerProfile {
    let mut samples = 0;
    let (mut frames, mut unsymbolized) = (0, 0);
    // Per function (a frame id): self and total samples.
    let mut figures: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut seen: Vec<u32> = Vec::new();
    let mut sorted: Vec<(u32, u64)> = stacks.iter().map(|(&s, &n)| (s, n)).collect();
    sorted.sort_unstable();
    for &(stack, n) in &sorted {
        let chain = &profile.stacks[stack as usize];
        samples += n;
        frames += chain.len() as u64 * n;
        unsymbolized += chain
            .iter()
            .filter(|&&f| !profile.frames[f as usize].symbolized)
            .count() as u64
            * n;
        if let Some(&leaf) = chain.first() {
            figures.entry(leaf).or_default().0 += n;
        }
        seen.clear();
        for &f in chain.iter() {
            if !seen.contains(&f) {
                seen.push(f);
                figures.entry(f).or_default().1 += n;
            }
        }
    }
    let percent = |n: u64| {
        if samples == 0 {
            0.0
        } else {
            (n as f64 * 10000.0 / samples as f64).round() / 100.0
        }
    };
    let mut functions: Vec<(u32, u64, u64)> =
        figures.into_iter().map(|(f, (s, t))| (f, s, t)).collect();
    functions.sort_by(|a, b| {
        (b.1, b.2).cmp(&(a.1, a.2)).then_with(|| {
            let (fa, fb) = (&profile.frames[a.0 as usize], &profile.frames[b.0 as usize]);
            (&fa.function, &fa.dso).cmp(&(&fb.function, &fb.dso))
        })
    });
    functions.truncate(top);
    ContainerProfile {
        samples,
        frames,
        unsymbolized_frames: unsymbolized,
        functions: functions
            .into_iter()
            .map(|(f, self_samples, total_samples)| {
                let frame = &profile.frames[f as usize];
                FunctionFigures {
                    function: frame.function.clone(),
                    dso: frame.dso.clone(),
                    self_samples,
                    self_percent: percent(self_samples),
                    total_samples,
                    total_percent: percent(total_samples),
                }
            })
            .collect(),
        stacks: sorted,
    }
}

#[cfg(test)]
mod tests;
