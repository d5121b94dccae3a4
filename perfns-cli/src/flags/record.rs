//! `perfns record`'s flags, and how they become the recorder's validated
//! [`RecordConfig`] before anything is opened.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use perfns::container::RecordingScope;
use perfns_record::events::{CallGraph, EventSelection, Profile};
use perfns_record::mmap_size::MmapSize;
use perfns_record::scope::ScopeRequest;
use perfns_record::session::SessionConfig;
use perfns_record::uprobe::UprobeSpec;
use perfns_record::user_events::{UserEvent, UserEventsError};
use perfns_record::{RecordConfig, SwitchOutput};

/// `perfns record`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Output file. A non-empty file already there is first moved to
    /// FILE.old, replacing it, as perf record does. `-`: a pipe-mode stream
    /// on stdout, as perf record -o - (`perfns record -o - | perf script -i -`).
    #[arg(short, long, default_value = "perf.data")]
    pub output: PathBuf,
    /// Record every CPU, system-wide: the default, with or without
    /// COMMAND (perfns record has no per-command mode; -p records only
    /// some processes); accepted as perf record's -a, it changes nothing.
    /// -C limits the CPUs.
    #[arg(short = 'a', long)]
    pub all_cpus: bool,
    /// Record only these processes, as perf record -p: pids,
    /// comma-separated. Each thread of each is recorded on every CPU (-C:
    /// those), and, inherited, the threads and processes they make once
    /// recording started; their CPU time comes from their own switches
    /// (PERF_RECORD_SWITCH). Recording ends when they and their children
    /// have all exited, at Ctrl-C, --duration, or COMMAND's end (as `perf
    /// record -p PID -- sleep 10`). Their containers are named as in a
    /// whole-machine recording. Not with --container, --cgroup, --scope
    /// or -a, which choose the tasks another way.
    #[arg(
        short = 'p',
        long = "pid",
        value_name = "PID[,PID...]",
        value_delimiter = ',',
        value_parser = clap::value_parser!(i32).range(1..),
        conflicts_with_all = ["container", "cgroup", "scope", "all_cpus"]
    )]
    pub pids: Vec<i32>,
    /// Record only these CPUs, as perf record -C: a list in the kernel's
    /// format (`0-3,6`).
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpus: Option<String>,
    /// Quiet, as perf record -q: no status line, notes or summary (nor
    /// its lost-events warning) on stderr; errors are still printed.
    #[arg(short, long)]
    pub quiet: bool,
    /// Stop after this many seconds (fractions allowed).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// What to record, comma-separated, repeatable: perfns's event groups,
    /// cpu (context switches), mem (page allocations and frees), syscalls
    /// (raw_syscalls enter/exit); and tracepoints, as perf record -e names
    /// them, SYSTEM:NAME (`syscalls:sys_enter_openat`), either part a
    /// shell-style glob (`syscalls:sys_enter_*`, `kmem:*`), looked up in
    /// tracefs (--tracefs). `perfns report` counts each tracepoint it has
    /// no table for, per container. Default: the three groups; `-e cpu -e
    /// syscalls:sys_enter_openat` records those alone.
    #[arg(
        short = 'e',
        long,
        value_name = "GROUP|SYSTEM:NAME,...",
        default_value = "cpu,mem,syscalls"
    )]
    pub events: Vec<String>,
    /// Sample where the CPU time goes, as `perf record -F HZ -g -a`: HZ
    /// samples per second of CPU time (default 99) of every task
    /// recorded, each with its call chain (cpu-clock, perf's event where
    /// there is no PMU; named `cpu-clock` in the file, so that perf report
    /// and perf script read it), and the executable mappings, with their
    /// files' build-ids, that turn the addresses into functions: those of
    /// the processes already running when recording starts are read from
    /// /proc. In system scope the chains hold kernel and user frames; in
    /// tracer scope user frames only. The event groups are recorded as
    /// well (the default three unless -e names others: `--profile -e cpu`
    /// adds only the context switches, which give each container's exact
    /// CPU time beside its samples). A rate above
    /// kernel.perf_event_max_sample_rate is lowered to it, as perf record
    /// lowers it.
    #[arg(
        long,
        value_name = "HZ",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "99"
    )]
    pub profile: Option<String>,
    /// Call chains by frame pointer: `--call-graph fp`, as perf record -g.
    /// Implies --profile.
    #[arg(short = 'g', conflicts_with = "call_graph")]
    pub frame_pointers: bool,
    /// How --profile takes call chains, as perf record --call-graph: `fp`
    /// (the default), the kernel walks the frame pointers (code built
    /// without them gives short user chains); `dwarf[,SIZE]`, each sample
    /// copies the user registers and the top SIZE bytes of the user stack
    /// (default 8192, at most 65528), which perfns report, perf report
    /// and perf script unwind with the files' DWARF call frame information (larger files,
    /// any code). Implies --profile.
    #[arg(long, value_name = "fp|dwarf[,SIZE]")]
    pub call_graph: Option<String>,
    /// Probe a function of an ELF executable or library (a uprobe, as
    /// `perf probe -x PATH SYMBOL`): each call, or with %return each
    /// return, is a sample of event `uprobes:SYMBOL` (`uprobes:SYMBOL__return`),
    /// and `perfns report` counts them per container, with the calls'
    /// latency when both are given. PATH is a file, or a name found in
    /// $PATH; SYMBOL a function in its symbol table. Repeatable.
    #[arg(long = "uprobe", value_name = "PATH:SYMBOL[%return]")]
    pub uprobes: Vec<String>,
    /// Record the user events (the kernel's user_events: tracepoints that
    /// processes register and write through tracefs's user_events_data)
    /// that STATUS_FILE lists: this tracer namespace's own group, as
    /// events `user_events:NAME` in the initial tracer namespace and
    /// `user_events_<ID>:NAME` in another (ID its NS_GET_ID id;
    /// `user_events_multi...` for multi-format events). `perfns report`
    /// counts them per container. Default STATUS_FILE:
    /// /sys/kernel/tracing/user_events_status, else
    /// /sys/kernel/debug/tracing/user_events_status; in a container, where
    /// its host exposes the file. As with perf record -e, an event
    /// registered after recording starts is not recorded.
    #[arg(
        long = "user-events",
        value_name = "STATUS_FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub user_events: Option<String>,
    /// Record one container (and the containers nested in it): its name
    /// (the runtime's: `web`, `kube-system/coredns-abc/coredns`), its
    /// runtime id or a prefix of it (4 hex digits or more), its key
    /// (pidns:INODE, or the inode) or its cgroup path, as `perfns report
    /// --container` takes them; one that names several running containers
    /// is refused, with the list. It must be running when recording
    /// starts; its events are limited to its cgroup.
    #[arg(long, value_name = "NAME|ID", conflicts_with = "cgroup")]
    pub container: Option<String>,
    /// Record only the tasks of this cgroup (v2 path from the root, e.g.
    /// /system.slice) and its descendants, as perf's -G.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// What to record: `system`, the whole machine (root or CAP_PERFMON on
    /// the host); `tracer`, this container and the containers nested in it
    /// (its root, unprivileged, on a kernel with the perfns series);
    /// `auto`, tracer when the kernel offers it and the caller is not
    /// privileged on the host, system otherwise.
    #[arg(long, value_enum, default_value_t = ScopeArg::Auto)]
    pub scope: ScopeArg,
    /// Where to read tracepoint formats (a tracefs, or a copy of its
    /// header_page, header_event and events/SYSTEM/NAME/{format,id}):
    /// a container's root cannot read the host's tracefs, so the host
    /// publishes the formats there (`perfns publish-tracefs DIR`).
    /// Default: the mounted tracefs.
    #[arg(long, value_name = "DIR")]
    pub tracefs: Option<PathBuf>,
    /// Continuous recording, as perf record's --switch-output: finish the
    /// file and go on in a new one at each SIGUSR2 (`signal`, the
    /// default), every TIME (a number and s, m, h or d: `30s`, `1h`) or
    /// every SIZE of records written (a number and B, K, M or G: `100M`).
    /// SIGUSR2 switches in every mode. Each finished file is named
    /// OUTPUT.<timestamp> (`perf.data.2026120700153012`), the last one too
    /// when recording ends; each reports on its own.
    #[arg(
        long,
        value_name = "signal|TIME|SIZE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "signal"
    )]
    pub switch_output: Option<String>,
    /// With --switch-output: keep only the newest N files, removing older
    /// ones as new ones are finished.
    #[arg(long, value_name = "N", requires = "switch_output")]
    pub switch_max_files: Option<usize>,
    /// Ring buffer size per CPU: pages (256), or bytes with a unit B, K, M,
    /// G (8M), rounded up to a power of two of pages as perf record does.
    /// Default: 4M with CAP_IPC_LOCK, else the most that
    /// perf_event_mlock_kb and RLIMIT_MEMLOCK allow, up to 4M.
    #[arg(short = 'm', long, value_name = "PAGES|SIZE")]
    pub mmap_pages: Option<MmapSize>,
    /// Compress the records with zstd at LEVEL (1 to 22; -z alone: 1), as
    /// perf record -z does (-z3, --compression-level=3): perf 6.1 and later
    /// read the file.
    #[arg(
        short = 'z',
        long = "compression-level",
        value_name = "LEVEL",
        num_args = 0..=1,
        default_missing_value = "1"
    )]
    pub compression_level: Option<u32>,
    /// Command to run; the machine is recorded until it exits.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `--scope`: what the caller asked for (the recorder's [`ScopeRequest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// Tracer scope when the kernel offers it and the caller is not
    /// privileged on the host; system-wide otherwise.
    Auto,
    /// The whole machine: root or CAP_PERFMON on the host.
    System,
    /// The caller's tracer namespace and those nested in it.
    Tracer,
}

impl From<ScopeArg> for ScopeRequest {
    fn from(arg: ScopeArg) -> Self {
        match arg {
            ScopeArg::Auto => ScopeRequest::Auto,
            ScopeArg::System => ScopeRequest::System,
            ScopeArg::Tracer => ScopeRequest::Tracer,
        }
    }
}

impl RecordArgs {
    /// Checks the command line before anything is opened, and makes it
    /// the recorder's configuration.
    pub fn into_config(self) -> anyhow::Result<RecordConfig> {
        let events = EventSelection::parse(self.events.iter().map(String::as_str))
            .map_err(|e| anyhow::anyhow!("-e/--events: {e}"))?;
        let specs = self
            .uprobes
            .iter()
            .map(|u| u.parse::<UprobeSpec>())
            .collect::<Result<Vec<_>, String>>()
            .map_err(anyhow::Error::msg)?;
        // Before the output file: a probe that cannot be placed leaves an
        // older recording where it was.
        let uprobes = perfns_record::uprobe::resolve_all(&specs)?;
        let mut notes = Vec::new();
        let mut session = SessionConfig::new(self.output);
        session.uprobes = uprobes;
        if let Some(file) = &self.user_events {
            let (events, note) = user_events((!file.is_empty()).then(|| Path::new(file)))?;
            session.user_events = events;
            notes.extend(note);
        }
        if let Some(size) = self.mmap_pages {
            let (pages, note) = mmap_data_pages(size)?;
            session.mmap_pages = pages;
            notes.extend(note);
        }
        let duration = match self.duration {
            None => None,
            Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => anyhow::bail!("--duration {s}: must be a positive number of seconds"),
        };
        if let Some(program) = self.command.first() {
            check_command(program)?;
        }
        if let Some(level) = self.compression_level {
            if !(1..=22).contains(&level) {
                anyhow::bail!("-z/--compression-level {level}: zstd's levels are 1 to 22");
            }
        }
        if perfns_record::output::is_stdout(&session.output) && self.switch_output.is_some() {
            anyhow::bail!("--switch-output with -o -: a stream on stdout cannot be switched");
        }
        let switch = self
            .switch_output
            .as_deref()
            .map(|text| parse_switch_output(text, self.switch_max_files))
            .transpose()
            .map_err(|e| anyhow::anyhow!(e))?;
        if let Some(list) = &self.cpus {
            let cpus = perfns::abi::parse_cpu_list(list).map_err(|e| anyhow::anyhow!("-C {e}"))?;
            if cpus.is_empty() {
                anyhow::bail!("-C {list:?}: no CPU given");
            }
            session.cpus = Some(cpus);
        }
        if self.profile.is_some() || self.frame_pointers || self.call_graph.is_some() {
            let max = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
                .ok()
                .and_then(|v| v.trim().parse().ok());
            let (profile, note) = profile(self.profile.as_deref(), self.call_graph.as_deref(), max)
                .map_err(anyhow::Error::msg)?;
            session.profile = Some(profile);
            notes.extend(note);
        }
        session.compression_level = self.compression_level;
        session.groups = events.groups;
        session.tracepoints = events.tracepoints;
        session.container = self.container;
        session.cgroup = self.cgroup;
        session.tracefs = self.tracefs;
        if !self.command.is_empty() {
            session.scope = RecordingScope::Command {
                argv: self.command.clone(),
            };
        }
        if !self.pids.is_empty() {
            // A COMMAND then only says how long to record.
            session.scope = RecordingScope::Processes {
                pids: self.pids.clone(),
            };
            session.pids = self.pids;
        }
        Ok(RecordConfig {
            session,
            command: self.command,
            duration,
            live_status: !self.quiet && std::io::stderr().is_terminal(),
            quiet: self.quiet,
            scope: self.scope.into(),
            switch,
            mmap_given: self.mmap_pages.is_some(),
            notes,
        })
    }
}

/// `--profile[=HZ]` and `--call-graph` (`-g` is `fp`, the default) as a
/// profile, with the rate lowered to `max_rate`
/// (kernel.perf_event_max_sample_rate, when known) and a note saying so,
/// as perf record lowers it.
pub fn profile(
    hz: Option<&str>,
    call_graph: Option<&str>,
    max_rate: Option<u64>,
) -> Result<(Profile, Option<String>), String> {
    let call_graph = match call_graph {
        None => CallGraph::FramePointer,
        Some(text) => text.parse().map_err(|e| format!("--call-graph {e}"))?,
    };
    let mut hz = match hz {
        None => Profile::DEFAULT_HZ,
        Some(text) => text.trim().parse::<u64>().ok().filter(|&hz| hz > 0).ok_or_else(|| {
            format!("--profile={text}: HZ is a whole number of samples per second, 1 or more (99 by default)")
        })?,
    };
    let mut note = None;
    if let Some(max) = max_rate.filter(|&max| max > 0 && hz > max) {
        note = Some(format!(
            "--profile={hz}: above kernel.perf_event_max_sample_rate, {max} Hz: sampling at \
             {max} Hz"
        ));
        hz = max;
    }
    Ok((Profile { hz, call_graph }, note))
}

/// `--user-events`: the events `file` (else the default status file)
/// lists, in this tracer namespace's group; and a note when it lists none.
fn user_events(file: Option<&Path>) -> anyhow::Result<(Vec<UserEvent>, Option<String>)> {
    let (path, status) = perfns_record::user_events::read_status(file)?;
    let namespace = perfns::abi::tracer_scope::current_tracer_namespace_id()
        .map_err(UserEventsError::NamespaceId)?;
    let note = status.events.is_empty().then(|| {
        format!(
            "--user-events: {} lists no user events (none is registered in this tracer \
             namespace's group; one registered after recording starts is not recorded)",
            path.display()
        )
    });
    Ok((UserEvent::all_of(&status, namespace), note))
}

/// `-m`'s size as data pages per CPU of this machine's pages (a power of
/// two), and the note to print when it was rounded up: `perfns record`'s,
/// `perfns trace`'s and `perfns top`'s.
pub fn mmap_data_pages(size: MmapSize) -> anyhow::Result<(usize, Option<String>)> {
    let page = perfns::abi::page_size().context("reading the page size")?;
    perfns_record::mmap_size::data_pages(size, page).map_err(anyhow::Error::msg)
}

/// Parses perf record's `--switch-output` argument: `signal`, a time
/// (`30s`, `5m`, `1h`, `1d`) or a size (`512K`, `100M`, `2G`, `4096B`).
pub fn parse_switch_output(text: &str, max_files: Option<usize>) -> Result<SwitchOutput, String> {
    let mut out = SwitchOutput {
        every: None,
        size: None,
        max_files,
    };
    if max_files == Some(0) {
        return Err("--switch-max-files 0: keeps no file; give at least 1".into());
    }
    if text == "signal" {
        return Ok(out);
    }
    let bad = || {
        format!(
            "--switch-output={text}: expected `signal`, a time (a whole number and s, m, h or \
             d: 30s) or a size (a whole number and B, K, M or G: 100M)"
        )
    };
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(format!("--switch-output={text}: must be more than 0"));
    }
    match unit {
        "s" | "m" | "h" | "d" => {
            let seconds = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => 86400,
            };
            out.every = Some(Duration::from_secs(n.checked_mul(seconds).ok_or_else(bad)?));
        }
        "B" | "K" | "M" | "G" => {
            let shift = match unit {
                "B" => 0,
                "K" => 10,
                "M" => 20,
                _ => 30,
            };
            out.size = Some(
                n.checked_shl(shift)
                    .filter(|v| v >> shift == n)
                    .ok_or_else(bad)?,
            );
        }
        _ => return Err(bad()),
    }
    Ok(out)
}

/// Refuses a command that cannot be started, before the output file is
/// created or an older one moved to FILE.old: a shell's messages (`command not found`,
/// `Permission denied`), and no file. The spawn itself can still fail (the
/// file changed since); `perfns_record::record` then removes the file it created.
pub(crate) fn check_command(program: &str) -> anyhow::Result<()> {
    use nix::unistd::{access, AccessFlags};
    let path = std::path::Path::new(program);
    let Some(found) = perfns_record::command::find_program(program) else {
        anyhow::bail!("cannot run {program}: command not found (in $PATH)");
    };
    // The path searched for, when it is not what was given.
    let at = if found == path {
        String::new()
    } else {
        format!("{}: ", found.display())
    };
    let meta =
        std::fs::metadata(&found).map_err(|e| anyhow::anyhow!("cannot run {program}: {at}{e}"))?;
    if meta.is_dir() {
        anyhow::bail!("cannot run {program}: {at}is a directory");
    }
    access(&found, AccessFlags::X_OK)
        .map_err(|e| anyhow::anyhow!("cannot run {program}: {at}{}", std::io::Error::from(e)))
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mmap_sizes_become_a_power_of_two_of_this_machines_pages() {
        let page = perfns::abi::page_size().unwrap() as u64;
        assert_eq!(mmap_data_pages(MmapSize::Pages(8)).unwrap(), (8, None));
        assert_eq!(
            mmap_data_pages(MmapSize::Bytes(16 * page)).unwrap(),
            (16, None)
        );
        // 3 pages, or a page and a byte: rounded up, and said.
        let (pages, note) = mmap_data_pages(MmapSize::Pages(3)).unwrap();
        assert_eq!(pages, 4);
        let note = note.unwrap();
        assert!(
            note.starts_with("-m/--mmap-pages 3: rounded up to ") && note.contains("(4 pages)"),
            "{note}"
        );
        let (pages, note) = mmap_data_pages(MmapSize::Bytes(page + 1)).unwrap();
        assert_eq!(pages, 2);
        assert!(note.unwrap().contains("(2 pages)"));
        let err = mmap_data_pages(MmapSize::Pages(0)).unwrap_err().to_string();
        assert_eq!(
            err,
            "-m/--mmap-pages 0: the ring buffer needs at least one page"
        );
        let err = mmap_data_pages(MmapSize::Pages(u64::MAX))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with(": too large"), "{err}");
    }

    #[test]
    fn profile_takes_perfs_rates_and_call_graphs() {
        let fp = |hz| Profile {
            hz,
            call_graph: CallGraph::FramePointer,
        };
        assert_eq!(profile(None, None, Some(100_000)).unwrap(), (fp(99), None));
        assert_eq!(profile(Some("999"), None, None).unwrap(), (fp(999), None));
        let dwarf = |stack_size| CallGraph::Dwarf { stack_size };
        for (text, want) in [
            ("fp", CallGraph::FramePointer),
            ("dwarf", dwarf(8192)),
            ("dwarf,16384", dwarf(16384)),
            // Rounded up to 8 bytes, as perf rounds it.
            ("dwarf,1001", dwarf(1008)),
            ("dwarf,65528", dwarf(65528)),
        ] {
            let (p, _) = profile(Some("99"), Some(text), None).unwrap();
            assert_eq!(p.call_graph, want, "{text}");
        }
        // Above the kernel's limit: lowered to it, and said.
        let (p, note) = profile(Some("5000"), None, Some(4000)).unwrap();
        assert_eq!(p.hz, 4000);
        assert_eq!(
            note.unwrap(),
            "--profile=5000: above kernel.perf_event_max_sample_rate, 4000 Hz: sampling at 4000 Hz"
        );
        for (hz, why) in [
            (
                "0",
                "--profile=0: HZ is a whole number of samples per second",
            ),
            ("-5", "--profile=-5: HZ is a whole number"),
            ("99Hz", "--profile=99Hz: HZ is a whole number"),
            ("", "--profile=: HZ is a whole number"),
        ] {
            let e = profile(Some(hz), None, None).unwrap_err();
            assert!(e.starts_with(why), "{hz}: {e}");
        }
        for (graph, why) in [
            ("lbr", "--call-graph `lbr`: the call graph modes are fp (frame pointers) and dwarf[,SIZE]"),
            ("fp,8", "--call-graph `fp,8`: fp takes no size"),
            ("dwarf,", "--call-graph `dwarf,`: the stack size is a number of bytes, 1 to 65528"),
            ("dwarf,0", "--call-graph `dwarf,0`: the stack size is a number of bytes"),
            ("dwarf,8k", "--call-graph `dwarf,8k`: the stack size is a number of bytes"),
            ("dwarf,65536", "--call-graph `dwarf,65536`: a stack copy of 65536 bytes is more than the kernel takes (65528 bytes)"),
            ("dwarf,4294967295", "--call-graph `dwarf,4294967295`: a stack copy of 4294967295 bytes is more"),
        ] {
            let e = profile(None, Some(graph), None).unwrap_err();
            assert!(e.starts_with(why), "{graph}: {e}");
        }
    }

    #[test]
    fn switch_output_takes_perfs_arguments() {
        let parse = |t: &str| parse_switch_output(t, None);
        let signal = SwitchOutput {
            every: None,
            size: None,
            max_files: None,
        };
        assert_eq!(parse("signal").unwrap(), signal);
        let every = |s| SwitchOutput {
            every: Some(Duration::from_secs(s)),
            ..signal
        };
        assert_eq!(parse("30s").unwrap(), every(30));
        assert_eq!(parse("5m").unwrap(), every(300));
        assert_eq!(parse("1h").unwrap(), every(3600));
        assert_eq!(parse("2d").unwrap(), every(172_800));
        let size = |b| SwitchOutput {
            size: Some(b),
            ..signal
        };
        assert_eq!(parse("4096B").unwrap(), size(4096));
        assert_eq!(parse("512K").unwrap(), size(512 << 10));
        assert_eq!(parse("100M").unwrap(), size(100 << 20));
        assert_eq!(parse("2G").unwrap(), size(2 << 30));
        for bad in [
            "",
            "s",
            "10",
            "1.5s",
            "10x",
            "-1m",
            "10 s",
            "99999999999999999999G",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("expected `signal`"), "{bad:?}: {err}");
        }
        assert!(parse("0s").unwrap_err().contains("more than 0"));
        assert!(parse_switch_output("signal", Some(0))
            .unwrap_err()
            .contains("--switch-max-files 0"));
        assert_eq!(
            parse_switch_output("1m", Some(3)).unwrap().max_files,
            Some(3)
        );
    }
}
