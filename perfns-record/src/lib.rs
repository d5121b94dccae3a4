//! perfns record layer: opens per-CPU perf events, drains their ring
//! buffers and writes a perf.data-compatible recording.
//!
//! [`run`] is `perfns record`: given a validated [`RecordConfig`] (the
//! perfns command makes one of its command line), it drives a
//! [`session::Recorder`] (the record loop's core, a library API that tests
//! and the tracer scope reuse) until Ctrl-C, SIGTERM, the end of the
//! command or `--duration`, and prints what was recorded and lost.
#![deny(missing_docs)]

pub mod command;
pub mod events;
mod glob;
pub mod mmap_size;
pub mod output;
pub mod publish;
pub mod runtime_names;
mod sched;
pub mod scope;
pub mod session;
pub mod statedump;
#[cfg(feature = "testing")]
pub mod testing;
pub mod uprobe;
pub mod user_events;

use std::io::Write;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use perfns::container::RecordingMode;
use perfns::record::{Record, RecordType};
use perfns::tracepoint::TracepointError;

use crate::mmap_size::LockBudget;
use crate::scope::ScopeRequest;
use crate::session::{RecordSummary, Recorder, SessionConfig};

/// `perfns record`'s validated configuration.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The recording itself.
    pub session: SessionConfig,
    /// The command to run, if any.
    pub command: Vec<String>,
    /// When to stop, if not at Ctrl-C or the command's end.
    pub duration: Option<Duration>,
    /// Whether to show the live status line (stderr is a terminal).
    pub live_status: bool,
    /// `-q`: no notes, status or summary on stderr, only errors.
    pub quiet: bool,
    /// `--scope`.
    pub scope: ScopeRequest,
    /// Whether `-m` was given; if not, [`run`] sets the default for the
    /// scope it records in.
    pub mmap_given: bool,
    /// What the command line made of the user's words, to say before
    /// recording (`-m` rounded up).
    pub notes: Vec<String>,
    /// `--switch-output`, `--switch-max-files`.
    pub switch: Option<SwitchOutput>,
}

/// When `perfns record --switch-output` finishes a file and starts the
/// next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchOutput {
    /// After this much time in a file.
    pub every: Option<Duration>,
    /// Once a file holds this many bytes of records.
    pub size: Option<u64>,
    /// Keep the newest this many files.
    pub max_files: Option<usize>,
}

/// How often the live status line is redrawn.
const STATUS_INTERVAL: Duration = Duration::from_millis(500);
/// The longest wait between drains when nothing wakes the recorder: how
/// late a side-band record below the watermark
/// ([`events::SIDEBAND_WAKEUP`]) may be seen, and so how long a task in a
/// new container must live to be looked up in /proc.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// Runs `perfns record`, and returns the summary it printed (unless `-q`),
/// losses included.
pub fn run(mut config: RecordConfig) -> anyhow::Result<RecordSummary> {
    let choice = if config.session.pids.is_empty() {
        let caller = scope::Caller::this_process();
        scope::choose(config.scope, perfns::abi::tracer_scope::probe, &caller)
            .map_err(|why| anyhow::anyhow!("--scope tracer: {why}"))?
    } else {
        // -p chooses the tasks itself: per-task events, any kernel.
        scope::ScopeChoice {
            mode: RecordingMode::PerProcess,
            note: "per process (-p)".into(),
            fallback: None,
        }
    };
    if choice.worth_saying() && !config.quiet {
        eprintln!("[ perfns record: {} ]", choice.note);
    }
    config.session.mode = choice.mode;
    config.session.extra_flags = scope::extra_flags(choice.mode);
    if !config.mmap_given {
        let budget = LockBudget::of_this_process(choice.mode)
            .context("reading what this process may lock for ring buffers")?;
        config.session.mmap_pages = mmap_size::default_data_pages(&budget, session::sideband_pages);
    }
    for note in config.notes.iter().filter(|_| !config.quiet) {
        eprintln!("[ perfns record: {note} ]");
    }
    if choice.mode == RecordingMode::TracerScope
        && (config.session.container.is_some() || config.session.cgroup.is_some())
    {
        anyhow::bail!(
            "--container and --cgroup select among the machine's tasks; in tracer scope the \
             recording is already this container and the ones nested in it"
        );
    }
    let summary = loop {
        match record(&config) {
            // Once: a kmem tracepoint refused again was named with -e.
            Err(e)
                if choice.mode == RecordingMode::TracerScope
                    && config.session.groups.mem
                    && refused_page_tracepoints(&e) =>
            {
                // An earlier version of the series refused them.
                if !config.quiet {
                    eprintln!(
                        "[ perfns record: no mem group: this kernel's tracer scope refuses the \
                         page allocation tracepoints ]"
                    );
                }
                config.session.groups.mem = false;
                let g = config.session.groups;
                if !g.cpu && !g.syscalls && config.session.tracepoints.is_empty() {
                    return Err(e.context("--events mem: nothing else to record"));
                }
            }
            Err(e) if missing_tracepoint(&e, &config.session).is_some() => {
                let why = missing_tracepoint(&e, &config.session).unwrap_or_default();
                return Err(e.context(why));
            }
            Err(e) if refused_user_event(&e, &config.session).is_some() => {
                let why = refused_user_event(&e, &config.session).unwrap_or_default();
                return Err(e.context(why));
            }
            Err(e) if choice.mode == RecordingMode::TracerScope => {
                return Err(
                    match refused_uprobe(&e).or_else(|| refused_tracepoint(&e)) {
                        Some(why) => e.context(why),
                        None => e,
                    },
                )
            }
            // Why the tracer scope was not chosen explains a failure of the
            // system scope only to a caller who is not privileged on the host,
            // the only one for whom auto tried it.
            Err(e) if choice.fallback.is_some() => return Err(e.context(choice.note)),
            other => break other?,
        }
    };
    if !config.quiet {
        eprint!("{}", summary_text(&summary));
    }
    Ok(summary)
}

/// Whether recording failed because the kernel refused a page allocation
/// tracepoint to a scoped event (EOPNOTSUPP).
fn refused_page_tracepoints(e: &anyhow::Error) -> bool {
    e.downcast_ref::<session::RecordError>().is_some_and(|r| {
        matches!(r, session::RecordError::Open(o)
            if o.event.starts_with("kmem:") && o.errno() == Some(libc::EOPNOTSUPP))
    })
}

/// Why a tracer-scoped recording failed, when a `--uprobe` event was
/// refused: a kernel of the series before scoped uprobes refuses the PMU
/// (EOPNOTSUPP, EINVAL), and one with them refuses an opener without
/// CAP_SYS_ADMIN over its tracer namespace's owner (EACCES, EPERM).
fn refused_uprobe(e: &anyhow::Error) -> Option<String> {
    let Some(session::RecordError::Open(o)) = e.downcast_ref::<session::RecordError>() else {
        return None;
    };
    let event = o
        .event
        .strip_prefix(uprobe::EVENT_SYSTEM)?
        .strip_prefix(':')?;
    let why = match o.errno()? {
        libc::EOPNOTSUPP | libc::EINVAL | libc::ENOENT => {
            "this kernel's tracer scope refuses uprobes (a kernel of the perfns series from \
             before scoped uprobes): boot one with them, or record the machine as root \
             (--scope system)"
        }
        libc::EACCES | libc::EPERM => {
            "a scoped uprobe needs CAP_SYS_ADMIN over the user namespace that owns this \
             tracer namespace (a probe may only touch processes its opener could ptrace): \
             record as the container's root"
        }
        _ => return None,
    };
    Some(format!("--uprobe ({event}) in tracer scope: {why}"))
}

/// Where to look, when a tracepoint `-e` named is not in the tracefs read:
/// a user event is in tracefs only for root on a kernel whose group is
/// the initial one (a tenant's never), and a `--tracefs` copy holds only
/// what its host published. `None` for other errors, and where tracefs
/// saying it has no such tracepoint says it all.
fn missing_tracepoint(e: &anyhow::Error, config: &SessionConfig) -> Option<String> {
    let (wanted, system) = match e.downcast_ref::<session::RecordError>()? {
        // One of -e's (not a group's, which its own error names).
        session::RecordError::Tracepoint(TracepointError::NoSuchTracepoint {
            system,
            name,
            ..
        }) if config.tracepoints.iter().any(|p| p.matches(system, name)) => {
            (format!("{system}:{name}"), system.as_str())
        }
        session::RecordError::Tracepoint(TracepointError::NoMatch { pattern, .. }) => (
            pattern.clone(),
            pattern.split(':').next().unwrap_or_default(),
        ),
        _ => return None,
    };
    if system.starts_with(user_events::EVENT_SYSTEM) {
        return Some(format!(
            "-e {wanted}: user events are listed by user_events_status, and in tracefs only for \
             root and the initial tracer namespace's group: record this tracer namespace's own \
             with --user-events"
        ));
    }
    let copy = config.tracefs.as_ref()?;
    Some(format!(
        "-e {wanted}: {} (--tracefs) has only the formats its host published with perfns \
         publish-tracefs, those of the tracepoints the tracer scope takes: {}",
        copy.display(),
        scope::tracer_scope_tracepoints_text()
    ))
}

/// Why a tracer-scoped recording failed, when the scope refused a
/// tracepoint (`-e`): [`scope::refused_tracepoint`].
fn refused_tracepoint(e: &anyhow::Error) -> Option<String> {
    let Some(session::RecordError::Open(o)) = e.downcast_ref::<session::RecordError>() else {
        return None;
    };
    scope::refused_tracepoint(&o.event, o.errno()?).map(|why| format!("-e {}: {why}", o.event))
}

/// Why recording failed, when a `--user-events` event could not be
/// opened: it is gone (EINVAL, as for an id the kernel does not have:
/// unregistered since `user_events_status` was read, or another tracer
/// namespace's), or a tracer scope from before scoped user events refuses
/// it (EOPNOTSUPP). `None` for other events (one `-e` named is a
/// tracepoint as others) and errors, which the open error says well
/// enough.
fn refused_user_event(e: &anyhow::Error, config: &SessionConfig) -> Option<String> {
    let Some(session::RecordError::Open(o)) = e.downcast_ref::<session::RecordError>() else {
        return None;
    };
    let (system, name) = o.event.split_once(':')?;
    if !config.user_events.iter().any(|u| u.full_name() == o.event) {
        return None;
    }
    let why = match o.errno()? {
        libc::EINVAL | libc::ENOENT => {
            "no such event now: it was unregistered since user_events_status was read (the \
             last process that had it registered exited?), or the status file read is not \
             this tracer namespace's; record again"
        }
        libc::EOPNOTSUPP => {
            "this kernel's tracer scope refuses user events (a kernel of the perfns series \
             from before scoped user events): boot one with them, or record the machine as \
             root (--scope system)"
        }
        _ => return None,
    };
    Some(format!("--user-events ({system}:{name}): {why}"))
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Signal(Signal),
    CommandExited,
    Duration,
    /// With `-p`: the processes recorded, and the tasks they made, have
    /// all exited.
    ProcessesExited,
}

/// Records until a stop condition, and finishes the file.
pub fn record(config: &RecordConfig) -> anyhow::Result<RecordSummary> {
    // Signals are taken through a signalfd, polled with the ring buffers,
    // so that a Ctrl-C always ends in a drained, finished file.
    let extra: &[Signal] = if config.switch.is_some() {
        &[Signal::SIGUSR2]
    } else {
        &[]
    };
    let signals = command::StopSignals::block(extra)?;

    let output = config.session.output.clone();
    let mut rec = Recorder::start(config.session.clone())
        .with_context(|| format!("recording to {}", output.display()))?;
    let mut child = match config.command.as_slice() {
        [] => None,
        [program, args @ ..] => match command::spawn(program, args, output::is_stdout(&output)) {
            Ok(c) => Some(c),
            Err(e) => {
                // Nothing was recorded for it: leave no file behind.
                drop(rec);
                if !output::is_stdout(&output) {
                    let _ = std::fs::remove_file(&output);
                }
                return Err(e);
            }
        },
    };
    // This thread drains; the command, started, keeps the scheduling
    // perfns record was given. Without short slices the recording is the
    // same, only likelier to lose events on a loaded machine.
    let _ = sched::ask_for_short_slices();
    let started = Instant::now();
    let mut last_status: Option<Instant> = None;
    let mut switcher = config
        .switch
        .map(|s| Switcher::new(s, &output, config.quiet));
    let stop = loop {
        // While records come fast the next pass comes at once.
        let mut timeout = if rec.busy() { Duration::ZERO } else { MAX_WAIT };
        if let Some(d) = config.duration {
            timeout = timeout.min(d.saturating_sub(started.elapsed()));
        }
        if let Some(sw) = &switcher {
            if let Some(every) = sw.config.every {
                timeout = timeout.min(every.saturating_sub(sw.since.elapsed()));
            }
        }
        let ready = rec.wait(Some(timeout), &[signals.as_fd()])?;
        let mut stop = None;
        let mut switch_now = false;
        if ready[0] {
            for s in signals.take()? {
                match s {
                    Signal::SIGINT | Signal::SIGTERM => stop = Some(Stop::Signal(s)),
                    Signal::SIGUSR2 => switch_now = true,
                    _ => {}
                }
            }
        }
        if let Some(c) = child.as_mut() {
            if c.try_wait().context("waiting for the command")?.is_some() {
                stop = stop.or(Some(Stop::CommandExited));
            }
        }
        if config.duration.is_some_and(|d| started.elapsed() >= d) {
            stop = stop.or(Some(Stop::Duration));
        }
        if rec.processes_exited() {
            stop = stop.or(Some(Stop::ProcessesExited));
        }
        if let Err(e) = rec.drain() {
            if config.live_status {
                eprint!("\r\x1b[K");
            }
            let stopped = Stopped::now(started, child.as_mut());
            return Err(anyhow::Error::new(e).context(what_the_file_kept(
                &output,
                rec.progress(),
                &stopped,
            )));
        }
        // After the drain, so that the pass which brought the file to its
        // size is the last in it: the next file begins with the next pass.
        if let Some(sw) = switcher.as_mut() {
            if stop.is_none() && (switch_now || sw.due(rec.progress().bytes)) {
                if config.live_status {
                    eprint!("\r\x1b[K");
                }
                sw.switch(&mut rec)?;
                last_status = None;
            }
        }
        for note in rec.take_notes().into_iter().filter(|_| !config.quiet) {
            if config.live_status {
                eprint!("\r\x1b[K");
            }
            eprintln!("[ perfns record: {note} ]");
            last_status = None;
        }
        if config.live_status && last_status.is_none_or(|t| t.elapsed() >= STATUS_INTERVAL) {
            let p = rec.progress();
            eprint!(
                "\r\x1b[K[ perfns record: {:.1} s, {} events, {:.1} MB, {} lost ]",
                p.elapsed.as_secs_f64(),
                p.records,
                p.bytes as f64 / 1e6,
                p.lost + p.lost_samples
            );
            let _ = std::io::stderr().flush();
            last_status = Some(Instant::now());
        }
        if let Some(s) = stop {
            break s;
        }
    };
    if config.live_status {
        eprint!("\r\x1b[K");
    }
    if stop != Stop::CommandExited {
        if let Some(c) = child.as_mut() {
            command::end(c);
            // Record its end too (EXIT records), if it comes soon.
            let asked = Instant::now();
            while asked.elapsed() < command::EXIT_WAIT && matches!(c.try_wait(), Ok(None)) {
                rec.wait(Some(Duration::from_millis(20)), &[])?;
                if let Err(e) = rec.drain() {
                    let stopped = Stopped::now(started, Some(c));
                    return Err(anyhow::Error::new(e).context(what_the_file_kept(
                        &output,
                        rec.progress(),
                        &stopped,
                    )));
                }
            }
        }
    }
    let before = rec.progress();
    let summary = rec.finish().map_err(|e| match e {
        // It names the file and says what is lost.
        session::RecordError::OutputGone { .. } => anyhow::Error::new(e),
        session::RecordError::File(_) => {
            let stopped = Stopped::now(started, child.as_mut());
            anyhow::Error::new(e)
                .context(format!("finishing {}", output.display()))
                .context(what_the_file_kept(&output, before, &stopped))
        }
        _ => anyhow::Error::new(e).context(format!("finishing {}", output.display())),
    })?;
    let summary = match switcher {
        Some(mut sw) => sw.last(summary)?,
        None => summary,
    };
    if let Some(mut c) = child {
        if let Ok(status) = c.wait() {
            if !status.success() && !config.quiet {
                eprintln!(
                    "[ perfns record: {} exited with {status} ]",
                    config.command[0]
                );
            }
        }
    }
    Ok(summary)
}

/// `--switch-output` at work: when the current file began, and the files
/// finished so far, oldest first.
#[derive(Debug)]
struct Switcher {
    config: SwitchOutput,
    output: PathBuf,
    since: Instant,
    /// [`session::Progress::bytes`] when the current file began.
    bytes_at: u64,
    finished: std::collections::VecDeque<PathBuf>,
    /// `-q`: the files are not named as they are finished and removed.
    quiet: bool,
}

impl Switcher {
    fn new(config: SwitchOutput, output: &std::path::Path, quiet: bool) -> Self {
        Self {
            quiet,
            config,
            output: output.to_owned(),
            since: Instant::now(),
            bytes_at: 0,
            finished: Default::default(),
        }
    }

    /// Whether the current file has had its time or its size.
    fn due(&self, bytes: u64) -> bool {
        self.config.every.is_some_and(|t| self.since.elapsed() >= t)
            || self
                .config
                .size
                .is_some_and(|s| bytes.saturating_sub(self.bytes_at) >= s)
    }

    /// Finishes the current file under its timestamped name and goes on
    /// in a new one.
    fn switch(&mut self, rec: &mut Recorder) -> anyhow::Result<()> {
        let name = session::timestamped(&self.output, std::time::SystemTime::now());
        rec.switch_output(&name)
            .with_context(|| format!("switching output to a new {}", self.output.display()))?;
        if !self.quiet {
            eprintln!("[ perfns record: Dump {} ]", name.display());
        }
        self.since = Instant::now();
        self.bytes_at = rec.progress().bytes;
        self.keep(name);
        Ok(())
    }

    /// The last file, finished: named like the others.
    fn last(&mut self, mut summary: RecordSummary) -> anyhow::Result<RecordSummary> {
        let name = session::timestamped(&self.output, std::time::SystemTime::now());
        std::fs::rename(&summary.output, &name).with_context(|| {
            format!(
                "renaming {} to {}",
                summary.output.display(),
                name.display()
            )
        })?;
        if !self.quiet {
            eprintln!("[ perfns record: Dump {} ]", name.display());
        }
        summary.output = name.clone();
        self.keep(name);
        Ok(summary)
    }

    /// Counts a finished file, and removes the oldest beyond
    /// `--switch-max-files`.
    fn keep(&mut self, name: PathBuf) {
        self.finished.push_back(name);
        let Some(max) = self.config.max_files else {
            return;
        };
        while self.finished.len() > max {
            if let Some(old) = self.finished.pop_front() {
                match std::fs::remove_file(&old) {
                    Ok(()) if self.quiet => {}
                    Ok(()) => eprintln!("[ perfns record: Remove {} ]", old.display()),
                    Err(e) => eprintln!(
                        "[ perfns record: could not remove {} (--switch-max-files): {e} ]",
                        old.display()
                    ),
                }
            }
        }
    }
}

/// When and how recording stopped after a failed write, and what became
/// of the command.
#[derive(Debug)]
struct Stopped {
    /// Since recording started.
    after: Duration,
    /// The command's pid, and whether it was still running (then it was
    /// ended, as perf record ends it: SIGTERM, SIGKILL if it lingers).
    command: Option<(u32, bool)>,
}

impl Stopped {
    /// Recording stops now: a command still running is ended and reaped
    /// before perfns exits, so nothing it does goes on unrecorded behind
    /// the user's back.
    fn now(started: Instant, child: Option<&mut Child>) -> Stopped {
        let after = started.elapsed();
        let command = child.map(|c| {
            let running = matches!(c.try_wait(), Ok(None));
            if running {
                command::end(c);
                let asked = Instant::now();
                while asked.elapsed() < command::EXIT_WAIT && matches!(c.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if matches!(c.try_wait(), Ok(None)) {
                    let _ = c.kill();
                }
                let _ = c.wait();
            }
            (c.id(), running)
        });
        Stopped { after, command }
    }
}

/// What a recording that could not be written on (a full or failing
/// disk) keeps, read back from the file, and what it does not: the records
/// drained after the last successful write, the losses the kernel reported
/// after them, and, when a command was still running, everything it did
/// after the stop. `progress` is the recorder's count when it stopped.
///
/// perfns record stops at the first failed write, as perf record does:
/// going on would only count what it could not keep.
fn what_the_file_kept(
    output: &std::path::Path,
    progress: session::Progress,
    stopped: &Stopped,
) -> String {
    let when = format!(
        "recording stopped after {:.3} s, at a failed write",
        stopped.after.as_secs_f64()
    );
    let command = match stopped.command {
        None => String::new(),
        Some((pid, true)) => format!(
            "; the command (pid {pid}) was still running: perfns record ended it (SIGTERM), and \
             nothing it did after the stop is recorded"
        ),
        Some((pid, false)) => format!("; the command (pid {pid}) had exited before the stop"),
    };
    if output::is_stdout(output) {
        return format!(
            "{when}; the stream on stdout holds what was written before this; {} events were \
             reported lost{command}",
            progress.lost + progress.lost_samples
        );
    }
    let reader = match perfns::perf_data::PerfFileReader::open(output) {
        Ok(r) => r,
        Err(e) => {
            return format!(
                "{when}; {} holds what was written before this, if the disk kept it (reading it \
                 back failed: {e}); {} events were reported lost{command}",
                output.display(),
                progress.lost + progress.lost_samples
            )
        }
    };
    let (mut records, mut lost) = (0u64, 0u64);
    for r in reader.records() {
        let Ok(r) = r else { break };
        records += 1;
        // Only the losses are parsed: the file may be large.
        if ![RecordType::LOST, RecordType::LOST_SAMPLES].contains(&r.header.kind) {
            continue;
        }
        match r.parse() {
            Ok(Record::Lost(l)) => lost += l.lost,
            Ok(Record::LostSamples(l)) => lost += l.lost,
            _ => {}
        }
    }
    let kept = reader.data_section().size;
    format!(
        "{when}; {} holds what was written before this: {records} records ({kept} bytes, with \
         {lost} events the kernel reported lost); not in it: {} bytes of records drained but \
         not written, and {} more events the kernel reported lost{command}",
        output.display(),
        progress.bytes.saturating_sub(kept),
        (progress.lost + progress.lost_samples).saturating_sub(lost),
    )
}

/// What `perfns record` prints at the end, perf record's way: what was
/// written, then a warning with the fix if anything was lost.
pub fn summary_text(s: &RecordSummary) -> String {
    let p = &s.progress;
    let mut out = format!(
        "[ perfns record: Captured and wrote {:.3} MB {} ({} samples, {} records, {} containers; {}) ]\n",
        s.file_size as f64 / (1024.0 * 1024.0),
        s.output.display(),
        p.samples,
        p.records,
        s.meta.containers.len(),
        match s.meta.mode {
            RecordingMode::SystemWide => "system scope",
            RecordingMode::TracerScope => "tracer scope",
            RecordingMode::PerProcess => "per process",
        },
    );
    if let Some(ratio) = s.compression_ratio {
        // perf record's words: "compressed (original N MB, ratio is R)".
        out.insert_str(
            out.len() - " ]\n".len(),
            &format!(
                ", compressed (original {:.3} MB, ratio is {ratio:.3})",
                s.file_size as f64 * ratio / (1024.0 * 1024.0)
            ),
        );
    }
    let lossy: Vec<String> = s
        .cpus
        .iter()
        .filter(|c| c.lost + c.lost_samples > 0)
        .map(|c| format!("cpu{} {}", c.cpu, c.lost + c.lost_samples))
        .collect();
    if !lossy.is_empty() {
        out.push_str(&format!(
            "Warning: lost {} events ({} records, {} samples) on {} of {} CPUs ({}): the ring buffers filled faster than they were drained.\n",
            p.lost + p.lost_samples,
            p.lost,
            p.lost_samples,
            lossy.len(),
            s.cpus.len(),
            lossy.join(", "),
        ));
        out.push_str(&format!(
            "Use a larger buffer: -m/--mmap-pages {} (now {} pages per CPU), or record fewer event groups (--events).\n",
            s.mmap_pages * 4,
            s.mmap_pages,
        ));
    }
    let offline: Vec<String> = s
        .cpus
        .iter()
        .filter(|c| c.offline > 0)
        .map(|c| format!("cpu{} {}", c.cpu, c.offline))
        .collect();
    if !offline.is_empty() {
        out.push_str(&format!(
            "Warning: CPUs went offline while recording (times: {}): nothing was recorded on them while they were.\n",
            offline.join(", "),
        ));
    }
    if p.corrupt_bytes > 0 {
        out.push_str(&format!(
            "Warning: skipped {} bytes of ring buffer that held no valid record.\n",
            p.corrupt_bytes
        ));
    }
    out
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use perfns::abi::{OpenError, OpenFailure, Target};

    use super::*;

    /// A failed open of `event` with `errno`, as the recorder returns it.
    fn refused(event: &str, errno: i32) -> anyhow::Error {
        anyhow::Error::new(session::RecordError::Open(OpenError {
            event: event.into(),
            target: Target::Cpu(0),
            failure: OpenFailure::Unsupported {
                tracepoint: None,
                cpu: None,
            },
            source: std::io::Error::from_raw_os_error(errno),
        }))
    }

    #[test]
    fn a_refused_uprobe_in_tracer_scope_says_why() {
        let older = refused_uprobe(&refused("uprobes:f__return", libc::EOPNOTSUPP)).unwrap();
        assert!(
            older.starts_with(
                "--uprobe (f__return) in tracer scope: this kernel's tracer scope refuses uprobes"
            ),
            "{older}"
        );
        let owner = refused_uprobe(&refused("uprobes:f", libc::EACCES)).unwrap();
        assert!(
            owner.contains("CAP_SYS_ADMIN over the user namespace that owns"),
            "{owner}"
        );
        // Other events, other errors: the open error says it all.
        assert_eq!(
            refused_uprobe(&refused("raw_syscalls:sys_enter", libc::EACCES)),
            None
        );
        assert_eq!(refused_uprobe(&refused("uprobes:f", libc::EMFILE)), None);
    }

    /// A session recording these `--user-events`.
    fn with_user_events(names: &[&str]) -> SessionConfig {
        let mut config = SessionConfig::new("unused.data");
        config.user_events = names
            .iter()
            .map(|full| {
                let (system, name) = full.split_once(':').unwrap();
                user_events::UserEvent {
                    system: system.into(),
                    name: name.into(),
                    id: Some(1530),
                }
            })
            .collect();
        config
    }

    #[test]
    fn a_user_event_that_cannot_be_opened_says_why() {
        let config = with_user_events(&[
            "user_events_7:request_done",
            "user_events_multi:flow.0",
            "user_events:x",
        ]);
        let refused_user_event = |e: &anyhow::Error| refused_user_event(e, &config);
        let gone = refused_user_event(&refused("user_events_7:request_done", libc::EINVAL));
        assert!(
            gone.as_deref().is_some_and(|g| g.starts_with(
                "--user-events (user_events_7:request_done): no such event now: it was \
                 unregistered since user_events_status was read"
            )),
            "{gone:?}"
        );
        let older = refused_user_event(&refused("user_events_multi:flow.0", libc::EOPNOTSUPP));
        assert!(
            older
                .as_deref()
                .is_some_and(|o| o.contains("tracer scope refuses user events")),
            "{older:?}"
        );
        for (event, errno) in [
            ("user_events:x", libc::EACCES),
            ("user_eventsx:y", libc::EINVAL),
            ("raw_syscalls:sys_enter", libc::EINVAL),
            // Named with -e, not --user-events: a tracepoint as others.
            ("user_events_9:request_done", libc::EINVAL),
        ] {
            assert_eq!(refused_user_event(&refused(event, errno)), None, "{event}");
        }
    }

    #[test]
    fn a_tracepoint_e_names_that_tracefs_lacks_says_where_to_look() {
        let missing = |system: &str, name: &str| {
            anyhow::Error::new(session::RecordError::Tracepoint(
                TracepointError::NoSuchTracepoint {
                    system: system.into(),
                    name: name.into(),
                    path: PathBuf::from("/x"),
                },
            ))
        };
        let no_match = |pattern: &str| {
            anyhow::Error::new(session::RecordError::Tracepoint(TracepointError::NoMatch {
                pattern: pattern.into(),
                path: PathBuf::from("/x"),
            }))
        };
        let mut config = SessionConfig::new("unused.data");
        config.tracepoints = ["user_events_7:request_done", "sched:sched_switch"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let user = missing_tracepoint(&missing("user_events_7", "request_done"), &config);
        assert!(
            user.as_deref().is_some_and(|u| u.starts_with(
                "-e user_events_7:request_done: user events are listed by user_events_status"
            ) && u
                .ends_with("record this tracer namespace's own with --user-events")),
            "{user:?}"
        );
        // Read from tracefs itself: tracefs's word is enough.
        assert_eq!(
            missing_tracepoint(&missing("sched", "sched_switch"), &config),
            None
        );
        config.tracefs = Some(PathBuf::from("/srv/perfns-tracefs"));
        assert_eq!(
            missing_tracepoint(&missing("sched", "sched_switch"), &config).unwrap(),
            "-e sched:sched_switch: /srv/perfns-tracefs (--tracefs) has only the formats its \
             host published with perfns publish-tracefs, those of the tracepoints the tracer \
             scope takes: raw_syscalls:*, syscalls:*, kmem:mm_page_alloc, kmem:mm_page_free"
        );
        assert!(missing_tracepoint(&no_match("sched:*"), &config)
            .is_some_and(|m| m.starts_with("-e sched:*: /srv/perfns-tracefs (--tracefs)")));
        // A group's tracepoint: its own error names it.
        assert_eq!(
            missing_tracepoint(&missing("kmem", "mm_page_alloc"), &config),
            None
        );
    }

    #[test]
    fn a_tracepoint_the_tracer_scope_refuses_says_which_it_takes() {
        let takes = "the tracer scope takes only raw_syscalls:*, syscalls:*, kmem:mm_page_alloc, \
                     kmem:mm_page_free and the user events of this tracer namespace's group and \
                     of the groups nested in it (--user-events)";
        assert_eq!(
            refused_tracepoint(&refused("kmem:mm_page_alloc_zone_locked", libc::EOPNOTSUPP))
                .unwrap(),
            format!(
                "-e kmem:mm_page_alloc_zone_locked: the tracer scope refuses tracepoint \
                 kmem:mm_page_alloc_zone_locked: {takes}; to record others, record the machine \
                 as root (--scope system)"
            )
        );
        assert_eq!(
            refused_tracepoint(&refused("user_events_9:request_done", libc::EINVAL)).unwrap(),
            format!(
                "-e user_events_9:request_done: no user event user_events_9:request_done in this \
                 tracer namespace's group or those nested in it (another tenant's, or \
                 unregistered since): {takes}"
            )
        );
        // Other errors: the open error says it all.
        assert_eq!(
            refused_tracepoint(&refused("sched:sched_switch", libc::EACCES)),
            None
        );
        assert_eq!(
            refused_tracepoint(&refused("sched:sched_switch", libc::EINVAL)),
            None
        );
    }
}
