//! `perfns trace`: syscalls as strace shows them, for a container, a
//! process or a command, from a recording (`-i FILE`) or live.
//!
//! The analysis is perfns-report's [`perfns_report::trace::Trace`], a
//! consumer of records. Live, the records come today from a recording of
//! the `syscalls` group made by the existing recorder into a temporary
//! file ([`record_live`]), which the trace reads once the command exits or
//! Ctrl-C stops it: the lines come at the end, not as calls happen. That
//! is the one place to change when the live core (a recorder drained into
//! a consumer every ~100 ms) lands: feed the [`Trace`] from its drains
//! instead, and print [`Trace::take_lines`] after each.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use perfns::perf_data::{PerfDataError, PerfFileReader};
use perfns::tracepoint::Tracefs;
use perfns_record::RecordConfig;
use perfns_report::trace::{self, render, Signatures, SyscallLine, Trace, TraceOptions};

/// Where the records come from.
#[derive(Debug)]
pub enum Source {
    /// A recording, or `-` for a pipe-mode stream on stdin.
    File(PathBuf),
    /// A live recording: what to record (its output is set when it starts).
    Live(Box<RecordConfig>),
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
    let mut options = config.options.clone();
    let (path, _recording) = match &config.source {
        Source::File(path) => (path.clone(), None),
        Source::Live(record) => {
            let (path, dir) = record_live(record, &mut options)?;
            (path, Some(dir))
        }
    };
    let reader = open(&path)?;
    let signatures = match &config.tracefs {
        Some(dir) => Signatures::from_tracefs(Tracefs::at(dir)),
        None => Tracefs::find().map_or_else(|_| Signatures::none(), Signatures::from_tracefs),
    };
    let shown = if matches!(config.source, Source::Live(_)) {
        "the live recording".to_owned()
    } else {
        path.display().to_string()
    };
    let mut trace = Trace::new(
        &shown,
        reader.events(),
        reader.features(),
        signatures,
        options,
    )?;
    let out: Box<dyn Write> = match &config.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(out);
    let (summary_only, format) = (config.summary, config.format);
    let mut print = |lines: Vec<SyscallLine>| -> std::io::Result<()> {
        if summary_only {
            return Ok(());
        }
        for l in &lines {
            let text = match format {
                TraceFormat::Text => render::line(l),
                TraceFormat::Json => render::line_json(l),
            };
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    };
    trace::feed(&reader, &mut trace, &mut print)?;
    let (last, summary, end) = trace.finish();
    print(last)?;
    match (summary_only, format) {
        (true, TraceFormat::Text) => out.write_all(render::summary(&summary).as_bytes())?,
        (true, TraceFormat::Json) => {
            out.write_all(render::summary_json(&summary).as_bytes())?;
            out.write_all(b"\n")?;
        }
        (false, _) => {}
    }
    if format == TraceFormat::Json {
        out.write_all(render::end_json(&end).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    for w in &end.warnings {
        eprintln!("perfns trace: warning: {w}");
    }
    Ok(if end.lost > 0 || end.errors > 0 {
        Traced::Incomplete
    } else {
        Traced::Whole
    })
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

/// Records the syscalls of `record`'s scope into a temporary file until
/// its command exits (or Ctrl-C): the file, and its directory, removed
/// when dropped. Sets `options` to follow the command's processes and to
/// leave out perfns's own calls.
///
/// This is the hook the live core replaces: it will drain the recorder
/// into the [`Trace`] instead of into a file.
fn record_live(
    record: &RecordConfig,
    options: &mut TraceOptions,
) -> anyhow::Result<(PathBuf, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix("perfns-trace")
        .tempdir()
        .context("making a directory for the live recording")?;
    let path = dir.path().join("trace.data");
    let mut record = record.clone();
    record.session.output = path.clone();
    let me = std::process::id() as i32;
    // The recorder spawns the command: it, and what it starts, are the
    // children of this process. With -p or --container, which choose the
    // tasks, the command only says how long to trace (as perf record -p
    // PID -- sleep 10).
    if !record.command.is_empty() && options.pids.is_empty() && options.container.is_none() {
        options.children_of = Some(me);
    }
    options.exclude.push(me);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let until = if record.command.is_empty() {
            "at Ctrl-C"
        } else {
            "when the command exits"
        };
        eprintln!("[ perfns trace: tracing; the calls are printed {until} ]");
    }
    perfns_record::run(record)?;
    Ok((path, dir))
}
