//! perfns report layer: per-container analyses of a recording (cputop,
//! memtop, syscalls) and their rendering as tables, JSON or CSV.
//!
//! The pieces, each a pure step: [`analysis`] turns records into a
//! [`model::Report`], [`render`] turns a report into text. [`run`] is
//! `perfns report`: it validates the command line into [`Options`], reads
//! the file, and prints.
#![deny(missing_docs)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;

pub mod analysis;
mod containers;
pub mod model;
#[cfg(feature = "parquet")]
pub mod parquet_export;
pub mod render;
pub mod serve;

pub use containers::NoSuchContainer;

/// `perfns report`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Input file: a perfns recording or a perf.data from `perf record`
    /// (compressed with -z too), or `-` for a pipe-mode stream on stdin
    /// (`perf record -o - ... | perfns report -i -`).
    #[arg(short, long, default_value = "perf.data")]
    pub input: PathBuf,
    /// One row per container: cputop, memtop and syscalls (the default;
    /// accepted for compatibility with `perf report`-style invocations).
    #[arg(long)]
    pub per_container: bool,
    /// One row per container, sorted as one list, instead of a tree.
    #[arg(long)]
    pub flat: bool,
    /// Keep only this container and its descendants: its name (as shown,
    /// or as its runtime named it), its runtime id or a prefix of it (4
    /// hex digits or more), its key (pidns:INODE, cgroup:ID) or pid
    /// namespace inode, or its cgroup path. One that names several
    /// containers is refused, with the list.
    #[arg(long, value_name = "NAME|ID")]
    pub container: Option<String>,
    /// Also a table of processes, busiest first.
    #[arg(long)]
    pub per_process: bool,
    /// How many processes and syscalls to list per container (and
    /// processes with --per-process).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// What "busiest" means.
    #[arg(long, value_enum, default_value_t = SortKey::Cpu)]
    pub sort: SortKey,
    /// Only the time between START and END, in seconds as `perf script`
    /// prints them (either may be left empty: `100.5,` or `,101`).
    #[arg(long, value_name = "START,END")]
    pub time: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout (needed for parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --format parquet: one row per container per SECONDS of the
    /// recording (fractions allowed), instead of one for the whole.
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<f64>,
}

/// What to sort containers and processes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables fit to the terminal's width.
    Table,
    /// JSON, schema `perfns-report/1` (docs/report-json.md).
    Json,
    /// CSV: one block per section.
    Csv,
    /// Parquet, schema `perfns-containers/1` (docs/report-parquet.md): one
    /// row per container (per --interval), for DuckDB, ClickHouse, Spark.
    #[cfg(feature = "parquet")]
    Parquet,
}

impl Format {
    /// Whether `--interval` splits its rows (Parquet's alone).
    fn has_intervals(self) -> bool {
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
    /// Only figures between these times (ns); `None` ends are open.
    pub time: Option<(Option<u64>, Option<u64>)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            flat: false,
            container: None,
            per_process: false,
            top: 5,
            sort: SortKey::Cpu,
            time: None,
        }
    }
}

impl Options {
    /// Validates the command line.
    pub fn from_args(args: &ReportArgs) -> anyhow::Result<Self> {
        if args.top == 0 {
            anyhow::bail!("--top must be at least 1");
        }
        let time = args.time.as_deref().map(parse_time_range).transpose()?;
        Ok(Self {
            flat: args.flat,
            container: args.container.clone(),
            per_process: args.per_process,
            top: args.top,
            sort: args.sort,
            time,
        })
    }
}

/// Parses `START,END` in seconds (`123.456789,124`), either end optional.
fn parse_time_range(text: &str) -> anyhow::Result<(Option<u64>, Option<u64>)> {
    let (start, end) = text
        .split_once(',')
        .with_context(|| format!("--time {text:?}: expected START,END"))?;
    let parse = |s: &str| -> anyhow::Result<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        parse_seconds(s)
            .map(Some)
            .with_context(|| format!("--time {text:?}: {s:?} is not a time in seconds"))
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if let (Some(a), Some(b)) = (start, end) {
        if a > b {
            anyhow::bail!("--time {text:?}: the start is after the end");
        }
    }
    Ok((start, end))
}

/// `123.456` seconds as nanoseconds, exactly (no floating point).
fn parse_seconds(s: &str) -> Option<u64> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if fraction.len() > 9 || !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u64 = format!("{fraction:0<9}").parse().ok()?;
    whole.checked_mul(1_000_000_000)?.checked_add(fraction)
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
    Ok(analysis::analyze(&reader, options, progress)?)
}

/// Runs `perfns report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let options = Options::from_args(&args)?;
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
                args.input.display()
            );
            if percent == 100 {
                let _ = write!(stderr, "\r\x1b[K");
            }
        }
    };
    if let Some(i) = args.interval {
        if !(i.is_finite() && i > 0.0) {
            anyhow::bail!("--interval {i}: must be a positive number of seconds");
        }
    }
    if args.interval.is_some() && !args.format.has_intervals() {
        anyhow::bail!(
            "--interval splits the rows of --format parquet; the other formats cover the whole \
             recording (or --time)"
        );
    }
    #[cfg(feature = "parquet")]
    if args.format == Format::Parquet {
        return write_parquet(&args, &options, &mut progress);
    }
    let report = report(&args.input, &options, &mut progress)?;
    // The warnings are in every format's output too; on stderr they reach
    // whoever runs a script that keeps only the figures.
    for warning in &report.header.warnings {
        eprintln!("perfns report: warning: {warning}");
    }
    let text = match args.format {
        #[cfg(feature = "parquet")]
        Format::Parquet => unreachable!("written above"),
        Format::Table => render::table(&report, render::terminal_width()),
        Format::Json => render::json(&report),
        Format::Csv => render::csv(&report),
    };
    if let Some(path) = &args.output {
        std::fs::write(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// `--format parquet`: the rows of the recording, to `--output`.
#[cfg(feature = "parquet")]
fn write_parquet(
    args: &ReportArgs,
    options: &Options,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<()> {
    let output = args
        .output
        .as_deref()
        .context("--format parquet writes a binary file: name it with -o/--output FILE")?;
    let interval = args.interval.map(std::time::Duration::from_secs_f64);
    let rows = parquet_rows(&args.input, options, interval, progress)?;
    let file =
        std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    parquet_export::write(std::io::BufWriter::new(file), &rows)
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(())
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
    let mut options = options.clone();
    // Every container, each once: a tree's roll-ups would count twice.
    options.flat = true;
    let whole = report(path, &options, progress)?;
    let t = whole.header.time;
    let Some(step) = interval else {
        return Ok(parquet_export::rows(&whole, t.start_ns, t.end_ns));
    };
    let step = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX).max(1);
    let mut rows = Vec::new();
    let mut start = t.start_ns;
    loop {
        let end = start.saturating_add(step);
        // `--time` includes both ends; the next interval starts at `end`.
        options.time = Some((Some(start), Some(end - 1)));
        let part = report(path, &options, &mut |_| {})?;
        rows.extend(parquet_export::rows(&part, start, end));
        if end > t.end_ns {
            break;
        }
        start = end;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parse_exactly() {
        assert_eq!(parse_seconds("230.546309"), Some(230_546_309_000));
        assert_eq!(parse_seconds("1"), Some(1_000_000_000));
        assert_eq!(parse_seconds(".5"), Some(500_000_000));
        assert_eq!(parse_seconds("1.0000000001"), None);
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("."), None);
        assert_eq!(parse_seconds("1e3"), None);
    }

    #[test]
    fn time_ranges_may_be_open() {
        assert_eq!(
            parse_time_range("1,2").unwrap(),
            (Some(1_000_000_000), Some(2_000_000_000))
        );
        assert_eq!(parse_time_range("1,").unwrap(), (Some(1_000_000_000), None));
        assert_eq!(parse_time_range(",2").unwrap(), (None, Some(2_000_000_000)));
        let err = parse_time_range("2,1").unwrap_err().to_string();
        assert!(err.contains("start is after the end"), "{err}");
        let err = parse_time_range("2").unwrap_err().to_string();
        assert!(err.contains("expected START,END"), "{err}");
    }
}
