//! `perfns report`'s flags, and how they become the report's validated
//! [`ReportConfig`] before the recording is read.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use perfns_report::{Format, Options, PercentRange, ReportConfig, SortKey};

/// `perfns report`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Input file: a perfns recording or a perf.data from `perf record`
    /// (compressed with -z too), or `-` for a pipe-mode stream on stdin
    /// (`perf record -o - ... | perfns report -i -`).
    #[arg(short, long, default_value = "perf.data")]
    pub input: PathBuf,
    /// Per-container tables (the default): cputop, memtop and syscalls,
    /// one row per container, nested containers as a tree.
    #[arg(long, group = "grouping")]
    pub per_container: bool,
    /// One row per container, sorted as one list, instead of a tree.
    #[arg(long, group = "grouping")]
    pub flat: bool,
    /// Keep only this container and its descendants: its name (as shown,
    /// or as its runtime named it), its runtime id or a prefix of it (4
    /// hex digits or more), its key (pidns:INODE, cgroup:ID) or pid
    /// namespace inode, or its cgroup path. One that names several
    /// containers is refused, with the list.
    #[arg(long, value_name = "NAME|ID")]
    pub container: Option<String>,
    /// The per-container tables and, after them, one table of the
    /// processes, busiest first.
    #[arg(long, group = "grouping")]
    pub per_process: bool,
    /// How many processes and syscalls to list per container (and
    /// processes with --per-process).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// What "busiest" means: keys, comma-separated, as perf report
    /// --sort takes them, the first first (`syscalls,cpu`: by syscalls,
    /// ties by CPU time).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "KEY[,KEY...]",
        default_value = "cpu"
    )]
    pub sort: Vec<SortArg>,
    /// Only the time between START and END, in seconds as `perf script`
    /// prints them (either may be left empty: `100.5,` or `,101`); or, as
    /// perf report --time takes it, a slice of the recording from its
    /// first record to its last: `10%/2` (the second tenth), `10%` (the
    /// first), `0%-25%`. One range (perf also takes lists of them).
    #[arg(long, value_name = "START,END|P%/N|P%-Q%")]
    pub time: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Write the report to FILE instead of stdout (needed for parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --format parquet: one row per container per SECONDS of the
    /// recording (fractions allowed), instead of one for the whole.
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<f64>,
}

/// What to sort containers and processes by (the report's [`SortKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    /// CPU time (then samples).
    Cpu,
    /// Pages allocated (then freed).
    Mem,
    /// Syscalls (then errors).
    Syscalls,
}

impl From<SortArg> for SortKey {
    fn from(arg: SortArg) -> Self {
        match arg {
            SortArg::Cpu => SortKey::Cpu,
            SortArg::Mem => SortKey::Mem,
            SortArg::Syscalls => SortKey::Syscalls,
        }
    }
}

/// How to print the report (the report's [`Format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Tables fit to the terminal's width.
    Table,
    /// JSON, schema `perfns-report/2` (docs/report-json.md).
    Json,
    /// CSV: one block per section.
    Csv,
    /// Parquet, schema `perfns-containers/1` (docs/report-parquet.md): one
    /// row per container (per --interval), for DuckDB, ClickHouse, Spark.
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

impl ReportArgs {
    /// Checks the command line before the recording is read, and makes it
    /// the report's configuration.
    pub fn into_config(self) -> anyhow::Result<ReportConfig> {
        if self.top == 0 {
            anyhow::bail!("--top must be at least 1");
        }
        let (time, time_percent) = match self.time.as_deref() {
            None => (None, None),
            Some(text) if text.contains('%') => (None, Some(parse_percent_range(text)?)),
            Some(text) => (Some(parse_time_range(text)?), None),
        };
        let mut sort: Vec<SortKey> = Vec::new();
        for &arg in &self.sort {
            if sort.contains(&arg.into()) {
                let name = clap::ValueEnum::to_possible_value(&arg)
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default();
                anyhow::bail!("--sort: {name} is given twice");
            }
            sort.push(arg.into());
        }
        let (&first, then_by) = sort
            .split_first()
            .context("--sort: give at least one key")?;
        let options = Options {
            flat: self.flat,
            container: self.container,
            per_process: self.per_process,
            top: self.top,
            sort: first,
            then_by: then_by.to_vec(),
            time,
            time_percent,
        };
        let format = Format::from(self.format);
        if let Some(i) = self.interval {
            if !(i.is_finite() && i > 0.0) {
                anyhow::bail!("--interval {i}: must be a positive number of seconds");
            }
        }
        if self.interval.is_some() && !format.has_intervals() {
            anyhow::bail!(
                "--interval splits the rows of --format parquet; the other formats cover the whole \
                 recording (or --time)"
            );
        }
        Ok(ReportConfig {
            input: self.input,
            options,
            format,
            output: self.output,
            interval: self.interval.map(Duration::from_secs_f64),
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

/// Parses perf report's percent forms of `--time`: `P%/N` (the Nth slice
/// of P%), `P%` (`P%/1`) and `P%-Q%`, percents with up to 4 decimals.
fn parse_percent_range(text: &str) -> anyhow::Result<PercentRange> {
    let bad = |why: &str| anyhow::anyhow!("--time {text:?}: {why}");
    if text.contains(',') {
        return Err(bad(
            "perfns takes one range (perf report also takes a list of them)",
        ));
    }
    let percent = |s: &str| {
        s.strip_suffix('%')
            .and_then(parse_ppm)
            .filter(|&p| p <= 1_000_000)
            .ok_or_else(|| bad(&format!("{s:?} is not a percent from 0% to 100%")))
    };
    let range = if let Some((from, to)) = text.split_once('-') {
        PercentRange {
            from_ppm: percent(from)?,
            to_ppm: percent(to)?,
        }
    } else {
        let (size, n) = text.split_once('/').unwrap_or((text, "1"));
        let size = percent(size)?;
        let n: u32 = n
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad(&format!("{n:?} is not a slice number (1, 2, ...)")))?;
        let end = u64::from(size) * u64::from(n);
        if size == 0 || end > 1_000_000 {
            return Err(bad(&format!(
                "slice {n} of {} is not within 0% to 100%",
                &text[..text.find('%').unwrap_or(0) + 1]
            )));
        }
        PercentRange {
            from_ppm: (end - u64::from(size)) as u32,
            to_ppm: end as u32,
        }
    };
    if range.from_ppm > range.to_ppm {
        return Err(bad("the start is after the end"));
    }
    Ok(range)
}

/// A percent (`12.5`) in parts per million, exactly: up to 4 decimals.
fn parse_ppm(s: &str) -> Option<u32> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || fraction.len() > 4
        || !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<4}").parse().ok()?;
    whole.checked_mul(10_000)?.checked_add(fraction)
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
    fn percent_ranges_are_perfs() {
        let range = |t: &str| {
            parse_percent_range(t)
                .map(|r| (r.from_ppm, r.to_ppm))
                .map_err(|e| e.to_string())
        };
        assert_eq!(range("10%/2"), Ok((100_000, 200_000)));
        assert_eq!(range("10%"), Ok((0, 100_000)));
        assert_eq!(range("25%/4"), Ok((750_000, 1_000_000)));
        assert_eq!(range("0%-10%"), Ok((0, 100_000)));
        assert_eq!(range("12.5%-100%"), Ok((125_000, 1_000_000)));
        for (bad, why) in [
            ("10%/1,10%/2", "one range"),
            ("30%/4", "not within"),
            ("0%/1", "not within"),
            ("10%/0", "slice number"),
            ("10%/x", "slice number"),
            ("20%-10%", "start is after the end"),
            ("101%", "not a percent"),
            ("10", "not a percent"),
            ("-10%", "not a percent"),
            ("1.00001%", "not a percent"),
        ] {
            let err = range(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
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
