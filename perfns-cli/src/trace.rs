//! `perfns trace`: syscalls as strace shows them, for a container, a
//! process or a command, from a recording (`-i FILE`) or live.
//!
//! The analysis is perfns-report's [`Trace`], a consumer of records in
//! time order. From a recording, [`trace::feed`] reads them. Live, a
//! [`LiveSession`] drains the ring buffers every ~100 ms into it
//! ([`Feed`]): each call is printed once its exit has been drained, while
//! the traced command still runs, and the trace takes the containers'
//! metadata anew as containers appear.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::Child;
use std::time::Instant;

use anyhow::Context;
use nix::sys::signal::Signal;
use perfns::container::RecordingMeta;
use perfns::perf_data::{PerfDataError, PerfFileReader};
use perfns::record::Record;
use perfns::tracepoint::Tracefs;
use perfns_record::command::{self, StopSignals};
use perfns_record::session::live::{Consumer, LiveConfig, LiveSession, Wake};
use perfns_report::trace::summary::Summary;
use perfns_report::trace::{self, render, Signatures, SyscallLine, Trace, TraceEnd, TraceOptions};

/// Where the records come from.
#[derive(Debug)]
pub enum Source {
    /// A recording, or `-` for a pipe-mode stream on stdin.
    File(PathBuf),
    /// A live session.
    Live(Box<LiveTrace>),
}

/// What a live trace records, and the command it runs.
#[derive(Debug)]
pub struct LiveTrace {
    /// The session: the syscalls group, in the scope asked for.
    pub live: LiveConfig,
    /// `-- COMMAND`: run and traced (with -p or --container, it only
    /// says how long to trace); the trace ends when it exits.
    pub command: Vec<String>,
    /// What the command line made of the user's words (`-m` rounded up).
    pub notes: Vec<String>,
}

/// How the trace is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// A line per call, as strace prints it.
    Text,
    /// A JSON object per line (JSON Lines), schema perfns-trace/1.
    Json,
}

/// `perfns trace`'s validated command line.
#[derive(Debug)]
pub struct TraceConfig {
    /// Where the records come from.
    pub source: Source,
    /// Which calls are shown.
    pub options: TraceOptions,
    /// Only the summary (strace -c).
    pub summary: bool,
    /// Text or JSON.
    pub format: TraceFormat,
    /// Where to print; stdout if not given.
    pub output: Option<PathBuf>,
    /// Where the syscalls' formats are.
    pub tracefs: Option<PathBuf>,
}

/// How a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traced {
    /// Every call of the selected tasks is in it.
    Whole,
    /// Events were lost or records unreadable: calls are missing.
    Incomplete,
}

/// Runs `perfns trace`.
pub fn run(config: TraceConfig) -> anyhow::Result<Traced> {
    let signatures = match &config.tracefs {
        Some(dir) => Signatures::from_tracefs(Tracefs::at(dir)),
        None => Tracefs::find().map_or_else(|_| Signatures::none(), Signatures::from_tracefs),
    };
    let out: Box<dyn Write> = match &config.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut printer = Printer {
        out: BufWriter::new(out),
        summary_only: config.summary,
        format: config.format,
        line: String::with_capacity(256),
    };
    let (summary, end) = match config.source {
        Source::File(path) => from_file(&path, signatures, config.options, &mut printer)?,
        Source::Live(live) => self::live(*live, signatures, config.options, &mut printer)?,
    };
    printer.end(&summary, &end)?;
    for w in &end.warnings {
        eprintln!("perfns trace: warning: {w}");
    }
    Ok(if end.lost > 0 || end.errors > 0 {
        Traced::Incomplete
    } else {
        Traced::Whole
    })
}

/// Where the lines go, as they come.
struct Printer {
    out: BufWriter<Box<dyn Write>>,
    summary_only: bool,
    format: TraceFormat,
    /// The text line being made.
    line: String,
}

impl Printer {
    /// Prints the calls (none with `-c`).
    fn lines(&mut self, lines: &[SyscallLine]) -> std::io::Result<()> {
        if self.summary_only {
            return Ok(());
        }
        for l in lines {
            match self.format {
                TraceFormat::Text => {
                    self.line.clear();
                    render::line_into(&mut self.line, l);
                    self.out.write_all(self.line.as_bytes())?;
                }
                TraceFormat::Json => self.out.write_all(render::line_json(l).as_bytes())?,
            }
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The summary (with `-c`) and, in JSON, the end.
    fn end(&mut self, summary: &Summary, end: &TraceEnd) -> std::io::Result<()> {
        match (self.summary_only, self.format) {
            (true, TraceFormat::Text) => self.out.write_all(render::summary(summary).as_bytes())?,
            (true, TraceFormat::Json) => {
                self.out
                    .write_all(render::summary_json(summary).as_bytes())?;
                self.out.write_all(b"\n")?;
            }
            (false, _) => {}
        }
        if self.format == TraceFormat::Json {
            self.out.write_all(render::end_json(end).as_bytes())?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }
}

/// Traces a recording to its end.
fn from_file(
    path: &std::path::Path,
    signatures: Signatures,
    options: TraceOptions,
    printer: &mut Printer,
) -> anyhow::Result<(Summary, TraceEnd)> {
    let reader = open(path)?;
    let mut trace = Trace::new(
        &path.display().to_string(),
        reader.events(),
        reader.features(),
        signatures,
        options,
    )?;
    trace::feed(&reader, &mut trace, &mut |lines| printer.lines(&lines))?;
    let (last, summary, end) = trace.finish();
    printer.lines(&last)?;
    Ok((summary, end))
}

/// Opens a recording (a stream on stdin for `-`).
fn open(path: &std::path::Path) -> anyhow::Result<PerfFileReader> {
    if path == std::path::Path::new("-") {
        return PerfFileReader::open_stream(path, Box::new(std::io::stdin()))
            .context("cannot trace stdin");
    }
    match PerfFileReader::open(path) {
        Err(PerfDataError::Truncated { .. }) => PerfFileReader::open_truncated(path),
        other => other,
    }
    .context("cannot trace")
}

/// A live trace: the session's records fed to the [`Trace`], each call
/// printed as soon as it is handed on, until the command exits (or, with
/// `-p`, the processes), or Ctrl-C or SIGTERM.
fn live(
    live: LiveTrace,
    signatures: Signatures,
    mut options: TraceOptions,
    printer: &mut Printer,
) -> anyhow::Result<(Summary, TraceEnd)> {
    let signals = StopSignals::block(&[])?;
    for note in &live.notes {
        eprintln!("[ perfns trace: {note} ]");
    }
    let mut session = LiveSession::start(live.live).context("perfns trace")?;
    let me = std::process::id() as i32;
    // This process spawns the command: it, and what it starts, are its
    // children. With -p or --container, which choose the tasks, the
    // command only says how long to trace (as perf record -p PID -- sleep
    // 10).
    if !live.command.is_empty() && options.pids.is_empty() && options.container.is_none() {
        options.children_of = Some(me);
    }
    // Its reads of the ring buffers would be traced too.
    options.exclude.push(me);
    let trace = Trace::new(
        "the live session",
        session.events(),
        session.features(),
        signatures,
        options,
    )?;
    let mut feed = Feed {
        trace,
        printer,
        failed: None,
    };
    let mut child = match live.command.as_slice() {
        [] => None,
        [program, args @ ..] => Some(command::spawn(program, args, false)?),
    };
    if child.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("[ perfns trace: tracing; Ctrl-C to stop ]");
    }
    loop {
        let wake = session.next_to(&[signals.as_fd()], &mut feed)?;
        feed.flush()?;
        for note in session.take_notes() {
            eprintln!("[ perfns trace: {note} ]");
        }
        let mut stop = false;
        if let Wake::Ready(_) = wake {
            stop = signals
                .take()?
                .iter()
                .any(|s| matches!(s, Signal::SIGINT | Signal::SIGTERM));
        }
        if let Some(c) = child.as_mut() {
            stop |= c.try_wait().context("waiting for the command")?.is_some();
        }
        if stop || session.processes_exited() {
            break;
        }
    }
    if let Some(c) = child.as_mut() {
        end_command(c, &mut session, &mut feed)?;
    }
    let ended = session.finish_to(&mut feed)?;
    let Feed {
        trace,
        printer,
        failed,
    } = feed;
    if let Some(e) = failed {
        return Err(e.into());
    }
    let (last, summary, mut end) = trace.finish();
    printer.lines(&last)?;
    if let Some(fix) = ended.lost_fix {
        end.warnings.push(fix);
    }
    Ok((summary, end))
}

/// Ends a command still running when tracing stops, tracing on while it
/// exits (its last calls), for at most [`command::EXIT_WAIT`]; reaps it.
fn end_command(
    child: &mut Child,
    session: &mut LiveSession,
    feed: &mut Feed<'_>,
) -> anyhow::Result<()> {
    if child.try_wait()?.is_none() {
        command::end(child);
        let asked = Instant::now();
        while asked.elapsed() < command::EXIT_WAIT && child.try_wait()?.is_none() {
            session.next_to(&[], feed)?;
            feed.flush()?;
        }
    }
    if child.try_wait()?.is_none() {
        // It ignored SIGTERM: it goes on, untraced, as it would under
        // strace when strace exits.
        return Ok(());
    }
    child.wait().context("waiting for the command")?;
    Ok(())
}

/// The live session's consumer: the trace, and the lines it finishes
/// printed as they come.
struct Feed<'p> {
    trace: Trace,
    printer: &'p mut Printer,
    /// The first failed write; nothing more is written after it.
    failed: Option<std::io::Error>,
}

impl Feed<'_> {
    /// Pushes out what was printed since the last call: the lines appear
    /// as the session hands the calls on, not when the trace ends.
    fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e.into());
        }
        self.printer.out.flush()?;
        Ok(())
    }
}

impl Consumer for Feed<'_> {
    fn meta(&mut self, meta: &RecordingMeta) {
        // The trace names and selects containers; the tasks are the
        // records' to say.
        self.trace.update_meta(RecordingMeta {
            version: meta.version,
            mode: meta.mode,
            scope: meta.scope.clone(),
            host: meta.host,
            containers: meta.containers.clone(),
            tasks: Vec::new(),
            lost: meta.lost.clone(),
        });
    }

    fn record(&mut self, event: usize, record: &Record<'_>) {
        self.trace.record(event, record);
        let lines = self.trace.take_lines();
        if lines.is_empty() || self.failed.is_some() {
            return;
        }
        if let Err(e) = self.printer.lines(&lines) {
            self.failed = Some(e);
        }
    }
}
