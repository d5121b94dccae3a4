//! perfns report layer: per-container analyses of a recording (cputop,
//! memtop, syscalls) and their rendering as tables, JSON or CSV.
//!
//! The pieces, each a pure step: [`analysis`] turns records into a
//! [`model::Report`], [`render`] turns a report into text. [`run`] is
//! `perfns report`: given a validated [`ReportConfig`] (the perfns command
//! makes one of its command line), it reads the file and prints.
#![deny(missing_docs)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;

pub mod analysis;
mod int_map;
mod latency;
pub mod model;
#[cfg(feature = "parquet")]
pub mod parquet_export;
pub mod profile;
pub mod render;
pub mod serve;
pub mod trace;

pub use analysis::containers::NoSuchContainer;

/// What to sort containers and processes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// CPU time (then samples).
    Cpu,
    /// Pages allocated (then freed).
    Mem,
    /// Syscalls (then errors).
    Syscalls,
}

/// How to print the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables fit to the terminal's width.
    Table,
    /// JSON, schema `perfns-report/2` (docs/report-json.md).
    Json,
    /// CSV: one block per section.
    Csv,
    /// The profile's stacks, folded (`CONTAINER;FRAME;... COUNT`), for
    /// any flame-graph tool.
    Folded,
    /// Parquet, schema `perfns-containers/1` (docs/report-parquet.md): one
    /// row per container (per --interval), for DuckDB, ClickHouse, Spark.
    #[cfg(feature = "parquet")]
    Parquet,
}

impl Format {
    /// Whether `--interval` splits its rows (Parquet's alone).
    pub fn has_intervals(self) -> bool {
        #[cfg(feature = "parquet")]
        if self == Format::Parquet {
            return true;
        }
        false
    }
}

/// The validated options of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The tree (false) or one sorted list (true).
    pub flat: bool,
    /// Keep this container and its descendants.
    pub container: Option<String>,
    /// List processes.
    pub per_process: bool,
    /// Processes and syscalls per container.
    pub top: usize,
    /// The sort key.
    pub sort: SortKey,
    /// Further sort keys, in order, for ties on the ones before (`--sort
    /// cpu,syscalls`: `syscalls` here).
    pub then_by: Vec<SortKey>,
    /// Only figures in these spans of time (ns, both ends included; a
    /// `None` end is open), perf report's `--time START,END START,END`:
    /// a sample counts if it falls in any of them, CPU time is clipped to
    /// their union. Empty: the whole recording.
    pub time: Vec<(Option<u64>, Option<u64>)>,
    /// Only figures in these slices of the recording (perf report's
    /// `--time 10%/1,10%/3` or `0%-10%,30%-40%`): [`report`] makes them
    /// [`Self::time`] from the recording's first and last sample times
    /// ([`sample_span`]).
    pub time_percent: Vec<PercentRange>,
    /// How many threads read the recording: 1 reads and analyses on the
    /// calling thread; more read and order the records on a second
    /// thread while the first decodes and analyses them (the analyses
    /// are one pass in time order: a third thread has nothing to take).
    /// The report is the same for any.
    pub jobs: usize,
    /// `--profile`: each container's hottest functions, from the samples'
    /// call chains, symbolized from these files.
    pub profile: Option<ProfileSources>,
}

/// Where a profile's symbols come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSources {
    /// Where files are looked up by build-id.
    pub debug_dirs: profile::symbolize::DebugDirs,
    /// The kernel's symbols.
    pub kernel: profile::KernelSource,
}

impl ProfileSources {
    /// The machine's: perf's build-id cache, /usr/lib/debug, and
    /// /proc/kallsyms.
    pub fn system() -> Self {
        Self {
            debug_dirs: profile::symbolize::DebugDirs::system(),
            kernel: profile::KernelSource::system(),
        }
    }
}

/// A slice of a recording's time, from its first sample (0) to its last
/// (1 000 000), in parts per million: `--time 10%/2` is 100 000 to
/// 200 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PercentRange {
    /// Where it starts.
    pub from_ppm: u32,
    /// Where it ends, at least `from_ppm`, at most 1 000 000.
    pub to_ppm: u32,
}

impl PercentRange {
    /// The times (ns) it covers between `first` and `last`, both included,
    /// as perf's set_percent_time() (tools/perf/util/time-utils.c) makes
    /// them: each end rounded to the nearest ns, and the end one ns short
    /// unless it is `last` (so that `10%/1,10%/2` share no instant).
    pub fn between(self, first: u64, last: u64) -> (u64, u64) {
        let span = u128::from(last.saturating_sub(first));
        let at = |ppm: u32| first + ((span * u128::from(ppm) + 500_000) / 1_000_000) as u64;
        let (start, end) = (at(self.from_ppm), at(self.to_ppm));
        if end > start && end != last {
            (start, end - 1)
        } else {
            (start, end)
        }
    }
}

/// The first and last sample times of `reader`'s records, what perf keeps
/// in HEADER_SAMPLE_TIME and takes a percent `--time` of; the first and
/// last timed records' when there is no sample (a perfns recording of
/// `--events cpu` alone). `None` when no record has a time.
fn sample_span(reader: &perfns::perf_data::PerfFileReader) -> Option<(u64, u64)> {
    use perfns::record::RecordType;
    let widen = |span: Option<(u64, u64)>, t: u64| {
        Some(span.map_or((t, t), |(a, b): (u64, u64)| (a.min(t), b.max(t))))
    };
    let (mut samples, mut records) = (None, None);
    let mut stream = reader.stream();
    while let Some(item) = stream.next_record() {
        let Ok(r) = item else { continue };
        let Some(t) = r.time().filter(|&t| t != 0) else {
            continue;
        };
        records = widen(records, t);
        if r.header.kind == RecordType::SAMPLE {
            samples = widen(samples, t);
        }
    }
    samples.or(records)
}

impl Options {
    /// Every sort key, the first first.
    pub fn sort_order(&self) -> Vec<SortKey> {
        std::iter::once(self.sort)
            .chain(self.then_by.iter().copied())
            .collect()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            flat: false,
            container: None,
            per_process: false,
            top: 5,
            sort: SortKey::Cpu,
            then_by: Vec::new(),
            time: Vec::new(),
            time_percent: Vec::new(),
            jobs: 1,
            profile: None,
        }
    }
}

/// Reads a recording and reports it: the whole of `perfns report` but the
/// printing.
pub fn report(
    path: &std::path::Path,
    options: &Options,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<model::Report> {
    use perfns::perf_data::{PerfDataError, PerfFileReader};
    if path == std::path::Path::new("-") {
        // A pipe-mode stream, `perf record -o - | perfns report -i -`.
        if !options.time_percent.is_empty() {
            anyhow::bail!(
                "--time in percent needs the recording's first and last times before its \
                 records are read, so a file, not stdin: give the times in seconds"
            );
        }
        let reader = PerfFileReader::open_stream(path, Box::new(std::io::stdin()))
            .context("cannot report stdin")?;
        return Ok(analysis::analyze(&reader, options, progress)?);
    }
    let empty = std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
    if empty {
        anyhow::bail!(
            "{}: the file is empty: not a recording (did the recording fail to start?)",
            path.display()
        );
    }
    let reader = match PerfFileReader::open(path) {
        // A file cut short still holds records that can be reported; the
        // report says it is truncated.
        Err(PerfDataError::Truncated { .. }) => PerfFileReader::open_truncated(path),
        other => other,
    }
    .context("cannot report")?;
    if options.time_percent.is_empty() {
        return Ok(analysis::analyze(&reader, options, progress)?);
    }
    // perf takes the slices of the span in HEADER_SAMPLE_TIME, which
    // perfns recordings lack: one pass over the records' times first.
    let (first, last) = sample_span(&reader).with_context(|| {
        format!(
            "{}: --time in percent: no record has a time to take a percent of",
            path.display()
        )
    })?;
    let mut options = options.clone();
    options.time = std::mem::take(&mut options.time_percent)
        .into_iter()
        .map(|p| {
            let (start, end) = p.between(first, last);
            (Some(start), Some(end))
        })
        .collect();
    Ok(analysis::analyze(&reader, &options, progress)?)
}

/// What `perfns report` does: its validated command line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// The recording, or `-` for a pipe-mode stream on stdin.
    pub input: PathBuf,
    /// What the report holds.
    pub options: Options,
    /// How it is printed.
    pub format: Format,
    /// Where it is written; stdout if not given (parquet needs a file).
    pub output: Option<PathBuf>,
    /// With parquet: one row per container per this much of
    /// the recording, instead of one for the whole.
    pub interval: Option<std::time::Duration>,
    /// `--flamegraph FILE`: the profile as an SVG flame graph, written
    /// there besides the report.
    pub flamegraph: Option<PathBuf>,
}

/// What [`run`] printed a report of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// The whole recording.
    Whole,
    /// A damaged recording (truncated, or records that could not be read):
    /// the report covers what could be read, and its warnings say what
    /// could not.
    Damaged,
}

impl Reported {
    fn of(header: &model::Header) -> Self {
        if header.damaged {
            Reported::Damaged
        } else {
            Reported::Whole
        }
    }
}

/// Runs `perfns report`.
pub fn run(config: &ReportConfig) -> anyhow::Result<Reported> {
    let mut stderr = std::io::stderr();
    let show_progress = stderr.is_terminal();
    let mut last_shown = None;
    let mut progress = |fraction: f64| {
        if !show_progress {
            return;
        }
        let percent = (fraction * 100.0) as u32;
        if last_shown != Some(percent) {
            last_shown = Some(percent);
            let bar = "#".repeat((percent / 5) as usize);
            // A progress line is best effort: a failed write to the terminal
            // must not fail the report.
            let _ = write!(
                stderr,
                "\rreading {} [{bar:<20}] {percent:>3}%",
                config.input.display()
            );
            if percent == 100 {
                let _ = write!(stderr, "\r\x1b[K");
            }
        }
    };
    #[cfg(feature = "parquet")]
    if config.format == Format::Parquet {
        return write_parquet(config, &mut progress);
    }
    let report = report(&config.input, &config.options, &mut progress)?;
    // The warnings are in every format's output too; on stderr they reach
    // whoever runs a script that keeps only the figures.
    for warning in &report.header.warnings {
        eprintln!("perfns report: warning: {warning}");
    }
    let text = match config.format {
        #[cfg(feature = "parquet")]
        Format::Parquet => unreachable!("written above"),
        Format::Table => render::table(&report, render::terminal_width()),
        Format::Json => render::json(&report),
        Format::Csv => render::csv(&report),
        Format::Folded => render::folded(&report),
    };
    if let Some(path) = &config.flamegraph {
        let title = match &config.options.container {
            Some(c) => format!("perfns report --profile: {c}"),
            None => "perfns report --profile".to_owned(),
        };
        let svg = render::flamegraph(&report, &title)
            .with_context(|| format!("drawing the flame graph for {}", path.display()))?;
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    let reported = Reported::of(&report.header);
    if let Some(path) = &config.output {
        std::fs::write(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        return Ok(reported);
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(reported)
}

/// `--format parquet`: the rows of the recording, to `--output`.
#[cfg(feature = "parquet")]
fn write_parquet(config: &ReportConfig, progress: &mut dyn FnMut(f64)) -> anyhow::Result<Reported> {
    let output = config
        .output
        .as_deref()
        .context("--format parquet writes a binary file: name it with -o/--output FILE")?;
    let (rows, reported) =
        parquet_rows_reported(&config.input, &config.options, config.interval, progress)?;
    let file =
        std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    parquet_export::write(std::io::BufWriter::new(file), &rows)
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(reported)
}

/// The Parquet rows of a recording: one per container for the whole of it
/// (or of `--time`), or per `interval` from its first record on. Each
/// interval is a report of its own over `[start, end)` (the file is read
/// once per interval).
#[cfg(feature = "parquet")]
pub fn parquet_rows(
    path: &std::path::Path,
    options: &Options,
    interval: Option<std::time::Duration>,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<Vec<parquet_export::Row>> {
    parquet_rows_reported(path, options, interval, progress).map(|(rows, _)| rows)
}

/// [`parquet_rows`], and whether the recording was whole.
#[cfg(feature = "parquet")]
fn parquet_rows_reported(
    path: &std::path::Path,
    options: &Options,
    interval: Option<std::time::Duration>,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<(Vec<parquet_export::Row>, Reported)> {
    let mut options = options.clone();
    // Every container, each once: a tree's roll-ups would count twice.
    options.flat = true;
    let whole = report(path, &options, progress)?;
    // The intervals are of the whole's time, which a percent --time chose.
    options.time_percent.clear();
    let reported = Reported::of(&whole.header);
    let t = whole.header.time.clone();
    let Some(step) = interval else {
        return Ok((parquet_export::rows(&whole, t.start_ns, t.end_ns), reported));
    };
    let step = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX).max(1);
    let mut rows = Vec::new();
    let mut start = t.start_ns;
    loop {
        let end = start.saturating_add(step);
        // `--time` includes both ends; the next interval starts at `end`.
        options.time = vec![(Some(start), Some(end - 1))];
        let part = report(path, &options, &mut |_| {})?;
        rows.extend(parquet_export::rows(&part, start, end));
        if end > t.end_ns {
            break;
        }
        start = end;
    }
    Ok((rows, reported))
}
